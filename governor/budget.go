package governor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBudgetExhausted is a reservation's answer when the bytes did not
// become free within its wait, or when it was given up so that an older
// request could finish.
var ErrBudgetExhausted = errors.New("governor: buffer budget exhausted")

// Budget is a ceiling on the bytes a process holds in buffers for requests
// (request bodies, upstream answers, translated answers). Each request
// holds a Reservation that it grows, in steps, before its buffers grow,
// and gives back when it is done.
//
// A step that does not fit waits, a bounded time, for bytes to come back.
// Requests that hold part of what they need and wait for more could wait
// for each other until all time out; the budget prevents that the way
// databases prevent lock deadlocks ("wound-wait"): the oldest waiting
// reservation is never given up, and younger waiting reservations that
// hold bytes are failed at once when the oldest needs their bytes. So the
// oldest request always finishes, and the ones refused are refused early.
// A step that fits is granted at once, whoever waits, so small requests
// never queue behind a large one. Budget is safe for concurrent use.
type Budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64
	age     uint64
	waiters []*budgetWaiter // oldest reservation first
}

// budgetWaiter is a step waiting for bytes.
type budgetWaiter struct {
	res     *Reservation
	n       int64
	ready   chan struct{} // closed when granted or wounded
	granted bool
	wounded bool
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit}
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

// Reservation is one request's share of a Budget: the bytes it holds,
// grown in steps and given back at once with Release. It is used by one
// request at a time. A nil *Reservation (no budget) grants everything.
type Reservation struct {
	budget *Budget
	wait   time.Duration
	ctx    context.Context
	age    uint64 // smaller is older
	held   int64  // changed under budget.mu
}

// NewReservation starts an empty reservation on b whose GrowTo waits at
// most wait, and gives up when ctx ends. On a nil Budget it returns nil,
// a reservation that grants everything.
func (b *Budget) NewReservation(ctx context.Context, wait time.Duration) *Reservation {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	b.age++
	age := b.age
	b.mu.Unlock()
	return &Reservation{budget: b, wait: wait, ctx: ctx, age: age}
}

// Held returns the bytes the reservation holds.
func (r *Reservation) Held() int64 {
	if r == nil {
		return 0
	}
	return r.held
}

// GrowTo makes the reservation hold at least total bytes, waiting as the
// reservation's wait allows. It fails with ErrBudgetExhausted (at once
// when total exceeds the whole budget) or with the context's error; on
// failure the reservation holds what it held, and the caller should give
// up its request and Release.
func (r *Reservation) GrowTo(total int64) error {
	if r == nil || total <= r.held {
		return nil
	}
	return r.budget.reserve(r, total-r.held, r.wait)
}

// TryGrowTo is GrowTo without waiting.
func (r *Reservation) TryGrowTo(total int64) error {
	if r == nil || total <= r.held {
		return nil
	}
	return r.budget.reserve(r, total-r.held, 0)
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
	r.held = total
	b.mu.Unlock()
}

// ShrinkTo gives back what the reservation holds beyond total bytes.
func (r *Reservation) ShrinkTo(total int64) {
	if r == nil || total >= r.held {
		return
	}
	total = max(total, 0)
	b := r.budget
	b.mu.Lock()
	b.used -= r.held - total
	r.held = total
	b.resolve()
	b.mu.Unlock()
}

// Release gives back everything the reservation holds. It may be called
// more than once.
func (r *Reservation) Release() { r.ShrinkTo(0) }

// reserve adds n bytes to r, waiting at most wait.
func (b *Budget) reserve(r *Reservation, n int64, wait time.Duration) error {
	if r.held+n > b.limit {
		return ErrBudgetExhausted
	}
	b.mu.Lock()
	if b.used+n <= b.limit {
		b.grantLocked(r, n)
		b.mu.Unlock()
		return nil
	}
	if wait <= 0 {
		b.mu.Unlock()
		return ErrBudgetExhausted
	}
	w := &budgetWaiter{res: r, n: n, ready: make(chan struct{})}
	i := len(b.waiters)
	for i > 0 && b.waiters[i-1].res.age > r.age {
		i--
	}
	b.waiters = append(b.waiters, nil)
	copy(b.waiters[i+1:], b.waiters[i:])
	b.waiters[i] = w
	b.resolve()
	b.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.ready:
	case <-timer.C:
	case <-r.ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted {
		return nil
	}
	if !w.wounded {
		b.dropWaiter(w)
	}
	if err := r.ctx.Err(); err != nil && !w.wounded {
		return err
	}
	return ErrBudgetExhausted
}

// grantLocked adds n bytes to r. Called with b.mu held.
func (b *Budget) grantLocked(r *Reservation, n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
	r.held += n
}

// resolve grants waiting steps that fit, oldest first, then fails younger
// waiting reservations that hold bytes, youngest first, until what they
// hold and what running requests hold would let the oldest waiting step
// fit. Called with b.mu held.
func (b *Budget) resolve() {
	for i := 0; i < len(b.waiters); {
		w := b.waiters[i]
		if b.used+w.n <= b.limit {
			b.grantLocked(w.res, w.n)
			w.granted = true
			close(w.ready)
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			continue
		}
		i++
	}
	if len(b.waiters) == 0 {
		return
	}
	// Bytes held by reservations that are not waiting come back when
	// those requests finish (or wait, and are resolved then); only what
	// they cannot cover is taken from younger waiters.
	oldest := b.waiters[0]
	waitingHeld := int64(0)
	for _, w := range b.waiters {
		waitingHeld += w.res.held
	}
	deficit := b.used + oldest.n - b.limit - (b.used - waitingHeld)
	for i := len(b.waiters) - 1; i > 0 && deficit > 0; i-- {
		w := b.waiters[i]
		if w.res.held == 0 {
			continue
		}
		deficit -= w.res.held
		w.wounded = true
		close(w.ready)
		b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
	}
}

// dropWaiter removes a waiter that gave up. Called with b.mu held.
func (b *Budget) dropWaiter(w *budgetWaiter) {
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	b.resolve()
}
