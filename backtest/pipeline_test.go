package backtest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flywheel-ml/flywheel/train"
)

// TestConfigPropagation replays an orchestrator policy and checks that
// the config updates of its jobs reached the pipeline's files, where the
// reference pipeline reads them, and that the replay removed its config
// directory; the fixed policies' jobs carry no updates and write nothing.
func TestConfigPropagation(t *testing.T) {
	t.Parallel()
	o, mk := small(t, PolicyNever, PolicyPeriodic, PolicyFlywheel)
	pol, err := newPolicy(PolicyFlywheel, &o, mk, 10)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReplay(context.Background(), mk, pol, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	// A learned change is in its canary for days, then promoted or rolled
	// back: the files are read while the replay runs.
	dir := r.configDir()
	learned := 0 // (day, target) pairs whose pipeline read a learned setting
	for d := range mk.Dates() {
		if err := r.day(d); err != nil {
			t.Fatal(err)
		}
		for _, k := range mk.Models() {
			s, err := train.LoadSettings(dir, k.Target)
			if err != nil {
				t.Fatalf("day %d: the pipeline does not read the config written for %s: %v", d, k.Target, err)
			}
			if s.RegimeFilter != "" || s.FocusOnValidation || s.TopN != 0 || s.LeakageThreshold != train.DefaultLeakageThreshold {
				learned++
			}
		}
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	c := r.rec.config
	if c == nil || c.Applied == 0 || learned == 0 {
		t.Fatalf("flywheel: counts %+v, %d days and targets trained on a learned setting; want changes applied to the files", c, learned)
	}
	if c.Applied+c.Repeated+sum(c.Refused) != c.Updates {
		t.Errorf("counts %+v: applied, repeated and refused do not add up to the updates", c)
	}
	if c.Promoted+sum(c.RolledBack)+c.InCanary != c.Applied {
		t.Errorf("counts %+v: every applied change is promoted, rolled back or still in canary", c)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the replay's temporary directory %s is still there (%v)", filepath.Dir(dir), err)
	}

	res := compare(t, mk, o)
	if got := res.Policies[PolicyFlywheel].ConfigChanges; got == nil || !reflect.DeepEqual(*got, *c) {
		t.Errorf("flywheel's metrics hold config changes %+v, want %+v", got, c)
	}
	for _, name := range []string{PolicyNever, PolicyPeriodic} {
		if got := res.Policies[name].ConfigChanges; got != nil {
			t.Errorf("%s wrote config changes %+v, want none", name, got)
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
