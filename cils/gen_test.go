package cils

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// t0 is the start of every generated history.
var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// history builds runs by hand for one model at a time.
type history struct {
	runs []flywheel.Run
	n    int
	last map[flywheel.ModelKey]time.Time
}

// add appends a succeeded run of k with the given score, one day after
// the model's previous run, and returns it for further changes; the
// pointer is good until the next add.
func (h *history) add(k flywheel.ModelKey, score float64, config map[string]any) *flywheel.Run {
	h.n++
	if h.last == nil {
		h.last = make(map[flywheel.ModelKey]time.Time)
	}
	start := t0.Add(time.Duration(h.n) * time.Hour)
	if last, ok := h.last[k]; ok {
		start = last.Add(24 * time.Hour)
	}
	h.last[k] = start
	end := start.Add(30 * time.Minute)
	h.runs = append(h.runs, flywheel.Run{
		RunID:      fmt.Sprintf("run-%05d", h.n),
		ModelKey:   k,
		Config:     config,
		StartedAt:  start,
		FinishedAt: &end,
		Status:     flywheel.RunSucceeded,
		Metrics:    map[string]float64{flywheel.MetricValidationScore: score},
		Cost:       flywheel.Cost{GPUHours: 1, CPUHours: 0.5, WallSeconds: 1800},
	})
	return &h.runs[len(h.runs)-1]
}

// series adds one run per score.
func (h *history) series(k flywheel.ModelKey, scores ...float64) {
	for _, s := range scores {
		h.add(k, s, nil)
	}
}

func key(target, family string) flywheel.ModelKey {
	return flywheel.ModelKey{Target: target, ModelFamily: family}
}

func boolp(b bool) *bool { return &b }

// learn runs Learn with the default config and fails the test on error.
func learn(t testing.TB, runs []flywheel.Run, prev *Insights) *Insights {
	t.Helper()
	in, err := Learn(DefaultConfig(), Snapshot{Runs: runs, Now: t0.Add(365 * 24 * time.Hour), Previous: prev})
	if err != nil {
		t.Fatalf("Learn: %v", err)
	}
	return in
}

// benchStrategies are the feature-selection configs of generated runs,
// shared between runs as a decoded JSON config would not be, which does
// not matter to a reader.
var benchStrategies = []map[string]any{
	{"feature_selection": map[string]any{"top_n": 50.0, "aggregation_method": "weighted_consensus", "model_weights": map[string]any{"lightgbm": 0.6, "ridge": 0.4}}},
	{"feature_selection": map[string]any{"top_n": 100.0, "aggregation_method": "mean"}},
	{"top_n": 20, "aggregation_method": "rank"},
}

// synthetic returns a realistic history: models spread over four kinds,
// each with runs runs a day apart, nFeatures importances per run, a
// strategy per run, a few failed runs, leakage events with labels, and
// some models whose score decays or drops near the end.
func synthetic(seed uint64, models, runs, nFeatures int) []flywheel.Run {
	rng := rand.New(rand.NewPCG(seed, 1))
	kinds := []string{"fwd", "barrier", "vol", "ret"}
	families := []string{"lightgbm", "ridge"}
	features := make([]string, nFeatures)
	for i := range features {
		features[i] = fmt.Sprintf("f%03d", i)
	}
	out := make([]flywheel.Run, 0, models*runs)
	for m := range models {
		// Each target has a model of each family.
		k := key(fmt.Sprintf("%s_ret_5d_T%05d", kinds[m%len(kinds)], m/(len(kinds)*len(families))),
			families[(m/len(kinds))%len(families)])
		level := 0.05 + 0.1*rng.Float64()
		decayFrom := runs + 1
		if rng.IntN(10) == 0 {
			decayFrom = runs - 10
		}
		weights := make([]float64, nFeatures)
		for i := range weights {
			weights[i] = rng.ExpFloat64()
		}
		for j := range runs {
			start := t0.Add(time.Duration(j)*24*time.Hour + time.Duration(m)*time.Second)
			end := start.Add(time.Duration(20+rng.IntN(40)) * time.Minute)
			strat := rng.IntN(len(benchStrategies))
			lv := level * (1 + 0.01*float64(strat))
			if j >= decayFrom {
				lv *= 1 - 0.015*float64(j-decayFrom+1)
			}
			r := flywheel.Run{
				RunID:      fmt.Sprintf("r%06d-%03d", m, j),
				ModelKey:   k,
				Config:     benchStrategies[strat],
				StartedAt:  start,
				FinishedAt: &end,
				Status:     flywheel.RunSucceeded,
				Metrics:    map[string]float64{flywheel.MetricValidationScore: lv * (1 + 0.02*rng.NormFloat64())},
				Cost:       flywheel.Cost{GPUHours: rng.Float64(), CPUHours: 2 * rng.Float64(), WallSeconds: end.Sub(start).Seconds()},
			}
			if rng.IntN(20) == 0 {
				r.Status = flywheel.RunFailed
				r.Metrics = nil
			}
			r.FeatureImportance = make(map[string]float64, nFeatures)
			for i, f := range features {
				r.FeatureImportance[f] = weights[i] * (1 + 0.3*rng.NormFloat64())
			}
			if rng.IntN(5) == 0 {
				r.LeakageEvents = leakEvents(rng, features)
			}
			out = append(out, r)
		}
	}
	return out
}

// leakEvents flags one or two features; real leaks score above 0.7.
func leakEvents(rng *rand.Rand, features []string) []flywheel.LeakageEvent {
	var ev []flywheel.LeakageEvent
	for range 1 + rng.IntN(2) {
		score := rng.Float64()
		e := flywheel.LeakageEvent{Feature: features[rng.IntN(min(3, len(features)))], Score: score, Threshold: 0.5}
		if rng.IntN(3) > 0 {
			e.Confirmed = boolp(score >= 0.7)
		}
		ev = append(ev, e)
	}
	return ev
}
