package emulator

import (
	"net/http"
	"time"
)

// Content types Graph answers with.
const (
	// contentTypeGraphJSON is the Content-Type of Graph's successful JSON answers.
	contentTypeGraphJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	// contentTypeErrorJSON is the Content-Type of Graph's error answers.
	contentTypeErrorJSON = "application/json"
)

// wwwAuthenticateBearer is the challenge Graph sends with 401 answers.
const wwwAuthenticateBearer = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

// graphError is an error answer in Graph's shape (GRAPH_FACTS 7.1).
type graphError struct {
	status  int
	code    string
	message string
	// headers are extra response headers (Retry-After, Location, ...).
	headers map[string]string
	// noInnerError omits innerError, as some Outlook errors do.
	noInnerError bool
	// innerCode, when set, is written as innerError.code (OneDrive's
	// nested error codes).
	innerCode string
}

func newError(status int, code, message string) *graphError {
	return &graphError{status: status, code: code, message: message}
}

func (e *graphError) withHeader(name, value string) *graphError {
	if e.headers == nil {
		e.headers = make(map[string]string, 2)
	}
	e.headers[name] = value
	return e
}

// Commonly used errors.
func errBadRequest(msg string) *graphError { return newError(http.StatusBadRequest, "BadRequest", msg) }

func errItemNotFound() *graphError {
	return newError(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

func errIDMalformed() *graphError {
	return newError(http.StatusBadRequest, "ErrorInvalidIdMalformed", "Id is malformed.")
}

func errSegmentNotFound(seg string) *graphError {
	return errBadRequest("Resource not found for the segment '" + seg + "'.")
}

func errMethodNotAllowed() *graphError {
	return newError(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

func errAccessDenied() *graphError {
	return newError(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

// writeError writes e in Graph's error shape. requestID and clientRequestID
// go into innerError.
func writeError(w http.ResponseWriter, e *graphError, requestID, clientRequestID string, now time.Time) {
	h := w.Header()
	for k, v := range e.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", contentTypeErrorJSON)
	h.Del("Preference-Applied")
	var b jsonBuf
	b.raw(`{"error":{"code":`)
	b.str(e.code)
	b.raw(`,"message":`)
	b.str(e.message)
	if !e.noInnerError {
		b.raw(`,"innerError":{`)
		if e.innerCode != "" {
			b.raw(`"code":`)
			b.str(e.innerCode)
			b.byte1(',')
		}
		b.raw(`"date":`)
		b.str(now.UTC().Format("2006-01-02T15:04:05"))
		b.raw(`,"request-id":`)
		b.str(requestID)
		b.raw(`,"client-request-id":`)
		b.str(clientRequestID)
		b.raw(`}`)
	}
	b.raw("}}")
	w.WriteHeader(e.status)
	_, _ = w.Write(b.b)
}

// defaultErrorCode is the Graph error code a fault uses when it gives a
// status but no code.
func defaultErrorCode(status int) (code, message string) {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest", "Bad request."
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
	case http.StatusForbidden:
		return "ErrorAccessDenied", "Access is denied. Check credentials and try again."
	case http.StatusNotFound:
		return "ErrorItemNotFound", "The specified object was not found in the store."
	case http.StatusConflict:
		return "ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."
	case http.StatusGone:
		return "SyncStateNotFound", "The sync state generation is not found."
	case http.StatusTooManyRequests:
		return "ApplicationThrottled", "Application is over its MailboxConcurrency limit."
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable", "The service is temporarily unavailable for maintenance or is overloaded."
	case http.StatusGatewayTimeout:
		return "UnknownError", "Gateway timeout."
	case http.StatusInternalServerError:
		return "generalException", "An unspecified error has occurred."
	}
	return "UnknownError", http.StatusText(status)
}
