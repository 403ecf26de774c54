package flywheel

import "time"

// Signal sources.
const (
	SourceCILS         = "CILS"
	SourceARPO         = "ARPO"
	SourceOrchestrator = "orchestrator"
	SourceHuman        = "human"
)

// Reason is one cause behind a signal, with the numbers that back it.
type Reason struct {
	Source  string             `json:"source"`
	Kind    string             `json:"kind"`
	Message string             `json:"message"`
	Values  map[string]float64 `json:"values,omitempty"`
}

// Signal is a request to retrain one model.
type Signal struct {
	ID string `json:"id"`
	ModelKey
	Sources  []string `json:"sources"`
	Reasons  []Reason `json:"reasons"`
	Priority float64  `json:"priority"`
	// Factors is the priority's breakdown (cils, arpo, value, urgency, ...).
	Factors             map[string]float64 `json:"factors"`
	Urgency             string             `json:"urgency"`
	ExpectedImprovement float64            `json:"expected_improvement"`
	ExpectedCost        float64            `json:"expected_cost"`
	CreatedAt           time.Time          `json:"created_at"`
	// InsightVersions are the insight versions the signal was derived from.
	InsightVersions map[string]int64 `json:"insight_versions,omitempty"`
}

// SignalFilter selects signals, newest first.
type SignalFilter struct {
	Model *ModelKey
	Since time.Time
	Limit int
}
