package flywheel

import (
	"encoding/json"
	"time"
)

// Insight kinds.
const (
	InsightCILS = "cils"
	InsightARPO = "arpo"
)

// Insight is one versioned snapshot of what a learner concluded. The body
// is the learner's own document (CILSInsights, ARPOInsights), kept as JSON
// so that old versions stay readable as the learners evolve.
type Insight struct {
	Kind string `json:"kind"`
	// Version increases by one per kind; the store assigns it.
	Version   int64           `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	Body      json.RawMessage `json:"body"`
}
