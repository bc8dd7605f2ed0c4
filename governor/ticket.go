package governor

import "time"

// MailboxLister is what a ticket needs of a request: every distinct
// mailbox its upstream call addresses ("" for the token's own), with the
// number of upstream requests for it.
type MailboxLister interface {
	UpstreamMailboxes(fn func(mailbox string, commands int))
}

// ThrottledLister reports the mailboxes whose upstream requests were
// throttled, with the Retry-After seconds each carries.
type ThrottledLister interface {
	ThrottledMailboxes(fn func(mailbox string, retryAfter int))
}

// Single is a MailboxLister of one upstream request to one mailbox ("" for
// the token's own).
type Single string

// UpstreamMailboxes reports the one mailbox with one request.
func (m Single) UpstreamMailboxes(fn func(mailbox string, commands int)) { fn(string(m), 1) }

// mailboxClaim is one mailbox a request needs slots of.
type mailboxClaim struct {
	key    mailboxKey
	weight int
	held   bool
}

// spelling is a mailbox argument as the lister gave it and the key it is
// filed under (several spellings of the token's own mailbox share one).
type spelling struct {
	mailbox string
	key     mailboxKey
}

// Ticket is one request's claims on its mailboxes' slots, in key order.
// It is used by one request at a time.
type Ticket struct {
	g         *Governor
	claims    [MaxClaims]mailboxClaim
	n         int
	spelled   [MaxClaims]spelling
	spellings int
}

// Ticket computes the claims of a request: the mailbox key of each
// mailbox its upstream call addresses, weighing 1 per request up to
// BatchParallelism (and never more than the per-mailbox limit, so a claim
// can be granted). authorization is the request's Authorization header;
// the keys depend on the whole token (see identity.go), and the spellings
// of the token's own mailbox share one claim.
func (g *Governor) Ticket(authorization string, plan MailboxLister) *Ticket {
	t := &Ticket{g: g}
	s := getKeyScratch(&g.secret)
	s.t = t
	s.setToken(bearerValue(authorization))
	plan.UpstreamMailboxes(s.add)
	putKeyScratch(s)
	sortClaims(t.claims[:t.n])
	return t
}

// Release gives back every slot the ticket holds, lets waiters in, and
// removes entries that became idle. It may be called more than once.
func (t *Ticket) Release() {
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
		g.settle(e, now)
	}
}

// NoteRetryAfter remembers an upstream Retry-After of secs seconds for the
// ticket's mailbox named mailbox (as the lister named it, compared
// case-insensitively).
func (t *Ticket) NoteRetryAfter(mailbox string, secs int) {
	t.noteRetryAfter(mailbox, false, secs)
}

// NoteRetryAfterAll remembers an upstream Retry-After of secs seconds for
// every mailbox of the ticket (a 429 for the request as a whole).
func (t *Ticket) NoteRetryAfterAll(secs int) {
	t.noteRetryAfter("", true, secs)
}

// NoteThrottled remembers the Retry-After of every throttled mailbox
// plan reports.
func (t *Ticket) NoteThrottled(plan ThrottledLister) {
	plan.ThrottledMailboxes(t.NoteRetryAfter)
}

func (t *Ticket) noteRetryAfter(mailbox string, all bool, secs int) {
	if secs <= 0 {
		return
	}
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	until := now.Add(time.Duration(secs) * time.Second)
	key, ok := t.keyOf(mailbox)
	if !all && !ok {
		return
	}
	for i := 0; i < t.n; i++ {
		c := &t.claims[i]
		if !all && c.key != key {
			continue
		}
		if e := g.entry(c.key); e != nil {
			if until.After(e.retryUntil) {
				e.retryUntil = until
			}
			if !e.active() {
				g.settle(e, now) // most recently used
			}
		}
	}
}
