package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzPushSubscribeArgs: any push.subscribe arguments either become a
// create or renewal whose body is valid JSON with this bridge's
// notification URLs under the length limit and an R that opens, or an
// invalid_args, invalid_state or resync_required result.
func FuzzPushSubscribeArgs(f *testing.F) {
	seeds := []string{
		apnsArgs(""), apnsArgs(`,"watch":"calendar","env":"sandbox","alert":true,"account":"a"`),
		apnsArgs(`,"folder":"AQ+=","mailbox":"a@b"`), apnsArgs(`,"state":"AQECAw"`),
		`{"platform":"fcm","fid":"x:y_z-1","device":"d"}`, `{"platform":"fcm","token":"a","fid":"b","device":"d"}`,
		`{"platform":"webpush","endpoint":"` + testEndpoint + `","p256dh":"` + testP256dh + `","auth":"` + testWebPushAuth + `","device":"d"}`,
		`{"platform":"webpush","endpoint":"https://push.example.net:444/\u0000","p256dh":"BA==","auth":"","device":"d"}`,
		`{"platform":null,"device":["d"]}`, `{}`,
	}
	for _, s := range seeds {
		f.Add(s, true)
	}
	tr, _ := newPushTranslator(f)
	keys := tr.PushKeys()
	f.Fuzz(func(t *testing.T, args string, bound bool) {
		tenant, user := "", ""
		if bound {
			tenant, user = testTenant, testUser
		}
		p, e := tr.PlanWithPrincipal([]byte(`{"commands":[{"id":"c","op":"push.subscribe","args":`+args+`}]}`), tenant, user)
		if e != nil {
			if e.Code != CodeInvalidRequest {
				t.Fatalf("envelope error %+v", e)
			}
			return
		}
		defer p.Release()
		checkPlan(t, p)
		c := &p.cmds[0]
		if c.err != nil {
			switch c.err.Code {
			case CodeInvalidArgs, CodeInvalidState, CodeResyncRequired:
			default:
				t.Fatalf("unexpected error %+v", c.err)
			}
			return
		}
		body := gjson.ParseBytes(p.Upstream.Body)
		if p.Upstream.Method == "PATCH" {
			return // a fuzzer does not forge a sealed state
		}
		n := body.Get("notificationUrl").Str
		blob, ok := strings.CutPrefix(n, testNotifyBase)
		if !ok || len(n) >= MaxNotificationURLLen || body.Get("lifecycleNotificationUrl").Str != testLifeBase+blob {
			t.Fatalf("notification URLs in %s", p.Upstream.Body)
		}
		if _, err := keys.OpenRouting(blob); err != nil || !keys.CheckClientState(blob, body.Get("clientState").Str) {
			t.Fatalf("R does not open: %v", err)
		}
		if r := body.Get("resource").Str; strings.Count(r, "'") != 0 && strings.Count(r, "'") != 2 {
			t.Fatalf("resource %q", r)
		}
	})
}

// FuzzPushIDs: push.unsubscribe's ids become one DELETE each, of one
// escaped path segment under /subscriptions, or invalid_args.
func FuzzPushIDs(f *testing.F) {
	for _, s := range []string{`["S1"]`, `["AB+c="]`, `[]`, `["a","b"]`, `["../x"]`, `"S1"`, `[null]`, `[["S1"]]`, `["%2e%2e"]`} {
		f.Add(s)
	}
	tr, _ := newPushTranslator(f)
	f.Fuzz(func(t *testing.T, ids string) {
		p, e := tr.Plan([]byte(`{"commands":[{"id":"c","op":"push.unsubscribe","args":{"ids":` + ids + `}}]}`))
		if e != nil {
			return
		}
		defer p.Release()
		checkPlan(t, p)
		c := &p.cmds[0]
		if c.err != nil {
			if c.err.Code != CodeInvalidArgs {
				t.Fatalf("unexpected error %+v", c.err)
			}
			return
		}
		paths := []string{p.Upstream.Path}
		if len(c.more) > 0 {
			paths = paths[:0]
			for _, r := range gjson.GetBytes(p.Upstream.Body, "requests").Array() {
				if r.Get("method").Str != "DELETE" {
					t.Fatalf("request %s", r.Raw)
				}
				paths = append(paths, "/v1.0"+r.Get("url").Str)
			}
			if len(paths) != 1+len(c.more) {
				t.Fatalf("%d requests for %d ids", len(paths), 1+len(c.more))
			}
		} else if p.Upstream.Method != "DELETE" {
			t.Fatalf("call %s %s", p.Upstream.Method, p.Upstream.Path)
		}
		for _, path := range paths {
			seg, ok := strings.CutPrefix(path, "/v1.0/subscriptions/")
			if !ok || seg == "" || strings.Contains(seg, "/") {
				t.Fatalf("path %s", path)
			}
		}
	})
}

// FuzzMailGetRef: a ref either opens to a Graph message id, which becomes
// one path segment, or is invalid_args.
func FuzzMailGetRef(f *testing.F) {
	tr, _ := newPushTranslator(f)
	ref, _ := tr.PushKeys().SealRef("AAk=")
	for _, s := range []string{ref, ref[:len(ref)-1], "", "AAAA", strings.Repeat("A", 600), "a/b", "\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		p, e := tr.Plan([]byte(cmd("mail.get", `{"ref":`+string(appendJSONString(nil, ref))+`}`)))
		if e != nil {
			t.Fatalf("envelope error %+v", e)
		}
		defer p.Release()
		checkPlan(t, p)
		c := &p.cmds[0]
		if c.err != nil {
			if c.err.Code != CodeInvalidArgs {
				t.Fatalf("unexpected error %+v", c.err)
			}
			return
		}
		if !validGraphID(c.msgID) || p.Upstream.Path != "/v1.0/me/messages/"+string(appendPathSegment(nil, c.msgID)) {
			t.Fatalf("ref opened to %q, path %s", c.msgID, p.Upstream.Path)
		}
	})
}

// FuzzPushLink: parsePushLink reads only what appendPushLink writes back.
func FuzzPushLink(f *testing.F) {
	f.Add("/subscriptions/S1?e=1772884800&k=0a0b0c0d&i=1772366400&h=AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("/subscriptions/AB%2Bc=?e=0&k=00000000&i=0&h=AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("/subscriptions/a/b?e=1&k=1&i=1&h=")
	f.Fuzz(func(t *testing.T, link string) {
		var st pushState
		if !parsePushLink(link, &st) {
			return
		}
		again := appendPushLink(nil, st.subID, st.expires, st.keyID, st.rIssued, st.digest)
		var st2 pushState
		if !parsePushLink(string(again), &st2) || st2 != st || !validRelativeLink(string(again)) {
			t.Fatalf("%q parsed to %+v, written back as %q", link, st, again)
		}
	})
}

// FuzzPushListAnswer: any Graph answer to push.list becomes valid device
// JSON; listed watch and platform values come only from an R that opens.
func FuzzPushListAnswer(f *testing.F) {
	tr, _ := newPushTranslator(f)
	p := mustPlan(f, tr, cmd("push.subscribe", apnsArgs("")))
	n := gjson.GetBytes(p.Upstream.Body, "notificationUrl").Str
	p.Release()
	for _, s := range []string{
		`{"value":[{"id":"S1","notificationUrl":"` + n + `","expirationDateTime":"2026-03-07T12:00:00Z"}]}`,
		`{"value":[{"id":"S1","notificationUrl":"` + n[:len(n)-3] + `"},{"id":2},null,[]]}`,
		`{"value":{}}`, `{}`, `[]`, `{"value":[{"id":"\u0000","expirationDateTime":"9999-99-99"}]}`,
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, answer string, withDevice bool) {
		args := `{}`
		if withDevice {
			args = `{"device":"` + testPushDevice + `"}`
		}
		p := mustPlan(t, tr, cmd("push.list", args))
		defer p.Release()
		out, _ := respond(t, p, 200, nil, answer)
		gjson.Get(out, "results.0.data.subscriptions").ForEach(func(_, s gjson.Result) bool {
			if w := s.Get("watch"); w.Exists() && w.Str != "mail" && w.Str != "calendar" && w.Str != "contacts" {
				t.Fatalf("watch %s", w.Raw)
			}
			if s.Get("mine").Type == gjson.True && (!withDevice || !s.Get("watch").Exists()) {
				t.Fatalf("mine without a device or an R that opens: %s", s.Raw)
			}
			return true
		})
	})
}

// FuzzPushUnsubscribeRespond: whatever Graph answers to a push.unsubscribe
// that fans out, the device gets valid JSON, and the command succeeds only
// when each of its three DELETEs answered 2xx or 404.
func FuzzPushUnsubscribeRespond(f *testing.F) {
	f.Add([]byte(`{"responses":[{"id":"0","status":204},{"id":"0.0","status":404},{"id":"0.1","status":204}]}`))
	f.Add([]byte(`{"responses":[{"id":"0","status":204},{"id":"0.0","status":204},{"id":"0.0","status":500},{"id":"0.1","status":204}]}`))
	f.Add([]byte(`{"responses":[{"id":"0.1","status":429,"headers":{"Retry-After":"3"}},{"id":"0","status":204},{"id":"0.0","status":204}]}`))
	f.Add([]byte(`{"responses":[{"id":"0","status":204},{"id":"0.01","status":204},{"id":"0.1","status":204}]}`))
	tr, _ := newPushTranslator(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p := mustPlan(t, tr, cmd("push.unsubscribe", `{"ids":["S1","S2","S3"]}`))
		defer p.Release()
		var dst bytes.Buffer
		o := p.Respond(&dst, 200, nil, body)
		if !json.Valid(dst.Bytes()) {
			t.Fatalf("invalid device JSON for %q: %s", body, dst.Bytes())
		}
		if o.Status != 200 || o.Results[0].Status != 200 {
			return
		}
		// Success: the first answer to each id was 2xx or 404.
		seen := map[string]bool{}
		for _, r := range gjson.GetBytes(body, "responses").Array() {
			id := r.Get("id")
			if id.Type != gjson.String || seen[id.Str] || !r.IsObject() {
				continue
			}
			st := r.Get("status")
			if st.Type != gjson.Number {
				continue
			}
			seen[id.Str] = true
			if s := st.Float(); (s < 200 || s > 299) && s != 404 {
				t.Fatalf("success although %s answered %v: %s", id.Str, s, body)
			}
		}
		for _, id := range []string{"0", "0.0", "0.1"} {
			if !seen[id] {
				t.Fatalf("success without an answer for %s: %s", id, body)
			}
		}
	})
}
