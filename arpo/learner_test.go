package arpo

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestLearnerMatchesLearn makes a series of passes over a changing
// window, as the daemon does, with a Learner and with Learn, each
// smoothing from its own previous insights, and asserts that every pass
// encodes to the same bytes, with json.Marshal and with an Encoder kept
// from pass to pass. The steps change each kind of input the
// Learner must notice: new observations, a deployment, observations dated
// after Now that Now then reaches, observations leaving the window, a new
// day, a new market return and a new model.
func TestLearnerMatchesLearn(t *testing.T) {
	t.Parallel()
	now := base.AddDate(0, 8, 0).Add(21 * time.Hour)
	for _, tc := range []struct {
		name  string
		setup func(*Snapshot)
	}{
		{"market regimes", func(*Snapshot) {}},
		{"observation regimes", func(s *Snapshot) {
			s.Market = nil
			for i := range s.Observations {
				s.Observations[i].Regime = []string{"calm", "storm"}[s.Observations[i].TS.YearDay()/20%2]
			}
		}},
		{"no regime", func(s *Snapshot) { s.Market = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			snap := randomSnapshot(3, 30, 120, now)
			tc.setup(&snap)
			runLearnerSteps(t, snap)
		})
	}
}

// learnerStep changes the snapshot and returns the models whose
// observations it changed, as the Learner's caller must report them.
type learnerStep struct {
	name string
	step func(s *Snapshot) []flywheel.ModelKey
}

var learnerSteps = []learnerStep{
	{"nothing new, a minute later", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		return nil
	}},
	{"new observations of two models", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		a, b := s.Observations[0].ModelKey, s.Observations[len(s.Observations)-1].ModelKey
		s.Observations = append(s.Observations,
			flywheel.Observation{TS: s.Now.Add(-time.Second), ModelKey: a, Symbol: "X", PnL: -0.05},
			flywheel.Observation{TS: s.Now.Add(-time.Second), ModelKey: b, Symbol: "Y", PnL: 0.04})
		return []flywheel.ModelKey{a, b}
	}},
	{"a deployment, not reported as a change", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		k := s.Observations[len(s.Observations)/2].ModelKey
		s.Deployments = append(s.Deployments, flywheel.Deployment{ModelKey: k, ModelVersion: "v9", DeployedAt: s.Now.AddDate(0, 0, -30)})
		return nil
	}},
	{"observations dated after now", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		k := s.Observations[len(s.Observations)/3].ModelKey
		s.Observations = append(s.Observations, flywheel.Observation{TS: s.Now.Add(time.Hour), ModelKey: k, Symbol: "X", PnL: -0.3})
		return []flywheel.ModelKey{k}
	}},
	{"now reaches them, nothing reported", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(2 * time.Hour)
		return nil
	}},
	{"a deployment dated after now", func(s *Snapshot) []flywheel.ModelKey {
		k := s.Observations[len(s.Observations)/4].ModelKey
		s.Deployments = append(s.Deployments, flywheel.Deployment{ModelKey: k, ModelVersion: "v8", DeployedAt: s.Now.Add(30 * time.Minute)})
		s.Now = s.Now.Add(time.Minute)
		return nil
	}},
	{"now reaches it", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Hour)
		return nil
	}},
	{"a model's oldest observations dropped", func(s *Snapshot) []flywheel.ModelKey {
		k := s.Observations[0].ModelKey
		kept := s.Observations[:0:0]
		dropped := 0
		for _, o := range s.Observations {
			if o.ModelKey == k && dropped < 30 {
				dropped++
				continue
			}
			kept = append(kept, o)
		}
		s.Observations = kept
		return []flywheel.ModelKey{k}
	}},
	{"the next day", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(24 * time.Hour)
		return nil
	}},
	{"a market return", func(s *Snapshot) []flywheel.ModelKey {
		if len(s.Market) > 0 {
			last := s.Market[len(s.Market)-1].Date
			s.Market = append(s.Market, MarketPoint{Date: last.AddDate(0, 0, 1), Return: -0.06})
		}
		s.Now = s.Now.Add(time.Minute)
		return nil
	}},
	{"a new model", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		k := key("fwd_ret_5d_NEW", "ridge")
		for d := range 40 {
			s.Observations = append(s.Observations, flywheel.Observation{TS: s.Now.AddDate(0, 0, -d-1), ModelKey: k, Symbol: "N", PnL: -0.01 + 0.002*float64(d%3)})
		}
		return []flywheel.ModelKey{k}
	}},
	{"a minute later again", func(s *Snapshot) []flywheel.ModelKey {
		s.Now = s.Now.Add(time.Minute)
		return nil
	}},
}

func runLearnerSteps(t *testing.T, snap Snapshot) {
	t.Helper()
	cfg := DefaultConfig()
	l, err := NewLearner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var full, inc *Insights
	var enc Encoder
	pass := func(name string, changed []flywheel.ModelKey) {
		t.Helper()
		set := map[flywheel.ModelKey]bool{}
		for _, k := range changed {
			set[k] = true
		}
		fs, is := snap, snap
		fs.Previous, is.Previous = full, inc
		var err error
		if full, err = Learn(cfg, fs); err != nil {
			t.Fatalf("%s: Learn: %v", name, err)
		}
		if inc, err = l.Learn(is, set); err != nil {
			t.Fatalf("%s: Learner.Learn: %v", name, err)
		}
		a, err := json.Marshal(full)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(inc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the Learner's insights differ from Learn's:\nLearn:   %s\nLearner: %s", name, a, b)
		}
		c, err := enc.Encode(inc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, c) {
			t.Fatalf("%s: the Encoder's bytes differ from json.Marshal's:\njson:    %s\nEncoder: %s", name, a, c)
		}
	}
	pass("first", nil)
	for _, st := range learnerSteps {
		before := l.last
		changed := st.step(&snap)
		pass(st.name, changed)
		if st.name == "new observations of two models" {
			checkReuse(t, before, l.last, changed)
		}
	}
}

// checkReuse asserts that the pass after before judged again the models
// that changed and reused the others, so that the comparison above
// exercises reuse rather than a Learner that judges everything.
func checkReuse(t *testing.T, before, after *passCache, changed []flywheel.ModelKey) {
	t.Helper()
	isChanged := map[flywheel.ModelKey]bool{}
	for _, k := range changed {
		isChanged[k] = true
	}
	reused := 0
	for k, e := range after.models {
		switch {
		case isChanged[k] && e == before.models[k]:
			t.Errorf("%s changed but its judgement was reused", k)
		case !isChanged[k] && e == before.models[k]:
			reused++
		}
	}
	if want := len(after.models) - len(changed); reused != want {
		t.Errorf("%d models reused, want %d of %d", reused, want, len(after.models))
	}
}
