package pushemulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func control(s *Server, method, path, body string) *httptest.ResponseRecorder {
	return serve(s, newRequest(method, DefaultControlPrefix+path, []byte(body)))
}

func TestControlSentListsFiltersAndClears(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	require.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)
	other := apnsRequest(t, clock.Now())
	other.URL.Path = "/3/device/" + strings.Repeat("ab", 32)
	require.Equal(t, http.StatusOK, serve(s, other).Code)
	bad := apnsRequest(t, clock.Now())
	bad.Header.Set("apns-topic", "com.example.other")
	require.Equal(t, http.StatusBadRequest, serve(s, bad).Code)

	w := control(s, http.MethodGet, "/sent", "")
	require.Equal(t, http.StatusOK, w.Code)
	var all []Push
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &all))
	require.Len(t, all, 3)
	assert.Equal(t, []int64{1, 2, 3}, []int64{all[0].Seq, all[1].Seq, all[2].Seq})

	w = control(s, http.MethodGet, "/sent?service=apns&target="+strings.ToUpper(testDeviceToken), "")
	assert.EqualValues(t, 2, gjson.Get(w.Body.String(), "#").Int(), "the target filter matches the token in any case")
	w = control(s, http.MethodGet, "/sent?service=apns&delivered=true", "")
	assert.EqualValues(t, 2, gjson.Get(w.Body.String(), "#").Int())
	w = control(s, http.MethodGet, "/sent?after=2", "")
	assert.Equal(t, "TopicDisallowed", gjson.Get(w.Body.String(), "0.reason").String())
	w = control(s, http.MethodGet, "/sent?service=fcm", "")
	assert.Equal(t, "[]", strings.TrimSpace(w.Body.String()))
	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodGet, "/sent?wait=2h", "").Code)

	require.Equal(t, http.StatusNoContent, control(s, http.MethodDelete, "/sent", "").Code)
	assert.Empty(t, s.Sent(PushFilter{}))
	require.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)
	assert.EqualValues(t, 4, s.Sent(PushFilter{})[0].Seq, "sequence numbers keep counting after a clear")
}

func TestControlSentWaitsForPushes(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- control(s, http.MethodGet, "/sent?service=apns&wait=10s&count=2", "") }()
	for range 2 {
		require.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)
	}
	w := <-done
	assert.EqualValues(t, 2, gjson.Get(w.Body.String(), "#").Int())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Len(t, s.WaitSent(ctx, PushFilter{Service: ServiceFCM}, 1), 0, "a cancelled wait returns what there is")
}

func TestRecordIsBounded(t *testing.T) {
	s, clock := newTestServer(t, Options{RecordLimit: 3})
	for range 5 {
		serve(s, apnsRequest(t, clock.Now()))
	}
	sent := s.Sent(PushFilter{})
	require.Len(t, sent, 3)
	assert.EqualValues(t, 3, sent[0].Seq, "the oldest records are dropped")
	assert.EqualValues(t, 5, sent[2].Seq)
}

func TestControlKeyMaterial(t *testing.T) {
	s, clock := newTestServer(t, Options{APNsKeyID: "ABCDE12345", APNsTeamID: "TEAM123456", APNsTopic: "com.example.mail"})
	w := control(s, http.MethodGet, "/apns/key", "")
	require.Equal(t, http.StatusOK, w.Code)
	var key APNsKey
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &key))
	assert.Equal(t, "ABCDE12345", key.KeyID)
	assert.Equal(t, "TEAM123456", key.TeamID)
	assert.Equal(t, "com.example.mail", key.Topic)
	assert.True(t, strings.HasPrefix(key.P8, "-----BEGIN PRIVATE KEY-----"), key.P8)

	// A provider token signed with the handed-out .p8 is accepted.
	p8, err := decodeP256PrivateKey([]byte(key.P8))
	require.NoError(t, err)
	r := apnsRequest(t, clock.Now())
	r.Header.Set("apns-topic", "com.example.mail")
	r.Header.Set("authorization", "bearer "+signES256(t, p8, map[string]any{"alg": "ES256", "kid": "ABCDE12345"}, map[string]any{"iss": "TEAM123456", "iat": clock.Now().Unix()}))
	assert.Equal(t, http.StatusOK, serve(s, r).Code)

	assert.Equal(t, http.StatusMethodNotAllowed, control(s, http.MethodPost, "/apns/key", "").Code)
	assert.Equal(t, http.StatusNotFound, control(s, http.MethodGet, "/nope", "").Code)
}

func TestControlUnregisterValidates(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	assert.Equal(t, http.StatusNoContent, control(s, http.MethodPost, "/unregister", `{"service":"fcm","target":"`+testFID+`"}`).Code)
	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/unregister", `{"service":"mqtt","target":"x"}`).Code)
	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/unregister", `{"service":"fcm"}`).Code)
	assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/unregister", `{"service":"fcm","target":"x","extra":1}`).Code)
	assert.Equal(t, http.StatusNotFound, control(s, http.MethodPost, "/unregister", `{"service":"webpush","target":"x"}`).Code)
}

func TestFaultsAnswerInEachServicesShape(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	token := accessToken(t, s, clock.Now())
	sub := newSubscription(t, s, "")
	client := webPushClient{key: testOtherECKey}

	// The next two APNs requests get 429 with Retry-After, then pushes go through.
	require.Equal(t, http.StatusCreated, control(s, http.MethodPost, "/faults", `{"service":"apns","status":429,"count":2}`).Code)
	for range 2 {
		w := serve(s, apnsRequest(t, clock.Now()))
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.JSONEq(t, `{"reason":"TooManyRequests"}`, w.Body.String())
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
	}
	assert.Equal(t, http.StatusOK, serve(s, apnsRequest(t, clock.Now())).Code)
	faulted := s.Sent(PushFilter{Service: ServiceAPNs})
	require.Len(t, faulted, 3)
	assert.True(t, faulted[0].Fault)
	assert.Equal(t, testDeviceToken, faulted[0].Target)
	assert.False(t, faulted[2].Fault)

	// FCM 503 and 500 with Google's error and FCM's code.
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceFCM, Status: 503, RetryAfter: ptr("30")}))
	w := serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "30", w.Header().Get("Retry-After"))
	assert.Equal(t, "UNAVAILABLE", gjson.Get(w.Body.String(), "error.status").String())
	assert.Equal(t, FCMUnavailable, gjson.Get(w.Body.String(), "error.details.0.errorCode").String())
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceFCM, Status: 429}))
	w = serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	assert.Equal(t, FCMQuotaExceeded, gjson.Get(w.Body.String(), "error.details.0.errorCode").String())
	assert.Equal(t, "RESOURCE_EXHAUSTED", gjson.Get(w.Body.String(), "error.status").String())

	// A rule without a service matches the next request of any service.
	require.NoError(t, s.AddFault(FaultRule{Status: 500, RetryAfter: ptr("")}))
	w = serve(s, client.push(t, sub, "{}", clock.Now()))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Empty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusCreated, serve(s, client.push(t, sub, "{}", clock.Now())).Code)

	// A delay alone delays the normal answer; unlimited rules stay listed.
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceWebPush, Delay: "1ms", Count: ptr(0)}))
	assert.Equal(t, http.StatusCreated, serve(s, client.push(t, sub, "{}", clock.Now())).Code)
	w = control(s, http.MethodGet, "/faults", "")
	assert.Equal(t, "1ms", gjson.Get(w.Body.String(), "0.delay").String())
	require.Equal(t, http.StatusNoContent, control(s, http.MethodDelete, "/faults", "").Code)
	assert.Empty(t, s.Faults())

	for _, bad := range []string{`{"status":200}`, `{"service":"smtp","status":500}`, `{}`, `{"delay":"1h"}`, `{"action":"reset","status":500}`, `{"action":"explode"}`} {
		assert.Equal(t, http.StatusBadRequest, control(s, http.MethodPost, "/faults", bad).Code, bad)
	}
}

func TestFaultDelayEndsWithTheClient(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceAPNs, Delay: "10m"}))
	ctx, cancel := context.WithCancel(context.Background())
	r := apnsRequest(t, clock.Now()).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		serve(s, r)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a delayed request outlived its client")
	}
	assert.Empty(t, s.Sent(PushFilter{}), "a request whose client left is not answered")
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentPushes drives all services at once; run under -race.
func TestConcurrentPushes(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	token := accessToken(t, s, clock.Now())
	sub := newSubscription(t, s, "")
	client := webPushClient{key: testOtherECKey}
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceAPNs, Status: 503, Count: ptr(10)}))
	requests := make([]*http.Request, 0, 150)
	for i := range 50 {
		apns := apnsRequest(t, clock.Now())
		apns.RemoteAddr = "192.0.2.1:" + strconv.Itoa(40000+i)
		requests = append(requests, apns, sendRequest(token, DefaultFCMProject, dataMessage), client.push(t, sub, `{"k":"mail"}`, clock.Now()))
	}
	var wg sync.WaitGroup
	codes := make([]int, len(requests))
	for i, r := range requests {
		wg.Go(func() { codes[i] = serve(s, r).Code })
	}
	wg.Go(func() { control(s, http.MethodGet, "/sent", "") })
	wg.Go(func() { control(s, http.MethodGet, "/stats", "") })
	wg.Wait()
	unavailable := 0
	for _, c := range codes {
		if c == http.StatusServiceUnavailable {
			unavailable++
		}
	}
	assert.Equal(t, 10, unavailable, "each fault firing is used once")
	assert.Len(t, s.Sent(PushFilter{DeliveredOnly: true}), 140)
	assert.Equal(t, ServiceStats{Requests: 50, Connections: 50}, s.Stats()[ServiceAPNs])
}

func TestConfiguredOriginIsTheVAPIDAudience(t *testing.T) {
	s, clock := newTestServer(t, Options{Origin: "https://push.example:8443"})
	sub := newSubscription(t, s, "")
	require.Equal(t, "https://push.example:8443/wp/"+sub.ID, sub.Endpoint)
	client := webPushClient{key: testOtherECKey}
	r := client.push(t, WebPushSubscription{Endpoint: testOrigin + "/wp/" + sub.ID, Keys: sub.Keys}, "{}", clock.Now())
	assert.Equal(t, http.StatusForbidden, serve(s, r).Code, "the request's Host is not the configured origin")
	r = client.push(t, WebPushSubscription{Endpoint: testOrigin + "/wp/" + sub.ID, Keys: sub.Keys}, "{}", clock.Now())
	r.Header.Set("Authorization", client.authorization(t, map[string]any{"aud": "https://push.example:8443", "exp": clock.Now().Add(time.Hour).Unix(), "sub": "mailto:a@b.example"}))
	assert.Equal(t, http.StatusCreated, serve(s, r).Code)
}

func TestFaultsForOneTargetAndRedirects(t *testing.T) {
	s, clock := newTestServer(t, Options{})
	token := accessToken(t, s, clock.Now())
	sub := newSubscription(t, s, "")
	client := webPushClient{key: testOtherECKey}

	// One APNs token is throttled; another goes through meanwhile.
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceAPNs, Target: strings.ToUpper(testDeviceToken), Status: 429, Count: ptr(0)}))
	other := apnsRequest(t, clock.Now())
	other.URL.Path = "/3/device/" + strings.Repeat("ab", 32)
	assert.Equal(t, http.StatusOK, serve(s, other).Code)
	w := serve(s, apnsRequest(t, clock.Now()))
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.JSONEq(t, `{"reason":"TooManyRequests"}`, w.Body.String())

	// FCM faults match the message's target; the body still reaches the
	// handler for other targets.
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceFCM, Target: "dGVzdA:APA91b", Status: 500}))
	w = serve(s, sendRequest(token, DefaultFCMProject, dataMessage))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = serve(s, sendRequest(token, DefaultFCMProject, `{"message":{"token":"dGVzdA:APA91b","data":{"k":"mail"}}}`))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, FCMInternal, gjson.Get(w.Body.String(), "error.details.0.errorCode").String())
	faulted := s.Sent(PushFilter{Service: ServiceFCM, Target: "dGVzdA:APA91b"})
	require.Len(t, faulted, 1)
	assert.True(t, faulted[0].Fault)

	// A redirect, which a sender must not follow.
	require.NoError(t, s.AddFault(FaultRule{Service: ServiceWebPush, Status: 307, Location: "https://elsewhere.example/wp/x"}))
	w = serve(s, client.push(t, sub, "{}", clock.Now()))
	assert.Equal(t, http.StatusTemporaryRedirect, w.Code)
	assert.Equal(t, "https://elsewhere.example/wp/x", w.Header().Get("Location"))
	last := s.Sent(PushFilter{Service: ServiceWebPush})
	assert.Equal(t, "redirect", last[len(last)-1].Reason)

	for _, bad := range []FaultRule{
		{Service: ServiceWebPush, Status: 307},
		{Service: ServiceWebPush, Status: 500, Location: "https://x.example"},
		{Service: ServiceWebPush, Status: 304, Location: "https://x.example"},
		{Status: 500, Target: testDeviceToken},
		{Service: ServiceOAuth, Status: 500, Target: "x"},
	} {
		assert.Error(t, s.AddFault(bad), "%+v", bad)
	}
}
