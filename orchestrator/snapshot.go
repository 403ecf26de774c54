package orchestrator

import (
	"fmt"
	"math"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

// Snapshot is everything Decide looks at. The caller assembles it from
// the store at the time of the decision; Decide never changes it.
//
// Per-model state (last training, cooldown, first-raised time, resources,
// drift) lives in one ModelState per model rather than in maps keyed by
// flywheel.ModelKey, so that a snapshot encodes to JSON: scenarios and
// backtest dumps are snapshots on disk.
type Snapshot struct {
	// Now is the time of the decision; every age, the budget day and
	// every id derive from it.
	Now time.Time `json:"now"`
	// CILS and ARPO are the latest insights; either may be nil.
	CILS *cils.Insights `json:"cils,omitempty"`
	ARPO *arpo.Insights `json:"arpo,omitempty"`
	// InsightVersions are the versions of those insights (kind ->
	// version), copied to every signal so it can be traced back.
	InsightVersions map[string]int64 `json:"insight_versions,omitempty"`
	// Models is the per-model state the orchestrator keeps.
	Models []ModelState `json:"models,omitempty"`
	// ActiveJobs are the jobs not yet in a terminal state; terminal ones
	// are ignored. They hold slots and resources, and their models are
	// not scheduled again.
	ActiveJobs []flywheel.Job `json:"active_jobs,omitempty"`
	// Ledger is the budget ledger; see LedgerEntry.
	Ledger []LedgerEntry `json:"ledger,omitempty"`
	// Outcomes are the measured outcomes the calibrated mode fits.
	Outcomes []flywheel.Outcome `json:"outcomes,omitempty"`
}

// ModelState is what the orchestrator knows about one model beyond the
// learners' insights. Every field is optional.
type ModelState struct {
	flywheel.ModelKey
	// LastTrained is when the model's latest successful training run
	// finished; nil means never, and a model never trained is not called
	// stale (there is nothing to age).
	LastTrained *time.Time `json:"last_trained,omitempty"`
	// MaxAgeDays overrides signals.max_model_age_days for this model.
	MaxAgeDays float64 `json:"max_age_days,omitempty"`
	// LastJobEnd is when the model's latest retraining job ended; the
	// cooldown counts from it.
	LastJobEnd *time.Time `json:"last_job_end,omitempty"`
	// FirstRaised is when the model's current signal was first raised
	// (the caller keeps it while the signal stays raised and forgets it
	// when it goes); aging counts from it. Nil means now.
	FirstRaised *time.Time `json:"first_raised,omitempty"`
	// Resources overrides scheduler.default_resources for this model.
	Resources *flywheel.Resources `json:"resources,omitempty"`
	// Drift holds, per feature, the binned distributions of training and
	// live data, when the pipeline reports them.
	Drift []FeatureBins `json:"drift,omitempty"`
}

// FeatureBins are one feature's distributions over the same bins, in
// counts or shares (each is normalised to sum to 1).
type FeatureBins struct {
	Feature  string    `json:"feature"`
	Training []float64 `json:"training"`
	Live     []float64 `json:"live"`
}

// LedgerKind is the kind of a ledger entry.
type LedgerKind string

// Ledger entry kinds.
const (
	// LedgerReserve holds a job's estimated cost at admission.
	LedgerReserve LedgerKind = "reserve"
	// LedgerSettle replaces the reservation with the actual cost when the
	// job's run arrives (0 for a job that never ran).
	LedgerSettle LedgerKind = "settle"
)

// LedgerEntry is one line of the compute budget ledger. A job's cost
// counts on the budget day of its reservation (the budget limits what is
// admitted per day), at the amount of its latest settlement if it has
// one, else at its reservation. A settlement without a reservation counts
// on its own day, as does an entry without a job id.
type LedgerEntry struct {
	JobID string     `json:"job_id,omitempty"`
	Kind  LedgerKind `json:"kind"`
	// Units are compute units (flywheel.Cost.Units).
	Units float64   `json:"units"`
	At    time.Time `json:"at"`
}

// Settlement returns the ledger entry that settles a job with the actual
// cost of its run.
func Settlement(job flywheel.Job, run flywheel.Run, at time.Time) LedgerEntry {
	return LedgerEntry{JobID: job.ID, Kind: LedgerSettle, Units: run.Cost.Units(), At: at}
}

// validate checks what Decide relies on; the first problem is returned as
// an EInvalid error naming its field.
func (s *Snapshot) validate() error {
	if s.Now.IsZero() {
		return flywheel.FieldError("now", "is required")
	}
	seen := make(map[flywheel.ModelKey]bool, len(s.Models))
	for i := range s.Models {
		m := &s.Models[i]
		if err := m.validate(); err != nil {
			return flywheel.WithFieldPrefix(err, fmt.Sprintf("models[%d]", i))
		}
		if seen[m.ModelKey] {
			return flywheel.FieldError(fmt.Sprintf("models[%d]", i), "model %s is given twice", m.ModelKey)
		}
		seen[m.ModelKey] = true
	}
	for i := range s.Ledger {
		if err := s.Ledger[i].validate(); err != nil {
			return flywheel.WithFieldPrefix(err, fmt.Sprintf("ledger[%d]", i))
		}
	}
	for i := range s.ActiveJobs {
		j := &s.ActiveJobs[i]
		field := fmt.Sprintf("active_jobs[%d]", i)
		if !j.State.Valid() {
			return flywheel.FieldError(field+".state", "%q is not a job state", j.State)
		}
		if r := j.Resources; r.CPUCores < 0 || r.GPUMemoryGB < 0 || math.IsNaN(r.GPUMemoryGB) || math.IsInf(r.GPUMemoryGB, 0) {
			return flywheel.FieldError(field+".resources", "must be finite and not negative")
		}
	}
	return nil
}

func (m *ModelState) validate() error {
	if err := m.ModelKey.Validate(); err != nil {
		return err
	}
	if err := flywheel.CheckFinite("max_age_days", m.MaxAgeDays); err != nil {
		return err
	}
	if m.MaxAgeDays < 0 {
		return flywheel.FieldError("max_age_days", "must not be negative")
	}
	if r := m.Resources; r != nil {
		if r.CPUCores < 0 || r.MemoryMB < 0 || r.GPUs < 0 || !(r.GPUMemoryGB >= 0) || math.IsInf(r.GPUMemoryGB, 0) {
			return flywheel.FieldError("resources", "must be finite and not negative")
		}
	}
	for i := range m.Drift {
		if err := m.Drift[i].validate(); err != nil {
			return flywheel.WithFieldPrefix(err, fmt.Sprintf("drift[%d]", i))
		}
	}
	return nil
}

func (f *FeatureBins) validate() error {
	if f.Feature == "" {
		return flywheel.FieldError("feature", "is required")
	}
	if len(f.Training) == 0 {
		return flywheel.FieldError("training", "needs at least one bin")
	}
	if len(f.Live) != len(f.Training) {
		return flywheel.FieldError("live", "has %d bins; training has %d", len(f.Live), len(f.Training))
	}
	for _, b := range []struct {
		name string
		bins []float64
	}{{"training", f.Training}, {"live", f.Live}} {
		if _, err := shares(b.bins); err != nil {
			return flywheel.WithFieldPrefix(err, b.name)
		}
	}
	return nil
}

func (e *LedgerEntry) validate() error {
	if e.Kind != LedgerReserve && e.Kind != LedgerSettle {
		return flywheel.FieldError("kind", "%q is not one of reserve, settle", e.Kind)
	}
	if err := flywheel.CheckFinite("units", e.Units); err != nil {
		return err
	}
	if e.Units < 0 {
		return flywheel.FieldError("units", "must not be negative")
	}
	if e.At.IsZero() {
		return flywheel.FieldError("at", "is required")
	}
	return nil
}
