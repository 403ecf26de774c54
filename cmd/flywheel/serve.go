package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/engine"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/sqlite"
)

func newServeCmd(e *env) *cobra.Command {
	var cfgPath, db, listen string
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
			return serve(cmd.Context(), cfg, newLogger(cfg.Log, e.stderr), nil)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "daemon configuration file (YAML)")
	cmd.Flags().StringVar(&db, "db", config.DefaultDB, "path of the SQLite learning database (overrides the file and $FLYWHEEL_DB)")
	cmd.Flags().StringVar(&listen, "listen", config.DefaultListen, "address to listen on (overrides the file and $FLYWHEEL_LISTEN)")
	return cmd
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
	eng, err := engine.New(engine.Config{
		Store:        store,
		Logger:       logger,
		CILS:         cfg.Learners.CILS,
		ARPO:         cfg.Learners.ARPO,
		Market:       marketLoader(cfg.Learners.Market),
		Orchestrator: cfg.Orchestrator,
		Interval:     cfg.Learners.Interval,
	})
	if err != nil {
		return err
	}
	tokens := make([]httpapi.Token, len(cfg.Tokens))
	for i, t := range cfg.Tokens {
		tokens[i] = httpapi.Token{Name: t.Name, Secret: t.Secret, Role: httpapi.Role(t.Role)}
	}
	handler := httpapi.NewServer(httpapi.Config{
		Store:        store,
		Logger:       logger,
		Tokens:       tokens,
		MaxBodyBytes: cfg.API.MaxBodyBytes,
		Version:      versionString(),
		OnIngest:     eng.Notify,
		Plan: func(ctx context.Context) (any, error) {
			return eng.Decide(ctx, false)
		},
		Health: func(ctx context.Context) (any, error) {
			return eng.Health(ctx)
		},
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	if len(cfg.Tokens) == 0 {
		logger.Warn("no tokens configured: the API is open to every local user, so it listens on loopback only", "addr", addr)
	}
	logger.Info("flywheel serving", "addr", addr, "db", cfg.DB, "version", versionString())
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	engineCtx, stopEngine := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(engineCtx) }()
	defer func() {
		stopEngine()
		<-engineDone
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
