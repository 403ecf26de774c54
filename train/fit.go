package train

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Model families the pipeline trains.
const (
	FamilyRidge    = "ridge"
	FamilyLogistic = "logistic"
)

// focusGrid is the multiples of the configured penalty tried when
// focus_on_validation is set: four decades around it, enough to move from
// almost unpenalised to almost flat on standardised features.
var focusGrid = []float64{0.01, 0.1, 1, 10, 100}

// innerValShare is the share of a fold's training samples (the latest
// ones) held out for early stopping and for choosing the penalty.
const innerValShare = 0.2

// spec is one family's fit settings.
type spec struct {
	family   string
	penalty  float64 // ridge alpha or logistic L2
	patience int     // logistic early stopping, in epochs; 0 is off
	focus    bool    // choose the penalty on an inner validation block
}

func specFor(family string, s *Settings) spec {
	sp := spec{family: family, penalty: s.RidgeAlpha, focus: s.FocusOnValidation}
	if family == FamilyLogistic {
		sp.penalty, sp.patience = s.LogisticL2, s.EarlyStoppingPatience
	}
	return sp
}

// foldFit is one model fitted on a fold's training samples.
type foldFit struct {
	model   *Linear
	std     standardiser
	penalty float64 // the penalty used, after focus_on_validation
	epochs  int     // logistic epochs of the final fit
}

// fitFold fits sp on the training samples train with the features feats.
// w holds per-sample weights (nil for none). When the spec needs a
// validation block (early stopping, or focus_on_validation) it is the
// latest innerValShare of train, purged; the final model is then refitted
// on all of train with the chosen penalty and, for logistic regression,
// the number of epochs early stopping chose, so that no training data is
// wasted on validation.
func (ds *dataset) fitFold(sp spec, feats, train []int, w []float64) (*foldFit, error) {
	std := ds.standardiser(feats, train)
	ff := &foldFit{std: std, penalty: sp.penalty}
	early := sp.family == FamilyLogistic && sp.patience > 0
	fit, val, ok := innerSplit(ds.spans, train, innerValShare)
	validated := ok && (sp.focus || early)
	if validated {
		grid := []float64{1}
		if sp.focus {
			grid = focusGrid
		}
		best := math.Inf(-1)
		for _, g := range grid {
			m, epochs, err := ds.fitOnce(sp, sp.penalty*g, std, fit, w, val, 0)
			if err != nil {
				return nil, err
			}
			// Ties keep the smaller penalty: the grid is in increasing order.
			if sc := ds.score(sp.family, m, std, val); sc > best {
				best, ff.penalty, ff.epochs = sc, sp.penalty*g, epochs
			}
		}
	}
	maxEpochs := 0 // the default: run to convergence
	if early && validated {
		maxEpochs = ff.epochs
		if maxEpochs == 0 {
			maxEpochs = -1 // early stopping kept the starting point
		}
	}
	m, epochs, err := ds.fitOnce(spec{family: sp.family}, ff.penalty, std, train, w, nil, maxEpochs)
	if err != nil {
		return nil, err
	}
	ff.model, ff.epochs = m, epochs
	return ff, nil
}

// fitOnce fits one model on rows. val, when given with a logistic spec
// with patience, is the early-stopping block; maxEpochs is passed to
// FitLogistic. It returns the model and, for logistic regression, the
// epoch whose weights it kept.
func (ds *dataset) fitOnce(sp spec, penalty float64, std standardiser, rows []int, w []float64, val []int, maxEpochs int) (*Linear, int, error) {
	x := ds.design(std, rows)
	var rw []float64
	if w != nil {
		rw = pick(w, rows)
	}
	if sp.family == FamilyRidge {
		m, err := FitRidge(x, pick(ds.y, rows), rw, penalty)
		return m, 0, err
	}
	o := LogisticOptions{L2: penalty, MaxEpochs: maxEpochs}
	if sp.patience > 0 && val != nil {
		o.Patience, o.ValX, o.ValY = sp.patience, ds.design(std, val), pick(ds.y01, val)
	}
	m, err := FitLogistic(x, pick(ds.y01, rows), rw, o)
	if err != nil {
		return nil, 0, err
	}
	return &m.Linear, m.BestEpoch, nil
}

// predict returns the model's scores of rows.
func (ds *dataset) predict(m *Linear, std standardiser, rows []int) []float64 {
	x := ds.design(std, rows)
	out := make([]float64, len(rows))
	for r := range rows {
		out[r] = m.Score(x.RawRowView(r))
	}
	return out
}

// score is the validation score of a model on rows, higher is better
// and 0 is no skill: for ridge the rank IC (Spearman correlation of
// prediction and label), for logistic AUC - 0.5. Both are invariant to
// monotone transforms of the prediction, so they judge the ranking a
// trader would act on, not the calibration.
func (ds *dataset) score(family string, m *Linear, std standardiser, rows []int) float64 {
	pred := ds.predict(m, std, rows)
	if family == FamilyLogistic {
		return AUC(pred, pick(ds.y01, rows)) - 0.5
	}
	return Spearman(pred, pick(ds.y, rows))
}

// importance returns the absolute standardised coefficients normalised to
// sum 1: on standardised features a coefficient's size is the change in
// the prediction per standard deviation of the feature, comparable across
// features. All zeros (a model that learned nothing) stay zeros.
func importance(m *Linear) []float64 {
	out := make([]float64, len(m.Coef))
	sum := 0.0
	for j, c := range m.Coef {
		out[j] = math.Abs(c)
		sum += out[j]
	}
	if sum > 0 {
		for j := range out {
			out[j] /= sum
		}
	}
	return out
}

// selectFeatures keeps the topN features ranked by a first pass: every
// family in weights (those this pipeline trains; the run's own family when
// none is given) is fitted on the first fold's training samples, and their
// importances are combined by method. The first fold's training samples
// precede every test block, so the choice never sees data any fold is
// scored on; choosing on all the data would make every fold's score
// optimistic. It returns feature indices in their original order and the
// families used.
func (ds *dataset) selectFeatures(s *Settings, family string, train []int, w []float64) ([]int, []string, error) {
	all := make([]int, len(ds.names))
	for j := range all {
		all[j] = j
	}
	if s.TopN <= 0 || s.TopN >= len(all) {
		return all, nil, nil
	}
	fams, fw := selectionFamilies(s.ModelWeights, family)
	imps := make([][]float64, len(fams))
	for k, f := range fams {
		ff, err := ds.fitFold(specFor(f, s), all, train, w)
		if err != nil {
			return nil, nil, fmt.Errorf("feature selection with %s: %w", f, err)
		}
		imps[k] = importance(ff.model)
	}
	agg := aggregate(imps, fw, s.AggregationMethod)
	order := slices.Clone(all)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(agg[b], agg[a]) })
	keep := order[:s.TopN]
	slices.Sort(keep)
	return keep, fams, nil
}

// selectionFamilies returns the families of weights that this pipeline
// can train, with positive weight, sorted; or the run's family alone. A
// weight for lightgbm or mlp (which a team's own pipeline may train)
// cannot be honoured here and is left out rather than refused, so that a
// config written for the team's pipeline still runs.
func selectionFamilies(weights map[string]float64, family string) ([]string, []float64) {
	var fams []string
	var ws []float64
	for _, f := range []string{FamilyLogistic, FamilyRidge} {
		if w := weights[f]; w > 0 {
			fams, ws = append(fams, f), append(ws, w)
		}
	}
	if len(fams) == 0 {
		return []string{family}, []float64{1}
	}
	return fams, ws
}

// aggregate combines per-family importances into one score per feature,
// higher meaning more important.
func aggregate(imps [][]float64, weights []float64, method string) []float64 {
	p := len(imps[0])
	out := make([]float64, p)
	switch method {
	case AggregateRank:
		// Mean rank, negated so that higher is better.
		for _, imp := range imps {
			for j, r := range ranks(imp) {
				out[j] -= float64(p) + 1 - r
			}
		}
	case AggregateWeighted:
		for k, imp := range imps {
			for j, v := range imp {
				out[j] += weights[k] * v
			}
		}
	default: // AggregateMean
		for _, imp := range imps {
			for j, v := range imp {
				out[j] += v
			}
		}
	}
	return out
}
