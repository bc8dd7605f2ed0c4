package pushemulator

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

const testFID = "cK4x9_Qz2mN7pR1sT3uV5w"

// serviceAccount reads the credentials JSON the control API hands out.
func serviceAccount(t testing.TB, s *Server) (serviceAccountFile, *rsa.PrivateKey) {
	t.Helper()
	w := serve(s, newRequest(http.MethodGet, DefaultControlPrefix+"/fcm/credentials", nil))
	require.Equal(t, http.StatusOK, w.Code)
	var sa serviceAccountFile
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &sa))
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	require.NotNil(t, block)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	return sa, key.(*rsa.PrivateKey)
}

// assertion builds the service account's JWT-bearer assertion.
func assertion(t testing.TB, sa serviceAccountFile, key *rsa.PrivateKey, now time.Time, modify func(h, c map[string]any)) string {
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": sa.PrivateKeyID}
	c := map[string]any{"iss": sa.ClientEmail, "scope": ScopeFirebaseMessaging, "aud": sa.TokenURI,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if modify != nil {
		modify(h, c)
	}
	return signRS256(t, key, h, c)
}

func tokenRequest(form url.Values) *http.Request {
	r := newRequest(http.MethodPost, DefaultFCMTokenPath, []byte(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// accessToken runs the token exchange and returns the access token.
func accessToken(t testing.TB, s *Server, now time.Time) string {
	t.Helper()
	sa, key := serviceAccount(t, s)
	w := serve(s, tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, nil)}}))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	tok := gjson.Get(w.Body.String(), "access_token").String()
	require.NotEmpty(t, tok)
	return tok
}

func sendRequest(token, project, body string) *http.Request {
	r := newRequest(http.MethodPost, "/v1/projects/"+project+"/messages:send", []byte(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

const dataMessage = `{"message":{"fid":"` + testFID + `","data":{"k":"mail","a":"work"},"android":{"collapse_key":"sync","priority":"normal","ttl":"3600s"}}}`

func TestFCMTokenExchangeAndSend(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	sa, _ := serviceAccount(t, s)
	assert.Equal(t, "service_account", sa.Type)
	assert.Equal(t, DefaultFCMProject, sa.ProjectID)
	assert.Equal(t, testOrigin+"/token", sa.TokenURI, "token_uri points at the emulator")
	assert.Equal(t, "firebase-adminsdk@"+DefaultFCMProject+".iam.gserviceaccount.com", sa.ClientEmail)

	sa, key := serviceAccount(t, s)
	w := serve(s, tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, clock.Now(), nil)}}))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "Bearer", gjson.Get(w.Body.String(), "token_type").String())
	assert.EqualValues(t, 3600, gjson.Get(w.Body.String(), "expires_in").Int())
	token := gjson.Get(w.Body.String(), "access_token").String()

	w = serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	name := gjson.Get(w.Body.String(), "name").String()
	assert.True(t, strings.HasPrefix(name, "projects/"+DefaultFCMProject+"/messages/0:"), name)

	sent := s.Sent(PushFilter{Service: ServiceFCM})
	require.Len(t, sent, 1)
	assert.Equal(t, testFID, sent[0].Target)
	assert.Equal(t, "fid", sent[0].TargetKind)
	assert.Equal(t, name, sent[0].ID)
	assert.Equal(t, sa.ClientEmail, sent[0].Auth["client_email"])
	assert.JSONEq(t, `{"fid":"`+testFID+`","data":{"k":"mail","a":"work"},"android":{"collapse_key":"sync","priority":"normal","ttl":"3600s"}}`, string(sent[0].Payload))
	assert.Empty(t, sent[0].Problems)

	// lowerCamel field names and a registration token work as well.
	w = serve(s, sendRequest(token, DefaultFCMProject, `{"validateOnly":true,"message":{"token":"dGVzdA:APA91b-x_y","android":{"collapseKey":"ctl","directBootOk":true}}}`))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "projects/"+DefaultFCMProject+"/messages/fake_message_id", gjson.Get(w.Body.String(), "name").String())
	assert.Len(t, s.Sent(PushFilter{Service: ServiceFCM, DeliveredOnly: true}), 1, "validate_only delivers nothing")

	// Tokens expire.
	clock.Advance(time.Hour)
	w = serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestFCMTokenEndpointRefusals(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	sa, key := serviceAccount(t, s)
	now := clock.Now()
	tests := []struct {
		name  string
		req   func() *http.Request
		code  string
		sigOK bool
	}{
		{"wrong grant type", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {"client_credentials"}, "assertion": {assertion(t, sa, key, now, nil)}})
		}, "unsupported_grant_type", true},
		{"JSON body", func() *http.Request {
			r := tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, nil)}})
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "invalid_request", true},
		{"no assertion", func() *http.Request { return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}}) }, "invalid_request", true},
		{"signed by another key", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, testOtherFCMKey, now, nil)}})
		}, "invalid_grant", false},
		{"ES256", func() *http.Request {
			a := signES256(t, testAPNsKey, map[string]any{"alg": "ES256", "kid": sa.PrivateKeyID},
				map[string]any{"iss": sa.ClientEmail, "scope": ScopeFirebaseMessaging, "aud": sa.TokenURI, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {a}})
		}, "invalid_grant", false},
		{"other key id", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, func(h, c map[string]any) { h["kid"] = "0123" })}})
		}, "invalid_grant", false},
		{"other issuer", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, func(h, c map[string]any) { c["iss"] = "x@y.iam.gserviceaccount.com" })}})
		}, "invalid_grant", true},
		{"Google's audience, not token_uri", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, func(h, c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" })}})
		}, "invalid_grant", true},
		{"lifetime over an hour", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, func(h, c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() })}})
		}, "invalid_grant", true},
		{"expired", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now.Add(-2*time.Hour), nil)}})
		}, "invalid_grant", true},
		{"issued in the future", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now.Add(10*time.Minute), nil)}})
		}, "invalid_grant", true},
		{"no scope", func() *http.Request {
			return tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion(t, sa, key, now, func(h, c map[string]any) { delete(c, "scope") })}})
		}, "invalid_scope", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(s, tc.req())
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, tc.code, gjson.Get(w.Body.String(), "error").String(), w.Body.String())
			if !tc.sigOK {
				assert.Equal(t, "Invalid JWT Signature.", gjson.Get(w.Body.String(), "error_description").String())
			}
		})
	}
	assert.Empty(t, s.Sent(PushFilter{}), "token requests are not pushes")
	assert.EqualValues(t, len(tests)+0, s.Stats()[ServiceOAuth].Requests)
}

func TestFCMSendRefusals(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	token := accessToken(t, s, clock.Now())
	msg := func(inner string) string { return `{"message":{` + inner + `}}` }
	tests := []struct {
		name    string
		req     *http.Request
		status  int
		gstatus string
		fcmCode string
	}{
		{"no token", sendRequest("", DefaultFCMProject, dataMessage), 401, "UNAUTHENTICATED", ""},
		{"token not issued", sendRequest("ya29.forged", DefaultFCMProject, dataMessage), 401, "UNAUTHENTICATED", ""},
		{"other project", sendRequest(token, "other-project", dataMessage), 403, "PERMISSION_DENIED", ""},
		{"unknown top-level field", sendRequest(token, DefaultFCMProject, `{"message":{"fid":"`+testFID+`"},"dry_run":true}`), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"unknown message field", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","priority":"high"`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"unknown android field", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","android":{"time_to_live":60}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"no target", sendRequest(token, DefaultFCMProject, msg(`"data":{"k":"mail"}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"two targets", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","token":"abc"`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"data value a number", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","data":{"k":"mail","n":1}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"data value an object", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","data":{"m":["a"]}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"reserved data key", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","data":{"google.k":"x"}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"bad fid", sendRequest(token, DefaultFCMProject, msg(`"fid":"xK4x9_Qz2mN7pR1sT3uV5w"`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"bad registration token", sendRequest(token, DefaultFCMProject, msg(`"token":"a b"`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"ttl as a number", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","android":{"ttl":3600}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"ttl over 4 weeks", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","android":{"ttl":"2419201s"}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"bad priority", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","android":{"priority":"urgent"}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"data over 4096 bytes", sendRequest(token, DefaultFCMProject, msg(`"fid":"`+testFID+`","data":{"k":"`+strings.Repeat("x", 4096)+`"}`)), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"not JSON", sendRequest(token, DefaultFCMProject, `message=1`), 400, "INVALID_ARGUMENT", FCMInvalidArgument},
		{"wrong method", func() *http.Request {
			r := sendRequest(token, DefaultFCMProject, "")
			r.Method = http.MethodGet
			return r
		}(), 405, "INVALID_ARGUMENT", ""},
		{"other path", sendRequest(token, DefaultFCMProject+"/messages", ""), 404, "NOT_FOUND", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(s, tc.req)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			body := w.Body.String()
			assert.EqualValues(t, tc.status, gjson.Get(body, "error.code").Int())
			assert.Equal(t, tc.gstatus, gjson.Get(body, "error.status").String())
			assert.NotEmpty(t, gjson.Get(body, "error.message").String())
			assert.Equal(t, tc.fcmCode, gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.firebase.fcm.v1.FcmError").errorCode`).String(), body)
			if tc.fcmCode == FCMInvalidArgument && tc.name != "not JSON" {
				assert.True(t, gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.BadRequest").fieldViolations.0.description`).Exists(), body)
			}
			if tc.status == http.StatusUnauthorized {
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
	assert.Empty(t, s.Sent(PushFilter{DeliveredOnly: true}))
}

func TestFCMScopeWithoutMessaging(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	sa, key := serviceAccount(t, s)
	a := assertion(t, sa, key, clock.Now(), func(h, c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/userinfo.email" })
	w := serve(s, tokenRequest(url.Values{"grant_type": {jwtBearerGrant}, "assertion": {a}}))
	require.Equal(t, http.StatusOK, w.Code)
	w = serve(s, sendRequest(gjson.Get(w.Body.String(), "access_token").String(), DefaultFCMProject, dataMessage))
	require.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, "PERMISSION_DENIED", gjson.Get(w.Body.String(), "error.status").String())
}

func TestFCMUnregisteredTarget(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	token := accessToken(t, s, clock.Now())
	require.NoError(t, s.Unregister(Unregistration{Service: ServiceFCM, Target: testFID}))
	w := serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	require.Equal(t, http.StatusNotFound, w.Code)
	assert.JSONEq(t, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
		"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`, w.Body.String())
	sent := s.Sent(PushFilter{Service: ServiceFCM, Target: testFID})
	require.Len(t, sent, 1)
	assert.Equal(t, FCMUnregistered, sent[0].Reason)
}

func TestFCMCredentialsFile(t *testing.T) {
	testKeys(t)
	file := t.TempDir() + "/sa.json"
	_, err := NewServer(Options{FCMCredentialsFile: file, FCMKey: testFCMKey})
	require.ErrorContains(t, err, "origin", "a new credentials file needs the origin for token_uri")

	s1, err := NewServer(Options{FCMCredentialsFile: file, FCMKey: testFCMKey, Origin: "https://push.example:8443", FCMProject: "demo-project"})
	require.NoError(t, err)
	s2, err := NewServer(Options{FCMCredentialsFile: file})
	require.NoError(t, err)
	assert.Equal(t, "demo-project", s2.Options().FCMProject, "the project comes from the file")
	assert.True(t, s2.fcm.key.Equal(s1.fcm.key))
	sa, _ := serviceAccount(t, s1)
	assert.Equal(t, "https://push.example:8443/token", sa.TokenURI)

	_, err = NewServer(Options{FCMCredentialsFile: file, FCMProject: "other"})
	assert.ErrorContains(t, err, "differs")
}

// An access token stays good across emulator instances that load the same
// credentials (a Caddy reload), as Google's do; a changed byte or another
// service account's instance refuses it.
func TestFCMAccessTokenVerifiesItself(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fcm.json")
	open := func() *fcmService {
		f, err := newFCMService(&Options{FCMCredentialsFile: file, Origin: "https://localhost:9446"})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	first, second := open(), open()
	want := issuedToken{expires: time.Unix(1796000000, 0), fcm: true, email: first.clientEmail}
	token := first.issueAccessToken(want)
	got, ok := second.openAccessToken(token)
	if !ok || got != want {
		t.Fatalf("the second instance read %+v %v", got, ok)
	}
	tampered := []byte(token)
	tampered[len(accessTokenPrefix)+3] ^= 1
	if _, ok := second.openAccessToken(string(tampered)); ok {
		t.Fatal("a changed token opened")
	}
	other, err := newFCMService(&Options{FCMProject: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.openAccessToken(token); ok {
		t.Fatal("another service account's instance accepted the token")
	}
}
