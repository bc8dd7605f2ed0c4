package push

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APNs endpoint defaults.
const (
	DefaultAPNsEndpoint        = "https://api.push.apple.com"
	DefaultAPNsSandboxEndpoint = "https://api.sandbox.push.apple.com"
)

// APNs push timing and limits.
const (
	apnsBackgroundExpiry = time.Hour
	apnsAlertExpiry      = 24 * time.Hour
	apnsMaxPayload       = 4096
)

// APNsOptions configure an APNs sender (token-based auth).
type APNsOptions struct {
	// Key is the token-auth signing key (ParseAPNsKey, LoadAPNsKeyFile).
	// Required.
	Key *ecdsa.PrivateKey
	// KeyID is the key's 10-character Key ID (the JWT's kid). Required.
	KeyID string
	// TeamID is the 10-character Team ID (the JWT's iss). Required.
	TeamID string
	// Topic is the app's bundle id, sent as apns-topic. Required.
	Topic string
	// Endpoint is the production base URL. Default
	// https://api.push.apple.com.
	Endpoint string
	// SandboxEndpoint is the development base URL. Default
	// https://api.sandbox.push.apple.com.
	SandboxEndpoint string
	// RootCAs are the roots trusted for the endpoints. Default (nil): the
	// system roots.
	RootCAs *x509.CertPool
	// TokenRefresh is the age at which the provider token is replaced in
	// the background, between 20 and 50 minutes. Default 40 minutes.
	TokenRefresh time.Duration
	// SendTimeout bounds a send whose context has no deadline. Default
	// 1500ms.
	SendTimeout time.Duration
	// Inflight bounds concurrent sends, shared with the other senders.
	// Default: a bound of its own of DefaultMaxInflight.
	Inflight *Inflight
	// Breaker tunes the circuit breakers, one per environment. Defaults as
	// in BreakerOptions.
	Breaker BreakerOptions
}

// APNs sends pushes to Apple Push Notification service over HTTP/2 with a
// provider token that is refreshed in the background.
type APNs struct {
	core      sendCore
	topic     string
	endpoints [2]string // by Env
	breakers  [2]*Breaker
	tokens    *apnsTokens
	now       func() time.Time
}

// NewAPNs checks opts, signs the first provider token and starts its
// background refresh. Close stops it.
func NewAPNs(opts APNsOptions) (*APNs, error) {
	if opts.Key == nil {
		return nil, errors.New("apns: key required")
	}
	if !isAlnum(opts.KeyID, 10) {
		return nil, errors.New("apns: key_id must be 10 letters or digits")
	}
	if !isAlnum(opts.TeamID, 10) {
		return nil, errors.New("apns: team_id must be 10 letters or digits")
	}
	if !validTopic(opts.Topic) {
		return nil, errors.New("apns: topic must be a bundle id")
	}
	refresh := opts.TokenRefresh
	if refresh == 0 {
		refresh = DefaultAPNsTokenRefresh
	}
	if refresh < MinAPNsTokenRefresh || refresh > MaxAPNsTokenRefresh {
		return nil, fmt.Errorf("apns: token refresh %s outside %s..%s", refresh, MinAPNsTokenRefresh, MaxAPNsTokenRefresh)
	}
	prod, err := baseURL("apns endpoint", opts.Endpoint, DefaultAPNsEndpoint)
	if err != nil {
		return nil, err
	}
	sandbox, err := baseURL("apns sandbox_endpoint", opts.SandboxEndpoint, DefaultAPNsSandboxEndpoint)
	if err != nil {
		return nil, err
	}
	tokens, err := newAPNsTokens(opts.Key, opts.KeyID, opts.TeamID, refresh)
	if err != nil {
		return nil, fmt.Errorf("apns: signing the provider token: %w", err)
	}
	s := &APNs{
		core:      newSendCore("apns", newHTTPClient(opts.RootCAs, nil), opts.Inflight, opts.SendTimeout),
		topic:     opts.Topic,
		endpoints: [2]string{EnvProduction: prod, EnvSandbox: sandbox},
		breakers:  [2]*Breaker{NewBreaker(opts.Breaker), NewBreaker(opts.Breaker)},
		tokens:    tokens,
		now:       time.Now,
	}
	tokens.start()
	return s, nil
}

// Breaker returns the breaker of t's environment.
func (s *APNs) Breaker(t *Target) *Breaker {
	if t.Env == EnvSandbox {
		return s.breakers[EnvSandbox]
	}
	return s.breakers[EnvProduction]
}

// Close stops the token refresher and drops idle connections.
func (s *APNs) Close() error {
	s.tokens.close()
	s.core.client.CloseIdleConnections()
	return nil
}

// Send delivers m to the device token of t: a background push (priority 5,
// expiring after an hour, collapsed by kind) or, for an alert message, an
// alert push (priority 10, 24 hours, collapsed by m.CollapseID).
func (s *APNs) Send(ctx context.Context, t *Target, m *Message) Result {
	if t.Platform != PlatformAPNs || t.Env > EnvSandbox {
		return failed("apns", Rejected, ErrBadPlatform)
	}
	if err := t.Validate(); err != nil {
		return failed("apns", Rejected, err)
	}
	body, err := APNsPayload(m)
	if err != nil {
		return failed("apns", Rejected, err)
	}
	if len(body) > apnsMaxPayload {
		return failed("apns", Rejected, errors.New("payload over 4096 bytes"))
	}
	return s.core.run(ctx, s.Breaker(t), func(ctx context.Context) Result {
		return s.send(ctx, t, m, body)
	})
}

func (s *APNs) send(ctx context.Context, t *Target, m *Message, body []byte) Result {
	// t.Token is validated hex: it needs no escaping.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoints[t.Env]+"/3/device/"+t.Token, bytes.NewReader(body))
	if err != nil {
		return failed("apns", Rejected, errors.New("building the request"))
	}
	h := req.Header
	h.Set("authorization", s.tokens.bearer())
	h.Set("content-type", "application/json")
	h.Set("apns-topic", s.topic)
	now := s.now()
	if m.Alert {
		h.Set("apns-push-type", "alert")
		h.Set("apns-priority", "10")
		h.Set("apns-expiration", strconv.FormatInt(now.Add(apnsAlertExpiry).Unix(), 10))
		h.Set("apns-collapse-id", m.CollapseID)
	} else {
		h.Set("apns-push-type", "background")
		h.Set("apns-priority", "5")
		h.Set("apns-expiration", strconv.FormatInt(now.Add(apnsBackgroundExpiry).Unix(), 10))
		h.Set("apns-collapse-id", string(m.Kind))
	}
	a, fail := s.core.post(ctx, req)
	if fail != nil {
		return *fail
	}
	reason := ""
	if a.status != http.StatusOK {
		reason = parseAPNsReason(a.body)
	}
	o, refresh := classifyAPNs(a.status, reason)
	if refresh {
		s.tokens.invalidate()
	}
	return answered("apns", o, a.status, reason, parseRetryAfter(a.header.Get("Retry-After"), now))
}

// classifyAPNs maps an APNs answer to an outcome, and says whether the
// provider token must be replaced.
func classifyAPNs(status int, reason string) (o Outcome, refreshToken bool) {
	switch status {
	case http.StatusOK:
		return Delivered, false
	case http.StatusBadRequest:
		switch reason {
		case "BadDeviceToken", "DeviceTokenNotForTopic", "MissingDeviceToken":
			return TargetGone, false
		case "BadTopic", "MissingTopic", "TopicDisallowed":
			// The configured topic is wrong for every target.
			return ProviderFailure, false
		}
		return Rejected, false
	case http.StatusForbidden:
		switch reason {
		case "ExpiredProviderToken", "InvalidProviderToken", "MissingProviderToken":
			return ProviderFailure, true
		}
		return ProviderFailure, false
	case http.StatusGone:
		return TargetGone, false
	case http.StatusRequestEntityTooLarge:
		return Rejected, false
	case http.StatusTooManyRequests:
		if reason == "TooManyProviderTokenUpdates" {
			// The token changed too often: every target is affected, and
			// a refresh would only make it worse.
			return ProviderFailure, false
		}
		return TargetThrottled, false
	}
	if status >= 400 && status < 500 && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return Rejected, false
	}
	// 404 BadPath, 405, 5xx and anything unexpected: the provider or its
	// configuration is at fault for every target.
	return ProviderFailure, false
}

// parseAPNsReason reads the "reason" of an APNs error body. It returns ""
// for anything that is not a short code of letters and digits.
func parseAPNsReason(body []byte) string {
	var v struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return cleanReason(v.Reason)
}

// baseURL checks a configured https base URL (no path, query or user).
func baseURL(what, v, def string) (string, error) {
	if v == "" {
		v = def
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("%s: want an https URL without path, got %q", what, v)
	}
	return "https://" + u.Host, nil
}

func isAlnum(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validTopic accepts a bundle id (with an optional suffix such as .voip):
// letters, digits, '.', '-' and '_', at most 255 bytes.
func validTopic(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
