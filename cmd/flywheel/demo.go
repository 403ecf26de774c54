package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/httpapi"
)

type demoOptions struct {
	db, listen   string
	days, models int
	seed         uint64
	watch        time.Duration
	exit         bool
}

func newDemoCmd(e *env) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop on a synthetic market: a daemon, the local executor and the reference pipeline",
		Long: `Start the daemon on an embedded SQLite database in a temporary directory,
with the local executor running the reference pipeline (flywheel train) on
its built-in synthetic market. Report a history of training runs and live
P&L in which some models decay, then print what the loop does as it
happens: signals, admitted jobs, config changes, training runs, outcomes.
Then keep serving the API and the dashboard until interrupted, or exit
with --exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&o.db, "db", "", "database path (default: in the temporary directory, removed at exit)")
	cmd.Flags().StringVar(&o.listen, "listen", config.DefaultListen, "address to serve on (a free port is used if it is taken)")
	cmd.Flags().IntVar(&o.days, "days", 60, "days of live history to report")
	cmd.Flags().IntVar(&o.models, "models", 6, "models (targets on the synthetic market's 8 assets)")
	cmd.Flags().Uint64Var(&o.seed, "seed", 1, "random seed")
	cmd.Flags().DurationVar(&o.watch, "watch", 90*time.Second, "how long to watch the loop at most")
	cmd.Flags().BoolVar(&o.exit, "exit", false, "exit once the loop has settled instead of serving")
	return cmd
}

func runDemo(ctx context.Context, e *env, o demoOptions) error {
	if o.days < 25 || o.models < 1 || o.models > 16 {
		return usageError{errors.New("demo: --days must be at least 25 and --models in [1, 16]")}
	}
	dir, err := os.MkdirTemp("", "flywheel-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := demoConfig(dir, o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr, errc, err := startDemoDaemon(ctx, e, cfg)
	if err != nil {
		return err
	}
	api := "http://" + addr
	fmt.Fprintf(e.stdout, "flywheel demo: daemon at %s (dashboard at %s/), database %s\n", api, api, cfg.DB)
	fmt.Fprintf(e.stdout, "jobs run `flywheel train` on the synthetic market; pipeline config in %s\n\n", cfg.PipelineConfigDir)
	c := httpapi.NewClient(api, "", nil)
	if err := feedMarket(ctx, c, o); err != nil {
		return err
	}
	if err := watchLoop(ctx, e.stdout, c, o.watch); err != nil {
		return err
	}
	if o.exit {
		cancel()
		return <-errc
	}
	fmt.Fprintf(e.stdout, "\nserving %s until interrupted; try: flywheel plan --api %s, or open %s/ in a browser\n", api, api, api)
	return <-errc
}

// demoConfig is the daemon's configuration for the demo: the local
// executor running this binary's reference pipeline.
func demoConfig(dir string, o demoOptions) (config.Config, error) {
	exe, err := selfPath()
	if err != nil {
		return config.Config{}, err
	}
	cfg := config.Default()
	cfg.DB, cfg.Listen, cfg.Log.Level = o.db, o.listen, "error"
	if cfg.DB == "" {
		cfg.DB = filepath.Join(dir, "flywheel.db")
	}
	cfg.PipelineConfigDir = filepath.Join(dir, "CONFIG")
	if err := os.Mkdir(cfg.PipelineConfigDir, 0o755); err != nil {
		return config.Config{}, err
	}
	cfg.Learners.Interval = 2 * time.Second
	cfg.Executor.Kind = config.ExecutorLocal
	cfg.Executor.Command = exe + " train --target {target} --model-family {model_family} --config-dir {config_dir} --folds 3"
	cfg.Executor.StateDir = filepath.Join(dir, "jobs")
	cfg.Executor.PollInterval = 200 * time.Millisecond
	return cfg, cfg.Validate()
}

// selfPath is this program, for the jobs to run: an absolute path, or
// the command found on PATH under the name it was started by.
func selfPath() (string, error) {
	if p := os.Args[0]; !strings.ContainsRune(p, filepath.Separator) {
		if found, err := exec.LookPath(p); err == nil {
			return found, nil
		}
	}
	return os.Executable()
}

// startDemoDaemon serves on cfg.Listen, or on a free port when it is taken.
func startDemoDaemon(ctx context.Context, e *env, cfg config.Config) (string, chan error, error) {
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	start := func() { errc <- serve(ctx, cfg, newLogger(cfg.Log, e.stderr), func(a string) { addrc <- a }) }
	go start()
	select {
	case addr := <-addrc:
		return addr, errc, nil
	case err := <-errc:
		fmt.Fprintf(e.stderr, "flywheel demo: %v; using a free port\n", err)
	}
	cfg.Listen = "127.0.0.1:0"
	go start()
	select {
	case addr := <-addrc:
		return addr, errc, nil
	case err := <-errc:
		return "", nil, err
	}
}

// feedMarket reports, through the API, the history of models on the
// synthetic market's assets: five training runs each, a deployment, the
// pipeline's weekly evaluations of the deployed model since, and days of
// live P&L ending today. Every other model decays: its live P&L falls
// short of what it expects and its last two evaluations scored 10% and
// 20% below its training runs.
func feedMarket(ctx context.Context, c *httpapi.Client, o demoOptions) error {
	rng := rand.New(rand.NewPCG(o.seed, 2))
	today := time.Now().UTC().Truncate(24 * time.Hour)
	deployed := today.AddDate(0, 0, -o.days)
	var runs []flywheel.Run
	var deps []flywheel.Deployment
	var obs []flywheel.Observation
	for i := range o.models {
		k := flywheel.ModelKey{Target: fmt.Sprintf("fwd_ret_5d_SYN%d", i%8), ModelFamily: []string{"ridge", "logistic"}[(i/8)%2]}
		decays := i%2 == 1
		for r := range 5 {
			score := 0.10 + 0.004*rng.NormFloat64()
			start := deployed.AddDate(0, 0, -30+6*r).Add(9 * time.Hour)
			fin := start.Add(time.Hour)
			runs = append(runs, flywheel.Run{RunID: fmt.Sprintf("hist-%s-%s-%d", k.Target, k.ModelFamily, r), ModelKey: k,
				Status: flywheel.RunSucceeded, StartedAt: start, FinishedAt: &fin,
				Metrics:           map[string]float64{flywheel.MetricValidationScore: score},
				Config:            map[string]any{"feature_selection": map[string]any{"top_n": 8, "aggregation_method": "mean"}},
				FeatureImportance: map[string]float64{"ret_5d": rng.Float64(), "mom_60d": rng.Float64(), "vol_20d": rng.Float64()},
				Cost:              flywheel.Cost{CPUHours: 0.2, WallSeconds: 600}})
		}
		deps = append(deps, flywheel.Deployment{ModelKey: k, ModelVersion: "v1", RunID: runs[len(runs)-1].RunID, DeployedAt: deployed})
		evals := (o.days - 1) / 7
		for e := 1; e <= evals; e++ {
			score := 0.10 + 0.003*rng.NormFloat64()
			switch {
			case decays && e == evals:
				score = 0.08
			case decays && e == evals-1:
				score = 0.09
			}
			at := deployed.AddDate(0, 0, 7*e).Add(6 * time.Hour)
			fin := at.Add(5 * time.Minute)
			runs = append(runs, flywheel.Run{RunID: fmt.Sprintf("eval-%s-%s-%d", k.Target, k.ModelFamily, e), ModelKey: k,
				Kind: flywheel.RunEvaluation, Status: flywheel.RunSucceeded, StartedAt: at, FinishedAt: &fin,
				Metrics: map[string]float64{flywheel.MetricValidationScore: score}})
		}
		for d := o.days; d >= 1; d-- {
			exp, pos := 0.003, 1.0
			pnl := exp + 0.004*rng.NormFloat64()
			if decays && d < o.days*2/3 {
				pnl = -0.004 + 0.004*rng.NormFloat64()
			}
			obs = append(obs, flywheel.Observation{TS: today.AddDate(0, 0, -d).Add(21 * time.Hour), ModelKey: k, ModelVersion: "v1",
				Symbol: fmt.Sprintf("SYN%d", i%8), PnL: pnl, ExpectedPnL: &exp, Position: &pos})
		}
	}
	// Live data first, and the runs once ARPO has learned from all of it,
	// so that the decision the runs trigger weighs both learners' evidence,
	// as in a daemon that has been running for a while. The observations go
	// before the deployments so that ARPO's first pass already sees them:
	// position sizes move from the previous pass's at most 0.1 a day.
	if _, err := c.PostObservations(ctx, obs); err != nil {
		return fmt.Errorf("report live: %w", err)
	}
	if _, err := c.PostDeployments(ctx, deps); err != nil {
		return fmt.Errorf("report deployments: %w", err)
	}
	if err := waitForARPO(ctx, c, len(obs)); err != nil {
		return err
	}
	if _, err := c.PostRuns(ctx, runs); err != nil {
		return fmt.Errorf("report runs: %w", err)
	}
	return nil
}

// waitForARPO waits until ARPO has learned from n observations.
func waitForARPO(ctx context.Context, c *httpapi.Client, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		stored, err := c.Insight(ctx, flywheel.InsightARPO, 0)
		if err != nil && flywheel.Code(err) != flywheel.ENotFound {
			return fmt.Errorf("waiting for ARPO: %w", err)
		}
		var in arpo.Insights
		if err == nil && json.Unmarshal(stored.Body, &in) == nil && in.ObservationsUsed >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("ARPO did not learn from the live history within 30 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
