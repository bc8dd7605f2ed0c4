package push

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2/google"
)

// FCM defaults.
const (
	DefaultFCMEndpoint = "https://fcm.googleapis.com"
	// FCMScope is the OAuth2 scope of the HTTP v1 send API.
	FCMScope = "https://www.googleapis.com/auth/firebase.messaging"
	fcmTTL   = "3600s"
)

// FCMOptions configure an FCM HTTP v1 sender.
type FCMOptions struct {
	// CredentialsJSON is the service-account key file's content. Its
	// token_uri is where access tokens are fetched. Required.
	CredentialsJSON []byte
	// ProjectID is the Firebase project. Default: the credentials'
	// project_id.
	ProjectID string
	// Endpoint is the API's base URL. Default https://fcm.googleapis.com.
	Endpoint string
	// Priority is the android.priority of pushes that are not alert class:
	// "normal" or "high". Default "normal". Alert pushes are always high.
	Priority string
	// RootCAs are the roots trusted for the endpoint and the token server.
	// Default (nil): the system roots.
	RootCAs *x509.CertPool
	// SendTimeout bounds a send whose context has no deadline. Default
	// 1500ms.
	SendTimeout time.Duration
	// Inflight bounds concurrent sends, shared with the other senders.
	// Default: a bound of its own of DefaultMaxInflight.
	Inflight *Inflight
	// Breaker tunes the circuit breaker. Defaults as in BreakerOptions.
	Breaker BreakerOptions
	// OnTokenError, when set, is called from the refresher with each
	// failed access-token fetch (for the operator's log; the error holds
	// the token server's answer, never the credentials). Default: none.
	OnTokenError func(error)
}

// FCM sends data-only messages through the FCM HTTP v1 API with an OAuth2
// service-account token that is fetched and refreshed in the background.
type FCM struct {
	core     sendCore
	sendURL  string
	priority string
	breaker  *Breaker
	tokens   *fcmTokens
	now      func() time.Time
}

// ErrNoToken is the error of a send while the sender holds no valid access
// token (the token server has not answered yet, or keeps failing).
var ErrNoToken = errors.New("no access token")

// NewFCM checks opts and starts fetching access tokens in the background;
// it does not wait for the first (see Ready). Close stops the refresher.
func NewFCM(opts FCMOptions) (*FCM, error) {
	conf, err := google.JWTConfigFromJSON(opts.CredentialsJSON, FCMScope)
	if err != nil {
		return nil, fmt.Errorf("fcm credentials: %w", err)
	}
	if u, err := url.Parse(conf.TokenURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("fcm credentials: token_uri must be an https URL")
	}
	project := opts.ProjectID
	if project == "" {
		var f struct {
			ProjectID string `json:"project_id"`
		}
		_ = json.Unmarshal(opts.CredentialsJSON, &f)
		project = f.ProjectID
	}
	if !validProjectID(project) {
		return nil, errors.New("fcm: project_id missing or not a project id")
	}
	base, err := baseURL("fcm endpoint", opts.Endpoint, DefaultFCMEndpoint)
	if err != nil {
		return nil, err
	}
	priority := opts.Priority
	switch priority {
	case "":
		priority = "normal"
	case "normal", "high":
	default:
		return nil, fmt.Errorf("fcm: priority %q, want normal or high", priority)
	}
	client := newHTTPClient(opts.RootCAs, nil)
	s := &FCM{
		core:     newSendCore("fcm", client, opts.Inflight, opts.SendTimeout),
		sendURL:  base + "/v1/projects/" + url.PathEscape(project) + "/messages:send",
		priority: priority,
		breaker:  NewBreaker(opts.Breaker),
		tokens:   newFCMTokens(conf, client, opts.OnTokenError),
		now:      time.Now,
	}
	s.tokens.start()
	return s, nil
}

// Ready waits until the first access token is in, or ctx ends.
func (s *FCM) Ready(ctx context.Context) error {
	select {
	case <-s.tokens.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fcm: waiting for the first access token: %w", ctx.Err())
	}
}

// Breaker returns the sender's breaker.
func (s *FCM) Breaker(*Target) *Breaker { return s.breaker }

// Close stops the token refresher and drops idle connections.
func (s *FCM) Close() error {
	s.tokens.close()
	s.core.client.CloseIdleConnections()
	return nil
}

// fcmRequest is the body of messages:send.
type fcmRequest struct {
	Message fcmMessage `json:"message"`
}

type fcmMessage struct {
	Token   string            `json:"token,omitempty"`
	FID     string            `json:"fid,omitempty"`
	Data    map[string]string `json:"data"`
	Android fcmAndroid        `json:"android"`
}

type fcmAndroid struct {
	CollapseKey string `json:"collapse_key"`
	Priority    string `json:"priority"`
	TTL         string `json:"ttl"`
}

// Send delivers m as a data-only message to t's registration token or
// installation id: collapse key "sync" for changes and "ctl" for renew and
// resubscribe, TTL one hour, priority high for alert class and the
// configured one otherwise.
func (s *FCM) Send(ctx context.Context, t *Target, m *Message) Result {
	if t.Platform != PlatformFCM {
		return failed("fcm", Rejected, ErrBadPlatform)
	}
	if err := t.Validate(); err != nil {
		return failed("fcm", Rejected, err)
	}
	data, err := FCMData(m)
	if err != nil {
		return failed("fcm", Rejected, err)
	}
	msg := fcmMessage{Token: t.Token, FID: t.FID, Data: data,
		Android: fcmAndroid{CollapseKey: "sync", Priority: s.priority, TTL: fcmTTL}}
	if m.Kind.control() {
		msg.Android.CollapseKey = "ctl"
	}
	if m.Alert {
		msg.Android.Priority = "high"
	}
	body, err := json.Marshal(fcmRequest{Message: msg})
	if err != nil {
		return failed("fcm", Rejected, errors.New("encoding the message"))
	}
	return s.core.run(ctx, s.breaker, func(ctx context.Context) Result {
		return s.send(ctx, body)
	})
}

func (s *FCM) send(ctx context.Context, body []byte) Result {
	bearer := s.tokens.bearer()
	if bearer == "" {
		s.tokens.invalidate()
		return failed("fcm", ProviderFailure, ErrNoToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.sendURL, bytes.NewReader(body))
	if err != nil {
		return failed("fcm", Rejected, errors.New("building the request"))
	}
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Content-Type", "application/json")
	a, fail := s.core.post(ctx, req)
	if fail != nil {
		return *fail
	}
	var e fcmError
	if a.status < 200 || a.status > 299 {
		e = parseFCMError(a.body)
	}
	v := classifyFCM(a.status, e)
	if v.refreshToken {
		s.tokens.invalidate()
	}
	r := answered("fcm", v.outcome, a.status, e.reason(), parseRetryAfter(a.header.Get("Retry-After"), s.now()))
	if v.trip {
		r.trip = max(r.RetryAfter, time.Nanosecond)
	}
	return r
}

// validProjectID accepts a Google Cloud project id, including a
// domain-scoped one (example.com:project).
func validProjectID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
