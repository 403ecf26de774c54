package storetest

import (
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func testLoopState(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	st, err := s.LoopState(ctx)
	mustNoError(t, "initial state", err)
	wantJSON(t, "a loop never paused is running", st, flywheel.LoopState{})

	pause := flywheel.LoopState{Paused: true, By: "alice", Reason: "earnings week", At: t0}
	mustNoError(t, "pause", s.SetLoopState(ctx, pause))
	st, err = s.LoopState(ctx)
	mustNoError(t, "state", err)
	wantJSON(t, "paused", st, pause)

	resume := flywheel.LoopState{By: "bob", At: t0.Add(3600e9)}
	mustNoError(t, "resume", s.SetLoopState(ctx, resume))
	st, err = s.LoopState(ctx)
	mustNoError(t, "state", err)
	wantJSON(t, "resumed", st, resume)

	// Each change is in the audit log, newest first, with its actor.
	log, err := s.AuditLog(ctx, 0, 10)
	mustNoError(t, "audit log", err)
	if len(log) != 2 || log[0].Action != flywheel.ActionResume || log[0].Actor != "bob" ||
		log[1].Action != flywheel.ActionPause || log[1].Actor != "alice" {
		t.Errorf("audit log = %+v, want resume by bob then pause by alice", log)
	}
	wantError(t, s.SetLoopState(ctx, flywheel.LoopState{Paused: true}), flywheel.EInvalid, nil, "by")
}
