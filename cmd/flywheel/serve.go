package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/dashboard"
	"github.com/flywheel-ml/flywheel/engine"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/metrics"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/propagate"
	"github.com/flywheel-ml/flywheel/runner"
	"github.com/flywheel-ml/flywheel/sqlite"
)

func newServeCmd(e *env) *cobra.Command {
	var cfgPath, db, listen, debugListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: the ingest API over the learning database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, e.getenv, func(c *config.Config) {
				if cmd.Flags().Changed("db") {
					c.DB = db
				}
				if cmd.Flags().Changed("listen") {
					c.Listen = listen
				}
			})
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log, e.stderr)
			if debugListen != "" {
				stop, err := serveDebug(debugListen, logger)
				if err != nil {
					return err
				}
				defer stop()
			}
			return serve(cmd.Context(), cfg, logger, nil)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (YAML)")
	cmd.Flags().StringVar(&db, "db", config.DefaultDB, "path of the SQLite learning database (overrides the file and $FLYWHEEL_DB)")
	cmd.Flags().StringVar(&listen, "listen", config.DefaultListen, "address to listen on (overrides the file and $FLYWHEEL_LISTEN)")
	cmd.Flags().StringVar(&debugListen, "debug-listen", "", "serve Go's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty")
	return cmd
}

// serveDebug serves the runtime's profiles on their own listener, apart
// from the API and its tokens: an operator's tool, to be bound to
// loopback. It returns a function that stops it.
func serveDebug(addr string, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("debug listener stopped", "err", err)
		}
	}()
	logger.Info("profiles served", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the daemon until ctx is done. onListen, when set, is called
// with the bound address once the daemon accepts connections.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, onListen func(addr string)) error {
	store, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("open learning database: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("close learning database", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // on an early return; Shutdown closes it otherwise
	addr := ln.Addr().String()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	st := metrics.InstrumentStore(store, m)
	prop, err := newPropagator(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	if prop != nil {
		defer prop.Close()
	}
	var eng *engine.Engine
	notify := func(kind string, res flywheel.IngestResult) { eng.Notify(kind, res) }
	run, err := newRunner(cfg, st, logger, "http://"+addr, notify)
	if err != nil {
		return err
	}
	eng, err = engine.New(engine.Config{
		Store:        st,
		OnPass:       m.ObserveLearnerPass,
		Logger:       logger,
		CILS:         cfg.Learners.CILS,
		ARPO:         cfg.Learners.ARPO,
		Market:       marketLoader(cfg.Learners.Market),
		Orchestrator: cfg.Orchestrator,
		Interval:     cfg.Learners.Interval,
		KeepInsights: cfg.Learners.KeepInsights,
		Config:       configWriter(prop),
		OnJobs: func() {
			if run != nil {
				run.Notify()
			}
		},
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(cfg, st, logger, eng, run, prop, m, reg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if len(cfg.Tokens) == 0 {
		logger.Warn("no tokens configured: the API is open to every local user, so it listens on loopback only", "addr", addr)
	}
	logger.Info("flywheel serving", "addr", addr, "db", cfg.DB, "executor", cfg.Executor.Kind, "version", versionString())
	bgCtx, stopBackground := context.WithCancel(ctx)
	var bg sync.WaitGroup
	background := func(run func(context.Context) error) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := run(bgCtx); err != nil {
				logger.Error("background loop stopped", "err", err)
			}
		}()
	}
	background(eng.Run)
	if run != nil {
		background(run.Run)
	}
	defer func() {
		stopBackground()
		bg.Wait()
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if onListen != nil {
		onListen(addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newHandler assembles the daemon's HTTP interface.
func newHandler(cfg config.Config, store flywheel.Store, logger *slog.Logger, eng *engine.Engine, run *runner.Runner,
	prop *propagate.Propagator, m *metrics.Metrics, reg *prometheus.Registry) http.Handler {
	tokens := make([]httpapi.Token, len(cfg.Tokens))
	for i, t := range cfg.Tokens {
		tokens[i] = httpapi.Token{Name: t.Name, Secret: t.Secret, Role: httpapi.Role(t.Role)}
	}
	plan := func(ctx context.Context) (*orchestrator.Plan, error) { return eng.Decide(ctx, false) }
	reg.MustRegister(metrics.NewStateCollector(metrics.CachedState(metrics.DaemonState(store, plan, eng.Health), 15*time.Second, nil), 10*time.Second, logger))
	api := m.IngestMiddleware(m.InstrumentHandler("api", apiHandler(cfg, store, logger, eng, run, prop, tokens)))
	dash := m.InstrumentHandler("dashboard", dashboard.New(dashboard.Config{
		Store: store, Logger: logger, Tokens: tokens, ConfigActions: dashboardActions(prop), Plan: plan, Health: eng.Health,
	}))
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/readyz", api)
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("/", dash)
	return mux
}

// dashboardActions adapts the propagator to the dashboard's buttons; a
// nil *Propagator becomes a nil interface, which hides them.
func dashboardActions(p *propagate.Propagator) dashboard.ConfigActions {
	if p == nil {
		return nil
	}
	return approveFromDashboard{p}
}

// approveFromDashboard gives approvals made with a button their reason.
type approveFromDashboard struct{ *propagate.Propagator }

func (a approveFromDashboard) Approve(ctx context.Context, id, actor string) (flywheel.ConfigChange, error) {
	return a.Propagator.Approve(ctx, id, actor, "approved on the dashboard")
}

// apiHandler is the JSON API.
func apiHandler(cfg config.Config, store flywheel.Store, logger *slog.Logger, eng *engine.Engine, run *runner.Runner,
	prop *propagate.Propagator, tokens []httpapi.Token) http.Handler {
	return httpapi.NewServer(httpapi.Config{
		Store:        store,
		Logger:       logger,
		Tokens:       tokens,
		MaxBodyBytes: cfg.API.MaxBodyBytes,
		Version:      versionString(),
		OnIngest: func(kind string, res flywheel.IngestResult) {
			eng.Notify(kind, res)
			if kind == "runs" && run != nil {
				run.Notify() // a job may have reported its run
			}
		},
		Cancel:     canceller(run, store),
		Propagator: configPropagator(prop),
		Logs:       jobLogs(run),
		Plan: func(ctx context.Context) (any, error) {
			return eng.Decide(ctx, false)
		},
		Health: func(ctx context.Context) (any, error) {
			return eng.Health(ctx)
		},
	})
}

// newPropagator opens the pipeline's config directory for learned and
// manual config changes; nil when there is none to write to. A daemon
// that runs jobs creates the directory: its jobs are given it.
func newPropagator(ctx context.Context, cfg config.Config, store flywheel.Store, logger *slog.Logger) (*propagate.Propagator, error) {
	dir := cfg.PipelineConfigDir
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if cfg.Executor.Kind == config.ExecutorNone {
			logger.Info("no pipeline config directory: config changes are refused", "pipeline_config_dir", dir)
			return nil, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("pipeline config directory: %w", err)
		}
	}
	p, err := propagate.New(ctx, propagate.Config{Dir: dir, Store: store, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("pipeline config directory %s: %w", dir, err)
	}
	return p, nil
}

// configWriter and configPropagator pass a nil *Propagator on as a nil
// interface, which the engine and the API test for.
func configWriter(p *propagate.Propagator) engine.ConfigWriter {
	if p == nil {
		return nil
	}
	return p
}

func configPropagator(p *propagate.Propagator) httpapi.ConfigPropagator {
	if p == nil {
		return nil
	}
	return p
}
