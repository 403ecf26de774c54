package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func change(id, target string, state flywheel.ConfigChangeState, created time.Time) flywheel.ConfigChange {
	return flywheel.ConfigChange{
		ID:              id,
		Target:          target,
		Source:          flywheel.SourceCILS,
		State:           state,
		Update:          json.RawMessage(`{"leakage_detection":{"threshold":0.85}}`),
		Files:           []string{"leakage_detection.yaml", "feature_selection/fwd_ret_5d_AAPL.yaml"},
		Diff:            "-threshold: 0.9\n+threshold: 0.85\n",
		Reason:          "F1 0.81 at 0.85",
		HeldByPins:      []string{"training/models.yaml:ridge.alpha"},
		SignalIDs:       []string{"s1", "s2"},
		InsightVersions: map[string]int64{flywheel.InsightCILS: 4},
		CreatedAt:       created,
		UpdatedAt:       created,
	}
}

// sameChange compares changes, the update document as JSON.
func sameChange(t *testing.T, what string, got, want flywheel.ConfigChange) {
	t.Helper()
	if !sameJSON(t, got.Update, want.Update) {
		t.Errorf("%s: update %s, want %s", what, got.Update, want.Update)
	}
	got.Update, want.Update = nil, nil
	wantJSON(t, what, got, want)
}

func testConfigChanges(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	c1 := change("c1", modelA.Target, flywheel.ChangeProposed, t0)
	mustNoError(t, "put c1", s.PutConfigChange(ctx, c1))
	got, err := s.ConfigChange(ctx, "c1")
	mustNoError(t, "read c1", err)
	sameChange(t, "c1 read back", got, c1)

	at := t0.Add(time.Hour)
	got, err = s.SetConfigChangeState(ctx, "c1", flywheel.ChangeProposed, flywheel.ChangeCanary, at)
	mustNoError(t, "to canary", err)
	c1.State, c1.UpdatedAt = flywheel.ChangeCanary, at
	sameChange(t, "c1 in canary", got, c1)
	_, err = s.SetConfigChangeState(ctx, "c1", flywheel.ChangeProposed, flywheel.ChangeApplied, at)
	wantError(t, err, flywheel.EConflict, nil, "from")
	_, err = s.SetConfigChangeState(ctx, "c1", flywheel.ChangeCanary, "promoted", at)
	wantError(t, err, flywheel.EInvalid, nil, "to")
	got, err = s.SetConfigChangeState(ctx, "c1", flywheel.ChangeCanary, flywheel.ChangeRolledBack, at.Add(time.Hour))
	mustNoError(t, "roll back", err)
	if got.State != flywheel.ChangeRolledBack {
		t.Errorf("after rollback: state %s", got.State)
	}

	// Put replaces the change but keeps when it was created.
	later := c1
	later.State, later.Quarantined, later.BackupID = flywheel.ChangeRolledBack, true, "b1"
	later.CreatedAt, later.UpdatedAt = t0.Add(5*time.Hour), t0.Add(5*time.Hour)
	mustNoError(t, "replace c1", s.PutConfigChange(ctx, later))
	got, err = s.ConfigChange(ctx, "c1")
	mustNoError(t, "read replaced c1", err)
	later.CreatedAt = t0
	sameChange(t, "c1 replaced", got, later)

	mustNoError(t, "put c2", s.PutConfigChange(ctx, change("c2", "", flywheel.ChangeApplied, t0.Add(time.Hour))))
	mustNoError(t, "put c3", s.PutConfigChange(ctx, change("c3", modelC.Target, flywheel.ChangeProposed, t0.Add(2*time.Hour))))
	tests := []struct {
		name string
		f    flywheel.ConfigChangeFilter
		want []string
	}{
		{"all", flywheel.ConfigChangeFilter{}, []string{"c3", "c2", "c1"}},
		{"target", flywheel.ConfigChangeFilter{Target: modelA.Target}, []string{"c1"}},
		{"states", flywheel.ConfigChangeFilter{States: []flywheel.ConfigChangeState{flywheel.ChangeProposed,
			flywheel.ChangeApplied}}, []string{"c3", "c2"}},
		{"limit", flywheel.ConfigChangeFilter{Limit: 1}, []string{"c3"}},
	}
	for _, tt := range tests {
		changes, err := s.ConfigChanges(ctx, tt.f)
		mustNoError(t, tt.name, err)
		var ids []string
		for _, c := range changes {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, ids, tt.want)
		}
	}

	bad := change("c4", "", flywheel.ChangeProposed, t0)
	bad.Files = []string{"../../etc/passwd"}
	wantError(t, s.PutConfigChange(ctx, bad), flywheel.EInvalid, nil, "files[0]")
}

func testConfigBackups(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	b1 := flywheel.ConfigBackup{ID: "b1", ChangeID: "c1", CreatedAt: t0, Files: map[string][]byte{
		"leakage_detection.yaml":          []byte("threshold: 0.9\n"),
		"feature_selection/new.yaml":      nil, // did not exist
		"data_sampling/fwd_ret_5d_X.yaml": {},  // existed, empty
	}}
	mustNoError(t, "put b1", s.PutConfigBackup(ctx, b1))
	mustNoError(t, "put b1 again", s.PutConfigBackup(ctx, b1))
	got, err := s.ConfigBackup(ctx, "b1")
	mustNoError(t, "read b1", err)
	wantJSON(t, "b1 read back", got, b1)
	if f, ok := got.Files["feature_selection/new.yaml"]; !ok || f != nil {
		t.Errorf("a file that did not exist came back as %q, present %v; want nil, present", f, ok)
	}
	if f := got.Files["data_sampling/fwd_ret_5d_X.yaml"]; f == nil || len(f) != 0 {
		t.Errorf("an empty file came back as %#v, want an empty non-nil slice", f)
	}

	changed := b1
	changed.Files = map[string][]byte{"leakage_detection.yaml": []byte("threshold: 0.5\n")}
	wantError(t, s.PutConfigBackup(ctx, changed), flywheel.EConflict, nil, "")
	wantError(t, s.PutConfigBackup(ctx, flywheel.ConfigBackup{ID: "b9", Files: map[string][]byte{"/etc/passwd": nil}}),
		flywheel.EInvalid, nil, "files")

	for i, id := range []string{"b2", "b3"} {
		b := flywheel.ConfigBackup{ID: id, CreatedAt: t0.Add(time.Duration(i+1) * time.Hour),
			Files: map[string][]byte{"training/models.yaml": []byte(id)}}
		mustNoError(t, "put "+id, s.PutConfigBackup(ctx, b))
	}
	list, err := s.ConfigBackups(ctx, 2)
	mustNoError(t, "list", err)
	if len(list) != 2 || list[0].ID != "b3" || list[1].ID != "b2" || string(list[0].Files["training/models.yaml"]) != "b3" {
		t.Errorf("two newest backups: got %+v", list)
	}

	mustNoError(t, "delete b1", s.DeleteConfigBackup(ctx, "b1"))
	_, err = s.ConfigBackup(ctx, "b1")
	wantError(t, err, flywheel.ENotFound, nil, "")
	wantError(t, s.DeleteConfigBackup(ctx, "b1"), flywheel.ENotFound, nil, "")
	list, err = s.ConfigBackups(ctx, 0)
	mustNoError(t, "list after delete", err)
	if len(list) != 2 {
		t.Errorf("after deleting one of three: %d backups", len(list))
	}
}
