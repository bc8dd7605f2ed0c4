package caddymodule_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/devicebridge/caddy-devicebridge/caddymodule"
	_ "github.com/devicebridge/caddy-devicebridge/emulator"
)

func TestIntegrationInboxSyncAndChanges(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo") // a private copy of the demo mailbox: this test changes it

	inbox := e.command(token, "folder.get", map[string]any{"folder": "inbox"})
	require.Equal(t, int64(200), inbox.Get("status").Int(), inbox.Raw)
	total := int(inbox.Get("data.folder.total").Int())
	require.GreaterOrEqual(t, total, 500, "demo Inbox size")

	// Full initial sync in windows of 50.
	e.clearUpstreamRequests()
	changes, state := e.syncAll(token, "mail.sync", map[string]any{"folder": "inbox", "window": 50})
	seen := map[string]bool{}
	for _, c := range changes {
		require.Equal(t, "upsert", c.Get("op").String())
		msg := c.Get("message")
		id := msg.Get("id").String()
		require.NotEmpty(t, id)
		seen[id] = true
		assert.False(t, msg.Get("body").Exists(), "body is not in the default fields")
		assert.False(t, msg.Get("bcc").Exists(), "bcc is not in the default fields")
	}
	assert.Len(t, seen, total, "every Inbox message arrives exactly once in the initial sync")
	for _, r := range e.upstreamRequests().Array() {
		assert.Contains(t, r.Get("headers.Prefer").String(), "odata.maxpagesize=50")
		assert.Contains(t, r.Get("headers.Prefer").String(), `IdType=\"ImmutableId\"`)
	}

	// An idle incremental round has nothing.
	idle, state := e.syncAll(token, "mail.sync", map[string]any{"folder": "inbox", "state": state})
	assert.Empty(t, idle, "nothing changed, nothing to sync")

	// Change the mailbox the way another client would.
	delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"folder": "inbox", "subject": "integration: new mail",
		"from": map[string]any{"name": "Test Sender", "address": "sender@fabrikam.example"},
		"to":   []any{map[string]any{"name": "Demo", "address": "demo@contoso.example"}},
		"body": map[string]any{"contentType": "text", "content": "hello"},
	}, http.StatusCreated))
	newID := delivered.Get("immutableId").String()
	require.NotEmpty(t, newID)

	var ids []string
	for id := range seen {
		ids = append(ids, id)
		if len(ids) == 3 {
			break
		}
	}
	readID, deletedID, movedID := ids[0], ids[1], ids[2]
	e.graph(token, "PATCH", "/me/messages/"+readID, map[string]any{"isRead": true}, http.StatusOK)
	e.graph(token, "DELETE", "/me/messages/"+deletedID, nil, http.StatusNoContent)
	e.graph(token, "POST", "/me/messages/"+movedID+"/move", map[string]any{"destinationId": "archive"}, http.StatusCreated)

	changes, _ = e.syncAll(token, "mail.sync", map[string]any{"folder": "inbox", "state": state})
	upserts, deletes := map[string]gjson.Result{}, map[string]bool{}
	for _, c := range changes {
		switch c.Get("op").String() {
		case "upsert":
			upserts[c.Get("message.id").String()] = c.Get("message")
		case "delete":
			deletes[c.Get("id").String()] = true
		default:
			t.Fatalf("unexpected change %s", c.Raw)
		}
	}
	require.Contains(t, upserts, newID, "the delivered message arrives")
	assert.Equal(t, "integration: new mail", upserts[newID].Get("subject").String())
	assert.Equal(t, "sender@fabrikam.example", upserts[newID].Get("from.addr").String())
	require.Contains(t, upserts, readID, "the read message is updated")
	assert.True(t, upserts[readID].Get("read").Bool())
	assert.True(t, deletes[deletedID], "the deleted message is removed")
	assert.True(t, deletes[movedID], "the moved message leaves the Inbox")
	assert.Len(t, upserts, 2, "nothing else changed: %v", upserts)
	assert.Len(t, deletes, 2, "nothing else was removed: %v", deletes)

	// The moved message keeps its immutable id in its new folder.
	archived, _ := e.syncAll(token, "mail.sync", map[string]any{"folder": "archive"})
	found := false
	for _, c := range archived {
		if c.Get("message.id").String() == movedID {
			found = true
		}
	}
	assert.True(t, found, "the moved message is in the Archive with the same id")

	metrics := scrapeMetrics(t)
	assert.Contains(t, metrics, `caddy_devicebridge_commands_total{op="mail.sync",status="200"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_translate_duration_seconds_count{phase="response"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_governor_wait_seconds_count`)
}

func TestIntegrationFoldersAndBatch(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	e.clearUpstreamRequests()
	resp, body := e.batch(deviceURL, "demo", `{"commands":[
		{"id":"f","op":"folders.sync","args":{"window":200}},
		{"id":"bad","op":"mail.sync","args":{"folder":"../inbox"}},
		{"id":"g","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"m","op":"mail.sync","args":{"folder":"inbox","window":5,"fields":["subject","read"]}}
	]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	results := gjson.GetBytes(body, "results").Array()
	require.Len(t, results, 4)
	for i, id := range []string{"f", "bad", "g", "m"} {
		assert.Equal(t, id, results[i].Get("id").String(), "results keep the device's order")
	}
	assert.Equal(t, int64(400), results[1].Get("status").Int())
	assert.Equal(t, "invalid_args", results[1].Get("error.code").String())

	folders := results[0].Get("data.changes").Array()
	names := map[string]gjson.Result{}
	for _, f := range folders {
		names[f.Get("folder.name").String()] = f.Get("folder")
	}
	require.Contains(t, names, "Inbox")
	require.Contains(t, names, "Alpha", "nested folders are part of the folder sync")
	assert.Equal(t, int64(200), results[2].Get("status").Int())
	assert.Equal(t, names["Inbox"].Get("id").String(), results[2].Get("data.folder.id").String())

	page := results[3].Get("data.changes").Array()
	assert.Len(t, page, 5)
	for _, c := range page {
		keys := []string{}
		c.Get("message").ForEach(func(k, _ gjson.Result) bool { keys = append(keys, k.String()); return true })
		assert.Subset(t, []string{"id", "subject", "read"}, keys, "only the chosen fields")
	}
	assert.True(t, results[3].Get("data.more").Bool())

	requests := e.upstreamRequests().Array()
	var direct []gjson.Result
	for _, r := range requests {
		if !r.Get("batchItem").Bool() {
			direct = append(direct, r)
		}
	}
	require.Len(t, direct, 1, "one device request, one upstream request")
	assert.Equal(t, "/v1.0/$batch", direct[0].Get("path").String())
	for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Cookie"} {
		assert.False(t, direct[0].Get("headers."+name).Exists(), "%s must not reach Graph", name)
	}
}

func TestIntegrationStateTamperedAndCrossScope(t *testing.T) {
	e := startBridge(t)
	first := e.command("demo", "mail.sync", map[string]any{"folder": "inbox", "window": 10})
	state := first.Get("data.state").String()
	require.NotEmpty(t, state)

	// Swap the middle character for another of the base64url alphabet, so
	// the request is well-formed and only the seal can tell.
	tampered := []byte(state)
	if tampered[len(tampered)/2] == 'A' {
		tampered[len(tampered)/2] = 'B'
	} else {
		tampered[len(tampered)/2] = 'A'
	}
	res := e.command("demo", "mail.sync", map[string]any{"folder": "inbox", "state": string(tampered)})
	assert.Equal(t, int64(400), res.Get("status").Int())
	assert.Equal(t, "invalid_state", res.Get("error.code").String())

	res = e.command("demo", "mail.sync", map[string]any{"folder": "archive", "state": state})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), "a state is bound to its folder")

	res = e.command("demo", "folders.sync", map[string]any{"state": state})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), "a state is bound to its op")

	res = e.command("demo", "mail.sync", map[string]any{"folder": "inbox", "state": state, "mailbox": "shared@contoso.example"})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), "a state is bound to its mailbox")
}

func TestIntegrationResyncRequired(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo")
	first := e.command(token, "mail.sync", map[string]any{"folder": "inbox", "window": 10})
	require.True(t, first.Get("data.more").Bool())
	e.control("POST", "/_emulator/mailboxes/"+token+"/expire-sync-states", nil, http.StatusOK)
	res := e.command(token, "mail.sync", map[string]any{"folder": "inbox", "state": first.Get("data.state").String()})
	assert.Equal(t, int64(410), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "resync_required", res.Get("error.code").String())
}

func TestIntegrationThrottled(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo")
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": token, "pathContains": "/messages/delta", "status": 429,
		"code": "ApplicationThrottled", "retryAfter": "7", "count": 1,
	}, http.StatusCreated)
	defer e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)

	resp, body := e.batch(deviceURL, token, `{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox"}}]}`)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s", body)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))
	assert.Equal(t, "throttled", gjson.GetBytes(body, "error.code").String())
	assert.Equal(t, int64(7), gjson.GetBytes(body, "error.retryAfter").Int())
	assert.Equal(t, "ApplicationThrottled", gjson.GetBytes(body, "error.upstreamCode").String())
}

func TestIntegrationAuthentication(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	e.clearUpstreamRequests()

	resp, body := e.batch(deviceURL, "", `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "unauthenticated", gjson.GetBytes(body, "error.code").String())
	assert.Empty(t, e.upstreamRequests().Array(), "no upstream call without a token")

	resp, body = e.batch(deviceURL, "not-a-known-token", `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", body)
	assert.Equal(t, "unauthenticated", gjson.GetBytes(body, "error.code").String())
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "authorization_uri=", "Graph's challenge is copied")

	metrics := scrapeMetrics(t)
	assert.Contains(t, metrics, `caddy_devicebridge_envelope_errors_total{status="401"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_errors_total{code="unauthenticated",level="envelope"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_upstream_responses_total{status="401"}`)
}

func TestIntegrationPlaintextRefused(t *testing.T) {
	e := startBridge(t)
	e.clearUpstreamRequests()
	resp, body := e.batch(plainURL, "demo", `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "tls_required", gjson.GetBytes(body, "error.code").String())
	assert.Empty(t, e.upstreamRequests().Array(), "nothing reaches the upstream from a plaintext request")
}

func TestIntegrationEnvelopeErrors(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	tests := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"not json", `{"commands":`, "application/json", 400, "invalid_request"},
		{"no commands", `{"commands":[]}`, "application/json", 400, "invalid_request"},
		{"duplicate ids", `{"commands":[{"id":"a","op":"folders.sync"},{"id":"a","op":"folders.sync"}]}`, "application/json", 400, "invalid_request"},
		{"wrong media type", `{"commands":[{"id":"a","op":"folders.sync"}]}`, "text/plain", 415, "unsupported_media_type"},
		{"too large", `{"commands":[{"id":"a","op":"folders.sync","args":{"pad":"` + strings.Repeat("x", caddymodule.DefaultMaxRequestBody) + `"}}]}`, "application/json", 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.batch(deviceURL, "demo", tt.body, "Content-Type", tt.contentType)
			assert.Equal(t, tt.status, resp.StatusCode, "%s", body)
			assert.Equal(t, tt.code, gjson.GetBytes(body, "error.code").String())
		})
	}

	req, err := http.NewRequest("GET", deviceURL, nil)
	require.NoError(t, err)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// The directive's route matches the prefix case-insensitively (Caddy's path
// matcher does); whatever the case, a request under it is the bridge's and
// never reaches Graph untranslated with the device's token and cookies.
func TestIntegrationPrefixCaseNeverProxiedRaw(t *testing.T) {
	e := startBridge(t)
	e.clearUpstreamRequests()
	envelope := `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`
	for _, path := range []string{"/Device/v1/batch", "/DEVICE/V1/BATCH", "/device/V1/batch", "/Device/v1"} {
		url := strings.Replace(deviceURL, "/device/v1/batch", path, 1)
		resp, body := e.batch(url, "demo", envelope, "Cookie", "session=1")
		assert.True(t, gjson.GetBytes(body, "results").Exists() || gjson.GetBytes(body, "error.code").Exists(),
			"%s is answered by the bridge (%d): %s", path, resp.StatusCode, body)
	}
	for _, r := range e.upstreamRequests().Array() {
		assert.True(t, strings.HasPrefix(r.Get("path").String(), "/v1.0/"), "only translated calls reach Graph: %s", r.Raw)
		assert.False(t, r.Get("headers.Cookie").Exists(), "no device cookie reaches Graph: %s", r.Raw)
	}
}

// Graph's Content-Length carries over on downloads even when the upstream
// would compress (the bridge asks it not to: Go's transport would otherwise
// request gzip and drop the length while decompressing).
func TestIntegrationDownloadKeepsContentLength(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("empty")
	delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"folder": "inbox", "subject": "long enough to be compressed",
		"from": map[string]any{"name": "Sender", "address": "sender@fabrikam.example"},
		"body": map[string]any{"contentType": "text", "content": strings.Repeat("All work and no play. ", 400)},
	}, http.StatusCreated))
	id := delivered.Get("immutableId").String()
	require.NotEmpty(t, id)

	req, err := http.NewRequest("GET", strings.Replace(deviceURL, "/batch", "/messages/"+id+"/mime", 1), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
	assert.Equal(t, int64(len(body)), resp.ContentLength, "Graph's Content-Length reaches the device")
	assert.Contains(t, string(body), "long enough to be compressed")
}
