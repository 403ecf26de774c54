package train

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		want    Target
		wantErr string
	}{
		{"fwd_ret_5d_AAPL", Target{Name: "fwd_ret_5d_AAPL", Kind: KindForwardReturn, Horizon: 5, Asset: "AAPL"}, ""},
		{"barrier_up_10d_JPM", Target{Name: "barrier_up_10d_JPM", Kind: KindBarrierUp, Horizon: 10, Asset: "JPM"}, ""},
		{"barrier_down_1d_BRK.B", Target{Name: "barrier_down_1d_BRK.B", Kind: KindBarrierDown, Horizon: 1, Asset: "BRK.B"}, ""},
		{"fwd_ret_20d_SYN_A", Target{Name: "fwd_ret_20d_SYN_A", Kind: KindForwardReturn, Horizon: 20, Asset: "SYN_A"}, ""},
		{"", Target{}, "target: is required"},
		{"vol_5d_AAPL", Target{}, `"vol_5d_AAPL": unknown kind`},
		{"fwd_ret_5_AAPL", Target{}, `horizon "5" is not a number of trading days`},
		{"fwd_ret_xd_AAPL", Target{}, `horizon "xd"`},
		{"fwd_ret_0d_AAPL", Target{}, `horizon "0d"`},
		{"fwd_ret_05d_AAPL", Target{}, `horizon "05d"`},
		{"fwd_ret_999d_AAPL", Target{}, `horizon "999d"`},
		{"fwd_ret_5d", Target{}, `no asset after the horizon "5d"`},
		{"fwd_ret_5d_", Target{}, `no asset after the horizon`},
		{"fwd_ret_5d_../x", Target{}, "does not match"},
	} {
		got, err := ParseTarget(c.name)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseTarget(%q) error = %v, want one containing %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

// TestBarrierLabels walks prices through each of the three barriers.
func TestBarrierLabels(t *testing.T) {
	t.Parallel()
	// With daily vol 0.01 and H = 4 the barriers sit at +-0.02 in log price.
	vol := []float64{0.01, 0.01, 0.01, 0.01, 0.01, 0.01}
	for _, c := range []struct {
		name     string
		logp     []float64
		up, down float64
	}{
		{"upper first", []float64{0, 0.01, 0.025, -0.05, 0, 0}, 1, 0},
		{"lower first", []float64{0, -0.021, 0.05, 0, 0, 0}, 0, 1},
		{"vertical barrier", []float64{0, 0.019, -0.019, 0.01, 0.015, 0.5}, 0, 0},
		{"exactly at the barrier", []float64{0, 0.02, 0, 0, 0, 0}, 1, 0},
	} {
		up := Target{Kind: KindBarrierUp, Horizon: 4}.labels(c.logp, vol)
		down := Target{Kind: KindBarrierDown, Horizon: 4}.labels(c.logp, vol)
		if up[0] != c.up || down[0] != c.down {
			t.Errorf("%s: up %v down %v, want %v %v", c.name, up[0], down[0], c.up, c.down)
		}
		if !math.IsNaN(up[2]) {
			t.Errorf("%s: label at row 2 = %v, want NaN (its horizon runs past the data)", c.name, up[2])
		}
	}
	fwd := Target{Kind: KindForwardReturn, Horizon: 2}.labels([]float64{0, 0.1, 0.3, 0.2}, vol)
	if math.Abs(fwd[0]-0.3) > 1e-12 || math.Abs(fwd[1]-0.1) > 1e-12 || !math.IsNaN(fwd[2]) {
		t.Errorf("forward returns %v, want [0.3 0.1 NaN NaN]", fwd)
	}
}

// TestTrainRejectsBadInput checks that each bad input gets an error that
// names what is wrong.
func TestTrainRejectsBadInput(t *testing.T) {
	t.Parallel()
	small := Synthetic(SyntheticOptions{Seed: 1, Assets: 2, Days: 200})
	for _, c := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"unknown asset", Options{Target: "fwd_ret_5d_AAPL", ModelFamily: FamilyRidge},
			`asset "AAPL" is not a column of the price file (columns: SYN0, SYN1, SYN2`},
		{"bad target", Options{Target: "fwd_ret_5x_SYN0", ModelFamily: FamilyRidge}, `horizon "5x"`},
		{"bad family", Options{Target: "fwd_ret_5d_SYN0", ModelFamily: "lightgbm"}, `model_family: "lightgbm" is not one this pipeline trains`},
		{"too little data", Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge, Prices: small},
			"too few for 5 walk-forward folds"},
		{"bad settings", Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge, Settings: &Settings{Folds: 1}},
			"cross_validation_folds: must be a whole number from 2 to 50, got 1"},
		{"bad job id", Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge, JobID: "a/b"}, "job_id"},
	} {
		_, err := Train(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error = %v, want one containing %q", c.name, err, c.wantErr)
		}
	}
}

// FuzzParseTarget: any accepted name has a known kind, a horizon in
// range and an asset, and rebuilds to itself.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"fwd_ret_5d_AAPL", "barrier_up_10d_JPM", "barrier_down_1d_X_Y", "fwd_ret_05d_A", "fwd_ret_+5d_A", "fwd_ret__A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		tg, err := ParseTarget(name)
		if err != nil {
			return
		}
		rebuilt := fmt.Sprintf("%s_%dd_%s", tg.Kind, tg.Horizon, tg.Asset)
		if rebuilt != name || tg.Horizon < 1 || tg.Horizon > MaxHorizon || tg.Asset == "" {
			t.Fatalf("ParseTarget(%q) = %+v, which rebuilds to %q", name, tg, rebuilt)
		}
	})
}
