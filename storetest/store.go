package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func testCounts(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	c, err := s.Counts(ctx)
	mustNoError(t, "counts of an empty store", err)
	if c != (flywheel.Counts{}) {
		t.Errorf("empty store: got %+v, want all zero", c)
	}
	mustNoError(t, "ping", s.Ping(ctx))

	// Two targets, three models: A from a run, B from observations, C from
	// a deployment.
	_, err = s.PutRuns(ctx, []flywheel.Run{fullRun("r1", modelA, t0, 0.5), fullRun("r2", modelA, t0.Add(time.Hour), 0.6)})
	mustNoError(t, "runs", err)
	_, err = s.PutObservations(ctx, []flywheel.Observation{obs("e1", modelB, 0, 1), obs("e2", modelB, 1, 2), obs("e3", modelB, 2, 3)})
	mustNoError(t, "observations", err)
	_, err = s.PutDeployments(ctx, []flywheel.Deployment{deployment(modelC, "v1", "", t0)})
	mustNoError(t, "deployments", err)
	for range 2 {
		_, err = s.PutInsight(ctx, flywheel.Insight{Kind: flywheel.InsightCILS, Body: json.RawMessage(`{}`)})
		mustNoError(t, "insight", err)
	}
	_, err = s.PutSignals(ctx, []flywheel.Signal{signal("s1", modelA, t0)})
	mustNoError(t, "signals", err)
	_, err = s.CreateJob(ctx, job("j1", modelA, t0))
	mustNoError(t, "job", err)
	mustNoError(t, "config change", s.PutConfigChange(ctx, change("c1", "", flywheel.ChangeProposed, t0)))
	mustNoError(t, "pin", s.SetPin(ctx, flywheel.Pin{File: "a.yaml", Key: "k", Value: "v"}))
	_, err = s.PutOutcome(ctx, outcome("s1", flywheel.OutcomeTraining, modelA, t0))
	mustNoError(t, "outcome", err)
	_, err = s.AppendAudit(ctx, flywheel.AuditEntry{Actor: "a", Action: "b"})
	mustNoError(t, "audit", err)

	c, err = s.Counts(ctx)
	mustNoError(t, "counts", err)
	want := flywheel.Counts{Targets: 2, Models: 3, Runs: 2, LiveObservations: 3, Deployments: 1, Insights: 2,
		Signals: 1, Jobs: 1, ConfigChanges: 1, Pins: 1, Outcomes: 1, AuditLog: 1}
	if c != want {
		t.Errorf("counts:\ngot  %+v\nwant %+v", c, want)
	}
}

func testNotFound(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Run", func() error { _, err := s.Run(ctx, "nope"); return err }},
		{"Model", func() error { _, err := s.Model(ctx, modelA); return err }},
		{"Insight latest", func() error { _, err := s.Insight(ctx, flywheel.InsightCILS, 0); return err }},
		{"Insight version", func() error { _, err := s.Insight(ctx, flywheel.InsightCILS, 2); return err }},
		{"Job", func() error { _, err := s.Job(ctx, "nope"); return err }},
		{"JobEvents", func() error { _, err := s.JobEvents(ctx, "nope"); return err }},
		{"UpdateJob", func() error {
			_, err := s.UpdateJob(ctx, flywheel.JobUpdate{ID: "nope", From: flywheel.JobQueued, To: flywheel.JobAdmitted})
			return err
		}},
		{"Heartbeat", func() error { _, err := s.Heartbeat(ctx, "nope", t0, 0.5, "", nil); return err }},
		{"ConfigChange", func() error { _, err := s.ConfigChange(ctx, "nope"); return err }},
		{"SetConfigChangeState", func() error {
			_, err := s.SetConfigChangeState(ctx, "nope", flywheel.ChangeProposed, flywheel.ChangeApplied, t0)
			return err
		}},
		{"ConfigBackup", func() error { _, err := s.ConfigBackup(ctx, "nope"); return err }},
		{"DeleteConfigBackup", func() error { return s.DeleteConfigBackup(ctx, "nope") }},
		{"DeletePin", func() error { return s.DeletePin(ctx, "a.yaml", "", "k") }},
	}
	for _, tt := range tests {
		if got := flywheel.Code(tt.call()); got != flywheel.ENotFound {
			t.Errorf("%s of a missing record: got code %q, want %q", tt.name, got, flywheel.ENotFound)
		}
	}
}
