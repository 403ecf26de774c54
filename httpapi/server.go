// Package httpapi is flywheel's JSON API over HTTP: the server the daemon
// runs (NewServer) and the Client the command-line tool and the training
// pipeline use to talk to it.
//
// Every write is a batch that is decoded and validated whole before the
// store sees it, so a bad record rejects the batch and nothing is stored.
// Every error, whatever its cause, is a JSON object naming the code, and
// where it applies the field and the index of the offending record.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes
// is zero: room for about 300,000 live observations in one batch.
const DefaultMaxBodyBytes int64 = 64 << 20

// Config is what the server needs.
type Config struct {
	// Store is the learning database; required.
	Store flywheel.Store
	// Logger receives one line per request and the details of internal
	// errors; nil discards them.
	Logger *slog.Logger
	// Tokens guard the API. With none, every request is allowed: the
	// caller must then listen on loopback only.
	Tokens []Token
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Version is reported by GET /api/v1/status.
	Version string
	// Now is the clock; nil means the system clock.
	Now func() time.Time
	// OnIngest, when set, is called after a batch is committed that
	// changed something (accepted or updated records), with the kind of
	// record: "runs", "live" or "deployments". The daemon uses it to wake
	// its learners; it must not block.
	OnIngest func(kind string, res flywheel.IngestResult)
	// Cancel cancels a job where it runs; nil answers 503 to a cancel.
	Cancel CancelFunc
	// Propagator changes the pipeline's config files; nil (a nil
	// interface, not a nil pointer) answers 503 to every config write.
	Propagator ConfigPropagator
	// Logs opens a job's log; nil answers 503.
	Logs func(ctx context.Context, id string) (io.ReadCloser, error)
	// Plan returns what the scheduler would do now, without acting, and
	// Health the loop's health; nil answers 503.
	Plan   ViewFunc
	Health ViewFunc
}

// ViewFunc computes a read-only view for a GET.
type ViewFunc func(ctx context.Context) (any, error)

// server holds what the handlers share; the handlers themselves receive
// only the parts they use.
type server struct {
	store     flywheel.Store
	logger    *slog.Logger
	auth      *authenticator
	maxBody   int64
	version   string
	startedAt time.Time
	onIngest  func(kind string, res flywheel.IngestResult)
	cancel    CancelFunc
	logs      func(ctx context.Context, id string) (io.ReadCloser, error)
	prop      ConfigPropagator
	plan      ViewFunc
	health    ViewFunc
	now       func() time.Time
}

// NewServer returns the API as an http.Handler. It panics when cfg.Store
// is nil, which is a programming error rather than a runtime condition.
func NewServer(cfg Config) http.Handler {
	return newRouter(newServer(cfg))
}

func newServer(cfg Config) *server {
	if cfg.Store == nil {
		panic("httpapi: Config.Store is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = flywheel.SystemClock.Now
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return &server{
		store:     cfg.Store,
		logger:    logger,
		auth:      newAuthenticator(cfg.Tokens, logger),
		maxBody:   maxBody,
		version:   cfg.Version,
		startedAt: now().UTC(),
		onIngest:  cfg.OnIngest,
		cancel:    cfg.Cancel,
		logs:      cfg.Logs,
		prop:      cfg.Propagator,
		plan:      cfg.Plan,
		health:    cfg.Health,
		now:       now,
	}
}

// notifier returns what a batch handler of kind calls after a commit.
func (s *server) notifier(kind string) func(flywheel.IngestResult) {
	return func(res flywheel.IngestResult) {
		if s.onIngest != nil && res.Accepted+res.Updated > 0 {
			s.onIngest(kind, res)
		}
	}
}
