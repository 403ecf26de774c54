package propagate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// A rollback undoes a change key by key rather than restoring its
// backup whole: leakage_detection.yaml and the training files are shared
// by every target, so restoring one change's snapshot of them would also
// undo every change made to them since, and a person's edits. A value is
// put back only where the file still holds what the change wrote; values
// changed since, and pinned ones, are left and listed as kept. Restore
// and RollbackToBaseline are the whole-file tools, for a person.

// Rollback undoes a change in canary or applied, and quarantines it so
// that the loop does not apply the same update again until a person
// clears it.
func (p *Propagator) Rollback(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	if err := checkActor(actor); err != nil {
		return flywheel.ConfigChange{}, err
	}
	return p.rollback(ctx, id, actor, reason, nil)
}

func (p *Propagator) rollback(ctx context.Context, id, actor, reason string, d *CanaryDecision) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	err := p.locked(ctx, func() error {
		c, rec, err := p.change(ctx, id)
		if err != nil {
			return err
		}
		if c.State != flywheel.ChangeCanary && c.State != flywheel.ChangeApplied {
			if c.State == flywheel.ChangeProposed {
				return stateError(c, "rolled back (nothing was written; reject it)", "canary or applied")
			}
			return stateError(c, "rolled back", "canary or applied")
		}
		pl, err := p.newPlan(ctx)
		if err != nil {
			return err
		}
		var kept []string
		for _, e := range slices.Backward(rec.Edits) {
			ok, err := pl.revert(e)
			if err != nil {
				return err
			}
			if !ok {
				kept = append(kept, heldName(e.File, e.Key))
			}
		}
		created := map[string]bool{}
		for _, f := range rec.Created {
			created[f] = true
		}
		if err := pl.finish(created); err != nil {
			return err
		}
		now := p.now().UTC()
		o := &op{}
		o.stage(pl, backupIDFor(c.ID, "rb"), c.ID, now)
		info := &RollbackInfo{At: now, By: actor, Reason: reason, Kept: kept}
		if o.backup != nil {
			info.BackupID = o.backup.ID
		}
		rec.Rollback = info
		if d != nil {
			rec.Decision = d
		}
		c.State, c.Quarantined, c.UpdatedAt = flywheel.ChangeRolledBack, true, now
		rec.store(&c)
		o.Changes = []flywheel.ConfigChange{c}
		o.Audit = p.audit(actor, ActionRollback, c.ID, map[string]any{"reason": reason, "files": changedPaths(pl),
			"kept": kept, "backup_id": info.BackupID, "diff": planDiff(pl), "decision": d})
		o.Commit = commitMessage(&c, nil, fmt.Sprintf("roll back %s: %s", c.ID, orDefault(reason, "by "+actor)))
		out = c
		return p.commit(ctx, o)
	})
	return out, err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RestoreResult says what a whole-file restore did.
type RestoreResult struct {
	// BackupID is the snapshot taken before the restore: restoring it
	// undoes the restore.
	BackupID string   `json:"backup_id,omitempty"`
	Files    []string `json:"files"`
	// RolledBack lists the changes the restore undid; they are
	// quarantined.
	RolledBack []string `json:"rolled_back"`
	// Repinned lists pinned values written again after the restore.
	Repinned []string `json:"repinned,omitempty"`
	Diff     string   `json:"diff,omitempty"`
}

// Restore puts the files of a backup back whole (a file the backup
// records as absent is deleted), then writes the pinned values again:
// pins stand until a person removes them. The changes written after the
// backup to the files it restores are marked rolled back and quarantined.
func (p *Propagator) Restore(ctx context.Context, backupID, actor, reason string) (RestoreResult, error) {
	var res RestoreResult
	if err := firstError(checkActor(actor), flywheel.CheckName("backup_id", backupID, true)); err != nil {
		return res, err
	}
	err := p.locked(ctx, func() error {
		b, err := p.store.ConfigBackup(ctx, backupID)
		if err != nil {
			return err
		}
		res, err = p.restoreFiles(ctx, b.Files, b.CreatedAt, actor, reason, ActionRestore, "restore backup "+backupID)
		return err
	})
	return res, err
}

// RollbackToBaseline puts every file flywheel ever changed back to its
// content before the first change (deleting the files flywheel created),
// writes the pinned values again, and rolls back and quarantines every
// change in canary or applied.
func (p *Propagator) RollbackToBaseline(ctx context.Context, actor, reason string) (RestoreResult, error) {
	var res RestoreResult
	if err := checkActor(actor); err != nil {
		return res, err
	}
	err := p.locked(ctx, func() error {
		backups, err := p.store.ConfigBackups(ctx, 10000)
		if err != nil {
			return err
		}
		files := map[string][]byte{}
		for _, b := range backups {
			if strings.HasPrefix(b.ID, baselinePrefix) {
				maps.Copy(files, b.Files)
			}
		}
		res, err = p.restoreFiles(ctx, files, time.Time{}, actor, reason, ActionRollbackBase, "roll back to the baseline")
		return err
	})
	return res, err
}

// restoreFiles writes files whole, repins, and rolls back the changes
// made after since (all when since is zero) that touched them.
func (p *Propagator) restoreFiles(ctx context.Context, files map[string][]byte, since time.Time, actor, reason, action, subject string) (RestoreResult, error) {
	res := RestoreResult{Files: []string{}, RolledBack: []string{}}
	pl, err := p.newPlan(ctx)
	if err != nil {
		return res, err
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if err := pl.setContent(rel, files[rel]); err != nil {
			return res, err
		}
	}
	if res.Repinned, err = pl.repin(); err != nil {
		return res, err
	}
	if err := pl.finish(nil); err != nil {
		return res, err
	}
	now := p.now().UTC()
	opID, err := p.newID(ctx, "op-", subject, now)
	if err != nil {
		return res, err
	}
	o := &op{}
	o.stage(pl, backupIDFor(opID, ""), "", now)
	if o.backup != nil {
		res.BackupID = o.backup.ID
	}
	res.Files, res.Diff = changedPaths(pl), planDiff(pl)
	if res.Files == nil {
		res.Files = []string{}
	}
	undone, err := p.changesUndone(ctx, files, since)
	if err != nil {
		return res, err
	}
	for _, c := range undone {
		rec, err := RecordOf(c)
		if err != nil {
			continue
		}
		rec.Rollback = &RollbackInfo{At: now, By: actor, Reason: subject + ": " + reason, BackupID: res.BackupID}
		c.State, c.Quarantined, c.UpdatedAt = flywheel.ChangeRolledBack, true, now
		rec.store(&c)
		o.Changes = append(o.Changes, c)
		res.RolledBack = append(res.RolledBack, c.ID)
	}
	o.Audit = p.audit(actor, action, subject, map[string]any{"reason": reason, "files": res.Files,
		"rolled_back": res.RolledBack, "repinned": res.Repinned, "backup_id": res.BackupID, "diff": res.Diff})
	o.Commit = fmt.Sprintf("%s\n\nReason: %s\nRolled back: %s\n", subject, orDefault(reason, "by "+actor), strings.Join(res.RolledBack, ", "))
	return res, p.commit(ctx, o)
}

// changesUndone lists the changes in canary or applied, created after
// since, that wrote one of files.
func (p *Propagator) changesUndone(ctx context.Context, files map[string][]byte, since time.Time) ([]flywheel.ConfigChange, error) {
	changes, err := p.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Limit: 10000,
		States: []flywheel.ConfigChangeState{flywheel.ChangeCanary, flywheel.ChangeApplied}})
	if err != nil {
		return nil, err
	}
	var out []flywheel.ConfigChange
	for _, c := range changes {
		if c.CreatedAt.Before(since) {
			continue
		}
		for _, f := range c.Files {
			if _, ok := files[f]; ok {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

// repin writes every pin's value into its file.
func (pl *plan) repin() ([]string, error) {
	var out []string
	for _, pin := range pl.pins {
		kind, _, err := kindOf(pin.File)
		if err != nil {
			continue
		}
		l, err := kind.lookup(pin.key)
		if err != nil {
			continue
		}
		v, msg := l.parse(pin.Value)
		if msg != "" {
			continue
		}
		f, err := pl.fileForRestore(pin.File)
		if err != nil {
			return nil, err
		}
		if f.doc == nil {
			return nil, flywheel.Errorf(flywheel.EInvalid, "%s is not valid YAML, so the pin on %s cannot be written again; fix it by hand", f.rel, pin.Key)
		}
		root := rootMap(f.doc)
		if cur := lookupNode(root, pin.key); cur != nil && sameValue(cur, v) {
			continue
		}
		if _, err := setNode(root, pin.key, scalarOf(v)); err != nil {
			return nil, withFile(err, f.rel)
		}
		f.dirty, f.out, f.remove = true, nil, false
		out = append(out, heldName(pin.File, pin.key))
	}
	return out, nil
}

// Backups lists backups newest first, without their contents.
func (p *Propagator) Backups(ctx context.Context, limit int) ([]BackupInfo, error) {
	b, err := p.store.ConfigBackups(ctx, limit)
	if err != nil {
		return nil, err
	}
	return Summarize(b), nil
}
