package train

import (
	"math"
	"strconv"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// Target kinds the pipeline knows, the prefix of a target name before its
// horizon.
const (
	KindForwardReturn = "fwd_ret"      // forward log return over the horizon
	KindBarrierUp     = "barrier_up"   // 1 when the upper barrier is touched first
	KindBarrierDown   = "barrier_down" // 1 when the lower barrier is touched first
)

// MaxHorizon is the longest horizon a target may have, in trading days: a
// year. Longer labels would leave too few independent samples per fold
// once purged.
const MaxHorizon = 252

// BarrierMultiple is the half-width of the triple barrier in units of the
// expected move over the horizon, sigma_daily * sqrt(H). Scaling with
// sqrt(H) keeps the share of labels that hit a barrier roughly the same
// for every horizon; a width in plain daily-vol multiples would make a
// 20-day barrier almost always hit and its label almost always decided by
// noise in the first days.
const BarrierMultiple = 1.0

// Target is a parsed target name such as fwd_ret_5d_AAPL.
type Target struct {
	Name    string
	Kind    string
	Horizon int // trading days
	Asset   string
}

// ParseTarget parses NAME of the form KIND_{H}d_ASSET, where KIND is
// fwd_ret, barrier_up or barrier_down. The error names the part at fault;
// whether ASSET is in the price file is checked when the prices are known.
func ParseTarget(name string) (Target, error) {
	if err := flywheel.CheckName("target", name, true); err != nil {
		return Target{}, err
	}
	t := Target{Name: name}
	for _, k := range []string{KindForwardReturn, KindBarrierUp, KindBarrierDown} {
		if rest, ok := strings.CutPrefix(name, k+"_"); ok {
			t.Kind = k
			name = rest
			break
		}
	}
	if t.Kind == "" {
		return Target{}, flywheel.FieldError("target", "%q: unknown kind; want fwd_ret_{H}d_{ASSET}, barrier_up_{H}d_{ASSET} or barrier_down_{H}d_{ASSET}", t.Name)
	}
	h, asset, ok := strings.Cut(name, "_")
	if !ok || asset == "" {
		return Target{}, flywheel.FieldError("target", "%q: no asset after the horizon %q; want %s_{H}d_{ASSET}", t.Name, h, t.Kind)
	}
	days, err := strconv.Atoi(strings.TrimSuffix(h, "d"))
	if !strings.HasSuffix(h, "d") || err != nil || days < 1 || days > MaxHorizon || h[0] == '0' || h[0] == '+' {
		return Target{}, flywheel.FieldError("target", "%q: horizon %q is not a number of trading days from 1d to %dd", t.Name, h, MaxHorizon)
	}
	t.Horizon, t.Asset = days, asset
	return t, nil
}

// Classification reports whether the target's natural label is a class
// (the barrier targets) rather than a return.
func (t Target) Classification() bool { return t.Kind != KindForwardReturn }

// labels returns the label of every row of one asset's log prices, NaN
// where it cannot be known (the last H rows, or missing prices). vol is
// the daily volatility known at each row, used by the barrier targets.
func (t Target) labels(logp, vol []float64) []float64 {
	out := make([]float64, len(logp))
	for i := range out {
		switch t.Kind {
		case KindForwardReturn:
			out[i] = forwardReturn(logp, i, t.Horizon)
		default:
			out[i] = t.barrierLabel(logp, vol, i)
		}
	}
	return out
}

// forwardReturn is ln(p[i+h] / p[i]), NaN past the end of the data.
func forwardReturn(logp []float64, i, h int) float64 {
	if i+h >= len(logp) {
		return math.NaN()
	}
	return logp[i+h] - logp[i]
}

// barrierLabel is Lopez de Prado's triple-barrier method ("Advances in
// Financial Machine Learning", 2018, section 3.4) reduced to the side the
// target asks about: with barriers at +-BarrierMultiple * vol * sqrt(H)
// around today's log price, the label is 1 when the asked-for barrier is
// touched before the other one and before the vertical barrier H days
// ahead, else 0. Barriers scale with the volatility known today, so a
// label means "an unusually large move for the conditions", not "a large
// move", which would merely track volatility.
func (t Target) barrierLabel(logp, vol []float64, i int) float64 {
	if i+t.Horizon >= len(logp) || math.IsNaN(logp[i]) || !(vol[i] > 0) {
		return math.NaN()
	}
	width := BarrierMultiple * vol[i] * math.Sqrt(float64(t.Horizon))
	hit := 0 // +1 upper first, -1 lower first, 0 vertical barrier
	for j := i + 1; j <= i+t.Horizon; j++ {
		r := logp[j] - logp[i]
		if math.IsNaN(r) {
			return math.NaN()
		}
		if r >= width {
			hit = 1
			break
		}
		if r <= -width {
			hit = -1
			break
		}
	}
	if (t.Kind == KindBarrierUp && hit == 1) || (t.Kind == KindBarrierDown && hit == -1) {
		return 1
	}
	return 0
}
