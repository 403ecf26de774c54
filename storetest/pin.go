package storetest

import (
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func testPins(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	every := flywheel.Pin{File: "leakage_detection.yaml", Key: "threshold", Value: "0.9", Reason: "audit",
		CreatedBy: "alice", CreatedAt: t0}
	one := every
	one.Target, one.Value = modelA.Target, "0.95"
	other := flywheel.Pin{File: "training/models.yaml", Key: "ridge.alpha", Value: "1.0", CreatedAt: t0}
	for _, p := range []flywheel.Pin{other, one, every} {
		mustNoError(t, "set", s.SetPin(ctx, p))
	}
	got, err := s.Pins(ctx)
	mustNoError(t, "list", err)
	wantJSON(t, "pins ordered by file, target, key", got, []flywheel.Pin{every, one, other})

	// Setting the same (file, target, key) replaces the pin.
	every.Value, every.Reason, every.CreatedBy = "0.8", "new policy", "bob"
	mustNoError(t, "replace", s.SetPin(ctx, every))
	got, err = s.Pins(ctx)
	mustNoError(t, "list", err)
	wantJSON(t, "after replace", got, []flywheel.Pin{every, one, other})

	mustNoError(t, "delete", s.DeletePin(ctx, one.File, one.Target, one.Key))
	wantError(t, s.DeletePin(ctx, one.File, one.Target, one.Key), flywheel.ENotFound, nil, "")
	got, err = s.Pins(ctx)
	mustNoError(t, "list", err)
	wantJSON(t, "after delete", got, []flywheel.Pin{every, other})

	wantError(t, s.SetPin(ctx, flywheel.Pin{File: "../etc/passwd", Key: "k", Value: "v"}), flywheel.EInvalid, nil, "file")
	wantError(t, s.SetPin(ctx, flywheel.Pin{File: "a.yaml", Value: "v"}), flywheel.EInvalid, nil, "key")
}
