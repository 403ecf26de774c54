package orchestrator

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// HealthInput is what Health measures: stored records and the timestamps
// the caller reads from its store. Health does no I/O.
type HealthInput struct {
	// From and To bound the window of the utilisation measures, [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Signals resolve an outcome's sources when it carries none.
	Signals       []flywheel.Signal       `json:"signals"`
	Jobs          []flywheel.Job          `json:"jobs"`
	Outcomes      []flywheel.Outcome      `json:"outcomes"`
	ConfigChanges []flywheel.ConfigChange `json:"config_changes"`
	Timelines     []JobTimeline           `json:"timelines"`
	Ledger        []LedgerEntry           `json:"ledger"`
}

// JobTimeline is the life of one scheduled job as the loop saw it. Zero
// times are unknown (not yet) and leave the job out of the measures that
// need them.
type JobTimeline struct {
	JobID string `json:"job_id"`
	// InsightAt is, per source of the job's signal, when the insight that
	// raised it was made.
	InsightAt   map[string]time.Time `json:"insight_at,omitempty"`
	ScheduledAt time.Time            `json:"scheduled_at"`
	StartedAt   time.Time            `json:"started_at,omitzero"`
	FinishedAt  time.Time            `json:"finished_at,omitzero"`
	// CILSUpdatedAt is when CILS first produced insights that include the
	// job's run; ARPOUpdatedAt when ARPO first produced insights that
	// include live P&L of the model it trained.
	CILSUpdatedAt time.Time `json:"cils_updated_at,omitzero"`
	ARPOUpdatedAt time.Time `json:"arpo_updated_at,omitzero"`
}

// LoopHealth holds the feedback-loop health metrics of seed section 8.1
// under the seed's names, then the tables they are drawn from. A rate or
// correlation with nothing to measure is null, not 0.
type LoopHealth struct {
	// CILS -> training: time from insight to training scheduled; share of
	// CILS signals whose training outcome improved the model; share of
	// CILS's learned config changes adopted.
	CILSToTrainingLatency  LatencyStat `json:"cils_to_training_latency"`
	CILSSignalAccuracy     *float64    `json:"cils_signal_accuracy"`
	CILSConfigAdoptionRate *float64    `json:"cils_config_adoption_rate"`
	// ARPO -> training: the same, with accuracy on live outcomes, and the
	// Spearman correlation of ARPO signals' priority with their realised
	// live improvement.
	ARPOToTrainingLatency   LatencyStat `json:"arpo_to_training_latency"`
	ARPOSignalAccuracy      *float64    `json:"arpo_signal_accuracy"`
	ARPOPriorityCorrelation *float64    `json:"arpo_priority_correlation"`
	// Training -> learners: time from a run's end to the first insights
	// of each learner that include it.
	TrainingToCILSLatency LatencyStat `json:"training_to_cils_latency"`
	TrainingToARPOLatency LatencyStat `json:"training_to_arpo_latency"`
	// FeedbackLoopEffectiveness is the seed's "overall improvement from
	// feedback loops": the live outcomes' total improvement relative to
	// their total level before, sum(after - before) / sum(|before|), so
	// 0.12 reads as the seed's "12% improvement in live trading
	// performance" (section 10.1).
	FeedbackLoopEffectiveness *float64 `json:"feedback_loop_effectiveness"`
	// SchedulingEfficiency is the share of finished jobs that succeeded:
	// succeeded / (succeeded + failed + lost); a cancelled job was a
	// person's decision, not the loop's failure.
	SchedulingEfficiency *float64 `json:"scheduling_efficiency"`
	// ResourceUtilization is the share of the job slots busy over the
	// window: the jobs' running time within it over max_concurrent times
	// its length.
	ResourceUtilization *float64 `json:"resource_utilization"`

	// BudgetUtilization is the ledger's spend in the window over the daily
	// budget times the window's days.
	BudgetUtilization *float64 `json:"budget_utilization"`
	// ConfigAdoptionRate is adoption over every learned change.
	ConfigAdoptionRate  *float64            `json:"config_adoption_rate"`
	Accuracy            []SourceAccuracy    `json:"accuracy"`
	PriorityCorrelation []Correlation       `json:"priority_correlation"`
	Effectiveness       []KindEffectiveness `json:"effectiveness"`
	Jobs                JobCounts           `json:"jobs"`
}

// LatencyStat summarises one latency over the jobs that have both stamps.
type LatencyStat struct {
	Count         int     `json:"count"`
	MeanSeconds   float64 `json:"mean_seconds"`
	MedianSeconds float64 `json:"median_seconds"`
	MaxSeconds    float64 `json:"max_seconds"`
}

// SourceAccuracy is the share of one source's signals whose outcome of
// one kind improved the model (improvement > 0), over each signal's latest
// outcome of that kind.
type SourceAccuracy struct {
	Source   string   `json:"source"`
	Kind     string   `json:"kind"`
	Signals  int      `json:"signals"`
	Accurate int      `json:"accurate"`
	Rate     *float64 `json:"rate"`
}

// Correlation is the Spearman rank correlation of signals' priority with
// their realised improvement, over one kind of outcome; Source "" means
// every source.
type Correlation struct {
	Source   string   `json:"source,omitempty"`
	Kind     string   `json:"kind"`
	N        int      `json:"n"`
	Spearman *float64 `json:"spearman"`
}

// KindEffectiveness sums the realised improvements of one kind.
type KindEffectiveness struct {
	Kind     string `json:"kind"`
	Signals  int    `json:"signals"`
	Improved int    `json:"improved"`
	// MeanImprovement and TotalImprovement are in the metric's units;
	// Relative is sum(improvement) / sum(|before|), null when every
	// before is 0.
	MeanImprovement  float64  `json:"mean_improvement"`
	TotalImprovement float64  `json:"total_improvement"`
	Relative         *float64 `json:"relative"`
}

// JobCounts counts jobs by how they ended.
type JobCounts struct {
	Active    int `json:"active"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Lost      int `json:"lost"`
	Cancelled int `json:"cancelled"`
}

// Health computes the loop's health from stored records. It is pure: the
// same input gives the same numbers.
func Health(cfg Config, in HealthInput) LoopHealth {
	var h LoopHealth
	latest := latestOutcomes(in.Outcomes, in.Signals)
	h.Accuracy = accuracy(latest)
	h.PriorityCorrelation = correlations(latest)
	h.Effectiveness = effectiveness(latest)
	for _, a := range h.Accuracy {
		switch {
		case a.Source == flywheel.SourceCILS && a.Kind == flywheel.OutcomeTraining:
			h.CILSSignalAccuracy = a.Rate
		case a.Source == flywheel.SourceARPO && a.Kind == flywheel.OutcomeLive:
			h.ARPOSignalAccuracy = a.Rate
		}
	}
	for _, c := range h.PriorityCorrelation {
		if c.Source == flywheel.SourceARPO && c.Kind == flywheel.OutcomeLive {
			h.ARPOPriorityCorrelation = c.Spearman
		}
	}
	for _, e := range h.Effectiveness {
		if e.Kind == flywheel.OutcomeLive {
			h.FeedbackLoopEffectiveness = e.Relative
		}
	}
	h.CILSConfigAdoptionRate = adoption(in.ConfigChanges, flywheel.SourceCILS)
	h.ConfigAdoptionRate = adoption(in.ConfigChanges, "")
	h.CILSToTrainingLatency = latency(in.Timelines, func(t *JobTimeline) (time.Time, time.Time) {
		return t.InsightAt[flywheel.SourceCILS], t.ScheduledAt
	})
	h.ARPOToTrainingLatency = latency(in.Timelines, func(t *JobTimeline) (time.Time, time.Time) {
		return t.InsightAt[flywheel.SourceARPO], t.ScheduledAt
	})
	h.TrainingToCILSLatency = latency(in.Timelines, func(t *JobTimeline) (time.Time, time.Time) {
		return t.FinishedAt, t.CILSUpdatedAt
	})
	h.TrainingToARPOLatency = latency(in.Timelines, func(t *JobTimeline) (time.Time, time.Time) {
		return t.FinishedAt, t.ARPOUpdatedAt
	})
	h.Jobs = countJobs(in.Jobs)
	if done := h.Jobs.Succeeded + h.Jobs.Failed + h.Jobs.Lost; done > 0 {
		h.SchedulingEfficiency = ratio(float64(h.Jobs.Succeeded), float64(done))
	}
	h.ResourceUtilization = utilisation(cfg.Scheduler.MaxConcurrent, in.From, in.To, in.Timelines)
	if in.To.After(in.From) && cfg.Scheduler.DailyBudget > 0 {
		dayCount := in.To.Sub(in.From).Hours() / 24
		h.BudgetUtilization = ratio(Spent(in.Ledger, in.From, in.To), cfg.Scheduler.DailyBudget*dayCount)
	}
	return h
}

// ratio returns a / b, or nil when b is 0.
func ratio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	r := a / b
	return &r
}

// measured is a signal's latest outcome of one kind, with the signal's
// sources.
type measured struct {
	flywheel.Outcome
	sources []string
}

// latestOutcomes keeps each signal's latest outcome per kind (a signal
// counts once however often it was measured), sorted by kind then signal.
func latestOutcomes(outcomes []flywheel.Outcome, signals []flywheel.Signal) []measured {
	srcs := make(map[string][]string, len(signals))
	for i := range signals {
		srcs[signals[i].ID] = signals[i].Sources
	}
	type key struct{ signal, kind string }
	last := map[key]*flywheel.Outcome{}
	for i := range outcomes {
		o := &outcomes[i]
		if !finite(o.Improvement) || !finite(o.Priority) {
			continue
		}
		k := key{o.SignalID, o.Kind}
		if p, ok := last[k]; !ok || o.MeasuredAt.After(p.MeasuredAt) {
			last[k] = o
		}
	}
	out := make([]measured, 0, len(last))
	for _, o := range last {
		m := measured{Outcome: *o, sources: o.Sources}
		if len(m.sources) == 0 {
			m.sources = srcs[o.SignalID]
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b measured) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.SignalID, b.SignalID))
	})
	return out
}

type sourceKind struct{ source, kind string }

// groups splits the measured outcomes by (source, kind), a signal with
// several sources counting for each; the keys come back sorted.
func groups(ms []measured) ([]sourceKind, map[sourceKind][]*measured) {
	g := map[sourceKind][]*measured{}
	for i := range ms {
		for _, s := range ms[i].sources {
			k := sourceKind{s, ms[i].Kind}
			g[k] = append(g[k], &ms[i])
		}
	}
	keys := make([]sourceKind, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b sourceKind) int {
		return cmp.Or(cmp.Compare(rank(sourceOrder, a.source), rank(sourceOrder, b.source)),
			cmp.Compare(a.source, b.source), cmp.Compare(a.kind, b.kind))
	})
	return keys, g
}

func accuracy(ms []measured) []SourceAccuracy {
	keys, g := groups(ms)
	out := []SourceAccuracy{}
	for _, k := range keys {
		a := SourceAccuracy{Source: k.source, Kind: k.kind, Signals: len(g[k])}
		for _, m := range g[k] {
			if m.Improvement > 0 {
				a.Accurate++
			}
		}
		a.Rate = ratio(float64(a.Accurate), float64(a.Signals))
		out = append(out, a)
	}
	return out
}

func correlations(ms []measured) []Correlation {
	out := []Correlation{}
	byKind := map[string][]*measured{}
	var kinds []string
	for i := range ms {
		if _, ok := byKind[ms[i].Kind]; !ok {
			kinds = append(kinds, ms[i].Kind)
		}
		byKind[ms[i].Kind] = append(byKind[ms[i].Kind], &ms[i])
	}
	for _, kind := range kinds {
		out = append(out, correlation("", kind, byKind[kind]))
	}
	keys, g := groups(ms)
	for _, k := range keys {
		out = append(out, correlation(k.source, k.kind, g[k]))
	}
	return out
}

func correlation(source, kind string, ms []*measured) Correlation {
	x := make([]float64, len(ms))
	y := make([]float64, len(ms))
	for i, m := range ms {
		x[i], y[i] = m.Priority, m.Improvement
	}
	c := Correlation{Source: source, Kind: kind, N: len(ms)}
	if r, ok := Spearman(x, y); ok {
		c.Spearman = &r
	}
	return c
}

func effectiveness(ms []measured) []KindEffectiveness {
	out := []KindEffectiveness{}
	var before float64
	for i := range ms {
		m := &ms[i]
		if len(out) == 0 || out[len(out)-1].Kind != m.Kind {
			before = 0
			out = append(out, KindEffectiveness{Kind: m.Kind})
		}
		e := &out[len(out)-1]
		e.Signals++
		if m.Improvement > 0 {
			e.Improved++
		}
		e.TotalImprovement += m.Improvement
		e.MeanImprovement = e.TotalImprovement / float64(e.Signals)
		before += math.Abs(m.Before)
		e.Relative = ratio(e.TotalImprovement, before)
	}
	return out
}

// adoption is the share of learned config changes (not a person's) from
// source ("" for any learner) that were applied, among those decided:
// applied, rejected or rolled back. Proposed and canary changes are still
// pending.
func adoption(changes []flywheel.ConfigChange, source string) *float64 {
	var applied, decided float64
	for i := range changes {
		c := &changes[i]
		if c.Source == flywheel.SourceHuman || (source != "" && c.Source != source) {
			continue
		}
		switch c.State {
		case flywheel.ChangeApplied:
			applied++
			decided++
		case flywheel.ChangeRejected, flywheel.ChangeRolledBack:
			decided++
		}
	}
	return ratio(applied, decided)
}

// latency summarises to - from over the timelines that have both stamps,
// in order; a negative span (stamps out of order) is left out.
func latency(ts []JobTimeline, span func(*JobTimeline) (from, to time.Time)) LatencyStat {
	var secs []float64
	for i := range ts {
		from, to := span(&ts[i])
		if from.IsZero() || to.IsZero() || to.Before(from) {
			continue
		}
		secs = append(secs, to.Sub(from).Seconds())
	}
	if len(secs) == 0 {
		return LatencyStat{}
	}
	slices.Sort(secs)
	var sum float64
	for _, s := range secs {
		sum += s
	}
	n := len(secs)
	med := secs[n/2]
	if n%2 == 0 {
		med = (secs[n/2-1] + secs[n/2]) / 2
	}
	return LatencyStat{Count: n, MeanSeconds: sum / float64(n), MedianSeconds: med, MaxSeconds: secs[n-1]}
}

func countJobs(jobs []flywheel.Job) JobCounts {
	var c JobCounts
	for i := range jobs {
		switch jobs[i].State {
		case flywheel.JobSucceeded:
			c.Succeeded++
		case flywheel.JobFailed:
			c.Failed++
		case flywheel.JobLost:
			c.Lost++
		case flywheel.JobCancelled:
			c.Cancelled++
		default:
			c.Active++
		}
	}
	return c
}

// utilisation is the busy share of slots over [from, to): each job's
// running span (to the window's end while it runs) clipped to the window.
func utilisation(slots int, from, to time.Time, ts []JobTimeline) *float64 {
	if slots <= 0 || !to.After(from) {
		return nil
	}
	var busy time.Duration
	for i := range ts {
		t := &ts[i]
		if t.StartedAt.IsZero() {
			continue
		}
		end := t.FinishedAt
		if end.IsZero() || end.After(to) {
			end = to
		}
		start := t.StartedAt
		if start.Before(from) {
			start = from
		}
		if end.After(start) {
			busy += end.Sub(start)
		}
	}
	return ratio(busy.Seconds(), float64(slots)*to.Sub(from).Seconds())
}

// Spearman returns the Spearman rank correlation of x and y: the Pearson
// correlation of their ranks, tied values sharing the average of the
// ranks they span. It reports false for fewer than two pairs, different
// lengths, or a constant side, where the correlation is undefined.
func Spearman(x, y []float64) (float64, bool) {
	if len(x) != len(y) || len(x) < 2 {
		return 0, false
	}
	rx, ry := ranks(x), ranks(y)
	n := float64(len(x))
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mx, ry[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}

// ranks returns the 1-based ranks of v, ties averaged.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// HealthFigure is one of the loop's health ratios under the seed's name;
// Value is nil when there was nothing to measure.
type HealthFigure struct {
	Name  string
	Value *float64
}

// Figures lists the loop's health ratios under the seed's names, in the
// order of its section 8.1: what the dashboard shows and /metrics exports.
func (h *LoopHealth) Figures() []HealthFigure {
	return []HealthFigure{
		{"cils_signal_accuracy", h.CILSSignalAccuracy},
		{"cils_config_adoption_rate", h.CILSConfigAdoptionRate},
		{"arpo_signal_accuracy", h.ARPOSignalAccuracy},
		{"arpo_priority_correlation", h.ARPOPriorityCorrelation},
		{"feedback_loop_effectiveness", h.FeedbackLoopEffectiveness},
		{"scheduling_efficiency", h.SchedulingEfficiency},
		{"resource_utilization", h.ResourceUtilization},
		{"budget_utilization", h.BudgetUtilization},
		{"config_adoption_rate", h.ConfigAdoptionRate},
	}
}
