package translate

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/devicebridge/caddy-devicebridge/push"
)

// This file holds the push configuration of the translator (DEVICE_API.md
// §7): where Graph posts notifications, the subscription lifetime, when a
// routing blob must be resealed, the configured platforms, and the push
// keys derived from the state keys.

const (
	// DefaultSubscriptionTTL is the subscription lifetime used when
	// PushOptions.SubscriptionTTL is 0.
	DefaultSubscriptionTTL = 6 * 24 * time.Hour
	// MaxSubscriptionTTL is Graph's limit for Outlook message, event and
	// contact subscriptions (10,080 minutes).
	MaxSubscriptionTTL = 10080 * time.Minute
	// MinSubscriptionTTL is the shortest lifetime: Graph raises a shorter
	// expirationDateTime to 45 minutes.
	MinSubscriptionTTL = 45 * time.Minute
	// DefaultResealAfter is the routing blob's age after which a renewal
	// answers resync_required, used when PushOptions.ResealAfter is 0.
	DefaultResealAfter = 30 * 24 * time.Hour
	// MaxResealAfter bounds PushOptions.ResealAfter.
	MaxResealAfter = 365 * 24 * time.Hour
	// PushUpstreamTimeout is the least upstream timeout a plan that creates
	// or renews a subscription needs: Graph validates both notification
	// URLs (up to 10 s each) before it answers. See Plan.MinUpstreamTimeout.
	PushUpstreamTimeout = 35 * time.Second
	// MaxNotificationURLLen: a notification URL must stay under this many
	// bytes (Graph documents no limit; longer URLs are refused).
	MaxNotificationURLLen = 2048
)

// PushOptions configure the push commands. The Caddy module fills them
// from the push block of its configuration.
type PushOptions struct {
	// PublicURL is the bridge's public https base URL, where Graph posts
	// notifications (push public_url), e.g. "https://bridge.example.com";
	// required. It never comes from a request's Host.
	PublicURL string
	// Prefix is the bridge's path prefix (e.g. "/dbx"), "" for none. The
	// webhook's paths are {Prefix}/push/n/{R} and {Prefix}/push/l/{R}.
	Prefix string
	// SubscriptionTTL is the lifetime of a subscription (push
	// subscription_ttl), MinSubscriptionTTL to MaxSubscriptionTTL; 0 means
	// DefaultSubscriptionTTL (6 days). It must not exceed the state TTL.
	SubscriptionTTL time.Duration
	// ResealAfter is the age of a routing blob after which a renewal
	// answers resync_required (push push_reseal_after), up to
	// MaxResealAfter; 0 means DefaultResealAfter (30 days).
	ResealAfter time.Duration
	// APNs, FCM and WebPush tell which platforms are configured (have their
	// block); push.subscribe for another platform answers invalid_args
	// naming it. At least one must be set.
	APNs, FCM, WebPush bool
	// CheckWebPushEndpoint checks a web push endpoint against the
	// operator's allow list at subscribe time (push.WebPush.CheckEndpoint);
	// required when WebPush is set. A non-nil error refuses the endpoint
	// with invalid_args (its text is not shown to the device).
	CheckWebPushEndpoint func(endpoint string) error
}

// pushConfig is the checked push configuration of a Translator.
type pushConfig struct {
	notifyBase    string // {public_url}{prefix}/push/n/
	lifecycleBase string // {public_url}{prefix}/push/l/
	ttl           time.Duration
	resealAfter   time.Duration
	platforms     [4]bool // indexed by push.Platform
	checkEndpoint func(string) error
	keys          *push.Keys
}

// check validates o and returns the config without keys. stateTTL is the
// translator's effective state TTL: a push state must outlive its
// subscription.
func (o *PushOptions) check(stateTTL time.Duration) (*pushConfig, error) {
	base, err := parsePublicURL(o.PublicURL)
	if err != nil {
		return nil, err
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	c := &pushConfig{ttl: o.SubscriptionTTL, resealAfter: o.ResealAfter, checkEndpoint: o.CheckWebPushEndpoint}
	if c.ttl == 0 {
		c.ttl = DefaultSubscriptionTTL
	}
	if c.ttl < MinSubscriptionTTL || c.ttl > MaxSubscriptionTTL {
		return nil, fmt.Errorf("translate: push subscription_ttl must be %v to %v (Graph's limit)", MinSubscriptionTTL, MaxSubscriptionTTL)
	}
	if c.ttl > stateTTL {
		return nil, errors.New("translate: push subscription_ttl must not exceed the state TTL (a push state must outlive its subscription)")
	}
	if c.resealAfter == 0 {
		c.resealAfter = DefaultResealAfter
	}
	if c.resealAfter < 0 || c.resealAfter > MaxResealAfter {
		return nil, fmt.Errorf("translate: push push_reseal_after must be positive and at most %v", MaxResealAfter)
	}
	if !o.APNs && !o.FCM && !o.WebPush {
		return nil, errors.New("translate: push needs at least one platform (apns, fcm or webpush)")
	}
	if o.WebPush && o.CheckWebPushEndpoint == nil {
		return nil, errors.New("translate: push webpush needs CheckWebPushEndpoint (the allow list check)")
	}
	c.platforms[push.PlatformAPNs] = o.APNs
	c.platforms[push.PlatformFCM] = o.FCM
	c.platforms[push.PlatformWebPush] = o.WebPush
	c.notifyBase = base + o.Prefix + "/push/n/"
	c.lifecycleBase = base + o.Prefix + "/push/l/"
	return c, nil
}

// build checks o and derives the push keys from the state keys.
func (o *PushOptions) build(stateKeys [][]byte, stateTTL time.Duration) (*pushConfig, error) {
	c, err := o.check(stateTTL)
	if err != nil {
		return nil, err
	}
	if c.keys, err = push.NewKeys(stateKeys); err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	return c, nil
}

// parsePublicURL checks the push public URL: https, a host with an
// optional port and path, nothing else. It returns scheme://host[/path]
// without a trailing slash.
func parsePublicURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("translate: push public_url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("translate: push public_url is not a URL")
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", errors.New("translate: push public_url must be https (Graph posts only to https)")
	}
	if u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("translate: push public_url must be https://host[:port][/path] without user info, query or fragment")
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if err := checkPrefix(path); err != nil {
		return "", errors.New("translate: push public_url path must be plain segments of [A-Za-z0-9._~-]")
	}
	return "https://" + strings.ToLower(u.Host) + path, nil
}

// checkPrefix checks a path prefix: "" or "/seg[/seg…]" of
// [A-Za-z0-9._~-], no empty or dot segment, no trailing slash.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if prefix[0] != '/' {
		return errors.New("translate: push prefix must start with '/'")
	}
	for _, seg := range strings.Split(prefix[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("translate: push prefix must not have empty or dot segments, nor a trailing slash")
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '~' && c != '-' {
				return errors.New("translate: push prefix must be plain segments of [A-Za-z0-9._~-]")
			}
		}
	}
	return nil
}

// PushKeys returns the push keys derived from the state keys (nil when push
// is not configured): the webhook opens routing blobs and checks
// clientState with the same keys the translator seals them with.
func (t *Translator) PushKeys() *push.Keys {
	if t.push == nil {
		return nil
	}
	return t.push.keys
}

// MinUpstreamTimeout returns the least upstream timeout the plan's call
// needs: PushUpstreamTimeout when it creates or renews a subscription
// (Graph validates the notification URLs first), else 0 (the caller's own).
func (p *Plan) MinUpstreamTimeout() time.Duration {
	for i := 0; i < p.n; i++ {
		if c := &p.cmds[i]; c.err == nil && c.op == opPushSubscribe {
			return PushUpstreamTimeout
		}
	}
	return 0
}
