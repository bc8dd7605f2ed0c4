package pushemulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// freePort returns a TCP port that was free a moment ago, so this test
// needs no fixed port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestThroughCaddy serves the emulator from a Caddyfile through a real
// Caddy with a certificate of its internal CA, and drives each service as
// a sender would: HTTP/2 over verified TLS, with the key material the
// emulator wrote at provision.
func TestThroughCaddy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	httpsPort, httpPort := freePort(t), freePort(t)
	origin := fmt.Sprintf("https://localhost:%d", httpsPort)
	keyFile, saFile := filepath.Join(dir, "AuthKey.p8"), filepath.Join(dir, "sa.json")
	caddyfileText := fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %[1]s
	local_certs
	skip_install_trust
	auto_https disable_redirects
	http_port %[2]d
	https_port %[3]d
	grace_period 1ns
	log default {
		output discard
	}
}

%[4]s {
	route {
		push_emulator {
			origin %[4]s
			apns_key_id ABCDE12345
			apns_team_id TEAM123456
			apns_topic com.example.mail
			apns_key_file %[5]s
			fcm_project demo-project
			fcm_credentials_file %[6]s
		}
		respond "not the emulator" 418
	}
}
`, dir, httpPort, httpsPort, origin, keyFile, saFile)
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), nil)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.NoError(t, caddy.Load(cfgJSON, true))
	t.Cleanup(func() { _ = caddy.Stop() })

	rootPEM, err := os.ReadFile(filepath.Join(dir, "pki", "authorities", "local", "root.crt"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(rootPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}

	// The certificate is obtained in the background: wait for it.
	var resp *http.Response
	for range 100 {
		resp, err = client.Get(origin + "/_push/apns/key")
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	var key APNsKey
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&key))
	resp.Body.Close()
	written, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	assert.Equal(t, string(written), key.P8, "the control API hands out the .p8 written at provision")

	// APNs: a provider token from the written .p8, over HTTP/2.
	p8, err := decodeP256PrivateKey(written)
	require.NoError(t, err)
	jwtToken := signES256(t, p8, map[string]any{"alg": "ES256", "kid": key.KeyID}, map[string]any{"iss": key.TeamID, "iat": time.Now().Unix()})
	req, err := http.NewRequest(http.MethodPost, origin+"/3/device/"+testDeviceToken, strings.NewReader(`{"aps":{"content-available":1},"k":"mail"}`))
	require.NoError(t, err)
	req.Header.Set("authorization", "bearer "+jwtToken)
	req.Header.Set("apns-topic", key.Topic)
	req.Header.Set("apns-push-type", "background")
	req.Header.Set("apns-priority", "5")
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.True(t, validUUID(resp.Header.Get("apns-id")))

	// FCM: the credentials file written at provision, through Google's client.
	creds, err := os.ReadFile(saFile)
	require.NoError(t, err)
	assert.Equal(t, origin+"/token", gjson.GetBytes(creds, "token_uri").String())
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	gc, err := google.CredentialsFromJSON(ctx, creds, ScopeFirebaseMessaging)
	require.NoError(t, err)
	resp, err = oauth2.NewClient(ctx, gc.TokenSource).Post(origin+"/v1/projects/demo-project/messages:send", "application/json", strings.NewReader(dataMessage))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	// Web Push: a subscription from the control API.
	resp, err = client.Post(origin+"/_push/webpush/subscriptions", "application/json", nil)
	require.NoError(t, err)
	var sub WebPushSubscription
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sub))
	resp.Body.Close()
	require.True(t, strings.HasPrefix(sub.Endpoint, origin+"/wp/"), sub.Endpoint)
	testKeys(t)
	wp := webPushClient{key: testOtherECKey}
	in := wp.push(t, WebPushSubscription{Endpoint: testOrigin + strings.TrimPrefix(sub.Endpoint, origin), Keys: sub.Keys}, `{"k":"mail"}`, time.Now())
	payload, _ := io.ReadAll(in.Body)
	req, err = http.NewRequest(http.MethodPost, sub.Endpoint, strings.NewReader(string(payload)))
	require.NoError(t, err)
	req.Header = in.Header
	req.Header.Set("Authorization", wp.authorization(t, map[string]any{"aud": origin, "exp": time.Now().Add(time.Hour).Unix(), "sub": "mailto:ops@example.com"}))
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))

	// The record lists the three deliveries; other paths reach the next handler.
	resp, err = client.Get(origin + "/_push/sent?delivered=true")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, `["apns","fcm","webpush"]`, gjson.GetBytes(body, "#.service").Raw)
	resp, err = client.Get(origin + "/elsewhere")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
}
