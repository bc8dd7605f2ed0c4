package pushemulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultActionReset closes the connection (HTTP/1) or resets the stream
// (HTTP/2) without answering: a connection failure, as the sender sees it.
const FaultActionReset = "reset"

// FaultRule makes the next requests of a service fail or slow down. Rules
// are tried in order; the first match fires.
type FaultRule struct {
	// Service limits the rule to "apns", "fcm", "oauth" (the FCM token
	// endpoint) or "webpush". Default "" (every service).
	Service string `json:"service,omitempty"`
	// Target limits the rule to one push target: the APNs device token,
	// the FCM token or FID, the Web Push subscription id. Default "" (every
	// target).
	Target string `json:"target,omitempty"`
	// Count is how many requests the rule answers: default 1, 0 =
	// unlimited (until the faults are cleared).
	Count *int `json:"count,omitempty"`
	// Status is the answer's HTTP status: 4xx or 5xx, or a redirect (301,
	// 302, 303, 307, 308) to Location. Default 0: with only a Delay the
	// normal answer comes late.
	Status int `json:"status,omitempty"`
	// Location is where a redirect points; senders must not follow it.
	Location string `json:"location,omitempty"`
	// Reason is the service's error name in the answer: the APNs reason or
	// the FCM errorCode. Default: the service's name for Status (APNs 429
	// TooManyRequests, 500 InternalServerError, 503 ServiceUnavailable;
	// FCM 429 QUOTA_EXCEEDED, 500 INTERNAL, 503 UNAVAILABLE).
	Reason string `json:"reason,omitempty"`
	// RetryAfter is the Retry-After header value. Default "1" for 429 and
	// 503, none otherwise; "" sends none.
	RetryAfter *string `json:"retryAfter,omitempty"`
	// Delay is waited before answering (Go duration, at most 10m); the
	// wait ends early when the client goes away. Default none.
	Delay string `json:"delay,omitempty"`
	// Action "reset" drops the request without an answer instead.
	Action string `json:"action,omitempty"`
}

type fault struct {
	rule      FaultRule
	delay     time.Duration
	remaining int // -1 = unlimited
}

type faultSet struct {
	mu    sync.Mutex
	rules []*fault
}

func (r FaultRule) validate() (time.Duration, error) {
	switch r.Service {
	case "", ServiceAPNs, ServiceFCM, ServiceOAuth, ServiceWebPush:
	default:
		return 0, fmt.Errorf("unknown service %q", r.Service)
	}
	var d time.Duration
	if r.Delay != "" {
		var err error
		d, err = time.ParseDuration(r.Delay)
		if err != nil || d < 0 || d > 10*time.Minute {
			return 0, fmt.Errorf("delay must be a duration from 0 to 10m, got %q", r.Delay)
		}
	}
	switch r.Status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if r.Location == "" || strings.ContainsAny(r.Location, "\r\n") {
			return 0, fmt.Errorf("a redirect needs a location")
		}
	default:
		if r.Status != 0 && (r.Status < 400 || r.Status > 599) {
			return 0, fmt.Errorf("status must be 4xx, 5xx or a redirect, got %d", r.Status)
		}
		if r.Location != "" {
			return 0, fmt.Errorf("location needs a redirect status")
		}
	}
	if r.Target != "" && r.Service != ServiceAPNs && r.Service != ServiceFCM && r.Service != ServiceWebPush {
		return 0, fmt.Errorf("target needs service apns, fcm or webpush")
	}
	switch r.Action {
	case "":
		if r.Status == 0 && d == 0 {
			return 0, fmt.Errorf("a fault needs a status, a delay or an action")
		}
	case FaultActionReset:
		if r.Status != 0 {
			return 0, fmt.Errorf("action reset sends no status")
		}
	default:
		return 0, fmt.Errorf("unknown action %q", r.Action)
	}
	if r.Count != nil && *r.Count < 0 {
		return 0, fmt.Errorf("count must not be negative")
	}
	if r.RetryAfter != nil && strings.ContainsAny(*r.RetryAfter, "\r\n") {
		return 0, fmt.Errorf("invalid retryAfter")
	}
	if strings.ContainsAny(r.Reason, "\r\n\"\\") {
		return 0, fmt.Errorf("invalid reason")
	}
	return d, nil
}

// AddFault installs a fault rule.
func (s *Server) AddFault(r FaultRule) error {
	d, err := r.validate()
	if err != nil {
		return err
	}
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
		out = append(out, r)
	}
	return out
}

// match returns the first rule for service and the target target()
// names, consuming one firing.
func (fs *faultSet) match(service string, target func() string) *fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.rules {
		if f.rule.Service != "" && f.rule.Service != service {
			continue
		}
		if f.rule.Target != "" && !strings.EqualFold(f.rule.Target, target()) {
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

// serveWithFaults counts the request, applies a matching fault and
// otherwise lets serve answer.
func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request, service string, serve func(http.ResponseWriter, *http.Request)) {
	s.stats.count(service, r.RemoteAddr)
	target, targetKnown := "", false
	targetOf := func() string {
		if !targetKnown {
			target, targetKnown = s.requestTarget(r, service), true
		}
		return target
	}
	f := s.faults.match(service, targetOf)
	if f == nil {
		serve(w, r)
		return
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rule := &f.rule
	switch {
	case rule.Action == FaultActionReset:
		s.recordFault(r, service, targetOf(), 0, "connection reset")
		abortConnection(w)
	case rule.Location != "":
		w.Header().Set("Location", rule.Location)
		w.WriteHeader(rule.Status)
		s.recordFault(r, service, targetOf(), rule.Status, "redirect")
	case rule.Status != 0:
		retryAfter := ""
		if rule.RetryAfter != nil {
			retryAfter = *rule.RetryAfter
		} else if rule.Status == http.StatusTooManyRequests || rule.Status == http.StatusServiceUnavailable {
			retryAfter = "1"
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		reason := s.writeFaultAnswer(w, service, rule.Status, rule.Reason)
		s.recordFault(r, service, targetOf(), rule.Status, reason)
	default:
		serve(w, r)
	}
}

// recordFault records a request answered by a fault (token endpoint
// requests are not pushes and are only counted).
func (s *Server) recordFault(r *http.Request, service, target string, status int, reason string) {
	if service == ServiceOAuth {
		return
	}
	p := Push{Service: service, Target: target, Proto: r.Proto, Host: r.Host, Time: s.opts.Now(), Status: status, Reason: reason, Fault: true}
	switch service {
	case ServiceAPNs:
		p.Headers = recordHeaders(r, apnsRecordedHeaders...)
		p.Environment = s.apnsEnvironment(r)
	case ServiceWebPush:
		p.Headers = recordHeaders(r, webPushRecordedHeaders...)
	}
	s.record.add(p)
}

// requestTarget names the push target of a request before it is served:
// from the path for APNs and Web Push, from the body's message.token or
// message.fid for FCM (the body is put back for the handler).
func (s *Server) requestTarget(r *http.Request, service string) string {
	switch service {
	case ServiceAPNs:
		return strings.ToLower(strings.TrimPrefix(r.URL.EscapedPath(), "/3/device/"))
	case ServiceWebPush:
		return strings.TrimPrefix(r.URL.EscapedPath(), s.opts.WebPushPath+"/")
	case ServiceFCM:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxFCMRequestBody+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
		if err != nil {
			return ""
		}
		var req struct {
			Message struct {
				Token string `json:"token"`
				FID   string `json:"fid"`
			} `json:"message"`
		}
		if json.Unmarshal(data, &req) != nil {
			return ""
		}
		if req.Message.Token != "" {
			return req.Message.Token
		}
		return req.Message.FID
	}
	return ""
}

// writeFaultAnswer writes the service's error shape and returns the reason.
func (s *Server) writeFaultAnswer(w http.ResponseWriter, service string, status int, reason string) string {
	switch service {
	case ServiceAPNs:
		if reason == "" {
			reason = apnsDefaultReason(status)
		}
		w.Header().Set("apns-id", newUUID())
		writeAPNsReason(w, status, reason, 0)
	case ServiceFCM:
		gs, code := googleStatusFor(status)
		if reason == "" {
			reason = code
		}
		writeGoogleError(w, status, gs, "Injected fault.", reason, nil)
	case ServiceOAuth:
		if reason == "" {
			reason = "internal_failure"
		}
		writeOAuthError(w, status, reason, "Injected fault.")
	default:
		if reason == "" {
			reason = http.StatusText(status)
		}
		writeText(w, status, reason)
	}
	return reason
}

// abortConnection drops the request without an answer: a TCP close for
// HTTP/1 (hijacked), a stream reset for HTTP/2.
func abortConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
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

// writeText writes a plain-text answer.
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}
