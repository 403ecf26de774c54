package prices

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

func readFile(t testing.TB, path string) *Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func day(s string) time.Time {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestReadGood(t *testing.T) {
	t.Parallel()
	in := "\ufeffdate, A ,B\n2020-01-01,1,\n2020-01-02,2.5,4\n2020-01-03, 3 ,5e0\n"
	tab, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tab.Assets, ","), "A,B"; got != want {
		t.Errorf("assets = %q, want %q", got, want)
	}
	if len(tab.Dates) != 3 || !tab.Dates[2].Equal(day("2020-01-03")) {
		t.Errorf("dates = %v", tab.Dates)
	}
	if !math.IsNaN(tab.Prices[1][0]) {
		t.Errorf("empty cell = %v, want NaN", tab.Prices[1][0])
	}
	if got := tab.Prices[0][2]; got != 3 {
		t.Errorf("A on day 3 = %v, want 3", got)
	}
	if got := tab.Asset("B"); got != 1 {
		t.Errorf("Asset(B) = %d, want 1", got)
	}
	if got := tab.Asset("C"); got != -1 {
		t.Errorf("Asset(C) = %d, want -1", got)
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		kind   error
		line   int
		column int
		msg    string
	}{
		{"empty", "", ErrEmpty, 1, 0, "prices: line 1: no header row"},
		{"no assets", "date\n2020-01-01\n", ErrBadHeader, 1, 0, "want a date column"},
		{"empty name", "date,A,\n", ErrBadHeader, 1, 3, "line 1, column 3: bad header: empty asset name"},
		{"duplicate name", "date,A,B,A\n", ErrDuplicateName, 1, 4, `line 1, column 4 (A): duplicate asset name "A" (first in column 2)`},
		{"bad number", "date,A,B\n2020-01-01,1,2\n2020-01-02,1,x\n", ErrBadNumber, 3, 3, `line 3, column 3 (B): invalid number "x"`},
		{"nan literal", "date,A\n2020-01-01,NaN\n", ErrBadPrice, 2, 2, "line 2, column 2 (A): price must be finite and positive"},
		{"zero price", "date,A\n2020-01-01,0\n", ErrBadPrice, 2, 2, "price must be finite and positive"},
		{"negative price", "date,A\n2020-01-01,-3\n", ErrBadPrice, 2, 2, `got "-3"`},
		{"bad date", "date,A\n2020-13-01,1\n", ErrBadDate, 2, 1, `line 2, column 1: invalid date "2020-13-01": want YYYY-MM-DD`},
		{"datetime", "date,A\n2020-01-01 00:00:00,1\n", ErrBadDate, 2, 1, "invalid date"},
		{"duplicate date", "date,A\n2020-01-01,1\n2020-01-02,1\n2020-01-02,1\n", ErrDuplicateDate, 4, 1, "line 4, column 1: duplicate date 2020-01-02 (first on line 3)"},
		{"unsorted", "date,A\n2020-01-02,1\n2020-01-01,1\n", ErrUnsortedDates, 3, 1, "dates not in increasing order: 2020-01-01 after 2020-01-02"},
		{"ragged", "date,A,B\n2020-01-01,1\n", nil, 2, 0, "line 2: wrong number of fields: want 3 cells like the header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Read: error %v, want a *ParseError", err)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("error %v, want kind %v", err, tt.kind)
			}
			if pe.Line != tt.line || pe.Column != tt.column {
				t.Errorf("at line %d column %d, want line %d column %d", pe.Line, pe.Column, tt.line, tt.column)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestReadSharedData(t *testing.T) {
	t.Parallel()
	tab := readFile(t, shareddata.Path(t, "pypfopt/stock_prices_2018.csv"))
	// Shape as ../shared/data/README.md states it.
	if got, want := len(tab.Dates), 7126; got != want {
		t.Errorf("rows = %d, want %d", got, want)
	}
	if got, want := strings.Join(tab.Assets, " "), "GOOG AAPL FB BABA AMZN GE AMD WMT BAC GM T UAA SHLD XOM RRC BBY MA PFE JPM SBUX"; got != want {
		t.Errorf("assets = %q, want %q", got, want)
	}
	if got, want := tab.Dates[0], day("1989-12-29"); !got.Equal(want) {
		t.Errorf("first date %v, want %v", got, want)
	}
	if got, want := tab.Dates[len(tab.Dates)-1], day("2018-04-11"); !got.Equal(want) {
		t.Errorf("last date %v, want %v", got, want)
	}
	amzn := tab.Prices[tab.Asset("AMZN")]
	first := -1
	for i, p := range amzn {
		if !math.IsNaN(p) {
			first = i
			break
		}
	}
	if first < 0 || !tab.Dates[first].Equal(day("1997-05-15")) {
		t.Errorf("AMZN first listed at row %d, want 1997-05-15", first)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("date,A,B\n2020-01-01,1,\n2020-01-02,2,3\n")
	f.Add("date,A\n2020-01-02,1\n2020-01-01,1\n")
	f.Add("\ufeffdate,\"A,1\"\n2020-01-01,\"1\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := Read(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever parses must satisfy the invariants Returns relies on.
		for i := 1; i < len(tab.Dates); i++ {
			if !tab.Dates[i-1].Before(tab.Dates[i]) {
				t.Fatalf("dates not strictly increasing at %d", i)
			}
		}
		for a, col := range tab.Prices {
			if len(col) != len(tab.Dates) {
				t.Fatalf("asset %d has %d prices for %d dates", a, len(col), len(tab.Dates))
			}
			for _, p := range col {
				if !math.IsNaN(p) && (p <= 0 || math.IsInf(p, 0)) {
					t.Fatalf("kept bad price %v", p)
				}
			}
		}
		r := tab.Returns()
		for _, col := range r.Values {
			if len(col) != len(r.Dates) {
				t.Fatalf("returns column has %d values for %d dates", len(col), len(r.Dates))
			}
		}
	})
}
