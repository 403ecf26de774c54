package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

func newBenchDecideCmd(e *env) *cobra.Command {
	var o decideBench
	cmd := &cobra.Command{
		Use:   "decide",
		Short: "Measure decision latency: from the ingest that makes a model underperform to its job admitted",
		Long: `Start a real daemon, preload models that have 19 days of losing live P&L
(one day short of ARPO's 20-day minimum), and keep a background feed of
live observations at --rate a second. Then, one trial at a time, post the
20th day of a fresh model and time how long until its job is admitted
(polling the jobs API every millisecond). The daemon runs with
min_priority 0.1 and limits that admit every candidate, so that what is
measured is the loop's latency, not the policy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), e.stdout)
		},
	}
	cmd.Flags().IntVar(&o.trials, "trials", 1000, "trials (one fresh model each)")
	cmd.Flags().IntVar(&o.rate, "rate", 1000, "background live observations a second")
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory for the database (default: a temporary one, removed after)")
	return cmd
}

type decideBench struct {
	trials, rate int
	dir          string
	exe          string
	daemonLog    io.Writer
}

// benchDecideConfig lets every candidate in: the figure is the loop's
// latency, not the seed's thresholds.
const benchDecideConfig = `log:
  level: warn
orchestrator:
  min_priority: 0.1
  scheduler:
    max_concurrent: 1000000
    gpu_memory_gb: 1000000000
    cpu_cores: 1000000000
    daily_budget: 1000000000
    cooldown_hours: 0
`

func (o *decideBench) run(ctx context.Context, out io.Writer) error {
	if o.trials < 1 || o.rate < 0 {
		return usageError{errors.New("bench decide: --trials must be positive and --rate not negative")}
	}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "flywheel-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg := filepath.Join(dir, "flywheel.yaml")
	if err := os.WriteFile(cfg, []byte(benchDecideConfig), 0o600); err != nil {
		return err
	}
	d, err := startDaemon(ctx, o.exe, filepath.Join(dir, "bench.db"), o.daemonLog, "--config", cfg)
	if err != nil {
		return err
	}
	defer d.stop()
	now := time.Now().UTC().Truncate(24 * time.Hour)
	if err := preloadTrials(ctx, d.client, o.trials, now); err != nil {
		return err
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var fed int
	var feedErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		fed, feedErr = backgroundFeed(feedCtx, d.client, o.rate, now)
	}()
	lat, err := o.trialLatencies(ctx, d.client, now)
	stopFeed()
	wg.Wait()
	if err != nil {
		return err
	}
	if feedErr != nil {
		return fmt.Errorf("background feed: %w", feedErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Fprintf(out, "decision latency over %d trials, %d background observations posted meanwhile (%d/s asked):\n", len(lat), fed, o.rate)
	fmt.Fprintf(out, "  ingest that makes a model underperform -> its job admitted: p50 %.1f ms, p99 %.1f ms, max %.1f ms   (goal p99 < 100 ms)\n",
		q(0.5), q(0.99), q(1))
	return nil
}

func trialModel(i int) flywheel.ModelKey {
	return flywheel.ModelKey{Target: "fwd_ret_1d_T" + strconv.Itoa(i), ModelFamily: "ridge"}
}

// preloadTrials deploys every trial model 30 days ago with 19 losing days.
func preloadTrials(ctx context.Context, c *httpapi.Client, trials int, today time.Time) error {
	deps := make([]flywheel.Deployment, trials)
	var obs []flywheel.Observation
	for i := range deps {
		k := trialModel(i)
		deps[i] = flywheel.Deployment{ModelKey: k, ModelVersion: "v1", DeployedAt: today.AddDate(0, 0, -30)}
		for day := 20; day > 1; day-- {
			obs = append(obs, losingDay(k, today.AddDate(0, 0, -day), day))
		}
	}
	if _, err := c.PostDeployments(ctx, deps); err != nil {
		return fmt.Errorf("preload deployments: %w", err)
	}
	for len(obs) > 0 {
		n := min(10_000, len(obs))
		if _, err := c.PostObservations(ctx, obs[:n]); err != nil {
			return fmt.Errorf("preload observations: %w", err)
		}
		obs = obs[n:]
	}
	return nil
}

// losingDay is a day of a model that expects to earn and loses.
func losingDay(k flywheel.ModelKey, day time.Time, i int) flywheel.Observation {
	exp := 0.003
	return flywheel.Observation{TS: day.Add(20 * time.Hour), ModelKey: k, ModelVersion: "v1",
		PnL: -0.004 + 0.002*float64(i%3-1), ExpectedPnL: &exp}
}

// trialLatencies tips each trial model into underperformance with its
// 20th day and times the admission of its job.
func (o *decideBench) trialLatencies(ctx context.Context, c *httpapi.Client, today time.Time) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, o.trials)
	for i := range o.trials {
		k := trialModel(i)
		t0 := time.Now()
		if _, err := c.PostObservations(ctx, []flywheel.Observation{losingDay(k, today.AddDate(0, 0, -1), 1)}); err != nil {
			return nil, fmt.Errorf("trial %d: %w", i, err)
		}
		for {
			jobs, err := c.Jobs(ctx, flywheel.JobFilter{Model: &k, Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("trial %d: %w", i, err)
			}
			if len(jobs) > 0 {
				lat = append(lat, time.Since(t0))
				break
			}
			if time.Since(t0) > 30*time.Second {
				return nil, fmt.Errorf("trial %d: no job for %s within 30s", i, k)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return lat, nil
}

// backgroundFeed posts good observations of 100 other models at rate a
// second, in batches every 100 ms, until ctx is done.
func backgroundFeed(ctx context.Context, c *httpapi.Client, rate int, today time.Time) (int, error) {
	if rate == 0 {
		return 0, nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	per := max(1, rate/10)
	sent, seq := 0, 0
	for {
		select {
		case <-ctx.Done():
			return sent, nil
		case <-tick.C:
		}
		batch := make([]flywheel.Observation, per)
		for j := range batch {
			exp := 0.001
			batch[j] = flywheel.Observation{
				EventID:  "bg-" + strconv.Itoa(seq),
				TS:       today.Add(-time.Duration(seq%86400) * time.Second),
				ModelKey: flywheel.ModelKey{Target: "fwd_ret_1d_BG" + strconv.Itoa(seq%100), ModelFamily: "ridge"},
				PnL:      0.001 + 0.0005*float64(seq%3-1), ExpectedPnL: &exp,
			}
			seq++
		}
		if _, err := c.PostObservations(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return sent, nil
			}
			return sent, err
		}
		sent += per
	}
}
