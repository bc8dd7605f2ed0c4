package caddymodule_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/devicebridge/caddy-devicebridge/caddymodule"
)

// Hostile input from devices and from the upstream: every case is refused
// with a device-API error, and nothing hostile reaches an upstream path or
// another host.

func TestIntegrationHostileState(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	first := e.command("demo", "mail.sync", map[string]any{"folder": "inbox", "window": 10})
	state := first.Get("data.state").String()
	require.NotEmpty(t, state)
	folders := e.command("demo", "folders.sync", map[string]any{})
	folderState := folders.Get("data.state").String()
	require.NotEmpty(t, folderState)

	// A valid state is accepted (so the refusals below are about the state).
	res := e.command("demo", "mail.sync", map[string]any{"folder": "inbox", "state": state})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)

	raw, err := base64.RawURLEncoding.DecodeString(state)
	require.NoError(t, err)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 0x01 // the GCM tag
	bodyFlip := append([]byte(nil), raw...)
	bodyFlip[len(bodyFlip)/2] ^= 0x80
	forged := make([]byte, len(raw))
	for i := range forged {
		forged[i] = byte(i * 7)
	}
	cases := []struct {
		name string
		op   string
		args map[string]any
	}{
		{"forged", "mail.sync", map[string]any{"folder": "inbox", "state": base64.RawURLEncoding.EncodeToString(forged)}},
		{"tag flipped", "mail.sync", map[string]any{"folder": "inbox", "state": base64.RawURLEncoding.EncodeToString(flipped)}},
		{"ciphertext flipped", "mail.sync", map[string]any{"folder": "inbox", "state": base64.RawURLEncoding.EncodeToString(bodyFlip)}},
		{"truncated", "mail.sync", map[string]any{"folder": "inbox", "state": state[:len(state)/2]}},
		{"truncated to the nonce", "mail.sync", map[string]any{"folder": "inbox", "state": state[:12]}},
		{"empty", "mail.sync", map[string]any{"folder": "inbox", "state": ""}},
		{"not base64url", "mail.sync", map[string]any{"folder": "inbox", "state": "!!" + state[2:]}},
		{"padded", "mail.sync", map[string]any{"folder": "inbox", "state": state + "=="}},
		{"huge", "mail.sync", map[string]any{"folder": "inbox", "state": strings.Repeat("A", 64<<10)}},
		{"cross-op", "folders.sync", map[string]any{"state": state}},
		{"cross-op the other way", "mail.sync", map[string]any{"folder": "inbox", "state": folderState}},
		{"cross-scope (folder)", "mail.sync", map[string]any{"folder": "archive", "state": state}},
		{"cross-mailbox", "mail.sync", map[string]any{"folder": "inbox", "state": state, "mailbox": "shared@contoso.example"}},
		{"cross-mailbox (folders)", "folders.sync", map[string]any{"state": folderState, "mailbox": "shared@contoso.example"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			e.clearUpstreamRequests()
			res := e.command("demo", tt.op, tt.args)
			if tt.name == "empty" || tt.name == "huge" {
				assert.Contains(t, []string{"invalid_state", "invalid_args"}, res.Get("error.code").String(), res.Raw)
			} else {
				assert.Equal(t, "invalid_state", res.Get("error.code").String(), res.Raw)
			}
			assert.Equal(t, int64(400), res.Get("status").Int(), res.Raw)
			e.assertNoUpstream("a refused state makes no upstream call")
		})
	}
}

// keyedConfig is the default test server with other state options.
func keyedConfig(keys, ttl string) string {
	o := testServer{stateKeys: keys}
	if ttl != "" {
		o.bridge = "state_ttl " + ttl
	}
	return o.caddyfile()
}

func TestIntegrationHostileStateRekeyedAndExpired(t *testing.T) {
	const key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	const key2 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
	cfg1 := keyedConfig(key1, "")
	require.Contains(t, cfg1, "state_key "+key1+"\n", "config template")
	e := startBridgeWith(t, cfg1)
	state := e.command("demo", "folders.sync", map[string]any{}).Get("data.state").String()
	require.NotEmpty(t, state)

	// Re-keyed: another instance with another key cannot open it.
	e = startBridgeWith(t, keyedConfig(key2, ""))
	e.clearUpstreamRequests()
	res := e.command("demo", "folders.sync", map[string]any{"state": state})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), res.Raw)
	e.assertNoUpstream()

	// Rotation: the old key listed second still opens it.
	// (The reloaded emulator forgot its delta tokens, so Graph may answer
	// resync_required: what matters is that the state opened and the
	// bridge went upstream.)
	e = startBridgeWith(t, keyedConfig(key2+" "+key1, ""))
	e.clearUpstreamRequests()
	res = e.command("demo", "folders.sync", map[string]any{"state": state})
	assert.NotEqual(t, "invalid_state", res.Get("error.code").String(), res.Raw)
	assert.Len(t, e.upstreamRequests().Array(), 1, "the rotated-out key still opens the state")

	// Expired: a state older than state_ttl is refused.
	e = startBridgeWith(t, keyedConfig(key1, "1s"))
	short := e.command("demo", "folders.sync", map[string]any{}).Get("data.state").String()
	require.NotEmpty(t, short)
	time.Sleep(2100 * time.Millisecond)
	e.clearUpstreamRequests()
	for _, s := range []string{short, state} {
		res = e.command("demo", "folders.sync", map[string]any{"state": s})
		assert.Equal(t, "invalid_state", res.Get("error.code").String(), res.Raw)
	}
	e.assertNoUpstream()
}

// hostileListener counts every connection made to it.
type hostileListener struct {
	server      *httptest.Server
	connections atomic.Int64
}

func newHostileListener(t *testing.T) *hostileListener {
	h := &hostileListener{}
	h.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	h.server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			h.connections.Add(1)
		}
	}
	h.server.StartTLS()
	t.Cleanup(h.server.Close)
	return h
}

func TestIntegrationHostileLinks(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	hostile := newHostileListener(t)
	hostileURL, err := url.Parse(hostile.server.URL)
	require.NoError(t, err)
	emu := fmt.Sprintf("localhost:%d", emulatorPort)
	links := map[string]string{
		"other host":              hostile.server.URL + "/v1.0/me/mailFolders/delta?$skiptoken=x",
		"other host, same path":   "https://" + hostileURL.Host + "/v1.0/me/mailFolders/delta?$deltatoken=x",
		"other scheme":            "http://" + emu + "/v1.0/me/mailFolders/delta?$skiptoken=x",
		"other base path":         "https://" + emu + "/beta/me/mailFolders/delta?$skiptoken=x",
		"base path prefix":        "https://" + emu + "/v1.0evil/me/mailFolders/delta",
		"user info":               "https://" + emu + "@" + hostileURL.Host + "/v1.0/me/mailFolders/delta",
		"host suffix":             "https://" + emu + ".evil.example/v1.0/me/mailFolders/delta",
		"dot segments":            "https://" + emu + "/v1.0/../beta/me/mailFolders/delta",
		"encoded dot segments":    "https://" + emu + "/v1.0/%2e%2e/beta/me/mailFolders/delta",
		"protocol-relative":       "//" + hostileURL.Host + "/v1.0/me/mailFolders/delta",
		"relative":                "/v1.0/me/mailFolders/delta?$skiptoken=x",
		"backslash":               "https://" + emu + "\\@" + hostileURL.Host + "/v1.0/me/mailFolders/delta",
		"control character":       "https://" + emu + "/v1.0/me/mailFolders/delta?$skiptoken=\u0000",
		"fragment":                "https://" + emu + "/v1.0/me/mailFolders/delta#x",
		"deltaLink to other host": "",
	}
	for name, link := range links {
		t.Run(name, func(t *testing.T) {
			member := "@odata.nextLink"
			if link == "" {
				member, link = "@odata.deltaLink", hostile.server.URL+"/v1.0/me/mailFolders/delta?$deltatoken=x"
			}
			page, err := json.Marshal(map[string]any{"value": []any{}, member: link})
			require.NoError(t, err)
			e.addFault(map[string]any{"token": "demo", "pathContains": "/mailFolders/delta", "status": 200, "body": string(page)})
			res := e.command("demo", "folders.sync", map[string]any{})
			assert.Equal(t, int64(502), res.Get("status").Int(), res.Raw)
			assert.Equal(t, "upstream_error", res.Get("error.code").String(), res.Raw)
			assert.False(t, res.Get("data").Exists(), "no state sealed around a hostile link: %s", res.Raw)
		})
	}
	assert.Zero(t, hostile.connections.Load(), "the hostile host received a connection")
}

// hostileValues are ids, folder and mailbox values a device might send to
// break out of its path segment.
var hostileValues = []string{
	"a/b", "..", ".", "../../users/victim@contoso.example", "%2F", "a%2Fb", "%2e%2e", "a?b", "a?$select=x", "a#b",
	"$value", "$batch", `a"b`, "a'b", "a b", " ", "a\\b", "a\x00b", "a\nb", "a\rb", "a\tb", "\x7f",
	"é", "a\u2028b", "ｆｕｌｌ", "a;b", "a,b", "a&b=c", "a%00", "%", "a@b", "*", "()",
}

func TestIntegrationHostileIDsAndMailboxes(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	for _, v := range hostileValues {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			e.clearUpstreamRequests()
			commands := []map[string]any{
				{"id": "get", "op": "mail.get", "args": map[string]any{"id": v}},
				{"id": "sync", "op": "mail.sync", "args": map[string]any{"folder": v}},
				{"id": "folder", "op": "folder.get", "args": map[string]any{"folder": v}},
				{"id": "mailbox", "op": "folders.sync", "args": map[string]any{"mailbox": v}},
				{"id": "mailbox-at", "op": "folders.sync", "args": map[string]any{"mailbox": v + "@contoso.example"}},
			}
			raw, err := json.Marshal(map[string]any{"commands": commands})
			require.NoError(t, err)
			resp, body := e.batch(deviceURL, "demo", string(raw))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			results := gjson.GetBytes(body, "results").Array()
			require.Len(t, results, len(commands), "%s", body)
			sent := map[string]bool{}
			for i, r := range results {
				if r.Get("error.code").String() == "invalid_args" {
					assert.Equal(t, int64(400), r.Get("status").Int())
					continue
				}
				// Accepted values must arrive as one escaped path segment.
				sent[commands[i]["id"].(string)] = true
			}
			for _, r := range e.upstreamRequests().Array() {
				path := r.Get("path").String()
				for _, seg := range strings.Split(path, "/") {
					lower := strings.ToLower(seg)
					assert.NotContains(t, []string{".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}, lower, "dot segment upstream: %s", path)
				}
				for _, c := range []string{" ", "\"", "'", "\\", "#", "?", "%25"} {
					assert.NotContains(t, path, c, "unescaped %q upstream: %s", c, path)
				}
			}
			// Only mailbox values that are valid principal names ("..@contoso.example",
			// "a@b") may go upstream, escaped.
			for id := range sent {
				assert.Contains(t, []string{"mailbox", "mailbox-at"}, id, "value %q accepted as %s", v, id)
			}
		})
	}
}

func TestIntegrationHostileMailboxEscaped(t *testing.T) {
	e := startBridge(t)
	// A valid mailbox (docs/device-api.md §5), but '#', '\'', '+', '!', '^' must not reach
	// the path raw: each is percent-encoded and the segment decodes back
	// to exactly the mailbox.
	mailbox := "o'neil#x+y!z^w~v@contoso.example"
	e.clearUpstreamRequests()
	res := e.command("demo", "folder.get", map[string]any{"folder": "inbox", "mailbox": mailbox})
	assert.NotEqual(t, "invalid_args", res.Get("error.code").String(), res.Raw)
	requests := e.upstreamRequests().Array()
	require.Len(t, requests, 1)
	path := requests[0].Get("path").String()
	segment, ok := strings.CutPrefix(path, "/v1.0/users/")
	require.True(t, ok, path)
	segment, _, _ = strings.Cut(segment, "/")
	assert.NotContains(t, segment, "#")
	assert.NotContains(t, segment, "'")
	assert.NotContains(t, segment, "+")
	decoded, err := url.PathUnescape(segment)
	require.NoError(t, err)
	assert.Equal(t, mailbox, decoded)

	// A Graph id with '+' and '=' (URL-safe base64 as Graph spells ids).
	e.clearUpstreamRequests()
	e.command("demo", "mail.get", map[string]any{"id": "AAMk+AGI2=", "body": "none"})
	requests = e.upstreamRequests().Array()
	require.Len(t, requests, 1)
	assert.Contains(t, requests[0].Get("path").String(), "/messages/AAMk%2BAGI2=")
}

func TestIntegrationHostileEnvelopes(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	command := `{"id":"c%d","op":"folders.sync"}`
	var many []string
	for i := 0; i < 21; i++ {
		many = append(many, fmt.Sprintf(command, i))
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"too many commands", `{"commands":[` + strings.Join(many, ",") + `]}`, 400, "invalid_request"},
		{"deeply nested args", `{"commands":[{"id":"a","op":"folders.sync","args":` + deep + `}]}`, 400, "invalid_request"},
		{"deeply nested arrays", strings.Repeat("[", 100000), 400, "invalid_request"},
		{"oversized envelope", `{"commands":[{"id":"a","op":"folders.sync","args":{"pad":"` + strings.Repeat("x", caddymodule.DefaultMaxRequestBody) + `"}}]}`, 413, "request_too_large"},
		{"command not an object", `{"commands":["folders.sync"]}`, 400, "invalid_request"},
		{"commands duplicated", `{"commands":[{"id":"a","op":"folders.sync"}],"commands":[]}`, 400, "invalid_request"},
		{"id too long", `{"commands":[{"id":"` + strings.Repeat("a", 65) + `","op":"folders.sync"}]}`, 400, "invalid_request"},
		{"id with a quote", `{"commands":[{"id":"a\"","op":"folders.sync"}]}`, 400, "invalid_request"},
		{"invalid UTF-8 and garbage", "{\"commands\":[\xff\xfe]}", 400, "invalid_request"},
		{"empty body", ``, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clearUpstreamRequests()
			resp, body := e.batch(deviceURL, "demo", tt.body)
			assertDeviceError(t, resp, body, tt.status, tt.code)
			e.assertNoUpstream()
		})
	}

	// Huge but within limits: large unknown arguments are ignored, the
	// command runs.
	huge := `{"commands":[{"id":"a","op":"folder.get","args":{"folder":"inbox","x":"` + strings.Repeat("y", 900<<10) +
		`","list":[` + strings.TrimSuffix(strings.Repeat("1,", 20000), ",") + `]}}]}`
	resp, body := e.batch(deviceURL, "demo", huge)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s", body)
}

func TestIntegrationHostilePlaintext(t *testing.T) {
	e := startBridge(t)
	e.clearUpstreamRequests()
	// A plaintext request claiming TLS through proxy headers is still
	// refused: no proxy is trusted.
	resp, body := e.batch(plainURL, "demo", folderGet, "X-Forwarded-Proto", "https", "Forwarded", "proto=https")
	assertDeviceError(t, resp, body, http.StatusForbidden, "tls_required")
	e.assertNoUpstream("nothing reaches the upstream from a plaintext request")
}

func TestIntegrationPlainHTTPUpstreamRefused(t *testing.T) {
	caddyfile := func(options string) string {
		return fmt.Sprintf("https://localhost:%d {\n\tdevicebridge http://localhost:%d/v1.0 {\n\t\t%s\n\t}\n}\n", devicePort, emulatorPort, options)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	_, _, err := adapter.Adapt([]byte(caddyfile("")), nil)
	require.Error(t, err, "a plain-http upstream must be refused")
	assert.Contains(t, err.Error(), "insecure_upstream")
	_, _, err = adapter.Adapt([]byte(caddyfile("insecure_upstream")), nil)
	assert.NoError(t, err, "insecure_upstream allows it")

	// JSON config: refused when the handler is provisioned.
	config := func(insecure bool) *caddy.Config {
		raw := fmt.Sprintf(`{"admin":{"disabled":true},"apps":{"http":{"servers":{"s":{"listen":["localhost:0"],"routes":[{"handle":[
			{"handler":"devicebridge","upstream":"http://localhost:%d/v1.0","insecure_upstream":%t}]}]}}}}}`, emulatorPort, insecure)
		var cfg caddy.Config
		require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
		return &cfg
	}
	err = caddy.Validate(config(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plain http")
	assert.NoError(t, caddy.Validate(config(true)))
}
