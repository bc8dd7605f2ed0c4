package pushemulator

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testDeviceToken = "7f3a9c0e5b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a4c6e8b1d3f5a"

// apnsToken returns a valid provider token issued at iat.
func apnsToken(t testing.TB, iat time.Time) string {
	return signES256(t, testAPNsKey, map[string]any{"alg": "ES256", "kid": DefaultAPNsKeyID},
		map[string]any{"iss": DefaultAPNsTeamID, "iat": iat.Unix()})
}

// apnsRequest is a correct background push with token auth.
func apnsRequest(t testing.TB, now time.Time) *http.Request {
	r := newRequest(http.MethodPost, "/3/device/"+testDeviceToken, []byte(`{"aps":{"content-available":1},"k":"mail"}`))
	r.Header.Set("authorization", "bearer "+apnsToken(t, now))
	r.Header.Set("apns-topic", DefaultAPNsTopic)
	r.Header.Set("apns-push-type", "background")
	r.Header.Set("apns-priority", "5")
	r.Header.Set("apns-expiration", "1790000000")
	r.Header.Set("apns-collapse-id", "mail")
	r.RemoteAddr = "192.0.2.1:50000"
	return r
}

func TestAPNsAcceptsBackgroundAndAlertPushes(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	w := serve(s, apnsRequest(t, clock.Now()))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Empty(t, w.Body.String())
	apnsID := w.Header().Get("apns-id")
	assert.True(t, validUUID(apnsID), apnsID)

	alert := newRequest(http.MethodPost, "/3/device/"+strings.ToUpper(testDeviceToken),
		[]byte(`{"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1},"k":"mail","m":["x"]}`))
	alert.Header = apnsRequest(t, clock.Now()).Header.Clone()
	alert.Header.Set("apns-push-type", "alert")
	alert.Header.Set("apns-priority", "10")
	alert.Header.Set("apns-id", "123e4567-e89b-12d3-a456-426614174000")
	alert.RemoteAddr = "192.0.2.1:50000"
	w = serve(s, alert)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "123e4567-e89b-12d3-a456-426614174000", w.Header().Get("apns-id"), "the sender's apns-id is echoed")

	sent := s.Sent(PushFilter{Service: ServiceAPNs, Target: testDeviceToken})
	require.Len(t, sent, 2)
	bg := sent[0]
	assert.Equal(t, http.StatusOK, bg.Status)
	assert.Equal(t, apnsID, bg.ID)
	assert.Equal(t, "HTTP/2.0", bg.Proto)
	assert.Equal(t, map[string]string{"Apns-Topic": DefaultAPNsTopic, "Apns-Push-Type": "background", "Apns-Priority": "5",
		"Apns-Expiration": "1790000000", "Apns-Collapse-Id": "mail"}, bg.Headers)
	assert.Equal(t, map[string]string{"kid": DefaultAPNsKeyID, "iss": DefaultAPNsTeamID, "iat": strconv.FormatInt(clock.Now().Unix(), 10)}, bg.Auth)
	assert.JSONEq(t, `{"aps":{"content-available":1},"k":"mail"}`, string(bg.Payload))
	assert.Empty(t, bg.Problems)
	assert.True(t, bg.Delivered())
	assert.Equal(t, testDeviceToken, sent[1].Target, "targets are recorded in lower case")
	assert.Empty(t, sent[1].Problems)
}

func TestAPNsRefusals(t *testing.T) {
	testKeys(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	claims := func(iss string, iat time.Time) map[string]any { return map[string]any{"iss": iss, "iat": iat.Unix()} }
	es256 := map[string]any{"alg": "ES256", "kid": DefaultAPNsKeyID}
	tests := []struct {
		name   string
		modify func(r *http.Request)
		status int
		reason string
	}{
		{"no provider token", func(r *http.Request) { r.Header.Del("authorization") }, 403, ReasonMissingProviderToken},
		{"basic scheme", func(r *http.Request) { r.Header.Set("authorization", "basic "+apnsToken(t, now)) }, 403, ReasonInvalidProviderToken},
		{"not a JWT", func(r *http.Request) { r.Header.Set("authorization", "bearer abc.def") }, 403, ReasonInvalidProviderToken},
		{"signed by another key", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testOtherECKey, es256, claims(DefaultAPNsTeamID, now)))
		}, 403, ReasonInvalidProviderToken},
		{"DER signature", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256DER(t, testAPNsKey, es256, claims(DefaultAPNsTeamID, now)))
		}, 403, ReasonInvalidProviderToken},
		{"claims changed after signing", func(r *http.Request) {
			tok := apnsToken(t, now)
			parts := strings.Split(tok, ".")
			parts[1] = b64([]byte(`{"iss":"OTHERTEAM1","iat":` + strconv.FormatInt(now.Unix(), 10) + `}`))
			r.Header.Set("authorization", "bearer "+strings.Join(parts, "."))
		}, 403, ReasonInvalidProviderToken},
		{"wrong kid", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testAPNsKey, map[string]any{"alg": "ES256", "kid": "OTHERKEY01"}, claims(DefaultAPNsTeamID, now)))
		}, 403, ReasonInvalidProviderToken},
		{"no kid", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testAPNsKey, map[string]any{"alg": "ES256"}, claims(DefaultAPNsTeamID, now)))
		}, 403, ReasonInvalidProviderToken},
		{"alg none", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+jwsInput(t, map[string]any{"alg": "none", "kid": DefaultAPNsKeyID}, claims(DefaultAPNsTeamID, now))+".")
		}, 403, ReasonInvalidProviderToken},
		{"wrong team", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testAPNsKey, es256, claims("OTHERTEAM1", now)))
		}, 403, ReasonInvalidProviderToken},
		{"no iat", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testAPNsKey, es256, map[string]any{"iss": DefaultAPNsTeamID}))
		}, 403, ReasonInvalidProviderToken},
		{"iat as a string", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+signES256(t, testAPNsKey, es256, map[string]any{"iss": DefaultAPNsTeamID, "iat": strconv.FormatInt(now.Unix(), 10)}))
		}, 403, ReasonInvalidProviderToken},
		{"iat older than an hour", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+apnsToken(t, now.Add(-61*time.Minute)))
		}, 403, ReasonExpiredProviderToken},
		{"iat in the future", func(r *http.Request) {
			r.Header.Set("authorization", "bearer "+apnsToken(t, now.Add(5*time.Minute)))
		}, 403, ReasonInvalidProviderToken},
		{"no topic", func(r *http.Request) { r.Header.Del("apns-topic") }, 400, ReasonMissingTopic},
		{"malformed topic", func(r *http.Request) { r.Header.Set("apns-topic", "com example") }, 400, ReasonBadTopic},
		{"another app's topic", func(r *http.Request) { r.Header.Set("apns-topic", "com.example.other") }, 400, ReasonTopicDisallowed},
		{"token not hex", func(r *http.Request) { r.URL.Path = "/3/device/" + strings.Repeat("zz", 32) }, 400, ReasonBadDeviceToken},
		{"token of odd length", func(r *http.Request) { r.URL.Path = "/3/device/" + testDeviceToken + "a" }, 400, ReasonBadDeviceToken},
		{"token too short", func(r *http.Request) { r.URL.Path = "/3/device/abcd" }, 400, ReasonBadDeviceToken},
		{"no token", func(r *http.Request) { r.URL.Path = "/3/device/" }, 400, ReasonMissingDeviceToken},
		{"unknown push type", func(r *http.Request) { r.Header.Set("apns-push-type", "silent") }, 400, ReasonInvalidPushType},
		{"bad priority", func(r *http.Request) { r.Header.Set("apns-priority", "7") }, 400, ReasonBadPriority},
		{"background at priority 10", func(r *http.Request) { r.Header.Set("apns-priority", "10") }, 400, ReasonBadPriority},
		{"background without priority (10)", func(r *http.Request) { r.Header.Del("apns-priority") }, 400, ReasonBadPriority},
		{"bad expiration", func(r *http.Request) { r.Header.Set("apns-expiration", "tomorrow") }, 400, ReasonBadExpirationDate},
		{"collapse id over 64 bytes", func(r *http.Request) { r.Header.Set("apns-collapse-id", strings.Repeat("c", 65)) }, 400, ReasonBadCollapseID},
		{"bad apns-id", func(r *http.Request) { r.Header.Set("apns-id", "not-a-uuid") }, 400, ReasonBadMessageID},
		{"duplicate topic", func(r *http.Request) { r.Header.Add("apns-topic", DefaultAPNsTopic) }, 400, ReasonDuplicateHeaders},
		{"empty payload", func(r *http.Request) { r.Body = http.NoBody }, 400, ReasonPayloadEmpty},
		{"payload over 4096 bytes", func(r *http.Request) {
			r.Body = newRequest("POST", "/", []byte(`{"aps":{"content-available":1},"k":"`+strings.Repeat("x", 4096)+`"}`)).Body
		}, 413, ReasonPayloadTooLarge},
		{"payload not JSON", func(r *http.Request) { r.Body = newRequest("POST", "/", []byte(`aps=1`)).Body }, 400, ReasonBadPayload},
		{"GET", func(r *http.Request) { r.Method = http.MethodGet }, 405, ReasonMethodNotAllowed},
		{"other path", func(r *http.Request) { r.URL.Path = "/3/devices/" + testDeviceToken }, 404, ReasonBadPath},
		{"HTTP/1.1", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1 }, 505, ReasonHTTP2Required},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			r := apnsRequest(t, now)
			tc.modify(r)
			w := serve(s, r)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			assert.JSONEq(t, `{"reason":"`+tc.reason+`"}`, w.Body.String())
			assert.True(t, validUUID(w.Header().Get("apns-id")))
			sent := s.Sent(PushFilter{})
			require.Len(t, sent, 1, "refused pushes are recorded too")
			assert.Equal(t, tc.reason, sent[0].Reason)
			assert.False(t, sent[0].Delivered())
		})
	}
}

func TestAPNsUnregisteredToken(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	require.NoError(t, s.Unregister(Unregistration{Service: ServiceAPNs, Target: strings.ToUpper(testDeviceToken)}))
	unregisteredAt := clock.Now()
	clock.Advance(time.Minute)
	w := serve(s, apnsRequest(t, clock.Now()))
	require.Equal(t, http.StatusGone, w.Code)
	body := decodeJSON(t, w.Body)
	assert.Equal(t, ReasonUnregistered, body["reason"])
	assert.EqualValues(t, unregisteredAt.UnixMilli(), body["timestamp"])

	require.NoError(t, s.Unregister(Unregistration{Service: ServiceAPNs, Target: testDeviceToken, Reason: ReasonExpiredToken}))
	w = serve(s, apnsRequest(t, clock.Now()))
	require.Equal(t, http.StatusGone, w.Code)
	assert.Equal(t, ReasonExpiredToken, decodeJSON(t, w.Body)["reason"])

	assert.Error(t, s.Unregister(Unregistration{Service: ServiceAPNs, Target: testDeviceToken, Reason: "Gone"}))
}

func TestAPNsTokenUpdatesOnOneConnection(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	first := clock.Now()
	require.Equal(t, http.StatusOK, serve(s, apnsRequest(t, first)).Code)
	clock.Advance(5 * time.Minute)

	// A new token on the same connection five minutes later is too soon.
	w := serve(s, apnsRequest(t, clock.Now()))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.JSONEq(t, `{"reason":"TooManyProviderTokenUpdates"}`, w.Body.String())

	// The old token still works there; another connection may use the new one.
	old := apnsRequest(t, first)
	old.Header.Set("authorization", "bearer "+apnsToken(t, first))
	assert.Equal(t, http.StatusOK, serve(s, old).Code, "a token re-signed with the same iat is the same token")
	other := apnsRequest(t, clock.Now())
	other.RemoteAddr = "192.0.2.1:50001"
	assert.Equal(t, http.StatusOK, serve(s, other).Code)

	clock.Advance(15 * time.Minute)
	assert.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code, "20 minutes after the first token a new one is fine")

	off, clock2 := newTestServer(t, Options{APNsTokenUpdateInterval: -1})
	require.Equal(t, http.StatusOK, serve(off, apnsRequest(t, clock2.Now())).Code)
	clock2.Advance(time.Second)
	assert.Equal(t, http.StatusOK, serve(off, apnsRequest(t, clock2.Now())).Code)
}

func TestAPNsRecordsPayloadProblems(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	r := apnsRequest(t, clock.Now())
	r.Body = newRequest("POST", "/", []byte(`{"aps":{"alert":"hi"},"k":"mail"}`)).Body
	r.Header.Del("apns-push-type")
	r.Header.Set("apns-priority", "10")
	require.Equal(t, http.StatusOK, serve(s, r).Code)
	sent := s.Sent(PushFilter{})
	require.Len(t, sent, 1)
	assert.Equal(t, []string{"no apns-push-type header"}, sent[0].Problems)

	r = apnsRequest(t, clock.Now())
	r.Body = newRequest("POST", "/", []byte(`{"aps":{"alert":"hi","content-available":1}}`)).Body
	require.Equal(t, http.StatusOK, serve(s, r).Code)
	sent = s.Sent(PushFilter{AfterSeq: sent[0].Seq})
	require.Len(t, sent, 1)
	assert.Equal(t, []string{"background push with aps.alert"}, sent[0].Problems)
}

func TestAPNsPublicKeyFileAndGeneratedKeyFile(t *testing.T) {
	testKeys(t)
	dir := t.TempDir()
	pubFile := dir + "/apns.pub.pem"
	require.NoError(t, os.WriteFile(pubFile, []byte(encodePublicKeyPEM(&testAPNsKey.PublicKey)), 0o600))
	s, clock := newTestServer(t, Options{APNsPublicKeyFile: pubFile})
	assert.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)
	assert.Empty(t, s.APNsKey().P8, "no private key to hand out")

	keyFile := dir + "/AuthKey.p8"
	s1, _ := newTestServer(t, Options{APNsKeyFile: keyFile})
	s2, _ := newTestServer(t, Options{APNsKeyFile: keyFile})
	p8 := s1.APNsKey().P8
	require.NotEmpty(t, p8)
	assert.Equal(t, p8, s2.APNsKey().P8, "the written key is read back, not regenerated")
	key, err := decodeP256PrivateKey([]byte(p8))
	require.NoError(t, err)
	assert.True(t, key.PublicKey.Equal(s1.apns.pub))

	_, err = NewServer(Options{APNsPublicKeyFile: dir + "/missing.pem"})
	assert.ErrorContains(t, err, "apns_public_key_file")
}

func TestAPNsEnvironments(t *testing.T) {
	s, clock := newTestServer(t, Options{APNsSandboxHosts: []string{"Sandbox.push.test", "127.0.0.1:7446"}})
	sandbox := apnsRequest(t, clock.Now())
	sandbox.Host = "sandbox.push.test:443"
	require.Equal(t, http.StatusOK, serve(s, sandbox).Code)
	byPort := apnsRequest(t, clock.Now())
	byPort.Host = "127.0.0.1:7446"
	require.Equal(t, http.StatusOK, serve(s, byPort).Code)
	otherPort := apnsRequest(t, clock.Now())
	otherPort.Host = "127.0.0.1:7445"
	require.Equal(t, http.StatusOK, serve(s, otherPort).Code)
	sent := s.Sent(PushFilter{})
	require.Len(t, sent, 3)
	assert.Equal(t, []string{EnvironmentSandbox, EnvironmentSandbox, EnvironmentProduction},
		[]string{sent[0].Environment, sent[1].Environment, sent[2].Environment})
	assert.Equal(t, "sandbox.push.test:443", sent[0].Host)

	// A token of the production environment is a bad token in the sandbox.
	w := control(s, http.MethodPost, "/apns/tokens", `{"token":"`+strings.ToUpper(testDeviceToken)+`","environment":"production"}`)
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	sandbox = apnsRequest(t, clock.Now())
	sandbox.Host = "sandbox.push.test"
	w = serve(s, sandbox)
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"reason":"BadDeviceToken"}`, w.Body.String())
	assert.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)

	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/apns/tokens", `{"token":"`+testDeviceToken+`","environment":"staging"}`).Code)
	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/apns/tokens", `{"token":"xyz","environment":"sandbox"}`).Code)
}
