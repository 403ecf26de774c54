package execbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/localexec"
	"github.com/flywheel-ml/flywheel/slurm"
)

// BenchmarkSubmissionOverhead measures admitted -> running for 100
// trivial jobs on the local executor and on Slurm (when SLURM_CONF names a
// cluster that answers) and prints both side by side:
//
//	go test -run '^$' -bench SubmissionOverhead -benchtime 1x ./internal/execbench/
func BenchmarkSubmissionOverhead(b *testing.B) {
	const poll = 100 * time.Millisecond
	opts := Options{Jobs: 100, PollInterval: poll}
	ctx := context.Background()
	for range b.N {
		local, err := Measure(ctx, b.TempDir(), func(state, conf string) (flywheel.Executor, error) {
			return localexec.New(localexec.Config{Command: Command, StateDir: state, ConfigDir: conf})
		}, opts)
		if err != nil {
			b.Fatalf("local: %v", err)
		}
		figs := []Figure{local}
		if os.Getenv("SLURM_CONF") != "" && exec.Command("sinfo").Run() == nil {
			s, err := Measure(ctx, b.TempDir(), func(state, conf string) (flywheel.Executor, error) {
				return slurm.New(slurm.Config{Command: Command, StateDir: state, ConfigDir: conf})
			}, opts)
			if err != nil {
				b.Fatalf("slurm: %v", err)
			}
			figs = append(figs, s)
		} else {
			fmt.Println("no Slurm cluster (SLURM_CONF unset or sinfo fails): local only")
		}
		Print(os.Stdout, poll, figs...)
		for _, f := range figs {
			b.ReportMetric(float64(f.Started.P50)/1e6, f.Executor+"-p50-ms")
			b.ReportMetric(float64(f.Started.P99)/1e6, f.Executor+"-p99-ms")
		}
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if s := stats(ds); s.P50 != 50*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("stats(1..100 ms) = %+v, want p50 50 ms, p99 99 ms, max 100 ms", s)
	}
	if s := stats(nil); s != (Stats{}) {
		t.Errorf("stats(nil) = %+v, want zero", s)
	}
}
