package flywheel

import (
	"encoding/json"
	"time"
)

// ActorLoop names the loop itself, the daemon's or a backtest's, as the
// actor of what it writes.
const ActorLoop = "flywheel"

// AuditEntry records one write made by a person or by the loop itself.
type AuditEntry struct {
	Seq     int64           `json:"seq"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}
