package train

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/prices"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

var (
	stocksOnce sync.Once
	stocks     *prices.Table
	stocksErr  error
)

// stockPrices2024 reads stock_prices_2024.csv once for all tests.
func stockPrices2024(t testing.TB) *prices.Table {
	t.Helper()
	path := shareddata.Path(t, "pypfopt/stock_prices_2024.csv")
	stocksOnce.Do(func() {
		f, err := os.Open(path)
		if err != nil {
			stocksErr = err
			return
		}
		defer f.Close()
		stocks, stocksErr = prices.Read(f)
	})
	if stocksErr != nil {
		t.Fatal(stocksErr)
	}
	return stocks
}

// fixedClock pins the run's timestamps and cost so that two runs can be
// compared byte for byte.
func fixedClock(o Options) Options {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o.Now = func() time.Time { return t0 }
	o.CPUTime = func() time.Duration { return 0 }
	return o
}

func mustTrain(t testing.TB, o Options) *flywheel.Run {
	t.Helper()
	run, err := Train(context.Background(), o)
	if err != nil {
		t.Fatalf("Train %s/%s: %v", o.Target, o.ModelFamily, err)
	}
	return run
}

// TestTrainStockPrices2024 trains fwd_ret_5d_AAPL with ridge on the real
// prices: the run validates, has five fold scores, a data window inside
// the file, importances summing to 1 over every feature, no leakage event
// at the default threshold, and a score in the range real daily equity
// data allows (a rank IC far above 0.2 would mean a leak).
func TestTrainStockPrices2024(t *testing.T) {
	t.Parallel()
	tab := stockPrices2024(t)
	run := mustTrain(t, Options{Target: "fwd_ret_5d_AAPL", ModelFamily: FamilyRidge, Prices: tab, PricesName: "stock_prices_2024.csv"})
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
	score, _ := run.ValidationScore()
	t.Logf("validation_score %.4f, folds %.4f", score, run.FoldScores)
	if len(run.FoldScores) != 5 {
		t.Errorf("%d fold scores, want 5", len(run.FoldScores))
	}
	if score < -0.2 || score > 0.2 {
		t.Errorf("validation score %v, want a plausible rank IC in [-0.2, 0.2]", score)
	}
	w := run.DataWindow
	first, last := tab.Dates[0], tab.Dates[len(tab.Dates)-1]
	if w.From.Before(first) || !w.To.Equal(last) {
		t.Errorf("data window %v..%v, want inside %v..%v ending on the last date", w.From, w.To, first, last)
	}
	sum := 0.0
	for _, v := range run.FeatureImportance {
		sum += v
	}
	if len(run.FeatureImportance) != len(Features) || !near(sum, 1, 1e-9) {
		t.Errorf("%d importances summing to %v, want %d summing to 1", len(run.FeatureImportance), sum, len(Features))
	}
	if len(run.LeakageEvents) != 0 {
		t.Errorf("leakage events on honest features: %+v", run.LeakageEvents)
	}
	if run.Status != flywheel.RunSucceeded || run.Cost.WallSeconds <= 0 || run.Config["prices"] != "stock_prices_2024.csv" {
		t.Errorf("status %s, wall %v s, prices %v", run.Status, run.Cost.WallSeconds, run.Config["prices"])
	}
}

// TestTrainDeterministic runs the same inputs twice, on every target kind
// and both families, and expects the same run.
func TestTrainDeterministic(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ target, family string }{
		{"fwd_ret_5d_SYN2", FamilyRidge},
		{"fwd_ret_10d_SYN4", FamilyLogistic},
		{"barrier_up_10d_SYN1", FamilyLogistic},
		{"barrier_down_5d_SYN7", FamilyRidge},
	} {
		o := fixedClock(Options{Target: c.target, ModelFamily: c.family, Seed: 9, Leaky: true})
		a, _ := json.Marshal(mustTrain(t, o))
		b, _ := json.Marshal(mustTrain(t, o))
		if string(a) != string(b) {
			t.Errorf("%s/%s: two runs differ:\n%s\n%s", c.target, c.family, a, b)
		}
		o.Seed = 10
		if c2, _ := json.Marshal(mustTrain(t, o)); string(c2) == string(a) {
			t.Errorf("%s/%s: another seed gave the same run", c.target, c.family)
		}
	}
}

// TestTrainRunIdentity checks the run's id and timestamps: the job id
// when flywheel scheduled the run, else derived from target, family and
// start time.
func TestTrainRunIdentity(t *testing.T) {
	t.Parallel()
	o := fixedClock(Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge})
	run := mustTrain(t, o)
	if run.RunID != "fwd_ret_5d_SYN0-ridge-20260102T030405.000Z" || run.JobID != "" {
		t.Errorf("run id %q job %q, want fwd_ret_5d_SYN0-ridge-20260102T030405.000Z and none", run.RunID, run.JobID)
	}
	o.JobID = "job-42"
	run = mustTrain(t, o)
	if run.RunID != "job-42" || run.JobID != "job-42" || !run.StartedAt.Equal(*run.FinishedAt) {
		t.Errorf("run id %q job %q started %v finished %v", run.RunID, run.JobID, run.StartedAt, run.FinishedAt)
	}
	if got := runID("", strings.Repeat("x", 120), "ridge", time.Time{}); !flywheel.ValidName(got) {
		t.Errorf("runID for a long target = %q, not a valid name", got)
	}
}

// TestTrainSyntheticLearns checks that the synthetic market has a signal
// the pipeline finds: averaged over assets, ridge's rank IC on 5-day
// returns is clearly positive.
func TestTrainSyntheticLearns(t *testing.T) {
	t.Parallel()
	tab := Synthetic(SyntheticOptions{Seed: 1})
	sum := 0.0
	for _, a := range tab.Assets {
		run := mustTrain(t, Options{Target: "fwd_ret_5d_" + a, ModelFamily: FamilyRidge, Prices: tab})
		s, _ := run.ValidationScore()
		sum += s
	}
	if mean := sum / float64(len(tab.Assets)); mean < 0.05 {
		t.Errorf("mean validation score %.3f over %d assets, want >= 0.05", mean, len(tab.Assets))
	}
}

// TestSettingsChangeRun checks that what flywheel writes into the config
// directory changes the run: folds, top_n, the regime weighting, the
// penalty search and early stopping, and that the run's config says so.
func TestSettingsChangeRun(t *testing.T) {
	t.Parallel()
	base := fixedClock(Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge})
	def := mustTrain(t, base)

	load := func(files map[string]string) *Settings {
		t.Helper()
		s, err := LoadSettings(writeConfig(t, files), base.Target)
		if err != nil {
			t.Fatal(err)
		}
		return &s
	}
	o := base
	o.Settings = load(map[string]string{
		"training/models.yaml":                   "cross_validation_folds: 3",
		"feature_selection/fwd_ret_5d_SYN0.yaml": "top_n: 3\naggregation_method: rank\nmodel_weights: {ridge: 1, logistic: 1, lightgbm: 2}",
	})
	run := mustTrain(t, o)
	if len(run.FoldScores) != 3 || len(run.FeatureImportance) != 3 || run.FeatureSet != "price_v1_top3" {
		t.Errorf("folds %d, features %d (%v), feature set %q; want 3, 3, price_v1_top3",
			len(run.FoldScores), len(run.FeatureImportance), run.FeatureImportance, run.FeatureSet)
	}
	fs := run.Config["feature_selection"].(map[string]any)
	if fs["top_n"] != 3 || fs["aggregation_method"] != AggregateRank ||
		!reflect.DeepEqual(run.Config["feature_selection_families"], []string{FamilyLogistic, FamilyRidge}) {
		t.Errorf("config feature_selection %v, families %v", fs, run.Config["feature_selection_families"])
	}

	for _, c := range []struct {
		name  string
		files map[string]string
	}{
		{"regime weight", map[string]string{"data_sampling/fwd_ret_5d_SYN0.yaml": "regime_filter: volatile\nregime_weight: 5"}},
		{"focus on validation", map[string]string{"training/models.yaml": "focus_on_validation: true\nridge: {alpha: 100}"}},
	} {
		o := base
		o.Settings = load(c.files)
		got := mustTrain(t, o)
		if reflect.DeepEqual(got.FoldScores, def.FoldScores) {
			t.Errorf("%s: fold scores %v, the same as with the defaults", c.name, got.FoldScores)
		}
	}

	lo := base
	lo.ModelFamily = FamilyLogistic
	patient := mustTrain(t, lo)
	lo.Settings = load(map[string]string{"training/models.yaml": "early_stopping_patience: 0"})
	never := mustTrain(t, lo)
	if patient.Metrics["epochs"] >= never.Metrics["epochs"] {
		t.Errorf("mean epochs %v with early stopping, %v without; want fewer with", patient.Metrics["epochs"], never.Metrics["epochs"])
	}
}
