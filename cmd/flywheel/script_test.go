package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flywheel": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// prices2024 is the real price file the end-to-end script trains on, or
// "" when ../shared/data is not there (the script then skips, [shareddata]).
var prices2024 = func() string {
	wd, _ := os.Getwd()
	p, _ := shareddata.Find(wd, "pypfopt/stock_prices_2024.csv")
	return p
}()

// TestScripts runs the CLI scripts in testdata/script. Each script gets a
// free loopback address in $ADDR, with $FLYWHEEL_API pointing at it.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			env.Setenv("ADDR", addr)
			env.Setenv("FLYWHEEL_API", "http://"+addr)
			if prices2024 != "" {
				// Jobs run in the daemon's directory, $WORK.
				if err := os.Symlink(prices2024, filepath.Join(env.WorkDir, "stock_prices_2024.csv")); err != nil {
					return err
				}
			}
			return writeRecentLive(env.WorkDir, time.Now().UTC())
		},
		Condition: func(cond string) (bool, error) {
			if cond != "shareddata" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if prices2024 != "" {
				return true, nil
			}
			if os.Getenv("CI") == "true" {
				return false, fmt.Errorf("../shared/data not found; CI must provide it")
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitready": cmdWaitReady,
			"waitjson":  cmdWaitJSON,
		},
	})
}

// cmdWaitReady waits until the daemon at $ADDR answers 200 on PATH
// (default /readyz).
func cmdWaitReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: waitready [PATH]")
	}
	path := "/readyz"
	if len(args) == 1 {
		path = args[0]
	}
	url := "http://" + ts.Getenv("ADDR") + path
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("no 200 from %s within 30s", url)
}

// cmdWaitJSON waits until GET PATH on the daemon at $ADDR answers JSON
// whose value at the dotted KEY prints as VALUE (or, for VALUE re:RE,
// matches the regular expression RE): the learners run in the
// background, so a script waits for the version that saw its data.
func cmdWaitJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitjson PATH KEY VALUE")
	}
	url := "http://" + ts.Getenv("ADDR") + args[0]
	var last any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if v, ok := getJSONKey(url, args[1]); ok {
			got := fmt.Sprint(v)
			if re, isRE := strings.CutPrefix(args[2], "re:"); isRE && regexp.MustCompile(re).MatchString(got) || got == args[2] {
				return
			}
			last = v
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s: %s is %v, not %s, after 30s", url, args[1], last, args[2])
}

func getJSONKey(url, key string) (any, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var v any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return nil, false
	}
	for _, k := range strings.Split(key, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// writeRecentLive writes recent-live.ndjson and recent-deployments.json:
// two models deployed 60 days before now with 40 days of live P&L up to
// yesterday. AAPL earns what it expects; MSFT expects to earn and loses.
// The dates follow the wall clock because the daemon's learners judge
// the last quarter.
func writeRecentLive(dir string, now time.Time) error {
	day := now.Truncate(24 * time.Hour)
	var live strings.Builder
	for i := 40; i >= 1; i-- {
		ts := day.AddDate(0, 0, -i).Add(21 * time.Hour).Format(time.RFC3339)
		wiggle := 0.002 * float64(i%3-1)
		fmt.Fprintf(&live, `{"ts": %q, "target": "fwd_ret_5d_AAPL", "model_family": "ridge", "model_version": "v1", "symbol": "AAPL", "pnl": %g, "expected_pnl": 0.003, "position": 1}`+"\n", ts, 0.003+wiggle)
		fmt.Fprintf(&live, `{"ts": %q, "target": "fwd_ret_5d_MSFT", "model_family": "ridge", "model_version": "v1", "symbol": "MSFT", "pnl": %g, "expected_pnl": 0.003, "position": 1}`+"\n", ts, -0.004+wiggle)
	}
	deployed := day.AddDate(0, 0, -60).Format(time.RFC3339)
	deps := fmt.Sprintf(`[{"target": "fwd_ret_5d_AAPL", "model_family": "ridge", "model_version": "v1", "deployed_at": %q},
 {"target": "fwd_ret_5d_MSFT", "model_family": "ridge", "model_version": "v1", "deployed_at": %q}]`, deployed, deployed)
	var jpm strings.Builder
	for i := 40; i >= 1; i-- {
		ts := day.AddDate(0, 0, -i).Add(21 * time.Hour).Format(time.RFC3339)
		fmt.Fprintf(&jpm, `{"ts": %q, "target": "fwd_ret_5d_JPM", "model_family": "ridge", "model_version": "v1", "symbol": "JPM", "pnl": %g, "expected_pnl": 0.003, "position": 1}`+"\n", ts, -0.004+0.002*float64(i%3-1))
	}
	if err := os.WriteFile(filepath.Join(dir, "losing-jpm.ndjson"), []byte(jpm.String()), 0o644); err != nil {
		return err
	}
	jpmDep := fmt.Sprintf(`{"target": "fwd_ret_5d_JPM", "model_family": "ridge", "model_version": "v1", "run_id": "j6", "deployed_at": %q}`, deployed)
	if err := os.WriteFile(filepath.Join(dir, "jpm-deployment.json"), []byte(jpmDep), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "recent-live.ndjson"), []byte(live.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "recent-deployments.json"), []byte(deps), 0o644)
}
