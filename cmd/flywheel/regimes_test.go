package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

// TestRegimesSPY checks what anyone would check of a regime model on the
// S&P 500, through the command's JSON: the autumn 2008 crash is volatile
// (probability above 0.9 on average and on most days of October) and the
// famously quiet 2017 is mostly calm.
func TestRegimesSPY(t *testing.T) {
	t.Parallel()
	path := shareddata.Path(t, "pypfopt/spy_prices_2018.csv")
	out, _, err := runCmd(t, newRegimesCmd, "", "--prices", path, "--column", "SPY", "--states", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got regimesJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decode regimes --json: %v", err)
	}
	if got.Fallback || got.Model == nil || !got.Model.Converged {
		t.Errorf("fell back or did not converge: %s", got.Reason)
	}
	var sum float64
	var oct, above, y2017, calm2017 int
	for _, p := range got.Periods {
		switch {
		case strings.HasPrefix(p.Date, "2008-10-"):
			v := p.Probabilities["volatile"]
			sum += v
			oct++
			if v > 0.9 {
				above++
			}
		case strings.HasPrefix(p.Date, "2017-"):
			y2017++
			if p.Regime == "calm" {
				calm2017++
			}
		}
	}
	if oct < 20 || y2017 < 240 {
		t.Fatalf("%d October 2008 days and %d 2017 days, want about 23 and 251", oct, y2017)
	}
	mean := sum / float64(oct)
	t.Logf("October 2008: volatile probability %.4f on average, above 0.9 on %d of %d days; 2017: calm on %d of %d days",
		mean, above, oct, calm2017, y2017)
	if mean <= 0.9 || 2*above <= oct {
		t.Errorf("October 2008 volatile probability %.4f on average, above 0.9 on %d of %d days; want above 0.9 on average and on most days", mean, above, oct)
	}
	if 2*calm2017 <= y2017 {
		t.Errorf("%d of %d days of 2017 calm, want most", calm2017, y2017)
	}
}

// TestRegimesTable checks the default output on a small series: the model
// or the fallback is described, and every date has a row with a
// probability per state.
func TestRegimesTable(t *testing.T) {
	t.Parallel()
	for _, states := range []string{"2", "3"} {
		out, _, err := runCmd(t, newRegimesCmd, smallPrices(), "--prices", "-", "--column", "BBB", "--states", states)
		if err != nil {
			t.Fatalf("%s states: %v", states, err)
		}
		rows := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "2024-") {
				rows++
			}
		}
		if rows != 59 || !strings.Contains(out, "Current regime on 2024-03-04") || !strings.Contains(out, "P(CALM)") {
			t.Errorf("%s states: %d date rows, want 59:\n%s", states, rows, out)
		}
		if states == "3" && !strings.Contains(out, "P(CRISIS)") {
			t.Errorf("3 states without a crisis column:\n%s", out)
		}
	}
}

// TestRegimesBadInput checks that mistakes give a clear error, not a
// panic.
func TestRegimesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("date,SPY\n2024-01-01,1\n2024-01-02,abc\n2024-01-03,1.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.csv")
	if err := os.WriteFile(good, []byte(smallPrices()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no prices", []string{"--column", "SPY"}, true, "--prices FILE and --column NAME are required"},
		{"no column", []string{"--prices", good}, true, "are required"},
		{"bad states", []string{"--prices", good, "--column", "AAA", "--states", "4"}, true, "--states 4; want 2 or 3"},
		{"unknown column", []string{"--prices", good, "--column", "SPY"}, false, `no column "SPY"`},
		{"missing file", []string{"--prices", filepath.Join(dir, "none.csv"), "--column", "SPY"}, false, "no such file"},
		{"non-numeric cell", []string{"--prices", bad, "--column", "SPY"}, false, "line 3, column 2 (SPY)"},
	}
	for _, tt := range tests {
		_, _, err := runCmd(t, newRegimesCmd, "", tt.args...)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		var ue usageError
		if isUsage := errors.As(err, &ue); isUsage != tt.usage {
			t.Errorf("%s: usage error %v, want %v (%v)", tt.name, isUsage, tt.usage, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q lacks %q", tt.name, err, tt.want)
		}
	}
	// The unknown column's error lists the columns there are.
	if _, _, err := runCmd(t, newRegimesCmd, "", "--prices", good, "--column", "SPY"); err == nil || !strings.Contains(err.Error(), "AAA, BBB, CCC") {
		t.Errorf("unknown column error %v does not list the columns", err)
	}
}
