package regime

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel/prices"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

// spyReturns reads SPY's daily log returns, or simple returns if simple.
func spyReturns(t testing.TB, simple bool) prices.Series {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "pypfopt/spy_prices_2018.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := prices.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tab.LogReturns("SPY")
	if simple {
		s, err = tab.Returns().Column("SPY")
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSPYRegimes checks what anyone would check of a regime model on the
// S&P 500: the autumn 2008 crash is volatile and the famously quiet 2017
// is calm.
func TestSPYRegimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		simple bool
		states int
		stress []Regime // regimes that count as "volatile" in October 2008
	}{
		{"log returns", false, 2, []Regime{Volatile}},
		{"simple returns", true, 2, []Regime{Volatile}},
		{"log returns", false, 3, []Regime{Volatile, Crisis}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s, %d states", tt.name, tt.states), func(t *testing.T) {
			t.Parallel()
			checkSPY(t, spyReturns(t, tt.simple), tt.states, tt.stress)
		})
	}
}

// checkSPY asserts that the stress regimes hold October 2008 with
// probability above 0.9 (on average, smoothed and filtered, and on most
// days) and that most days of 2017 are calm.
func checkSPY(t *testing.T, s prices.Series, states int, stress []Regime) {
	t.Helper()
	d, err := Detect(s.Dates, s.Values, states, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Fallback {
		t.Errorf("fell back (%s)", d.Reason)
	}
	var smoothed, filtered float64
	var oct, above, y2017, calm2017 int
	for i, date := range d.Dates {
		switch {
		case date.Year() == 2008 && date.Month() == time.October:
			p, f := 0.0, 0.0
			for _, r := range stress {
				p += d.Probs[i][r]
				f += d.Filtered[i][r]
			}
			smoothed += p
			filtered += f
			oct++
			if p > 0.9 {
				above++
			}
		case date.Year() == 2017:
			y2017++
			if d.Regimes[i] == Calm {
				calm2017++
			}
		}
	}
	if oct < 20 || y2017 < 240 {
		t.Fatalf("%d October 2008 days and %d 2017 days in the data, want about 23 and 251", oct, y2017)
	}
	smoothed /= float64(oct)
	filtered /= float64(oct)
	t.Logf("October 2008 stress probability %.4f on average (filtered %.4f), above 0.9 on %d of %d days; 2017 calm on %d of %d days",
		smoothed, filtered, above, oct, calm2017, y2017)
	if smoothed <= 0.9 {
		t.Errorf("October 2008 average stress probability %.4f, want > 0.9", smoothed)
	}
	// What a live system would have known on each day.
	if filtered <= 0.9 {
		t.Errorf("October 2008 average filtered stress probability %.4f, want > 0.9", filtered)
	}
	if 2*above <= oct {
		t.Errorf("%d of %d October 2008 days above 0.9, want most", above, oct)
	}
	if 2*calm2017 <= y2017 {
		t.Errorf("%d of %d days of 2017 calm, want most", calm2017, y2017)
	}
}
