package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// A web push endpoint that answers with a redirect is not followed: the
// bridge sends to the URL the device named and nowhere else, so the
// redirect's target sees no request at all, Graph gets 202 (a per-target
// failure), and no breaker opens for the service.
func TestPushWebPushRedirectNotFollowed(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	redirecting := gjson.ParseBytes(e.pushControl("POST", "/webpush/subscriptions", nil, http.StatusCreated))
	trap := gjson.ParseBytes(e.pushControl("POST", "/webpush/subscriptions", nil, http.StatusCreated))
	ok(t, e.command(token, "push.subscribe", map[string]any{
		"platform": "webpush", "endpoint": redirecting.Get("endpoint").String(),
		"p256dh": redirecting.Get("p256dh").String(), "auth": redirecting.Get("auth").String(), "device": "browser-1",
	}))
	e.pushControl("POST", "/faults", map[string]any{
		"service": "webpush", "target": redirecting.Get("id").String(),
		"status": http.StatusTemporaryRedirect, "location": trap.Get("endpoint").String(), "count": 0,
	}, http.StatusCreated)
	defer e.pushControl("DELETE", "/faults", nil, http.StatusNoContent)

	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	resource := "Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/AAMkAGI1"
	seq := e.pushSeq()
	for i := 0; i < 3; i++ {
		// New mail each time (web push sends alerts only), past the per-R
		// alert limit on purpose: each POST is answered 202, never 503.
		resp, body := e.webhookPost("n", blob, "", notificationBody(t,
			notification(sub, "created", resource, "AAMkAGI"+string(rune('1'+i)), time.Now().Add(24*time.Hour))))
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	}
	sent := e.waitPushes("webpush", redirecting.Get("id").String(), seq, 1)
	assert.Equal(t, int64(http.StatusTemporaryRedirect), sent[0].Get("status").Int(), sent[0].Raw)
	assert.Empty(t, e.pushesSince("webpush", trap.Get("id").String(), seq), "the redirect was followed")
	assert.Contains(t, scrapeMetrics(t), `caddy_devicebridge_push_sends_total{outcome="rejected",platform="webpush"}`)
}

// A routing blob older than push_reseal_after is not renewed: the renewal
// answers resync_required without calling Graph, and the device subscribes
// again and unsubscribes the old subscription in one envelope. The old
// subscription keeps pushing until then (R is valid for push_reseal_after
// plus subscription_ttl).
func TestPushOldRoutingBlobResyncs(t *testing.T) {
	s := pushServer(t)
	s.bridge = strings.Replace(s.bridge, "push {\n", "push {\npush_reseal_after 4s\n", 1)
	require.Contains(t, s.bridge, "push_reseal_after 4s")
	e := startBridgeWith(t, s.caddyfile())
	e.control("PATCH", "/_emulator/notifications/settings", map[string]any{"duplicateEvery": -1}, http.StatusOK)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	first := e.subscribeAPNs(token, deviceToken, "phone-1", false)
	renewArgs := map[string]any{"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work",
		"alert": false, "state": first.Get("state").String()}
	ok(t, e.command(token, "push.subscribe", renewArgs)) // young R (under 4 s, even on a slow machine): a PATCH

	// R's issue time is sealed in whole seconds: 5 s later it is over 4 s old.
	time.Sleep(5 * time.Second)
	e.clearUpstreamRequests()
	res := e.command(token, "push.subscribe", renewArgs)
	assert.Equal(t, int64(410), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "resync_required", res.Get("error.code").String())
	assert.Empty(t, e.upstreamRequests().Array(), "an old R is refused before Graph is asked")

	seq := e.pushSeq()
	e.deliver(token, "Still arriving")
	assert.Len(t, e.waitPushes("apns", deviceToken, seq, 1), 1, "the old subscription still pushes")

	old := e.emuSubscriptions(token)[0]
	raw, err := json.Marshal(map[string]any{"commands": []any{
		map[string]any{"id": "new", "op": "push.subscribe", "args": map[string]any{"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work"}},
		map[string]any{"id": "old", "op": "push.unsubscribe", "args": map[string]any{"state": first.Get("state").String()}},
	}})
	require.NoError(t, err)
	_, out := e.batch(deviceURL, token, string(raw))
	assert.Equal(t, int64(200), gjson.GetBytes(out, "results.0.status").Int(), "%s", out)
	assert.Equal(t, int64(200), gjson.GetBytes(out, "results.1.status").Int(), "%s", out)
	subs := e.emuSubscriptions(token)
	require.Len(t, subs, 1)
	assert.NotEqual(t, old.Get("id").String(), subs[0].Get("id").String())
	assert.NotEqual(t, routingBlob(t, old.Get("notificationUrl").String()), routingBlob(t, subs[0].Get("notificationUrl").String()), "a new R")
}

// push.unsubscribe with several ids removes them all with one $batch, and
// an id already gone counts as removed, so the device can retry a failed
// command whole.
func TestPushUnsubscribeSeveralIDs(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	var ids []string
	for _, device := range []string{"phone-1", "phone-1", "tablet-7"} {
		ids = append(ids, e.subscribeAPNs(token, randomHex(32), device, false).Get("id").String())
	}
	require.Len(t, e.emuSubscriptions(token), 3)

	e.clearUpstreamRequests()
	ok(t, e.command(token, "push.unsubscribe", map[string]any{"ids": ids[:2]}))
	var outer, deletes []string
	for _, r := range e.upstreamRequests().Array() {
		if r.Get("batchItem").Bool() {
			deletes = append(deletes, r.Get("method").String()+" "+r.Get("path").String())
		} else {
			outer = append(outer, r.Get("method").String()+" "+r.Get("path").String())
		}
	}
	assert.Equal(t, []string{"POST /v1.0/$batch"}, outer, "one request to Graph")
	assert.ElementsMatch(t, []string{"DELETE /v1.0/subscriptions/" + ids[0], "DELETE /v1.0/subscriptions/" + ids[1]}, deletes)
	left := e.emuSubscriptions(token)
	require.Len(t, left, 1)
	assert.Equal(t, ids[2], left[0].Get("id").String())

	// A retry naming the removed ones and the last: all gone, {}.
	ok(t, e.command(token, "push.unsubscribe", map[string]any{"ids": ids}))
	assert.Empty(t, e.emuSubscriptions(token))

	// Graph throttles one of the DELETEs: the command is throttled, with
	// Graph's Retry-After; the DELETE that went through stays done.
	a := e.subscribeAPNs(token, randomHex(32), "phone-1", false).Get("id").String()
	b := e.subscribeAPNs(token, randomHex(32), "phone-1", false).Get("id").String()
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": token, "pathContains": "/subscriptions/" + b, "status": 429,
		"code": "ApplicationThrottled", "retryAfter": "3", "count": 1,
	}, http.StatusCreated)
	defer e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)
	res := e.command(token, "push.unsubscribe", map[string]any{"ids": []string{a, b}})
	assert.Equal(t, "throttled", res.Get("error.code").String(), res.Raw)
	assert.Equal(t, int64(3), res.Get("error.retryAfter").Int(), res.Raw)
	left = e.emuSubscriptions(token)
	require.Len(t, left, 1)
	assert.Equal(t, b, left[0].Get("id").String())
}
