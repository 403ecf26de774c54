package backtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/prices"
	"github.com/flywheel-ml/flywheel/train"
)

// Real-market settings. A retrain sees at most trainRows rows of history:
// three years, enough for the pipeline's walk-forward folds, and a bound on
// the cost of each of the thousands of retrains a comparison makes.
const (
	trainRows    = 756
	horizon      = 5 // the target's horizon, fwd_ret_5d
	predictAlpha = 1.0
)

// Prices is a real market: a wide price table, one model per asset
// (fwd_ret_5d_<ASSET>, ridge). A retrain runs the reference pipeline
// (train.Train) on the rows up to its day for the run's validation score;
// the live position comes from a ridge fit on the same rows over three
// of the pipeline's features (ret_5d, ret_20d, mom_60_5, computed here
// because package train does not export its feature builder), and its P&L
// is that position times the next day's return.
type Prices struct {
	name   string
	tab    *prices.Table
	first  int // table row of replay day 0
	dates  []time.Time
	logp   [][]float64 // [asset][row] log price
	models []flywheel.ModelKey
	ctx    context.Context
	mu     sync.Mutex
	cache  map[retrainKey]Version // policies share retrains
}

// retrainKey names a retrain: the model, the day, and the settings the
// pipeline read from the config (their JSON), so that policies whose
// configs agree share the retrain and those whose configs differ do not.
type retrainKey struct {
	model, day int
	settings   string
}

// NewPrices replays the last days trading days of a table in which every
// asset has a price (rows with a missing price are skipped at the start).
func NewPrices(ctx context.Context, name string, tab *prices.Table, days int) (*Prices, error) {
	full := 0 // first row from which every asset is listed
	for a := range tab.Assets {
		for r, p := range tab.Prices[a] {
			if !math.IsNaN(p) {
				full = max(full, r)
				break
			}
		}
	}
	need := train.Lookback + train.MinTrainSamples*3 + horizon
	first := len(tab.Dates) - days
	if days <= 0 || first-full < need {
		return nil, fmt.Errorf("prices: %d days leave %d rows of history, want at least %d", days, first-full, need)
	}
	p := &Prices{name: name, tab: tab, first: first, dates: tab.Dates[first:], ctx: ctx, cache: map[retrainKey]Version{}}
	for a, asset := range tab.Assets {
		row := make([]float64, len(tab.Dates))
		for r, v := range tab.Prices[a] {
			row[r] = math.Log(v)
		}
		p.logp = append(p.logp, row)
		p.models = append(p.models, flywheel.ModelKey{Target: "fwd_ret_5d_" + asset, ModelFamily: train.FamilyRidge})
	}
	return p, nil
}

// Name implements Market.
func (p *Prices) Name() string { return p.name }

// Dates implements Market.
func (p *Prices) Dates() []time.Time { return p.dates }

// Models implements Market.
func (p *Prices) Models() []flywheel.ModelKey { return p.models }

// Regime implements Market: unknown, ARPO fits its own.
func (p *Prices) Regime(int) int { return RegimeUnknown }

// Truth implements Market.
func (p *Prices) Truth() bool { return false }

// Sharpe implements Market: unknown on real data.
func (p *Prices) Sharpe(int, *Version, int) float64 { return math.NaN() }

// Evaluate implements Market: the reference pipeline reports training
// runs only, so the real market has no evaluations.
func (p *Prices) Evaluate(int, *Version, int) (float64, bool) { return 0, false }

// MarketReturn implements Market: the equal-weight return of the assets.
func (p *Prices) MarketReturn(t int) float64 {
	r := p.first + t
	var s float64
	for a := range p.logp {
		s += math.Exp(p.logp[a][r]-p.logp[a][r-1]) - 1
	}
	return s / float64(len(p.logp))
}

// Initial implements Market: the model trained on the data up to the day
// before the replay.
func (p *Prices) Initial(m int) (Version, error) {
	v, err := p.Train(m, -1, "")
	v.Trained = 0
	return v, err
}

// Train implements Market: the reference pipeline reads its settings
// from configDir, as `flywheel train --config-dir` does, so the config
// updates a policy's loop wrote shape its retrains' validation. The live
// predictor is fitted apart from the pipeline and does not read them.
// Retrains are cached by model, day and settings: every policy that
// retrains the same model on the same day with the same settings gets
// the same model, and the pipeline runs once.
func (p *Prices) Train(m, t int, configDir string) (Version, error) {
	settings, err := train.LoadSettings(configDir, p.models[m].Target)
	if err != nil {
		return Version{}, fmt.Errorf("train %s on day %d: %w", p.models[m].Target, t, err)
	}
	fingerprint, err := json.Marshal(settings.Config())
	if err != nil {
		return Version{}, fmt.Errorf("train %s on day %d: %w", p.models[m].Target, t, err)
	}
	key := retrainKey{m, t, string(fingerprint)}
	p.mu.Lock()
	v, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return v, nil
	}
	end := p.first + t + 1 // rows [lo, end) are known on day t
	lo := max(0, end-trainRows)
	sub := &prices.Table{Dates: p.tab.Dates[lo:end], Assets: p.tab.Assets}
	for a := range p.tab.Assets {
		sub.Prices = append(sub.Prices, p.tab.Prices[a][lo:end])
	}
	at := p.tab.Dates[end-1]
	run, err := train.Train(p.ctx, train.Options{
		Target: p.models[m].Target, ModelFamily: train.FamilyRidge, Prices: sub, PricesName: p.name, Settings: &settings,
		Now: func() time.Time { return at }, CPUTime: func() time.Duration { return 0 },
	})
	if err != nil {
		return Version{}, fmt.Errorf("train %s on day %d: %w", p.models[m].Target, t, err)
	}
	score, _ := run.ValidationScore()
	pr, err := p.fit(m, lo, end)
	if err != nil {
		return Version{}, err
	}
	v = Version{Trained: t + 1, Regime: RegimeUnknown, Quality: 1, Score: score, predictor: pr}
	p.mu.Lock()
	p.cache[key] = v
	p.mu.Unlock()
	return v, nil
}

// predictor is the live model: a ridge on standardised features whose
// prediction, over its residual sd, sets a position clipped to [-1, 1].
type predictor struct {
	lin       *train.Linear
	mean, sd  []float64
	residSD   float64
	predictSD float64
}

// features are the live model's inputs at row r of asset a.
func (p *Prices) features(a, r int) []float64 {
	lp := p.logp[a]
	return []float64{lp[r] - lp[r-5], lp[r] - lp[r-20], lp[r-5] - lp[r-60]}
}

// fit fits the predictor on the samples whose 5-day forward return is
// known by row end-1.
func (p *Prices) fit(a, lo, end int) (*predictor, error) {
	var xs [][]float64
	var ys []float64
	for r := lo + train.Lookback; r+horizon < end; r++ {
		xs = append(xs, p.features(a, r))
		ys = append(ys, p.logp[a][r+horizon]-p.logp[a][r])
	}
	if len(ys) < train.MinTrainSamples {
		return nil, fmt.Errorf("fit %s: %d samples", p.models[a].Target, len(ys))
	}
	k := len(xs[0])
	pr := &predictor{mean: make([]float64, k), sd: make([]float64, k)}
	for j := range k {
		var s, ss float64
		for _, x := range xs {
			s += x[j]
			ss += x[j] * x[j]
		}
		n := float64(len(xs))
		pr.mean[j] = s / n
		pr.sd[j] = math.Sqrt(math.Max(ss/n-pr.mean[j]*pr.mean[j], 1e-12))
	}
	x := mat.NewDense(len(xs), k, nil)
	for i, row := range xs {
		x.SetRow(i, pr.standardise(row))
	}
	lin, err := train.FitRidge(x, ys, nil, predictAlpha)
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", p.models[a].Target, err)
	}
	pr.lin = lin
	var rss, pss float64
	for i, row := range xs {
		f := lin.Score(pr.standardise(row))
		rss += (ys[i] - f) * (ys[i] - f)
		pss += f * f
	}
	pr.residSD = math.Sqrt(rss / float64(len(xs)))
	pr.predictSD = math.Sqrt(pss/float64(len(xs))) + 1e-12
	return pr, nil
}

func (pr *predictor) standardise(x []float64) []float64 {
	out := make([]float64, len(x))
	for j := range x {
		out[j] = (x[j] - pr.mean[j]) / pr.sd[j]
	}
	return out
}

// PnL implements Market: the position set from the features at the close
// before day t, times day t's return; the model expects its prediction's
// share of a day.
func (p *Prices) PnL(m int, v *Version, t int) (pnl, expected float64) {
	r := p.first + t
	pred := v.predictor.lin.Score(v.predictor.standardise(p.features(m, r-1)))
	pos := math.Max(-1, math.Min(1, pred/v.predictor.predictSD/2))
	ret := math.Exp(p.logp[m][r]-p.logp[m][r-1]) - 1
	return pos * ret, pos * pred / horizon
}
