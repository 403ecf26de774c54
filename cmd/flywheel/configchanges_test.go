package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
)

// fakeAPI records the requests the commands send and answers each path
// with a canned response, so that the tests check what a command asks
// the daemon and what it prints of the answer. (The handlers themselves
// are tested in httpapi.)
type fakeAPI struct {
	mu       sync.Mutex
	requests []string // "METHOD path?query body"
	answers  map[string]fakeAnswer
}

type fakeAnswer struct {
	status int
	body   any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
	a, ok := f.answers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if !ok {
		a = fakeAnswer{404, map[string]any{"error": map[string]any{"code": "not_found", "message": "no route"}}}
	}
	if a.status == 0 {
		a.status = 200
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	json.NewEncoder(w).Encode(a.body)
}

// runConfigCLI runs the config and pin commands in-process, the way run
// does once they are registered: exit 2 for usage errors, 1 for others.
func runConfigCLI(t *testing.T, api string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return map[string]string{"FLYWHEEL_API": api}[k] }}
	root := &cobra.Command{Use: "flywheel", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config := &cobra.Command{Use: "config"}
	config.AddCommand(newConfigChangeCmds(e)...)
	root.AddCommand(config, newPinCmd(e))
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	var ue usageError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ue):
		return 2, stdout.String(), err.Error()
	}
	return 1, stdout.String(), describe(err)
}

// newConfigFake serves canned answers for every config route.
func newConfigFake(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	at := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	rec := &propagate.Record{UpdateDoc: propagate.UpdateDoc{Target: "A", Source: "CILS"},
		Rollout: &propagate.Rollout{Canary: []string{"A"}, Rest: []string{"B"}, StartedAt: at, Deadline: at.Add(72 * time.Hour)}}
	update, _ := json.Marshal(rec)
	change := flywheel.ConfigChange{ID: "cc-1", Target: "A", Source: "CILS", State: flywheel.ChangeCanary, Update: update,
		Files: []string{"feature_selection/A.yaml"}, HeldByPins: []string{"feature_selection/A.yaml:top_n"},
		Diff:      "--- a/feature_selection/A.yaml\n+++ b/feature_selection/A.yaml\n-top_n: 40\n+top_n: 50\n",
		SignalIDs: []string{"sig-1", "sig-gone"}, InsightVersions: map[string]int64{"cils": 4}, CreatedAt: at, UpdatedAt: at}
	rolled := change
	rolled.State, rolled.Quarantined = flywheel.ChangeRolledBack, true
	detail := propagate.ChangeDetail{Change: change, Record: rec,
		Signals:  []flywheel.Signal{{ID: "sig-1", ModelKey: flywheel.ModelKey{Target: "A", ModelFamily: "ridge"}, Priority: 0.7, Reasons: []flywheel.Reason{{Source: "CILS", Message: "degraded 14%"}}}},
		Insights: []propagate.InsightRef{{Kind: "cils", Version: 4, CreatedAt: at}}}
	restore := propagate.RestoreResult{BackupID: "bk-9", Files: []string{"leakage_detection.yaml"}, RolledBack: []string{"cc-1"}}
	fake := &fakeAPI{answers: map[string]fakeAnswer{
		"POST /api/v1/config/apply":                         {body: change},
		"GET /api/v1/config/changes":                        {body: map[string]any{"changes": []flywheel.ConfigChange{change}}},
		"GET /api/v1/config/changes/cc-1":                   {body: detail},
		"POST /api/v1/config/changes/cc-1/approve":          {body: change},
		"POST /api/v1/config/changes/cc-1/reject":           {body: change},
		"POST /api/v1/config/changes/cc-1/rollback":         {body: rolled},
		"POST /api/v1/config/changes/cc-2/rollback":         {409, map[string]any{"error": map[string]any{"code": "conflict", "field": "state", "message": "config change cc-2 is proposed"}}},
		"POST /api/v1/config/changes/cc-1/quarantine/clear": {body: change},
		"POST /api/v1/config/rollback-baseline":             {body: restore},
		"POST /api/v1/config/backups/bk-1/restore":          {body: restore},
		"GET /api/v1/config/backups":                        {body: map[string]any{"backups": []propagate.BackupInfo{{ID: "bk-1", ChangeID: "cc-1", CreatedAt: at, Files: []string{"x.yaml"}}}}},
		"POST /api/v1/pins":                                 {body: flywheel.Pin{File: "feature_selection/A.yaml", Key: "top_n", Target: "A", Value: "30"}},
		"GET /api/v1/pins":                                  {body: map[string]any{"pins": []flywheel.Pin{{File: "leakage_detection.yaml", Key: "thresholds.threshold", Value: "0.3", CreatedBy: "alice", Reason: "risk"}}}},
		"DELETE /api/v1/pins":                               {body: map[string]any{}},
	}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

func TestConfigCommands(t *testing.T) {
	t.Parallel()
	fake, api := newConfigFake(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "update.yaml")
	os.WriteFile(good, []byte("target: A\nsource: CILS\nupdates:\n  feature_selection: {top_n: 50}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("target: A\nsource: CILS\nupdates:\n  feature_selection: {topn: 50}\n"), 0o644)

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		request  string // the request sent, "" for none
		contains []string
	}{
		{"apply", []string{"config", "apply", good, "--reason", "by hand", "--targets", "B,C"}, 0,
			`POST /api/v1/config/apply {"target":"A","source":"CILS","updates":{"feature_selection":{"top_n":50}},"reason":"by hand","targets":["B","C"]}`,
			[]string{"change cc-1 is canary", "held back by pins: feature_selection/A.yaml:top_n", "canary: A until 2024-06-04T12:00:00Z; then 1 more targets"}},
		{"apply dry run", []string{"config", "apply", "--dry-run", good}, 0, "POST /api/v1/config/apply?dry_run=true", []string{"dry run: nothing written", "+top_n: 50"}},
		{"apply bad file", []string{"config", "apply", bad}, 1, "", []string{"bad.yaml: updates.feature_selection.topn: is not a known field"}},
		{"apply missing file", []string{"config", "apply", filepath.Join(dir, "nope.yaml")}, 1, "", []string{"no such file"}},
		{"changes", []string{"config", "changes", "--state", "canary", "--target", "A"}, 0, "GET /api/v1/config/changes?limit=50&state=canary&target=A", []string{"cc-1", "canary", "CILS"}},
		{"show", []string{"config", "show", "cc-1"}, 0, "GET /api/v1/config/changes/cc-1",
			[]string{"change cc-1: canary, source CILS, target A", "signal sig-1: A/ridge priority 0.700 (CILS: degraded 14%)", "signal sig-gone: no longer stored", "insights: cils version 4", "+top_n: 50"}},
		{"approve", []string{"config", "approve", "cc-1", "--reason", "ok"}, 0, `POST /api/v1/config/changes/cc-1/approve {"reason":"ok"}`, []string{"change cc-1 is canary"}},
		{"reject", []string{"config", "reject", "cc-1"}, 0, `POST /api/v1/config/changes/cc-1/reject {"reason":""}`, nil},
		{"rollback", []string{"config", "rollback", "cc-1", "--reason", "worse"}, 0, `POST /api/v1/config/changes/cc-1/rollback {"reason":"worse"}`, []string{"rolled_back", "quarantined"}},
		{"rollback refused", []string{"config", "rollback", "cc-2"}, 1, "POST /api/v1/config/changes/cc-2/rollback", []string{"state: config change cc-2 is proposed"}},
		{"rollback baseline", []string{"config", "rollback", "--to-baseline"}, 0, "POST /api/v1/config/rollback-baseline", []string{"baseline restored: 1 files", "rolled back and quarantined: cc-1", "flywheel config restore bk-9"}},
		{"rollback nothing", []string{"config", "rollback"}, 2, "", []string{"a change ID or --to-baseline"}},
		{"rollback both", []string{"config", "rollback", "cc-1", "--to-baseline"}, 2, "", []string{"not both"}},
		{"quarantine clear", []string{"config", "quarantine", "clear", "cc-1"}, 0, "POST /api/v1/config/changes/cc-1/quarantine/clear", []string{"no longer quarantined"}},
		{"backups", []string{"config", "backups"}, 0, "GET /api/v1/config/backups?limit=50", []string{"bk-1", "cc-1"}},
		{"restore", []string{"config", "restore", "bk-1"}, 0, "POST /api/v1/config/backups/bk-1/restore", []string{"backup bk-1 restored"}},
		{"pin set", []string{"pin", "set", "feature_selection/A.yaml", "top_n", "30", "--reason", "desk"}, 0,
			`POST /api/v1/pins {"file":"feature_selection/A.yaml","key":"top_n","target":"","value":"30","reason":"desk"}`, []string{"pinned feature_selection/A.yaml top_n = 30 (target A)"}},
		{"pin set without reason", []string{"pin", "set", "leakage_detection.yaml", "threshold", "0.2"}, 2, "", []string{"--reason is required"}},
		{"pin list", []string{"pin", "list"}, 0, "GET /api/v1/pins", []string{"thresholds.threshold", "(all)", "alice", "risk"}},
		{"pin rm", []string{"pin", "rm", "leakage_detection.yaml", "threshold", "--target", "A"}, 0,
			"DELETE /api/v1/pins?file=leakage_detection.yaml&key=threshold&target=A", []string{"unpinned"}},
		{"pin rm args", []string{"pin", "rm", "leakage_detection.yaml"}, 2, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.requests = nil
			fake.mu.Unlock()
			code, stdout, stderr := runConfigCLI(t, api, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tc.code, stdout, stderr)
			}
			fake.mu.Lock()
			reqs := fake.requests
			fake.mu.Unlock()
			switch {
			case tc.request == "" && len(reqs) > 0:
				t.Errorf("sent %v, want nothing", reqs)
			case tc.request != "" && (len(reqs) != 1 || !strings.HasPrefix(reqs[0], tc.request)):
				t.Errorf("sent %v, want %s", reqs, tc.request)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output lacks %q:\n%s%s", want, stdout, stderr)
				}
			}
		})
	}
}
