package caddymodule_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/devicebridge/caddy-devicebridge/emulator"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

func TestIntegrationMailUpdateMoveDelete(t *testing.T) {
	e := startMailBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	token := e.newMailbox("demo")
	changes, inboxState := e.syncAll(token, "mail.sync", map[string]any{"folder": "inbox", "window": 200})
	_, archiveState := e.syncAll(token, "mail.sync", map[string]any{"folder": "archive", "window": 200})
	_, deletedState := e.syncAll(token, "mail.sync", map[string]any{"folder": "deleteditems", "window": 200})
	ids := []string{changes[0].Get("message.id").String(), changes[1].Get("message.id").String(), changes[2].Get("message.id").String()}
	updatedID, movedID, deletedID := ids[0], ids[1], ids[2]

	data := ok(t, e.command(token, "mail.update", map[string]any{"id": updatedID, "read": false, "flag": "flagged", "cats": []string{"Red category"}}))
	assert.Equal(t, updatedID, data.Get("message.id").String())
	assert.False(t, data.Get("message.read").Bool())
	assert.Equal(t, "flagged", data.Get("message.flag").String())
	assert.Equal(t, `["Red category"]`, data.Get("message.cats").Raw)
	assert.False(t, data.Get("message.body").Exists(), "default fields leave out body")

	data = ok(t, e.command(token, "mail.move", map[string]any{"id": movedID, "to": "archive"}))
	assert.Equal(t, movedID, data.Get("message.id").String(), "immutable ids survive the move")
	archive := ok(t, e.command(token, "folder.get", map[string]any{"folder": "archive"}))
	assert.Equal(t, archive.Get("folder.id").String(), data.Get("message.folder").String())

	assert.Equal(t, "{}", ok(t, e.command(token, "mail.delete", map[string]any{"id": deletedID})).Raw)

	// The next sync of each touched folder sees the action.
	changes, _ = e.syncAll(token, "mail.sync", map[string]any{"folder": "inbox", "state": inboxState})
	upserts, deletes := syncChanges(t, changes)
	require.Contains(t, upserts, updatedID)
	assert.Equal(t, "flagged", upserts[updatedID].Get("flag").String())
	assert.False(t, upserts[updatedID].Get("read").Bool())
	assert.True(t, deletes[movedID], "moved away")
	assert.True(t, deletes[deletedID], "deleted")
	changes, _ = e.syncAll(token, "mail.sync", map[string]any{"folder": "archive", "state": archiveState})
	upserts, _ = syncChanges(t, changes)
	assert.Contains(t, upserts, movedID, "arrives in the Archive")
	changes, _ = e.syncAll(token, "mail.sync", map[string]any{"folder": "deleteditems", "state": deletedState})
	upserts, _ = syncChanges(t, changes)
	assert.Contains(t, upserts, deletedID, "a delete goes to Deleted Items")

	// Per-command errors.
	res := e.command(token, "mail.update", map[string]any{"id": deletedID[:len(deletedID)-4] + "QQQ=", "read": true})
	assert.Equal(t, "not_found", res.Get("error.code").String(), res.Raw)
	res = e.command(token, "mail.move", map[string]any{"id": updatedID, "to": "../inbox"})
	assert.Equal(t, "invalid_args", res.Get("error.code").String(), res.Raw)
}

func TestIntegrationMailSendReplyForward(t *testing.T) {
	e := startMailBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	alice, bob := e.newMailbox("empty"), e.newMailbox("empty")
	_, aliceSent := e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems"})
	_, aliceInbox := e.syncAll(alice, "mail.sync", map[string]any{"folder": "inbox"})
	_, bobInbox := e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox"})
	subject := "integration send " + randomHex(4)
	content := []byte("attachment bytes " + randomHex(8))

	e.clearUpstreamRequests()
	data := ok(t, e.command(alice, "mail.send", map[string]any{
		"to":          []any{map[string]any{"name": "Bob", "addr": mailboxUPN(bob)}},
		"bcc":         []any{"audit@fabrikam.example"},
		"subject":     subject,
		"body":        map[string]any{"type": "text", "content": "Hello Bob"},
		"attachments": []any{map[string]any{"name": "note.txt", "type": "text/plain", "data": base64.StdEncoding.EncodeToString(content)}},
	}))
	assert.Equal(t, "{}", data.Raw)
	sends := 0
	for _, r := range e.upstreamRequests().Array() {
		if strings.HasSuffix(r.Get("path").String(), "/sendMail") {
			sends++
			assert.Equal(t, "POST", r.Get("method").String())
		}
	}
	assert.Equal(t, 1, sends)

	changes, aliceSent := e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems", "state": aliceSent})
	upserts, _ := syncChanges(t, changes)
	_, found := bySubject(upserts, subject)
	assert.True(t, found, "the send lands in Sent Items")
	changes, bobInbox = e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox", "state": bobInbox})
	upserts, _ = syncChanges(t, changes)
	received, found := bySubject(upserts, subject)
	require.True(t, found, "and in the recipient's Inbox")
	assert.Equal(t, mailboxUPN(alice), received.Get("from.addr").String())
	assert.True(t, received.Get("att").Bool())

	// The attachment: listed, then downloaded through the streaming endpoint.
	receivedID := received.Get("id").String()
	list := ok(t, e.command(bob, "attachments.list", map[string]any{"id": receivedID}))
	require.Len(t, list.Get("attachments").Array(), 1, list.Raw)
	att := list.Get("attachments.0")
	assert.Equal(t, "note.txt", att.Get("name").String())
	assert.Equal(t, "text/plain", att.Get("type").String())
	assert.Equal(t, int64(len(content)), att.Get("size").Int())
	resp := e.get(deviceBase+"/messages/"+url.PathEscape(receivedID)+"/attachments/"+url.PathEscape(att.Get("id").String()), bob)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, content, body)
	assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	assert.Equal(t, fmt.Sprint(len(content)), resp.Header.Get("Content-Length"))
	assert.Empty(t, resp.Header.Get("OData-Version"), "no other upstream header reaches the device")

	// Reply (to Alice) and forward (to Alice) in one $batch; a reply-all
	// with save defaults.
	resp2, raw := e.batch(deviceURL, bob, fmt.Sprintf(`{"commands":[
		{"id":"r","op":"mail.reply","args":{"id":%q,"comment":"Thanks"}},
		{"id":"f","op":"mail.forward","args":{"id":%q,"to":[%q],"comment":"FYI"}}]}`, receivedID, receivedID, mailboxUPN(alice)))
	require.Equal(t, http.StatusOK, resp2.StatusCode, "%s", raw)
	for i := 0; i < 2; i++ {
		r := gjson.GetBytes(raw, fmt.Sprintf("results.%d", i))
		assert.Equal(t, int64(200), r.Get("status").Int(), r.Raw)
		assert.Equal(t, "{}", r.Get("data").Raw)
	}
	ok(t, e.command(bob, "mail.reply", map[string]any{"id": receivedID, "comment": "To all", "all": true}))
	changes, _ = e.syncAll(alice, "mail.sync", map[string]any{"folder": "inbox", "state": aliceInbox})
	upserts, _ = syncChanges(t, changes)
	var subjects []string
	for _, m := range upserts {
		subjects = append(subjects, m.Get("subject").String())
	}
	assert.ElementsMatch(t, []string{"RE: " + subject, "FW: " + subject, "RE: " + subject}, subjects)

	// save: false keeps Sent Items unchanged.
	ok(t, e.command(alice, "mail.send", map[string]any{"to": []any{mailboxUPN(bob)}, "subject": "unsaved", "body": map[string]any{"content": ""}, "save": false}))
	changes, _ = e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems", "state": aliceSent})
	assert.Empty(t, changes)
	changes, _ = e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox", "state": bobInbox})
	upserts, _ = syncChanges(t, changes)
	_, found = bySubject(upserts, "unsaved")
	assert.True(t, found)

	// Per-command validation never reaches upstream.
	e.clearUpstreamRequests()
	res := e.command(alice, "mail.send", map[string]any{"to": []any{"not-an-address"}, "subject": "x", "body": map[string]any{"content": ""}})
	assert.Equal(t, "invalid_args", res.Get("error.code").String())
	assert.Empty(t, e.upstreamRequests().Array())
}

func TestIntegrationMailSearch(t *testing.T) {
	e := startMailBridge(t)
	token := e.newMailbox("demo")
	e.clearUpstreamRequests()
	data := ok(t, e.command(token, "mail.search", map[string]any{"query": "Design assets", "fields": []string{"subject", "att"}}))
	found := false
	for _, m := range data.Get("messages").Array() {
		if m.Get("subject").String() == emulator.DemoLargeAttachmentSubject {
			found = true
			assert.True(t, m.Get("att").Bool())
		}
	}
	assert.True(t, found, "%s", data.Raw)
	requests := e.upstreamRequests().Array()
	require.Len(t, requests, 1)
	assert.Equal(t, "/v1.0/me/messages", requests[0].Get("path").String())
	assert.Contains(t, requests[0].Get("query").String(), "$search=%22Design%20assets%22")

	// Paging with a sealed state: the pages do not overlap.
	first := ok(t, e.command(token, "mail.search", map[string]any{"query": "review", "window": 5}))
	require.True(t, first.Get("more").Bool(), first.Raw)
	require.Len(t, first.Get("messages").Array(), 5)
	second := ok(t, e.command(token, "mail.search", map[string]any{"query": "review", "state": first.Get("state").String()}))
	seen := map[string]bool{}
	for _, m := range first.Get("messages").Array() {
		seen[m.Get("id").String()] = true
	}
	for _, m := range second.Get("messages").Array() {
		assert.False(t, seen[m.Get("id").String()], "pages do not repeat messages")
	}
	res := e.command(token, "mail.search", map[string]any{"query": "other", "state": first.Get("state").String()})
	assert.Equal(t, "invalid_state", res.Get("error.code").String(), "a state is bound to its query")

	// A query trying to break out of the phrase stays one phrase: it is
	// searched for literally (nothing matches) instead of changing the query.
	data = ok(t, e.command(token, "mail.search", map[string]any{"query": `x" OR subject:"review`}))
	assert.Empty(t, data.Get("messages").Array(), data.Raw)
	assert.False(t, data.Get("more").Bool())

	// A new message is searchable.
	e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{"subject": "zebra quarterly " + token}, http.StatusCreated)
	data = ok(t, e.command(token, "mail.search", map[string]any{"query": "zebra quarterly"}))
	assert.Len(t, data.Get("messages").Array(), 1)
}

func TestIntegrationStreamDownloads(t *testing.T) {
	e := startMailBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	token := e.newMailbox("demo")
	data := ok(t, e.command(token, "mail.search", map[string]any{"query": "Design assets", "fields": []string{"subject"}}))
	var msgID string
	for _, m := range data.Get("messages").Array() {
		if m.Get("subject").String() == emulator.DemoLargeAttachmentSubject {
			msgID = m.Get("id").String()
		}
	}
	require.NotEmpty(t, msgID)
	list := ok(t, e.command(token, "attachments.list", map[string]any{"id": msgID}))
	var bigID string
	var bigSize int64
	for _, a := range list.Get("attachments").Array() {
		if a.Get("size").Int() > bigSize {
			bigID, bigSize = a.Get("id").String(), a.Get("size").Int()
		}
	}
	require.Greater(t, bigSize, int64(4<<20), "the demo seed has an attachment of several MiB")

	want := sha256.Sum256(e.graph(token, "GET", "/me/messages/"+msgID+"/attachments/"+bigID+"/$value", nil, http.StatusOK))
	resp := e.get(deviceBase+"/messages/"+url.PathEscape(msgID)+"/attachments/"+url.PathEscape(bigID), token)
	got := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	assert.Equal(t, fmt.Sprint(bigSize), resp.Header.Get("Content-Length"))
	assert.Equal(t, want, sha256.Sum256(got))

	// The message as MIME.
	resp = e.get(deviceBase+"/messages/"+url.PathEscape(msgID)+"/mime", token)
	mimeBody := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", mimeBody)
	assert.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(mimeBody), "Subject: ")
	assert.Contains(t, string(mimeBody), "design-assets.zip")

	// Errors are device error objects.
	cases := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"unknown attachment", "GET", "/messages/" + url.PathEscape(msgID) + "/attachments/" + bigID[:len(bigID)-4] + "QQQ=", token, 404, "not_found"},
		{"unknown message", "GET", "/messages/" + url.PathEscape(msgID[:len(msgID)-4]+"QQQ=") + "/mime", token, 404, "not_found"},
		{"bad message id", "GET", "/messages/a%2Fb/mime", token, 400, "invalid_args"},
		{"bad attachment id", "GET", "/messages/" + url.PathEscape(msgID) + "/attachments/a%2Fb", token, 400, "invalid_args"},
		{"bad mailbox", "GET", "/messages/" + url.PathEscape(msgID) + "/mime?mailbox=x", token, 400, "invalid_args"},
		{"other mailbox denied", "GET", "/messages/" + url.PathEscape(msgID) + "/mime?mailbox=adele@contoso.example", token, 403, "forbidden"},
		{"no token", "GET", "/messages/" + url.PathEscape(msgID) + "/mime", "", 401, "unauthenticated"},
		{"unknown token", "GET", "/messages/" + url.PathEscape(msgID) + "/mime", "nobody", 401, "unauthenticated"},
		{"wrong method", "DELETE", "/messages/" + url.PathEscape(msgID) + "/mime", token, 405, "method_not_allowed"},
		{"unknown endpoint", "GET", "/messages/" + url.PathEscape(msgID) + "/nope", token, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, deviceBase+tc.path, nil)
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := e.client.Do(req)
			require.NoError(t, err)
			body := readAll(t, resp)
			assert.Equal(t, tc.status, resp.StatusCode, "%s", body)
			assert.Equal(t, tc.code, gjson.GetBytes(body, "error.code").String(), "%s", body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		})
	}
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/device/v1/messages/%s/mime", plainPort, url.PathEscape(msgID)))
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "plaintext is refused")
	resp.Body.Close()
}

// TestIntegrationLargeAttachmentBoundedMemory streams a 64 MiB attachment
// through the bridge into a hash while sampling the Go heap: the bytes
// match and the heap does not grow with the attachment.
func TestIntegrationLargeAttachmentBoundedMemory(t *testing.T) {
	const size = 64 << 20
	const seed = 0x64646464
	const heapGrowthLimit = 16 << 20
	e := startMailBridge(t)
	token := e.newMailbox("empty")
	delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"subject":     "huge",
		"attachments": []any{map[string]any{"name": "huge.bin", "contentType": "application/octet-stream", "generatedSize": size, "generatedSeed": seed}},
	}, http.StatusCreated))
	msgID := delivered.Get("immutableId").String()
	list := ok(t, e.command(token, "attachments.list", map[string]any{"id": msgID}))
	attID := list.Get("attachments.0.id").String()
	require.Equal(t, int64(size), list.Get("attachments.0.size").Int())

	wantHash := sha256.New()
	_, err := io.Copy(wantHash, emulator.GeneratedAttachmentReader(seed, size))
	require.NoError(t, err)

	heap := watchHeap(t)

	resp := e.get(deviceBase+"/messages/"+url.PathEscape(msgID)+"/attachments/"+url.PathEscape(attID), token)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, fmt.Sprint(size), resp.Header.Get("Content-Length"))
	gotHash := sha256.New()
	n, err := io.CopyBuffer(gotHash, resp.Body, make([]byte, 32<<10))
	resp.Body.Close()
	baseline, peak := heap.stop()
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, hex.EncodeToString(wantHash.Sum(nil)), hex.EncodeToString(gotHash.Sum(nil)), "the bytes arrive unchanged")
	growth := int64(peak) - int64(baseline)
	t.Logf("heap in use: baseline %d MiB, peak %d MiB, growth %d KiB for a %d MiB attachment",
		baseline>>20, peak>>20, growth>>10, size>>20)
	assert.Less(t, growth, int64(heapGrowthLimit), "the heap stays bounded while 64 MiB stream through")
}

func TestIntegrationMIMESend(t *testing.T) {
	e := startMailBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	alice, bob := e.newMailbox("empty"), e.newMailbox("empty")
	_, bobInbox := e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox"})
	_, aliceSent := e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems"})
	subject := "mime send " + randomHex(4)
	raw := "From: Alice <" + mailboxUPN(alice) + ">\r\nTo: Bob <" + mailboxUPN(bob) + ">\r\nSubject: " + subject +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("Hello over MIME.\r\n", 5000)

	post := func(base, token, contentType string, body io.Reader, length int64) (*http.Response, []byte) {
		req, err := http.NewRequest("POST", base+"/mime/send", body)
		require.NoError(t, err)
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := e.client.Do(req)
		require.NoError(t, err)
		return resp, readAll(t, resp)
	}
	e.clearUpstreamRequests()
	resp, body := post(deviceBase, alice, "message/rfc822", strings.NewReader(raw), int64(len(raw)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "{}", string(body))
	requests := e.upstreamRequests().Array()
	require.Len(t, requests, 1)
	assert.Equal(t, "/v1.0/me/sendMail", requests[0].Get("path").String())
	assert.Equal(t, "text/plain", requests[0].Get("headers.Content-Type.0").String())

	changes, _ := e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox", "state": bobInbox})
	upserts, _ := syncChanges(t, changes)
	_, found := bySubject(upserts, subject)
	assert.True(t, found, "delivered")
	changes, _ = e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems", "state": aliceSent})
	upserts, _ = syncChanges(t, changes)
	_, found = bySubject(upserts, subject)
	assert.True(t, found, "saved")

	// Chunked upload (no Content-Length) works too.
	resp, body = post(deviceBase, alice, "message/rfc822", io.MultiReader(strings.NewReader(raw)), -1)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)

	e.clearUpstreamRequests()
	big := bytes.Repeat([]byte("x"), 4<<20+1)
	for _, tc := range []struct {
		name, token, contentType string
		body                     io.Reader
		length                   int64
		status                   int
		code                     string
	}{
		{"wrong media type", alice, "text/plain", strings.NewReader(raw), int64(len(raw)), 415, "unsupported_media_type"},
		{"no token", "", "message/rfc822", strings.NewReader(raw), int64(len(raw)), 401, "unauthenticated"},
		{"too large", alice, "message/rfc822", bytes.NewReader(big), int64(len(big)), 413, "request_too_large"},
		{"too large chunked", alice, "message/rfc822", io.MultiReader(bytes.NewReader(big)), -1, 413, "request_too_large"},
		{"empty", alice, "message/rfc822", strings.NewReader(""), 0, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(deviceBase, tc.token, tc.contentType, tc.body, tc.length)
			assert.Equal(t, tc.status, resp.StatusCode, "%s", body)
			assert.Equal(t, tc.code, gjson.GetBytes(body, "error.code").String())
		})
	}
	assert.LessOrEqual(t, len(e.upstreamRequests().Array()), 1, "only the chunked oversize upload may start upstream, and it is cut off")
	req, _ := http.NewRequest("GET", deviceBase+"/mime/send", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestIntegrationNoDuplicateSend: the upstream reads a send, performs it,
// then drops the connection. Through a bridge whose reverse_proxy is set
// to retry (even naming POST in its retry match), the device gets 502
// upstream_error and Graph received the send exactly once. A GET on the
// same bridge is retried, proving retries are on.
func TestIntegrationNoDuplicateSend(t *testing.T) {
	e := startMailBridge(t)
	alice := e.newMailbox("empty")
	defer e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)
	countSends := func(path string) int {
		n := 0
		for _, r := range e.upstreamRequests().Array() {
			if r.Get("method").String() == "POST" && strings.HasSuffix(r.Get("path").String(), path) {
				n++
			}
		}
		return n
	}
	sentSubjects := func() []string {
		changes, _ := e.syncAll(alice, "mail.sync", map[string]any{"folder": "sentitems"})
		var out []string
		for _, c := range changes {
			out = append(out, c.Get("message.subject").String())
		}
		return out
	}

	// mail.send (a translated POST).
	e.clearUpstreamRequests()
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": alice, "method": "POST", "pathContains": "/sendMail", "action": "reset_after_processing", "count": 5,
	}, http.StatusCreated)
	resp, body := e.batch(retryDeviceURL, alice, `{"commands":[{"id":"c1","op":"mail.send","args":{"to":["x@fabrikam.example"],"subject":"exactly once","body":{"content":"hi"}}}]}`)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "%s", body)
	assert.Equal(t, "upstream_error", gjson.GetBytes(body, "error.code").String())
	assert.Equal(t, 1, countSends("/sendMail"), "Graph received the send once")
	assert.Equal(t, []string{"exactly once"}, sentSubjects(), "and sent it once")

	// mime/send (a streamed POST).
	e.clearUpstreamRequests()
	raw := "To: x@fabrikam.example\r\nSubject: mime once\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	req, err := http.NewRequest("POST", retryBase+"/mime/send", strings.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set("Authorization", "Bearer "+alice)
	mresp, err := e.client.Do(req)
	require.NoError(t, err)
	mbody := readAll(t, mresp)
	assert.Equal(t, http.StatusBadGateway, mresp.StatusCode, "%s", mbody)
	assert.Equal(t, "upstream_error", gjson.GetBytes(mbody, "error.code").String())
	assert.Equal(t, 1, countSends("/sendMail"))
	assert.ElementsMatch(t, []string{"exactly once", "mime once"}, sentSubjects())
	e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)

	// A GET broken the same way is retried: retries are configured.
	e.clearUpstreamRequests()
	e.control("POST", "/_emulator/faults", map[string]any{
		"token": alice, "method": "GET", "pathContains": "/mailFolders/inbox", "action": "reset", "count": 1,
	}, http.StatusCreated)
	resp, body = e.batch(retryDeviceURL, alice, `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, int64(200), gjson.GetBytes(body, "results.0.status").Int(), "%s", body)
	assert.Len(t, e.upstreamRequests().Array(), 2, "the GET was retried once")
}

// The device API allows 3 MiB of attachments on one mail.send; in base64
// that is 4 MiB of envelope, which the default max_request_body must take
// along with the rest of the envelope.
func TestIntegrationMailSendLargestAttachmentsByDefault(t *testing.T) {
	e := startBridge(t) // the default limits
	alice, bob := e.newMailbox("empty"), e.newMailbox("empty")
	_, bobInbox := e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox"})
	big := make([]byte, translate.MaxSendAttachmentBytes-(1<<20))
	small := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	_, _ = rand.Read(small)
	subject := "largest send " + randomHex(4)

	data := ok(t, e.command(alice, "mail.send", map[string]any{
		"to":      []any{map[string]any{"name": "Bob", "addr": mailboxUPN(bob)}},
		"subject": subject,
		"body":    map[string]any{"type": "text", "content": strings.Repeat("Two attachments, 3 MiB in all. ", 1000)},
		"attachments": []any{
			map[string]any{"name": "big.bin", "data": base64.StdEncoding.EncodeToString(big)},
			map[string]any{"name": "small.bin", "data": base64.StdEncoding.EncodeToString(small)},
		},
	}))
	assert.Equal(t, "{}", data.Raw)

	changes, _ := e.syncAll(bob, "mail.sync", map[string]any{"folder": "inbox", "state": bobInbox})
	upserts, _ := syncChanges(t, changes)
	received, found := bySubject(upserts, subject)
	require.True(t, found, "the message reaches the recipient")
	list := ok(t, e.command(bob, "attachments.list", map[string]any{"id": received.Get("id").String()}))
	sizes := map[string]int64{}
	for _, att := range list.Get("attachments").Array() {
		sizes[att.Get("name").String()] = att.Get("size").Int()
	}
	assert.Equal(t, map[string]int64{"big.bin": int64(len(big)), "small.bin": int64(len(small))}, sizes)
}
