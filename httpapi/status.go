package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// readyTimeout bounds the store check of /readyz: a probe that hangs is
// worse than one that fails.
const readyTimeout = 2 * time.Second

// Status is the response of GET /api/v1/status: the record counts at the
// top level, with the daemon's version and start time.
type Status struct {
	flywheel.Counts
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// handleGetStatus reports what is stored.
func handleGetStatus(store flywheel.Store, version string, startedAt time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := store.Counts(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, Status{Counts: c, Version: version, StartedAt: startedAt})
	}
}

// health is the body of /healthz and /readyz.
type health struct {
	Status string `json:"status"`
}

// handleHealthz answers as long as the process serves requests.
func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		encode(w, r, http.StatusOK, health{Status: "ok"})
	}
}

// handleReadyz answers 200 only when the store does.
func handleReadyz(store flywheel.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeError(w, r, &flywheel.Error{Code: flywheel.EUnavailable, Message: "the learning database does not answer", Err: err})
			return
		}
		encode(w, r, http.StatusOK, health{Status: "ok"})
	}
}
