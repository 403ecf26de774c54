package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

const benchBatch = 10000

// benchBody returns a batch of n observations whose keys start at from,
// as a JSON array or NDJSON.
func benchBody(from, n int, nd bool) []byte {
	var b bytes.Buffer
	if !nd {
		b.WriteByte('[')
	}
	for i := range n {
		if i > 0 && !nd {
			b.WriteByte(',')
		}
		ts := testNow.Add(time.Duration(from+i) * time.Millisecond).Format(time.RFC3339Nano)
		fmt.Fprintf(&b, `{"event_id":"ev-%d","ts":%q,"target":"fwd_ret_5d_T%d","model_family":"ridge","model_version":"v3","symbol":"S%d","pnl":%g,"position":100,"expected_pnl":0.01,"prediction":0.2}`,
			from+i, ts, i%50, i%500, float64(i%13)-6.5)
		if nd {
			b.WriteByte('\n')
		}
	}
	if !nd {
		b.WriteByte(']')
	}
	return b.Bytes()
}

// BenchmarkDecodeLive measures decoding and validation alone.
func BenchmarkDecodeLive(b *testing.B) {
	for _, nd := range []bool{false, true} {
		name := map[bool]string{false: "array", true: "ndjson"}[nd]
		b.Run(name, func(b *testing.B) {
			body := benchBody(0, benchBatch, nd)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if nd {
					_, err = decodeNDJSON(bytes.NewReader(body), (*wireObservation).observation, sizeHint(int64(len(body))))
				} else {
					_, err = decodeJSON(bytes.NewReader(body), (*wireObservation).observation, sizeHint(int64(len(body))))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPostLive posts 10,000 new observations per request through the
// handler into SQLite; BenchmarkInsertRaw is the store's raw insert rate
// for the same records, the yardstick.
func BenchmarkPostLive(b *testing.B) {
	f := setup(b, Config{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		body := benchBody(n*benchBatch, benchBatch, false)
		n++
		b.StartTimer()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/live", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf(`"accepted":%d`, benchBatch)) {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	b.ReportMetric(float64(benchBatch*n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkInsertRaw(b *testing.B) {
	f := setup(b, Config{})
	n := 0
	for b.Loop() {
		b.StopTimer()
		obs, err := decodeJSON(bytes.NewReader(benchBody(n*benchBatch, benchBatch, false)), (*wireObservation).observation, 0)
		if err != nil {
			b.Fatal(err)
		}
		for i := range obs {
			obs[i].EventID = flywheel.DerivedEventID(obs[i].ModelKey, obs[i].Symbol, obs[i].TS)
		}
		n++
		b.StartTimer()
		if err := f.store.InsertObservationsRaw(context.Background(), obs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchBatch*n)/b.Elapsed().Seconds(), "records/s")
}
