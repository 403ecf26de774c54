package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel/cils"
)

func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestGoodFiles(t *testing.T) {
	t.Parallel()
	env := testEnv(map[string]string{"FLYWHEEL_TEST_OPS_SECRET": "ops-secret-0123456789abc"})
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no good config files")
	}
	for _, f := range files {
		if _, err := Load(f, env); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestFullFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/good/full.yaml", testEnv(map[string]string{"FLYWHEEL_TEST_OPS_SECRET": "ops-secret-0123456789abc"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9090" || cfg.Log.Format != "json" || cfg.API.MaxBodyBytes != 1<<20 {
		t.Errorf("fields not read: %+v", cfg)
	}
	if cfg.Learners.Interval != time.Minute || cfg.Learners.CILS.DropThreshold != 0.15 || cfg.Learners.CILS.BaselineRuns != 7 {
		t.Errorf("learners not read: %+v", cfg.Learners)
	}
	if want := cils.DefaultConfig().PageHinkleyWindow; cfg.Learners.CILS.PageHinkleyWindow != want {
		t.Errorf("a field the file does not set lost its default: page_hinkley_window = %d, want %d", cfg.Learners.CILS.PageHinkleyWindow, want)
	}
	if got := cfg.Tokens[1].Secret; got != "ops-secret-0123456789abc" {
		t.Errorf("secret_env not resolved: got %q", got)
	}
}

// TestBadFiles checks that each file in testdata/bad fails with the error
// named on its first line ("# error: ...").
func TestBadFiles(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad config files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := expectedError(t, f)
			_, err := Load(f, testEnv(nil))
			if err == nil {
				t.Fatalf("loaded without error; want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func expectedError(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(data)).ReadLine()
	want, ok := strings.CutPrefix(string(line), "# error: ")
	if !ok {
		t.Fatalf("%s: first line must be '# error: ...'", path)
	}
	return want
}

func TestDefaultsAndEnv(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.DB != DefaultDB || cfg.API.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = Load("testdata/good/empty.yaml", testEnv(map[string]string{
		EnvDB: "/tmp/x.db", EnvListen: "127.0.0.1:9999", EnvMaxBodyBytes: "2048", EnvLogLevel: "warn",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/tmp/x.db" || cfg.Listen != "127.0.0.1:9999" || cfg.API.MaxBodyBytes != 2048 || cfg.Log.Level != "warn" {
		t.Errorf("environment not applied: %+v", cfg)
	}
	if _, err := Load("", testEnv(map[string]string{EnvMaxBodyBytes: "big"})); err == nil || !strings.Contains(err.Error(), EnvMaxBodyBytes) {
		t.Errorf("bad env number: err = %v", err)
	}
}

func TestAllProblemsReported(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Log.Level = "loud"
	cfg.Log.Format = "xml"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"log.level", "log.format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "127.1.2.3": true,
		"": false, "0.0.0.0": false, "10.0.0.1": false, "example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestREADMEExample keeps the README's configuration example valid.
func TestREADMEExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README's Configuration section has no yaml example")
	}
	path := filepath.Join(t.TempDir(), "flywheel.yaml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(map[string]string{
		"FLYWHEEL_PIPELINE_TOKEN":  "pipeline-token-0123456789",
		"FLYWHEEL_DASHBOARD_TOKEN": "dashboard-token-0123456789",
	})
	if _, err := Load(path, env); err != nil {
		t.Errorf("the README's example does not load: %v", err)
	}
}
