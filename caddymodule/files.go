package caddymodule

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// This file serves the file streaming endpoint (DEVICE_API.md §8):
//
//	GET {prefix}/files/{id}/content[?drive=…][&mailbox=…]
//
// The item's JSON comes through the normal upstream leg (reverse_proxy,
// the governor, the device's token): GET {base}/me/drive/items/{id}?$select=…,@microsoft.graph.downloadUrl.
// The pre-authenticated URL in it is then fetched by the bridge's own
// client — one of the two places where the bridge opens a connection
// itself — with a fresh request that never carries Authorization, from a
// host on the file_hosts allow list only, every redirect hop and every
// connection checked, and streamed to the device through a fixed buffer.
// The URL is never logged: errors name its scheme and host only.

// Defaults of the file endpoint's options.
const (
	// DefaultMaxFileStreams bounds concurrent file downloads per handler:
	// each holds a connection to the download host and a copy buffer.
	DefaultMaxFileStreams = 64
	// DefaultFileIdleTimeout is how long a download may go without a byte
	// from the download host (also the wait for its response headers);
	// there is no total timeout.
	DefaultFileIdleTimeout = 30 * time.Second
)

// Limits of the bridge's own download client.
const (
	maxFileRedirects    = 2
	fileDialTimeout     = 5 * time.Second
	fileTLSTimeout      = 10 * time.Second
	fileCopyBufferSize  = 32 << 10
	fileItemBodyLimit   = 64 << 10
	fileStreamRetryWait = 5
	fileUserAgent       = "devicebridge"
	maxRangeHeader      = 1024
	fileCacheControl    = "private, no-store, no-transform"
)

// fileCopyBuffers are the fixed copy buffers of file downloads.
var fileCopyBuffers = sync.Pool{New: func() any { b := make([]byte, fileCopyBufferSize); return &b }}

// Errors of the file endpoint.
var (
	errFileProxyOff = translate.NewError(http.StatusNotFound, translate.CodeNotFound,
		"no device API endpoint at this path")
	errFileHostRefused = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
		"the download URL points to a host the bridge does not fetch from")
	errFileHostDenied = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
		"the download host refused the pre-authenticated URL; ask again")
	errFileHostFailed = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
		"the download host could not be reached or its answer was cut off")
	errFileHostTimeout = translate.NewError(http.StatusGatewayTimeout, translate.CodeUpstreamTimeout,
		"the download host did not answer in time")
	errFileHostEncoded = translate.NewError(http.StatusBadGateway, translate.CodeUpstreamError,
		"the download host's answer has a content encoding the bridge did not ask for")
	errFileStreamsBusy = func() *translate.Error {
		e := translate.NewError(http.StatusServiceUnavailable, translate.CodeUpstreamUnavailable,
			"too many file downloads are in progress; retry later")
		e.RetryAfter = fileStreamRetryWait
		return e
	}()
	errFileIdle       = errors.New("the download host sent nothing within file_idle_timeout")
	errTooManyHops    = errors.New("the download host redirected more than twice")
	errHopRefused     = errors.New("the download host redirected to a host off the allow list")
	errFileBadRequest = translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "the query string is malformed")
	errRangeTooLong   = translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "Range and If-Range must be at most 1024 bytes")
)

// fileFetcher is the bridge's own client for download hosts.
type fileFetcher struct {
	hosts   *fileHostList
	client  *http.Client
	slots   chan struct{}
	idle    time.Duration
	refused func(reason string)
}

// newFileFetcher builds the download client: no proxy from the
// environment, no cookie jar, HTTP/1.1 and HTTP/2 over TLS verified with
// roots (nil: the system's), every redirect hop checked against hosts.
func newFileFetcher(hosts *fileHostList, roots *tls.Config, maxStreams int, idle time.Duration, refused func(string)) *fileFetcher {
	f := &fileFetcher{hosts: hosts, slots: make(chan struct{}, maxStreams), idle: idle, refused: refused}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if roots != nil {
		tlsConfig.RootCAs = roots.RootCAs
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            fileDialer(hosts, fileDialTimeout, refused),
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    fileTLSTimeout,
		ResponseHeaderTimeout:  idle,
		ForceAttemptHTTP2:      true,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxFileRedirects {
				refused(refusedRedirects)
				return errTooManyHops
			}
			if reason, _ := hosts.check(req.URL); reason != "" {
				refused(reason)
				return errHopRefused
			}
			// Only the headers the first request carried are copied by
			// Go; Authorization was never among them.
			return nil
		},
	}
	return f
}

// close drops the fetcher's idle connections.
func (f *fileFetcher) close() {
	f.client.CloseIdleConnections()
}

// fileIDOf returns the item id of the segments of {prefix}/files/{id}/content.
func fileIDOf(segs []string) (string, bool) {
	if len(segs) == 3 && segs[0] == "files" && segs[2] == "content" {
		return segs[1], true
	}
	return "", false
}

// fileDrive reads the optional drive query parameter; given more than
// once it is invalid_args.
func fileDrive(r *http.Request) (string, *translate.Error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", errFileBadRequest
	}
	switch v := values["drive"]; len(v) {
	case 0:
		return "", nil
	case 1:
		if v[0] == "" {
			return "", translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "drive must be a drive id")
		}
		return v[0], nil
	}
	return "", translate.NewError(http.StatusBadRequest, translate.CodeInvalidArgs, "drive is given more than once")
}

// serveFile streams a drive item's content.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, itemID string) error {
	if h.files == nil {
		return h.writeError(w, errFileProxyOff)
	}
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
	drive, derr := fileDrive(r)
	if derr != nil {
		return h.writeError(w, derr)
	}
	call, terr := h.translator.FileContentCall(mailbox, drive, itemID)
	if terr != nil {
		return h.writeError(w, terr)
	}
	// The device's headers the download host gets, read before the
	// request is rewritten into the upstream call.
	rangeHeader, ifRange := r.Header.Get("Range"), r.Header.Get("If-Range")
	if len(rangeHeader) > maxRangeHeader || len(ifRange) > maxRangeHeader {
		return h.writeError(w, errRangeTooLong)
	}

	select {
	case h.files.slots <- struct{}{}:
		defer func() { <-h.files.slots }()
	default:
		return h.writeError(w, errFileStreamsBusy)
	}

	downloadURL, answered, err := h.fileDownloadURL(w, r, next, call, mailbox)
	if answered {
		return err
	}
	return h.files.stream(h, w, r.Context(), downloadURL, rangeHeader, ifRange)
}

// fileDownloadURL gets the item's JSON through the upstream leg (the
// governor's slot is held only for that call, not for the download) and
// returns its download URL. When answered is true the device got its
// answer (or went away) and err is what ServeHTTP returns.
func (h *Handler) fileDownloadURL(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, call *translate.Call, mailbox string) (string, bool, error) {
	ticket, answered, gerr := h.admitStream(w, r, mailbox)
	if answered {
		return "", true, gerr
	}
	defer ticket.Release()

	started := time.Now()
	rewriteForUpstream(r, h.upstream, call)
	body := getBuffer()
	defer putBuffer(body)
	rec := newUpstreamRecorder(body, fileItemBodyLimit)
	proxyErr := serveRecovering(next, rec, r)
	if failure := h.upstreamFailure(rec.status, rec.overflow, proxyErr); failure != nil {
		h.metrics.countUpstream(0)
		h.logUpstreamFailure(failure, proxyErr, time.Since(started))
		if r.Context().Err() != nil {
			return "", true, nil
		}
		return "", true, h.writeError(w, failure)
	}
	h.metrics.countUpstream(rec.status)
	if rec.status/100 != 2 {
		noteStreamAnswer(ticket, h.translator, rec.status, rec.header, body.Bytes())
		return "", true, h.writeUpstreamError(w, rec.status, rec.header, body.Bytes())
	}
	downloadURL, terr := translate.FileDownloadURL(body.Bytes())
	if terr != nil {
		return "", true, h.writeError(w, terr)
	}
	return downloadURL, false, nil
}

// stream fetches downloadURL and passes the answer to the device.
func (f *fileFetcher) stream(h *Handler, w http.ResponseWriter, parent context.Context, downloadURL, rangeHeader, ifRange string) error {
	started := time.Now()
	req, where, reason := f.newRequest(parent, downloadURL)
	if reason != "" {
		f.refused(reason)
		h.logFileFailure("download URL refused", where, errors.New("refused: "+reason))
		return h.writeError(w, errFileHostRefused)
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	req = req.WithContext(ctx)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	if ifRange != "" {
		req.Header.Set("If-Range", ifRange)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return nil // the device went away
		}
		h.logFileFailure("download failed", where, redactURLError(err))
		switch {
		case errors.Is(err, errTooManyHops), errors.Is(err, errHopRefused), errors.Is(err, errPrivateAddress):
			return h.writeError(w, errFileHostRefused)
		case isTimeout(err):
			return h.writeError(w, errFileHostTimeout)
		}
		return h.writeError(w, errFileHostFailed)
	}
	defer resp.Body.Close()
	where = resp.Request.URL.Scheme + "://" + resp.Request.URL.Host

	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		out := w.Header()
		if cr := headerValue(resp.Header, "Content-Range"); cr != "" {
			out.Set("Content-Range", cr)
		}
		out.Set("Cache-Control", fileCacheControl)
		out.Set("Content-Length", "0")
		w.WriteHeader(resp.StatusCode)
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// An expired or refused pre-authenticated URL: the device's token
		// is fine, so no unauthenticated and no WWW-Authenticate.
		h.logFileFailure("download host refused the URL", where, errors.New(resp.Status))
		return h.writeError(w, errFileHostDenied)
	default:
		h.logFileFailure("download host failed", where, errors.New(resp.Status))
		e := h.translator.UpstreamError(resp.StatusCode, resp.Header, nil)
		if e == nil || e.Status == http.StatusUnauthorized {
			e = errFileHostFailed
		}
		return h.writeError(w, e)
	}
	if hasContentEncoding(resp.Header) {
		h.logFileFailure("download host answer refused", where, errors.New("unrequested content encoding"))
		return h.writeError(w, errFileHostEncoded)
	}

	out := w.Header()
	contentType := headerValue(resp.Header, "Content-Type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	out.Set("Content-Type", contentType)
	if resp.ContentLength >= 0 {
		out.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	for _, name := range []string{"Content-Range", "Accept-Ranges", "ETag"} {
		if v := headerValue(resp.Header, name); v != "" {
			out.Set(name, v)
		}
	}
	// no-transform also keeps Caddy's encode handler off the bytes.
	out.Set("Cache-Control", fileCacheControl)
	out.Set("Content-Disposition", "attachment")
	out.Set("X-Content-Type-Options", "nosniff")
	out.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(resp.StatusCode)

	bufp := fileCopyBuffers.Get().(*[]byte)
	defer fileCopyBuffers.Put(bufp)
	body := &idleReader{r: resp.Body, timer: time.AfterFunc(f.idle, func() { cancel(errFileIdle) }), idle: f.idle}
	defer body.timer.Stop()
	n, err := io.CopyBuffer(writerOnly{w}, body, *bufp)
	h.logStream("file", resp.StatusCode, n, started)
	if err != nil {
		if parent.Err() != nil {
			return nil
		}
		// The body broke off after the device got the headers: abort the
		// device's response so it is never mistaken for complete.
		h.logFileFailure("download broke off", where, redactURLError(context.Cause(ctx)))
		panic(http.ErrAbortHandler)
	}
	return nil
}

// newRequest builds the fresh request for downloadURL: only User-Agent
// (Range and If-Range are added by the caller), and the path and query
// exactly as Graph wrote them. where is the URL's scheme and host, the
// only part of it that may be logged; reason is why the URL is refused,
// "" when it is not.
func (f *fileFetcher) newRequest(ctx context.Context, downloadURL string) (req *http.Request, where, reason string) {
	u, err := url.Parse(downloadURL)
	if err != nil {
		return nil, "", refusedScheme
	}
	where = u.Scheme + "://" + u.Host
	if reason, _ := f.hosts.check(u); reason != "" {
		return nil, where, reason
	}
	// The path as written (Go would re-escape some characters), so a
	// URL signed over its exact bytes stays valid.
	rest := downloadURL[len(u.Scheme)+len("://")+len(u.Host):]
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		rest = "/"
	}
	if rest[0] != '/' || strings.HasPrefix(rest, "//") {
		return nil, where, refusedScheme
	}
	u.Opaque, u.Fragment, u.RawFragment = rest, "", ""
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, "https://placeholder.invalid/", nil)
	if err != nil {
		return nil, where, refusedScheme
	}
	req.URL, req.Host = u, u.Host
	req.Header = http.Header{"User-Agent": {fileUserAgent}, "Accept-Encoding": {"identity"}}
	return req, where, ""
}

// logFileFailure logs a failed download with the URL's scheme and host
// only: the rest of a pre-authenticated URL is a credential.
func (h *Handler) logFileFailure(msg, where string, err error) {
	h.logger.Warn(msg, zap.String("download_host", where), zap.Error(err))
}

// redactURLError drops the URL from Go's url.Error, whose message prints
// the whole pre-authenticated query.
func redactURLError(err error) error {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	if err == nil {
		return nil
	}
	return errors.New(scrubURLs(err.Error()))
}

// scrubURLs cuts the path and query out of every URL in an error message
// (a redirect error names the Location), leaving scheme and host.
func scrubURLs(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, "://")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len("://")
		for end < len(msg) && !strings.ContainsRune("/?# \"'", rune(msg[end])) {
			end++
		}
		b.WriteString(msg[:end])
		rest := end
		for rest < len(msg) && !strings.ContainsRune(" \"'", rune(msg[rest])) {
			rest++
		}
		msg = msg[rest:]
	}
}

// isTimeout reports whether err is a timeout.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// headerValue returns a header's first value when it is printable ASCII.
func headerValue(h http.Header, name string) string {
	v := h.Get(name)
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

// idleReader resets an idle timer around each read: when the download
// host sends nothing for idle, the timer cancels the request.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.timer.Reset(ir.idle)
	n, err := ir.r.Read(p)
	ir.timer.Stop()
	return n, err
}

// writerOnly hides the ResponseWriter's ReadFrom, so io.CopyBuffer uses
// the fixed buffer.
type writerOnly struct{ w io.Writer }

func (wo writerOnly) Write(p []byte) (int, error) { return wo.w.Write(p) }
