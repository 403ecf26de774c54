package propagate

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// job builds an admitted job whose spec carries updates, as
// orchestrator.Decide writes it.
func job(t *testing.T, id string, updates ...orchestrator.ConfigUpdate) flywheel.Job {
	t.Helper()
	spec, err := json.Marshal(orchestrator.JobSpec{SignalID: "sig-" + id, ConfigUpdates: updates})
	if err != nil {
		t.Fatal(err)
	}
	return flywheel.Job{ID: id, ModelKey: flywheel.ModelKey{Target: "fwd_ret_5d_AAPL", ModelFamily: "ridge"},
		SignalID: "sig-" + id, Priority: 0.5, Spec: spec}
}

func TestApplyJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	sampling := orchestrator.ConfigUpdate{Target: "fwd_ret_5d_AAPL", Source: flywheel.SourceARPO,
		Updates: orchestrator.Updates{DataSampling: &orchestrator.DataSamplingUpdate{RegimeFilter: "calm", RegimeWeight: 2}}}
	training := orchestrator.ConfigUpdate{Target: "fwd_ret_5d_AAPL", Source: flywheel.SourceARPO,
		Updates: orchestrator.Updates{Training: &orchestrator.TrainingUpdate{FocusOnValidation: true, EarlyStoppingPatience: 10, CrossValidationFolds: 5}}}

	got, err := f.p.ApplyJob(ctx, job(t, "j1", sampling), "flywheel")
	if err != nil || len(got) != 1 {
		t.Fatalf("ApplyJob = %+v, %v; want one update", got, err)
	}
	first := got[0]
	if first.Err != nil || first.Existing || first.Change.State != flywheel.ChangeCanary {
		t.Fatalf("first update: %+v; want a new change in canary", first)
	}
	if c := first.Change; len(c.SignalIDs) != 1 || c.SignalIDs[0] != "sig-j1" || !strings.Contains(c.Reason, "job j1") {
		t.Errorf("change cites signals %v and reason %q; want the job's signal and the job", c.SignalIDs, c.Reason)
	}
	if file := readFiles(t, f.dir)["data_sampling/fwd_ret_5d_AAPL.yaml"]; !strings.Contains(file, "regime_filter: calm") {
		t.Errorf("data_sampling file:\n%s\nwant regime_filter calm", file)
	}

	// The same update again is the change in canary; another one for the
	// target waits for that rollout.
	got, err = f.p.ApplyJob(ctx, job(t, "j2", sampling, training), "flywheel")
	if err != nil || len(got) != 2 {
		t.Fatalf("ApplyJob = %+v, %v; want two updates", got, err)
	}
	if !got[0].Existing || got[0].Change.ID != first.Change.ID {
		t.Errorf("repeated update: %+v; want the existing change %s", got[0], first.Change.ID)
	}
	if !errors.Is(got[1].Err, ErrInRollout) || got[1].Malformed {
		t.Errorf("second update: err %v; want ErrInRollout", got[1].Err)
	}

	// Rolled back, the update is quarantined.
	if _, err := f.p.Rollback(ctx, first.Change.ID, "alice", "worse"); err != nil {
		t.Fatal(err)
	}
	got, err = f.p.ApplyJob(ctx, job(t, "j3", sampling), "flywheel")
	if err != nil || len(got) != 1 || !errors.Is(got[0].Err, ErrQuarantined) {
		t.Fatalf("ApplyJob after rollback = %+v, %v; want ErrQuarantined", got, err)
	}

	bad := sampling
	bad.Updates.DataSampling = &orchestrator.DataSamplingUpdate{RegimeFilter: "calm", RegimeWeight: -1}
	got, err = f.p.ApplyJob(ctx, job(t, "j4", bad), "flywheel")
	if err != nil || len(got) != 1 || flywheel.Code(got[0].Err) != flywheel.EInvalid {
		t.Errorf("ApplyJob with a negative weight = %+v, %v; want an invalid update", got, err)
	}
	if _, err := f.p.ApplyJob(ctx, flywheel.Job{ID: "j5", Spec: []byte("{")}, "flywheel"); err == nil {
		t.Error("ApplyJob with a spec that does not decode: no error")
	}
}
