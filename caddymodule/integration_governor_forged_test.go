package caddymodule_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// A third party knows a victim's tenant and object ids (they are not
// secret) and can mint an unsigned JWT carrying them. Graph refuses such a
// token, but the bridge must not let it take the victim's slots or plant a
// Retry-After on the victim's mailbox. Each test uses a short queue_timeout:
// a victim made to wait for the attacker's slots is answered 429 after 1 s,
// so an answer of 200 means the victim never waited that long.

// forgedGovernorConfig keeps the default 4 slots per mailbox with a 1 s
// queue timeout.
var forgedGovernorConfig = siteOptions{bridge: "queue_timeout 1s\n\t\tmime_read_timeout 2s"}

// jwtToken returns a compact JWS with the given payload and signature
// (the signature is never checked by the bridge, and the emulator matches
// tokens as strings).
func jwtToken(payload, signature string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString([]byte(signature))
}

// victimAndForgery creates an emulator mailbox whose token is a JWT with
// the victim's tenant and object ids, and returns it with a forged token
// carrying the same claims.
func (e *env) victimAndForgery() (victim, forged string) {
	e.t.Helper()
	oid := randomHex(4) + "-0b8a-4c3f-9e61-2d4b7a9c8e10"
	upn := "victim-" + randomHex(4) + "@contoso.example"
	claims := fmt.Sprintf(`{"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","oid":%q,"upn":%q}`, oid, upn)
	victim = jwtToken(claims, "signed-by-entra-"+randomHex(8))
	forged = jwtToken(claims, "forged")
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": victim, "upn": upn, "objectId": oid, "seed": "empty",
	}, http.StatusCreated)
	return victim, forged
}

// victimAnswer runs the victim's folder.get and returns its status,
// error code and how long it took.
func (e *env) victimAnswer(victim string) (int, string, time.Duration) {
	e.t.Helper()
	started := time.Now()
	resp, body := e.batch(deviceURL, victim, folderGet)
	took := time.Since(started)
	code := gjson.GetBytes(body, "error.code").String()
	if resp.StatusCode == http.StatusOK {
		assert.Equal(e.t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s", body)
	}
	return resp.StatusCode, code, took
}

// trickle is an upload body that sends a few bytes at a time until its
// context ends; started is closed after its first bytes.
type trickle struct {
	ctx     context.Context
	sent    atomic.Int64
	started chan struct{}
	once    sync.Once
}

func (t *trickle) Read(p []byte) (int, error) {
	if t.sent.Load() > 0 {
		select {
		case <-t.ctx.Done():
			return 0, t.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	n := copy(p, "Subject: x")
	t.sent.Add(int64(n))
	t.once.Do(func() { close(t.started) })
	return n, nil
}

func TestIntegrationForgedTokenSlowUploadHoldsNoVictimSlot(t *testing.T) {
	e := startBridgeWith(t, customConfig(forgedGovernorConfig))
	victim, forged := e.victimAndForgery()
	e.clearUpstreamRequests()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	sendURL := strings.Replace(deviceURL, "/batch", "/mime/send", 1)
	var bodies []*trickle
	answers := make(chan string, 6)
	for i := 0; i < 6; i++ {
		body := &trickle{ctx: ctx, started: make(chan struct{})}
		bodies = append(bodies, body)
		req, err := http.NewRequestWithContext(ctx, "POST", sendURL, body)
		require.NoError(t, err)
		req.ContentLength = 4_000_000
		req.Header.Set("Content-Type", "message/rfc822")
		req.Header.Set("Authorization", "Bearer "+forged)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.client.Do(req)
			if err != nil {
				answers <- "error: " + err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, gjson.GetBytes(b, "error.code").String())
		}()
	}
	for _, body := range bodies {
		select {
		case <-body.started:
		case <-time.After(10 * time.Second):
			t.Fatal("a slow upload never started")
		}
	}
	// Give the uploads time to take whatever the bridge lets them take.
	time.Sleep(300 * time.Millisecond)

	status, code, took := e.victimAnswer(victim)
	t.Logf("victim answered %d %s in %v while 6 forged uploads trickle", status, code, took)
	assert.Equal(t, http.StatusOK, status, "the victim was throttled (%s) by uploads under a forged token", code)
	sends := 0
	for _, r := range e.upstreamRequests().Array() {
		if strings.Contains(r.Get("path").String(), "sendMail") {
			sends++
		}
	}
	assert.Zero(t, sends, "an upload still arriving must not reach Graph")

	// mime_read_timeout (2 s here) ends each upload with 408: the device
	// gets an error object, the connection is closed.
	for i := 0; i < 6; i++ {
		select {
		case answer := <-answers:
			assert.Equal(t, "408 invalid_request", answer, "a slow upload is cut off at mime_read_timeout")
		case <-time.After(15 * time.Second):
			t.Fatal("a slow upload was never answered")
		}
	}
}

func TestIntegrationForgedTokenQueueFloodSparesVictim(t *testing.T) {
	e := startBridgeWith(t, customConfig(forgedGovernorConfig))
	defer e.clearFaults()
	victim, forged := e.victimAndForgery()
	// Graph refuses the forged token after a while, as it does a bad signature.
	e.addFault(map[string]any{"token": forged, "batchEnvelope": true, "status": 401,
		"code": "InvalidAuthenticationToken", "delay": "250ms", "count": 0})
	e.clearUpstreamRequests()

	batch := `{"commands":[
		{"id":"a","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"b","op":"folder.get","args":{"folder":"drafts"}},
		{"id":"c","op":"folder.get","args":{"folder":"sentitems"}},
		{"id":"d","op":"folder.get","args":{"folder":"archive"}}]}`
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("POST", deviceURL, strings.NewReader(batch))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+forged)
			if resp, err := e.client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.upstreamRequests().Array()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.NotEmpty(t, e.upstreamRequests().Array(), "the flood reached Graph")

	status, code, took := e.victimAnswer(victim)
	t.Logf("victim answered %d %s in %v during a flood of 60 forged batches", status, code, took)
	assert.Equal(t, http.StatusOK, status, "the victim was throttled (%s) behind batches under a forged token", code)
}

func TestIntegrationForgedTokenRetryAfterNotPlanted(t *testing.T) {
	e := startBridgeWith(t, customConfig(forgedGovernorConfig))
	defer e.clearFaults()
	victim, forged := e.victimAndForgery()
	e.addFault(map[string]any{"token": forged, "status": 429, "code": "ApplicationThrottled", "retryAfter": "3600"})
	resp, body := e.batch(deviceURL, forged, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.Equal(t, "3600", resp.Header.Get("Retry-After"), "Graph's own 429 is relayed")

	e.clearUpstreamRequests()
	status, code, _ := e.victimAnswer(victim)
	assert.Equal(t, http.StatusOK, status, "a forged token's Retry-After was applied to the victim (%s)", code)
	assert.NotEmpty(t, e.upstreamRequests().Array(), "the victim's request went to Graph")

	// The forged token itself stays held back: Graph asked it to wait.
	resp, body = e.batch(deviceURL, forged, folderGet)
	assertDeviceError(t, resp, body, http.StatusTooManyRequests, "throttled")
	assert.False(t, gjson.GetBytes(body, "error.upstreamCode").Exists(), "answered locally")
}
