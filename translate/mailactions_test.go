package translate

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const selMsgAction = selMsgSync

func TestMailActionCalls(t *testing.T) {
	smallData := base64.StdEncoding.EncodeToString([]byte("hello attachment"))
	cases := []struct {
		name   string
		body   string
		method string
		path   string
		query  string
		prefer []string
		json   string // expected upstream body; "" = none
	}{
		{"update read", cmd("mail.update", `{"id":"AAk+x=","read":true}`), "PATCH", "/v1.0/me/messages/AAk%2Bx=", "", nil,
			`{"isRead":true}`},
		{"update all three", cmd("mail.update", `{"id":"AAk","read":false,"flag":"none","cats":["Red category","Q\"uote"]}`), "PATCH", "/v1.0/me/messages/AAk", "", nil,
			`{"isRead":false,"flag":{"flagStatus":"notFlagged"},"categories":["Red category","Q\"uote"]}`},
		{"update flag complete, empty cats", cmd("mail.update", `{"id":"AAk","flag":"complete","cats":[]}`), "PATCH", "/v1.0/me/messages/AAk", "", nil,
			`{"flag":{"flagStatus":"complete"},"categories":[]}`},
		{"update with body field prefers text", cmd("mail.update", `{"id":"AAk","flag":"flagged","fields":["body"]}`), "PATCH", "/v1.0/me/messages/AAk", "", []string{preferText},
			`{"flag":{"flagStatus":"flagged"}}`},
		{"move well-known any case", cmd("mail.move", `{"id":"AAk","to":"Archive"}`), "POST", "/v1.0/me/messages/AAk/move", "", nil,
			`{"destinationId":"archive"}`},
		{"move to id, shared mailbox", cmd("mail.move", `{"id":"AAk","to":"AQMk+F=","mailbox":"shared@contoso.example"}`), "POST",
			"/v1.0/users/shared@contoso.example/messages/AAk/move", "", nil, `{"destinationId":"AQMk+F="}`},
		{"delete", cmd("mail.delete", `{"id":"AAk"}`), "DELETE", "/v1.0/me/messages/AAk", "", nil, ""},
		{"send minimal", cmd("mail.send", `{"to":["a@b.example"],"subject":"Hi","body":{"content":"x"}}`), "POST", "/v1.0/me/sendMail", "", nil,
			`{"message":{"subject":"Hi","body":{"contentType":"text","content":"x"},"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]},"saveToSentItems":true}`},
		{"send full", cmd("mail.send", `{"to":[{"name":"Ann \"A\"","addr":"ann@b.example"}],"cc":["c@d.example"],"bcc":[{"addr":"e@f.example"}],
			"subject":"S","body":{"type":"html","content":"<b>x</b>"},"save":false,
			"attachments":[{"name":"a.txt","type":"text/plain","data":"`+smallData+`"},{"name":"b.bin","data":""}]}`), "POST", "/v1.0/me/sendMail", "", nil,
			`{"message":{"subject":"S","body":{"contentType":"html","content":"<b>x</b>"},
			"toRecipients":[{"emailAddress":{"name":"Ann \"A\"","address":"ann@b.example"}}],
			"ccRecipients":[{"emailAddress":{"address":"c@d.example"}}],
			"bccRecipients":[{"emailAddress":{"address":"e@f.example"}}],
			"attachments":[{"@odata.type":"#microsoft.graph.fileAttachment","name":"a.txt","contentType":"text/plain","contentBytes":"` + smallData + `"},
			{"@odata.type":"#microsoft.graph.fileAttachment","name":"b.bin","contentType":"application/octet-stream","contentBytes":""}]},"saveToSentItems":false}`},
		{"send only bcc", cmd("mail.send", `{"to":[],"bcc":["x@y.example"],"subject":"","body":{"type":"text","content":""}}`), "POST", "/v1.0/me/sendMail", "", nil,
			`{"message":{"subject":"","body":{"contentType":"text","content":""},"toRecipients":[],"bccRecipients":[{"emailAddress":{"address":"x@y.example"}}]},"saveToSentItems":true}`},
		{"reply", cmd("mail.reply", `{"id":"AAk","comment":"Thanks!"}`), "POST", "/v1.0/me/messages/AAk/reply", "", nil, `{"comment":"Thanks!"}`},
		{"reply all", cmd("mail.reply", `{"id":"AAk","comment":"","all":true}`), "POST", "/v1.0/me/messages/AAk/replyAll", "", nil, `{"comment":""}`},
		{"reply all false", cmd("mail.reply", `{"id":"AAk","comment":"c","all":false}`), "POST", "/v1.0/me/messages/AAk/reply", "", nil, `{"comment":"c"}`},
		{"forward", cmd("mail.forward", `{"id":"AAk","to":["x@y.example"],"comment":"FYI"}`), "POST", "/v1.0/me/messages/AAk/forward", "", nil,
			`{"comment":"FYI","toRecipients":[{"emailAddress":{"address":"x@y.example"}}]}`},
		{"forward without comment", cmd("mail.forward", `{"id":"AAk","to":[{"addr":"x@y.example","name":"X"}]}`), "POST", "/v1.0/me/messages/AAk/forward", "", nil,
			`{"toRecipients":[{"emailAddress":{"name":"X","address":"x@y.example"}}]}`},
		{"search", cmd("mail.search", `{"query":"budget"}`), "GET", "/v1.0/me/messages",
			"$search=%22budget%22&$top=50&" + selMsgAction, nil, ""},
		{"search escapes quotes and backslashes", cmd("mail.search", `{"query":"a\" OR from:x \\ é&$top=1","window":5,"fields":["subject"]}`), "GET", "/v1.0/me/messages",
			"$search=%22a%5C%22%20OR%20from%3Ax%20%5C%5C%20%C3%A9%26%24top%3D1%22&$top=5&$select=id,subject", nil, ""},
		{"attachments.list", cmd("attachments.list", `{"id":"AAk","mailbox":"5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10"}`), "GET",
			"/v1.0/users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/messages/AAk/attachments", "$select=id,name,contentType,size,isInline", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, tc.body)
			defer p.Release()
			if p.Upstream == nil {
				var dst strings.Builder
				_ = dst
				_, o := respond(t, p, 0, nil, "")
				t.Fatalf("no upstream call: %+v", o.Results)
			}
			u := p.Upstream
			if u.Method != tc.method || u.Path != tc.path || u.RawQuery != tc.query {
				t.Fatalf("call = %s %s ? %s, want %s %s ? %s", u.Method, u.Path, u.RawQuery, tc.method, tc.path, tc.query)
			}
			if strings.Join(u.Prefer, "|") != strings.Join(tc.prefer, "|") {
				t.Fatalf("prefer = %q, want %q", u.Prefer, tc.prefer)
			}
			if tc.json == "" {
				if u.Body != nil {
					t.Fatalf("unexpected body %s", u.Body)
				}
				return
			}
			if u.ContentType != "application/json" || compact(t, string(u.Body)) != compact(t, tc.json) {
				t.Fatalf("body = %s (%s), want %s", u.Body, u.ContentType, compact(t, tc.json))
			}
			checkBuiltPath(t, u.Path)
			checkQuery(t, u.RawQuery)
		})
	}
}

func TestMailActionArgErrors(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(make([]byte, MaxSendAttachmentBytes/2+1))
	cases := []struct{ name, op, args, msg string }{
		{"update nothing", "mail.update", `{"id":"AAk"}`, msgNoUpdate},
		{"update no id", "mail.update", `{"read":true}`, msgMissingMessageID},
		{"update bad id", "mail.update", `{"id":"a/b","read":true}`, msgBadMessageID},
		{"update read string", "mail.update", `{"id":"AAk","read":"yes"}`, msgBadRead},
		{"update flag unknown", "mail.update", `{"id":"AAk","flag":"notFlagged"}`, msgBadFlag},
		{"update cats not strings", "mail.update", `{"id":"AAk","cats":[1]}`, msgBadCats},
		{"update cats empty name", "mail.update", `{"id":"AAk","cats":[""]}`, msgBadCats},
		{"update bad fields", "mail.update", `{"id":"AAk","read":true,"fields":["nope"]}`, msgBadFields},
		{"move no to", "mail.move", `{"id":"AAk"}`, msgMissingTo},
		{"move bad folder", "mail.move", `{"id":"AAk","to":"../inbox"}`, msgBadMoveTo},
		{"move to number", "mail.move", `{"id":"AAk","to":5}`, msgBadMoveTo},
		{"delete no id", "mail.delete", `{}`, msgMissingMessageID},
		{"send no to", "mail.send", `{"subject":"s","body":{"content":""}}`, msgMissingTo},
		{"send no subject", "mail.send", `{"to":["a@b.example"],"body":{"content":""}}`, msgMissingSubject},
		{"send subject number", "mail.send", `{"to":["a@b.example"],"subject":1,"body":{"content":""}}`, msgBadSubject},
		{"send no body", "mail.send", `{"to":["a@b.example"],"subject":"s"}`, msgMissingBody},
		{"send body string", "mail.send", `{"to":["a@b.example"],"subject":"s","body":"text"}`, msgBadSendBody},
		{"send body bad type", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"type":"rtf","content":""}}`, msgBadSendBody},
		{"send body dup member", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":"","content":"x"}}`, msgBadSendBody},
		{"send no recipients", "mail.send", `{"to":[],"subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send bad address", "mail.send", `{"to":["not an address"],"subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send address with angle", "mail.send", `{"to":["a@b.example>"],"subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send recipient object without addr", "mail.send", `{"to":[{"name":"x"}],"subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send to not array", "mail.send", `{"to":"a@b.example","subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send too many recipients", "mail.send", `{"to":[` + strings.Repeat(`"a@b.example",`, 500) + `"a@b.example"],"subject":"s","body":{"content":""}}`, msgBadRecipients},
		{"send attachment bad base64", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"name":"a","data":"abc"}]}`, msgBadAttachments},
		{"send attachment non-canonical base64", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"name":"a","data":"QR=="}]}`, msgBadAttachments},
		{"send attachment base64 with newline", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"name":"a","data":"aGVs\nbG8="}]}`, msgBadAttachments},
		{"send attachment no name", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"data":""}]}`, msgBadAttachments},
		{"send attachment bad type", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"name":"a","type":"nonsense","data":""}]}`, msgBadAttachments},
		{"send attachments over 3 MiB", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"attachments":[{"name":"a","data":"` + big + `"},{"name":"b","data":"` + big + `"}]}`, msgAttachmentsSize},
		{"send save string", "mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""},"save":"false"}`, msgBadSave},
		{"reply no comment", "mail.reply", `{"id":"AAk"}`, msgMissingComment},
		{"reply comment number", "mail.reply", `{"id":"AAk","comment":1}`, msgBadComment},
		{"reply all string", "mail.reply", `{"id":"AAk","comment":"","all":"yes"}`, msgBadAll},
		{"forward no to", "mail.forward", `{"id":"AAk"}`, msgMissingTo},
		{"forward empty to", "mail.forward", `{"id":"AAk","to":[]}`, msgBadRecipients},
		{"search no query", "mail.search", `{}`, msgMissingQuery},
		{"search empty query", "mail.search", `{"query":""}`, msgBadQuery},
		{"search blank query", "mail.search", `{"query":"   "}`, msgBadQuery},
		{"search control char", "mail.search", `{"query":"a\u0000b"}`, msgBadQuery},
		{"search too long", "mail.search", `{"query":"` + strings.Repeat("x", maxSearchQueryLen+1) + `"}`, msgBadQuery},
		{"search window", "mail.search", `{"query":"x","window":0}`, msgBadWindow},
		{"search state number", "mail.search", `{"query":"x","state":1}`, msgBadStateArg},
		{"attachments no id", "attachments.list", `{}`, msgMissingMessageID},
		{"bad mailbox", "mail.delete", `{"id":"AAk","mailbox":"a/b@c"}`, msgBadMailbox},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, cmd(tc.op, tc.args))
			defer p.Release()
			if p.Upstream != nil {
				t.Fatalf("a failed validation made an upstream call: %+v", p.Upstream)
			}
			out, _ := respond(t, p, 0, nil, "")
			r := gjson.Get(out, "results.0")
			if r.Get("status").Int() != 400 || r.Get("error.code").String() != CodeInvalidArgs || r.Get("error.message").String() != tc.msg {
				t.Fatalf("result %s, want invalid_args %q", r.Raw, tc.msg)
			}
		})
	}
}

func TestMailActionAnswers(t *testing.T) {
	graphMessage := `{"@odata.context":"x","id":"AAkNEW=","parentFolderId":"F1","subject":"S","isRead":true,"flag":{"flagStatus":"flagged"},"bccRecipients":[],"body":{"contentType":"html","content":"x"}}`
	cases := []struct {
		name, body string
		status     int
		answer     string
		want       string
	}{
		{"update 200", cmd("mail.update", `{"id":"AAk","read":true}`), 200, graphMessage,
			`{"results":[{"id":"c1","status":200,"data":{"message":{"id":"AAkNEW=","folder":"F1","subject":"S","read":true,"flag":"flagged"}}}]}`},
		{"update fields", cmd("mail.update", `{"id":"AAk","read":true,"fields":["read"]}`), 200, graphMessage,
			`{"results":[{"id":"c1","status":200,"data":{"message":{"id":"AAkNEW=","read":true}}}]}`},
		{"move 201", cmd("mail.move", `{"id":"AAk","to":"archive"}`), 201, graphMessage,
			`{"results":[{"id":"c1","status":200,"data":{"message":{"id":"AAkNEW=","folder":"F1","subject":"S","read":true,"flag":"flagged"}}}]}`},
		{"delete 204", cmd("mail.delete", `{"id":"AAk"}`), 204, "", `{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"send 202", cmd("mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""}}`), 202, "", `{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"reply 202", cmd("mail.reply", `{"id":"AAk","comment":"c"}`), 202, "", `{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"forward 202", cmd("mail.forward", `{"id":"AAk","to":["a@b.example"]}`), 202, "", `{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"update not found", cmd("mail.update", `{"id":"AAk","read":true}`), 404, `{"error":{"code":"ErrorItemNotFound","message":"secret text"}}`,
			`{"results":[{"id":"c1","status":404,"error":{"code":"not_found","message":"upstream did not find the object","upstreamCode":"ErrorItemNotFound"}}]}`},
		{"send invalid recipients", cmd("mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""}}`), 400, `{"error":{"code":"ErrorInvalidRecipients","message":"x"}}`,
			`{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":"upstream rejected the request arguments","upstreamCode":"ErrorInvalidRecipients"}}]}`},
		{"move forbidden", cmd("mail.move", `{"id":"AAk","to":"archive"}`), 403, `{"error":{"code":"ErrorAccessDenied","message":"x"}}`,
			`{"results":[{"id":"c1","status":403,"error":{"code":"forbidden","message":"upstream denied access","upstreamCode":"ErrorAccessDenied"}}]}`},
		{"update conflict", cmd("mail.update", `{"id":"AAk","read":true}`), 412, `{"error":{"code":"ErrorIrresolvableConflict","message":"x"}}`,
			`{"results":[{"id":"c1","status":409,"error":{"code":"conflict","message":"upstream reported a conflict","upstreamCode":"ErrorIrresolvableConflict"}}]}`},
		{"update answer without id", cmd("mail.update", `{"id":"AAk","read":true}`), 200, `{"subject":"x"}`,
			`{"results":[{"id":"c1","status":502,"error":{"code":"upstream_error","message":"upstream answer is malformed"}}]}`},
		{"attachments", cmd("attachments.list", `{"id":"AAk"}`), 200,
			`{"value":[{"@odata.type":"#microsoft.graph.fileAttachment","id":"AT1=","name":"a.pdf","contentType":"application/pdf","size":2048,"isInline":false},
			{"id":"AT2","name":"logo.png","contentType":"image/png","size":512,"isInline":true},{"name":"no id"},{"id":"AT3","size":"big","contentType":null}]}`,
			`{"results":[{"id":"c1","status":200,"data":{"attachments":[{"id":"AT1=","name":"a.pdf","type":"application/pdf","size":2048,"inline":false},
			{"id":"AT2","name":"logo.png","type":"image/png","size":512,"inline":true},{"id":"AT3"}]}}]}`},
		{"search last page", cmd("mail.search", `{"query":"x","fields":["subject"]}`), 200,
			`{"value":[{"id":"M1","subject":"a"},{"subject":"no id"},{"id":"M2","subject":"b","body":{"content":"x"}}]}`,
			`{"results":[{"id":"c1","status":200,"data":{"messages":[{"id":"M1","subject":"a"},{"id":"M2","subject":"b"}],"more":false}}]}`},
		{"search hostile link", cmd("mail.search", `{"query":"x"}`), 200,
			`{"value":[],"@odata.nextLink":"https://evil.example/v1.0/me/messages?$skip=10"}`,
			`{"results":[{"id":"c1","status":502,"error":{"code":"upstream_error","message":"upstream returned a link outside the configured upstream"}}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, tc.body)
			defer p.Release()
			out, o := respond(t, p, tc.status, hdr("Content-Type", "application/json"), tc.answer)
			if o.Status != 200 || compact(t, out) != compact(t, tc.want) {
				t.Fatalf("got %d %s\nwant %s", o.Status, out, compact(t, tc.want))
			}
		})
	}
}

func TestMailSendEnvelopeFailures(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("mail.send", `{"to":["a@b.example"],"subject":"s","body":{"content":""}}`))
	defer p.Release()
	out, o := respond(t, p, 503, hdr("Retry-After", "7"), `{"error":{"code":"serviceNotAvailable"}}`)
	if o.Status != 503 || gjson.Get(out, "error.code").String() != CodeUpstreamUnavailable || o.RetryAfter != 7 {
		t.Fatalf("got %d %s", o.Status, out)
	}
	out, o = respond(t, p, 0, nil, "")
	if o.Status != 502 || gjson.Get(out, "error.code").String() != CodeUpstreamError {
		t.Fatalf("got %d %s", o.Status, out)
	}
}

func TestMailActionsInBatch(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	p := mustPlan(t, tr, `{"commands":[
		{"id":"u","op":"mail.update","args":{"id":"AAk","read":true}},
		{"id":"d","op":"mail.delete","args":{"id":"AAd"}},
		{"id":"s","op":"mail.send","args":{"to":["a@b.example"],"subject":"s","body":{"content":"hi"}}},
		{"id":"q","op":"mail.search","args":{"query":"x y"}},
		{"id":"bad","op":"mail.move","args":{"id":"AAk"}}
	]}`)
	defer p.Release()
	u := p.Upstream
	if u.Method != "POST" || u.Path != "/v1.0/$batch" {
		t.Fatalf("call %s %s", u.Method, u.Path)
	}
	want := `{"requests":[
		{"id":"0","method":"PATCH","url":"/me/messages/AAk","headers":{"Prefer":"IdType=\"ImmutableId\"","Content-Type":"application/json"},"body":{"isRead":true}},
		{"id":"1","method":"DELETE","url":"/me/messages/AAd","headers":{"Prefer":"IdType=\"ImmutableId\""}},
		{"id":"2","method":"POST","url":"/me/sendMail","headers":{"Prefer":"IdType=\"ImmutableId\"","Content-Type":"application/json"},
		 "body":{"message":{"subject":"s","body":{"contentType":"text","content":"hi"},"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]},"saveToSentItems":true}},
		{"id":"3","method":"GET","url":"/me/messages?$search=%22x%20y%22&$top=50&` + selMsgAction + `","headers":{"Prefer":"IdType=\"ImmutableId\""}}]}`
	if compact(t, string(u.Body)) != compact(t, want) {
		t.Fatalf("batch body\n%s\nwant\n%s", u.Body, compact(t, want))
	}
	answer := `{"responses":[
		{"id":"3","status":200,"body":{"value":[{"id":"M1","subject":"x"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/messages?$search=%22x%20y%22&$top=50&$skip=50"}},
		{"id":"2","status":202,"headers":{}},
		{"id":"1","status":204},
		{"id":"0","status":200,"body":{"id":"AAk","isRead":true}}]}`
	out, o := respond(t, p, 200, nil, answer)
	if o.Status != 200 {
		t.Fatalf("status %d %s", o.Status, out)
	}
	wantOut := `{"results":[
		{"id":"u","status":200,"data":{"message":{"id":"AAk","read":true}}},
		{"id":"d","status":200,"data":{}},
		{"id":"s","status":200,"data":{}},
		{"id":"q","status":200,"data":{"messages":[{"id":"M1","subject":"x"}],"state":"S","more":true}},
		{"id":"bad","status":400,"error":{"code":"invalid_args","message":"to is required"}}]}`
	if maskState(out) != compact(t, wantOut) {
		t.Fatalf("got %s\nwant %s", out, compact(t, wantOut))
	}
}

func TestMailSearchState(t *testing.T) {
	tr, clk := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("mail.search", `{"query":"budget","window":10,"fields":["subject","read"]}`))
	out, _ := respond(t, p, 200, nil, `{"value":[{"id":"M1","subject":"a"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/messages?$search=%22budget%22&$top=10&$select=id,subject,isRead&$skip=10"}`)
	p.Release()
	state := firstState(t, out)

	// Continue: the call is Graph's link, verbatim; window and fields come from the state.
	p = mustPlan(t, tr, cmd("mail.search", `{"query":"budget","state":"`+state+`","window":99,"fields":["body"]}`))
	if u := p.Upstream; u.Path != "/v1.0/me/messages" || u.RawQuery != "$search=%22budget%22&$top=10&$select=id,subject,isRead&$skip=10" {
		t.Fatalf("continuation %s ? %s", u.Path, u.RawQuery)
	}
	out, _ = respond(t, p, 200, nil, `{"value":[{"id":"M2","subject":"b","isRead":true,"body":{"content":"x"}}]}`)
	p.Release()
	if out != `{"results":[{"id":"c1","status":200,"data":{"messages":[{"id":"M2","subject":"b","read":true}],"more":false}}]}` {
		t.Fatalf("last page %s", out)
	}

	// The state is bound to the query, the mailbox and the op.
	for _, args := range []string{
		`{"query":"Budget","state":"` + state + `"}`,
		`{"query":"budget","mailbox":"x@y.example","state":"` + state + `"}`,
	} {
		p = mustPlan(t, tr, cmd("mail.search", args))
		out, _ = respond(t, p, 0, nil, "")
		p.Release()
		if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
			t.Fatalf("%s: %s", args, out)
		}
	}
	p = mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","state":"`+state+`"}`))
	out, _ = respond(t, p, 0, nil, "")
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
		t.Fatalf("a search state opened for mail.sync: %s", out)
	}
	clk.t = clk.t.Add(DefaultStateTTL + 1)
	p = mustPlan(t, tr, cmd("mail.search", `{"query":"budget","state":"`+state+`"}`))
	out, _ = respond(t, p, 0, nil, "")
	p.Release()
	if gjson.Get(out, "results.0.error.message").String() != msgStateExpired {
		t.Fatalf("expired: %s", out)
	}
}

// TestSearchValueEscaping decodes the built $search value the way Graph
// does and checks it is exactly one KQL phrase holding the query.
func TestSearchValueEscaping(t *testing.T) {
	for _, q := range []string{`plain`, `a"b`, `a\"b`, `\`, `"`, `" OR from:x OR "`, `ü日本 %&+=#?`, `\\""\\`} {
		value := string(appendSearchValue(nil, q))
		checkQuery(t, value)
		decoded := mustUnescapeQuery(t, value)
		if got, ok := kqlPhrase(decoded); !ok || got != q {
			t.Fatalf("query %q → %q → %q (phrase ok=%v)", q, value, got, ok)
		}
	}
}

// kqlPhrase reads a whole value as one double-quoted KQL phrase with
// backslash escapes; ok is false when anything follows the closing quote.
func kqlPhrase(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if i+1 >= len(v) {
				return "", false
			}
			i++
			b.WriteByte(v[i])
		case '"':
			return b.String(), i == len(v)-1
		default:
			b.WriteByte(v[i])
		}
	}
	return "", false
}

func mustUnescapeQuery(t testing.TB, v string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			t.Fatalf("bad escape in %q", v)
		}
		var x byte
		for _, c := range []byte{v[i+1], v[i+2]} {
			x <<= 4
			switch {
			case c >= '0' && c <= '9':
				x |= c - '0'
			case c >= 'A' && c <= 'F':
				x |= c - 'A' + 10
			default:
				x |= c - 'a' + 10
			}
		}
		b.WriteByte(x)
		i += 2
	}
	return b.String()
}

func TestStreamCalls(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	c, err := tr.AttachmentValueCall("", "AAk+x=", "AT_1-")
	if err != nil || c.Method != "GET" || c.Path != "/v1.0/me/messages/AAk%2Bx=/attachments/AT_1-/$value" || c.RawQuery != "" ||
		len(c.Prefer) != 1 || c.Body != nil {
		t.Fatalf("attachment call %+v %v", c, err)
	}
	c, err = tr.MIMEValueCall("shared@contoso.example", "AAk")
	if err != nil || c.Path != "/v1.0/users/shared@contoso.example/messages/AAk/$value" {
		t.Fatalf("mime call %+v %v", c, err)
	}
	c, err = tr.MIMESendCall("")
	if err != nil || c.Method != "POST" || c.Path != "/v1.0/me/sendMail" || c.ContentType != "text/plain" || c.Body != nil {
		t.Fatalf("mime send call %+v %v", c, err)
	}
	for _, bad := range []struct{ mailbox, id, aid, msg string }{
		{"", "a/b", "x", msgBadMessageID},
		{"", "", "x", msgBadMessageID},
		{"", "AAk", "..", msgBadAttachmentID},
		{"", "AAk", "", msgBadAttachmentID},
		{"bad mailbox", "AAk", "x", msgBadMailbox},
	} {
		if _, err := tr.AttachmentValueCall(bad.mailbox, bad.id, bad.aid); err == nil || err.Code != CodeInvalidArgs || err.Message != bad.msg {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := tr.MIMESendCall("x"); err == nil || err.Code != CodeInvalidArgs {
		t.Fatalf("bad mailbox accepted: %v", err)
	}
}

func TestUpstreamError(t *testing.T) {
	tr, _ := newTestTranslator(t)
	cases := []struct {
		status int
		header http.Header
		body   string
		want   string // the envelope
		code   int
	}{
		{200, nil, "", "", 0},
		{404, hdr("Request-Id", "r-1"), `{"error":{"code":"ErrorItemNotFound","message":"x"}}`,
			`{"error":{"code":"not_found","message":"upstream did not find the object","upstreamCode":"ErrorItemNotFound","requestId":"r-1"}}`, 404},
		{400, nil, `{"error":{"code":"ErrorMimeContentInvalidBase64String","message":"x"}}`,
			`{"error":{"code":"invalid_args","message":"upstream rejected the request arguments","upstreamCode":"ErrorMimeContentInvalidBase64String"}}`, 400},
		{405, nil, `not json`, `{"error":{"code":"upstream_error","message":"upstream request failed"}}`, 502},
		{401, hdr("WWW-Authenticate", "Bearer x"), `{"error":{"code":"InvalidAuthenticationToken"}}`,
			`{"error":{"code":"unauthenticated","message":"upstream refused the credentials","upstreamCode":"InvalidAuthenticationToken"}}`, 401},
		{429, hdr("Retry-After", "2.5"), ``, `{"error":{"code":"throttled","message":"upstream is throttling; retry after the given delay","retryAfter":3}}`, 429},
		{503, nil, ``, `{"error":{"code":"upstream_unavailable","message":"upstream is unavailable"}}`, 503},
		{410, nil, ``, `{"error":{"code":"resync_required","message":"sync position is gone; restart the sync without state"}}`, 410},
	}
	for _, tc := range cases {
		e := tr.UpstreamError(tc.status, tc.header, []byte(tc.body))
		if tc.want == "" {
			if e != nil {
				t.Fatalf("%d: %v", tc.status, e)
			}
			continue
		}
		if got := string(e.AppendEnvelope(nil)); got != tc.want || e.Status != tc.code {
			t.Fatalf("%d: %d %s, want %d %s", tc.status, e.Status, got, tc.code, tc.want)
		}
	}
}

func TestDecodedBase64Size(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 767, 768, 769, 5000} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i * 7)
		}
		s := base64.StdEncoding.EncodeToString(raw)
		if got, ok := decodedBase64Size(s); !ok || got != n {
			t.Fatalf("n=%d: %d %v", n, got, ok)
		}
	}
	for _, bad := range []string{"a", "ab=c", "====", "aGk", "aGk=aGk=", "a-b_", "YQ=\n"} {
		if _, ok := decodedBase64Size(bad); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestMailActionPayloadsAreJSON(t *testing.T) {
	// Hostile strings in every free-text argument still give valid JSON bodies.
	hostile := `"}],\u0000\u2028<script>` + "\xff"
	raw, _ := json.Marshal(hostile)
	tr, _ := newTestTranslator(t)
	for _, body := range []string{
		cmd("mail.send", `{"to":[{"name":`+string(raw)+`,"addr":"a@b.example"}],"subject":`+string(raw)+`,"body":{"content":`+string(raw)+`}}`),
		cmd("mail.reply", `{"id":"AAk","comment":`+string(raw)+`}`),
		cmd("mail.update", `{"id":"AAk","cats":[`+string(raw)+`]}`),
	} {
		p := mustPlan(t, tr, body)
		if p.Upstream == nil || !json.Valid(p.Upstream.Body) {
			t.Fatalf("%s → %+v", body, p.Upstream)
		}
		p.Release()
	}
}
