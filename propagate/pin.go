package propagate

import (
	"context"
	"fmt"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// A pin is a value a person fixed by hand: setting one writes the value
// into its file (through the same validation, backup and atomic write as
// an update) and from then on no learned update changes that key; the
// update records the key as held back. A pin on a value every target
// uses in a shared file (leakage_detection.yaml thresholds.threshold, the
// top-level keys of the training files) also holds the per-target values
// of that key (target_specific.<t>.threshold) for every target.

// normalizePin checks a pin's file and key against the schema and puts
// them in their one spelling: the target of a per-target file comes from
// its name, and a key in a shared file given with a target is moved
// under target_specific.<target>. It returns the key's parts and leaf.
func normalizePin(pin *flywheel.Pin) ([]string, *leaf, error) {
	if err := flywheel.CheckName("target", pin.Target, false); err != nil {
		return nil, nil, err
	}
	kind, fileTarget, err := kindOf(pin.File)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(pin.Key) == "" {
		return nil, nil, flywheel.FieldError("key", "is required: a dotted path inside the file, such as top_n")
	}
	parts := strings.Split(pin.Key, ".")
	if kind.perTarget {
		if pin.Target != "" && pin.Target != fileTarget {
			return nil, nil, flywheel.FieldError("target", "is %q but %s is the file of target %q", pin.Target, pin.File, fileTarget)
		}
		pin.Target = fileTarget
	} else if pin.Target != "" && parts[0] != keyTargetSpecific {
		parts = append([]string{keyTargetSpecific, pin.Target}, parts...)
	}
	key, ok := splitKey(kind.root, parts)
	if !ok {
		_, err := kind.lookup(parts)
		if err == nil {
			err = flywheel.FieldError("key", "%s is not a key flywheel knows in %s", pin.Key, kind.pattern)
		}
		return nil, nil, err
	}
	l, err := kind.lookup(key)
	if err != nil {
		return nil, nil, err
	}
	if !kind.perTarget {
		kt := keyTargetOf(key)
		if pin.Target != "" && kt != pin.Target {
			return nil, nil, flywheel.FieldError("target", "is %q but the key %s belongs to target %q", pin.Target, pin.Key, kt)
		}
		pin.Target = kt
	}
	pin.Key = strings.Join(key, ".")
	return key, l, nil
}

// SetPin pins a value: it writes it into the file and keeps learned
// updates from changing it. The value is parsed as the key's schema says
// (a number, true or false, a name) and must be in its range. An
// existing pin on the same key is replaced.
func (p *Propagator) SetPin(ctx context.Context, pin flywheel.Pin, actor string) (flywheel.Pin, error) {
	if err := checkActor(actor); err != nil {
		return pin, err
	}
	key, l, err := normalizePin(&pin)
	if err != nil {
		return pin, err
	}
	v, msg := l.parse(pin.Value)
	if msg != "" {
		return pin, flywheel.FieldError("value", "%s", msg)
	}
	pin.Value = scalarOf(v).Value
	switch reason := strings.TrimSpace(pin.Reason); {
	case reason == "":
		return pin, flywheel.FieldError("reason", "is required: say why the value is fixed by hand")
	case len(pin.Reason) > 1000:
		return pin, flywheel.FieldError("reason", "is %d characters; at most 1000", len(pin.Reason))
	}
	pin.CreatedBy = actor
	err = p.locked(ctx, func() error {
		pl, err := p.newPlan(ctx)
		if err != nil {
			return err
		}
		f, err := pl.file(pin.File)
		if err != nil {
			return err
		}
		root := rootMap(f.doc)
		if cur := lookupNode(root, key); cur == nil || !sameValue(cur, v) {
			if _, err := setNode(root, key, scalarOf(v)); err != nil {
				return withFile(err, f.rel)
			}
			f.dirty = true
		}
		if err := pl.finish(nil); err != nil {
			return err
		}
		now := p.now().UTC()
		pin.CreatedAt = now
		opID, err := p.newID(ctx, "op-", "pin|"+pin.File+"|"+pin.Key, now)
		if err != nil {
			return err
		}
		o := &op{Pins: []flywheel.Pin{pin}}
		o.stage(pl, backupIDFor(opID, ""), "", now)
		detail := map[string]any{"file": pin.File, "key": pin.Key, "target": pin.Target, "value": pin.Value,
			"reason": pin.Reason, "diff": planDiff(pl)}
		if o.backup != nil {
			detail["backup_id"] = o.backup.ID
		}
		o.Audit = p.audit(actor, ActionPinSet, pin.File+":"+pin.Key, detail)
		o.Commit = fmt.Sprintf("pin %s %s = %s\n\nReason: %s\n", pin.File, pin.Key, pin.Value, pin.Reason)
		return p.commit(ctx, o)
	})
	return pin, err
}

// DeletePin removes a pin; the value stays in the file, and learned
// updates may change it again. The file, key and target are read as
// SetPin reads them.
func (p *Propagator) DeletePin(ctx context.Context, file, target, key, actor string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	pin := flywheel.Pin{File: file, Target: target, Key: key}
	if _, _, err := normalizePin(&pin); err != nil {
		return err
	}
	return p.locked(ctx, func() error {
		pins, err := p.store.Pins(ctx)
		if err != nil {
			return err
		}
		found := false
		for _, q := range pins {
			found = found || q.File == pin.File && q.Target == pin.Target && q.Key == pin.Key
		}
		if !found {
			return flywheel.Errorf(flywheel.ENotFound, "no pin on %s %s", pin.File, pin.Key)
		}
		return p.commit(ctx, &op{Unpin: &pin,
			Audit:  p.audit(actor, ActionPinDelete, pin.File+":"+pin.Key, map[string]any{"file": pin.File, "key": pin.Key, "target": pin.Target}),
			Commit: fmt.Sprintf("unpin %s %s\n\nRemoved by %s.\n", pin.File, pin.Key, actor)})
	})
}

// Pins lists every pin, ordered by file, target and key.
func (p *Propagator) Pins(ctx context.Context) ([]flywheel.Pin, error) {
	return p.store.Pins(ctx)
}
