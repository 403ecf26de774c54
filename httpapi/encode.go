package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/flywheel-ml/flywheel"
)

// errMethodNotAllowed is the code of a 405. It is HTTP's alone (the
// domain has no methods), so it lives here rather than in the root package.
const errMethodNotAllowed flywheel.ErrorCode = "method_not_allowed"

// statusByCode is the one table from error codes to HTTP statuses.
// EInvalid has two: 400 for a body or query the decoder rejects (syntax,
// types, unknown fields) and 422 for records that decode but fail
// validation; the latter are marked with errUnprocessable.
var statusByCode = map[flywheel.ErrorCode]int{
	flywheel.EInvalid:      http.StatusBadRequest,
	flywheel.ENotFound:     http.StatusNotFound,
	flywheel.EConflict:     http.StatusConflict,
	flywheel.EUnauthorized: http.StatusUnauthorized,
	flywheel.EForbidden:    http.StatusForbidden,
	flywheel.ETooLarge:     http.StatusRequestEntityTooLarge,
	flywheel.EUnsupported:  http.StatusUnsupportedMediaType,
	flywheel.EUnavailable:  http.StatusServiceUnavailable,
	flywheel.EInternal:     http.StatusInternalServerError,
	errMethodNotAllowed:    http.StatusMethodNotAllowed,
}

// errUnprocessable marks (as the cause of an EInvalid error) a record
// that was well-formed JSON of the right types but is not acceptable.
var errUnprocessable = errors.New("record fails validation")

// unprocessable marks err as a validation failure (422).
func unprocessable(err error) error {
	var e *flywheel.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Err = errUnprocessable
	return &c
}

// statusOf returns the HTTP status for an application error.
func statusOf(e *flywheel.Error) int {
	if e.Code == flywheel.EInvalid && errors.Is(e.Err, errUnprocessable) {
		return http.StatusUnprocessableEntity
	}
	if s, ok := statusByCode[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeOfStatus is the inverse of statusByCode, for the client when a
// response does not carry our JSON error (a proxy's error page).
func codeOfStatus(status int) flywheel.ErrorCode {
	if status == http.StatusUnprocessableEntity {
		return flywheel.EInvalid
	}
	for code, s := range statusByCode {
		if s == status {
			return code
		}
	}
	if status >= 400 && status < 500 {
		return flywheel.EInvalid
	}
	return flywheel.EInternal
}

// errorResponse is the body of every error response.
type errorResponse struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    flywheel.ErrorCode `json:"code"`
	Message string             `json:"message"`
	Field   string             `json:"field,omitempty"`
	Index   *int               `json:"index,omitempty"`
}

// writeError sends err as a JSON error. Anything that is not an
// *flywheel.Error, and every EInternal, is sent as "internal error"; the
// cause goes to the request log line only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	setRequestError(r, err)
	var e *flywheel.Error
	if !errors.As(err, &e) {
		e = &flywheel.Error{Code: flywheel.EInternal}
	}
	obj := errorObject{Code: e.Code, Message: e.Message, Field: e.Field, Index: e.Index}
	if e.Code == flywheel.EInternal || statusByCode[e.Code] == 0 {
		obj = errorObject{Code: flywheel.EInternal, Message: "internal error"}
	}
	encode(w, r, statusOf(e), errorResponse{Error: obj})
}

// encode writes v as a JSON response. The status is sent before the
// body, so an encoding failure can only be logged.
func encode(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		setRequestError(r, err)
	}
}
