package portfolio

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/flywheel-ml/flywheel/prices"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

var (
	stocksOnce sync.Once
	stocks     *prices.Returns
	stocksErr  error
)

// stockReturns reads pypfopt/stock_prices_2018.csv once for all tests.
func stockReturns(t testing.TB) *prices.Returns {
	t.Helper()
	path := shareddata.Path(t, "pypfopt/stock_prices_2018.csv")
	stocksOnce.Do(func() {
		f, err := os.Open(path)
		if err != nil {
			stocksErr = err
			return
		}
		defer f.Close()
		tab, err := prices.Read(f)
		if err != nil {
			stocksErr = err
			return
		}
		stocks = tab.Returns()
	})
	if stocksErr != nil {
		t.Fatal(stocksErr)
	}
	return stocks
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// achievedTol is the relative tolerance this implementation actually meets
// on the reference values (about 1e-15; the README asks for 1e-4 and 1e-2).
// Asserting it as well catches a regression, say an optimiser that stops
// early, long before it would breach the README's looser bounds.
const achievedTol = 1e-9

// The expected values in these tests are PyPortfolioOpt's, as listed in
// ../shared/data/README.md.

func TestReferenceMinVolatility(t *testing.T) {
	t.Parallel()
	r := stockReturns(t)
	mu := CompoundedReturn(r.Values, TradingDays)
	S := SampleCov(r.Values, TradingDays)
	w, err := MinVolatility(S, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ret, vol, sharpe, err := Performance(w, mu, S, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"return", ret, 0.15056821399482578},
		{"volatility", vol, 0.15915084514118694},
		{"sharpe", sharpe, 0.8204054077060996},
	}
	for _, tt := range tests {
		t.Logf("min volatility %s = %.17g, reference %.17g, relative error %.1e", tt.name, tt.got, tt.want, math.Abs(tt.got/tt.want-1))
		if !relClose(tt.got, tt.want, 1e-4) {
			t.Errorf("min volatility %s = %.17g, want %.17g (rel tol 1e-4)", tt.name, tt.got, tt.want)
		} else if !relClose(tt.got, tt.want, achievedTol) {
			t.Errorf("min volatility %s = %.17g, want %.17g to %g as before", tt.name, tt.got, tt.want, achievedTol)
		}
	}
	checkKKT(t, S, ones(len(w)), w, 1e-9)
}

func TestReferenceHRP(t *testing.T) {
	t.Parallel()
	r := stockReturns(t)
	res, err := HRP(SampleCov(r.Values, 1), SampleCorr(r.Values))
	if err != nil {
		t.Fatal(err)
	}
	want := readWeights(t, shareddata.Path(t, "pypfopt/weights_hrp.csv"))
	if len(want) != len(r.Assets) {
		t.Fatalf("reference has %d weights for %d assets", len(want), len(r.Assets))
	}
	worst := 0.0
	defer func() { t.Logf("largest relative error of an HRP weight: %.1e", worst) }()
	for i, a := range r.Assets {
		w, ok := want[a]
		if !ok {
			t.Errorf("no reference weight for %s", a)
			continue
		}
		worst = math.Max(worst, math.Abs(res.Weights[i]/w-1))
		if !relClose(res.Weights[i], w, 1e-2) {
			t.Errorf("HRP weight of %s = %.6g, want %.6g (rel tol 1e-2)", a, res.Weights[i], w)
		} else if !relClose(res.Weights[i], w, achievedTol) {
			t.Errorf("HRP weight of %s = %.17g, want %.17g to %g as before", a, res.Weights[i], w, achievedTol)
		}
	}

	firstFive := []int{12, 6, 15, 14, 2}
	for i, want := range firstFive {
		if got := res.Order[i]; got != want {
			t.Errorf("quasi-diagonal order[%d] = %d (%s), want %d (%s)", i, got, r.Assets[got], want, r.Assets[want])
		}
	}

	mu := MeanHistoricalReturn(r.Values, TradingDays)
	S := SampleCov(r.Values, TradingDays)
	ret, vol, sharpe, err := Performance(res.Weights, mu, S, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	perf := []struct {
		name      string
		got, want float64
	}{
		{"return", ret, 0.21353402380950973},
		{"volatility", vol, 0.17844159743748936},
		{"sharpe", sharpe, 1.084579081272277},
	}
	for _, tt := range perf {
		t.Logf("HRP %s = %.17g, reference %.17g, relative error %.1e", tt.name, tt.got, tt.want, math.Abs(tt.got/tt.want-1))
		if !relClose(tt.got, tt.want, 1e-4) {
			t.Errorf("HRP %s = %.17g, want %.17g (rel tol 1e-4)", tt.name, tt.got, tt.want)
		} else if !relClose(tt.got, tt.want, achievedTol) {
			t.Errorf("HRP %s = %.17g, want %.17g to %g as before", tt.name, tt.got, tt.want, achievedTol)
		}
	}
}

func TestReferenceClusterVariance(t *testing.T) {
	t.Parallel()
	r := stockReturns(t)
	var items []int
	for _, name := range []string{"SHLD", "AMD", "BBY", "RRC", "FB", "WMT", "T", "BABA", "PFE", "UAA"} {
		i := indexOf(r.Assets, name)
		if i < 0 {
			t.Fatalf("no asset %s", name)
		}
		items = append(items, i)
	}
	got := ClusterVariance(SampleCov(r.Values, 1), items)
	t.Logf("cluster variance = %.17g, reference 0.00012842967106653283", got)
	if want := 0.00012842967106653283; math.Abs(got-want) > 0.5e-7 {
		t.Errorf("cluster variance = %.17g, want %.17g (7 decimals)", got, want)
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// readWeights reads a two-column ticker,weight file with a header row.
func readWeights(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for i, rec := range recs[1:] {
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+2, err)
		}
		out[rec[0]] = v
	}
	return out
}
