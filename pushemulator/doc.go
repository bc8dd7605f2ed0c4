// Package pushemulator is an in-memory emulator of the three push services
// devicebridge sends to, for tests and the demo:
//
//   - the APNs provider API (POST /3/device/{token} over HTTP/2, ES256
//     provider tokens, APNs' status codes and reasons);
//   - FCM HTTP v1 (an OAuth 2.0 token endpoint for the JWT-bearer grant of a
//     service account it generates, and POST
//     /v1/projects/{project}/messages:send with Google's error shapes);
//   - a Web Push service (RFC 8030 delivery, RFC 8291 aes128gcm decryption
//     with the subscriptions it issues, RFC 8292 VAPID).
//
// The emulator checks what the real services check, as PUSH_FACTS.md and the
// RFCs document it, so tests of devicebridge's push senders catch the
// senders' mistakes. It shares no code with the senders on purpose: every
// verification here is written from the specifications.
//
// Every request to a push surface is recorded (service, target, the headers
// that matter, the decoded payload, the outcome) in a bounded list. A control
// API under Options.ControlPrefix (default /_push) lists and clears the
// records, hands out the key material a sender needs (the APNs .p8 key, the
// FCM service-account JSON, Web Push subscriptions), marks targets
// unregistered, injects 429/5xx/slow answers and counts requests and
// connections per service. The control API has no authentication: it is for
// tests and demos only and must never be exposed to untrusted clients.
//
// The core is a plain http.Handler (see NewServer) usable with httptest; the
// Caddy module http.handlers.push_emulator (see Handler) wraps it, and the
// Caddyfile directive push_emulator configures that module. The module is
// not part of the devicebridge plugin build.
package pushemulator
