package push

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerOptions tune a provider's circuit breaker.
type BreakerOptions struct {
	// Threshold is the number of consecutive provider-wide failures that
	// open the breaker. Default 5.
	Threshold int
	// Window bounds a run of failures: a failure more than Window after the
	// first of the run starts a new run. Default 30s.
	Window time.Duration
	// Cooldown is how long the breaker stays open before it lets one probe
	// through. Default 10s.
	Cooldown time.Duration
}

// Breaker defaults.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerWindow    = 30 * time.Second
	DefaultBreakerCooldown  = 10 * time.Second
)

func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.Threshold <= 0 {
		o.Threshold = DefaultBreakerThreshold
	}
	if o.Window <= 0 {
		o.Window = DefaultBreakerWindow
	}
	if o.Cooldown <= 0 {
		o.Cooldown = DefaultBreakerCooldown
	}
	return o
}

// Breaker is a circuit breaker for one push provider (or one APNs
// environment, or one web push allow-list entry). It opens after Threshold
// consecutive provider-wide failures within Window, or at once when the
// provider asks the whole sender to back off; after Cooldown it lets a
// single probe through, and the probe's outcome closes or re-opens it.
//
// Open is lock-free, so a webhook can consult it on every request and
// answer 503 at once. A nil *Breaker is never open.
type Breaker struct {
	opts BreakerOptions
	now  func() time.Time

	// openUntil is the end of the cool-down in Unix nanoseconds, 0 while
	// closed. probing is set while a half-open probe is in flight.
	openUntil atomic.Int64
	probing   atomic.Bool

	mu       sync.Mutex
	failures int
	runStart time.Time
}

// NewBreaker returns a closed breaker.
func NewBreaker(opts BreakerOptions) *Breaker {
	return &Breaker{opts: opts.withDefaults(), now: time.Now}
}

// Open reports whether sends are refused right now: the breaker is open and
// either still cooling down or already probing. It takes no lock.
func (b *Breaker) Open() bool {
	if b == nil {
		return false
	}
	until := b.openUntil.Load()
	if until == 0 {
		return false
	}
	if b.now().UnixNano() < until {
		return true
	}
	return b.probing.Load()
}

// ticket is a permission to send, returned by allow and given back to
// report or abandon.
type ticket uint8

const (
	ticketDenied ticket = iota
	ticketClosed        // the breaker was closed
	ticketProbe         // the single half-open probe
)

// allow asks to send. While closed every send may go; while open none may,
// except one probe once the cool-down has passed.
func (b *Breaker) allow() ticket {
	if b == nil {
		return ticketClosed
	}
	until := b.openUntil.Load()
	if until == 0 {
		return ticketClosed
	}
	if b.now().UnixNano() < until {
		return ticketDenied
	}
	if b.probing.CompareAndSwap(false, true) {
		return ticketProbe
	}
	return ticketDenied
}

// success records a send the provider answered as a healthy service would
// (including answers about one target).
func (b *Breaker) success(t ticket) {
	if b == nil || t == ticketDenied {
		return
	}
	b.mu.Lock()
	b.failures = 0
	if t == ticketProbe {
		b.openUntil.Store(0)
		b.probing.Store(false)
	}
	b.mu.Unlock()
}

// failure records a provider-wide failure. trip > 0 opens the breaker at
// once for that long (at least Cooldown): the provider asked everyone to
// back off.
func (b *Breaker) failure(t ticket, trip time.Duration) {
	if b == nil || t == ticketDenied {
		return
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if t == ticketProbe {
		b.openFor(now, trip)
		b.probing.Store(false)
		return
	}
	if b.openUntil.Load() != 0 {
		// Another send already opened it; keep its cool-down.
		return
	}
	if b.failures == 0 || now.Sub(b.runStart) > b.opts.Window {
		b.failures = 0
		b.runStart = now
	}
	b.failures++
	if trip > 0 || b.failures >= b.opts.Threshold {
		b.openFor(now, trip)
	}
}

// abandon returns a ticket whose send ended without a verdict (the caller
// gave up).
func (b *Breaker) abandon(t ticket) {
	if b != nil && t == ticketProbe {
		b.probing.Store(false)
	}
}

// openFor opens the breaker; b.mu is held.
func (b *Breaker) openFor(now time.Time, trip time.Duration) {
	d := max(b.opts.Cooldown, min(trip, maxRetryAfter))
	b.failures = 0
	b.openUntil.Store(now.Add(d).UnixNano())
}
