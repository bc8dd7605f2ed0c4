package caddymodule_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// acmeCertificateTimeout bounds the wait for Caddy to obtain the bridge's
// certificate from Pebble.
const acmeCertificateTimeout = 90 * time.Second

// pebbleCA is an in-process Pebble ACME CA listening on loopback.
type pebbleCA struct {
	server  *httptest.Server
	ca      *ca.CAImpl
	rootPEM string // file with the certificate of Pebble's HTTPS listener
	logs    *lockedLog
}

// lockedLog collects Pebble's log output (shown when the test fails).
type lockedLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startPebble runs Pebble's web front end, CA and VA in this process, the
// way Pebble's own command wires them. Challenge validation always
// succeeds (PEBBLE_VA_ALWAYS_VALID), so no challenge port is needed, and
// nonces are never rejected at random.
func startPebble(t *testing.T) *pebbleCA {
	t.Helper()
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	logs := &lockedLog{}
	logger := log.New(logs, "pebble ", log.LstdFlags)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "devicebridge test profile"},
	})
	validator := va.New(logger, plainPort, devicePort, false, "", store)
	frontEnd := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	server := httptest.NewUnstartedServer(frontEnd.Handler())
	server.StartTLS()
	t.Cleanup(server.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", logs.String())
		}
	})

	rootFile := filepath.Join(t.TempDir(), "pebble-listener.pem")
	require.NoError(t, os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Bytes: server.Certificate().Raw,
	}), 0o600))
	return &pebbleCA{server: server, ca: authority, rootPEM: rootFile, logs: logs}
}

// directory is Pebble's ACME directory URL.
func (p *pebbleCA) directory() string { return p.server.URL + wfe.DirectoryPath }

// issuingRoots is a pool with the root of the certificates Pebble issues.
func (p *pebbleCA) issuingRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.GetRootCert(0).Cert)
	return pool
}

// acmeConfig serves the bridge on a public-looking name whose certificate
// comes from Pebble over ACME; the emulator keeps Caddy's internal CA,
// which the bridge's upstream leg trusts.
func acmeConfig(host string, pebble *pebbleCA) string {
	return testServer{
		acmeDeviceCert: true,
		deviceHost:     host,
		deviceSite: fmt.Sprintf(`
			tls {
				issuer acme {
					dir %s
					trusted_roots %s
				}
			}`, pebble.directory(), pebble.rootPEM),
	}.caddyfile()
}

// TestIntegrationACMEWithPebble has Caddy obtain the bridge's device-side
// certificate from a real ACME CA (Pebble, in this process, on loopback)
// and syncs a device over that certificate — verified against Pebble's
// issuing root only — through to the emulator over the upstream TLS leg,
// which Caddy's internal CA signs.
func TestIntegrationACMEWithPebble(t *testing.T) {
	pebble := startPebble(t)
	// A fresh name per run: Caddy's storage may hold a certificate from an
	// earlier run's Pebble, whose root this run does not trust.
	host := "bridge-" + randomHex(4) + ".devicebridge.test"

	e := startBridgeWith(t, acmeConfig(host, pebble))

	roots := pebble.issuingRoots()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		// The name resolves nowhere: dial the bridge on loopback and let
		// TLS verify the name.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", devicePort))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	url := fmt.Sprintf("https://%s:%d/device/v1/batch", host, devicePort)

	// Wait (bounded) for the certificate: Caddy obtains it in the
	// background after the config is loaded.
	var leaf *x509.Certificate
	deadline := time.Now().Add(acmeCertificateTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		conn, err := tls.DialWithDialer(dialer, "tcp", fmt.Sprintf("127.0.0.1:%d", devicePort),
			&tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err == nil {
			leaf = conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			break
		}
		lastErr = err
		time.Sleep(250 * time.Millisecond)
	}
	require.NotNil(t, leaf, "no certificate from Pebble within %v: %v", acmeCertificateTimeout, lastErr)
	assert.Equal(t, []string{host}, leaf.DNSNames)
	assert.True(t, strings.HasPrefix(leaf.Issuer.CommonName, "Pebble Intermediate CA"), "issuer %q", leaf.Issuer.CommonName)

	// The device-side certificate is not Caddy's internal CA's.
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: e.tlsConfig().RootCAs})
	assert.Error(t, err, "the bridge's certificate must come from the ACME CA, not Caddy's internal CA")

	// A device syncs its folders and the Inbox over that certificate.
	e.clearUpstreamRequests()
	command := func(op string, args map[string]any) gjson.Result {
		t.Helper()
		raw, err := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": op, "args": args}}})
		require.NoError(t, err)
		req, err := http.NewRequest("POST", url, strings.NewReader(string(raw)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer demo")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.NotNil(t, resp.TLS)
		require.NotEmpty(t, resp.TLS.VerifiedChains)
		chain := resp.TLS.VerifiedChains[0]
		require.True(t, chain[len(chain)-1].Equal(pebble.ca.GetRootCert(0).Cert), "verified up to Pebble's root")
		result := gjson.GetBytes(body, "results.0")
		require.Equal(t, int64(200), result.Get("status").Int(), "%s", body)
		return result
	}
	syncAll := func(op string, args map[string]any) []gjson.Result {
		t.Helper()
		var changes []gjson.Result
		state := ""
		for round := 0; round < 100; round++ {
			callArgs := map[string]any{}
			for k, v := range args {
				callArgs[k] = v
			}
			if state != "" {
				callArgs["state"] = state
			}
			result := command(op, callArgs)
			changes = append(changes, result.Get("data.changes").Array()...)
			state = result.Get("data.state").String()
			if !result.Get("data.more").Bool() {
				return changes
			}
		}
		t.Fatal("sync did not finish in 100 rounds")
		return nil
	}

	folders := syncAll("folders.sync", map[string]any{})
	names := map[string]bool{}
	for _, f := range folders {
		names[f.Get("folder.name").String()] = true
	}
	assert.True(t, names["Inbox"], "the folder sync has the Inbox")
	inbox := command("folder.get", map[string]any{"folder": "inbox"})
	messages := syncAll("mail.sync", map[string]any{"folder": "inbox", "window": 200})
	assert.Len(t, messages, int(inbox.Get("data.folder.total").Int()), "the whole Inbox arrives")

	// The calls reached the emulator over the upstream TLS leg.
	var paths []string
	for _, r := range e.upstreamRequests().Array() {
		paths = append(paths, r.Get("path").String())
	}
	assert.Contains(t, strings.Join(paths, " "), "/v1.0/me/mailFolders/delta")
	assert.Contains(t, strings.Join(paths, " "), "/messages/delta")
}
