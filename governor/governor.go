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

// sweepInterval is how often idle entries whose Retry-After passed are
// removed from the table.
const sweepInterval = time.Minute

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
	// flight, queued or under a Retry-After. Requests for new mailboxes
	// while it is full go ungoverned. Default: 100000.
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

	mu        sync.Mutex
	entries   map[mailboxKey]*mailboxEntry
	nextSweep time.Time
}

// mailboxEntry is the governor's state for one mailbox. It is removed as
// soon as nothing is in flight, nobody waits and no Retry-After is pending.
type mailboxEntry struct {
	inflight   int
	waiters    []*mailboxWaiter // first come, first served
	retryUntil time.Time
}

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
			g.mu.Unlock()
			continue
		}
		w := &mailboxWaiter{weight: c.weight, ready: make(chan struct{})}
		e.waiters = append(e.waiters, w)
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
			g.dropWaiter(c.key, e, w)
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

// entry returns the key's entry, creating it when needed. It returns nil
// when the table is full even after removing idle entries: the request
// then goes ungoverned rather than failing every user.
// Called with g.mu held.
func (g *Governor) entry(key mailboxKey) *mailboxEntry {
	now := g.now()
	if !now.Before(g.nextSweep) {
		g.sweep(now)
	}
	if e := g.entries[key]; e != nil {
		return e
	}
	if len(g.entries) >= g.maxKeys {
		g.sweep(now)
		if len(g.entries) >= g.maxKeys {
			return nil
		}
	}
	e := &mailboxEntry{}
	g.entries[key] = e
	return e
}

// sweep removes every idle entry. Called with g.mu held.
func (g *Governor) sweep(now time.Time) {
	for key, e := range g.entries {
		g.removeIfIdle(key, e, now)
	}
	g.nextSweep = now.Add(sweepInterval)
}

// removeIfIdle deletes e when nothing is in flight, nobody waits and its
// Retry-After has passed. Called with g.mu held.
func (g *Governor) removeIfIdle(key mailboxKey, e *mailboxEntry, now time.Time) {
	if e.inflight == 0 && len(e.waiters) == 0 && !e.retryUntil.After(now) {
		delete(g.entries, key)
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
func (g *Governor) dropWaiter(key mailboxKey, e *mailboxEntry, w *mailboxWaiter) {
	for i, x := range e.waiters {
		if x == w {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			break
		}
	}
	g.grant(e)
	g.removeIfIdle(key, e, g.now())
}
