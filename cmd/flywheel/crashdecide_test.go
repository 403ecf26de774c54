package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

// TestKillBetweenDecidingAndSubmitting kills a daemon with SIGKILL after
// it admitted a job and before any executor submitted it (the first
// daemon runs none), restarts it with the local executor on the same
// database, and checks that the job exists once, runs once, and that no
// second job is created for the model.
func TestKillBetweenDecidingAndSubmitting(t *testing.T) {
	t.Parallel()
	exe := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	runsFile := filepath.Join(dir, "executions")
	script := filepath.Join(dir, "train.sh")
	// The training command: count the execution, report a run.
	body := fmt.Sprintf(`#!/bin/sh
echo "$FLYWHEEL_JOB_ID" >> %s
now=$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)
printf '{"run_id": "%%s", "job_id": "%%s", "target": "%%s", "model_family": "%%s", "status": "succeeded", "started_at": "%%s", "finished_at": "%%s", "metrics": {"validation_score": 0.12}, "cost": {"cpu_hours": 0.01, "gpu_hours": 0, "wall_seconds": 1}}' \
  "$FLYWHEEL_JOB_ID" "$FLYWHEEL_JOB_ID" "$FLYWHEEL_TARGET" "$FLYWHEEL_MODEL_FAMILY" "$now" "$now" > "$FLYWHEEL_RESULT"
`, runsFile)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	none := writeConfig(t, dir, "none.yaml", "learners:\n  interval: 1s\n")
	local := writeConfig(t, dir, "local.yaml", fmt.Sprintf(`learners:
  interval: 1s
pipeline_config_dir: %s
executor:
  kind: local
  command: %s
  state_dir: %s
  poll_interval: 100ms
`, filepath.Join(dir, "CONFIG"), script, filepath.Join(dir, "jobs")))

	ctx := context.Background()
	a, err := startDaemon(ctx, exe, db, testLog{t}, "--config", none)
	if err != nil {
		t.Fatal(err)
	}
	k := reportDegradingModel(t, a.client)
	job := waitJob(t, a.client, k, func(j flywheel.Job) bool { return j.State == flywheel.JobAdmitted })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()

	b, err := startDaemon(ctx, exe, db, testLog{t}, "--config", local)
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	done := waitJob(t, b.client, k, func(j flywheel.Job) bool { return j.State == flywheel.JobSucceeded })
	if done.ID != job.ID {
		t.Errorf("the job that ran is %s, want the one admitted before the kill, %s", done.ID, job.ID)
	}
	time.Sleep(3 * time.Second) // a few more decisions
	jobs, err := b.client.Jobs(ctx, flywheel.JobFilter{Model: &k})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Errorf("%d jobs for %s after the restart, want 1: %+v", len(jobs), k, jobs)
	}
	out, err := os.ReadFile(runsFile)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(string(out)); len(lines) != 1 || lines[0] != job.ID {
		t.Errorf("executions = %q, want job %s once", lines, job.ID)
	}
}

func writeConfig(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// reportDegradingModel reports a model whose training score dropped 20%
// and which loses live money while expecting to earn, as the only model
// of the book: the seed's priority admits it.
func reportDegradingModel(t *testing.T, c *httpapi.Client) flywheel.ModelKey {
	t.Helper()
	ctx := context.Background()
	k := flywheel.ModelKey{Target: "fwd_ret_5d_JPM", ModelFamily: "ridge"}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var runs []flywheel.Run
	for i, score := range []float64{0.10, 0.10, 0.10, 0.10, 0.10, 0.08} {
		start := today.AddDate(0, 0, -70+i)
		fin := start.Add(time.Hour)
		runs = append(runs, flywheel.Run{RunID: fmt.Sprintf("h%d", i), ModelKey: k, Status: flywheel.RunSucceeded, StartedAt: start,
			FinishedAt: &fin, Metrics: map[string]float64{flywheel.MetricValidationScore: score}, Cost: flywheel.Cost{CPUHours: 0.1}})
	}
	var obs []flywheel.Observation
	for d := 40; d >= 1; d-- {
		exp := 0.003
		obs = append(obs, flywheel.Observation{TS: today.AddDate(0, 0, -d).Add(21 * time.Hour), ModelKey: k, ModelVersion: "v1",
			PnL: -0.004 + 0.002*float64(d%3-1), ExpectedPnL: &exp})
	}
	if _, err := c.PostRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostDeployments(ctx, []flywheel.Deployment{{ModelKey: k, ModelVersion: "v1", RunID: "h5", DeployedAt: today.AddDate(0, 0, -60)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostObservations(ctx, obs); err != nil {
		t.Fatal(err)
	}
	return k
}

// waitJob waits up to 30 s for the model's latest job to satisfy ok.
func waitJob(t *testing.T, c *httpapi.Client, k flywheel.ModelKey, ok func(flywheel.Job) bool) flywheel.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		jobs, err := c.Jobs(context.Background(), flywheel.JobFilter{Model: &k, Limit: 1})
		if err == nil && len(jobs) > 0 && ok(jobs[0]) {
			return jobs[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no job of %s in the awaited state within 30 s", k)
	return flywheel.Job{}
}
