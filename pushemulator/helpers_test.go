package pushemulator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Keys are generated once per test binary: RSA generation is slow.
var (
	keysOnce          sync.Once
	testAPNsKey       *ecdsa.PrivateKey
	testOtherECKey    *ecdsa.PrivateKey
	testFCMKey        *rsa.PrivateKey
	testOtherFCMKey   *rsa.PrivateKey
	testKeyGeneration error
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if testAPNsKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			testKeyGeneration = err
			return
		}
		if testOtherECKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			testKeyGeneration = err
			return
		}
		if testFCMKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			testKeyGeneration = err
			return
		}
		testOtherFCMKey, testKeyGeneration = rsa.GenerateKey(rand.Reader, 2048)
	})
	require.NoError(t, testKeyGeneration)
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testOrigin is the origin of requests made with newRequest.
const testOrigin = "https://push.test"

// newTestServer returns a Server with the shared test keys and a clock
// starting at a fixed time.
func newTestServer(t testing.TB, opts Options) (*Server, *testClock) {
	t.Helper()
	testKeys(t)
	clock := &testClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	if opts.APNsKey == nil && opts.APNsPublicKeyFile == "" && opts.APNsKeyFile == "" {
		opts.APNsKey = testAPNsKey
	}
	if opts.FCMKey == nil && opts.FCMCredentialsFile == "" {
		opts.FCMKey = testFCMKey
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	s, err := NewServer(opts)
	require.NoError(t, err)
	return s, clock
}

// newRequest builds an HTTP/2 request over TLS to push.test, as the push
// services receive them.
func newRequest(method, path string, body []byte) *http.Request {
	r := httptest.NewRequest(method, testOrigin+path, bytes.NewReader(body))
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	return r
}

// serve runs one request through s.
func serve(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// signES256 makes a compact JWS with an R||S signature (RFC 7518 §3.4).
func signES256(t testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := jwsInput(t, header, claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

// signES256DER makes an ES256 JWS with an ASN.1 DER signature: a common
// mistake that services refuse.
func signES256DER(t testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := jwsInput(t, header, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	require.NoError(t, err)
	return input + "." + b64(sig)
}

// signRS256 makes a compact JWS signed RSASSA-PKCS1-v1_5 SHA-256.
func signRS256(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := jwsInput(t, header, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(t, err)
	return input + "." + b64(sig)
}

func jwsInput(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	return b64(h) + "." + b64(c)
}

// decodeJSON decodes a response body.
func decodeJSON(t testing.TB, body io.Reader) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.NewDecoder(body).Decode(&m))
	return m
}
