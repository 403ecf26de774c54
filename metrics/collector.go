package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// State is what the daemon is, rather than what it did: read at scrape
// time by a StateCollector. Nil parts are not exported, so a part that
// cannot be computed does not show as zero.
type State struct {
	// Jobs counts the jobs in each state; states left out are exported as
	// 0 only when they are active states (queued to running), so that a
	// dashboard sees the queue empty rather than missing.
	Jobs map[flywheel.JobState]int
	// Budget is today's budget ledger.
	Budget *orchestrator.BudgetView
	// Health is the feedback loop's health.
	Health *orchestrator.LoopHealth
	// Paused says whether the decision loop is paused.
	Paused *bool
}

// StateFunc reads the State. It is called on every scrape, with a
// deadline, so it must be cheap or cached (see CachedState).
type StateFunc func(ctx context.Context) (State, error)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descUp        = desc("state_up", "1 when the daemon's state (jobs, budget, loop health) could be read at this scrape, else 0.")
	descJobs      = desc("jobs", "Jobs in each state now.", "state")
	descBudgetUse = desc("budget_used_units", "Compute units charged to today's budget (spent, not counting reservations).")
	descBudgetRes = desc("budget_reserved_units", "Compute units the current plan would reserve on top of what is spent.")
	descBudgetLim = desc("budget_limit_units", "The daily compute budget in compute units.")
	descPaused    = desc("loop_paused", "1 while a person has paused the decision loop.")
	descLatMedian = desc("loop_latency_median_seconds", "Median latency of a feedback path over the health window (cils_to_training, arpo_to_training, training_to_cils, training_to_arpo).", "path")
	descLatMax    = desc("loop_latency_max_seconds", "Largest latency of a feedback path over the health window.", "path")
	descLatCount  = desc("loop_latency_samples", "Number of events a feedback path's latency is measured on.", "path")
	descAccuracy  = desc("loop_signal_accuracy_ratio", "Share of signals whose outcome improved the model, by source and outcome kind.", "source", "kind")
	descCorr      = desc("loop_priority_correlation", "Spearman correlation of signal priority with realised improvement, by source and outcome kind.", "source", "kind")
	descFigure    = desc("loop_health_ratio", "The loop's health figures of seed section 8.1 as ratios, by figure.", "figure")
	descLoopJobs  = desc("loop_jobs", "Jobs that finished in the health window, by outcome (succeeded, failed, lost, cancelled).", "outcome")
)

// StateCollector exports State as gauges at scrape time.
type StateCollector struct {
	fn      StateFunc
	timeout time.Duration
	logger  *slog.Logger
}

// NewStateCollector returns a collector calling fn on each scrape with a
// deadline of timeout (0 means 5 s). Register it next to New's metrics.
// A failing fn is logged and exports flywheel_state_up 0 rather than
// failing the scrape: the event metrics are still worth having.
func NewStateCollector(fn StateFunc, timeout time.Duration, logger *slog.Logger) *StateCollector {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StateCollector{fn: fn, timeout: timeout, logger: logger}
}

// Describe sends every descriptor the collector may export.
func (c *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descJobs, descBudgetUse, descBudgetRes, descBudgetLim,
		descPaused, descLatMedian, descLatMax, descLatCount, descAccuracy, descCorr, descFigure, descLoopJobs} {
		ch <- d
	}
}

// Collect reads the state and sends it.
func (c *StateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.fn(ctx)
	if err != nil {
		c.logger.Warn("read state for metrics", "err", err)
		ch <- gauge(descUp, 0)
		return
	}
	ch <- gauge(descUp, 1)
	if st.Jobs != nil {
		for _, s := range flywheel.ActiveJobStates {
			ch <- gauge(descJobs, float64(st.Jobs[s]), string(s))
		}
		for s, n := range st.Jobs {
			if s.Terminal() {
				ch <- gauge(descJobs, float64(n), string(s))
			}
		}
	}
	if b := st.Budget; b != nil {
		ch <- gauge(descBudgetUse, b.Spent)
		ch <- gauge(descBudgetRes, b.Reserved)
		ch <- gauge(descBudgetLim, b.Limit)
	}
	if st.Paused != nil {
		ch <- gauge(descPaused, boolFloat(*st.Paused))
	}
	if h := st.Health; h != nil {
		collectHealth(ch, h)
	}
}

func collectHealth(ch chan<- prometheus.Metric, h *orchestrator.LoopHealth) {
	for _, l := range []struct {
		path string
		s    orchestrator.LatencyStat
	}{
		{"cils_to_training", h.CILSToTrainingLatency},
		{"arpo_to_training", h.ARPOToTrainingLatency},
		{"training_to_cils", h.TrainingToCILSLatency},
		{"training_to_arpo", h.TrainingToARPOLatency},
	} {
		ch <- gauge(descLatCount, float64(l.s.Count), l.path)
		// With nothing measured the zero latencies would read as instant.
		if l.s.Count > 0 {
			ch <- gauge(descLatMedian, l.s.MedianSeconds, l.path)
			ch <- gauge(descLatMax, l.s.MaxSeconds, l.path)
		}
	}
	for _, a := range h.Accuracy {
		if a.Rate != nil {
			ch <- gauge(descAccuracy, *a.Rate, a.Source, a.Kind)
		}
	}
	for _, c := range h.PriorityCorrelation {
		if c.Spearman != nil {
			ch <- gauge(descCorr, *c.Spearman, c.Source, c.Kind)
		}
	}
	for _, f := range h.Figures() {
		if f.Value != nil {
			ch <- gauge(descFigure, *f.Value, f.Name)
		}
	}
	for _, j := range []struct {
		outcome string
		n       int
	}{{"succeeded", h.Jobs.Succeeded}, {"failed", h.Jobs.Failed}, {"lost", h.Jobs.Lost}, {"cancelled", h.Jobs.Cancelled}} {
		ch <- gauge(descLoopJobs, float64(j.n), j.outcome)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
