package push

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKeyID  = "ABC123DEFG"
	testTeamID = "TEAM123456"
	testTopic  = "com.example.mail"
	goodToken  = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0"
)

// apnsRequest is what the fake APNs saw.
type apnsRequest struct {
	path   string
	proto  int
	header http.Header
	body   string
}

// fakeAPNs answers by device token: a status and reason per token, 200
// otherwise.
type fakeAPNs struct {
	*h2Server
	mu      sync.Mutex
	seen    []apnsRequest
	answers map[string][2]string // token -> status, reason
}

func newFakeAPNs(t *testing.T) *fakeAPNs {
	f := &fakeAPNs{answers: map[string][2]string{}}
	f.h2Server = newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		token := strings.TrimPrefix(r.URL.Path, "/3/device/")
		f.mu.Lock()
		f.seen = append(f.seen, apnsRequest{r.URL.Path, r.ProtoMajor, r.Header.Clone(), string(body)})
		a, ok := f.answers[token]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("apns-id", "11111111-2222-3333-4444-555555555555")
			return
		}
		if a[0] == "sleep" {
			<-r.Context().Done()
			return
		}
		st, _ := strconv.Atoi(a[0])
		w.WriteHeader(st)
		io.WriteString(w, `{"reason":"`+a[1]+`"}`)
	}))
	return f
}

func (f *fakeAPNs) requests() []apnsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apnsRequest(nil), f.seen...)
}

func (f *fakeAPNs) answer(token string, status int, reason string) {
	f.mu.Lock()
	f.answers[token] = [2]string{strconv.Itoa(status), reason}
	f.mu.Unlock()
}

func newTestAPNs(t *testing.T, prod, sandbox *fakeAPNs, key *ecdsa.PrivateKey) *APNs {
	t.Helper()
	opts := APNsOptions{
		Key: key, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: prod.URL, RootCAs: prod.pool(),
		Breaker: BreakerOptions{Threshold: 3, Cooldown: time.Hour},
	}
	if sandbox != nil {
		opts.SandboxEndpoint = sandbox.URL
		opts.RootCAs.AddCert(sandbox.Certificate())
	}
	s, err := NewAPNs(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func apnsTarget(token string) *Target { return &Target{Platform: PlatformAPNs, Token: token} }

func TestAPNsSendsBackgroundAndAlertPushes(t *testing.T) {
	key := newP256(t)
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, key)
	before := time.Now()

	bg := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail, Account: "work"})
	alert := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail, Alert: true, Refs: []string{"cmVm"}, CollapseID: "Y29sbGFwc2VpZA"})
	if bg.Outcome != Delivered || alert.Outcome != Delivered {
		t.Fatalf("outcomes %v (%v), %v (%v)", bg.Outcome, bg.Err, alert.Outcome, alert.Err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	want := []struct {
		pushType, priority, collapse, body string
		expiry                             time.Duration
	}{
		{"background", "5", "mail", `{"aps":{"content-available":1},"k":"mail","a":"work"}`, time.Hour},
		{"alert", "10", "Y29sbGFwc2VpZA", `{"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1},"k":"mail","m":["cmVm"]}`, 24 * time.Hour},
	}
	for i, r := range reqs {
		w := want[i]
		if r.path != "/3/device/"+goodToken || r.proto != 2 {
			t.Errorf("push %d: path %q over HTTP/%d", i, r.path, r.proto)
		}
		h := r.header
		if h.Get("apns-push-type") != w.pushType || h.Get("apns-priority") != w.priority ||
			h.Get("apns-collapse-id") != w.collapse || h.Get("apns-topic") != testTopic {
			t.Errorf("push %d headers: %v", i, h)
		}
		if r.body != w.body {
			t.Errorf("push %d body %s, want %s", i, r.body, w.body)
		}
		exp, err := strconv.ParseInt(h.Get("apns-expiration"), 10, 64)
		lo, hi := before.Add(w.expiry).Unix(), time.Now().Add(w.expiry).Unix()
		if err != nil || exp < lo || exp > hi {
			t.Errorf("push %d apns-expiration %d, want within [%d, %d]", i, exp, lo, hi)
		}
		jwt, ok := strings.CutPrefix(h.Get("authorization"), "bearer ")
		if !ok {
			t.Fatalf("push %d authorization %q", i, h.Get("authorization"))
		}
		hdr, claims, ok := verifyES256(jwt, &key.PublicKey)
		if !ok {
			t.Fatalf("push %d: provider token does not verify", i)
		}
		iat, _ := claims["iat"].(float64)
		if hdr["alg"] != "ES256" || hdr["kid"] != testKeyID || claims["iss"] != testTeamID ||
			int64(iat) < before.Unix()-1 || int64(iat) > time.Now().Unix() {
			t.Errorf("push %d token header %v claims %v", i, hdr, claims)
		}
	}
}

func TestAPNsReusesOneHTTP2Connection(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	// The first send opens the connection; every later one, concurrent or
	// not, multiplexes over it.
	if r := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail}); r.Outcome != Delivered {
		t.Fatal(r.Err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail}); r.Outcome != Delivered {
				t.Error(r.Err)
			}
		})
	}
	wg.Wait()
	for range 5 {
		s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindContacts})
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections for 26 pushes, want 1", n)
	}
}

func TestAPNsSandboxGoesToTheSandboxEndpoint(t *testing.T) {
	prod, sandbox := newFakeAPNs(t), newFakeAPNs(t)
	s := newTestAPNs(t, prod, sandbox, newP256(t))
	tgt := apnsTarget(goodToken)
	tgt.Env = EnvSandbox
	if r := s.Send(context.Background(), tgt, &Message{Kind: KindMail}); r.Outcome != Delivered {
		t.Fatal(r.Err)
	}
	if len(prod.requests()) != 0 || len(sandbox.requests()) != 1 {
		t.Fatalf("prod %d, sandbox %d requests", len(prod.requests()), len(sandbox.requests()))
	}
}

func TestAPNsClassifiesErrors(t *testing.T) {
	tests := []struct {
		status  int
		reason  string
		want    Outcome
		refresh bool
	}{
		{400, "BadDeviceToken", TargetGone, false},
		{400, "DeviceTokenNotForTopic", TargetGone, false},
		{410, "Unregistered", TargetGone, false},
		{410, "ExpiredToken", TargetGone, false},
		{400, "BadCollapseId", Rejected, false},
		{413, "PayloadTooLarge", Rejected, false},
		{429, "TooManyRequests", TargetThrottled, false},
		{429, "TooManyProviderTokenUpdates", ProviderFailure, false},
		{403, "ExpiredProviderToken", ProviderFailure, true},
		{403, "InvalidProviderToken", ProviderFailure, true},
		{403, "BadCertificateEnvironment", ProviderFailure, false},
		{400, "TopicDisallowed", ProviderFailure, false},
		{404, "BadPath", ProviderFailure, false},
		{500, "InternalServerError", ProviderFailure, false},
		{503, "ServiceUnavailable", ProviderFailure, false},
	}
	srv := newFakeAPNs(t)
	key := newP256(t)
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			s := newTestAPNs(t, srv, nil, key)
			s.tokens.close() // keep a refresh request visible in the channel
			token := goodToken[:62] + strconv.Itoa(10+i)
			srv.answer(token, tc.status, tc.reason)
			r := s.Send(context.Background(), apnsTarget(token), &Message{Kind: KindMail})
			if r.Outcome != tc.want || r.Status != tc.status || r.Reason != tc.reason {
				t.Fatalf("got %v %d %q, want %v %d %q", r.Outcome, r.Status, r.Reason, tc.want, tc.status, tc.reason)
			}
			if r.Err == nil || strings.Contains(r.Err.Error(), token) {
				t.Fatalf("error %v: missing or names the token", r.Err)
			}
			if got := len(s.tokens.force) == 1; got != tc.refresh {
				t.Fatalf("token refresh requested = %v, want %v", got, tc.refresh)
			}
		})
	}
}

func TestAPNsRefusesBadTokensWithoutARequest(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	for _, tok := range []string{"", "abc", goodToken + "0", "../../3/device/" + goodToken, goodToken[:60] + "zz%2F", strings.Repeat("ab", 201)} {
		r := s.Send(context.Background(), apnsTarget(tok), &Message{Kind: KindMail})
		if r.Outcome != Rejected || !errors.Is(r.Err, ErrBadAPNsToken) {
			t.Errorf("token %q: %v %v", tok, r.Outcome, r.Err)
		}
	}
	if r := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: "bogus"}); r.Outcome != Rejected {
		t.Errorf("bad message: %v", r.Outcome)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("%d requests reached APNs", n)
	}
}

func TestAPNsBreakerOpensOnProviderFailures(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	srv.answer(goodToken, 503, "ServiceUnavailable")
	other := goodToken[:62] + "aa"
	for range 3 {
		s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail})
	}
	if !s.Breaker(apnsTarget(other)).Open() {
		t.Fatal("breaker closed after 3 provider failures")
	}
	r := s.Send(context.Background(), apnsTarget(other), &Message{Kind: KindMail})
	if r.Outcome != Unavailable || !errors.Is(r.Err, ErrCircuitOpen) {
		t.Fatalf("send while open: %v %v", r.Outcome, r.Err)
	}
	if n := len(srv.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (none while open)", n)
	}
	sb := apnsTarget(other)
	sb.Env = EnvSandbox
	if s.Breaker(sb).Open() {
		t.Fatal("production failures opened the sandbox breaker")
	}
}

func TestAPNsTargetErrorsDoNotOpenTheBreaker(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	srv.answer(goodToken, 410, "Unregistered")
	for range 10 {
		s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail})
	}
	if s.Breaker(apnsTarget(goodToken)).Open() {
		t.Fatal("per-target errors opened the breaker")
	}
}

func TestAPNsTimeoutIsAProviderFailureWithoutTheToken(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	srv.mu.Lock()
	srv.answers[goodToken] = [2]string{"sleep"}
	srv.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := s.Send(ctx, apnsTarget(goodToken), &Message{Kind: KindMail})
	if r.Outcome != ProviderFailure || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("got %v %v", r.Outcome, r.Err)
	}
	if strings.Contains(r.Err.Error(), goodToken) || strings.Contains(r.Err.Error(), "/3/device") {
		t.Fatalf("error names the request: %v", r.Err)
	}
}

func TestAPNsConnectionErrorHidesTheURL(t *testing.T) {
	srv := newFakeAPNs(t)
	s := newTestAPNs(t, srv, nil, newP256(t))
	srv.Close()
	r := s.Send(context.Background(), apnsTarget(goodToken), &Message{Kind: KindMail})
	if r.Outcome != ProviderFailure {
		t.Fatalf("got %v %v", r.Outcome, r.Err)
	}
	if strings.Contains(r.Err.Error(), goodToken) {
		t.Fatalf("error names the token: %v", r.Err)
	}
}

func TestAPNsTokenRefreshesInTheBackground(t *testing.T) {
	tokens, err := newAPNsTokens(newP256(t), testKeyID, testTeamID, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	first := tokens.cur.Load()
	tokens.start()
	defer tokens.close()
	deadline := time.Now().Add(5 * time.Second)
	for tokens.cur.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("token never refreshed without a send")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAPNsRejectedTokenIsReplacedButNotTooSoon(t *testing.T) {
	tokens, err := newAPNsTokens(newP256(t), testKeyID, testTeamID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokens.forcedAge = time.Hour // the current token is too young to replace
	first := tokens.cur.Load()
	tokens.start()
	tokens.invalidate()
	time.Sleep(50 * time.Millisecond)
	if tokens.cur.Load() != first {
		t.Fatal("a token younger than the forced-refresh floor was replaced")
	}
	tokens.close()

	tokens, _ = newAPNsTokens(newP256(t), testKeyID, testTeamID, time.Hour)
	tokens.forcedAge = 0
	first = tokens.cur.Load()
	tokens.start()
	defer tokens.close()
	tokens.invalidate()
	deadline := time.Now().Add(5 * time.Second)
	for tokens.cur.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("rejected token never replaced")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewAPNsChecksOptions(t *testing.T) {
	key := newP256(t)
	ok := APNsOptions{Key: key, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic}
	tests := []struct {
		name string
		edit func(*APNsOptions)
	}{
		{"no key", func(o *APNsOptions) { o.Key = nil }},
		{"short key id", func(o *APNsOptions) { o.KeyID = "ABC" }},
		{"bad team id", func(o *APNsOptions) { o.TeamID = "TEAM12345!" }},
		{"no topic", func(o *APNsOptions) { o.Topic = "" }},
		{"refresh too short", func(o *APNsOptions) { o.TokenRefresh = 10 * time.Minute }},
		{"refresh too long", func(o *APNsOptions) { o.TokenRefresh = time.Hour }},
		{"http endpoint", func(o *APNsOptions) { o.Endpoint = "http://api.push.apple.com" }},
		{"endpoint with path", func(o *APNsOptions) { o.SandboxEndpoint = "https://x.example/3/device" }},
	}
	for _, tc := range tests {
		o := ok
		tc.edit(&o)
		if s, err := NewAPNs(o); err == nil {
			s.Close()
			t.Errorf("%s: accepted", tc.name)
		}
	}
	s, err := NewAPNs(ok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.endpoints[EnvProduction] != DefaultAPNsEndpoint || s.endpoints[EnvSandbox] != DefaultAPNsSandboxEndpoint {
		t.Fatalf("default endpoints %v", s.endpoints)
	}
}

func TestParseAPNsKey(t *testing.T) {
	key := newP256(t)
	if _, err := ParseAPNsKey(pkcs8PEM(t, key)); err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(p384Curve(), randReader())
	if _, err := ParseAPNsKey(pkcs8PEM(t, p384)); err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Fatalf("P-384 key: %v", err)
	}
	if _, err := ParseAPNsKey([]byte("not pem")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseAPNsReason(f *testing.F) {
	f.Add([]byte(`{"reason":"BadDeviceToken"}`))
	f.Add([]byte(`{"reason":"Unregistered","timestamp":1700000000000}`))
	f.Add([]byte(`{"reason":"<script>"}`))
	f.Add([]byte(`{"reason":123}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := parseAPNsReason(body)
		if cleanReason(r) != r {
			t.Fatalf("unclean reason %q", r)
		}
	})
}
