package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func deployment(k flywheel.ModelKey, version, run string, at time.Time) flywheel.Deployment {
	return flywheel.Deployment{ModelKey: k, ModelVersion: version, RunID: run, DeployedAt: at}
}

func testDeployments(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	day := 24 * time.Hour
	deps := []flywheel.Deployment{
		deployment(modelA, "v1", "r1", t0),
		deployment(modelA, "v2", "r2", t0.Add(2*day)),
		deployment(modelC, "v1", "", t0.Add(day)),
	}
	res, err := s.PutDeployments(ctx, deps)
	wantResult(t, "put", res, err, flywheel.IngestResult{Accepted: 3})

	// The key is model, version and time: a different run_id, or the same
	// instant in another zone, is the same deployment.
	again := deps[0]
	again.RunID = "r9"
	zoned := deps[1]
	zoned.DeployedAt = zoned.DeployedAt.In(time.FixedZone("JST", 9*3600))
	redeploy := deployment(modelA, "v1", "r1", t0.Add(3*day)) // v1 again, later: a new deployment
	res, err = s.PutDeployments(ctx, []flywheel.Deployment{again, zoned, redeploy, redeploy})
	wantResult(t, "repeats", res, err, flywheel.IngestResult{Accepted: 1, Duplicates: 3})

	got, err := s.Deployments(ctx, flywheel.DeploymentFilter{})
	mustNoError(t, "list", err)
	want := []flywheel.Deployment{redeploy, deps[1], deps[2], deps[0]}
	wantJSON(t, "deployments newest first", got, want)

	got, err = s.Deployments(ctx, flywheel.DeploymentFilter{Target: modelA.Target, ModelFamily: "ridge", Limit: 2})
	mustNoError(t, "filtered", err)
	wantJSON(t, "model A, two newest", got, want[:2])

	_, err = s.PutDeployments(ctx, []flywheel.Deployment{deps[0], deployment(modelB, "", "", t0)})
	wantError(t, err, flywheel.EInvalid, ptr(1), "model_version")

	m, err := s.Model(ctx, modelA)
	mustNoError(t, "model A", err)
	wantJSON(t, "model A deployed", m.Deployed, &redeploy)
}

func testModels(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	day := 24 * time.Hour
	failed := fullRun("a3", modelA, t0.Add(2*day), 0)
	failed.Status, failed.Metrics = flywheel.RunFailed, nil
	res, err := s.PutRuns(ctx, []flywheel.Run{
		fullRun("a2", modelA, t0.Add(day), 0.6),
		fullRun("a1", modelA, t0, 0.5),
		failed,
		runningRun("b1", modelB, t0.Add(3*day)),
	})
	wantResult(t, "runs", res, err, flywheel.IngestResult{Accepted: 4})
	// Model C is known only from live data, model D only from a deployment.
	_, err = s.PutObservations(ctx, []flywheel.Observation{obs("c1", modelC, 0, 1)})
	mustNoError(t, "observations", err)
	newest := deployment(modelA, "v2", "a2", t0.Add(2*day))
	_, err = s.PutDeployments(ctx, []flywheel.Deployment{
		newest, deployment(modelD, "v1", "", t0), deployment(modelA, "v1", "a1", t0.Add(day)),
	})
	mustNoError(t, "deployments", err)

	all, err := s.Models(ctx, flywheel.ModelFilter{})
	mustNoError(t, "models", err)
	if keys := modelKeys(all); !slices.Equal(keys, []string{
		"barrier_up_10d_JPM/ridge", "fwd_ret_5d_AAPL/lightgbm", "fwd_ret_5d_AAPL/ridge", "vol_20d_SPY/mlp",
	}) {
		t.Fatalf("models: got %v", keys)
	}
	a := all[2]
	if a.Kind != "fwd" || a.Runs != 3 || a.FirstSeen.IsZero() {
		t.Errorf("model A: kind %q, %d runs, first seen %v; want fwd, 3, set", a.Kind, a.Runs, a.FirstSeen)
	}
	if a.LastRunAt == nil || !a.LastRunAt.Equal(t0.Add(2*day)) {
		t.Errorf("model A: last run at %v, want %v (the failed run's start)", a.LastRunAt, t0.Add(2*day))
	}
	if a.LatestScore == nil || *a.LatestScore != 0.6 {
		t.Errorf("model A: latest score %v, want 0.6 (latest successful run)", a.LatestScore)
	}
	wantJSON(t, "model A deployed", a.Deployed, &newest)
	b := all[1]
	if b.Runs != 1 || b.LatestScore != nil || b.Deployed != nil {
		t.Errorf("model B: %d runs, score %v, deployed %v; want 1, none, none", b.Runs, b.LatestScore, b.Deployed)
	}
	c := all[0]
	if c.Kind != "barrier" || c.Runs != 0 || c.LastRunAt != nil || c.Deployed != nil {
		t.Errorf("model C: %+v", c)
	}

	tests := []struct {
		name string
		f    flywheel.ModelFilter
		want []string
	}{
		{"first page", flywheel.ModelFilter{Limit: 2}, []string{"barrier_up_10d_JPM/ridge", "fwd_ret_5d_AAPL/lightgbm"}},
		{"next page", flywheel.ModelFilter{Limit: 2, After: &modelB}, []string{"fwd_ret_5d_AAPL/ridge", "vol_20d_SPY/mlp"}},
		{"last page", flywheel.ModelFilter{After: &modelD}, nil},
		{"kind", flywheel.ModelFilter{Kind: "fwd"}, []string{"fwd_ret_5d_AAPL/lightgbm", "fwd_ret_5d_AAPL/ridge"}},
		{"target", flywheel.ModelFilter{Target: modelA.Target, ModelFamily: "ridge"}, []string{"fwd_ret_5d_AAPL/ridge"}},
	}
	for _, tt := range tests {
		got, err := s.Models(ctx, tt.f)
		mustNoError(t, tt.name, err)
		if keys := modelKeys(got); !slices.Equal(keys, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, keys, tt.want)
		}
	}

	one, err := s.Model(ctx, modelA)
	mustNoError(t, "model A", err)
	wantJSON(t, "Model equals its Models entry", one, a)
}

func modelKeys(ms []flywheel.Model) []string {
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.ModelKey.String())
	}
	return keys
}
