package deviceclient

import (
	"errors"
	"fmt"
)

// The device API's error codes.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeUnauthenticated      = "unauthenticated"
	CodeTLSRequired          = "tls_required"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeThrottled            = "throttled"
	CodeUpstreamError        = "upstream_error"
	CodeUpstreamUnavailable  = "upstream_unavailable"
	CodeUpstreamTimeout      = "upstream_timeout"
	CodeInvalidArgs          = "invalid_args"
	CodeInvalidState         = "invalid_state"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeConflict             = "conflict"
	CodeResyncRequired       = "resync_required"
)

// Error is a device API error object: a whole request's (envelope level)
// or one command's.
type Error struct {
	// Status is the HTTP-style status of the failure.
	Status int `json:"-"`
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message is a human-readable description; it never carries content.
	Message string `json:"message"`
	// RetryAfter is the number of seconds to wait before trying again,
	// when the bridge said so.
	RetryAfter int `json:"retryAfter,omitempty"`
	// UpstreamCode is Graph's own error code, when there was one.
	UpstreamCode string `json:"upstreamCode,omitempty"`
	// RequestID is Graph's request-id, for support cases.
	RequestID string `json:"requestId,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("devicebridge: %d %s: %s", e.Status, e.Code, e.Message)
	if e.UpstreamCode != "" {
		s += " (upstream " + e.UpstreamCode + ")"
	}
	return s
}

// IsCode reports whether err is (or wraps) a device API error with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// errNotRun is the result of a command whose batch was never answered.
var errNotRun = errors.New("devicebridge: the batch holding this command has not been answered")
