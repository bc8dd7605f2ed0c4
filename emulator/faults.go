package emulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault actions.
const (
	// FaultActionReset closes the connection without answering.
	FaultActionReset = "reset"
	// FaultActionTruncate sends a 200 answer cut in half, then closes.
	FaultActionTruncate = "truncate"
	// FaultActionResetAfterHeaders sends 200 headers, then closes.
	FaultActionResetAfterHeaders = "reset_after_headers"
	// FaultActionResetAfterProcessing serves the request normally (its
	// body is read and its effect, e.g. a sendMail, happens), throws the
	// answer away and closes the connection: the client cannot tell
	// whether the request took effect.
	FaultActionResetAfterProcessing = "reset_after_processing"
	// FaultActionGzip serves the normal answer gzip-compressed, with
	// Content-Encoding: gzip, whatever the request's Accept-Encoding says
	// (a misbehaving upstream).
	FaultActionGzip = "gzip"
)

// FaultRule injects a failure into matching Graph requests. Empty match
// fields match everything. A rule matches direct requests and individual
// $batch items (rules with an Action only match direct requests); with
// BatchEnvelope it matches the $batch envelope instead.
type FaultRule struct {
	// Token matches the bearer token.
	Token string `json:"token,omitempty"`
	// Method matches the HTTP method (case-insensitive).
	Method string `json:"method,omitempty"`
	// PathContains matches a substring of the escaped path after the base
	// path, e.g. "/messages/delta".
	PathContains string `json:"pathContains,omitempty"`
	// Count is how many times the rule fires: default 1, 0 = unlimited.
	Count *int `json:"count,omitempty"`
	// Status is the answer's HTTP status. Default 500 when Code is set,
	// 200 when Body is set.
	Status int `json:"status,omitempty"`
	// Code is the Graph error code; default depends on Status.
	Code string `json:"code,omitempty"`
	// Message is the Graph error message; default depends on Status.
	Message string `json:"message,omitempty"`
	// RetryAfter is the raw Retry-After header value; absent = no header.
	RetryAfter *string `json:"retryAfter,omitempty"`
	// Headers are extra response headers (e.g. a WWW-Authenticate claims
	// challenge).
	Headers map[string]string `json:"headers,omitempty"`
	// Delay is waited before answering (Go duration, e.g. "250ms"); the
	// wait ends early when the client goes away. A rule with only a Delay
	// delays the normal answer.
	Delay string `json:"delay,omitempty"`
	// Body is a raw body to send instead of a Graph error.
	Body *string `json:"body,omitempty"`
	// ContentType is the Content-Type of Body; default application/json.
	ContentType string `json:"contentType,omitempty"`
	// Action is "reset", "truncate", "reset_after_headers",
	// "reset_after_processing" or "gzip".
	Action string `json:"action,omitempty"`
	// BatchEnvelope makes the rule match the $batch envelope only.
	BatchEnvelope bool `json:"batchEnvelope,omitempty"`
	// Cancelled is reported by the listing only (ignored when adding): how
	// many requests this rule delayed whose client went away during the
	// delay — a cancelled upstream call, as seen by Graph.
	Cancelled int64 `json:"cancelled,omitempty"`
}

// fault is an installed rule.
type fault struct {
	rule      FaultRule
	delay     time.Duration
	remaining int // -1 = unlimited
	cancelled atomic.Int64
}

// faultSet holds the installed rules in order.
type faultSet struct {
	mu    sync.Mutex
	rules []*fault
}

// validate checks r and parses its delay.
func (r FaultRule) validate() (time.Duration, error) {
	var d time.Duration
	if r.Delay != "" {
		var err error
		d, err = time.ParseDuration(r.Delay)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("invalid delay %q", r.Delay)
		}
		if d > 10*time.Minute {
			return 0, fmt.Errorf("delay %q is longer than 10m", r.Delay)
		}
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		return 0, fmt.Errorf("invalid status %d", r.Status)
	}
	switch r.Action {
	case "", FaultActionReset, FaultActionTruncate, FaultActionResetAfterHeaders, FaultActionResetAfterProcessing, FaultActionGzip:
	default:
		return 0, fmt.Errorf("unknown action %q", r.Action)
	}
	if r.Count != nil && *r.Count < 0 {
		return 0, fmt.Errorf("count must not be negative")
	}
	for k, v := range r.Headers {
		if k == "" || strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
			return 0, fmt.Errorf("invalid header %q", k)
		}
	}
	if r.RetryAfter != nil && strings.ContainsAny(*r.RetryAfter, "\r\n") {
		return 0, fmt.Errorf("invalid retryAfter")
	}
	return d, nil
}

// AddFault installs a fault rule.
func (s *Server) AddFault(r FaultRule) error {
	d, err := r.validate()
	if err != nil {
		return err
	}
	r.Cancelled = 0
	f := &fault{rule: r, delay: d, remaining: 1}
	if r.Count != nil {
		f.remaining = *r.Count
		if f.remaining == 0 {
			f.remaining = -1
		}
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if len(s.faults.rules) >= 1000 {
		return fmt.Errorf("too many fault rules")
	}
	s.faults.rules = append(s.faults.rules, f)
	return nil
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rules = nil
}

// Faults lists the installed rules with their remaining counts (0 =
// unlimited).
func (s *Server) Faults() []FaultRule {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := make([]FaultRule, 0, len(s.faults.rules))
	for _, f := range s.faults.rules {
		r := f.rule
		n := max(f.remaining, 0)
		r.Count = &n
		r.Cancelled = f.cancelled.Load()
		out = append(out, r)
	}
	return out
}

// requestKind distinguishes the three places faults can match.
type requestKind uint8

const (
	kindDirect requestKind = iota
	kindBatchEnvelope
	kindBatchItem
)

// match returns the first matching rule, consuming one of its firings.
func (fs *faultSet) match(token, method, relPath string, kind requestKind) *fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := 0; i < len(fs.rules); i++ {
		f := fs.rules[i]
		r := &f.rule
		if r.BatchEnvelope != (kind == kindBatchEnvelope) {
			continue
		}
		if kind == kindBatchItem && r.Action != "" {
			continue
		}
		if r.Token != "" && r.Token != token {
			continue
		}
		if r.Method != "" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if r.PathContains != "" && !strings.Contains(relPath, r.PathContains) {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				fs.rules = append(fs.rules[:i], fs.rules[i+1:]...)
			}
		}
		return f
	}
	return nil
}

// answers reports whether the fault replaces the normal answer.
func (f *fault) answers() bool {
	r := &f.rule
	return r.Action != "" || r.Body != nil || r.Status != 0 || r.Code != ""
}

// wait sleeps for the fault's delay; false means the client went away.
func (f *fault) wait(ctx context.Context) bool {
	if f.delay <= 0 {
		return true
	}
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		f.cancelled.Add(1)
		return false
	}
}

// writeAnswer writes the fault's answer (not actions). requestID and
// clientRequestID go into Graph error bodies.
func (f *fault) writeAnswer(w http.ResponseWriter, requestID, clientRequestID string, now time.Time) {
	r := &f.rule
	for k, v := range r.Headers {
		w.Header().Set(k, v)
	}
	if r.RetryAfter != nil {
		w.Header().Set("Retry-After", *r.RetryAfter)
	}
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = contentTypeErrorJSON
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(*r.Body)))
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(*r.Body))
		return
	}
	status := r.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	code, msg := defaultErrorCode(status)
	if r.Code != "" {
		code = r.Code
	}
	if r.Message != "" {
		msg = r.Message
	}
	writeError(w, newError(status, code, msg), requestID, clientRequestID, now)
}

// abortConnection closes the client connection without a (complete)
// answer: by hijacking when possible (with a TCP reset), else by aborting
// the handler the way net/http and Caddy's abort directive do.
func abortConnection(w http.ResponseWriter, flushFirst bool) {
	rc := http.NewResponseController(w)
	if flushFirst {
		_ = rc.Flush()
	}
	conn, _, err := rc.Hijack()
	if err == nil {
		if tc := underlyingTCP(conn); tc != nil {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

func underlyingTCP(c net.Conn) *net.TCPConn {
	for i := 0; i < 4 && c != nil; i++ {
		if tc, ok := c.(*net.TCPConn); ok {
			return tc
		}
		nc, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = nc.NetConn()
	}
	return nil
}

// runAction performs a fault action. produce renders the normal answer
// for the truncate action.
func runAction(w http.ResponseWriter, action string, produce func(http.ResponseWriter)) {
	switch action {
	case FaultActionReset:
		abortConnection(w, false)
	case FaultActionResetAfterHeaders:
		w.Header().Set("Content-Type", contentTypeGraphJSON)
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		abortConnection(w, true)
	case FaultActionResetAfterProcessing:
		produce(newRecorder())
		abortConnection(w, false)
	case FaultActionGzip:
		rec := newRecorder()
		produce(rec)
		var compressed bytes.Buffer
		zw := gzip.NewWriter(&compressed)
		_, _ = zw.Write(rec.body.Bytes())
		_ = zw.Close()
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(compressed.Len()))
		w.WriteHeader(rec.statusCode())
		_, _ = w.Write(compressed.Bytes())
	case FaultActionTruncate:
		rec := newRecorder()
		produce(rec)
		body := rec.body.Bytes()
		if len(body) < 2 {
			body = []byte(`{"value":[]}`)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", contentTypeGraphJSON)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		abortConnection(w, true)
	}
}

// recorder captures a handler's answer (batch items, truncate action).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
