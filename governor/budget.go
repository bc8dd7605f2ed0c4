package governor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBudgetExhausted is Reserve's answer when the bytes did not become
// free within the wait.
var ErrBudgetExhausted = errors.New("governor: buffer budget exhausted")

// Budget is a ceiling on the bytes a process holds in buffers for requests
// (request bodies, upstream answers, translated answers): each request
// reserves what it is about to buffer, in steps as its buffers grow, and
// gives it back when it is done. A reservation that does not fit waits, a
// bounded time, for others to give bytes back; then the caller refuses
// the request instead of running the process out of memory. Small
// reservations are never queued behind a large one that does not fit yet.
// It is safe for concurrent use.
type Budget struct {
	limit int64

	mu    sync.Mutex
	used  int64
	peak  int64
	freed chan struct{} // closed and replaced whenever bytes are given back
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit, freed: make(chan struct{})}
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// InUse returns the bytes reserved now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak returns the most bytes ever reserved at once.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Reserve takes n bytes, waiting at most wait for them to become free.
// It fails with ErrBudgetExhausted when they did not (at once when n alone
// exceeds the whole budget), or with ctx's error when ctx ends first.
func (b *Budget) Reserve(ctx context.Context, n int64, wait time.Duration) error {
	if n <= 0 {
		return nil
	}
	if n > b.limit {
		return ErrBudgetExhausted
	}
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			if wait <= 0 {
				return ErrBudgetExhausted
			}
			timer = time.NewTimer(wait)
		}
		select {
		case <-freed:
		case <-timer.C:
			return ErrBudgetExhausted
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// Release gives n reserved bytes back.
func (b *Budget) Release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Reservation is one request's share of a Budget: the bytes it holds,
// grown in steps with Grow and given back at once with Release. It is
// used by one request at a time. A nil *Reservation (no budget) grants
// everything.
type Reservation struct {
	budget *Budget
	wait   time.Duration
	ctx    context.Context
	held   int64
}

// NewReservation starts an empty reservation on b whose GrowTo waits at
// most wait, and gives up when ctx ends. On a nil Budget it returns nil,
// a reservation that grants everything.
func (b *Budget) NewReservation(ctx context.Context, wait time.Duration) *Reservation {
	if b == nil {
		return nil
	}
	return &Reservation{budget: b, wait: wait, ctx: ctx}
}

// Held returns the bytes the reservation holds.
func (r *Reservation) Held() int64 {
	if r == nil {
		return 0
	}
	return r.held
}

// GrowTo makes the reservation hold at least total bytes, reserving the
// difference (see Budget.Reserve). On failure it holds what it held.
func (r *Reservation) GrowTo(total int64) error {
	if r == nil || total <= r.held {
		return nil
	}
	if err := r.budget.Reserve(r.ctx, total-r.held, r.wait); err != nil {
		return err
	}
	r.held = total
	return nil
}

// TryGrowTo is GrowTo without waiting.
func (r *Reservation) TryGrowTo(total int64) error {
	if r == nil || total <= r.held {
		return nil
	}
	if err := r.budget.Reserve(r.ctx, total-r.held, 0); err != nil {
		return err
	}
	r.held = total
	return nil
}

// ForceTo makes the reservation hold at least total bytes without
// waiting, even beyond the budget's limit: it accounts for memory that is
// already in use (a buffer that grew past its estimate), so that later
// reservations see it.
func (r *Reservation) ForceTo(total int64) {
	if r == nil || total <= r.held {
		return
	}
	b := r.budget
	b.mu.Lock()
	b.used += total - r.held
	b.peak = max(b.peak, b.used)
	b.mu.Unlock()
	r.held = total
}

// ShrinkTo gives back what the reservation holds beyond total bytes.
func (r *Reservation) ShrinkTo(total int64) {
	if r == nil || total >= r.held {
		return
	}
	r.budget.Release(r.held - max(total, 0))
	r.held = max(total, 0)
}

// Release gives back everything the reservation holds. It may be called
// more than once.
func (r *Reservation) Release() { r.ShrinkTo(0) }
