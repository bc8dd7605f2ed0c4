package translate

import (
	"encoding/base64"

	"github.com/tidwall/gjson"
)

// This file holds the mail action commands (docs/device-api.md §9): mail.update,
// mail.move, mail.delete, mail.send, mail.reply, mail.forward (their rows
// are in table.go). Their arguments become Graph JSON request bodies:
//
//	mail.update  read, flag, cats        → PATCH messages/{id} {"isRead","flag":{"flagStatus"},"categories"}
//	mail.move    to (folder)             → POST messages/{id}/move {"destinationId"}
//	mail.delete                          → DELETE messages/{id}
//	mail.send    to, cc, bcc, subject, body, attachments, save
//	                                     → POST sendMail {"message":{…},"saveToSentItems"}
//	mail.reply   comment, all            → POST messages/{id}/reply | replyAll {"comment"}
//	mail.forward to, comment             → POST messages/{id}/forward {"comment","toRecipients"}

// Limits of the mail action arguments.
const (
	// MaxSendAttachmentBytes is the most decoded attachment bytes one
	// mail.send may carry in total (Graph's limit for attachments inlined in
	// sendMail is 3 MB). Larger totals are invalid_args.
	MaxSendAttachmentBytes = 3 << 20
	// maxSendRecipients is Exchange Online's to+cc+bcc limit.
	maxSendRecipients = 500
	// maxAddressLen bounds an email address, maxPersonNameLen a display name.
	maxAddressLen    = 320
	maxPersonNameLen = 256
	// maxCategories bounds mail.update's cats, maxCategoryLen each name.
	maxCategories  = 100
	maxCategoryLen = 255
	// maxSendAttachments bounds the number of attachments of one mail.send,
	// maxAttachmentNameLen a file name and maxAttachmentTypeLen a media type.
	maxSendAttachments   = 100
	maxAttachmentNameLen = 255
	maxAttachmentTypeLen = 255
)

// Messages of the mail action arguments.
const (
	msgNoUpdate        = "mail.update needs read, flag or cats"
	msgBadRead         = "read must be a boolean"
	msgBadFlag         = "flag must be none, flagged or complete"
	msgBadCats         = "cats must be an array of at most 100 category names"
	msgMissingTo       = "to is required"
	msgBadMoveTo       = "to must be a well-known folder name or a folder id"
	msgBadRecipients   = "to, cc and bcc must be arrays of addresses or {name?, addr} objects, 1 to 500 recipients in all"
	msgMissingSubject  = "subject is required"
	msgMissingBody     = "body is required"
	msgBadSendBody     = `body must be {"type":"text"|"html","content":string}`
	msgBadAttachments  = `attachments must be an array of {"name","type"?,"data"} with data in base64`
	msgAttachmentsSize = "attachments exceed 3 MiB in total"
	msgBadSave         = "save must be a boolean"
	msgMissingComment  = "comment is required"
	msgBadAll          = "all must be a boolean"
)

func parseUpdateArgs(c *command, a *argValues) (err *Error) {
	if err = withMessageFields(c, a, messageFieldsSyncDefault); err != nil {
		return err
	}
	c.payload, err = buildUpdatePayload(a)
	return err
}

func parseMoveArgs(c *command, a *argValues) (err *Error) {
	if err = withMessageFields(c, a, messageFieldsSyncDefault); err != nil {
		return err
	}
	c.payload, err = buildMovePayload(a)
	return err
}

func parseSendArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildSendPayload(a)
	return err
}

func parseReplyArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildReplyPayload(a)
	c.action = "reply"
	if a.all.Type == gjson.True {
		c.action = "replyAll"
	}
	return err
}

func parseForwardArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildForwardPayload(a)
	return err
}

// buildUpdatePayload builds mail.update's PATCH body.
func buildUpdatePayload(a *argValues) ([]byte, *Error) {
	if !a.read.Exists() && !a.flag.Exists() && !a.cats.Exists() {
		return nil, invalidArgs(msgNoUpdate)
	}
	b := make([]byte, 0, 64+len(a.cats.Raw))
	b = append(b, '{')
	first := true
	if a.read.Exists() {
		if a.read.Type != gjson.True && a.read.Type != gjson.False {
			return nil, invalidArgs(msgBadRead)
		}
		b = appendKey(b, &first, "isRead")
		b = appendBool(b, a.read.Type == gjson.True)
	}
	if a.flag.Exists() {
		var status string
		switch {
		case a.flag.Type != gjson.String:
			return nil, invalidArgs(msgBadFlag)
		case a.flag.Str == "none":
			status = "notFlagged"
		case a.flag.Str == "flagged":
			status = "flagged"
		case a.flag.Str == "complete":
			status = "complete"
		default:
			return nil, invalidArgs(msgBadFlag)
		}
		b = appendKey(b, &first, "flag")
		b = append(b, `{"flagStatus":"`...)
		b = append(b, status...)
		b = append(b, `"}`...)
	}
	if a.cats.Exists() {
		if !a.cats.IsArray() {
			return nil, invalidArgs(msgBadCats)
		}
		b = appendKey(b, &first, "categories")
		b = append(b, '[')
		n, ok := 0, true
		a.cats.ForEach(func(_, v gjson.Result) bool {
			if v.Type != gjson.String || len(v.Str) == 0 || len(v.Str) > maxCategoryLen || n == maxCategories {
				ok = false
				return false
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v.Str)
			n++
			return true
		})
		if !ok {
			return nil, invalidArgs(msgBadCats)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// buildMovePayload builds mail.move's {"destinationId": folder}.
func buildMovePayload(a *argValues) ([]byte, *Error) {
	if !a.to.Exists() {
		return nil, invalidArgs(msgMissingTo)
	}
	if a.to.Type != gjson.String {
		return nil, invalidArgs(msgBadMoveTo)
	}
	folder, ok := normalizeFolder(a.to.Str)
	if !ok {
		return nil, invalidArgs(msgBadMoveTo)
	}
	b := make([]byte, 0, 24+len(folder))
	b = append(b, `{"destinationId":`...)
	b = appendJSONString(b, folder)
	return append(b, '}'), nil
}

// buildSendPayload builds mail.send's sendMail body.
func buildSendPayload(a *argValues) ([]byte, *Error) {
	if !a.to.Exists() {
		return nil, invalidArgs(msgMissingTo)
	}
	if !a.subject.Exists() {
		return nil, invalidArgs(msgMissingSubject)
	}
	if a.subject.Type != gjson.String {
		return nil, invalidArgs(msgBadSubject)
	}
	if !a.body.Exists() {
		return nil, invalidArgs(msgMissingBody)
	}
	save := true
	if a.save.Exists() {
		if a.save.Type != gjson.True && a.save.Type != gjson.False {
			return nil, invalidArgs(msgBadSave)
		}
		save = a.save.Type == gjson.True
	}
	b := make([]byte, 0, 256+len(a.to.Raw)+len(a.cc.Raw)+len(a.bcc.Raw)+len(a.subject.Raw)+len(a.body.Raw)+len(a.attachments.Raw))
	b = append(b, `{"message":{"subject":`...)
	b = appendJSONString(b, a.subject.Str)
	b = append(b, `,"body":`...)
	var ok bool
	if b, ok = appendSendBodyArg(b, a.body); !ok {
		return nil, invalidArgs(msgBadSendBody)
	}
	total := 0
	for _, r := range []struct {
		key string
		v   gjson.Result
	}{{"toRecipients", a.to}, {"ccRecipients", a.cc}, {"bccRecipients", a.bcc}} {
		if !r.v.Exists() {
			continue
		}
		b = append(b, `,"`...)
		b = append(b, r.key...)
		b = append(b, `":`...)
		var n int
		if b, n, ok = appendRecipientsArg(b, r.v); !ok {
			return nil, invalidArgs(msgBadRecipients)
		}
		total += n
	}
	if total == 0 || total > maxSendRecipients {
		return nil, invalidArgs(msgBadRecipients)
	}
	if a.attachments.Exists() {
		b = append(b, `,"attachments":`...)
		var err *Error
		if b, err = appendAttachmentsArg(b, a.attachments); err != nil {
			return nil, err
		}
	}
	b = append(b, `},"saveToSentItems":`...)
	b = appendBool(b, save)
	return append(b, '}'), nil
}

// buildReplyPayload builds mail.reply's {"comment"}.
func buildReplyPayload(a *argValues) ([]byte, *Error) {
	if !a.comment.Exists() {
		return nil, invalidArgs(msgMissingComment)
	}
	if a.comment.Type != gjson.String {
		return nil, invalidArgs(msgBadComment)
	}
	if a.all.Exists() && a.all.Type != gjson.True && a.all.Type != gjson.False {
		return nil, invalidArgs(msgBadAll)
	}
	b := make([]byte, 0, 16+len(a.comment.Raw))
	b = append(b, `{"comment":`...)
	b = appendJSONString(b, a.comment.Str)
	return append(b, '}'), nil
}

// buildForwardPayload builds mail.forward's {"comment"?, "toRecipients"}.
func buildForwardPayload(a *argValues) ([]byte, *Error) {
	if !a.to.Exists() {
		return nil, invalidArgs(msgMissingTo)
	}
	b := make([]byte, 0, 32+len(a.comment.Raw)+len(a.to.Raw))
	b = append(b, '{')
	if a.comment.Exists() {
		if a.comment.Type != gjson.String {
			return nil, invalidArgs(msgBadComment)
		}
		b = append(b, `"comment":`...)
		b = appendJSONString(b, a.comment.Str)
		b = append(b, ',')
	}
	b = append(b, `"toRecipients":`...)
	b, n, ok := appendRecipientsArg(b, a.to)
	if !ok || n == 0 || n > maxSendRecipients {
		return nil, invalidArgs(msgBadRecipients)
	}
	return append(b, '}'), nil
}

// appendSendBodyArg writes Graph's itemBody from {"type":"text"|"html","content"};
// type defaults to text.
func appendSendBodyArg(b []byte, v gjson.Result) ([]byte, bool) {
	var typ, content gjson.Result
	ok := v.IsObject()
	v.ForEach(func(k, mv gjson.Result) bool {
		var slot *gjson.Result
		switch k.Str {
		case "type":
			slot = &typ
		case "content":
			slot = &content
		default:
			return true
		}
		if slot.Exists() {
			ok = false
			return false
		}
		*slot = mv
		return true
	})
	if !ok || content.Type != gjson.String {
		return b, false
	}
	contentType := "text"
	if typ.Exists() {
		switch {
		case typ.Type == gjson.String && typ.Str == "text":
		case typ.Type == gjson.String && typ.Str == "html":
			contentType = "html"
		default:
			return b, false
		}
	}
	b = append(b, `{"contentType":"`...)
	b = append(b, contentType...)
	b = append(b, `","content":`...)
	b = appendJSONString(b, content.Str)
	return append(b, '}'), true
}

// appendRecipientsArg writes Graph recipients from an array whose elements
// are an address string or {"name"?, "addr"}; it returns their number.
func appendRecipientsArg(b []byte, v gjson.Result) ([]byte, int, bool) {
	if !v.IsArray() {
		return b, 0, false
	}
	b = append(b, '[')
	n, ok := 0, true
	v.ForEach(func(_, e gjson.Result) bool {
		var name, addr gjson.Result
		switch {
		case e.Type == gjson.String:
			addr = e
		case e.IsObject():
			dup := false
			e.ForEach(func(k, mv gjson.Result) bool {
				var slot *gjson.Result
				switch k.Str {
				case "name":
					slot = &name
				case "addr":
					slot = &addr
				default:
					return true
				}
				if slot.Exists() {
					dup = true
					return false
				}
				*slot = mv
				return true
			})
			if dup || (name.Exists() && name.Type != gjson.Null && (name.Type != gjson.String || len(name.Str) > maxPersonNameLen)) {
				ok = false
				return false
			}
		default:
			ok = false
			return false
		}
		if addr.Type != gjson.String || !validAddress(addr.Str) || n == maxSendRecipients {
			ok = false
			return false
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"emailAddress":{`...)
		if name.Type == gjson.String {
			b = append(b, `"name":`...)
			b = appendJSONString(b, name.Str)
			b = append(b, ',')
		}
		b = append(b, `"address":`...)
		b = appendJSONString(b, addr.Str)
		b = append(b, "}}"...)
		n++
		return true
	})
	return append(b, ']'), n, ok
}

// validAddress accepts local@domain: 3–320 printable ASCII characters
// without spaces, quotes, angle brackets, commas, semicolons or
// backslashes, one '@' with text on both sides.
func validAddress(s string) bool {
	if len(s) < 3 || len(s) > maxAddressLen {
		return false
	}
	at := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '"', '<', '>', ',', ';', '\\', '(', ')', '[', ']', ':':
			return false
		case '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	return at > 0 && at < len(s)-1
}

// appendAttachmentsArg writes Graph fileAttachments from
// [{"name","type"?,"data"}], checking the base64 and the decoded total.
func appendAttachmentsArg(b []byte, v gjson.Result) ([]byte, *Error) {
	if !v.IsArray() {
		return b, invalidArgs(msgBadAttachments)
	}
	b = append(b, '[')
	n, total := 0, 0
	var fail *Error
	v.ForEach(func(_, e gjson.Result) bool {
		var name, typ, data gjson.Result
		ok := e.IsObject() && n < maxSendAttachments
		e.ForEach(func(k, mv gjson.Result) bool {
			var slot *gjson.Result
			switch k.Str {
			case "name":
				slot = &name
			case "type":
				slot = &typ
			case "data":
				slot = &data
			default:
				return true
			}
			if slot.Exists() {
				ok = false
				return false
			}
			*slot = mv
			return true
		})
		if !ok || name.Type != gjson.String || len(name.Str) == 0 || len(name.Str) > maxAttachmentNameLen ||
			data.Type != gjson.String || (typ.Exists() && (typ.Type != gjson.String || !validMediaType(typ.Str))) {
			fail = invalidArgs(msgBadAttachments)
			return false
		}
		size, valid := decodedBase64Size(data.Str)
		if !valid {
			fail = invalidArgs(msgBadAttachments)
			return false
		}
		if total += size; total > MaxSendAttachmentBytes {
			fail = invalidArgs(msgAttachmentsSize)
			return false
		}
		contentType := "application/octet-stream"
		if typ.Exists() {
			contentType = typ.Str
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"@odata.type":"#microsoft.graph.fileAttachment","name":`...)
		b = appendJSONString(b, name.Str)
		b = append(b, `,"contentType":`...)
		b = appendJSONString(b, contentType)
		b = append(b, `,"contentBytes":"`...)
		b = append(b, data.Str...) // validated base64: no character needs escaping
		b = append(b, `"}`...)
		n++
		return true
	})
	if fail != nil {
		return b, fail
	}
	return append(b, ']'), nil
}

// validMediaType accepts type/subtype with optional parameters: printable
// ASCII, at most 255 characters, one '/' before any parameter.
func validMediaType(s string) bool {
	if len(s) < 3 || len(s) > maxAttachmentTypeLen {
		return false
	}
	slash := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f {
			return false
		}
		if c == ';' {
			break
		}
		if c == '/' && slash < 0 {
			slash = i
		}
	}
	return slash > 0 && slash < len(s)-1
}

// base64Check decodes standard, padded base64 strictly; it is only used to
// validate, in fixed-size chunks, without keeping the bytes.
var base64Check = base64.StdEncoding.Strict()

// decodedBase64Size validates s as standard padded base64 (no whitespace)
// and returns the decoded length, decoding in chunks into a stack buffer.
func decodedBase64Size(s string) (int, bool) {
	if len(s)%4 != 0 {
		return 0, false
	}
	var scratch [768]byte
	const chunk = 1024 // base64 characters per step: 768 bytes
	size := 0
	for i := 0; i < len(s); i += chunk {
		end := min(i+chunk, len(s))
		n, err := base64Check.Decode(scratch[:], []byte(s[i:end]))
		if err != nil {
			return 0, false
		}
		size += n
	}
	return size, true
}

func movePath(b []byte, c *command) []byte { return append(messagePath(b, c), "/move"...) }

func sendPath(b []byte, _ *command) []byte { return append(b, "/sendMail"...) }

// messageActionPath appends /messages/{id}/{action}: mail.reply's reply or replyAll.
func messageActionPath(b []byte, c *command) []byte {
	b = append(messagePath(b, c), '/')
	return append(b, c.action...) // fixed names only
}

func forwardPath(b []byte, c *command) []byte { return append(messagePath(b, c), "/forward"...) }
