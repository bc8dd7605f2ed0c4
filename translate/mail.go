package translate

import "github.com/tidwall/gjson"

// This file holds the mail read commands: mail.sync and mail.get (their
// rows are in table.go).
//
//	mail.sync → GET {root}/mailFolders/{folder}/messages/delta?$select=…[&$filter=receivedDateTime ge {since}]   (delta sync)
//	mail.get  → GET {root}/messages/{id}?$select=…
//
// Message: {"id","folder","conv","subject","from","to","cc","bcc","received",
// "sent","preview","read","flag","importance","att","cats","draft","body"} ←
// id, parentFolderId, conversationId, subject, from, toRecipients,
// ccRecipients, bccRecipients, receivedDateTime, sentDateTime, bodyPreview,
// isRead, flag.flagStatus, importance, hasAttachments, categories, isDraft, body.

// bodyKind is mail.get's body argument.
type bodyKind uint8

const (
	bodyText bodyKind = iota
	bodyHTML
	bodyNone
)

// fieldSet is a bit set of message field slots (bit i = slot i).
type fieldSet uint32

// Message field slots, in device output order.
const (
	mfID = iota
	mfFolder
	mfConv
	mfSubject
	mfFrom
	mfTo
	mfCc
	mfBcc
	mfReceived
	mfSent
	mfPreview
	mfRead
	mfFlag
	mfImportance
	mfAtt
	mfCats
	mfDraft
	mfBody
	numMessageFields
)

// messageFields are the device names, messageGraphFields the Graph $select names.
var (
	messageFields = [numMessageFields]string{"id", "folder", "conv", "subject", "from", "to", "cc", "bcc",
		"received", "sent", "preview", "read", "flag", "importance", "att", "cats", "draft", "body"}
	messageGraphFields = [numMessageFields]string{"id", "parentFolderId", "conversationId", "subject", "from",
		"toRecipients", "ccRecipients", "bccRecipients", "receivedDateTime", "sentDateTime", "bodyPreview",
		"isRead", "flag", "importance", "hasAttachments", "categories", "isDraft", "body"}
)

const (
	// messageFieldsAll is every message field.
	messageFieldsAll fieldSet = 1<<numMessageFields - 1
	// messageFieldsSyncDefault is mail.sync's default: every field but bcc and body.
	messageFieldsSyncDefault = messageFieldsAll &^ (1<<mfBcc | 1<<mfBody)
)

func lookupMessageField(name string) (int, bool) {
	for i, n := range messageFields {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

func messageSlot(graphName string) int {
	switch graphName {
	case "id":
		return mfID
	case "parentFolderId":
		return mfFolder
	case "conversationId":
		return mfConv
	case "subject":
		return mfSubject
	case "from":
		return mfFrom
	case "toRecipients":
		return mfTo
	case "ccRecipients":
		return mfCc
	case "bccRecipients":
		return mfBcc
	case "receivedDateTime":
		return mfReceived
	case "sentDateTime":
		return mfSent
	case "bodyPreview":
		return mfPreview
	case "isRead":
		return mfRead
	case "flag":
		return mfFlag
	case "importance":
		return mfImportance
	case "hasAttachments":
		return mfAtt
	case "categories":
		return mfCats
	case "isDraft":
		return mfDraft
	case "body":
		return mfBody
	}
	return -1
}

// appendMessageSelect appends $select=… for the fields of set, in canonical order.
func appendMessageSelect(dst []byte, set fieldSet) []byte {
	dst = append(dst, "$select="...)
	first := true
	for i := 0; i < numMessageFields; i++ {
		if set&(1<<i) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, messageGraphFields[i]...)
	}
	return dst
}

// bodyPreference returns the outlook.body-content-type preference for a mail
// command, or "" when no body is selected.
func bodyPreference(c *command) string {
	if c.fields&(1<<mfBody) == 0 {
		return ""
	}
	if c.body == bodyHTML { // mail.get's body argument; text for every other op

		return `outlook.body-content-type="html"`
	}
	return `outlook.body-content-type="text"`
}

func parseMailSyncArgs(c *command, a *argValues) *Error {
	return withMessageFields(c, a, messageFieldsSyncDefault)
}

func parseMailGetArgs(c *command, a *argValues) *Error {
	if a.body.Exists() {
		switch {
		case a.body.Type != gjson.String:
			return invalidArgs(msgBadBodyArg)
		case a.body.Str == "text":
			c.body = bodyText
		case a.body.Str == "html":
			c.body = bodyHTML
		case a.body.Str == "none":
			c.body = bodyNone
		default:
			return invalidArgs(msgBadBodyArg)
		}
	}
	if err := withMessageFields(c, a, messageFieldsAll); err != nil {
		return err
	}
	if c.body == bodyNone {
		c.fields &^= 1 << mfBody
	}
	return nil
}

// folderScope binds a mail.sync state to its mailbox and folder.
func folderScope(c *command) string { return lowerASCII(c.mailbox) + "\x00" + c.folder }

// isMessageFields reports whether a state's message field set is valid.
func isMessageFields(f fieldSet) bool { return f&^messageFieldsAll == 0 && f&(1<<mfID) != 0 }

func mailSyncPath(b []byte, c *command) []byte {
	b = append(b, "/mailFolders/"...)
	b = appendPathSegment(b, c.folder)
	return append(b, "/messages/delta"...)
}

func mailSyncQuery(b []byte, c *command) []byte {
	b = appendMessageSelect(b, c.fields)
	if c.since != "" {
		b = append(b, "&$filter=receivedDateTime%20ge%20"...)
		b = append(b, c.since...) // [0-9TZ:-] only
	}
	return b
}

// messagePath appends /messages/{id}: mail.get, mail.update and mail.delete.
func messagePath(b []byte, c *command) []byte {
	b = append(b, "/messages/"...)
	return appendPathSegment(b, c.msgID)
}

func messageQuery(b []byte, c *command) []byte { return appendMessageSelect(b, c.fields) }

// appendMessageData writes {"message":{…}} for mail.get, mail.update and
// mail.move from the upstream message.
func appendMessageData(_ *Plan, b []byte, c *command, body gjson.Result) ([]byte, *Error) {
	var vals messageValues
	collectMessage(body, &vals)
	if vals[mfID].Type != gjson.String {
		return b, upstreamMalformed()
	}
	b = append(b, `{"message":`...)
	b = appendMessage(b, &vals, c.fields)
	return append(b, '}'), nil
}

// appendMessageChanges writes the changes of a mail delta page's value
// array, read from r in the single validating pass of appendSyncData.
func appendMessageChanges(p *Plan, b []byte, c *command, r *jreader) ([]byte, *Error) {
	if !r.enter('[') {
		return b, upstreamMalformed()
	}
	var vals messageValues
	nf := &p.nested
	n := 0
	for k := 0; r.more(']', k); k++ {
		if !r.enter('{') {
			continue // not an object: skipped
		}
		removed := collectMessageFrom(r, &vals, nf, c.fields)
		if vals[mfID].Type != gjson.String {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		if removed {
			b = append(b, `{"op":"delete","id":`...)
			b = appendStringToken(b, vals[mfID])
			b = append(b, '}')
			continue
		}
		b = append(b, `{"op":"upsert","message":`...)
		b = appendMessageNested(b, &vals, nf, c.fields)
		b = append(b, '}')
	}
	return b, nil
}

// collectMessageFrom reads the members of the message object r has entered:
// the scalar fields into vals, the nested fields of set written into nf, and
// reports whether it carries @removed.
func collectMessageFrom(r *jreader, vals *messageValues, nf *nestedFields, set fieldSet) (removed bool) {
	*vals = messageValues{}
	nf.reset()
	for k := 0; r.more('}', k); k++ {
		key := r.key()
		s := messageSlot(key)
		switch {
		case s < 0:
			if key == "@removed" {
				removed = true
			}
			r.skip()
		case isNestedField(s):
			if set&(1<<s) != 0 {
				nf.read(s, r)
			} else {
				r.skip()
			}
		default:
			vals[s] = r.value()
		}
	}
	return removed
}

// messageValues holds the Graph values of one message, by field slot.
type messageValues [numMessageFields]gjson.Result

// collectMessage reads obj once into vals and reports whether it carries @removed.
func collectMessage(obj gjson.Result, vals *messageValues) (removed bool) {
	*vals = messageValues{}
	eachMember(obj.Raw, func(k string, v gjson.Result) bool {
		if s := messageSlot(k); s >= 0 {
			vals[s] = v
		} else if k == "@removed" {
			removed = true
		}
		return true
	})
	return removed
}

// appendMessage writes the device form of a collected message with the
// fields of set; absent, null and ill-typed values are omitted.
func appendMessage(dst []byte, vals *messageValues, set fieldSet) []byte {
	return appendMessageNested(dst, vals, nil, set)
}

// appendMessageNested is appendMessage where the nested fields (from, to,
// cc, bcc, flag, categories) come already written in nf when nf is not nil
// (the single-pass sync translation), else are read from vals.
func appendMessageNested(dst []byte, vals *messageValues, nf *nestedFields, set fieldSet) []byte {
	first := true
	dst = append(dst, '{')
	for i := 0; i < numMessageFields; i++ {
		if set&(1<<i) == 0 {
			continue
		}
		v := &vals[i]
		switch i {
		case mfID, mfFolder, mfConv, mfSubject, mfReceived, mfSent, mfPreview, mfImportance:
			if v.Type != gjson.String {
				continue
			}
			dst = appendKey(dst, &first, messageFields[i])
			dst = append(dst, v.Raw...)
		case mfRead, mfAtt, mfDraft:
			if v.Type != gjson.True && v.Type != gjson.False {
				continue
			}
			dst = appendKey(dst, &first, messageFields[i])
			dst = appendBool(dst, v.Type == gjson.True)
		case mfFrom, mfTo, mfCc, mfBcc, mfFlag, mfCats:
			if nf != nil {
				if sp := &nf.span[i]; sp.ok {
					dst = appendKey(dst, &first, messageFields[i])
					dst = append(dst, nf.buf[sp.start:sp.end]...)
				}
				continue
			}
			if v.Type != gjson.JSON {
				continue
			}
			mark, wasFirst := len(dst), first
			dst = appendKey(dst, &first, messageFields[i])
			r := jreader{s: v.Raw, max: maxUpstreamDepth}
			var ok bool
			if dst, ok = writeNested(i, dst, &r); !ok {
				dst, first = dst[:mark], wasFirst
			}
		case mfBody:
			if !v.IsObject() {
				continue
			}
			dst = appendKey(dst, &first, messageFields[i])
			dst = appendBody(dst, *v)
		}
	}
	return append(dst, '}')
}

// appendPerson writes {"name","addr"} from a recipient {"emailAddress":{name,address}};
// false when neither is a string.
func appendPerson(dst []byte, recipient gjson.Result) ([]byte, bool) {
	r := jreader{s: recipient.Raw, max: maxUpstreamDepth}
	return readPerson(dst, &r)
}

// appendStringArray writes the string elements of arr, skipping the others.
func appendStringArray(dst []byte, arr gjson.Result) []byte {
	r := jreader{s: arr.Raw, max: maxUpstreamDepth}
	if out, ok := readStringArray(dst, &r); ok {
		return out
	}
	return append(dst, "[]"...)
}

// appendBody writes {"type":"text"|"html","content":…} from an itemBody.
func appendBody(dst []byte, body gjson.Result) []byte {
	var typ, content gjson.Result
	eachMember(body.Raw, func(k string, v gjson.Result) bool {
		switch k {
		case "contentType":
			typ = v
		case "content":
			content = v
		}
		return true
	})
	first := true
	dst = append(dst, '{')
	if typ.Type == gjson.String {
		switch {
		case equalFoldASCII(jsonStr(typ), "text"):
			dst = appendKey(dst, &first, "type")
			dst = append(dst, `"text"`...)
		case equalFoldASCII(jsonStr(typ), "html"):
			dst = appendKey(dst, &first, "type")
			dst = append(dst, `"html"`...)
		}
	}
	if content.Type == gjson.String {
		dst = appendKey(dst, &first, "content")
		dst = appendStringToken(dst, content)
	}
	return append(dst, '}')
}
