package governor

import (
	"context"
	"crypto/rand"
	"math"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxInflightPerMailbox = 4
	DefaultQueueTimeout          = 10 * time.Second
	DefaultMaxTrackedMailboxes   = 100_000
)

// MaxClaims is the most distinct mailboxes one ticket holds slots of
// (Graph's $batch limit of 20 requests); further mailboxes a lister
// reports are not governed.
const MaxClaims = 20

// BatchParallelism is how many items of one $batch Outlook runs at once,
// whatever their mailbox: a $batch weighs at most this much per mailbox.
const BatchParallelism = 4

// expiredPerLookup bounds how many idle entries whose Retry-After has
// passed one table lookup removes from the cold end of the idle list:
// cleaning up costs O(1) per request, never a sweep of the table.
const expiredPerLookup = 4

// Options configure a Governor. Zero values take the defaults.
type Options struct {
	// MaxInflightPerMailbox is the most upstream requests in flight per
	// mailbox; a $batch weighs one per sub-request for the mailbox, at
	// most BatchParallelism. Default: 4.
	MaxInflightPerMailbox int
	// QueueTimeout is how long a request waits for its mailboxes' slots
	// before Acquire gives up with ReasonQueueTimeout. Default: 10s.
	QueueTimeout time.Duration
	// MaxTrackedMailboxes bounds the table of mailboxes with requests in
	// flight, queued or under a Retry-After. When it is full, a new
	// mailbox evicts the least recently used entry kept only for a
	// Retry-After; when every entry is busy, requests for new mailboxes
	// go ungoverned. Default: 100000.
	MaxTrackedMailboxes int
}

// Reason says why Acquire answered a request itself.
type Reason string

// Reasons of a Decision.
const (
	// ReasonQueueTimeout: no free slot within the queue timeout.
	ReasonQueueTimeout Reason = "queue_timeout"
	// ReasonRetryAfter: an upstream Retry-After for a mailbox is pending.
	ReasonRetryAfter Reason = "retry_after"
)

// Decision is Acquire's answer for a request that must not go upstream.
type Decision struct {
	Reason Reason
	// RetryAfter is the rest of a pending upstream Retry-After in whole
	// seconds, rounded up (ReasonRetryAfter), or 0 (ReasonQueueTimeout:
	// the caller chooses its own hint).
	RetryAfter int
}

// mailboxKey identifies one mailbox of one user: HMAC-SHA256 under the
// governor's random secret of the token's identity and the mailbox
// argument. The inputs are not kept.
type mailboxKey [32]byte

// Governor is the per-mailbox throttling state of one handler. It is safe
// for concurrent use.
type Governor struct {
	limit        int
	queueTimeout time.Duration
	maxKeys      int
	secret       [32]byte
	now          func() time.Time
	// newTimer starts the queue timeout; tests replace it.
	newTimer func(time.Duration) (<-chan time.Time, func() bool)

	mu      sync.Mutex
	entries map[mailboxKey]*mailboxEntry
	// idle links the entries with nothing in flight and nobody waiting —
	// kept only for a pending Retry-After — from the most recently used
	// (idle.next) to the least (idle.prev). Eviction takes idle.prev.
	idle mailboxEntry
}

// mailboxEntry is the governor's state for one mailbox. It is removed as
// soon as nothing is in flight, nobody waits and no Retry-After is pending;
// while only a Retry-After keeps it, it is on the idle list.
type mailboxEntry struct {
	key        mailboxKey
	inflight   int
	waiters    []*mailboxWaiter // first come, first served
	retryUntil time.Time
	prev, next *mailboxEntry // idle list links; nil when not on it
}

// active reports whether requests hold or wait for the entry's slots.
func (e *mailboxEntry) active() bool { return e.inflight > 0 || len(e.waiters) > 0 }

// mailboxWaiter is a request queued for a mailbox's slots.
type mailboxWaiter struct {
	weight  int
	ready   chan struct{} // closed once granted
	granted bool
}

// New returns a Governor with a fresh random secret.
func New(opts Options) *Governor {
	if opts.MaxInflightPerMailbox <= 0 {
		opts.MaxInflightPerMailbox = DefaultMaxInflightPerMailbox
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = DefaultQueueTimeout
	}
	if opts.MaxTrackedMailboxes <= 0 {
		opts.MaxTrackedMailboxes = DefaultMaxTrackedMailboxes
	}
	g := &Governor{
		limit:        opts.MaxInflightPerMailbox,
		queueTimeout: opts.QueueTimeout,
		maxKeys:      opts.MaxTrackedMailboxes,
		now:          time.Now,
		entries:      make(map[mailboxKey]*mailboxEntry),
		newTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	g.idle.prev, g.idle.next = &g.idle, &g.idle
	_, _ = rand.Read(g.secret[:]) // crypto/rand.Read never fails (Go 1.24+)
	return g
}

// Acquire takes the ticket's slots, mailbox by mailbox in key order (so
// two requests needing several mailboxes cannot deadlock), queueing for at
// most the queue timeout in all. It returns nil once every slot is held,
// or a Decision: a Retry-After for one of the mailboxes is pending, or the
// queue timed out. When ctx ends while queued it returns a Decision too;
// the caller sees ctx.Err() and answers nobody. After a Decision the
// ticket holds nothing.
func (g *Governor) Acquire(ctx context.Context, t *Ticket) *Decision {
	if d := g.pendingRetryAfter(t); d != nil {
		return d
	}
	var timeout <-chan time.Time
	stop := func() bool { return false }
	defer func() { stop() }()
	for i := 0; i < t.n; i++ {
		c := &t.claims[i]
		g.mu.Lock()
		e := g.entry(c.key)
		if e == nil {
			g.mu.Unlock()
			continue
		}
		if len(e.waiters) == 0 && e.inflight+c.weight <= g.limit {
			e.inflight += c.weight
			c.held = true
			g.settle(e, g.now())
			g.mu.Unlock()
			continue
		}
		w := &mailboxWaiter{weight: c.weight, ready: make(chan struct{})}
		e.waiters = append(e.waiters, w)
		g.settle(e, g.now())
		g.mu.Unlock()
		if timeout == nil {
			timeout, stop = g.newTimer(g.queueTimeout)
		}
		select {
		case <-w.ready:
			c.held = true
			continue
		case <-timeout:
		case <-ctx.Done():
		}
		g.mu.Lock()
		if w.granted {
			c.held = true
		} else {
			g.dropWaiter(e, w)
		}
		g.mu.Unlock()
		t.Release()
		return &Decision{Reason: ReasonQueueTimeout}
	}
	// A Retry-After may have arrived while this request queued.
	if d := g.pendingRetryAfter(t); d != nil {
		t.Release()
		return d
	}
	return nil
}

// pendingRetryAfter answers for a ticket one of whose mailboxes is still
// inside an upstream Retry-After: the longest remaining wait rounded up to
// whole seconds.
func (g *Governor) pendingRetryAfter(t *Ticket) *Decision {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var longest time.Duration
	for i := 0; i < t.n; i++ {
		if e := g.entries[t.claims[i].key]; e != nil {
			longest = max(longest, e.retryUntil.Sub(now))
		}
	}
	if longest <= 0 {
		return nil
	}
	secs := max(int(math.Ceil(longest.Seconds())), 1)
	return &Decision{Reason: ReasonRetryAfter, RetryAfter: secs}
}

// Tracked returns how many mailboxes the governor currently tracks.
func (g *Governor) Tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}

// entry returns the key's entry, creating it when needed; the caller
// settles it once it changed it. When the table is full, the least
// recently used idle entry is evicted to make room (dropping its
// Retry-After); when every entry is active, entry returns nil and the
// request goes ungoverned rather than failing every user. It first drops
// a few idle entries whose Retry-After has passed. O(1); called with g.mu
// held.
func (g *Governor) entry(key mailboxKey) *mailboxEntry {
	now := g.now()
	for i := 0; i < expiredPerLookup; i++ {
		oldest := g.idle.prev
		if oldest == &g.idle || oldest.retryUntil.After(now) {
			break
		}
		g.remove(oldest)
	}
	if e := g.entries[key]; e != nil {
		return e
	}
	if len(g.entries) >= g.maxKeys {
		oldest := g.idle.prev
		if oldest == &g.idle {
			return nil
		}
		g.remove(oldest)
	}
	e := &mailboxEntry{key: key}
	g.entries[key] = e
	return e
}

// settle files e after a change: off the idle list while active, at the
// front of it while only a pending Retry-After keeps it, out of the table
// otherwise. Called with g.mu held.
func (g *Governor) settle(e *mailboxEntry, now time.Time) {
	switch {
	case e.active():
		g.unlinkIdle(e)
	case e.retryUntil.After(now):
		g.unlinkIdle(e)
		e.prev, e.next = &g.idle, g.idle.next
		e.prev.next, e.next.prev = e, e
	default:
		g.remove(e)
	}
}

// unlinkIdle takes e off the idle list if it is on it. Called with g.mu held.
func (g *Governor) unlinkIdle(e *mailboxEntry) {
	if e.next == nil {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// remove deletes e from the table. Called with g.mu held.
func (g *Governor) remove(e *mailboxEntry) {
	g.unlinkIdle(e)
	if g.entries[e.key] == e {
		delete(g.entries, e.key)
	}
}

// grant lets queued requests in, first come first served, while the head
// of the queue fits. Called with g.mu held.
func (g *Governor) grant(e *mailboxEntry) {
	for len(e.waiters) > 0 && e.inflight+e.waiters[0].weight <= g.limit {
		w := e.waiters[0]
		e.waiters[0] = nil
		e.waiters = e.waiters[1:]
		e.inflight += w.weight
		w.granted = true
		close(w.ready)
	}
	if len(e.waiters) == 0 {
		e.waiters = nil
	}
}

// dropWaiter removes a waiter that gave up; the ones behind it may fit
// now. Called with g.mu held.
func (g *Governor) dropWaiter(e *mailboxEntry, w *mailboxWaiter) {
	for i, x := range e.waiters {
		if x == w {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			break
		}
	}
	g.grant(e)
	g.settle(e, g.now())
}
