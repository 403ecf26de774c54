package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/prices"
)

// FeatureSetName names the feature set of this pipeline in runs; a suffix
// says when top_n cut it or the leak was planted.
const FeatureSetName = "price_v1"

// Options is one training run's input.
type Options struct {
	Target      string
	ModelFamily string // FamilyRidge or FamilyLogistic
	// Prices is the market; nil means Synthetic with Seed. PricesName is
	// how the run's config names it (a file's base name, say).
	Prices     *prices.Table
	PricesName string
	// Settings nil means DefaultSettings().
	Settings *Settings
	// Leaky plants LeakFeature, as Settings.PlantLeak does.
	Leaky bool
	// Seed drives the synthetic market and the leak's noise; nothing else
	// is random.
	Seed uint64
	// JobID is the flywheel job this run executes ($FLYWHEEL_JOB_ID); it
	// is also the run's id, so that a job reports one run however often
	// its result is posted.
	JobID string
	// Now and CPUTime are the clocks (defaults: time.Now and this
	// process's CPU time), injectable so that tests can pin the output.
	// The default CPU clock counts the whole process: a caller training
	// inside a busy process should pass a narrower one.
	Now     func() time.Time
	CPUTime func() time.Duration
}

// foldOutcome is one fold's scores and importances.
type foldOutcome struct {
	score, trainScore float64
	extra             map[string]float64
	imp               []float64
}

// Train runs the pipeline: features and labels for the target, purged
// walk-forward validation of the model family, feature importance and
// leakage detection, and returns the run to report, which passes
// flywheel's Run.Validate. The error names the input at fault.
func Train(ctx context.Context, o Options) (*flywheel.Run, error) {
	o = withDefaults(o)
	start, cpu0 := o.Now(), o.CPUTime()
	s, tg, err := checkOptions(&o)
	if err != nil {
		return nil, err
	}
	tab := o.Prices
	if tab == nil {
		tab = Synthetic(SyntheticOptions{Seed: o.Seed})
	}
	leak := o.Leaky || s.PlantLeak
	ds, err := newDataset(tab, tg, leak, o.Seed)
	if err != nil {
		return nil, err
	}
	// AFML's rule of thumb for the embargo: about 1% of the samples. In
	// walk-forward validation no training sample follows a test block, so
	// it removes nothing today; it is passed so that the rule holds if the
	// split ever trains on later data too.
	embargo := (len(ds.y) + 99) / 100
	folds, err := WalkForward(ds.spans, s.Folds, embargo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tg.Name, err)
	}
	feats, selFams, err := ds.selectFeatures(s, o.ModelFamily, folds[0].Train,
		ds.regimeWeights(folds[0].Train, s.RegimeFilter, s.RegimeWeight))
	if err != nil {
		return nil, err
	}
	outs := make([]foldOutcome, len(folds))
	for k, f := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if outs[k], err = ds.runFold(s, o.ModelFamily, feats, f); err != nil {
			return nil, fmt.Errorf("fold %d: %w", k+1, err)
		}
	}
	run := ds.report(&o, s, feats, folds, outs)
	if selFams != nil {
		run.Config["feature_selection_families"] = selFams
	}
	run.Config["leaky"] = leak
	run.RunID = runID(o.JobID, tg.Name, o.ModelFamily, start)
	end := o.Now()
	if end.Before(start) {
		end = start // a clock stepped back must not make the run invalid
	}
	run.Cost = flywheel.Cost{
		CPUHours:    math.Max(0, (o.CPUTime() - cpu0).Hours()),
		WallSeconds: end.Sub(start).Seconds(),
	}
	run.StartedAt = start.UTC()
	finished := end.UTC()
	run.FinishedAt = &finished
	if err := run.Validate(); err != nil {
		return nil, fmt.Errorf("the run does not validate (a bug in the pipeline): %w", err)
	}
	return run, nil
}

func withDefaults(o Options) Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CPUTime == nil {
		o.CPUTime = processCPUTime
	}
	if o.Prices == nil && o.PricesName == "" {
		o.PricesName = fmt.Sprintf("synthetic_seed%d", o.Seed)
	}
	return o
}

// checkOptions validates the options and returns the settings to use and
// the parsed target.
func checkOptions(o *Options) (*Settings, Target, error) {
	tg, err := ParseTarget(o.Target)
	if err != nil {
		return nil, Target{}, err
	}
	if o.ModelFamily != FamilyRidge && o.ModelFamily != FamilyLogistic {
		return nil, Target{}, flywheel.FieldError("model_family", "%q is not one this pipeline trains: ridge or logistic", o.ModelFamily)
	}
	if err := flywheel.CheckName("job_id", o.JobID, false); err != nil {
		return nil, Target{}, err
	}
	s := o.Settings
	if s == nil {
		d := DefaultSettings()
		s = &d
	}
	if err := s.check(); err != nil {
		return nil, Target{}, err
	}
	return s, tg, nil
}

// runFold fits the model of one fold and scores it on the test block.
func (ds *dataset) runFold(s *Settings, family string, feats []int, f Fold) (foldOutcome, error) {
	sp := specFor(family, s)
	ff, err := ds.fitFold(sp, feats, f.Train, ds.regimeWeights(f.Train, s.RegimeFilter, s.RegimeWeight))
	if err != nil {
		return foldOutcome{}, err
	}
	test := make([]int, 0, f.TestTo-f.TestFrom)
	for i := f.TestFrom; i < f.TestTo; i++ {
		test = append(test, i)
	}
	out := foldOutcome{
		score:      ds.score(sp.family, ff.model, ff.std, test),
		trainScore: ds.score(sp.family, ff.model, ff.std, f.Train),
		imp:        importance(ff.model),
		extra:      map[string]float64{"penalty": ff.penalty},
	}
	pred := ds.predict(ff.model, ff.std, test)
	if sp.family == FamilyLogistic {
		out.extra["auc"] = out.score + 0.5
		out.extra["accuracy"] = accuracy(pred, pick(ds.y01, test))
		out.extra["epochs"] = float64(ff.epochs)
	} else {
		out.extra["ic_pearson"] = Pearson(pred, pick(ds.y, test))
	}
	return out, nil
}

// accuracy is the share of rows whose log-odds fall on the side of 0 of
// their class.
func accuracy(logOdds, y []float64) float64 {
	hit := 0
	for i, z := range logOdds {
		if (z > 0) == (y[i] > 0.5) {
			hit++
		}
	}
	return float64(hit) / float64(len(y))
}

// report assembles the run from the folds' outcomes; the caller sets the
// timing and the cost.
func (ds *dataset) report(o *Options, s *Settings, feats []int, folds []Fold, outs []foldOutcome) *flywheel.Run {
	run := &flywheel.Run{
		JobID:      o.JobID,
		ModelKey:   flywheel.ModelKey{Target: ds.target.Name, ModelFamily: o.ModelFamily},
		FeatureSet: featureSetName(s, len(feats) < len(ds.names), slices.Contains(ds.names, LeakFeature)),
		Status:     flywheel.RunSucceeded,
		Metrics:    map[string]float64{},
		FoldScores: make([]float64, len(outs)),
	}
	scores := make([]float64, len(outs))
	var trainMean float64
	extras := map[string]float64{}
	imp := make([]float64, len(feats))
	for k, out := range outs {
		scores[k] = out.score
		trainMean += out.trainScore / float64(len(outs))
		for name, v := range out.extra {
			extras[name] += v / float64(len(outs))
		}
		for j, v := range out.imp {
			imp[j] += v / float64(len(outs))
		}
	}
	copy(run.FoldScores, scores)
	mean, sd := meanStd(scores)
	if len(scores) < 2 {
		mean, sd = scores[0], 0
	}
	run.Metrics[flywheel.MetricValidationScore] = mean
	run.Metrics["validation_score_std"] = sd
	run.Metrics["train_score"] = trainMean
	run.Metrics["samples"] = float64(len(ds.y))
	run.Metrics["features"] = float64(len(feats))
	for name, v := range extras {
		run.Metrics[name] = v
	}
	run.FeatureImportance = make(map[string]float64, len(feats))
	for k, j := range feats {
		run.FeatureImportance[ds.names[j]] = imp[k]
	}
	run.LeakageEvents = ds.leaks(s.LeakageThreshold)
	run.DataWindow = &flywheel.DataWindow{From: ds.dates[0], To: ds.lastLabel}
	run.Regime = newRegimeCut(ds.mktVol).name(ds.mktVol[len(ds.mktVol)-1])
	run.Config = ds.config(o, s, feats, folds)
	return run
}

// featureSetName is FeatureSetName with "_topN" when top_n cut the set and
// "_leak" when the leak was planted.
func featureSetName(s *Settings, cut, leak bool) string {
	name := FeatureSetName
	if cut {
		name += fmt.Sprintf("_top%d", s.TopN)
	}
	if leak {
		name += "_leak"
	}
	return name
}

// leaks runs the leakage detector over every feature built, selected or
// not: a leak matters whether or not this run's model picked it up.
func (ds *dataset) leaks(threshold float64) []flywheel.LeakageEvent {
	planted := slices.Contains(ds.names, LeakFeature)
	return detectLeaks(ds.names, ds.x, ds.y, threshold, planted)
}

// config is the run's config: the settings in the shape of the config
// files, plus what else decides the result.
func (ds *dataset) config(o *Options, s *Settings, feats []int, folds []Fold) map[string]any {
	c := s.Config()
	names := make([]string, len(feats))
	for k, j := range feats {
		names[k] = ds.names[j]
	}
	c["features"] = names
	if o.PricesName != "" {
		c["prices"] = o.PricesName
	}
	c["seed"] = o.Seed
	c["horizon_days"] = ds.target.Horizon
	c["folds"] = len(folds)
	c["validation"] = "purged_walk_forward"
	if ds.target.Classification() || o.ModelFamily == FamilyLogistic {
		c["label"] = "class"
	} else {
		c["label"] = "forward_log_return"
	}
	if len(s.Files) > 0 {
		c["config_files"] = slices.Clone(s.Files)
	}
	return c
}

// runID is the job id when there is one, else target-family-time (UTC,
// milliseconds), hashed when that would be longer than a name may be.
func runID(jobID, target, family string, t time.Time) string {
	if jobID != "" {
		return jobID
	}
	id := strings.Join([]string{target, family, t.UTC().Format("20060102T150405.000Z")}, "-")
	if !flywheel.ValidName(id) {
		sum := sha256.Sum256([]byte(id))
		id = "run-" + hex.EncodeToString(sum[:16])
	}
	return id
}
