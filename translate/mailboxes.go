package translate

// This file tells the caller which mailboxes a plan's upstream call
// addresses, so that it can keep Exchange Online's per-mailbox concurrency
// and Retry-After limits.

// UpstreamMailboxes calls fn once for every distinct mailbox addressed by the
// commands that go upstream, with the number of those commands. mailbox is
// the command's validated mailbox argument as the device gave it ("" for the
// token's own mailbox, /me); mailboxes that differ only in ASCII case are one
// mailbox and are reported with the spelling of their first command. It does
// not allocate. Commands that failed validation are not counted: they make
// no upstream sub-request.
func (p *Plan) UpstreamMailboxes(fn func(mailbox string, commands int)) {
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if c.err != nil || p.mailboxSeenBefore(i) {
			continue
		}
		n := 1
		for j := i + 1; j < p.n; j++ {
			if d := &p.cmds[j]; d.err == nil && equalFoldASCII(d.mailbox, c.mailbox) {
				n++
			}
		}
		fn(c.mailbox, n)
	}
}

// mailboxSeenBefore reports whether a command before i that goes upstream
// addresses the same mailbox as command i.
func (p *Plan) mailboxSeenBefore(i int) bool {
	for j := 0; j < i; j++ {
		if d := &p.cmds[j]; d.err == nil && equalFoldASCII(d.mailbox, p.cmds[i].mailbox) {
			return true
		}
	}
	return false
}

// ThrottledMailboxes calls fn for every command of the last Respond whose
// upstream sub-request was throttled (a $batch item's 429, or 424 from
// Graph's throttling), with the command's mailbox argument (as in
// UpstreamMailboxes) and the retryAfter seconds its result carries. An
// envelope-level 429 is not reported here: it is Outcome.RetryAfter and
// applies to every mailbox of the plan.
func (p *Plan) ThrottledMailboxes(fn func(mailbox string, retryAfter int)) {
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if c.err != nil || p.results[i].Code != CodeThrottled {
			continue
		}
		fn(c.mailbox, p.results[i].RetryAfter)
	}
}
