package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/devicebridge/caddy-devicebridge/tlspolicy"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

// bufPool holds the buffers of one translated request: the device body,
// the upstream answer and the device answer.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

// putBuffer returns buf to the pool unless it grew past what is worth
// keeping (a 32 MiB answer should not pin 32 MiB forever).
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 4<<20 {
		return
	}
	bufPool.Put(buf)
}

// ServeHTTP serves the device API under Prefix. The handler's next
// handler is the upstream leg: it only ever receives a request the
// handler has rewritten into an upstream call. Every other request that
// reaches the handler — outside Prefix, or no device endpoint — is
// answered 404 not_found here, never passed on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !tlspolicy.RequestIsTLS(r) {
		return h.writeError(w, translate.NewError(http.StatusForbidden, translate.CodeTLSRequired,
			"the device API is served over TLS only"))
	}
	endpoint, ok := h.endpoint(r)
	if !ok {
		return h.writeError(w, errNoEndpoint)
	}
	// Graph posts notifications anonymously: the webhook comes before any
	// check of a bearer token.
	if h.push != nil {
		if kind, blob, ok := pushWebhookOf(endpoint); ok {
			return h.servePushWebhook(w, r, kind, blob)
		}
	}
	switch endpoint {
	case "/batch":
		return h.serveBatch(w, r, next)
	case "/mime/send":
		return h.serveMIMESend(w, r, next)
	case "/health":
		return h.serveHealth(w, r)
	default:
		if route, ok := h.downloadRouteOf(r); ok {
			if route.fileID != "" {
				return h.serveFile(w, r, next, route.fileID)
			}
			return h.serveDownload(w, r, next, route)
		}
		return h.writeError(w, errNoEndpoint)
	}
}

// errNoEndpoint answers a request that is no device API endpoint.
var errNoEndpoint = translate.NewError(http.StatusNotFound, translate.CodeNotFound,
	"no device API endpoint at this path")

// endpoint returns the path below Prefix of the request's path as Caddy's
// path matcher sees it, and whether that path is under Prefix. The
// matcher that routes requests here (the directive's `path` matcher)
// unescapes the path, resolves dot segments, merges doubled slashes and
// ignores case; deciding on the raw path instead would let
// /v1.0/me/../../device/v1/batch be routed here and yet not be
// recognized.
func (h *Handler) endpoint(r *http.Request) (string, bool) {
	return cutPrefixFold(caddyhttp.CleanPath(r.URL.Path, true), h.Prefix)
}

// cutPrefixFold cuts prefix off path when path is prefix or lies below it,
// comparing case-insensitively as Caddy's path matcher does. The
// directive's route matches the prefix that way; a case-sensitive check
// here would hand /Device/v1/batch, untranslated and with the device's
// token, to the route's own reverse_proxy.
func cutPrefixFold(path, prefix string) (string, bool) {
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return "", false
	}
	rest := path[len(prefix):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// serveBatch runs one batch envelope: checks, translation, the one
// upstream call through next, and the translation of its answer.
func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.writeError(w, translate.NewError(http.StatusMethodNotAllowed, translate.CodeMethodNotAllowed,
			"the batch endpoint takes POST"))
	}
	if !isJSONMediaType(r.Header.Get("Content-Type")) {
		return h.writeError(w, translate.NewError(http.StatusUnsupportedMediaType, translate.CodeUnsupportedMediaType,
			"the batch body must be application/json"))
	}
	if !hasBearerToken(r.Header) {
		return h.writeError(w, translate.NewError(http.StatusUnauthorized, translate.CodeUnauthenticated,
			"an Authorization: Bearer token is required"))
	}

	// Every buffer of this request is accounted to the process's budget.
	buffers := h.newBufferAccount(r.Context())
	defer buffers.release()
	requestBody := buffers.buffer()
	defer putBuffer(requestBody)
	if err := buffers.readLimited(requestBody, r.Body, r.ContentLength, h.MaxRequestBody); err != nil {
		if errors.Is(err, errRequestTooLarge) {
			return h.writeError(w, translate.NewError(http.StatusRequestEntityTooLarge, translate.CodeRequestTooLarge,
				"the batch body exceeds max_request_body"))
		}
		if isOverBudget(err) {
			return h.writeError(w, errOverBudget)
		}
		// The device went away or sent a broken body; nothing to answer.
		return caddyhttp.Error(http.StatusBadRequest, err)
	}

	started := time.Now()
	plan, perr := h.translator.PlanFor(requestBody.Bytes(), translate.IdentityFromAuthorization(r.Header.Get("Authorization")))
	h.metrics.observeTranslate("request", time.Since(started))
	if perr != nil {
		return h.writeError(w, perr)
	}
	defer plan.Release()

	answer := buffers.buffer()
	defer putBuffer(answer)

	if plan.Upstream == nil {
		outcome := plan.Respond(answer, 0, nil, nil)
		return h.writeOutcome(w, r, outcome, answer, 0, started)
	}

	// The per-mailbox governor: wait for the mailboxes' slots, or answer
	// throttled without calling upstream.
	ticket, answered, gerr := h.admit(w, r, plan)
	if answered {
		return gerr
	}
	defer ticket.Release()

	upstreamBody := buffers.buffer()
	defer putBuffer(upstreamBody)
	rec := newUpstreamRecorder(upstreamBody, h.MaxResponseBody)
	rec.reserve = func(n int) error { return buffers.ensure(upstreamBody, n) }
	rewriteForUpstream(r, h.upstream, plan.Upstream)
	upstreamStarted := time.Now()
	proxyErr := serveRecovering(next, rec, r)
	upstreamDuration := time.Since(upstreamStarted)
	ticket.Release() // the answer is read: the mailboxes' slots are free

	if rec.overBudget {
		if r.Context().Err() != nil {
			return nil
		}
		return h.writeError(w, errOverBudget)
	}
	if failure := h.upstreamFailure(rec.status, rec.overflow, proxyErr); failure != nil {
		h.metrics.countUpstream(0)
		h.logUpstreamFailure(failure, proxyErr, upstreamDuration)
		if r.Context().Err() != nil {
			// The device disconnected; reverse_proxy cancelled the upstream
			// call. There is nobody to answer.
			return nil
		}
		return h.writeError(w, failure)
	}
	h.metrics.countUpstream(rec.status)

	// The translated answer is about as large as Graph's, and decoding an
	// escaped string (an HTML body) takes a copy of it on the way.
	size := upstreamBody.Len()
	if err := buffers.ensure(answer, size+bufferStep); err != nil || buffers.reserveTransient(int64(size)) != nil {
		if r.Context().Err() != nil {
			return nil
		}
		return h.writeError(w, errOverBudget)
	}
	translateStarted := time.Now()
	outcome := plan.Respond(answer, rec.status, rec.header, upstreamBody.Bytes())
	buffers.settle()
	h.metrics.observeTranslate("response", time.Since(translateStarted))
	noteOutcome(ticket, plan, outcome)
	return h.writeOutcome(w, r, outcome, answer, rec.status, started)
}

// serveRecovering calls next, turning reverse_proxy's http.ErrAbortHandler
// panic — its way of aborting a response whose body could not be copied
// (upstream reset after headers, truncated body, or our size limit) —
// into an error, since nothing has reached the device yet.
func serveRecovering(next caddyhttp.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				err = errAbortedUpstreamResponse
				return
			}
			panic(v)
		}
	}()
	return next.ServeHTTP(w, r)
}

var errAbortedUpstreamResponse = errors.New("upstream response aborted mid-body")

// upstreamFailure maps a failed round trip to the device's envelope error,
// or returns nil when reverse_proxy delivered a complete answer.
func (h *Handler) upstreamFailure(status int, overflow bool, proxyErr error) *translate.Error {
	switch {
	case overflow:
		return translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
			"the upstream answer exceeds max_response_body")
	case proxyErr != nil:
		var handlerErr caddyhttp.HandlerError
		if errors.As(proxyErr, &handlerErr) && handlerErr.StatusCode == http.StatusGatewayTimeout ||
			errors.Is(proxyErr, context.DeadlineExceeded) {
			return translate.NewError(http.StatusGatewayTimeout, translate.CodeUpstreamTimeout,
				"the upstream did not answer in time")
		}
		return translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
			"the upstream could not be reached or its answer was cut off")
	case status == 0:
		return translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
			"the upstream gave no answer")
	}
	return nil
}

// writeOutcome sends the translated answer with the headers the outcome
// asks for, and records metrics and a log line.
func (h *Handler) writeOutcome(w http.ResponseWriter, r *http.Request, outcome translate.Outcome, body *bytes.Buffer, upstreamStatus int, started time.Time) error {
	header := w.Header()
	if outcome.RetryAfter > 0 {
		header.Set("Retry-After", strconv.Itoa(outcome.RetryAfter))
	}
	if outcome.WWWAuthenticate != "" {
		header.Set("WWW-Authenticate", outcome.WWWAuthenticate)
	}
	if outcome.UpstreamRequestID != "" {
		header.Set("X-Upstream-Request-Id", outcome.UpstreamRequestID)
	}
	h.metrics.countCommands(outcome.Results)
	if outcome.Status != http.StatusOK {
		h.metrics.countEnvelopeError(outcome.Status, outcome.Code)
	}
	if c := h.logger.Check(zapcore.DebugLevel, "batch translated"); c != nil {
		c.Write(
			zap.Int("status", outcome.Status),
			zap.Int("upstream_status", upstreamStatus),
			zap.Array("commands", resultsField(outcome.Results)),
			zap.Duration("duration", time.Since(started)),
		)
	}
	return writeJSON(w, outcome.Status, body.Bytes())
}

// writeError sends an envelope-level device error.
func (h *Handler) writeError(w http.ResponseWriter, e *translate.Error) error {
	h.metrics.countEnvelopeError(e.Status, e.Code)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	buf := getBuffer()
	defer putBuffer(buf)
	buf.Write(e.AppendEnvelope(buf.AvailableBuffer()))
	return writeJSON(w, e.Status, buf.Bytes())
}

// logUpstreamFailure logs a failed round trip without anything from the
// request or the answer's content.
func (h *Handler) logUpstreamFailure(failure *translate.Error, proxyErr error, took time.Duration) {
	fields := []zap.Field{
		zap.String("code", failure.Code),
		zap.Int("status", failure.Status),
		zap.Duration("upstream_duration", took),
	}
	if proxyErr != nil {
		fields = append(fields, zap.Error(proxyErr))
	}
	h.logger.Warn("upstream round trip failed", fields...)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	header := w.Header()
	header.Set("Content-Type", "application/json")
	header.Set("Content-Length", strconv.Itoa(len(body)))
	header.Set("Cache-Control", "no-store")
	header.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// hasBearerToken reports whether the request carries a non-empty bearer
// token. The token itself is never inspected or kept.
func hasBearerToken(header http.Header) bool {
	value := header.Get("Authorization")
	if len(value) < len("Bearer ") || !strings.EqualFold(value[:len("Bearer ")], "Bearer ") {
		return false
	}
	return strings.TrimSpace(value[len("Bearer "):]) != ""
}

var errRequestTooLarge = errors.New("request body exceeds max_request_body")

// resultsField logs each command's op and status, nothing else.
type resultsField []translate.Result

func (rs resultsField) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, res := range rs {
		_ = enc.AppendObject(resultField(res))
	}
	return nil
}

type resultField translate.Result

func (r resultField) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("op", r.Op)
	enc.AddInt("status", r.Status)
	if r.Code != "" {
		enc.AddString("code", r.Code)
	}
	return nil
}
