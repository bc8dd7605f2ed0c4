package translate

import (
	"net/http"
	"strings"
	"testing"
)

func TestCommandTable(t *testing.T) {
	names := map[string]bool{}
	for i := range opRows {
		s := &opRows[i]
		if p := s.problems(); p != nil {
			t.Errorf("row %q (wire %d): %s", s.name, s.wire, strings.Join(p, ", "))
		}
		if opTable[s.wire] != s && opTable[s.wire] != nil {
			t.Errorf("row %q: wire id %d is already taken by %q", s.name, s.wire, opTable[s.wire].name)
		}
		if names[s.name] {
			t.Errorf("op name %q appears twice", s.name)
		}
		names[s.name] = true
		if lookupOp(s.name) != s.wire || s.wire.String() != s.name {
			t.Errorf("row %q does not look up to itself", s.name)
		}
	}
	if opUnknown.String() != "unknown" || lookupOp("unknown") != opUnknown || lookupOp("") != opUnknown {
		t.Error("opUnknown is not unknown")
	}
}

// TestWireIDs pins every op's wire id. States carry it: changing one makes
// every state of that op fail to open, reusing one lets another op's states open.
func TestWireIDs(t *testing.T) {
	want := map[string]opKind{
		"folders.sync": 1, "folder.get": 2, "mail.sync": 3, "mail.get": 4,
		"mail.update": 5, "mail.move": 6, "mail.delete": 7, "mail.send": 8, "mail.reply": 9, "mail.forward": 10,
		"mail.search": 11, "attachments.list": 12,
		"calendar.sync": 13, "event.respond": 14, "event.create": 15, "event.update": 16, "event.delete": 17,
		"contacts.sync": 18, "contact.create": 19, "contact.update": 20, "contact.delete": 21,
		"files.sync": 25, "files.list": 26, "files.search": 27, "files.link": 28, "attachments.recent": 29,
		"push.subscribe": 22, "push.list": 23, "push.unsubscribe": 24,
	}
	for i := range opRows {
		s := &opRows[i]
		w, ok := want[s.name]
		if !ok {
			t.Errorf("op %q (wire %d) is not pinned here: add it with its wire id", s.name, s.wire)
			continue
		}
		if s.wire != w {
			t.Errorf("op %q has wire id %d, was %d", s.name, s.wire, w)
		}
		delete(want, s.name)
	}
	for name := range want {
		t.Errorf("op %q left the table: keep its wire id retired", name)
	}
}

// TestHalfRegisteredCommand shows that a row with a name and a wire id but
// not the rest of its story fails the table check.
func TestHalfRegisteredCommand(t *testing.T) {
	half := []opSpec{
		{wire: 99, name: "folder.create", args: argMailbox, method: http.MethodPost},
		{wire: 99, name: "folder.create", args: argMailbox, method: http.MethodPost, parse: parseNoArgs, path: folderPath},
		{wire: 99, name: "notes.sync", args: argMailbox | argState, flags: opDelta, method: http.MethodGet,
			parse: parseNoArgs, path: folderPath, answer: (*Plan).appendSyncData},
		{wire: 99, name: "folder.delete", args: argMailbox, parse: parseNoArgs, path: folderPath, answer: appendEmptyData},
		{name: "folder.rename", args: argMailbox, method: http.MethodPatch, parse: parseNoArgs, path: folderPath, answer: appendEmptyData},
		{wire: 99, name: "files.peek", args: argMailbox, method: http.MethodGet, parse: parseNoArgs, path: folderPath,
			answer: appendEmptyData, sealLink: dropLatestToken},
	}
	for _, s := range half {
		if s.problems() == nil {
			t.Errorf("half-registered row %q passes the table check", s.name)
		}
	}
	// A row without its code is not planned: its op stays unknown.
	saved := opTable[99]
	opTable[99] = nil
	defer func() { opTable[99] = saved }()
	indexRows(half)
	if opTable[99] != nil {
		t.Error("a half-registered row was indexed")
	}
	// A complete row passes.
	if p := opRows[0].problems(); p != nil {
		t.Errorf("complete row refused: %v", p)
	}
}
