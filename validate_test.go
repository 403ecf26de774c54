package flywheel

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"fwd_ret_5d_AAPL", true},
		{"v1.2-rc_3", true},
		{"A", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 200), false},
		{"", false},
		{"../etc/passwd", false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a/b", false},
		{"a b", false},
		{"a@b", false},
		{"é", false},
		{"a\x00", false},
	} {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzValidName checks the byte loop against the documented pattern.
func FuzzValidName(f *testing.F) {
	re := regexp.MustCompile(NamePattern)
	for _, s := range []string{"a", "../x", "a.b-c_d", strings.Repeat("z", 129), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidName(s), re.MatchString(s); got != want {
			t.Errorf("ValidName(%q) = %v, pattern says %v", s, got, want)
		}
	})
}

func TestRunValidate(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tc := range []struct {
		name  string
		edit  func(r *Run)
		field string
	}{
		{"ok", func(*Run) {}, ""},
		{"bad target", func(r *Run) { r.Target = "../etc/passwd" }, "target"},
		{"no status", func(r *Run) { r.Status = "" }, "status"},
		{"unknown status", func(r *Run) { r.Status = "done" }, "status"},
		{"no score", func(r *Run) { delete(r.Metrics, MetricValidationScore) }, "metrics.validation_score"},
		{"nan metric", func(r *Run) { r.Metrics["auc"] = nan }, "metrics.auc"},
		{"nan fold", func(r *Run) { r.FoldScores = []float64{0.1, nan} }, "fold_scores[1]"},
		{"negative cost", func(r *Run) { r.Cost.GPUHours = -1 }, "cost.gpu_hours"},
		{"bad leak feature", func(r *Run) { r.LeakageEvents = []LeakageEvent{{Feature: "a b"}} }, "leakage_events[0].feature"},
		{"finished before start", func(r *Run) { f := r.StartedAt.Add(-1); r.FinishedAt = &f }, "finished_at"},
		{"running may lack finish", func(r *Run) { r.Status, r.FinishedAt = RunRunning, nil; delete(r.Metrics, MetricValidationScore) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validRun()
			tc.edit(&r)
			err := r.Validate()
			var field string
			if e, ok := err.(*Error); ok {
				field = e.Field
			} else if err != nil {
				t.Fatalf("error %v is not an *Error", err)
			}
			if field != tc.field {
				t.Errorf("field = %q (err %v), want %q", field, err, tc.field)
			}
		})
	}
}

func validRun() Run {
	r := Run{RunID: "r1", ModelKey: ModelKey{"fwd_ret_5d_AAPL", "ridge"}, Status: RunSucceeded,
		Metrics: map[string]float64{MetricValidationScore: 0.1}}
	r.StartedAt = r.StartedAt.AddDate(2026, 0, 0)
	f := r.StartedAt.Add(3600e9)
	r.FinishedAt = &f
	return r
}

func TestCostUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    Cost
		want float64
	}{
		{Cost{GPUHours: 2, CPUHours: 1, WallSeconds: 99999}, 3},
		{Cost{WallSeconds: 5400}, 1.5},
		{Cost{}, 0},
	} {
		if got := tc.c.Units(); got != tc.want {
			t.Errorf("%+v.Units() = %v, want %v", tc.c, got, tc.want)
		}
	}
}
