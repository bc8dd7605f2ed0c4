package translate

import (
	"net/http"
	"strconv"
)

// Device API error codes (docs/device-api.md §4). Envelope-level codes fail the whole
// request; per-command codes appear in one command's result.
const (
	// CodeInvalidRequest: the envelope is malformed (400).
	CodeInvalidRequest = "invalid_request"
	// CodeUnauthenticated: no bearer token, or upstream answered 401 (401).
	CodeUnauthenticated = "unauthenticated"
	// CodeTLSRequired: the request did not arrive over TLS (403).
	CodeTLSRequired = "tls_required"
	// CodeMethodNotAllowed: wrong method for the path (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeRequestTooLarge: body over max_request_body (413).
	CodeRequestTooLarge = "request_too_large"
	// CodeUnsupportedMediaType: the body is not application/json (415).
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeThrottled: upstream throttled the request or the command (429).
	CodeThrottled = "throttled"
	// CodeUpstreamError: upstream failed, answered malformed data or a hostile link (502).
	CodeUpstreamError = "upstream_error"
	// CodeUpstreamUnavailable: upstream answered 503.
	CodeUpstreamUnavailable = "upstream_unavailable"
	// CodeUpstreamTimeout: upstream answered 504 or did not answer in time.
	CodeUpstreamTimeout = "upstream_timeout"
	// CodeInvalidArgs: unknown op, missing, ill-typed or out-of-range argument (400).
	CodeInvalidArgs = "invalid_args"
	// CodeInvalidState: the sync state cannot be opened for this command (400).
	CodeInvalidState = "invalid_state"
	// CodeForbidden: upstream 403 for the command.
	CodeForbidden = "forbidden"
	// CodeNotFound: upstream 404 for the command.
	CodeNotFound = "not_found"
	// CodeConflict: upstream 409 or 412 for the command.
	CodeConflict = "conflict"
	// CodeResyncRequired: the sync position is gone; restart the sync without state (410).
	CodeResyncRequired = "resync_required"
)

// DefaultRetryAfter is the retryAfter, in seconds, reported for a throttled
// request or command when upstream gave no usable Retry-After.
const DefaultRetryAfter = 5

// maxRetryAfter caps any Retry-After reported to devices (one day).
const maxRetryAfter = 86400

// Error is a device API error object
// {"code","message","retryAfter"?,"upstreamCode"?,"requestId"?} with its HTTP status.
// Message is always fixed text of the bridge: it never echoes device input,
// tokens, message content or Graph's own error message.
type Error struct {
	Status       int    // HTTP status (envelope level) or the result's status (per command)
	Code         string // one of the Code constants
	Message      string // fixed, human-readable text
	RetryAfter   int    // seconds; 0 = absent
	UpstreamCode string // Graph's error.code; "" = absent
	RequestID    string // Graph's request-id; "" = absent
}

// NewError returns an Error with the given HTTP status, code and fixed message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Error implements the error interface: "code: message".
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return e.Code + ": " + e.Message
}

// AppendObject appends the bare error object {"code":…,"message":…,…} to dst.
func (e *Error) AppendObject(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	if e.RetryAfter > 0 {
		dst = append(dst, `,"retryAfter":`...)
		dst = strconv.AppendInt(dst, int64(e.RetryAfter), 10)
	}
	if e.UpstreamCode != "" {
		dst = append(dst, `,"upstreamCode":`...)
		dst = appendJSONString(dst, e.UpstreamCode)
	}
	if e.RequestID != "" {
		dst = append(dst, `,"requestId":`...)
		dst = appendJSONString(dst, e.RequestID)
	}
	return append(dst, '}')
}

// AppendEnvelope appends the envelope-level error body {"error":{…}} to dst.
func (e *Error) AppendEnvelope(dst []byte) []byte {
	dst = append(dst, `{"error":`...)
	dst = e.AppendObject(dst)
	return append(dst, '}')
}

// Fixed messages. None of them contains device input or upstream text.
const (
	msgBodyNotJSON     = "request body is not valid JSON"
	msgTooDeep         = "request body is nested too deeply"
	msgBodyNotObject   = "request body must be a JSON object"
	msgNoCommands      = "commands must be a non-empty array"
	msgTooManyCommands = "too many commands in one request"
	// msgTooManyUpstreamItems: a command that fans out would take the
	// envelope past Graph's $batch limit.
	msgTooManyUpstreamItems = "the request would need more than 20 upstream requests: send this command in another request"
	msgCommandNotObject     = "each command must be a JSON object"
	msgBadCommandID         = "command id must be 1-64 characters of [A-Za-z0-9._-]"
	msgDuplicateCommandID   = "command ids must be unique"
	msgOpNotString          = "command op must be a string"
	msgArgsNotObject        = "command args must be a JSON object"
	msgDuplicateMember      = "a member name appears twice in the same object"
	msgUnknownOp            = "unknown op"
	msgDuplicateArg         = "an argument is given twice"
	msgBadMailbox           = "mailbox must be a user principal name or an object id"
	msgBadFolder            = "folder must be a well-known folder name or a folder id"
	msgMissingFolder        = "folder is required"
	msgBadMessageID         = "id must be a message id"
	msgMissingMessageID     = "id is required"
	msgBadWindow            = "window must be an integer from 1 to 200"
	msgBadSince             = "since must be an RFC 3339 date-time"
	msgBadFields            = "fields must be a non-empty array of known field names"
	msgBadBodyArg           = "body must be text, html or none"
	msgBadStateArg          = "state must be a string"
	msgStateInvalid         = "state cannot be opened for this command"
	msgStateExpired         = "state has expired; restart the sync without state"
	msgUnauthenticated      = "upstream refused the credentials"
	msgThrottled            = "upstream is throttling; retry after the given delay"
	msgUpstreamUnavailable  = "upstream is unavailable"
	msgUpstreamTimeout      = "upstream timed out"
	msgUpstreamError        = "upstream request failed"
	msgUpstreamMalformed    = "upstream answer is malformed"
	msgUpstreamBadLink      = "upstream returned a link outside the configured upstream"
	msgUpstreamNoLink       = "upstream sync page has no continuation link"
	msgUpstreamMissing      = "upstream batch answer has no response for this command"
	msgNoUpstreamAnswer     = "no upstream answer"
	msgForbidden            = "upstream denied access"
	msgNotFound             = "upstream did not find the object"
	msgConflict             = "upstream reported a conflict"
	msgResync               = "sync position is gone; restart the sync without state"
	msgUpstreamRejected     = "upstream rejected the request arguments"
)

// Every function of the package that can fail returns a *Error: nil means
// success. Each constructor below returns a new Error, which the caller may
// complete (RequestID, UpstreamCode) without touching any other result.

func invalidRequest(msg string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidRequest, msg)
}
func invalidArgs(msg string) *Error { return NewError(http.StatusBadRequest, CodeInvalidArgs, msg) }

// stateInvalid is the error for a state that cannot be opened.
func stateInvalid() *Error { return NewError(http.StatusBadRequest, CodeInvalidState, msgStateInvalid) }

// stateExpired is the error for a state older than the state TTL.
func stateExpired() *Error { return NewError(http.StatusBadRequest, CodeInvalidState, msgStateExpired) }

// upstreamFailed is 502 upstream_error with message.
func upstreamFailed(message string) *Error {
	return NewError(http.StatusBadGateway, CodeUpstreamError, message)
}

// upstreamRequestFailed is the error for an upstream failure without a more precise code.
func upstreamRequestFailed() *Error { return upstreamFailed(msgUpstreamError) }

// upstreamMalformed is the error for an upstream answer that is not what Graph sends.
func upstreamMalformed() *Error { return upstreamFailed(msgUpstreamMalformed) }

// upstreamBadLink is the error for a next or delta link outside the configured upstream.
func upstreamBadLink() *Error { return upstreamFailed(msgUpstreamBadLink) }

// upstreamNoLink is the error for a delta page without a next or delta link.
func upstreamNoLink() *Error { return upstreamFailed(msgUpstreamNoLink) }

// badEventTimeZone is the error for an event time the bridge cannot convert to UTC.
func badEventTimeZone() *Error { return upstreamFailed(msgBadEventTimeZone) }

// throttled is 429 throttled with retryAfter seconds.
func throttled(retryAfter int) *Error {
	e := NewError(http.StatusTooManyRequests, CodeThrottled, msgThrottled)
	e.RetryAfter = retryAfter
	return e
}
