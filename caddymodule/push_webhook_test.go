package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/devicebridge/caddy-devicebridge/push"
)

func TestResourceUserForms(t *testing.T) {
	for _, tt := range []struct{ resource, user, tenant string }{
		{"Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/AAMk", "5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10", ""},
		{"users/uid-1@tid-2/messages/AAMk", "uid-1", "tid-2"},
		{"Users('uid-1')/Messages('AAMk')", "uid-1", ""},
		{"/Users/uid-1/Events/AAMk", "uid-1", ""},
	} {
		user, tenant, ok := resourceUser(tt.resource)
		assert.True(t, ok, tt.resource)
		assert.Equal(t, tt.user, user, tt.resource)
		assert.Equal(t, tt.tenant, tenant, tt.resource)
	}
	for _, bad := range []string{"", "me/messages/x", "Users", "Users/", "Users//Messages", "Users('')/M", "Users('x/Messages", "Usersx/y", "Users/@tid/m"} {
		_, _, ok := resourceUser(bad)
		assert.False(t, ok, bad)
	}
}

func TestPushWebhookOf(t *testing.T) {
	kind, blob, ok := pushWebhookOf("/push/n/AbC-_1")
	assert.True(t, ok)
	assert.Equal(t, webhookChange, kind)
	assert.Equal(t, "AbC-_1", blob)
	kind, _, ok = pushWebhookOf("/push/l/x")
	assert.True(t, ok)
	assert.Equal(t, webhookLifecycle, kind)
	for _, bad := range []string{"/push/n/", "/push/x/abc", "/push/n/a/b", "/push/nn/abc", "/push", "/batch", "/push/n/" + strings.Repeat("A", push.MaxRoutingLen+1)} {
		_, _, ok := pushWebhookOf(bad)
		assert.False(t, ok, bad)
	}
}

func TestPushLimits(t *testing.T) {
	l := newPushLimits(2)
	now := time.Unix(1_800_000_000, 0)
	a, b, c := routeKeyOf("a"), routeKeyOf("b"), routeKeyOf("c")
	_, ok := l.take(a, classAlert, now)
	require.True(t, ok)
	_, ok = l.take(a, classAlert, now.Add(PushAlertInterval-time.Second))
	assert.False(t, ok, "one alert per 10 s")
	_, ok = l.take(a, classHint, now)
	assert.True(t, ok, "the classes count apart")
	_, ok = l.take(a, classAlert, now.Add(PushAlertInterval))
	assert.True(t, ok)

	prev, ok := l.take(b, classRenew, now)
	require.True(t, ok)
	l.giveBack(b, classRenew, now, prev)
	_, ok = l.take(b, classRenew, now.Add(time.Second))
	assert.True(t, ok, "a push that was not sent is given back")
	_, ok = l.take(b, classRenew, now.Add(PushRenewInterval-time.Second))
	assert.False(t, ok, "one renew per 6 h")

	_, ok = l.take(c, classHint, now)
	require.True(t, ok)
	assert.Equal(t, 2, l.len(), "bounded")
	_, ok = l.take(a, classAlert, now.Add(PushAlertInterval+time.Second))
	assert.True(t, ok, "an evicted entry is forgotten: one push more, never one less")
}

// Graph may send reauthorizationRequired every 15 minutes as a token
// nears its expiry: over a day that is at most four renew pushes.
func TestRenewHintsPerDay(t *testing.T) {
	l := newPushLimits(8)
	key := routeKeyOf("R")
	start := time.Unix(1_800_000_000, 0)
	sent := 0
	for at := start; at.Before(start.Add(24 * time.Hour)); at = at.Add(15 * time.Minute) {
		if _, ok := l.take(key, classRenew, at); ok {
			sent++
		}
	}
	assert.Equal(t, 4, sent)
}

// testPushRuntime is a webhook runtime with keys and one sealed R.
func testPushRuntime(t testing.TB, bound bool) (*pushRuntime, string, *push.Routing) {
	keys, err := push.NewKeys([][]byte{[]byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	now := time.Now()
	r := &push.Routing{
		Target: push.Target{Platform: push.PlatformAPNs, Token: "00112233445566778899aabbccddeeff"},
		Watch:  push.KindMail, Alert: true, Account: "work",
		Issued: now, NotAfter: now.Add(36 * 24 * time.Hour),
	}
	tenant, user := "", ""
	if bound {
		tenant, user = "tid-1", "uid-1"
	}
	blob, err := keys.SealRouting(r, "phone-1", tenant, user)
	require.NoError(t, err)
	opened, err := keys.OpenRouting(blob)
	require.NoError(t, err)
	return &pushRuntime{keys: keys, ttl: 6 * 24 * time.Hour, limits: newPushLimits(8)}, blob, opened
}

func changeItem(t testing.TB, p *pushRuntime, blob, change, resource, tenant string) map[string]any {
	cs, err := p.keys.ClientState(blob)
	require.NoError(t, err)
	return map[string]any{
		"subscriptionExpirationDateTime": time.Now().Add(time.Hour).Format(time.RFC3339),
		"changeType":                     change, "resource": resource, "tenantId": tenant,
		"resourceData": map[string]any{"id": "AAMk-" + change}, "clientState": cs,
	}
}

func body(t testing.TB, items ...map[string]any) []byte {
	raw, err := json.Marshal(map[string]any{"value": items})
	require.NoError(t, err)
	return raw
}

func TestCheckChangesBinding(t *testing.T) {
	p, blob, route := testPushRuntime(t, true)
	now := time.Now()
	for _, res := range []string{"Users/uid-1/Messages/AAMk", "users/UID-1@tid-1/messages/AAMk", "Users('uid-1')/Messages('AAMk')"} {
		n := p.checkChanges(body(t, changeItem(t, p, blob, "created", res, "tid-1")), blob, route, now)
		assert.Equal(t, 1, n.valid, res)
		assert.True(t, n.created)
		assert.Equal(t, 1, n.nRefs)
	}
	for name, item := range map[string]map[string]any{
		"other user":          changeItem(t, p, blob, "created", "Users/uid-2/Messages/AAMk", "tid-1"),
		"other tenant":        changeItem(t, p, blob, "created", "Users/uid-1/Messages/AAMk", "tid-2"),
		"tenant mismatch":     changeItem(t, p, blob, "created", "users/uid-1@tid-2/messages/AAMk", "tid-1"),
		"no resource user":    changeItem(t, p, blob, "created", "me/messages/AAMk", "tid-1"),
		"unknown change type": changeItem(t, p, blob, "moved", "Users/uid-1/Messages/AAMk", "tid-1"),
	} {
		n := p.checkChanges(body(t, item), blob, route, now)
		assert.Zero(t, n.valid, name)
	}
	msg, class, ok := p.message(&notificationSummary{valid: 1}, route)
	require.True(t, ok)
	assert.Equal(t, classHint, class)
	assert.False(t, msg.Alert, "updates and deletes are never alert class")
}

func TestCheckLifecycle(t *testing.T) {
	p, blob, route := testPushRuntime(t, false)
	cs, _ := p.keys.ClientState(blob)
	item := func(event string) map[string]any {
		return map[string]any{"lifecycleEvent": event, "clientState": cs,
			"subscriptionExpirationDateTime": time.Now().Add(time.Hour).Format(time.RFC3339)}
	}
	n := p.checkLifecycle(body(t, item("missed"), item("reauthorizationRequired")), blob, route, time.Now())
	assert.Equal(t, 2, n.valid)
	msg, class, ok := p.message(&n, route)
	require.True(t, ok)
	assert.Equal(t, push.KindRenew, msg.Kind)
	assert.Equal(t, classRenew, class)
	n = p.checkLifecycle(body(t, item("subscriptionRemoved")), blob, route, time.Now())
	msg, _, _ = p.message(&n, route)
	assert.Equal(t, push.KindResubscribe, msg.Kind)
	n = p.checkLifecycle(body(t, item("missed")), blob, route, time.Now())
	msg, _, _ = p.message(&n, route)
	assert.Equal(t, push.KindMail, msg.Kind, "missed: a hint of the subscription's kind")
	bad := item("missed")
	bad["clientState"] = "forged"
	assert.Zero(t, p.checkLifecycle(body(t, bad), blob, route, time.Now()).valid)
}

// FuzzPushWebhookBody feeds the webhook's parsers arbitrary bodies, paths
// and resources: nothing panics, and nothing without R's clientState is
// ever valid.
func FuzzPushWebhookBody(f *testing.F) {
	p, blob, route := testPushRuntime(f, true)
	f.Add([]byte(`{"value":[{"changeType":"created","resource":"Users/uid-1/Messages/x","clientState":"x"}]}`), "/push/n/"+blob, "Users('a')/Messages('b')")
	f.Add(body(f, changeItem(f, p, blob, "created", "users/uid-1@tid-1/messages/x", "tid-1")), "/push/l/AAAA", "users/a@b/c")
	f.Add([]byte(`{"value":[{"lifecycleEvent":"missed"}]}`), "/push/n/", "/Users/")
	f.Fuzz(func(t *testing.T, raw []byte, path, resource string) {
		_, _, _ = resourceUser(resource)
		if _, r, ok := pushWebhookOf(path); ok {
			_, _ = p.keys.OpenRouting(r)
		}
		now := time.Now()
		n := p.checkChanges(raw, blob, route, now)
		l := p.checkLifecycle(raw, blob, route, now)
		if n.valid > 0 || l.valid > 0 {
			cs, _ := p.keys.ClientState(blob)
			if !strings.Contains(string(raw), cs) {
				t.Fatalf("an item without R's clientState was accepted: %q", raw)
			}
		}
		if n.valid > 0 {
			_, _, _ = p.message(&n, route)
		}
	})
}
