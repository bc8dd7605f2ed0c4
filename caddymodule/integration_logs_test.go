package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// smallPrefix is a second device API in the log test's site whose
// max_response_body is small enough for a search answer to overflow it.
const smallPrefix = "/small/v1"

// brokenCopyConfig is privacyConfig's setup — every log at DEBUG level
// and the device site's access log (mailbox query deleted, as
// docs/security.md asks) into capturedLogs — with a second bridge under
// smallPrefix that allows 1 KiB upstream answers.
func brokenCopyConfig() string {
	return fmt.Sprintf(`
{
	admin localhost:%[1]d
	http_port %[2]d
	https_port %[3]d
	local_certs
	skip_install_trust
	grace_period 1ns
	log {
		output devicebridge_test_memory
		format json
		level DEBUG
	}
}

https://localhost:%[3]d {
	log {
		output devicebridge_test_memory
		format filter {
			wrap json
			request>uri query {
				delete mailbox
			}
		}
	}
	devicebridge https://localhost:%[4]d/v1.0 {
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
		transport http {
			tls_trust_pool pki_root local
		}
	}
	devicebridge https://localhost:%[4]d/v1.0 {
		prefix %[5]s
		max_response_body 1KiB
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
		transport http {
			tls_trust_pool pki_root local
		}
	}
}

https://localhost:%[4]d {
	graph_emulator {
		seed demo
	}
}
`, adminPort, plainPort, devicePort, emulatorPort, smallPrefix)
}

// TestIntegrationBrokenCopiesLogNoSecrets breaks the copy of an upstream
// answer in the three ways reverse_proxy reports at WARN level — the
// upstream truncates its answer, the answer exceeds max_response_body,
// the device disconnects in the middle of a large download — each on a
// call that names the mailbox and (for the first two) carries search
// text in the upstream URI. No log line at any level may show the search
// text, the mailbox address or the token.
func TestIntegrationBrokenCopiesLogNoSecrets(t *testing.T) {
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(brokenCopyConfig(), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	e := newEnv(t)
	s := newSessionSecrets()
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": s.token, "upn": s.upn, "displayName": "Private Person", "seed": "empty",
	}, http.StatusCreated)
	for i := 0; i < 6; i++ {
		e.control("POST", "/_emulator/mailboxes/"+s.token+"/deliver", map[string]any{
			"subject": fmt.Sprintf("%s #%d", s.searchQuery, i),
			"from":    map[string]any{"name": s.fromName, "address": s.fromAddr},
			"body":    map[string]any{"contentType": "text", "content": s.body},
		}, http.StatusCreated)
	}
	large := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+s.token+"/deliver", map[string]any{
		"subject": "large",
		"attachments": []any{map[string]any{"name": "large.bin", "contentType": "application/octet-stream",
			"generatedSize": 256 << 20}},
	}, http.StatusCreated))
	largeID := large.Get("immutableId").String()
	list := e.command(s.token, "attachments.list", map[string]any{"id": largeID, "mailbox": s.upn})
	attachmentID := list.Get("data.attachments.0.id").String()
	require.NotEmpty(t, attachmentID, list.Raw)

	// The search works and names the mailbox (so the upstream URI carries
	// both the search text and the address).
	search := map[string]any{"query": s.searchQuery, "mailbox": s.upn}
	found := e.command(s.token, "mail.search", search)
	require.Equal(t, int64(200), found.Get("status").Int(), found.Raw)
	require.NotEmpty(t, found.Get("data.messages").Array(), found.Raw)
	e.clearUpstreamRequests()
	e.command(s.token, "mail.search", search)
	upstreamURI := e.upstreamRequests().Get("0.path").String() + "?" + e.upstreamRequests().Get("0.query").String()
	require.Contains(t, upstreamURI, s.markers["mailbox upn"], "the upstream path names the mailbox")
	require.Contains(t, upstreamURI, s.markers["search text"], "the upstream query carries the search text")

	capturedLogs.Reset()

	// 1. The upstream truncates the answer.
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": s.token, "pathContains": "/messages", "action": "truncate", "count": 1,
	}, http.StatusCreated)
	searchEnvelope := fmt.Sprintf(`{"commands":[{"id":"c1","op":"mail.search","args":{"query":%q,"mailbox":%q}}]}`, s.searchQuery, s.upn)
	resp, raw := e.batch(deviceURL, s.token, searchEnvelope)
	assertDeviceError(t, resp, raw, http.StatusBadGateway, "upstream_error")
	e.clearFaults()

	// 2. The answer exceeds max_response_body.
	smallURL := fmt.Sprintf("https://localhost:%d%s/batch", devicePort, smallPrefix)
	resp, raw = e.batch(smallURL, s.token, searchEnvelope)
	assertDeviceError(t, resp, raw, http.StatusBadGateway, "upstream_error")
	assert.Contains(t, gjson.GetBytes(raw, "error.message").String(), "max_response_body")

	// 3. The device disconnects in the middle of a 256 MiB download.
	download := strings.TrimSuffix(deviceURL, "/batch") + "/messages/" + url.PathEscape(largeID) +
		"/attachments/" + url.PathEscape(attachmentID) + "?mailbox=" + url.QueryEscape(s.upn)
	req, err := http.NewRequest("GET", download, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	client := trustingClient(t)
	dresp, err := client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, dresp.StatusCode)
	_, err = io.CopyN(io.Discard, dresp.Body, 1<<20)
	require.NoError(t, err)
	client.CloseIdleConnections()
	dresp.Body.Close() // before the end: the connection is closed
	client.Transport.(*http.Transport).CloseIdleConnections()

	// The three broken copies are in the logs: the bridge's own warnings,
	// and reverse_proxy's.
	logs := waitForLog(t, `"msg":"upstream stream broke off"`)
	require.Contains(t, logs, `"msg":"upstream round trip failed"`, "the bridge logs the failed round trips")
	require.Contains(t, logs, `"msg":"aborting with incomplete response"`, "reverse_proxy logs the aborted copies")
	t.Logf("reverse_proxy's aborted copies: %d", strings.Count(logs, `"msg":"aborting with incomplete response"`))

	// No line at any level carries the search text, the mailbox or the
	// token.
	for what, secret := range map[string]string{
		"search text": s.markers["search text"], "mailbox address": s.markers["mailbox upn"],
		"token": s.markers["token"],
	} {
		assertNotLogged(t, logs, what, secret)
	}
	// And none at INFO level or above shows an upstream URI at all.
	for _, line := range strings.Split(logs, "\n") {
		entry := gjson.Parse(line)
		if entry.Get("level").String() == "debug" || !entry.Get("request.uri").Exists() {
			continue
		}
		uri := entry.Get("request.uri").String()
		assert.False(t, strings.HasPrefix(uri, "/v1.0/"), "an upstream URI at %s: %s", entry.Get("level"), line)
	}
}

// waitForLog waits until the capture holds want, for up to 10 seconds, and
// returns the capture.
func waitForLog(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := capturedLogs.String()
		if strings.Contains(logs, want) {
			// Let the lines of the same exchange that trail it arrive.
			time.Sleep(200 * time.Millisecond)
			return capturedLogs.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the logs", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
