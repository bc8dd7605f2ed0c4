package governor

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePlan lists mailboxes (with their command counts) and throttled results.
type fakePlan struct {
	mailboxes []string
	counts    []int
	throttled map[string]int
}

func (p fakePlan) UpstreamMailboxes(fn func(string, int)) {
	for i, mb := range p.mailboxes {
		fn(mb, p.counts[i])
	}
}

func (p fakePlan) ThrottledMailboxes(fn func(string, int)) {
	for mb, ra := range p.throttled {
		fn(mb, ra)
	}
}

func direct(mailbox string) fakePlan { return fakePlan{mailboxes: []string{mailbox}, counts: []int{1}} }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func jwtWith(payload string) string      { return "eyJhbGciOiJub25lIn0." + b64(payload) + ".c2ln" }
func b64(s string) string                { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
func newGov(limit int, queueTimeout time.Duration, maxKeys int) *Governor {
	return New(Options{MaxInflightPerMailbox: limit, QueueTimeout: queueTimeout, MaxTrackedMailboxes: maxKeys})
}
func keyOf(g *Governor, token string, p fakePlan) mailboxKey {
	return g.Ticket("Bearer "+token, p).claims[0].key
}

// testGovernor has a fake clock and queue timeouts fired by the test.
func testGovernor(limit, maxKeys int) (*Governor, *fakeClock, chan time.Time) {
	g := newGov(limit, time.Hour, maxKeys)
	clock := newFakeClock()
	g.now = clock.now
	fire := make(chan time.Time)
	g.newTimer = func(time.Duration) (<-chan time.Time, func() bool) { return fire, func() bool { return true } }
	return g, clock, fire
}

func TestGovernorMailboxKey(t *testing.T) {
	g := newGov(4, time.Second, 10)
	aliceClaims := `{"tid":"t1","oid":"o-alice","upn":"Alice@Contoso.example","name":"Alice","exp":1}`
	alice := jwtWith(aliceClaims)
	forged := "eyJhbGciOiJSUzI1NiJ9." + b64(aliceClaims) + ".Zm9yZ2Vk" // same claims, another signature
	aliceRefreshed := jwtWith(`{"exp":2,"oid":"o-alice","tid":"t1","iat":5}`)
	bob := jwtWith(`{"tid":"t1","oid":"o-bob"}`)
	names := jwtWith(`{"oid":"o-carol","preferred_username":"carol@contoso.example","unique_name":"carol.c@contoso.example"}`)
	tests := []struct {
		name    string
		a, b    string
		pa, pb  fakePlan
		sameKey bool
	}{
		{"a forged token with the same claims", alice, forged, direct(""), direct(""), false},
		{"a forged token naming the user's mailbox", alice, forged, direct(""), direct("alice@contoso.example"), false},
		{"same user, another token of theirs", alice, aliceRefreshed, direct(""), direct(""), false},
		{"another user", alice, bob, direct(""), direct(""), false},
		{"own mailbox vs a shared one", alice, alice, direct(""), direct("shared@contoso.example"), false},
		{"mailbox compared case-insensitively", alice, alice, direct("Shared@Contoso.example"), direct("shared@contoso.example"), true},
		{"own mailbox by upn", alice, alice, direct(""), direct("ALICE@contoso.EXAMPLE"), true},
		{"own mailbox by object id", alice, alice, direct(""), direct("O-Alice"), true},
		{"own mailbox by preferred_username", names, names, direct(""), direct("carol@contoso.example"), true},
		{"own mailbox by unique_name", names, names, direct("carol.c@contoso.example"), direct("o-carol"), true},
		{"a name only in another claim is not own", alice, alice, direct(""), direct("Alice"), false},
		{"opaque tokens: the token", "opaque-1", "opaque-1", direct(""), direct(""), true},
		{"opaque tokens differ", "opaque-1", "opaque-2", direct(""), direct(""), false},
		{"opaque token, a named mailbox", "opaque-1", "opaque-1", direct(""), direct("x@contoso.example"), false},
		{"payload not base64", "a.b!c.d", "a.b!c.d", direct(""), direct("b!c"), false},
		{"payload not an object", jwtWith(`["o-alice"]`), jwtWith(`["o-alice"]`), direct(""), direct("o-alice"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := keyOf(g, tt.a, tt.pa), keyOf(g, tt.b, tt.pb)
			if (ka == kb) != tt.sameKey {
				t.Errorf("same key = %v, want %v", ka == kb, tt.sameKey)
			}
		})
	}
	// The key is a keyed hash: another governor (another secret) files the
	// same token elsewhere, and nothing of the token is in the digest.
	if keyOf(g, alice, direct("")) == keyOf(newGov(4, time.Second, 10), alice, direct("")) {
		t.Error("keys do not depend on the per-process secret")
	}
	ticket := g.Ticket("Bearer "+alice, direct("shared@contoso.example"))
	if strings.Contains(string(ticket.claims[0].key[:]), "o-alice") {
		t.Error("the object id is stored in clear")
	}
}

func TestGovernorWeights(t *testing.T) {
	g := newGov(4, time.Second, 10)
	own := jwtWith(`{"oid":"o-1","upn":"me@contoso.example"}`)
	tests := []struct {
		plan  fakePlan
		limit int
		want  []int // per mailbox of the plan: the weight of its claim
	}{
		{direct(""), 4, []int{1}},
		{fakePlan{mailboxes: []string{""}, counts: []int{3}}, 4, []int{3}},
		{fakePlan{mailboxes: []string{""}, counts: []int{20}}, 4, []int{4}},
		{fakePlan{mailboxes: []string{"", "a@b.example"}, counts: []int{12, 2}}, 4, []int{4, 2}},
		{fakePlan{mailboxes: []string{""}, counts: []int{20}}, 2, []int{2}}, // never above the limit
		{fakePlan{mailboxes: []string{""}, counts: []int{20}}, 8, []int{4}}, // a $batch never weighs more than 4
		// Three spellings of the token's own mailbox are one claim.
		{fakePlan{mailboxes: []string{"", "ME@contoso.example", "o-1"}, counts: []int{1, 1, 1}}, 4, []int{3, 3, 3}},
		{fakePlan{mailboxes: []string{"", "me@contoso.example"}, counts: []int{3, 3}}, 4, []int{4, 4}},
	}
	for _, tt := range tests {
		g.limit = tt.limit
		ticket := g.Ticket("Bearer "+own, tt.plan)
		distinct := map[mailboxKey]bool{}
		for j, mb := range tt.plan.mailboxes {
			key, ok := ticket.keyOf(mb)
			if !ok {
				t.Fatalf("%v: no key for %q", tt.plan, mb)
			}
			distinct[key] = true
			weight := -1
			for i := 0; i < ticket.n; i++ {
				if ticket.claims[i].key == key {
					weight = ticket.claims[i].weight
				}
			}
			if weight != tt.want[j] {
				t.Errorf("%v limit %d: mailbox %q weighs %d, want %d", tt.plan, tt.limit, mb, weight, tt.want[j])
			}
		}
		if ticket.n != len(distinct) {
			t.Errorf("%v: %d claims for %d distinct keys", tt.plan, ticket.n, len(distinct))
		}
	}
}

// acquireAsync starts acquire in a goroutine and returns its result channel.
func acquireAsync(ctx context.Context, g *Governor, ticket *Ticket) chan *Decision {
	done := make(chan *Decision, 1)
	go func() { done <- g.Acquire(ctx, ticket) }()
	return done
}

// waitQueued waits until n requests wait in the governor.
func waitQueued(t *testing.T, g *Governor, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		queued := 0
		for _, e := range g.entries {
			queued += len(e.waiters)
		}
		g.mu.Unlock()
		if queued == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d queued requests", n)
}

func mustGet(t *testing.T, done chan *Decision) *Decision {
	t.Helper()
	select {
	case d := <-done:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("acquire did not return")
		return nil
	}
}

func TestGovernorLimitQueueAndRelease(t *testing.T) {
	g, _, _ := testGovernor(2, 100)
	ctx := context.Background()
	first, second := g.Ticket("Bearer tok", direct("")), g.Ticket("Bearer tok", direct(""))
	if g.Acquire(ctx, first) != nil || g.Acquire(ctx, second) != nil {
		t.Fatal("the first two requests must go upstream at once")
	}
	other := g.Ticket("Bearer tok", direct("other@contoso.example"))
	if g.Acquire(ctx, other) != nil {
		t.Fatal("another mailbox has its own slots")
	}
	third := g.Ticket("Bearer tok", direct(""))
	done := acquireAsync(ctx, g, third)
	waitQueued(t, g, 1)
	select {
	case <-done:
		t.Fatal("the third request must wait while two are in flight")
	default:
	}
	first.Release()
	if d := mustGet(t, done); d != nil {
		t.Fatalf("the queued request must go once a slot is free, got %v", d)
	}
	first.Release() // releasing twice changes nothing
	second.Release()
	third.Release()
	other.Release()
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d mailboxes still tracked after every request finished", n)
	}
}

func TestGovernorQueueTimeout(t *testing.T) {
	g, _, fire := testGovernor(1, 100)
	ctx := context.Background()
	holder := g.Ticket("Bearer tok", direct(""))
	if g.Acquire(ctx, holder) != nil {
		t.Fatal("first request")
	}
	done := acquireAsync(ctx, g, g.Ticket("Bearer tok", direct("")))
	waitQueued(t, g, 1)
	fire <- time.Time{}
	d := mustGet(t, done)
	if d == nil || d.Reason != ReasonQueueTimeout || d.RetryAfter != 0 {
		t.Fatalf("got %+v, want queue_timeout", d)
	}
	waitQueued(t, g, 0)
	holder.Release()
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d mailboxes still tracked", n)
	}
}

func TestGovernorCancelledWhileQueued(t *testing.T) {
	g, _, _ := testGovernor(1, 100)
	holder := g.Ticket("Bearer tok", direct(""))
	if g.Acquire(context.Background(), holder) != nil {
		t.Fatal("first request")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := acquireAsync(ctx, g, g.Ticket("Bearer tok", direct("")))
	waitQueued(t, g, 1)
	cancel()
	if mustGet(t, done) == nil {
		t.Fatal("a cancelled request must not be granted")
	}
	waitQueued(t, g, 0)
	holder.Release()
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d mailboxes still tracked", n)
	}
}

func TestGovernorBatchWeighsItsSubRequests(t *testing.T) {
	g, _, _ := testGovernor(4, 100)
	ctx := context.Background()
	batch := g.Ticket("Bearer tok", fakePlan{mailboxes: []string{""}, counts: []int{6}})
	if g.Acquire(ctx, batch) != nil {
		t.Fatal("batch")
	}
	done := acquireAsync(ctx, g, g.Ticket("Bearer tok", direct("")))
	waitQueued(t, g, 1)
	batch.Release()
	if d := mustGet(t, done); d != nil {
		t.Fatal("the direct call goes after the batch")
	}
}

func TestGovernorFirstComeFirstServed(t *testing.T) {
	g, _, _ := testGovernor(4, 100)
	ctx := context.Background()
	holder := g.Ticket("Bearer tok", fakePlan{mailboxes: []string{""}, counts: []int{3}})
	if g.Acquire(ctx, holder) != nil {
		t.Fatal("holder")
	}
	// A queued batch of 4 is not overtaken by a later direct call that
	// would fit in the free slot.
	batchDone := acquireAsync(ctx, g, g.Ticket("Bearer tok", fakePlan{mailboxes: []string{""}, counts: []int{4}}))
	waitQueued(t, g, 1)
	directDone := acquireAsync(ctx, g, g.Ticket("Bearer tok", direct("")))
	waitQueued(t, g, 2)
	holder.Release()
	if d := mustGet(t, batchDone); d != nil {
		t.Fatal("batch not granted")
	}
	select {
	case <-directDone:
		t.Fatal("the later direct call overtook the batch")
	default:
	}
}

func TestGovernorSeveralMailboxesNoDeadlock(t *testing.T) {
	g := newGov(1, time.Minute, 100)
	ab := fakePlan{mailboxes: []string{"a@contoso.example", "b@contoso.example"}, counts: []int{1, 1}}
	ba := fakePlan{mailboxes: []string{"b@contoso.example", "a@contoso.example"}, counts: []int{1, 1}}
	var wg sync.WaitGroup
	failures := make(chan *Decision, 200)
	for i := 0; i < 100; i++ {
		plan := ab
		if i%2 == 1 {
			plan = ba
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ticket := g.Ticket("Bearer tok", plan)
			if d := g.Acquire(context.Background(), ticket); d != nil {
				failures <- d
				return
			}
			ticket.Release()
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("batches addressing the same mailboxes in different orders deadlocked")
	}
	close(failures)
	for d := range failures {
		t.Errorf("unexpected local throttling: %v", d)
	}
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d mailboxes still tracked", n)
	}
}

func TestGovernorRetryAfter(t *testing.T) {
	g, clock, _ := testGovernor(4, 100)
	ctx := context.Background()
	plan := fakePlan{mailboxes: []string{"", "shared@contoso.example"}, counts: []int{1, 1}}
	ticket := g.Ticket("Bearer tok", plan)
	if g.Acquire(ctx, ticket) != nil {
		t.Fatal("first request")
	}
	ticket.Release()
	// A per-item 429 for the shared mailbox only.
	plan.throttled = map[string]int{"SHARED@contoso.example": 7}
	ticket.NoteThrottled(plan)

	d := g.Acquire(ctx, g.Ticket("Bearer tok", direct("shared@contoso.example")))
	if d == nil || d.Reason != ReasonRetryAfter || d.RetryAfter != 7 {
		t.Fatalf("got %+v, want retry_after 7", d)
	}
	own := g.Ticket("Bearer tok", direct(""))
	if g.Acquire(ctx, own) != nil {
		t.Fatal("the token's own mailbox was not throttled")
	}
	own.Release()
	// A batch that includes the throttled mailbox waits as a whole.
	if d := g.Acquire(ctx, g.Ticket("Bearer tok", plan)); d == nil || d.Reason != ReasonRetryAfter {
		t.Fatalf("a batch touching the throttled mailbox: %+v", d)
	}
	clock.add(2500 * time.Millisecond)
	if d := g.Acquire(ctx, g.Ticket("Bearer tok", direct("shared@contoso.example"))); d == nil || d.RetryAfter != 5 {
		t.Fatalf("after 2.5s of 7: %+v, want retryAfter 5 (rounded up)", d)
	}
	clock.add(4500 * time.Millisecond)
	after := g.Ticket("Bearer tok", direct("shared@contoso.example"))
	if d := g.Acquire(ctx, after); d != nil {
		t.Fatalf("the wait is over: %+v", d)
	}
	after.Release()
	if n := g.Tracked(); n != 0 {
		t.Errorf("%d mailboxes still tracked after the wait", n)
	}

	// An envelope-level 429 applies to every mailbox of the request.
	ticket.NoteRetryAfterAll(3)
	for _, mb := range []string{"", "shared@contoso.example"} {
		if d := g.Acquire(ctx, g.Ticket("Bearer tok", direct(mb))); d == nil || d.RetryAfter != 3 {
			t.Errorf("mailbox %q: %+v, want retry_after 3", mb, d)
		}
	}
	// Another user of the same shared mailbox is not affected.
	stranger := g.Ticket("Bearer someone-else", direct("shared@contoso.example"))
	if g.Acquire(ctx, stranger) != nil {
		t.Error("another user's key was throttled")
	}
	stranger.Release()
	// Idle entries are dropped once their wait has passed.
	clock.add(4 * time.Second)
	g.mu.Lock()
	g.entry(mailboxKey{1})
	g.mu.Unlock()
	if n := g.Tracked(); n != 1 {
		t.Errorf("%d mailboxes tracked after the sweep, want only the new one", n)
	}
}

func TestGovernorRetryAfterArrivingWhileQueued(t *testing.T) {
	g, _, _ := testGovernor(1, 100)
	ctx := context.Background()
	holder := g.Ticket("Bearer tok", direct(""))
	if g.Acquire(ctx, holder) != nil {
		t.Fatal("holder")
	}
	done := acquireAsync(ctx, g, g.Ticket("Bearer tok", direct("")))
	waitQueued(t, g, 1)
	holder.NoteRetryAfterAll(9)
	holder.Release()
	if d := mustGet(t, done); d == nil || d.Reason != ReasonRetryAfter {
		t.Fatalf("got %+v, want retry_after", d)
	}
}

func TestGovernorTableCap(t *testing.T) {
	g, _, _ := testGovernor(1, 2)
	ctx := context.Background()
	var held []*Ticket
	for _, mb := range []string{"a@x.example", "b@x.example"} {
		ticket := g.Ticket("Bearer tok", direct(mb))
		if g.Acquire(ctx, ticket) != nil {
			t.Fatal(mb)
		}
		held = append(held, ticket)
	}
	// The table is full: a third mailbox goes ungoverned rather than failing.
	for i := 0; i < 3; i++ {
		ticket := g.Ticket("Bearer tok", direct("c@x.example"))
		if d := g.Acquire(ctx, ticket); d != nil {
			t.Fatalf("ungoverned request throttled: %v", d)
		}
		defer ticket.Release()
	}
	if n := g.Tracked(); n != 2 {
		t.Errorf("tracked %d, want the cap of 2", n)
	}
	for _, ticket := range held {
		ticket.Release()
	}
	if n := g.Tracked(); n != 0 {
		t.Errorf("tracked %d after release", n)
	}
}

func FuzzMailboxIdentity(f *testing.F) {
	f.Add("Bearer "+jwtWith(`{"tid":"t","oid":"o","upn":"u@x"}`), "U@X")
	f.Add("Bearer a.b.c", "")
	f.Add("bearer "+jwtWith(`{"oid":1}`), "X@Y")
	f.Add("Bearer ...", "\x00")
	f.Add("Bearer e30.e30.e30", "")
	f.Fuzz(func(t *testing.T, authorization, mailbox string) {
		g := newGov(4, time.Second, 10)
		a := g.Ticket(authorization, direct(mailbox))
		upper := []byte(mailbox)
		for i, c := range upper {
			if 'a' <= c && c <= 'z' {
				upper[i] = c - ('a' - 'A')
			}
		}
		b := g.Ticket(authorization, direct(string(upper)))
		if a.n != 1 || a.claims[0].key != b.claims[0].key {
			t.Fatal("the key must be deterministic and case-insensitive in the mailbox")
		}
		var names tokenNames
		readTokenNames(&names, nil, bearerValue(authorization))
		own := g.Ticket(authorization, direct(""))
		for _, name := range names.names[:names.n] {
			if name == "" {
				t.Fatal("an empty name")
			}
			if keyOf(g, bearerValue(authorization), direct(name)) != own.claims[0].key {
				t.Fatal("a name of the token's own mailbox has another key than /me")
			}
		}
		if keyOf(g, bearerValue(authorization)+"x", direct(mailbox)) == a.claims[0].key {
			t.Fatal("another token shares the key")
		}
	})
}

func BenchmarkGovernorDirectCall(b *testing.B) {
	g := newGov(4, time.Second, 1000)
	token := "Bearer " + jwtWith(`{"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","oid":"5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10","name":"Demo","scp":"Mail.ReadWrite"}`)
	plan := direct("")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ticket := g.Ticket(token, plan)
		if g.Acquire(ctx, ticket) != nil {
			b.Fatal("throttled")
		}
		ticket.Release()
	}
}
