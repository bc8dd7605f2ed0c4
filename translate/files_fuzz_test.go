package translate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// fileOps are the ops FuzzFileArgs picks from.
var fileOps = []string{"files.sync", "files.list", "files.search", "files.link", "attachments.recent"}

// checkFilePath checks a built file command path: escaped like every built
// path, except that the text of a search(q='…') segment is percent-encoded
// inside its literal quotes and parentheses.
func checkFilePath(t *testing.T, path string) {
	t.Helper()
	if i := strings.Index(path, "/search(q='"); i >= 0 {
		text, ok := strings.CutSuffix(path[i+len("/search(q='"):], "')")
		if !ok {
			t.Fatalf("search segment not closed: %q", path)
		}
		checkEncodedText(t, text)
		path = path[:i]
	}
	checkBuiltPath(t, path)
}

// checkEncodedText checks that s holds only [A-Za-z0-9-._~] and %XX escapes.
func checkEncodedText(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				t.Fatalf("bad escape in %q", s)
			}
			i += 2
		case isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~':
		default:
			t.Fatalf("unescaped byte %q in %q", c, s)
		}
	}
}

// FuzzFileArgs feeds arbitrary args objects to the file commands and
// attachments.recent: nothing panics, every failure is invalid_args or
// invalid_state, every built path and query is escaped, If-None-Match
// holds no byte that could end its header, and attachments.recent's
// window stays within 50.
func FuzzFileArgs(f *testing.F) {
	seeds := []struct {
		op   uint8
		args string
	}{
		{0, `{}`}, {0, `{"from":"now","window":200,"drive":"b!x-Y_z"}`}, {0, `{"drive":"..","state":"AQ"}`},
		{1, `{"folder":"92F785471BCBB510!102","thumbs":true,"etag":"\"{A},1\""}`}, {1, `{"etag":"a\r\nb","folder":"a/b"}`},
		{2, `{"query":"O'Brien 50% #1 /x\\y é","scope":"all"}`}, {2, `{"query":"')/../x?$top=1","scope":"drive"}`},
		{3, `{"id":"92F785471BCBB510!103","drive":"92F785471BCBB510","mailbox":"a@b.example"}`}, {3, `{"id":"%2e%2e"}`},
		{4, `{"folder":"Inbox","since":"2026-01-01T00:00:00Z","window":50}`}, {4, `{"window":51,"folder":"a b"}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.args)
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, op uint8, args string) {
		name := fileOps[int(op)%len(fileOps)]
		if !json.Valid([]byte(args)) {
			return
		}
		p, e := tr.Plan([]byte(cmd(name, args)))
		if e != nil {
			if e.Code != CodeInvalidRequest {
				t.Fatalf("envelope error %+v", e)
			}
			return
		}
		defer p.Release()
		var dst bytes.Buffer
		p.Respond(&dst, 0, nil, nil)
		if !json.Valid(dst.Bytes()) {
			t.Fatalf("invalid device JSON %s", dst.Bytes())
		}
		c := &p.cmds[0]
		if c.err != nil {
			if c.err.Code != CodeInvalidArgs && c.err.Code != CodeInvalidState {
				t.Fatalf("unexpected command error %+v", c.err)
			}
			return
		}
		u := p.Upstream
		if !strings.HasPrefix(u.Path, "/v1.0/") {
			t.Fatalf("path outside base: %q", u.Path)
		}
		if c.link == "" {
			checkFilePath(t, c.url[:c.pathLen])
			if c.pathLen < len(c.url) {
				checkQuery(t, c.url[c.pathLen+1:])
			}
		}
		for i := 0; i < len(u.IfNoneMatch); i++ {
			if b := u.IfNoneMatch[i]; b < 0x20 || b > 0x7e {
				t.Fatalf("If-None-Match byte %q", b)
			}
		}
		if name == "attachments.recent" && (c.window < 1 || c.window > maxRecentWindow) {
			t.Fatalf("window %d", c.window)
		}
	})
}

// FuzzFileQuery checks that any accepted files.search text becomes an
// OData string literal that decodes to the text, '/' and '\' as spaces.
func FuzzFileQuery(f *testing.F) {
	for _, s := range []string{"budget", "O'Brien", "''", "a/b\\c", "50% #1 ?x", "ü日本", "')/x", "%27"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if !validFileQuery(q) {
			return
		}
		enc := string(appendFileQuery(nil, q))
		checkEncodedText(t, enc)
		lit, err := url.PathUnescape(enc)
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		// The literal's quotes come in pairs; undoubled, it is the text.
		if strings.Count(strings.ReplaceAll(lit, "''", ""), "'") != 0 {
			t.Fatalf("an undoubled quote in %q", lit)
		}
		want := strings.NewReplacer("/", " ", `\`, " ").Replace(q)
		if got := strings.ReplaceAll(lit, "''", "'"); got != want {
			t.Fatalf("query %q became %q, want %q", q, got, want)
		}
	})
}

// FuzzDriveID checks the drive id rule: an accepted id is one escaped
// path segment that decodes to itself and is no dot segment.
func FuzzDriveID(f *testing.F) {
	for _, s := range []string{"b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA", "92F785471BCBB510!103", "..", "a/b", "%2e", "~.=_-!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validDriveID(s) {
			return
		}
		seg := string(appendPathSegment(nil, s))
		checkBuiltPath(t, "/"+seg)
		if got, err := url.PathUnescape(seg); err != nil || got != s {
			t.Fatalf("%q became %q (%v)", s, got, err)
		}
		if fold := foldDriveID(s); foldDriveID(fold) != fold || !strings.EqualFold(fold, s) {
			t.Fatalf("fold %q -> %q", s, fold)
		}
	})
}

// FuzzFileContentCall feeds arbitrary parts to the file streaming call: an
// accepted one is an escaped path under the base.
func FuzzFileContentCall(f *testing.F) {
	f.Add("", "", "01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA")
	f.Add("a@b.example", "b!AbC", "92F785471BCBB510!103")
	f.Add("x", "..", "a/b?c")
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, mailbox, drive, id string) {
		c, err := tr.FileContentCall(mailbox, drive, id)
		if err != nil {
			if err.Status != 400 || err.Code != CodeInvalidArgs {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if !strings.HasPrefix(c.Path, "/v1.0/") {
			t.Fatalf("path %q", c.Path)
		}
		checkBuiltPath(t, c.Path)
	})
}

// FuzzFilesRespond feeds arbitrary upstream answers to the file commands:
// the device response is always valid JSON, and no answer fails both the
// envelope and a command.
func FuzzFilesRespond(f *testing.F) {
	f.Add(200, []byte(graphBusinessDeltaFirst))
	f.Add(200, []byte(graphPersonalDelta))
	f.Add(304, []byte(``))
	f.Add(410, []byte(`{"error":{"code":"resyncChangesApplyDifferences"}}`))
	f.Add(200, []byte(`{"value":[{"id":"a","thumbnails":[{"medium":{"url":"u","width":1e400}}],"remoteItem":{"parentReference":null}}]}`))
	f.Add(200, []byte(`{"value":[{"id":"m","attachments":[{"id":"a","@odata.type":5}]}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/x"}`))
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, env := range []string{
			cmd("files.sync", `{}`),
			cmd("files.list", `{"etag":"\"e\""}`),
			cmd("files.link", `{"id":"x"}`),
			cmd("attachments.recent", `{}`),
			`{"commands":[{"id":"a","op":"files.search","args":{"query":"q"}},{"id":"b","op":"files.sync"}]}`,
		} {
			p := mustPlan(t, tr, env)
			var dst bytes.Buffer
			o := p.Respond(&dst, status, nil, body)
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
