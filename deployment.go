package flywheel

import "time"

// Deployment says that a version of a model is live from a time on; it
// links a training run to the live P&L it produces.
type Deployment struct {
	ModelKey
	ModelVersion string    `json:"model_version"`
	RunID        string    `json:"run_id,omitempty"`
	DeployedAt   time.Time `json:"deployed_at"`
}

// Key is the idempotency key: the same version of the same model deployed
// at the same time is one deployment. Names cannot hold '/' or '@', so the
// key is unambiguous.
func (d *Deployment) Key() string {
	return d.Target + "/" + d.ModelFamily + "/" + d.ModelVersion + "@" + d.DeployedAt.UTC().Format(time.RFC3339Nano)
}

// Validate checks a deployment as reported.
func (d *Deployment) Validate() error {
	if err := firstError(
		d.ModelKey.Validate(),
		CheckName("model_version", d.ModelVersion, true),
		CheckName("run_id", d.RunID, false),
	); err != nil {
		return err
	}
	if d.DeployedAt.IsZero() {
		return FieldError("deployed_at", "is required")
	}
	return nil
}

// DeploymentFilter selects deployments, newest first.
type DeploymentFilter struct {
	Target      string
	ModelFamily string
	Limit       int
}
