package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
)

// The config propagation API: apply an update document by hand, list and
// show config changes, approve, reject and roll them back, pins, and the
// backups. Reads go to the store, so that a daemon without a pipeline
// config directory still shows the history; writes go through the
// propagator, which audits each under the name of the token that made it.

// ConfigPropagator is what the config handlers need to write;
// *propagate.Propagator implements it.
type ConfigPropagator interface {
	Apply(ctx context.Context, doc propagate.UpdateDoc, actor string, opts propagate.ApplyOptions) (flywheel.ConfigChange, error)
	Approve(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
	Reject(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
	Rollback(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
	RollbackToBaseline(ctx context.Context, actor, reason string) (propagate.RestoreResult, error)
	Restore(ctx context.Context, backupID, actor, reason string) (propagate.RestoreResult, error)
	ClearQuarantine(ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)
	SetPin(ctx context.Context, pin flywheel.Pin, actor string) (flywheel.Pin, error)
	DeletePin(ctx context.Context, file, target, key, actor string) error
}

// errNoPropagator answers writes on a daemon without a config directory.
var errNoPropagator = flywheel.Errorf(flywheel.EUnavailable,
	"this daemon has no pipeline config directory, so it cannot change config files")

// configError marks a propagator's EInvalid as a validation failure
// (422): the request decoded, but what it asks for is not acceptable.
func configError(err error) error {
	if flywheel.Code(err) == flywheel.EInvalid {
		return unprocessable(err)
	}
	return err
}

type configChangeList struct {
	Changes []flywheel.ConfigChange `json:"changes"`
}

type pinList struct {
	Pins []flywheel.Pin `json:"pins"`
}

type backupList struct {
	Backups []propagate.BackupInfo `json:"backups"`
}

// handlePostConfigApply applies an update document (JSON) by hand,
// through every check an update from the loop goes through;
// ?dry_run=true returns the change with its diff without writing.
func handlePostConfigApply(p ConfigPropagator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "dry_run")
		dryRun := q.values.Get("dry_run")
		if dryRun != "" && dryRun != "true" && dryRun != "false" {
			q.fail(flywheel.FieldError("dry_run", "must be true or false"))
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		if p == nil {
			writeError(w, r, errNoPropagator)
			return
		}
		body, err := readDocBody(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		doc, err := propagate.DecodeUpdate(body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := doc.Validate(); err != nil {
			writeError(w, r, unprocessable(err))
			return
		}
		c, err := p.Apply(r.Context(), doc, actor(r), propagate.ApplyOptions{DryRun: dryRun == "true"})
		if err != nil {
			writeError(w, r, configError(err))
			return
		}
		encode(w, r, http.StatusOK, c)
	}
}

// readDocBody reads a JSON body of at most one update document.
func readDocBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if _, err := requestMediaType(r, false); err != nil {
		return nil, err
	}
	if r.ContentLength > propagate.MaxDocBytes {
		return nil, flywheel.Errorf(flywheel.ETooLarge, "the request body is larger than the limit of %d bytes", propagate.MaxDocBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(unwrapWriter(w), r.Body, propagate.MaxDocBytes))
	if err != nil {
		return nil, decodeError(err, nil)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, flywheel.Errorf(flywheel.EInvalid, "the request body is empty")
	}
	if b := bytes.TrimSpace(body); b[0] != '{' {
		return nil, flywheel.Errorf(flywheel.EInvalid, "the body must be one JSON object, an update document")
	}
	return body, nil
}

// handleGetConfigChanges lists config changes newest first, optionally
// of one target and in some states (state=canary,proposed).
func handleGetConfigChanges(store flywheel.ConfigStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "target", "state", "limit")
		f := flywheel.ConfigChangeFilter{Target: q.name("target"), Limit: q.limit(defaultLimit)}
		if v := q.values.Get("state"); v != "" {
			for _, s := range strings.Split(v, ",") {
				switch st := flywheel.ConfigChangeState(s); st {
				case flywheel.ChangeProposed, flywheel.ChangeCanary, flywheel.ChangeApplied, flywheel.ChangeRejected, flywheel.ChangeRolledBack:
					f.States = append(f.States, st)
				default:
					q.fail(flywheel.FieldError("state", "%q is not one of proposed, canary, applied, rejected, rolled_back", truncate(s, 64)))
				}
			}
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		changes, err := store.ConfigChanges(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if changes == nil {
			changes = []flywheel.ConfigChange{}
		}
		encode(w, r, http.StatusOK, configChangeList{Changes: changes})
	}
}

// handleGetConfigChange shows one change with its diff, its record and
// the signals and insights behind it.
func handleGetConfigChange(store flywheel.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if err := flywheel.CheckName("id", id, true); err != nil {
			writeError(w, r, flywheel.Errorf(flywheel.ENotFound, "no config change %q", truncate(id, 64)))
			return
		}
		d, err := propagate.Show(r.Context(), store, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, d)
	}
}

// changeAction is a propagator method acting on one change.
type changeAction func(p ConfigPropagator, ctx context.Context, id, actor, reason string) (flywheel.ConfigChange, error)

// handleConfigChangeAction runs act on the change {id}; the body is
// {"reason": "..."} for the audit log.
func handleConfigChangeAction(p ConfigPropagator, act changeAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := decodeOne(w, r, (*wireReason).reason)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if p == nil {
			writeError(w, r, errNoPropagator)
			return
		}
		c, err := act(p, r.Context(), chi.URLParam(r, "id"), actor(r), reason)
		if err != nil {
			writeError(w, r, configError(err))
			return
		}
		encode(w, r, http.StatusOK, c)
	}
}

// handleApproveConfigChange writes a proposed change (to its canary
// first when learned), or promotes a change in canary now.
func handleApproveConfigChange(p ConfigPropagator) http.HandlerFunc {
	return handleConfigChangeAction(p, ConfigPropagator.Approve)
}

// handleRejectConfigChange turns down a proposed change.
func handleRejectConfigChange(p ConfigPropagator) http.HandlerFunc {
	return handleConfigChangeAction(p, ConfigPropagator.Reject)
}

// handleRollbackConfigChange undoes a change and quarantines it.
func handleRollbackConfigChange(p ConfigPropagator) http.HandlerFunc {
	return handleConfigChangeAction(p, ConfigPropagator.Rollback)
}

// handleClearQuarantine lets the loop apply a rolled-back update again.
func handleClearQuarantine(p ConfigPropagator) http.HandlerFunc {
	return handleConfigChangeAction(p, ConfigPropagator.ClearQuarantine)
}

// handleRollbackBaseline puts every config file back as it was before
// flywheel first changed it.
func handleRollbackBaseline(p ConfigPropagator) http.HandlerFunc {
	return handleRestore(p, func(r *http.Request, actor, reason string) (propagate.RestoreResult, error) {
		return p.RollbackToBaseline(r.Context(), actor, reason)
	})
}

// handleRestoreConfigBackup puts the files of backup {id} back whole.
func handleRestoreConfigBackup(p ConfigPropagator) http.HandlerFunc {
	return handleRestore(p, func(r *http.Request, actor, reason string) (propagate.RestoreResult, error) {
		return p.Restore(r.Context(), chi.URLParam(r, "id"), actor, reason)
	})
}

// handleRestore is the shape of both whole-file restores: a reason in,
// the propagator's RestoreResult out.
func handleRestore(p ConfigPropagator, restore func(r *http.Request, actor, reason string) (propagate.RestoreResult, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := decodeOne(w, r, (*wireReason).reason)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if p == nil {
			writeError(w, r, errNoPropagator)
			return
		}
		res, err := restore(r, actor(r), reason)
		if err != nil {
			writeError(w, r, configError(err))
			return
		}
		encode(w, r, http.StatusOK, res)
	}
}

// handleGetConfigBackups lists backups newest first, without contents.
func handleGetConfigBackups(store flywheel.ConfigStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "limit")
		limit := q.limit(defaultLimit)
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		b, err := store.ConfigBackups(r.Context(), limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, backupList{Backups: propagate.Summarize(b)})
	}
}

// handleGetPins lists every pin.
func handleGetPins(store flywheel.ConfigStore) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q := newQuery(r); q.err != nil {
			writeError(w, r, q.err)
			return
		}
		pins, err := store.Pins(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		if pins == nil {
			pins = []flywheel.Pin{}
		}
		encode(w, r, http.StatusOK, pinList{Pins: pins})
	}
}

// wirePin is the body of POST /api/v1/pins. The value may be sent as a
// JSON string, number or boolean; it is stored as text and parsed by the
// key's schema.
type wirePin struct {
	File   string          `json:"file"`
	Key    string          `json:"key"`
	Target string          `json:"target"`
	Value  json.RawMessage `json:"value"`
	Reason string          `json:"reason"`
}

func (w *wirePin) pin() (flywheel.Pin, error) {
	p := flywheel.Pin{File: w.File, Key: w.Key, Target: w.Target, Reason: w.Reason}
	raw := bytes.TrimSpace(w.Value)
	switch {
	case isNull(raw):
		return p, unprocessable(flywheel.FieldError("value", "is required"))
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &p.Value); err != nil {
			return p, flywheel.FieldError("value", "must be a string, number or boolean")
		}
	case raw[0] == '{' || raw[0] == '[':
		return p, flywheel.FieldError("value", "must be a string, number or boolean, not %s", describeValue(map[byte]string{'{': "object", '[': "array"}[raw[0]]))
	default:
		p.Value = string(raw)
	}
	return p, nil
}

// handlePostPin pins a value: it is written into its file and learned
// updates no longer change it.
func handlePostPin(p ConfigPropagator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pin, err := decodeOne(w, r, (*wirePin).pin)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if p == nil {
			writeError(w, r, errNoPropagator)
			return
		}
		pin, err = p.SetPin(r.Context(), pin, actor(r))
		if err != nil {
			writeError(w, r, configError(err))
			return
		}
		encode(w, r, http.StatusOK, pin)
	}
}

// pinKey names a pin in the answer to DELETE.
type pinKey struct {
	File   string `json:"file"`
	Key    string `json:"key"`
	Target string `json:"target,omitempty"`
}

// handleDeletePin removes the pin named by ?file=&key=[&target=]; the
// value stays in the file.
func handleDeletePin(p ConfigPropagator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, "file", "key", "target")
		k := pinKey{File: q.values.Get("file"), Key: q.values.Get("key"), Target: q.name("target")}
		if k.File == "" {
			q.fail(flywheel.FieldError("file", "is required"))
		}
		if k.Key == "" {
			q.fail(flywheel.FieldError("key", "is required"))
		}
		if q.err != nil {
			writeError(w, r, q.err)
			return
		}
		if p == nil {
			writeError(w, r, errNoPropagator)
			return
		}
		if err := p.DeletePin(r.Context(), k.File, k.Target, k.Key, actor(r)); err != nil {
			writeError(w, r, configError(err))
			return
		}
		encode(w, r, http.StatusOK, map[string]pinKey{"deleted": k})
	}
}
