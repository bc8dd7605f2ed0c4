package emulator

import (
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
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

// TestCaddyTrustsItsLocalCAEndToEnd runs a real Caddy with local_certs:
// the Graph emulator on one TLS site and, on another, a subscriber that
// echoes validation tokens and accepts notifications. The emulator's
// outgoing TLS trusts the subscriber's certificate from Caddy's local CA
// (the pki app, in process) with no option set.
func TestCaddyTrustsItsLocalCAEndToEnd(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // no stray root from elsewhere
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	storage := t.TempDir()
	p := freePorts(t, 3)
	caddyfile := fmt.Sprintf(`{
	admin off
	persist_config off
	skip_install_trust
	local_certs
	storage file_system %[1]q
	http_port %[2]d
	https_port %[3]d
}

https://127.0.0.1:%[3]d {
	graph_emulator {
		notifications {
			duplicate_every off
		}
	}
}

https://127.0.0.1:%[4]d {
	@validation query validationToken=*
	handle @validation {
		header Content-Type text/plain
		respond "{query.validationToken}" 200
	}
	handle {
		respond 202
	}
}
`, storage, p[0], p[1], p[2])
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	require.NoError(t, err)
	require.NoError(t, caddy.Load(cfg, true))
	t.Cleanup(func() { _ = caddy.Stop() })

	rootPEM, err := os.ReadFile(filepath.Join(storage, "pki", "authorities", "local", "root.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(rootPEM))
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsClientConfig(pool)}}
	emu := fmt.Sprintf("https://127.0.0.1:%d", p[1])
	do := func(method, path, token, body string) (int, []byte) {
		r, err := http.NewRequest(method, emu+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		r.Header.Set("Content-Type", "application/json")
		res, err := client.Do(r)
		require.NoError(t, err)
		defer res.Body.Close()
		return res.StatusCode, []byte(readAll(res))
	}
	sub := fmt.Sprintf(`{"changeType":"created","notificationUrl":"https://127.0.0.1:%d/push/n/R","lifecycleNotificationUrl":"https://127.0.0.1:%d/push/l/R","resource":"me/mailFolders('inbox')/messages","expirationDateTime":%q,"clientState":"cs"}`,
		p[2], p[2], time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
	// Caddy obtains the sites' certificates in the background.
	require.Eventually(t, func() bool {
		for _, port := range p[1:] {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), tlsClientConfig(pool))
			if err != nil {
				return false
			}
			_ = conn.Close()
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	status, body := do(http.MethodPost, "/v1.0/subscriptions", "demo", sub)
	require.Equal(t, http.StatusCreated, status, "%s", body)

	status, body = do(http.MethodPost, "/_emulator/mailboxes/demo/deliver", "", `{"subject":"through Caddy"}`)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	require.Eventually(t, func() bool {
		_, body := do(http.MethodGet, "/_emulator/notifications/log", "", "")
		var log NotificationLog
		if json.Unmarshal(body, &log) != nil {
			return false
		}
		for _, a := range log.Attempts {
			if a.Kind == "notification" && a.Status == http.StatusAccepted {
				assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", p[2]), a.Host)
				assert.EqualValues(t, 2, log.ValidationRequests)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
}

func tlsClientConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func readAll(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
