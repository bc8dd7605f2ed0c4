package translate

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
)

// This file translates the upstream answer into the device response and maps
// upstream failures onto device errors (docs/device-api.md §4).

// Outcome is what Respond reports for the device response.
type Outcome struct {
	// Status is the HTTP status for the device: 200, or the envelope-level error status.
	Status int
	// Code is the envelope-level error's code; "" when Status is 200.
	Code string
	// RetryAfter is the seconds for the device's Retry-After header; 0 = none.
	RetryAfter int
	// WWWAuthenticate is the upstream WWW-Authenticate to copy verbatim (on 401).
	WWWAuthenticate string
	// UpstreamRequestID is Graph's request-id header, for X-Upstream-Request-Id.
	UpstreamRequestID string
	// Results has one entry per command in device order (empty on an
	// envelope-level failure). It is owned by the plan: valid until Release.
	Results []Result
}

// Result summarizes one command's result for logs and metrics.
type Result struct {
	// Op is the command's op, or "unknown" for ops outside the command table (bounded cardinality).
	Op string
	// Status is the result's status: 200 on success, the error's status otherwise.
	Status int
	// Code is the error code; "" on success.
	Code string
	// RetryAfter is the error's retryAfter in seconds (a throttled result); 0 otherwise.
	RetryAfter int
}

// batchItem is one command's upstream answer: the direct call's, or its
// $batch response item.
type batchItem struct {
	present bool
	status  int
	headers gjson.Result // $batch item headers object; absent for a direct call
	body    gjson.Result // parsed JSON body, if any
}

// responder carries the context of one Respond call.
type responder struct {
	header     http.Header
	direct     bool
	now        time.Time
	throttleRA int // largest Retry-After among the 429 items of a $batch answer
}

// Respond translates the upstream answer (status, headers, the whole body)
// into the device's response body, appended to dst, and reports what to
// send. status 0 means no upstream call was made (Upstream is nil, or the
// caller could not get an answer: then 502 upstream_error). body is only
// read during the call.
func (p *Plan) Respond(dst *bytes.Buffer, status int, header http.Header, body []byte) Outcome {
	out := Outcome{Status: http.StatusOK}
	if header != nil {
		out.UpstreamRequestID = sanitizeToken(header.Get("Request-Id"))
	}
	for i := range p.items {
		p.items[i] = batchItem{}
	}
	for i := range p.extra {
		p.extra[i] = batchItem{}
	}
	p.answerInvalid = false
	r := responder{header: header, direct: p.upstreamItems == 1}
	if p.Upstream != nil {
		r.now = p.t.now()
	}
	b := dst.AvailableBuffer()
	var fail *Error
	switch {
	case p.Upstream == nil:
	case status == 0:
		fail = upstreamFailed(msgNoUpstreamAnswer)
	default:
		fail = p.readAnswer(&r, &out, status, header, body)
	}
	if fail != nil {
		if fail.RequestID == "" {
			fail.RequestID = out.UpstreamRequestID
		}
		out.Status, out.Code = fail.Status, fail.Code
		out.RetryAfter = fail.RetryAfter
		b = fail.AppendEnvelope(b)
		dst.Write(b)
		return out
	}
	b = p.appendResults(b, &r, out.UpstreamRequestID)
	if p.answerInvalid {
		// The single-pass reader found the direct sync page malformed.
		fail = upstreamMalformed()
		fail.RequestID = out.UpstreamRequestID
		out.Status, out.Code = fail.Status, fail.Code
		b = fail.AppendEnvelope(dst.AvailableBuffer())
		dst.Write(b)
		return out
	}
	out.Results = p.results[:p.n]
	dst.Write(b)
	return out
}

// readAnswer parses the answer into p.items, or returns the envelope-level failure.
func (p *Plan) readAnswer(r *responder, out *Outcome, status int, header http.Header, body []byte) *Error {
	var root gjson.Result
	var parsed bool
	direct := p.directSpec()
	if r.direct && status/100 == 2 && direct.flags&opDelta != 0 && len(body) > 0 {
		// A direct sync page is validated by the single pass that translates
		// it (appendSyncData), which sets p.answerInvalid when it is malformed.
		root, parsed = gjson.Parse(bytesToString(body)), true
	} else if parsed = len(body) > 0 && validJSON(bytesToString(body), maxUpstreamDepth); parsed {
		root = gjson.Parse(bytesToString(body))
	}
	if fail := envelopeFailure(status, header, root, r.direct, r.now); fail != nil {
		if fail.Status == http.StatusUnauthorized && header != nil {
			out.WWWAuthenticate = strings.Join(header.Values("Www-Authenticate"), ", ")
		}
		return fail
	}
	if status/100 == 2 && (!parsed || !root.IsObject()) && !(r.direct && direct.flags&opEmptyData != 0) {
		return upstreamMalformed()
	}
	if r.direct {
		for i := 0; i < p.n; i++ {
			if p.cmds[i].err == nil {
				p.items[i] = batchItem{present: true, status: status, body: root}
			}
		}
		return nil
	}
	responses := root.Get("responses")
	if !responses.IsArray() {
		return upstreamMalformed()
	}
	responses.ForEach(func(_, item gjson.Result) bool {
		p.readBatchItem(r, item)
		return true
	})
	return nil
}

// directSpec returns the row of the one command of a direct call, or a row
// without flags when the call is a $batch.
func (p *Plan) directSpec() *opSpec {
	if p.upstreamItems == 1 {
		for i := 0; i < p.n; i++ {
			if c := &p.cmds[i]; c.err == nil {
				return c.op.spec()
			}
		}
	}
	return &noSpec
}

// noSpec is the row directSpec reports for a $batch.
var noSpec opSpec

// readBatchItem files one $batch response item under its command. Items with
// an unknown, duplicate or malformed id are ignored.
func (p *Plan) readBatchItem(r *responder, item gjson.Result) {
	if !item.IsObject() {
		return
	}
	var id, status, headers, body gjson.Result
	item.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			id = v
		case "status":
			status = v
		case "headers":
			headers = v
		case "body":
			body = v
		}
		return true
	})
	if id.Type != gjson.String || status.Type != gjson.Number {
		return
	}
	slot := p.itemSlot(id.Str)
	if slot == nil || slot.present {
		return
	}
	st := int(status.Num)
	if float64(st) != status.Num {
		return
	}
	if body.Type == gjson.String {
		body = decodeStringBody(body.Str)
	}
	*slot = batchItem{present: true, status: st, headers: headers, body: body}
	if st == http.StatusTooManyRequests {
		if ra, ok := parseRetryAfter(itemHeader(headers, "Retry-After"), r.now); ok && ra > r.throttleRA {
			r.throttleRA = ra
		}
	}
}

// itemSlot returns where the answer of the $batch item with the given id
// goes (see appendBatchItem: "i" for command i's first request, "i.j" for
// its further request more[j]), or nil when no request of the plan has
// that id, written exactly so.
func (p *Plan) itemSlot(id string) *batchItem {
	cmd, sub, dot := id, "", false
	for k := 0; k < len(id); k++ {
		if id[k] == '.' {
			cmd, sub, dot = id[:k], id[k+1:], true
			break
		}
	}
	idx, ok := smallIndex(cmd)
	if !ok || idx >= p.n || p.cmds[idx].err != nil {
		return nil
	}
	c := &p.cmds[idx]
	if !dot {
		return &p.items[idx]
	}
	j, ok := smallIndex(sub)
	if !ok || j >= len(c.more) {
		return nil
	}
	return &p.extra[c.extraAt+j]
}

// smallIndex reads a decimal index below 100 written without leading zeros.
func smallIndex(s string) (int, bool) {
	switch {
	case len(s) == 1 && s[0] >= '0' && s[0] <= '9':
		return int(s[0] - '0'), true
	case len(s) == 2 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9':
		return int(s[0]-'0')*10 + int(s[1]-'0'), true
	}
	return 0, false
}

// decidingItem returns the answer that decides command i's result: the
// first of its answers that failed (a non-2xx status, except 404 for an
// opGoneIsDone op), else its first answer; nil when an answer is missing.
// A command without further requests has one answer, which decides.
func (p *Plan) decidingItem(i int) *batchItem {
	c := &p.cmds[i]
	first := &p.items[i]
	if !first.present {
		return nil
	}
	if len(c.more) == 0 {
		return first
	}
	goneIsDone := c.op.spec().flags&opGoneIsDone != 0
	var failed *batchItem
	for k := -1; k < len(c.more); k++ {
		it := first
		if k >= 0 {
			it = &p.extra[c.extraAt+k]
		}
		if !it.present {
			return nil
		}
		ok := it.status/100 == 2 || (goneIsDone && it.status == http.StatusNotFound)
		if !ok && failed == nil {
			failed = it
		}
	}
	if failed != nil {
		return failed
	}
	return first
}

// decodeStringBody handles a $batch item body sent as a base64(url) string
// (non-JSON media type): it is decoded and parsed when it holds JSON.
func decodeStringBody(s string) gjson.Result {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if validJSON(bytesToString(raw), maxUpstreamDepth) {
			return gjson.ParseBytes(raw)
		}
		break
	}
	return gjson.Result{}
}

// appendResults writes {"results":[…]} in device order and fills p.results.
func (p *Plan) appendResults(b []byte, r *responder, envRequestID string) []byte {
	b = append(b, `{"results":[`...)
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, c.id...) // [A-Za-z0-9._-] only
		b = append(b, `","status":`...)
		mark := len(b)
		var fail *Error
		var it *batchItem
		if c.err == nil {
			it = p.decidingItem(i)
		}
		switch {
		case c.err != nil:
			fail = c.err
		case it == nil:
			fail = upstreamFailed(msgUpstreamMissing)
			fail.RequestID = envRequestID
		default:
			if it.status == http.StatusNotFound && c.op.spec().flags&opGoneIsDone != 0 {
				// Already gone: what the device asked for.
				b = append(b, `200,"data":`...)
				b, _ = p.appendData(b, c, gjson.Result{})
			} else if it.status == http.StatusNotModified && c.ifNoneMatch != "" {
				// A conditional request (files.list's etag) whose object is unchanged.
				b = append(b, `200,"data":{"notModified":true}`...)
			} else if it.status/100 == 2 {
				b = append(b, `200,"data":`...)
				b, fail = p.appendData(b, c, it.body)
				if fail != nil {
					b = b[:mark]
					fail.RequestID = sanitizeToken(r.requestIDOf(it))
				}
			} else {
				fail = p.commandFailure(r, c, it)
			}
			if fail != nil && fail.RequestID == "" {
				fail.RequestID = envRequestID
			}
		}
		if fail != nil {
			b = appendInt(b, fail.Status)
			b = append(b, `,"error":`...)
			b = fail.AppendObject(b)
			p.results[i] = Result{Op: c.op.String(), Status: fail.Status, Code: fail.Code, RetryAfter: fail.RetryAfter}
		} else {
			p.results[i] = Result{Op: c.op.String(), Status: http.StatusOK}
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendData writes the data of a successful command from its upstream body.
func (p *Plan) appendData(b []byte, c *command, body gjson.Result) ([]byte, *Error) {
	spec := c.op.spec()
	if spec.flags&opEmptyData == 0 && !body.IsObject() {
		return b, upstreamMalformed()
	}
	return spec.answer(p, b, c, body)
}

// envelopeFailure maps an upstream status that fails the whole device
// request: 401, 429, 5xx for any call; for a $batch also 424 (treated as
// throttling) and any other non-2xx envelope status. nil: the status fails
// no envelope.
func envelopeFailure(status int, header http.Header, root gjson.Result, direct bool, now time.Time) *Error {
	var e *Error
	switch {
	case status == http.StatusUnauthorized:
		e = NewError(http.StatusUnauthorized, CodeUnauthenticated, msgUnauthenticated)
	case status == http.StatusTooManyRequests || (!direct && status == http.StatusFailedDependency):
		e = throttled(DefaultRetryAfter)
		if ra, ok := parseRetryAfter(headerGet(header, "Retry-After"), now); ok {
			e.RetryAfter = ra
		}
	case status >= 500 && status <= 599:
		e = serverFailure(status, headerGet(header, "Retry-After"), now)
	case !direct && status/100 != 2:
		e = upstreamRequestFailed()
	default:
		return nil
	}
	code, rid := errorInfo(root)
	e.UpstreamCode = code
	if e.RequestID = sanitizeToken(headerGet(header, "Request-Id")); e.RequestID == "" {
		e.RequestID = rid
	}
	return e
}

// serverFailure maps a 5xx: 503 → upstream_unavailable, 504 →
// upstream_timeout (Retry-After copied when present), others → 502 upstream_error.
func serverFailure(status int, retryAfter string, now time.Time) *Error {
	var e *Error
	switch status {
	case http.StatusServiceUnavailable:
		e = NewError(status, CodeUpstreamUnavailable, msgUpstreamUnavailable)
	case http.StatusGatewayTimeout:
		e = NewError(status, CodeUpstreamTimeout, msgUpstreamTimeout)
	default:
		e = upstreamRequestFailed()
	}
	// §6 copies Retry-After from upstream to the device whatever the 5xx.
	if ra, ok := parseRetryAfter(retryAfter, now); ok {
		e.RetryAfter = ra
	}
	return e
}

// commandFailure maps one command's non-2xx upstream status (a direct call's
// 4xx, or a $batch item's own status) to its result.
func (p *Plan) commandFailure(r *responder, c *command, it *batchItem) *Error {
	code, rid := errorInfo(it.body)
	requestID := r.requestIDOf(it)
	var retryAfter string
	if r.direct {
		retryAfter = headerGet(r.header, "Retry-After")
	} else {
		retryAfter = itemHeader(it.headers, "Retry-After")
	}
	status := it.status
	var e *Error
	if spec := c.op.spec(); spec != nil && spec.failure != nil {
		e = spec.failure(c, status, code, it.body)
	}
	switch {
	case e != nil:
	case status == http.StatusGone || (status >= 400 && status <= 499 && isResyncCode(code)):
		e = NewError(http.StatusGone, CodeResyncRequired, msgResync)
	case status == http.StatusTooManyRequests || status == http.StatusFailedDependency:
		// A 424 item can only come from Graph's throttling (the bridge never
		// sends dependsOn): it gets its own Retry-After, else the largest of
		// the batch's 429 items, else the default.
		e = throttled(DefaultRetryAfter)
		if ra, ok := parseRetryAfter(retryAfter, r.now); ok {
			e.RetryAfter = ra
		} else if status == http.StatusFailedDependency && r.throttleRA > 0 {
			e.RetryAfter = r.throttleRA
		}
	case status == http.StatusBadRequest:
		e = invalidArgs(msgUpstreamRejected)
	case status == http.StatusForbidden:
		e = NewError(http.StatusForbidden, CodeForbidden, msgForbidden)
	case status == http.StatusNotFound:
		e = NewError(http.StatusNotFound, CodeNotFound, msgNotFound)
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		e = NewError(http.StatusConflict, CodeConflict, msgConflict)
	case status >= 500 && status <= 599:
		e = serverFailure(status, retryAfter, r.now)
	default:
		e = upstreamRequestFailed()
	}
	e.UpstreamCode = code
	if e.RequestID = sanitizeToken(requestID); e.RequestID == "" {
		e.RequestID = rid
	}
	return e
}

// requestIDOf returns Graph's request-id for one command's answer: the
// response header of a direct call, the item's own header in a $batch.
func (r *responder) requestIDOf(it *batchItem) string {
	if r.direct {
		return headerGet(r.header, "Request-Id")
	}
	return itemHeader(it.headers, "Request-Id")
}

// isResyncCode reports whether a Graph error code says the sync position is gone.
func isResyncCode(code string) bool {
	return equalFoldASCII(code, "syncStateNotFound") || equalFoldASCII(code, "syncStateInvalid") ||
		equalFoldASCII(code, "resyncRequired")
}

// errorInfo returns Graph's error.code and innerError request-id from an
// error body, both sanitized ("" when absent or unusable).
func errorInfo(root gjson.Result) (code, requestID string) {
	if !root.IsObject() {
		return "", ""
	}
	e := root.Get("error")
	if !e.IsObject() {
		return "", ""
	}
	if c := e.Get("code"); c.Type == gjson.String {
		code = sanitizeToken(c.Str)
	}
	e.ForEach(func(k, v gjson.Result) bool {
		if !equalFoldASCII(k.Str, "innerError") || !v.IsObject() {
			return true
		}
		v.ForEach(func(k2, v2 gjson.Result) bool {
			if (equalFoldASCII(k2.Str, "request-id") || equalFoldASCII(k2.Str, "requestId")) && v2.Type == gjson.String {
				requestID = sanitizeToken(v2.Str)
				return false
			}
			return true
		})
		return false
	})
	return code, requestID
}

// itemHeader returns a $batch item header's value (name compared
// case-insensitively); numbers are accepted as their literal text.
func itemHeader(headers gjson.Result, name string) string {
	var val string
	headers.ForEach(func(k, v gjson.Result) bool {
		if !equalFoldASCII(k.Str, name) {
			return true
		}
		switch v.Type {
		case gjson.String:
			val = v.Str
		case gjson.Number:
			val = v.Raw
		}
		return false
	})
	return val
}

func headerGet(h http.Header, name string) string {
	if h == nil {
		return ""
	}
	return h.Get(name)
}

// maxTokenLen bounds upstream codes and request ids copied to devices.
const maxTokenLen = 128

// sanitizeToken returns s when it is a short token of [A-Za-z0-9._:-]
// (Graph error codes, request ids), else "".
func sanitizeToken(s string) string {
	if len(s) > maxTokenLen {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return ""
		}
	}
	return s
}

// parseRetryAfter reads a Retry-After value: delay-seconds, possibly
// fractional ("2.128"), or an HTTP-date. It rounds up to whole seconds, with
// a minimum of 1 and a maximum of one day; ok is false when v is absent or
// unusable.
func parseRetryAfter(v string, now time.Time) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var secs float64
	if c := v[0]; c >= '0' && c <= '9' {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || strings.ContainsAny(v, "eExXpP_") {
			return 0, false
		}
		secs = f
	} else {
		ts, err := http.ParseTime(v)
		if err != nil {
			return 0, false
		}
		secs = ts.Sub(now).Seconds()
	}
	if secs > maxRetryAfter {
		return maxRetryAfter, true
	}
	n := int(math.Ceil(secs))
	if n < 1 {
		n = 1
	}
	return n, true
}

// bytesToString views b as a string without copying. Respond uses it for the
// upstream body, which it only reads during the call: no string derived from
// it outlives Respond (everything is copied into the device buffer).
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
