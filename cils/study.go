package cils

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The detection study's noise model: a model's validation score sits at
// studyLevel (an IC- or R2-like 0.10) and each retrain's score is that
// level plus independent Gaussian noise with a standard deviation of
// StudyNoise of the level (2%: run-to-run jitter of a model retrained on a
// rolling window). Each series has studyRuns runs; in the change scenarios
// the change starts at run studyOnset+1, after studyOnset stable runs, so
// the Page-Hinkley window is full of the old regime when it starts.
const (
	studyLevel = 0.10
	// StudyNoise is the relative noise of the study's main scenarios.
	StudyNoise = 0.02
	studyRuns  = 50
	studyOnset = 25
	studyDrop  = 0.15
	studyDecay = 0.01
)

// Detector names in a DetectionReport.
const (
	DetectorRule        = "drop rule"
	DetectorPageHinkley = "page-hinkley"
	DetectorCombined    = "combined"
)

// Scenario names in a DetectionReport.
const (
	ScenarioStable = "stable"
	ScenarioDrop   = "abrupt 15% drop"
	ScenarioDecay  = "decay 1%/run"
)

// DetectionRow is one detector on one scenario.
type DetectionRow struct {
	Scenario string `json:"scenario"`
	Detector string `json:"detector"`
	Series   int    `json:"series"`
	// FalseAlarms counts series with an alarm before any change (on the
	// stable scenario: anywhere).
	FalseAlarms    int     `json:"false_alarms"`
	FalseAlarmRate float64 `json:"false_alarm_rate"`
	// Detected counts series with an alarm at or after the change.
	Detected      int     `json:"detected"`
	DetectionRate float64 `json:"detection_rate"`
	// MedianDelay is the median number of changed runs seen up to and
	// including the first alarm (1 = caught on the first changed run); 0
	// when nothing was detected.
	MedianDelay float64 `json:"median_delay"`
}

// SensitivityRow is how the detectors fare at another noise level.
type SensitivityRow struct {
	Noise                  float64 `json:"noise"`
	RuleFalseAlarmRate     float64 `json:"rule_false_alarm_rate"`
	PHFalseAlarmRate       float64 `json:"page_hinkley_false_alarm_rate"`
	CombinedFalseAlarmRate float64 `json:"combined_false_alarm_rate"`
	CombinedDecayDetection float64 `json:"combined_decay_detection"`
	CombinedDecayDelay     float64 `json:"combined_decay_delay"`
}

// DetectionReport is the result of DetectionStudy.
type DetectionReport struct {
	Seed        uint64           `json:"seed"`
	Series      int              `json:"series"`
	Runs        int              `json:"runs"`
	Onset       int              `json:"onset"`
	Level       float64          `json:"level"`
	Noise       float64          `json:"noise"`
	Config      Config           `json:"config"`
	Rows        []DetectionRow   `json:"rows"`
	Sensitivity []SensitivityRow `json:"sensitivity"`
}

// Row returns the row for a scenario and a detector, or the zero row.
func (r DetectionReport) Row(scenario, detector string) DetectionRow {
	for _, row := range r.Rows {
		if row.Scenario == scenario && row.Detector == detector {
			return row
		}
	}
	return DetectionRow{}
}

// DetectionStudy measures the default degradation detectors on synthetic
// score series (see StudyNoise for the noise model): false alarms on
// stable series, and detection rate and delay for an abrupt 15% drop and a
// slow decay of 1% of the level per run, for the drop rule alone, the
// Page-Hinkley test alone and both combined (what Learn uses), all on the
// same series. Every series is judged after each run exactly as Learn
// would judge a snapshot taken then. The same seed gives the same report.
func DetectionStudy(seed uint64, series int) DetectionReport {
	return detectionStudy(DefaultConfig(), seed, series)
}

func detectionStudy(cfg Config, seed uint64, series int) DetectionReport {
	rep := DetectionReport{
		Seed: seed, Series: series, Runs: studyRuns, Onset: studyOnset,
		Level: studyLevel, Noise: StudyNoise, Config: cfg,
	}
	scenarios := []string{ScenarioStable, ScenarioDrop, ScenarioDecay}
	for i, sc := range scenarios {
		rows := simulate(&cfg, sc, StudyNoise, rand.New(rand.NewPCG(seed, uint64(i))), series)
		rep.Rows = append(rep.Rows, rows...)
	}
	for i, noise := range []float64{0.01, 0.02, 0.03, 0.05} {
		stream := uint64(100 + 10*i)
		stable := simulate(&cfg, ScenarioStable, noise, rand.New(rand.NewPCG(seed, stream)), series)
		decay := simulate(&cfg, ScenarioDecay, noise, rand.New(rand.NewPCG(seed, stream+1)), series)
		rep.Sensitivity = append(rep.Sensitivity, SensitivityRow{
			Noise:                  noise,
			RuleFalseAlarmRate:     stable[0].FalseAlarmRate,
			PHFalseAlarmRate:       stable[1].FalseAlarmRate,
			CombinedFalseAlarmRate: stable[2].FalseAlarmRate,
			CombinedDecayDetection: decay[2].DetectionRate,
			CombinedDecayDelay:     decay[2].MedianDelay,
		})
	}
	return rep
}

// studyLevelAt is the true score level at run i (0-based) of a scenario.
func studyLevelAt(scenario string, i int) float64 {
	if i < studyOnset {
		return studyLevel
	}
	switch scenario {
	case ScenarioDrop:
		return studyLevel * (1 - studyDrop)
	case ScenarioDecay:
		return studyLevel * (1 - studyDecay*float64(i-studyOnset+1))
	}
	return studyLevel
}

// simulate runs n series of one scenario and returns one row per
// detector: rule, Page-Hinkley, combined.
func simulate(cfg *Config, scenario string, noise float64, rng *rand.Rand, n int) []DetectionRow {
	detectors := []string{DetectorRule, DetectorPageHinkley, DetectorCombined}
	rows := make([]DetectionRow, len(detectors))
	delays := make([][]float64, len(detectors))
	for d := range rows {
		rows[d] = DetectionRow{Scenario: scenario, Detector: detectors[d], Series: n}
	}
	scores := make([]float64, studyRuns)
	buf := make([]float64, 0, max(cfg.BaselineRuns, cfg.PageHinkleyWindow))
	onset := studyOnset
	if scenario == ScenarioStable {
		onset = studyRuns // no change: every alarm is false
	}
	for range n {
		for i := range scores {
			scores[i] = studyLevelAt(scenario, i) + noise*studyLevel*rng.NormFloat64()
		}
		falseAlarm := make([]bool, len(detectors))
		caught := make([]int, len(detectors))
		for d := range caught {
			caught[d] = -1
		}
		for t := 1; t <= studyRuns; t++ {
			v := detect(cfg, scores[:t], buf)
			for d, fired := range []bool{v.ruleFired, v.phFired, v.fired()} {
				switch {
				case !fired:
				case t-1 < onset:
					falseAlarm[d] = true
				case caught[d] < 0:
					caught[d] = t - onset
				}
			}
		}
		for d := range rows {
			if falseAlarm[d] {
				rows[d].FalseAlarms++
			}
			if caught[d] > 0 {
				rows[d].Detected++
				delays[d] = append(delays[d], float64(caught[d]))
			}
		}
	}
	for d := range rows {
		rows[d].FalseAlarmRate = float64(rows[d].FalseAlarms) / float64(max(n, 1))
		if scenario != ScenarioStable {
			rows[d].DetectionRate = float64(rows[d].Detected) / float64(max(n, 1))
		}
		if len(delays[d]) > 0 {
			rows[d].MedianDelay = median(delays[d], nil)
		}
	}
	return rows
}

// String prints the report as a table.
func (r DetectionReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "detection study: seed %d, %d series per scenario, %d runs each, change after run %d\n",
		r.Seed, r.Series, r.Runs, r.Onset)
	fmt.Fprintf(&b, "noise model: level %.2f + Gaussian noise, sd %.0f%% of the level, independent per run\n", r.Level, 100*r.Noise)
	fmt.Fprintf(&b, "detectors: drop rule > %.0f%% below median of %d; Page-Hinkley delta %.3f lambda %.3f window %d\n\n",
		100*r.Config.DropThreshold, r.Config.BaselineRuns, r.Config.PageHinkleyDelta, r.Config.PageHinkleyLambda, r.Config.PageHinkleyWindow)
	fmt.Fprintf(&b, "%-16s %-13s %12s %10s %13s\n", "scenario", "detector", "false alarms", "detected", "median delay")
	for _, row := range r.Rows {
		det, delay := "-", "-"
		if row.Scenario != ScenarioStable {
			det = fmt.Sprintf("%.1f%%", 100*row.DetectionRate)
			if row.Detected > 0 {
				delay = fmt.Sprintf("%.1f runs", row.MedianDelay)
			}
		}
		fmt.Fprintf(&b, "%-16s %-13s %11.1f%% %10s %13s\n", row.Scenario, row.Detector, 100*row.FalseAlarmRate, det, delay)
	}
	fmt.Fprintf(&b, "\nsensitivity to the noise level (false alarms on stable series; combined detector on the 1%%/run decay):\n")
	fmt.Fprintf(&b, "%-6s %10s %13s %10s %16s %12s\n", "noise", "rule FA", "page-hinkley", "combined", "decay detected", "decay delay")
	for _, s := range r.Sensitivity {
		fmt.Fprintf(&b, "%5.0f%% %9.1f%% %12.1f%% %9.1f%% %15.1f%% %7.1f runs\n", 100*s.Noise,
			100*s.RuleFalseAlarmRate, 100*s.PHFalseAlarmRate, 100*s.CombinedFalseAlarmRate, 100*s.CombinedDecayDetection, s.CombinedDecayDelay)
	}
	return b.String()
}
