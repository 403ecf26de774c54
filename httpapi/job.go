package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
)

type jobList struct {
	Jobs []flywheel.Job `json:"jobs"`
}

// jobDetail is a job with its history.
type jobDetail struct {
	flywheel.Job
	Events []flywheel.JobEvent `json:"events"`
}

// model reads an optional (target, model_family) pair: both or
// neither.
func (q *query) model() *flywheel.ModelKey {
	k := flywheel.ModelKey{Target: q.name("target"), ModelFamily: q.name("model_family")}
	switch {
	case k.Target == "" && k.ModelFamily == "":
		return nil
	case k.Target == "" || k.ModelFamily == "":
		q.fail(flywheel.FieldError("target", "and model_family are given together or not at all"))
		return nil
	}
	return &k
}

// handleGetJobs lists jobs newest first, optionally of one model and in
// some states (state=running,admitted).
func handleGetJobs(store flywheel.JobStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "state", "limit")
		f := flywheel.JobFilter{Model: q.model(), Limit: q.limit(defaultLimit)}
		if v := q.values.Get("state"); v != "" {
			for _, s := range strings.Split(v, ",") {
				st := flywheel.JobState(s)
				if !st.Valid() {
					q.fail(flywheel.FieldError("state", "%q is not a job state", truncate(s, 64)))
				}
				f.States = append(f.States, st)
			}
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		jobs, err := store.Jobs(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if jobs == nil {
			jobs = []flywheel.Job{}
		}
		encode(w, r, http.StatusOK, jobList{Jobs: jobs})
	}
}

// handleGetJob returns one job with its events.
func handleGetJob(store flywheel.JobStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		j, err := store.Job(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		events, err := store.JobEvents(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if events == nil {
			events = []flywheel.JobEvent{}
		}
		encode(w, r, http.StatusOK, jobDetail{Job: j, Events: events})
	}
}

type signalList struct {
	Signals []flywheel.Signal `json:"signals"`
}

// handleGetSignals lists signals newest first.
func handleGetSignals(store flywheel.SignalStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "since", "limit")
		f := flywheel.SignalFilter{Model: q.model(), Since: q.time("since"), Limit: q.limit(defaultLimit)}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		sigs, err := store.Signals(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if sigs == nil {
			sigs = []flywheel.Signal{}
		}
		encode(w, r, http.StatusOK, signalList{Signals: sigs})
	}
}

type auditList struct {
	Entries []flywheel.AuditEntry `json:"entries"`
}

// handleGetAudit lists the audit log newest first; before=SEQ pages.
func handleGetAudit(store flywheel.AuditStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "before", "limit")
		before := q.int64("before")
		limit := q.limit(defaultLimit)
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		entries, err := store.AuditLog(r.Context(), before, limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if entries == nil {
			entries = []flywheel.AuditEntry{}
		}
		encode(w, r, http.StatusOK, auditList{Entries: entries})
	}
}

type outcomeList struct {
	Outcomes []flywheel.Outcome `json:"outcomes"`
}

// handleGetOutcomes lists what jobs achieved, newest first.
func handleGetOutcomes(store flywheel.OutcomeStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "kind", "since", "limit")
		f := flywheel.OutcomeFilter{Model: q.model(), Kind: q.values.Get("kind"), Since: q.time("since"), Limit: q.limit(defaultLimit)}
		if f.Kind != "" && f.Kind != flywheel.OutcomeTraining && f.Kind != flywheel.OutcomeLive {
			q.fail(flywheel.FieldError("kind", "%q is not one of training, live", truncate(f.Kind, 64)))
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		outs, err := store.Outcomes(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if outs == nil {
			outs = []flywheel.Outcome{}
		}
		encode(w, r, http.StatusOK, outcomeList{Outcomes: outs})
	}
}
