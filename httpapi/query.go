package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Page sizes for list endpoints. A limit over the maximum is refused
// rather than silently cut, so that a client never mistakes a short page
// for the whole list.
const (
	defaultLimit            = 100
	defaultObservationLimit = 1000
	maxLimit                = 10000
)

// query reads the parameters of a GET request. The first problem is kept
// and reported by err, so that handlers read all parameters first and
// check once.
type query struct {
	values url.Values
	err    error
}

// newQuery rejects parameters not in allowed and parameters given twice:
// a misspelt filter would otherwise silently match everything.
func newQuery(r *http.Request, allowed ...string) *query {
	q := &query{values: r.URL.Query()}
	for name, vs := range q.values {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		switch {
		case !known:
			q.fail(flywheel.FieldError(name, "is not a known query parameter; known are %s", strings.Join(allowed, ", ")))
		case len(vs) > 1:
			q.fail(flywheel.FieldError(name, "is given more than once"))
		}
	}
	return q
}

func (q *query) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// name returns an optional name parameter.
func (q *query) name(param string) string {
	v := q.values.Get(param)
	if err := flywheel.CheckName(param, v, false); err != nil {
		q.fail(err)
		return ""
	}
	return v
}

// limit returns the page size, def when absent.
func (q *query) limit(def int) int {
	v := q.values.Get("limit")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		q.fail(flywheel.FieldError("limit", "must be a whole number from 1 to %d", maxLimit))
		return def
	}
	return n
}

// time returns an optional RFC 3339 time parameter.
func (q *query) time(param string) time.Time {
	v, ok := q.values[param]
	if !ok {
		return time.Time{}
	}
	s := v[0]
	if strings.Contains(s, " ") {
		// An unescaped "+02:00" in a URL arrives as " 02:00"; no RFC 3339
		// time has a space, so putting the plus back is safe.
		s = strings.ReplaceAll(s, " ", "+")
	}
	t, err := parseTime(param, &s, false)
	if err != nil {
		q.fail(err)
	}
	return t
}

// Cursors are opaque to clients: base64url of fields joined by a space,
// which no name can contain. They are not signed; a forged one only
// moves the page.

func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, " ")))
}

// cursor decodes a cursor of n parts; ok is false when absent.
func (q *query) cursor(param string, n int) ([]string, bool) {
	v := q.values.Get(param)
	if v == "" {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	parts := strings.Split(string(b), " ")
	if err != nil || len(parts) != n {
		q.fail(flywheel.FieldError(param, "is not a cursor this server issued"))
		return nil, false
	}
	return parts, true
}

// timeKeyCursor decodes a (time, name) cursor.
func (q *query) timeKeyCursor(param string) (time.Time, string, bool) {
	parts, ok := q.cursor(param, 2)
	if !ok {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil || !flywheel.ValidName(parts[1]) {
		q.fail(flywheel.FieldError(param, "is not a cursor this server issued"))
		return time.Time{}, "", false
	}
	return t, parts[1], true
}

func encodeTimeKeyCursor(t time.Time, key string) string {
	return encodeCursor(t.UTC().Format(time.RFC3339Nano), key)
}

// pathModelKey reads and checks the {target}/{model_family} of a route.
func pathModelKey(r *http.Request) (flywheel.ModelKey, error) {
	k := flywheel.ModelKey{Target: r.PathValue("target"), ModelFamily: r.PathValue("model_family")}
	return k, k.Validate()
}

// int64 returns an optional positive whole-number parameter, 0 when absent.
func (q *query) int64(param string) int64 {
	v := q.values.Get(param)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		q.fail(flywheel.FieldError(param, "must be a whole number from 1"))
		return 0
	}
	return n
}
