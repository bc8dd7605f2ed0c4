package governor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestBudgetWaitsThenFails(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	res := func(wait time.Duration) *Reservation { return b.NewReservation(ctx, wait) }
	first := res(0)
	if err := first.GrowTo(60); err != nil {
		t.Fatal(err)
	}
	if err := res(0).GrowTo(50); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("over the budget without waiting: %v", err)
	}
	if err := res(time.Hour).GrowTo(101); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("more than the whole budget must fail at once: %v", err)
	}
	second := res(0)
	if err := second.GrowTo(40); err != nil {
		t.Fatalf("what fits is granted: %v", err)
	}
	// A waiter gets its bytes when they are given back within its wait.
	done := make(chan error, 1)
	go func() { done <- res(time.Minute).GrowTo(30) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("granted while the budget is full: %v", err)
	default:
	}
	second.Release()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if got := b.InUse(); got != 90 {
		t.Errorf("in use %d, want 90", got)
	}
	// A waiter whose bytes never come back gives up after its wait.
	started := time.Now()
	if err := res(30 * time.Millisecond).GrowTo(20); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("got %v", err)
	}
	if time.Since(started) < 30*time.Millisecond {
		t.Error("gave up before its wait")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.NewReservation(cancelled, time.Minute).GrowTo(20); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if b.Peak() != 100 {
		t.Errorf("peak %d, want 100", b.Peak())
	}
}

// Two requests that each hold part of what they need and wait for more
// would wait for each other until both time out; the younger is failed at
// once and the older finishes.
func TestBudgetOldestWaiterWins(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	older, younger := b.NewReservation(ctx, time.Minute), b.NewReservation(ctx, time.Minute)
	if older.GrowTo(60) != nil || younger.GrowTo(30) != nil {
		t.Fatal("initial steps")
	}
	olderDone := make(chan error, 1)
	go func() { olderDone <- older.GrowTo(90) }()
	time.Sleep(20 * time.Millisecond)
	started := time.Now()
	err := younger.GrowTo(60)
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("the younger waiter: %v", err)
	}
	if time.Since(started) > 10*time.Second {
		t.Error("the younger waiter was not failed at once")
	}
	younger.Release()
	if err := <-olderDone; err != nil {
		t.Fatalf("the older waiter: %v", err)
	}
	// A small new request still fits beside a waiting large one.
	small := b.NewReservation(ctx, 0)
	if err := small.GrowTo(10); err != nil {
		t.Fatalf("small request: %v", err)
	}
	older.Release()
	small.Release()
	if b.InUse() != 0 {
		t.Errorf("in use %d", b.InUse())
	}
}

func TestReservationGrowsAndReleases(t *testing.T) {
	b := NewBudget(1000)
	r := b.NewReservation(context.Background(), 0)
	for _, total := range []int64{100, 50, 400, 400} {
		if err := r.GrowTo(total); err != nil {
			t.Fatal(err)
		}
	}
	if r.Held() != 400 || b.InUse() != 400 {
		t.Fatalf("held %d, in use %d, want 400", r.Held(), b.InUse())
	}
	other := b.NewReservation(context.Background(), 0)
	if err := other.GrowTo(700); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("got %v", err)
	}
	if other.Held() != 0 {
		t.Error("a failed grow holds nothing new")
	}
	r.ShrinkTo(100)
	if err := other.GrowTo(700); err != nil {
		t.Fatal(err)
	}
	r.Release()
	r.Release()
	other.Release()
	if b.InUse() != 0 {
		t.Errorf("in use %d after release", b.InUse())
	}
	var none *Reservation
	if none.GrowTo(1<<40) != nil || none.Held() != 0 {
		t.Error("a nil reservation grants everything")
	}
	none.Release()
}

func TestBudgetNeverExceededUnderConcurrency(t *testing.T) {
	b := NewBudget(1 << 20)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.NewReservation(context.Background(), 5*time.Millisecond)
			defer r.Release()
			for step := int64(64 << 10); step <= 512<<10; step *= 2 {
				if r.GrowTo(step) != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if b.Peak() > b.Limit() {
		t.Fatalf("peak %d over the limit %d", b.Peak(), b.Limit())
	}
	if b.InUse() != 0 {
		t.Fatalf("%d bytes still reserved", b.InUse())
	}
}
