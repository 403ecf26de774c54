package arpo

import (
	"fmt"
	"math"
)

// snapTolerance is how close to its target a size must come to be set to
// it: exponential smoothing alone approaches a target without ever
// reaching it, and a recovered model should read 1.0, not 0.998.
const snapTolerance = 0.01

// sizeTarget returns where the evidence puts a model's size, the state
// that explains it, and the shrunk ratio behind it.
//
// Daily Sharpe ratios are small (an annual 2 is 0.13 a day) while their
// standard error over a quarter is about 0.13 too, so a size proportional
// to the live Sharpe ratio would swing on noise alone. The size therefore
// leaves 1.0 only on significant evidence: a PSR below psr_level (the
// underperformance test) cuts, a PSR above 1 - psr_level boosts. How far
// comes from the shrunk ratio: the live Sharpe ratio shrunk toward the
// expected one with the weight of prior_days days,
//
//	ratio = (n SR + k SR*) / ((n + k) SR*),
//
// the share of the expected edge the model is believed to deliver (Kelly
// sizing scales with the edge). A cut takes min(ratio, cut_size), floored
// at min_size, so every underperforming model trades below 0.8; a boost
// takes ratio capped at max_size. A cut model stays cut until its PSR
// reaches recover_psr (hysteresis). Sharpe ratio and PSR do not change
// when P&L is scaled, so trading a model smaller does not by itself make
// it look worse, as long as expected_pnl is reported for the position
// actually held.
func sizeTarget(cfg *Config, p *ModelPerformance, refDaily float64, prev *PositionAdjustment) (target float64, state string, ratio float64) {
	if p.Days < cfg.MinObservations || !p.PSR.Defined() {
		return 1, SizeInsufficientData, math.NaN()
	}
	n, k := float64(p.Days), cfg.PriorDays
	sr := float64(p.Sharpe) / sqrtYear
	ratio = (n*sr + k*refDaily) / ((n + k) * refDaily)
	psr := float64(p.PSR)
	wasCut := prev != nil && prev.State == SizeCut
	switch {
	case psr < cfg.PSRLevel || wasCut && psr < cfg.RecoverPSR:
		return clamp(math.Min(ratio, cfg.CutSize), cfg.MinSize, cfg.CutSize), SizeCut, ratio
	case psr > 1-cfg.PSRLevel:
		return clamp(ratio, 1, cfg.MaxSize), SizeBoost, ratio
	}
	return 1, SizeNeutral, ratio
}

// smooth moves a size from prev toward target over elapsed days: it closes
// the share 1 - (1 - smoothing)^days of the gap, at most max_step per day,
// and snaps to the target once within snapTolerance of it, unless the
// step was limited, so the max-step guarantee holds exactly. Steps scale
// with elapsed time, not with the number of passes, so a daemon that
// learns every minute moves sizes no faster than one that learns daily.
func smooth(cfg *Config, prev, target, elapsedDays float64) float64 {
	if !(elapsedDays > 0) {
		return prev
	}
	limit := cfg.MaxStep * elapsedDays
	alpha := 1 - math.Pow(1-cfg.Smoothing, elapsedDays)
	next := prev + clamp(alpha*(target-prev), -limit, limit)
	if math.Abs(target-next) <= snapTolerance && math.Abs(target-prev) <= limit {
		next = target
	}
	return clamp(next, 0, cfg.MaxSize)
}

// adjust returns a model's position adjustment given the previous one (nil
// on a model's first pass, when its size starts at its target: there is
// nothing yet to flap from).
func adjust(cfg *Config, p *ModelPerformance, refDaily float64, prev *PositionAdjustment, elapsedDays float64) PositionAdjustment {
	target, state, ratio := sizeTarget(cfg, p, refDaily, prev)
	a := PositionAdjustment{
		ModelKey:    p.ModelKey,
		SizeFactor:  target,
		TargetSize:  target,
		State:       state,
		ShrunkRatio: Number(ratio),
		PSR:         p.PSR,
	}
	if prev != nil {
		ps := prev.SizeFactor
		a.PreviousSize = &ps
		a.SizeFactor = smooth(cfg, ps, target, elapsedDays)
	}
	switch state {
	case SizeInsufficientData:
		a.Reason = fmt.Sprintf("%d days of live P&L, fewer than %d: planned size", p.Days, cfg.MinObservations)
	case SizeNeutral:
		a.Reason = fmt.Sprintf("PSR %.3f: live Sharpe %.2f consistent with expected %.2f", float64(p.PSR), float64(p.Sharpe), float64(p.ExpectedSharpe))
	case SizeCut:
		a.Reason = fmt.Sprintf("PSR %.3f (cut below %g, kept until %g): live Sharpe %.2f vs expected %.2f, shrunk ratio %.2f",
			float64(p.PSR), cfg.PSRLevel, cfg.RecoverPSR, float64(p.Sharpe), float64(p.ExpectedSharpe), ratio)
	case SizeBoost:
		a.Reason = fmt.Sprintf("PSR %.3f: live Sharpe %.2f above expected %.2f, shrunk ratio %.2f",
			float64(p.PSR), float64(p.Sharpe), float64(p.ExpectedSharpe), ratio)
	}
	if a.SizeFactor != target {
		a.Reason += fmt.Sprintf("; moving from %.3f toward %.3f", *a.PreviousSize, target)
	}
	return a
}

func clamp(v, lo, hi float64) float64 {
	return math.Min(math.Max(v, lo), hi)
}
