package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runBacktestCmd runs `flywheel backtest` in-process and returns stdout.
func runBacktestCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	cmd := newBacktestCmd(e)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	t.Logf("stderr: %s", errOut.String())
	return out.String(), err
}

func TestBacktestCmdJSONAndReport(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "report.html")
	out, err := runBacktestCmd(t, "--synthetic", "--days", "60", "--seed", "3", "--json", "--report", report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Policies map[string]map[string]any `json:"policies"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	if got, want := len(doc.Policies), 7; got != want {
		t.Errorf("policies = %d, want %d", got, want)
	}
	if _, ok := doc.Policies["flywheel"]["net_pnl"]; !ok {
		t.Errorf("flywheel has no net_pnl: %v", doc.Policies["flywheel"])
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("report has no inline <svg>")
	}
}

func TestBacktestCmdTable(t *testing.T) {
	t.Parallel()
	out, err := runBacktestCmd(t, "--days", "40", "--policies", "never,flywheel")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "flywheel") || !strings.Contains(out, "never") {
		t.Errorf("table lacks a policy:\n%s", out)
	}
}

func TestBacktestCmdUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--prices", "x.csv", "--synthetic"},
		{"--policies", "sometimes"},
		{"--seeds", "0"},
	} {
		_, err := runBacktestCmd(t, args...)
		if _, ok := err.(usageError); !ok {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}
