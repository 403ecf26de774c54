package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// This file turns request bodies into validated domain records. Each
// record is decoded into a wire struct (wire.go) whose optional parts are
// pointers, so that a missing field can be told from a zero one, and
// which rejects unknown fields; the wire struct is then converted to the
// domain type and validated. The first problem rejects the whole batch.

// Media types accepted for batches.
const (
	mediaJSON   = "application/json"
	mediaNDJSON = "application/x-ndjson"
)

// maxLineBytes bounds one NDJSON line; a live observation is a few
// hundred bytes, so a longer line is a mistake, not data.
const maxLineBytes = 1 << 20

// decodeBatch reads the records of a POST body: a JSON object or array,
// or NDJSON when ndjsonOK. convert turns one wire record into a valid
// domain record.
func decodeBatch[W, T any](w http.ResponseWriter, r *http.Request, maxBody int64, ndjsonOK bool, convert func(*W) (T, error)) ([]T, error) {
	media, err := requestMediaType(r, ndjsonOK)
	if err != nil {
		return nil, err
	}
	if r.ContentLength > maxBody {
		// Refuse before reading: the client may still be sending it.
		return nil, flywheel.Errorf(flywheel.ETooLarge, "the request body is larger than the limit of %d bytes", maxBody)
	}
	body := http.MaxBytesReader(unwrapWriter(w), r.Body, maxBody)
	if media == mediaNDJSON {
		return decodeNDJSON(body, convert, sizeHint(r.ContentLength))
	}
	return decodeJSON(body, convert, sizeHint(r.ContentLength))
}

// unwrapWriter returns the server's own ResponseWriter from under the
// middleware's wrappers: MaxBytesReader tells that one, and only that
// one, to close the connection rather than read the rest of a body over
// the limit.
func unwrapWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// sizeHint guesses how many records a body of n bytes holds, so that the
// batch is allocated once: growing a slice of 10,000 records by append
// allocates it about five times over. A record is rarely under 100
// bytes, so the guess wastes little when high.
func sizeHint(n int64) int {
	const minRecordBytes, maxHint = 100, 1 << 17
	if n <= 0 {
		return 0
	}
	return int(min(n/minRecordBytes, maxHint))
}

// requestMediaType checks the Content-Type. A charset, if given, must be
// UTF-8: JSON is UTF-8 and we do not transcode.
func requestMediaType(r *http.Request, ndjsonOK bool) (string, error) {
	want := mediaJSON
	if ndjsonOK {
		want += " or " + mediaNDJSON
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", flywheel.Errorf(flywheel.EUnsupported, "Content-Type is missing; send %s", want)
	}
	media, params, err := mime.ParseMediaType(ct)
	if err != nil || (media != mediaJSON && !(ndjsonOK && media == mediaNDJSON)) {
		return "", flywheel.Errorf(flywheel.EUnsupported, "Content-Type %q is not accepted; send %s", ct, want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return "", flywheel.Errorf(flywheel.EUnsupported, "charset %q is not accepted; JSON must be UTF-8", cs)
	}
	return media, nil
}

// decodeJSON reads one JSON object, or an array of objects streamed one
// element at a time so that the index of a bad record is known and the
// body is read once.
func decodeJSON[W, T any](body io.Reader, convert func(*W) (T, error), hint int) ([]T, error) {
	first, err := firstByte(body)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, flywheel.Errorf(flywheel.EInvalid, "the request body is empty")
		}
		return nil, decodeError(err, nil)
	}
	dec := json.NewDecoder(io.MultiReader(bytes.NewReader([]byte{first}), body))
	dec.DisallowUnknownFields()
	switch first {
	case '{':
		return decodeObject(dec, convert)
	case '[':
		return decodeArray(dec, convert, hint)
	}
	return nil, flywheel.Errorf(flywheel.EInvalid, "the body must be a JSON object or an array of objects")
}

// firstByte returns the first byte that is not JSON white space. It reads
// one byte at a time so that nothing needs to be pushed back but that
// byte; the request body is buffered underneath.
func firstByte(r io.Reader) (byte, error) {
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			switch b[0] {
			case ' ', '\t', '\r', '\n':
				continue
			}
			return b[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// decodeObject reads a body that is a single record. Its errors carry no
// index: there is no batch to point into.
func decodeObject[W, T any](dec *json.Decoder, convert func(*W) (T, error)) ([]T, error) {
	var w W
	p := &w
	if err := dec.Decode(&p); err != nil {
		return nil, decodeError(err, buffered(dec))
	}
	if err := expectEnd(dec, "the JSON object"); err != nil {
		return nil, err
	}
	rec, err := convert(&w)
	if err != nil {
		return nil, err
	}
	return []T{rec}, nil
}

// decodeArray reads a body that is an array of records.
func decodeArray[W, T any](dec *json.Decoder, convert func(*W) (T, error), hint int) ([]T, error) {
	if _, err := dec.Token(); err != nil { // the '[' already seen
		return nil, decodeError(err, nil)
	}
	out := make([]T, 0, hint)
	// One wire struct is reused for every element; p lets a null element
	// be told from an empty object (the decoder sets p to nil).
	var w W
	var p *W
	for i := 0; dec.More(); i++ {
		var zero W
		w, p = zero, &w
		if err := dec.Decode(&p); err != nil {
			return nil, atIndex(decodeError(err, buffered(dec)), i)
		}
		if p == nil {
			return nil, atIndex(flywheel.Errorf(flywheel.EInvalid, "is null; records are JSON objects"), i)
		}
		rec, err := convert(&w)
		if err != nil {
			return nil, atIndex(err, i)
		}
		out = append(out, rec)
	}
	if _, err := dec.Token(); err != nil { // ']'
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, atIndex(decodeError(err, buffered(dec)), len(out))
	}
	if len(out) == 0 {
		return nil, flywheel.Errorf(flywheel.EInvalid, "the batch is empty; send at least one record")
	}
	if err := expectEnd(dec, "the JSON array"); err != nil {
		return nil, err
	}
	return out, nil
}

// expectEnd checks that nothing but white space follows the value read.
func expectEnd(dec *json.Decoder, what string) error {
	_, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return flywheel.Errorf(flywheel.EInvalid, "unexpected data after %s", what)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return flywheel.Errorf(flywheel.EInvalid, "unexpected data after %s: %s", what, se.Error())
	}
	return decodeError(err, nil)
}

// buffered returns the bytes the decoder holds but has not consumed: after
// a failed Decode, the failing record up to at least the error.
func buffered(dec *json.Decoder) []byte {
	b, _ := io.ReadAll(dec.Buffered())
	return b
}

// decodeNDJSON reads one record per line; blank lines are skipped and the
// index of a record counts records, not lines. The line number is added
// to messages because that is what an editor shows.
func decodeNDJSON[W, T any](body io.Reader, convert func(*W) (T, error), hint int) ([]T, error) {
	// On a read error the scanner still hands out the partial last line;
	// the error that cut it short, not the line, is what to report.
	rd := &readErrorRecorder{r: body}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	out := make([]T, 0, hint)
	var w W
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var zero W
		w = zero
		err := decodeLine(b, &w)
		var rec T
		if err == nil {
			rec, err = convert(&w)
		}
		if err != nil {
			if rd.err != nil {
				return nil, decodeError(rd.err, nil)
			}
			return nil, onLine(atIndex(err, len(out)), line)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			e := flywheel.Errorf(flywheel.EInvalid, "the line is longer than %d bytes", maxLineBytes)
			return nil, onLine(atIndex(e, len(out)), line+1)
		}
		return nil, decodeError(err, nil)
	}
	if len(out) == 0 {
		return nil, flywheel.Errorf(flywheel.EInvalid, "the body holds no records; send one JSON object per line")
	}
	return out, nil
}

// readErrorRecorder remembers the first read error other than io.EOF.
type readErrorRecorder struct {
	r   io.Reader
	err error
}

func (rd *readErrorRecorder) Read(p []byte) (int, error) {
	n, err := rd.r.Read(p)
	if err != nil && err != io.EOF && rd.err == nil {
		rd.err = err
	}
	return n, err
}

// decodeLine decodes one NDJSON line into w.
func decodeLine[W any](line []byte, w *W) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	p := w
	if err := dec.Decode(&p); err != nil {
		return decodeError(err, line)
	}
	if p == nil {
		return flywheel.Errorf(flywheel.EInvalid, "is null; records are JSON objects")
	}
	return expectEnd(dec, "the record; NDJSON has one JSON object per line")
}

// atIndex places an input error at record i. Errors about the body as a
// whole (too large, unreadable) do not belong to a record.
func atIndex(err error, i int) error {
	if flywheel.Code(err) != flywheel.EInvalid {
		return err
	}
	return flywheel.AtIndex(err, i)
}

// onLine adds an NDJSON line number to an input error's message.
func onLine(err error, line int) error {
	var e *flywheel.Error
	if !errors.As(err, &e) || e.Code != flywheel.EInvalid {
		return err
	}
	c := *e
	c.Message = fmt.Sprintf("%s (line %d)", c.Message, line)
	return &c
}

// decodeError converts an error from encoding/json or from reading the
// body into an *flywheel.Error, naming the field where it can. raw, when
// not nil, holds the record from its start to past the error, and is used
// to locate syntax errors.
func decodeError(err error, raw []byte) error {
	var (
		tooLarge *http.MaxBytesError
		appErr   *flywheel.Error
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &flywheel.Error{Code: flywheel.ETooLarge, Err: err,
			Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", tooLarge.Limit)}
	case errors.As(err, &appErr):
		return appErr // from a nested decode, already named
	case errors.As(err, &syntax):
		return syntaxError(syntax, raw)
	case errors.As(err, &typ):
		return typeError(typ)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &flywheel.Error{Code: flywheel.EInvalid, Message: "malformed JSON: unexpected end of input", Err: err}
	}
	// encoding/json reports unknown fields only as text.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if key, uerr := strconv.Unquote(rest); uerr == nil {
			return flywheel.FieldError(key, "is not a known field")
		}
	}
	return &flywheel.Error{Code: flywheel.EInvalid, Message: "could not read the request body", Err: err}
}

// syntaxError names the field whose value is malformed. The common case
// is a NaN or Infinity that a producer wrote as if JSON had them.
func syntaxError(se *json.SyntaxError, raw []byte) error {
	field, rest := locateSyntaxError(raw)
	if nonFiniteLiteral(rest) {
		return &flywheel.Error{Code: flywheel.EInvalid, Field: field, Err: se,
			Message: "must be a finite number (JSON has no NaN or Infinity)"}
	}
	return &flywheel.Error{Code: flywheel.EInvalid, Field: field, Err: se, Message: "malformed JSON: " + se.Error()}
}

func nonFiniteLiteral(b []byte) bool {
	b = bytes.TrimLeft(b, "+-")
	for _, p := range []string{"nan", "inf"} {
		if len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p) {
			return true
		}
	}
	return false
}

// locateSyntaxError walks raw token by token up to its syntax error and
// returns the path of the value being read there ("pnl",
// "fold_scores[2]") and the input from the error on. It runs only on
// error, so it does not slow down good batches.
func locateSyntaxError(raw []byte) (string, []byte) {
	type frame struct {
		object  bool
		key     string
		haveKey bool
		index   int
	}
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].haveKey = false
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, frame{object: t == '{'})
				continue
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			valueDone()
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && !stack[n-1].haveKey {
				stack[n-1].key, stack[n-1].haveKey = t, true
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
	var path strings.Builder
	for _, f := range stack {
		switch {
		case f.object && f.haveKey:
			if path.Len() > 0 {
				path.WriteByte('.')
			}
			path.WriteString(f.key)
		case !f.object:
			fmt.Fprintf(&path, "[%d]", f.index)
		}
	}
	off := min(max(dec.InputOffset(), 0), int64(len(raw)))
	return strings.TrimPrefix(path.String(), "."), bytes.TrimLeft(raw[off:], " \t\r\n:,")
}

// typeError says what a field should have been. A number that does not
// fit a float64 (1e999) is the JSON spelling of an infinity.
func typeError(te *json.UnmarshalTypeError) error {
	got := te.Value
	if num, ok := strings.CutPrefix(got, "number "); ok {
		if k := te.Type.Kind(); k == reflect.Float64 || k == reflect.Float32 {
			return &flywheel.Error{Code: flywheel.EInvalid, Field: te.Field, Err: te,
				Message: fmt.Sprintf("must be a finite number (%s is out of range)", truncate(num, 40))}
		}
		got = "number"
	}
	return &flywheel.Error{Code: flywheel.EInvalid, Field: te.Field, Err: te,
		Message: fmt.Sprintf("must be %s, not %s", describeType(te.Type), describeValue(got))}
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another JSON type"
}

func describeValue(v string) string {
	switch v {
	case "bool":
		return "a boolean"
	case "array", "object":
		return "an " + v
	}
	return "a " + v
}

// truncate shortens user input quoted back in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// parseTime converts a wire timestamp; a missing one is an error when
// required. Times are kept in UTC so that keys derived from them do not
// depend on the producer's zone.
func parseTime(field string, s *string, required bool) (time.Time, error) {
	if s == nil {
		if required {
			return time.Time{}, flywheel.FieldError(field, "is required")
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, flywheel.FieldError(field, "%q is not an RFC 3339 time like 2024-05-01T14:30:00Z", truncate(*s, 64))
	}
	return t.UTC(), nil
}

// isNull reports whether a raw value is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// decodeField strictly decodes the raw value of a nested field into v,
// naming errors under field ("cost.gpu_hours"). A null or absent value
// leaves v alone.
func decodeField(raw json.RawMessage, field string, v any) error {
	if isNull(raw) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return flywheel.WithFieldPrefix(decodeError(err, raw), field)
	}
	return nil
}

// decodeNumber decodes one raw JSON number, naming field in errors.
func decodeNumber(raw json.RawMessage, field string) (float64, error) {
	if isNull(raw) {
		return 0, flywheel.FieldError(field, "must be a number, not null")
	}
	var v float64
	if err := decodeField(raw, field, &v); err != nil {
		return 0, err
	}
	return v, nil
}
