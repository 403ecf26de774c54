// Package promtest runs Debian's Prometheus server for tests that check
// what a real scrape of flywheel's /metrics yields.
package promtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Start runs Prometheus scraping target (host:port) every second and
// returns its URL. Without a prometheus binary the test is skipped, or
// failed under CI=true.
func Start(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but prometheus is not installed: apt-get install -y prometheus")
		}
		t.Skip("prometheus not installed (apt-get install -y prometheus); skipping the scrape test")
	}
	return startPrometheus(t, bin, target)
}

// QueryEventually asks Prometheus for an instant query until it has a
// value (the first scrapes take a few seconds) and returns it.
func QueryEventually(t *testing.T, promURL, q string) float64 {
	return queryEventually(t, promURL, q)
}

func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: flywheel\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return "http://" + addr
}

func queryEventually(t *testing.T, promURL, q string) float64 {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		v, ok, why := query(promURL, q)
		if ok {
			return v
		}
		last = why
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: no value from Prometheus after 45 s: %s", q, last)
	return 0
}

func query(promURL, q string) (float64, bool, string) {
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err.Error()
	}
	if body.Status != "success" || len(body.Data.Result) == 0 {
		return 0, false, fmt.Sprintf("status %q error %q results %d", body.Status, body.Error, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, err.Error()
	}
	return v, true, ""
}
