// Package dashboard is the web dashboard the daemon serves at /: pages
// rendered on the server with html/template, charts drawn as SVG on the
// server, templates, stylesheet and script embedded in the binary, so it
// works with no network and no JavaScript build.
//
// Pages: the overview (training priorities, active jobs, scheduled vs
// completed jobs, resources and budget, the loop's health), a model (runs
// and scores, live P&L and size, signals, jobs, outcomes), the latest
// insights of both learners, config changes with their buttons, and the
// plan. Each page refreshes its main element in place every few seconds
// from the same URL with ?fragment=1, so it stays live without a reload.
//
// It reads only through the Store with bounded queries, and through the
// Plan and Health functions, whose results it keeps for a few seconds: at
// 10,000 models a decision costs about a second, far more than a page may.
package dashboard

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// DefaultRefresh is how often a page refreshes itself, and how long a
// plan or health figure is reused, when Config.Refresh is zero.
const DefaultRefresh = 5 * time.Second

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ConfigActions are the buttons of the config page. The propagator
// (*propagate.Propagator) has these methods. actor is the name of the
// dashboard user's token.
type ConfigActions interface {
	Approve(ctx context.Context, id, actor string) (flywheel.ConfigChange, error)
	Reject(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
	Rollback(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
}

// Config is what the dashboard needs.
type Config struct {
	// Store is the learning database; required.
	Store flywheel.Store
	// Plan returns what the scheduler would do now without acting, and
	// Health the loop's health (engine.Decide(ctx, false), engine.Health);
	// nil hides what they feed.
	Plan   func(ctx context.Context) (*orchestrator.Plan, error)
	Health func(ctx context.Context) (orchestrator.LoopHealth, error)
	// Tokens are the API's tokens: a user logs in by pasting one. With
	// none the dashboard is open, like the API, which then listens on
	// loopback only.
	Tokens []httpapi.Token
	// ConfigActions carries out approve, reject and rollback; nil hides
	// the buttons.
	ConfigActions ConfigActions
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means the system clock.
	Now func() time.Time
	// Refresh is how often pages refresh and cached views are renewed; 0
	// means DefaultRefresh.
	Refresh time.Duration
}

// server holds the dashboard's dependencies and caches.
type server struct {
	store    flywheel.Store
	actions  ConfigActions
	logger   *slog.Logger
	now      func() time.Time
	refresh  time.Duration
	auth     *auth
	pages    *pages
	plan     *cached[*orchestrator.Plan]
	health   *cached[orchestrator.LoopHealth]
	insights *insightCache
}

// New returns the dashboard as an http.Handler, to be mounted at / of the
// daemon. It panics when cfg.Store is nil or a template does not parse,
// both programming errors.
func New(cfg Config) http.Handler {
	if cfg.Store == nil {
		panic("dashboard: Config.Store is nil")
	}
	s := &server{
		store:   cfg.Store,
		actions: cfg.ConfigActions,
		logger:  cfg.Logger,
		now:     cfg.Now,
		refresh: cfg.Refresh,
		pages:   mustParsePages(),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.refresh <= 0 {
		s.refresh = DefaultRefresh
	}
	s.auth = newAuth(cfg.Tokens, s.now)
	if cfg.Plan != nil {
		s.plan = newCached(cfg.Plan, s.refresh, s.now, s.logger, "plan")
	}
	if cfg.Health != nil {
		s.health = newCached(cfg.Health, s.refresh, s.now, s.logger, "loop health")
	}
	s.insights = newInsightCache(cfg.Store)
	return s.routes()
}

// routes lists every route of the dashboard.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)

	mux.Handle("GET /{$}", s.page("overview", s.overview))
	mux.Handle("GET /models/{target}/{family}", s.page("model", s.model))
	mux.Handle("GET /insights", s.page("insights", s.insightsPage))
	mux.Handle("GET /config", s.page("config", s.configPage))
	mux.Handle("GET /plan", s.page("plan", s.planPage))
	mux.Handle("POST /config/{id}/{action}", s.requireSession(http.HandlerFunc(s.handleConfigAction)))
	return securityHeaders(mux)
}

// securityHeaders keeps the pages from running anything but their own
// script and from being framed by another site (clickjacking the
// rollback button).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}
