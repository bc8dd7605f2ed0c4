package caddymodule_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The fault matrix: every upstream failure Graph (or the network) can
// produce, injected by the emulator, must give the device the error object
// of the device API with the right status, without a panic and without a
// goroutine left behind.

// siteOptions are extra Caddyfile lines of the test server's sites.
type siteOptions struct {
	bridge    string // devicebridge subdirectives of the TLS device site
	transport string // lines of its transport http block
	emulator  string // graph_emulator subdirectives
}

// customConfig is integrationConfig with extra options, on the same ports.
func customConfig(o siteOptions) string {
	return fmt.Sprintf(`
{
	admin localhost:%[1]d
	http_port %[2]d
	https_port %[3]d
	local_certs
	skip_install_trust
	grace_period 1ns
}

https://localhost:%[3]d {
	devicebridge https://localhost:%[4]d/v1.0 {
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
		%[5]s
		transport http {
			tls_trust_pool pki_root local
			%[6]s
		}
	}
}

http://localhost:%[2]d {
	devicebridge https://localhost:%[4]d/v1.0 {
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
		transport http {
			tls_trust_pool pki_root local
		}
	}
}

https://localhost:%[4]d {
	graph_emulator {
		seed demo
		%[7]s
	}
}
`, adminPort, plainPort, devicePort, emulatorPort, o.bridge, o.transport, o.emulator)
}

// startBridgeWith loads config (caddytest reloads when it differs from the
// running one) and returns a client env.
func startBridgeWith(t *testing.T, config string) *env {
	t.Helper()
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(config, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return &env{t: t, client: trustingClient(t)}
}

// addFault installs an emulator fault rule.
func (e *env) addFault(rule map[string]any) {
	e.t.Helper()
	e.control("POST", "/_emulator/faults", rule, http.StatusCreated)
}

func (e *env) clearFaults() {
	e.t.Helper()
	e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)
}

// goroutineBaseline settles the process after a warm-up and returns its
// goroutine count.
func (e *env) goroutineBaseline() int {
	e.client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	return runtime.NumGoroutine()
}

// leakSlack is how many goroutines above the baseline are tolerated:
// connection pools may hold a few more or fewer connections. Every fault
// case runs faultRepeats times, so a goroutine leaked per request shows.
const (
	leakSlack    = 6
	faultRepeats = 10
)

// assertNoGoroutineLeak polls until the goroutine count is back near the
// baseline (generous time: the machine may be loaded).
func (e *env) assertNoGoroutineLeak(baseline int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		e.client.CloseIdleConnections()
		n = runtime.NumGoroutine()
		if n <= baseline+leakSlack {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	e.t.Errorf("goroutines did not settle: %d, baseline %d\n%s", n, baseline, buf)
}

// folderGet is a one-command envelope whose direct call is
// GET /me/mailFolders/inbox.
const folderGet = `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`

// assertDeviceError checks an envelope-level error answer.
func assertDeviceError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, code, gjson.GetBytes(body, "error.code").String(), "%s", body)
	assert.NotEmpty(t, gjson.GetBytes(body, "error.message").String())
	assert.False(t, gjson.GetBytes(body, "results").Exists(), "an envelope error has no results")
}

func TestIntegrationFaultMatrix(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	str := func(s string) *string { return &s }
	tests := []struct {
		name       string
		fault      map[string]any
		status     int
		code       string
		retryAfter *string // header and field; nil = absent
	}{
		{"429 integer Retry-After", map[string]any{"status": 429, "code": "ApplicationThrottled", "retryAfter": "7"}, 429, "throttled", str("7")},
		{"429 fractional Retry-After", map[string]any{"status": 429, "code": "TooManyRequests", "retryAfter": "2.128"}, 429, "throttled", str("3")},
		{"429 without Retry-After", map[string]any{"status": 429, "code": "TooManyRequests"}, 429, "throttled", str("5")},
		{"503 with Retry-After", map[string]any{"status": 503, "code": "serviceNotAvailable", "retryAfter": "30"}, 503, "upstream_unavailable", str("30")},
		{"503", map[string]any{"status": 503}, 503, "upstream_unavailable", nil},
		{"504", map[string]any{"status": 504}, 504, "upstream_timeout", nil},
		{"500", map[string]any{"status": 500}, 502, "upstream_error", nil},
		{"reset before headers", map[string]any{"action": "reset"}, 502, "upstream_error", nil},
		{"reset after headers", map[string]any{"action": "reset_after_headers"}, 502, "upstream_error", nil},
		{"truncated JSON", map[string]any{"action": "truncate"}, 502, "upstream_error", nil},
		{"invalid JSON", map[string]any{"status": 200, "body": `{"id":"AAMk","displayName":`}, 502, "upstream_error", nil},
		{"not JSON at all", map[string]any{"status": 200, "body": "<html>maintenance</html>", "contentType": "text/html"}, 502, "upstream_error", nil},
		{"JSON but not an object", map[string]any{"status": 200, "body": `["x"]`}, 502, "upstream_error", nil},
	}
	// Warm up connections, then measure.
	e.batch(deviceURL, "demo", folderGet)
	baseline := e.goroutineBaseline()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < faultRepeats; i++ {
				// A fresh mailbox each time: a 429 makes the bridge hold
				// the mailbox back for its Retry-After.
				token := e.newMailbox("empty")
				rule := map[string]any{"token": token, "pathContains": "/mailFolders/inbox"}
				for k, v := range tt.fault {
					rule[k] = v
				}
				e.addFault(rule)
				resp, body := e.batch(deviceURL, token, folderGet)
				assertDeviceError(t, resp, body, tt.status, tt.code)
				if tt.retryAfter == nil {
					assert.Empty(t, resp.Header.Get("Retry-After"))
					assert.False(t, gjson.GetBytes(body, "error.retryAfter").Exists(), "%s", body)
				} else {
					assert.Equal(t, *tt.retryAfter, resp.Header.Get("Retry-After"))
					assert.Equal(t, *tt.retryAfter, gjson.GetBytes(body, "error.retryAfter").String(), "%s", body)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
	e.assertNoGoroutineLeak(baseline)
}

func TestIntegrationFaultUpstreamTimeout(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{transport: "response_header_timeout 1s"}))
	defer e.clearFaults()
	token := e.newMailbox("empty")
	e.addFault(map[string]any{"token": token, "pathContains": "/mailFolders/inbox", "delay": "20s", "count": 0})
	e.batch(deviceURL, "demo", folderGet)
	baseline := e.goroutineBaseline()
	const repeats = 3
	for i := 0; i < repeats; i++ {
		resp, body := e.batch(deviceURL, token, folderGet)
		assertDeviceError(t, resp, body, http.StatusGatewayTimeout, "upstream_timeout")
	}
	// The bridge gave up on each upstream call: Graph saw them cancelled.
	e.waitCancelled(repeats)
	e.assertNoGoroutineLeak(baseline)
}

// The running server carries the directive's upstream timeouts: a stall
// longer than response_header_timeout (40 s by default; 1 s above) ends in
// 504 upstream_timeout.
func TestIntegrationUpstreamTimeoutsByDefault(t *testing.T) {
	startBridge(t)
	resp, err := http.Get(adminURL + "/config/apps/http/servers")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var transports []gjson.Result
	gjson.ParseBytes(body).ForEach(func(_, server gjson.Result) bool {
		for _, proxy := range server.Get("routes.#.handle.0.routes.0.handle.1").Array() {
			if proxy.Get("handler").String() == "reverse_proxy" {
				transports = append(transports, proxy.Get("transport"))
			}
		}
		return true
	})
	require.NotEmpty(t, transports, "%s", body)
	for _, tr := range transports {
		assert.Equal(t, int64(40*time.Second), tr.Get("response_header_timeout").Int(), tr.Raw)
		assert.Equal(t, int64(5*time.Second), tr.Get("dial_timeout").Int(), tr.Raw)
		assert.Equal(t, int64(10*time.Second), tr.Get("tls.handshake_timeout").Int(), tr.Raw)
	}
}

// waitCancelled waits until the emulator's fault rules report n delayed
// requests whose client went away.
func (e *env) waitCancelled(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got int64
	for time.Now().Before(deadline) {
		got = 0
		for _, r := range gjson.ParseBytes(e.control("GET", "/_emulator/faults", nil, http.StatusOK)).Array() {
			got += r.Get("cancelled").Int()
		}
		if got >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Errorf("the emulator saw %d cancelled upstream calls, want %d", got, n)
}

func TestIntegrationFaultOversizedAnswer(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{bridge: "max_response_body 16KiB"}))
	defer e.clearFaults()
	big := `{"id":"AAMkAGI2","displayName":"Inbox","pad":"` + strings.Repeat("x", 64<<10) + `"}`
	e.batch(deviceURL, "demo", folderGet)
	baseline := e.goroutineBaseline()
	for i := 0; i < faultRepeats; i++ {
		e.addFault(map[string]any{"token": "demo", "pathContains": "/mailFolders/inbox", "status": 200, "body": big})
		resp, body := e.batch(deviceURL, "demo", folderGet)
		assertDeviceError(t, resp, body, http.StatusBadGateway, "upstream_error")
	}
	// Just under the limit is fine.
	resp, body := e.batch(deviceURL, "demo", folderGet)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s", body)
	e.assertNoGoroutineLeak(baseline)
}

// messageIDs returns n message ids of the token's Inbox.
func (e *env) messageIDs(token string, n int) []string {
	e.t.Helper()
	res := e.command(token, "mail.sync", map[string]any{"folder": "inbox", "window": n, "fields": []string{"subject"}})
	require.Equal(e.t, int64(200), res.Get("status").Int(), res.Raw)
	var ids []string
	for _, c := range res.Get("data.changes").Array() {
		ids = append(ids, c.Get("message.id").String())
	}
	require.Len(e.t, ids, n)
	return ids
}

func TestIntegrationFaultBatchMixedItems(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("demo")
	ids := e.messageIDs(token, 4)
	e.addFault(map[string]any{"token": token, "pathContains": "/messages/" + ids[1], "status": 404, "code": "ErrorItemNotFound"})
	e.addFault(map[string]any{"token": token, "pathContains": "/messages/" + ids[2], "status": 429, "code": "ApplicationThrottled", "retryAfter": "3"})
	e.addFault(map[string]any{"token": token, "pathContains": "/messages/" + ids[3], "status": 424, "code": "BadRequest"})
	var commands []string
	for i, id := range ids {
		commands = append(commands, fmt.Sprintf(`{"id":"m%d","op":"mail.get","args":{"id":%q,"body":"none"}}`, i, id))
	}
	envelope := `{"commands":[` + strings.Join(commands, ",") + `]}`
	resp, body := e.batch(deviceURL, token, envelope)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	results := gjson.GetBytes(body, "results").Array()
	require.Len(t, results, 4, "%s", body)
	assert.Equal(t, int64(200), results[0].Get("status").Int(), results[0].Raw)
	assert.Equal(t, ids[0], results[0].Get("data.message.id").String())
	assert.Equal(t, int64(404), results[1].Get("status").Int(), results[1].Raw)
	assert.Equal(t, "not_found", results[1].Get("error.code").String())
	assert.Equal(t, "ErrorItemNotFound", results[1].Get("error.upstreamCode").String())
	for _, r := range results[2:] {
		assert.Equal(t, int64(429), r.Get("status").Int(), r.Raw)
		assert.Equal(t, "throttled", r.Get("error.code").String())
		assert.Equal(t, int64(3), r.Get("error.retryAfter").Int(), "an item's own or the batch's largest Retry-After: %s", r.Raw)
	}

	// The mailbox was throttled: the next request for it is answered
	// locally for the rest of the wait, without reaching Graph.
	e.clearUpstreamRequests()
	resp, body = e.batch(deviceURL, token, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	ra := gjson.GetBytes(body, "error.retryAfter").Int()
	assert.True(t, ra >= 1 && ra <= 3, "retryAfter %d is the rest of the 3 s wait", ra)
	assert.Equal(t, fmt.Sprint(ra), resp.Header.Get("Retry-After"))
	assert.Empty(t, e.upstreamRequests().Array(), "a throttled mailbox's request does not reach Graph")
}

func TestIntegrationFaultBatchEnvelope424(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("demo")
	// Graph's older throttling documentation: the whole $batch fails with 424.
	e.addFault(map[string]any{"token": token, "batchEnvelope": true, "status": 424, "code": "TooManyRequests", "retryAfter": "4"})
	resp, body := e.batch(deviceURL, token, `{"commands":[
		{"id":"a","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"b","op":"folder.get","args":{"folder":"drafts"}}]}`)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.Equal(t, "4", resp.Header.Get("Retry-After"))
	assert.Equal(t, int64(4), gjson.GetBytes(body, "error.retryAfter").Int())
}

func TestIntegrationFaultDeviceDisconnects(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("empty")
	e.addFault(map[string]any{"token": token, "pathContains": "/mailFolders/inbox", "delay": "60s", "count": 0})
	e.batch(deviceURL, "demo", folderGet)
	baseline := e.goroutineBaseline()
	const repeats = 3
	for i := 0; i < repeats; i++ {
		e.clearUpstreamRequests()
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "POST", deviceURL, strings.NewReader(folderGet))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		done := make(chan error, 1)
		go func() {
			resp, err := e.client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		// Wait until Graph has the request, then hang up.
		deadline := time.Now().Add(20 * time.Second)
		for len(e.upstreamRequests().Array()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		require.NotEmpty(t, e.upstreamRequests().Array(), "the request reached Graph")
		cancel()
		require.Error(t, <-done)
		e.waitCancelled(int64(i + 1))
	}
	e.assertNoGoroutineLeak(baseline)

	// The mailbox's slots were given back: with the delay gone, requests
	// go through at once.
	e.clearFaults()
	for i := 0; i < 5; i++ {
		resp, body := e.batch(deviceURL, token, folderGet)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	}
}
