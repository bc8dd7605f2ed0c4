package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetMessageBodyPreference(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("m1", "empty")
	d := e.deliver("m1", `{"subject":"html one","body":{"contentType":"html","content":"<html><body><p>Hello <b>there</b> &amp; welcome</p><p>Line two</p></body></html>"}}`)
	id := d["id"].(string)
	tests := []struct {
		name     string
		prefer   string
		ctype    string
		contains string
		applied  string
	}{
		{"default html", "", "html", "<b>there</b>", ""},
		{"text", `outlook.body-content-type="text"`, "text", "Hello there & welcome\r\nLine two", `outlook.body-content-type="text"`},
		{"html explicit", `outlook.body-content-type=html`, "html", "<b>there</b>", `outlook.body-content-type="html"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.prefer != "" {
				h = prefer(tt.prefer)
			}
			res := e.do(req{path: "/v1.0/me/messages/" + id + "?$select=body,bodyPreview", token: "m1", headers: h})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			v := res.json(t)
			body := v["body"].(map[string]any)
			assert.Equal(t, tt.ctype, body["contentType"])
			assert.Contains(t, body["content"], tt.contains)
			assert.Equal(t, tt.applied, res.header.Get("Preference-Applied"))
			assert.Equal(t, "Hello there & welcome Line two", v["bodyPreview"])
			assert.Contains(t, v["@odata.context"], "/$metadata#users('")
		})
	}
	// Text stored, html asked: converted.
	d2 := e.deliver("m1", `{"subject":"text one","body":{"contentType":"text","content":"a < b\nnext"}}`)
	res := e.do(req{path: "/v1.0/me/messages/" + d2["id"].(string) + "?$select=body", token: "m1"})
	assert.Contains(t, res.json(t)["body"].(map[string]any)["content"], "a &lt; b<br>")
}

func TestPatchMessage(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("m2", "empty")
	id := e.deliver("m2", `{"subject":"patch me"}`)["id"].(string)
	tests := []struct {
		name   string
		body   string
		status int
		check  func(t *testing.T, v map[string]any)
	}{
		{"isRead", `{"isRead":true}`, 200, func(t *testing.T, v map[string]any) { assert.Equal(t, true, v["isRead"]) }},
		{"flag", `{"flag":{"flagStatus":"flagged"}}`, 200, func(t *testing.T, v map[string]any) {
			assert.Equal(t, "flagged", v["flag"].(map[string]any)["flagStatus"])
		}},
		{"complete", `{"flag":{"flagStatus":"Complete"}}`, 200, func(t *testing.T, v map[string]any) {
			f := v["flag"].(map[string]any)
			assert.Equal(t, "complete", f["flagStatus"])
			assert.Contains(t, f, "completedDateTime")
		}},
		{"categories and importance", `{"categories":["Red category"],"importance":"HIGH"}`, 200, func(t *testing.T, v map[string]any) {
			assert.Equal(t, []any{"Red category"}, v["categories"])
			assert.Equal(t, "high", v["importance"])
		}},
		{"bad importance", `{"importance":"urgent"}`, 400, nil},
		{"bad isRead type", `{"isRead":"yes"}`, 400, nil},
		{"unknown property", `{"colour":"red"}`, 400, nil},
		{"subject of a sent message", `{"subject":"new"}`, 400, nil},
		{"due without start", `{"flag":{"flagStatus":"flagged","dueDateTime":{"dateTime":"2026-01-01T00:00:00","timeZone":"UTC"}}}`, 400, nil},
		{"not json", `{`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/" + id, token: "m2", body: tt.body})
			require.Equal(t, tt.status, res.status, "%s", res.body)
			if tt.check != nil {
				tt.check(t, res.json(t))
			}
		})
	}
	// If-Match with a stale change key.
	res := e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/" + id, token: "m2", body: `{"isRead":false}`, headers: http.Header{"If-Match": {`W/"stale"`}}})
	assert.Equal(t, http.StatusPreconditionFailed, res.status)
}

func TestDeleteGoesToDeletedItemsThenAway(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("m3", "empty")
	d := e.deliver("m3", `{"subject":"bye"}`)
	immutable := prefer(`IdType="ImmutableId"`)
	res := e.do(req{method: http.MethodDelete, path: "/v1.0/me/messages/" + d["immutableId"].(string), token: "m3"})
	require.Equal(t, http.StatusNoContent, res.status)
	res = e.do(req{path: "/v1.0/me/messages/" + d["immutableId"].(string) + "?$select=parentFolderId", token: "m3", headers: immutable})
	require.Equal(t, http.StatusOK, res.status)
	deleted := e.do(req{path: "/v1.0/me/mailFolders/deleteditems", token: "m3"}).json(t)
	assert.Equal(t, deleted["id"], res.json(t)["parentFolderId"])
	assert.EqualValues(t, 1, deleted["totalItemCount"])
	res = e.do(req{method: http.MethodDelete, path: "/v1.0/me/messages/" + d["immutableId"].(string), token: "m3"})
	require.Equal(t, http.StatusNoContent, res.status)
	res = e.do(req{path: "/v1.0/me/messages/" + d["immutableId"].(string), token: "m3"})
	assert.Equal(t, http.StatusNotFound, res.status)
}

func TestAttachments(t *testing.T) {
	e := newEnv(t, Options{})
	all, _, _ := e.round(inboxDelta+"?$select=subject,hasAttachments", "demo", prefer("odata.maxpagesize=200"))
	var large string
	with := 0
	for _, it := range all {
		if it["hasAttachments"] == true {
			with++
		}
		if it["subject"] == DemoLargeAttachmentSubject {
			large = it["id"].(string)
		}
	}
	assert.Equal(t, DemoInboxCount/10, with, "Inbox messages with index%10==3 have attachments")
	require.NotEmpty(t, large)
	res := e.do(req{path: "/v1.0/me/messages/" + large + "/attachments?$select=name,size,contentType", token: "demo"})
	require.Equal(t, http.StatusOK, res.status)
	atts := res.json(t)["value"].([]any)
	require.Len(t, atts, 2)
	big := atts[0].(map[string]any)
	assert.Equal(t, "design-assets.zip", big["name"])
	assert.EqualValues(t, DemoLargeAttachmentSize, big["size"])
	assert.NotContains(t, big, "contentBytes")
	raw := e.do(req{path: "/v1.0/me/messages/" + large + "/attachments/" + big["id"].(string) + "/$value", token: "demo"})
	require.Equal(t, http.StatusOK, raw.status)
	assert.Len(t, raw.body, DemoLargeAttachmentSize)
	assert.Equal(t, "application/zip", raw.header.Get("Content-Type"))
	small := atts[1].(map[string]any)
	res = e.do(req{path: "/v1.0/me/messages/" + large + "/attachments/" + small["id"].(string), token: "demo"})
	v := res.json(t)
	b, err := base64.StdEncoding.DecodeString(v["contentBytes"].(string))
	require.NoError(t, err)
	assert.Equal(t, "Unpack the archive and open index.html.\r\n", string(b))
	mime := e.do(req{path: "/v1.0/me/messages/" + large + "/$value", token: "demo"})
	require.Equal(t, http.StatusOK, mime.status)
	assert.Contains(t, string(mime.body), "multipart/mixed")
}

func TestSeedDeterminismAndShape(t *testing.T) {
	first := func() string {
		e := newEnv(t, Options{})
		res := e.do(req{path: inboxDelta, token: "demo", headers: prefer("odata.maxpagesize=50")})
		require.Equal(t, http.StatusOK, res.status)
		return strings.ReplaceAll(string(res.body), e.ts.URL, "http://host")
	}
	a, b := first(), first()
	assert.Equal(t, a, b, "two servers produce identical first pages")

	e := newEnv(t, Options{})
	inbox := e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "demo"}).json(t)
	assert.GreaterOrEqual(t, inbox["totalItemCount"], float64(500))
	items, _, _ := e.round(inboxDelta+"?$select=receivedDateTime,isRead,flag,categories,toRecipients,ccRecipients,importance,conversationId", "demo", prefer("odata.maxpagesize=200"))
	var unread, flagged, complete, categorized, manyTo, withCc, high int
	oldest, newest := "9999", ""
	convs := map[string]int{}
	for _, it := range items {
		if it["isRead"] == false {
			unread++
		}
		switch it["flag"].(map[string]any)["flagStatus"] {
		case "flagged":
			flagged++
		case "complete":
			complete++
		}
		if len(it["categories"].([]any)) > 0 {
			categorized++
		}
		if len(it["toRecipients"].([]any)) >= 5 {
			manyTo++
		}
		if len(it["ccRecipients"].([]any)) > 0 {
			withCc++
		}
		if it["importance"] == "high" {
			high++
		}
		convs[it["conversationId"].(string)]++
		r := it["receivedDateTime"].(string)
		oldest, newest = min(oldest, r), max(newest, r)
	}
	assert.EqualValues(t, inbox["unreadItemCount"], unread)
	for _, n := range []int{unread, flagged, complete, categorized, manyTo, withCc, high} {
		assert.Greater(t, n, 5)
	}
	assert.Less(t, len(convs), len(items), "some messages share a conversation")
	assert.True(t, strings.HasPrefix(newest, "2026-10-31"), newest)
	assert.True(t, strings.HasPrefix(oldest, "2026-05"), oldest)
}

func TestListMessages(t *testing.T) {
	e := newEnv(t, Options{})
	res := e.do(req{path: "/v1.0/me/mailFolders/inbox/messages?$top=5&$select=subject", token: "demo"})
	require.Equal(t, http.StatusOK, res.status)
	v := res.json(t)
	assert.Len(t, v["value"], 5)
	next := v["@odata.nextLink"].(string)
	assert.Contains(t, next, "$skip=5")
	res = e.do(req{path: next, token: "demo"})
	assert.Len(t, res.json(t)["value"], 5)
}
