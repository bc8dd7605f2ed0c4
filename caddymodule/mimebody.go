package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// DefaultMIMEReadTimeout is the default of mime_read_timeout: how long
// mime/send waits for the whole message to arrive. A 4 MiB message needs
// about 560 kbit/s to arrive in time.
const DefaultMIMEReadTimeout = time.Minute

var (
	errMIMETooLarge = translate.NewError(http.StatusRequestEntityTooLarge, translate.CodeRequestTooLarge,
		"the MIME message exceeds max_mime_body")
	errMIMEEmpty = translate.NewError(http.StatusBadRequest, translate.CodeInvalidRequest,
		"the MIME message is empty")
	errMIMESlow = translate.NewError(http.StatusRequestTimeout, translate.CodeInvalidRequest,
		"the MIME message did not arrive within mime_read_timeout")
)

// readMIMEBody reads mime/send's whole body, at most max_mime_body bytes
// accounted to buffers, into buf within mime_read_timeout. When answered is true the device was
// answered (too large, empty, too slow) or went away, and err is what
// ServeHTTP returns.
func (h *Handler) readMIMEBody(w http.ResponseWriter, r *http.Request, buffers *bufferAccount, buf *bytes.Buffer) (answered bool, err error) {
	rc := http.NewResponseController(w)
	deadlineSet := rc.SetReadDeadline(time.Now().Add(time.Duration(h.MIMEReadTimeout))) == nil
	readErr := buffers.readLimited(buf, r.Body, r.ContentLength, h.MaxMIMEBody)
	if deadlineSet {
		_ = rc.SetReadDeadline(time.Time{})
	}
	switch {
	case errors.Is(readErr, errRequestTooLarge):
		return true, h.writeError(w, errMIMETooLarge)
	case isOverBudget(readErr):
		return true, h.writeError(w, errOverBudget)
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		// The connection's read side is past its deadline: answer and
		// close it, there is no way to find the next request on it.
		w.Header().Set("Connection", "close")
		return true, h.writeError(w, errMIMESlow)
	case readErr != nil:
		// The device went away or sent a broken body; nothing to answer.
		return true, caddyhttp.Error(http.StatusBadRequest, readErr)
	case buf.Len() == 0:
		return true, h.writeError(w, errMIMEEmpty)
	}
	return false, nil
}
