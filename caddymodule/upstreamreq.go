package caddymodule

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// forwardedHeaders are set to nil on the upstream request: reverse_proxy
// treats a nil header value as "do not add", so the device's address and
// the bridge's host never reach Graph.
var forwardedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

// rewriteForUpstream turns the device request r into the upstream call, in
// place, for reverse_proxy to send. Only an allowlist of headers survives:
// the device's Authorization verbatim, a client-request-id, the call's
// Prefer values, its If-None-Match and its content type. Cookies, X-Forwarded-*, hop-by-hop
// headers and the device's Accept-Encoding are dropped.
//
// r.RequestURI, which no client sends (the upstream request line is built
// from r.URL), keeps the device's endpoint path without its query: it is
// what reverse_proxy's log lines show as the request's uri — at DEBUG
// level for every round trip, at WARN when copying an answer breaks off —
// and the upstream URI would put the mailbox (/users/{mailbox}/…) and
// search text ($search="…") into those lines.
func rewriteForUpstream(r *http.Request, upstream *url.URL, call *translate.Call) {
	authorization := r.Header.Get("Authorization")
	requestID := clientRequestID(r.Header.Get("X-Request-Id"))
	loggedURI := caddyhttp.CleanPath(r.URL.EscapedPath(), true)

	// One backing array holds every header value; each header gets a
	// full-capacity slice of it, so an append by a later handler copies
	// rather than overwrites its neighbour.
	values := make([]string, 0, 6+len(call.Prefer))
	one := func(v string) []string {
		values = append(values, v)
		return values[len(values)-1 : len(values) : len(values)]
	}
	header := make(http.Header, 8+len(forwardedHeaders))
	header["Authorization"] = one(authorization)
	header["Client-Request-Id"] = one(requestID)
	header["Accept"] = one("application/json")
	if len(call.Prefer) > 0 {
		start := len(values)
		values = append(values, call.Prefer...)
		header["Prefer"] = values[start:len(values):len(values)]
	}
	if call.IfNoneMatch != "" {
		// files.list's etag: Graph answers 304 while the folder is unchanged.
		header["If-None-Match"] = one(call.IfNoneMatch)
	}
	for _, name := range forwardedHeaders {
		header[name] = nil
	}

	r.Method = call.Method
	r.Host = upstream.Host
	r.URL.Path, r.URL.RawPath = unescapedPath(call.Path), call.Path
	r.URL.RawQuery = call.RawQuery
	r.URL.Fragment, r.URL.RawFragment = "", ""
	r.RequestURI = loggedURI

	if call.Body != nil {
		header["Content-Type"] = one(call.ContentType)
		header["Content-Length"] = one(strconv.Itoa(len(call.Body)))
		r.Body = io.NopCloser(bytes.NewReader(call.Body))
		r.ContentLength = int64(len(call.Body))
	} else {
		r.Body = http.NoBody
		r.ContentLength = 0
	}
	// No GetBody: Go's HTTP/2 transport replays a request whose body it
	// can rewind after some stream errors (a peer PROTOCOL_ERROR among
	// them) even when Graph may already have acted on it. A send, reply,
	// forward or move must reach Graph at most once; reverse_proxy's own
	// dial-error retries do not need it.
	r.GetBody = nil
	r.TransferEncoding = nil
	r.Trailer = nil
	r.Header = header
}

// unescapedPath decodes the translator's escaped path for URL.Path; the
// escaped form stays in RawPath, which is what goes on the wire.
func unescapedPath(escaped string) string {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return escaped
	}
	return p
}

// clientRequestID returns the device's X-Request-Id when it is a UUID, so
// a device can correlate its request with Graph's logs, else a fresh
// random (version 4) UUID.
func clientRequestID(deviceID string) string {
	if isUUID(deviceID) {
		return deviceID
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isJSONMediaType reports whether a Content-Type value is application/json,
// with or without parameters. The common exact spellings are recognized
// without parsing (mime.ParseMediaType allocates).
func isJSONMediaType(contentType string) bool {
	switch contentType {
	case "application/json", "application/json; charset=utf-8", "application/json;charset=utf-8":
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}
