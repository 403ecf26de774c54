package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
)

const readSecret = "read-secret-0123456789"

// configFixture serves the config routes, mounted as routes.go will
// mount them, on a real store and a real propagator over a temporary
// config directory.
type configFixture struct {
	*fixture
	dir string
}

func configSetup(t *testing.T, approval bool) *configFixture {
	t.Helper()
	f := setup(t, Config{})
	dir := filepath.Join(t.TempDir(), "CONFIG")
	if err := os.MkdirAll(filepath.Join(dir, "feature_selection"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "feature_selection", "fwd_A.yaml"), []byte("# by hand\ntarget: fwd_A\ntop_n: 40\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := propagate.New(context.Background(), propagate.Config{Dir: dir, Store: f.store, Logger: testLogger(t),
		Now: func() time.Time { return testNow }, Approval: approval, Git: propagate.GitOff})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f.handler = configRouter(t, f.store, p)
	return &configFixture{fixture: f, dir: dir}
}

func configRouter(t *testing.T, store flywheel.Store, p ConfigPropagator) http.Handler {
	logger := testLogger(t)
	auth := newAuthenticator([]Token{
		{Name: "oncall", Secret: opsSecret, Role: RoleOperate},
		{Name: "dashboard", Secret: readSecret, Role: RoleRead},
	}, logger)
	r := chi.NewRouter()
	r.Use(logRequests(logger), recoverPanics(logger))
	operate := r.With(auth.require(RoleOperate))
	operate.Post("/api/v1/config/apply", handlePostConfigApply(p))
	operate.Post("/api/v1/config/changes/{id}/approve", handleApproveConfigChange(p))
	operate.Post("/api/v1/config/changes/{id}/reject", handleRejectConfigChange(p))
	operate.Post("/api/v1/config/changes/{id}/rollback", handleRollbackConfigChange(p))
	operate.Post("/api/v1/config/changes/{id}/quarantine/clear", handleClearQuarantine(p))
	operate.Post("/api/v1/config/rollback-baseline", handleRollbackBaseline(p))
	operate.Post("/api/v1/config/backups/{id}/restore", handleRestoreConfigBackup(p))
	operate.Post("/api/v1/pins", handlePostPin(p))
	operate.Delete("/api/v1/pins", handleDeletePin(p))
	read := r.With(auth.require(RoleRead))
	read.Get("/api/v1/config/changes", handleGetConfigChanges(store))
	read.Get("/api/v1/config/changes/{id}", handleGetConfigChange(store))
	read.Get("/api/v1/config/backups", handleGetConfigBackups(store))
	read.Get("/api/v1/pins", handleGetPins(store))
	return r
}

func (f *configFixture) ops(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	ct := ""
	if body != "" {
		ct = mediaJSON
	}
	return f.do(t, request{method: method, path: path, token: opsSecret, contentType: ct, body: body})
}

func (f *configFixture) file(t *testing.T, rel string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(rel)))
	return string(b)
}

const learnedDoc = `{"target": "fwd_A", "source": "CILS", "signal_id": "sig-1", "updates": {"feature_selection": {"top_n": 25}}}`

func TestConfigApplyAndShow(t *testing.T) {
	t.Parallel()
	f := configSetup(t, false)
	var c flywheel.ConfigChange
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/apply?dry_run=true", learnedDoc), &c)
	if c.ID != "" || c.State != flywheel.ChangeCanary || !strings.Contains(c.Diff, "+top_n: 25") || f.file(t, "feature_selection/fwd_A.yaml") != "# by hand\ntarget: fwd_A\ntop_n: 40\n" {
		t.Fatalf("dry run: %+v; file %q", c, f.file(t, "feature_selection/fwd_A.yaml"))
	}
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/apply", learnedDoc), &c)
	if c.State != flywheel.ChangeCanary || f.file(t, "feature_selection/fwd_A.yaml") != "# by hand\ntarget: fwd_A\ntop_n: 25\n" {
		t.Fatalf("apply: %s; file %q", c.State, f.file(t, "feature_selection/fwd_A.yaml"))
	}
	var list configChangeList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/config/changes?state=canary&target=fwd_A", token: readSecret}), &list)
	if len(list.Changes) != 1 || list.Changes[0].ID != c.ID {
		t.Errorf("list = %+v", list)
	}
	var d propagate.ChangeDetail
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/config/changes/" + c.ID, token: readSecret}), &d)
	if d.Change.ID != c.ID || d.Record == nil || d.Record.Rollout == nil || d.Change.SignalIDs[0] != "sig-1" || d.Change.Diff == "" {
		t.Errorf("detail = %+v", d)
	}
	wantError(t, f.do(t, request{method: "GET", path: "/api/v1/config/changes/nope", token: readSecret}), 404, flywheel.ENotFound, "", noIndex)
	wantError(t, f.do(t, request{method: "GET", path: "/api/v1/config/changes?state=done", token: readSecret}), 400, flywheel.EInvalid, "state", noIndex)
	wantError(t, f.do(t, request{method: "POST", path: "/api/v1/config/apply", token: readSecret, contentType: mediaJSON, body: learnedDoc}),
		403, flywheel.EForbidden, "", noIndex)
}

func TestConfigApplyErrors(t *testing.T) {
	t.Parallel()
	f := configSetup(t, false)
	for _, tc := range []struct {
		name, path, ct, body string
		status               int
		code                 flywheel.ErrorCode
		field                string
	}{
		{"unknown field", "/api/v1/config/apply", mediaJSON, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"topn": 5}}}`, 400, flywheel.EInvalid, "updates.feature_selection.topn"},
		{"type", "/api/v1/config/apply", mediaJSON, `{"target": "fwd_A", "source": "CILS", "updates": {"feature_selection": {"top_n": "5"}}}`, 400, flywheel.EInvalid, "updates.feature_selection.top_n"},
		{"range", "/api/v1/config/apply", mediaJSON, `{"target": "fwd_A", "source": "CILS", "updates": {"training": {"cross_validation_folds": 21}}}`, 422, flywheel.EInvalid, "updates.training.cross_validation_folds"},
		{"traversal", "/api/v1/config/apply", mediaJSON, `{"target": "../etc/passwd", "source": "human", "updates": {"training": {"cross_validation_folds": 5}}}`, 422, flywheel.EInvalid, "target"},
		{"array", "/api/v1/config/apply", mediaJSON, `[]`, 400, flywheel.EInvalid, ""},
		{"yaml content type", "/api/v1/config/apply", "application/yaml", "target: x", 415, flywheel.EUnsupported, ""},
		{"no change", "/api/v1/config/apply", mediaJSON, `{"target": "fwd_A", "source": "human", "updates": {"feature_selection": {"top_n": 40}}}`, 409, flywheel.EConflict, ""},
		{"bad dry_run", "/api/v1/config/apply?dry_run=yes", mediaJSON, learnedDoc, 400, flywheel.EInvalid, "dry_run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(t, request{method: "POST", path: tc.path, token: opsSecret, contentType: tc.ct, body: tc.body})
			wantError(t, w, tc.status, tc.code, tc.field, noIndex)
		})
	}
	if got := f.file(t, "feature_selection/fwd_A.yaml"); got != "# by hand\ntarget: fwd_A\ntop_n: 40\n" {
		t.Errorf("a refused request changed the file: %q", got)
	}
}

func TestConfigApproveRejectRollback(t *testing.T) {
	t.Parallel()
	f := configSetup(t, true)
	var c flywheel.ConfigChange
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/apply", learnedDoc), &c)
	if c.State != flywheel.ChangeProposed {
		t.Fatalf("state %s, want proposed", c.State)
	}
	base := "/api/v1/config/changes/" + c.ID
	wantError(t, f.ops(t, "POST", base+"/rollback", `{}`), 409, flywheel.EConflict, "state", noIndex)
	decodeOK(t, f.ops(t, "POST", base+"/approve", `{"reason": "looks right"}`), &c)
	if c.State != flywheel.ChangeCanary || !strings.Contains(f.file(t, "feature_selection/fwd_A.yaml"), "top_n: 25") {
		t.Fatalf("after approve: %s", c.State)
	}
	wantError(t, f.ops(t, "POST", base+"/reject", `{}`), 409, flywheel.EConflict, "", noIndex)
	decodeOK(t, f.ops(t, "POST", base+"/rollback", `{"reason": "worse"}`), &c)
	if c.State != flywheel.ChangeRolledBack || !c.Quarantined || !strings.Contains(f.file(t, "feature_selection/fwd_A.yaml"), "top_n: 40") {
		t.Fatalf("after rollback: %s quarantined %v", c.State, c.Quarantined)
	}
	wantError(t, f.ops(t, "POST", "/api/v1/config/apply", learnedDoc), 409, flywheel.EConflict, "", noIndex)
	decodeOK(t, f.ops(t, "POST", base+"/quarantine/clear", `{"reason": "fixed the data"}`), &c)
	if c.Quarantined {
		t.Errorf("still quarantined")
	}
	var p2 flywheel.ConfigChange
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/apply", learnedDoc), &p2)
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/changes/"+p2.ID+"/reject", `{"reason": "not now"}`), &p2)
	if p2.State != flywheel.ChangeRejected {
		t.Errorf("state %s, want rejected", p2.State)
	}
	entries, err := f.store.AuditLog(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Actor != "oncall" {
			t.Errorf("entry %s by %q, want oncall", e.Action, e.Actor)
		}
		actions = append(actions, e.Action)
	}
	want := "config.reject config.propose config.quarantine_clear config.rollback config.approve config.propose"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit = %v, want %s", actions, want)
	}
}

func TestPinsAndBackupsAPI(t *testing.T) {
	t.Parallel()
	f := configSetup(t, false)
	var pin flywheel.Pin
	decodeOK(t, f.ops(t, "POST", "/api/v1/pins", `{"file": "feature_selection/fwd_A.yaml", "key": "top_n", "value": 30, "reason": "desk"}`), &pin)
	if pin.Target != "fwd_A" || pin.Value != "30" || pin.CreatedBy != "oncall" || !strings.Contains(f.file(t, "feature_selection/fwd_A.yaml"), "top_n: 30") {
		t.Fatalf("pin = %+v", pin)
	}
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"file": "../../etc/passwd", "key": "x", "value": "1", "reason": "r"}`, 422, "file"},
		{`{"file": "feature_selection/fwd_A.yaml", "key": "top_n", "value": 0, "reason": "r"}`, 422, "value"},
		{`{"file": "feature_selection/fwd_A.yaml", "key": "top_n", "value": [1], "reason": "r"}`, 400, "value"},
		{`{"file": "feature_selection/fwd_A.yaml", "key": "top_n", "value": 3}`, 422, "reason"},
		{`{"file": "feature_selection/fwd_A.yaml", "key": "top_n", "value": 3, "why": "r"}`, 400, "why"},
	} {
		wantError(t, f.ops(t, "POST", "/api/v1/pins", tc.body), tc.status, flywheel.EInvalid, tc.field, noIndex)
	}
	var c flywheel.ConfigChange
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/apply", `{"target": "fwd_A", "source": "human", "updates": {"feature_selection": {"top_n": 50, "aggregation_method": "rank"}}}`), &c)
	if len(c.HeldByPins) != 1 || c.HeldByPins[0] != "feature_selection/fwd_A.yaml:top_n" {
		t.Errorf("held = %v", c.HeldByPins)
	}
	var pins pinList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/pins", token: readSecret}), &pins)
	if len(pins.Pins) != 1 {
		t.Errorf("pins = %+v", pins)
	}
	wantError(t, f.ops(t, "DELETE", "/api/v1/pins?file=feature_selection/fwd_A.yaml", ""), 400, flywheel.EInvalid, "key", noIndex)
	if w := f.ops(t, "DELETE", "/api/v1/pins?file=feature_selection/fwd_A.yaml&key=top_n", ""); w.Code != 200 {
		t.Errorf("delete: %d %s", w.Code, w.Body)
	}
	wantError(t, f.ops(t, "DELETE", "/api/v1/pins?file=feature_selection/fwd_A.yaml&key=top_n", ""), 404, flywheel.ENotFound, "", noIndex)
	var backups backupList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/config/backups", token: readSecret}), &backups)
	if len(backups.Backups) < 3 {
		t.Fatalf("backups = %+v, want the pin's, the change's and the baseline", backups)
	}
	var res propagate.RestoreResult
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/rollback-baseline", `{"reason": "start over"}`), &res)
	if got := f.file(t, "feature_selection/fwd_A.yaml"); got != "# by hand\ntarget: fwd_A\ntop_n: 40\n" {
		t.Errorf("after baseline: %q (%+v)", got, res)
	}
	decodeOK(t, f.ops(t, "POST", "/api/v1/config/backups/"+res.BackupID+"/restore", `{}`), &res)
	if got := f.file(t, "feature_selection/fwd_A.yaml"); !strings.Contains(got, "aggregation_method: rank") {
		t.Errorf("after restoring the baseline's own backup: %q", got)
	}
}

// TestConfigWithoutPropagator checks that a daemon without a config
// directory answers writes with 503 and still serves the history.
func TestConfigWithoutPropagator(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	f.handler = configRouter(t, f.store, nil)
	wantError(t, f.do(t, request{method: "POST", path: "/api/v1/config/apply", token: opsSecret, contentType: mediaJSON, body: learnedDoc}),
		503, flywheel.EUnavailable, "", noIndex)
	var list configChangeList
	decodeOK(t, f.do(t, request{method: "GET", path: "/api/v1/config/changes", token: readSecret}), &list)
	if list.Changes == nil {
		t.Errorf("an empty list must be [], not null")
	}
}

// TestConfigClient drives every client method against the handlers over
// real HTTP.
func TestConfigClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := configSetup(t, true)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, opsSecret, nil)
	doc, err := propagate.DecodeUpdate([]byte(learnedDoc))
	if err != nil {
		t.Fatal(err)
	}
	bad := doc
	bad.Target = "../x"
	if _, err := c.ApplyConfig(ctx, bad, false); flywheel.Code(err) != flywheel.EInvalid {
		t.Errorf("bad document: %v", err)
	}
	ch, err := c.ApplyConfig(ctx, doc, false)
	if err != nil || ch.State != flywheel.ChangeProposed {
		t.Fatalf("apply: %+v, %v", ch, err)
	}
	if ch, err = c.ApproveConfigChange(ctx, ch.ID, "ok"); err != nil || ch.State != flywheel.ChangeCanary {
		t.Fatalf("approve: %s, %v", ch.State, err)
	}
	list, err := c.ConfigChanges(ctx, flywheel.ConfigChangeFilter{States: []flywheel.ConfigChangeState{flywheel.ChangeCanary}})
	if err != nil || len(list) != 1 {
		t.Fatalf("changes: %v, %v", list, err)
	}
	d, err := c.ConfigChange(ctx, ch.ID)
	if err != nil || d.Record == nil {
		t.Fatalf("show: %+v, %v", d, err)
	}
	if ch, err = c.RollbackConfigChange(ctx, ch.ID, "worse"); err != nil || !ch.Quarantined {
		t.Fatalf("rollback: %+v, %v", ch, err)
	}
	if ch, err = c.ClearConfigQuarantine(ctx, ch.ID, "ok"); err != nil || ch.Quarantined {
		t.Fatalf("clear: %+v, %v", ch, err)
	}
	p2, err := c.ApplyConfig(ctx, doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if p2, err = c.RejectConfigChange(ctx, p2.ID, "no"); err != nil || p2.State != flywheel.ChangeRejected {
		t.Fatalf("reject: %+v, %v", p2, err)
	}
	pin, err := c.SetPin(ctx, flywheel.Pin{File: "feature_selection/fwd_A.yaml", Key: "aggregation_method", Value: "rank", Reason: "desk"})
	if err != nil || pin.Value != "rank" {
		t.Fatalf("pin: %+v, %v", pin, err)
	}
	if pins, err := c.Pins(ctx); err != nil || len(pins) != 1 {
		t.Fatalf("pins: %v, %v", pins, err)
	}
	if err := c.DeletePin(ctx, pin.File, "", pin.Key); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePin(ctx, pin.File, "", pin.Key); flywheel.Code(err) != flywheel.ENotFound {
		t.Errorf("second delete: %v", err)
	}
	backups, err := c.ConfigBackups(ctx, 10)
	if err != nil || len(backups) == 0 {
		t.Fatalf("backups: %v, %v", backups, err)
	}
	res, err := c.RollbackConfigToBaseline(ctx, "reset")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RestoreConfigBackup(ctx, res.BackupID, "undo"); err != nil {
		t.Fatal(err)
	}
}
