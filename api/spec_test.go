package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func checker(t *testing.T) *Checker {
	t.Helper()
	c, err := shared()
	require.NoError(t, err)
	return c
}

// The document is a valid OpenAPI 3.1 document (the OAS meta-schema).
func TestDocumentIsValidOpenAPI(t *testing.T) {
	doc, err := libopenapi.NewDocument(Spec())
	require.NoError(t, err)
	assert.Equal(t, "3.1.0", doc.GetVersion())
	_, err = doc.BuildV3Model()
	require.NoError(t, err, "every $ref resolves")
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	assert.True(t, ok, "%v", describe(verrs))
}

// The lists that name the ops agree: Command.oneOf, the discriminator's
// mapping, each command's op const, and the data schemas in CommandData.anyOf.
func TestCommandListsAgree(t *testing.T) {
	c := checker(t)
	ops := c.Ops()
	require.NotEmpty(t, ops)
	mapped := map[string]bool{}
	dataUsed := map[string]bool{}
	for _, op := range ops {
		cmd := c.commandSchema(op)
		require.NotNil(t, cmd, op)
		opProp, ok := cmd.Properties.Get("op")
		require.True(t, ok, "%s has an op property", op)
		require.NotNil(t, opProp.Schema().Const, "%s: op is a const", op)
		assert.Equal(t, op, opProp.Schema().Const.Value, "the mapping key is the command's op const")
		assert.Contains(t, cmd.Required, "op", op)
		assert.Contains(t, cmd.Required, "id", op)
		mapped[strings.TrimPrefix(refOf(t, c, op), "#/components/schemas/")] = true
		dataUsed[c.DataSchema(op)] = true
	}
	command := c.schema("Command")
	var branches []string
	for _, p := range command.OneOf {
		branches = append(branches, strings.TrimPrefix(p.GetReference(), "#/components/schemas/"))
	}
	assert.Len(t, branches, len(ops), "one oneOf branch per op")
	for _, b := range branches {
		assert.True(t, mapped[b], "Command.oneOf has %s, which the discriminator does not map", b)
	}
	var anyOf []string
	for _, p := range c.schema("CommandData").AnyOf {
		anyOf = append(anyOf, strings.TrimPrefix(p.GetReference(), "#/components/schemas/"))
	}
	for name := range dataUsed {
		assert.Contains(t, anyOf, name, "CommandData.anyOf lacks a data schema an op names")
	}
	for _, name := range anyOf {
		assert.True(t, dataUsed[name], "CommandData.anyOf has %s, which no op names", name)
	}
}

func refOf(t *testing.T, c *Checker, op string) string {
	t.Helper()
	ref, ok := c.schema("Command").Discriminator.Mapping.Get(op)
	require.True(t, ok)
	return ref
}

// exchange is one request to the bridge and its answer.
type exchange struct {
	name         string
	method, path string
	reqType      string // request Content-Type; "" for none
	reqBody      string
	noToken      bool
	status       int
	respType     string
	respHeader   map[string]string
	respBody     string
}

func (x exchange) check(c *Checker, checkRequest bool) []string {
	req := httptest.NewRequest(x.method, "https://localhost:8443"+x.path, strings.NewReader(x.reqBody))
	if x.reqType != "" {
		req.Header.Set("Content-Type", x.reqType)
	}
	if !x.noToken {
		req.Header.Set("Authorization", "Bearer demo")
	}
	resp := &http.Response{
		StatusCode: x.status,
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(x.respBody)),
		Request:    req,
	}
	resp.Header.Set("Content-Type", x.respType)
	for k, v := range x.respHeader {
		resp.Header.Set(k, v)
	}
	return c.CheckExchange(req, []byte(x.reqBody), resp, checkRequest)
}

// batchOK is a batch exchange answered 200 with body.
func batchOK(name, envelope, answer string) exchange {
	return exchange{
		name: name, method: http.MethodPost, path: "/device/v1/batch",
		reqType: "application/json", reqBody: envelope,
		status: http.StatusOK, respType: "application/json", respBody: answer,
		respHeader: map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
	}
}

// Golden answers of the bridge: the README's session against the demo and
// what the integration tests expect. Each must pass the specification.
var goldenExchanges = []exchange{
	batchOK("folder.get",
		`{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`,
		`{"results":[{"id":"c1","status":200,"data":{"folder":{"id":"AQMkADXx18LguKTD-eYS1LepyOEAAC-EWg0A_AAABAAAAAgAAAA","parent":"AQMkADXx18LguKTD-eYS1LepyOEAAC-EWg0A_AAABAAAAAQAAAA","name":"Inbox","unread":49,"total":520,"children":2,"hidden":false}}}]}`),
	batchOK("mail.sync page",
		`{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox","window":2,"fields":["subject","from","received","read"]}}]}`,
		`{"results":[{"id":"c1","status":200,"data":{"changes":[
		  {"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_RW39+piKAAAABwAAA=","subject":"RE: Contract renewal","from":{"name":"Newsletter","addr":"news@litware.example"},"received":"2026-10-31T22:47:32Z","read":true}},
		  {"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_3XMJs8c-AAAACAAAA=","subject":"RE: Expense report","from":{"name":"Zoë Müller","addr":"zoe.mueller@tailspin.example"},"received":"2026-10-31T14:34:08Z","read":false}},
		  {"op":"delete","id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_mqePN2J6AAAACQAAA="}],
		  "state":"ASrnG6iAavqRm_akZgAYLKTIdZC0","more":true}}]}`),
	batchOK("mail.get with body",
		`{"commands":[{"id":"c3","op":"mail.get","args":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_RW39+piKAAAABwAAA=","fields":["subject","body"]}}]}`,
		`{"results":[{"id":"c3","status":200,"data":{"message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_RW39+piKAAAABwAAA=","subject":"RE: Contract renewal","body":{"type":"text","content":"Hi Demo,\r\n\r\nThe customer reported the issue again <after> the fix, see ticket 4711."}}}}]}`),
	batchOK("calendar.sync page with an occurrence stub",
		`{"commands":[{"id":"c4","op":"calendar.sync","args":{"start":"2026-11-02T00:00:00Z","end":"2026-11-04T00:00:00Z","window":3}}]}`,
		`{"results":[{"id":"c4","status":200,"data":{"changes":[
		  {"op":"upsert","event":{"id":"AAMkADXx18LguKTD-eYS1LepyOEABGAAAAAA-EvTLzwZSaZrAAADDgAAA=","subject":"1:1 with Priya","start":"2026-10-06T14:00:00Z","end":"2026-10-06T14:30:00Z","allDay":false,"location":"","organizer":{"name":"Priya Natarajan","addr":"priya@fabrikam.example"},"attendees":[{"name":"Demo User","addr":"demo@contoso.example","type":"required","response":"accepted"}],"response":"accepted","showAs":"busy","cancelled":false,"type":"seriesMaster","preview":"Career and roadmap."}},
		  {"op":"upsert","event":{"id":"AAMkADXx18LguKTD-eYS1LepyOEABFRAAgIAAADDQAAAAAGroURA=","start":"2026-11-02T09:00:00Z","end":"2026-11-02T09:15:00Z","type":"occurrence","series":"AAMkADXx18LguKTD-eYS1LepyOEABGAAAAAA-EvTScfNneTeAAADDQAAA="}},
		  {"op":"upsert","event":{"id":"AAMkADXx18LguKTD-eYS1LepyOEABGAAAAAA-EvTHoliday0AAA=","subject":"Holiday","start":"2026-11-03","end":"2026-11-04","allDay":true}}],
		  "state":"AcTJQduTo4v22L7bBopR81dc","more":true}}]}`),
	batchOK("three commands, three outcomes",
		`{"commands":[{"id":"a","op":"folder.get","args":{"folder":"sentitems"}},{"id":"b","op":"folder.get","args":{"folder":"AAMkADoesNotExist="}},{"id":"c","op":"mail.sync","args":{"folder":"inbox","state":"ASrnG6iAavqRm_akZgAYLKTIdZC0"}}]}`,
		`{"results":[
		  {"id":"a","status":200,"data":{"folder":{"id":"AQMkADXx18LguKTD-eYS1LepyOEAAC-EWg0A_AAABAAAABAAAAA","parent":"AQMkADXx18LguKTD-eYS1LepyOEAAC-EWg0A_AAABAAAAAQAAAA","name":"Sent Items","unread":0,"total":60,"children":0,"hidden":false}}},
		  {"id":"b","status":404,"error":{"code":"not_found","message":"upstream did not find the object","upstreamCode":"ErrorItemNotFound","requestId":"bafd07b1-4dcd-4c1d-8bb5-686a3c2c962e"}},
		  {"id":"c","status":410,"error":{"code":"resync_required","message":"sync position is gone; restart the sync without state","upstreamCode":"SyncStateNotFound"}}]}`),
	batchOK("mail.send",
		`{"commands":[{"id":"s","op":"mail.send","args":{"to":[{"name":"Adele","addr":"adele@contoso.example"}],"subject":"Lunch?","body":{"type":"text","content":"Noon at the usual place?"},"attachments":[{"name":"map.txt","type":"text/plain","data":"Q29ybmVyIG9mIDV0aCBhbmQgTWFpbg=="}]}}]}`,
		`{"results":[{"id":"s","status":200,"data":{}}]}`),
	batchOK("attachments.list",
		`{"commands":[{"id":"a","op":"attachments.list","args":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_DmTp6Hq8AAAAFAAAA="}}]}`,
		`{"results":[{"id":"a","status":200,"data":{"attachments":[
		  {"id":"AAMkADXx18LguKTD-eYS1LepyOEABEgAQA_mqmbfwqaAAAAFAAA=","name":"design-assets.zip","type":"application/zip","size":5242880,"inline":false},
		  {"id":"AAMkADXx18LguKTD-eYS1LepyOEABEgAQA_43K9jpWoAAAAFAAB=","name":"readme.txt","type":"text/plain","size":41,"inline":false}]}}]}`),
	batchOK("contact.create and mail.search",
		`{"commands":[{"id":"k","op":"contact.create","args":{"name":"Ada Lovelace","emails":[{"addr":"ada@contoso.example"}],"business":["+1 555 0100"]}},{"id":"q","op":"mail.search","args":{"query":"roadmap","window":1}}]}`,
		`{"results":[
		  {"id":"k","status":200,"data":{"contact":{"id":"AAMkADXx18LguKTD-eYS1LepyOEARgAAAAA-Contact01AAA=","name":"Ada Lovelace","emails":[{"addr":"ada@contoso.example"}],"business":["+1 555 0100"],"home":[]}}},
		  {"id":"q","status":200,"data":{"messages":[{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_eaktuHGyAAAACgAAA=","subject":"Q3 roadmap review","flag":"none","cats":[]}],"state":"AX1searchstate_-","more":true}}]}`),
	batchOK("files.sync page with a business tombstone",
		`{"commands":[{"id":"f","op":"files.sync","args":{"window":3}}]}`,
		`{"results":[{"id":"f","status":200,"data":{"changes":[
		  {"op":"upsert","file":{"id":"01ROOTAAAAAAAAAAAAAAAAAAAAAAAAAAAA","name":"root","drive":"b!kFxzWcn2Q0aiYkrvOPzeKQ5DcbYQyW1IvqW6Me5C-oFAXkUv8","modified":"2026-10-30T08:00:00Z","etag":"\"{0000-root},1\"","kind":"folder","root":true,"web":"https://contoso-my.sharepoint.com/personal/demo/Documents"}},
		  {"op":"upsert","file":{"id":"01DOCSAAAAAAAAAAAAAAAAAAAAAAAAAAAA","name":"Quarterly report.docx","parent":"01ROOTAAAAAAAAAAAAAAAAAAAAAAAAAAAA","drive":"b!kFxzWcn2Q0aiYkrvOPzeKQ5DcbYQyW1IvqW6Me5C-oFAXkUv8","size":48213,"modified":"2026-10-31T09:12:44Z","etag":"\"{0000-docs},3\"","mime":"application/vnd.openxmlformats-officedocument.wordprocessingml.document","kind":"file"}},
		  {"op":"delete","id":"01GONEAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}],
		  "state":"AfilesyncstateAAA","more":true}}]}`),
	batchOK("files.list with thumbnails and a shared folder, then notModified",
		`{"commands":[{"id":"l","op":"files.list","args":{"drive":"5d3c8a0f1e2b4c7d","thumbs":true,"window":2}},{"id":"m","op":"files.list","args":{"folder":"5d3c8a0f1e2b4c7d!103","etag":"\"aNUQzQThBMEYxRTJCNEM3RCExMDMuMA\""}}]}`,
		`{"results":[
		  {"id":"l","status":200,"data":{"files":[
		    {"id":"5d3c8a0f1e2b4c7d!103","name":"Photos","parent":"5d3c8a0f1e2b4c7d!101","drive":"5d3c8a0f1e2b4c7d","modified":"2026-10-29T17:03:11Z","kind":"folder","children":12},
		    {"id":"5d3c8a0f1e2b4c7d!110","name":"Team share","kind":"folder","remote":{"drive":"b!kFxzWcn2Q0aiYkrvOPzeKQ5DcbYQyW1IvqW6Me5C-oFAXkUv8","id":"01TEAMAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"thumb":{"url":"https://my.microsoftpersonalcontent.com/thumb/110","w":176,"h":132}}],
		    "state":"AfileslistetateAA","more":true}},
		  {"id":"m","status":200,"data":{"notModified":true}}]}`),
	batchOK("files.link and attachments.recent",
		`{"commands":[{"id":"k","op":"files.link","args":{"id":"5d3c8a0f1e2b4c7d!104"}},{"id":"r","op":"attachments.recent","args":{"since":"2026-10-01T00:00:00Z","window":1}}]}`,
		`{"results":[
		  {"id":"k","status":200,"data":{"url":"https://my.microsoftpersonalcontent.com/download/104?tempauth=v1.abc","size":1024,"etag":"\"aNUQ\""}},
		  {"id":"r","status":200,"data":{"items":[{"message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_DmTp6Hq8AAAAFAAAA=","subject":"Design assets","from":{"name":"Adele","addr":"adele@contoso.example"},"received":"2026-10-31T08:00:00Z","folder":"AQMkADXx18LguKTD-eYS1LepyOEAAC-EWg0A_AAABAAAAAgAAAA"},
		    "attachments":[{"id":"AAMkADXx18LguKTD-eYS1LepyOEABEgAQA_mqmbfwqaAAAAFAAA=","name":"design-assets.zip","size":5242880,"type":"application/zip","inline":false,"kind":"file"},{"id":"AAMkADXx18LguKTD-eYS1LepyOEABEgAQA_linkAAAAAFAAA=","name":"Plan","kind":"link"}]}],
		    "state":"AattrecentstateAA","more":true}}]}`),
	{
		name: "file download, a range", method: http.MethodGet,
		path:   "/device/v1/files/5d3c8a0f1e2b4c7d%21104/content?drive=5d3c8a0f1e2b4c7d",
		status: http.StatusPartialContent, respType: "application/pdf",
		respHeader: map[string]string{"Content-Range": "bytes 0-9/1024", "Content-Length": "10", "Cache-Control": "private, no-store, no-transform",
			"Content-Disposition": "attachment", "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"},
		respBody: "%PDF-1.7\n\n",
	},
	{
		name: "no token", method: http.MethodPost, path: "/device/v1/batch", noToken: true,
		reqType: "application/json", reqBody: `{"commands":[{"id":"c1","op":"folders.sync"}]}`,
		status: http.StatusUnauthorized, respType: "application/json",
		respBody: `{"error":{"code":"unauthenticated","message":"an Authorization: Bearer token is required"}}`,
	},
	{
		name: "throttled envelope", method: http.MethodPost, path: "/device/v1/batch",
		reqType: "application/json", reqBody: `{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox"}}]}`,
		status: http.StatusTooManyRequests, respType: "application/json", respHeader: map[string]string{"Retry-After": "7"},
		respBody: `{"error":{"code":"throttled","message":"upstream is throttling; retry after the given delay","retryAfter":7,"upstreamCode":"ApplicationThrottled","requestId":"4ad5f3b2-cf3e-4d8b-b7f2-2f8b0b8d44e1"}}`,
	},
	{
		name: "attachment download", method: http.MethodGet,
		path:   "/device/v1/messages/AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_DmTp6Hq8AAAAFAAAA=/attachments/AAMkADXx18LguKTD-eYS1LepyOEABEgAQA_43K9jpWoAAAAFAAB=",
		status: http.StatusOK, respType: "text/plain", respHeader: map[string]string{"Content-Length": "41", "Cache-Control": "no-store"},
		respBody: "The demo attachment, forty-one bytes long",
	},
	{
		name: "MIME download", method: http.MethodGet,
		path:   "/device/v1/messages/AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXx18LguKTD-eYS1LepyOEA_DmTp6Hq8AAAAFAAAA=/mime?mailbox=adele%40contoso.example",
		status: http.StatusOK, respType: "message/rfc822",
		respBody: "From: Adele <adele@contoso.example>\r\nSubject: hi\r\n\r\nhello\r\n",
	},
	{
		name: "mime/send", method: http.MethodPost, path: "/device/v1/mime/send",
		reqType: "message/rfc822", reqBody: "From: demo@contoso.example\r\nTo: adele@contoso.example\r\nSubject: hi\r\n\r\nhello\r\n",
		status: http.StatusOK, respType: "application/json", respBody: `{}`,
	},
}

func TestGoldenExchangesFitTheSpec(t *testing.T) {
	c := checker(t)
	for _, x := range goldenExchanges {
		t.Run(x.name, func(t *testing.T) {
			assert.Empty(t, x.check(c, !x.noToken))
		})
	}
}

// A request without a token breaks the specification's security
// requirement: checked as a request, it fails.
func TestRequestWithoutTokenFailsTheSpec(t *testing.T) {
	for _, x := range goldenExchanges {
		if x.noToken {
			assert.NotEmpty(t, x.check(checker(t), true), x.name)
		}
	}
}

// Broken answers and requests: each must FAIL the specification, or the
// checks above prove nothing.
func TestBrokenExchangesFailTheSpec(t *testing.T) {
	c := checker(t)
	folderGet := `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`
	mailSync := `{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox"}}]}`
	broken := []exchange{
		batchOK("folder without its required id", folderGet,
			`{"results":[{"id":"c1","status":200,"data":{"folder":{"name":"Inbox","unread":49}}}]}`),
		batchOK("unread count as a string", folderGet,
			`{"results":[{"id":"c1","status":200,"data":{"folder":{"id":"AQMk","name":"Inbox","unread":"49"}}}]}`),
		batchOK("result without status", folderGet,
			`{"results":[{"id":"c1","data":{"folder":{"id":"AQMk"}}}]}`),
		batchOK("result with data and error", folderGet,
			`{"results":[{"id":"c1","status":200,"data":{},"error":{"code":"not_found","message":"x"}}]}`),
		batchOK("success with a status other than 200", folderGet,
			`{"results":[{"id":"c1","status":201,"data":{}}]}`),
		batchOK("an error code the API does not have", folderGet,
			`{"results":[{"id":"c1","status":418,"error":{"code":"teapot","message":"x"}}]}`),
		batchOK("sync page without more", mailSync,
			`{"results":[{"id":"c1","status":200,"data":{"changes":[],"state":"AQ"}}]}`),
		batchOK("message with a member the API does not have", mailSync,
			`{"results":[{"id":"c1","status":200,"data":{"changes":[{"op":"upsert","message":{"id":"AQ","subj":"x"}}],"state":"AQ","more":false}}]}`),
		batchOK("change with an unknown op", mailSync,
			`{"results":[{"id":"c1","status":200,"data":{"changes":[{"op":"create","message":{"id":"AQ"}}],"state":"AQ","more":false}}]}`),
		batchOK("state with padding", mailSync,
			`{"results":[{"id":"c1","status":200,"data":{"changes":[],"state":"AQ==","more":false}}]}`),
		batchOK("flag in Graph's form", mailSync,
			`{"results":[{"id":"c1","status":200,"data":{"changes":[{"op":"upsert","message":{"id":"AQ","flag":"notFlagged"}}],"state":"AQ","more":false}}]}`),
		{
			name: "error envelope without message", method: http.MethodPost, path: "/device/v1/batch",
			reqType: "application/json", reqBody: folderGet,
			status: http.StatusBadGateway, respType: "application/json", respBody: `{"error":{"code":"upstream_error"}}`,
		},
		{
			name: "retryAfter as a string", method: http.MethodPost, path: "/device/v1/batch",
			reqType: "application/json", reqBody: folderGet,
			status: http.StatusTooManyRequests, respType: "application/json", respBody: `{"error":{"code":"throttled","message":"x","retryAfter":"7"}}`,
		},
		{
			name: "mime/send answered with text", method: http.MethodPost, path: "/device/v1/mime/send",
			reqType: "message/rfc822", reqBody: "Subject: hi\r\n\r\nhello\r\n",
			status: http.StatusOK, respType: "text/plain", respBody: "sent",
		},
		// Requests a device must not send.
		batchOK("unknown op", `{"commands":[{"id":"c1","op":"mail.frobnicate","args":{}}]}`,
			`{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":"unknown op"}}]}`),
		batchOK("window as a string", `{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox","window":"50"}}]}`,
			`{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":"window must be an integer from 1 to 200"}}]}`),
		batchOK("mail.get without id", `{"commands":[{"id":"c1","op":"mail.get","args":{}}]}`,
			`{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":"id is required"}}]}`),
		batchOK("21 commands", `{"commands":[`+strings.Repeat(`{"id":"x","op":"folders.sync"},`, 20)+`{"id":"y","op":"folders.sync"}]}`,
			`{"results":[{"id":"y","status":200,"data":{}}]}`),
	}
	for _, x := range broken {
		t.Run(x.name, func(t *testing.T) {
			problems := x.check(c, true)
			assert.NotEmpty(t, problems, "a broken exchange passed the specification")
			t.Log(problems)
		})
	}
}

// CheckData holds a result's data to its op's own schema, stricter than
// the response's anyOf.
func TestCheckDataIsPerOp(t *testing.T) {
	c := checker(t)
	page := []byte(`{"changes":[{"op":"upsert","message":{"id":"AQ","subject":"x"}},{"op":"delete","id":"AR"}],"state":"AQ","more":false}`)
	assert.Empty(t, c.CheckData("mail.sync", page))
	assert.NotEmpty(t, c.CheckData("folders.sync", page), "a message change is not a folder change")
	assert.NotEmpty(t, c.CheckData("folder.get", page))
	assert.Empty(t, c.CheckData("mail.delete", []byte(`{}`)))
	assert.NotEmpty(t, c.CheckData("mail.delete", []byte(`{"message":{"id":"AQ"}}`)))
	assert.NotEmpty(t, c.CheckData("files.sync", []byte(`{}`)), "an op the spec does not describe")
	assert.Equal(t, "MessageData", c.DataSchema("mail.move"))
}

// fakeT records what the checking transport reports.
type fakeT struct{ errors []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func TestCheckingTransport(t *testing.T) {
	answers := map[string]struct {
		status      int
		contentType string
		body        string
	}{
		"/device/v1/batch":            {200, "application/json", `{"results":[{"id":"c1","status":200,"data":{"folder":{"id":"AQMk","name":"Inbox"}}}]}`},
		"/device/v1/broken/batch":     {200, "application/json", `{"results":[{"id":"c1","status":200,"data":{"folder":{"name":"Inbox"}}}]}`},
		"/device/v1/nowhere":          {404, "application/json", `{"error":{"code":"not_found","message":"no device API endpoint at this path"}}`},
		"/device/v1/nowhere-as-text":  {404, "text/plain", `404 page not found`},
		"/_emulator/requests":         {200, "application/json", `{"anything":"goes"}`},
		"/device/v1/messages/AQ/mime": {200, "message/rfc822", "Subject: hi\r\n\r\nhello\r\n"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if r.Header.Get("X-Broken") != "" {
			path = "/device/v1/broken/batch"
		}
		a, ok := answers[path]
		if !ok {
			http.Error(w, "unexpected path", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()

	do := func(ft *fakeT, ctx context.Context, method, path, body string, header ...string) string {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer demo")
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		client := &http.Client{Transport: NewCheckingTransport(ft, srv.Client().Transport)}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(out)
	}
	envelope := `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`
	bg := context.Background()

	ft := &fakeT{}
	body := do(ft, bg, "POST", "/device/v1/batch", envelope)
	assert.Empty(t, ft.errors, "a valid exchange")
	assert.Equal(t, answers["/device/v1/batch"].body, body, "the caller gets the body the bridge sent")

	ft = &fakeT{}
	body = do(ft, bg, "POST", "/device/v1/batch", envelope, "X-Broken", "1")
	assert.NotEmpty(t, ft.errors, "a folder without id is reported")
	assert.Contains(t, body, `"name":"Inbox"`, "the broken answer still reaches the caller")

	ft = &fakeT{}
	do(ft, bg, "POST", "/device/v1/batch", `{"commands":[{"id":"c1","op":"no.such.op"}]}`)
	assert.NotEmpty(t, ft.errors, "a request outside the spec is reported")

	ft = &fakeT{}
	do(ft, DeliberatelyInvalid(bg), "POST", "/device/v1/batch", `{"commands":[{"id":"c1","op":"no.such.op"}]}`)
	assert.Empty(t, ft.errors, "a deliberately invalid request: only the answer is checked")

	ft = &fakeT{}
	do(ft, DeliberatelyInvalid(bg), "GET", "/device/v1/nowhere", "")
	assert.Empty(t, ft.errors, "an unknown endpoint answered with an error envelope")

	ft = &fakeT{}
	do(ft, DeliberatelyInvalid(bg), "GET", "/device/v1/nowhere-as-text", "")
	assert.NotEmpty(t, ft.errors, "an unknown endpoint must still be answered with a device error")

	ft = &fakeT{}
	body = do(ft, bg, "GET", "/device/v1/messages/AQ/mime", "")
	assert.Empty(t, ft.errors, "a MIME download")
	assert.Equal(t, answers["/device/v1/messages/AQ/mime"].body, body, "a download reaches the caller whole")

	ft = &fakeT{}
	do(ft, bg, "GET", "/_emulator/requests", "")
	assert.Empty(t, ft.errors, "paths outside the device API are not checked")
}
