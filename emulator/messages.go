package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// messageSelect parses $select for messages.
func (c *call) messageSelect() (fieldSet, *graphError) {
	return parseSelect(c.query["$select"], messageFieldNames[:], defaultMessageFields, "microsoft.graph.message")
}

// renderOpts derives the message rendering from the request's preferences
// and sets Preference-Applied.
func (c *call) renderOpts(pageSizeUsed bool) renderOptions {
	o := renderOptions{immutableIDs: c.prefs.immutableIDs, bodyType: c.prefs.bodyType}
	if o.bodyType == "" {
		o.bodyType = "html"
	}
	if applied := c.prefs.applied(pageSizeUsed, true); applied != "" {
		c.w.Header().Set("Preference-Applied", applied)
	}
	return o
}

func (c *call) messageEntityContext() string {
	return c.metadata(c.userContext() + "/messages/$entity")
}

func (c *call) getMessage(ref string) {
	sel, gerr := c.messageSelect()
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
	o := c.renderOpts(false)
	o.context = c.messageEntityContext()
	var b jsonBuf
	writeMessage(&b, m, sel, o)
	c.reply(http.StatusOK, b.b)
}

// flagInput is the flag property of a PATCH.
type flagInput struct {
	FlagStatus        *string          `json:"flagStatus"`
	StartDateTime     *dateTimeTZInput `json:"startDateTime"`
	DueDateTime       *dateTimeTZInput `json:"dueDateTime"`
	CompletedDateTime *dateTimeTZInput `json:"completedDateTime"`
}

type dateTimeTZInput struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// readOnlyMessageProps are accepted and ignored in a PATCH body.
var readOnlyMessageProps = map[string]bool{
	"id": true, "@odata.etag": true, "@odata.type": true, "@odata.context": true, "changeKey": true,
	"createdDateTime": true, "lastModifiedDateTime": true, "receivedDateTime": true, "sentDateTime": true,
	"hasAttachments": true, "parentFolderId": true, "conversationId": true, "conversationIndex": true,
	"bodyPreview": true, "webLink": true, "isDraft": true, "isDeliveryReceiptRequested": true,
	"isReadReceiptRequested": true,
}

// draftOnlyMessageProps can only change while the message is a draft.
var draftOnlyMessageProps = map[string]bool{
	"subject": true, "body": true, "toRecipients": true, "ccRecipients": true, "bccRecipients": true,
	"replyTo": true, "from": true, "sender": true, "internetMessageId": true,
}

func canonicalEnum(v string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, true
		}
	}
	return "", false
}

func badValue(v string) *graphError {
	return newError(http.StatusBadRequest, "RequestBodyRead", "Requested value '"+v+"' was not found.")
}

// patchMessage updates isRead, flag, categories, importance,
// inferenceClassification (and subject/body of drafts). The whole body is
// validated before anything changes.
func (c *call) patchMessage(ref string) {
	body, gerr := c.readBody()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(body, &props); err != nil || props == nil {
		c.fail(errBadRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))
		return
	}
	type change func(m *message)
	var changes []change
	draftChange := false
	for name, raw := range props {
		switch name {
		case "isRead":
			var v bool
			if json.Unmarshal(raw, &v) != nil {
				c.fail(newError(http.StatusBadRequest, "RequestBodyRead", "Cannot convert the literal to the expected type 'Edm.Boolean'."))
				return
			}
			changes = append(changes, func(m *message) { m.isRead = v })
		case "importance":
			var v string
			if json.Unmarshal(raw, &v) != nil {
				c.fail(badValue(string(raw)))
				return
			}
			imp, ok := canonicalEnum(v, "low", "normal", "high")
			if !ok {
				c.fail(badValue(v))
				return
			}
			changes = append(changes, func(m *message) { m.importance = imp })
		case "inferenceClassification":
			var v string
			if json.Unmarshal(raw, &v) != nil {
				c.fail(badValue(string(raw)))
				return
			}
			ic, ok := canonicalEnum(v, "focused", "other")
			if !ok {
				c.fail(badValue(v))
				return
			}
			changes = append(changes, func(m *message) { m.inference = ic })
		case "categories":
			var v []string
			if json.Unmarshal(raw, &v) != nil {
				c.fail(newError(http.StatusBadRequest, "RequestBodyRead", "Cannot read the categories collection."))
				return
			}
			if v == nil {
				v = []string{}
			}
			changes = append(changes, func(m *message) { m.categories = v })
		case "flag":
			var fl flagInput
			if json.Unmarshal(raw, &fl) != nil {
				c.fail(newError(http.StatusBadRequest, "RequestBodyRead", "Cannot read the flag value."))
				return
			}
			status := ""
			if fl.FlagStatus != nil {
				s, ok := canonicalEnum(*fl.FlagStatus, "notFlagged", "flagged", "complete")
				if !ok {
					c.fail(badValue(*fl.FlagStatus))
					return
				}
				status = s
			}
			if fl.DueDateTime != nil && fl.StartDateTime == nil {
				c.fail(newError(http.StatusBadRequest, "ErrorInvalidArgument", "The StartDate and DueDate properties must be set together."))
				return
			}
			now := c.now
			changes = append(changes, func(m *message) {
				if status != "" {
					m.flagStatus = status
				}
				if fl.StartDateTime != nil {
					m.flagStart = fl.StartDateTime.DateTime
				}
				if fl.DueDateTime != nil {
					m.flagDue = fl.DueDateTime.DateTime
				}
				switch m.flagStatus {
				case "notFlagged":
					m.flagStart, m.flagDue, m.flagCompleted = "", "", ""
				case "complete":
					if fl.CompletedDateTime != nil {
						m.flagCompleted = fl.CompletedDateTime.DateTime
					} else if m.flagCompleted == "" {
						m.flagCompleted = graphDateTimeTimeZone(now)
					}
				case "flagged":
					m.flagCompleted = ""
					if m.flagStart == "" {
						day := now.UTC().Truncate(24 * time.Hour)
						m.flagStart = graphDateTimeTimeZone(day)
						m.flagDue = graphDateTimeTimeZone(day)
					}
				}
			})
		case "subject":
			var v string
			if json.Unmarshal(raw, &v) != nil {
				c.fail(badValue(string(raw)))
				return
			}
			draftChange = true
			changes = append(changes, func(m *message) { m.subject = v })
		default:
			if readOnlyMessageProps[name] {
				continue
			}
			if draftOnlyMessageProps[name] {
				draftChange = true
				continue
			}
			c.fail(newError(http.StatusBadRequest, "RequestBodyRead", "The property '"+name+"' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type or mark the type as open type."))
			return
		}
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if im := c.r.Header.Get("If-Match"); im != "" && im != "*" && im != `W/"`+m.changeKey()+`"` {
		c.fail(newError(http.StatusPreconditionFailed, "ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."))
		return
	}
	if draftChange && !m.isDraft {
		c.fail(newError(http.StatusBadRequest, "ErrorInvalidPropertyUpdateSentMessage", "Update operation is invalid for property of a sent message."))
		return
	}
	wasRead := m.isRead
	for _, ch := range changes {
		ch(m)
	}
	mb.updateMessage(m, wasRead, c.now)
	o := c.renderOpts(false)
	o.context = c.messageEntityContext()
	var b jsonBuf
	writeMessage(&b, m, defaultMessageFields, o)
	c.reply(http.StatusOK, b.b)
}

func (c *call) deleteMessage(ref string) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb.deleteMessage(m, c.now)
	c.w.WriteHeader(http.StatusNoContent)
}

// moveOrCopyMessage serves POST messages/{id}/move and /copy: 201 and the
// message as it now exists in the destination.
func (c *call) moveOrCopyMessage(ref string, isCopy bool) {
	var in struct {
		DestinationID *string `json:"destinationId"`
	}
	if gerr := c.readJSON(&in); gerr != nil {
		c.fail(gerr)
		return
	}
	if in.DestinationID == nil || *in.DestinationID == "" {
		c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "The destinationId parameter is required."))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m, gerr := mb.messageByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	dst, gerr := mb.folderByRef(*in.DestinationID)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if dst == mb.root {
		c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "Messages cannot be moved to the root folder."))
		return
	}
	if isCopy {
		cp := cloneMessage(m, c.now)
		mb.addMessage(dst, cp)
		m = cp
	} else {
		mb.moveMessage(m, dst, c.now)
	}
	o := c.renderOpts(false)
	o.context = c.messageEntityContext()
	var b jsonBuf
	writeMessage(&b, m, defaultMessageFields, o)
	c.reply(http.StatusCreated, b.b)
}

func cloneMessage(m *message, now time.Time) *message {
	cp := *m
	cp.folder = nil
	cp.gen = 0
	cp.created, cp.lastModified = now, now
	cp.categories = append([]string(nil), m.categories...)
	cp.attachments = make([]*attachment, len(m.attachments))
	for i, a := range m.attachments {
		ac := *a
		cp.attachments[i] = &ac
	}
	return &cp
}

// listMessages lists a folder's messages (or, with folderRef nil, the
// whole mailbox's), newest first, with $top/$skip paging, $select, a
// receivedDateTime/hasAttachments $filter and $expand=attachments (see
// message_query.go).
func (c *call) listMessages(folderRef *string) {
	sel, gerr := c.messageSelect()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	top, skip, gerr := c.pageParams()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	lq, gerr := c.parseMessageListQuery()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	op, at := lq.op, lq.at
	searchValue, searching := c.query["$search"]
	terms, gerr := parseSearch(searchValue, searching)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if searching && (op != "" || lq.hasAttachments != nil) {
		c.fail(errBadRequest("The query parameter '$filter' is not supported with '$search'."))
		return
	}
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	var msgs []*message
	context := c.userContext() + "/messages"
	if folderRef != nil {
		f, gerr := mb.folderByRef(*folderRef)
		if gerr != nil {
			c.fail(gerr)
			return
		}
		msgs = f.msgs
		context = c.userContext() + "/mailFolders('" + f.id + "')/messages"
	} else {
		mb.forEachFolder(func(f *folder) { msgs = append(msgs, f.msgs...) })
		sortMessages(msgs)
	}
	if op != "" {
		msgs = filterPrefix(msgs, op, at)
	}
	if lq.hasAttachments != nil {
		msgs = filterHasAttachments(msgs, *lq.hasAttachments)
	}
	if searching {
		msgs = searchMessages(msgs, terms)
	}
	o := c.renderOpts(false)
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata(context))
	if skip+top < len(msgs) {
		b.raw(`,"@odata.nextLink":`)
		b.str(c.nextPageLink(skip + top))
	}
	b.raw(`,"value":[`)
	for i := skip; i < len(msgs) && i < skip+top; i++ {
		if i > skip {
			b.byte1(',')
		}
		writeMessage(b, msgs[i], sel, o)
		if lq.expand {
			writeExpandedAttachments(b, msgs[i], lq.expandSel)
		}
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}
