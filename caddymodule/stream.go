package caddymodule

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// This file serves the streaming endpoints (docs/device-api.md §2, §12):
//
//	GET  {prefix}/messages/{id}/attachments/{aid} → GET {base}/me/messages/{id}/attachments/{aid}/$value
//	GET  {prefix}/messages/{id}/mime              → GET {base}/me/messages/{id}/$value
//	POST {prefix}/mime/send                       → POST {base}/me/sendMail (text/plain, base64 MIME)
//
// A download's 2xx answer streams to the device through fixed-size buffers
// as reverse_proxy copies it (status, Content-Type and Content-Length
// carried over, no other upstream header). A MIME upload is read whole
// first (at most max_mime_body, within mime_read_timeout, before the
// governor gives it a slot) and base64-encoded on the fly toward Graph.
// A failed upstream answer is buffered, at most streamErrorBodyLimit bytes,
// to become a device error object.

// DefaultMaxMIMEBody is the default of max_mime_body: the largest raw MIME
// message accepted by mime/send.
const DefaultMaxMIMEBody = 4 << 20

// streamErrorBodyLimit bounds the part of a failed upstream answer kept to
// read Graph's error code; the rest is discarded.
const streamErrorBodyLimit = 64 << 10

// mimeChunk is the raw bytes encoded per step by mime/send's base64 reader
// (a multiple of 3, so only the last step pads).
const mimeChunk = 24 << 10

// mimeContentType is the device-side media type of a MIME message.
const mimeContentType = "message/rfc822"

// downloadRoute is a parsed download path.
type downloadRoute struct {
	messageID    string
	attachmentID string // "" for the MIME endpoint
	fileID       string // the drive item of GET {prefix}/files/{id}/content
}

// downloadRouteOf parses {prefix}/messages/{id}/attachments/{aid} and
// {prefix}/messages/{id}/mime from the escaped path, cleaned of dot
// segments and doubled slashes as the route matcher cleans it; each
// segment is unescaped on its own, so an escaped '/' stays inside its id.
// An escaped dot segment (%2e%2e) is one to the matcher, which unescapes
// before it cleans, so it is no id here either.
func (h *Handler) downloadRouteOf(r *http.Request) (downloadRoute, bool) {
	rest, ok := cutPrefixFold(caddyhttp.CleanPath(r.URL.EscapedPath(), true), h.Prefix)
	if !ok {
		return downloadRoute{}, false
	}
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || u == "." || u == ".." {
			return downloadRoute{}, false
		}
		segs[i] = u
	}
	if id, ok := fileIDOf(segs); ok {
		return downloadRoute{fileID: id}, true
	}
	switch {
	case len(segs) == 3 && segs[0] == "messages" && segs[2] == "mime":
		return downloadRoute{messageID: segs[1]}, true
	case len(segs) == 4 && segs[0] == "messages" && segs[2] == "attachments":
		return downloadRoute{messageID: segs[1], attachmentID: segs[3]}, true
	}
	return downloadRoute{}, false
}

// streamMailbox reads the optional mailbox query parameter; given more than
// once it is invalid_args.
func streamMailbox(r *http.Request) (string, *translate.Error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "the query string is malformed")
	}
	switch v := values["mailbox"]; len(v) {
	case 0:
		return "", nil
	case 1:
		if v[0] == "" {
			return "", translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "mailbox must be a user principal name or an object id")
		}
		return v[0], nil
	}
	return "", translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "mailbox is given more than once")
}

// serveDownload streams an attachment's bytes or a message's MIME.
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, route downloadRoute) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return h.writeError(w, translate.NewError(http.StatusMethodNotAllowed, translate.CodeMethodNotAllowed,
			"this endpoint takes GET"))
	}
	if !hasBearerToken(r.Header) {
		return h.writeError(w, translate.NewError(http.StatusUnauthorized, translate.CodeUnauthenticated,
			"an Authorization: Bearer token is required"))
	}
	mailbox, merr := streamMailbox(r)
	if merr != nil {
		return h.writeError(w, merr)
	}
	var call *translate.Call
	var terr *translate.Error
	forcedType := ""
	if route.attachmentID != "" {
		call, terr = h.translator.AttachmentValueCall(mailbox, route.messageID, route.attachmentID)
	} else {
		call, terr = h.translator.MIMEValueCall(mailbox, route.messageID)
		forcedType = mimeContentType // Graph labels MIME text/plain
	}
	if terr != nil {
		return h.writeError(w, terr)
	}
	ticket, answered, gerr := h.admitStream(w, r, mailbox)
	if answered {
		return gerr
	}
	defer ticket.Release()

	started := time.Now()
	rewriteForUpstream(r, h.upstream, call)
	r.Header.Set("Accept", "*/*")
	// Asking for identity explicitly stops Go's transport from requesting
	// gzip and decompressing on the fly, which would drop Graph's
	// Content-Length; compression toward the device is Caddy's encode's job.
	r.Header.Set("Accept-Encoding", "identity")
	sw := &streamWriter{dst: w, header: make(http.Header), contentType: forcedType}
	proxyErr := serveRecovering(next, sw, r)
	if sw.encoded {
		// Nothing reached the device: the copy stopped at the first byte.
		h.metrics.countUpstream(0)
		h.logUpstreamFailure(errUnrequestedEncoding, nil, time.Since(started))
		if r.Context().Err() != nil {
			return nil
		}
		return h.writeError(w, errUnrequestedEncoding)
	}
	if sw.streaming {
		h.metrics.countUpstream(sw.status)
		h.logStream("download", sw.status, sw.written, started)
		if proxyErr != nil {
			// The body broke off after the device got the headers: abort
			// the device's response so it is never mistaken for complete.
			h.logger.Warn("upstream stream broke off", zap.Int64("bytes", sw.written), zap.Error(proxyErr))
			panic(http.ErrAbortHandler)
		}
		return nil
	}
	if failure := h.upstreamFailure(sw.status, false, proxyErr); failure != nil {
		h.metrics.countUpstream(0)
		h.logUpstreamFailure(failure, proxyErr, time.Since(started))
		if r.Context().Err() != nil {
			return nil
		}
		return h.writeError(w, failure)
	}
	h.metrics.countUpstream(sw.status)
	noteStreamAnswer(ticket, h.translator, sw.status, sw.header, sw.errBody.Bytes())
	return h.writeUpstreamError(w, sw.status, sw.header, sw.errBody.Bytes())
}

// serveMIMESend sends the device's raw MIME message: the body is
// base64-encoded on the fly into Graph's text/plain sendMail form. Success
// is 200 {}.
func (h *Handler) serveMIMESend(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.writeError(w, translate.NewError(http.StatusMethodNotAllowed, translate.CodeMethodNotAllowed,
			"mime/send takes POST"))
	}
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != mimeContentType {
		return h.writeError(w, translate.NewError(http.StatusUnsupportedMediaType, translate.CodeUnsupportedMediaType,
			"the mime/send body must be message/rfc822"))
	}
	if !hasBearerToken(r.Header) {
		return h.writeError(w, translate.NewError(http.StatusUnauthorized, translate.CodeUnauthenticated,
			"an Authorization: Bearer token is required"))
	}
	if r.ContentLength > h.MaxMIMEBody {
		return h.writeError(w, errMIMETooLarge)
	}
	if r.ContentLength == 0 {
		return h.writeError(w, errMIMEEmpty)
	}
	mailbox, merr := streamMailbox(r)
	if merr != nil {
		return h.writeError(w, merr)
	}
	call, terr := h.translator.MIMESendCall(mailbox)
	if terr != nil {
		return h.writeError(w, terr)
	}
	// The whole message is read before the governor is asked for a slot:
	// a device that uploads slowly holds no slot of its mailbox.
	buffers := h.newBufferAccount(r.Context())
	defer buffers.release()
	message := buffers.buffer()
	defer putBuffer(message)
	if answered, err := h.readMIMEBody(w, r, buffers, message); answered {
		return err
	}
	ticket, answered, gerr := h.admitStream(w, r, mailbox)
	if answered {
		return gerr
	}
	defer ticket.Release()

	started := time.Now()
	rawLength := int64(message.Len())
	rewriteForUpstream(r, h.upstream, call)
	r.Header.Set("Content-Type", call.ContentType)
	r.Body = io.NopCloser(newBase64Reader(bytes.NewReader(message.Bytes())))
	r.ContentLength = int64(base64.StdEncoding.EncodedLen(message.Len()))
	r.GetBody = nil // the body cannot be replayed: no transport-level resend

	answer := getBuffer()
	defer putBuffer(answer)
	rec := newUpstreamRecorder(answer, streamErrorBodyLimit)
	proxyErr := serveRecovering(next, rec, r)
	h.logStream("mime_send", rec.status, rawLength, started)
	if failure := h.upstreamFailure(rec.status, rec.overflow, proxyErr); failure != nil {
		h.metrics.countUpstream(0)
		h.logUpstreamFailure(failure, proxyErr, time.Since(started))
		if r.Context().Err() != nil {
			return nil
		}
		return h.writeError(w, failure)
	}
	h.metrics.countUpstream(rec.status)
	if rec.status/100 != 2 {
		noteStreamAnswer(ticket, h.translator, rec.status, rec.header, answer.Bytes())
		return h.writeUpstreamError(w, rec.status, rec.header, answer.Bytes())
	}
	if id := safeRequestID(rec.header.Get("Request-Id")); id != "" {
		w.Header().Set("X-Upstream-Request-Id", id)
	}
	return writeJSON(w, http.StatusOK, []byte("{}"))
}

// writeUpstreamError answers a failed upstream answer of a streaming
// endpoint with the device error object, copying Retry-After (through the
// error), WWW-Authenticate on 401 and the request id.
func (h *Handler) writeUpstreamError(w http.ResponseWriter, status int, header http.Header, body []byte) error {
	e := h.translator.UpstreamError(status, header, body)
	if e == nil {
		e = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError, "upstream request failed")
	}
	if e.Status == http.StatusUnauthorized {
		if challenge := strings.Join(header.Values("Www-Authenticate"), ", "); challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
	}
	if id := safeRequestID(header.Get("Request-Id")); id != "" {
		w.Header().Set("X-Upstream-Request-Id", id)
	}
	return h.writeError(w, e)
}

// logStream logs a streaming exchange at debug level: endpoint kind,
// status, size and duration only.
func (h *Handler) logStream(kind string, status int, size int64, started time.Time) {
	if c := h.logger.Check(zapcore.DebugLevel, "stream served"); c != nil {
		c.Write(zap.String("endpoint", kind), zap.Int("upstream_status", status),
			zap.Int64("bytes", size), zap.Duration("duration", time.Since(started)))
	}
}

// safeRequestID returns id when it is at most 128 characters of
// [A-Za-z0-9._:-], else "".
func safeRequestID(id string) string {
	if len(id) > 128 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return ""
		}
	}
	return id
}

// errUnrequestedEncoding answers a download whose 2xx answer came with a
// Content-Encoding although the bridge asked for identity: passing the
// bytes on would hand the device compressed data under the message's or
// attachment's own media type.
var errUnrequestedEncoding = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
	"the upstream answer has a content encoding the bridge did not ask for")

// errStopEncodedCopy stops reverse_proxy's copy of an answer refused for
// its content encoding.
var errStopEncodedCopy = errors.New("upstream answer has an unrequested content encoding")

// streamWriter is the ResponseWriter handed to reverse_proxy for a
// download. A 2xx answer passes to the device as it arrives, with only
// status, Content-Type (or the endpoint's own) and Content-Length from
// upstream; any other answer is kept, bounded, for translation. A 2xx
// answer with a Content-Encoding other than identity is not passed on
// (encoded is set and the copy is stopped).
type streamWriter struct {
	dst         http.ResponseWriter
	header      http.Header // upstream's headers, never sent as a whole
	contentType string      // the endpoint's media type; "" = upstream's
	status      int
	streaming   bool
	encoded     bool
	written     int64
	errBody     bytes.Buffer
}

// hasContentEncoding reports whether header names a content coding other
// than identity.
func hasContentEncoding(header http.Header) bool {
	for _, value := range header.Values("Content-Encoding") {
		for _, coding := range strings.Split(value, ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return true
			}
		}
	}
	return false
}

// Header returns the writer's own header map (never the device's).
func (sw *streamWriter) Header() http.Header { return sw.header }

// WriteHeader starts the device response for a 2xx status; 1xx answers are
// ignored.
func (sw *streamWriter) WriteHeader(status int) {
	if sw.status != 0 || (status >= 100 && status < 200) {
		return
	}
	sw.status = status
	if status/100 != 2 {
		return
	}
	if hasContentEncoding(sw.header) {
		sw.encoded = true
		return
	}
	sw.streaming = true
	out := sw.dst.Header()
	contentType := sw.contentType
	if contentType == "" {
		contentType = sw.header.Get("Content-Type")
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	out.Set("Content-Type", contentType)
	if n, err := strconv.ParseInt(sw.header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		out.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	if id := safeRequestID(sw.header.Get("Request-Id")); id != "" {
		out.Set("X-Upstream-Request-Id", id)
	}
	out.Set("Cache-Control", "no-store")
	out.Set("X-Content-Type-Options", "nosniff")
	sw.dst.WriteHeader(status)
}

// Write passes body bytes to the device (2xx) or keeps the first
// streamErrorBodyLimit bytes of an error answer.
func (sw *streamWriter) Write(p []byte) (int, error) {
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.streaming {
		n, err := sw.dst.Write(p)
		sw.written += int64(n)
		return n, err
	}
	if sw.encoded {
		return 0, errStopEncodedCopy
	}
	if room := streamErrorBodyLimit - sw.errBody.Len(); room > 0 {
		sw.errBody.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Flush passes reverse_proxy's flushes to the device while streaming.
func (sw *streamWriter) Flush() {
	if sw.streaming {
		_ = http.NewResponseController(sw.dst).Flush()
	}
}

// base64Reader encodes its source as standard padded base64 while it is
// read, with fixed buffers: mimeChunk raw bytes at a time.
type base64Reader struct {
	src    io.Reader
	raw    [mimeChunk]byte
	enc    [mimeChunk / 3 * 4]byte
	start  int // unread encoded bytes are enc[start:end]
	end    int
	srcErr error // the source's error after its last bytes; io.EOF at the end
}

func newBase64Reader(src io.Reader) *base64Reader { return &base64Reader{src: src} }

func (b *base64Reader) Read(p []byte) (int, error) {
	for b.start == b.end {
		if b.srcErr != nil {
			return 0, b.srcErr
		}
		n, err := io.ReadFull(b.src, b.raw[:])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			b.srcErr = io.EOF
		default:
			return 0, err
		}
		base64.StdEncoding.Encode(b.enc[:], b.raw[:n])
		b.start, b.end = 0, base64.StdEncoding.EncodedLen(n)
	}
	n := copy(p, b.enc[b.start:b.end])
	b.start += n
	return n, nil
}

// Interface guards
var (
	_ http.ResponseWriter = (*streamWriter)(nil)
	_ http.Flusher        = (*streamWriter)(nil)
)
