package push

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	accepts *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

// pushService is a fake web push service: it decrypts what it receives with
// the subscription's private key.
type pushService struct {
	*httptest.Server
	accepts atomic.Int64
	status  atomic.Int64 // 0: 201

	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
}

func newPushService(t *testing.T, h http.Handler) *pushService {
	p := &pushService{}
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			p.mu.Lock()
			p.got = append(p.got, r)
			p.body = append(p.body, b)
			p.mu.Unlock()
			st := int(p.status.Load())
			if st == 0 {
				st = http.StatusCreated
			}
			if st == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "120")
			}
			w.WriteHeader(st)
		})
	}
	p.Server = httptest.NewUnstartedServer(h)
	p.Listener = countingListener{p.Listener, &p.accepts}
	p.EnableHTTP2 = true
	p.StartTLS()
	t.Cleanup(p.Close)
	return p
}

func (p *pushService) hostPort() string { return strings.TrimPrefix(p.URL, "https://") }

func (p *pushService) pool() *x509.CertPool {
	c := x509.NewCertPool()
	c.AddCert(p.Certificate())
	return c
}

// subscription is a browser's side of a push subscription.
type subscription struct {
	ua   *ecdh.PrivateKey
	auth []byte
}

func newSubscription(t *testing.T) subscription {
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return subscription{ua, auth}
}

func (s subscription) target(endpoint string) *Target {
	return &Target{Platform: PlatformWebPush, Endpoint: endpoint, P256dh: s.ua.PublicKey().Bytes(), Auth: s.auth}
}

func newTestWebPush(t *testing.T, allow []string, roots *x509.CertPool, lookup func(context.Context, string) ([]netip.Addr, error)) (*WebPush, *subscription) {
	t.Helper()
	if lookup == nil {
		lookup = defaultLookup
	}
	s, err := newWebPush(WebPushOptions{
		VAPIDKey: newP256(t), Subject: "mailto:ops@example.com", AllowHosts: allow, RootCAs: roots,
		Breaker: BreakerOptions{Threshold: 2, Cooldown: time.Hour},
	}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sub := newSubscription(t)
	return s, &sub
}

var alertMsg = Message{Kind: KindMail, Account: "home", Alert: true, CollapseID: "Y29sbGFwc2VpZDEyMzQ1Ng", Refs: []string{"cmVmMQ"}}

func TestWebPushDeliversEncryptedWithVAPID(t *testing.T) {
	srv := newPushService(t, nil)
	s, sub := newTestWebPush(t, []string{srv.hostPort()}, srv.pool(), nil)
	endpoint := srv.URL + "/push/v2/abcDEF123"
	for range 3 {
		if r := s.Send(context.Background(), sub.target(endpoint), &alertMsg); r.Outcome != Delivered {
			t.Fatalf("%v %v", r.Outcome, r.Err)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	r, body := srv.got[0], srv.body[0]
	if r.URL.Path != "/push/v2/abcDEF123" || r.ProtoMajor != 2 {
		t.Fatalf("%s over HTTP/%d", r.URL.Path, r.ProtoMajor)
	}
	h := r.Header
	if h.Get("TTL") != "86400" || h.Get("Urgency") != "high" || h.Get("Topic") != alertMsg.CollapseID || h.Get("Content-Encoding") != "aes128gcm" {
		t.Fatalf("headers %v", h)
	}
	plain, err := decryptWebPush(body, sub.ua, sub.auth)
	if err != nil || string(plain) != `{"k":"mail","a":"home","m":["cmVmMQ"]}` {
		t.Fatalf("decrypted %q, %v", plain, err)
	}
	// VAPID: vapid t=<jwt>, k=<public key>; the JWT verifies with k.
	auth, ok := strings.CutPrefix(h.Get("Authorization"), "vapid t=")
	jwt, k, ok2 := strings.Cut(auth, ", k=")
	if !ok || !ok2 {
		t.Fatalf("Authorization %q", h.Get("Authorization"))
	}
	pub, err := ecdsaPublicFromUncompressed(k)
	if err != nil {
		t.Fatal(err)
	}
	hdr, claims, valid := verifyES256(jwt, pub)
	if !valid {
		t.Fatal("VAPID JWT does not verify with k")
	}
	exp, _ := claims["exp"].(float64)
	if hdr["alg"] != "ES256" || claims["aud"] != srv.URL || claims["sub"] != "mailto:ops@example.com" ||
		int64(exp) > time.Now().Add(24*time.Hour).Unix() || int64(exp) <= time.Now().Unix() {
		t.Fatalf("VAPID header %v claims %v", hdr, claims)
	}
	if srv.accepts.Load() != 1 {
		t.Fatalf("%d connections for 3 pushes, want 1", srv.accepts.Load())
	}
}

func TestWebPushRefusesWithoutConnecting(t *testing.T) {
	srv := newPushService(t, nil)
	_, port, _ := net.SplitHostPort(srv.hostPort())
	toLoopback := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	tests := []struct {
		name     string
		allow    []string
		endpoint string
		lookup   func(context.Context, string) ([]netip.Addr, error)
		wantErr  error
	}{
		{"host not on the list", []string{"push.example.com"}, srv.URL + "/x", nil, ErrEndpointNotAllowed},
		{"port not named", []string{"127.0.0.1"}, srv.URL + "/x", nil, ErrEndpointNotAllowed},
		{"plain http", []string{srv.hostPort()}, "http://" + srv.hostPort() + "/x", nil, ErrBadEndpoint},
		{"user info", []string{srv.hostPort()}, "https://u:p@" + srv.hostPort() + "/x", nil, ErrBadEndpoint},
		{"wildcard to loopback (DNS)", []string{"*.push.test:" + port}, "https://a.push.test:" + port + "/x", toLoopback, ErrAddressNotAllowed},
		{"wildcard does not match an address", []string{"*.0.0.1:" + port}, srv.URL + "/x", nil, ErrEndpointNotAllowed},
		{"wildcard does not match its apex", []string{"*.push.test:" + port}, "https://push.test:" + port + "/x", toLoopback, ErrEndpointNotAllowed},
		{"suffix trick", []string{"*.push.test:" + port}, "https://evilpush.test:" + port + "/x", toLoopback, ErrEndpointNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sub := newTestWebPush(t, tc.allow, srv.pool(), tc.lookup)
			before := srv.accepts.Load()
			r := s.Send(context.Background(), sub.target(tc.endpoint), &alertMsg)
			if r.Outcome != Rejected || !errors.Is(r.Err, tc.wantErr) {
				t.Fatalf("got %v %v, want rejected %v", r.Outcome, r.Err, tc.wantErr)
			}
			if n := srv.accepts.Load() - before; n != 0 {
				t.Fatalf("%d connections reached a refused target", n)
			}
			if strings.Contains(r.Err.Error(), "/x") {
				t.Fatalf("error quotes the endpoint: %v", r.Err)
			}
			if s.Breaker(sub.target(tc.endpoint)).Open() {
				t.Fatal("a refused endpoint opened a breaker")
			}
		})
	}
}

func TestWebPushNeverFollowsRedirects(t *testing.T) {
	target := newPushService(t, nil)
	redirector := newPushService(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	roots := redirector.pool()
	roots.AddCert(target.Certificate())
	s, sub := newTestWebPush(t, []string{redirector.hostPort(), target.hostPort()}, roots, nil)
	r := s.Send(context.Background(), sub.target(redirector.URL+"/x"), &alertMsg)
	if r.Outcome != Rejected || r.Status != http.StatusTemporaryRedirect {
		t.Fatalf("got %v %d", r.Outcome, r.Status)
	}
	if target.accepts.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestWebPushClassifiesAnswers(t *testing.T) {
	tests := []struct {
		status int
		want   Outcome
	}{
		{201, Delivered}, {202, Delivered}, {404, TargetGone}, {410, TargetGone},
		{429, TargetThrottled}, {413, Rejected}, {403, Rejected}, {400, Rejected},
		{500, ProviderFailure}, {503, ProviderFailure},
	}
	srv := newPushService(t, nil)
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			s, sub := newTestWebPush(t, []string{srv.hostPort()}, srv.pool(), nil)
			srv.status.Store(int64(tc.status))
			r := s.Send(context.Background(), sub.target(srv.URL+"/x"), &alertMsg)
			if r.Outcome != tc.want || r.Status != tc.status {
				t.Fatalf("got %v %d", r.Outcome, r.Status)
			}
			if tc.status == 429 && r.RetryAfter != 2*time.Minute {
				t.Fatalf("Retry-After %v", r.RetryAfter)
			}
		})
	}
}

func TestWebPushBreakerIsPerAllowEntry(t *testing.T) {
	bad, good := newPushService(t, nil), newPushService(t, nil)
	bad.status.Store(502)
	roots := bad.pool()
	roots.AddCert(good.Certificate())
	s, sub := newTestWebPush(t, []string{bad.hostPort(), good.hostPort()}, roots, nil)
	for range 2 {
		s.Send(context.Background(), sub.target(bad.URL+"/x"), &alertMsg)
	}
	if r := s.Send(context.Background(), sub.target(bad.URL+"/y"), &alertMsg); r.Outcome != Unavailable {
		t.Fatalf("failing service: %v", r.Outcome)
	}
	if r := s.Send(context.Background(), sub.target(good.URL+"/y"), &alertMsg); r.Outcome != Delivered {
		t.Fatalf("healthy service: %v %v", r.Outcome, r.Err)
	}
}

func TestPublicAddr(t *testing.T) {
	tests := map[string]bool{
		"8.8.8.8": true, "2a00:1450:4001:80b::200a": true, "17.188.166.12": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "224.0.0.1": false,
		"255.255.255.255": false, "198.18.0.1": false, "192.0.2.1": false, "240.0.0.1": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false,
		"ff02::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
		"64:ff9b::a00:1": false, "2002:a00:1::": false, "2001:db8::1": false, "2001::1": false,
	}
	for s, want := range tests {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", s, got, want)
		}
	}
	if refuseNonPublic("tcp4", "127.0.0.1:443", nil) == nil || refuseNonPublic("tcp4", "8.8.8.8:443", nil) != nil {
		t.Error("Control hook")
	}
}

func TestAllowList(t *testing.T) {
	l, err := parseAllowList([]string{"fcm.googleapis.com", "*.push.apple.com", "*.notify.windows.com:8443", "[::1]:9443", "Push.Example.NET"}, BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/x", true},
		{"https://fcm.googleapis.com:443/fcm/send/x", true},
		{"https://FCM.googleapis.com/x", true},
		{"https://fcm.googleapis.com:8443/x", false},
		{"https://web.push.apple.com/x", true},
		{"https://push.apple.com/x", false},
		{"https://evilpush.apple.com/x", false},
		{"https://push.apple.com.evil.com/x", false},
		{"https://wns2.notify.windows.com:8443/x", true},
		{"https://wns2.notify.windows.com/x", false},
		{"https://[::1]:9443/x", true},
		{"https://push.example.net/x", true},
		{"http://fcm.googleapis.com/x", false},
		{"https://fcm.googleapis.com.:443/x", false},
		{"https://fcm.googleapis.com/" + strings.Repeat("a", 2048), false},
	}
	for _, tc := range tests {
		_, _, err := l.checkEndpoint(tc.endpoint)
		if (err == nil) != tc.ok {
			t.Errorf("%.60s: err %v, want ok=%v", tc.endpoint, err, tc.ok)
		}
	}
	for _, bad := range []string{"", "*.com", "*", "a b", "host:0", "host:99999", "*.x.com:abc", "exa_mple.com"} {
		if _, err := parseAllowEntry(bad); err == nil {
			t.Errorf("entry %q accepted", bad)
		}
	}
}

func TestNewWebPushChecksOptions(t *testing.T) {
	key := newP256(t)
	ok := WebPushOptions{VAPIDKey: key, Subject: "mailto:ops@example.com", AllowHosts: []string{"fcm.googleapis.com"}}
	tests := []struct {
		name string
		edit func(*WebPushOptions)
	}{
		{"no key", func(o *WebPushOptions) { o.VAPIDKey = nil }},
		{"no subject", func(o *WebPushOptions) { o.Subject = "" }},
		{"http subject", func(o *WebPushOptions) { o.Subject = "http://example.com" }},
		{"no allow list", func(o *WebPushOptions) { o.AllowHosts = nil }},
		{"bad allow entry", func(o *WebPushOptions) { o.AllowHosts = []string{"*.com"} }},
	}
	for _, tc := range tests {
		o := ok
		tc.edit(&o)
		if _, err := NewWebPush(o); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := NewWebPush(ok); err != nil {
		t.Fatal(err)
	}
}

func TestParseVAPIDKey(t *testing.T) {
	key := newP256(t)
	der, _ := x509.MarshalECPrivateKey(key)
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	for name, p := range map[string][]byte{"sec1": sec1, "pkcs8": pkcs8PEM(t, key)} {
		if k, err := ParseVAPIDKey(p); err != nil || !k.Equal(key) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p384, _ := x509.MarshalECPrivateKey(newP384(t))
	_, err := ParseVAPIDKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384}))
	if err == nil || !strings.Contains(err.Error(), "curve P-384, want P-256") {
		t.Fatalf("P-384: %v", err)
	}
	if _, err := ParseVAPIDKey([]byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")); err == nil {
		t.Fatal("certificate accepted")
	}
}

func ecdsaPublicFromUncompressed(k string) (*ecdsaPublicKey, error) {
	raw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return nil, err
	}
	return parseUncompressedP256(raw)
}
