package translate

import (
	"time"

	"github.com/tidwall/gjson"
)

// This file holds the calendar commands (their rows are in table.go):
//
//	calendar.sync → GET {root}/calendarView/delta?startDateTime=…&endDateTime=…   (delta sync)
//	event.respond → POST {root}/events/{id}/accept | decline | tentativelyAccept
//	event.create  → POST {root}/events        (edits.go builds the body)
//	event.update  → PATCH {root}/events/{id}
//	event.delete  → DELETE {root}/events/{id}
//
// and translates Graph events into the device's event form.
// Event: {"id","subject","start","end","allDay","location","organizer",
// "attendees","response","showAs","cancelled","type","series","preview"} ←
// id, subject, start, end, isAllDay, location.displayName, organizer,
// attendees, responseStatus.response, showAs, isCancelled, type,
// seriesMasterId, bodyPreview.
//
// Times: Graph's {"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"UTC"}
// becomes "2026-03-12T17:00:00Z". All-day events (isAllDay true) carry
// dates: "start":"2026-11-03","end":"2026-11-04" (end exclusive), the date
// part of Graph's midnight dateTime whatever its zone (an all-day event is a
// floating date, not an instant).

// Event field slots, in device output order.
const (
	efID = iota
	efSubject
	efStart
	efEnd
	efAllDay
	efLocation
	efOrganizer
	efAttendees
	efResponse
	efShowAs
	efCancelled
	efType
	efSeries
	efPreview
	numEventFields
)

// eventFields are the device names of the event fields, in output order.
var eventFields = [numEventFields]string{"id", "subject", "start", "end", "allDay", "location", "organizer",
	"attendees", "response", "showAs", "cancelled", "type", "series", "preview"}

func eventSlot(graphName string) int {
	switch graphName {
	case "id":
		return efID
	case "subject":
		return efSubject
	case "start":
		return efStart
	case "end":
		return efEnd
	case "isAllDay":
		return efAllDay
	case "location":
		return efLocation
	case "organizer":
		return efOrganizer
	case "attendees":
		return efAttendees
	case "responseStatus":
		return efResponse
	case "showAs":
		return efShowAs
	case "isCancelled":
		return efCancelled
	case "type":
		return efType
	case "seriesMasterId":
		return efSeries
	case "bodyPreview":
		return efPreview
	}
	return -1
}

// Canonical Graph enum values (camelCase, as on the wire); values are
// matched case-insensitively (the docs sometimes show PascalCase) and
// written in this form. Unknown values are omitted.
var (
	responseValues     = []string{"none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"}
	showAsValues       = []string{"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}
	eventTypeValues    = []string{"singleInstance", "occurrence", "exception", "seriesMaster"}
	attendeeTypeValues = []string{"required", "optional", "resource"}
)

// canonicalValue returns the canonical form of a string result among
// allowed, or "" when v is not a string or not one of them.
func canonicalValue(v gjson.Result, allowed []string) string {
	if v.Type != gjson.String {
		return ""
	}
	s := jsonStr(v)
	for _, a := range allowed {
		if equalFoldASCII(s, a) {
			return a
		}
	}
	return ""
}

// eventValues holds the Graph values of one event, by field slot.
type eventValues [numEventFields]gjson.Result

// collectEvent reads obj once into vals and reports whether it carries @removed.
func collectEvent(obj gjson.Result, vals *eventValues) (removed bool) {
	*vals = eventValues{}
	eachMember(obj.Raw, func(k string, v gjson.Result) bool {
		if s := eventSlot(k); s >= 0 {
			vals[s] = v
		} else if k == "@removed" {
			removed = true
		}
		return true
	})
	return removed
}

// appendEventChange writes one sync change for a calendarView delta item.
// Occurrence stubs translate to what they carry (id, series, type, start, end).
func appendEventChange(dst []byte, item gjson.Result, vals *eventValues) ([]byte, changeStatus) {
	removed := collectEvent(item, vals)
	if vals[efID].Type != gjson.String {
		return dst, changeSkipped
	}
	if removed {
		dst = append(dst, `{"op":"delete","id":`...)
		dst = appendStringToken(dst, vals[efID])
		return append(dst, '}'), changeWritten
	}
	dst = append(dst, `{"op":"upsert","event":`...)
	var ok bool
	if dst, ok = appendEvent(dst, vals); !ok {
		return dst, changeBadTime
	}
	return append(dst, '}'), changeWritten
}

// appendEvent writes the device form of a collected event; absent, null and
// ill-typed values are omitted. ok is false when a time carries a zone the
// bridge cannot convert.
func appendEvent(dst []byte, vals *eventValues) ([]byte, bool) {
	allDay := vals[efAllDay].Type == gjson.True
	first := true
	dst = append(dst, '{')
	for i := 0; i < numEventFields; i++ {
		v := vals[i]
		switch i {
		case efID, efSubject, efSeries, efPreview:
			if v.Type != gjson.String {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendStringToken(dst, v)
		case efAllDay, efCancelled:
			if v.Type != gjson.True && v.Type != gjson.False {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendBool(dst, v.Type == gjson.True)
		case efStart, efEnd:
			mark, wasFirst := len(dst), first
			dst = appendKey(dst, &first, eventFields[i])
			var st timeStatus
			dst, st = appendEventTime(dst, v, allDay)
			switch st {
			case timeAbsent:
				dst, first = dst[:mark], wasFirst
			case timeBadZone:
				return dst[:mark], false
			}
		case efLocation:
			dn := memberOf(v, "displayName")
			if dn.Type != gjson.String {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendStringToken(dst, dn)
		case efOrganizer:
			if !v.IsObject() {
				continue
			}
			mark, wasFirst := len(dst), first
			dst = appendKey(dst, &first, eventFields[i])
			var ok bool
			if dst, ok = appendPerson(dst, v); !ok {
				dst, first = dst[:mark], wasFirst
			}
		case efAttendees:
			if !v.IsArray() {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendAttendees(dst, v)
		case efResponse:
			r := canonicalValue(memberOf(v, "response"), responseValues)
			if r == "" {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendJSONString(dst, r)
		case efShowAs, efType:
			allowed := showAsValues
			if i == efType {
				allowed = eventTypeValues
			}
			s := canonicalValue(v, allowed)
			if s == "" {
				continue
			}
			dst = appendKey(dst, &first, eventFields[i])
			dst = appendJSONString(dst, s)
		}
	}
	return append(dst, '}'), true
}

// memberOf returns the member name of the object v (absent when v is not
// an object or has no such member).
func memberOf(v gjson.Result, name string) gjson.Result {
	var out gjson.Result
	if !v.IsObject() {
		return out
	}
	eachMember(v.Raw, func(k string, mv gjson.Result) bool {
		if k == name {
			out = mv
			return false
		}
		return true
	})
	return out
}

// appendAttendees writes [{"name","addr","type","response"}] from Graph
// attendees [{type, status{response}, emailAddress{name, address}}];
// entries without a name or address are dropped.
func appendAttendees(dst []byte, arr gjson.Result) []byte {
	dst = append(dst, '[')
	n := 0
	eachElement(arr.Raw, func(a gjson.Result) bool {
		if !a.IsObject() {
			return true
		}
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendPerson(dst, a); !ok {
			dst = dst[:mark]
			return true
		}
		dst = dst[:len(dst)-1] // reopen the person object
		if t := canonicalValue(memberOf(a, "type"), attendeeTypeValues); t != "" {
			dst = append(dst, `,"type":`...)
			dst = appendJSONString(dst, t)
		}
		if r := canonicalValue(memberOf(memberOf(a, "status"), "response"), responseValues); r != "" {
			dst = append(dst, `,"response":`...)
			dst = appendJSONString(dst, r)
		}
		dst = append(dst, '}')
		n++
		return true
	})
	return append(dst, ']')
}

// timeStatus is the outcome of translating one dateTimeTimeZone.
type timeStatus uint8

const (
	timeWritten timeStatus = iota
	timeAbsent             // absent, ill-typed or unparseable: omitted
	timeBadZone            // a time zone the bridge cannot convert
)

// Layouts of Graph's dateTime (no offset; up to 7 fractional digits are
// accepted by time.Parse after the seconds) and of the device output.
const (
	graphDateTimeLayout = "2006-01-02T15:04:05"
	deviceTimeLayout    = "2006-01-02T15:04:05Z"
	deviceDateLayout    = "2006-01-02"
)

// appendEventTime writes a dateTimeTimeZone as a quoted RFC 3339 UTC time,
// or, for an all-day event, as its date.
func appendEventTime(dst []byte, v gjson.Result, allDay bool) ([]byte, timeStatus) {
	dt, tz := memberOf(v, "dateTime"), memberOf(v, "timeZone")
	if dt.Type != gjson.String {
		return dst, timeAbsent
	}
	s := jsonStr(dt)
	if len(s) > 64 {
		return dst, timeAbsent
	}
	if allDay {
		// A floating date: the date part, whatever the zone.
		if len(s) < 10 {
			return dst, timeAbsent
		}
		d, err := time.Parse(deviceDateLayout, s[:10])
		if err != nil {
			return dst, timeAbsent
		}
		dst = append(dst, '"')
		dst = d.AppendFormat(dst, deviceDateLayout)
		return append(dst, '"'), timeWritten
	}
	var ts time.Time
	if t, err := time.Parse(graphDateTimeLayout, s); err == nil {
		zone := ""
		if tz.Type == gjson.String {
			zone = jsonStr(tz)
		} else if tz.Exists() && tz.Type != gjson.Null {
			return dst, timeAbsent
		}
		offset, ok := zoneOffset(zone)
		if !ok {
			return dst, timeBadZone
		}
		ts = t.Add(-time.Duration(offset) * time.Second)
	} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		ts = t.UTC() // an offset inside the value wins over timeZone
	} else {
		return dst, timeAbsent
	}
	if y := ts.Year(); y < 1 || y > 9999 {
		return dst, timeAbsent
	}
	dst = append(dst, '"')
	dst = ts.AppendFormat(dst, deviceTimeLayout)
	return append(dst, '"'), timeWritten
}

// zoneOffset returns the UTC offset in seconds of a Graph timeZone value the
// bridge can convert: absent/empty (Graph's default is UTC), the UTC names
// (UTC, Etc/UTC, Etc/GMT, GMT, Z, Coordinated Universal Time,
// tzone://Microsoft/Utc) and fixed offsets (+05:30, -0800, UTC+01:00,
// GMT-03). Windows and IANA zone names are not converted: ok is false.
func zoneOffset(zone string) (int, bool) {
	switch {
	case zone == "", equalFoldASCII(zone, "UTC"), equalFoldASCII(zone, "Etc/UTC"), equalFoldASCII(zone, "Etc/GMT"),
		equalFoldASCII(zone, "GMT"), equalFoldASCII(zone, "Z"), equalFoldASCII(zone, "Coordinated Universal Time"),
		equalFoldASCII(zone, "tzone://Microsoft/Utc"):
		return 0, true
	}
	s := zone
	if len(s) > 3 && (equalFoldASCII(s[:3], "UTC") || equalFoldASCII(s[:3], "GMT")) {
		s = s[3:]
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	digits := func(p string) (int, bool) {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, false
		}
		return int(p[0]-'0')*10 + int(p[1]-'0'), true
	}
	var hh, mm string
	switch {
	case len(s) == 2:
		hh = s
	case len(s) == 4:
		hh, mm = s[:2], s[2:]
	case len(s) == 5 && s[2] == ':':
		hh, mm = s[:2], s[3:]
	default:
		return 0, false
	}
	h, ok := digits(hh)
	if !ok || h > 14 {
		return 0, false
	}
	m := 0
	if mm != "" {
		if m, ok = digits(mm); !ok || m > 59 {
			return 0, false
		}
	}
	return sign * (h*3600 + m*60), true
}

func parseCalendarSyncArgs(c *command, a *argValues) *Error {
	c.fields = pimFieldsAll
	return parseCalendarWindow(c, a)
}

// parseCalendarWindow reads calendar.sync's start and end. They are
// required without a state; given with a state they are checked and
// ignored (the window lives in Graph's tokens, inside the sealed link).
func parseCalendarWindow(c *command, a *argValues) *Error {
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

// parseRespondArgs reads event.respond's response, comment and send.
func parseRespondArgs(c *command, a *argValues) *Error {
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
	return nil
}

func parseEventCreateArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildEventPayload(a, true)
	return err
}

func parseEventUpdateArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildEventPayload(a, false)
	return err
}

func calendarSyncPath(b []byte, _ *command) []byte { return append(b, "/calendarView/delta"...) }

func calendarSyncQuery(b []byte, c *command) []byte {
	b = append(b, "startDateTime="...)
	b = append(b, c.start...) // [0-9TZ:-] only
	b = append(b, "&endDateTime="...)
	return append(b, c.end...)
}

func eventsPath(b []byte, _ *command) []byte { return append(b, "/events"...) }

func eventPath(b []byte, c *command) []byte {
	b = append(b, "/events/"...)
	return appendPathSegment(b, c.msgID)
}

// eventActionPath appends /events/{id}/{action}: event.respond's accept,
// decline or tentativelyAccept.
func eventActionPath(b []byte, c *command) []byte {
	b = append(eventPath(b, c), '/')
	return append(b, c.action...) // fixed names only
}

func appendEventChanges(_ *Plan, b []byte, _ *command, r *jreader) ([]byte, *Error) {
	return appendPIMChanges(b, r, appendEventChange)
}

// appendEventData writes {"event":{…}} for the answer of event.create and event.update.
func appendEventData(_ *Plan, b []byte, _ *command, body gjson.Result) ([]byte, *Error) {
	var vals eventValues
	collectEvent(body, &vals)
	if vals[efID].Type != gjson.String {
		return b, upstreamMalformed()
	}
	b = append(b, `{"event":`...)
	var ok bool
	if b, ok = appendEvent(b, &vals); !ok {
		return b, badEventTimeZone()
	}
	return append(b, '}'), nil
}
