package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// This file is the per-mailbox throttling governor. Exchange Online allows
// about four concurrent requests per mailbox and throttles beyond; the
// governor keeps at most max_inflight_per_mailbox upstream requests in
// flight per mailbox on this instance, queues the rest for at most
// queue_timeout, and honours Graph's Retry-After for the mailbox it was
// given for. Its only state is, per mailbox, an in-flight count, a queue
// and a Retry-After deadline, filed under a keyed hash of the mailbox's
// identity: never a token, an address or anything else about the user.

// Defaults of the governor's options.
const (
	DefaultMaxInflightPerMailbox = 4
	DefaultQueueTimeout          = 10 * time.Second
	DefaultMaxTrackedMailboxes   = 100_000
)

// batchParallelism is how many items of one $batch Outlook runs at once,
// whatever their mailbox: a $batch weighs at most this much.
const batchParallelism = 4

// Governor limits on what it reads from a token.
const (
	// maxJWTPayload bounds the encoded payload segment decoded to find the
	// tenant and object ids; a longer one counts as an opaque token.
	maxJWTPayload = 16 << 10
	// sweepInterval is how often idle entries whose Retry-After passed are
	// removed from the table.
	sweepInterval = time.Minute
)

// Reasons of a local throttling decision (metrics label values).
const (
	throttleQueueTimeout = "queue_timeout"
	throttleRetryAfter   = "retry_after"
)

// mailboxKey identifies one mailbox of one user: HMAC-SHA256 under the
// governor's random secret of the token's identity and the mailbox
// argument. The inputs are not kept.
type mailboxKey [sha256.Size]byte

// governor is shared by every request of one handler.
type governor struct {
	limit        int
	queueTimeout time.Duration
	maxKeys      int
	secret       [32]byte
	now          func() time.Time
	// newTimer starts the queue timeout; tests replace it.
	newTimer func(time.Duration) (<-chan time.Time, func() bool)

	mu        sync.Mutex
	entries   map[mailboxKey]*mailboxEntry
	nextSweep time.Time
}

// mailboxEntry is the governor's state for one mailbox. It is removed as
// soon as nothing is in flight, nobody waits and no Retry-After is pending.
type mailboxEntry struct {
	inflight   int
	waiters    []*mailboxWaiter // first come, first served
	retryUntil time.Time
}

// mailboxWaiter is a request queued for a mailbox's slots.
type mailboxWaiter struct {
	weight  int
	ready   chan struct{} // closed once granted
	granted bool
}

func newGovernor(limit int, queueTimeout time.Duration, maxKeys int) *governor {
	g := &governor{
		limit:        limit,
		queueTimeout: queueTimeout,
		maxKeys:      maxKeys,
		now:          time.Now,
		entries:      make(map[mailboxKey]*mailboxEntry),
		newTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	_, _ = rand.Read(g.secret[:]) // crypto/rand.Read never fails (Go 1.24+)
	return g
}

// mailboxClaim is one mailbox a request needs slots of.
type mailboxClaim struct {
	key     mailboxKey
	mailbox string // the plan's mailbox argument, to match throttled results
	weight  int
	held    bool
	tracked bool // false when the table was full: the claim is not governed
}

// governorTicket is one request's claims, in key order.
type governorTicket struct {
	g      *governor
	claims [translate.MaxBatchCommands]mailboxClaim
	n      int
}

// mailboxLister is what the governor needs of a plan.
type mailboxLister interface {
	UpstreamMailboxes(fn func(mailbox string, commands int))
}

// ticket computes the claims of a request: the mailbox key of each mailbox
// its upstream call addresses, weighing 1 per command up to the $batch
// parallelism (and never more than the limit, so a claim can be granted).
func (g *governor) ticket(authorization string, plan mailboxLister) *governorTicket {
	t := &governorTicket{g: g}
	s := getKeyScratch(&g.secret)
	s.t = t
	s.prefix = appendTokenIdentity(s.identity[:0], bearerValue(authorization))
	plan.UpstreamMailboxes(s.add)
	putKeyScratch(s)
	sortClaims(t.claims[:t.n])
	return t
}

// bearerValue returns the token of an Authorization: Bearer header.
func bearerValue(authorization string) string {
	if len(authorization) < len("Bearer ") || !strings.EqualFold(authorization[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(authorization)
	}
	return strings.TrimSpace(authorization[len("Bearer "):])
}

// appendTokenIdentity appends the identity a token stands for: the tenant
// and object ids (tid, oid) of a JWT's payload, read without verifying the
// token — the upstream verifies it — or, for anything else (including a
// JWT without an oid), the token itself. Each part is length-prefixed, so
// no two identities serialize alike.
func appendTokenIdentity(dst []byte, token string) []byte {
	if tid, oid, ok := jwtIdentity(token); ok {
		dst = append(dst, 'j')
		dst = appendLengthPrefixed(dst, tid)
		return appendLengthPrefixed(dst, oid)
	}
	dst = append(dst, 't')
	return appendLengthPrefixed(dst, token)
}

// jwtIdentity reads tid and oid from a compact JWS's payload. ok is false
// unless token has three dot-separated segments whose middle one is
// base64url of a JSON object with a non-empty string oid.
func jwtIdentity(token string) (tid, oid string, ok bool) {
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return "", "", false
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second <= 0 || strings.IndexByte(rest[second+1:], '.') >= 0 {
		return "", "", false
	}
	segment := strings.TrimRight(rest[:second], "=")
	if len(segment) > maxJWTPayload {
		return "", "", false
	}
	var small [1024]byte
	buf := small[:0]
	if n := base64.RawURLEncoding.DecodedLen(len(segment)); n > len(small) {
		buf = make([]byte, 0, n)
	}
	payload, err := base64.RawURLEncoding.AppendDecode(buf, []byte(segment))
	if err != nil || !gjson.ValidBytes(payload) {
		return "", "", false
	}
	root := gjson.ParseBytes(payload)
	if !root.IsObject() {
		return "", "", false
	}
	o, t := root.Get("oid"), root.Get("tid")
	if o.Type != gjson.String || o.Str == "" {
		return "", "", false
	}
	if t.Type == gjson.String {
		tid = t.Str
	}
	return tid, o.Str, true
}

func appendLengthPrefixed(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// appendLowerASCII appends s with ASCII letters in lower case (mailboxes
// are case-insensitive).
func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// throttleDecision is a request the governor answers itself.
type throttleDecision struct {
	reason string // throttleQueueTimeout or throttleRetryAfter
	err    *translate.Error
}

// acquire takes the ticket's slots, mailbox by mailbox in key order (so
// two requests needing several mailboxes cannot deadlock), queueing for at
// most queueTimeout in all. It returns nil once every slot is held, or the
// local answer: throttled because a Retry-After for one of the mailboxes
// is pending or because the queue timed out. When ctx ends while queued it
// returns a decision too; the caller sees ctx.Err() and answers nobody.
func (g *governor) acquire(ctx context.Context, t *governorTicket) *throttleDecision {
	if d := g.pendingRetryAfter(t); d != nil {
		return d
	}
	var timeout <-chan time.Time
	stop := func() bool { return false }
	defer func() { stop() }()
	for i := 0; i < t.n; i++ {
		c := &t.claims[i]
		g.mu.Lock()
		e := g.entry(c.key)
		if e == nil {
			g.mu.Unlock()
			continue
		}
		c.tracked = true
		if len(e.waiters) == 0 && e.inflight+c.weight <= g.limit {
			e.inflight += c.weight
			c.held = true
			g.mu.Unlock()
			continue
		}
		w := &mailboxWaiter{weight: c.weight, ready: make(chan struct{})}
		e.waiters = append(e.waiters, w)
		g.mu.Unlock()
		if timeout == nil {
			timeout, stop = g.newTimer(g.queueTimeout)
		}
		select {
		case <-w.ready:
			c.held = true
			continue
		case <-timeout:
		case <-ctx.Done():
		}
		g.mu.Lock()
		if w.granted {
			c.held = true
		} else {
			g.dropWaiter(c.key, e, w)
		}
		g.mu.Unlock()
		t.release()
		return &throttleDecision{reason: throttleQueueTimeout, err: throttledError(msgQueueTimeout, translate.DefaultRetryAfter)}
	}
	// A Retry-After may have arrived while this request queued.
	if d := g.pendingRetryAfter(t); d != nil {
		t.release()
		return d
	}
	return nil
}

// Fixed messages of local throttling decisions.
const (
	msgQueueTimeout = "too many requests for this mailbox are in progress; retry later"
	msgRetryAfter   = "the upstream asked to wait before the next request for this mailbox"
)

func throttledError(message string, retryAfter int) *translate.Error {
	e := translate.NewError(http.StatusTooManyRequests, translate.CodeThrottled, message)
	e.RetryAfter = max(retryAfter, 1)
	return e
}

// pendingRetryAfter answers for a ticket one of whose mailboxes is still
// inside an upstream Retry-After: throttled, with the longest remaining
// wait rounded up to whole seconds.
func (g *governor) pendingRetryAfter(t *governorTicket) *throttleDecision {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var longest time.Duration
	for i := 0; i < t.n; i++ {
		if e := g.entries[t.claims[i].key]; e != nil {
			longest = max(longest, e.retryUntil.Sub(now))
		}
	}
	if longest <= 0 {
		return nil
	}
	secs := int(math.Ceil(longest.Seconds()))
	return &throttleDecision{reason: throttleRetryAfter, err: throttledError(msgRetryAfter, secs)}
}

// release gives back every slot the ticket holds, lets waiters in, and
// removes entries that became idle. It may be called more than once.
func (t *governorTicket) release() {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for i := 0; i < t.n; i++ {
		c := &t.claims[i]
		if !c.held {
			continue
		}
		c.held = false
		e := g.entries[c.key]
		if e == nil {
			continue
		}
		e.inflight -= c.weight
		g.grant(e)
		g.removeIfIdle(c.key, e, now)
	}
}

// noteRetryAfter remembers an upstream Retry-After of secs seconds for the
// ticket's mailbox (as the plan names it), or for all of its mailboxes
// when all is set (an envelope-level 429).
func (t *governorTicket) noteRetryAfter(mailbox string, all bool, secs int) {
	if secs <= 0 {
		return
	}
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	until := g.now().Add(time.Duration(secs) * time.Second)
	for i := 0; i < t.n; i++ {
		c := &t.claims[i]
		if !all && !strings.EqualFold(c.mailbox, mailbox) {
			continue
		}
		if e := g.entry(c.key); e != nil && until.After(e.retryUntil) {
			e.retryUntil = until
		}
	}
}

// throttledLister is what noteOutcome needs of a plan.
type throttledLister interface {
	ThrottledMailboxes(fn func(mailbox string, retryAfter int))
}

// noteOutcome remembers the Retry-After of a throttled answer: an
// envelope-level 429 for every mailbox of the request, a throttled
// command for its own mailbox.
func (t *governorTicket) noteOutcome(plan throttledLister, outcome translate.Outcome) {
	if outcome.Status == http.StatusTooManyRequests {
		t.noteRetryAfter("", true, outcome.RetryAfter)
		return
	}
	plan.ThrottledMailboxes(func(mailbox string, retryAfter int) {
		t.noteRetryAfter(mailbox, false, retryAfter)
	})
}

// entry returns the key's entry, creating it when needed. It
// returns nil when the table is full even after removing idle entries: the
// request then goes ungoverned rather than failing every user.
// Called with g.mu held.
func (g *governor) entry(key mailboxKey) *mailboxEntry {
	now := g.now()
	if !now.Before(g.nextSweep) {
		g.sweep(now)
	}
	if e := g.entries[key]; e != nil {
		return e
	}
	if len(g.entries) >= g.maxKeys {
		g.sweep(now)
		if len(g.entries) >= g.maxKeys {
			return nil
		}
	}
	e := &mailboxEntry{}
	g.entries[key] = e
	return e
}

// sweep removes every idle entry. Called with g.mu held.
func (g *governor) sweep(now time.Time) {
	for key, e := range g.entries {
		g.removeIfIdle(key, e, now)
	}
	g.nextSweep = now.Add(sweepInterval)
}

// removeIfIdle deletes e when nothing is in flight, nobody waits and its
// Retry-After has passed. Called with g.mu held.
func (g *governor) removeIfIdle(key mailboxKey, e *mailboxEntry, now time.Time) {
	if e.inflight == 0 && len(e.waiters) == 0 && !e.retryUntil.After(now) {
		delete(g.entries, key)
	}
}

// grant lets queued requests in, first come first served, while the head
// of the queue fits. Called with g.mu held.
func (g *governor) grant(e *mailboxEntry) {
	for len(e.waiters) > 0 && e.inflight+e.waiters[0].weight <= g.limit {
		w := e.waiters[0]
		e.waiters[0] = nil
		e.waiters = e.waiters[1:]
		e.inflight += w.weight
		w.granted = true
		close(w.ready)
	}
	if len(e.waiters) == 0 {
		e.waiters = nil
	}
}

// dropWaiter removes a waiter that gave up; the ones behind it may fit
// now. Called with g.mu held.
func (g *governor) dropWaiter(key mailboxKey, e *mailboxEntry, w *mailboxWaiter) {
	for i, x := range e.waiters {
		if x == w {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			break
		}
	}
	g.grant(e)
	g.removeIfIdle(key, e, g.now())
}

// tracked returns how many mailboxes the governor currently tracks.
func (g *governor) tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}

// singleMailbox is a streaming request's one upstream call (weight 1).
type singleMailbox string

// UpstreamMailboxes reports the one mailbox with one command.
func (m singleMailbox) UpstreamMailboxes(fn func(mailbox string, commands int)) { fn(string(m), 1) }

// admitStream runs the governor for a streaming endpoint's upstream call
// to mailbox ("" for the token's own). When answered is true the request
// was answered (throttled) or the device went away, and err is what
// ServeHTTP returns; otherwise the caller holds the ticket and releases
// it when the upstream call is over.
func (h *Handler) admitStream(w http.ResponseWriter, r *http.Request, mailbox string) (ticket *governorTicket, answered bool, err error) {
	ticket = h.governor.ticket(r.Header.Get("Authorization"), singleMailbox(mailbox))
	if decision := h.governor.acquire(r.Context(), ticket); decision != nil {
		if r.Context().Err() != nil {
			return nil, true, nil
		}
		h.metrics.countLocalThrottle(decision.reason)
		return nil, true, h.writeError(w, decision.err)
	}
	return ticket, false, nil
}

// noteStreamAnswer remembers the Retry-After of a throttled streaming
// answer (status 429) for the request's mailbox.
func (t *governorTicket) noteStreamAnswer(tr *translate.Translator, status int, header http.Header, body []byte) {
	if status != http.StatusTooManyRequests {
		return
	}
	if e := tr.UpstreamError(status, header, body); e != nil {
		t.noteRetryAfter("", true, e.RetryAfter)
	}
}
