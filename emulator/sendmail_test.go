package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// folderMessages lists a folder's messages (subject, from, to, bcc, isRead).
func (e *testEnv) folderMessages(token, folder string) []map[string]any {
	e.t.Helper()
	return e.list(req{path: "/v1.0/me/mailFolders/" + folder + "/messages?$top=100&$select=subject,from,toRecipients,ccRecipients,bccRecipients,isRead,hasAttachments,body", token: token,
		headers: prefer(`outlook.body-content-type="text"`)})
}

// list reads one page of a (non-delta) list.
func (e *testEnv) list(r req) []map[string]any {
	e.t.Helper()
	return e.listPage(r).Value
}

func (e *testEnv) listPage(r req) deltaPage {
	e.t.Helper()
	res := e.do(r)
	require.Equal(e.t, http.StatusOK, res.status, "GET %s: %s", r.path, res.body)
	var p deltaPage
	require.NoError(e.t, json.Unmarshal(res.body, &p))
	return p
}

func subjects(items []map[string]any) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it["subject"].(string))
	}
	return out
}

func TestSendMailJSON(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	e.newMailbox("bob", "empty")
	e.newMailbox("carol", "empty")
	res := e.do(req{method: "POST", path: "/v1.0/me/sendMail", token: "alice", body: `{"message":{"subject":"Lunch?","body":{"contentType":"Text","content":"At noon"},
		"toRecipients":[{"emailAddress":{"name":"Bob","address":"BOB@contoso.example"}},{"emailAddress":{"address":"ext@fabrikam.example"}}],
		"bccRecipients":[{"emailAddress":{"address":"carol@contoso.example"}}],
		"attachments":[{"@odata.type":"#microsoft.graph.fileAttachment","name":"menu.txt","contentType":"text/plain","contentBytes":"` + base64.StdEncoding.EncodeToString([]byte("soup")) + `"}]}}`})
	require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	assert.Empty(t, res.body)

	sent := e.folderMessages("alice", "sentitems")
	require.Len(t, sent, 1)
	assert.Equal(t, "Lunch?", sent[0]["subject"])
	assert.Equal(t, true, sent[0]["isRead"])
	assert.Len(t, sent[0]["bccRecipients"], 1, "the sender's copy keeps bcc")

	inbox := e.folderMessages("bob", "inbox")
	require.Len(t, inbox, 1, "delivered to the addressed emulator mailbox")
	assert.Equal(t, false, inbox[0]["isRead"])
	assert.Equal(t, true, inbox[0]["hasAttachments"])
	assert.Empty(t, inbox[0]["bccRecipients"], "recipients never see bcc")
	assert.Equal(t, "alice@contoso.example", inbox[0]["from"].(map[string]any)["emailAddress"].(map[string]any)["address"])
	assert.Len(t, e.folderMessages("carol", "inbox"), 1, "bcc recipients get it too")

	// saveToSentItems false (also in the documented string form).
	for _, save := range []string{`false`, `"false"`} {
		res = e.do(req{method: "POST", path: "/v1.0/me/sendMail", token: "alice", body: `{"message":{"subject":"quiet","toRecipients":[{"emailAddress":{"address":"bob@contoso.example"}}]},"saveToSentItems":` + save + `}`})
		require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	}
	assert.Len(t, e.folderMessages("alice", "sentitems"), 1, "not saved")
	assert.Len(t, e.folderMessages("bob", "inbox"), 3)

	for _, bad := range []struct{ body, code string }{
		{`{"message":{"subject":"x"}}`, "ErrorInvalidRecipients"},
		{`{"message":{"toRecipients":[{"emailAddress":{"address":"nope"}}]}}`, "ErrorInvalidRecipients"},
		{`{"subject":"x"}`, "BadRequest"},
		{`{"message":{"toRecipients":[{"emailAddress":{"address":"a@b.example"}}],"attachments":[{"name":"a","contentBytes":"!!"}]}}`, "ErrorInvalidRequest"},
	} {
		res = e.do(req{method: "POST", path: "/v1.0/me/sendMail", token: "alice", body: bad.body})
		assert.Equal(t, http.StatusBadRequest, res.status, bad.body)
		assert.Equal(t, bad.code, graphErrorCode(t, res), bad.body)
	}
}

func TestSendMailMIME(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	e.newMailbox("bob", "empty")
	raw := "From: Alice <alice@contoso.example>\r\nTo: Bob <bob@contoso.example>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("%PDF-1.4")) + "\r\n--b1--\r\n"
	res := e.do(req{method: "POST", path: "/v1.0/me/sendMail", token: "alice", headers: http.Header{"Content-Type": {"text/plain"}},
		body: base64.StdEncoding.EncodeToString([]byte(raw))})
	require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	inbox := e.folderMessages("bob", "inbox")
	require.Len(t, inbox, 1)
	assert.Equal(t, "Grüße", inbox[0]["subject"])
	assert.Equal(t, true, inbox[0]["hasAttachments"])
	assert.Contains(t, inbox[0]["body"].(map[string]any)["content"], "Hello Bob")
	assert.Len(t, e.folderMessages("alice", "sentitems"), 1)

	res = e.do(req{method: "POST", path: "/v1.0/me/sendMail", token: "alice", headers: http.Header{"Content-Type": {"text/plain"}}, body: "not*base64!"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "ErrorMimeContentInvalidBase64String", graphErrorCode(t, res))
}

func TestReplyAndForward(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	e.newMailbox("bob", "empty")
	e.newMailbox("carol", "empty")
	d := e.deliver("bob", `{"subject":"Plan","from":{"name":"Alice","address":"alice@contoso.example"},
		"to":[{"name":"Bob","address":"bob@contoso.example"},{"name":"Carol","address":"carol@contoso.example"}],
		"attachments":[{"name":"x.txt","contentBytes":"eA=="}]}`)
	id := d["immutableId"].(string)

	res := e.do(req{method: "POST", path: "/v1.0/me/messages/" + id + "/reply", token: "bob", body: `{"comment":"Sounds good"}`})
	require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	got := e.folderMessages("alice", "inbox")
	require.Len(t, got, 1)
	assert.Equal(t, "RE: Plan", got[0]["subject"])
	assert.Contains(t, got[0]["body"].(map[string]any)["content"], "Sounds good")
	assert.Empty(t, e.folderMessages("carol", "inbox"), "reply goes to the sender only")

	res = e.do(req{method: "POST", path: "/v1.0/me/messages/" + id + "/replyAll", token: "bob", body: `{"comment":"All"}`})
	require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	assert.Len(t, e.folderMessages("alice", "inbox"), 2)
	assert.Len(t, e.folderMessages("carol", "inbox"), 1)
	assert.Empty(t, e.folderMessages("bob", "inbox")[1:], "reply-all leaves out the replier")

	res = e.do(req{method: "POST", path: "/v1.0/me/messages/" + id + "/forward", token: "bob", body: `{"comment":"FYI","toRecipients":[{"emailAddress":{"address":"carol@contoso.example"}}]}`})
	require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
	carol := e.folderMessages("carol", "inbox")
	require.Len(t, carol, 2)
	assert.Contains(t, subjects(carol), "FW: Plan")
	assert.Len(t, e.folderMessages("bob", "sentitems"), 3, "replies and forwards are saved")

	for _, bad := range []string{`{"comment":"x"}`, `{"comment":"x","toRecipients":[{"emailAddress":{"address":"a@b.example"}}],"message":{"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]}}`} {
		res = e.do(req{method: "POST", path: "/v1.0/me/messages/" + id + "/forward", token: "bob", body: bad})
		assert.Equal(t, http.StatusBadRequest, res.status, bad)
	}
	res = e.do(req{method: "POST", path: "/v1.0/me/messages/" + id + "/reply", token: "bob", body: `{"comment":"x","message":{"body":{"content":"y"}}}`})
	assert.Equal(t, http.StatusBadRequest, res.status)
	res = e.do(req{method: "POST", path: "/v1.0/me/messages/" + id[:len(id)-6] + "ZZZZZ=" + "/reply", token: "bob", body: `{"comment":"x"}`})
	assert.Equal(t, http.StatusNotFound, res.status)
}

func TestSearchMessages(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	e.deliver("alice", `{"subject":"Budget 2027","body":{"content":"numbers"}}`)
	e.deliver("alice", `{"subject":"Lunch","body":{"content":"the budget is tight"},"folder":"archive"}`)
	e.deliver("alice", `{"subject":"He said \"hi\"","from":{"name":"Zed Budgetson","address":"zed@fabrikam.example"}}`)
	e.deliver("alice", `{"subject":"Other"}`)
	search := func(q string) resp {
		return e.do(req{path: "/v1.0/me/messages?$select=subject&$search=" + url.QueryEscape(q), token: "alice"})
	}
	cases := []struct {
		q    string
		want []string
	}{
		{`"budget"`, []string{"Budget 2027", "Lunch", `He said "hi"`}},
		{`budget`, []string{"Budget 2027", "Lunch", `He said "hi"`}},
		{`"subject:budget"`, []string{"Budget 2027"}},
		{`"from:zed"`, []string{`He said "hi"`}},
		{`"said \"hi\""`, []string{`He said "hi"`}},
		{`"\"hi\" OR"`, nil},
		{`"nothing-matches"`, nil},
	}
	for _, tc := range cases {
		res := search(tc.q)
		require.Equal(t, http.StatusOK, res.status, "%s: %s", tc.q, res.body)
		var p deltaPage
		require.NoError(t, json.Unmarshal(res.body, &p))
		assert.ElementsMatch(t, tc.want, subjects(p.Value), tc.q)
	}
	for _, bad := range []string{`"unterminated`, `"a\"`, `two words`} {
		assert.Equal(t, http.StatusBadRequest, search(bad).status, bad)
	}
	res := e.do(req{path: "/v1.0/me/messages?$search=%22x%22&$filter=receivedDateTime%20ge%202020-01-01T00:00:00Z", token: "alice"})
	assert.Equal(t, http.StatusBadRequest, res.status)

	// Paging keeps the $search.
	p := e.listPage(req{path: "/v1.0/me/messages?$search=%22budget%22&$top=2", token: "alice"})
	require.Len(t, p.Value, 2)
	require.NotEmpty(t, p.NextLink)
	p = e.listPage(req{path: p.NextLink, token: "alice"})
	assert.Len(t, p.Value, 1)
	assert.Empty(t, p.NextLink)
}

func TestGeneratedAttachments(t *testing.T) {
	for _, size := range []int{0, 1, 7, 8, 9, 1000, 70001} {
		want := generateAttachmentBytes(0x5eed0013, size)
		got, err := io.ReadAll(io.LimitReader(GeneratedAttachmentReader(0x5eed0013, int64(size)), int64(size)+10))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "size %d", size)
	}
	// Odd read sizes give the same stream.
	r := GeneratedAttachmentReader(3, 100)
	var parts []byte
	buf := make([]byte, 3)
	for {
		n, err := r.Read(buf)
		parts = append(parts, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	assert.Equal(t, generateAttachmentBytes(3, 100), parts)

	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	d := e.deliver("alice", `{"subject":"big","attachments":[{"name":"big.bin","generatedSize":3000000,"generatedSeed":42}]}`)
	list := e.do(req{path: "/v1.0/me/messages/" + d["immutableId"].(string) + "/attachments", token: "alice"}).json(t)
	att := list["value"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 3000000, att["size"])
	res := e.do(req{path: "/v1.0/me/messages/" + d["immutableId"].(string) + "/attachments/" + att["id"].(string) + "/$value", token: "alice"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "3000000", res.header.Get("Content-Length"))
	h := sha256.New()
	_, _ = io.Copy(h, GeneratedAttachmentReader(42, 3000000))
	assert.Equal(t, h.Sum(nil), sha256Sum(res.body))

	bad := e.do(req{method: "POST", path: "/_emulator/mailboxes/alice/deliver", body: `{"subject":"x","attachments":[{"name":"a","generatedSize":5,"contentBytes":"eA=="}]}`})
	assert.Equal(t, http.StatusBadRequest, bad.status)
}

func TestFaultResetAfterProcessing(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("alice", "empty")
	res := e.do(req{method: "POST", path: "/_emulator/faults", body: `{"token":"alice","method":"POST","pathContains":"/sendMail","action":"reset_after_processing"}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	hr, _ := http.NewRequest("POST", e.ts.URL+"/v1.0/me/sendMail", strings.NewReader(`{"message":{"subject":"once","toRecipients":[{"emailAddress":{"address":"x@fabrikam.example"}}]}}`))
	hr.Header.Set("Authorization", "Bearer alice")
	hr.Header.Set("Content-Type", "application/json")
	_, err := e.ts.Client().Do(hr)
	require.Error(t, err, "the connection is dropped after the send")
	assert.Equal(t, []string{"once"}, subjects(e.folderMessages("alice", "sentitems")), "but the send took effect")
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
