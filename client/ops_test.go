package deviceclient

import (
	"context"
	"slices"
	"testing"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// opSenders maps every op the bridge serves to the Batch method that sends
// it. A new op in the bridge's command table needs a client method and a
// row here; TestEveryOpHasAClientMethod fails until both exist.
var opSenders = map[string]func(b *Batch){
	"folders.sync":       func(b *Batch) { b.FoldersSync(FoldersSyncArgs{}) },
	"folder.get":         func(b *Batch) { b.FolderGet(FolderGetArgs{Folder: "inbox"}) },
	"mail.sync":          func(b *Batch) { b.MailSync(MailSyncArgs{Folder: "inbox"}) },
	"mail.get":           func(b *Batch) { b.MailGet(MailGetArgs{ID: "M1"}) },
	"mail.update":        func(b *Batch) { b.MailUpdate(MailUpdateArgs{ID: "M1", Flag: "flagged"}) },
	"mail.move":          func(b *Batch) { b.MailMove(MailMoveArgs{ID: "M1", To: "archive"}) },
	"mail.delete":        func(b *Batch) { b.MailDelete(MailDeleteArgs{ID: "M1"}) },
	"mail.send":          func(b *Batch) { b.MailSend(MailSendArgs{Subject: "s"}) },
	"mail.reply":         func(b *Batch) { b.MailReply(MailReplyArgs{ID: "M1"}) },
	"mail.forward":       func(b *Batch) { b.MailForward(MailForwardArgs{ID: "M1"}) },
	"mail.search":        func(b *Batch) { b.MailSearch(MailSearchArgs{Query: "q"}) },
	"attachments.list":   func(b *Batch) { b.AttachmentsList(AttachmentsListArgs{ID: "M1"}) },
	"attachments.recent": func(b *Batch) { b.AttachmentsRecent(AttachmentsRecentArgs{}) },
	"calendar.sync":      func(b *Batch) { b.CalendarSync(CalendarSyncArgs{}) },
	"event.respond":      func(b *Batch) { b.EventRespond(EventRespondArgs{ID: "E1", Response: "accept"}) },
	"event.create":       func(b *Batch) { b.EventCreate(EventCreateArgs{}) },
	"event.update":       func(b *Batch) { b.EventUpdate(EventUpdateArgs{ID: "E1"}) },
	"event.delete":       func(b *Batch) { b.EventDelete(EventDeleteArgs{ID: "E1"}) },
	"contacts.sync":      func(b *Batch) { b.ContactsSync(ContactsSyncArgs{}) },
	"contact.create":     func(b *Batch) { b.ContactCreate(ContactCreateArgs{}) },
	"contact.update":     func(b *Batch) { b.ContactUpdate(ContactUpdateArgs{ID: "C1"}) },
	"contact.delete":     func(b *Batch) { b.ContactDelete(ContactDeleteArgs{ID: "C1"}) },
	"files.sync":         func(b *Batch) { b.FilesSync(FilesSyncArgs{}) },
	"files.list":         func(b *Batch) { b.FilesList(FilesListArgs{}) },
	"files.search":       func(b *Batch) { b.FilesSearch(FilesSearchArgs{Query: "q"}) },
	"files.link":         func(b *Batch) { b.FilesLink(FilesLinkArgs{ID: "I1"}) },
	"push.subscribe":     func(b *Batch) { b.PushSubscribe(PushSubscribeArgs{Platform: "fcm", Token: "t", Device: "d"}) },
	"push.list":          func(b *Batch) { b.PushList(PushListArgs{}) },
	"push.unsubscribe":   func(b *Batch) { b.PushUnsubscribe(PushUnsubscribeArgs{State: "PS1"}) },
}

// TestEveryOpHasAClientMethod holds the client to the bridge's command
// table: every op the bridge serves has a row in opSenders, every row is an
// op the bridge serves, and each row's method sends exactly that op.
func TestEveryOpHasAClientMethod(t *testing.T) {
	ops := translate.Ops()
	if len(ops) == 0 {
		t.Fatal("translate.Ops() lists no op")
	}
	for _, op := range ops {
		if opSenders[op] == nil {
			t.Errorf("the bridge serves %s but the client has no method for it (add one, and its row in opSenders)", op)
		}
	}
	sent := make([]string, 0, len(opSenders))
	for op := range opSenders {
		if !slices.Contains(ops, op) {
			t.Errorf("the client sends %s, which the bridge does not serve", op)
		}
		sent = append(sent, op)
	}
	slices.Sort(sent)

	// Each method goes over the wire alone; the fake bridge answers every
	// command with an error, which Do hands to the command's Pending.
	answers := make([]fakeAnswer, len(sent))
	for i := range answers {
		answers[i] = answerError("400", `{"code":"invalid_args","message":"not looked at"}`)
	}
	c, f, _ := newTestClient(t, answers...)
	for _, op := range sent {
		b := c.NewBatch()
		opSenders[op](b)
		if err := c.Do(context.Background(), b); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	for i, op := range sent {
		cmds := sentCommands(t, f.requests[i])
		if len(cmds) != 1 || cmds[0].Op != op {
			t.Errorf("the row of %s sent %s", op, f.requests[i].body)
		}
	}
}
