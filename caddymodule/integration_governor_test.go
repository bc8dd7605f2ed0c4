package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The per-mailbox governor, proved against the emulator's own
// per-mailbox concurrency limit: the emulator answers 429
// ApplicationThrottled to any request beyond its limit, so a bridge that
// let one request too many through would fail these tests.

// concurrently runs n envelopes at once and returns each answer.
func (e *env) concurrently(token string, envelopes []string) ([]*http.Response, [][]byte) {
	e.t.Helper()
	resps := make([]*http.Response, len(envelopes))
	bodies := make([][]byte, len(envelopes))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, envelope := range envelopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest("POST", deviceURL, strings.NewReader(envelope))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := e.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return
			}
			resps[i], bodies[i] = resp, b
		}()
	}
	close(start)
	wg.Wait()
	for i := range resps {
		require.NotNil(e.t, resps[i], "request %d failed", i)
	}
	return resps, bodies
}

func TestIntegrationGovernorKeepsMailboxConcurrency(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{
		bridge:   "max_inflight_per_mailbox 2\n\t\tqueue_timeout 2m",
		emulator: "mailbox_concurrency 2",
	}))
	defer e.clearFaults()
	token := e.newMailbox("empty")
	e.addFault(map[string]any{"token": token, "pathContains": "/mailFolders/inbox", "delay": "400ms", "count": 0})
	envelopes := make([]string, 8)
	for i := range envelopes {
		envelopes[i] = folderGet
	}
	resps, bodies := e.concurrently(token, envelopes)
	for i, resp := range resps {
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", bodies[i])
		assert.Equal(t, int64(200), gjson.GetBytes(bodies[i], "results.0.status").Int(),
			"Graph throttled a request the governor let through: %s", bodies[i])
	}
	assert.Len(t, e.upstreamRequests().Array(), 8, "every request went upstream once")
}

func TestIntegrationGovernorBatchWeight(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{
		bridge:   "queue_timeout 2m",
		emulator: "mailbox_concurrency 4\n\t\tbatch_item_concurrency 4",
	}))
	defer e.clearFaults()
	token := e.newMailbox("demo")
	e.addFault(map[string]any{"token": token, "pathContains": "/mailFolders/", "delay": "400ms", "count": 0})
	batch := `{"commands":[
		{"id":"a","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"b","op":"folder.get","args":{"folder":"drafts"}},
		{"id":"c","op":"folder.get","args":{"folder":"sentitems"}},
		{"id":"d","op":"folder.get","args":{"folder":"archive"}}]}`
	// One $batch of 4 (weighing 4) and three direct calls: counted as one,
	// the batch would let 7 requests hit the mailbox at once.
	resps, bodies := e.concurrently(token, []string{batch, folderGet, folderGet, folderGet, batch})
	for i, resp := range resps {
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", bodies[i])
		for _, r := range gjson.GetBytes(bodies[i], "results").Array() {
			assert.Equal(t, int64(200), r.Get("status").Int(), "Graph throttled: %s", r.Raw)
		}
	}
}

func TestIntegrationGovernorQueueTimeout(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{bridge: "max_inflight_per_mailbox 1\n\t\tqueue_timeout 1s"}))
	defer e.clearFaults()
	token := e.newMailbox("empty")
	e.addFault(map[string]any{"token": token, "pathContains": "/mailFolders/inbox", "delay": "8s", "count": 1})
	e.clearUpstreamRequests()
	slow := make(chan int, 1)
	go func() {
		resp, _ := e.batch(deviceURL, token, folderGet)
		slow <- resp.StatusCode
	}()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.upstreamRequests().Array()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, e.upstreamRequests().Array(), 1, "the first request is upstream")

	resp, body := e.batch(deviceURL, token, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Equal(t, int64(5), gjson.GetBytes(body, "error.retryAfter").Int())
	assert.Len(t, e.upstreamRequests().Array(), 1, "the queued request never reached Graph")
	assert.Equal(t, http.StatusOK, <-slow)
	assert.Contains(t, scrapeMetrics(t), `caddy_devicebridge_local_throttles_total{reason="queue_timeout"}`)

	// Another user is not held up by this mailbox.
	other := e.newMailbox("empty")
	resp, body = e.batch(deviceURL, other, folderGet)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}

func TestIntegrationGovernorHonoursRetryAfter(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("demo")
	e.addFault(map[string]any{"token": token, "status": 429, "code": "ApplicationThrottled", "retryAfter": "30"})
	resp, body := e.batch(deviceURL, token, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.Equal(t, "30", resp.Header.Get("Retry-After"))
	assert.Equal(t, "ApplicationThrottled", gjson.GetBytes(body, "error.upstreamCode").String(), "Graph's own answer")

	// During the wait the bridge answers for Graph: no upstream call.
	e.clearUpstreamRequests()
	for _, envelope := range []string{folderGet, `{"commands":[{"id":"a","op":"folders.sync"},{"id":"b","op":"mail.sync","args":{"folder":"inbox"}}]}`} {
		resp, body = e.batch(deviceURL, token, envelope)
		assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
		ra := gjson.GetBytes(body, "error.retryAfter").Int()
		assert.True(t, ra >= 1 && ra <= 30, "retryAfter %d is what is left of 30 s", ra)
		assert.Equal(t, fmt.Sprint(ra), resp.Header.Get("Retry-After"))
		assert.False(t, gjson.GetBytes(body, "error.upstreamCode").Exists(), "a local answer has no upstream code")
	}
	assert.Empty(t, e.upstreamRequests().Array(), "nothing was sent to Graph for the throttled mailbox")
	assert.Contains(t, scrapeMetrics(t), `caddy_devicebridge_local_throttles_total{reason="retry_after"}`)

	// Another mailbox of the same user (a shared one) and another user go on.
	res := e.command(token, "folder.get", map[string]any{"folder": "inbox", "mailbox": "shared@contoso.example"})
	assert.NotEqual(t, "throttled", res.Get("error.code").String(), res.Raw)
	res = e.command("demo", "folder.get", map[string]any{"folder": "inbox"})
	assert.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
}

func TestIntegrationGovernorStreams(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("demo")
	id := e.messageIDs(token, 1)[0]
	mimeURL := strings.TrimSuffix(deviceURL, "/batch") + "/messages/" + id + "/mime"
	download := func() (*http.Response, []byte) {
		req, err := http.NewRequest("GET", mimeURL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}
	e.addFault(map[string]any{"token": token, "pathContains": "/$value", "status": 429, "code": "ApplicationThrottled", "retryAfter": "30"})
	resp, body := download()
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")

	// The mailbox is held back for batches and streams alike.
	e.clearUpstreamRequests()
	resp, body = download()
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	resp, body = e.batch(deviceURL, token, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.Empty(t, e.upstreamRequests().Array(), "nothing was sent to Graph for the throttled mailbox")
}
