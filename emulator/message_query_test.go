package emulator

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recentAttachmentsQuery is the query FILES_FACTS 6 builds from Graph's
// $filter/$orderby rule.
const recentAttachmentsQuery = "$filter=" + "receivedDateTime%20ge%202026-01-01T00:00:00Z%20and%20hasAttachments%20eq%20true" +
	"&$orderby=receivedDateTime%20desc&$top=25&$select=id,subject,receivedDateTime,parentFolderId" +
	"&$expand=attachments($select=id,name,size,contentType,isInline)"

func TestRecentAttachmentsQuery(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("ra", "empty")
	content := base64.StdEncoding.EncodeToString([]byte("hello"))
	e.deliver("ra", `{"subject":"old","receivedDateTime":"2025-06-01T10:00:00Z","attachments":[{"name":"old.txt","contentBytes":"`+content+`"}]}`)
	e.deliver("ra", `{"subject":"junk","folder":"junkemail","receivedDateTime":"2026-03-01T10:00:00Z","attachments":[{"name":"junk.txt","contentBytes":"`+content+`"}]}`)
	e.deliver("ra", `{"subject":"kinds","receivedDateTime":"2026-04-01T10:00:00Z","attachments":[`+
		`{"name":"a.txt","contentBytes":"`+content+`"},`+
		`{"name":"Forwarded mail","kind":"item","contentBytes":"`+base64.StdEncoding.EncodeToString([]byte("Subject: hi\r\n\r\nbody"))+`"},`+
		`{"name":"Plan.docx","kind":"reference","contentBytes":""}]}`)
	e.deliver("ra", `{"subject":"inline only","receivedDateTime":"2026-05-01T10:00:00Z","attachments":[{"name":"logo.png","isInline":true,"contentId":"logo","contentBytes":"`+content+`"}]}`)
	e.deliver("ra", `{"subject":"none","receivedDateTime":"2026-06-01T10:00:00Z"}`)

	res := e.do(req{path: "/v1.0/me/messages?" + recentAttachmentsQuery, token: "ra"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	msgs := res.json(t)["value"].([]any)
	require.Len(t, msgs, 2, "across folders (Junk too), since the date, only with non-inline attachments")
	kinds := msgs[0].(map[string]any)
	assert.Equal(t, "kinds", kinds["subject"], "newest first")
	assert.Equal(t, "junk", msgs[1].(map[string]any)["subject"])
	atts := kinds["attachments"].([]any)
	require.Len(t, atts, 3)
	var types []string
	for _, a := range atts {
		m := a.(map[string]any)
		types = append(types, m["@odata.type"].(string))
		assert.NotContains(t, m, "contentBytes", "the nested $select keeps content out")
		assert.NotContains(t, m, "lastModifiedDateTime")
		assert.Contains(t, m, "isInline")
	}
	assert.Equal(t, []string{"#microsoft.graph.fileAttachment", "#microsoft.graph.itemAttachment", "#microsoft.graph.referenceAttachment"}, types)

	// A reference attachment has no $value.
	ref := atts[2].(map[string]any)["id"].(string)
	res = e.do(req{path: "/v1.0/me/messages/" + kinds["id"].(string) + "/attachments/" + ref + "/$value", token: "ra"})
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)

	// Without a nested $select each file attachment carries its bytes.
	res = e.do(req{path: "/v1.0/me/messages?$select=subject&$expand=attachments&$filter=hasAttachments%20eq%20true", token: "ra"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	first := res.json(t)["value"].([]any)[0].(map[string]any)["attachments"].([]any)[0].(map[string]any)
	assert.Equal(t, content, first["contentBytes"])

	bad := []struct {
		name, query, code string
	}{
		{"hasAttachments first", "$filter=hasAttachments%20eq%20true%20and%20receivedDateTime%20ge%202026-01-01T00:00:00Z&$orderby=receivedDateTime%20desc", "InefficientFilter"},
		{"ordered property missing from the filter", "$filter=hasAttachments%20eq%20true&$orderby=receivedDateTime%20desc", "InefficientFilter"},
		{"contentId in the nested select", "$expand=attachments($select=id,name,contentId)", "RequestBroker--ParseUri"},
		{"contentBytes in the nested select", "$expand=attachments($select=contentBytes)", "RequestBroker--ParseUri"},
		{"another relationship", "$expand=singleValueExtendedProperties", "BadRequest"},
		{"bad hasAttachments value", "$filter=hasAttachments%20eq%20maybe", "ErrorInvalidUrlQueryFilter"},
	}
	for _, tc := range bad {
		res := e.do(req{path: "/v1.0/me/messages?" + tc.query, token: "ra"})
		assert.Equal(t, http.StatusBadRequest, res.status, tc.name)
		assert.Equal(t, tc.code, graphErrorCode(t, res), tc.name)
	}
	// The folder form and the filter without $orderby work too.
	res = e.do(req{path: "/v1.0/me/mailFolders/junkemail/messages?" + recentAttachmentsQuery, token: "ra"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Len(t, res.json(t)["value"], 1)
	res = e.do(req{path: "/v1.0/me/messages?$filter=" + url.QueryEscape("hasAttachments eq false"), token: "ra"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Len(t, res.json(t)["value"], 2, "inline-only counts as no attachments")
}
