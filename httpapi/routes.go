package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
)

// newRouter lists every route of the API. openapi.json must list the
// same ones (TestOpenAPIMatchesRoutes).
func newRouter(s *server) *chi.Mux {
	r := chi.NewRouter()
	r.Use(logRequests(s.logger), recoverPanics(s.logger))
	r.NotFound(handleNotFound())
	r.MethodNotAllowed(handleMethodNotAllowed(r))

	// Probes and the API description are open: orchestrators and tools
	// fetch them without credentials.
	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(s.store))
	r.Get("/api/v1/openapi.json", handleOpenAPI())

	report := r.With(s.auth.require(RoleReport))
	report.Post("/api/v1/runs", handlePostRuns(s.store, s.maxBody, s.notifier("runs")))
	report.Post("/api/v1/live", handlePostLive(s.store, s.maxBody, s.notifier("live")))
	report.Post("/api/v1/deployments", handlePostDeployments(s.store, s.maxBody, s.notifier("deployments")))
	report.Post("/api/v1/jobs/{id}/progress", handleProgress(s.store, s.now))

	operate := r.With(s.auth.require(RoleOperate))
	operate.Post("/api/v1/loop/pause", handleSetLoop(s.store, true, s.now))
	operate.Post("/api/v1/loop/resume", handleSetLoop(s.store, false, s.now))
	operate.Post("/api/v1/jobs/{id}/cancel", handleCancelJob(s.cancel))
	operate.Post("/api/v1/config/apply", handlePostConfigApply(s.prop))
	operate.Post("/api/v1/config/changes/{id}/approve", handleApproveConfigChange(s.prop))
	operate.Post("/api/v1/config/changes/{id}/reject", handleRejectConfigChange(s.prop))
	operate.Post("/api/v1/config/changes/{id}/rollback", handleRollbackConfigChange(s.prop))
	operate.Post("/api/v1/config/changes/{id}/quarantine/clear", handleClearQuarantine(s.prop))
	operate.Post("/api/v1/config/rollback-baseline", handleRollbackBaseline(s.prop))
	operate.Post("/api/v1/config/backups/{id}/restore", handleRestoreConfigBackup(s.prop))
	operate.Post("/api/v1/pins", handlePostPin(s.prop))
	operate.Delete("/api/v1/pins", handleDeletePin(s.prop))

	read := r.With(s.auth.require(RoleRead))
	read.Get("/api/v1/status", handleGetStatus(s.store, s.version, s.startedAt))
	read.Get("/api/v1/runs", handleGetRuns(s.store))
	read.Get("/api/v1/runs/{run_id}", handleGetRun(s.store))
	read.Get("/api/v1/models", handleGetModels(s.store))
	read.Get("/api/v1/models/{target}/{model_family}", handleGetModel(s.store))
	read.Get("/api/v1/models/{target}/{model_family}/live", handleGetLiveSummary(s.store))
	read.Get("/api/v1/models/{target}/{model_family}/observations", handleGetObservations(s.store))
	read.Get("/api/v1/deployments", handleGetDeployments(s.store))
	read.Get("/api/v1/insights/{kind}", handleGetInsight(s.store))
	read.Get("/api/v1/jobs", handleGetJobs(s.store))
	read.Get("/api/v1/jobs/{id}", handleGetJob(s.store))
	read.Get("/api/v1/jobs/{id}/logs", handleJobLogs(s.logs))
	read.Get("/api/v1/signals", handleGetSignals(s.store))
	read.Get("/api/v1/outcomes", handleGetOutcomes(s.store))
	read.Get("/api/v1/config/changes", handleGetConfigChanges(s.store))
	read.Get("/api/v1/config/changes/{id}", handleGetConfigChange(s.store))
	read.Get("/api/v1/config/backups", handleGetConfigBackups(s.store))
	read.Get("/api/v1/pins", handleGetPins(s.store))
	read.Get("/api/v1/loop", handleGetLoop(s.store))
	read.Get("/api/v1/audit", handleGetAudit(s.store))
	read.Get("/api/v1/plan", handleView(s.plan, "plan"))
	read.Get("/api/v1/health/loop", handleView(s.health, "loop health"))
	return r
}

func handleNotFound() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, flywheel.Errorf(flywheel.ENotFound, "no route for %s %s", r.Method, truncate(r.URL.Path, 200)))
	}
}

// handleMethodNotAllowed answers 405 with the Allow header, which chi
// sets only for its own default handler.
func handleMethodNotAllowed(mux *chi.Mux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, r, &flywheel.Error{Code: errMethodNotAllowed,
			Message: r.Method + " is not allowed here; use " + strings.Join(allowed, " or ")})
	}
}
