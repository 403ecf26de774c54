package runner

import (
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

// TestRetryByFailureClass runs a job into each failure class and checks
// what the runner does: the state it goes to, the attempt number, and
// the resources and runtime estimate of the next submission.
func TestRetryByFailureClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		class   flywheel.FailureClass
		lost    bool // reported as JobLost rather than JobFailed
		attempt int  // the job's attempt when it fails
		// want
		state   flywheel.JobState
		next    int // attempt of the retry
		memory  int
		seconds float64
	}{
		{"oom: more memory, not counted", flywheel.FailureOOM, false, 1, flywheel.JobSubmitted, 1, 4096, 60},
		{"preempted: requeued as is", flywheel.FailurePreempted, false, 1, flywheel.JobSubmitted, 1, 2048, 60},
		{"node failure: requeued as is", flywheel.FailureNodeFailure, false, 1, flywheel.JobSubmitted, 1, 2048, 60},
		{"command: retried, counted", flywheel.FailureCommand, false, 1, flywheel.JobSubmitted, 2, 2048, 60},
		{"command at the limit: failed", flywheel.FailureCommand, false, 3, flywheel.JobFailed, 3, 0, 0},
		{"timeout: longer estimate, counted", flywheel.FailureTimeout, false, 1, flywheel.JobSubmitted, 2, 2048, 120},
		{"timeout at the limit: failed", flywheel.FailureTimeout, false, 3, flywheel.JobFailed, 3, 0, 0},
		{"lost: retried, counted", flywheel.FailureLost, true, 2, flywheel.JobSubmitted, 3, 2048, 60},
		{"lost at the limit: lost", flywheel.FailureLost, true, 3, flywheel.JobLost, 3, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setupFake(t, nil)
			newJob(t, s.store, "job-1", t0, func(j *flywheel.Job) { j.Attempt = tt.attempt })
			step(t, s.r)
			s.exec.set("job-1", flywheel.JobRunning, "", "")
			step(t, s.r)
			state := flywheel.JobFailed
			if tt.lost {
				state = flywheel.JobLost
			}
			s.exec.set("job-1", state, tt.class, "")
			// One round sees the failure and requeues; the same round's
			// admission step (next round) submits the retry.
			step(t, s.r)
			step(t, s.r)
			j := getJob(t, s.store, "job-1")
			if j.State != tt.state || j.Attempt != tt.next {
				t.Fatalf("state %s attempt %d, want %s attempt %d (error %q)", j.State, j.Attempt, tt.state, tt.next, j.Error)
			}
			if !strings.HasPrefix(j.Error, string(tt.class)+":") {
				t.Errorf("error %q, want it to name the class %s", j.Error, tt.class)
			}
			subs := s.exec.submissions()
			if tt.state.Terminal() {
				if len(subs) != 1 {
					t.Errorf("%d submissions, want 1 (no retry)", len(subs))
				}
				return
			}
			if len(subs) != 2 {
				t.Fatalf("%d submissions, want 2", len(subs))
			}
			got := subs[1]
			if got.Resources.MemoryMB != tt.memory || got.EstimatedSeconds != tt.seconds || got.Resources.CPUCores != 1 {
				t.Errorf("retry asked for %+v and %v s, want %d MB and %v s", got.Resources, got.EstimatedSeconds, tt.memory, tt.seconds)
			}
		})
	}
}

// TestOOMGrowsAcrossRetries checks that the memory of each retry builds
// on the last one (the runner keeps it in the job's history), up to the
// cap, after which the job fails.
func TestOOMGrowsAcrossRetries(t *testing.T) {
	t.Parallel()
	s := setupFake(t, nil) // cap 8192 MB
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	for range 3 {
		s.exec.set("job-1", flywheel.JobFailed, flywheel.FailureOOM, "")
		step(t, s.r)
		step(t, s.r)
	}
	var mem []int
	for _, j := range s.exec.submissions() {
		mem = append(mem, j.Resources.MemoryMB)
	}
	if want := []int{2048, 4096, 8192}; len(mem) != 3 || mem[0] != want[0] || mem[1] != want[1] || mem[2] != want[2] {
		t.Errorf("memory of each submission %v, want %v", mem, want)
	}
	j := getJob(t, s.store, "job-1")
	if j.State != flywheel.JobFailed || !strings.Contains(j.Message, "cap") {
		t.Errorf("after an OOM at the cap: %s %q, want failed at the cap", j.State, j.Message)
	}
}

// TestRequeueLimit checks that free requeues stop at MaxRequeues.
func TestRequeueLimit(t *testing.T) {
	t.Parallel()
	s := setupFake(t, func(c *Config) { c.Policy.MaxRequeues = 2 })
	newJob(t, s.store, "job-1", t0, nil)
	step(t, s.r)
	for range 3 {
		s.exec.set("job-1", flywheel.JobFailed, flywheel.FailurePreempted, "")
		step(t, s.r)
		step(t, s.r)
	}
	j := getJob(t, s.store, "job-1")
	if j.State != flywheel.JobFailed || j.Attempt != 1 || len(s.exec.submissions()) != 3 {
		t.Errorf("state %s attempt %d after %d submissions, want failed at attempt 1 after 3", j.State, j.Attempt, len(s.exec.submissions()))
	}
}
