package backtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel/prices"
)

// small returns options for a quick comparison on a scenario where
// retraining clearly pays: edges decay within weeks.
func small(t *testing.T, policies ...string) (Options, *Synthetic) {
	t.Helper()
	o := DefaultOptions()
	o.Scenario.Models, o.Scenario.Days, o.Scenario.DecayRate = 8, 120, 0.03
	o.Resamples = 200
	if len(policies) > 0 {
		o.Policies = policies
	}
	mk, err := NewSynthetic(o.Scenario, 7)
	if err != nil {
		t.Fatal(err)
	}
	return o, mk
}

func compare(t *testing.T, mk Market, o Options) *Result {
	t.Helper()
	res, err := Compare(context.Background(), mk, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeterministicJSON(t *testing.T) {
	t.Parallel()
	var out [2][]byte
	for i := range out {
		o, mk := small(t)
		b, err := json.Marshal(compare(t, mk, o))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Errorf("two runs with the same seed differ:\n%s\n%s", out[0], out[1])
	}
}

// TestPolicyOrder runs retrains of certain quality, where the oracle's
// expectation of a retrain is what the retrain yields, so that it never
// retrains a model into a worse one. Realised P&L also carries the day's
// noise times the size ARPO set, which differs between policies, so on a
// market this small only the order against never is certain.
func TestPolicyOrder(t *testing.T) {
	t.Parallel()
	o, _ := small(t, PolicyNever, PolicyFlywheel, PolicyOracle)
	o.Scenario.RetrainNoise = 0
	mk, err := NewSynthetic(o.Scenario, 7)
	if err != nil {
		t.Fatal(err)
	}
	res := compare(t, mk, o)
	never, fly, orc := res.Policies[PolicyNever], res.Policies[PolicyFlywheel], res.Policies[PolicyOracle]
	if never.Runs != 0 || never.Compute != 0 {
		t.Errorf("never: %d runs, %v compute, want none", never.Runs, never.Compute)
	}
	if !(orc.NetPnL > never.NetPnL && fly.NetPnL > never.NetPnL) {
		t.Errorf("net P&L oracle %v, flywheel %v, never %v: want both above never", orc.NetPnL, fly.NetPnL, never.NetPnL)
	}
	if orc.Wasted != 0 {
		t.Errorf("oracle wasted %d runs, want 0: it knows what a retrain yields", orc.Wasted)
	}
}

func TestWastedRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		decay      float64
		wantWasted func(runs int) int
	}{
		// No decay and exact retrains: a retrain changes nothing, so
		// every run is wasted.
		{"no decay", 0, func(runs int) int { return runs }},
		// Decay and exact retrains in one regime: every retrain restores
		// a decayed edge.
		{"decay", 0.05, func(int) int { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := small(t, PolicyRoundRobin)
			o.Scenario.DecayRate, o.Scenario.RetrainNoise, o.Scenario.ToVolatile = tc.decay, 0, 0
			mk, err := NewSynthetic(o.Scenario, 1)
			if err != nil {
				t.Fatal(err)
			}
			m := compare(t, mk, o).Policies[PolicyRoundRobin]
			if m.Runs == 0 {
				t.Fatal("round-robin made no run")
			}
			if got, want := m.Wasted, tc.wantWasted(m.Runs); got != want {
				t.Errorf("wasted = %d of %d runs, want %d", got, m.Runs, want)
			}
		})
	}
}

// TestEvaluationsShowDecay checks what the pipeline's evaluation runs
// give the learners: the threshold policy retrains on CILS's degradation
// flag, which only evaluations can raise on the synthetic market (a
// retrain's own score is its fresh model's), and flywheel's restorable gap
// rests on them too.
func TestEvaluationsShowDecay(t *testing.T) {
	t.Parallel()
	for _, every := range []int{5, 0} {
		o, _ := small(t, PolicyThreshold, PolicyFlywheel)
		o.Scenario.EvaluateEvery = every
		mk, err := NewSynthetic(o.Scenario, 7)
		if err != nil {
			t.Fatal(err)
		}
		res := compare(t, mk, o)
		th, fly := res.Policies[PolicyThreshold], res.Policies[PolicyFlywheel]
		if every > 0 && (th.Runs == 0 || fly.Runs == 0) {
			t.Errorf("evaluate_every %d: threshold %d runs, flywheel %d; want both to retrain decaying models", every, th.Runs, fly.Runs)
		}
		if every == 0 && (th.Runs != 0 || fly.Runs != 0) {
			t.Errorf("without evaluations: threshold %d runs, flywheel %d; want none (no learner sees a decay)", th.Runs, fly.Runs)
		}
	}
}

func TestScenarioFile(t *testing.T) {
	t.Parallel()
	sc, err := LoadScenario(filepath.Join("testdata", "scenario-default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if sc != DefaultScenario() {
		t.Errorf("testdata/scenario-default.yaml = %+v, want the defaults %+v", sc, DefaultScenario())
	}
	for _, tc := range []struct{ yaml, want string }{
		{"modles: 3\n", "modles"},
		{"models: many\n", "models"},
		{"decay_rate: -1\n", "decay_rate"},
		{"budget: 1\nretrain_days: 0\n", "retrain_days"},
		{"evaluate_every: -5\n", "evaluate_every"},
	} {
		_, err := ParseScenario([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseScenario(%q) = %v, want an error naming %s", tc.yaml, err, tc.want)
		}
	}
}

func TestReportSelfContained(t *testing.T) {
	t.Parallel()
	o, mk := small(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, compare(t, mk, o)); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if got, want := strings.Count(html, "<svg"), 4; got != want {
		t.Errorf("inline <svg> charts = %d, want %d", got, want)
	}
	// xmlns attributes name namespaces, not resources to fetch.
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?https?://|url\(\s*["']?https?://|@import`)
	if m := external.FindString(html); m != "" {
		t.Errorf("report references an external resource: %q", m)
	}
}

// sharedData finds ../shared/data by walking up from the working
// directory; it skips outside CI and fails under CI=true when absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("shared/data not found above the working directory (required when CI=true)")
	}
	t.Skip("shared/data not found above the working directory: skipping the real-price backtest")
	return ""
}

func TestRealPrices(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(sharedData(t), "pypfopt", "stock_prices_2024.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := prices.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Policies, o.Resamples = []string{PolicyNever, PolicyPeriodic, PolicyFlywheel}, 100
	mk, err := NewPrices(context.Background(), "stock_prices_2024.csv", tab, 30)
	if err != nil {
		t.Fatal(err)
	}
	res := compare(t, mk, o)
	if got, want := res.Models, 19; got != want {
		t.Errorf("models = %d, want %d", got, want)
	}
	if got, want := res.To, "2024-11-29"; got != want {
		t.Errorf("last day = %s, want %s", got, want)
	}
	if res.Policies[PolicyPeriodic].Runs == 0 {
		t.Errorf("periodic made no run on real prices")
	}
	if _, err := NewPrices(context.Background(), "x", tab, len(tab.Dates)); err == nil {
		t.Errorf("NewPrices with every row replayed: want an error, no history is left to train on")
	}
}

func BenchmarkSyntheticDefault(b *testing.B) {
	o := DefaultOptions()
	o.Scenario.Days = 250
	o.Resamples = 200
	for b.Loop() {
		mk, err := NewSynthetic(o.Scenario, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compare(context.Background(), mk, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(o.Scenario.Days*b.N)/b.Elapsed().Seconds(), "days/s")
}
