package caddymodule

import (
	"net/http"
	"time"

	"github.com/devicebridge/caddy-devicebridge/governor"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

// This file wires the per-mailbox governor (package governor) into the
// handler: admission before an upstream call, local 429 answers, and
// Retry-After bookkeeping from upstream answers.

// A ticket holds one claim per distinct mailbox of a batch: it must have
// room for every command of the largest batch.
var _ [governor.MaxClaims - translate.MaxBatchCommands]struct{}

// Fixed messages of local throttling decisions.
const (
	msgQueueTimeout = "too many requests for this mailbox are in progress; retry later"
	msgRetryAfter   = "the upstream asked to wait before the next request for this mailbox"
)

// throttledError is the device's answer to a governor decision.
func throttledError(d *governor.Decision) *translate.Error {
	message, retryAfter := msgQueueTimeout, translate.DefaultRetryAfter
	if d.Reason == governor.ReasonRetryAfter {
		message, retryAfter = msgRetryAfter, d.RetryAfter
	}
	e := translate.NewError(http.StatusTooManyRequests, translate.CodeThrottled, message)
	e.RetryAfter = max(retryAfter, 1)
	return e
}

// admit runs the governor for a request whose upstream call addresses the
// mailboxes plan lists. When answered is true the request was answered
// (throttled) or the device went away, and err is what ServeHTTP returns;
// otherwise the caller holds the ticket and releases it when the upstream
// call is over.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, plan governor.MailboxLister) (ticket *governor.Ticket, answered bool, err error) {
	ticket = h.governor.Ticket(r.Header.Get("Authorization"), plan)
	started := time.Now()
	decision := h.governor.Acquire(r.Context(), ticket)
	h.metrics.observeGovernorWait(time.Since(started))
	if decision != nil {
		if r.Context().Err() != nil {
			return nil, true, nil // the device went away while queued
		}
		h.metrics.countLocalThrottle(string(decision.Reason))
		return nil, true, h.writeError(w, throttledError(decision))
	}
	return ticket, false, nil
}

// admitStream runs the governor for a streaming endpoint's upstream call
// to mailbox ("" for the token's own); see admit.
func (h *Handler) admitStream(w http.ResponseWriter, r *http.Request, mailbox string) (*governor.Ticket, bool, error) {
	return h.admit(w, r, governor.Single(mailbox))
}

// noteOutcome remembers the Retry-After of a throttled batch answer: an
// envelope-level 429 for every mailbox of the request, a throttled
// command for its own mailbox.
func noteOutcome(ticket *governor.Ticket, plan *translate.Plan, outcome translate.Outcome) {
	if outcome.Status == http.StatusTooManyRequests {
		ticket.NoteRetryAfterAll(outcome.RetryAfter)
		return
	}
	ticket.NoteThrottled(plan)
}

// noteStreamAnswer remembers the Retry-After of a throttled streaming
// answer (status 429) for the request's mailbox.
func noteStreamAnswer(ticket *governor.Ticket, tr *translate.Translator, status int, header http.Header, body []byte) {
	if status != http.StatusTooManyRequests {
		return
	}
	if e := tr.UpstreamError(status, header, body); e != nil {
		ticket.NoteRetryAfterAll(e.RetryAfter)
	}
}
