package emulator

import (
	"net/url"
	"time"
)

// renderOptions says how a message is written.
type renderOptions struct {
	immutableIDs bool
	// bodyType is "text" or "html" (the default).
	bodyType string
	// odataType adds "@odata.type" (delta items).
	odataType bool
	// context is written as "@odata.context" when non-empty.
	context string
}

func writeRecipient(b *jsonBuf, r recipient) {
	b.raw(`{"emailAddress":{"name":`)
	b.str(r.name)
	b.raw(`,"address":`)
	b.str(r.address)
	b.raw(`}}`)
}

func writeRecipients(b *jsonBuf, rs []recipient) {
	b.byte1('[')
	for i, r := range rs {
		if i > 0 {
			b.byte1(',')
		}
		writeRecipient(b, r)
	}
	b.byte1(']')
}

func writeDateTimeTimeZone(b *jsonBuf, dt string) {
	b.raw(`{"dateTime":`)
	b.str(dt)
	b.raw(`,"timeZone":"UTC"}`)
}

// graphDateTimeTimeZone formats t the way dateTimeTimeZone values look.
func graphDateTimeTimeZone(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05") + ".0000000"
}

func writeBody(b *jsonBuf, m *message, bodyType string) {
	if bodyType == "text" {
		b.raw(`{"contentType":"text","content":`)
		if m.bodyTextJSON != nil {
			b.rawBytes(m.bodyTextJSON)
		} else {
			b.str(m.bodyText)
		}
	} else {
		b.raw(`{"contentType":"html","content":`)
		if m.bodyHTMLJSON != nil {
			b.rawBytes(m.bodyHTMLJSON)
		} else {
			b.str(m.bodyHTML)
		}
	}
	b.byte1('}')
}

// writeMessage writes m as a JSON object with the selected properties.
// Caller holds the mailbox read lock.
func writeMessage(b *jsonBuf, m *message, sel fieldSet, o renderOptions) {
	first := true
	b.entityHead(&first, o.context, o.odataType, `"#microsoft.graph.message"`, m.changeKey(), m.id(o.immutableIDs))
	for f := 0; f < mfID; f++ {
		if !sel.has(f) {
			continue
		}
		b.key(messageFieldNames[f], &first)
		switch f {
		case mfCreated:
			b.time(m.created)
		case mfLastModified:
			b.time(m.lastModified)
		case mfChangeKey:
			b.str(m.changeKey())
		case mfCategories:
			b.byte1('[')
			for i, c := range m.categories {
				if i > 0 {
					b.byte1(',')
				}
				b.str(c)
			}
			b.byte1(']')
		case mfReceived:
			b.time(m.received)
		case mfSent:
			b.time(m.sent)
		case mfHasAttachments:
			b.bool(m.hasAttachments())
		case mfInternetMessageID:
			b.str(m.internetMsgID)
		case mfSubject:
			b.str(m.subject)
		case mfBodyPreview:
			b.str(m.preview)
		case mfImportance:
			b.str(m.importance)
		case mfParentFolderID:
			if m.folder != nil {
				b.str(m.folder.id)
			} else {
				b.raw("null")
			}
		case mfConversationID:
			b.str(m.conversationID)
		case mfConversationIndex:
			b.str(m.convIndex)
		case mfDeliveryReceipt:
			b.raw("false")
		case mfReadReceipt:
			b.raw("false")
		case mfIsRead:
			b.bool(m.isRead)
		case mfIsDraft:
			b.bool(m.isDraft)
		case mfWebLink:
			b.str("https://outlook.office365.com/owa/?ItemID=" + url.QueryEscape(m.restID) + "&exvsurl=1&viewmodel=ReadMessageItem")
		case mfInference:
			b.str(m.inference)
		case mfBody, mfUniqueBody:
			writeBody(b, m, o.bodyType)
		case mfSender:
			writeRecipient(b, m.sender)
		case mfFrom:
			writeRecipient(b, m.from)
		case mfTo:
			writeRecipients(b, m.to)
		case mfCc:
			writeRecipients(b, m.cc)
		case mfBcc:
			writeRecipients(b, m.bcc)
		case mfReplyTo:
			writeRecipients(b, m.replyTo)
		case mfFlag:
			b.raw(`{"flagStatus":`)
			b.str(m.flagStatus)
			if m.flagStart != "" {
				b.raw(`,"startDateTime":`)
				writeDateTimeTimeZone(b, m.flagStart)
			}
			if m.flagDue != "" {
				b.raw(`,"dueDateTime":`)
				writeDateTimeTimeZone(b, m.flagDue)
			}
			if m.flagCompleted != "" {
				b.raw(`,"completedDateTime":`)
				writeDateTimeTimeZone(b, m.flagCompleted)
			}
			b.byte1('}')
		case mfHeaders:
			writeHeaders(b, m)
		}
	}
	b.byte1('}')
}

func writeHeaders(b *jsonBuf, m *message) {
	hs := [][2]string{
		{"Received", "from mail.contoso.example by EXO; " + m.received.UTC().Format(time.RFC1123Z)},
		{"From", m.from.name + " <" + m.from.address + ">"},
		{"Subject", m.subject},
		{"Message-ID", m.internetMsgID},
		{"MIME-Version", "1.0"},
	}
	b.byte1('[')
	for i, h := range hs {
		if i > 0 {
			b.byte1(',')
		}
		b.raw(`{"name":`)
		b.str(h[0])
		b.raw(`,"value":`)
		b.str(h[1])
		b.byte1('}')
	}
	b.byte1(']')
}

// writeRemoved writes a delta removal entry.
func writeRemoved(b *jsonBuf, odataType, id string) {
	b.raw(`{"@odata.type":`)
	b.str(odataType)
	b.raw(`,"id":`)
	b.str(id)
	b.raw(`,"@removed":{"reason":"deleted"}}`)
}

// writeFolder writes f with the selected properties. Caller holds the
// mailbox read lock.
func writeFolder(b *jsonBuf, f *folder, sel fieldSet, context string) {
	first := true
	b.byte1('{')
	if context != "" {
		b.key("@odata.context", &first)
		b.str(context)
	}
	b.key("id", &first)
	b.str(f.id)
	for i := ffDisplayName; i < ffCount; i++ {
		if !sel.has(i) {
			continue
		}
		b.key(folderFieldNames[i], &first)
		switch i {
		case ffDisplayName:
			b.str(f.displayName)
		case ffParentFolderID:
			if f.parent != nil {
				b.str(f.parent.id)
			} else {
				b.str(rootParentID(f.id))
			}
		case ffChildFolderCount:
			b.int(len(f.children))
		case ffUnreadItemCount:
			b.int(f.unread)
		case ffTotalItemCount:
			b.int(f.total)
		case ffIsHidden:
			b.bool(f.hidden)
		}
	}
	b.byte1('}')
}

// rootParentID is the parentFolderId of msgfolderroot (the mailbox root,
// which is not itself addressable).
func rootParentID(rootID string) string {
	if len(rootID) > 4 {
		return rootID[:len(rootID)-4] + "AQAA"
	}
	return rootID
}
