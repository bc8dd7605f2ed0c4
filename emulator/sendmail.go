package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// This file serves sending: POST sendMail (JSON and MIME forms) and the
// reply, replyAll and forward actions. A sent message lands in the sender's
// Sent Items (unless saveToSentItems is false) and in the Inbox of every
// emulator mailbox it is addressed to; each shows up in the next delta
// round of those folders. Graph answers 202 with no body.

// maxRecipients is Exchange Online's limit of to+cc+bcc recipients.
const maxRecipients = 500

// recipientInput is a Graph recipient in a request body.
type recipientInput struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

// attachmentInput is an attachment in a request body.
type attachmentInput struct {
	ODataType    string `json:"@odata.type"`
	Name         string `json:"name"`
	ContentType  string `json:"contentType"`
	ContentBytes string `json:"contentBytes"`
	IsInline     bool   `json:"isInline"`
	ContentID    string `json:"contentId"`
}

// messageInput is the writable part of a message in a request body.
type messageInput struct {
	Subject *string `json:"subject"`
	Body    *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	ToRecipients  []recipientInput  `json:"toRecipients"`
	CcRecipients  []recipientInput  `json:"ccRecipients"`
	BccRecipients []recipientInput  `json:"bccRecipients"`
	ReplyTo       []recipientInput  `json:"replyTo"`
	Importance    string            `json:"importance"`
	Attachments   []attachmentInput `json:"attachments"`
}

// outgoing is a message being sent, before it is stored anywhere.
type outgoing struct {
	subject      string
	isHTML       bool
	content      string
	to, cc, bcc  []recipient
	replyTo      []recipient
	importance   string
	attachments  []*attachment
	conversation string // conversation id to keep (reply, forward); "" = new
}

func errInvalidRecipients() *graphError {
	return newError(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient is not valid.")
}

func errMIMEBase64() *graphError {
	return newError(http.StatusBadRequest, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
}

// requestMediaType returns the request's media type in lower case.
func (c *call) requestMediaType() string {
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// sendMail serves POST sendMail: JSON {"message", "saveToSentItems"} or, with
// Content-Type text/plain, a base64-encoded MIME message.
func (c *call) sendMail() {
	body, gerr := c.readBody()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var out *outgoing
	save := true
	switch c.requestMediaType() {
	case "text/plain":
		out, gerr = parseMIMESend(body)
	case "application/json":
		var in struct {
			Message         *messageInput   `json:"message"`
			SaveToSentItems json.RawMessage `json:"saveToSentItems"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Message == nil {
			c.fail(errBadRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))
			return
		}
		switch s := strings.TrimSpace(string(in.SaveToSentItems)); s {
		case "", "null", "true", `"true"`:
		case "false", `"false"`: // the documentation shows both forms
			save = false
		default:
			c.fail(badValue(s))
			return
		}
		out, gerr = outgoingFromInput(in.Message)
	default:
		gerr = newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Type must be application/json or text/plain.")
	}
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if gerr := checkRecipients(out); gerr != nil {
		c.fail(gerr)
		return
	}
	c.s.send(c.mb, out, save, c.now)
	c.w.WriteHeader(http.StatusAccepted)
}

// outgoingFromInput validates a JSON message.
func outgoingFromInput(in *messageInput) (*outgoing, *graphError) {
	out := &outgoing{importance: "normal"}
	if in.Subject != nil {
		out.subject = *in.Subject
	}
	if in.Body != nil {
		out.content = in.Body.Content
		switch strings.ToLower(in.Body.ContentType) {
		case "", "text":
		case "html":
			out.isHTML = true
		default:
			return nil, badValue(in.Body.ContentType)
		}
	}
	var gerr *graphError
	if out.to, gerr = recipientsFromInput(in.ToRecipients); gerr != nil {
		return nil, gerr
	}
	if out.cc, gerr = recipientsFromInput(in.CcRecipients); gerr != nil {
		return nil, gerr
	}
	if out.bcc, gerr = recipientsFromInput(in.BccRecipients); gerr != nil {
		return nil, gerr
	}
	if out.replyTo, gerr = recipientsFromInput(in.ReplyTo); gerr != nil {
		return nil, gerr
	}
	if in.Importance != "" {
		imp, ok := canonicalEnum(in.Importance, "low", "normal", "high")
		if !ok {
			return nil, badValue(in.Importance)
		}
		out.importance = imp
	}
	for _, a := range in.Attachments {
		if a.ODataType != "" && !strings.EqualFold(a.ODataType, "#microsoft.graph.fileAttachment") {
			return nil, newError(http.StatusBadRequest, "ErrorInvalidRequest", "Only file attachments can be sent inline.")
		}
		data, err := base64.StdEncoding.DecodeString(a.ContentBytes)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "ErrorInvalidRequest", "The contentBytes of an attachment is not valid base64.")
		}
		if a.Name == "" {
			return nil, newError(http.StatusBadRequest, "ErrorInvalidRequest", "An attachment needs a name.")
		}
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		out.attachments = append(out.attachments, &attachment{name: a.Name, contentType: ct, size: len(data), content: data, isInline: a.IsInline, contentID: a.ContentID})
	}
	return out, nil
}

func recipientsFromInput(in []recipientInput) ([]recipient, *graphError) {
	out := make([]recipient, 0, len(in))
	for _, r := range in {
		addr := strings.TrimSpace(r.EmailAddress.Address)
		if !strings.Contains(addr, "@") || strings.ContainsAny(addr, " \t\r\n<>") {
			return nil, errInvalidRecipients()
		}
		out = append(out, recipient{name: r.EmailAddress.Name, address: addr})
	}
	return out, nil
}

// checkRecipients requires 1–500 recipients.
func checkRecipients(out *outgoing) *graphError {
	n := len(out.to) + len(out.cc) + len(out.bcc)
	if n == 0 || n > maxRecipients {
		return errInvalidRecipients()
	}
	return nil
}

// parseMIMESend decodes the base64 body of a MIME sendMail and reads the
// message: subject, recipients, the first text part as body, and parts with
// a file name as attachments.
func parseMIMESend(body []byte) (*outgoing, *graphError) {
	compact := bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, body)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Decode(raw, compact)
	if err != nil || len(compact) == 0 {
		return nil, errMIMEBase64()
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw[:n]))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "ErrorMimeContentConversionFailed", "The MIME content could not be converted.")
	}
	dec := new(mime.WordDecoder)
	out := &outgoing{importance: "normal"}
	if s, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		out.subject = s
	} else {
		out.subject = msg.Header.Get("Subject")
	}
	for _, h := range []struct {
		name string
		dst  *[]recipient
	}{{"To", &out.to}, {"Cc", &out.cc}, {"Bcc", &out.bcc}} {
		*h.dst = []recipient{}
		if msg.Header.Get(h.name) == "" {
			continue
		}
		list, err := msg.Header.AddressList(h.name)
		if err != nil {
			return nil, errInvalidRecipients()
		}
		for _, a := range list {
			*h.dst = append(*h.dst, recipient{name: a.Name, address: a.Address})
		}
	}
	out.replyTo = []recipient{}
	readMIMEPart(out, partHeader(msg.Header), msg.Body, 0)
	return out, nil
}

// partHeader adapts mail.Header to the lookups readMIMEPart needs.
type partHeader map[string][]string

func (h partHeader) get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readMIMEPart reads one MIME entity into out: multiparts recursively (at
// most a few levels), the first text/plain or text/html leaf as the body,
// leaves with a file name as attachments.
func readMIMEPart(out *outgoing, h partHeader, body io.Reader, depth int) {
	mt, params, err := mime.ParseMediaType(h.get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= 4 || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			readMIMEPart(out, partHeader(part.Header), part, depth+1)
		}
	}
	var data []byte
	switch strings.ToLower(h.get("Content-Transfer-Encoding")) {
	case "base64":
		data, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, newlineStripper{body}))
	case "quoted-printable":
		data, err = io.ReadAll(quotedprintable.NewReader(body))
	default:
		data, err = io.ReadAll(body)
	}
	if err != nil {
		return
	}
	_, dparams, _ := mime.ParseMediaType(h.get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if name == "" && (mt == "text/plain" || mt == "text/html") && out.content == "" && !out.isHTML {
		out.content = string(data)
		out.isHTML = mt == "text/html"
		return
	}
	if name == "" {
		name = "attachment"
	}
	cid := strings.Trim(h.get("Content-Id"), "<>")
	out.attachments = append(out.attachments, &attachment{name: name, contentType: mt, size: len(data), content: data,
		isInline: strings.HasPrefix(strings.ToLower(h.get("Content-Disposition")), "inline"), contentID: cid})
}

// newlineStripper drops CR and LF from a base64 stream.
type newlineStripper struct{ r io.Reader }

func (s newlineStripper) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	k := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[k] = b
			k++
		}
	}
	return k, err
}

// replyOrForward serves POST messages/{id}/reply, /replyAll and /forward.
func (c *call) replyOrForward(ref, action string) {
	var in struct {
		Comment      *string          `json:"comment"`
		Message      *messageInput    `json:"message"`
		ToRecipients []recipientInput `json:"toRecipients"`
	}
	if gerr := c.readJSON(&in); gerr != nil {
		c.fail(gerr)
		return
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	extra := &outgoing{}
	if in.Message != nil {
		var gerr *graphError
		if extra, gerr = outgoingFromInput(in.Message); gerr != nil {
			c.fail(gerr)
			return
		}
		if in.Comment != nil && in.Message.Body != nil {
			c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "The comment and the message body cannot both be set."))
			return
		}
	}
	forward := eq(action, "forward")
	var topTo []recipient
	if forward {
		var gerr *graphError
		if topTo, gerr = recipientsFromInput(in.ToRecipients); gerr != nil {
			c.fail(gerr)
			return
		}
		if (len(topTo) > 0) == (len(extra.to) > 0) {
			c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "Give the recipients either as toRecipients or as message.toRecipients."))
			return
		}
	}
	mb := c.mb
	mb.mu.RLock()
	orig, gerr := mb.messageByRef(ref)
	if gerr != nil {
		mb.mu.RUnlock()
		c.fail(gerr)
		return
	}
	out := &outgoing{importance: "normal", conversation: orig.conversationID, replyTo: []recipient{}}
	quoted := "\r\n\r\n-----Original Message-----\r\nFrom: " + orig.from.name + " <" + orig.from.address + ">\r\nSubject: " + orig.subject + "\r\n\r\n" + orig.bodyText
	out.content = comment + quoted
	if extra.content != "" {
		out.content = extra.content + quoted
	}
	self := strings.ToLower(mb.upn)
	switch {
	case forward:
		out.subject = prefixSubject("FW: ", orig.subject)
		out.to = append(topTo, extra.to...)
		for _, a := range orig.attachments {
			ac := *a
			out.attachments = append(out.attachments, &ac)
		}
	default:
		out.subject = prefixSubject("RE: ", orig.subject)
		if len(orig.replyTo) > 0 {
			out.to = append(out.to, orig.replyTo...)
		} else {
			out.to = append(out.to, orig.from)
		}
		if eq(action, "replyAll") {
			seen := map[string]bool{self: true}
			for _, r := range out.to {
				seen[strings.ToLower(r.address)] = true
			}
			for _, r := range orig.to {
				if !seen[strings.ToLower(r.address)] {
					seen[strings.ToLower(r.address)] = true
					out.to = append(out.to, r)
				}
			}
			for _, r := range orig.cc {
				if !seen[strings.ToLower(r.address)] {
					seen[strings.ToLower(r.address)] = true
					out.cc = append(out.cc, r)
				}
			}
		}
		out.to = append(out.to, extra.to...)
	}
	mb.mu.RUnlock()
	out.cc = append(out.cc, extra.cc...)
	out.bcc = append(out.bcc, extra.bcc...)
	if gerr := checkRecipients(out); gerr != nil {
		c.fail(gerr)
		return
	}
	c.s.send(mb, out, true, c.now)
	c.w.WriteHeader(http.StatusAccepted)
}

// prefixSubject puts prefix ("RE: ", "FW: ") before subject unless it is there.
func prefixSubject(prefix, subject string) string {
	if len(subject) >= len(prefix) && strings.EqualFold(subject[:len(prefix)], prefix) {
		return subject
	}
	return prefix + subject
}

// send stores the sender's copy in Sent Items (when save) and delivers a copy
// to the Inbox of every emulator mailbox among the recipients. Mailbox locks
// are taken one at a time.
func (s *Server) send(from *mailbox, out *outgoing, save bool, now time.Time) {
	now = now.UTC().Truncate(time.Second)
	from.mu.RLock()
	owner := recipient{from.displayName, from.upn}
	from.mu.RUnlock()
	conversation := out.conversation
	if conversation == "" {
		conversation = "AAQkAD" + from.mbxPart + "ABAAsent" + newUUID()[:8] + "="
	}
	internetID := "<" + newUUID() + "@mail.contoso.example>"
	build := func(forRecipient bool) *message {
		m := &message{
			created: now, lastModified: now, received: now, sent: now,
			subject: out.subject, from: owner, sender: owner,
			to: cloneRecipients(out.to), cc: cloneRecipients(out.cc), bcc: cloneRecipients(out.bcc),
			replyTo: cloneRecipients(out.replyTo), isRead: !forRecipient, importance: out.importance,
			flagStatus: "notFlagged", inference: "focused", categories: []string{},
			conversationID: conversation, convIndex: "AQHZ" + encodeKey(uint32(now.Unix())) + "==", internetMsgID: internetID,
		}
		if forRecipient {
			m.bcc = []recipient{} // recipients never see the bcc list
		}
		if out.isHTML {
			m.bodyIsHTML, m.bodyHTML, m.bodyText = true, out.content, htmlToText(out.content)
		} else {
			m.bodyText, m.bodyHTML = out.content, textToHTML(out.content)
		}
		m.preview = makePreview(m.bodyText)
		for _, a := range out.attachments {
			ac := *a
			ac.lastModified = now
			m.attachments = append(m.attachments, &ac)
		}
		return m
	}
	if save {
		from.mu.Lock()
		if sent := from.wellKnown["sentitems"]; sent != nil {
			from.addMessage(sent, build(false))
		}
		from.mu.Unlock()
	}
	delivered := map[*mailbox]bool{}
	for _, list := range [][]recipient{out.to, out.cc, out.bcc} {
		for _, r := range list {
			mb := s.mailboxByUser(r.address)
			if mb == nil || delivered[mb] {
				continue
			}
			delivered[mb] = true
			mb.mu.Lock()
			if inbox := mb.wellKnown["inbox"]; inbox != nil {
				mb.addMessage(inbox, build(true))
			}
			mb.mu.Unlock()
		}
	}
}

func cloneRecipients(rs []recipient) []recipient {
	return append(make([]recipient, 0, len(rs)), rs...)
}
