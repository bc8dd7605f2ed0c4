package translate

import (
	"reflect"
	"strings"
	"testing"
)

const (
	selFolders    = "$select=id,displayName,parentFolderId,childFolderCount,unreadItemCount,totalItemCount,isHidden"
	selMsgSync    = "$select=id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft"
	selMsgGetAll  = "$select=id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients,bccRecipients,receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft,body"
	selMsgGetNoBd = "$select=id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients,bccRecipients,receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft"
	preferText    = `outlook.body-content-type="text"`
	preferHTML    = `outlook.body-content-type="html"`
)

func cmd(op, args string) string {
	if args == "" {
		return `{"commands":[{"id":"c1","op":"` + op + `"}]}`
	}
	return `{"commands":[{"id":"c1","op":"` + op + `","args":` + args + `}]}`
}

func TestDirectCalls(t *testing.T) {
	cases := []struct {
		name      string
		immutable bool
		body      string
		path      string
		query     string
		prefer    []string
	}{
		{"folders.sync", false, cmd("folders.sync", ""), "/v1.0/me/mailFolders/delta", selFolders, []string{"odata.maxpagesize=50"}},
		{"folders.sync immutable window", true, cmd("folders.sync", `{"window":200}`), "/v1.0/me/mailFolders/delta", selFolders,
			[]string{"odata.maxpagesize=200", `IdType="ImmutableId"`}},
		{"folders.sync mailbox upn", false, cmd("folders.sync", `{"mailbox":"Shared.Box@contoso.example"}`),
			"/v1.0/users/Shared.Box@contoso.example/mailFolders/delta", selFolders, []string{"odata.maxpagesize=50"}},
		{"folders.sync mailbox guid", false, cmd("folders.sync", `{"mailbox":"5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10"}`),
			"/v1.0/users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/mailFolders/delta", selFolders, []string{"odata.maxpagesize=50"}},
		{"folders.sync mailbox specials escaped", false, cmd("folders.sync", `{"mailbox":"o'brien+tag#1^x!y~z@contoso.example"}`),
			"/v1.0/users/o%27brien%2Btag%231%5Ex%21y~z@contoso.example/mailFolders/delta", selFolders, []string{"odata.maxpagesize=50"}},
		{"folder.get well-known", false, cmd("folder.get", `{"folder":"inbox"}`), "/v1.0/me/mailFolders/inbox", selFolders, nil},
		{"folder.get well-known any case", true, cmd("folder.get", `{"folder":"SentItems"}`), "/v1.0/me/mailFolders/sentitems", selFolders,
			[]string{`IdType="ImmutableId"`}},
		{"folder.get id with plus", false, cmd("folder.get", `{"folder":"AQMk+AB_c-d=="}`), "/v1.0/me/mailFolders/AQMk%2BAB_c-d==", selFolders, nil},
		{"mail.sync defaults", false, cmd("mail.sync", `{"folder":"inbox"}`), "/v1.0/me/mailFolders/inbox/messages/delta", selMsgSync,
			[]string{"odata.maxpagesize=50"}},
		{"mail.sync since window mailbox", true, cmd("mail.sync", `{"folder":"AQMkADAw","window":25,"since":"2026-01-01T01:30:00.75+01:00","mailbox":"a@b.example"}`),
			"/v1.0/users/a@b.example/mailFolders/AQMkADAw/messages/delta",
			selMsgSync + "&$filter=receivedDateTime%20ge%202026-01-01T00:30:00Z", []string{"odata.maxpagesize=25", `IdType="ImmutableId"`}},
		{"mail.sync fields", false, cmd("mail.sync", `{"folder":"inbox","fields":["subject","read","subject","from"]}`),
			"/v1.0/me/mailFolders/inbox/messages/delta", "$select=id,subject,from,isRead", []string{"odata.maxpagesize=50"}},
		{"mail.sync fields with body", false, cmd("mail.sync", `{"folder":"inbox","fields":["body"]}`),
			"/v1.0/me/mailFolders/inbox/messages/delta", "$select=id,body", []string{"odata.maxpagesize=50", preferText}},
		{"mail.sync nulls are absent", false, cmd("mail.sync", `{"folder":"inbox","state":null,"window":null,"since":null,"fields":null,"mailbox":null}`),
			"/v1.0/me/mailFolders/inbox/messages/delta", selMsgSync, []string{"odata.maxpagesize=50"}},
		{"mail.sync unknown args ignored", false, cmd("mail.sync", `{"folder":"inbox","colour":"blue","id":"x/y"}`),
			"/v1.0/me/mailFolders/inbox/messages/delta", selMsgSync, []string{"odata.maxpagesize=50"}},
		{"mail.get default", false, cmd("mail.get", `{"id":"AAkALg+x="}`), "/v1.0/me/messages/AAkALg%2Bx=", selMsgGetAll, []string{preferText}},
		{"mail.get html immutable", true, cmd("mail.get", `{"id":"AAkALg","body":"html"}`), "/v1.0/me/messages/AAkALg", selMsgGetAll,
			[]string{preferHTML, `IdType="ImmutableId"`}},
		{"mail.get none", false, cmd("mail.get", `{"id":"AAkALg","body":"none"}`), "/v1.0/me/messages/AAkALg", selMsgGetNoBd, nil},
		{"mail.get fields", false, cmd("mail.get", `{"id":"AAkALg","fields":["bcc","cats"],"mailbox":"x@y"}`), "/v1.0/users/x@y/messages/AAkALg",
			"$select=id,bccRecipients,categories", nil},
		{"mail.get fields body none", false, cmd("mail.get", `{"id":"AAkALg","fields":["subject","body"],"body":"none"}`), "/v1.0/me/messages/AAkALg",
			"$select=id,subject", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = c.immutable })
			p := mustPlan(t, tr, c.body)
			defer p.Release()
			u := p.Upstream
			if u == nil {
				out, _ := respond(t, p, 0, nil, "")
				t.Fatalf("no upstream call: %s", out)
			}
			if u.Method != "GET" || u.Path != c.path || u.RawQuery != c.query || u.Body != nil || u.ContentType != "" {
				t.Fatalf("got %s %s ? %s (ct %q)\nwant %s ? %s", u.Method, u.Path, u.RawQuery, u.ContentType, c.path, c.query)
			}
			if len(u.Prefer) != len(c.prefer) || (len(c.prefer) > 0 && !reflect.DeepEqual(u.Prefer, c.prefer)) {
				t.Fatalf("prefer %q, want %q", u.Prefer, c.prefer)
			}
		})
	}
}

func TestInvalidArgs(t *testing.T) {
	long := strings.Repeat("A", 513)
	cases := map[string]string{
		"folders.sync bad mailbox":   cmd("folders.sync", `{"mailbox":"not-an-address"}`),
		"mailbox number":             cmd("folders.sync", `{"mailbox":5}`),
		"mailbox two at":             cmd("folders.sync", `{"mailbox":"a@b@c"}`),
		"mailbox slash":              cmd("folders.sync", `{"mailbox":"a/../b@c"}`),
		"mailbox domain slash":       cmd("folders.sync", `{"mailbox":"a@c/../../x"}`),
		"mailbox space":              cmd("folders.sync", `{"mailbox":"a b@c"}`),
		"mailbox non-ascii":          cmd("folders.sync", `{"mailbox":"é@c"}`),
		"mailbox control":            cmd("folders.sync", `{"mailbox":"a\u0000@c"}`),
		"window zero":                cmd("folders.sync", `{"window":0}`),
		"window 201":                 cmd("folders.sync", `{"window":201}`),
		"window fraction":            cmd("folders.sync", `{"window":1.5}`),
		"window string":              cmd("folders.sync", `{"window":"50"}`),
		"window negative":            cmd("folders.sync", `{"window":-3}`),
		"state number":               cmd("folders.sync", `{"state":1}`),
		"duplicate arg":              cmd("folders.sync", `{"window":5,"window":6}`),
		"folder.get missing":         cmd("folder.get", `{}`),
		"folder.get no args":         cmd("folder.get", ""),
		"folder.get number":          cmd("folder.get", `{"folder":1}`),
		"folder.get empty":           cmd("folder.get", `{"folder":""}`),
		"folder.get dotdot":          cmd("folder.get", `{"folder":".."}`),
		"folder.get slash":           cmd("folder.get", `{"folder":"inbox/../x"}`),
		"folder.get encoded slash":   cmd("folder.get", `{"folder":"a%2Fb"}`),
		"folder.get query":           cmd("folder.get", `{"folder":"inbox?$top=1"}`),
		"folder.get hash":            cmd("folder.get", `{"folder":"inbox#x"}`),
		"folder.get dollar":          cmd("folder.get", `{"folder":"$value"}`),
		"folder.get quote":           cmd("folder.get", `{"folder":"a'b"}`),
		"folder.get dquote":          cmd("folder.get", `{"folder":"a\"b"}`),
		"folder.get space":           cmd("folder.get", `{"folder":"a b"}`),
		"folder.get control":         cmd("folder.get", `{"folder":"a\nb"}`),
		"folder.get non-ascii":       cmd("folder.get", `{"folder":"Eingang\u00e4"}`),
		"folder.get too long":        cmd("folder.get", `{"folder":"`+long+`"}`),
		"mail.sync no folder":        cmd("mail.sync", `{"window":5}`),
		"mail.sync since bad":        cmd("mail.sync", `{"folder":"inbox","since":"yesterday"}`),
		"mail.sync since date only":  cmd("mail.sync", `{"folder":"inbox","since":"2026-01-01"}`),
		"mail.sync since number":     cmd("mail.sync", `{"folder":"inbox","since":1700000000}`),
		"mail.sync fields unknown":   cmd("mail.sync", `{"folder":"inbox","fields":["subject","colour"]}`),
		"mail.sync fields empty":     cmd("mail.sync", `{"folder":"inbox","fields":[]}`),
		"mail.sync fields string":    cmd("mail.sync", `{"folder":"inbox","fields":"subject"}`),
		"mail.sync fields graphname": cmd("mail.sync", `{"folder":"inbox","fields":["isRead"]}`),
		"mail.sync fields non-str":   cmd("mail.sync", `{"folder":"inbox","fields":[1]}`),
		"mail.get missing id":        cmd("mail.get", `{}`),
		"mail.get id number":         cmd("mail.get", `{"id":12}`),
		"mail.get id slash":          cmd("mail.get", `{"id":"AA/BB"}`),
		"mail.get id dotdot":         cmd("mail.get", `{"id":".."}`),
		"mail.get id percent":        cmd("mail.get", `{"id":"AA%2FBB"}`),
		"mail.get id too long":       cmd("mail.get", `{"id":"`+long+`"}`),
		"mail.get body bad":          cmd("mail.get", `{"id":"AA","body":"rtf"}`),
		"mail.get body upper":        cmd("mail.get", `{"id":"AA","body":"TEXT"}`),
	}
	tr, _ := newTestTranslator(t)
	for name, body := range cases {
		p, e := tr.Plan([]byte(body))
		if e != nil {
			t.Errorf("%s: envelope error %v", name, e)
			continue
		}
		if p.Upstream != nil {
			t.Errorf("%s: went upstream: %+v", name, p.Upstream)
		}
		out, o := respond(t, p, 0, nil, "")
		if len(o.Results) != 1 || o.Results[0].Status != 400 || o.Results[0].Code != CodeInvalidArgs {
			t.Errorf("%s: %s", name, out)
		}
		p.Release()
	}
}

func TestBatchPacking(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	body := `{"commands":[
		{"id":"f","op":"folders.sync"},
		{"id":"bad","op":"mail.get","args":{"id":"../x"}},
		{"id":"m","op":"mail.sync","args":{"folder":"inbox","window":10,"fields":["subject"]}},
		{"id":"g","op":"mail.get","args":{"id":"AAk=","body":"html","mailbox":"a@b.example"}},
		{"id":"x","op":"folder.get","args":{"folder":"drafts"}}]}`
	p := mustPlan(t, tr, body)
	defer p.Release()
	u := p.Upstream
	if u.Method != "POST" || u.Path != "/v1.0/$batch" || u.RawQuery != "" || u.ContentType != "application/json" {
		t.Fatalf("batch call %+v", u)
	}
	if !reflect.DeepEqual(u.Prefer, []string{`IdType="ImmutableId"`}) {
		t.Fatalf("batch prefer %q", u.Prefer)
	}
	want := compact(t, `{"requests":[
	 {"id":"0","method":"GET","url":"/me/mailFolders/delta?`+selFolders+`","headers":{"Prefer":"odata.maxpagesize=50, IdType=\"ImmutableId\""}},
	 {"id":"2","method":"GET","url":"/me/mailFolders/inbox/messages/delta?$select=id,subject","headers":{"Prefer":"odata.maxpagesize=10, IdType=\"ImmutableId\""}},
	 {"id":"3","method":"GET","url":"/users/a@b.example/messages/AAk=?`+selMsgGetAll+`","headers":{"Prefer":"outlook.body-content-type=\"html\", IdType=\"ImmutableId\""}},
	 {"id":"4","method":"GET","url":"/me/mailFolders/drafts?`+selFolders+`","headers":{"Prefer":"IdType=\"ImmutableId\""}}]}`)
	if string(u.Body) != want {
		t.Fatalf("batch body\n got %s\nwant %s", u.Body, want)
	}

	// Without immutable ids, a folder.get item carries no headers at all.
	tr2, _ := newTestTranslator(t)
	p2 := mustPlan(t, tr2, `{"commands":[{"id":"a","op":"folder.get","args":{"folder":"inbox"}},{"id":"b","op":"folder.get","args":{"folder":"outbox"}}]}`)
	defer p2.Release()
	want2 := `{"requests":[{"id":"0","method":"GET","url":"/me/mailFolders/inbox?` + selFolders + `"},{"id":"1","method":"GET","url":"/me/mailFolders/outbox?` + selFolders + `"}]}`
	if string(p2.Upstream.Body) != want2 || p2.Upstream.Prefer != nil {
		t.Fatalf("got %s %q", p2.Upstream.Body, p2.Upstream.Prefer)
	}

	// One valid command among failing ones is a direct call.
	p3 := mustPlan(t, tr2, `{"commands":[{"id":"a","op":"nope"},{"id":"b","op":"folder.get","args":{"folder":"inbox"}},{"id":"c","op":"folder.get"}]}`)
	defer p3.Release()
	if p3.Upstream.Method != "GET" || p3.Upstream.Path != "/v1.0/me/mailFolders/inbox" {
		t.Fatalf("want direct call, got %+v", p3.Upstream)
	}
}

func TestRootUpstream(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.Upstream = "https://emulator.test:9443" })
	p := mustPlan(t, tr, cmd("folder.get", `{"folder":"inbox"}`))
	defer p.Release()
	if p.Upstream.Path != "/me/mailFolders/inbox" {
		t.Fatalf("path %s", p.Upstream.Path)
	}
}
