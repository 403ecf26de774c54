package propagate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// JobUpdate is what became of one of a job's config updates.
type JobUpdate struct {
	Source string
	Target string
	// Change is the change the update made or, when Existing, the change
	// of the same update that was already proposed or in canary.
	Change   flywheel.ConfigChange
	Existing bool
	// Err says why the update was not applied: it does not decode
	// (Malformed), or Apply refused it (ErrNoChange, ErrQuarantined,
	// ErrInRollout, an invalid value) or failed.
	Err       error
	Malformed bool
}

// ApplyJob applies the learned config updates the orchestrator put in a
// job's spec (orchestrator.JobSpec.ConfigUpdates), in order, under
// actor's name, each for its own target and citing the job's signal. It
// is what the loop does before a job runs, so that the job trains with
// them. A refused update does not stop the others; the job trains with
// the config as it is, and the refusal is in the update's Err. The error
// is for a spec that does not decode; a job without a spec has nothing
// to apply.
func (p *Propagator) ApplyJob(ctx context.Context, j flywheel.Job, actor string) ([]JobUpdate, error) {
	if len(j.Spec) == 0 {
		return nil, nil
	}
	var spec orchestrator.JobSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return nil, fmt.Errorf("job %s: spec does not decode: %w", j.ID, err)
	}
	out := make([]JobUpdate, 0, len(spec.ConfigUpdates))
	for _, u := range spec.ConfigUpdates {
		ju := JobUpdate{Source: u.Source, Target: u.Target}
		var doc UpdateDoc
		raw, err := json.Marshal(u)
		if err == nil {
			doc, err = DecodeUpdate(raw)
		}
		if err != nil {
			ju.Err, ju.Malformed = err, true
			out = append(out, ju)
			continue
		}
		ju.Change, ju.Existing, ju.Err = p.apply(ctx, doc, actor, ApplyOptions{
			SignalIDs: []string{spec.SignalID}, Targets: []string{u.Target},
			Reason: fmt.Sprintf("retrain of %s (job %s, priority %.3f)", j.ModelKey, j.ID, j.Priority),
		})
		out = append(out, ju)
	}
	return out, nil
}
