package translate

import (
	"net/http"
	"strings"
	"testing"
)

// checkRow returns what a row of the command table lacks or holds in
// contradiction; nil for a complete row.
func checkRow(s *opSpec) []string {
	var p []string
	miss := func(what string) { p = append(p, "no "+what) }
	if s.wire == opUnknown {
		miss("wire id")
	}
	if s.name == "" {
		miss("name")
	}
	if s.args&argMailbox == 0 {
		miss("mailbox argument")
	}
	switch s.method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete:
	default:
		p = append(p, "method "+s.method)
	}
	if s.parse == nil {
		miss("args parser")
	}
	if s.path == nil {
		miss("path builder")
	}
	if s.answer == nil {
		miss("answer writer")
	}
	if s.flags&opDelta != 0 && s.flags&opPaged != 0 {
		p = append(p, "both delta and paged")
	}
	if s.stateful() {
		if s.scope == nil {
			miss("state scope")
		}
		if s.stateFields == nil {
			miss("state field check")
		}
		if s.args&argState == 0 {
			miss("state argument")
		}
	} else if s.scope != nil || s.stateFields != nil || s.args&argState != 0 {
		p = append(p, "state parts on an op without state")
	}
	if (s.flags&opDelta != 0) != (s.changes != nil) {
		p = append(p, "changes writer must be set exactly for a delta sync")
	}
	return p
}

func TestCommandTable(t *testing.T) {
	names := map[string]bool{}
	for i := range opRows {
		s := &opRows[i]
		if p := checkRow(s); p != nil {
			t.Errorf("row %q (wire %d): %s", s.name, s.wire, strings.Join(p, ", "))
		}
		if opTable[s.wire] != s {
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
	}
	for _, s := range half {
		if checkRow(&s) == nil {
			t.Errorf("half-registered row %+v passes the table check", s.name)
		}
	}
	// A complete row passes.
	if p := checkRow(&opRows[0]); p != nil {
		t.Errorf("complete row refused: %v", p)
	}
}
