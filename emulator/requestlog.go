package emulator

import (
	"net/http"
	"sync"
)

// RequestRecord is one request the Graph side received, as listed by the
// control API's request log.
type RequestRecord struct {
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the escaped path as received.
	Path string `json:"path"`
	// Query is the raw query string.
	Query string `json:"query"`
	// Headers are the request headers, plus Host; Authorization is replaced
	// by "present".
	Headers map[string][]string `json:"headers"`
	// BatchItem marks a $batch sub-request.
	BatchItem bool `json:"batchItem,omitempty"`
}

// requestLog is a bounded ring of RequestRecords.
type requestLog struct {
	mu    sync.Mutex
	ring  []RequestRecord
	next  int
	count int
}

func newRequestLog(size int) *requestLog {
	return &requestLog{ring: make([]RequestRecord, size)}
}

func (l *requestLog) add(r *http.Request, batchItem bool) {
	h := make(map[string][]string, len(r.Header)+1)
	for k, v := range r.Header {
		if http.CanonicalHeaderKey(k) == "Authorization" {
			h["Authorization"] = []string{"present"}
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	if r.Host != "" {
		h["Host"] = []string{r.Host}
	}
	rec := RequestRecord{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Headers: h, BatchItem: batchItem}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = rec
	l.next = (l.next + 1) % len(l.ring)
	if l.count < len(l.ring) {
		l.count++
	}
}

// list returns the records oldest first.
func (l *requestLog) list() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RequestRecord, 0, l.count)
	start := (l.next - l.count + len(l.ring)) % len(l.ring)
	for i := 0; i < l.count; i++ {
		out = append(out, l.ring[(start+i)%len(l.ring)])
	}
	return out
}

func (l *requestLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.ring)
	l.next, l.count = 0, 0
}

// Requests returns the logged Graph requests, oldest first.
func (s *Server) Requests() []RequestRecord { return s.requests.list() }

// ClearRequests empties the request log.
func (s *Server) ClearRequests() { s.requests.clear() }
