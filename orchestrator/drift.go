package orchestrator

import (
	"fmt"
	"math"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// PSI returns the population stability index of the live distribution
// against the training (expected) one over the same bins:
//
//	PSI = sum_i (a_i - e_i) ln(a_i / e_i)
//
// where e_i and a_i are the bins' shares of the training and live totals,
// and a share below eps is raised to eps, so that an empty bin adds a
// large but finite term instead of an infinite one. Bins may be counts or
// shares; each side is normalised. It fails on different bin counts, a
// negative or non-finite bin, or a side that sums to zero.
func PSI(training, live []float64, eps float64) (float64, error) {
	if len(training) != len(live) {
		return 0, flywheel.FieldError("live", "has %d bins; training has %d", len(live), len(training))
	}
	e, err := shares(training)
	if err != nil {
		return 0, flywheel.WithFieldPrefix(err, "training")
	}
	a, err := shares(live)
	if err != nil {
		return 0, flywheel.WithFieldPrefix(err, "live")
	}
	var psi float64
	for i := range e {
		ei, ai := max(e[i], eps), max(a[i], eps)
		psi += (ai - ei) * math.Log(ai/ei)
	}
	return psi, nil
}

// shares normalises bins to sum to 1.
func shares(bins []float64) ([]float64, error) {
	var sum float64
	for i, b := range bins {
		if math.IsNaN(b) || math.IsInf(b, 0) || b < 0 {
			return nil, flywheel.FieldError("", "bin %d is %v; bins must be finite and not negative", i, b)
		}
		sum += b
	}
	if sum <= 0 {
		return nil, flywheel.FieldError("", "sums to zero")
	}
	out := make([]float64, len(bins))
	for i, b := range bins {
		out[i] = b / sum
	}
	return out, nil
}

// driftReason checks a model's features against the PSI level and returns
// the reason when any is above it. The snapshot was validated, so PSI
// cannot fail here.
func driftReason(cfg *Config, m *ModelState) (flywheel.Reason, bool) {
	var over []string
	worst, worstPSI := "", math.Inf(-1)
	for i := range m.Drift {
		f := &m.Drift[i]
		psi, err := PSI(f.Training, f.Live, cfg.Signals.PSIEpsilon)
		if err != nil {
			continue
		}
		if psi > worstPSI {
			worst, worstPSI = f.Feature, psi
		}
		if psi > cfg.Signals.DriftPSI {
			over = append(over, f.Feature)
		}
	}
	if len(over) == 0 {
		return flywheel.Reason{}, false
	}
	return flywheel.Reason{
		Source: flywheel.SourceOrchestrator,
		Kind:   KindDataDrift,
		Message: fmt.Sprintf("live data drifted from training data: PSI %.3f on %s (level %.2f); features over the level: %s",
			worstPSI, worst, cfg.Signals.DriftPSI, strings.Join(over, ", ")),
		Values: map[string]float64{
			"psi":           worstPSI,
			"psi_level":     cfg.Signals.DriftPSI,
			"features_over": float64(len(over)),
			"features":      float64(len(m.Drift)),
		},
	}, true
}
