package propagate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/flywheel-ml/flywheel"
)

// An operation that writes files goes in this order:
//
//  1. the backup of every file it touches is stored (and, the first time
//     a file is touched, its baseline);
//  2. the journal, holding everything the operation will store and
//     write, is written atomically into the config directory: from here
//     on the operation will complete;
//  3. the config change records and pins are stored, the files written
//     one by one atomically, the audit entry appended, the git commit
//     made;
//  4. the journal is removed.
//
// A crash before 2 leaves only a backup nobody refers to; a crash after
// it is finished by recover, run before every operation, which redoes
// step 3 (every part of it is idempotent but the audit entry, which is
// then appended a second time, marked as recovered). So a recorded change
// always has its backup, and the files are never left half-applied.

// journalName is the journal's file in the config directory.
const journalName = ".flywheel-journal.json"

// lockName is the lock file in the config directory.
const lockName = ".flywheel.lock"

// op is one write of the propagator, as the journal holds it.
type op struct {
	Changes []flywheel.ConfigChange `json:"changes,omitempty"`
	Pins    []flywheel.Pin          `json:"pins,omitempty"`
	Unpin   *flywheel.Pin           `json:"unpin,omitempty"`
	Files   []journalFile           `json:"files,omitempty"`
	Audit   flywheel.AuditEntry     `json:"audit"`
	// Commit is the git commit message; empty makes no commit.
	Commit string `json:"commit,omitempty"`
	// backup is stored before the journal; it is not in it.
	backup *flywheel.ConfigBackup
}

// journalFile is one file an operation writes (Data) or deletes.
type journalFile struct {
	Path   string `json:"path"`
	Data   []byte `json:"data,omitempty"`
	Delete bool   `json:"delete,omitempty"`
}

// baselinePrefix starts the id of a file's baseline backup: its content
// before flywheel first changed it. Retention never deletes baselines.
const baselinePrefix = "baseline-"

func baselineID(rel string) string {
	sum := sha256.Sum256([]byte(rel))
	return baselinePrefix + hex.EncodeToString(sum[:8])
}

// stage fills op's files and backup from a finished plan.
func (o *op) stage(pl *plan, backupID, changeID string, now time.Time) {
	files := pl.changed()
	if len(files) == 0 {
		return
	}
	b := &flywheel.ConfigBackup{ID: backupID, ChangeID: changeID, CreatedAt: now, Files: map[string][]byte{}}
	for _, f := range files {
		var pre []byte
		if f.existed {
			pre = f.old
			if pre == nil {
				pre = []byte{}
			}
		}
		b.Files[f.rel] = pre
		if f.remove {
			o.Files = append(o.Files, journalFile{Path: f.rel, Delete: true})
		} else {
			o.Files = append(o.Files, journalFile{Path: f.rel, Data: f.out})
		}
	}
	o.backup = b
}

// paths lists the files an operation writes or deletes.
func (o *op) paths() []string {
	out := make([]string, len(o.Files))
	for i, f := range o.Files {
		out[i] = f.Path
	}
	return out
}

// planDiff is the unified diff of every file a plan changes.
func planDiff(pl *plan) string {
	var b strings.Builder
	for _, f := range pl.changed() {
		var after []byte
		if !f.remove {
			after = f.out
		}
		b.Write(diff.Diff("a/"+f.rel, f.old, "b/"+f.rel, after))
	}
	return b.String()
}

// commit carries out an operation (see the order above).
func (p *Propagator) commit(ctx context.Context, o *op) error {
	if o.backup != nil {
		if err := p.storeBackup(ctx, o.backup); err != nil {
			return err
		}
	}
	j, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	if err := p.writeFile(journalName, j, nil); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := p.redo(ctx, o); err != nil {
		// The journal stays: the next operation finishes this one.
		return err
	}
	if err := p.removeFile(journalName); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	if o.backup != nil {
		p.applyRetention(ctx)
	}
	return nil
}

// storeBackup stores the baselines missing for the backup's files, then
// the backup.
func (p *Propagator) storeBackup(ctx context.Context, b *flywheel.ConfigBackup) error {
	for _, rel := range slices.Sorted(maps.Keys(b.Files)) {
		id := baselineID(rel)
		_, err := p.store.ConfigBackup(ctx, id)
		if flywheel.Code(err) != flywheel.ENotFound {
			if err != nil {
				return err
			}
			continue
		}
		base := flywheel.ConfigBackup{ID: id, CreatedAt: b.CreatedAt, Files: map[string][]byte{rel: b.Files[rel]}}
		if err := p.store.PutConfigBackup(ctx, base); err != nil {
			return fmt.Errorf("store baseline of %s: %w", rel, err)
		}
	}
	if err := p.store.PutConfigBackup(ctx, *b); err != nil {
		return fmt.Errorf("store backup: %w", err)
	}
	return nil
}

// redo stores and writes everything in o; running it twice is harmless.
func (p *Propagator) redo(ctx context.Context, o *op) error {
	for _, c := range o.Changes {
		if err := p.store.PutConfigChange(ctx, c); err != nil {
			return err
		}
	}
	for _, pin := range o.Pins {
		if err := p.store.SetPin(ctx, pin); err != nil {
			return err
		}
	}
	if u := o.Unpin; u != nil {
		err := p.store.DeletePin(ctx, u.File, u.Target, u.Key)
		if err != nil && flywheel.Code(err) != flywheel.ENotFound {
			return err
		}
	}
	for _, f := range o.Files {
		if f.Delete {
			if err := p.removeFile(f.Path); err != nil {
				return err
			}
			continue
		}
		kind, target, err := kindOf(f.Path)
		if err != nil {
			return err
		}
		check := func(b []byte) error { return withFile(checkBytes(kind, target, b), f.Path) }
		if err := p.writeFile(f.Path, f.Data, check); err != nil {
			return err
		}
	}
	if _, err := p.store.AppendAudit(ctx, o.Audit); err != nil {
		return err
	}
	if o.Commit != "" && p.git {
		p.gitCommit(ctx, o.paths(), o.Commit, o.Audit.Actor)
	}
	return nil
}

// recover finishes the operation a crash interrupted, if any.
func (p *Propagator) recover(ctx context.Context) error {
	data, err := p.root.ReadFile(journalName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	p.removeStaleTemps()
	var o op
	if err := json.Unmarshal(data, &o); err != nil {
		// The journal is written atomically, so it cannot be torn.
		return fmt.Errorf("journal %s is unreadable; move it away after checking the config files: %w", journalName, err)
	}
	detail, _ := json.Marshal(map[string]any{"recovered": true, "detail": o.Audit.Detail})
	o.Audit.Detail = detail
	o.Audit.At = p.now()
	p.log.Warn("finishing a config operation a crash interrupted", keyAction, o.Audit.Action, keySubject, o.Audit.Subject)
	if err := p.redo(ctx, &o); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	return p.removeFile(journalName)
}

// applyRetention deletes the oldest backups beyond the retention, never
// a baseline. A failure is logged: the operation itself succeeded.
func (p *Propagator) applyRetention(ctx context.Context) {
	backups, err := p.store.ConfigBackups(ctx, 10000)
	if err != nil {
		p.log.Error("list config backups for retention", keyErr, err)
		return
	}
	kept := 0
	for _, b := range backups {
		if strings.HasPrefix(b.ID, baselinePrefix) {
			continue
		}
		if kept++; kept <= p.cfg.BackupRetention {
			continue
		}
		if err := p.store.DeleteConfigBackup(ctx, b.ID); err != nil && flywheel.Code(err) != flywheel.ENotFound {
			p.log.Error("delete old config backup", keyBackup, b.ID, keyErr, err)
		}
	}
}

// newID returns an id not used by a change yet: prefix, the time, and a
// hash of seed, the time and a counter.
func (p *Propagator) newID(ctx context.Context, prefix, seed string, now time.Time) (string, error) {
	for n := 0; ; n++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d", seed, now.UnixNano(), n))
		id := prefix + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:4])
		_, err := p.store.ConfigChange(ctx, id)
		if flywheel.Code(err) == flywheel.ENotFound {
			if _, err := p.store.ConfigBackup(ctx, backupIDFor(id, "")); flywheel.Code(err) == flywheel.ENotFound {
				return id, nil
			}
		} else if err != nil {
			return "", err
		}
	}
}

// backupIDFor names the backup an operation on change id takes: "" for
// its first write, "p" for a promotion, "rb" for a rollback.
func backupIDFor(id, step string) string {
	b := "bk-" + strings.TrimPrefix(id, "cc-")
	if step != "" {
		b += "-" + step
	}
	return b
}

// auditDetail encodes an audit entry's detail.
func auditDetail(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
