package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

const opsSecret = "operate-secret-0123456789"

func controlFixture(t *testing.T, cancel CancelFunc) *fixture {
	t.Helper()
	return setup(t, Config{Cancel: cancel, Tokens: []Token{
		{Name: "oncall", Secret: opsSecret, Role: RoleOperate},
		{Name: "pipeline", Secret: "report-secret-0123456789", Role: RoleReport},
		{Name: "dashboard", Secret: "read-secret-0123456789", Role: RoleRead},
	}})
}

// TestPauseResume checks that an operator pauses and resumes the loop,
// that the audit log names the token, and that a reader may not.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	f := controlFixture(t, nil)
	wantError(t, f.do(t, request{method: "POST", path: "/api/v1/loop/pause", token: "read-secret-0123456789", contentType: mediaJSON, body: "{}"}),
		http.StatusForbidden, flywheel.EForbidden, "", noIndex)
	if w := f.do(t, request{method: "POST", path: "/api/v1/loop/pause", token: opsSecret, contentType: mediaJSON, body: `{"reason": "earnings"}`}); w.Code != http.StatusOK {
		t.Fatalf("pause: %d %s", w.Code, w.Body)
	}
	var st flywheel.LoopState
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/loop", token: "read-secret-0123456789"}), &st)
	if !st.Paused || st.By != "oncall" || st.Reason != "earnings" {
		t.Errorf("after pause: %+v, want paused by oncall for earnings", st)
	}
	if w := f.do(t, request{method: "POST", path: "/api/v1/loop/resume", token: opsSecret, contentType: mediaJSON, body: `{}`}); w.Code != http.StatusOK {
		t.Fatalf("resume: %d %s", w.Code, w.Body)
	}
	var audit auditList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/audit", token: opsSecret}), &audit)
	if len(audit.Entries) != 2 || audit.Entries[0].Action != flywheel.ActionResume || audit.Entries[1].Actor != "oncall" {
		t.Errorf("audit log = %+v, want resume then pause, by oncall", audit.Entries)
	}
	wantError(t, f.do(t, request{method: "POST", path: "/api/v1/loop/pause", token: opsSecret, contentType: mediaJSON, body: `{"why": 1}`}),
		http.StatusBadRequest, flywheel.EInvalid, "why", noIndex)
}

func TestProgressAndJobs(t *testing.T) {
	t.Parallel()
	f := controlFixture(t, nil)
	ctx := context.Background()
	job := flywheel.Job{ID: "j1", ModelKey: flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"},
		State: flywheel.JobRunning, Executor: "local", CreatedAt: testNow, UpdatedAt: testNow}
	if _, err := f.store.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	const pipe = "report-secret-0123456789"
	for _, tc := range []struct {
		path, body string
		status     int
		field      string
	}{
		{"/api/v1/jobs/j1/progress", `{"progress": 0.4, "message": "fold 2 of 5", "eta": "2024-06-01T13:00:00Z"}`, 200, ""},
		{"/api/v1/jobs/j1/progress", `{"progress": 1.5}`, 422, "progress"},
		{"/api/v1/jobs/j1/progress", `{"message": "no progress"}`, 422, "progress"},
		{"/api/v1/jobs/j1/progress", `{"progress": 0.5, "eta": "soon"}`, 422, "eta"},
		{"/api/v1/jobs/j1/progress", `{"progress": "half"}`, 400, "progress"},
		{"/api/v1/jobs/nope/progress", `{"progress": 0.1}`, 404, ""},
	} {
		w := f.do(t, request{method: "POST", path: tc.path, token: pipe, contentType: mediaJSON, body: tc.body})
		if tc.status == 200 {
			if w.Code != 200 {
				t.Errorf("%s %s: %d %s", tc.path, tc.body, w.Code, w.Body)
			}
			continue
		}
		wantError(t, w, tc.status, codeOfStatus(tc.status), tc.field, noIndex)
	}
	var detail jobDetail
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/jobs/j1", token: pipe}), &detail)
	if detail.Progress != 0.4 || detail.Message != "fold 2 of 5" || detail.ETA == nil || len(detail.Events) == 0 {
		t.Errorf("job after heartbeat = %+v", detail)
	}
	var list jobList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/jobs?state=running,admitted", token: pipe}), &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != "j1" {
		t.Errorf("running jobs = %+v", list.Jobs)
	}
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/jobs?state=succeeded", token: pipe}), &list)
	if len(list.Jobs) != 0 {
		t.Errorf("succeeded jobs = %+v, want none", list.Jobs)
	}
	wantError(t, f.do(t, request{method: "GET", path: "/api/v1/jobs?state=done", token: pipe}), 400, flywheel.EInvalid, "state", noIndex)
	wantError(t, f.do(t, request{method: "GET", path: "/api/v1/jobs?target=fwd_ret_5d_AAPL", token: pipe}), 400, flywheel.EInvalid, "target", noIndex)
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	var gotActor, gotID string
	f := controlFixture(t, func(_ context.Context, id, actor, reason string) (flywheel.Job, error) {
		gotID, gotActor = id, actor
		return flywheel.Job{ID: id, State: flywheel.JobCancelled}, nil
	})
	var j flywheel.Job
	decodeOK(t, f.do(t, request{method: "POST", path: "/api/v1/jobs/j7/cancel", token: opsSecret, contentType: mediaJSON, body: `{"reason": "wrong data"}`}), &j)
	if gotID != "j7" || gotActor != "oncall" || j.State != flywheel.JobCancelled {
		t.Errorf("cancel reached the runner with id %q actor %q, job %+v", gotID, gotActor, j)
	}
	wantError(t, f.do(t, request{method: "POST", path: "/api/v1/jobs/j7/cancel", token: "report-secret-0123456789", contentType: mediaJSON, body: `{}`}),
		http.StatusForbidden, flywheel.EForbidden, "", noIndex)

	noRunner := controlFixture(t, nil)
	wantError(t, noRunner.do(t, request{method: "POST", path: "/api/v1/jobs/j7/cancel", token: opsSecret, contentType: mediaJSON, body: `{}`}),
		http.StatusServiceUnavailable, flywheel.EUnavailable, "", noIndex)
}
