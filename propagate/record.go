package propagate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Record is what ConfigChange.Update holds: the update document (its
// fields at the top level, so that a reader of Update finds target,
// source and updates where it expects them), and what the propagator
// needs to carry the change through its rollout and to undo it.
type Record struct {
	UpdateDoc
	// Fingerprint identifies what the update changes (target and
	// updates), so that a quarantined change is recognised when it comes
	// again.
	Fingerprint string `json:"fingerprint"`
	// Rollout is the canary split of a learned change.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Edits are the values the change set, in order; a rollback undoes
	// them in reverse.
	Edits []Edit `json:"edits,omitempty"`
	// Created lists the files the change created.
	Created []string `json:"created,omitempty"`
	// ConfigHashes maps each target written to ConfigHash of its files
	// right after the change: a training run reporting that hash used the
	// change (adoption).
	ConfigHashes map[string]string `json:"config_hashes,omitempty"`
	// Rollback says who undid the change and what it left alone.
	Rollback *RollbackInfo `json:"rollback,omitempty"`
	// Decision is the last canary evaluation.
	Decision *CanaryDecision `json:"decision,omitempty"`
}

// Rollout is the canary split of a learned change.
type Rollout struct {
	// Canary targets get the change first; Rest after promotion.
	Canary     []string   `json:"canary"`
	Rest       []string   `json:"rest,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	Deadline   time.Time  `json:"deadline"`
	PromotedAt *time.Time `json:"promoted_at,omitempty"`
}

// RollbackInfo records a rollback.
type RollbackInfo struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	// Kept lists the values the rollback left alone (file:key): they
	// changed after the change, or a pin holds them.
	Kept     []string `json:"kept,omitempty"`
	BackupID string   `json:"backup_id,omitempty"`
}

// RecordOf decodes the record a change holds.
func RecordOf(c flywheel.ConfigChange) (*Record, error) {
	var r Record
	if err := json.Unmarshal(c.Update, &r); err != nil {
		return nil, fmt.Errorf("config change %s: decode its record: %w", c.ID, err)
	}
	if r.Target == "" {
		return nil, flywheel.Errorf(flywheel.EConflict, "config change %s was not made by the propagator", c.ID)
	}
	return &r, nil
}

// store puts the record into the change.
func (r *Record) store(c *flywheel.ConfigChange) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("propagate: encode record: %v", err)) // only plain data: cannot fail
	}
	c.Update = b
}

// allTargets lists the canary and the rest.
func (r *Rollout) allTargets() []string { return append(slices.Clone(r.Canary), r.Rest...) }

// ChangeDetail is a change with what lies behind it, for show.
type ChangeDetail struct {
	Change flywheel.ConfigChange `json:"change"`
	Record *Record               `json:"record,omitempty"`
	// Signals are the signals the change came from, as far as the store
	// still has them.
	Signals  []flywheel.Signal `json:"signals"`
	Insights []InsightRef      `json:"insights"`
}

// InsightRef names one insight version a change was derived from.
type InsightRef struct {
	Kind      string    `json:"kind"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Missing is set when the store no longer has that version.
	Missing bool `json:"missing,omitempty"`
}

// Show returns a change with its record, signals and insights. It needs
// only the store, so a daemon without a config directory can show the
// history.
func Show(ctx context.Context, store flywheel.Store, id string) (ChangeDetail, error) {
	c, err := store.ConfigChange(ctx, id)
	if err != nil {
		return ChangeDetail{}, err
	}
	d := ChangeDetail{Change: c, Signals: []flywheel.Signal{}, Insights: []InsightRef{}}
	if rec, err := RecordOf(c); err == nil {
		d.Record = rec
	}
	if len(c.SignalIDs) > 0 {
		f := flywheel.SignalFilter{Limit: 10000}
		if d.Record != nil && d.Record.ModelFamily != "" {
			f.Model = &flywheel.ModelKey{Target: c.Target, ModelFamily: d.Record.ModelFamily}
		}
		sigs, err := store.Signals(ctx, f)
		if err != nil {
			return ChangeDetail{}, err
		}
		for _, s := range sigs {
			if slices.Contains(c.SignalIDs, s.ID) {
				d.Signals = append(d.Signals, s)
			}
		}
	}
	kinds := make([]string, 0, len(c.InsightVersions))
	for k := range c.InsightVersions {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		ref := InsightRef{Kind: k, Version: c.InsightVersions[k]}
		in, err := store.Insight(ctx, k, ref.Version)
		switch {
		case err == nil:
			ref.CreatedAt = in.CreatedAt
		case flywheel.Code(err) == flywheel.ENotFound:
			ref.Missing = true
		default:
			return ChangeDetail{}, err
		}
		d.Insights = append(d.Insights, ref)
	}
	return d, nil
}

// BackupInfo describes a backup without its contents.
type BackupInfo struct {
	ID        string    `json:"id"`
	ChangeID  string    `json:"change_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Files     []string  `json:"files"`
	// Baseline marks a file's content before flywheel first changed it.
	Baseline bool `json:"baseline,omitempty"`
}

// Summarize describes backups without their contents.
func Summarize(backups []flywheel.ConfigBackup) []BackupInfo {
	out := make([]BackupInfo, 0, len(backups))
	for _, b := range backups {
		files := make([]string, 0, len(b.Files))
		for f := range b.Files {
			files = append(files, f)
		}
		slices.Sort(files)
		out = append(out, BackupInfo{ID: b.ID, ChangeID: b.ChangeID, CreatedAt: b.CreatedAt, Files: files,
			Baseline: strings.HasPrefix(b.ID, baselinePrefix)})
	}
	return out
}
