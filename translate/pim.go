package translate

import "github.com/tidwall/gjson"

// This file holds what the calendar commands (calendar.go) and the contact
// commands (contacts.go) share: field sets, limits, messages and the delta
// page writer.

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

// isPIMFields reports whether a calendar.sync or contacts.sync state's
// field set is valid.
func isPIMFields(f fieldSet) bool { return f == pimFieldsAll }

// changeStatus is the outcome of translating one delta item.
type changeStatus uint8

const (
	changeWritten changeStatus = iota
	changeSkipped              // no string id: nothing written
	changeBadTime              // an event time in an unknown time zone
)

// appendPIMChanges writes the changes of a calendar or contacts delta page's
// value array, one item at a time with write.
func appendPIMChanges[V any](b []byte, r *jreader, write func([]byte, gjson.Result, *V) ([]byte, changeStatus)) ([]byte, *Error) {
	value := r.value()
	if !value.IsArray() {
		return b, upstreamMalformed()
	}
	n := 0
	var fail *Error
	var vals V
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		var st changeStatus
		b, st = write(b, item, &vals)
		switch st {
		case changeWritten:
			n++
		case changeSkipped:
			b = b[:mark]
		case changeBadTime:
			fail = badEventTimeZone()
			return false
		}
		return true
	})
	return b, fail
}
