package emulator

import (
	"encoding/base64"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Attachment properties selectable with $select.
var attachmentFieldNames = []string{"id", "lastModifiedDateTime", "name", "contentType", "size", "isInline", "contentId", "contentLocation", "contentBytes"}

const allAttachmentFields = fieldSet(1<<9 - 1)

func writeAttachment(b *jsonBuf, a *attachment, sel fieldSet, context string) {
	first := true
	b.byte1('{')
	if context != "" {
		b.key("@odata.context", &first)
		b.str(context)
	}
	b.key("@odata.type", &first)
	b.raw(a.odataType())
	if a.kind == "" {
		b.key("@odata.mediaContentType", &first)
		b.str(a.contentType)
	}
	b.key("id", &first)
	b.str(a.id)
	for i := 1; i < len(attachmentFieldNames); i++ {
		if !sel.has(i) || i >= 6 && a.kind != "" {
			// contentId, contentLocation and contentBytes are
			// fileAttachment properties.
			continue
		}
		b.key(attachmentFieldNames[i], &first)
		switch i {
		case 1:
			b.time(a.lastModified)
		case 2:
			b.str(a.name)
		case 3:
			b.str(a.contentType)
		case 4:
			b.int(a.size)
		case 5:
			b.bool(a.isInline)
		case 6:
			if a.contentID == "" {
				b.raw("null")
			} else {
				b.str(a.contentID)
			}
		case 7:
			b.raw("null")
		case 8:
			b.byte1('"')
			b.b = base64.StdEncoding.AppendEncode(b.b, a.bytes())
			b.byte1('"')
		}
	}
	b.byte1('}')
}

func (c *call) attachmentSelect() (fieldSet, *graphError) {
	return parseSelect(c.query["$select"], attachmentFieldNames, allAttachmentFields, "microsoft.graph.attachment")
}

func (c *call) listAttachments(ref string) {
	sel, gerr := c.attachmentSelect()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var b jsonBuf
	b.raw(`{"@odata.context":`)
	b.str(c.metadata(c.userContext() + "/messages('" + m.id(c.prefs.immutableIDs) + "')/attachments"))
	b.raw(`,"value":[`)
	for i, a := range m.attachments {
		if i > 0 {
			b.byte1(',')
		}
		writeAttachment(&b, a, sel, "")
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}

func (c *call) getAttachment(ref, attRef string, raw bool) {
	sel, gerr := c.attachmentSelect()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.RLock()
	locked := true
	defer func() {
		if locked {
			mb.mu.RUnlock()
		}
	}()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var att *attachment
	for _, a := range m.attachments {
		if a.id == attRef {
			att = a
			break
		}
	}
	if att == nil {
		if !looksLikeGraphID(attRef) {
			c.fail(errIDMalformed())
		} else {
			c.fail(errItemNotFound())
		}
		return
	}
	if raw && att.kind == attachmentReference {
		c.fail(newError(http.StatusMethodNotAllowed, "ErrorInvalidRequest", "The $value of a reference attachment cannot be read."))
		return
	}
	if raw && att.generatedSeed != 0 {
		// Stream without holding the mailbox lock or the bytes.
		contentType, seed, size := att.contentType, att.generatedSeed, att.size
		mb.mu.RUnlock()
		locked = false
		writeGeneratedValue(c.w, contentType, seed, size)
		return
	}
	if raw {
		data := att.bytes()
		c.w.Header().Set("Content-Type", att.contentType)
		c.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(data)
		return
	}
	var b jsonBuf
	writeAttachment(&b, att, sel, c.metadata(c.userContext()+"/messages('"+m.id(c.prefs.immutableIDs)+"')/attachments/$entity"))
	c.reply(http.StatusOK, b.b)
}

// getMessageMIME serves messages/{id}/$value: the message as MIME text.
func (c *call) getMessageMIME(ref string) {
	mb := c.mb
	mb.mu.RLock()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		mb.mu.RUnlock()
		c.fail(gerr)
		return
	}
	mimeText := renderMIME(m)
	mb.mu.RUnlock()
	c.w.Header().Set("Content-Type", "text/plain")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(mimeText)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(mimeText))
}

func mimeAddress(r recipient) string {
	return mime.QEncoding.Encode("utf-8", r.name) + " <" + r.address + ">"
}

func mimeAddressList(rs []recipient) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = mimeAddress(r)
	}
	return strings.Join(parts, ", ")
}

// renderMIME renders m as an RFC 5322 message. Caller holds the read lock.
func renderMIME(m *message) string {
	var b strings.Builder
	h := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	h("From", mimeAddress(m.from))
	h("To", mimeAddressList(m.to))
	h("Cc", mimeAddressList(m.cc))
	h("Subject", mime.QEncoding.Encode("utf-8", m.subject))
	h("Date", m.sent.UTC().Format(time.RFC1123Z))
	h("Message-ID", m.internetMsgID)
	h("MIME-Version", "1.0")
	bodyType, body := "text/plain", m.bodyText
	if m.bodyIsHTML {
		bodyType, body = "text/html", m.bodyHTML
	}
	encoded := wrap76(base64.StdEncoding.EncodeToString([]byte(body)))
	if len(m.attachments) == 0 {
		h("Content-Type", bodyType+"; charset=\"utf-8\"")
		h("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n" + encoded)
		return b.String()
	}
	boundary := "_000_" + encodeKey(m.key, uint16(m.version)) + "_"
	h("Content-Type", "multipart/mixed; boundary=\""+boundary+"\"")
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: " + bodyType + "; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded)
	for _, a := range m.attachments {
		b.WriteString("--" + boundary + "\r\n")
		disp := "attachment"
		if a.isInline {
			disp = "inline"
		}
		b.WriteString("Content-Type: " + a.contentType + "; name=\"" + a.name + "\"\r\n")
		b.WriteString("Content-Disposition: " + disp + "; filename=\"" + a.name + "\"\r\n")
		if a.contentID != "" {
			b.WriteString("Content-ID: <" + a.contentID + ">\r\n")
		}
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(wrap76(base64.StdEncoding.EncodeToString(a.bytes())))
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

func wrap76(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/76*2 + 2)
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}
