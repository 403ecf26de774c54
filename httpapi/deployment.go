package httpapi

import (
	"net/http"

	"github.com/flywheel-ml/flywheel"
)

// deploymentList is the response of GET /api/v1/deployments, newest first.
type deploymentList struct {
	Deployments []flywheel.Deployment `json:"deployments"`
}

// handlePostDeployments stores deployments: one object or an array.
func handlePostDeployments(store flywheel.DeploymentStore, maxBody int64, notify func(flywheel.IngestResult)) http.HandlerFunc {
	return handleIngest(maxBody, false, (*wireDeployment).deployment, store.PutDeployments, notify)
}

// handleGetDeployments lists deployments newest first.
func handleGetDeployments(store flywheel.DeploymentStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "model_family", "limit")
		f := flywheel.DeploymentFilter{
			Target:      q.name("target"),
			ModelFamily: q.name("model_family"),
			Limit:       q.limit(defaultLimit),
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		deps, err := store.Deployments(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if deps == nil {
			deps = []flywheel.Deployment{}
		}
		encode(w, r, http.StatusOK, deploymentList{Deployments: deps})
	}
}
