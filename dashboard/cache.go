package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// refreshTimeout bounds a background renewal of a cached view, which no
// request waits for.
const refreshTimeout = time.Minute

// cached keeps the last result of an expensive view (a plan, the loop's
// health). A fresh value is served as it is; a stale one is served while
// one renewal runs in the background, so that only the very first page
// ever waits for a computation.
type cached[T any] struct {
	fn     func(context.Context) (T, error)
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger
	what   string

	mu         sync.Mutex
	val        T
	at         time.Time
	have       bool
	refreshing bool
}

func newCached[T any](fn func(context.Context) (T, error), ttl time.Duration, now func() time.Time, logger *slog.Logger, what string) *cached[T] {
	return &cached[T]{fn: fn, ttl: ttl, now: now, logger: logger, what: what}
}

// get returns the value and when it was computed.
func (c *cached[T]) get(ctx context.Context) (T, time.Time, error) {
	c.mu.Lock()
	if c.have {
		v, at := c.val, c.at
		if c.now().Sub(at) >= c.ttl && !c.refreshing {
			c.refreshing = true
			go c.renew()
		}
		c.mu.Unlock()
		return v, at, nil
	}
	c.mu.Unlock()
	v, err := c.fn(ctx)
	if err != nil {
		return v, time.Time{}, err
	}
	c.store(v)
	return v, c.now(), nil
}

func (c *cached[T]) renew() {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	v, err := c.fn(ctx)
	if err != nil {
		c.logger.Warn("dashboard: renew "+c.what, "err", err)
		c.mu.Lock()
		c.refreshing = false
		c.mu.Unlock()
		return
	}
	c.store(v)
}

func (c *cached[T]) store(v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.val, c.at, c.have, c.refreshing = v, c.now(), true, false
}

// maxRegimeVersions bounds the ARPO versions read for the regime chart.
const maxRegimeVersions = 30

// insightCache keeps the decoded latest insights of each learner, and the
// regime of past ARPO versions: versions never change, so each is decoded
// once, which matters when a body describes 10,000 models.
type insightCache struct {
	store flywheel.Store

	mu      sync.Mutex
	cils    *cils.Insights
	cilsV   int64
	arpo    *arpo.Insights
	arpoV   int64
	regimes map[int64]regimePoint
}

// regimePoint is the regime one ARPO version saw.
type regimePoint struct {
	Version int64
	At      time.Time
	State   arpo.RegimeState
}

func newInsightCache(s flywheel.Store) *insightCache {
	return &insightCache{store: s, regimes: map[int64]regimePoint{}}
}

// latestCILS returns the latest CILS insights and their record, or nil
// when there are none yet.
func (c *insightCache) latestCILS(ctx context.Context) (*cils.Insights, flywheel.Insight, error) {
	in, err := c.store.Insight(ctx, flywheel.InsightCILS, 0)
	if flywheel.Code(err) == flywheel.ENotFound {
		return nil, in, nil
	} else if err != nil {
		return nil, in, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cils == nil || c.cilsV != in.Version {
		var body cils.Insights
		if err := json.Unmarshal(in.Body, &body); err != nil {
			return nil, in, fmt.Errorf("decode cils insights v%d: %w", in.Version, err)
		}
		c.cils, c.cilsV = &body, in.Version
	}
	return c.cils, in, nil
}

// latestARPO is latestCILS for ARPO.
func (c *insightCache) latestARPO(ctx context.Context) (*arpo.Insights, flywheel.Insight, error) {
	in, err := c.store.Insight(ctx, flywheel.InsightARPO, 0)
	if flywheel.Code(err) == flywheel.ENotFound {
		return nil, in, nil
	} else if err != nil {
		return nil, in, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.arpo == nil || c.arpoV != in.Version {
		var body arpo.Insights
		if err := json.Unmarshal(in.Body, &body); err != nil {
			return nil, in, fmt.Errorf("decode arpo insights v%d: %w", in.Version, err)
		}
		c.arpo, c.arpoV = &body, in.Version
		c.regimes[in.Version] = regimePoint{Version: in.Version, At: body.GeneratedAt, State: body.Regime}
	}
	return c.arpo, in, nil
}

// regimeHistory returns the regime of up to maxRegimeVersions ARPO
// versions ending at latest, oldest first.
func (c *insightCache) regimeHistory(ctx context.Context, latest int64) ([]regimePoint, error) {
	var out []regimePoint
	for v := max(1, latest-maxRegimeVersions+1); v <= latest; v++ {
		c.mu.Lock()
		p, ok := c.regimes[v]
		c.mu.Unlock()
		if !ok {
			in, err := c.store.Insight(ctx, flywheel.InsightARPO, v)
			if flywheel.Code(err) == flywheel.ENotFound {
				continue
			} else if err != nil {
				return nil, err
			}
			// Only the regime is wanted: decoding into a small struct skips
			// the per-model lists.
			var body struct {
				GeneratedAt time.Time        `json:"generated_at"`
				Regime      arpo.RegimeState `json:"regime"`
			}
			if err := json.Unmarshal(in.Body, &body); err != nil {
				return nil, fmt.Errorf("decode arpo insights v%d: %w", v, err)
			}
			p = regimePoint{Version: v, At: body.GeneratedAt, State: body.Regime}
			c.mu.Lock()
			c.regimes[v] = p
			c.mu.Unlock()
		}
		out = append(out, p)
	}
	return out, nil
}
