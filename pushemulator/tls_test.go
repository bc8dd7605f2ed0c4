package pushemulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// startTLS serves s over TLS with HTTP/2, as Caddy does.
func startTLS(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(s)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

func TestOverTLS(t *testing.T) {
	testKeys(t)
	s, err := NewServer(Options{APNsKey: testAPNsKey, FCMKey: testFCMKey})
	require.NoError(t, err)
	ts := startTLS(t, s)
	client := ts.Client()

	t.Run("APNs over HTTP/2 reuses one connection", func(t *testing.T) {
		s.ResetStats()
		for range 3 {
			req := apnsRequest(t, s.opts.Now())
			out, err := http.NewRequest(http.MethodPost, ts.URL+req.URL.Path, strings.NewReader(`{"aps":{"content-available":1},"k":"mail"}`))
			require.NoError(t, err)
			out.Header = req.Header
			resp, err := client.Do(out)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 2, resp.ProtoMajor)
		}
		assert.Equal(t, ServiceStats{Requests: 3, Connections: 1}, s.Stats()[ServiceAPNs])
	})

	t.Run("APNs refuses HTTP/1.1", func(t *testing.T) {
		// A transport with its own TLS config and no ForceAttemptHTTP2
		// speaks HTTP/1.1: the classic mistake.
		tlsConfig := client.Transport.(*http.Transport).TLSClientConfig.Clone()
		tlsConfig.NextProtos = nil
		h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
		req := apnsRequest(t, s.opts.Now())
		out, err := http.NewRequest(http.MethodPost, ts.URL+req.URL.Path, strings.NewReader(`{"aps":{"content-available":1}}`))
		require.NoError(t, err)
		out.Header = req.Header
		resp, err := h1.Do(out)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, 1, resp.ProtoMajor)
		assert.Equal(t, http.StatusHTTPVersionNotSupported, resp.StatusCode)
	})

	t.Run("reset fault drops the request", func(t *testing.T) {
		require.NoError(t, s.AddFault(FaultRule{Service: ServiceAPNs, Action: FaultActionReset}))
		req := apnsRequest(t, s.opts.Now())
		out, err := http.NewRequest(http.MethodPost, ts.URL+req.URL.Path, strings.NewReader(`{"aps":{"content-available":1}}`))
		require.NoError(t, err)
		out.Header = req.Header
		resp, err := client.Do(out)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		last := s.Sent(PushFilter{Service: ServiceAPNs})
		assert.Equal(t, "connection reset", last[len(last)-1].Reason)
	})

	t.Run("FCM through golang.org/x/oauth2/google with the handed-out credentials", func(t *testing.T) {
		resp, err := client.Get(ts.URL + DefaultControlPrefix + "/fcm/credentials")
		require.NoError(t, err)
		creds, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, ts.URL+"/token", gjson.GetBytes(creds, "token_uri").String())

		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
		gc, err := google.CredentialsFromJSON(ctx, creds, ScopeFirebaseMessaging)
		require.NoError(t, err)
		tok, err := gc.TokenSource.Token()
		require.NoError(t, err, "Google's own client library gets a token from the emulator")
		assert.True(t, tok.Valid())

		fcmClient := oauth2.NewClient(ctx, gc.TokenSource)
		resp, err = fcmClient.Post(ts.URL+"/v1/projects/"+DefaultFCMProject+"/messages:send", "application/json", strings.NewReader(dataMessage))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.EqualValues(t, 1, s.Stats()[ServiceOAuth].Requests)
	})

	t.Run("Web Push", func(t *testing.T) {
		resp, err := client.Post(ts.URL+DefaultControlPrefix+"/webpush/subscriptions", "application/json", nil)
		require.NoError(t, err)
		var sub WebPushSubscription
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&sub))
		resp.Body.Close()
		require.True(t, strings.HasPrefix(sub.Endpoint, ts.URL+"/wp/"), sub.Endpoint)

		wp := webPushClient{key: testOtherECKey}
		in := wp.push(t, WebPushSubscription{Endpoint: testOrigin + strings.TrimPrefix(sub.Endpoint, ts.URL), Keys: sub.Keys}, `{"k":"mail"}`, s.opts.Now())
		body, _ := io.ReadAll(in.Body)
		out, err := http.NewRequest(http.MethodPost, sub.Endpoint, bytes.NewReader(body))
		require.NoError(t, err)
		out.Header = in.Header
		out.Header.Set("Authorization", wp.authorization(t, map[string]any{"aud": ts.URL, "exp": s.opts.Now().Add(time.Hour).Unix(), "sub": "https://bridge.example.com"}))
		resp, err = client.Do(out)
		require.NoError(t, err)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(msg))
		sent := s.Sent(PushFilter{Service: ServiceWebPush, Target: sub.ID})
		require.Len(t, sent, 1)
		assert.JSONEq(t, `{"k":"mail"}`, string(sent[0].Payload))
	})
}
