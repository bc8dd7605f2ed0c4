// Package governor keeps a bridge's upstream requests within the limits
// Exchange Online sets per mailbox: about four concurrent requests, and a
// Retry-After after a 429 that holds for the whole mailbox.
//
// A Governor is shared by every request of one handler. For each request
// the caller builds a Ticket from the request's Authorization header and
// the mailboxes its upstream call addresses (a MailboxLister), calls
// Acquire before the upstream call and Release once the upstream answer
// has been read, and reports throttled answers with NoteRetryAfter,
// NoteRetryAfterAll or NoteThrottled. Acquire queues a request while its
// mailbox's slots are taken, for at most Options.QueueTimeout, and answers
// with a Decision instead when the request must not go upstream.
//
// The governor keeps, per mailbox, an in-flight count, a queue and a
// Retry-After deadline, filed under a keyed hash (HMAC-SHA256 under a
// random per-process secret); it keeps no token, address or other
// plaintext about the user. A mailbox's key depends on the whole bearer
// token, so nobody can take another user's slots or plant a Retry-After on
// them with a token of their own making (see identity.go).
//
// A Budget is the other half of admission: a process-wide ceiling on the
// bytes buffered for requests, reserved in steps through a Reservation
// before buffers grow.
//
// The package knows nothing of HTTP servers or Caddy.
package governor
