package httpapi

import (
	"context"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
)

// The people's controls over the loop: pause and resume it, cancel a
// job, and the pipeline's heartbeat on a job. Every control a person
// uses is in the audit log, under the name of the token that used it.

// maxControlBody bounds the small bodies of control requests.
const maxControlBody = 64 << 10

// actor names who made a request: the token's name, or "local" when the
// daemon has no tokens (it then listens on loopback only).
func actor(r *http.Request) string {
	if info := infoOf(r); info != nil && info.token != "" {
		return info.token
	}
	return "local"
}

// decodeOne reads a body holding exactly one JSON object.
func decodeOne[W, T any](w http.ResponseWriter, r *http.Request, convert func(*W) (T, error)) (T, error) {
	var zero T
	recs, err := decodeBatch(w, r, maxControlBody, false, convert)
	if err != nil {
		return zero, err
	}
	if len(recs) != 1 {
		return zero, flywheel.Errorf(flywheel.EInvalid, "send one JSON object, not an array")
	}
	return recs[0], nil
}

// wireReason is the body of pause, resume and cancel.
type wireReason struct {
	Reason string `json:"reason"`
}

func (w *wireReason) reason() (string, error) {
	if len(w.Reason) > 1000 {
		return "", unprocessable(flywheel.FieldError("reason", "is %d characters; at most 1000", len(w.Reason)))
	}
	return w.Reason, nil
}

// handleGetLoop reports whether the loop is paused.
func handleGetLoop(store flywheel.LoopStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := store.LoopState(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, st)
	}
}

// handleSetLoop pauses (paused true) or resumes the loop.
func handleSetLoop(store flywheel.LoopStore, paused bool, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := decodeOne(w, r, (*wireReason).reason)
		if err != nil {
			writeError(w, r, err)
			return
		}
		st := flywheel.LoopState{Paused: paused, By: actor(r), Reason: reason, At: now().UTC()}
		if err := store.SetLoopState(r.Context(), st); err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, st)
	}
}

// CancelFunc cancels a job on behalf of actor, whatever its state, and
// returns it as it is afterwards. The daemon's runner provides it: only
// it knows how to stop the job where it runs.
type CancelFunc func(ctx context.Context, id, actor, reason string) (flywheel.Job, error)

// handleCancelJob cancels a job.
func handleCancelJob(cancel CancelFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := decodeOne(w, r, (*wireReason).reason)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if cancel == nil {
			writeError(w, r, flywheel.Errorf(flywheel.EUnavailable, "this daemon runs no executor, so it cannot cancel jobs"))
			return
		}
		j, err := cancel(r.Context(), chi.URLParam(r, "id"), actor(r), reason)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, j)
	}
}

// wireProgress is a job's heartbeat.
type wireProgress struct {
	Progress *float64 `json:"progress"`
	Message  string   `json:"message"`
	ETA      *string  `json:"eta"`
}

type progress struct {
	value   float64
	message string
	eta     *time.Time
}

func (w *wireProgress) progress() (progress, error) {
	if w.Progress == nil {
		return progress{}, unprocessable(flywheel.FieldError("progress", "is required"))
	}
	p := *w.Progress
	if math.IsNaN(p) || p < 0 || p > 1 {
		return progress{}, unprocessable(flywheel.FieldError("progress", "must be in [0, 1]"))
	}
	if len(w.Message) > 1000 {
		return progress{}, unprocessable(flywheel.FieldError("message", "is %d characters; at most 1000", len(w.Message)))
	}
	out := progress{value: p, message: w.Message}
	if w.ETA != nil {
		eta, err := parseTime("eta", w.ETA, false)
		if err != nil {
			return progress{}, unprocessable(err)
		}
		out.eta = &eta
	}
	return out, nil
}

// handleProgress records a heartbeat with progress on a running job.
func handleProgress(store flywheel.JobStore, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := decodeOne(w, r, (*wireProgress).progress)
		if err != nil {
			writeError(w, r, err)
			return
		}
		j, err := store.Heartbeat(r.Context(), chi.URLParam(r, "id"), now().UTC(), p.value, p.message, p.eta)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, j)
	}
}

// handleView answers a GET with a computed view; what names it in errors.
func handleView(view ViewFunc, what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if view == nil {
			writeError(w, r, flywheel.Errorf(flywheel.EUnavailable, "this daemon computes no %s", what))
			return
		}
		q := newQuery(r)
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		v, err := view(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, v)
	}
}

// maxLogBytes bounds what one request returns of a job's log: the tail.
const maxLogBytes = 4 << 20

// handleJobLogs returns the tail of a job's log as text.
func handleJobLogs(logs func(ctx context.Context, id string) (io.ReadCloser, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if logs == nil {
			writeError(w, r, flywheel.Errorf(flywheel.EUnavailable, "this daemon runs no executor, so jobs have no logs here"))
			return
		}
		rc, err := logs(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer rc.Close()
		tail, err := readTail(rc, maxLogBytes)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(tail)
	}
}

// readTail reads r to its end and keeps the last n bytes.
func readTail(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 64<<10)
	for {
		k, err := r.Read(chunk)
		buf = append(buf, chunk[:k]...)
		if len(buf) > 2*n {
			buf = append(buf[:0], buf[len(buf)-n:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > n {
		buf = buf[len(buf)-n:]
	}
	return buf, nil
}
