package translate

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// mailActionOps are the ops FuzzMailActionArgs picks from.
var mailActionOps = []string{"mail.update", "mail.move", "mail.delete", "mail.send", "mail.reply", "mail.forward", "mail.search", "attachments.list"}

// FuzzMailActionArgs feeds arbitrary args objects to the mail action,
// search and attachment commands: nothing panics, every built path and
// query is escaped, every upstream body is valid JSON.
func FuzzMailActionArgs(f *testing.F) {
	seeds := []struct {
		op   uint8
		args string
	}{
		{0, `{"id":"AAk","read":true,"flag":"flagged","cats":["a"]}`},
		{1, `{"id":"AAk","to":"archive"}`},
		{2, `{"id":"AAk+/="}`},
		{3, `{"to":[{"name":"A","addr":"a@b.example"},"c@d.example"],"cc":[],"subject":"s","body":{"type":"html","content":"x"},"attachments":[{"name":"a","type":"text/plain","data":"aGk="}],"save":false}`},
		{4, `{"id":"AAk","comment":"c","all":true}`},
		{5, `{"id":"AAk","to":["a@b.example"],"comment":"x"}`},
		{6, `{"query":"a\" OR \\ b","window":3,"fields":["subject"]}`},
		{6, `{"query":"x","state":"AQ"}`},
		{7, `{"id":"AAk","mailbox":"x@y.example"}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.args)
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, op uint8, args string) {
		name := mailActionOps[int(op)%len(mailActionOps)]
		if !json.Valid([]byte(args)) {
			return
		}
		env := `{"commands":[{"id":"a","op":"` + name + `","args":` + args + `},{"id":"b","op":"` + name + `","args":` + args + `}]}`
		for _, body := range []string{cmd(name, args), env} {
			p, err := tr.Plan([]byte(body))
			if err != nil {
				continue
			}
			checkPlan(t, p)
			p.Release()
		}
	})
}

// FuzzSearchQuery checks that any accepted query becomes exactly one KQL
// phrase holding the query, in a query string without raw special bytes.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"budget", `a"b`, `\`, `" OR "`, "ü日本", `%22`, "a&$top=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if !validSearchQuery(q) {
			return
		}
		if !utf8.ValidString(q) {
			t.Fatalf("accepted invalid UTF-8 %q", q)
		}
		value := string(appendSearchValue(nil, q))
		checkQuery(t, value)
		got, ok := kqlPhrase(mustUnescapeQuery(t, value))
		if !ok || got != q {
			t.Fatalf("query %q became %q (ok=%v)", q, got, ok)
		}
	})
}

// FuzzStreamCalls feeds arbitrary path parts to the streaming calls: an
// accepted one always yields an escaped path under the base.
func FuzzStreamCalls(f *testing.F) {
	f.Add("", "AAk+x=", "AT1")
	f.Add("a@b.example", "..", "%2F")
	f.Add("5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10", "a/b", "c?d")
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, mailbox, id, aid string) {
		if c, err := tr.AttachmentValueCall(mailbox, id, aid); err == nil {
			checkBuiltPath(t, strings.TrimSuffix(c.Path, "/$value"))
		} else if err.Status != 400 {
			t.Fatalf("status %d", err.Status)
		}
		if c, err := tr.MIMEValueCall(mailbox, id); err == nil {
			checkBuiltPath(t, strings.TrimSuffix(c.Path, "/$value"))
		}
		if c, err := tr.MIMESendCall(mailbox); err == nil {
			checkBuiltPath(t, c.Path)
		}
	})
}
