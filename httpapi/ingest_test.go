package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// badRecord is one record that must be rejected, with what the client is
// told: the status and the field (the code is always invalid).
type badRecord struct {
	name   string
	record string
	status int
	field  string
}

var long = strings.Repeat("a", 200)

func badObservations() []badRecord {
	o := obsRec(3)
	return []badRecord{
		{"NaN literal", o.with("pnl", "NaN").String(), 400, "pnl"},
		{"Infinity literal", o.with("pnl", "Infinity").String(), 400, "pnl"},
		{"-Infinity literal", o.with("pnl", "-Infinity").String(), 400, "pnl"},
		{"NaN string", o.with("pnl", `"NaN"`).String(), 400, "pnl"},
		{"overflow", o.with("pnl", "1e999").String(), 400, "pnl"},
		{"negative overflow in optional", o.with("expected_pnl", "-1e400").String(), 400, "expected_pnl"},
		{"NaN in position", o.with("position", "NaN").String(), 400, "position"},
		{"path in target", o.with("target", `"../etc/passwd"`).String(), 422, "target"},
		{"empty target", o.with("target", `""`).String(), 422, "target"},
		{"200-character target", o.with("target", quote(long)).String(), 422, "target"},
		{"slash in model_family", o.with("model_family", `"a/b"`).String(), 422, "model_family"},
		{"leading dot in symbol", o.with("symbol", `".hidden"`).String(), 422, "symbol"},
		{"space in event_id", o.with("event_id", `"a b"`).String(), 422, "event_id"},
		{"bad model_version", o.with("model_version", `"v1/../../x"`).String(), 422, "model_version"},
		{"string pnl", o.with("pnl", `"12.5"`).String(), 400, "pnl"},
		{"bool pnl", o.with("pnl", `true`).String(), 400, "pnl"},
		{"number target", o.with("target", `42`).String(), 400, "target"},
		{"object symbol", o.with("symbol", `{"a":1}`).String(), 400, "symbol"},
		{"number ts", o.with("ts", `1717243200`).String(), 400, "ts"},
		{"unknown field", o.with("pnl_usd", `3`).String(), 400, "pnl_usd"},
		{"ts not RFC 3339", o.with("ts", `"2024-06-01 12:00:00"`).String(), 422, "ts"},
		{"ts a date", o.with("ts", `"2024-06-01"`).String(), 422, "ts"},
		{"ts month 13", o.with("ts", `"2024-13-01T00:00:00Z"`).String(), 422, "ts"},
		{"ts words", o.with("ts", `"yesterday"`).String(), 422, "ts"},
		{"missing pnl", o.with("pnl", "").String(), 422, "pnl"},
		{"null pnl", o.with("pnl", "null").String(), 422, "pnl"},
		{"missing ts", o.with("ts", "").String(), 422, "ts"},
		{"missing target", o.with("target", "").String(), 422, "target"},
		{"missing model_family", o.with("model_family", "").String(), 422, "model_family"},
		{"null record", "null", 400, ""},
		{"number record", "7", 400, ""},
		{"array record", "[1]", 400, ""},
	}
}

func badRuns() []badRecord {
	r := runRec(3)
	return []badRecord{
		{"missing run_id", r.with("run_id", "").String(), 422, "run_id"},
		{"path in run_id", r.with("run_id", `"../../etc/passwd"`).String(), 422, "run_id"},
		{"200-character run_id", r.with("run_id", quote(long)).String(), 422, "run_id"},
		{"missing target", r.with("target", "").String(), 422, "target"},
		{"missing model_family", r.with("model_family", "").String(), 422, "model_family"},
		{"number target", r.with("target", `7`).String(), 400, "target"},
		{"missing status", r.with("status", "").String(), 422, "status"},
		{"unknown status", r.with("status", `"done"`).String(), 422, "status"},
		{"unknown kind", r.with("kind", `"backfill"`).String(), 422, "kind"},
		{"number kind", r.with("kind", `1`).String(), 400, "kind"},
		{"evaluation with a job", r.with("kind", `"evaluation"`).with("job_id", `"job-1"`).String(), 422, "job_id"},
		{"missing started_at", r.with("started_at", "").String(), 422, "started_at"},
		{"started_at not RFC 3339", r.with("started_at", `"01/06/2024"`).String(), 422, "started_at"},
		{"finished_at not RFC 3339", r.with("finished_at", `"soon"`).String(), 422, "finished_at"},
		{"missing finished_at when succeeded", r.with("finished_at", "").String(), 422, "finished_at"},
		{"data_window.from not RFC 3339", r.with("data_window", `{"from": "2020", "to": "2024-01-01T00:00:00Z"}`).String(), 422, "data_window.from"},
		{"data_window.to missing", r.with("data_window", `{"from": "2020-01-01T00:00:00Z"}`).String(), 422, "data_window.to"},
		{"data_window unknown field", r.with("data_window", `{"from": "2020-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z", "step": 1}`).String(), 400, "data_window.step"},
		{"NaN literal metric", r.with("metrics", `{"validation_score": NaN}`).String(), 400, "metrics.validation_score"},
		{"NaN string metric", r.with("metrics", `{"validation_score": "NaN"}`).String(), 400, "metrics.validation_score"},
		{"overflowing metric", r.with("metrics", `{"validation_score": 1e999}`).String(), 400, "metrics.validation_score"},
		{"null metric", r.with("metrics", `{"validation_score": null}`).String(), 400, "metrics.validation_score"},
		{"missing validation_score when succeeded", r.with("metrics", `{"auc": 0.7}`).String(), 422, "metrics.validation_score"},
		{"bad metric name", r.with("metrics", `{"validation_score": 0.6, "../x": 1}`).String(), 422, "metrics"},
		{"string fold score", r.with("fold_scores", `[0.6, "x"]`).String(), 400, "fold_scores[1]"},
		{"infinite fold score", r.with("fold_scores", `[0.6, 0.5, -Infinity]`).String(), 400, "fold_scores[2]"},
		{"importance overflow", r.with("feature_importance", `{"mom_5d": -1e999}`).String(), 400, "feature_importance.mom_5d"},
		{"leakage score missing", r.with("leakage_events", `[{"feature": "a", "threshold": 0.5}]`).String(), 422, "leakage_events[0].score"},
		{"leakage bad feature", r.with("leakage_events", `[{"feature": "a", "score": 1, "threshold": 0.5}, {"feature": "../b", "score": 1, "threshold": 0.5}]`).String(), 422, "leakage_events[1].feature"},
		{"leakage unknown field", r.with("leakage_events", `[{"feature": "a", "score": 1, "threshold": 0.5, "label": true}]`).String(), 400, "leakage_events[0].label"},
		{"leakage confirmed string", r.with("leakage_events", `[{"feature": "a", "score": 1, "threshold": 0.5, "confirmed": "yes"}]`).String(), 400, "leakage_events[0].confirmed"},
		{"negative cost", r.with("cost", `{"gpu_hours": -1}`).String(), 422, "cost.gpu_hours"},
		{"cost unknown field", r.with("cost", `{"gpu_hourz": 1}`).String(), 400, "cost.gpu_hourz"},
		{"cost not an object", r.with("cost", `5`).String(), 400, "cost"},
		{"overflow in config", r.with("config", `{"lr": 1e999}`).String(), 400, "config"},
		{"config not an object", r.with("config", `[1]`).String(), 400, "config"},
		{"unknown field", r.with("loss", `0.3`).String(), 400, "loss"},
		{"null record", "null", 400, ""},
	}
}

func badDeployments() []badRecord {
	d := depRec(3)
	return []badRecord{
		{"missing model_version", d.with("model_version", "").String(), 422, "model_version"},
		{"missing deployed_at", d.with("deployed_at", "").String(), 422, "deployed_at"},
		{"missing target", d.with("target", "").String(), 422, "target"},
		{"missing model_family", d.with("model_family", "").String(), 422, "model_family"},
		{"deployed_at a date", d.with("deployed_at", `"2024-06-01"`).String(), 422, "deployed_at"},
		{"deployed_at number", d.with("deployed_at", `20240601`).String(), 400, "deployed_at"},
		{"path in target", d.with("target", `"../etc/passwd"`).String(), 422, "target"},
		{"200-character model_version", d.with("model_version", quote(long)).String(), 422, "model_version"},
		{"bad run_id", d.with("run_id", `"run 1"`).String(), 422, "run_id"},
		{"number model_version", d.with("model_version", `3`).String(), 400, "model_version"},
		{"unknown field", d.with("version", `"v3"`).String(), 400, "version"},
		{"null record", "null", 400, ""},
	}
}

// ingestEndpoint is one batch endpoint with its valid records and its bad ones.
type ingestEndpoint struct {
	path  string
	valid func(int) rec
	bad   []badRecord
}

func ingestEndpoints() []ingestEndpoint {
	return []ingestEndpoint{
		{"/api/v1/live", obsRec, badObservations()},
		{"/api/v1/runs", runRec, badRuns()},
		{"/api/v1/deployments", depRec, badDeployments()},
	}
}

// TestPostBadRecordStoresNothing sends 3 valid records and a bad one at
// index 3, as a JSON array (and NDJSON for live), and as a single object:
// the error names the field and the index, and nothing is stored.
func TestPostBadRecordStoresNothing(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	for _, ep := range ingestEndpoints() {
		valid := []string{ep.valid(0).String(), ep.valid(1).String(), ep.valid(2).String()}
		for _, c := range ep.bad {
			t.Run(ep.path+"/"+c.name, func(t *testing.T) {
				w := f.post(t, ep.path, "application/json", array(append(valid, c.record)...))
				wantError(t, w, c.status, flywheel.EInvalid, c.field, 3)
				if ep.path == "/api/v1/live" {
					// A blank line must not shift the index: it counts records.
					body := ndjson(valid[0], "", valid[1], valid[2], c.record)
					w := f.post(t, ep.path, "application/x-ndjson", body)
					wantError(t, w, c.status, flywheel.EInvalid, c.field, 3)
					if !strings.Contains(w.Body.String(), "line 5") {
						t.Errorf("NDJSON error does not name line 5: %s", w.Body.String())
					}
				}
				if strings.HasPrefix(c.record, "{") {
					w := f.post(t, ep.path, "application/json", c.record)
					wantError(t, w, c.status, flywheel.EInvalid, c.field, noIndex)
				}
				if got := f.counts(t); got != (flywheel.Counts{}) {
					t.Errorf("counts after a rejected batch = %+v, want nothing stored", got)
				}
			})
		}
	}
}

// TestPostBadBody covers bodies that are wrong as a whole.
func TestPostBadBody(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	for _, ep := range ingestEndpoints() {
		v := ep.valid(0).String()
		cases := []struct {
			name, contentType, body string
			status                  int
			code                    flywheel.ErrorCode
			index                   int
		}{
			{"empty body", "application/json", "", 400, flywheel.EInvalid, noIndex},
			{"white space", "application/json", " \n\t ", 400, flywheel.EInvalid, noIndex},
			{"empty array", "application/json", "[]", 400, flywheel.EInvalid, noIndex},
			{"empty array with spaces", "application/json", " [ ] ", 400, flywheel.EInvalid, noIndex},
			{"string", "application/json", `"runs"`, 400, flywheel.EInvalid, noIndex},
			{"truncated object", "application/json", `{"target": "a"`, 400, flywheel.EInvalid, noIndex},
			{"unclosed array", "application/json", "[" + v, 400, flywheel.EInvalid, 1},
			{"trailing comma", "application/json", "[" + v + ",]", 400, flywheel.EInvalid, 1},
			{"missing comma", "application/json", "[" + v + " " + v + "]", 400, flywheel.EInvalid, 1},
			{"data after the array", "application/json", "[" + v + "] x", 400, flywheel.EInvalid, noIndex},
			{"second object", "application/json", v + v, 400, flywheel.EInvalid, noIndex},
			{"text/plain", "text/plain", "[" + v + "]", 415, flywheel.EUnsupported, noIndex},
			{"no Content-Type", "", "[" + v + "]", 415, flywheel.EUnsupported, noIndex},
			{"form", "application/x-www-form-urlencoded", "a=b", 415, flywheel.EUnsupported, noIndex},
			{"latin-1", "application/json; charset=iso-8859-1", "[" + v + "]", 415, flywheel.EUnsupported, noIndex},
		}
		if ep.path == "/api/v1/live" {
			cases = append(cases, []struct {
				name, contentType, body string
				status                  int
				code                    flywheel.ErrorCode
				index                   int
			}{
				{"NDJSON blank", "application/x-ndjson", "\n\n", 400, flywheel.EInvalid, noIndex},
				{"NDJSON two per line", "application/x-ndjson", v + " " + v + "\n", 400, flywheel.EInvalid, 0},
				{"NDJSON object split over lines", "application/x-ndjson", "{\n" + v[1:] + "\n", 400, flywheel.EInvalid, 0},
				{"NDJSON array line", "application/x-ndjson", "[" + v + "]\n", 400, flywheel.EInvalid, 0},
			}...)
		} else {
			cases = append(cases, struct {
				name, contentType, body string
				status                  int
				code                    flywheel.ErrorCode
				index                   int
			}{"NDJSON", "application/x-ndjson", v + "\n", 415, flywheel.EUnsupported, noIndex})
		}
		for _, c := range cases {
			t.Run(ep.path+"/"+c.name, func(t *testing.T) {
				w := f.post(t, ep.path, c.contentType, c.body)
				wantError(t, w, c.status, c.code, "", c.index)
				if got := f.counts(t); got != (flywheel.Counts{}) {
					t.Errorf("counts = %+v, want nothing stored", got)
				}
			})
		}
	}
}

// TestPostTooLarge checks the body limit, for a JSON array and NDJSON.
func TestPostTooLarge(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{MaxBodyBytes: 4096})
	var recs []string
	for i := range 100 {
		recs = append(recs, obsRec(i).String())
	}
	for _, c := range []struct{ contentType, body string }{
		{"application/json", array(recs...)},
		{"application/x-ndjson", ndjson(recs...)},
	} {
		req := request{method: http.MethodPost, path: "/api/v1/live", contentType: c.contentType, body: c.body}
		// With a Content-Length the server refuses before reading...
		w := f.do(t, req)
		wantError(t, w, http.StatusRequestEntityTooLarge, flywheel.ETooLarge, "", noIndex)
		// ...and without one (chunked) it stops reading at the limit.
		w = f.do(t, req, func(r *http.Request) { r.ContentLength = -1 })
		wantError(t, w, http.StatusRequestEntityTooLarge, flywheel.ETooLarge, "", noIndex)
	}
	if got := f.counts(t); got != (flywheel.Counts{}) {
		t.Errorf("counts = %+v, want nothing stored", got)
	}
	// Under the limit, the same server accepts.
	w := f.post(t, "/api/v1/live", "application/json", array(recs[:5]...))
	var res flywheel.IngestResult
	decodeOK(t, w, &res)
	if res.Accepted != 5 {
		t.Errorf("accepted = %d, want 5", res.Accepted)
	}
}

// TestPostIdempotent posts each batch twice: the second time everything
// is a duplicate and nothing more is stored.
func TestPostIdempotent(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	for _, ep := range ingestEndpoints() {
		var recs []string
		for i := range 4 {
			recs = append(recs, ep.valid(i).String())
		}
		var first, second flywheel.IngestResult
		decodeOK(t, f.post(t, ep.path, "application/json", array(recs...)), &first)
		before := f.counts(t)
		decodeOK(t, f.post(t, ep.path, "application/json; charset=utf-8", array(recs...)), &second)
		if want := (flywheel.IngestResult{Accepted: 4}); first != want {
			t.Errorf("%s first post = %+v, want %+v", ep.path, first, want)
		}
		if want := (flywheel.IngestResult{Duplicates: 4}); second != want {
			t.Errorf("%s second post = %+v, want %+v", ep.path, second, want)
		}
		if after := f.counts(t); after != before {
			t.Errorf("%s counts changed on a duplicate post: %+v -> %+v", ep.path, before, after)
		}
	}
	if c := f.counts(t); c.Runs != 4 || c.LiveObservations != 4 || c.Deployments != 4 {
		t.Errorf("counts = %+v, want 4 runs, 4 observations, 4 deployments", c)
	}
}

// TestPostLiveNDJSONSameAsArray posts the same observations as NDJSON and
// as a JSON array, into two stores and into one, and expects the same.
func TestPostLiveNDJSONSameAsArray(t *testing.T) {
	t.Parallel()
	var recs []string
	for i := range 20 {
		r := obsRec(i)
		if i%2 == 0 {
			r = r.with("event_id", "") // a derived key must match too
		}
		recs = append(recs, r.String())
	}
	fa, fn := setup(t, Config{}), setup(t, Config{})
	var ra, rn flywheel.IngestResult
	decodeOK(t, fa.post(t, "/api/v1/live", "application/json", array(recs...)), &ra)
	decodeOK(t, fn.post(t, "/api/v1/live", "application/x-ndjson", ndjson(recs...)), &rn)
	if ra != rn || ra.Accepted != 20 {
		t.Errorf("array result %+v, NDJSON result %+v, want both 20 accepted", ra, rn)
	}
	var sa, sn flywheel.LiveSummary
	decodeOK(t, fa.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/live"), &sa)
	decodeOK(t, fn.get(t, "/api/v1/models/fwd_ret_5d_AAPL/ridge/live"), &sn)
	ja, _ := json.Marshal(sa)
	jn, _ := json.Marshal(sn)
	if string(ja) != string(jn) {
		t.Errorf("summaries differ:\narray  %s\nNDJSON %s", ja, jn)
	}
	// The other format into the same store: all duplicates.
	var again flywheel.IngestResult
	decodeOK(t, fa.post(t, "/api/v1/live", "application/x-ndjson", ndjson(recs...)), &again)
	if want := (flywheel.IngestResult{Duplicates: 20}); again != want {
		t.Errorf("NDJSON after array = %+v, want %+v", again, want)
	}
}

// TestPostRunConflict changes a finished run: 409 naming the record, and
// the new run in the same batch is not stored either.
func TestPostRunConflict(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", runRec(0).String()), &flywheel.IngestResult{})
	changed := runRec(0).with("metrics", `{"validation_score": 0.99}`)
	w := f.post(t, "/api/v1/runs", "application/json", array(runRec(1).String(), changed.String()))
	wantError(t, w, http.StatusConflict, flywheel.EConflict, "run_id", 1)
	if c := f.counts(t); c.Runs != 1 {
		t.Errorf("runs = %d, want 1: a rejected batch must store nothing", c.Runs)
	}
}

// TestPostRunningRunUpdated reports a run twice: running, then finished.
func TestPostRunningRunUpdated(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	running := runRec(0).with("status", `"running"`).with("finished_at", "").with("metrics", "")
	var res flywheel.IngestResult
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", running.String()), &res)
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", runRec(0).String()), &res)
	if want := (flywheel.IngestResult{Updated: 1}); res != want {
		t.Errorf("finished report of a running run = %+v, want %+v", res, want)
	}
	var run flywheel.Run
	decodeOK(t, f.get(t, "/api/v1/runs/run-0"), &run)
	if run.Status != flywheel.RunSucceeded {
		t.Errorf("status = %q, want succeeded", run.Status)
	}
}

// TestPostRunRoundTrip posts a run with every field and reads it back
// unchanged, and posting what was read back is a duplicate.
func TestPostRunRoundTrip(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", runRec(0).String()), &flywheel.IngestResult{})
	w := f.get(t, "/api/v1/runs/run-0")
	var run flywheel.Run
	decodeOK(t, w, &run)
	if len(run.LeakageEvents) != 1 || run.LeakageEvents[0].Confirmed != nil || run.LeakageEvents[0].Score != 0.93 {
		t.Errorf("leakage events = %+v", run.LeakageEvents)
	}
	if run.DataWindow == nil || run.DataWindow.From.Year() != 2020 {
		t.Errorf("data window = %+v", run.DataWindow)
	}
	if v, _ := run.ValidationScore(); v != 0.61 || run.Cost.WallSeconds != 1800 || run.Config["top_n"] != 20.0 {
		t.Errorf("run = %+v", run)
	}
	var res flywheel.IngestResult
	decodeOK(t, f.post(t, "/api/v1/runs", "application/json", w.Body.String()), &res)
	if want := (flywheel.IngestResult{Duplicates: 1}); res != want {
		t.Errorf("posting a run as read back = %+v, want %+v", res, want)
	}
}
