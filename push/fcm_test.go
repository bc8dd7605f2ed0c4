package push

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeGoogle is a token server and an FCM send endpoint in one TLS server.
type fakeGoogle struct {
	*h2Server
	saKey      *rsa.PrivateKey
	tokenCalls atomic.Int64
	expiresIn  atomic.Int64  // seconds
	tokenBlock chan struct{} // when set, the token endpoint hangs until closed

	mu      sync.Mutex
	sends   []fcmSeen
	answers []fcmAnswer // consumed in order; 200 when empty
}

type fcmSeen struct {
	path, auth string
	proto      int
	body       map[string]any
}

type fcmAnswer struct {
	status     int
	retryAfter string
	body       string
}

var (
	testRSAOnce sync.Once
	testRSAKey  *rsa.PrivateKey
)

func newFakeGoogle(t *testing.T) *fakeGoogle {
	testRSAOnce.Do(func() { testRSAKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
	g := &fakeGoogle{saKey: testRSAKey}
	g.expiresIn.Store(3600)
	g.h2Server = newH2Server(t, http.HandlerFunc(g.serve))
	return g
}

func (g *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		if g.tokenBlock != nil {
			select {
			case <-g.tokenBlock:
			case <-r.Context().Done():
				return
			}
		}
		_ = r.ParseForm()
		if !g.assertionOK(r.PostForm.Get("grant_type"), r.PostForm.Get("assertion")) {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		n := g.tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, g.expiresIn.Load())
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	g.mu.Lock()
	g.sends = append(g.sends, fcmSeen{r.URL.Path, r.Header.Get("Authorization"), r.ProtoMajor, body})
	var a fcmAnswer
	if len(g.answers) > 0 {
		a, g.answers = g.answers[0], g.answers[1:]
	}
	g.mu.Unlock()
	if a.status == 0 {
		io.WriteString(w, `{"name":"projects/p1/messages/0:1"}`)
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// assertionOK verifies the service account's RS256 assertion: signature,
// scope and audience (the token_uri).
func (g *fakeGoogle) assertionOK(grant, assertion string) bool {
	if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return false
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&g.saKey.PublicKey, crypto.SHA256, d[:], sig) != nil {
		return false
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
	}
	return json.Unmarshal(cb, &c) == nil && c.Scope == FCMScope && c.Aud == g.URL+"/token"
}

func (g *fakeGoogle) credentials(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(g.saKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "p1",
		"private_key_id": "k1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "bridge@p1.iam.gserviceaccount.com",
		"token_uri":      g.URL + "/token",
	})
	return b
}

func (g *fakeGoogle) seen() []fcmSeen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]fcmSeen(nil), g.sends...)
}

func (g *fakeGoogle) queue(a ...fcmAnswer) {
	g.mu.Lock()
	g.answers = append(g.answers, a...)
	g.mu.Unlock()
}

func newTestFCM(t *testing.T, g *fakeGoogle, edit func(*FCMOptions)) *FCM {
	t.Helper()
	opts := FCMOptions{CredentialsJSON: g.credentials(t), Endpoint: g.URL, RootCAs: g.pool(),
		Breaker: BreakerOptions{Threshold: 3, Cooldown: time.Hour}}
	if edit != nil {
		edit(&opts)
	}
	s, err := NewFCM(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if g.tokenBlock == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

const testFCMToken = "dGVzdA:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"

func fcmTarget() *Target { return &Target{Platform: PlatformFCM, Token: testFCMToken} }

func TestFCMSendsDataOnlyMessages(t *testing.T) {
	g := newFakeGoogle(t)
	s := newTestFCM(t, g, nil)
	fid := &Target{Platform: PlatformFCM, FID: "cAbCdEfGhIjKlMnOpQrStU"}
	sends := []struct {
		t *Target
		m Message
	}{
		{fcmTarget(), Message{Kind: KindMail, Account: "work"}},
		{fid, Message{Kind: KindRenew}},
		{fcmTarget(), Message{Kind: KindMail, Alert: true, CollapseID: "c", Refs: []string{"r1", "r2"}}},
	}
	for _, x := range sends {
		if r := s.Send(context.Background(), x.t, &x.m); r.Outcome != Delivered {
			t.Fatalf("%v: %v", x.m, r.Err)
		}
	}
	want := []string{
		`{"message":{"android":{"collapse_key":"sync","priority":"normal","ttl":"3600s"},"data":{"a":"work","k":"mail"},"token":"` + testFCMToken + `"}}`,
		`{"message":{"android":{"collapse_key":"ctl","priority":"normal","ttl":"3600s"},"data":{"k":"renew"},"fid":"cAbCdEfGhIjKlMnOpQrStU"}}`,
		`{"message":{"android":{"collapse_key":"sync","priority":"high","ttl":"3600s"},"data":{"k":"mail","m":"r1,r2"},"token":"` + testFCMToken + `"}}`,
	}
	seen := g.seen()
	if len(seen) != len(want) {
		t.Fatalf("%d sends", len(seen))
	}
	for i, x := range seen {
		got, _ := json.Marshal(x.body)
		if string(got) != want[i] {
			t.Errorf("send %d:\n got %s\nwant %s", i, got, want[i])
		}
		if x.path != "/v1/projects/p1/messages:send" || x.auth != "Bearer tok-1" || x.proto != 2 {
			t.Errorf("send %d: %s %q HTTP/%d", i, x.path, x.auth, x.proto)
		}
	}
	if g.tokenCalls.Load() != 1 {
		t.Fatalf("%d token fetches for 3 sends, want 1", g.tokenCalls.Load())
	}
	if g.conns.Load() != 1 {
		t.Fatalf("%d connections for the token and 3 sends, want 1", g.conns.Load())
	}
}

func TestFCMConfiguredPriorityAndProject(t *testing.T) {
	g := newFakeGoogle(t)
	s := newTestFCM(t, g, func(o *FCMOptions) { o.Priority = "high"; o.ProjectID = "other-project" })
	s.Send(context.Background(), fcmTarget(), &Message{Kind: KindContacts})
	seen := g.seen()
	android := seen[0].body["message"].(map[string]any)["android"].(map[string]any)
	if android["priority"] != "high" || seen[0].path != "/v1/projects/other-project/messages:send" {
		t.Fatalf("priority %v path %s", android["priority"], seen[0].path)
	}
}

func TestFCMSendNeverWaitsForAToken(t *testing.T) {
	g := newFakeGoogle(t)
	g.tokenBlock = make(chan struct{})
	defer close(g.tokenBlock)
	s := newTestFCM(t, g, nil)
	r := s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail})
	if r.Outcome != ProviderFailure || !errors.Is(r.Err, ErrNoToken) {
		t.Fatalf("got %v %v", r.Outcome, r.Err)
	}
	if len(g.seen()) != 0 {
		t.Fatal("a send went out without a token")
	}
}

func TestFCMTokenRefreshesInTheBackground(t *testing.T) {
	g := newFakeGoogle(t)
	g.expiresIn.Store(2) // replaced after half its life
	newTestFCM(t, g, nil)
	deadline := time.Now().Add(10 * time.Second)
	for g.tokenCalls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("token not refreshed without a send")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFCMReportsTokenFailures(t *testing.T) {
	g := newFakeGoogle(t)
	creds := g.credentials(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	g.saKey = other // the token server now expects another key
	errs := make(chan error, 10)
	s, err := NewFCM(FCMOptions{CredentialsJSON: creds, Endpoint: g.URL, RootCAs: g.pool(),
		OnTokenError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("token error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no token error reported")
	}
	if r := s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail}); !errors.Is(r.Err, ErrNoToken) {
		t.Fatalf("send without a token: %v", r.Err)
	}
}

func TestFCMUnauthenticatedForcesANewToken(t *testing.T) {
	g := newFakeGoogle(t)
	s := newTestFCM(t, g, nil)
	g.queue(fcmAnswer{status: 401, body: `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`})
	r := s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail})
	if r.Outcome != ProviderFailure || r.Reason != "UNAUTHENTICATED" {
		t.Fatalf("got %v %q", r.Outcome, r.Reason)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.tokens.bearer() != "Bearer tok-2" {
		if time.Now().After(deadline) {
			t.Fatal("no new token after 401")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFCMClassifiesErrors(t *testing.T) {
	fcmErr := func(code int, status, errorCode, extra string) string {
		d := `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"` + errorCode + `"}`
		if extra != "" {
			d += "," + extra
		}
		return `{"error":{"code":` + strconv.Itoa(code) + `,"message":"m","status":"` + status + `","details":[` + d + `]}}`
	}
	tests := []struct {
		name       string
		a          fcmAnswer
		want       Outcome
		reason     string
		retryAfter time.Duration
		opens      bool
	}{
		{"unregistered", fcmAnswer{status: 404, body: fcmErr(404, "NOT_FOUND", "UNREGISTERED", "")}, TargetGone, "UNREGISTERED", 0, false},
		{"bare 404", fcmAnswer{status: 404, body: `{"error":{"code":404,"status":"NOT_FOUND"}}`}, TargetGone, "NOT_FOUND", 0, false},
		{"invalid token", fcmAnswer{status: 400, body: fcmErr(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
			`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}`)}, TargetGone, "INVALID_ARGUMENT", 0, false},
		{"invalid message", fcmAnswer{status: 400, body: fcmErr(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
			`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.android.ttl"}]}`)}, Rejected, "INVALID_ARGUMENT", 0, false},
		{"sender mismatch", fcmAnswer{status: 403, body: fcmErr(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "")}, TargetGone, "SENDER_ID_MISMATCH", 0, false},
		{"device quota", fcmAnswer{status: 429, retryAfter: "30", body: fcmErr(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
			`{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"device","description":"Device message rate exceeded."}]}`)}, TargetThrottled, "QUOTA_EXCEEDED", 30 * time.Second, false},
		{"project quota", fcmAnswer{status: 429, retryAfter: "60", body: fcmErr(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
			`{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"project_number:123","description":"Quota exceeded for quota metric 'Send messages'"}]}`)}, ProviderFailure, "QUOTA_EXCEEDED", time.Minute, true},
		{"unavailable", fcmAnswer{status: 503, retryAfter: "5", body: fcmErr(503, "UNAVAILABLE", "UNAVAILABLE", "")}, ProviderFailure, "UNAVAILABLE", 5 * time.Second, false},
		{"internal", fcmAnswer{status: 500, body: fcmErr(500, "INTERNAL", "INTERNAL", "")}, ProviderFailure, "INTERNAL", 0, false},
		{"third party auth", fcmAnswer{status: 401, body: fcmErr(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "")}, ProviderFailure, "THIRD_PARTY_AUTH_ERROR", 0, false},
		{"garbage body", fcmAnswer{status: 502, body: `<html>bad gateway`}, ProviderFailure, "", 0, false},
	}
	g := newFakeGoogle(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestFCM(t, g, nil)
			g.queue(tc.a)
			r := s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail})
			if r.Outcome != tc.want || r.Reason != tc.reason || r.RetryAfter != tc.retryAfter || r.Status != tc.a.status {
				t.Fatalf("got %v %q %v %d, want %v %q %v", r.Outcome, r.Reason, r.RetryAfter, r.Status, tc.want, tc.reason, tc.retryAfter)
			}
			if s.breaker.Open() != tc.opens {
				t.Fatalf("breaker open = %v, want %v", s.breaker.Open(), tc.opens)
			}
			if strings.Contains(r.Err.Error(), testFCMToken) || strings.Contains(r.Err.Error(), "tok-") {
				t.Fatalf("error names a secret: %v", r.Err)
			}
		})
	}
}

func TestFCMBreakerOpensOnRepeated5xx(t *testing.T) {
	g := newFakeGoogle(t)
	s := newTestFCM(t, g, nil)
	for range 3 {
		g.queue(fcmAnswer{status: 503, body: `{}`})
	}
	for range 3 {
		s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail})
	}
	r := s.Send(context.Background(), fcmTarget(), &Message{Kind: KindMail})
	if r.Outcome != Unavailable || len(g.seen()) != 3 {
		t.Fatalf("got %v after %d sends", r.Outcome, len(g.seen()))
	}
}

func TestNewFCMChecksOptions(t *testing.T) {
	g := newFakeGoogle(t)
	creds := g.credentials(t)
	var m map[string]string
	_ = json.Unmarshal(creds, &m)
	m["token_uri"] = "http://oauth2.example/token"
	httpCreds, _ := json.Marshal(m)
	m["token_uri"] = g.URL + "/token"
	m["project_id"] = ""
	noProject, _ := json.Marshal(m)
	tests := []struct {
		name string
		o    FCMOptions
	}{
		{"no credentials", FCMOptions{}},
		{"not json", FCMOptions{CredentialsJSON: []byte("{")}},
		{"http token_uri", FCMOptions{CredentialsJSON: httpCreds}},
		{"no project", FCMOptions{CredentialsJSON: noProject}},
		{"bad project", FCMOptions{CredentialsJSON: creds, ProjectID: "p/../x"}},
		{"bad priority", FCMOptions{CredentialsJSON: creds, Priority: "urgent"}},
		{"http endpoint", FCMOptions{CredentialsJSON: creds, Endpoint: "http://fcm.googleapis.com"}},
	}
	for _, tc := range tests {
		if s, err := NewFCM(tc.o); err == nil {
			s.Close()
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func FuzzParseFCMError(f *testing.F) {
	f.Add([]byte(`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
	f.Add([]byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"device"}]}]}}`))
	f.Add([]byte(`{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","metadata":{"quota_metric":"x"}}]}}`))
	f.Add([]byte(`{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := parseFCMError(body)
		if cleanReason(e.code) != e.code || cleanReason(e.status) != e.status {
			t.Fatalf("unclean codes %q %q", e.code, e.status)
		}
		for _, st := range []int{200, 400, 401, 403, 404, 429, 500, 503} {
			if v := classifyFCM(st, e); v.outcome > Dropped {
				t.Fatalf("outcome %v", v.outcome)
			}
		}
	})
}
