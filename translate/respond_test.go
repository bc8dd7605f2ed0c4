package translate

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func TestRespondFolderDelta(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("folders.sync", ""))
	defer p.Release()
	out, o := respond(t, p, 200, hdr("request-id", "req-1"), graphFolderPage)
	want := `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"upsert","folder":{"id":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB","parent":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAA","name":"Inbox","unread":14,"total":238,"children":2,"hidden":false}},` +
		`{"op":"upsert","folder":{"id":"AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAZg1yTAAA=","parent":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAA","name":"Unread from boss","unread":2,"total":2,"children":0,"hidden":false}},` +
		`{"op":"delete","id":"AQMkGone"}],"state":"S","more":false}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	if o.Status != 200 || o.UpstreamRequestID != "req-1" || o.Results[0] != (Result{Op: "folders.sync", Status: 200}) {
		t.Fatalf("outcome %+v", o)
	}
	rec, err := tr.openState(firstState(t, out), opFoldersSync, nil, "")
	if err != nil || rec.link != "/me/mailFolders/delta?$deltatoken=Fd1" || rec.window != 50 {
		t.Fatalf("state %+v %v", rec, err)
	}
}

func TestRespondMessagePages(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	p := mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","window":2,"since":"2025-01-01T00:00:00Z"}`))
	out, _ := respond(t, p, 200, nil, graphMessagePageNext)
	p.Release()
	want := `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=","folder":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB","subject":"Q3 roadmap review","from":{"name":"Priya Natarajan","addr":"priya@fabrikam.example"},"received":"2025-03-04T08:15:22Z","read":false,"flag":"none","cats":[]}},` +
		`{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1yAAA=","folder":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB","subject":"Lunch Thursday?","from":{"name":"Tomás Ruiz","addr":"tomas@contoso.example"},"received":"2025-03-04T09:02:10Z","read":true,"flag":"flagged","cats":["Blue category"]}}` +
		`],"state":"S","more":true}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	state := firstState(t, out)

	// The continuation follows the sealed link verbatim, with the sealed window;
	// since and fields given again are ignored.
	p = mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","state":"`+state+`","since":"2020-01-01T00:00:00Z","fields":["subject"]}`))
	u := p.Upstream
	if u == nil || u.Path != "/v1.0/me/mailfolders('AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB')/messages/delta" ||
		u.RawQuery != "$skiptoken=LztZwWjo5IivWBhyxw5rAGsYqmGQ7Gc0OF" || strings.Join(u.Prefer, "|") != `odata.maxpagesize=2|IdType="ImmutableId"` {
		t.Fatalf("continuation call %+v", u)
	}
	out, _ = respond(t, p, 200, nil, graphMessagePageFinal)
	p.Release()
	want = `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"delete","id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1yAAA="},` +
		`{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=","folder":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB","subject":"Q3 roadmap review","from":{"name":"Priya Natarajan","addr":"priya@fabrikam.example"},"received":"2025-03-04T08:15:22Z","read":true,"flag":"flagged","cats":[]}}` +
		`],"state":"S","more":false}}]}`
	if maskState(out) != want {
		t.Fatalf("final page\n got %s\nwant %s", maskState(out), want)
	}

	// A window given with the state overrides it and is re-sealed.
	state = firstState(t, out)
	p = mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","state":"`+state+`","window":7}`))
	if p.Upstream.RawQuery != "$deltatoken=LztZwWjo5IivWBhyxw5rAAbC8EuY9t2qgGfpQ" || p.Upstream.Prefer[0] != "odata.maxpagesize=7" {
		t.Fatalf("override call %+v", p.Upstream)
	}
	out, _ = respond(t, p, 200, nil, graphMessagePageFinal)
	p.Release()
	p = mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","state":"`+firstState(t, out)+`"}`))
	if p.Upstream.Prefer[0] != "odata.maxpagesize=7" {
		t.Fatalf("re-sealed window lost: %+v", p.Upstream)
	}
	p.Release()
}

func TestRespondFieldSelection(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","fields":["subject","read"]}`))
	out, _ := respond(t, p, 200, nil, graphMessagePageNext)
	p.Release()
	want := `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=","subject":"Q3 roadmap review","read":false}},` +
		`{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1yAAA=","subject":"Lunch Thursday?","read":true}}` +
		`],"state":"S","more":true}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	// Later pages keep the first call's selection.
	p = mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","state":"`+firstState(t, out)+`"}`))
	out, _ = respond(t, p, 200, nil, graphMessagePageFinal)
	p.Release()
	if !strings.Contains(out, `{"op":"upsert","message":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=","subject":"Q3 roadmap review","read":true}}`) {
		t.Fatalf("selection not sealed: %s", out)
	}
}

func TestRespondMailGet(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("mail.get", `{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA="}`))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, graphMessageGet)
	want := `{"results":[{"id":"c1","status":200,"data":{"message":{` +
		`"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=",` +
		`"folder":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB",` +
		`"conv":"AAQkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoAEABKw==",` +
		`"subject":"Q3 roadmap review",` +
		`"from":{"name":"Priya Natarajan","addr":"priya@fabrikam.example"},` +
		`"to":[{"name":"Lea Martin","addr":"lea@contoso.example"},{"addr":"team@contoso.example"}],"cc":[],"bcc":[],` +
		`"received":"2025-03-04T08:15:22Z","sent":"2025-03-04T08:15:20Z",` +
		`"preview":"Agenda: \"numbers\" first","read":true,"flag":"complete","importance":"high","att":false,` +
		`"cats":["Red category","Blue category"],"draft":false,` +
		`"body":{"type":"text","content":"Agenda:\r\n\"numbers\" first\u2028end"}}}}]}`
	if out != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func TestRespondFolderGetAndOmissions(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("folder.get", `{"folder":"inbox"}`))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, `{"id":"F1","displayName":null,"parentFolderId":7,"unreadItemCount":3,"isHidden":true,"extra":{"a":[1]}}`)
	want := `{"results":[{"id":"c1","status":200,"data":{"folder":{"id":"F1","unread":3,"hidden":true}}}]}`
	if out != want {
		t.Fatalf("got %s", out)
	}
	p2 := mustPlan(t, tr, cmd("mail.get", `{"id":"M"}`))
	defer p2.Release()
	out, _ = respond(t, p2, 200, nil, `{"id":"M","from":null,"subject":null,"toRecipients":[{"emailAddress":{}},5,{"emailAddress":{"name":"N"}}],"flag":{"flagStatus":"weird"},"body":{"contentType":"HTML","content":"<p>x</p>"},"categories":["a",1,null]}`)
	want = `{"results":[{"id":"c1","status":200,"data":{"message":{"id":"M","to":[{"name":"N"}],"cats":["a"],"body":{"type":"html","content":"<p>x</p>"}}}}]}`
	if out != want {
		t.Fatalf("got %s", out)
	}
}

func TestRespondMalformedPages(t *testing.T) {
	tr, _ := newTestTranslator(t)
	cases := map[string]struct {
		body   string
		status int // Outcome.Status
		code   string
	}{
		"not json":        {`<html>`, 502, CodeUpstreamError},
		"empty":           {``, 502, CodeUpstreamError},
		"array":           {`[]`, 502, CodeUpstreamError},
		"no link":         {`{"value":[]}`, 200, CodeUpstreamError},
		"value not array": {`{"value":{},"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/mailFolders/delta?$deltatoken=x"}`, 200, CodeUpstreamError},
		"link number":     {`{"value":[],"@odata.deltaLink":5}`, 200, CodeUpstreamError},
		"too deep":        {`{"value":[` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `]}`, 502, CodeUpstreamError},
	}
	for name, c := range cases {
		p := mustPlan(t, tr, cmd("folders.sync", ""))
		out, o := respond(t, p, 200, nil, c.body)
		p.Release()
		if o.Status != c.status || !strings.Contains(out, `"code":"`+c.code+`"`) {
			t.Errorf("%s: %d %s", name, o.Status, out)
		}
	}
	// Items without an id are skipped; an empty value array on a nextLink page is fine.
	p := mustPlan(t, tr, cmd("folders.sync", ""))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, `{"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/mailFolders/delta?$skiptoken=a","value":[{"displayName":"x"},1,{"id":"A"}]}`)
	if maskState(out) != `{"results":[{"id":"c1","status":200,"data":{"changes":[{"op":"upsert","folder":{"id":"A"}}],"state":"S","more":true}}]}` {
		t.Fatalf("got %s", out)
	}
}

func TestHostileLinks(t *testing.T) {
	tr, _ := newTestTranslator(t)
	links := []string{
		"https://evil.example/v1.0/me/mailFolders/delta?$deltatoken=x",
		"http://graph.microsoft.com/v1.0/me/mailFolders/delta?$deltatoken=x",
		"https://graph.microsoft.com/beta/me/mailFolders/delta?$deltatoken=x",
		"https://graph.microsoft.com/v1.0x/me/mailFolders/delta",
		"https://graph.microsoft.com/v1.0",
		"https://graph.microsoft.com/v1.0/",
		"https://user@graph.microsoft.com/v1.0/me/mailFolders/delta",
		"https://graph.microsoft.com@evil.example/v1.0/me/mailFolders/delta",
		"https://graph.microsoft.com.evil.example/v1.0/me/mailFolders/delta",
		"https://graph.microsoft.com:443/v1.0/me/mailFolders/delta",
		"https://graph.microsoft.com:8443/v1.0/me/mailFolders/delta",
		"//graph.microsoft.com/v1.0/me/mailFolders/delta",
		"/v1.0/me/mailFolders/delta",
		"https://graph.microsoft.com/v1.0/../beta/me/mailFolders/delta",
		"https://graph.microsoft.com/v1.0/%2e%2E/beta/me",
		"https://graph.microsoft.com/v1.0/me/./x",
		"https://graph.microsoft.com/v1.0/me/mailFolders/delta#frag",
		"https://graph.microsoft.com/v1.0/me/mail Folders/delta",
		"https://graph.microsoft.com/v1.0/me\\..\\x",
		"https://graph.microsoft.com/v1.0/me/\u00e9",
		"javascript:alert(1)",
	}
	for _, l := range links {
		p := mustPlan(t, tr, cmd("folders.sync", ""))
		out, o := respond(t, p, 200, nil, `{"value":[],"@odata.nextLink":"`+strings.ReplaceAll(l, `\`, `\\`)+`"}`)
		p.Release()
		want := `{"results":[{"id":"c1","status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamBadLink + `"}}]}`
		if o.Status != 200 || out != want {
			t.Errorf("link %q: %s", l, out)
		}
	}
	// Case-insensitive scheme and host are accepted.
	p := mustPlan(t, tr, cmd("folders.sync", ""))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, `{"value":[],"@odata.deltaLink":"HTTPS://Graph.Microsoft.COM/v1.0/me/mailFolders/delta?$deltatoken=x"}`)
	if !strings.Contains(out, `"status":200`) {
		t.Fatalf("case-insensitive host refused: %s", out)
	}
}

func TestEnvelopeErrorMapping(t *testing.T) {
	tr, _ := newTestTranslator(t)
	date := testNow.Add(91 * time.Second).Format(http.TimeFormat)
	past := testNow.Add(-time.Hour).Format(http.TimeFormat)
	errBody := `{"error":{"code":"TooManyRequests","message":"secret content","innerError":{"request-id":"inner-1"}}}`
	cases := []struct {
		name   string
		batch  bool
		status int
		h      http.Header
		body   string
		want   string
		www    string
		ra     int
	}{
		{"401 direct", false, 401, hdr("WWW-Authenticate", `Bearer realm="", error="insufficient_claims", claims="eyJ"`, "request-id", "r1"),
			`{"error":{"code":"InvalidAuthenticationToken","message":"Continuous access evaluation"}}`,
			`{"error":{"code":"unauthenticated","message":"` + msgUnauthenticated + `","upstreamCode":"InvalidAuthenticationToken","requestId":"r1"}}`,
			`Bearer realm="", error="insufficient_claims", claims="eyJ"`, 0},
		{"401 batch two challenges", true, 401, hdr("WWW-Authenticate", `PoP nonce="x"`, "WWW-Authenticate", `Bearer realm=""`), ``,
			`{"error":{"code":"unauthenticated","message":"` + msgUnauthenticated + `"}}`, `PoP nonce="x", Bearer realm=""`, 0},
		{"429 integer", false, 429, hdr("Retry-After", "7"), errBody,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":7,"upstreamCode":"TooManyRequests","requestId":"inner-1"}}`, "", 7},
		{"429 fraction", false, 429, hdr("Retry-After", "2.128"), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":3}}`, "", 3},
		{"429 date", true, 429, hdr("Retry-After", date), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":91}}`, "", 91},
		{"429 past date", false, 429, hdr("Retry-After", past), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":1}}`, "", 1},
		{"429 absent", false, 429, nil, ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":5}}`, "", 5},
		{"429 garbage", false, 429, hdr("Retry-After", "soon"), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":5}}`, "", 5},
		{"429 huge", false, 429, hdr("Retry-After", "99999999999"), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":86400}}`, "", 86400},
		{"424 batch", true, 424, hdr("Retry-After", "4"), ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":4}}`, "", 4},
		{"424 batch no RA", true, 424, nil, ``,
			`{"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":5}}`, "", 5},
		{"503 with RA", false, 503, hdr("Retry-After", "30"), ``,
			`{"error":{"code":"upstream_unavailable","message":"` + msgUpstreamUnavailable + `","retryAfter":30}}`, "", 30},
		{"503 without RA", true, 503, nil, `{"error":{"code":"serviceNotAvailable"}}`,
			`{"error":{"code":"upstream_unavailable","message":"` + msgUpstreamUnavailable + `","upstreamCode":"serviceNotAvailable"}}`, "", 0},
		{"504", false, 504, hdr("Retry-After", "1.5"), ``,
			`{"error":{"code":"upstream_timeout","message":"` + msgUpstreamTimeout + `","retryAfter":2}}`, "", 2},
		{"500 keeps Retry-After", false, 500, hdr("Retry-After", "9"), `{"error":{"code":"generalException"}}`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamError + `","retryAfter":9,"upstreamCode":"generalException"}}`, "", 9},
		{"502 html", true, 502, nil, `<html>bad gateway</html>`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamError + `"}}`, "", 0},
		{"batch 400", true, 400, nil, `{"error":{"code":"BadRequest","message":"x"}}`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamError + `","upstreamCode":"BadRequest"}}`, "", 0},
		{"batch 200 not json", true, 200, nil, `{"responses":`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamMalformed + `"}}`, "", 0},
		{"batch 200 no responses", true, 200, nil, `{"value":[]}`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamMalformed + `"}}`, "", 0},
		{"direct 200 not json", false, 200, hdr("request-id", "r9"), `not json`,
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamMalformed + `","requestId":"r9"}}`, "", 0},
		{"no answer", false, 0, nil, ``,
			`{"error":{"code":"upstream_error","message":"` + msgNoUpstreamAnswer + `"}}`, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := cmd("folder.get", `{"folder":"inbox"}`)
			if c.batch {
				body = `{"commands":[{"id":"a","op":"folder.get","args":{"folder":"inbox"}},{"id":"b","op":"folders.sync"}]}`
			}
			p := mustPlan(t, tr, body)
			defer p.Release()
			out, o := respond(t, p, c.status, c.h, c.body)
			if out != c.want {
				t.Fatalf("got  %s\nwant %s", out, c.want)
			}
			wantStatus := c.status
			switch c.status {
			case 424:
				wantStatus = 429
			case 500, 502, 400, 200, 0:
				wantStatus = 502
			}
			if o.Status != wantStatus || o.WWWAuthenticate != c.www || o.RetryAfter != c.ra || len(o.Results) != 0 {
				t.Fatalf("outcome %+v", o)
			}
			if strings.Contains(out, "secret") || strings.Contains(out, "Continuous") {
				t.Fatalf("upstream message leaked: %s", out)
			}
		})
	}
}

func TestCommandErrorMapping(t *testing.T) {
	tr, _ := newTestTranslator(t)
	cases := []struct {
		status int
		h      http.Header
		body   string
		want   string
	}{
		{400, nil, `{"error":{"code":"ErrorInvalidIdMalformed","message":"Id is malformed."}}`,
			`"status":400,"error":{"code":"invalid_args","message":"` + msgUpstreamRejected + `","upstreamCode":"ErrorInvalidIdMalformed"}`},
		{403, hdr("request-id", "r3"), `{"error":{"code":"ErrorAccessDenied"}}`,
			`"status":403,"error":{"code":"forbidden","message":"` + msgForbidden + `","upstreamCode":"ErrorAccessDenied","requestId":"r3"}`},
		{404, nil, `{"error":{"code":"ErrorItemNotFound","innerError":{"request-id":"in-4"}}}`,
			`"status":404,"error":{"code":"not_found","message":"` + msgNotFound + `","upstreamCode":"ErrorItemNotFound","requestId":"in-4"}`},
		{404, nil, `<html>`, `"status":404,"error":{"code":"not_found","message":"` + msgNotFound + `"}`},
		{409, nil, ``, `"status":409,"error":{"code":"conflict","message":"` + msgConflict + `"}`},
		{412, nil, ``, `"status":409,"error":{"code":"conflict","message":"` + msgConflict + `"}`},
		{410, nil, `{"error":{"code":"SyncStateNotFound"}}`,
			`"status":410,"error":{"code":"resync_required","message":"` + msgResync + `","upstreamCode":"SyncStateNotFound"}`},
		{400, nil, `{"error":{"code":"syncstateinvalid"}}`,
			`"status":410,"error":{"code":"resync_required","message":"` + msgResync + `","upstreamCode":"syncstateinvalid"}`},
		{404, nil, `{"error":{"code":"resyncRequired"}}`,
			`"status":410,"error":{"code":"resync_required","message":"` + msgResync + `","upstreamCode":"resyncRequired"}`},
		{405, nil, ``, `"status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamError + `"}`},
		{302, hdr("Location", "https://evil.example/"), ``, `"status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamError + `"}`},
		{400, nil, `{"error":{"code":"bad code with spaces"}}`, `"status":400,"error":{"code":"invalid_args","message":"` + msgUpstreamRejected + `"}`},
	}
	for _, c := range cases {
		p := mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox"}`))
		out, o := respond(t, p, c.status, c.h, c.body)
		p.Release()
		want := `{"results":[{"id":"c1",` + c.want + `}]}`
		if out != want || o.Status != 200 {
			t.Errorf("status %d:\n got %s\nwant %s", c.status, out, want)
		}
	}
}

func TestBatchUnpacking(t *testing.T) {
	tr, _ := newTestTranslator(t)
	body := `{"commands":[
		{"id":"ok","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"gone","op":"mail.sync","args":{"folder":"inbox"}},
		{"id":"local","op":"mail.get","args":{}},
		{"id":"missing","op":"mail.get","args":{"id":"AAA"}},
		{"id":"thr","op":"folders.sync"},
		{"id":"dep","op":"folder.get","args":{"folder":"drafts"}},
		{"id":"nf","op":"mail.get","args":{"id":"BBB"}},
		{"id":"sync","op":"folders.sync","args":{"window":3}},
		{"id":"b64","op":"folder.get","args":{"folder":"outbox"}}]}`
	p := mustPlan(t, tr, body)
	defer p.Release()
	// Items answered out of order; "3" is missing; "99", a duplicate "0" and a
	// malformed id are ignored.
	answer := `{"responses":[
		{"id":"6","status":404,"headers":{"request-id":"item-6"},"body":{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}},
		{"id":"5","status":424,"body":{"error":{"code":"FailedDependency"}}},
		{"id":"4","status":429,"headers":{"retry-after":"7","Content-Type":"application/json"},"body":{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}},
		{"id":"1","status":410,"body":{"error":{"code":"SyncStateNotFound","innerError":{"request-id":"in-1"}}}},
		{"id":"0","status":200,"body":{"id":"F0","displayName":"Inbox"}},
		{"id":"0","status":500,"body":{}},
		{"id":"99","status":200,"body":{}},
		{"id":"07","status":200,"body":{}},
		{"id":"7","status":201,"body":{"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/mailFolders/delta?$deltatoken=z","value":[]}},
		{"id":"8","status":200,"headers":{"Content-Type":"text/plain"},"body":"eyJpZCI6IkY4In0="}
	]}`
	out, o := respond(t, p, 200, hdr("request-id", "env-1"), answer)
	want := `{"results":[` +
		`{"id":"ok","status":200,"data":{"folder":{"id":"F0","name":"Inbox"}}},` +
		`{"id":"gone","status":410,"error":{"code":"resync_required","message":"` + msgResync + `","upstreamCode":"SyncStateNotFound","requestId":"in-1"}},` +
		`{"id":"local","status":400,"error":{"code":"invalid_args","message":"` + msgMissingMessageID + `"}},` +
		`{"id":"missing","status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamMissing + `","requestId":"env-1"}},` +
		`{"id":"thr","status":429,"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":7,"upstreamCode":"ApplicationThrottled","requestId":"env-1"}},` +
		`{"id":"dep","status":429,"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":7,"upstreamCode":"FailedDependency","requestId":"env-1"}},` +
		`{"id":"nf","status":404,"error":{"code":"not_found","message":"` + msgNotFound + `","upstreamCode":"ErrorItemNotFound","requestId":"item-6"}},` +
		`{"id":"sync","status":200,"data":{"changes":[],"state":"S","more":false}},` +
		`{"id":"b64","status":200,"data":{"folder":{"id":"F8"}}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	wantResults := []Result{
		{"folder.get", 200, "", 0}, {"mail.sync", 410, CodeResyncRequired, 0}, {"mail.get", 400, CodeInvalidArgs, 0},
		{"mail.get", 502, CodeUpstreamError, 0}, {"folders.sync", 429, CodeThrottled, 7}, {"folder.get", 429, CodeThrottled, 7},
		{"mail.get", 404, CodeNotFound, 0}, {"folders.sync", 200, "", 0}, {"folder.get", 200, "", 0},
	}
	if o.Status != 200 || o.UpstreamRequestID != "env-1" || len(o.Results) != len(wantResults) {
		t.Fatalf("outcome %+v", o)
	}
	for i, r := range wantResults {
		if o.Results[i] != r {
			t.Errorf("result %d: %+v want %+v", i, o.Results[i], r)
		}
	}
	rec, err := tr.openState(firstState(t, out), opFoldersSync, nil, "")
	if err != nil || rec.window != 3 || rec.link != "/me/mailFolders/delta?$deltatoken=z" {
		t.Fatalf("sealed %+v %v", rec, err)
	}
	if strings.Contains(out, "store") || strings.Contains(out, "MailboxConcurrency") {
		t.Fatalf("upstream message leaked")
	}
}

func TestBatchItemServerErrors(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"commands":[{"id":"a","op":"folders.sync"},{"id":"b","op":"folders.sync"},{"id":"c","op":"folders.sync"},{"id":"d","op":"folders.sync"}]}`)
	defer p.Release()
	out, _ := respond(t, p, 200, nil, `{"responses":[
		{"id":"0","status":503,"headers":{"Retry-After":"12"}},
		{"id":"1","status":504},
		{"id":"2","status":500},
		{"id":"3","status":424}]}`)
	want := `{"results":[` +
		`{"id":"a","status":503,"error":{"code":"upstream_unavailable","message":"` + msgUpstreamUnavailable + `","retryAfter":12}},` +
		`{"id":"b","status":504,"error":{"code":"upstream_timeout","message":"` + msgUpstreamTimeout + `"}},` +
		`{"id":"c","status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamError + `"}},` +
		`{"id":"d","status":429,"error":{"code":"throttled","message":"` + msgThrottled + `","retryAfter":5}}]}`
	if out != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func TestRespondReusesBuffer(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("folders.sync", ""))
	defer p.Release()
	out1, _ := respond(t, p, 200, nil, graphFolderPage)
	out2, _ := respond(t, p, 200, nil, graphFolderPage)
	if maskState(out1) != maskState(out2) {
		t.Fatal("Respond is not repeatable")
	}
}

// A 2xx $batch item the bridge cannot use (here: a link to another host)
// fails with the item's own request-id, not the envelope's, so the device
// can quote the id Graph logged for that sub-request.
func TestBatchItemFailureKeepsItemRequestID(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"commands":[
		{"id":"a","op":"folders.sync"},
		{"id":"b","op":"folder.get","args":{"folder":"inbox"}}]}`)
	defer p.Release()
	answer := `{"responses":[
		{"id":"0","status":200,"headers":{"request-id":"item-0"},"body":{"@odata.deltaLink":"https://evil.example/v1.0/me/mailFolders/delta?$deltatoken=z","value":[]}},
		{"id":"1","status":200,"body":{"id":"F1","displayName":"Inbox"}}
	]}`
	out, _ := respond(t, p, 200, hdr("request-id", "env-1"), answer)
	got := gjson.Get(out, "results.0.error")
	if got.Get("code").String() != CodeUpstreamError || got.Get("requestId").String() != "item-0" {
		t.Fatalf("hostile link item: %s", out)
	}
	if gjson.Get(out, "results.1.status").Int() != 200 {
		t.Fatalf("the other item is unaffected: %s", out)
	}
}
