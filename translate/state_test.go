package translate

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// sealedMailState returns a mail.sync state for mailbox/folder produced by a real page.
func sealedMailState(t *testing.T, tr *Translator, args string) string {
	t.Helper()
	p := mustPlan(t, tr, cmd("mail.sync", args))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, graphMessagePageNext)
	return firstState(t, out)
}

// stateResult runs a command with the given args and returns its single result.
func stateResult(t *testing.T, tr *Translator, op, args string) (Result, string, *Plan) {
	t.Helper()
	p := mustPlan(t, tr, cmd(op, args))
	out, o := respond(t, p, 0, nil, "")
	if p.Upstream != nil {
		return Result{Op: op, Status: 200}, out, p
	}
	return o.Results[0], out, p
}

func TestStateRoundTripAndRejections(t *testing.T) {
	tr, clk := newTestTranslator(t)
	good := sealedMailState(t, tr, `{"folder":"inbox","mailbox":"Alice@Contoso.example"}`)

	// The same scope opens, mailbox compared case-insensitively.
	for _, args := range []string{
		`{"folder":"inbox","mailbox":"Alice@Contoso.example","state":"` + good + `"}`,
		`{"folder":"INBOX","mailbox":"alice@contoso.example","state":"` + good + `"}`,
	} {
		r, out, p := stateResult(t, tr, "mail.sync", args)
		if p.Upstream == nil || !strings.HasPrefix(p.Upstream.Path, "/v1.0/me/mailfolders('AQMk") {
			t.Fatalf("state refused for %s: %+v %s", args, r, out)
		}
		p.Release()
	}

	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	otherKey, _ := newTestTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2} })
	folderState := func() string {
		p := mustPlan(t, tr, cmd("folders.sync", `{"mailbox":"alice@contoso.example"}`))
		defer p.Release()
		out, _ := respond(t, p, 200, nil, graphFolderPage)
		return firstState(t, out)
	}()

	cases := []struct {
		name string
		tr   *Translator
		op   string
		args string
	}{
		{"tampered version", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + flip(0) + `"}`},
		{"tampered nonce", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + flip(3) + `"}`},
		{"tampered ciphertext", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + flip(20) + `"}`},
		{"tampered tag", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + flip(len(raw)-1) + `"}`},
		{"truncated", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good[:len(good)-4] + `"}`},
		{"truncated to header", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good[:10] + `"}`},
		{"extended", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good + `AAAA"}`},
		{"padding", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good + `="}`},
		{"newline inside", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good[:8] + `\n` + good[8:] + `"}`},
		{"std alphabet", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + strings.NewReplacer("-", "+", "_", "/").Replace(good) + `x"}`},
		{"empty", tr, "mail.sync", `{"folder":"inbox","state":""}`},
		{"garbage", tr, "mail.sync", `{"folder":"inbox","state":"not a state"}`},
		{"wrong key", otherKey, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + good + `"}`},
		{"other folder", tr, "mail.sync", `{"folder":"drafts","mailbox":"alice@contoso.example","state":"` + good + `"}`},
		{"other mailbox", tr, "mail.sync", `{"folder":"inbox","mailbox":"bob@contoso.example","state":"` + good + `"}`},
		{"no mailbox", tr, "mail.sync", `{"folder":"inbox","state":"` + good + `"}`},
		{"other op", tr, "folders.sync", `{"mailbox":"alice@contoso.example","state":"` + good + `"}`},
		{"folder state for mail", tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"` + folderState + `"}`},
		{"too long", tr, "folders.sync", `{"state":"` + strings.Repeat("A", 20000) + `"}`},
	}
	for _, c := range cases {
		r, out, p := stateResult(t, c.tr, c.op, c.args)
		if r.Status != 400 || r.Code != CodeInvalidState || !strings.Contains(out, msgStateInvalid) {
			t.Errorf("%s: %+v %s", c.name, r, out)
		}
		p.Release()
	}

	// Expiry: valid up to the TTL, refused after; an issue time in the future
	// beyond the skew is refused.
	clk.t = testNow.Add(DefaultStateTTL - time.Second)
	if r, out, p := stateResult(t, tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"`+good+`"}`); p.Upstream == nil {
		t.Fatalf("state refused before expiry: %+v %s", r, out)
	} else {
		p.Release()
	}
	clk.t = testNow.Add(DefaultStateTTL + time.Second)
	r, out, p := stateResult(t, tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"`+good+`"}`)
	if r.Code != CodeInvalidState || !strings.Contains(out, msgStateExpired) {
		t.Fatalf("expired state: %+v %s", r, out)
	}
	p.Release()
	clk.t = testNow.Add(-10 * time.Minute)
	r, _, p = stateResult(t, tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"`+good+`"}`)
	if r.Code != CodeInvalidState {
		t.Fatalf("future state accepted: %+v", r)
	}
	p.Release()
	clk.t = testNow.Add(-2 * time.Minute)
	r, _, p = stateResult(t, tr, "mail.sync", `{"folder":"inbox","mailbox":"alice@contoso.example","state":"`+good+`"}`)
	if p.Upstream == nil {
		t.Fatalf("state within clock skew refused: %+v", r)
	}
	p.Release()
}

func TestStateKeyRotation(t *testing.T) {
	oldTr, _ := newTestTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey1} })
	rotated, _ := newTestTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2, testKey1} })
	newOnly, _ := newTestTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2} })

	old := sealedMailState(t, oldTr, `{"folder":"inbox"}`)
	// The rotated translator opens the old state …
	p := mustPlan(t, rotated, cmd("mail.sync", `{"folder":"inbox","state":"`+old+`"}`))
	if p.Upstream == nil {
		t.Fatal("rotated translator refused a state of the old key")
	}
	// … and seals the next one with the new first key.
	out, _ := respond(t, p, 200, nil, graphMessagePageFinal)
	p.Release()
	next := firstState(t, out)
	if _, err := newOnly.openState(next, opMailSync, nil, "\x00inbox"); err != nil {
		t.Fatalf("new state not sealed with the first key: %v", err)
	}
	if _, err := oldTr.openState(next, opMailSync, nil, "\x00inbox"); err == nil {
		t.Fatal("old-key translator opened a state sealed with the new key")
	}
}

func TestStateSealOpen(t *testing.T) {
	tr, _ := newTestTranslator(t)
	var scratch []byte
	link := "/me/mailfolders('AQ')/messages/delta?$skiptoken=x"
	tok := string(tr.sealState(nil, &scratch, opMailSync, nil, "a@b\x00inbox", 42, 1<<mfID|1<<mfSubject, link))
	rec, err := tr.openState(tok, opMailSync, nil, "a@b\x00inbox")
	if err != nil || rec.link != link || rec.window != 42 || rec.fields != 1<<mfID|1<<mfSubject || rec.issued != testNow.Unix() {
		t.Fatalf("%+v %v", rec, err)
	}
	tok2 := string(tr.sealState(nil, &scratch, opMailSync, nil, "a@b\x00inbox", 42, 1<<mfID|1<<mfSubject, link))
	if tok == tok2 {
		t.Fatal("nonce reuse: identical tokens")
	}
	// Wrong op byte in a correctly sealed record (folder.get cannot hold a state).
	tok3 := string(tr.sealState(nil, &scratch, opFolderGet, nil, "", 1, folderFieldsAll, link))
	if _, err := tr.openState(tok3, opFolderGet, nil, ""); err == nil {
		t.Fatal("state for a non-sync op opened")
	}
	// A sealed record whose link would be unsafe is refused even with a valid tag.
	tok4 := string(tr.sealState(nil, &scratch, opFoldersSync, nil, "", 1, folderFieldsAll, "/../x"))
	if _, err := tr.openState(tok4, opFoldersSync, nil, ""); err == nil {
		t.Fatal("state with a dot-segment link opened")
	}
}
