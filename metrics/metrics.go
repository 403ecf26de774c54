// Package metrics exposes what the daemon does as Prometheus metrics: ingest
// counts and errors, store latency, learner pass durations, signals by
// source, jobs by state, budget use, the feedback loop's health figures and
// config changes with their rollbacks.
//
// Nothing here registers globally: New takes the registerer, so that tests
// run in parallel on their own registries and the daemon decides what it
// exposes. Counters are fed by decorators and hooks on the write paths
// (InstrumentStore, IngestMiddleware, ObserveLearnerPass); figures that are
// state rather than events (jobs by state, budget, loop health) are read at
// scrape time by a StateCollector, so they are never stale.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flywheel-ml/flywheel"
)

// Namespace prefixes every metric name.
const Namespace = "flywheel"

// Ingest results, the values of the result label of
// flywheel_ingest_records_total.
const (
	ResultAccepted  = "accepted"
	ResultUpdated   = "updated"
	ResultDuplicate = "duplicate"
)

// Metrics holds the event metrics the daemon records. Its methods are safe
// for concurrent use; a nil *Metrics records nothing, so that code paths
// built without metrics (tests, the backtester) need no checks.
type Metrics struct {
	ingestRecords *prometheus.CounterVec
	ingestBatches *prometheus.CounterVec
	ingestErrors  *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	learnerPass   *prometheus.HistogramVec
	learnerErrors *prometheus.CounterVec
	signals       *prometheus.CounterVec
	configChanges *prometheus.CounterVec
	rollbacks     prometheus.Counter
	httpDuration  *prometheus.HistogramVec
}

// storeBuckets span a cached read (50 µs) to a large fsynced batch (10 s).
var storeBuckets = prometheus.ExponentialBuckets(0.00005, 2.5, 14)

// passBuckets span a learner pass over a few models (1 ms) to 10,000
// models (several seconds) and beyond.
var passBuckets = prometheus.ExponentialBuckets(0.001, 2.5, 13)

// New creates the metrics and registers them with reg. It panics when a
// metric is already registered there, a programming error.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ingestRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ingest_records_total",
			Help: "Records received through the ingest API, by kind (runs, live, deployments) and result (accepted, updated, duplicate).",
		}, []string{"kind", "result"}),
		ingestBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ingest_batches_total",
			Help: "Ingest batches committed, by kind.",
		}, []string{"kind"}),
		ingestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ingest_errors_total",
			Help: "Ingest batches refused, by kind and error code (invalid, conflict, too_large, unauthorized, internal, ...).",
		}, []string{"kind", "code"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "store_operation_duration_seconds",
			Help:    "Time taken by each learning-database operation, by operation (the Store method).",
			Buckets: storeBuckets,
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_operation_errors_total",
			Help: "Learning-database operations that failed with an internal or unavailable error, by operation.",
		}, []string{"op"}),
		learnerPass: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "learner_pass_duration_seconds",
			Help:    "Duration of a learner pass, by learner (cils, arpo, decide).",
			Buckets: passBuckets,
		}, []string{"learner"}),
		learnerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "learner_pass_errors_total",
			Help: "Learner passes that failed, by learner.",
		}, []string{"learner"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "signals_total",
			Help: "Retraining signals stored, by source (CILS, ARPO, orchestrator, human); a signal with two sources counts under both.",
		}, []string{"source"}),
		configChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "config_changes_total",
			Help: "Config changes entering a state, by source and the state entered (proposed, canary, applied, rejected, rolled_back).",
		}, []string{"source", "state"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "config_rollbacks_total",
			Help: "Config changes rolled back.",
		}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency, by handler (api, dashboard), method and status code.",
			Buckets: storeBuckets,
		}, []string{"handler", "method", "code"}),
	}
	reg.MustRegister(m.ingestRecords, m.ingestBatches, m.ingestErrors, m.storeDuration, m.storeErrors,
		m.learnerPass, m.learnerErrors, m.signals, m.configChanges, m.rollbacks, m.httpDuration)
	return m
}

// ObserveIngest records one ingest batch of kind ("runs", "live",
// "deployments"): its records by result when err is nil, else one error
// under err's code. Call it from one place only (the API's ingest path, or
// IngestMiddleware), or batches count twice.
func (m *Metrics) ObserveIngest(kind string, res flywheel.IngestResult, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.ingestErrors.WithLabelValues(kind, string(flywheel.Code(err))).Inc()
		return
	}
	m.ingestBatches.WithLabelValues(kind).Inc()
	m.ingestRecords.WithLabelValues(kind, ResultAccepted).Add(float64(res.Accepted))
	m.ingestRecords.WithLabelValues(kind, ResultUpdated).Add(float64(res.Updated))
	m.ingestRecords.WithLabelValues(kind, ResultDuplicate).Add(float64(res.Duplicates))
}

// ObserveLearnerPass records one pass of learner ("cils", "arpo",
// "decide") that took d; err non-nil counts it as failed as well.
func (m *Metrics) ObserveLearnerPass(learner string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.learnerPass.WithLabelValues(learner).Observe(d.Seconds())
	if err != nil {
		m.learnerErrors.WithLabelValues(learner).Inc()
	}
}

// ObserveSignals counts stored signals by source. InstrumentStore calls it
// for the signals a PutSignals stored; call it directly only for signals
// that do not go through an instrumented store.
func (m *Metrics) ObserveSignals(sigs []flywheel.Signal) {
	if m == nil {
		return
	}
	for _, s := range sigs {
		for _, src := range s.Sources {
			m.signals.WithLabelValues(src).Inc()
		}
	}
}

// ObserveConfigChange records a config change of source entering state.
func (m *Metrics) ObserveConfigChange(source string, state flywheel.ConfigChangeState) {
	if m == nil {
		return
	}
	m.configChanges.WithLabelValues(source, string(state)).Inc()
	if state == flywheel.ChangeRolledBack {
		m.rollbacks.Inc()
	}
}

// InstrumentHandler times every request h serves under the handler label
// name ("api", "dashboard").
func (m *Metrics) InstrumentHandler(name string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	obs := m.httpDuration.MustCurryWith(prometheus.Labels{"handler": name})
	return promhttp.InstrumentHandlerDuration(obs, h)
}

// Handler serves the metrics g gathers in the Prometheus text format (or
// OpenMetrics when the scraper asks for it).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
