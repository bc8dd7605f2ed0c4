package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestLog(t *testing.T) {
	e := newEnv(t, Options{RequestLogSize: 5})
	e.do(req{method: http.MethodDelete, path: "/_emulator/requests"})
	e.do(req{path: "/v1.0/me/messages/AAMkAD%2Babc_def-ghijklmn%3D?$select=subject", token: "demo", headers: prefer(`IdType="ImmutableId"`)})
	e.batch("demo", `{"requests":[{"id":"1","method":"GET","url":"/me/mailFolders/inbox","headers":{"Prefer":"odata.maxpagesize=5"}}]}`)
	res := e.do(req{path: "/_emulator/requests"})
	require.Equal(t, http.StatusOK, res.status)
	var recs []RequestRecord
	require.NoError(t, json.Unmarshal(res.body, &recs))
	require.Len(t, recs, 3)
	assert.Equal(t, "/v1.0/me/messages/AAMkAD%2Babc_def-ghijklmn%3D", recs[0].Path)
	assert.Equal(t, "$select=subject", recs[0].Query)
	assert.Equal(t, []string{"present"}, recs[0].Headers["Authorization"])
	assert.Equal(t, []string{`IdType="ImmutableId"`}, recs[0].Headers["Prefer"])
	assert.Equal(t, "/v1.0/$batch", recs[1].Path)
	assert.False(t, recs[1].BatchItem)
	assert.Equal(t, "/v1.0/me/mailFolders/inbox", recs[2].Path)
	assert.True(t, recs[2].BatchItem)
	assert.Equal(t, []string{"odata.maxpagesize=5"}, recs[2].Headers["Prefer"])
	// Bounded.
	for i := 0; i < 10; i++ {
		e.do(req{path: "/v1.0/me", token: "demo"})
	}
	assert.Len(t, e.srv.Requests(), 5)
}

func TestControlMailboxes(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
	}{
		{"create", "POST", "/_emulator/mailboxes", `{"token":"x1","upn":"x1@contoso.example","displayName":"X One"}`, 201},
		{"duplicate token", "POST", "/_emulator/mailboxes", `{"token":"x1","upn":"other@contoso.example"}`, 409},
		{"duplicate upn", "POST", "/_emulator/mailboxes", `{"token":"x2","upn":"X1@contoso.example"}`, 409},
		{"bad seed", "POST", "/_emulator/mailboxes", `{"token":"x3","upn":"x3@contoso.example","seed":"lots"}`, 400},
		{"missing upn", "POST", "/_emulator/mailboxes", `{"token":"x4"}`, 400},
		{"deliver unknown mailbox", "POST", "/_emulator/mailboxes/nope/deliver", `{"subject":"s"}`, 404},
		{"deliver unknown folder", "POST", "/_emulator/mailboxes/x1/deliver", `{"folder":"nowhere","subject":"s"}`, 404},
		{"deliver bad date", "POST", "/_emulator/mailboxes/x1/deliver", `{"subject":"s","receivedDateTime":"today"}`, 400},
		{"deliver to subfolder by name", "POST", "/_emulator/mailboxes/x1/deliver", `{"folder":"Archive","subject":"s","isRead":true}`, 201},
		{"delegate", "POST", "/_emulator/mailboxes/x1/delegates", `{"upn":"demo@contoso.example"}`, 204},
		{"list", "GET", "/_emulator/mailboxes", ``, 200},
		{"unknown endpoint", "GET", "/_emulator/nothing", ``, 404},
		{"delete", "DELETE", "/_emulator/mailboxes/x1", ``, 204},
		{"delete again", "DELETE", "/_emulator/mailboxes/x1", ``, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: tt.method, path: tt.path, body: tt.body})
			assert.Equal(t, tt.status, res.status, "%s", res.body)
		})
	}
	// A fresh empty mailbox has just the well-known folders.
	e.newMailbox("fresh", "empty")
	items, _, _ := e.round("/v1.0/me/mailFolders/delta", "fresh", prefer("odata.maxpagesize=50"))
	assert.Len(t, items, 7)
	// Graph requests of a deleted mailbox's token are unauthorized.
	assert.Equal(t, http.StatusUnauthorized, e.do(req{path: "/v1.0/me", token: "x1"}).status)
}

func TestCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`graph_emulator {
		seed none
		base_path /graph/v1.0
		control_prefix /ctl
		mailbox_concurrency 4
		sync_state_capacity 50
		batch_throttle envelope_424
		sync_state_code resyncRequired
		sync_state_status 400
		sync_state_omit_location
		empty_page_every 3
		replay_every 7
		throttle_retry_after 2.128
	}`)
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(d))
	assert.Equal(t, Handler{Seed: "none", BasePath: "/graph/v1.0", ControlPrefix: "/ctl", MailboxConcurrency: 4, SyncStateCapacity: 50,
		BatchThrottle: "envelope_424", SyncStateCode: "resyncRequired", SyncStateStatus: 400, SyncStateOmitLocation: true,
		EmptyPageEvery: 3, ReplayEvery: 7, ThrottleRetryAfter: "2.128"}, h)
	require.NoError(t, h.Validate())

	for _, bad := range []string{
		"graph_emulator { seed lots }",
		"graph_emulator { mailbox_concurrency x }",
		"graph_emulator { nonsense 1 }",
		"graph_emulator { batch_throttle sometimes }",
		"graph_emulator extra",
	} {
		var h Handler
		assert.Error(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)), bad)
	}
	var empty Handler
	require.NoError(t, empty.UnmarshalCaddyfile(caddyfile.NewTestDispenser("graph_emulator")))
	assert.Equal(t, Handler{}, empty)
}

func TestCaddyModule(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &Handler{SyncStateCode: "syncStateNotFound"}
	require.NoError(t, h.Provision(ctx))
	require.NotNil(t, h.Server())

	nextCalled := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		nextCalled = true
		return nil
	})
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/elsewhere", nil)
	require.NoError(t, h.ServeHTTP(rec, r, next))
	assert.True(t, nextCalled)

	rec = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodGet, "/v1.0/me", nil)
	r.Header.Set("Authorization", "Bearer demo")
	nextCalled = false
	require.NoError(t, h.ServeHTTP(rec, r, next))
	assert.False(t, nextCalled)
	assert.Equal(t, http.StatusOK, rec.Code)

	bad := &Handler{BatchThrottle: "never"}
	assert.Error(t, bad.Validate())
	assert.Error(t, bad.Provision(ctx))
}

func TestCaddyfileAdaptOrdersBeforeReverseProxy(t *testing.T) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	require.NotNil(t, adapter)
	out, _, err := adapter.Adapt([]byte(`:8080 {
	reverse_proxy /other localhost:9
	graph_emulator {
		seed none
		mailbox_concurrency 4
	}
}`), nil)
	require.NoError(t, err)
	js := string(out)
	ge := strings.Index(js, `"handler":"graph_emulator"`)
	rp := strings.Index(js, `"handler":"reverse_proxy"`)
	require.True(t, ge >= 0 && rp >= 0, js)
	assert.Less(t, ge, rp, "graph_emulator is ordered before reverse_proxy: %s", js)
	assert.Contains(t, js, `"mailbox_concurrency":4`)
	assert.Contains(t, js, `"seed":"none"`)
}
