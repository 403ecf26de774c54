package flywheel

import "time"

// Pin is a config value a person fixed by hand; learned updates never
// change it.
type Pin struct {
	// File is relative to the pipeline's config directory.
	File string `json:"file"`
	// Key is a dotted path inside the file.
	Key string `json:"key"`
	// Target scopes the pin to one target; empty means every target.
	Target    string    `json:"target,omitempty"`
	Value     string    `json:"value"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
