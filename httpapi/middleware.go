package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Log keys, shared so that log lines can be searched reliably.
const (
	keyMethod   = "method"
	keyPath     = "path"
	keyStatus   = "status"
	keyDuration = "duration"
	keyBytes    = "bytes"
	keyToken    = "token"
	keyRole     = "role"
	keyErr      = "err"
	keyStack    = "stack"
)

// requestInfo collects what handlers learn about a request for its log
// line: the middleware that writes the line runs outside the handlers, so
// they report through this holder in the request context.
type requestInfo struct {
	token string
	err   error
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	info, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return info
}

func setTokenName(r *http.Request, name string) {
	if info := infoOf(r); info != nil {
		info.token = name
	}
}

func setRequestError(r *http.Request, err error) {
	if info := infoOf(r); info != nil {
		info.err = err
	}
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests writes one log line per request. Server errors are logged
// at error level with their cause, which the client never sees.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{}
			r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
			rec := &recorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			attrs := []slog.Attr{
				slog.String(keyMethod, r.Method),
				slog.String(keyPath, r.URL.Path),
				slog.Int(keyStatus, status),
				slog.Duration(keyDuration, time.Since(start)),
				slog.Int64(keyBytes, rec.bytes),
			}
			if info.token != "" {
				attrs = append(attrs, slog.String(keyToken, info.token))
			}
			level := slog.LevelInfo
			if info.err != nil {
				attrs = append(attrs, slog.String(keyErr, info.err.Error()))
			}
			if status >= http.StatusInternalServerError {
				level = slog.LevelError
			}
			logger.LogAttrs(r.Context(), level, "request", attrs...)
		})
	}
}

// recoverPanics turns a panic in a handler into a logged 500 with a JSON
// body, so that one bad request cannot take the daemon down. No input is
// meant to get here: a panic is a bug.
func recoverPanics(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					// The server's own signal to abort the response.
					panic(v)
				}
				logger.Error("panic in handler", keyMethod, r.Method, keyPath, r.URL.Path,
					keyErr, fmt.Sprint(v), keyStack, string(debug.Stack()))
				if rec, ok := w.(*recorder); ok && rec.status != 0 {
					// Too late for a clean error: the status is sent.
					return
				}
				writeError(w, r, &flywheel.Error{Code: flywheel.EInternal, Message: "internal error", Err: fmt.Errorf("panic: %v", v)})
			}()
			next.ServeHTTP(w, r)
		})
	}
}
