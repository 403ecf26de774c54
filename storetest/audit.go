package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func testAuditLog(t *testing.T, s flywheel.Store) {
	ctx := t.Context()
	var seqs []int64
	for i := range 5 {
		e, err := s.AppendAudit(ctx, flywheel.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "alice",
			Action: "pin.set", Subject: fmt.Sprintf("pin-%d", i), Detail: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		mustNoError(t, "append", err)
		if len(seqs) > 0 && e.Seq <= seqs[len(seqs)-1] {
			t.Errorf("seq %d after %d: sequence numbers must increase", e.Seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, e.Seq)
	}

	all, err := s.AuditLog(ctx, 0, 0)
	mustNoError(t, "log", err)
	if len(all) != 5 {
		t.Fatalf("got %d entries, want 5", len(all))
	}
	for i, e := range all {
		n := 4 - i
		if e.Seq != seqs[n] || e.Subject != fmt.Sprintf("pin-%d", n) || e.Actor != "alice" || e.Action != "pin.set" {
			t.Errorf("entry %d: got %+v, want pin-%d with seq %d", i, e, n, seqs[n])
		}
		wantTime(t, "at", e.At, t0.Add(time.Duration(n)*time.Minute))
		if !sameJSON(t, e.Detail, []byte(fmt.Sprintf(`{"i":%d}`, n))) {
			t.Errorf("entry %d: detail %s", i, e.Detail)
		}
	}

	tests := []struct {
		before int64
		limit  int
		want   []int64
	}{
		{0, 2, []int64{seqs[4], seqs[3]}},
		{seqs[3], 2, []int64{seqs[2], seqs[1]}},
		{seqs[1], 10, []int64{seqs[0]}},
		{seqs[0], 10, nil},
	}
	for _, tt := range tests {
		page, err := s.AuditLog(ctx, tt.before, tt.limit)
		mustNoError(t, "page", err)
		var got []int64
		for _, e := range page {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("before %d limit %d: got %v, want %v", tt.before, tt.limit, got, tt.want)
		}
	}

	e, err := s.AppendAudit(ctx, flywheel.AuditEntry{Actor: "loop", Action: "cycle"})
	mustNoError(t, "append without time or detail", err)
	if e.At.IsZero() || e.Detail != nil {
		t.Errorf("entry without time or detail: %+v", e)
	}
	_, err = s.AppendAudit(ctx, flywheel.AuditEntry{Action: "x"})
	wantError(t, err, flywheel.EInvalid, nil, "actor")
}
