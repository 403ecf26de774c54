package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Listing limits: a zero limit means defaultLimit, and no page is larger
// than maxLimit, so that one request cannot pull a whole table into memory.
const (
	defaultLimit = 100
	maxLimit     = 10000
)

// limit returns the page size for a requested limit.
func limit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// Times are stored as nanoseconds since the Unix epoch, which covers the
// years 1678 to 2262; minTime and maxTime are the ends.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// nanos is the stored form of t.
func nanos(t time.Time) int64 { return t.UnixNano() }

// nullNanos is the stored form of an optional time.
func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

// fromNanos reads a stored time back, in UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// fromNullNanos reads an optional stored time back.
func fromNullNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

// boundsNanos turns an optional window [since, until) into stored bounds;
// a zero time leaves its side open.
func boundsNanos(since, until time.Time) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !since.IsZero() {
		lo = clampNanos(since)
	}
	if !until.IsZero() {
		hi = clampNanos(until)
	}
	return lo, hi
}

// clampNanos is nanos for a query bound, which may lie outside the
// storable range without being an error.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// nullFloat is the stored form of an optional number.
func nullFloat(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// fromNullFloat reads an optional number back.
func fromNullFloat(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	f := v.Float64
	return &f
}

// toJSON encodes a list or map stored as a JSON text column.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// fromJSON decodes a JSON text column into v.
func fromJSON(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode stored JSON: %w", err)
	}
	return nil
}

// rawJSON is the stored form of a JSON document that may be absent.
func rawJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// fromRawJSON reads an optional JSON document back.
func fromRawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// checkJSON returns an EInvalid error naming field when b is present but
// not one JSON document.
func checkJSON(field string, b json.RawMessage) error {
	if len(b) > 0 && !json.Valid(b) {
		return flywheel.FieldError(field, "is not valid JSON")
	}
	return nil
}

// notFound is the error for a missing record.
func notFound(what, id string) error {
	return flywheel.Errorf(flywheel.ENotFound, "%s %q not found", what, id)
}

// filter builds the WHERE clause of a listing from optional conditions.
type filter struct {
	conds []string
	args  []any
}

// add appends a condition and its arguments.
func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// where returns the conditions joined with AND; no condition matches all.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return "1 = 1"
	}
	return strings.Join(f.conds, " AND ")
}

// jsonColumn scans a JSON text column into the value dst points to; NULL
// leaves it untouched.
type jsonColumn struct{ dst any }

// Scan implements sql.Scanner.
func (c jsonColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		return fromJSON(v, c.dst)
	case []byte:
		return fromJSON(string(v), c.dst)
	}
	return fmt.Errorf("JSON column holds %T", src)
}

// utcPtr returns an optional time in UTC, as the store reads it back.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// addIn adds "col IN (...)" for vals; no values adds no condition.
func addIn[S ~string](f *filter, col string, vals []S) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = string(v)
	}
	f.add(col+" IN ("+strings.Repeat("?, ", len(vals)-1)+"?)", args...)
}
