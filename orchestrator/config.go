package orchestrator

import (
	"math"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Config holds every weight, threshold and limit Decide uses. The zero
// value is not useful; start from DefaultConfig. Durations are plain
// numbers with their unit in the name (cooldown_hours) so that the same
// document reads the same in JSON and YAML.
type Config struct {
	// Weights combine the four factors into the priority (seed 2.3).
	Weights Weights `json:"weights"`
	// Components are the indicator weights inside the cils and arpo
	// factors (seed 2.3).
	Components Components `json:"components"`
	// Value turns the ROI into the value factor (seed 6.2).
	Value ValueConfig `json:"value"`
	// Urgency defines the urgency factor and the urgency levels.
	Urgency UrgencyConfig `json:"urgency"`
	// Ranking is the composite score that orders candidates (seed 3.1).
	Ranking RankingWeights `json:"ranking"`
	// MinPriority drops signals whose (aged) priority is below it
	// (seed 3.1, min_priority_threshold).
	MinPriority float64 `json:"min_priority"`
	// Calibration fits the four weights to realised outcomes when enabled.
	Calibration CalibrationConfig `json:"calibration"`
	// Scheduler holds the resource limits, the budget, cooldown and aging.
	Scheduler SchedulerConfig `json:"scheduler"`
	// Signals holds the thresholds of the orchestrator's own signals.
	Signals SignalConfig `json:"signals"`
}

// Weights are the weights of the four priority factors.
type Weights struct {
	CILS    float64 `json:"cils"`
	ARPO    float64 `json:"arpo"`
	Value   float64 `json:"value"`
	Urgency float64 `json:"urgency"`
}

// SeedWeights are the seed's priority weights (section 2.3 and 6.2):
// portfolio learnings weigh more because they are live money.
var SeedWeights = Weights{CILS: 0.25, ARPO: 0.35, Value: 0.25, Urgency: 0.15}

// vector returns the weights in factor order: cils, arpo, value, urgency.
func (w Weights) vector() [4]float64 { return [4]float64{w.CILS, w.ARPO, w.Value, w.Urgency} }

func weightsOf(v [4]float64) Weights {
	return Weights{CILS: v[0], ARPO: v[1], Value: v[2], Urgency: v[3]}
}

// Components are the 0/1 indicator weights of seed section 2.3.
type Components struct {
	// Degrading, NewPattern and BetterStrategy make up the cils factor.
	Degrading      float64 `json:"degrading"`
	NewPattern     float64 `json:"new_pattern"`
	BetterStrategy float64 `json:"better_strategy"`
	// Underperforming, HighPriority and RegimeMismatch make up the arpo
	// factor.
	Underperforming float64 `json:"underperforming"`
	HighPriority    float64 `json:"high_priority"`
	RegimeMismatch  float64 `json:"regime_mismatch"`
}

// ValueConfig turns expected improvement and cost into the value factor:
// roi = improvement_scale * expected_improvement / (expected_cost + 1e-6)
// and value = min(1, roi / roi_scale), seed 6.2.
type ValueConfig struct {
	// ROIScale is the ROI that counts as full value (the seed's 10).
	ROIScale float64 `json:"roi_scale"`
	// ImprovementScale converts the expected improvement (in validation
	// score units, as CILS estimates it) into the units the ROI is meant
	// in. The seed leaves those units open; 1 applies its formula as is.
	// With IC- or R2-like scores (0.01-0.2) and costs of a few compute
	// units the ROI is then tiny and the value factor close to 0; a team
	// that wants improvement in percent points sets 100.
	ImprovementScale float64 `json:"improvement_scale"`
	// Estimate chooses which of CILS's estimates is the expected
	// improvement: "trend" (the default, the seed's reading: the mean
	// change between consecutive runs, cils.Estimate.ExpectedImprovement)
	// or "gap" (what a retrain now is expected to restore: the model's
	// mean score less its latest, cils.Estimate.RestorableGap).
	Estimate string `json:"estimate"`
	// Relative divides the expected improvement by the model's score
	// level (CILS's baseline, at least its scale floor) before the
	// improvement scale, so that with improvement_scale 100 the ROI is in
	// percent of the model's score per compute unit whatever the score's
	// units.
	Relative bool `json:"relative"`
	// DefaultCost is the expected cost, in compute units, of a model
	// CILS has no cost estimate for; DefaultSeconds its expected duration.
	DefaultCost    float64 `json:"default_cost"`
	DefaultSeconds float64 `json:"default_seconds"`
}

// The expected-improvement estimates of ValueConfig.Estimate; "" reads
// as EstimateTrend.
const (
	EstimateTrend = "trend"
	EstimateGap   = "gap"
)

// UrgencyConfig defines the urgency factor and levels. The seed calls
// compute_urgency and urgency_weight without defining them; see urgency.
type UrgencyConfig struct {
	// FullRate is the degradation rate (multiples of the degradation
	// alarm level) at which the urgency factor reaches 1.
	FullRate float64 `json:"full_rate"`
	// Critical, High and Medium are the least priority or urgency factor
	// of each level; below Medium on both a signal is LOW.
	Critical LevelThreshold `json:"critical"`
	High     LevelThreshold `json:"high"`
	Medium   LevelThreshold `json:"medium"`
	// LevelWeights is urgency_weight of the ranking, per level.
	LevelWeights LevelWeights `json:"level_weights"`
}

// LevelThreshold is reached when the priority or the urgency factor is at
// least its value.
type LevelThreshold struct {
	Priority float64 `json:"priority"`
	Urgency  float64 `json:"urgency"`
}

// LevelWeights are the ranking's urgency_weight per urgency level.
type LevelWeights struct {
	Low      float64 `json:"low"`
	Medium   float64 `json:"medium"`
	High     float64 `json:"high"`
	Critical float64 `json:"critical"`
}

// RankingWeights are the weights of the composite score of seed 3.1:
// priority*p + roi*r + urgency_weight*u + (1/expected_cost)*c.
type RankingWeights struct {
	Priority      float64 `json:"priority"`
	ROI           float64 `json:"roi"`
	UrgencyWeight float64 `json:"urgency_weight"`
	InverseCost   float64 `json:"inverse_cost"`
}

// CalibrationConfig configures the calibrated weights (see Calibrate).
type CalibrationConfig struct {
	// Enabled makes Decide use weights fitted to Snapshot.Outcomes.
	Enabled bool `json:"enabled"`
	// Ridge is the penalty on the distance of the fitted weights from the
	// configured ones, in units of the factors' sum of squares: roughly
	// the number of outcomes' worth of belief in the configured weights.
	Ridge float64 `json:"ridge"`
	// OutcomeKind is the kind of outcome fitted ("training" or "live"):
	// their improvements are in different units and are never mixed.
	OutcomeKind string `json:"outcome_kind"`
	// Unit is the realised improvement that counts as a priority of 1.
	// Zero lets the fit choose it: the ratio of the root mean squares of
	// the realised improvements and of the configured priorities of the
	// same outcomes, so that the data and the prior are on one scale.
	Unit float64 `json:"unit"`
}

// SchedulerConfig holds the resource limits and scheduling policy of
// seed 6.3 and the design's orchestrator section.
type SchedulerConfig struct {
	MaxConcurrent int     `json:"max_concurrent"`
	GPUMemoryGB   float64 `json:"gpu_memory_gb"`
	CPUCores      int     `json:"cpu_cores"`
	// DailyBudget is in compute units (flywheel.Cost.Units), kept per
	// calendar day of BudgetTimeZone (an IANA name).
	DailyBudget    float64 `json:"daily_budget"`
	BudgetTimeZone string  `json:"budget_time_zone"`
	// CooldownHours is how long after a model's last job ended it is not
	// retrained again: its outcome is not in yet.
	CooldownHours float64 `json:"cooldown_hours"`
	// AgingPerDay raises a signal's effective priority per day since it
	// was first raised, up to AgingCap, so that low priorities are not
	// starved.
	AgingPerDay float64 `json:"aging_per_day"`
	AgingCap    float64 `json:"aging_cap"`
	// DefaultResources are what a model's job asks for unless its
	// ModelState says otherwise.
	DefaultResources flywheel.Resources `json:"default_resources"`
	// MaxSearchNodes bounds the knapsack search; past it the best set
	// found so far (never worse than greedy) is used and the plan says so.
	MaxSearchNodes int `json:"max_search_nodes"`
}

// SignalConfig holds the thresholds of signals the orchestrator raises.
type SignalConfig struct {
	// PositionCutBelow is the ARPO size factor below which a model's
	// position counts as cut (the seed's 0.8), for the signal and for the
	// training config update.
	PositionCutBelow float64 `json:"position_cut_below"`
	// MaxModelAgeDays is how old a model's latest successful training
	// may be before it is stale, unless its ModelState says otherwise.
	MaxModelAgeDays float64 `json:"max_model_age_days"`
	// DriftPSI is the population stability index between a feature's
	// training and live distributions above which the model drifted.
	DriftPSI float64 `json:"drift_psi"`
	// PSIEpsilon replaces empty bins' shares so that ln(a/e) is finite.
	PSIEpsilon float64 `json:"psi_epsilon"`
}

// DefaultConfig returns the seed's numbers where the seed has them:
// weights 0.25/0.35/0.25/0.15, components 0.3/0.2/0.2 and 0.4/0.3/0.2,
// roi/10, min_priority 0.3, ranking 0.4/0.3/0.2/0.1, 3 concurrent jobs,
// 32 GB of GPU memory, 16 CPU cores, 100 units a day, the 0.8 size cut.
//
// The rest is this package's choice. Urgency reaches 1 at twice the
// degradation alarm level. Levels: CRITICAL from priority 0.8 or urgency
// 1, HIGH from 0.6 or 0.75, MEDIUM from 0.4 or 0.5; urgency weights
// 0.25/0.5/0.75/1. A job asks 4 cores, 16 GiB, one 8 GB GPU, so three
// jobs fit the seed's machine and the slots bind first; a model without a
// cost estimate costs 1 unit and takes an hour. Cooldown 12 hours, long
// enough for a run's outcome to arrive. Aging 0.05 a day up to 0.3: a
// signal raised for six days clears min_priority on age alone, so
// nothing that stays raised is starved, while a one-cycle blip never
// ages. Stale after 30 days. PSI above 0.2 is the usual "significant
// shift" level, with empty bins at 1e-4. Calibration believes the
// configured weights as much as about 20 outcomes and fits training
// outcomes. The knapsack stops after a million nodes.
func DefaultConfig() Config {
	return Config{
		Weights: SeedWeights,
		Components: Components{
			Degrading: 0.3, NewPattern: 0.2, BetterStrategy: 0.2,
			Underperforming: 0.4, HighPriority: 0.3, RegimeMismatch: 0.2,
		},
		Value: ValueConfig{ROIScale: 10, ImprovementScale: 1, Estimate: EstimateTrend, DefaultCost: 1, DefaultSeconds: 3600},
		Urgency: UrgencyConfig{
			FullRate:     2,
			Critical:     LevelThreshold{Priority: 0.8, Urgency: 1},
			High:         LevelThreshold{Priority: 0.6, Urgency: 0.75},
			Medium:       LevelThreshold{Priority: 0.4, Urgency: 0.5},
			LevelWeights: LevelWeights{Low: 0.25, Medium: 0.5, High: 0.75, Critical: 1},
		},
		Ranking:     RankingWeights{Priority: 0.4, ROI: 0.3, UrgencyWeight: 0.2, InverseCost: 0.1},
		MinPriority: 0.3,
		Calibration: CalibrationConfig{Ridge: 20, OutcomeKind: flywheel.OutcomeTraining},
		Scheduler: SchedulerConfig{
			MaxConcurrent: 3, GPUMemoryGB: 32, CPUCores: 16,
			DailyBudget: 100, BudgetTimeZone: "UTC",
			CooldownHours: 12, AgingPerDay: 0.05, AgingCap: 0.3,
			DefaultResources: flywheel.Resources{CPUCores: 4, MemoryMB: 16384, GPUs: 1, GPUMemoryGB: 8},
			MaxSearchNodes:   1_000_000,
		},
		Signals: SignalConfig{PositionCutBelow: 0.8, MaxModelAgeDays: 30, DriftPSI: 0.2, PSIEpsilon: 1e-4},
	}
}

// Validate returns an EInvalid error naming the first bad field.
func (c Config) Validate() error {
	for _, f := range []struct {
		name     string
		v        float64
		positive bool
	}{
		{"weights.cils", c.Weights.CILS, false},
		{"weights.arpo", c.Weights.ARPO, false},
		{"weights.value", c.Weights.Value, false},
		{"weights.urgency", c.Weights.Urgency, false},
		{"components.degrading", c.Components.Degrading, false},
		{"components.new_pattern", c.Components.NewPattern, false},
		{"components.better_strategy", c.Components.BetterStrategy, false},
		{"components.underperforming", c.Components.Underperforming, false},
		{"components.high_priority", c.Components.HighPriority, false},
		{"components.regime_mismatch", c.Components.RegimeMismatch, false},
		{"value.roi_scale", c.Value.ROIScale, true},
		{"value.improvement_scale", c.Value.ImprovementScale, true},
		{"value.default_cost", c.Value.DefaultCost, true},
		{"value.default_seconds", c.Value.DefaultSeconds, true},
		{"urgency.full_rate", c.Urgency.FullRate, true},
		{"urgency.critical.priority", c.Urgency.Critical.Priority, false},
		{"urgency.critical.urgency", c.Urgency.Critical.Urgency, false},
		{"urgency.high.priority", c.Urgency.High.Priority, false},
		{"urgency.high.urgency", c.Urgency.High.Urgency, false},
		{"urgency.medium.priority", c.Urgency.Medium.Priority, false},
		{"urgency.medium.urgency", c.Urgency.Medium.Urgency, false},
		{"urgency.level_weights.low", c.Urgency.LevelWeights.Low, false},
		{"urgency.level_weights.medium", c.Urgency.LevelWeights.Medium, false},
		{"urgency.level_weights.high", c.Urgency.LevelWeights.High, false},
		{"urgency.level_weights.critical", c.Urgency.LevelWeights.Critical, false},
		{"ranking.priority", c.Ranking.Priority, false},
		{"ranking.roi", c.Ranking.ROI, false},
		{"ranking.urgency_weight", c.Ranking.UrgencyWeight, false},
		{"ranking.inverse_cost", c.Ranking.InverseCost, false},
		{"min_priority", c.MinPriority, false},
		{"calibration.ridge", c.Calibration.Ridge, true},
		{"calibration.unit", c.Calibration.Unit, false},
		{"scheduler.gpu_memory_gb", c.Scheduler.GPUMemoryGB, false},
		{"scheduler.daily_budget", c.Scheduler.DailyBudget, false},
		{"scheduler.cooldown_hours", c.Scheduler.CooldownHours, false},
		{"scheduler.aging_per_day", c.Scheduler.AgingPerDay, false},
		{"scheduler.aging_cap", c.Scheduler.AgingCap, false},
		{"scheduler.default_resources.gpu_memory_gb", c.Scheduler.DefaultResources.GPUMemoryGB, false},
		{"signals.position_cut_below", c.Signals.PositionCutBelow, false},
		{"signals.max_model_age_days", c.Signals.MaxModelAgeDays, true},
		{"signals.drift_psi", c.Signals.DriftPSI, true},
		{"signals.psi_epsilon", c.Signals.PSIEpsilon, true},
	} {
		if err := flywheel.CheckFinite(f.name, f.v); err != nil {
			return err
		}
		if f.positive && f.v <= 0 {
			return flywheel.FieldError(f.name, "must be positive")
		}
		if f.v < 0 {
			return flywheel.FieldError(f.name, "must not be negative")
		}
	}
	return c.validateRest()
}

// validateRest checks what the table in Validate cannot: integers, names
// and relations between fields.
func (c Config) validateRest() error {
	s := &c.Scheduler
	switch {
	case c.MinPriority > 1:
		return flywheel.FieldError("min_priority", "must be at most 1")
	case c.Value.Estimate != "" && c.Value.Estimate != EstimateTrend && c.Value.Estimate != EstimateGap:
		return flywheel.FieldError("value.estimate", "%q is not one of trend, gap", c.Value.Estimate)
	case c.Calibration.OutcomeKind != flywheel.OutcomeTraining && c.Calibration.OutcomeKind != flywheel.OutcomeLive:
		return flywheel.FieldError("calibration.outcome_kind", "%q is not one of training, live", c.Calibration.OutcomeKind)
	case s.MaxConcurrent < 0:
		return flywheel.FieldError("scheduler.max_concurrent", "must not be negative")
	case s.CPUCores < 0:
		return flywheel.FieldError("scheduler.cpu_cores", "must not be negative")
	case s.MaxSearchNodes <= 0:
		return flywheel.FieldError("scheduler.max_search_nodes", "must be positive")
	case s.DefaultResources.CPUCores < 0 || s.DefaultResources.MemoryMB < 0 || s.DefaultResources.GPUs < 0:
		return flywheel.FieldError("scheduler.default_resources", "must not be negative")
	case s.BudgetTimeZone == "":
		return flywheel.FieldError("scheduler.budget_time_zone", "is required")
	}
	if _, err := time.LoadLocation(s.BudgetTimeZone); err != nil {
		return flywheel.FieldError("scheduler.budget_time_zone", "%q is not a known time zone", s.BudgetTimeZone)
	}
	u := &c.Urgency
	if u.Critical.Priority < u.High.Priority || u.High.Priority < u.Medium.Priority ||
		u.Critical.Urgency < u.High.Urgency || u.High.Urgency < u.Medium.Urgency {
		return flywheel.FieldError("urgency", "levels must not decrease from medium to high to critical")
	}
	return nil
}

// hours converts a number of hours to a duration, saturating instead of
// overflowing for absurdly large values.
func hours(h float64) time.Duration {
	d := h * float64(time.Hour)
	if d >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// days converts a number of days to a duration.
func days(d float64) time.Duration { return hours(24 * d) }
