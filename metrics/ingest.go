package metrics

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// ingestPrefix is where the API's ingest routes live: POST
// /api/v1/{runs,live,deployments}.
const ingestPrefix = "/api/v1/"

// ingestKinds are the ingest routes' last path segment.
var ingestKinds = map[string]bool{"runs": true, "live": true, "deployments": true}

// maxCapture bounds what is kept of a response: an ingest answer is a few
// dozen bytes; anything longer is not one to decode.
const maxCapture = 4096

// IngestMiddleware counts every ingest batch the API answers, from the
// outside: the response says how many records were accepted, updated or
// duplicates, or the error code of a refusal (flywheel_ingest_errors_total
// then has it, including refusals before the store is reached: auth, bad
// JSON, a body over the limit). Wrap the API handler with it, and do not
// also call ObserveIngest for the same requests.
func (m *Metrics) IngestMiddleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, ok := ingestKind(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		rec := &capture{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.observeResponse(kind, rec.status, rec.body.Bytes())
	})
}

func ingestKind(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, ingestPrefix) {
		return "", false
	}
	kind := strings.TrimPrefix(r.URL.Path, ingestPrefix)
	return kind, ingestKinds[kind]
}

func (m *Metrics) observeResponse(kind string, status int, body []byte) {
	if status >= 200 && status < 300 {
		var res flywheel.IngestResult
		if err := json.Unmarshal(body, &res); err != nil {
			m.ObserveIngest(kind, res, flywheel.Errorf(flywheel.EInternal, "undecodable ingest response"))
			return
		}
		m.ObserveIngest(kind, res, nil)
		return
	}
	var e struct {
		Error struct {
			Code flywheel.ErrorCode `json:"code"`
		} `json:"error"`
	}
	code := flywheel.EInternal
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		code = e.Error.Code
	}
	m.ObserveIngest(kind, flywheel.IngestResult{}, &flywheel.Error{Code: code})
}

// capture records the status and the start of the body while passing
// both through.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if room := maxCapture - c.body.Len(); room > 0 {
		c.body.Write(b[:min(room, len(b))])
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }
