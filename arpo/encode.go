package arpo

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Encoder encodes successive insights to JSON, the same bytes as
// json.Marshal, and reuses the encoding of each model's entry in the four
// lists that grow with the models (performance, underperformance,
// position adjustment, retrain target) when the entry equals the one it
// encoded last time: between two passes of the daemon most models do not
// change, and encoding a megabyte of numbers is most of the cost of
// storing a version.
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	perf    entryCache[ModelPerformance]
	under   entryCache[Underperformance]
	adjust  entryCache[PositionAdjustment]
	retrain entryCache[RetrainTarget]
	// size is the length of the last encoding, the next one's capacity.
	size int
}

// Encode returns the JSON encoding of in.
func (e *Encoder) Encode(in *Insights) ([]byte, error) {
	b := make([]byte, 0, max(1<<16, e.size+e.size/8))
	var err error
	field := func(name string, v any) {
		if err != nil {
			return
		}
		b = appendName(b, name)
		var vb []byte
		if vb, err = json.Marshal(v); err == nil {
			b = append(b, vb...)
		}
	}
	list := func(name string, appendList func([]byte) ([]byte, error)) {
		if err != nil {
			return
		}
		b = appendName(b, name)
		b, err = appendList(b)
	}
	b = append(b, '{')
	field("generated_at", in.GeneratedAt)
	if in.PreviousGeneratedAt != nil {
		field("previous_generated_at", in.PreviousGeneratedAt)
	}
	field("observations", in.Observations)
	field("observations_used", in.ObservationsUsed)
	field("models", in.Models)
	list("model_performance", func(b []byte) ([]byte, error) {
		return e.perf.appendList(b, in.ModelPerformance, func(p *ModelPerformance) flywheel.ModelKey { return p.ModelKey }, samePerformance)
	})
	list("underperforming_positions", func(b []byte) ([]byte, error) {
		return e.under.appendList(b, in.UnderperformingPositions, func(u *Underperformance) flywheel.ModelKey { return u.ModelKey },
			sameUnderperformance)
	})
	list("position_adjustments", func(b []byte) ([]byte, error) {
		return e.adjust.appendList(b, in.PositionAdjustments, func(a *PositionAdjustment) flywheel.ModelKey { return a.ModelKey }, sameAdjustment)
	})
	field("regime", in.Regime)
	field("regime_strategies", in.RegimeStrategies)
	field("regime_mismatch", in.RegimeMismatch)
	field("risk_limits", in.RiskLimits)
	field("allocation", in.Allocation)
	field("high_priority_targets", in.HighPriorityTargets)
	list("targets_needing_retrain", func(b []byte) ([]byte, error) {
		return e.retrain.appendList(b, in.TargetsNeedingRetrain, func(t *RetrainTarget) flywheel.ModelKey { return t.ModelKey }, sameRetrain)
	})
	field("portfolio_performance", in.PortfolioPerformance)
	field("config", in.Config)
	if err != nil {
		return nil, err
	}
	b = append(b, '}')
	e.size = len(b)
	return b, nil
}

// appendName appends a field's name, after a comma unless it is the
// first. Names are plain ASCII and need no escaping.
func appendName(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// entryCache is the last encoding of each model's entry in one list.
type entryCache[T any] struct {
	last map[flywheel.ModelKey]encodedEntry[T]
}

type encodedEntry[T any] struct {
	v    T
	json []byte
}

// appendList appends the list's encoding (null when nil, as
// json.Marshal writes it), reusing an entry's last encoding when same
// says it is unchanged, and keeps this list's encodings for next time.
func (c *entryCache[T]) appendList(b []byte, list []T, key func(*T) flywheel.ModelKey, same func(a, b *T) bool) ([]byte, error) {
	if list == nil {
		c.last = nil
		return append(b, "null"...), nil
	}
	next := make(map[flywheel.ModelKey]encodedEntry[T], len(list))
	b = append(b, '[')
	for i := range list {
		v := &list[i]
		k := key(v)
		e, ok := c.last[k]
		if !ok || !same(&e.v, v) {
			enc, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			e = encodedEntry[T]{v: *v, json: enc}
		}
		if _, dup := next[k]; !dup {
			next[k] = e
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.json...)
	}
	c.last = next
	return append(b, ']'), nil
}

// sameFloat reports whether two numbers encode alike: bit for bit, since
// 0 and -0 are equal but encode differently, and NaN, which a Number
// encodes as null, equals NaN.
func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func sameNumber(a, b Number) bool { return sameFloat(float64(a), float64(b)) }

// sameTime reports whether two times encode alike: the same instant in
// the same location. == would also compare monotonic readings.
func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location()
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return sameTime(*a, *b)
}

// The same* functions compare every field of an entry; a test checks
// that each field is compared.

func samePerformance(a, b *ModelPerformance) bool {
	return a.ModelKey == b.ModelKey && a.ModelVersion == b.ModelVersion && sameTimePtr(a.DeployedAt, b.DeployedAt) &&
		sameTime(a.WindowStart, b.WindowStart) && a.Observations == b.Observations && a.Days == b.Days &&
		sameFloat(a.PnL, b.PnL) && sameFloat(a.ExpectedPnL, b.ExpectedPnL) && a.ExpectedDays == b.ExpectedDays &&
		sameNumber(a.MeanDailyPnL, b.MeanDailyPnL) && sameNumber(a.StdDailyPnL, b.StdDailyPnL) &&
		sameNumber(a.Sharpe, b.Sharpe) && sameNumber(a.ExpectedSharpe, b.ExpectedSharpe) && a.SharpeBenchmark == b.SharpeBenchmark &&
		sameNumber(a.PSR, b.PSR) && sameNumber(a.Skewness, b.Skewness) && sameNumber(a.Kurtosis, b.Kurtosis) &&
		sameNumber(a.HitRate, b.HitRate) && sameFloat(a.MaxDrawdown, b.MaxDrawdown) && sameNumber(a.VaR95, b.VaR95) &&
		sameNumber(a.CVaR95, b.CVaR95) && sameFloat(a.GrossExposure, b.GrossExposure)
}

func sameUnderperformance(a, b *Underperformance) bool {
	return a.ModelKey == b.ModelKey && sameFloat(a.PSR, b.PSR) && sameFloat(a.PSRLevel, b.PSRLevel) && sameFloat(a.Sharpe, b.Sharpe) &&
		sameFloat(a.ExpectedSharpe, b.ExpectedSharpe) && a.Days == b.Days && sameFloat(a.PnL, b.PnL) &&
		sameFloat(a.ExpectedPnL, b.ExpectedPnL) && a.Reason == b.Reason
}

func sameAdjustment(a, b *PositionAdjustment) bool {
	samePrev := a.PreviousSize == nil && b.PreviousSize == nil ||
		a.PreviousSize != nil && b.PreviousSize != nil && sameFloat(*a.PreviousSize, *b.PreviousSize)
	return samePrev && a.ModelKey == b.ModelKey && sameFloat(a.SizeFactor, b.SizeFactor) && sameFloat(a.TargetSize, b.TargetSize) &&
		a.State == b.State && sameNumber(a.ShrunkRatio, b.ShrunkRatio) && sameNumber(a.PSR, b.PSR) && a.Reason == b.Reason
}

func sameRetrain(a, b *RetrainTarget) bool {
	return a.ModelKey == b.ModelKey && a.Kind == b.Kind && (a.Reasons == nil) == (b.Reasons == nil) &&
		slices.EqualFunc(a.Reasons, b.Reasons, func(x, y flywheel.Reason) bool {
			return x.Source == y.Source && x.Kind == y.Kind && x.Message == y.Message &&
				(x.Values == nil) == (y.Values == nil) && maps.EqualFunc(x.Values, y.Values, sameFloat)
		})
}
