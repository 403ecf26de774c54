package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

// loopWatch prints what the loop does as it happens, from the API.
type loopWatch struct {
	c       *httpapi.Client
	w       io.Writer
	start   time.Time
	signals map[string]bool
	jobs    map[string]flywheel.JobState
	changes map[string]flywheel.ConfigChangeState
	outs    map[string]bool
}

// watchLoop prints signals, jobs, config changes and outcomes as they
// appear, until every admitted job has ended and its outcome is in, or
// until the time is up.
func watchLoop(ctx context.Context, w io.Writer, c *httpapi.Client, limit time.Duration) error {
	lw := &loopWatch{c: c, w: w, start: time.Now(), signals: map[string]bool{}, jobs: map[string]flywheel.JobState{},
		changes: map[string]flywheel.ConfigChangeState{}, outs: map[string]bool{}}
	deadline := time.Now().Add(limit)
	for {
		settled, err := lw.poll(ctx)
		if err != nil {
			return err
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(w, "[%5.1fs] stopped watching after %s; the loop goes on\n", time.Since(lw.start).Seconds(), limit)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	fmt.Fprintf(w, "\n%d signals, %d jobs, %d config changes, %d outcomes\n", len(lw.signals), len(lw.jobs), len(lw.changes), len(lw.outs))
	return nil
}

func (lw *loopWatch) say(format string, args ...any) {
	fmt.Fprintf(lw.w, "[%5.1fs] %s\n", time.Since(lw.start).Seconds(), fmt.Sprintf(format, args...))
}

// poll prints what is new and reports whether the loop has settled.
func (lw *loopWatch) poll(ctx context.Context) (bool, error) {
	sigs, err := lw.c.Signals(ctx, flywheel.SignalFilter{Limit: 200})
	if err != nil {
		return false, err
	}
	for i := len(sigs) - 1; i >= 0; i-- {
		s := sigs[i]
		if lw.signals[s.ID] || s.Priority < 0.3 {
			continue
		}
		lw.signals[s.ID] = true
		reasons := make([]string, len(s.Reasons))
		for j, r := range s.Reasons {
			reasons[j] = r.Source + ": " + r.Message
		}
		lw.say("signal %s priority %.2f %s: %s", s.ModelKey, s.Priority, s.Urgency, strings.Join(reasons, "; "))
	}
	jobs, err := lw.c.Jobs(ctx, flywheel.JobFilter{Limit: 200})
	if err != nil {
		return false, err
	}
	active := 0
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if lw.jobs[j.ID] != j.State {
			lw.jobs[j.ID] = j.State
			lw.say("job %s %s: %s%s", j.ID, j.ModelKey, j.State, jobDetail(j))
		}
		if !j.State.Terminal() {
			active++
		}
	}
	if err := lw.pollChanges(ctx); err != nil {
		return false, err
	}
	outs, err := lw.c.Outcomes(ctx, flywheel.OutcomeFilter{Limit: 200})
	if err != nil {
		return false, err
	}
	for _, o := range outs {
		if key := o.SignalID + "/" + o.Kind; !lw.outs[key] {
			lw.outs[key] = true
			lw.say("outcome %s %s: validation score %.4f -> %.4f (%+.4f)", o.ModelKey, o.Kind, o.Before, o.After, o.Improvement)
		}
	}
	return len(lw.jobs) > 0 && active == 0 && len(lw.outs) > 0, nil
}

func jobDetail(j flywheel.Job) string {
	switch {
	case j.Error != "":
		return " (" + j.Error + ")"
	case j.RunID != "":
		return ", run " + j.RunID
	}
	return ""
}

func (lw *loopWatch) pollChanges(ctx context.Context) error {
	changes, err := lw.c.ConfigChanges(ctx, flywheel.ConfigChangeFilter{Limit: 200})
	if err != nil {
		return err
	}
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		if lw.changes[ch.ID] != ch.State {
			lw.changes[ch.ID] = ch.State
			lw.say("config change %s (%s) %s: %s", ch.ID, ch.Source, ch.State, strings.Join(ch.Files, ", "))
		}
	}
	return nil
}
