package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/httpapi"
)

type demoOptions struct {
	db, listen   string
	days, models int
	seed         uint64
	exit         bool
}

func newDemoCmd(e *env) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a daemon on an embedded database and feed it a synthetic market",
		Long: `Start the daemon with an embedded SQLite database, then play a synthetic
market through its API: models whose edge decays day by day, training runs
that restore it, deployments and live P&L. Prints what was stored, then
keeps serving until interrupted (or exits with --exit).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&o.db, "db", "", "database path (default: a temporary file, removed at exit)")
	cmd.Flags().StringVar(&o.listen, "listen", config.DefaultListen, "address to serve on (a free port is used if it is taken)")
	cmd.Flags().IntVar(&o.days, "days", 120, "trading days to simulate")
	cmd.Flags().IntVar(&o.models, "models", 6, "models to simulate")
	cmd.Flags().Uint64Var(&o.seed, "seed", 1, "random seed")
	cmd.Flags().BoolVar(&o.exit, "exit", false, "exit after the feed instead of serving")
	return cmd
}

func runDemo(ctx context.Context, e *env, o demoOptions) error {
	if o.days < 1 || o.models < 1 || o.models > 500 {
		return usageError{errors.New("demo: --days must be positive and --models in [1, 500]")}
	}
	if o.db == "" {
		dir, err := os.MkdirTemp("", "flywheel-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.db = filepath.Join(dir, "flywheel.db")
	}
	cfg := config.Default()
	cfg.DB, cfg.Listen, cfg.Log.Level = o.db, o.listen, "error"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	start := func() { errc <- serve(ctx, cfg, newLogger(cfg.Log, e.stderr), func(a string) { addrc <- a }) }
	go start()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		// The default port may be taken by another daemon: use any free one.
		fmt.Fprintf(e.stderr, "flywheel demo: %v; using a free port\n", err)
		cfg.Listen = "127.0.0.1:0"
		go start()
		select {
		case addr = <-addrc:
		case err := <-errc:
			return err
		}
	}
	api := "http://" + addr
	fmt.Fprintf(e.stdout, "flywheel demo: daemon at %s, database %s\n", api, o.db)
	c := httpapi.NewClient(api, "", nil)
	if err := feedMarket(ctx, c, o); err != nil {
		return err
	}
	if err := printDemoSummary(ctx, e.stdout, c, o); err != nil {
		return err
	}
	if err := printDemoInsights(ctx, e.stdout, c); err != nil {
		return err
	}
	if o.exit {
		cancel()
		return <-errc
	}
	fmt.Fprintf(e.stdout, "\nserving %s until interrupted; try: flywheel status --api %s\n", api, api)
	return <-errc
}

// demoModel is one synthetic model: its live edge decays at a known rate
// and a retrain restores it.
type demoModel struct {
	key     flywheel.ModelKey
	symbol  string
	edge0   float64
	decay   float64
	version int
	trained int // day of the last retrain
}

func (m *demoModel) edge(day int) float64 {
	return m.edge0 * math.Exp(-m.decay*float64(day-m.trained))
}

// feedMarket plays the synthetic market through the API, one day a batch.
func feedMarket(ctx context.Context, c *httpapi.Client, o demoOptions) error {
	rng := rand.New(rand.NewPCG(o.seed, 2))
	symbols := []string{"AAPL", "MSFT", "JPM", "XOM", "PFE", "WMT", "AMZN", "GE"}
	families := []string{"ridge", "logistic"}
	models := make([]*demoModel, o.models)
	for i := range models {
		models[i] = &demoModel{
			key:    flywheel.ModelKey{Target: "fwd_ret_5d_" + symbols[i%len(symbols)], ModelFamily: families[(i/len(symbols))%len(families)]},
			symbol: symbols[i%len(symbols)],
			edge0:  0.0015 + 0.001*rng.Float64(),
			decay:  0.01 + 0.03*rng.Float64(),
		}
		if i >= 2*len(symbols) {
			models[i].key.Target += fmt.Sprintf("_%d", i)
		}
	}
	// The market ends today: the learners judge recent live P&L.
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -o.days).Add(21 * time.Hour)
	for day := 0; day < o.days; day++ {
		ts := start.AddDate(0, 0, day)
		var runs []flywheel.Run
		var deps []flywheel.Deployment
		var obs []flywheel.Observation
		for _, m := range models {
			if day == 0 || (m.edge(day) < 0.4*m.edge0 && day-m.trained >= 10) {
				r, d := m.retrain(ts, day, rng)
				runs, deps = append(runs, r), append(deps, d)
			}
			exp := m.edge(day)
			pnl := exp + 0.01*rng.NormFloat64()
			pos := 1.0
			obs = append(obs, flywheel.Observation{
				TS: ts, ModelKey: m.key, ModelVersion: fmt.Sprintf("v%d", m.version),
				Symbol: m.symbol, PnL: pnl, ExpectedPnL: &exp, Position: &pos,
			})
		}
		if len(runs) > 0 {
			if _, err := c.PostRuns(ctx, runs); err != nil {
				return fmt.Errorf("day %d: report runs: %w", day, err)
			}
			if _, err := c.PostDeployments(ctx, deps); err != nil {
				return fmt.Errorf("day %d: report deployments: %w", day, err)
			}
		}
		if _, err := c.PostObservations(ctx, obs); err != nil {
			return fmt.Errorf("day %d: report live: %w", day, err)
		}
	}
	return nil
}

// retrain makes the training run and the deployment that restore m's edge.
func (m *demoModel) retrain(ts time.Time, day int, rng *rand.Rand) (flywheel.Run, flywheel.Deployment) {
	m.version++
	m.trained = day
	runID := fmt.Sprintf("%s.%s.v%d", m.key.Target, m.key.ModelFamily, m.version)
	started := ts.Add(-2 * time.Hour)
	finished := ts.Add(-30 * time.Minute)
	score := 0.05 + m.edge0*20 + 0.01*rng.NormFloat64()
	folds := make([]float64, 5)
	for i := range folds {
		folds[i] = score + 0.01*rng.NormFloat64()
	}
	run := flywheel.Run{
		RunID: runID, ModelKey: m.key, FeatureSet: "momentum_vol_rsi",
		Config:    map[string]any{"top_n": 50, "aggregation_method": "weighted_consensus"},
		StartedAt: started, FinishedAt: &finished, Status: flywheel.RunSucceeded,
		Metrics:    map[string]float64{flywheel.MetricValidationScore: score},
		FoldScores: folds,
		FeatureImportance: map[string]float64{
			"ret_1d": rng.Float64(), "mom_20d": rng.Float64(), "vol_20d": rng.Float64(), "rsi_14": rng.Float64(),
		},
		Cost: flywheel.Cost{CPUHours: 1.5, WallSeconds: 5400},
	}
	dep := flywheel.Deployment{ModelKey: m.key, ModelVersion: fmt.Sprintf("v%d", m.version), RunID: runID, DeployedAt: ts}
	return run, dep
}

func printDemoSummary(ctx context.Context, w io.Writer, c *httpapi.Client, o demoOptions) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "played %d days of %d models: %d training runs, %d deployments, %d live observations stored\n\n",
		o.days, o.models, st.Runs, st.Deployments, st.LiveObservations)
	models, err := c.Models(ctx, flywheel.ModelFilter{Limit: o.models})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tFAMILY\tRUNS\tLIVE VERSION\tDAYS LIVE\tP&L\tEXPECTED\tHIT RATE")
	for _, m := range models {
		s, err := c.LiveSummary(ctx, m.ModelKey, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		version := "-"
		if m.Deployed != nil {
			version = m.Deployed.ModelVersion
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%+.4f\t%+.4f\t%.0f%%\n",
			m.Target, m.ModelFamily, m.Runs, version, s.Observations, s.PnL, s.ExpectedPnL, 100*s.HitRate)
	}
	return tw.Flush()
}

// printDemoInsights waits for the learners to catch up with the feed and
// prints what they concluded.
func printDemoInsights(ctx context.Context, w io.Writer, c *httpapi.Client) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	var ci cils.Insights
	var ai arpo.Insights
	deadline := time.Now().Add(30 * time.Second)
	for {
		cv, cerr := c.Insight(ctx, flywheel.InsightCILS, 0)
		av, aerr := c.Insight(ctx, flywheel.InsightARPO, 0)
		if cerr == nil && aerr == nil && json.Unmarshal(cv.Body, &ci) == nil && json.Unmarshal(av.Body, &ai) == nil &&
			int64(ci.Runs) == st.Runs && int64(ai.Observations) == st.LiveObservations {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("demo: the learners did not catch up with the feed within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(w, "\nCILS: %d models, %d degrading, %d need retraining; ARPO: regime %s, %d underperforming, %d need retraining\n",
		ci.Models, len(ci.DegradingTargets), len(ci.TargetsNeedingRetrain), ai.Regime.Current, len(ai.UnderperformingPositions), len(ai.TargetsNeedingRetrain))
	for _, d := range ci.DegradingTargets {
		fmt.Fprintf(w, "  CILS %s/%s: %s\n", d.Target, d.ModelFamily, d.Reason)
	}
	for _, u := range ai.UnderperformingPositions {
		fmt.Fprintf(w, "  ARPO %s/%s: %s\n", u.Target, u.ModelFamily, u.Reason)
	}
	fmt.Fprintln(w, "see them whole with: flywheel insights cils | flywheel insights arpo (with --api)")
	return nil
}
