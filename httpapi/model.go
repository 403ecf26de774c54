package httpapi

import (
	"net/http"

	"github.com/flywheel-ml/flywheel"
)

// modelList is the response of GET /api/v1/models: a page of models
// ordered by target then family, and the cursor of the next page.
type modelList struct {
	Models []flywheel.Model `json:"models"`
	Next   string           `json:"next,omitempty"`
}

// handleGetModels lists models a page at a time.
func handleGetModels(store flywheel.RunStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "kind", "limit", "after")
		f := flywheel.ModelFilter{
			Target:      q.name("target"),
			ModelFamily: q.name("model_family"),
			Kind:        q.name("kind"),
		}
		limit := q.limit(defaultLimit)
		if parts, ok := q.cursor("after", 2); ok {
			k := flywheel.ModelKey{Target: parts[0], ModelFamily: parts[1]}
			if k.Validate() != nil {
				q.fail(flywheel.FieldError("after", "is not a cursor this server issued"))
			}
			f.After = &k
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		f.Limit = limit + 1
		models, err := store.Models(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp := modelList{Models: models}
		if len(models) > limit {
			resp.Models = models[:limit]
			last := models[limit-1]
			resp.Next = encodeCursor(last.Target, last.ModelFamily)
		}
		if resp.Models == nil {
			resp.Models = []flywheel.Model{}
		}
		encode(w, r, http.StatusOK, resp)
	}
}

// handleGetModel returns one model.
func handleGetModel(store flywheel.RunStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := pathModelKey(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		m, err := store.Model(r.Context(), k)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, m)
	}
}
