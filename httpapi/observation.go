package httpapi

import (
	"net/http"

	"github.com/flywheel-ml/flywheel"
)

// observationList is the response of GET
// /api/v1/models/{target}/{model_family}/observations: a page of
// observations, oldest first, and the cursor of the next page.
type observationList struct {
	Observations []flywheel.Observation `json:"observations"`
	Next         string                 `json:"next,omitempty"`
}

// handlePostLive stores live observations: a JSON array or NDJSON.
func handlePostLive(store flywheel.LiveStore, maxBody int64, notify func(flywheel.IngestResult)) http.HandlerFunc {
	return handleIngest(maxBody, true, (*wireObservation).observation, store.PutObservations, notify)
}

// handleGetObservations lists one model's observations oldest first.
func handleGetObservations(store flywheel.LiveStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := pathModelKey(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		q := newQuery(r, "since", "until", "limit", "after")
		f := flywheel.ObservationFilter{Model: k, Since: q.time("since"), Until: q.time("until")}
		limit := q.limit(defaultObservationLimit)
		if t, id, ok := q.timeKeyCursor("after"); ok {
			f.AfterTS, f.AfterEventID = t, id
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		f.Limit = limit + 1
		obs, err := store.Observations(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp := observationList{Observations: obs}
		if len(obs) > limit {
			resp.Observations = obs[:limit]
			last := obs[limit-1]
			resp.Next = encodeTimeKeyCursor(last.TS, last.EventID)
		}
		if resp.Observations == nil {
			resp.Observations = []flywheel.Observation{}
		}
		encode(w, r, http.StatusOK, resp)
	}
}

// handleGetLiveSummary aggregates one model's observations in [since, until).
func handleGetLiveSummary(store flywheel.LiveStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := pathModelKey(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		q := newQuery(r, "since", "until")
		since, until := q.time("since"), q.time("until")
		if q.err == nil && !since.IsZero() && !until.IsZero() && until.Before(since) {
			q.fail(flywheel.FieldError("until", "is before since"))
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		s, err := store.LiveSummary(r.Context(), k, since, until)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, s)
	}
}
