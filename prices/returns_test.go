package prices

import (
	"math"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

func mustRead(t *testing.T, in string) *Table {
	t.Helper()
	tab, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func sameFloats(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) {
			return false
		}
		if !math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func TestReturns(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	// B lists late, C has a gap between days 3 and 5 (to check that it is
	// not forward filled) and day 4 has no return at all after day 3's gap in
	// A: that row is dropped.
	tab := mustRead(t, `date,A,B,C
2020-01-01,100,,10
2020-01-02,110,,11
2020-01-03,,,
2020-01-04,121,50,
2020-01-05,,55,12.1
`)
	r := tab.Returns()
	var dates []string
	for _, d := range r.Dates {
		dates = append(dates, d.Format(DateLayout))
	}
	// 01-01: first row, dropped. 01-03: every price missing, dropped.
	// 01-04: A's and C's previous prices missing, B not yet listed: all
	// missing, dropped. 01-05: only B has a return.
	if got, want := strings.Join(dates, " "), "2020-01-02 2020-01-05"; got != want {
		t.Fatalf("dates = %q, want %q", got, want)
	}
	tests := []struct {
		asset string
		want  []float64
	}{
		{"A", []float64{0.1, nan}},
		{"B", []float64{nan, 0.1}},
		{"C", []float64{0.1, nan}},
	}
	for _, tt := range tests {
		a := tab.Asset(tt.asset)
		if got := r.Values[a]; !sameFloats(got, tt.want) {
			t.Errorf("%s returns = %v, want %v", tt.asset, got, tt.want)
		}
	}
	s, err := r.Column("B")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 1 || math.Abs(s.Values[0]-0.1) > 1e-12 || s.Dates[0].Format(DateLayout) != "2020-01-05" {
		t.Errorf("Column(B) = %v %v, want [0.1] on 2020-01-05", s.Dates, s.Values)
	}
	if _, err := r.Column("Z"); err == nil {
		t.Error("Column(Z): no error for an unknown asset")
	}
}

func TestLogReturns(t *testing.T) {
	t.Parallel()
	tab := mustRead(t, "date,A\n2020-01-01,100\n2020-01-02,\n2020-01-03,100\n2020-01-06,200\n2020-01-07,100\n")
	s, err := tab.LogReturns("A")
	if err != nil {
		t.Fatal(err)
	}
	// The gap on 01-02 removes the returns ending on 01-02 and 01-03.
	want := []float64{math.Ln2, -math.Ln2}
	if !sameFloats(s.Values, want) {
		t.Errorf("log returns = %v, want %v", s.Values, want)
	}
	if got := s.Dates[0].Format(DateLayout); got != "2020-01-06" {
		t.Errorf("first date = %s, want 2020-01-06", got)
	}
	if _, err := tab.LogReturns("B"); err == nil {
		t.Error("LogReturns(B): no error for an unknown asset")
	}
}

func TestReturnsSharedData(t *testing.T) {
	t.Parallel()
	tab := readFile(t, shareddata.Path(t, "pypfopt/stock_prices_2018.csv"))
	r := tab.Returns()
	// Only the first row has no return at all: AAPL, GE and others trade
	// from the first day.
	if got, want := len(r.Dates), len(tab.Dates)-1; got != want {
		t.Errorf("return rows = %d, want %d", got, want)
	}
	amzn, err := r.Column("AMZN")
	if err != nil {
		t.Fatal(err)
	}
	// AMZN lists on 1997-05-15, so its first return is on the next trading day.
	if got := amzn.Dates[0].Format(DateLayout); got != "1997-05-16" {
		t.Errorf("first AMZN return on %s, want 1997-05-16", got)
	}
}
