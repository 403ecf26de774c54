package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel/prices"
)

// cloneTable deep-copies a table so that a test can change prices.
func cloneTable(tab *prices.Table) *prices.Table {
	c := &prices.Table{Dates: slices.Clone(tab.Dates), Assets: slices.Clone(tab.Assets)}
	for _, p := range tab.Prices {
		c.Prices = append(c.Prices, slices.Clone(p))
	}
	return c
}

// sameFloat treats two NaNs as equal.
func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// TestFeaturesUseNoFutureData changes every price after day t, of every
// asset, and checks that no feature at or before t moves, while the
// planted leak does: the leak shows the test can tell.
func TestFeaturesUseNoFutureData(t *testing.T) {
	t.Parallel()
	base := Synthetic(SyntheticOptions{Seed: 3, Assets: 4, Days: 400})
	const h = 10
	for _, cut := range []int{Lookback, 150, 300, 398} {
		changed := cloneTable(base)
		rng := rand.New(rand.NewPCG(uint64(cut), 1))
		for _, p := range changed.Prices {
			for i := cut + 1; i < len(p); i++ {
				p[i] *= math.Exp(0.05 * rng.NormFloat64())
			}
		}
		for a := range base.Assets {
			before, after := buildFeatures(base, a), buildFeatures(changed, a)
			before.addLeak(h, rand.New(rand.NewPCG(1, 2)))
			after.addLeak(h, rand.New(rand.NewPCG(1, 2)))
			leakMoved := false
			for j, name := range before.names {
				for i := 0; i <= cut; i++ {
					if sameFloat(before.values[j][i], after.values[j][i]) {
						continue
					}
					if name != LeakFeature {
						t.Fatalf("cut %d asset %d: %s at row %d moved from %v to %v when only later prices changed",
							cut, a, name, i, before.values[j][i], after.values[j][i])
					}
					leakMoved = true
				}
			}
			if cut < 398-h && !leakMoved {
				t.Errorf("cut %d asset %d: %s did not move; it is meant to see the future", cut, a, LeakFeature)
			}
		}
	}
}

// TestFeatureValues checks the features on prices whose answers are known
// by hand: three assets growing at a constant 1%, 2% and -1% a day.
func TestFeatureValues(t *testing.T) {
	t.Parallel()
	growth := []float64{0.01, 0.02, -0.01}
	tab := &prices.Table{Assets: []string{"A", "B", "C"}, Prices: make([][]float64, 3)}
	for i := range 100 {
		tab.Dates = append(tab.Dates, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i))
		for a, g := range growth {
			tab.Prices[a] = append(tab.Prices[a], 10*math.Pow(1+g, float64(i)))
		}
	}
	const row = 80
	want := map[string][3]float64{
		FeatureRet1d:     {math.Log(1.01), math.Log(1.02), math.Log(0.99)},
		FeatureRet20d:    {20 * math.Log(1.01), 20 * math.Log(1.02), 20 * math.Log(0.99)},
		FeatureMomentum:  {55 * math.Log(1.01), 55 * math.Log(1.02), 55 * math.Log(0.99)},
		FeatureVol20d:    {0, 0, 0},
		FeatureRSI14:     {100, 100, 0},
		FeatureRank5d:    {0.5, 1, 0},
		FeatureRank20d:   {0.5, 1, 0},
		FeatureMarket5d:  {5 * (0.01 + 0.02 - 0.01) / 3, 5 * (0.01 + 0.02 - 0.01) / 3, 5 * (0.01 + 0.02 - 0.01) / 3},
		FeatureMarketVol: {0, 0, 0},
	}
	for a := range growth {
		c := buildFeatures(tab, a)
		for name, w := range want {
			got := c.values[slices.Index(c.names, name)][row]
			if math.Abs(got-w[a]) > 1e-9 {
				t.Errorf("asset %s: %s = %v, want %v", tab.Assets[a], name, got, w[a])
			}
		}
		if v := c.values[0][0]; !math.IsNaN(v) {
			t.Errorf("asset %s: ret_1d on the first day = %v, want NaN (no earlier price)", tab.Assets[a], v)
		}
	}
}

// TestCrossRankSkipsUnlisted checks that an asset without a price (not
// listed yet) is left out of the ranks instead of counting as a zero
// return.
func TestCrossRankSkipsUnlisted(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	logs := [][]float64{
		{0, 0.1, 0.2},
		{nan, nan, 0.3},
		{0, -0.1, -0.2},
	}
	got := crossRank(logs, 0, 1)
	if got[2] != 1 || got[1] != 1 {
		t.Errorf("ranks of asset 0 = %v, want [NaN 1 1]: asset 1 has no 1-day return yet", got)
	}
}
