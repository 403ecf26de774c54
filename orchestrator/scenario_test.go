package orchestrator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// scenario is one file of testdata/scenarios: a configuration (overrides
// on DefaultConfig), a snapshot and the plan it must give. The YAML is
// read as JSON so that every type decodes exactly as the daemon's JSON
// does, and unknown fields are errors so that a typo cannot pass silently.
type scenario struct {
	Description string          `json:"description"`
	Config      json.RawMessage `json:"config"`
	Snapshot    Snapshot        `json:"snapshot"`
	Want        want            `json:"want"`
}

// want is the expected plan. Candidates must list every candidate; the
// numbers are checked only when given.
type want struct {
	// Admitted are the admitted models ("target/family") in plan order.
	Admitted   []string        `json:"admitted"`
	Candidates []wantCandidate `json:"candidates"`
	Signals    []wantSignal    `json:"signals"`
	Budget     *wantBudget     `json:"budget"`
	Search     *wantSearch     `json:"search"`
}

type wantCandidate struct {
	Model             string   `json:"model"`
	Admitted          bool     `json:"admitted"`
	Reason            string   `json:"reason"`
	Priority          *float64 `json:"priority"`
	EffectivePriority *float64 `json:"effective_priority"`
	Score             *float64 `json:"score"`
	Urgency           string   `json:"urgency"`
}

type wantSignal struct {
	Model   string   `json:"model"`
	Sources []string `json:"sources"`
	Kinds   []string `json:"kinds"`
}

type wantBudget struct {
	Day       string   `json:"day"`
	Spent     *float64 `json:"spent"`
	Reserved  *float64 `json:"reserved"`
	Remaining *float64 `json:"remaining"`
}

type wantSearch struct {
	Greedy   *float64 `json:"greedy"`
	Chosen   *float64 `json:"chosen"`
	Complete bool     `json:"complete"`
}

func loadScenario(t *testing.T, path string) (Config, scenario) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var sc scenario
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cfg := DefaultConfig()
	if len(sc.Config) > 0 && string(sc.Config) != "null" {
		dec := json.NewDecoder(bytes.NewReader(sc.Config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("%s: config: %v", path, err)
		}
	}
	return cfg, sc
}

// TestScenarios runs every scheduler scenario: snapshot in, plan with
// reasons out.
func TestScenarios(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			t.Parallel()
			cfg, sc := loadScenario(t, path)
			p := decide(t, cfg, sc.Snapshot)
			checkPlan(t, p, &sc.Want)
			if t.Failed() {
				t.Logf("scenario: %s", sc.Description)
				for _, c := range p.Candidates {
					t.Logf("  %s admitted=%v %q (%s) priority %.4f eff %.4f score %.4f",
						c.ModelKey, c.Admitted, c.Reason, c.Detail, c.Priority, c.EffectivePriority, c.Score)
				}
			}
		})
	}
}

func checkPlan(t *testing.T, p *Plan, w *want) {
	t.Helper()
	var admitted []string
	for _, j := range p.Jobs {
		admitted = append(admitted, j.ModelKey.String())
	}
	if !slices.Equal(admitted, w.Admitted) {
		t.Errorf("admitted = %v, want %v", admitted, w.Admitted)
	}
	if len(p.Candidates) != len(w.Candidates) {
		t.Errorf("%d candidates, want %d", len(p.Candidates), len(w.Candidates))
	}
	for _, wc := range w.Candidates {
		c, ok := findCandidate(p, wc.Model)
		if !ok {
			t.Errorf("%s: no candidate", wc.Model)
			continue
		}
		if c.Admitted != wc.Admitted || c.Reason != wc.Reason {
			t.Errorf("%s: admitted %v, %q (%s); want %v, %q", wc.Model, c.Admitted, c.Reason, c.Detail, wc.Admitted, wc.Reason)
		}
		checkNumber(t, wc.Model+" priority", c.Priority, wc.Priority)
		checkNumber(t, wc.Model+" effective priority", c.EffectivePriority, wc.EffectivePriority)
		checkNumber(t, wc.Model+" score", c.Score, wc.Score)
		if wc.Urgency != "" && c.Urgency != wc.Urgency {
			t.Errorf("%s: urgency %s, want %s", wc.Model, c.Urgency, wc.Urgency)
		}
	}
	for _, ws := range w.Signals {
		checkSignal(t, p, ws)
	}
	if b := w.Budget; b != nil {
		if b.Day != "" && p.Budget.Day != b.Day {
			t.Errorf("budget day = %s, want %s", p.Budget.Day, b.Day)
		}
		checkNumber(t, "budget spent", p.Budget.Spent, b.Spent)
		checkNumber(t, "budget reserved", p.Budget.Reserved, b.Reserved)
		checkNumber(t, "budget remaining", p.Budget.Remaining, b.Remaining)
	}
	if s := w.Search; s != nil {
		checkNumber(t, "greedy total", p.Search.Greedy, s.Greedy)
		checkNumber(t, "chosen total", p.Search.Chosen, s.Chosen)
		if p.Search.Complete != s.Complete {
			t.Errorf("search complete = %v, want %v", p.Search.Complete, s.Complete)
		}
	}
}

func checkSignal(t *testing.T, p *Plan, ws wantSignal) {
	t.Helper()
	for _, s := range p.Signals {
		if s.ModelKey.String() != ws.Model {
			continue
		}
		var kinds []string
		for _, r := range s.Reasons {
			kinds = append(kinds, r.Kind)
		}
		if !slices.Equal(s.Sources, ws.Sources) || !slices.Equal(kinds, ws.Kinds) {
			t.Errorf("%s: sources %v, reasons %v; want %v, %v", ws.Model, s.Sources, kinds, ws.Sources, ws.Kinds)
		}
		return
	}
	t.Errorf("%s: no signal", ws.Model)
}

func findCandidate(p *Plan, model string) (Candidate, bool) {
	for _, c := range p.Candidates {
		if c.ModelKey.String() == model {
			return c, true
		}
	}
	return Candidate{}, false
}

func checkNumber(t *testing.T, name string, got float64, want *float64) {
	t.Helper()
	// Scenario numbers are written to 6 decimals.
	if want != nil && !(got-*want < 5e-7 && *want-got < 5e-7) {
		t.Errorf("%s = %.9g, want %.9g", name, got, *want)
	}
}

// TestScenarioPlansAreStable decodes every scenario's plan twice and
// checks the bytes match: the plan is a pure function of the snapshot.
func TestScenarioPlansAreStable(t *testing.T) {
	t.Parallel()
	paths, _ := filepath.Glob(filepath.Join("testdata", "scenarios", "*.yaml"))
	for _, path := range paths {
		cfg, sc := loadScenario(t, path)
		a, _ := json.Marshal(decide(t, cfg, sc.Snapshot))
		b, _ := json.Marshal(decide(t, cfg, sc.Snapshot))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two decisions on one snapshot differ", path)
		}
		var p map[string]any
		if err := json.Unmarshal(a, &p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p["candidates"].([]any) {
			for _, field := range []string{"target", "model_family", "priority", "factors", "admitted", "reason"} {
				if _, ok := c.(map[string]any)[field]; !ok {
					t.Errorf("%s: a candidate's JSON has no %q", path, field)
				}
			}
		}
	}
}
