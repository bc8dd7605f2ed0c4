package push

import "context"

// DefaultMaxInflight is the default number of sends in flight at once.
const DefaultMaxInflight = 256

// Inflight bounds the number of sends in flight across all senders that
// share it (the max_inflight_sends option). The zero value is not usable;
// use NewInflight.
type Inflight struct {
	slots chan struct{}
}

// NewInflight returns a bound of n concurrent sends; n <= 0 means
// DefaultMaxInflight.
func NewInflight(n int) *Inflight {
	if n <= 0 {
		n = DefaultMaxInflight
	}
	return &Inflight{slots: make(chan struct{}, n)}
}

// Acquire takes a slot, waiting until one is free or ctx ends.
func (l *Inflight) Acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back a slot taken by Acquire.
func (l *Inflight) Release() { <-l.slots }

// InUse reports the number of slots taken, for metrics.
func (l *Inflight) InUse() int { return len(l.slots) }

// Cap reports the bound.
func (l *Inflight) Cap() int { return cap(l.slots) }
