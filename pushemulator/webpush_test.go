package pushemulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 8291 Appendix A.
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func TestDecryptRFC8291Example(t *testing.T) {
	ua, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcUAPrivate))
	require.NoError(t, err)
	require.Equal(t, rfcUAPublic, b64(ua.PublicKey().Bytes()))
	plain, err := decryptWebPush(mustB64(t, rfcBody), ua, mustB64(t, rfcAuth))
	require.NoError(t, err)
	assert.Equal(t, rfcPlaintext, string(plain))

	// The test's own encryption reproduces the example byte for byte, so
	// the round trips below test the emulator against RFC 8291 itself.
	as, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcASPrivate))
	require.NoError(t, err)
	got := encryptWebPush(t, []byte(rfcPlaintext), ua.PublicKey().Bytes(), mustB64(t, rfcAuth), as, mustB64(t, rfcSalt), 4096)
	assert.Equal(t, rfcBody, b64(got))

	// Another auth secret, a flipped bit, a cut message: no plaintext.
	_, err = decryptWebPush(mustB64(t, rfcBody), ua, make([]byte, 16))
	assert.Error(t, err)
	flipped := mustB64(t, rfcBody)
	flipped[len(flipped)-20] ^= 1
	_, err = decryptWebPush(flipped, ua, mustB64(t, rfcAuth))
	assert.Error(t, err)
	_, err = decryptWebPush(mustB64(t, rfcBody)[:100], ua, mustB64(t, rfcAuth))
	assert.Error(t, err)
}

// encryptWebPush is the application server's side of RFC 8291 (one
// record, delimiter 2, no padding) with a given ephemeral key and salt.
func encryptWebPush(t testing.TB, plaintext, uaPublic, auth []byte, as *ecdh.PrivateKey, salt []byte, rs uint32) []byte {
	t.Helper()
	uaKey, err := ecdh.P256().NewPublicKey(uaPublic)
	require.NoError(t, err)
	secret, err := as.ECDH(uaKey)
	require.NoError(t, err)
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	require.NoError(t, err)
	ikm, err := hkdf.Expand(sha256.New, prkKey, "WebPush: info\x00"+string(uaPublic)+string(as.PublicKey().Bytes()), 32)
	require.NoError(t, err)
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	require.NoError(t, err)
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	require.NoError(t, err)
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	require.NoError(t, err)
	block, err := aes.NewCipher(cek)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	header := make([]byte, 21, 21+65)
	copy(header, salt)
	binary.BigEndian.PutUint32(header[16:20], rs)
	header[20] = 65
	header = append(header, as.PublicKey().Bytes()...)
	return gcm.Seal(header, nonce, append(append([]byte{}, plaintext...), 2), nil)
}

// webPushClient is an application server with a VAPID key.
type webPushClient struct {
	key *ecdsa.PrivateKey
}

func (c webPushClient) publicKey(t testing.TB) string {
	t.Helper()
	b, err := c.key.PublicKey.Bytes()
	require.NoError(t, err)
	return b64(b)
}

// vapid returns the Authorization header for aud.
func (c webPushClient) authorization(t testing.TB, claims map[string]any) string {
	return "vapid t=" + signES256(t, c.key, map[string]any{"typ": "JWT", "alg": "ES256"}, claims) + ", k=" + c.publicKey(t)
}

// push builds a correct push of plaintext to sub.
func (c webPushClient) push(t testing.TB, sub WebPushSubscription, plaintext string, now time.Time) *http.Request {
	t.Helper()
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	body := encryptWebPush(t, []byte(plaintext), mustB64(t, sub.Keys.P256dh), mustB64(t, sub.Keys.Auth), as, salt, 4096)
	path := strings.TrimPrefix(sub.Endpoint, testOrigin)
	r := newRequest(http.MethodPost, path, body)
	r.Header.Set("Content-Encoding", "aes128gcm")
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("TTL", "86400")
	r.Header.Set("Urgency", "high")
	r.Header.Set("Topic", "mail")
	r.Header.Set("Authorization", c.authorization(t, map[string]any{"aud": testOrigin, "exp": now.Add(12 * time.Hour).Unix(), "sub": "mailto:ops@example.com"}))
	return r
}

// newSubscription issues a subscription through the control API.
func newSubscription(t *testing.T, s *Server, body string) WebPushSubscription {
	t.Helper()
	w := serve(s, newRequest(http.MethodPost, DefaultControlPrefix+"/webpush/subscriptions", []byte(body)))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var sub WebPushSubscription
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &sub))
	return sub
}

func TestWebPushDelivers(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	sub := newSubscription(t, s, "")
	assert.True(t, strings.HasPrefix(sub.Endpoint, testOrigin+"/wp/"), sub.Endpoint)
	assert.Len(t, mustB64(t, sub.P256dh), 65)
	assert.Len(t, mustB64(t, sub.Auth), 16)
	assert.Equal(t, sub.P256dh, sub.Keys.P256dh)

	client := webPushClient{key: testOtherECKey}
	w := serve(s, client.push(t, sub, `{"k":"mail","m":["r1"]}`, clock.Now()))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "86400", w.Header().Get("TTL"))
	loc := w.Header().Get("Location")
	assert.True(t, strings.HasPrefix(loc, sub.Endpoint+"/m/"), loc)

	sent := s.Sent(PushFilter{Service: ServiceWebPush, Target: sub.ID})
	require.Len(t, sent, 1)
	p := sent[0]
	assert.JSONEq(t, `{"k":"mail","m":["r1"]}`, string(p.Payload))
	assert.Equal(t, loc, p.ID)
	assert.Equal(t, map[string]string{"Ttl": "86400", "Urgency": "high", "Topic": "mail", "Content-Encoding": "aes128gcm"}, p.Headers)
	assert.Equal(t, "mailto:ops@example.com", p.Auth["sub"])
	assert.Equal(t, testOrigin, p.Auth["aud"])
	assert.Equal(t, client.publicKey(t), p.Auth["k"])

	// A longer TTL is cut to the service's 4 weeks, and the answer says so.
	long := client.push(t, sub, "{}", clock.Now())
	long.Header.Set("TTL", "99999999999")
	w = serve(s, long)
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Equal(t, "2419200", w.Header().Get("TTL"))

	// A subscription bound to this application server key accepts it.
	bound := newSubscription(t, s, `{"applicationServerKey":"`+client.publicKey(t)+`"}`)
	w = serve(s, client.push(t, bound, "plain text", clock.Now()))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "plain text", s.Sent(PushFilter{Target: bound.ID})[0].PayloadText)
}

func TestWebPushRefusals(t *testing.T) {
	testKeys(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	client := webPushClient{key: testOtherECKey}
	claims := func() map[string]any {
		return map[string]any{"aud": testOrigin, "exp": now.Add(time.Hour).Unix(), "sub": "mailto:ops@example.com"}
	}
	withClaims := func(modify func(c map[string]any)) func(*http.Request, WebPushSubscription) {
		return func(r *http.Request, _ WebPushSubscription) {
			c := claims()
			modify(c)
			r.Header.Set("Authorization", client.authorization(t, c))
		}
	}
	tests := []struct {
		name   string
		bound  bool // subscription restricted to client's key
		modify func(*http.Request, WebPushSubscription)
		status int
	}{
		{"no Authorization", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Del("Authorization") }, 401},
		{"legacy WebPush scheme", false, func(r *http.Request, _ WebPushSubscription) {
			r.Header.Set("Authorization", "WebPush "+signES256(t, client.key, map[string]any{"alg": "ES256"}, claims()))
		}, 401},
		{"no k", false, func(r *http.Request, _ WebPushSubscription) {
			r.Header.Set("Authorization", "vapid t="+signES256(t, client.key, map[string]any{"alg": "ES256"}, claims()))
		}, 401},
		{"k padded base64", false, func(r *http.Request, _ WebPushSubscription) {
			r.Header.Set("Authorization", client.authorization(t, claims())+"=")
		}, 403},
		{"signed by another key than k", false, func(r *http.Request, _ WebPushSubscription) {
			r.Header.Set("Authorization", "vapid t="+signES256(t, testAPNsKey, map[string]any{"alg": "ES256"}, claims())+", k="+client.publicKey(t))
		}, 403},
		{"DER signature", false, func(r *http.Request, _ WebPushSubscription) {
			r.Header.Set("Authorization", "vapid t="+signES256DER(t, client.key, map[string]any{"alg": "ES256"}, claims())+", k="+client.publicKey(t))
		}, 403},
		{"key other than the subscription's", true, func(r *http.Request, _ WebPushSubscription) {
			other := webPushClient{key: testAPNsKey}
			r.Header.Set("Authorization", other.authorization(t, claims()))
		}, 403},
		{"aud of another origin", false, withClaims(func(c map[string]any) { c["aud"] = "https://fcm.googleapis.com" }), 403},
		{"aud with a path", false, withClaims(func(c map[string]any) { c["aud"] = testOrigin + "/wp" }), 403},
		{"aud with a trailing slash", false, withClaims(func(c map[string]any) { c["aud"] = testOrigin + "/" }), 403},
		{"aud over http", false, withClaims(func(c map[string]any) { c["aud"] = "http://push.test" }), 403},
		{"no aud", false, withClaims(func(c map[string]any) { delete(c, "aud") }), 403},
		{"expired", false, withClaims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), 403},
		{"exp over 24 h ahead", false, withClaims(func(c map[string]any) { c["exp"] = now.Add(24*time.Hour + time.Minute).Unix() }), 403},
		{"no exp", false, withClaims(func(c map[string]any) { delete(c, "exp") }), 403},
		{"no sub", false, withClaims(func(c map[string]any) { delete(c, "sub") }), 403},
		{"sub not a URL", false, withClaims(func(c map[string]any) { c["sub"] = "ops@example.com" }), 403},
		{"no TTL", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Del("TTL") }, 400},
		{"negative TTL", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Set("TTL", "-1") }, 400},
		{"bad Urgency", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Set("Urgency", "urgent") }, 400},
		{"Topic too long", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Set("Topic", strings.Repeat("t", 33)) }, 400},
		{"Topic with a dot", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Set("Topic", "new.mail") }, 400},
		{"aesgcm encoding", false, func(r *http.Request, _ WebPushSubscription) { r.Header.Set("Content-Encoding", "aesgcm") }, 400},
		{"bad ciphertext", false, func(r *http.Request, sub WebPushSubscription) {
			body := readAll(t, r)
			body[len(body)-1] ^= 0x80
			r.Body = newRequest("POST", "/", body).Body
		}, 400},
		{"encrypted for another subscription", false, func(r *http.Request, sub WebPushSubscription) {
			as, _ := ecdh.P256().GenerateKey(rand.Reader)
			ua, _ := ecdh.P256().GenerateKey(rand.Reader)
			r.Body = newRequest("POST", "/", encryptWebPush(t, []byte("{}"), ua.PublicKey().Bytes(), mustB64(t, sub.Keys.Auth), as, make([]byte, 16), 4096)).Body
		}, 400},
		{"record size smaller than the message", false, func(r *http.Request, sub WebPushSubscription) {
			as, _ := ecdh.P256().GenerateKey(rand.Reader)
			r.Body = newRequest("POST", "/", encryptWebPush(t, []byte(strings.Repeat("x", 100)), mustB64(t, sub.Keys.P256dh), mustB64(t, sub.Keys.Auth), as, make([]byte, 16), 64)).Body
		}, 400},
		{"body over 4096 bytes", false, func(r *http.Request, sub WebPushSubscription) {
			as, _ := ecdh.P256().GenerateKey(rand.Reader)
			r.Body = newRequest("POST", "/", encryptWebPush(t, []byte(strings.Repeat("x", 4096)), mustB64(t, sub.Keys.P256dh), mustB64(t, sub.Keys.Auth), as, make([]byte, 16), 8192)).Body
		}, 413},
		{"GET", false, func(r *http.Request, _ WebPushSubscription) { r.Method = http.MethodGet }, 405},
		{"unknown subscription", false, func(r *http.Request, _ WebPushSubscription) { r.URL.Path = "/wp/0123456789abcdef0123456789abcdef" }, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			spec := ""
			if tc.bound {
				spec = `{"applicationServerKey":"` + client.publicKey(t) + `"}`
			}
			sub := newSubscription(t, s, spec)
			r := client.push(t, sub, `{"k":"mail"}`, now)
			tc.modify(r, sub)
			w := serve(s, r)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, "vapid", w.Header().Get("WWW-Authenticate"))
			}
			sent := s.Sent(PushFilter{Service: ServiceWebPush})
			require.Len(t, sent, 1)
			assert.Equal(t, tc.status, sent[0].Status)
			assert.Empty(t, sent[0].Payload, "nothing is delivered")
		})
	}
}

func TestWebPushUnsubscribed(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	client := webPushClient{key: testOtherECKey}
	a, b := newSubscription(t, s, ""), newSubscription(t, s, "")
	require.NoError(t, s.Unregister(Unregistration{Service: ServiceWebPush, Target: a.ID}))
	require.NoError(t, s.Unregister(Unregistration{Service: ServiceWebPush, Target: b.Endpoint}), "the endpoint names a subscription too")
	assert.Equal(t, http.StatusGone, serve(s, client.push(t, a, "{}", clock.Now())).Code)
	assert.Equal(t, http.StatusGone, serve(s, client.push(t, b, "{}", clock.Now())).Code)
	assert.Error(t, s.Unregister(Unregistration{Service: ServiceWebPush, Target: "nope"}))
}

func readAll(t testing.TB, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return b
}
