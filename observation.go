package flywheel

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Observation is one record from live trading for a deployed model.
type Observation struct {
	// EventID is the idempotency key; when the producer sends none it is
	// derived from the model, the symbol and the time (DerivedEventID).
	EventID string    `json:"event_id"`
	TS      time.Time `json:"ts"`
	ModelKey
	ModelVersion string   `json:"model_version,omitempty"`
	Symbol       string   `json:"symbol,omitempty"`
	PnL          float64  `json:"pnl"`
	Position     *float64 `json:"position,omitempty"`
	ExpectedPnL  *float64 `json:"expected_pnl,omitempty"`
	Prediction   *float64 `json:"prediction,omitempty"`
	Outcome      *float64 `json:"outcome,omitempty"`
	Regime       string   `json:"regime,omitempty"`
	// Seq is the store's order of arrival, set by ObservationsAfter: the
	// cursor of the change feed. It is not part of the record.
	Seq int64 `json:"-"`
}

// DerivedEventID is the key of an observation sent without event_id: a
// digest of target, model family, symbol and time, so that the same
// observation sent twice maps to the same key.
func DerivedEventID(k ModelKey, symbol string, ts time.Time) string {
	h := sha256.New()
	for _, s := range []string{k.Target, k.ModelFamily, symbol, ts.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "d-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Validate checks an observation as reported.
func (o *Observation) Validate() error {
	if err := firstError(
		CheckName("event_id", o.EventID, false),
		o.ModelKey.Validate(),
		CheckName("model_version", o.ModelVersion, false),
		CheckName("symbol", o.Symbol, false),
		CheckName("regime", o.Regime, false),
	); err != nil {
		return err
	}
	if o.TS.IsZero() {
		return FieldError("ts", "is required")
	}
	return firstError(
		CheckFinite("pnl", o.PnL),
		CheckFinitePtr("position", o.Position),
		CheckFinitePtr("expected_pnl", o.ExpectedPnL),
		CheckFinitePtr("prediction", o.Prediction),
		CheckFinitePtr("outcome", o.Outcome),
	)
}

// ObservationFilter selects live observations of one model, oldest first.
type ObservationFilter struct {
	Model ModelKey
	// Since and Until bound ts: [Since, Until).
	Since, Until time.Time
	// AfterEventID with AfterTS is the cursor: observations after this one.
	AfterTS      time.Time
	AfterEventID string
	Limit        int
}

// LiveSummary aggregates the live observations of one model in a window.
type LiveSummary struct {
	ModelKey
	Observations int64      `json:"observations"`
	FirstTS      *time.Time `json:"first_ts,omitempty"`
	LastTS       *time.Time `json:"last_ts,omitempty"`
	// PnL is the realised P&L summed over the window.
	PnL float64 `json:"pnl"`
	// ExpectedPnL sums expected_pnl over the observations that carry it.
	ExpectedPnL float64 `json:"expected_pnl"`
	MeanPnL     float64 `json:"mean_pnl"`
	// StdPnL is the sample standard deviation of per-observation P&L.
	StdPnL float64 `json:"std_pnl"`
	// HitRate is the share of observations with positive P&L.
	HitRate float64 `json:"hit_rate"`
	// Versions lists the model versions seen in the window.
	Versions []string `json:"versions,omitempty"`
}
