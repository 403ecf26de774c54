package cils

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func TestStrategyOf(t *testing.T) {
	t.Parallel()
	var decoded map[string]any
	if err := json.Unmarshal([]byte(`{"feature_selection": {"top_n": 50, "model_weights": {"ridge": 0.4, "lightgbm": 0.6}}, "aggregation_method": "mean"}`), &decoded); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		config  map[string]any
		wantKey string
		wantOK  bool
	}{
		{"decoded JSON, nested with top-level fallback", decoded, "top_n=50 aggregation_method=mean model_weights=lightgbm:0.6,ridge:0.4", true},
		{"top level only, Go ints", map[string]any{"top_n": 20, "aggregation_method": "rank"}, "top_n=20 aggregation_method=rank model_weights=", true},
		{"nested wins over top level", map[string]any{"top_n": 20, "feature_selection": map[string]any{"top_n": 30.0}}, "top_n=30 aggregation_method= model_weights=", true},
		{"no strategy", map[string]any{"learning_rate": 0.1}, "", false},
		{"nil config", nil, "", false},
		{"fractional top_n", map[string]any{"top_n": 20.5}, "", false},
		{"top_n as text", map[string]any{"top_n": "20"}, "", false},
		{"weights not numbers", map[string]any{"model_weights": map[string]any{"ridge": "high"}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := StrategyOf(tt.config)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.wantOK, s)
			}
			if ok && s.Key() != tt.wantKey {
				t.Errorf("key = %q, want %q", s.Key(), tt.wantKey)
			}
		})
	}
}

// Three strategies as the pipeline's config names them.
var (
	stratA = map[string]any{"feature_selection": map[string]any{"top_n": 50.0, "aggregation_method": "weighted_consensus"}}
	stratB = map[string]any{"feature_selection": map[string]any{"top_n": 100.0, "aggregation_method": "mean"}}
	stratC = map[string]any{"feature_selection": map[string]any{"top_n": 20.0, "aggregation_method": "rank"}}
)

func strategyKey(t *testing.T, config map[string]any) string {
	t.Helper()
	s, ok := StrategyOf(config)
	if !ok {
		t.Fatalf("no strategy in %v", config)
	}
	return s.Key()
}

// plantedKind adds, for each of 4 targets of a kind, runs of every
// strategy with score = difficulty + effect + noise. plan[target][s] is
// how many runs target gets with strategy s; runs are interleaved at
// random so that order says nothing.
func plantedKind(h *history, rng *rand.Rand, kind string, effects [3]float64, plan [4][3]int) {
	difficulty := [4]float64{0.02, 0.05, 0.10, 0.20}
	configs := [3]map[string]any{stratA, stratB, stratC}
	for tg := range plan {
		k := key(kind+"_ret_5d_T"+string(rune('A'+tg)), "ridge")
		var order []int
		for s, n := range plan[tg] {
			for range n {
				order = append(order, s)
			}
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, s := range order {
			h.add(k, difficulty[tg]+effects[s]+0.004*rng.NormFloat64(), configs[s])
		}
	}
}

func TestStrategyPlantedTruth(t *testing.T) {
	t.Parallel()
	balanced := [4][3]int{{5, 5, 5}, {5, 5, 5}, {5, 5, 5}, {5, 5, 5}}
	// Confounded: the easy targets mostly ran C, the hard ones mostly A,
	// so raw per-strategy means favour C; only removing the target effect
	// finds the truth. Still 20 runs per strategy in each kind.
	confounded := [4][3]int{{8, 6, 1}, {8, 6, 2}, {2, 4, 8}, {2, 4, 9}}
	tests := []struct {
		name string
		plan [4][3]int
	}{
		{"balanced", balanced},
		{"confounded with target difficulty", confounded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h history
			rng := rand.New(rand.NewPCG(42, 0))
			// fwd: A is best by 0.010; barrier: B is best by 0.008.
			plantedKind(&h, rng, "fwd", [3]float64{0.010, 0, -0.005}, tt.plan)
			plantedKind(&h, rng, "barrier", [3]float64{-0.003, 0.008, 0}, tt.plan)
			in := learn(t, h.runs, nil)
			want := map[string]string{"barrier": strategyKey(t, stratB), "fwd": strategyKey(t, stratA)}
			if len(in.OptimalStrategies) != len(want) {
				t.Fatalf("got %d kinds, want %d: %+v", len(in.OptimalStrategies), len(want), in.OptimalStrategies)
			}
			for _, ks := range in.OptimalStrategies {
				if ks.Key != want[ks.Kind] {
					t.Errorf("kind %s: recommended %q, want %q (candidates %+v)", ks.Kind, ks.Key, want[ks.Kind], ks.Candidates)
				}
				if ks.Runs != 60 || ks.Models != 4 {
					t.Errorf("kind %s rests on %d runs of %d models, want 60 of 4", ks.Kind, ks.Runs, ks.Models)
				}
				for _, c := range ks.Candidates {
					if c.Runs != 20 {
						t.Errorf("kind %s: %s has %d runs, want 20", ks.Kind, c.Key, c.Runs)
					}
				}
			}
			// The fwd target whose latest run used C gains about A - C = 0.015.
			fwd := in.OptimalStrategies[1]
			for _, g := range fwd.Targets {
				wantGain := map[string]float64{strategyKey(t, stratA): 0, strategyKey(t, stratB): 0.010, strategyKey(t, stratC): 0.015}[g.Current]
				if math.Abs(g.ExpectedImprovement-wantGain) > 0.004 {
					t.Errorf("%s on %s: expected improvement %.4f, want %.3f +- 0.004", g.ModelKey, g.Current, g.ExpectedImprovement, wantGain)
				}
			}
		})
	}
}

func TestStrategyExploration(t *testing.T) {
	t.Parallel()
	var h history
	rng := rand.New(rand.NewPCG(7, 0))
	// A is best on 40 runs; C, worse, was tried once per target: its
	// posterior is wide enough that a large z explores it.
	plantedKind(&h, rng, "fwd", [3]float64{0.006, 0, -0.002}, [4][3]int{{10, 10, 1}, {10, 10, 1}, {10, 10, 1}, {10, 10, 1}})
	tests := []struct {
		z         float64
		want      map[string]any
		exploring bool
	}{
		{0, stratA, false},
		{10, stratC, true},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.StrategyUCBZ = tt.z
		in, err := Learn(cfg, Snapshot{Runs: h.runs, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		ks := in.OptimalStrategies[0]
		if ks.Key != strategyKey(t, tt.want) || ks.Exploring != tt.exploring {
			t.Errorf("z=%g: recommended %q exploring=%v, want %q exploring=%v", tt.z, ks.Key, ks.Exploring, strategyKey(t, tt.want), tt.exploring)
		}
		sd := map[string]float64{}
		for _, c := range ks.Candidates {
			sd[c.Key] = c.PosteriorSD
		}
		if sd[strategyKey(t, stratC)] <= sd[strategyKey(t, stratA)] {
			t.Errorf("z=%g: the little-tried strategy is not less certain: %v", tt.z, sd)
		}
	}
}

func TestStrategyUnconnected(t *testing.T) {
	t.Parallel()
	var h history
	rng := rand.New(rand.NewPCG(9, 0))
	// Targets A and B compare strategies A and B; target C only ever ran
	// C, so C's effect cannot be told from target C's difficulty.
	plantedKind(&h, rng, "fwd", [3]float64{0.01, 0, 0}, [4][3]int{{5, 5, 0}, {5, 5, 0}, {0, 0, 5}, {0, 0, 0}})
	in := learn(t, h.runs, nil)
	ks := in.OptimalStrategies[0]
	if len(ks.Candidates) != 2 || len(ks.Unconnected) != 1 || ks.Unconnected[0] != strategyKey(t, stratC) {
		t.Errorf("candidates %d, unconnected %v; want 2 and [C]", len(ks.Candidates), ks.Unconnected)
	}
}

func TestStrategyLimit(t *testing.T) {
	t.Parallel()
	var h history
	rng := rand.New(rand.NewPCG(11, 0))
	plantedKind(&h, rng, "fwd", [3]float64{0.010, 0, -0.005}, [4][3]int{{5, 5, 5}, {5, 5, 5}, {5, 5, 5}, {5, 5, 5}})
	// Learned model weights make every one of these runs a strategy of
	// its own; they come first so that the latest runs keep A, B and C.
	var rare []flywheel.Run
	for i := range 40 {
		w := 0.5 + 0.01*float64(i)
		config := map[string]any{"model_weights": map[string]any{"ridge": w, "lightgbm": 1 - w}}
		r := flywheel.Run{RunID: fmt.Sprintf("learned-%02d", i), ModelKey: key("fwd_ret_5d_TA", "ridge"), Config: config,
			StartedAt: t0.Add(-time.Duration(i+1) * time.Hour), Status: flywheel.RunSucceeded,
			Metrics: map[string]float64{flywheel.MetricValidationScore: 0.02}}
		rare = append(rare, r)
	}
	cfg := DefaultConfig()
	cfg.MaxStrategies = 3
	in, err := Learn(cfg, Snapshot{Runs: append(rare, h.runs...), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	ks := in.OptimalStrategies[0]
	if len(ks.Candidates) != 3 || ks.Rare != 40 || ks.Key != strategyKey(t, stratA) {
		t.Errorf("%d candidates, %d rare, best %q; want 3, 40 and A", len(ks.Candidates), ks.Rare, ks.Key)
	}
}
