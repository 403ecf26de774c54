package httpapi

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func TestLocateSyntaxError(t *testing.T) {
	t.Parallel()
	cases := []struct{ raw, field string }{
		{`{"pnl": NaN}`, "pnl"},
		{`{"a": 1, "pnl": -Infinity, "b": 2}`, "pnl"},
		{`{"a": {"b": [1, 2, {"c": [0, nan]}]}}`, "a.b[2].c[1]"},
		{`{"a": 1,}`, ""},
		{`{"a": [1 2]}`, "a[1]"},
		{`[1, 2, x]`, "[2]"},
		{`x`, ""},
	}
	for _, c := range cases {
		if got, _ := locateSyntaxError([]byte(c.raw)); got != c.field {
			t.Errorf("locateSyntaxError(%s) = %q, want %q", c.raw, got, c.field)
		}
	}
}

// TestDecodeNDJSONLineEndings accepts CRLF and a last line without a newline.
func TestDecodeNDJSONLineEndings(t *testing.T) {
	t.Parallel()
	body := obsRec(0).String() + "\r\n\r\n" + obsRec(1).String() + "\r\n" + obsRec(2).String()
	obs, err := decodeNDJSON(strings.NewReader(body), (*wireObservation).observation, 0)
	if err != nil || len(obs) != 3 || obs[2].EventID != "ev-2" {
		t.Errorf("decode: %d records, %v; want 3", len(obs), err)
	}
}

// TestDecodeLiveConverts checks what the wire conversion keeps.
func TestDecodeLiveConverts(t *testing.T) {
	t.Parallel()
	r := obsRec(0).with("ts", `"2024-06-01T14:30:00.123456789+02:00"`).with("position", "null").with("prediction", "0.25")
	obs, err := decodeJSON(strings.NewReader(array(r.String())), (*wireObservation).observation, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := obs[0]
	if want := "2024-06-01T12:30:00.123456789Z"; o.TS.Format("2006-01-02T15:04:05.999999999Z07:00") != want {
		t.Errorf("ts = %v, want %s in UTC", o.TS, want)
	}
	if o.Position != nil || o.Prediction == nil || *o.Prediction != 0.25 || o.Outcome != nil {
		t.Errorf("optional numbers: position %v prediction %v outcome %v", o.Position, o.Prediction, o.Outcome)
	}
}

// FuzzDecodeLive feeds arbitrary bodies to the live decoder, as a JSON
// array and as NDJSON: it must not panic, and must either return records
// that pass Validate or an input error.
func FuzzDecodeLive(f *testing.F) {
	valid := []string{obsRec(0).String(), obsRec(1).with("event_id", "").String()}
	for _, seed := range []string{
		array(valid...),
		ndjson(valid...),
		obsRec(0).String(),
		array(obsRec(0).with("pnl", "NaN").String()),
		array(obsRec(0).with("pnl", "1e999").String()),
		array(obsRec(0).with("ts", `"2024-02-30T00:00:00Z"`).String()),
		array(obsRec(0).with("x", `{"y": [1, {"z": null}]}`).String()),
		"", "[", "[]", "null", "[null]", "{}", "\n\n", `[{"pnl": 1e-400}]`, "\xef\xbb\xbf[]",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, nd bool) {
		var obs []flywheel.Observation
		var err error
		if nd {
			obs, err = decodeNDJSON(bytes.NewReader(data), (*wireObservation).observation, 0)
		} else {
			obs, err = decodeJSON(bytes.NewReader(data), (*wireObservation).observation, 0)
		}
		if err != nil {
			var e *flywheel.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *flywheel.Error", err, err)
			}
			if e.Code != flywheel.EInvalid || e.Message == "" {
				t.Fatalf("error %+v: want code invalid with a message", e)
			}
			if e.Index != nil && (*e.Index < 0 || *e.Index > len(data)) {
				t.Fatalf("error index %d out of range", *e.Index)
			}
			return
		}
		if len(obs) == 0 {
			t.Fatal("no error and no records")
		}
		for i := range obs {
			if err := obs[i].Validate(); err != nil {
				t.Fatalf("record %d passed decoding but fails Validate: %v", i, err)
			}
		}
	})
}

// FuzzDecodeRuns is FuzzDecodeLive for runs, whose nested parts take the
// second decoding pass.
func FuzzDecodeRuns(f *testing.F) {
	for _, seed := range []string{
		runRec(0).String(),
		array(runRec(0).String(), runRec(1).with("status", `"running"`).with("finished_at", "").String()),
		array(runRec(0).with("metrics", `{"validation_score": NaN}`).String()),
		array(runRec(0).with("leakage_events", `[{"feature": "a", "score": "1"}]`).String()),
		array(runRec(0).with("config", `{"a": [1, {"b": 1e999}]}`).String()),
		array(runRec(0).with("data_window", `{"from": null}`).String()),
		"[", "{}", "[{}]", "null",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runs, err := decodeJSON(bytes.NewReader(data), (*wireRun).run, 0)
		if err != nil {
			var e *flywheel.Error
			if !errors.As(err, &e) || e.Code != flywheel.EInvalid || e.Message == "" {
				t.Fatalf("error %v (%T), want a *flywheel.Error with code invalid", err, err)
			}
			return
		}
		for i := range runs {
			if err := runs[i].Validate(); err != nil {
				t.Fatalf("run %d passed decoding but fails Validate: %v", i, err)
			}
		}
	})
}
