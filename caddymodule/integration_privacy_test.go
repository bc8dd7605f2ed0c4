package caddymodule_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The privacy tests run a full device session (folder and mail sync over
// several pages, message bodies, a send, every kind of error) against a
// mailbox whose token, addresses, subjects and bodies each carry a unique
// marker, and then look for those markers where they must not be: in
// Caddy's logs (TestIntegrationLogsCarryNoSecrets) and on disk
// (TestIntegrationWritesNoFiles).

func init() {
	caddy.RegisterModule(memoryLogWriter{})
}

// capturedLogs receives everything written to the test-only log writer.
var capturedLogs = &logCapture{}

// logCapture is a synchronized in-memory log sink.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// Close does nothing: Caddy closes writers when a config is replaced, but
// the capture outlives configs.
func (c *logCapture) Close() error { return nil }

func (c *logCapture) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// memoryLogWriter is the test-only log writer module
// caddy.logging.writers.devicebridge_test_memory: Caddyfile
// `output devicebridge_test_memory` sends a log into capturedLogs.
type memoryLogWriter struct{}

func (memoryLogWriter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.writers.devicebridge_test_memory",
		New: func() caddy.Module { return new(memoryLogWriter) },
	}
}

func (memoryLogWriter) String() string    { return "devicebridge test memory" }
func (memoryLogWriter) WriterKey() string { return "devicebridge_test_memory" }

func (memoryLogWriter) OpenWriter() (io.WriteCloser, error) { return capturedLogs, nil }

func (*memoryLogWriter) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

var (
	_ caddy.WriterOpener    = memoryLogWriter{}
	_ caddyfile.Unmarshaler = (*memoryLogWriter)(nil)
)

// privacyConfig is the integration config with every log — Caddy's
// default log at DEBUG level and the device site's access log — sent to
// capturedLogs. extraGlobal is added to the global options.
//
// The access log is configured as docs/security.md asks: the streaming
// endpoints take the mailbox argument in the query string, which the
// access log would otherwise show, so its filter deletes that parameter.
func privacyConfig(extraGlobal string) string {
	return testServer{
		global: extraGlobal + `
			log {
				output devicebridge_test_memory
				format json
				level DEBUG
			}`,
		deviceSite: `
			log {
				output devicebridge_test_memory
				format filter {
					wrap json
					request>uri query {
						delete mailbox
					}
				}
			}`,
	}.caddyfile()
}

// startPrivacyBridge loads privacyConfig and returns the test env.
func startPrivacyBridge(t *testing.T, extraGlobal string) *env {
	t.Helper()
	return startBridgeWith(t, privacyConfig(extraGlobal))
}

// sessionSecrets are the values a full session carries that must never be
// logged or stored: each contains a unique marker.
type sessionSecrets struct {
	token, badToken, upn       string
	subject, body              string
	fromAddr, toAddr, ccAddr   string
	fromName                   string
	sendSubject, sendBody      string
	sendTo, sendCc, sendBcc    string
	attachmentName, attachment string
	searchQuery                string
	markers                    map[string]string // what → marker, for the report
	// ran lists the optional ops the bridge implements and ran.
	ran []string
}

// streaming downloads an attachment and the MIME of message id and sends a
// MIME message, through the streaming endpoints when this version has
// them.
func (s *sessionSecrets) streaming(e *env, id string) {
	t := e.t
	t.Helper()
	base := strings.TrimSuffix(deviceURL, "/batch")
	do := func(method, path, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+s.token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := e.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}
	query := "?mailbox=" + url.QueryEscape(s.upn)
	status, raw := do("GET", "/messages/"+url.PathEscape(id)+"/mime"+query, "", "")
	if status == http.StatusNotFound && gjson.Get(raw, "error.message").String() == "no device API endpoint at this path" {
		return // not in this version
	}
	s.ran = append(s.ran, "streaming")
	require.Equal(t, http.StatusOK, status, raw)
	assert.Contains(t, raw, s.markers["subject"], "the MIME carries the subject")

	list := e.command(s.token, "attachments.list", map[string]any{"id": id})
	if aid := list.Get("data.attachments.0.id").String(); aid != "" {
		status, raw = do("GET", "/messages/"+url.PathEscape(id)+"/attachments/"+url.PathEscape(aid)+query, "", "")
		require.Equal(t, http.StatusOK, status, raw)
		assert.Equal(t, s.attachment, raw)
	}

	mimeMessage := "From: " + s.upn + "\r\nTo: " + s.sendTo + "\r\nSubject: " + s.sendSubject +
		"\r\nContent-Type: text/plain\r\n\r\n" + s.sendBody + "\r\n"
	status, raw = do("POST", "/mime/send", "message/rfc822", mimeMessage)
	assert.Equal(t, http.StatusOK, status, raw)
}

// optional runs a command of an op that may not be implemented yet: it
// must succeed, or answer "unknown op".
func (s *sessionSecrets) optional(e *env, op string, args map[string]any) {
	e.t.Helper()
	res := e.command(s.token, op, args)
	if res.Get("status").Int() == 200 {
		s.ran = append(s.ran, op)
		return
	}
	assert.Equal(e.t, "unknown op", res.Get("error.message").String(), "%s either works or is not implemented yet: %s", op, res.Raw)
}

// newSessionSecrets makes JWT-shaped tokens and content with fresh markers.
func newSessionSecrets() *sessionSecrets {
	s := &sessionSecrets{markers: map[string]string{}}
	mark := func(what string) string {
		m := "mk" + randomHex(8)
		s.markers[what] = m
		return m
	}
	jwt := func(marker string) string {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://graph.microsoft.com","scp":"Mail.ReadWrite Mail.Send"}`))
		return header + "." + payload + marker + "." + base64.RawURLEncoding.EncodeToString([]byte(randomHex(32)))
	}
	s.token = jwt(mark("token"))
	s.badToken = jwt(mark("bad token"))
	s.upn = mark("mailbox upn") + "@contoso.example"
	s.subject = "Quarterly numbers " + mark("subject")
	s.body = "Hello, the secret body " + mark("body") + " ends here."
	s.fromAddr = mark("from address") + "@fabrikam.example"
	s.fromName = "Sender " + mark("from name")
	s.toAddr = mark("to address") + "@contoso.example"
	s.ccAddr = mark("cc address") + "@contoso.example"
	s.sendSubject = "Re: " + mark("sent subject")
	s.sendBody = "Sent body " + mark("sent body")
	s.sendTo = mark("sent to") + "@fabrikam.example"
	s.sendCc = mark("sent cc") + "@fabrikam.example"
	s.sendBcc = mark("sent bcc") + "@fabrikam.example"
	s.attachmentName = mark("attachment name") + ".txt"
	s.attachment = "attachment content " + mark("attachment content")
	s.searchQuery = "invoice " + mark("search text")
	return s
}

// runFullSession drives the bridge the way a device does, over every path
// that handles a token or content: folder sync, paged mail sync, message
// bodies (text and html), a $batch, a shared-mailbox call, a send, and
// the error paths (no token, unknown token, tampered state, throttling,
// sync state gone, unknown message, upstream connection reset). It
// asserts each answer so that the session really happened.
func runFullSession(e *env, s *sessionSecrets) {
	t := e.t
	t.Helper()
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": s.token, "upn": s.upn, "displayName": "Private Person", "seed": "empty",
	}, http.StatusCreated)
	var ids []string
	for i := 0; i < 5; i++ {
		delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+s.token+"/deliver", map[string]any{
			"subject": fmt.Sprintf("%s #%d", s.subject, i),
			"from":    map[string]any{"name": s.fromName, "address": s.fromAddr},
			"to":      []any{map[string]any{"name": "To", "address": s.toAddr}},
			"cc":      []any{map[string]any{"name": "Cc", "address": s.ccAddr}},
			"body":    map[string]any{"contentType": "text", "content": s.body},
			"attachments": []any{map[string]any{
				"name": s.attachmentName, "contentType": "text/plain",
				"contentBytes": base64.StdEncoding.EncodeToString([]byte(s.attachment)),
			}},
		}, http.StatusCreated))
		ids = append(ids, delivered.Get("immutableId").String())
	}

	// Folder sync and a paged mail sync, then an incremental round.
	folders, _ := e.syncAll(s.token, "folders.sync", map[string]any{})
	require.NotEmpty(t, folders)
	changes, state := e.syncAll(s.token, "mail.sync", map[string]any{"folder": "inbox", "window": 2,
		"fields": []string{"subject", "from", "to", "cc", "bcc", "preview", "body"}})
	require.Len(t, changes, len(ids), "every delivered message is synced")
	assert.Contains(t, changes[0].Get("message.subject").String(), s.markers["subject"], "the session carries the subject")
	e.syncAll(s.token, "mail.sync", map[string]any{"folder": "inbox", "state": state})

	// Message bodies, text and html.
	for i, id := range ids {
		body := "text"
		if i%2 == 1 {
			body = "html"
		}
		res := e.command(s.token, "mail.get", map[string]any{"id": id, "body": body})
		require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
		assert.Contains(t, res.Get("data.message.body.content").String(), s.markers["body"])
		assert.Equal(t, s.fromAddr, res.Get("data.message.from.addr").String())
	}

	// A $batch of several commands, one of them invalid, one not found.
	resp, raw := e.batch(deviceURL, s.token, fmt.Sprintf(`{"commands":[
		{"id":"a","op":"folders.sync"},
		{"id":"b","op":"mail.get","args":{"id":%q,"body":"text"}},
		{"id":"c","op":"mail.sync","args":{"folder":"inbox","window":3}},
		{"id":"d","op":"mail.get","args":{"id":"AAMkAGNvbnRvc28tbm90LWZvdW5k"}},
		{"id":"e","op":"mail.sync","args":{"folder":"../%s"}}
	]}`, ids[0], s.markers["subject"]))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	assert.Equal(t, int64(200), gjson.GetBytes(raw, "results.1.status").Int(), "%s", raw)
	assert.Equal(t, int64(404), gjson.GetBytes(raw, "results.3.status").Int(), "%s", raw)
	assert.Equal(t, int64(400), gjson.GetBytes(raw, "results.4.status").Int(), "%s", raw)

	// The mailbox named explicitly, as for a shared mailbox.
	res := e.command(s.token, "mail.sync", map[string]any{"folder": "inbox", "mailbox": s.upn, "window": 10})
	assert.Equal(t, int64(200), res.Get("status").Int(), res.Raw)

	// A send, with recipients, subject, body and an attachment; a search;
	// an event with attendees and a contact, then the calendar and contact
	// syncs that return them. An op this version does not implement yet
	// answers "unknown op"; its content still passes through the bridge's
	// request path either way.
	s.optional(e, "mail.send", map[string]any{
		"to":      []any{map[string]any{"name": "Recipient", "addr": s.sendTo}},
		"cc":      []any{map[string]any{"addr": s.sendCc}},
		"bcc":     []any{map[string]any{"addr": s.sendBcc}},
		"subject": s.sendSubject,
		"body":    map[string]any{"type": "text", "content": s.sendBody},
		"attachments": []any{map[string]any{
			"name": s.attachmentName, "type": "text/plain",
			"data": base64.StdEncoding.EncodeToString([]byte(s.attachment)),
		}},
	})
	s.optional(e, "mail.search", map[string]any{"query": s.searchQuery})
	s.optional(e, "event.create", map[string]any{
		"subject": s.sendSubject, "start": "2026-11-03T10:00:00Z", "end": "2026-11-03T11:00:00Z",
		"location":  s.searchQuery,
		"body":      map[string]any{"type": "text", "content": s.sendBody},
		"attendees": []any{map[string]any{"name": s.fromName, "addr": s.sendTo}},
	})
	s.optional(e, "contact.create", map[string]any{
		"name": s.fromName, "emails": []any{map[string]any{"name": s.fromName, "addr": s.sendCc}},
		"mobile": "+1 555 0100", "company": s.searchQuery,
	})
	s.optional(e, "calendar.sync", map[string]any{"start": "2026-10-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"})
	s.optional(e, "contacts.sync", map[string]any{})

	// The streaming endpoints: an attachment's bytes and a message's MIME,
	// the mailbox named in the query as for a shared mailbox, and a MIME
	// send.
	s.streaming(e, ids[0])

	// Errors: no token, an unknown token, a tampered state.
	resp, _ = e.batch(deviceURL, "", `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, raw = e.batch(deviceURL, s.badToken, `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", raw)
	tampered := []byte(state)
	tampered[len(tampered)/2] ^= 0x01
	if tampered[len(tampered)/2] == state[len(state)/2] || !isBase64URL(tampered[len(tampered)/2]) {
		tampered[len(tampered)/2] = 'A'
		if state[len(state)/2] == 'A' {
			tampered[len(tampered)/2] = 'B'
		}
	}
	res = e.command(s.token, "mail.sync", map[string]any{"folder": "inbox", "state": string(tampered)})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), res.Raw)

	// The sync state gone upstream.
	first := e.command(s.token, "mail.sync", map[string]any{"folder": "inbox", "window": 1})
	e.control("POST", "/_emulator/mailboxes/"+s.token+"/expire-sync-states", nil, http.StatusOK)
	res = e.command(s.token, "mail.sync", map[string]any{"folder": "inbox", "state": first.Get("data.state").String()})
	assert.Equal(t, "resync_required", res.Get("error.code").String(), res.Raw)

	// The upstream connection reset mid-request, on a shared-mailbox path.
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": s.token, "pathContains": "/messages/", "action": "reset", "count": 1,
	}, http.StatusCreated)
	resp, raw = e.batch(deviceURL, s.token, fmt.Sprintf(`{"commands":[{"id":"c1","op":"mail.get","args":{"id":%q,"mailbox":%q}}]}`, ids[1], s.upn))
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "%s", raw)
	e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)

	// Throttled: the whole request (direct call) and one $batch item. The
	// governor honours Retry-After for the mailbox, so the second waits
	// for it; this comes last for that reason.
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": s.token, "pathContains": "/messages/delta", "status": 429,
		"code": "ApplicationThrottled", "message": "throttled " + s.markers["subject"], "retryAfter": "1", "count": 2,
	}, http.StatusCreated)
	resp, raw = e.batch(deviceURL, s.token, `{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox"}}]}`)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s", raw)
	time.Sleep(1100 * time.Millisecond)
	resp, raw = e.batch(deviceURL, s.token, `{"commands":[{"id":"a","op":"folders.sync"},{"id":"b","op":"mail.sync","args":{"folder":"inbox"}}]}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	assert.Equal(t, int64(429), gjson.GetBytes(raw, "results.1.status").Int(), "%s", raw)
	e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// waitForAccessLogs waits until the capture holds at least n access log
// entries of the device site: Caddy writes an access log entry after the
// response has gone out, so the last ones may trail the client.
func waitForAccessLogs(t *testing.T, n int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs := capturedLogs.String()
		if strings.Count(logs, `"logger":"http.log.access`) >= n || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNotLogged fails the test when secret occurs in logs, quoting (a
// bounded part of) the lines that carry it.
func assertNotLogged(t *testing.T, logs, what, secret string) {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, secret) {
			if len(line) > 1500 {
				line = line[:1500] + "…"
			}
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		if len(lines) > 3 {
			lines = lines[:3]
		}
		t.Errorf("the %s (%s) appears in the logs, e.g.:\n%s", what, secret, strings.Join(lines, "\n"))
	}
}

// TestIntegrationLogsCarryNoSecrets captures every log line Caddy writes
// during a full session — the bridge's own logs, reverse_proxy's and the
// TLS stack's at DEBUG level, and the device site's access log — and
// checks that no bearer token, address, subject, body or attachment of the
// session appears in them. A second run with Caddy's `log_credentials`
// server option proves the check would see a leaked token.
func TestIntegrationLogsCarryNoSecrets(t *testing.T) {
	e := startPrivacyBridge(t, "")
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	secrets := newSessionSecrets()
	capturedLogs.Reset()
	runFullSession(e, secrets)
	logs := waitForAccessLogs(t, 20)
	t.Logf("optional ops in the session: %v", secrets.ran)

	// The capture is real: it holds the bridge's debug lines, reverse_proxy's
	// round trips and the access log with its redacted Authorization header.
	require.Contains(t, logs, `"msg":"batch translated"`, "the bridge's debug log is captured")
	require.Contains(t, logs, `"msg":"upstream round trip failed"`, "the bridge's warning is captured")
	require.Contains(t, logs, `"msg":"upstream roundtrip"`, "reverse_proxy's debug log is captured")
	require.Contains(t, logs, `"logger":"http.log.access`, "the access log is captured")
	require.Contains(t, logs, `"Authorization":["REDACTED"]`, "the access log shows the header, redacted")
	require.Contains(t, logs, `"op":"mail.get"`, "commands are logged by op")

	// Nothing of the session is in any log line, at any level:
	// reverse_proxy's lines show the device endpoint as the request's uri,
	// never the upstream URI with its mailbox path and search query.
	require.Contains(t, logs, `"uri":"/device/v1/batch"`, "reverse_proxy's round trips show the device endpoint")
	for what, marker := range secrets.markers {
		assertNotLogged(t, logs, what, marker)
	}
	for what, secret := range map[string]string{"token": secrets.token, "bad token": secrets.badToken,
		"from address": secrets.fromAddr, "to address": secrets.toAddr} {
		assertNotLogged(t, logs, what, secret)
	}

	// The same check sees a leak: with log_credentials, Caddy's access log
	// shows the Authorization header and the token's marker is found. (The
	// reload gives the emulator fresh mailboxes, so the token is unknown
	// upstream by now; the access log shows it all the same.)
	e = startPrivacyBridge(t, "servers {\n\t\tlog_credentials\n\t}")
	capturedLogs.Reset()
	resp, raw := e.batch(deviceURL, secrets.token, `{"commands":[{"id":"c1","op":"folders.sync"}]}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", raw)
	assert.Contains(t, waitForAccessLogs(t, 1), secrets.markers["token"], "the log check detects a logged token")
}
