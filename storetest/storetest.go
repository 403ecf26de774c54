// Package storetest is the conformance suite of flywheel.Store. Every
// store driver runs it against a real database of its kind, so that the
// daemon behaves the same whichever database it is given: the suite, not
// the SQLite driver, is the reference for what the interface promises.
//
// A driver's test calls Run with a function that opens a new, empty store
// for one subtest and closes it when the subtest ends:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) flywheel.Store {
//			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "f.db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Beyond what the Store documentation says, the suite pins down these
// choices, which a driver must share:
//   - times come back in UTC with nanosecond precision;
//   - CreateJob records the creation as the job's first event (from "",
//     message "created"); Heartbeat records an event only when its message
//     differs from the job's last one, and is EConflict on an ended job;
//   - PutConfigChange replaces a change with the same id but keeps its
//     created_at; PutConfigBackup of a different backup under an existing
//     id is EConflict;
//   - DeleteConfigBackup of a missing backup is ENotFound.
package storetest

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Run runs the conformance suite. open must return a new, empty store and
// arrange for it to be closed when t ends; it is called once per subtest,
// and the subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) flywheel.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s flywheel.Store)
	}{
		{"RunRoundTrip", testRunRoundTrip},
		{"RunIdempotency", testRunIdempotency},
		{"RunInvalidBatch", testRunInvalidBatch},
		{"RunList", testRunList},
		{"ObservationIdempotency", testObservationIdempotency},
		{"ObservationInvalidBatch", testObservationInvalidBatch},
		{"ObservationLargeBatch", testObservationLargeBatch},
		{"ObservationPaging", testObservationPaging},
		{"ObservationFeed", testObservationFeed},
		{"LiveSummary", testLiveSummary},
		{"Deployments", testDeployments},
		{"Models", testModels},
		{"Insights", testInsights},
		{"PruneInsights", testPruneInsights},
		{"Signals", testSignals},
		{"Jobs", testJobs},
		{"JobList", testJobList},
		{"JobCompareAndSet", testJobCompareAndSet},
		{"ConfigChanges", testConfigChanges},
		{"ConfigBackups", testConfigBackups},
		{"Pins", testPins},
		{"Outcomes", testOutcomes},
		{"AuditLog", testAuditLog},
		{"LoopState", testLoopState},
		{"Counts", testCounts},
		{"NotFound", testNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// t0 is the time the test data starts at.
var t0 = time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC)

// Models the tests use.
var (
	modelA = flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"}
	modelB = flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "lightgbm"}
	modelC = flywheel.ModelKey{Target: "barrier_up_10d_JPM", ModelFamily: "ridge"}
	modelD = flywheel.ModelKey{Target: "vol_20d_SPY", ModelFamily: "mlp"}
)

func ptr[T any](v T) *T { return &v }

// wantError fails t unless err is a *flywheel.Error with code and, when
// index is not nil, with that Index and Field.
func wantError(t *testing.T, err error, code flywheel.ErrorCode, index *int, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := flywheel.Code(err); got != code {
		t.Fatalf("got error %v (code %s), want code %s", err, got, code)
	}
	if index == nil && field == "" {
		return
	}
	var e *flywheel.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want a *flywheel.Error", err, err)
	}
	if index != nil && (e.Index == nil || *e.Index != *index) {
		t.Errorf("error %v: got index %v, want %d", err, fmtIndex(e.Index), *index)
	}
	if e.Field != field {
		t.Errorf("error %v: got field %q, want %q", err, e.Field, field)
	}
}

func fmtIndex(i *int) any {
	if i == nil {
		return "none"
	}
	return *i
}

// mustNoError fails t when err is not nil.
func mustNoError(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantResult fails t unless a batch write did exactly what want says.
func wantResult(t *testing.T, what string, got flywheel.IngestResult, err error, want flywheel.IngestResult) {
	t.Helper()
	mustNoError(t, what, err)
	if got != want {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

// wantJSON fails t unless got and want encode to the same JSON: a
// readable deep comparison that also follows pointers.
func wantJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	mustNoError(t, what+": encode got", err)
	w, err := json.MarshalIndent(want, "", "  ")
	mustNoError(t, what+": encode want", err)
	if string(g) != string(w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

// sameJSON reports whether two JSON documents hold the same value, so
// that a driver may reformat documents it stores.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// near reports whether a and b agree to 1e-9, relative to their size.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// wantTime fails t unless got is the instant want, in UTC.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s: got %v, want %v in UTC", what, got, want)
	}
}
