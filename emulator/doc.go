// Package emulator is an in-memory emulator of the parts of Microsoft Graph
// v1.0 that devicebridge uses: a few Exchange Online mailboxes with folders,
// messages and attachments, per-folder message delta and folder delta with
// bounded sync-state caches, calendars and contacts, a OneDrive per mailbox
// (business or personal) with delta, children, search and a separate,
// signed download host (DownloadHandler), JSON $batch, Graph's error
// shapes, per-mailbox concurrency throttling and fault injection.
// bounded sync-state caches, JSON $batch, Graph's error shapes, per-mailbox
// concurrency throttling and fault injection; and change-notification
// subscriptions, whose validation requests, change notifications and
// lifecycle notifications it POSTs to the subscribers as Graph does
// (subscriptions.go, notify.go).
//
// The emulator answers as Graph does, as far as GRAPH_FACTS.md (and, for
// files, FILES_FACTS.md) documents it, so tests of the bridge can catch the
// bridge's mistakes. It shares no code with the bridge's translate package
// on purpose.
//
// The core is a plain http.Handler (see NewServer) usable with httptest; the
// Caddy module http.handlers.graph_emulator (see Handler) wraps it, and the
// Caddyfile directive graph_emulator configures that module.
//
// Besides the Graph surface under Options.BasePath (default /v1.0) the server
// has a control API under Options.ControlPrefix (default /_emulator) to create
// mailboxes, deliver messages, change drives, expire sync states and
// download URLs, inject faults and read the log of requests Graph received. The control API has no authentication: it is
// for tests and demos only and must never be exposed to untrusted clients.
package emulator
