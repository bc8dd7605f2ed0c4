package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checkBuiltPath verifies that a path we built holds only [A-Za-z0-9-._~@=/]
// and well-formed %XX escapes, and no dot-segment.
func checkBuiltPath(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '%':
			if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
				t.Fatalf("bad escape in %q", path)
			}
			i += 2
		case c == '/' || pathSegmentSafe(c):
		default:
			t.Fatalf("unescaped byte %q in path %q", c, path)
		}
	}
	for _, seg := range strings.Split(path, "/") {
		if isDotSegment(seg) {
			t.Fatalf("dot segment in %q", path)
		}
	}
}

// checkQuery verifies a query we built has no raw space, control, '#' or non-ASCII.
func checkQuery(t *testing.T, q string) {
	t.Helper()
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			t.Fatalf("bad byte %q in query %q", c, q)
		}
	}
}

func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	var dst bytes.Buffer
	o := p.Respond(&dst, 0, nil, nil)
	if !json.Valid(dst.Bytes()) {
		t.Fatalf("invalid device JSON: %s", dst.Bytes())
	}
	if p.Upstream == nil {
		if o.Status != 200 || len(o.Results) != p.n {
			t.Fatalf("local-only outcome %+v", o)
		}
		return
	}
	u := p.Upstream
	if !strings.HasPrefix(u.Path, "/v1.0/") {
		t.Fatalf("path outside base: %q", u.Path)
	}
	if u.Body != nil && !json.Valid(u.Body) {
		t.Fatalf("invalid batch body: %s", u.Body)
	}
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if c.err != nil || c.link != "" {
			continue
		}
		checkFilePath(t, c.url[:c.pathLen]) // checkBuiltPath, and files.search's literal
		if c.pathLen < len(c.url) {
			checkQuery(t, c.url[c.pathLen+1:])
		}
		for _, u := range c.more {
			checkFilePath(t, u)
		}
	}
}

func FuzzPlan(f *testing.F) {
	seeds := []string{
		`{"commands":[{"id":"c1","op":"folders.sync","args":{}},{"id":"c2","op":"mail.sync","args":{"folder":"inbox","window":50}}]}`,
		cmd("mail.get", `{"id":"AAk+=","body":"html","fields":["subject","body"],"mailbox":"a@b"}`),
		cmd("mail.sync", `{"folder":"AQ..","since":"2026-01-01T00:00:00Z","state":"AAAA"}`),
		cmd("folder.get", `{"folder":"inbox"}`),
		cmd("files.search", `{"query":"O'Brien (1)","scope":"all","drive":"b!x"}`),
		`{"commands":[{"id":"a","op":"x"},{"id":"a","op":"x"}]}`,
		`{"commands":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"commands":[{"id":"\u0063","op":"folders.sync","args":{"mailbox":"\u00e9@x","window":1e2}}]}`,
		`{"commands":"x"}`, `[]`, ``, `{`, `null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, e := tr.Plan(body)
		if (p == nil) == (e == nil) {
			t.Fatalf("Plan returned plan=%v err=%v", p != nil, e)
		}
		if e != nil {
			if e.Status != 400 || e.Code != CodeInvalidRequest {
				t.Fatalf("envelope error %+v", e)
			}
			return
		}
		defer p.Release()
		checkPlan(t, p)
	})
}

func FuzzArgs(f *testing.F) {
	ops := []string{"folders.sync", "folder.get", "mail.sync", "mail.get"}
	seeds := []string{
		`{}`, `{"folder":"inbox"}`, `{"folder":"inbox","window":200,"since":"2026-01-01T00:00:00+02:00","fields":["body","bcc"]}`,
		`{"id":"AAk=","body":"none"}`, `{"mailbox":"x'y@z.example","folder":"..","id":"%2F"}`,
		`{"window":1.0,"window":2}`, `{"fields":[null,"id"],"state":null}`, `{"since":"2026-13-01T00:00:00Z"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, opIdx uint8, args string) {
		op := ops[int(opIdx)%len(ops)]
		body := `{"commands":[{"id":"c","op":"` + op + `","args":` + args + `}]}`
		p, e := tr.Plan([]byte(body))
		if e != nil {
			if e.Code != CodeInvalidRequest {
				t.Fatalf("envelope error %+v", e)
			}
			return
		}
		defer p.Release()
		checkPlan(t, p)
		c := &p.cmds[0]
		if c.err != nil && c.err.Code != CodeInvalidArgs && c.err.Code != CodeInvalidState {
			t.Fatalf("unexpected command error %+v", c.err)
		}
		if c.err == nil && c.op.spec().flags&opDelta != 0 && (c.window < 1 || c.window > maxWindow) {
			t.Fatalf("window %d", c.window)
		}
	})
}

func FuzzPathEscaping(f *testing.F) {
	seeds := [][3]string{
		{"a@b.example", "inbox", "AAk="},
		{"o'brien+x#1^y~!@contoso.example", "AQMk+/=", "AA+BB"},
		{"../../x@y", "..", "."},
		{"a@b/../c", "a%2Fb", "?$top=1#"},
		{"a b@c", "in box", "\"quoted'"},
		{"\x00@\x7f", "\u00e9", "\n\r\t"},
		{"5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10", "$value", "x/$value"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, mailbox, folder, id string) {
		enc := func(s string) string { b, _ := json.Marshal(s); return string(b) }
		body := `{"commands":[` +
			`{"id":"a","op":"folder.get","args":{"mailbox":` + enc(mailbox) + `,"folder":` + enc(folder) + `}},` +
			`{"id":"b","op":"mail.get","args":{"mailbox":` + enc(mailbox) + `,"id":` + enc(id) + `}},` +
			`{"id":"c","op":"mail.sync","args":{"folder":` + enc(folder) + `}}]}`
		p, e := tr.Plan([]byte(body))
		if e != nil {
			t.Fatalf("envelope error %v", e)
		}
		defer p.Release()
		checkPlan(t, p)
		for i := 0; i < p.n; i++ {
			c := &p.cmds[i]
			if c.err != nil {
				continue
			}
			path := c.url[:c.pathLen]
			// Each device value round-trips as exactly one path segment.
			segs := strings.Split(path, "/")
			for _, s := range segs {
				if _, err := url.PathUnescape(s); err != nil {
					t.Fatalf("segment %q: %v", s, err)
				}
			}
			if c.mailbox != "" {
				if got, _ := url.PathUnescape(segs[2]); got != mailbox {
					t.Fatalf("mailbox segment %q != %q", got, mailbox)
				}
			}
			if c.op == opMailGet {
				if got, _ := url.PathUnescape(segs[len(segs)-1]); got != id {
					t.Fatalf("id segment %q != %q", got, id)
				}
			}
		}
	})
}

func FuzzOpenState(f *testing.F) {
	tr, _ := newTestTranslator(f)
	// Deterministic nonces, so every fuzz worker process seals the same seeds.
	var counter byte
	tr.nonce = func(b []byte) {
		counter++
		for i := range b {
			b[i] = counter
		}
	}
	var scratch []byte
	sealed := map[string]bool{}
	for _, link := range []string{"/me/mailFolders/delta?$deltatoken=a", "/me/mailfolders('AQ')/messages/delta?$skiptoken=b"} {
		tok := string(tr.sealState(nil, &scratch, opMailSync, nil, "\x00inbox", 50, messageFieldsSyncDefault|1<<mfID, link))
		sealed[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
	}
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("_", 64))
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := tr.openState(s, opMailSync, nil, "\x00inbox")
		if err == nil {
			if !sealed[s] {
				t.Fatalf("opened a state that was never sealed: %q -> %+v", s, rec)
			}
		} else if err.Code != CodeInvalidState || err.Status != 400 {
			t.Fatalf("error %+v", err)
		}
		if _, err := tr.openState(s, opFoldersSync, nil, ""); err == nil {
			t.Fatalf("mail state opened as folders state")
		}
	})
}

func FuzzRespond(f *testing.F) {
	f.Add(200, []byte(graphMessagePageNext))
	f.Add(200, []byte(`{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"2.5"}},{"id":"0","status":200,"body":"eyJ2YWx1ZSI6W119"}]}`))
	f.Add(429, []byte(`{"error":{"code":"x"}}`))
	f.Add(410, []byte(`{"error":{"code":"SyncStateNotFound"}}`))
	f.Add(200, []byte(`{"value":[{"id":"\u0000","from":{"emailAddress":{"name":"\ud800"}}}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/x"}`))
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, env := range []string{
			cmd("mail.sync", `{"folder":"inbox"}`),
			`{"commands":[{"id":"a","op":"folders.sync"},{"id":"b","op":"mail.get","args":{"id":"A"}}]}`,
		} {
			p := mustPlan(t, tr, env)
			var dst bytes.Buffer
			o := p.Respond(&dst, status, http.Header{"Retry-After": {string(body)}}, body)
			if !json.Valid(dst.Bytes()) {
				t.Fatalf("invalid device JSON for %d %q: %s", status, body, dst.Bytes())
			}
			if o.Status != 200 && len(o.Results) != 0 {
				t.Fatalf("envelope failure with results")
			}
			p.Release()
		}
	})
}

// FuzzIdentityFromAuthorization: the Authorization header is device input;
// reading its claims never panics, and an identity is bound only when a
// tid and an oid were read.
func FuzzIdentityFromAuthorization(f *testing.F) {
	f.Add("Bearer " + testJWT(`{"tid":"t","oid":"o"}`))
	f.Add("Bearer " + testJWT(`{"tid":"t"}`))
	f.Add("Bearer a.b.c")
	f.Add("Bearer demo")
	f.Add("Basic Zm9vOmJhcg==")
	f.Fuzz(func(t *testing.T, authorization string) {
		id := IdentityFromAuthorization(authorization)
		_, token, _ := strings.Cut(authorization, " ")
		_, _, ok := TokenPrincipal(strings.TrimSpace(token))
		if id.Bound() && !ok {
			t.Fatalf("bound identity without a principal for %q", authorization)
		}
	})
}
