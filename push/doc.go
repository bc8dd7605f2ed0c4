// Package push sends devicebridge's content-free pushes to Apple Push
// Notification service (APNs), Firebase Cloud Messaging (FCM HTTP v1) and
// Web Push (RFC 8030/8291/8292). It imports no Caddy: the Caddy module
// builds the senders at provision time and the webhook calls them.
//
// # Senders
//
// NewAPNs, NewFCM and NewWebPush each take an Options struct whose fields
// state their defaults. All three implement Sender:
//
//	Send(ctx, *Target, *Message) Result
//	Breaker(*Target) *Breaker
//	Close() error
//
// Senders groups the configured ones; Senders.For(platform) is nil for a
// platform without configuration. Provisioning reads keys with
// LoadAPNsKeyFile and LoadVAPIDKeyFile (a wrong curve or format is a clear
// error) and passes the FCM service-account file's bytes as
// FCMOptions.CredentialsJSON. FCM.Ready waits for the first access token
// when start-up should wait for it.
//
// Every sender keeps one HTTP client (HTTP/2, connections reused, no proxy
// from the environment, no redirects followed) that trusts RootCAs, or the
// system roots when nil. Provider tokens, the APNs ES256 JWT and the FCM
// OAuth2 token, are refreshed in the background; a send only ever reads
// the current token and never waits for one.
//
// # The webhook's call
//
// One Inflight (NewInflight(max_inflight_sends)) is shared by all senders.
// For each notification the webhook does:
//
//	s := senders.For(target.Platform)
//	if s.Breaker(target).Open() { answer 503 }        // lock-free, O(1)
//	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
//	r := s.Send(ctx, target, msg)
//	cancel()
//	if r.Outcome == push.Unavailable { answer 503 } else { answer 202 }
//
// Outcome says what became of the push: Delivered; TargetGone (drop, never
// retry); TargetThrottled (drop; RetryAfter when the service named it);
// Rejected (this push refused: oversized, redirected, off the allow list);
// ProviderFailure (5xx, connection errors, timeouts, rejected provider
// tokens, project-wide quota: counted by the provider's circuit breaker);
// Unavailable (the breaker is open, nothing was sent); Dropped (the
// caller's context ended while waiting for a send slot). Result.Err and
// Result.Reason never contain a push target, a token or a payload, so a
// Result may be logged whole.
//
// A Breaker opens after Threshold consecutive provider failures within
// Window, or at once when a provider asks every sender to back off (FCM's
// project-wide quota); after Cooldown one probe goes through, and its
// outcome closes or re-opens it. APNs keeps one breaker per environment,
// Web Push one per allow-list entry.
//
// # Messages and payloads
//
// A Message holds the kind, the app's account tag, the alert flag, up to
// five sealed message references and, for alert class, the collapse id.
// APNsPayload, FCMData and WebPushPayload build the wire forms; nothing in
// them is an id, subject, address or count in the clear. The webhook
// decides alert class (alert requested, kind mail, a created item) and
// sends web pushes for alert class only.
//
// # Targets
//
// Target.Validate applies the device API's rules to a push target (APNs
// token hex; FCM token or fid; web push https endpoint, p256dh, auth), and
// DecodeWebPushKeys decodes a subscription's base64url keys. For web push,
// WebPush.CheckEndpoint checks the endpoint against the allow list at
// subscribe time; the sender checks it again on every send and refuses,
// at dial time, any non-public address a wildcard entry resolves to.
//
// # Routing blob, clientState and refs
//
// NewKeys derives purpose-bound keys (HKDF-SHA-256, one label each) from
// the configured state keys; the first seals, all open. Keys.SealRouting
// seals a Routing (target, watched kind, alert, account, device hash,
// optional tenant/user binding, issue and not-after times) into R, the
// base64url path segment of the notification URLs; Keys.OpenRouting opens
// it with whichever key sealed it, and Routing.KeyID against
// Keys.FirstKeyID tells a renewal that R must be resealed. Keys.ClientState
// is the subscription's clientState for R and Keys.CheckClientState checks
// a notification's in constant time; Keys.SameUser checks a notification's
// tenant and user against R's binding and Keys.SameDevice answers
// push.list's "mine". Keys.SealRef and Keys.OpenRef seal and open the
// message references of alert pushes (mail.get's ref), Keys.CollapseID
// gives an alert's collapse id. SameTarget compares targets for renewal.
package push
