package caddymodule_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The fault matrix: every upstream failure Graph (or the network) can
// produce, injected by the emulator, must give the device the error object
// of the device API with the right status, without a panic and without a
// goroutine left behind.

// faultRepeats is how often every fault case runs, so that a goroutine
// leaked per request shows above assertNoGoroutineLeak's slack.
const faultRepeats = 10

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
