package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// This file wires the calendar and contact commands (DEVICE_API.md §5
// Calendar, Contacts, and the edits of docs/device-api.md) into the
// envelope: their arguments, upstream URLs, methods, preferences and data.

// pimFieldsAll is the (fixed) field set sealed into calendar.sync and
// contacts.sync states: both always carry every field.
const pimFieldsAll fieldSet = 1

// preferUTC asks Graph for event times in UTC.
const preferUTC = `outlook.timezone="UTC"`

// maxListArg bounds the elements of an array argument (attendees, emails,
// phones); Graph's own attendee limit is 500.
const maxListArg = 500

// eventEditArgs and contactEditArgs are the device-form fields of the edits.
const (
	eventEditArgs   = argSubject | argStart | argEnd | argAllDay | argLocation | argAttendees | argShowAs | argBody
	contactEditArgs = argName | argGiven | argSurname | argEmails | argMobile | argBusiness | argHome | argCompany | argTitle
)

// Fixed messages of the calendar and contact commands.
const (
	msgMissingItemID     = "id is required"
	msgBadItemID         = "id must be a Graph id"
	msgMissingWindow     = "start and end are required to start a calendar sync"
	msgBadWindowRange    = "start and end must be RFC 3339 date-times, end after start"
	msgBadResponse       = "response must be accept, decline or tentative"
	msgBadComment        = "comment must be a string"
	msgBadSend           = "send must be a boolean"
	msgMissingEventTimes = "start and end are required"
	msgBadEventTimes     = "start and end must be RFC 3339 date-times (dates YYYY-MM-DD with allDay true), end not before start"
	msgBadSubject        = "subject must be a string"
	msgBadAllDay         = "allDay must be a boolean"
	msgBadLocation       = "location must be a string"
	msgBadShowAs         = "showAs must be free, tentative, busy, oof, workingElsewhere or unknown"
	msgBadEventBody      = `body must be {"type":"text"|"html","content":string}`
	msgBadAttendees      = "attendees must be an array of at most 500 {name?, addr, type?} with type required, optional or resource"
	msgNoChanges         = "give at least one field to set"
	msgBadContactString  = "name, given, surname, mobile, company and title must be strings"
	msgBadEmails         = "emails must be an array of at most 500 {name?, addr}"
	msgBadPhones         = "business and home must be arrays of at most 500 strings"
	msgBadEventTimeZone  = "upstream returned an event time in a time zone the bridge cannot convert"
)

// pimSlot is argValues.slot for the calendar and contact argument names.
func (a *argValues) pimSlot(name string) (argBit, *gjson.Result) {
	switch name {
	case "start":
		return argStart, &a.start
	case "end":
		return argEnd, &a.end
	case "response":
		return argResponse, &a.response
	case "comment":
		return argComment, &a.comment
	case "send":
		return argSend, &a.send
	case "subject":
		return argSubject, &a.subject
	case "allDay":
		return argAllDay, &a.allDay
	case "location":
		return argLocation, &a.location
	case "attendees":
		return argAttendees, &a.attendees
	case "showAs":
		return argShowAs, &a.showAs
	case "name":
		return argName, &a.name
	case "given":
		return argGiven, &a.given
	case "surname":
		return argSurname, &a.surname
	case "emails":
		return argEmails, &a.emails
	case "mobile":
		return argMobile, &a.mobile
	case "business":
		return argBusiness, &a.business
	case "home":
		return argHome, &a.home
	case "company":
		return argCompany, &a.company
	case "title":
		return argTitle, &a.title
	}
	return 0, nil
}

// isPIM reports whether k is a calendar or contact command.
func (k opKind) isPIM() bool { return k >= opCalendarSync && k <= opContactDelete }

// wantsUTC reports whether the op's upstream call carries
// Prefer: outlook.timezone="UTC" (every call that returns events).
func (k opKind) wantsUTC() bool {
	return k == opCalendarSync || k == opEventCreate || k == opEventUpdate
}

// dataIsEmpty reports whether the op's data is {} whatever the 2xx answer
// holds (Graph answers 202 or 204 without a body).
func (k opKind) dataIsEmpty() bool {
	return k == opEventRespond || k == opEventDelete || k == opContactDelete || k.mailActionDataIsEmpty()
}

// upstreamMethod returns the command's upstream HTTP method.
func (c *command) upstreamMethod() string {
	if c.method == "" {
		return http.MethodGet
	}
	return c.method
}

// directDataIsEmpty reports whether the one command of a direct call has
// data {} whatever the answer body (so an empty 202/204 body is fine).
func (p *Plan) directDataIsEmpty() bool {
	for i := 0; i < p.n; i++ {
		if c := &p.cmds[i]; c.err == nil {
			return c.op.dataIsEmpty()
		}
	}
	return false
}

// parsePIMArgs validates the arguments of the calendar and contact ops
// (mailbox, window and state are checked by parseArgs) and sets the
// command's method, payload and window. Other ops pass through untouched.
func (c *command) parsePIMArgs(a *argValues) *Error {
	if !c.op.isPIM() {
		return nil
	}
	if opArgs[c.op]&argID != 0 {
		if !a.id.Exists() {
			return invalidArgs(msgMissingItemID)
		}
		if a.id.Type != gjson.String || !validGraphID(a.id.Str) {
			return invalidArgs(msgBadItemID)
		}
		c.msgID = a.id.Str
	}
	switch c.op {
	case opCalendarSync:
		c.fields = pimFieldsAll
		return c.parseCalendarWindow(a)
	case opContactsSync:
		c.fields = pimFieldsAll
	case opEventRespond:
		return c.parseRespond(a)
	case opEventDelete, opContactDelete:
		c.method = http.MethodDelete
	case opEventCreate, opEventUpdate:
		c.method = http.MethodPatch
		if c.op == opEventCreate {
			c.method = http.MethodPost
		}
		payload, err := buildEventPayload(a, c.op == opEventCreate)
		if err != nil {
			return err
		}
		c.payload = payload
	case opContactCreate, opContactUpdate:
		c.method = http.MethodPatch
		if c.op == opContactCreate {
			c.method = http.MethodPost
		}
		payload, err := buildContactPayload(a)
		if err != nil {
			return err
		}
		c.payload = payload
	}
	return nil
}

// parseCalendarWindow reads calendar.sync's start and end. They are
// required without a state; given with a state they are checked and
// ignored (the window lives in Graph's tokens, inside the sealed link).
func (c *command) parseCalendarWindow(a *argValues) *Error {
	var start, end string
	var ok bool
	if a.start.Exists() {
		if start, ok = parseSince(a.start); !ok {
			return invalidArgs(msgBadWindowRange)
		}
	}
	if a.end.Exists() {
		if end, ok = parseSince(a.end); !ok {
			return invalidArgs(msgBadWindowRange)
		}
	}
	if a.state.Exists() {
		return nil
	}
	if start == "" || end == "" {
		return invalidArgs(msgMissingWindow)
	}
	if end <= start { // same fixed-width UTC format: byte order is time order
		return invalidArgs(msgBadWindowRange)
	}
	c.start, c.end = start, end
	return nil
}

// parseRespond reads event.respond's response, comment and send.
func (c *command) parseRespond(a *argValues) *Error {
	if !a.response.Exists() {
		return invalidArgs(msgBadResponse)
	}
	switch {
	case a.response.Type != gjson.String:
		return invalidArgs(msgBadResponse)
	case a.response.Str == "accept":
		c.action = "accept"
	case a.response.Str == "decline":
		c.action = "decline"
	case a.response.Str == "tentative":
		c.action = "tentativelyAccept"
	default:
		return invalidArgs(msgBadResponse)
	}
	send := true
	if a.send.Exists() {
		if a.send.Type != gjson.True && a.send.Type != gjson.False {
			return invalidArgs(msgBadSend)
		}
		send = a.send.Type == gjson.True
	}
	b := make([]byte, 0, 32+len(a.comment.Raw))
	b = append(b, '{')
	if a.comment.Exists() {
		if a.comment.Type != gjson.String {
			return invalidArgs(msgBadComment)
		}
		b = append(b, `"comment":`...)
		b = appendJSONString(b, a.comment.Str)
		b = append(b, ',')
	}
	b = append(b, `"sendResponse":`...)
	b = appendBool(b, send)
	c.payload = append(b, '}')
	c.method = http.MethodPost
	return nil
}

// appendPIMURL appends the path (and query) of a calendar or contact
// command to b, after /me or /users/{mailbox}, and sets c.pathLen.
func (c *command) appendPIMURL(b []byte) []byte {
	switch c.op {
	case opCalendarSync:
		b = append(b, "/calendarView/delta"...)
		c.pathLen = len(b)
		b = append(b, "?startDateTime="...)
		b = append(b, c.start...) // [0-9TZ:-] only
		b = append(b, "&endDateTime="...)
		b = append(b, c.end...)
	case opContactsSync:
		b = append(b, "/contacts/delta"...)
		c.pathLen = len(b)
		b = append(b, '?')
		b = append(b, contactSelect...)
	case opEventCreate:
		b = append(b, "/events"...)
		c.pathLen = len(b)
	case opEventUpdate, opEventDelete, opEventRespond:
		b = append(b, "/events/"...)
		b = appendPathSegment(b, c.msgID)
		if c.action != "" {
			b = append(b, '/')
			b = append(b, c.action...) // fixed names only
		}
		c.pathLen = len(b)
	case opContactCreate:
		b = append(b, "/contacts"...)
		c.pathLen = len(b)
	case opContactUpdate, opContactDelete:
		b = append(b, "/contacts/"...)
		b = appendPathSegment(b, c.msgID)
		c.pathLen = len(b)
	}
	return b
}

// appendPIMChanges writes the changes of one calendar or contacts delta
// page (the items of value) and reports an unconvertible event time.
func appendPIMChanges(b []byte, op opKind, value gjson.Result) ([]byte, Error) {
	n := 0
	var fail Error
	var ev eventValues
	var ct contactValues
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		var st changeStatus
		if op == opCalendarSync {
			b, st = appendEventChange(b, item, &ev)
		} else {
			b, st = appendContactChange(b, item, &ct)
		}
		switch st {
		case changeWritten:
			n++
		case changeSkipped:
			b = b[:mark]
		case changeBadTime:
			fail = Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgBadEventTimeZone}
			return false
		}
		return true
	})
	return b, fail
}

// changeStatus is the outcome of translating one delta item.
type changeStatus uint8

const (
	changeWritten changeStatus = iota
	changeSkipped              // no string id: nothing written
	changeBadTime              // an event time in an unknown time zone
)

// appendPIMData writes {"event":{…}} or {"contact":{…}} for the answer of
// an event or contact create/update.
func appendPIMData(b []byte, c *command, body gjson.Result) ([]byte, Error) {
	malformed := Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamMalformed}
	switch c.op {
	case opEventCreate, opEventUpdate:
		var vals eventValues
		collectEvent(body, &vals)
		if vals[efID].Type != gjson.String {
			return b, malformed
		}
		b = append(b, `{"event":`...)
		var ok bool
		if b, ok = appendEvent(b, &vals); !ok {
			return b, Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgBadEventTimeZone}
		}
		return append(b, '}'), Error{}
	case opContactCreate, opContactUpdate:
		var vals contactValues
		collectContact(body, &vals)
		if vals[cfID].Type != gjson.String {
			return b, malformed
		}
		b = append(b, `{"contact":`...)
		b = appendContact(b, &vals)
		return append(b, '}'), Error{}
	}
	return b, malformed
}
