// Package engine runs the learners inside the daemon. It recomputes the
// insights when records arrive (debounced, so that a burst of batches
// costs one pass) and on an interval, and stores every version. The
// learners themselves are pure packages; the engine does their I/O:
// it loads a snapshot from the store, calls them, and stores the result.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
	"github.com/flywheel-ml/flywheel/propagate"
)

// Defaults for Config. The debounce only gathers the batches of a burst
// that arrive together: under a steady feed passes run back to back and
// each covers what arrived during the one before, so a longer wait would
// add to every decision's latency and save little work.
const (
	DefaultInterval = 5 * time.Minute
	DefaultDebounce = 5 * time.Millisecond
)

// Config is what an Engine needs.
type Config struct {
	Store  flywheel.Store
	Logger *slog.Logger
	// Clock stamps the insights; nil means the system clock.
	Clock flywheel.Clock
	// CILS configures the training-side learner.
	CILS cils.Config
	// ARPO configures the portfolio-side learner.
	ARPO arpo.Config
	// Market, when set, returns the market index's daily returns for
	// ARPO's regime model; it is called on every ARPO pass so that a file
	// updated daily is read afresh.
	Market func(context.Context) ([]arpo.MarketPoint, error)
	// Orchestrator configures the decisions.
	Orchestrator orchestrator.Config
	// OnJobs, when set, is called after a decision created jobs, so that
	// the executor picks them up at once.
	OnJobs func()
	// OnPass, when set, hears how long each learner pass ("cils", "arpo")
	// and each decision ("decide") took, and whether it failed.
	OnPass func(what string, d time.Duration, err error)
	// Config, when set, writes each admitted job's config updates into the
	// pipeline's files before the job runs, and judges canaries.
	Config ConfigWriter
	// LiveWindow is how long a retrained model trades before its live
	// outcome is measured; 0 means DefaultLiveWindow.
	LiveWindow time.Duration
	// Interval is how often a pass runs without being woken; 0 means
	// DefaultInterval.
	Interval time.Duration
	// Debounce is how long a pass waits after a wake-up for more records;
	// 0 means DefaultDebounce.
	Debounce time.Duration
	// ARPOStoreEvery is how often, at most, ARPO insights that no signal
	// cites are stored; 0 means DefaultARPOStoreEvery.
	ARPOStoreEvery time.Duration
	// KeepInsights is how many of each learner's latest insight versions
	// are kept, besides those a signal or config change cites; 0 keeps
	// every version.
	KeepInsights int
}

// Engine recomputes insights. Its methods are safe for concurrent use.
type Engine struct {
	store      flywheel.Store
	logger     *slog.Logger
	clock      flywheel.Clock
	cils       cils.Config
	arpo       arpo.Config
	market     func(context.Context) ([]arpo.MarketPoint, error)
	orch       orchestrator.Config
	onJobs     func()
	config     ConfigWriter
	onPass     func(string, time.Duration, error)
	liveWindow time.Duration
	interval   time.Duration
	debounce   time.Duration

	wake chan struct{}
	mu   sync.Mutex
	// wokeAt is the first wake-up since the last pass began; zero when
	// none.
	wokeAt time.Time
	// dirty names the learners whose input changed since their last pass,
	// and "decide" when a decision is due.
	dirty map[string]bool
	// live is ARPO's window of observations, and learner the ARPO
	// learner that keeps the judgements of the models whose observations
	// did not change; learnerMu makes a refresh of the window and the
	// pass over it one step.
	live      liveWindow
	learnerMu sync.Mutex
	learner   *arpo.Learner
	// encoder encodes the ARPO insights to store, reusing the encoding
	// of the models whose entries did not change since the last version.
	encoderMu sync.Mutex
	encoder   arpo.Encoder
	// cached holds the latest insights the engine stored or read, decoded:
	// the engine is their only writer, so the store need not be reread
	// and a megabyte of JSON need not be decoded on every pass.
	cachedMu   sync.Mutex
	cachedCILS *cachedInsight[cils.Insights]
	cachedARPO *cachedInsight[arpo.Insights]
	// arpoStoredAt is when ARPO insights were last stored, and arpoCited
	// the highest ARPO version a stored signal cites.
	arpoStoredAt   time.Time
	arpoCited      int64
	arpoStoreEvery time.Duration
	keepInsights   int
	// lastTrained is when each model's latest successful training run
	// finished, as of the last CILS pass; nil before the first.
	lastTrained map[flywheel.ModelKey]time.Time
	// decideMu serialises decisions, so that two never admit jobs from
	// the same snapshot; it also guards signals.
	decideMu sync.Mutex
	// signals is the engine's copy of the stored signals of the last
	// orchestrator.SignalMemory, newest first; nil until read.
	signals *[]flywheel.Signal
}

// New returns an Engine; it fails when a learner's configuration is invalid.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: no store")
	}
	if err := cfg.CILS.Validate(); err != nil {
		return nil, fmt.Errorf("cils: %w", err)
	}
	if err := cfg.ARPO.Validate(); err != nil {
		return nil, fmt.Errorf("arpo: %w", err)
	}
	learner, err := arpo.NewLearner(cfg.ARPO)
	if err != nil {
		return nil, err
	}
	if err := cfg.Orchestrator.Validate(); err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	e := &Engine{
		store:      cfg.Store,
		logger:     cfg.Logger,
		clock:      cfg.Clock,
		cils:       cfg.CILS,
		arpo:       cfg.ARPO,
		market:     cfg.Market,
		orch:       cfg.Orchestrator,
		onJobs:     cfg.OnJobs,
		config:     cfg.Config,
		onPass:     cfg.OnPass,
		liveWindow: cfg.LiveWindow,
		interval:   cfg.Interval,
		debounce:   cfg.Debounce,
		wake:       make(chan struct{}, 1),
		dirty:      map[string]bool{},
		learner:    learner,
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.clock == nil {
		e.clock = flywheel.SystemClock
	}
	if e.interval <= 0 {
		e.interval = DefaultInterval
	}
	if e.liveWindow <= 0 {
		e.liveWindow = DefaultLiveWindow
	}
	if e.debounce <= 0 {
		e.debounce = DefaultDebounce
	}
	e.keepInsights = max(0, cfg.KeepInsights)
	if e.arpoStoreEvery = cfg.ARPOStoreEvery; e.arpoStoreEvery <= 0 {
		e.arpoStoreEvery = DefaultARPOStoreEvery
	}
	return e, nil
}

// decide marks a decision due in the dirty set.
const decide = "decide"

// learnerOf maps a kind of record to the learner that reads it; "jobs"
// (a job ended, freeing its slot) only calls for a decision.
var learnerOf = map[string]string{
	"runs":        flywheel.InsightCILS,
	"live":        flywheel.InsightARPO,
	"deployments": flywheel.InsightARPO,
	"jobs":        decide,
}

// Notify tells the engine that records of kind ("runs", "live",
// "deployments", "jobs") were stored. It never blocks: wake-ups coalesce.
func (e *Engine) Notify(kind string, _ flywheel.IngestResult) {
	if l, ok := learnerOf[kind]; ok {
		e.markDirty(l)
	}
	e.mu.Lock()
	if e.wokeAt.IsZero() {
		e.wokeAt = time.Now()
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) markDirty(learner string) {
	e.mu.Lock()
	e.dirty[learner] = true
	e.mu.Unlock()
}

// Run makes passes until ctx is done: one at start for each learner whose
// stored insights are behind the store, one after each wake-up, and one
// every interval. A failed pass is logged and retried at the next
// occasion; it does not stop the engine.
func (e *Engine) Run(ctx context.Context) error {
	e.catchUp(ctx)
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
			select {
			case <-time.After(e.sinceWake()):
			case <-ctx.Done():
				return nil
			}
		case <-tick.C:
			// Sizes are smoothed over elapsed time, so ARPO runs on every
			// tick even without new data; time also ages signals, ends
			// cooldowns and resets the budget, so a decision is due too.
			e.markDirty(flywheel.InsightARPO)
			e.markDirty(decide)
		}
		e.mu.Lock()
		e.wokeAt = time.Time{}
		e.mu.Unlock()
		e.pass(ctx)
	}
}

// sinceWake is how long the debounce still has to run: it counts from
// the first wake-up since the last pass began, so that records which
// arrived while a pass ran, and so have already waited, are not made to
// wait the whole debounce again.
func (e *Engine) sinceWake() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wokeAt.IsZero() {
		return e.debounce
	}
	return max(0, e.debounce-time.Since(e.wokeAt))
}

// catchUp marks a learner dirty when its stored insights do not cover
// what the store holds: records reported while the daemon was down, or a
// pass that a crash interrupted.
func (e *Engine) catchUp(ctx context.Context) {
	counts, err := e.store.Counts(ctx)
	if err != nil {
		e.logger.Error("engine: count records", "err", err)
		return
	}
	prev, _, err := e.latestCILS(ctx)
	if err != nil {
		e.logger.Error("engine: read cils insights", "err", err)
	} else if counts.Runs > 0 && (prev == nil || int64(prev.Runs) != counts.Runs) {
		e.markDirty(flywheel.InsightCILS)
	}
	if counts.LiveObservations > 0 {
		e.markDirty(flywheel.InsightARPO)
	}
	e.pass(ctx)
}

// pass runs every dirty learner once, then decides when a learner made
// new insights or a decision was asked for. ARPO's insights are stored
// after the decision (see pendingARPO); CILS's, which only runs arrive to
// change, before it.
func (e *Engine) pass(ctx context.Context) {
	learned := false
	if e.takeDirty(flywheel.InsightCILS) {
		start := time.Now()
		_, err := e.LearnCILS(ctx)
		learned = e.learnt(ctx, flywheel.InsightCILS, time.Since(start), err)
		if ctx.Err() != nil {
			return // shutting down
		}
	}
	// ARPO's pass is timed as its learning plus its storing, which
	// happen on either side of the decision.
	var pending *pendingARPO
	var took time.Duration
	if e.takeDirty(flywheel.InsightARPO) {
		start := time.Now()
		var err error
		pending, err = e.learnARPO(ctx)
		took = time.Since(start)
		if err != nil {
			e.learnt(ctx, flywheel.InsightARPO, took, err)
			if ctx.Err() != nil {
				return
			}
		}
		learned = learned || pending != nil
	}
	if due := e.takeDirty(decide); due || learned {
		start := time.Now()
		_, err := e.Decide(ctx, true)
		e.observe(decide, start, err)
		if err != nil && ctx.Err() == nil {
			e.logger.Error("engine: decision failed; retrying at the next occasion", "err", err)
			e.markDirty(decide)
		}
	}
	if pending != nil && !e.mustStoreARPO(ctx, pending) {
		e.learnt(ctx, flywheel.InsightARPO, took, nil)
		pending = nil
	}
	if pending != nil {
		// Stored even when the engine is stopping: a decision may already
		// cite their version.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		start := time.Now()
		_, err := e.storeARPO(sctx, pending)
		cancel()
		e.learnt(ctx, flywheel.InsightARPO, took+time.Since(start), err)
	}
}

// storeTimeout bounds storing a pass's insights once the engine is
// stopping.
const storeTimeout = 10 * time.Second

// takeDirty reports whether what is dirty, and clears it.
func (e *Engine) takeDirty(what string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.dirty[what]
	e.dirty[what] = false
	return d
}

// learnt reports a learner's pass and whether it succeeded; a failed one
// is logged and marked dirty, to be retried at the next occasion.
func (e *Engine) learnt(ctx context.Context, learner string, took time.Duration, err error) bool {
	if e.onPass != nil {
		e.onPass(learner, took, err)
	}
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		e.logger.Error("engine: pass failed; retrying at the next occasion", "learner", learner, "err", err)
		e.markDirty(learner)
	}
	return false
}

// cachedInsight is a decoded insight and its version.
type cachedInsight[T any] struct {
	in      *T
	version int64
	// unstored is set while the insights are only in memory.
	unstored bool
}

// latest returns the latest insights of kind and their version, from the
// cache or else the store (nil and 0 when there are none). An unreadable
// stored version (an older layout) must not stop the loop: it is logged
// and the loop goes on as if there were none.
func latest[T any](ctx context.Context, e *Engine, kind string, slot **cachedInsight[T]) (*T, int64, error) {
	e.cachedMu.Lock()
	c := *slot
	e.cachedMu.Unlock()
	if c != nil {
		return c.in, c.version, nil
	}
	stored, err := e.store.Insight(ctx, kind, 0)
	if flywheel.Code(err) == flywheel.ENotFound {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s insights: %w", kind, err)
	}
	in := new(T)
	if err := json.Unmarshal(stored.Body, in); err != nil {
		e.logger.Warn("engine: the latest insights do not decode; going on without them", "kind", kind, "version", stored.Version, "err", err)
		return nil, stored.Version, nil
	}
	remember(e, slot, in, stored.Version)
	return in, stored.Version, nil
}

// remember caches the latest insights of a kind.
func remember[T any](e *Engine, slot **cachedInsight[T], in *T, version int64) {
	e.cachedMu.Lock()
	*slot = &cachedInsight[T]{in: in, version: version}
	e.cachedMu.Unlock()
}

// ConfigWriter is the part of the config propagator the engine uses.
type ConfigWriter interface {
	ApplyJob(ctx context.Context, j flywheel.Job, actor string) ([]propagate.JobUpdate, error)
	EvaluateCanaries(ctx context.Context, actor string) ([]propagate.CanaryResult, error)
}

func (e *Engine) observe(what string, start time.Time, err error) {
	if e.onPass != nil {
		e.onPass(what, time.Since(start), err)
	}
}

// pruneEvery is how many versions of a learner's insights are stored
// between two prunings of the old ones.
const pruneEvery = 50

// pruned deletes the old insight versions of kind, every pruneEvery
// versions, when the engine keeps a limited number. A failure is logged:
// the versions are pruned at the next occasion.
func (e *Engine) pruned(ctx context.Context, kind string, version int64) {
	if e.keepInsights == 0 || version%pruneEvery != 0 {
		return
	}
	n, err := e.store.PruneInsights(ctx, kind, e.keepInsights)
	if err != nil {
		e.logger.Error("engine: prune old insights", "kind", kind, "err", err)
		return
	}
	e.logger.Debug("old insights pruned", "kind", kind, "deleted", n, "kept", e.keepInsights)
}
