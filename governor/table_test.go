package governor

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// fillUnderRetryAfter files n mailboxes (one token each) that Graph asked
// to wait an hour: idle entries the table must keep.
func fillUnderRetryAfter(tb testing.TB, g *Governor, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		ticket := g.Ticket("Bearer filler-"+strconv.Itoa(i), direct(""))
		ticket.NoteRetryAfterAll(3600)
	}
	if got := g.Tracked(); got != n {
		tb.Fatalf("tracked %d, want %d", got, n)
	}
}

// BenchmarkGovernorNewMailboxFullTable admits requests for mailboxes the
// governor has not seen while its table is full of mailboxes under an
// upstream Retry-After, the state of a busy instance after a wave of
// throttling.
func BenchmarkGovernorNewMailboxFullTable(b *testing.B) {
	const tracked = 100_000
	g := newGov(4, time.Second, tracked)
	fillUnderRetryAfter(b, g, tracked)
	ctx := context.Background()
	tokens := make([]string, 4096)
	for i := range tokens {
		tokens[i] = "Bearer newcomer-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ticket := g.Ticket(tokens[i%len(tokens)], direct(""))
		i++
		if d := g.Acquire(ctx, ticket); d != nil {
			b.Fatalf("a new mailbox was throttled: %+v", d)
		}
		ticket.Release()
	}
}

// checkTable verifies the table's invariants: at most maxKeys entries,
// and the idle list holds exactly the entries nobody holds or waits for.
func checkTable(t *testing.T, g *Governor) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.entries) > g.maxKeys {
		t.Fatalf("table holds %d entries, cap %d", len(g.entries), g.maxKeys)
	}
	onList := 0
	for e := g.idle.next; e != &g.idle; e = e.next {
		onList++
		if e.active() {
			t.Fatal("an active entry is on the idle list")
		}
		if g.entries[e.key] != e {
			t.Fatal("an entry on the idle list is not in the table")
		}
	}
	idle := 0
	for _, e := range g.entries {
		if !e.active() {
			idle++
			if e.next == nil {
				t.Fatalf("an idle entry is not on the idle list: %+v now %v", e, g.now())
			}
		}
	}
	if idle != onList {
		t.Fatalf("%d idle entries, %d on the idle list", idle, onList)
	}
}

func tracks(g *Governor, ticket *Ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entries[ticket.claims[0].key] != nil
}

func TestGovernorEvictsLeastRecentlyUsedIdleEntry(t *testing.T) {
	g, _, _ := testGovernor(1, 4)
	ctx := context.Background()
	ticket := func(name string) *Ticket { return g.Ticket("Bearer "+name, direct("")) }

	holding := ticket("holding") // a request in flight
	if g.Acquire(ctx, holding) != nil {
		t.Fatal("holding")
	}
	queuedHolder := ticket("queued") // in flight, with one waiting behind it
	if g.Acquire(ctx, queuedHolder) != nil {
		t.Fatal("queued")
	}
	waiter := acquireAsync(ctx, g, ticket("queued"))
	waitQueued(t, g, 1)
	older, newer := ticket("older"), ticket("newer")
	older.NoteRetryAfterAll(600)
	newer.NoteRetryAfterAll(600)
	checkTable(t, g)

	// A new mailbox evicts the least recently used idle entry.
	first := ticket("first")
	if g.Acquire(ctx, first) != nil {
		t.Fatal("first")
	}
	checkTable(t, g)
	if tracks(g, older) || !tracks(g, newer) || !tracks(g, holding) || !tracks(g, queuedHolder) {
		t.Fatal("the eviction did not pick the least recently used idle entry")
	}
	// Using an idle entry (another Retry-After) makes it recent.
	newer.NoteRetryAfterAll(600)
	second := ticket("second")
	if g.Acquire(ctx, second) != nil {
		t.Fatal("second")
	}
	if tracks(g, newer) {
		t.Fatal("the last idle entry was not evicted")
	}
	checkTable(t, g)
	// Every entry is active now: a further mailbox goes ungoverned, and
	// nothing in flight or queued is evicted.
	third := ticket("third")
	if d := g.Acquire(ctx, third); d != nil {
		t.Fatalf("an ungoverned request was throttled: %+v", d)
	}
	if tracks(g, third) || !tracks(g, holding) || !tracks(g, queuedHolder) || !tracks(g, first) || !tracks(g, second) {
		t.Fatal("an active entry was evicted")
	}
	checkTable(t, g)
	queuedHolder.Release()
	if d := mustGet(t, waiter); d != nil {
		t.Fatalf("the queued request lost its place: %+v", d)
	}
	for _, tk := range []*Ticket{holding, first, second, third} {
		tk.Release()
	}
	checkTable(t, g)
}

func TestGovernorTableNeverExceedsCap(t *testing.T) {
	g, clock, _ := testGovernor(2, 16)
	ctx := context.Background()
	var held []*Ticket
	for i := 0; i < 2000; i++ {
		name := "Bearer user-" + strconv.Itoa(i*7919%61)
		ticket := g.Ticket(name, direct(""))
		switch i % 5 {
		case 0, 1:
			// Hold a slot unless the mailbox is full (never queue: no timer fires here).
			g.mu.Lock()
			e := g.entries[ticket.claims[0].key]
			full := e != nil && (e.inflight >= g.limit || len(e.waiters) > 0)
			g.mu.Unlock()
			if !full && g.Acquire(ctx, ticket) == nil {
				held = append(held, ticket)
			}
		case 2:
			ticket.NoteRetryAfterAll(1 + i%30)
		case 3:
			if len(held) > 0 {
				held[0].Release()
				held = held[1:]
			}
		case 4:
			clock.add(time.Second)
		}
		checkTable(t, g)
	}
	for _, ticket := range held {
		ticket.Release()
	}
	checkTable(t, g)
	// Once every wait has passed, a few lookups clear the table.
	clock.add(time.Hour)
	for i := 0; i < 8; i++ {
		ticket := g.Ticket("Bearer late", direct(""))
		if g.Acquire(ctx, ticket) != nil {
			t.Fatal("late")
		}
		ticket.Release()
	}
	checkTable(t, g)
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d entries left after every wait passed", n)
	}
}
