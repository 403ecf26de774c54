// Package prices reads wide daily price tables (a date column, then one
// column per asset) and turns them into returns with the conventions of
// PyPortfolioOpt, the peer library whose reference results ARPO must
// reproduce (see ../shared/data/README.md): simple returns per column, a
// missing price gives a missing return, no forward fill, and rows where every
// return is missing are dropped.
//
// The package does no I/O of its own: Read takes an io.Reader.
package prices

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// DateLayout is the layout of the date column. Daily tables are dated by
// calendar day only; a time of day would make "daily" ambiguous across time
// zones, so it is rejected rather than silently truncated.
const DateLayout = "2006-01-02"

// Table is a wide price table. Prices is indexed [asset][row] so that each
// asset's history is one contiguous slice, which is how every consumer
// (returns, covariance, HMM) walks it. NaN marks a missing price.
type Table struct {
	Dates  []time.Time
	Assets []string
	Prices [][]float64
}

// ParseError reports a malformed cell or row. Line and Column are 1-based,
// as an editor shows them; Column is 0 when the whole row is at fault.
type ParseError struct {
	Line   int
	Column int
	Name   string // header of the column, when known
	Err    error
}

// Error formats the error as "prices: line L, column C (NAME): cause".
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prices: line %d", e.Line)
	if e.Column > 0 {
		fmt.Fprintf(&b, ", column %d", e.Column)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%s)", e.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause, one of the Err values below or encoding/csv's.
func (e *ParseError) Unwrap() error { return e.Err }

// Errors a ParseError can wrap, for callers that branch on the kind.
var (
	ErrEmpty         = errors.New("no header row")
	ErrBadHeader     = errors.New("bad header")
	ErrDuplicateName = errors.New("duplicate asset name")
	ErrBadDate       = errors.New("invalid date")
	ErrDuplicateDate = errors.New("duplicate date")
	ErrUnsortedDates = errors.New("dates not in increasing order")
	ErrBadNumber     = errors.New("invalid number")
	ErrBadPrice      = errors.New("price must be finite and positive")
)

// Read parses a wide price CSV: a header row whose first cell names the date
// column and whose other cells name the assets, then one row per date in
// strictly increasing order. An empty cell is a missing price.
func Read(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{Line: 1, Err: ErrEmpty}
	}
	if err != nil {
		return nil, csvError(err, 0)
	}
	t, err := newTable(header)
	if err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(header)
	firstLine := map[time.Time]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, csvError(err, len(header))
		}
		line, _ := cr.FieldPos(0)
		if err := t.appendRow(rec, line, firstLine); err != nil {
			return nil, err
		}
	}
}

// newTable validates the header: asset names must be present and unique,
// because every later lookup is by name.
func newTable(header []string) (*Table, error) {
	if len(header) < 2 {
		return nil, &ParseError{Line: 1, Err: fmt.Errorf("%w: want a date column and at least one asset column", ErrBadHeader)}
	}
	t := &Table{Assets: make([]string, len(header)-1), Prices: make([][]float64, len(header)-1)}
	seen := map[string]int{}
	for i, h := range header[1:] {
		name := strings.TrimSpace(h)
		if i == 0 {
			// Excel and pandas on Windows write a byte-order mark.
			name = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		}
		col := i + 2
		if name == "" {
			return nil, &ParseError{Line: 1, Column: col, Err: fmt.Errorf("%w: empty asset name", ErrBadHeader)}
		}
		if prev, ok := seen[name]; ok {
			return nil, &ParseError{Line: 1, Column: col, Name: name, Err: fmt.Errorf("%w %q (first in column %d)", ErrDuplicateName, name, prev)}
		}
		seen[name] = col
		t.Assets[i] = name
	}
	return t, nil
}

func (t *Table) appendRow(rec []string, line int, firstLine map[time.Time]int) error {
	raw := strings.TrimSpace(rec[0])
	d, err := time.Parse(DateLayout, raw)
	if err != nil {
		return &ParseError{Line: line, Column: 1, Err: fmt.Errorf("%w %q: want YYYY-MM-DD", ErrBadDate, raw)}
	}
	if prev, ok := firstLine[d]; ok {
		return &ParseError{Line: line, Column: 1, Err: fmt.Errorf("%w %s (first on line %d)", ErrDuplicateDate, raw, prev)}
	}
	if n := len(t.Dates); n > 0 && d.Before(t.Dates[n-1]) {
		return &ParseError{Line: line, Column: 1, Err: fmt.Errorf("%w: %s after %s", ErrUnsortedDates, raw, t.Dates[n-1].Format(DateLayout))}
	}
	firstLine[d] = line
	for i, cell := range rec[1:] {
		v, err := parsePrice(cell)
		if err != nil {
			return &ParseError{Line: line, Column: i + 2, Name: t.Assets[i], Err: err}
		}
		t.Prices[i] = append(t.Prices[i], v)
	}
	t.Dates = append(t.Dates, d)
	return nil
}

// parsePrice reads one cell. Only the empty cell means missing: a literal
// "NaN" or "Inf" is more likely a bug upstream than a deliberate gap, and a
// non-positive price would turn into an infinite or meaningless return.
func parsePrice(cell string) (float64, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q", ErrBadNumber, s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("%w, got %q", ErrBadPrice, s)
	}
	return v, nil
}

// csvError turns encoding/csv's error into a ParseError so that every error
// from Read names its line the same way. encoding/csv counts columns in
// bytes, not cells, so its column goes into the message instead of Column.
func csvError(err error, fields int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("prices: read: %w", err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return &ParseError{Line: pe.Line, Err: fmt.Errorf("%w: want %d cells like the header", pe.Err, fields)}
	}
	return &ParseError{Line: pe.Line, Err: fmt.Errorf("byte %d: %w", pe.Column, pe.Err)}
}

// Asset returns the column index of the named asset, or -1.
func (t *Table) Asset(name string) int {
	for i, a := range t.Assets {
		if a == name {
			return i
		}
	}
	return -1
}
