package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/dashboard"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/propagate"
)

// chromiumPath is Debian's chromium package (apt-get install -y
// --no-install-recommends chromium).
const chromiumPath = "/usr/bin/chromium"

// operateSecret is the token the browser logs in with.
const operateSecret = "browser-operate-secret-0123456789"

// needChromium skips without Chromium, except in CI, where a missing
// browser is a broken machine and must fail.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Chromium is missing at %s: apt-get install -y --no-install-recommends chromium", chromiumPath)
		}
		t.Skipf("Chromium not found at %s (apt-get install -y --no-install-recommends chromium); skipping the browser test", chromiumPath)
	}
}

// artifacts is where screenshots go: $FLYWHEEL_ARTIFACTS when set, so
// that CI keeps them.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLYWHEEL_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "dashboard", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile and nothing
// reaching out to the network.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// The first Do starts the browser and binds its life to ctx, so the
	// deadline goes on a context derived after it.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start Chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return tctx
}

// loadData reports runs, deployments and live observations through the
// API, as the pipeline and the trading system do.
func loadData(t *testing.T, c *httpapi.Client) {
	t.Helper()
	db := memStore{}
	for i := range 6 {
		k := modelKey(i)
		for j := range 8 {
			start := t0.Add(time.Duration(j) * 24 * time.Hour)
			fin := start.Add(time.Hour)
			score := 0.10 + 0.001*float64(i)
			if j == 7 && i%2 == 0 {
				score *= 0.6
			}
			db.runs = append(db.runs, flywheel.Run{RunID: fmt.Sprintf("r-%d-%d", i, j), ModelKey: k, Status: flywheel.RunSucceeded,
				StartedAt: start, FinishedAt: &fin, Metrics: map[string]float64{flywheel.MetricValidationScore: score},
				Cost: flywheel.Cost{CPUHours: 1, WallSeconds: 3600}})
		}
		dep := t0.AddDate(0, 0, 8)
		db.deps = append(db.deps, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", RunID: fmt.Sprintf("r-%d-7", i), DeployedAt: dep})
		for d := range 30 {
			pos, exp := 1.0+0.1*float64(d%3), 0.002
			db.obs = append(db.obs, flywheel.Observation{EventID: fmt.Sprintf("e-%d-%d", i, d), TS: dep.AddDate(0, 0, d+1), ModelKey: k,
				ModelVersion: "v1", Symbol: "SYM", PnL: 0.001*float64((d*7+i)%5-2) - 0.002*float64(i%2), Position: &pos, ExpectedPnL: &exp})
		}
	}
	ctx := t.Context()
	if _, err := c.PostRuns(ctx, db.runs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostDeployments(ctx, db.deps); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostObservations(ctx, db.obs); err != nil {
		t.Fatal(err)
	}
}

type memStore struct {
	runs []flywheel.Run
	deps []flywheel.Deployment
	obs  []flywheel.Observation
}

// appliedChange is the config change the test rolls back.
func appliedChange() flywheel.ConfigChange {
	return flywheel.ConfigChange{ID: "c-browser", Target: modelKey(0).Target, Source: flywheel.SourceHuman,
		State: flywheel.ChangeApplied, Update: []byte(`{"target": "fwd_ret_5d_A00000", "source": "human", "updates": {}}`),
		Diff:   "--- feature_selection/fwd_ret_5d_A00000.yaml\n+++ feature_selection/fwd_ret_5d_A00000.yaml\n-top_n: 20\n+top_n: 30\n",
		Reason: "browser test", CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
}

// TestBrowserBinary drives headless Chromium against the real daemon:
// it builds the binary, starts `flywheel serve` on a fresh database with
// an operate token, loads data through the API, logs in, checks each
// page's numbers against the API, rolls a config change back with its
// button, and saves a screenshot of every page.
func TestBrowserBinary(t *testing.T) {
	needChromium(t)
	if testing.Short() {
		t.Skip("builds and runs the daemon; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flywheel")
	build := exec.Command("go", "build", "-o", bin, "./cmd/flywheel")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/flywheel: %v\n%s", err, out)
	}
	dbPath := filepath.Join(dir, "f.db")
	configDir := filepath.Join(dir, "CONFIG")
	if err := os.Mkdir(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "flywheel.yaml")
	yaml := fmt.Sprintf("listen: %s\ndb: %s\npipeline_config_dir: %s\ntokens:\n  - name: browser\n    role: admin\n    secret: %s\n",
		addr, dbPath, configDir, operateSecret)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logWriter{t}, logWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	base := "http://" + addr
	client := httpapi.NewClient(base, operateSecret, nil)
	waitReady(t, client)
	if !servesDashboard(t, base) {
		msg := "the daemon does not serve the dashboard at / yet: wire dashboard.New into cmd/flywheel/serve.go"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	loadData(t, client)
	// A person's change through the config API: the daemon writes the
	// file, and the button rolls it back for real.
	doc, err := propagate.DecodeUpdate([]byte(`{"target": "` + modelKey(0).Target + `", "source": "human",
		"updates": {"feature_selection": {"top_n": 30}}}`))
	if err != nil {
		t.Fatal(err)
	}
	change, err := client.ApplyConfig(t.Context(), doc, false)
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, base, client, change.ID, func(ctx context.Context) (flywheel.ConfigChangeState, error) {
		c, err := client.ConfigChange(ctx, change.ID)
		return c.Change.State, err
	})
}

// TestBrowserInProcess runs the same suite against the API and the
// dashboard mounted together in this process, the way serve.go mounts
// them, so that the browser checks run without building the daemon.
func TestBrowserInProcess(t *testing.T) {
	needChromium(t)
	db := openDB(t)
	if err := db.PutConfigChange(t.Context(), appliedChange()); err != nil {
		t.Fatal(err)
	}
	eng := seed(t, db, 0, 0, 0, 0)
	tokens := []httpapi.Token{{Name: "browser", Secret: operateSecret, Role: httpapi.RoleAdmin}}
	api := httpapi.NewServer(httpapi.Config{Store: db, Tokens: tokens, Logger: testLogger(t),
		Plan:   func(ctx context.Context) (any, error) { return eng.Decide(ctx, false) },
		Health: func(ctx context.Context) (any, error) { return eng.Health(ctx) }})
	dash := dashboard.New(dashboard.Config{Store: db, Tokens: tokens, Logger: testLogger(t), ConfigActions: &actions{db: db},
		Now:     func() time.Time { return now },
		Refresh: time.Second,
		Plan:    func(ctx context.Context) (*orchestrator.Plan, error) { return eng.Decide(ctx, false) },
		Health:  eng.Health})
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/readyz", api)
	mux.Handle("/", dash)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := httpapi.NewClient(srv.URL, operateSecret, nil)
	loadData(t, client)
	if _, err := eng.LearnCILS(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.LearnARPO(t.Context()); err != nil {
		t.Fatal(err)
	}
	runSuite(t, srv.URL, client, "c-browser", func(ctx context.Context) (flywheel.ConfigChangeState, error) {
		c, err := db.ConfigChange(ctx, "c-browser")
		return c.State, err
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, c *httpapi.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Readyz(t.Context())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func servesDashboard(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
}

// runSuite logs in, checks every page against the API and presses
// rollback. changeState reads the change's state from the daemon's store.
func runSuite(t *testing.T, base string, client *httpapi.Client, changeID string, changeState func(context.Context) (flywheel.ConfigChangeState, error)) {
	ctx := browser(t)
	shots := artifacts(t)
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", shots)

	// Log in through the form.
	run(t, ctx, "log in", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)))
	shot("login")
	run(t, ctx, "submit token", chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), operateSecret),
		chromedp.Submit(chromedp.CSS(`form.login`)),
		chromedp.WaitVisible(chromedp.CSS(`#priorities`)))

	checkOverview(t, ctx, client)
	shot("overview")
	checkModel(t, ctx, base, client)
	shot("model")
	checkInsights(t, ctx, base, client)
	shot("insights")
	checkPlan(t, ctx, base, client)
	shot("plan")
	checkRollback(t, ctx, base, changeID, changeState, shot)
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval runs a script returning a list of strings.
func eval(t *testing.T, ctx context.Context, js string) []string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eventually retries check until it passes or 20 s pass, reloading the
// page: the daemon keeps learning and deciding while the test reads, and
// the dashboard reuses a plan for a few seconds.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %v", what, err)
			return
		}
		time.Sleep(time.Second)
		run(t, ctx, "reload", chromedp.Reload())
	}
}

func checkOverview(t *testing.T, ctx context.Context, client *httpapi.Client) {
	eventually(t, ctx, "overview matches the API's plan", func() error {
		var plan orchestrator.Plan
		if err := client.Plan(t.Context(), &plan); err != nil {
			return err
		}
		if got, want := text(t, ctx, "#budget-limit"), fmtNum(plan.Budget.Limit); got != want {
			return fmt.Errorf("budget limit %s, API %s", got, want)
		}
		rows := eval(t, ctx, `Array.from(document.querySelectorAll("#priorities tr.candidate")).map(r => r.dataset.target + "/" + r.dataset.family + " " + r.querySelector(".priority").textContent)`)
		var want []string
		for _, c := range plan.Candidates[:min(10, len(plan.Candidates))] {
			want = append(want, c.Target+"/"+c.ModelFamily+" "+fmtNum(c.EffectivePriority))
		}
		if len(want) == 0 {
			return errors.New("the API's plan has no candidates: the test data raised no signal")
		}
		if strings.Join(rows, "; ") != strings.Join(want, "; ") {
			return fmt.Errorf("top priorities\n page %v\n  API %v", rows, want)
		}
		return nil
	})
}

func checkModel(t *testing.T, ctx context.Context, base string, client *httpapi.Client) {
	k := modelKey(1)
	run(t, ctx, "open model", chromedp.Navigate(base+"/models/"+k.Target+"/"+k.ModelFamily), chromedp.WaitVisible(chromedp.CSS("#live-pnl")))
	m, err := client.Model(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	live, err := client.LiveSummary(t.Context(), k, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sel, want string }{
		{"#model-runs", strconv.Itoa(m.Runs)},
		{"#model-latest-score", fmtNum(*m.LatestScore)},
		{"#live-pnl", fmtNum(live.PnL)},
		{"#live-expected-pnl", fmtNum(live.ExpectedPnL)},
		{"#live-observations", strconv.FormatInt(live.Observations, 10)},
		{"#live-hit-rate", fmtNum(live.HitRate)},
		{"#deployed-version", m.Deployed.ModelVersion},
	} {
		if got := text(t, ctx, c.sel); got != c.want {
			t.Errorf("model page %s = %q, API says %q", c.sel, got, c.want)
		}
	}
}

func checkInsights(t *testing.T, ctx context.Context, base string, client *httpapi.Client) {
	run(t, ctx, "open insights", chromedp.Navigate(base+"/insights"), chromedp.WaitVisible(chromedp.CSS("#cils-version")))
	eventually(t, ctx, "insight versions match the API", func() error {
		for _, kind := range []string{"cils", "arpo"} {
			in, err := client.Insight(t.Context(), kind, 0)
			if err != nil {
				return err
			}
			if got := text(t, ctx, "#"+kind+"-version"); got != strconv.FormatInt(in.Version, 10) {
				return fmt.Errorf("%s version on the page %s, API %d", kind, got, in.Version)
			}
		}
		return nil
	})
}

func checkPlan(t *testing.T, ctx context.Context, base string, client *httpapi.Client) {
	run(t, ctx, "open plan", chromedp.Navigate(base+"/plan"), chromedp.WaitVisible(chromedp.CSS("#plan-candidates")))
	eventually(t, ctx, "plan matches the API", func() error {
		var plan orchestrator.Plan
		if err := client.Plan(t.Context(), &plan); err != nil {
			return err
		}
		if got, want := text(t, ctx, "#plan-candidates"), strconv.Itoa(len(plan.Candidates)); got != want {
			return fmt.Errorf("candidates on the page %s, API %s", got, want)
		}
		reasons := eval(t, ctx, `Array.from(document.querySelectorAll("#priorities td.reason")).map(td => td.textContent.split(":")[0])`)
		for i, c := range plan.Candidates[:min(len(reasons), len(plan.Candidates))] {
			if reasons[i] != c.Reason {
				return fmt.Errorf("candidate %d reason %q, API %q", i, reasons[i], c.Reason)
			}
		}
		return nil
	})
}

func checkRollback(t *testing.T, ctx context.Context, base, changeID string, changeState func(context.Context) (flywheel.ConfigChangeState, error), shot func(string)) {
	run(t, ctx, "open config", chromedp.Navigate(base+"/config"), chromedp.WaitVisible(chromedp.CSS("#change-"+changeID)))
	buttons := eval(t, ctx, `Array.from(document.querySelectorAll("#change-`+changeID+` button.rollback")).map(b => b.textContent)`)
	if len(buttons) == 0 {
		shot("config")
		msg := "the config page shows no rollback button: the daemon has no ConfigActions (wire the propagator into dashboard.Config)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	shot("config")
	run(t, ctx, "press rollback",
		chromedp.SendKeys(chromedp.CSS(`#change-`+changeID+` input[name="reason"]`), "rolled back by the browser test"),
		chromedp.Click(chromedp.CSS(`#change-`+changeID+` button.rollback`)),
		chromedp.WaitVisible(chromedp.CSS(`#change-`+changeID+`[data-state="rolled_back"]`)))
	shot("config-rolled-back")
	if flash := text(t, ctx, "#flash"); flash != "rollback of "+changeID+" done" {
		t.Errorf("flash after rollback %q", flash)
	}
	st, err := changeState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st != flywheel.ChangeRolledBack {
		t.Errorf("change state in the store after rollback %s, want rolled_back", st)
	}
}
