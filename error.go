package flywheel

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an Error. The HTTP layer maps each code to one status.
type ErrorCode string

// Error codes.
const (
	EInvalid      ErrorCode = "invalid"      // the input is malformed or out of range
	ENotFound     ErrorCode = "not_found"    // the named record does not exist
	EConflict     ErrorCode = "conflict"     // the key exists with different content, or a state changed underneath
	EUnauthorized ErrorCode = "unauthorized" // no valid credentials
	EForbidden    ErrorCode = "forbidden"    // valid credentials without the needed role
	ETooLarge     ErrorCode = "too_large"    // the request body is over the limit
	EUnsupported  ErrorCode = "unsupported"  // the content type is not accepted
	EUnavailable  ErrorCode = "unavailable"  // a dependency is not ready
	EInternal     ErrorCode = "internal"     // anything else; details go to the log only
)

// Error is the application error. Message is safe to show to a user; Err
// (the cause) is for logs.
type Error struct {
	Code    ErrorCode
	Message string
	// Field names the offending field as a dotted path ("metrics.validation_score").
	Field string
	// Index is the position of the offending record in a batch, or nil.
	Index *int
	Err   error
}

func (e *Error) Error() string {
	var s string
	if e.Index != nil {
		s = fmt.Sprintf("record %d: ", *e.Index)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Message
	if e.Err != nil && e.Code == EInternal {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error naming a field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// AtIndex returns err placed at record i of a batch. Errors that are not
// an *Error become EInternal.
func AtIndex(err error, i int) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Code: EInternal, Message: "internal error", Index: &i, Err: err}
	}
	c := *e
	c.Index = &i
	return &c
}

// WithFieldPrefix returns err with its field nested under prefix ("cost" +
// "gpu_hours" becomes "cost.gpu_hours").
func WithFieldPrefix(err error, prefix string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Field == "" {
		c.Field = prefix
	} else {
		c.Field = prefix + "." + c.Field
	}
	return &c
}

// Code returns the code of err, EInternal for errors that are not an
// *Error, and "" for nil.
func Code(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}
