package caddymodule

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/push"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

// PushConfig configures push (the `push` block of the directive): the
// commands push.subscribe, push.list and push.unsubscribe, and the webhook
// at {prefix}/push/n/{R} and {prefix}/push/l/{R} that turns Graph's change
// notifications into pushes. Without it push is off: the push commands
// answer invalid_args and the webhook paths are not found.
type PushConfig struct {
	// PublicURL is the bridge's public https base URL where Graph posts
	// notifications, e.g. `https://bridge.example.com`; the webhook
	// paths are appended to it with the prefix. It is never taken from a
	// request. Required.
	PublicURL string `json:"public_url,omitempty"`

	// SubscriptionTTL is the lifetime of a Graph subscription, 45m to
	// 10080m (Graph's limit) and at most state_ttl. Default: 6d.
	SubscriptionTTL caddy.Duration `json:"subscription_ttl,omitempty"`

	// SendTimeout bounds one notification's push, so that Graph is never
	// answered later than this (it throttles slow endpoints); a push
	// still pending then is dropped and Graph is answered 202. Default:
	// 1500ms.
	SendTimeout caddy.Duration `json:"send_timeout,omitempty"`

	// ResealAfter is the age of a routing blob after which a renewal
	// answers resync_required, so that the device subscribes afresh.
	// Default: 30d.
	ResealAfter caddy.Duration `json:"push_reseal_after,omitempty"`

	// MaxInflightSends bounds the pushes in flight to all push services
	// together; a notification that finds no free slot within
	// SendTimeout is dropped (202). Default: 256.
	MaxInflightSends int `json:"max_inflight_sends,omitempty"`

	// TrustPoolRaw is the pool of roots trusted for the push services'
	// TLS, a tls.ca_pool.source module (as reverse_proxy's
	// tls_trust_pool), e.g. `{"provider":"pki_root","authority":["local"]}`
	// toward a local push service double. Default: the system roots.
	TrustPoolRaw json.RawMessage `json:"trust_pool,omitempty" caddy:"namespace=tls.ca_pool.source inline_key=provider"`

	// APNs configures Apple Push Notification service. Default: none
	// (push.subscribe for apns answers invalid_args).
	APNs *APNsConfig `json:"apns,omitempty"`

	// FCM configures Firebase Cloud Messaging. Default: none.
	FCM *FCMConfig `json:"fcm,omitempty"`

	// WebPush configures Web Push. Default: none.
	WebPush *WebPushConfig `json:"webpush,omitempty"`
}

// APNsConfig configures APNs token authentication.
type APNsConfig struct {
	// KeyFile is the path of the .p8 signing key (PKCS#8, P-256) from the
	// Apple developer account. Required.
	KeyFile string `json:"key_file,omitempty"`
	// KeyID is the key's 10-character Key ID. Required.
	KeyID string `json:"key_id,omitempty"`
	// TeamID is the 10-character Team ID. Required.
	TeamID string `json:"team_id,omitempty"`
	// Topic is the app's bundle id (apns-topic). Required.
	Topic string `json:"topic,omitempty"`
	// Endpoint is the production base URL. Default:
	// https://api.push.apple.com.
	Endpoint string `json:"endpoint,omitempty"`
	// SandboxEndpoint is the development base URL, for subscriptions
	// made with env sandbox. Default: https://api.sandbox.push.apple.com.
	SandboxEndpoint string `json:"sandbox_endpoint,omitempty"`
}

// FCMConfig configures FCM HTTP v1.
type FCMConfig struct {
	// CredentialsFile is the path of the service-account JSON key; its
	// token_uri is where access tokens come from. Required.
	CredentialsFile string `json:"credentials_file,omitempty"`
	// ProjectID is the Firebase project. Default: the credentials'
	// project_id.
	ProjectID string `json:"project_id,omitempty"`
	// Endpoint is the API's base URL. Default: https://fcm.googleapis.com.
	Endpoint string `json:"endpoint,omitempty"`
	// Priority is the Android priority of pushes that are not alert
	// class, normal or high; alert pushes are always high. Default:
	// normal.
	Priority string `json:"priority,omitempty"`
}

// WebPushConfig configures Web Push (RFC 8030, 8291, 8292).
type WebPushConfig struct {
	// VAPIDKeyFile is the path of the VAPID key, a PEM P-256 private key.
	// Required.
	VAPIDKeyFile string `json:"vapid_key_file,omitempty"`
	// Subject is the VAPID contact, a mailto: or https: URI. Required.
	Subject string `json:"subject,omitempty"`
	// AllowHosts are the push services devices may name: `host`,
	// `host:port`, `*.domain` or `*.domain:port`; the port is 443 unless
	// named. A wildcard entry only reaches public addresses. Required.
	AllowHosts []string `json:"allow_hosts,omitempty"`
}

// pushRuntime is what the webhook needs, built at provision time.
type pushRuntime struct {
	keys        *push.Keys
	senders     *push.Senders
	sendTimeout time.Duration
	ttl         time.Duration
	limits      *pushLimits
}

// provisionPush builds the push senders and returns the translator's push
// options. It returns nil options when push is not configured.
func (h *Handler) provisionPush(ctx caddy.Context) (*translate.PushOptions, error) {
	c := h.Push
	if c == nil {
		return nil, nil
	}
	if c.APNs == nil && c.FCM == nil && c.WebPush == nil {
		return nil, fmt.Errorf("push: configure at least one of apns, fcm and webpush")
	}
	if c.MaxInflightSends < 0 || c.SendTimeout < 0 || c.SubscriptionTTL < 0 || c.ResealAfter < 0 {
		return nil, fmt.Errorf("push: max_inflight_sends, send_timeout, subscription_ttl and push_reseal_after must not be negative")
	}
	if c.MaxInflightSends == 0 {
		c.MaxInflightSends = push.DefaultMaxInflight
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = caddy.Duration(push.DefaultSendTimeout)
	}
	if c.SubscriptionTTL == 0 {
		c.SubscriptionTTL = caddy.Duration(translate.DefaultSubscriptionTTL)
	}
	var roots *x509.CertPool
	if c.TrustPoolRaw != nil {
		mod, err := ctx.LoadModule(c, "TrustPoolRaw")
		if err != nil {
			return nil, fmt.Errorf("push trust_pool: %v", err)
		}
		ca, ok := mod.(caddytls.CA)
		if !ok {
			return nil, fmt.Errorf("push trust_pool: module %T is not a certificate pool", mod)
		}
		roots = ca.CertPool()
	}
	repl := caddy.NewReplacer()
	expand := func(s string) string { return strings.TrimSpace(repl.ReplaceAll(s, "")) }

	inflight := push.NewInflight(c.MaxInflightSends)
	sendTimeout := time.Duration(c.SendTimeout)
	senders := &push.Senders{}
	fail := func(err error) (*translate.PushOptions, error) {
		_ = senders.Close()
		return nil, err
	}
	opts := &translate.PushOptions{
		PublicURL:       expand(c.PublicURL),
		Prefix:          h.Prefix,
		SubscriptionTTL: time.Duration(c.SubscriptionTTL),
		ResealAfter:     time.Duration(c.ResealAfter),
	}
	if c.APNs != nil {
		key, err := push.LoadAPNsKeyFile(expand(c.APNs.KeyFile))
		if err != nil {
			return fail(fmt.Errorf("push apns key_file: %v", err))
		}
		senders.APNs, err = push.NewAPNs(push.APNsOptions{
			Key: key, KeyID: expand(c.APNs.KeyID), TeamID: expand(c.APNs.TeamID), Topic: expand(c.APNs.Topic),
			Endpoint: c.APNs.Endpoint, SandboxEndpoint: c.APNs.SandboxEndpoint,
			RootCAs: roots, SendTimeout: sendTimeout, Inflight: inflight,
		})
		if err != nil {
			return fail(fmt.Errorf("push apns: %v", err))
		}
		opts.APNs = true
	}
	if c.FCM != nil {
		path := expand(c.FCM.CredentialsFile)
		if path == "" {
			return fail(fmt.Errorf("push fcm: credentials_file is required"))
		}
		creds, err := os.ReadFile(path)
		if err != nil {
			return fail(fmt.Errorf("push fcm credentials_file: %v", err))
		}
		logger := h.logger
		senders.FCM, err = push.NewFCM(push.FCMOptions{
			CredentialsJSON: creds, ProjectID: expand(c.FCM.ProjectID), Endpoint: c.FCM.Endpoint,
			Priority: c.FCM.Priority, RootCAs: roots, SendTimeout: sendTimeout, Inflight: inflight,
			OnTokenError: func(err error) { logger.Warn("fcm access token fetch failed", zap.Error(err)) },
		})
		if err != nil {
			return fail(fmt.Errorf("push fcm: %v", err))
		}
		opts.FCM = true
	}
	if c.WebPush != nil {
		key, err := push.LoadVAPIDKeyFile(expand(c.WebPush.VAPIDKeyFile))
		if err != nil {
			return fail(fmt.Errorf("push webpush vapid_key_file: %v", err))
		}
		senders.WebPush, err = push.NewWebPush(push.WebPushOptions{
			VAPIDKey: key, Subject: expand(c.WebPush.Subject), AllowHosts: c.WebPush.AllowHosts,
			RootCAs: roots, SendTimeout: sendTimeout, Inflight: inflight,
		})
		if err != nil {
			return fail(fmt.Errorf("push webpush: %v", err))
		}
		opts.WebPush = true
		opts.CheckWebPushEndpoint = senders.WebPush.CheckEndpoint
	}
	h.push = &pushRuntime{
		senders:     senders,
		sendTimeout: sendTimeout,
		ttl:         time.Duration(c.SubscriptionTTL),
		limits:      newPushLimits(DefaultMaxTrackedRoutes),
	}
	return opts, nil
}

// closePush stops the senders' background refreshing.
func (h *Handler) closePush() error {
	if h.push == nil || h.push.senders == nil {
		return nil
	}
	return h.push.senders.Close()
}
