package httpapi

import (
	"context"
	"net/http"

	"github.com/flywheel-ml/flywheel"
)

// runList is the response of GET /api/v1/runs: a page of runs, newest
// first, and the cursor of the next page when there is one.
type runList struct {
	Runs []flywheel.Run `json:"runs"`
	Next string         `json:"next,omitempty"`
}

// handleIngest is the shape of every batch write: decode and validate the
// whole body, then hand the batch to the store, which stores all of it or
// none.
func handleIngest[W, T any](maxBody int64, ndjsonOK bool, convert func(*W) (T, error),
	put func(context.Context, []T) (flywheel.IngestResult, error), notify func(flywheel.IngestResult)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		recs, err := decodeBatch(w, r, maxBody, ndjsonOK, convert)
		if err != nil {
			writeError(w, r, err)
			return
		}
		res, err := put(r.Context(), recs)
		if err != nil {
			writeError(w, r, err)
			return
		}
		notify(res)
		encode(w, r, http.StatusOK, res)
	}
}

// handlePostRuns stores training runs: one object or an array.
func handlePostRuns(store flywheel.RunStore, maxBody int64, notify func(flywheel.IngestResult)) http.HandlerFunc {
	return handleIngest(maxBody, false, (*wireRun).run, store.PutRuns, notify)
}

// handleGetRuns lists runs newest first, a page at a time.
func handleGetRuns(store flywheel.RunStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "status", "job_id", "since", "until", "limit", "before")
		f := flywheel.RunFilter{
			Target:      q.name("target"),
			ModelFamily: q.name("model_family"),
			JobID:       q.name("job_id"),
			Since:       q.time("since"),
			Until:       q.time("until"),
		}
		if s := flywheel.RunStatus(q.values.Get("status")); s != "" {
			if !s.Valid() {
				q.fail(flywheel.FieldError("status", "%q is not one of running, succeeded, failed, cancelled", truncate(string(s), 64)))
			}
			f.Status = s
		}
		limit := q.limit(defaultLimit)
		if t, id, ok := q.timeKeyCursor("before"); ok {
			f.Before = &flywheel.RunCursor{StartedAt: t, RunID: id}
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		// One more than asked tells whether there is a next page.
		f.Limit = limit + 1
		runs, err := store.Runs(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp := runList{Runs: runs}
		if len(runs) > limit {
			resp.Runs = runs[:limit]
			last := runs[limit-1]
			resp.Next = encodeTimeKeyCursor(last.StartedAt, last.RunID)
		}
		if resp.Runs == nil {
			resp.Runs = []flywheel.Run{}
		}
		encode(w, r, http.StatusOK, resp)
	}
}

// handleGetRun returns one run.
func handleGetRun(store flywheel.RunStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("run_id")
		if err := flywheel.CheckName("run_id", id, true); err != nil {
			writeError(w, r, err)
			return
		}
		run, err := store.Run(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, run)
	}
}
