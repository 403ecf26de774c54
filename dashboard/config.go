package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// configRows bounds the changes listed.
const configRows = 50

type configData struct {
	Changes []changeRow
	Pins    []flywheel.Pin
	Buttons bool
	CSRF    string
	Message string
	Error   string
}

type changeRow struct {
	flywheel.ConfigChange
	Canary      []string
	Deadline    *time.Time
	Promoted    *time.Time
	CanApprove  bool
	CanRollback bool
}

// rollout is the part of the propagator's record (ConfigChange.Update)
// the page shows; it is read loosely so that the dashboard does not depend
// on the propagator's package.
type rollout struct {
	Rollout *struct {
		Canary     []string   `json:"canary"`
		Deadline   time.Time  `json:"deadline"`
		PromotedAt *time.Time `json:"promoted_at"`
	} `json:"rollout"`
}

func (s *server) configPage(r *http.Request) (any, error) {
	ctx := r.Context()
	ss := sessionOf(ctx)
	d := &configData{Buttons: s.actions != nil && ss.canOperate(), CSRF: ss.CSRF,
		Message: r.URL.Query().Get("done"), Error: r.URL.Query().Get("error")}
	changes, err := s.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Limit: configRows})
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		row := changeRow{ConfigChange: c,
			CanApprove:  c.State == flywheel.ChangeProposed || c.State == flywheel.ChangeCanary,
			CanRollback: c.State == flywheel.ChangeCanary || c.State == flywheel.ChangeApplied}
		var ro rollout
		if json.Unmarshal(c.Update, &ro) == nil && ro.Rollout != nil {
			row.Canary, row.Deadline, row.Promoted = ro.Rollout.Canary, &ro.Rollout.Deadline, ro.Rollout.PromotedAt
		}
		d.Changes = append(d.Changes, row)
	}
	if d.Pins, err = s.store.Pins(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// handleConfigAction carries out a button of the config page and goes
// back to the page with what happened.
func (s *server) handleConfigAction(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r.Context())
	if s.actions == nil || !ss.canOperate() {
		http.Error(w, "this needs a token with the operate role", http.StatusForbidden)
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = action + " from the dashboard"
	}
	var err error
	switch action {
	case "approve":
		_, err = s.actions.Approve(r.Context(), id, ss.Name)
	case "reject":
		_, err = s.actions.Reject(r.Context(), id, ss.Name, reason)
	case "rollback":
		_, err = s.actions.Rollback(r.Context(), id, ss.Name, reason)
	default:
		http.Error(w, "unknown action", http.StatusNotFound)
		return
	}
	q := url.Values{}
	switch flywheel.Code(err) {
	case "":
		q.Set("done", action+" of "+id+" done")
	case flywheel.EInternal:
		s.logger.Error("dashboard: config action", "action", action, "id", id, "err", err)
		q.Set("error", action+" of "+id+" failed; the details are in the daemon's log")
	default:
		q.Set("error", err.Error())
	}
	http.Redirect(w, r, "/config?"+q.Encode(), http.StatusSeeOther)
}
