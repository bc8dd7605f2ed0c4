package push

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// WebPushOptions configure a Web Push sender.
type WebPushOptions struct {
	// VAPIDKey is the application server's P-256 key (ParseVAPIDKey,
	// LoadVAPIDKeyFile). Required.
	VAPIDKey *ecdsa.PrivateKey
	// Subject is the VAPID contact, a mailto: or https: URI. Required.
	Subject string
	// AllowHosts are the push services pushes may go to: "host",
	// "host:port", "*.domain" or "*.domain:port"; the port is 443 unless
	// named. A host named exactly may resolve to any address; a host
	// matched by a wildcard must resolve to public addresses. Required.
	AllowHosts []string
	// RootCAs are the roots trusted for push services. Default (nil): the
	// system roots.
	RootCAs *x509.CertPool
	// SendTimeout bounds a send whose context has no deadline. Default
	// 1500ms.
	SendTimeout time.Duration
	// Inflight bounds concurrent sends, shared with the other senders.
	// Default: a bound of its own of DefaultMaxInflight.
	Inflight *Inflight
	// Breaker tunes the circuit breakers, one per allow-list entry.
	// Defaults as in BreakerOptions.
	Breaker BreakerOptions
}

// Web push request headers of devicebridge's pushes.
const (
	webPushTTL     = "86400"
	webPushUrgency = "high"
)

// WebPush sends RFC 8030 pushes, encrypted per RFC 8291 and authenticated
// with RFC 8292 VAPID, to endpoints on the allow list only. Redirects are
// never followed.
type WebPush struct {
	core  sendCore
	allow allowList
	vapid *vapid
}

// NewWebPush checks opts and builds the sender.
func NewWebPush(opts WebPushOptions) (*WebPush, error) {
	return newWebPush(opts, defaultLookup)
}

func newWebPush(opts WebPushOptions, lookup func(context.Context, string) ([]netip.Addr, error)) (*WebPush, error) {
	if opts.VAPIDKey == nil {
		return nil, errors.New("webpush: vapid key required")
	}
	if _, err := p256Key("webpush vapid key", opts.VAPIDKey); err != nil {
		return nil, err
	}
	if !validSubject(opts.Subject) {
		return nil, errors.New("webpush: subject must be a mailto: or https: URI")
	}
	if len(opts.AllowHosts) == 0 {
		return nil, errors.New("webpush: allow_hosts required")
	}
	allow, err := parseAllowList(opts.AllowHosts, opts.Breaker)
	if err != nil {
		return nil, err
	}
	v, err := newVAPID(opts.VAPIDKey, opts.Subject)
	if err != nil {
		return nil, fmt.Errorf("webpush vapid key: %w", err)
	}
	d := &guardedDialer{allow: allow, lookup: lookup}
	return &WebPush{
		core:  newSendCore("webpush", newHTTPClient(opts.RootCAs, d.dial), opts.Inflight, opts.SendTimeout),
		allow: allow,
		vapid: v,
	}, nil
}

// CheckEndpoint reports whether pushes may go to endpoint: an https URL of
// at most 2048 bytes whose host and port match the allow list. Whether its
// addresses are public is checked when connecting.
func (s *WebPush) CheckEndpoint(endpoint string) error {
	_, _, err := s.allow.checkEndpoint(endpoint)
	return err
}

// Breaker returns the breaker of the allow-list entry t's endpoint
// matches; nil (never open) when it matches none.
func (s *WebPush) Breaker(t *Target) *Breaker {
	_, e, err := s.allow.checkEndpoint(t.Endpoint)
	if err != nil {
		return nil
	}
	return e.breaker
}

// Close drops idle connections.
func (s *WebPush) Close() error {
	s.core.client.CloseIdleConnections()
	return nil
}

// Send encrypts m's payload for the subscription and posts it with
// TTL 86400, Urgency high and Topic m.CollapseID (when set). The webhook
// sends web pushes for alert class only: browsers require a visible
// notification for every push.
func (s *WebPush) Send(ctx context.Context, t *Target, m *Message) Result {
	if t.Platform != PlatformWebPush {
		return failed("webpush", Rejected, ErrBadPlatform)
	}
	if err := t.Validate(); err != nil {
		return failed("webpush", Rejected, err)
	}
	u, e, err := s.allow.checkEndpoint(t.Endpoint)
	if err != nil {
		return failed("webpush", Rejected, err)
	}
	plain, err := WebPushPayload(m)
	if err != nil {
		return failed("webpush", Rejected, err)
	}
	body, err := encryptWebPush(plain, t.P256dh, t.Auth)
	if err != nil {
		return failed("webpush", Rejected, err)
	}
	origin := "https://" + strings.ToLower(u.Host)
	if u.Port() == "443" {
		origin = "https://" + strings.ToLower(u.Hostname())
	}
	return s.core.run(ctx, e.breaker, func(ctx context.Context) Result {
		return s.send(ctx, t.Endpoint, origin, m, body)
	})
}

func (s *WebPush) send(ctx context.Context, endpoint, origin string, m *Message, body []byte) Result {
	auth, err := s.vapid.authorization(origin)
	if err != nil {
		return failed("webpush", ProviderFailure, errors.New("signing the vapid token"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return failed("webpush", Rejected, ErrBadEndpoint)
	}
	h := req.Header
	h.Set("Authorization", auth)
	h.Set("Content-Encoding", "aes128gcm")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("TTL", webPushTTL)
	h.Set("Urgency", webPushUrgency)
	if m.CollapseID != "" {
		h.Set("Topic", m.CollapseID)
	}
	a, fail := s.core.post(ctx, req)
	if fail != nil {
		if errors.Is(fail.Err, ErrAddressNotAllowed) || errors.Is(fail.Err, ErrEndpointNotAllowed) {
			return failed("webpush", Rejected, ErrAddressNotAllowed)
		}
		return *fail
	}
	return answered("webpush", classifyWebPush(a.status), a.status, "", parseRetryAfter(a.header.Get("Retry-After"), time.Now()))
}

// classifyWebPush maps a push service's status to an outcome (RFC 8030).
func classifyWebPush(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Delivered
	case status >= 300 && status < 400:
		// Redirects are not followed: the device chose this URL.
		return Rejected
	case status == http.StatusNotFound || status == http.StatusGone:
		return TargetGone
	case status == http.StatusTooManyRequests:
		return TargetThrottled
	case status >= 400 && status < 500:
		// 400, 401/403 (VAPID key not the subscription's), 413: about
		// this push or subscription.
		return Rejected
	}
	return ProviderFailure
}

func validSubject(s string) bool {
	u, err := url.Parse(s)
	if err != nil || len(s) > 256 {
		return false
	}
	switch u.Scheme {
	case "mailto":
		return u.Opaque != ""
	case "https":
		return u.Host != ""
	}
	return false
}
