package governor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestBudgetReserveWaitsThenFails(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	if err := b.Reserve(ctx, 60, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(ctx, 50, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("over the budget without waiting: %v", err)
	}
	if err := b.Reserve(ctx, 101, time.Hour); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("more than the whole budget must fail at once: %v", err)
	}
	if err := b.Reserve(ctx, 40, 0); err != nil {
		t.Fatalf("what fits is granted: %v", err)
	}
	// A waiter gets its bytes when they are given back within its wait.
	done := make(chan error, 1)
	go func() { done <- b.Reserve(ctx, 30, time.Minute) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("granted while the budget is full: %v", err)
	default:
	}
	b.Release(40)
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if got := b.InUse(); got != 90 {
		t.Errorf("in use %d, want 90", got)
	}
	// A waiter whose bytes never come back gives up after its wait.
	started := time.Now()
	if err := b.Reserve(ctx, 20, 30*time.Millisecond); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("got %v", err)
	}
	if time.Since(started) < 30*time.Millisecond {
		t.Error("gave up before its wait")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Reserve(cancelled, 20, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if b.Peak() != 100 {
		t.Errorf("peak %d, want 100", b.Peak())
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
