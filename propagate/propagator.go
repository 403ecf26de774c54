package propagate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Audit actions the propagator records.
const (
	ActionApply           = "config.apply"
	ActionPropose         = "config.propose"
	ActionApprove         = "config.approve"
	ActionReject          = "config.reject"
	ActionPromote         = "config.promote"
	ActionRollback        = "config.rollback"
	ActionRollbackBase    = "config.rollback_baseline"
	ActionRestore         = "config.restore"
	ActionQuarantineClear = "config.quarantine_clear"
	ActionPinSet          = "pin.set"
	ActionPinDelete       = "pin.delete"
)

// Log keys, shared so that log lines can be searched reliably.
const (
	keyChange  = "change"
	keyErr     = "err"
	keyVerdict = "verdict"
	keyReason  = "reason"
	keyAction  = "action"
	keySubject = "subject"
	keyBackup  = "backup"
	keyStderr  = "stderr"
)

// Defaults of Config.
const (
	DefaultCanaryShare       = 0.25
	DefaultCanaryDeadline    = 7 * 24 * time.Hour
	DefaultCanaryMinOutcomes = 2
	DefaultBackupRetention   = 100
)

// ErrNoChange is returned by Apply when the files already hold every
// value of the update and no pin held anything back that an earlier
// change of the same update did not record already: there is nothing to
// record.
var ErrNoChange = flywheel.Errorf(flywheel.EConflict, "nothing to change: the config files already hold every value of the update")

// Causes of the EConflict errors Apply returns when it refuses a learned
// update, for errors.Is: the update was rolled back and is quarantined,
// or a target is in another change's rollout.
var (
	ErrQuarantined = errors.New("update quarantined")
	ErrInRollout   = errors.New("target in another change's rollout")
)

// Config is what a Propagator needs.
type Config struct {
	// Dir is the pipeline's config directory (CONFIG/); it must exist.
	Dir string
	// Store keeps changes, backups, pins, outcomes and the audit log.
	Store flywheel.Store
	// Now is the clock; nil is the wall clock in UTC.
	Now func() time.Time
	// Logger receives what the propagator does on its own; nil discards.
	Logger *slog.Logger
	// Git says whether changes are also git commits (GitAuto: when Dir
	// holds .git).
	Git GitMode
	// Approval makes every learned update wait, as proposed, for a
	// person's approval before anything is written.
	Approval bool
	// CanaryShare is the share of a learned change's targets that get it
	// first (DefaultCanaryShare when 0); at least one target does.
	CanaryShare float64
	// CanaryDeadline is how long an inconclusive canary waits before it
	// is rolled back (DefaultCanaryDeadline when 0).
	CanaryDeadline time.Duration
	// CanaryMinOutcomes is how many outcomes each side of a canary needs
	// before it is judged (DefaultCanaryMinOutcomes when 0).
	CanaryMinOutcomes int
	// CanaryOutcomeKind is the kind of outcome a canary is judged on
	// (flywheel.OutcomeTraining when empty): config changes act on
	// training first.
	CanaryOutcomeKind string
	// BackupRetention is how many backups are kept, baselines aside
	// (DefaultBackupRetention when 0).
	BackupRetention int
}

// Propagator writes update documents into a config directory. It is
// safe for concurrent use, and several processes may share a directory:
// every write holds a mutex and an flock on a lock file in it.
type Propagator struct {
	cfg   Config
	dir   string // absolute, symlinks resolved
	root  *os.Root
	store flywheel.Store
	now   func() time.Time
	log   *slog.Logger
	git   bool
	mu    sync.Mutex
}

// New returns a propagator on cfg.Dir. It finishes an operation a crash
// interrupted, if the directory's journal holds one.
func New(ctx context.Context, cfg Config) (*Propagator, error) {
	if cfg.Store == nil {
		return nil, errors.New("propagate: Config.Store is nil")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("config directory %s is not a directory", cfg.Dir)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	p := &Propagator{cfg: cfg, dir: abs, root: root, store: cfg.Store, now: cfg.Now, log: cfg.Logger}
	if p.git, err = detectGit(abs, cfg.Git); err == nil && p.git {
		err = excludeOwnFiles(abs)
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	// Taking the lock finishes an interrupted operation; temporary files
	// of a write that never reached the journal are removed too.
	if err := p.locked(ctx, func() error { p.removeStaleTemps(); return nil }); err != nil {
		root.Close()
		return nil, err
	}
	return p, nil
}

func (c *Config) defaults() error {
	if c.Now == nil {
		c.Now = flywheel.SystemClock.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CanaryShare == 0 {
		c.CanaryShare = DefaultCanaryShare
	}
	if c.CanaryShare < 0 || c.CanaryShare > 1 {
		return fmt.Errorf("propagate: canary share %g is not in (0, 1]", c.CanaryShare)
	}
	if c.CanaryDeadline == 0 {
		c.CanaryDeadline = DefaultCanaryDeadline
	}
	if c.CanaryMinOutcomes == 0 {
		c.CanaryMinOutcomes = DefaultCanaryMinOutcomes
	}
	if c.CanaryOutcomeKind == "" {
		c.CanaryOutcomeKind = flywheel.OutcomeTraining
	}
	if c.BackupRetention == 0 {
		c.BackupRetention = DefaultBackupRetention
	}
	if c.CanaryDeadline < 0 || c.CanaryMinOutcomes < 0 || c.BackupRetention < 0 {
		return errors.New("propagate: canary deadline, minimum outcomes and backup retention must not be negative")
	}
	return nil
}

// Dir returns the config directory, symlinks resolved.
func (p *Propagator) Dir() string { return p.dir }

// Close releases the config directory.
func (p *Propagator) Close() error { return p.root.Close() }

// locked runs fn holding the mutex and the directory's flock, after
// finishing any interrupted operation.
func (p *Propagator) locked(ctx context.Context, fn func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	unlock, err := flockFile(ctx, f)
	if err != nil {
		return fmt.Errorf("lock config directory: %w", err)
	}
	defer unlock()
	if err := p.recover(ctx); err != nil {
		return err
	}
	return fn()
}

// ApplyOptions carry where an update comes from and where it goes.
type ApplyOptions struct {
	// SignalIDs and InsightVersions are the signals and insight versions
	// the update was derived from.
	SignalIDs       []string
	InsightVersions map[string]int64
	// Reason overrides the document's reason.
	Reason string
	// Targets are the targets the update applies to, besides the
	// document's; a learned update reaches a canary share of them first.
	Targets []string
	// DryRun plans the change and returns it, diff included, without
	// storing or writing anything.
	DryRun bool
}

func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return flywheel.FieldError("actor", "is required: every action is audited under a name")
	}
	return nil
}

// Apply applies an update document: pins, validation, backup, atomic
// write, record, audit, in that order. A learned update (source CILS or
// ARPO) is proposed and waits in approval mode, and otherwise goes to
// its canary targets first; a person's update (source human) is written
// to all its targets. An update that was rolled back and quarantined is
// refused; one already proposed or in canary is returned as it is.
func (p *Propagator) Apply(ctx context.Context, doc UpdateDoc, actor string, opts ApplyOptions) (flywheel.ConfigChange, error) {
	c, _, err := p.apply(ctx, doc, actor, opts)
	return c, err
}

// apply is Apply, and reports whether the change returned is one that
// was already proposed or in canary rather than a new one.
func (p *Propagator) apply(ctx context.Context, doc UpdateDoc, actor string, opts ApplyOptions) (flywheel.ConfigChange, bool, error) {
	var out flywheel.ConfigChange
	var existed bool
	signals, err := prepare(&doc, actor, opts)
	if err != nil {
		return out, false, err
	}
	err = p.locked(ctx, func() error {
		rec := &Record{UpdateDoc: doc, Fingerprint: doc.fingerprint()}
		existing, err := p.sameUpdate(ctx, rec)
		if err != nil {
			return err
		}
		if existing != nil {
			out, existed = *existing, true
			return nil
		}
		now := p.now().UTC()
		id, err := p.newID(ctx, "cc-", rec.Fingerprint, now)
		if err != nil {
			return err
		}
		c := flywheel.ConfigChange{ID: id, Target: doc.Target, Source: doc.Source, Reason: doc.Reason,
			SignalIDs: signals, InsightVersions: opts.InsightVersions, CreatedAt: now, UpdatedAt: now}
		if rec.Learned() && p.cfg.Approval || opts.DryRun {
			out, err = p.propose(ctx, c, rec, actor, opts.DryRun)
			return err
		}
		out, err = p.start(ctx, c, rec, actor, ActionApply, "")
		return err
	})
	return out, existed, err
}

// prepare validates a document and the options of its apply, merges
// the options' targets and reason into it, and returns the signal ids.
func prepare(doc *UpdateDoc, actor string, opts ApplyOptions) ([]string, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	for i, t := range opts.Targets {
		if err := flywheel.CheckName(fmt.Sprintf("targets[%d]", i), t, true); err != nil {
			return nil, err
		}
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	doc.Targets = rolloutTargets(doc, opts.Targets)
	if len(doc.Targets) > maxTargets {
		return nil, flywheel.FieldError("targets", "has %d targets; at most %d", len(doc.Targets), maxTargets)
	}
	if opts.Reason != "" {
		doc.Reason = opts.Reason
	}
	signals := slices.Clone(opts.SignalIDs)
	if doc.SignalID != "" && !slices.Contains(signals, doc.SignalID) {
		signals = append(signals, doc.SignalID)
	}
	for i, s := range signals {
		if err := flywheel.CheckName(fmt.Sprintf("signal_ids[%d]", i), s, true); err != nil {
			return nil, err
		}
	}
	for kind, v := range opts.InsightVersions {
		if err := flywheel.CheckName("insight_versions", kind, true); err != nil {
			return nil, err
		}
		if v < 1 {
			return nil, flywheel.FieldError("insight_versions."+kind, "must be a version from 1, not %d", v)
		}
	}
	return signals, nil
}

// sameUpdate looks for a change with the same fingerprint: quarantined
// (refused), or proposed or in canary (returned, so that the loop
// generating the same update every cycle does not pile up changes).
func (p *Propagator) sameUpdate(ctx context.Context, rec *Record) (*flywheel.ConfigChange, error) {
	changes, err := p.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Target: rec.Target, Limit: 10000,
		States: []flywheel.ConfigChangeState{flywheel.ChangeProposed, flywheel.ChangeCanary, flywheel.ChangeRolledBack}})
	if err != nil {
		return nil, err
	}
	var same *flywheel.ConfigChange
	for _, c := range changes {
		other, err := RecordOf(c)
		if err != nil || other.Fingerprint != rec.Fingerprint {
			continue
		}
		if c.State == flywheel.ChangeRolledBack && c.Quarantined {
			return nil, &flywheel.Error{Code: flywheel.EConflict, Err: ErrQuarantined, Message: fmt.Sprintf(
				"this update was rolled back as change %s and is quarantined; a person clears it with: flywheel config quarantine clear %s",
				c.ID, c.ID)}
		}
		if c.State != flywheel.ChangeRolledBack && same == nil {
			same = &c
		}
	}
	return same, nil
}

// sameHeld finds an applied change of the same update that pins held
// back the same way: the loop generating an update that pins hold back
// every cycle records it once, not every cycle.
func (p *Propagator) sameHeld(ctx context.Context, rec *Record, held []string) (*flywheel.ConfigChange, error) {
	changes, err := p.store.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Target: rec.Target, Limit: 100,
		States: []flywheel.ConfigChangeState{flywheel.ChangeApplied}})
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		other, err := RecordOf(c)
		if err == nil && other.Fingerprint == rec.Fingerprint && len(c.Files) == 0 && slices.Equal(c.HeldByPins, held) {
			return &c, nil
		}
	}
	return nil, nil
}

// propose records a learned change that waits for approval (or, for a
// dry run, only plans it). Its diff is against the files as they are
// now; approval plans it again against the files as they are then.
func (p *Propagator) propose(ctx context.Context, c flywheel.ConfigChange, rec *Record, actor string, dryRun bool) (flywheel.ConfigChange, error) {
	targets := rec.Targets
	if rec.Learned() {
		var err error
		if targets, _, err = p.chooseCanary(ctx, rec, c.ID); err != nil {
			return c, err
		}
	}
	pl, err := p.planTargets(ctx, rec, targets)
	if err != nil {
		return c, err
	}
	c.State = flywheel.ChangeProposed
	c.Files, c.Diff, c.HeldByPins = changedPaths(pl), planDiff(pl), pl.held
	rec.store(&c)
	if dryRun {
		// What Apply would make of it; no id, since nothing is stored.
		switch {
		case !rec.Learned():
			c.State = flywheel.ChangeApplied
		case !p.cfg.Approval:
			c.State = flywheel.ChangeCanary
		}
		c.ID = ""
		return c, nil
	}
	o := &op{Changes: []flywheel.ConfigChange{c}, Audit: p.audit(actor, ActionPropose, c.ID, map[string]any{
		"target": c.Target, "source": c.Source, "files": c.Files, "held_by_pins": c.HeldByPins})}
	return c, p.commit(ctx, o)
}

// start writes a change for the first time: to its canary targets when
// it is learned, to all its targets when a person wrote it. note (an
// approver's words) goes to the audit log.
func (p *Propagator) start(ctx context.Context, c flywheel.ConfigChange, rec *Record, actor, action, note string) (flywheel.ConfigChange, error) {
	now := p.now().UTC()
	targets, state := rec.Targets, flywheel.ChangeApplied
	if rec.Learned() {
		if err := p.checkInFlight(ctx, c.ID, rec.Targets); err != nil {
			return c, err
		}
		canary, rest, err := p.chooseCanary(ctx, rec, c.ID)
		if err != nil {
			return c, err
		}
		rec.Rollout = &Rollout{Canary: canary, Rest: rest, StartedAt: now, Deadline: now.Add(p.cfg.CanaryDeadline)}
		targets, state = canary, flywheel.ChangeCanary
	}
	pl, err := p.planTargets(ctx, rec, targets)
	if err != nil {
		return c, err
	}
	if len(pl.changed()) == 0 {
		if action == ActionApply {
			if same, err := p.sameHeld(ctx, rec, pl.held); same != nil || err != nil || len(pl.held) == 0 {
				return c, firstError(err, ErrNoChange)
			}
		}
		// Nothing to write: all of it was held back, or is in place
		// already. The change is recorded so that the update says so.
		rec.Rollout, state = nil, flywheel.ChangeApplied
	}
	rec.Edits, rec.Created = pl.edits, createdPaths(pl)
	if rec.ConfigHashes, err = p.hashesAfter(pl, targets); err != nil {
		return c, err
	}
	c.State, c.UpdatedAt = state, now
	c.Files, c.Diff, c.HeldByPins = changedPaths(pl), planDiff(pl), pl.held
	o := &op{}
	o.stage(pl, backupIDFor(c.ID, ""), c.ID, now)
	if o.backup != nil {
		c.BackupID = o.backup.ID
	}
	rec.store(&c)
	o.Changes = []flywheel.ConfigChange{c}
	o.Audit = p.audit(actor, action, c.ID, map[string]any{"target": c.Target, "source": c.Source, "state": c.State,
		"files": c.Files, "held_by_pins": c.HeldByPins, "backup_id": c.BackupID, "targets": targets, "note": note})
	o.Commit = commitMessage(&c, rec, fmt.Sprintf("%s %s (%s) for %s", action, c.ID, c.Source, strings.Join(targets, ", ")))
	return c, p.commit(ctx, o)
}

// planTargets plans rec's updates for targets.
func (p *Propagator) planTargets(ctx context.Context, rec *Record, targets []string) (*plan, error) {
	pl, err := p.newPlan(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		writes, err := writesFor(&rec.UpdateDoc, t)
		if err != nil {
			return nil, err
		}
		for _, w := range writes {
			if err := pl.apply(w); err != nil {
				return nil, err
			}
		}
	}
	return pl, pl.finish(nil)
}

func changedPaths(pl *plan) []string {
	var out []string
	for _, f := range pl.changed() {
		out = append(out, f.rel)
	}
	return out
}

func createdPaths(pl *plan) []string {
	var out []string
	for _, f := range pl.changed() {
		if !f.existed && !f.remove {
			out = append(out, f.rel)
		}
	}
	return out
}

// audit builds an audit entry.
func (p *Propagator) audit(actor, action, subject string, detail any) flywheel.AuditEntry {
	return flywheel.AuditEntry{At: p.now().UTC(), Actor: actor, Action: action, Subject: subject, Detail: auditDetail(detail)}
}

// commitMessage is a git commit message naming the change and its
// reasons.
func commitMessage(c *flywheel.ConfigChange, rec *Record, subject string) string {
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	if c.Reason != "" {
		b.WriteString("Reason: " + c.Reason + "\n")
	}
	if len(c.SignalIDs) > 0 {
		b.WriteString("Signals: " + strings.Join(c.SignalIDs, ", ") + "\n")
	}
	for _, k := range slices.Sorted(maps.Keys(c.InsightVersions)) {
		fmt.Fprintf(&b, "Insights: %s v%d\n", k, c.InsightVersions[k])
	}
	if len(c.HeldByPins) > 0 {
		b.WriteString("Held by pins: " + strings.Join(c.HeldByPins, ", ") + "\n")
	}
	if rec != nil && rec.Rollout != nil {
		fmt.Fprintf(&b, "Canary: %s until %s\n", strings.Join(rec.Rollout.Canary, ", "), rec.Rollout.Deadline.Format(time.RFC3339))
	}
	b.WriteString("Change: " + c.ID + "\n")
	return b.String()
}

// Approve says yes to a change: a proposed change is written (to its
// canary first when learned), a change in canary is promoted now. The
// reason goes to the audit log.
func (p *Propagator) Approve(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	if err := checkActor(actor); err != nil {
		return out, err
	}
	err := p.locked(ctx, func() error {
		c, rec, err := p.change(ctx, id)
		if err != nil {
			return err
		}
		switch c.State {
		case flywheel.ChangeProposed:
			if _, err := p.sameUpdate(ctx, rec); err != nil {
				return err // quarantined since it was proposed
			}
			out, err = p.start(ctx, c, rec, actor, ActionApprove, reason)
		case flywheel.ChangeCanary:
			out, err = p.promote(ctx, c, rec, actor, orDefault(reason, "approved by "+actor))
		default:
			err = stateError(c, "approved", "proposed or canary")
		}
		return err
	})
	return out, err
}

// Reject turns a proposed change down; nothing was written for it.
func (p *Propagator) Reject(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	if err := checkActor(actor); err != nil {
		return out, err
	}
	err := p.locked(ctx, func() error {
		c, _, err := p.change(ctx, id)
		if err != nil {
			return err
		}
		if c.State != flywheel.ChangeProposed {
			hint := ""
			if c.State == flywheel.ChangeCanary || c.State == flywheel.ChangeApplied {
				hint = "; it is written already: roll it back instead"
			}
			return flywheel.Errorf(flywheel.EConflict, "config change %s is %s, not proposed%s", c.ID, c.State, hint)
		}
		c.State, c.UpdatedAt = flywheel.ChangeRejected, p.now().UTC()
		out = c
		return p.commit(ctx, &op{Changes: []flywheel.ConfigChange{c},
			Audit: p.audit(actor, ActionReject, c.ID, map[string]any{"reason": reason})})
	})
	return out, err
}

// ClearQuarantine lets the loop apply a rolled-back change's update
// again.
func (p *Propagator) ClearQuarantine(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	if err := checkActor(actor); err != nil {
		return out, err
	}
	err := p.locked(ctx, func() error {
		c, _, err := p.change(ctx, id)
		if err != nil {
			return err
		}
		if !c.Quarantined {
			return flywheel.Errorf(flywheel.EConflict, "config change %s is not quarantined", c.ID)
		}
		c.Quarantined, c.UpdatedAt = false, p.now().UTC()
		out = c
		return p.commit(ctx, &op{Changes: []flywheel.ConfigChange{c},
			Audit: p.audit(actor, ActionQuarantineClear, c.ID, map[string]any{"reason": reason})})
	})
	return out, err
}

// change reads a change and its record.
func (p *Propagator) change(ctx context.Context, id string) (flywheel.ConfigChange, *Record, error) {
	if err := flywheel.CheckName("id", id, true); err != nil {
		return flywheel.ConfigChange{}, nil, err
	}
	c, err := p.store.ConfigChange(ctx, id)
	if err != nil {
		return c, nil, err
	}
	rec, err := RecordOf(c)
	return c, rec, err
}

func stateError(c flywheel.ConfigChange, verb, want string) error {
	return &flywheel.Error{Code: flywheel.EConflict, Field: "state",
		Message: fmt.Sprintf("config change %s is %s; only a change that is %s can be %s", c.ID, c.State, want, verb)}
}
