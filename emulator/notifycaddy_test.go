package emulator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCaddyfileNotifications(t *testing.T) {
	d := caddyfile.NewTestDispenser(`graph_emulator {
		seed none
		notifications {
			tenant_id             11111111-2222-3333-4444-555555555555
			max_lifetime          4230m
			max_client_state      255
			max_url_length        off
			validation_timeout    2s
			validation_error_code InvalidRequest
			trust_pem_file        /etc/ssl/receivers.pem
			token_expiry          pause
			renew_validation      always
			resource_form         odata_key
			notification_timeout  1s
			retry_initial         10ms
			retry_max_interval    1s
			retry_for             1m
			duplicate_every       off
			duplicate_copies      2
			batch_window          50ms
			missed_on_drop        on
		}
	}`)
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(d))
	assert.Equal(t, &NotificationConfig{
		TenantID: "11111111-2222-3333-4444-555555555555", MaxLifetime: caddy.Duration(4230 * time.Minute), MaxClientState: 255,
		MaxURLLength: -1, ValidationTimeout: caddy.Duration(2 * time.Second), ValidationErrorCode: "InvalidRequest",
		TrustPEMFile: "/etc/ssl/receivers.pem", TokenExpiry: "pause", RenewValidation: "always", ResourceForm: "odata_key",
		NotificationTimeout: caddy.Duration(time.Second), RetryInitial: caddy.Duration(10 * time.Millisecond),
		RetryMaxInterval: caddy.Duration(time.Second), RetryFor: caddy.Duration(time.Minute),
		DuplicateEvery: -1, DuplicateCopies: 2, BatchWindow: caddy.Duration(50 * time.Millisecond), MissedOnDrop: "on",
	}, h.Notifications)
	opts := h.Notifications.subscriptionOptions()
	require.NoError(t, opts.normalize())
	assert.Equal(t, NotificationSettings{TokenExpiry: "pause", RenewValidation: "always", ResourceForm: "odata_key",
		NotificationTimeout: "1s", RetryInitial: "10ms", RetryMaxInterval: "1s", RetryFor: "1m0s",
		DuplicateEvery: -1, DuplicateCopies: 2, BatchWindow: "50ms", MissedOnDrop: "on"}, opts.Runtime)
	require.NoError(t, h.Validate())

	for _, bad := range []string{
		"graph_emulator { notifications { token_expiry sometimes } }",
		"graph_emulator { notifications { retry_initial soon } }",
		"graph_emulator { notifications { max_lifetime 10m } }",
		"graph_emulator { notifications { duplicate_every x } }",
		"graph_emulator { notifications { colour blue } }",
		"graph_emulator { notifications { missed_on_drop maybe } }",
		"graph_emulator { notifications { tenant_id } }",
		"graph_emulator { notifications extra { } }",
	} {
		var h Handler
		assert.Error(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)), bad)
	}
}

// testCA is a root CA that signs a TLS receiver's certificate, standing in
// for Caddy's local CA.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Local Authority"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// receiverSignedBy starts a TLS webhook that echoes validation tokens,
// with a certificate for 127.0.0.1 signed by ca.
func receiverSignedBy(t *testing.T, ca *testCA) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// TestCaddyModuleTrustsLocalCA: a subscriber served with a certificate of
// Caddy's local CA (read from Caddy's storage here, as no pki app runs in
// the test) validates without configuration; a configured PEM pool
// replaces the default trust.
func TestCaddyModuleTrustsLocalCA(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	ca := newTestCA(t)
	dir := filepath.Join(data, "caddy", "pki", "authorities", "local")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root.crt"), ca.pem, 0o600))
	ts := receiverSignedBy(t, ca)

	root := localCARoot(caddy.Context{Context: context.Background()})
	require.NotNil(t, root)
	assert.True(t, root.Equal(ca.cert))

	create := func(h *Handler) int {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		require.NoError(t, h.Provision(ctx))
		defer func() { require.NoError(t, h.Cleanup()) }()
		body := subscribeBody(&receiver{ts: ts}, map[string]any{"notificationUrl": ts.URL + "/push/n/R", "lifecycleNotificationUrl": nil})
		r := httptest.NewRequest(http.MethodPost, "/v1.0/subscriptions", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer demo")
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		require.NoError(t, h.ServeHTTP(rec, r, nil))
		return rec.Code
	}
	assert.Equal(t, http.StatusCreated, create(&Handler{}))

	other := newTestCA(t)
	pemFile := filepath.Join(t.TempDir(), "pool.pem")
	require.NoError(t, os.WriteFile(pemFile, other.pem, 0o600))
	assert.Equal(t, http.StatusBadRequest, create(&Handler{Notifications: &NotificationConfig{TrustPEMFile: pemFile}}),
		"a configured pool replaces the local CA")
	both := filepath.Join(t.TempDir(), "both.pem")
	require.NoError(t, os.WriteFile(both, append(other.pem, ca.pem...), 0o600))
	assert.Equal(t, http.StatusCreated, create(&Handler{Notifications: &NotificationConfig{TrustPEMFile: both}}))

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	missing := &Handler{Notifications: &NotificationConfig{TrustPEMFile: filepath.Join(t.TempDir(), "none.pem")}}
	assert.Error(t, missing.Provision(ctx))
}

func TestCaddyfileNotificationsAdaptToSnakeCaseJSON(t *testing.T) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(`:8080 {
	graph_emulator {
		notifications {
			token_expiry pause
			retry_initial 10ms
			duplicate_every off
		}
	}
}`), nil)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"notifications":{"duplicate_every":-1,"retry_initial":10000000,"token_expiry":"pause"}`)
}
