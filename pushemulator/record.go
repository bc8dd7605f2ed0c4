package pushemulator

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Push is one request a push surface received, as the control API lists it.
// Requests that were refused are recorded too, with their status and reason.
type Push struct {
	// Seq numbers the records from 1, in arrival order.
	Seq int64 `json:"seq"`
	// Service is "apns", "fcm" or "webpush".
	Service string `json:"service"`
	// Target is the APNs device token (lower-case hex), the FCM
	// registration token or FID, or the Web Push subscription id; empty
	// when the request named none.
	Target string `json:"target,omitempty"`
	// TargetKind is "token" or "fid" for FCM; empty otherwise.
	TargetKind string `json:"targetKind,omitempty"`
	// Proto is the request's protocol, e.g. "HTTP/2.0".
	Proto string `json:"proto"`
	// Host is the request's host (HTTP/2 :authority).
	Host string `json:"host"`
	// Environment is the APNs environment the request reached,
	// "production" or "sandbox" (see Options.APNsSandboxHosts).
	Environment string `json:"environment,omitempty"`
	// Headers are the request headers that matter to the service (APNs'
	// apns-*, Web Push's TTL, Urgency, Topic and Content-Encoding), first
	// value each. Authorization is never recorded.
	Headers map[string]string `json:"headers,omitempty"`
	// Auth describes the verified credentials: APNs "kid", "iss" and
	// "iat"; FCM "client_email"; Web Push "sub", "aud", "exp" and "k".
	Auth map[string]string `json:"auth,omitempty"`
	// Payload is the decoded payload when it is JSON: the APNs body, the
	// FCM message object, the decrypted Web Push plaintext.
	Payload json.RawMessage `json:"payload,omitempty"`
	// PayloadText is the decrypted Web Push plaintext when it is not JSON.
	PayloadText string `json:"payloadText,omitempty"`
	// Time is when the request arrived.
	Time time.Time `json:"time"`
	// Status is the HTTP status answered.
	Status int `json:"status"`
	// Reason is the error answered: the APNs reason, the FCM errorCode (or
	// status), a Web Push error text; empty on success.
	Reason string `json:"reason,omitempty"`
	// Fault is true when an injected fault produced the answer.
	Fault bool `json:"fault,omitempty"`
	// ID is the apns-id, the FCM message name or the Web Push message
	// Location of an accepted push.
	ID string `json:"id,omitempty"`
	// ValidateOnly marks an FCM validate_only request (not delivered).
	ValidateOnly bool `json:"validateOnly,omitempty"`
	// Problems lists what the service accepts but a correct sender would
	// not do (e.g. a background push with an alert); the push is delivered
	// anyway, as the real service would.
	Problems []string `json:"problems,omitempty"`
}

// Delivered reports whether the service accepted the push.
func (p Push) Delivered() bool { return p.Status >= 200 && p.Status < 300 && !p.ValidateOnly }

// PushFilter selects records; empty fields match everything.
type PushFilter struct {
	// Service matches Push.Service.
	Service string
	// Target matches Push.Target.
	Target string
	// AfterSeq keeps records with Seq greater than it.
	AfterSeq int64
	// DeliveredOnly keeps accepted pushes only.
	DeliveredOnly bool
}

func (f PushFilter) match(p *Push) bool {
	return (f.Service == "" || f.Service == p.Service) && (f.Target == "" || f.Target == p.Target) &&
		p.Seq > f.AfterSeq && (!f.DeliveredOnly || p.Delivered())
}

// pushRecord is a bounded ring of Pushes.
type pushRecord struct {
	mu      sync.Mutex
	ring    []Push
	next    int
	count   int
	seq     int64
	changed chan struct{} // closed and replaced on every add
}

func newPushRecord(size int) *pushRecord {
	return &pushRecord{ring: make([]Push, size), changed: make(chan struct{})}
}

func (l *pushRecord) add(p Push) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	p.Seq = l.seq
	l.ring[l.next] = p
	l.next = (l.next + 1) % len(l.ring)
	if l.count < len(l.ring) {
		l.count++
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// list returns the matching records oldest first, and a channel closed on
// the next add.
func (l *pushRecord) list(f PushFilter) ([]Push, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Push, 0)
	start := (l.next - l.count + len(l.ring)) % len(l.ring)
	for i := 0; i < l.count; i++ {
		p := &l.ring[(start+i)%len(l.ring)]
		if f.match(p) {
			out = append(out, *p)
		}
	}
	return out, l.changed
}

func (l *pushRecord) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.ring)
	l.next, l.count = 0, 0
}

// Sent returns the recorded pushes matching f, oldest first.
func (s *Server) Sent(f PushFilter) []Push {
	out, _ := s.record.list(f)
	return out
}

// WaitSent waits until at least n records match f or ctx ends, and returns
// the matching records.
func (s *Server) WaitSent(ctx context.Context, f PushFilter, n int) []Push {
	for {
		out, changed := s.record.list(f)
		if len(out) >= n {
			return out
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return out
		}
	}
}

// ClearSent empties the record (sequence numbers keep counting).
func (s *Server) ClearSent() { s.record.clear() }

// recordHeaders copies the first value of each named header present in r.
func recordHeaders(r *http.Request, names ...string) map[string]string {
	var h map[string]string
	for _, n := range names {
		if v := r.Header.Values(n); len(v) > 0 {
			if h == nil {
				h = map[string]string{}
			}
			h[http.CanonicalHeaderKey(n)] = v[0]
		}
	}
	return h
}

// ServiceStats counts what one service received.
type ServiceStats struct {
	// Requests is the number of requests.
	Requests int64 `json:"requests"`
	// Connections is the number of distinct client connections (remote
	// addresses) that sent requests; an HTTP/2 client reusing its
	// connection counts once.
	Connections int64 `json:"connections"`
}

// maxTrackedConnections bounds the remembered remote addresses per service.
const maxTrackedConnections = 100000

// serviceStats counts requests and connections per service.
type serviceStats struct {
	mu    sync.Mutex
	stats map[string]*ServiceStats
	seen  map[string]map[string]struct{}
}

func newServiceStats() *serviceStats {
	st := &serviceStats{}
	st.reset()
	return st
}

func (st *serviceStats) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stats = map[string]*ServiceStats{}
	st.seen = map[string]map[string]struct{}{}
	for _, svc := range []string{ServiceAPNs, ServiceFCM, ServiceOAuth, ServiceWebPush} {
		st.stats[svc] = &ServiceStats{}
		st.seen[svc] = map[string]struct{}{}
	}
}

func (st *serviceStats) count(service, remoteAddr string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.stats[service]
	s.Requests++
	seen := st.seen[service]
	if _, ok := seen[remoteAddr]; !ok {
		if len(seen) < maxTrackedConnections {
			seen[remoteAddr] = struct{}{}
		}
		s.Connections++
	}
}

// Stats returns the request and connection counts per service ("apns",
// "fcm", "oauth", "webpush").
func (s *Server) Stats() map[string]ServiceStats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := make(map[string]ServiceStats, len(s.stats.stats))
	for k, v := range s.stats.stats {
		out[k] = *v
	}
	return out
}

// ResetStats sets every count to zero.
func (s *Server) ResetStats() { s.stats.reset() }
