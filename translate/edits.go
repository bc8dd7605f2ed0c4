package translate

import (
	"time"

	"github.com/tidwall/gjson"
)

// This file turns the device-form arguments of event.create/update and
// contact.create/update (the compact field names of the sync output) into
// Graph's JSON request bodies.
//
// Event: subject, body {"type","content"}, start, end, allDay, location,
// attendees [{name?, addr, type?}], showAs → subject, body{contentType,
// content}, start/end {"dateTime","timeZone":"UTC"}, isAllDay,
// location{displayName}, attendees[{emailAddress{address,name}, type}],
// showAs.
// Contact: name, given, surname, emails [{name?, addr}], mobile, business,
// home, company, title → displayName, givenName, surname,
// emailAddresses[{name,address}], mobilePhone, businessPhones, homePhones,
// companyName, jobTitle; "" clears a string field (sent as null).

// maxDateArgLen bounds a date argument before it is parsed.
const maxDateArgLen = 64

// readMembers fills out[i] with the member names[i] of the object v; unknown
// members are ignored, null counts as absent. ok is false when v is not an
// object or a known member appears twice.
func readMembers(v gjson.Result, names []string, out []gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	v.ForEach(func(k, mv gjson.Result) bool {
		for i, n := range names {
			if k.Str != n {
				continue
			}
			if out[i].Exists() {
				ok = false
				return false
			}
			if mv.Type != gjson.Null {
				out[i] = mv
			} else {
				out[i] = gjson.Result{Type: gjson.Null, Raw: "null"} // seen, but absent for the caller
			}
			return true
		}
		return true
	})
	for i := range out {
		if out[i].Type == gjson.Null {
			out[i] = gjson.Result{}
		}
	}
	return ok
}

// parseEventTimeArg reads an event start or end: an RFC 3339 date-time
// (any offset, converted to UTC, fractions dropped) or, with allDay, a date
// YYYY-MM-DD (a date-time at midnight UTC is accepted too). It returns
// Graph's dateTime form "2006-01-02T15:04:05".
func parseEventTimeArg(v gjson.Result, allDay bool) (string, bool) {
	if v.Type != gjson.String || len(v.Str) > maxDateArgLen {
		return "", false
	}
	var ts time.Time
	if len(v.Str) == len(deviceDateLayout) {
		if !allDay {
			return "", false
		}
		d, err := time.Parse(deviceDateLayout, v.Str)
		if err != nil {
			return "", false
		}
		ts = d
	} else {
		t, err := time.Parse(time.RFC3339, v.Str)
		if err != nil {
			return "", false
		}
		ts = t.UTC().Truncate(time.Second)
		if allDay && (ts.Hour() != 0 || ts.Minute() != 0 || ts.Second() != 0) {
			return "", false
		}
	}
	if y := ts.Year(); y < 1 || y > 9999 {
		return "", false
	}
	return ts.Format(graphDateTimeLayout), true
}

// buildEventPayload validates the event fields of an event.create (start and
// end required) or event.update (at least one field) and returns Graph's body.
func buildEventPayload(a *argValues, create bool) ([]byte, *Error) {
	allDay := false
	if a.allDay.Exists() {
		if a.allDay.Type != gjson.True && a.allDay.Type != gjson.False {
			return nil, invalidArgs(msgBadAllDay)
		}
		allDay = a.allDay.Type == gjson.True
	}
	if create && (!a.start.Exists() || !a.end.Exists()) {
		return nil, invalidArgs(msgMissingEventTimes)
	}
	var start, end string
	var ok bool
	if a.start.Exists() {
		if start, ok = parseEventTimeArg(a.start, allDay); !ok {
			return nil, invalidArgs(msgBadEventTimes)
		}
	}
	if a.end.Exists() {
		if end, ok = parseEventTimeArg(a.end, allDay); !ok {
			return nil, invalidArgs(msgBadEventTimes)
		}
	}
	// Same fixed-width format: byte order is time order.
	if start != "" && end != "" && (end < start || (allDay && end == start)) {
		return nil, invalidArgs(msgBadEventTimes)
	}
	if a.subject.Exists() && a.subject.Type != gjson.String {
		return nil, invalidArgs(msgBadSubject)
	}
	if a.location.Exists() && a.location.Type != gjson.String {
		return nil, invalidArgs(msgBadLocation)
	}
	showAs := ""
	if a.showAs.Exists() {
		if a.showAs.Type == gjson.String {
			for _, s := range showAsValues {
				if a.showAs.Str == s {
					showAs = s
				}
			}
		}
		if showAs == "" {
			return nil, invalidArgs(msgBadShowAs)
		}
	}

	b := make([]byte, 0, 256+len(a.subject.Raw)+len(a.body.Raw)+len(a.attendees.Raw)+len(a.location.Raw))
	b = append(b, '{')
	first := true
	if a.subject.Exists() {
		b = appendKey(b, &first, "subject")
		b = appendJSONString(b, a.subject.Str)
	}
	if a.body.Exists() {
		var bodyOK bool
		b = appendKey(b, &first, "body")
		if b, bodyOK = appendEventBodyArg(b, a.body); !bodyOK {
			return nil, invalidArgs(msgBadEventBody)
		}
	}
	if start != "" {
		b = appendKey(b, &first, "start")
		b = appendUTCDateTimeTimeZone(b, start)
	}
	if end != "" {
		b = appendKey(b, &first, "end")
		b = appendUTCDateTimeTimeZone(b, end)
	}
	if a.allDay.Exists() {
		b = appendKey(b, &first, "isAllDay")
		b = appendBool(b, allDay)
	}
	if a.location.Exists() {
		b = appendKey(b, &first, "location")
		b = append(b, `{"displayName":`...)
		b = appendJSONString(b, a.location.Str)
		b = append(b, '}')
	}
	if a.attendees.Exists() {
		var attOK bool
		b = appendKey(b, &first, "attendees")
		if b, attOK = appendAttendeesArg(b, a.attendees); !attOK {
			return nil, invalidArgs(msgBadAttendees)
		}
	}
	if showAs != "" {
		b = appendKey(b, &first, "showAs")
		b = appendJSONString(b, showAs)
	}
	if first {
		return nil, invalidArgs(msgNoChanges)
	}
	return append(b, '}'), nil
}

// appendUTCDateTimeTimeZone writes {"dateTime":dt,"timeZone":"UTC"}.
func appendUTCDateTimeTimeZone(b []byte, dt string) []byte {
	b = append(b, `{"dateTime":"`...)
	b = append(b, dt...) // [0-9T:-] only
	return append(b, `","timeZone":"UTC"}`...)
}

// appendEventBodyArg writes Graph's itemBody from the device's
// {"type":"text"|"html","content":…} (type defaults to text).
func appendEventBodyArg(b []byte, v gjson.Result) ([]byte, bool) {
	var m [2]gjson.Result
	if !readMembers(v, []string{"type", "content"}, m[:]) {
		return b, false
	}
	typ, content := m[0], m[1]
	ct := "text"
	if typ.Exists() {
		switch {
		case typ.Type != gjson.String:
			return b, false
		case typ.Str == "text":
		case typ.Str == "html":
			ct = "html"
		default:
			return b, false
		}
	}
	if content.Type != gjson.String {
		return b, false
	}
	b = append(b, `{"contentType":"`...)
	b = append(b, ct...)
	b = append(b, `","content":`...)
	b = appendJSONString(b, content.Str)
	return append(b, '}'), true
}

// appendAttendeesArg writes Graph attendees from [{name?, addr, type?}]
// (type defaults to required).
func appendAttendeesArg(b []byte, v gjson.Result) ([]byte, bool) {
	if !v.IsArray() {
		return b, false
	}
	ok, n := true, 0
	b = append(b, '[')
	v.ForEach(func(_, e gjson.Result) bool {
		var m [3]gjson.Result
		if n == maxListArg || !readMembers(e, []string{"name", "addr", "type"}, m[:]) {
			ok = false
			return false
		}
		name, addr, typ := m[0], m[1], m[2]
		if !validAddrArg(addr) || (name.Exists() && name.Type != gjson.String) {
			ok = false
			return false
		}
		t := "required"
		if typ.Exists() {
			t = ""
			for _, s := range attendeeTypeValues {
				if typ.Type == gjson.String && typ.Str == s {
					t = s
				}
			}
			if t == "" {
				ok = false
				return false
			}
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"emailAddress":{"address":`...)
		b = appendJSONString(b, addr.Str)
		if name.Exists() {
			b = append(b, `,"name":`...)
			b = appendJSONString(b, name.Str)
		}
		b = append(b, `},"type":"`...)
		b = append(b, t...)
		b = append(b, `"}`...)
		return true
	})
	return append(b, ']'), ok
}

// validAddrArg accepts a non-empty string of at most 320 bytes holding an '@'.
func validAddrArg(v gjson.Result) bool {
	if v.Type != gjson.String || len(v.Str) == 0 || len(v.Str) > maxMailboxLen {
		return false
	}
	for i := 0; i < len(v.Str); i++ {
		if v.Str[i] == '@' {
			return true
		}
	}
	return false
}

// buildContactPayload validates the contact fields of a contact.create or
// contact.update (at least one field) and returns Graph's body.
func buildContactPayload(a *argValues) ([]byte, *Error) {
	strs := [...]struct {
		v     gjson.Result
		graph string
	}{
		{a.name, "displayName"}, {a.given, "givenName"}, {a.surname, "surname"},
		{a.mobile, "mobilePhone"}, {a.company, "companyName"}, {a.title, "jobTitle"},
	}
	size := 64
	for _, s := range strs {
		if s.v.Exists() && s.v.Type != gjson.String {
			return nil, invalidArgs(msgBadContactString)
		}
		size += len(s.v.Raw) + 16
	}
	size += len(a.emails.Raw) + len(a.business.Raw) + len(a.home.Raw)
	b := make([]byte, 0, size)
	b = append(b, '{')
	first := true
	for _, s := range strs {
		if !s.v.Exists() {
			continue
		}
		b = appendKey(b, &first, s.graph)
		if s.v.Str == "" {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, s.v.Str)
		}
	}
	if a.emails.Exists() {
		var ok bool
		b = appendKey(b, &first, "emailAddresses")
		if b, ok = appendEmailsArg(b, a.emails); !ok {
			return nil, invalidArgs(msgBadEmails)
		}
	}
	for _, ph := range [...]struct {
		v     gjson.Result
		graph string
	}{{a.business, "businessPhones"}, {a.home, "homePhones"}} {
		if !ph.v.Exists() {
			continue
		}
		var ok bool
		b = appendKey(b, &first, ph.graph)
		if b, ok = appendStringsArg(b, ph.v); !ok {
			return nil, invalidArgs(msgBadPhones)
		}
	}
	if first {
		return nil, invalidArgs(msgNoChanges)
	}
	return append(b, '}'), nil
}

// appendEmailsArg writes Graph emailAddresses from [{name?, addr}].
func appendEmailsArg(b []byte, v gjson.Result) ([]byte, bool) {
	if !v.IsArray() {
		return b, false
	}
	ok, n := true, 0
	b = append(b, '[')
	v.ForEach(func(_, e gjson.Result) bool {
		var m [2]gjson.Result
		if n == maxListArg || !readMembers(e, []string{"name", "addr"}, m[:]) ||
			!validAddrArg(m[1]) || (m[0].Exists() && m[0].Type != gjson.String) {
			ok = false
			return false
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '{')
		if m[0].Exists() {
			b = append(b, `"name":`...)
			b = appendJSONString(b, m[0].Str)
			b = append(b, ',')
		}
		b = append(b, `"address":`...)
		b = appendJSONString(b, m[1].Str)
		b = append(b, '}')
		return true
	})
	return append(b, ']'), ok
}

// appendStringsArg writes an array of at most maxListArg strings.
func appendStringsArg(b []byte, v gjson.Result) ([]byte, bool) {
	if !v.IsArray() {
		return b, false
	}
	ok, n := true, 0
	b = append(b, '[')
	v.ForEach(func(_, e gjson.Result) bool {
		if n == maxListArg || e.Type != gjson.String {
			ok = false
			return false
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, e.Str)
		return true
	})
	return append(b, ']'), ok
}
