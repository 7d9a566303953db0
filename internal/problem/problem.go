// Package problem is the error the social packages (post, follow, feed,
// notify) return for a request's fault: an HTTP status and a message safe
// to show, apart from the internal cause.
package problem

import (
	"fmt"
	"net/http"
	"time"
)

// Error is a request's fault.
type Error struct {
	Status     int    // the HTTP status to answer with
	Field      string // the form field at fault, if any
	Message    string // safe to show
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// New returns an Error with status and a message.
func New(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Field returns a 422 Error about a form field.
func Field(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a 404 Error.
func NotFound(format string, args ...any) *Error { return New(http.StatusNotFound, format, args...) }
