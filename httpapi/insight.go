package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
)

// handleGetInsight returns the latest insight of a learner, or the version
// asked for with ?version=N.
func handleGetInsight(store flywheel.InsightStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kind := chi.URLParam(r, "kind")
		if kind != flywheel.InsightCILS && kind != flywheel.InsightARPO {
			writeError(w, r, flywheel.Errorf(flywheel.ENotFound, "no learner %q; there are %s and %s", truncate(kind, 64), flywheel.InsightCILS, flywheel.InsightARPO))
			return
		}
		q := newQuery(r, "version")
		version := q.int64("version")
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		in, err := store.Insight(r.Context(), kind, version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, in)
	}
}
