// Package execbench measures the submission overhead of the executors:
// how long a trivial job takes from the moment it is admitted to the
// moment it runs, on the local executor and on Slurm, through the real
// runner and a real SQLite store. It backs the figure in BENCHMARKS.md.
//
// Jobs go one at a time (the next is admitted when the last has ended),
// so the figure is the overhead of the path (runner round, sbatch,
// scontrol release, Slurm's scheduler, process start) and not time spent
// queueing behind other jobs.
package execbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/runner"
	"github.com/flywheel-ml/flywheel/sqlite"
)

// Command is the trivial job: it writes the time it started, in
// nanoseconds, to a file named after its job in $FLYWHEEL_CONFIG_DIR.
const Command = `sh -c 'date +%s%N > "$FLYWHEEL_CONFIG_DIR/{job_id}.start"'`

// Options configure a measurement.
type Options struct {
	// Jobs is how many jobs to run; zero means 100.
	Jobs int
	// PollInterval is the runner's; zero means 100 ms.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Stats summarises latencies.
type Stats struct {
	P50, P99, Max time.Duration
}

// Figure is what one executor measured.
type Figure struct {
	Executor string
	Jobs     int
	// Started is admitted -> the job's process started (the time the job
	// itself wrote), the overhead a job feels.
	Started Stats
	// Recorded is admitted -> the runner recorded the job running, which
	// also depends on the poll interval.
	Recorded Stats
}

// NewExecutor builds the executor to measure, given the directory that
// must be its state dir and the config dir it must pass to the jobs.
type NewExecutor func(stateDir, configDir string) (flywheel.Executor, error)

// Measure runs opts.Jobs trivial jobs, one at a time, through a runner on
// a fresh store in dir, and returns the latencies.
func Measure(ctx context.Context, dir string, newExec NewExecutor, opts Options) (Figure, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 100
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	starts := filepath.Join(dir, "starts")
	if err := os.MkdirAll(starts, 0o755); err != nil {
		return Figure{}, err
	}
	ex, err := newExec(filepath.Join(dir, "state"), starts)
	if err != nil {
		return Figure{}, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"), sqlite.Options{Logger: opts.Logger})
	if err != nil {
		return Figure{}, err
	}
	defer db.Close()
	r, err := runner.New(runner.Config{Store: db, Executors: []flywheel.Executor{ex}, PollInterval: opts.PollInterval, Logger: opts.Logger})
	if err != nil {
		return Figure{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	fig := Figure{Executor: ex.Name(), Jobs: opts.Jobs}
	var started, recorded []time.Duration
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	for i := range opts.Jobs {
		id := prefix + strconv.Itoa(i)
		s, rec, err := one(ctx, db, r, id, filepath.Join(starts, id+".start"))
		if err != nil {
			return fig, fmt.Errorf("job %d: %w", i, err)
		}
		started, recorded = append(started, s), append(recorded, rec)
	}
	fig.Started, fig.Recorded = stats(started), stats(recorded)
	return fig, nil
}

// one admits a job, waits for it to start and end, and returns its
// latencies.
func one(ctx context.Context, db *sqlite.DB, r *runner.Runner, id, startFile string) (started, recorded time.Duration, err error) {
	at := time.Now().UTC()
	_, err = db.CreateJob(ctx, flywheel.Job{ID: id, ModelKey: flywheel.ModelKey{Target: "bench", ModelFamily: "trivial"},
		State: flywheel.JobAdmitted, Resources: flywheel.Resources{CPUCores: 1, MemoryMB: 100}, EstimatedSeconds: 10,
		CreatedAt: at, UpdatedAt: at})
	if err != nil {
		return 0, 0, err
	}
	r.Notify()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := db.Job(ctx, id)
		if err != nil {
			return 0, 0, err
		}
		if j.State.Terminal() {
			if j.State != flywheel.JobSucceeded {
				return 0, 0, fmt.Errorf("ended %s: %s", j.State, j.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("still %s after 2 min", j.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, err := os.ReadFile(startFile)
	if err != nil {
		return 0, 0, fmt.Errorf("the job left no start time: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("start time %q: %w", b, err)
	}
	evs, err := db.JobEvents(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	i := slices.IndexFunc(evs, func(e flywheel.JobEvent) bool { return e.To == flywheel.JobRunning })
	if i < 0 {
		return 0, 0, errors.New("no running transition recorded")
	}
	return time.Unix(0, ns).Sub(at), evs[i].At.Sub(at), nil
}

// stats returns the 50th and 99th percentiles (nearest rank) and the
// maximum.
func stats(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Stats{P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// Print writes the figures side by side.
func Print(w io.Writer, poll time.Duration, figs ...Figure) {
	if len(figs) == 0 {
		return
	}
	fmt.Fprintf(w, "submission overhead, admitted -> running, %d trivial jobs one at a time (runner poll %s)\n", figs[0].Jobs, poll)
	fmt.Fprintf(w, "%-28s", "")
	for _, f := range figs {
		fmt.Fprintf(w, "%14s", f.Executor)
	}
	fmt.Fprintln(w)
	row := func(label string, get func(Figure) time.Duration) {
		fmt.Fprintf(w, "%-28s", label)
		for _, f := range figs {
			fmt.Fprintf(w, "%11.1f ms", float64(get(f))/float64(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	row("process started   p50", func(f Figure) time.Duration { return f.Started.P50 })
	row("                  p99", func(f Figure) time.Duration { return f.Started.P99 })
	row("                  max", func(f Figure) time.Duration { return f.Started.Max })
	row("runner saw running p50", func(f Figure) time.Duration { return f.Recorded.P50 })
	row("                  p99", func(f Figure) time.Duration { return f.Recorded.P99 })
}
