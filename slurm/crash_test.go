package slurm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/runner"
)

// Environment of the helper process that drives a runner until a pause
// point and waits there to be killed.
const (
	envHelper = "FLYWHEEL_TEST_RUNNER_HELPER" // the helper's directory
	envPause  = "FLYWHEEL_TEST_RUNNER_PAUSE"  // after-intent, after-submit or after-record
)

// TestRunnerHelper is not a test: run by TestSlurmCrashBeforeRelease in a
// child process, it drives a runner on the directory it is given and, at
// the pause point, writes the job's id to the file "paused" and waits to
// be killed.
func TestRunnerHelper(t *testing.T) {
	dir := os.Getenv(envHelper)
	if dir == "" {
		t.Skip("helper process for TestSlurmCrashBeforeRelease")
	}
	pause := func(j flywheel.Job) {
		if err := os.WriteFile(filepath.Join(dir, "paused"), []byte(j.ID+" "+j.ExternalID), 0o644); err != nil {
			panic(err)
		}
		select {} // SIGKILL comes here
	}
	var hooks runner.Hooks
	switch os.Getenv(envPause) {
	case "after-intent":
		hooks.AfterIntent = pause
	case "after-submit":
		hooks.AfterSubmit = pause
	case "after-record":
		hooks.AfterRecord = pause
	default:
		t.Fatalf("%s=%q: want after-intent, after-submit or after-record", envPause, os.Getenv(envPause))
	}
	e := setup(t, dir, flywheel.RetryPolicy{}, hooks)
	for {
		_ = e.r.Step(context.Background())
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlurmCrashBeforeRelease kills the process driving the submissions
// with SIGKILL at each point between recording the intent and releasing
// the job, restarts a runner on the same store, and checks that every job
// runs and that sacct shows exactly one Slurm job per flywheel job.
func TestSlurmCrashBeforeRelease(t *testing.T) {
	requireCluster(t)
	if os.Getenv(envHelper) != "" {
		t.Skip("in the helper")
	}
	t.Parallel()
	for _, pause := range []string{"after-intent", "after-submit", "after-record"} {
		t.Run(pause, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			first := setup(t, dir, flywheel.RetryPolicy{}, runner.Hooks{})
			ids := []string{uniqueID("crash-a"), uniqueID("crash-b")}
			for _, id := range ids {
				addJob(t, first.store, id, nil)
			}
			paused := killHelperAt(t, dir, pause)
			j, err := first.store.Job(context.Background(), paused)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]flywheel.JobState{
				"after-intent": flywheel.JobSubmitting, "after-submit": flywheel.JobSubmitting, "after-record": flywheel.JobSubmitted,
			}[pause]
			if j.State != want {
				t.Fatalf("killed %s: job %s is %s, want %s", pause, paused, j.State, want)
			}
			if pause != "after-intent" {
				// The crash left a held Slurm job behind.
				out, err := exec.Command("squeue", "-h", "-o", "%T|%r", "--name="+flywheelName(paused)).Output()
				if err != nil || strings.TrimSpace(string(out)) != "PENDING|JobHeldUser" {
					t.Errorf("squeue after the crash: %q (%v), want one held job", out, err)
				}
			}

			second := setup(t, dir, flywheel.RetryPolicy{}, runner.Hooks{})
			for _, id := range ids {
				j := second.runUntil(t, id, flywheel.JobSucceeded, flywheel.JobFailed, flywheel.JobLost, flywheel.JobCancelled)
				if j.State != flywheel.JobSucceeded {
					t.Errorf("job %s ended %s (error %q), want succeeded", id, j.State, j.Error)
				}
			}
			for _, id := range ids {
				rows := second.sacct(t, id, ended)
				if len(rows) != 1 {
					t.Errorf("sacct --name=%s shows %d jobs, want exactly 1: %+v", flywheelName(id), len(rows), rows)
				}
				// sacct's time window hides held jobs (their eligible time is
				// unknown), so a duplicate left held would only show in squeue.
				out, err := exec.Command("squeue", "-h", "-o", "%i|%T|%r", "--name="+flywheelName(id)).Output()
				if err != nil || strings.TrimSpace(string(out)) != "" {
					t.Errorf("squeue --name=%s: %q (%v), want no job left", flywheelName(id), out, err)
				}
			}
		})
	}
}

// killHelperAt runs a helper process that drives a runner on dir until
// pause, kills it with SIGKILL there, and returns the id of the job it
// paused on.
func killHelperAt(t *testing.T, dir, pause string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunnerHelper$", "-test.v")
	cmd.Env = append(os.Environ(), envHelper+"="+dir, envPause+"="+pause)
	logf, err := os.Create(filepath.Join(dir, "helper.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(dir, "paused")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(mark); err == nil && len(b) > 0 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			id, ext, _ := strings.Cut(string(b), " ")
			t.Logf("killed the runner %s of job %s (Slurm id %q)", pause, id, ext)
			return id
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			log, _ := os.ReadFile(filepath.Join(dir, "helper.log"))
			t.Fatalf("the helper did not reach %s within 60 s; its log:\n%s", pause, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func flywheelName(id string) string { return "fw-" + id }
