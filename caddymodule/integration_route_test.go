package caddymodule_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// rawRequest sends one HTTP/1.1 request with the request target exactly
// as given — no client cleans or re-escapes it — over TLS (or plaintext)
// to port, and returns the answer.
func (e *env) rawRequest(tlsOn bool, port int, method, target string, header map[string]string, body string) (*http.Response, []byte) {
	e.t.Helper()
	addr := fmt.Sprintf("localhost:%d", port)
	var conn net.Conn
	var err error
	if tlsOn {
		config := e.tlsConfig().Clone()
		config.ServerName = "localhost"
		config.NextProtos = []string{"http/1.1"}
		conn, err = tls.Dial("tcp", addr, config)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	require.NoError(e.t, err)
	defer conn.Close()
	require.NoError(e.t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, addr, len(body))
	for k, v := range header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	req.WriteString(body)
	_, err = io.WriteString(conn, req.String())
	require.NoError(e.t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(e.t, err, "answer to %s %s", method, target)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, raw
}

// assertNothingRaw fails when the emulator received any request that the
// bridge did not build itself: one with the device's cookie, reverse_proxy's
// X-Forwarded-* headers, or a path that is not a Graph path of the bridge's
// making (the device's prefix, dot segments, doubled slashes).
func (e *env) assertNothingRaw(what string) {
	e.t.Helper()
	for _, rec := range e.upstreamRequests().Array() {
		path := strings.ToLower(rec.Get("path").String())
		raw := rec.Get("headers.Cookie").Exists() || rec.Get("headers.X-Forwarded-For").Exists() ||
			rec.Get("headers.X-Forwarded-Proto").Exists() || strings.Contains(path, "device") ||
			strings.Contains(path, "/..") || strings.Contains(path, "/./") || strings.Contains(path, "//") ||
			strings.Contains(path, "%2e") || !strings.HasPrefix(path, "/v1.0/")
		assert.False(e.t, raw, "%s: an untranslated request reached the upstream: %s", what, rec.Raw)
	}
}

// TestIntegrationPathTricksNeverReachUpstreamRaw sends device requests
// whose raw path differs from the path Caddy's route matcher uses (which
// cleans dot segments and doubled slashes, unescapes and ignores case):
// each is either served as the device endpoint the matcher saw, or
// answered 404 not_found by the bridge. None reaches the emulator
// untranslated.
func TestIntegrationPathTricksNeverReachUpstreamRaw(t *testing.T) {
	e := startBridge(t)
	header := map[string]string{
		"Authorization": "Bearer demo", "Content-Type": "application/json",
		"Cookie": "session=device-cookie", "X-Forwarded-For": "203.0.113.9",
	}
	served := []string{
		"/v1.0/me/../../device/v1/batch",
		"/v1.0/me/%2e%2e/%2E%2E/device/v1/batch",
		"/V1.0/ME/../../DEVICE/V1/batch",
		"//device/v1//batch",
		"/./device/v1/./batch",
		"/device//v1/batch",
		"/x/../device/v1/batch",
		"/device/v1/messages/../batch",
	}
	for _, target := range served {
		e.clearUpstreamRequests()
		resp, body := e.rawRequest(true, devicePort, "POST", target, header, folderGet)
		e.assertNothingRaw(target)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", target, body)
		assert.Equal(t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s is served as the batch endpoint: %s", target, body)
		assert.Equal(t, "Inbox", gjson.GetBytes(body, "results.0.data.folder.name").String(), "%s: %s", target, body)
		e.assertNothingRaw(target)
	}

	// A download through a path trick is the download endpoint: the
	// translated call reaches the emulator (an unknown message: 404).
	for _, target := range []string{
		"/v1.0/me/messages/../../../device/v1/messages/AAMkAGNvbnRvc28tbm90LWZvdW5k/mime",
		"//device/v1/messages/AAMkAGNvbnRvc28tbm90LWZvdW5k/./mime",
	} {
		e.clearUpstreamRequests()
		resp, body := e.rawRequest(true, devicePort, "GET", target, header, "")
		assertDeviceError(t, resp, body, http.StatusNotFound, "not_found")
		assert.NotEmpty(t, e.upstreamRequests().Array(), "%s is served as the MIME download", target)
		e.assertNothingRaw(target)
	}

	// Paths the matcher routes to the bridge that are no device endpoint:
	// a device-API 404, nothing upstream.
	unknown := []struct{ method, target string }{
		{"POST", "/v1.0/me/../../device/v1/batch/"},
		{"POST", "//device/v1/batchx"},
		{"POST", "/device/v1/batch;x"},
		{"POST", "/device/v1/Batch"},
		{"POST", "/device/v1/batch%2Fx"},
		{"GET", "/v1.0/me/../../device/v1/"},
		{"GET", "/v1.0/me/../../device/v1"},
		{"GET", "/device/v1/me/messages"},
		{"GET", "/v1.0/me/../../device/v1/v1.0/me/messages"},
		{"GET", "/device/v1/../v1/%2e%2e/v1/me"},
		{"DELETE", "/v1.0/users/../../device/v1/x/../users/demo@contoso.example"},
		{"GET", "/DEVICE/V1/messages/x/attachments"},
		{"GET", "/device/v1/messages/AAMkAGNvbnRvc28tbm90LWZvdW5k/attachments/.."},
		{"GET", "/device/v1/messages/AAMkAGNvbnRvc28tbm90LWZvdW5k/attachments/%2e%2E"},
		{"GET", "/device/v1/messages/%2e/mime"},
	}
	for _, u := range unknown {
		e.clearUpstreamRequests()
		resp, body := e.rawRequest(true, devicePort, u.method, u.target, header, "")
		assertDeviceError(t, resp, body, http.StatusNotFound, "not_found")
		e.assertNoUpstream(u.method + " " + u.target)
	}

	// On the plaintext site the same tricks are refused as plaintext.
	for _, target := range []string{"/v1.0/me/../../device/v1/batch", "//device/v1//batch", "/v1.0/me/%2e%2e/%2e%2e/device/v1/x"} {
		e.clearUpstreamRequests()
		resp, body := e.rawRequest(false, plainPort, "POST", target, header, folderGet)
		assertDeviceError(t, resp, body, http.StatusForbidden, "tls_required")
		e.assertNoUpstream("plaintext " + target)
	}
}

// TestIntegrationHandlerInOwnRouteNeverPassesUntranslated runs the
// handler the way a JSON config may use it: in a route of its own without
// the directive's path matcher, followed by the reverse_proxy to the
// upstream. A request outside the prefix is answered 404 not_found by the
// bridge; it is never handed to the proxy untranslated.
func TestIntegrationHandlerInOwnRouteNeverPassesUntranslated(t *testing.T) {
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(integrationConfig()), nil)
	require.NoError(t, err)
	var config any
	require.NoError(t, json.Unmarshal(adapted, &config))
	removed := removePrefixMatchers(config)
	require.Equal(t, 2, removed, "the device sites' path matchers are removed")
	unmatched, err := json.Marshal(config)
	require.NoError(t, err)

	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(string(unmatched), "json")
	if t.Failed() {
		t.FailNow()
	}
	e := newEnv(t)
	header := map[string]string{"Authorization": "Bearer demo", "Content-Type": "application/json", "Cookie": "session=device-cookie"}

	// The device API still works.
	e.clearUpstreamRequests()
	resp, body := e.rawRequest(true, devicePort, "POST", "/device/v1/batch", header, folderGet)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s", body)
	e.assertNothingRaw("the batch endpoint")

	for _, target := range []string{"/v1.0/me/messages", "/", "/index.html", "/device/v2/batch", "/devicex/v1/batch"} {
		e.clearUpstreamRequests()
		resp, body := e.rawRequest(true, devicePort, "GET", target, header, "")
		assertDeviceError(t, resp, body, http.StatusNotFound, "not_found")
		e.assertNoUpstream(target)
	}
}

// removePrefixMatchers deletes every route matcher that is exactly the
// directive's path matcher of the default prefix, and returns how many.
func removePrefixMatchers(node any) int {
	removed := 0
	switch v := node.(type) {
	case map[string]any:
		if match, ok := v["match"].([]any); ok && len(match) == 1 {
			if set, ok := match[0].(map[string]any); ok && len(set) == 1 {
				if paths, ok := set["path"].([]any); ok && len(paths) == 2 && paths[0] == "/device/v1" && paths[1] == "/device/v1/*" {
					delete(v, "match")
					removed++
				}
			}
		}
		for _, child := range v {
			removed += removePrefixMatchers(child)
		}
	case []any:
		for _, child := range v {
			removed += removePrefixMatchers(child)
		}
	}
	return removed
}
