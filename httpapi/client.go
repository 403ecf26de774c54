package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Client calls the flywheel API; the CLI and Go training code use it.
// Errors the API returns come back as *flywheel.Error with the code,
// message, field and index the server sent, so that printing one gives
// "record 3: pnl: must be a finite number". It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the API at baseURL (such as
// "http://127.0.0.1:7070"). token is sent as a bearer token unless empty.
// A nil hc gets a client with timeouts suited to large batches.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = defaultHTTPClient()
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// defaultHTTPClient bounds every phase of a request. Storing a large
// batch takes seconds, not minutes, so the response header timeout is
// generous but finite.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t, Timeout: 10 * time.Minute}
}

// PostRuns reports training runs.
func (c *Client) PostRuns(ctx context.Context, runs []flywheel.Run) (flywheel.IngestResult, error) {
	return postBatch(ctx, c, "/api/v1/runs", runs, (*flywheel.Run).Validate)
}

// PostObservations reports live observations.
func (c *Client) PostObservations(ctx context.Context, obs []flywheel.Observation) (flywheel.IngestResult, error) {
	return postBatch(ctx, c, "/api/v1/live", obs, (*flywheel.Observation).Validate)
}

// PostDeployments reports deployments.
func (c *Client) PostDeployments(ctx context.Context, deps []flywheel.Deployment) (flywheel.IngestResult, error) {
	return postBatch(ctx, c, "/api/v1/deployments", deps, (*flywheel.Deployment).Validate)
}

// Report posts body as it is, streaming it, to the ingest endpoint of
// kind ("runs", "live" or "deployments"). contentType is
// application/json, or application/x-ndjson for live; empty means JSON.
func (c *Client) Report(ctx context.Context, kind string, body io.Reader, contentType string) (flywheel.IngestResult, error) {
	var res flywheel.IngestResult
	switch kind {
	case "runs", "live", "deployments":
	default:
		return res, flywheel.Errorf(flywheel.EInvalid, "report kind %q is not one of runs, live, deployments", kind)
	}
	if contentType == "" {
		contentType = mediaJSON
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/"+kind, body, -1, contentType, &res)
	return res, err
}

// Status returns the record counts, version and start time.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.get(ctx, "/api/v1/status", nil, &s)
	return s, err
}

// Runs returns one page of runs, newest first. For the next page, pass
// the last run's StartedAt and RunID as f.Before.
func (c *Client) Runs(ctx context.Context, f flywheel.RunFilter) ([]flywheel.Run, error) {
	q := url.Values{}
	setParam(q, "target", f.Target)
	setParam(q, "model_family", f.ModelFamily)
	setParam(q, "status", string(f.Status))
	setParam(q, "job_id", f.JobID)
	setTimeParam(q, "since", f.Since)
	setTimeParam(q, "until", f.Until)
	setLimit(q, f.Limit)
	if f.Before != nil {
		q.Set("before", encodeTimeKeyCursor(f.Before.StartedAt, f.Before.RunID))
	}
	var page runList
	err := c.get(ctx, "/api/v1/runs", q, &page)
	return page.Runs, err
}

// Run returns one run; the error has code ENotFound when there is none.
func (c *Client) Run(ctx context.Context, runID string) (flywheel.Run, error) {
	var r flywheel.Run
	err := c.get(ctx, "/api/v1/runs/"+url.PathEscape(runID), nil, &r)
	return r, err
}

// Models returns one page of models, by target then family. For the next
// page, pass the last model's key as f.After.
func (c *Client) Models(ctx context.Context, f flywheel.ModelFilter) ([]flywheel.Model, error) {
	q := url.Values{}
	setParam(q, "target", f.Target)
	setParam(q, "model_family", f.ModelFamily)
	setParam(q, "kind", f.Kind)
	setLimit(q, f.Limit)
	if f.After != nil {
		q.Set("after", encodeCursor(f.After.Target, f.After.ModelFamily))
	}
	var page modelList
	err := c.get(ctx, "/api/v1/models", q, &page)
	return page.Models, err
}

// Model returns one model; the error has code ENotFound when there is none.
func (c *Client) Model(ctx context.Context, k flywheel.ModelKey) (flywheel.Model, error) {
	var m flywheel.Model
	err := c.get(ctx, modelPath(k), nil, &m)
	return m, err
}

// LiveSummary aggregates a model's live observations with ts in [since,
// until); zero times leave that side open.
func (c *Client) LiveSummary(ctx context.Context, k flywheel.ModelKey, since, until time.Time) (flywheel.LiveSummary, error) {
	q := url.Values{}
	setTimeParam(q, "since", since)
	setTimeParam(q, "until", until)
	var s flywheel.LiveSummary
	err := c.get(ctx, modelPath(k)+"/live", q, &s)
	return s, err
}

// Observations returns one page of a model's observations, oldest first.
// For the next page, pass the last one's TS and EventID as f.AfterTS and
// f.AfterEventID.
func (c *Client) Observations(ctx context.Context, f flywheel.ObservationFilter) ([]flywheel.Observation, error) {
	q := url.Values{}
	setTimeParam(q, "since", f.Since)
	setTimeParam(q, "until", f.Until)
	setLimit(q, f.Limit)
	if f.AfterEventID != "" {
		q.Set("after", encodeTimeKeyCursor(f.AfterTS, f.AfterEventID))
	}
	var page observationList
	err := c.get(ctx, modelPath(f.Model)+"/observations", q, &page)
	return page.Observations, err
}

// Deployments returns deployments, newest first.
func (c *Client) Deployments(ctx context.Context, f flywheel.DeploymentFilter) ([]flywheel.Deployment, error) {
	q := url.Values{}
	setParam(q, "target", f.Target)
	setParam(q, "model_family", f.ModelFamily)
	setLimit(q, f.Limit)
	var page deploymentList
	err := c.get(ctx, "/api/v1/deployments", q, &page)
	return page.Deployments, err
}

// Healthz returns nil when the daemon serves requests.
func (c *Client) Healthz(ctx context.Context) error {
	return c.get(ctx, "/healthz", nil, nil)
}

// Readyz returns nil when the daemon and its database answer.
func (c *Client) Readyz(ctx context.Context) error {
	return c.get(ctx, "/readyz", nil, nil)
}

func modelPath(k flywheel.ModelKey) string {
	return "/api/v1/models/" + url.PathEscape(k.Target) + "/" + url.PathEscape(k.ModelFamily)
}

func setParam(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}

func setTimeParam(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

func setLimit(q url.Values, n int) {
	if n > 0 {
		q.Set("limit", strconv.Itoa(n))
	}
}

// bufferPool holds request buffers: a process that posts batches in a
// loop encodes each into memory it already has.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps one huge batch from pinning its buffer forever.
const maxPooledBuffer = 16 << 20

// postBatch encodes recs as a JSON array and posts it. A record that
// cannot be encoded (a NaN) is found with validate and reported like the
// server would, with its index and field.
func postBatch[T any](ctx context.Context, c *Client, path string, recs []T, validate func(*T) error) (flywheel.IngestResult, error) {
	var res flywheel.IngestResult
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(recs); err != nil {
		bufferPool.Put(buf)
		for i := range recs {
			if verr := validate(&recs[i]); verr != nil {
				return res, flywheel.AtIndex(verr, i)
			}
		}
		return res, fmt.Errorf("encode %s batch: %w", path, err)
	}
	body := &pooledBody{buf: buf}
	body.r.Reset(buf.Bytes())
	err := c.do(ctx, http.MethodPost, path, body, int64(buf.Len()), mediaJSON, &res)
	return res, err
}

// pooledBody is a request body whose buffer goes back to the pool when
// the transport closes it. The transport may close from another
// goroutine than the one reading, hence the lock.
type pooledBody struct {
	mu     sync.Mutex
	r      bytes.Reader
	buf    *bytes.Buffer
	closed bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("read after close")
	}
	return b.r.Read(p)
}

func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		if b.buf.Cap() <= maxPooledBuffer {
			bufferPool.Put(b.buf)
		}
		b.buf = nil
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodGet, path, nil, 0, "", out)
}

// do sends a request and decodes a 2xx response into out (unless nil).
// size is the body length, or -1 when unknown (streamed).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, size int64, contentType string, out any) error {
	u := c.base + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
		if size >= 0 {
			req.ContentLength = size
		}
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error repeats method and URL; keep its cause under our own.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(method, u, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if w, ok := out.(io.Writer); ok { // a body that is not JSON: a log
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("%s %s: read response: %w", method, u, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, u, err)
	}
	return nil
}

// responseError turns an error response into the *flywheel.Error the
// server sent, or, for a response that is not ours (a proxy's page), one
// with the code that matches the status.
func responseError(method, u string, resp *http.Response) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %s: read error response: %w", method, u, resp.Status, err)
	}
	var er errorResponse
	if json.Unmarshal(b, &er) == nil && er.Error.Code != "" {
		return &flywheel.Error{Code: er.Error.Code, Message: er.Error.Message, Field: er.Error.Field, Index: er.Error.Index}
	}
	msg := fmt.Sprintf("%s %s: %s", method, u, resp.Status)
	if s := strings.TrimSpace(string(b)); s != "" {
		msg += ": " + truncate(s, 200)
	}
	return &flywheel.Error{Code: codeOfStatus(resp.StatusCode), Message: msg}
}

// Insight returns version v of a learner's insights ("cils" or "arpo"),
// or the latest when v is 0; the error has code ENotFound when there is
// none yet.
func (c *Client) Insight(ctx context.Context, kind string, v int64) (flywheel.Insight, error) {
	q := url.Values{}
	if v > 0 {
		q.Set("version", strconv.FormatInt(v, 10))
	}
	var in flywheel.Insight
	err := c.get(ctx, "/api/v1/insights/"+url.PathEscape(kind), q, &in)
	return in, err
}

// postJSON sends v as a JSON body and decodes the answer into out.
func (c *Client) postJSON(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(body), int64(len(body)), mediaJSON, out)
}

// Jobs lists jobs newest first.
func (c *Client) Jobs(ctx context.Context, f flywheel.JobFilter) ([]flywheel.Job, error) {
	q := url.Values{}
	if f.Model != nil {
		q.Set("target", f.Model.Target)
		q.Set("model_family", f.Model.ModelFamily)
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		q.Set("state", strings.Join(states, ","))
	}
	setLimit(q, f.Limit)
	var page jobList
	err := c.get(ctx, "/api/v1/jobs", q, &page)
	return page.Jobs, err
}

// Job returns one job and its events.
func (c *Client) Job(ctx context.Context, id string) (flywheel.Job, []flywheel.JobEvent, error) {
	var d jobDetail
	err := c.get(ctx, "/api/v1/jobs/"+url.PathEscape(id), nil, &d)
	return d.Job, d.Events, err
}

// CancelJob cancels a job wherever it is.
func (c *Client) CancelJob(ctx context.Context, id, reason string) (flywheel.Job, error) {
	var j flywheel.Job
	err := c.postJSON(ctx, "/api/v1/jobs/"+url.PathEscape(id)+"/cancel", wireReason{Reason: reason}, &j)
	return j, err
}

// Progress reports a running job's heartbeat.
func (c *Client) Progress(ctx context.Context, id string, progress float64, message string, eta *time.Time) (flywheel.Job, error) {
	body := map[string]any{"progress": progress, "message": message}
	if eta != nil {
		body["eta"] = eta.UTC().Format(time.RFC3339Nano)
	}
	var j flywheel.Job
	err := c.postJSON(ctx, "/api/v1/jobs/"+url.PathEscape(id)+"/progress", body, &j)
	return j, err
}

// Signals lists retraining signals newest first.
func (c *Client) Signals(ctx context.Context, f flywheel.SignalFilter) ([]flywheel.Signal, error) {
	q := url.Values{}
	if f.Model != nil {
		q.Set("target", f.Model.Target)
		q.Set("model_family", f.Model.ModelFamily)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	setLimit(q, f.Limit)
	var page signalList
	err := c.get(ctx, "/api/v1/signals", q, &page)
	return page.Signals, err
}

// Loop returns whether the decision loop is paused.
func (c *Client) Loop(ctx context.Context) (flywheel.LoopState, error) {
	var st flywheel.LoopState
	err := c.get(ctx, "/api/v1/loop", nil, &st)
	return st, err
}

// SetPaused pauses (true) or resumes (false) the decision loop.
func (c *Client) SetPaused(ctx context.Context, paused bool, reason string) (flywheel.LoopState, error) {
	path := "/api/v1/loop/resume"
	if paused {
		path = "/api/v1/loop/pause"
	}
	var st flywheel.LoopState
	err := c.postJSON(ctx, path, wireReason{Reason: reason}, &st)
	return st, err
}

// Audit lists the audit log newest first, entries before seq when seq > 0.
func (c *Client) Audit(ctx context.Context, before int64, limit int) ([]flywheel.AuditEntry, error) {
	q := url.Values{}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	setLimit(q, limit)
	var page auditList
	err := c.get(ctx, "/api/v1/audit", q, &page)
	return page.Entries, err
}

// Plan decodes what the scheduler would do now into out.
func (c *Client) Plan(ctx context.Context, out any) error {
	return c.get(ctx, "/api/v1/plan", nil, out)
}

// LoopHealth decodes the loop's health into out.
func (c *Client) LoopHealth(ctx context.Context, out any) error {
	return c.get(ctx, "/api/v1/health/loop", nil, out)
}

// JobLogs returns the tail of a job's log.
func (c *Client) JobLogs(ctx context.Context, id string) ([]byte, error) {
	var buf bytes.Buffer
	err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id)+"/logs", nil, 0, "", &buf)
	return buf.Bytes(), err
}

// Outcomes lists what jobs achieved, newest first.
func (c *Client) Outcomes(ctx context.Context, f flywheel.OutcomeFilter) ([]flywheel.Outcome, error) {
	q := url.Values{}
	if f.Model != nil {
		q.Set("target", f.Model.Target)
		q.Set("model_family", f.Model.ModelFamily)
	}
	setParam(q, "kind", f.Kind)
	setTimeParam(q, "since", f.Since)
	setLimit(q, f.Limit)
	var page outcomeList
	err := c.get(ctx, "/api/v1/outcomes", q, &page)
	return page.Outcomes, err
}
