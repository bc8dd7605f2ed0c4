package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ports of the ACME test's nodes: HTTP (the HTTP-01 solver's) ports.
const acmeHTTPBasePort = 9640

// pebble is an in-process Pebble ACME CA on loopback that counts the
// certificates it issues.
type pebble struct {
	server   *httptest.Server
	ca       *ca.CAImpl
	rootFile string // the certificate of Pebble's own HTTPS listener
	issued   atomic.Int32
	logs     *strings.Builder
}

// startPebble runs Pebble's front end, CA and VA in this process, the way
// Pebble's command wires them. Validation always succeeds
// (PEBBLE_VA_ALWAYS_VALID): the test is about the nodes sharing one
// certificate, not about solving challenges.
func startPebble(t *testing.T) *pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	p := &pebble{logs: &strings.Builder{}}
	var logMu sync.Mutex
	logger := log.New(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return p.logs.Write(b)
	}), "pebble ", log.LstdFlags)
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "devicebridge cluster test profile"},
	})
	validator := va.New(logger, acmeHTTPBasePort, nodePort(0), false, "", store)
	frontEnd := wfe.New(logger, store, validator, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	handler := frontEnd.Handler()
	// Count the orders finalized with success: one per certificate.
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		handler.ServeHTTP(rec, r)
		if strings.Contains(r.URL.Path, "finalize-order") && rec.status == http.StatusOK {
			p.issued.Add(1)
		}
	}))
	p.server.StartTLS()
	t.Cleanup(p.server.Close)
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("pebble log:\n%s", p.logs.String())
			logMu.Unlock()
		}
	})
	p.rootFile = filepath.Join(t.TempDir(), "pebble-listener.pem")
	require.NoError(t, os.WriteFile(p.rootFile, pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Bytes: p.server.Certificate().Raw,
	}), 0o600))
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// TestTwoNodesOneACMECertificate starts two nodes at the same moment for
// the same name against an ACME CA, sharing their certificate storage:
// Caddy's storage lock lets one of them obtain the certificate and the
// other load it, so the CA issues exactly one certificate and both nodes
// serve it.
func TestTwoNodesOneACMECertificate(t *testing.T) {
	p := startPebble(t)
	host := "bridge.devicebridge.test"
	requirePortsFree(t, 2)
	c := &cluster{t: t, dir: t.TempDir(), opts: options{stateKeys: keygen(t), healthInterval: time.Second}}
	c.storage = filepath.Join(c.dir, "storage")
	c.emulator = c.start("emulator", "emulator.Caddyfile")
	c.waitFor(c.emulator, c.emulatorURL("/_emulator/mailboxes"))

	for i := 0; i < 2; i++ {
		c.nodes = append(c.nodes, c.start(nodeName(i), "testdata/acme-node.Caddyfile",
			fmt.Sprintf("CLUSTER_NODE_PORT=%d", nodePort(i)),
			fmt.Sprintf("CLUSTER_NODE_ADMIN=%d", nodeAdminPort(i)),
			fmt.Sprintf("CLUSTER_HTTP_PORT=%d", acmeHTTPBasePort+i),
			"CLUSTER_HOST="+host,
			"CLUSTER_ACME_CA="+p.server.URL+wfe.DirectoryPath,
			"CLUSTER_ACME_ROOT="+p.rootFile,
			"DEVICEBRIDGE_STATE_KEYS="+c.opts.stateKeys,
		))
	}

	roots := x509.NewCertPool()
	roots.AddCert(p.ca.GetRootCert(0).Cert)
	leaves := make([]*x509.Certificate, 2)
	for i := range leaves {
		var lastErr error
		require.Eventually(t, func() bool {
			require.False(t, c.nodes[i].exited(), "%s exited:\n%s", c.nodes[i].name, tail(c.nodes[i].log, 40))
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp",
				fmt.Sprintf("127.0.0.1:%d", nodePort(i)),
				&tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12})
			if err != nil {
				lastErr = err
				return false
			}
			leaves[i] = conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			return true
		}, 60*time.Second, 100*time.Millisecond, "%s never served a certificate from the ACME CA: %v", nodeName(i), lastErr)
	}
	assert.Equal(t, []string{host}, leaves[0].DNSNames)
	assert.True(t, leaves[0].Equal(leaves[1]), "both nodes serve the one certificate (serials %s and %s)",
		leaves[0].SerialNumber, leaves[1].SerialNumber)
	assert.Equal(t, int32(1), p.issued.Load(), "certificates the CA issued")
}
