package caddymodule

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// Best-effort limits of pushes per routing blob, kept in memory only: they
// are operational state, not user data, and a restart merely forgets
// them. Graph may post one change several times, a burst of changes as
// many POSTs, and reauthorizationRequired every 15 minutes as a token
// nears its expiry; the device needs one push for each of those.
const (
	// PushAlertInterval is the least time between two alert pushes for
	// one subscription.
	PushAlertInterval = 10 * time.Second
	// PushHintInterval is the least time between two background pushes
	// (change hints, resubscribe) for one subscription.
	PushHintInterval = time.Minute
	// PushRenewInterval is the least time between two renew pushes for
	// one subscription.
	PushRenewInterval = 6 * time.Hour
	// DefaultMaxTrackedRoutes bounds the table of limits. When it is full
	// the least recently used entry goes: its subscription may then get
	// one push more than the limits allow, never one less.
	DefaultMaxTrackedRoutes = 100000
)

// pushClass is what a push counts against.
type pushClass uint8

const (
	classAlert pushClass = iota
	classHint
	classRenew
	pushClasses
)

var pushClassIntervals = [pushClasses]time.Duration{
	classAlert: PushAlertInterval,
	classHint:  PushHintInterval,
	classRenew: PushRenewInterval,
}

// routeKey names a routing blob in the table: a hash, so the table never
// holds the blob (a capability to trigger pushes) itself.
type routeKey [16]byte

func routeKeyOf(blob string) routeKey {
	sum := sha256.Sum256([]byte(blob))
	var k routeKey
	copy(k[:], sum[:])
	return k
}

type routeLimits struct {
	key  routeKey
	last [pushClasses]time.Time
}

// pushLimits is an LRU table of the last push of each class per routing
// blob, bounded to max entries.
type pushLimits struct {
	mu      sync.Mutex
	max     int
	entries map[routeKey]*list.Element
	lru     *list.List // front: most recently used; values *routeLimits
}

func newPushLimits(max int) *pushLimits {
	return &pushLimits{max: max, entries: make(map[routeKey]*list.Element), lru: list.New()}
}

// take reports whether a push of class c may go out for key at now, and
// if so records it. prev is the time it replaced, for giveBack.
func (l *pushLimits) take(key routeKey, c pushClass, now time.Time) (prev time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *routeLimits
	if el, found := l.entries[key]; found {
		l.lru.MoveToFront(el)
		e = el.Value.(*routeLimits)
	} else {
		if l.lru.Len() >= l.max {
			oldest := l.lru.Back()
			delete(l.entries, oldest.Value.(*routeLimits).key)
			l.lru.Remove(oldest)
		}
		e = &routeLimits{key: key}
		l.entries[key] = l.lru.PushFront(e)
	}
	prev = e.last[c]
	if !prev.IsZero() && now.Sub(prev) < pushClassIntervals[c] {
		return prev, false
	}
	e.last[c] = now
	return prev, true
}

// giveBack undoes a take whose push was not sent at all (the provider's
// breaker was open), so that Graph's retry can push.
func (l *pushLimits) giveBack(key routeKey, c pushClass, taken, prev time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, found := l.entries[key]; found {
		if e := el.Value.(*routeLimits); e.last[c].Equal(taken) {
			e.last[c] = prev
		}
	}
}

// len returns the number of tracked routing blobs.
func (l *pushLimits) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
