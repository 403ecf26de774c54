package flywheel

import (
	"testing"
	"time"
)

// TestRetryPolicyDecide covers every failure class: oom grows the memory
// up to the cap, preempted and node_failure requeue without counting,
// command, timeout and lost count and stop at MaxAttempts.
func TestRetryPolicyDecide(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 3, MemoryFactor: 2, MaxMemoryMB: 8192, BaseMemoryMB: 1024, TimeFactor: 2}
	job := func(attempt, mem int, est float64) Job {
		return Job{ID: "j", Attempt: attempt, Resources: Resources{CPUCores: 2, MemoryMB: mem, GPUs: 1}, EstimatedSeconds: est}
	}
	tests := []struct {
		name    string
		job     Job
		failure FailureClass
		retry   bool
		counts  bool
		attempt int
		memory  int
		est     float64
	}{
		{"oom doubles the memory", job(1, 2048, 60), FailureOOM, true, false, 1, 4096, 60},
		{"oom without memory starts from the base", job(1, 0, 60), FailureOOM, true, false, 1, 2048, 60},
		{"oom is capped", job(1, 6000, 60), FailureOOM, true, false, 1, 8192, 60},
		{"oom at the cap fails", job(1, 8192, 60), FailureOOM, false, false, 1, 8192, 60},
		{"oom ignores the attempt limit", job(3, 2048, 60), FailureOOM, true, false, 3, 4096, 60},
		{"preempted requeues free", job(1, 2048, 60), FailurePreempted, true, false, 1, 2048, 60},
		{"preempted requeues even at the limit", job(3, 2048, 60), FailurePreempted, true, false, 3, 2048, 60},
		{"node failure requeues free", job(2, 2048, 60), FailureNodeFailure, true, false, 2, 2048, 60},
		{"command retries, counted", job(1, 2048, 60), FailureCommand, true, true, 2, 2048, 60},
		{"attempt 0 is the first", job(0, 2048, 60), FailureCommand, true, true, 2, 2048, 60},
		{"command fails at the limit", job(3, 2048, 60), FailureCommand, false, false, 3, 2048, 60},
		{"timeout retries with a longer estimate", job(1, 2048, 60), FailureTimeout, true, true, 2, 2048, 120},
		{"timeout fails at the limit", job(3, 2048, 60), FailureTimeout, false, false, 3, 2048, 60},
		{"lost retries, counted", job(2, 2048, 60), FailureLost, true, true, 3, 2048, 60},
		{"lost fails at the limit", job(3, 2048, 60), FailureLost, false, false, 3, 2048, 60},
		{"unknown class is not retried", job(1, 2048, 60), FailureClass("weird"), false, false, 1, 2048, 60},
	}
	for _, tt := range tests {
		d := p.Decide(tt.job, tt.failure)
		if d.Retry != tt.retry || d.Counts != tt.counts || d.Attempt != tt.attempt ||
			d.Resources.MemoryMB != tt.memory || d.EstimatedSeconds != tt.est {
			t.Errorf("%s: Decide = retry %v counts %v attempt %d memory %d est %v, want %v %v %d %d %v (%s)",
				tt.name, d.Retry, d.Counts, d.Attempt, d.Resources.MemoryMB, d.EstimatedSeconds,
				tt.retry, tt.counts, tt.attempt, tt.memory, tt.est, d.Reason)
		}
		if d.Resources.CPUCores != 2 || d.Resources.GPUs != 1 {
			t.Errorf("%s: Decide changed CPUs or GPUs: %+v", tt.name, d.Resources)
		}
		if d.Reason == "" {
			t.Errorf("%s: Decide gave no reason", tt.name)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	t.Parallel()
	var p RetryPolicy
	if d := p.Decide(Job{Attempt: 2}, FailureCommand); !d.Retry || d.Attempt != 3 {
		t.Errorf("zero policy on attempt 2: retry %v attempt %d, want a retry as attempt 3", d.Retry, d.Attempt)
	}
	if d := p.Decide(Job{Attempt: 3}, FailureCommand); d.Retry {
		t.Errorf("zero policy on attempt 3 retried, want 3 attempts at most")
	}
	if !p.RequeueAllowed(19) || p.RequeueAllowed(20) {
		t.Errorf("zero policy: RequeueAllowed(19), RequeueAllowed(20) = %v, %v; want true, false",
			p.RequeueAllowed(19), p.RequeueAllowed(20))
	}
}

func TestTimeLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits TimeLimits
		est    float64
		want   time.Duration
	}{
		{"no estimate: default", TimeLimits{}, 0, 2 * time.Hour},
		{"estimate times factor", TimeLimits{}, 600, 30 * time.Minute},
		{"clamped up to min", TimeLimits{}, 1, time.Minute},
		{"clamped down to max", TimeLimits{Max: time.Hour}, 3600, time.Hour},
		{"huge estimate does not overflow", TimeLimits{}, 1e300, 7 * 24 * time.Hour},
		{"own factor and min", TimeLimits{Factor: 1, Min: time.Second}, 2.5, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := tt.limits.For(Job{EstimatedSeconds: tt.est}); got != tt.want {
			t.Errorf("%s: For(%v) = %v, want %v", tt.name, tt.est, got, tt.want)
		}
	}
}
