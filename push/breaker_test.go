package push

import (
	"context"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestBreaker(clock *fakeClock) *Breaker {
	b := NewBreaker(BreakerOptions{Threshold: 3, Window: 10 * time.Second, Cooldown: 5 * time.Second})
	b.now = clock.now
	return b
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	for i := range 2 {
		b.failure(b.allow(), 0)
		if b.Open() {
			t.Fatalf("open after %d failures, want 3", i+1)
		}
	}
	b.failure(b.allow(), 0)
	if !b.Open() {
		t.Fatal("not open after 3 consecutive failures")
	}
	if b.allow() != ticketDenied {
		t.Fatal("send allowed while cooling down")
	}
}

func TestBreakerSuccessResetsTheRun(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	b.failure(b.allow(), 0)
	b.failure(b.allow(), 0)
	b.success(b.allow())
	b.failure(b.allow(), 0)
	b.failure(b.allow(), 0)
	if b.Open() {
		t.Fatal("open although a success broke the run")
	}
}

func TestBreakerWindowStartsANewRun(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	b.failure(b.allow(), 0)
	b.failure(b.allow(), 0)
	clock.advance(11 * time.Second)
	b.failure(b.allow(), 0)
	if b.Open() {
		t.Fatal("failures spread over more than the window opened the breaker")
	}
	b.failure(b.allow(), 0)
	b.failure(b.allow(), 0)
	if !b.Open() {
		t.Fatal("three failures within the window did not open it")
	}
}

func TestBreakerHalfOpenProbe(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	for range 3 {
		b.failure(b.allow(), 0)
	}
	clock.advance(5 * time.Second)
	if b.Open() {
		t.Fatal("still open after the cool-down with no probe in flight")
	}
	probe := b.allow()
	if probe != ticketProbe {
		t.Fatalf("after cool-down got ticket %d, want the probe", probe)
	}
	if !b.Open() || b.allow() != ticketDenied {
		t.Fatal("a second send went through while the probe is in flight")
	}
	// A failed probe re-opens for another cool-down.
	b.failure(probe, 0)
	if !b.Open() {
		t.Fatal("failed probe did not re-open")
	}
	clock.advance(5 * time.Second)
	probe = b.allow()
	b.success(probe)
	if b.Open() || b.allow() != ticketClosed {
		t.Fatal("successful probe did not close the breaker")
	}
}

func TestBreakerAbandonedProbeFreesTheSlot(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	for range 3 {
		b.failure(b.allow(), 0)
	}
	clock.advance(5 * time.Second)
	b.abandon(b.allow())
	if b.allow() != ticketProbe {
		t.Fatal("an abandoned probe kept the half-open slot")
	}
}

func TestBreakerTripHonoursRetryAfter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newTestBreaker(clock)
	b.failure(b.allow(), 30*time.Second)
	if !b.Open() {
		t.Fatal("a provider-wide back-off did not open at once")
	}
	clock.advance(29 * time.Second)
	if !b.Open() {
		t.Fatal("closed before the provider's Retry-After")
	}
	clock.advance(time.Second)
	if b.Open() {
		t.Fatal("still open after Retry-After")
	}
}

func TestNilBreakerNeverOpens(t *testing.T) {
	var b *Breaker
	if b.Open() || b.allow() != ticketClosed {
		t.Fatal("nil breaker refused")
	}
	b.failure(ticketClosed, time.Hour)
	b.success(ticketClosed)
	b.abandon(ticketProbe)
}

func TestInflightAcquireRespectsContext(t *testing.T) {
	l := NewInflight(1)
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.Acquire(ctx); err == nil {
		t.Fatal("second acquire of a bound of 1 succeeded")
	}
	l.Release()
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal("slot not given back:", err)
	}
	if NewInflight(0).Cap() != DefaultMaxInflight {
		t.Fatal("default bound")
	}
}

func BenchmarkBreakerOpen(b *testing.B) {
	br := NewBreaker(BreakerOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Open() {
				b.Fatal("open")
			}
		}
	})
}
