package flywheel

import (
	"encoding/json"
	"time"
)

// ConfigChangeState is where a config change stands in its rollout.
type ConfigChangeState string

// Config change states.
const (
	ChangeProposed   ConfigChangeState = "proposed"
	ChangeCanary     ConfigChangeState = "canary"
	ChangeApplied    ConfigChangeState = "applied"
	ChangeRejected   ConfigChangeState = "rejected"
	ChangeRolledBack ConfigChangeState = "rolled_back"
)

// ConfigChange is one update to the pipeline's config files.
type ConfigChange struct {
	ID     string            `json:"id"`
	Target string            `json:"target,omitempty"`
	Source string            `json:"source"`
	State  ConfigChangeState `json:"state"`
	// Update is the update document as generated or submitted.
	Update json.RawMessage `json:"update"`
	Files  []string        `json:"files,omitempty"`
	Diff   string          `json:"diff,omitempty"`
	Reason string          `json:"reason,omitempty"`
	// HeldByPins lists the keys a pin kept from changing.
	HeldByPins      []string         `json:"held_by_pins,omitempty"`
	SignalIDs       []string         `json:"signal_ids,omitempty"`
	InsightVersions map[string]int64 `json:"insight_versions,omitempty"`
	BackupID        string           `json:"backup_id,omitempty"`
	Quarantined     bool             `json:"quarantined"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

// ConfigBackup is a snapshot of config files taken before a change.
type ConfigBackup struct {
	ID        string    `json:"id"`
	ChangeID  string    `json:"change_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Files maps a path relative to the config directory to its bytes; a
	// nil value records that the file did not exist.
	Files map[string][]byte `json:"files"`
}

// ConfigChangeFilter selects config changes, newest first.
type ConfigChangeFilter struct {
	Target string
	States []ConfigChangeState
	Limit  int
}
