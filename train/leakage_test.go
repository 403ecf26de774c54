package train

import (
	"fmt"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func confirmedString(c *bool) string {
	if c == nil {
		return "null"
	}
	return fmt.Sprint(*c)
}

// TestPlantedLeakFlagged plants the leak on every target kind and both
// families: the leak must be the top event with confirmed=true and a
// score near 1 for return targets (high for barrier targets, whose label
// is a coarse function of the return), and any other flagged feature is a
// confirmed false alarm.
func TestPlantedLeakFlagged(t *testing.T) {
	t.Parallel()
	low := DefaultSettings()
	low.LeakageThreshold = 0.05 // low enough to make some false alarms
	for _, c := range []struct {
		target, family string
		minScore       float64
	}{
		{"fwd_ret_5d_SYN0", FamilyRidge, 0.9},
		{"fwd_ret_20d_SYN3", FamilyLogistic, 0.9},
		{"barrier_up_10d_SYN5", FamilyLogistic, 0.5},
		{"barrier_down_10d_SYN6", FamilyRidge, 0.5},
	} {
		for _, s := range []*Settings{nil, &low} {
			run := mustTrain(t, Options{Target: c.target, ModelFamily: c.family, Leaky: true, Settings: s})
			ev := run.LeakageEvents
			if len(ev) == 0 || ev[0].Feature != LeakFeature || ev[0].Confirmed == nil || !*ev[0].Confirmed || ev[0].Score < c.minScore {
				t.Errorf("%s/%s: events %+v, want %s first, confirmed, score >= %v", c.target, c.family, ev, LeakFeature, c.minScore)
				continue
			}
			for _, e := range ev[1:] {
				if e.Confirmed == nil || *e.Confirmed {
					t.Errorf("%s/%s: %s flagged with confirmed %s, want false (the known leak is elsewhere)",
						c.target, c.family, e.Feature, confirmedString(e.Confirmed))
				}
			}
			if s == &low && len(ev) < 2 {
				t.Logf("%s/%s: no false alarm at threshold 0.05", c.target, c.family)
			}
			if imp := run.FeatureImportance[LeakFeature]; imp < 0.3 {
				t.Errorf("%s/%s: the leak's importance is %.3f; a model should lean on it", c.target, c.family, imp)
			}
		}
	}
}

// TestLeakUnknownWithoutPlant: with no planted leak, flagged features are
// unlabelled (confirmed null), for a person or a later check to judge.
func TestLeakUnknownWithoutPlant(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	s.LeakageThreshold = 0
	run := mustTrain(t, Options{Target: "fwd_ret_5d_SYN0", ModelFamily: FamilyRidge, Settings: &s})
	if len(run.LeakageEvents) != len(Features) {
		t.Fatalf("%d events at threshold 0, want one per feature (%d)", len(run.LeakageEvents), len(Features))
	}
	for _, e := range run.LeakageEvents {
		if e.Confirmed != nil || e.Threshold != 0 {
			t.Errorf("%s: confirmed %s threshold %v, want null and 0", e.Feature, confirmedString(e.Confirmed), e.Threshold)
		}
	}
}

// TestNoFalseLeaksOnRealData: at the default threshold no honest feature
// is flagged on real prices, for every target kind, while the planted leak
// is.
func TestNoFalseLeaksOnRealData(t *testing.T) {
	t.Parallel()
	tab := stockPrices2024(t)
	for _, c := range []struct{ target, family string }{
		{"fwd_ret_5d_AAPL", FamilyRidge},
		{"fwd_ret_20d_JPM", FamilyLogistic},
		{"barrier_up_10d_XOM", FamilyLogistic},
		{"barrier_down_5d_AMD", FamilyRidge},
		{"fwd_ret_1d_META", FamilyRidge},
	} {
		run := mustTrain(t, Options{Target: c.target, ModelFamily: c.family, Prices: tab, Leaky: true})
		var flagged []flywheel.LeakageEvent
		for _, e := range run.LeakageEvents {
			if e.Feature != LeakFeature {
				flagged = append(flagged, e)
			}
		}
		if len(flagged) > 0 || len(run.LeakageEvents) != 1 {
			t.Errorf("%s: events %+v, want exactly the planted leak", c.target, run.LeakageEvents)
		}
		// The honest features' scores, for the record: how far below the
		// default threshold real predictors sit.
		ds, err := newDataset(tab, mustParse(t, c.target), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		top, name := 0.0, ""
		for j, n := range ds.names {
			if s := LeakageScore(ds.x[j], ds.y); s > top {
				top, name = s, n
			}
		}
		t.Logf("%s: highest honest leakage score %.3f (%s), leak %.3f", c.target, top, name, run.LeakageEvents[0].Score)
	}
}

func mustParse(t *testing.T, name string) Target {
	t.Helper()
	tg, err := ParseTarget(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}
