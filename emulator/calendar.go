package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// This file serves the calendar (GRAPH_FACTS 3.5, 4): calendarView delta
// with a window baked into its tokens, occurrence stubs, full exceptions and
// series masters, @removed for cancelled occurrences and for changes outside
// the window; events CRUD; accept/decline/tentativelyAccept.

// timeZonePref is the Prefer: outlook.timezone of a request.
type timeZonePref struct {
	name string
	loc  *time.Location
}

// windowsZones maps the Windows zone names the emulator understands to IANA.
var windowsZones = map[string]string{
	"pacific standard time":     "America/Los_Angeles",
	"eastern standard time":     "America/New_York",
	"w. europe standard time":   "Europe/Berlin",
	"gmt standard time":         "Europe/London",
	"tokyo standard time":       "Asia/Tokyo",
	"india standard time":       "Asia/Kolkata",
	"e. south america standard": "America/Sao_Paulo",
}

// resolveZone returns the location of a Graph time zone name: UTC, a few
// Windows names, or an IANA name.
func resolveZone(name string) (*time.Location, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utc", "etc/utc", "etc/gmt", "gmt", "coordinated universal time", "tzone://microsoft/utc":
		return time.UTC, true
	}
	if iana, ok := windowsZones[strings.ToLower(name)]; ok {
		name = iana
	}
	if strings.Contains(name, "..") {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	return loc, true
}

// timeZonePreference reads Prefer: outlook.timezone; unknown zones and
// absence mean UTC (Graph's default).
func (c *call) timeZonePreference() timeZonePref {
	for _, line := range c.r.Header.Values("Prefer") {
		for _, item := range splitPreferList(line) {
			name, value, _ := strings.Cut(item, "=")
			if !strings.EqualFold(strings.TrimSpace(name), "outlook.timezone") {
				continue
			}
			value = unquote(strings.TrimSpace(value))
			if loc, ok := resolveZone(value); ok {
				return timeZonePref{name: value, loc: loc}
			}
		}
	}
	return timeZonePref{name: "UTC", loc: time.UTC}
}

// setCalendarPreferenceApplied sets Preference-Applied for an event answer.
func (c *call) setCalendarPreferenceApplied(tz timeZonePref, pageSizeUsed bool) {
	parts := c.prefs.applied(pageSizeUsed, false)
	if parts != "" {
		parts += ", "
	}
	c.w.Header().Set("Preference-Applied", parts+`outlook.timezone="`+tz.name+`"`)
}

// routeCalendar routes /calendarView…, /events… and /calendar/….
func (c *call) routeCalendar(segs []string) {
	m := c.r.Method
	if eq(segs[0], "calendar") {
		if len(segs) < 2 || !(eq(segs[1], "events") || eq(segs[1], "calendarView")) {
			c.fail(errBadRequest("Only calendar/events and calendar/calendarView are supported by the emulator."))
			return
		}
		segs = segs[1:]
	}
	if eq(segs[0], "calendarView") {
		if len(segs) == 2 && eq(segs[1], "delta") {
			if m != http.MethodGet {
				c.fail(errMethodNotAllowed())
				return
			}
			c.calendarViewDelta()
			return
		}
		c.fail(errBadRequest("Only calendarView/delta is supported by the emulator."))
		return
	}
	switch len(segs) {
	case 1:
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.createEvent()
	case 2:
		switch m {
		case http.MethodGet:
			c.getEvent(segs[1])
		case http.MethodPatch:
			c.patchEvent(segs[1])
		case http.MethodDelete:
			c.deleteEvent(segs[1])
		default:
			c.fail(errMethodNotAllowed())
		}
	case 3:
		action := ""
		for _, a := range []string{"accept", "decline", "tentativelyAccept"} {
			if eq(segs[2], a) {
				action = a
			}
		}
		if action == "" {
			c.fail(errSegmentNotFound(segs[2]))
			return
		}
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.respondToEvent(segs[1], action)
	default:
		c.fail(errSegmentNotFound(segs[3]))
	}
}

// parseWindowValue reads startDateTime/endDateTime: an offset in the value
// is honoured, none means UTC (GRAPH_FACTS 4.1).
func parseWindowValue(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// calendarViewDelta serves GET calendarView/delta.
func (c *call) calendarViewDelta() {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	base := c.root() + "/" + c.principal + "/calendarView/delta"
	tz := c.timeZonePreference()
	var st syncState
	if token, hasToken := c.deltaTokenParam(); hasToken {
		prev, ok := mb.syncStates.get(token)
		if !ok || prev.kind != deltaEvents {
			c.syncStateGone(base)
			return
		}
		st = *prev
		if st.isDelta {
			st.round = c.incrementalEventRound(st.baseline, st.opts)
			st.offset, st.pageIndex, st.emptyServed, st.isDelta = 0, 0, false, false
		}
	} else {
		for _, o := range []string{"$select", "$expand", "$filter", "$orderby", "$search"} {
			if _, given := c.query[o]; given {
				c.fail(errBadRequest("The query parameter '" + o + "' is not supported with change tracking over the 'CalendarView' resource."))
				return
			}
		}
		sv, sok := c.query["startdatetime"]
		ev, eok := c.query["enddatetime"]
		if !sok || !eok {
			c.fail(newError(http.StatusBadRequest, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."))
			return
		}
		ws, ok1 := parseWindowValue(sv)
		we, ok2 := parseWindowValue(ev)
		if !ok1 || !ok2 || !we.After(ws) {
			c.fail(newError(http.StatusBadRequest, "ErrorInvalidParameter", "The parameters StartDateTime and EndDateTime must be date-times, StartDateTime before EndDateTime."))
			return
		}
		o := deltaOptions{windowStart: ws, windowEnd: we}
		st = syncState{kind: deltaEvents, opts: o, round: c.initialEventRound(ws, we)}
	}
	c.setCalendarPreferenceApplied(tz, true)
	c.serveDeltaPage(&st, base, c.metadata("Collection(event)"), func(b *jsonBuf, it *roundItem) bool {
		if it.removed {
			writeRemoved(b, "#microsoft.graph.event", it.restID)
			return true
		}
		e := it.event
		if !it.occStart.IsZero() {
			if e.deleted || e.cancelled[it.occStart.Unix()] != 0 || e.exceptions[it.occStart.Unix()] != nil {
				return false
			}
			writeOccurrenceStub(b, mb.mbxPart, e, it.occStart, tz)
			return true
		}
		if e.deleted || (e.master != nil && e.master.deleted) {
			return false
		}
		writeEvent(b, e, tz, "", true)
		return true
	})
}

// initialEventRound lists everything in the window: single events and
// exceptions that meet it, series masters with an instance in it, and their
// occurrence stubs.
func (c *call) initialEventRound(ws, we time.Time) *deltaRound {
	mb := c.mb
	r := &deltaRound{upto: mb.seq}
	for _, e := range mb.pim.events {
		if e.deleted {
			continue
		}
		if e.recurrence == nil {
			if eventInWindow(e, ws, we) {
				r.items = append(r.items, roundItem{event: e})
			}
			continue
		}
		if inst := seriesInstances(e, ws, we); len(inst) > 0 {
			r.items = append(r.items, roundItem{event: e})
			r.items = append(r.items, inst...)
		}
	}
	sortByStart(r.items)
	return r
}

// incrementalEventRound lists what changed after since: changed events in
// the window (for a series: the master and all its instances in the
// window), and @removed for deleted events, cancelled occurrences and
// changed events outside the window (Graph reports those as removals too).
func (c *call) incrementalEventRound(since uint64, o deltaOptions) *deltaRound {
	mb := c.mb
	ws, we := o.windowStart, o.windowEnd
	r := &deltaRound{upto: mb.seq}
	removed := func(id string) {
		r.items = append(r.items, roundItem{removed: true, restID: id, immutableID: id})
	}
	for _, e := range mb.pim.events {
		if e.changeSeq <= since {
			continue
		}
		if e.recurrence == nil {
			if !e.deleted && eventInWindow(e, ws, we) {
				r.items = append(r.items, roundItem{event: e})
			} else {
				removed(e.id)
			}
			continue
		}
		inst := seriesInstances(e, ws, we)
		if e.deleted {
			removed(e.id)
			for _, it := range inst {
				removed(instanceID(mb.mbxPart, &it))
			}
			continue
		}
		if len(inst) == 0 {
			removed(e.id)
		} else {
			r.items = append(r.items, roundItem{event: e})
			r.items = append(r.items, inst...)
		}
		starts := make([]int64, 0, len(e.cancelled))
		for s, seq := range e.cancelled {
			if seq > since {
				starts = append(starts, s)
			}
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		for _, s := range starts {
			removed(occurrenceID(mb.mbxPart, e.key, time.Unix(s, 0).UTC()))
		}
		for _, x := range e.exceptions {
			if x.changeSeq > since && !eventInWindow(x, ws, we) {
				removed(x.id)
			}
		}
	}
	return r
}

// instanceID is the id of a series instance item.
func instanceID(mbxPart string, it *roundItem) string {
	if !it.occStart.IsZero() {
		return occurrenceID(mbxPart, it.event.key, it.occStart)
	}
	return it.event.id
}

// graphEventTime formats t as a dateTimeTimeZone dateTime (7 fractional digits).
func graphEventTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.0000000") }

// writeEventTime writes {"dateTime","timeZone"} in the preferred zone; an
// all-day event's midnight is a floating date and is not converted.
func writeEventTime(b *jsonBuf, t time.Time, allDay bool, tz timeZonePref) {
	b.raw(`{"dateTime":`)
	if allDay {
		b.str(graphEventTime(t))
	} else {
		b.str(graphEventTime(t.In(tz.loc)))
	}
	b.raw(`,"timeZone":`)
	b.str(tz.name)
	b.byte1('}')
}

// writeOccurrenceStub writes an occurrence as calendarView delta sends it:
// only @odata.type, @odata.etag, id, seriesMasterId, type, start and end.
func writeOccurrenceStub(b *jsonBuf, mbxPart string, m *event, os time.Time, tz timeZonePref) {
	b.raw(`{"@odata.type":"#microsoft.graph.event","@odata.etag":`)
	b.str(`W/"` + m.changeKey() + `"`)
	b.raw(`,"id":`)
	b.str(occurrenceID(mbxPart, m.key, os))
	b.raw(`,"seriesMasterId":`)
	b.str(m.id)
	b.raw(`,"type":"occurrence","start":`)
	writeEventTime(b, os, m.isAllDay, tz)
	b.raw(`,"end":`)
	writeEventTime(b, os.Add(m.span()), m.isAllDay, tz)
	b.byte1('}')
}

// span is how long each occurrence of series master m lasts: the master's
// own length, which every occurrence (and a new exception) keeps.
func (m *event) span() time.Duration { return m.end.Sub(m.start) }

// writeEvent writes a single event, series master or exception with the
// calendarView property set. Caller holds the mailbox lock.
func writeEvent(b *jsonBuf, e *event, tz timeZonePref, context string, odataType bool) {
	first := true
	b.entityHead(&first, context, odataType, `"#microsoft.graph.event"`, e.changeKey(), e.id)
	b.raw(`,"createdDateTime":`)
	b.time(e.created)
	b.raw(`,"lastModifiedDateTime":`)
	b.time(e.lastModified)
	b.raw(`,"changeKey":`)
	b.str(e.changeKey())
	b.raw(`,"categories":[],"originalStartTimeZone":"UTC","originalEndTimeZone":"UTC","iCalUId":`)
	b.str("040000008200E00074C5B7101A82E008" + strings.ToUpper(encodeKey(e.key)))
	b.raw(`,"reminderMinutesBeforeStart":15,"isReminderOn":true,"hasAttachments":false,"subject":`)
	b.str(e.subject)
	b.raw(`,"bodyPreview":`)
	preview := e.body
	if e.bodyIsHTML {
		preview = htmlToText(e.body)
	}
	b.str(makePreview(preview))
	b.raw(`,"importance":`)
	b.str(orDefault(e.importance, "normal"))
	b.raw(`,"sensitivity":"normal","isAllDay":`)
	b.bool(e.isAllDay)
	b.raw(`,"isCancelled":`)
	b.bool(e.isCancelled)
	b.raw(`,"isOrganizer":`)
	b.bool(e.isOrganizer)
	b.raw(`,"responseRequested":true,"seriesMasterId":`)
	if e.master != nil {
		b.str(e.master.id)
	} else {
		b.raw("null")
	}
	b.raw(`,"showAs":`)
	b.str(e.showAs)
	b.raw(`,"type":`)
	b.str(e.kind)
	b.raw(`,"webLink":`)
	b.str("https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(e.id) + "&exvsurl=1&path=/calendar/item")
	b.raw(`,"isOnlineMeeting":false,"onlineMeetingProvider":"unknown","allowNewTimeProposals":true,"isDraft":false,"hideAttendees":false`)
	if e.master != nil {
		b.raw(`,"originalStart":`)
		b.time(e.originalStart)
	}
	b.raw(`,"responseStatus":{"response":`)
	b.str(e.response)
	b.raw(`,"time":`)
	b.time(orZeroTime(e.responseAt))
	b.raw(`},"body":{"contentType":`)
	if e.bodyIsHTML {
		b.raw(`"html"`)
	} else {
		b.raw(`"text"`)
	}
	b.raw(`,"content":`)
	b.str(e.body)
	b.raw(`},"start":`)
	writeEventTime(b, e.start, e.isAllDay, tz)
	b.raw(`,"end":`)
	writeEventTime(b, e.end, e.isAllDay, tz)
	b.raw(`,"location":{"displayName":`)
	b.str(e.location)
	b.raw(`,"locationType":"default","uniqueIdType":"unknown","address":{},"coordinates":{}},"locations":[]`)
	b.raw(`,"recurrence":`)
	writeRecurrence(b, e.recurrence)
	b.raw(`,"attendees":[`)
	for i, a := range e.attendees {
		if i > 0 {
			b.byte1(',')
		}
		b.raw(`{"type":`)
		b.str(a.kind)
		b.raw(`,"status":{"response":`)
		b.str(a.response)
		b.raw(`,"time":`)
		b.time(orZeroTime(a.at))
		b.raw(`},"emailAddress":{"name":`)
		b.str(a.who.name)
		b.raw(`,"address":`)
		b.str(a.who.address)
		b.raw(`}}`)
	}
	b.raw(`],"organizer":`)
	writeRecipient(b, e.organizer)
	b.byte1('}')
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// orZeroTime maps the zero time to Graph's 0001-01-01T00:00:00Z.
func orZeroTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// writeRecurrence writes a patternedRecurrence, or null.
func writeRecurrence(b *jsonBuf, r *recurrence) {
	if r == nil {
		b.raw("null")
		return
	}
	b.raw(`{"pattern":{"type":`)
	b.str(r.pattern)
	b.raw(`,"interval":`)
	b.int(max(r.interval, 1))
	b.raw(`,"month":0,"dayOfMonth":0,"daysOfWeek":[`)
	for i, d := range r.daysOfWeek {
		if i > 0 {
			b.byte1(',')
		}
		b.str(strings.ToLower(d.String()))
	}
	b.raw(`],"firstDayOfWeek":"sunday","index":"first"},"range":{"type":`)
	b.str(r.rangeType)
	b.raw(`,"startDate":`)
	b.str(r.startDate.Format("2006-01-02"))
	b.raw(`,"endDate":`)
	if r.rangeType == "endDate" {
		b.str(r.endDate.Format("2006-01-02"))
	} else {
		b.str("0001-01-01")
	}
	b.raw(`,"recurrenceTimeZone":"UTC","numberOfOccurrences":`)
	b.int(r.count)
	b.raw(`}}`)
}

// eventEntityContext is @odata.context of a single event answer.
func (c *call) eventEntityContext() string {
	return c.metadata(c.userContext() + "/events/$entity")
}

// eventInput is the body of POST/PATCH events.
type eventInput struct {
	Subject *string `json:"subject"`
	Body    *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Start     *dateTimeTZInput              `json:"start"`
	End       *dateTimeTZInput              `json:"end"`
	IsAllDay  *bool                         `json:"isAllDay"`
	Location  *struct{ DisplayName string } `json:"location"`
	Attendees *[]struct {
		Type         string `json:"type"`
		EmailAddress struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"emailAddress"`
	} `json:"attendees"`
	ShowAs     *string `json:"showAs"`
	Importance *string `json:"importance"`
	Recurrence *struct {
		Pattern struct {
			Type       string   `json:"type"`
			Interval   int      `json:"interval"`
			DaysOfWeek []string `json:"daysOfWeek"`
		} `json:"pattern"`
		Range struct {
			Type                string `json:"type"`
			StartDate           string `json:"startDate"`
			EndDate             string `json:"endDate"`
			NumberOfOccurrences int    `json:"numberOfOccurrences"`
		} `json:"range"`
	} `json:"recurrence"`
}

// parseEventDateTime reads a dateTimeTimeZone input.
func parseEventDateTime(in *dateTimeTZInput) (time.Time, *graphError) {
	loc, ok := resolveZone(in.TimeZone)
	if !ok {
		return time.Time{}, newError(http.StatusBadRequest, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified.")
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, in.DateTime, loc); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, in.DateTime); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errBadRequest("Cannot convert the literal '" + in.DateTime + "' to the expected type 'Edm.DateTimeOffset'.")
}

// applyEventInput validates in and applies it to e (create: e is new).
// Nothing changes when it fails.
func applyEventInput(e *event, in *eventInput, create bool) *graphError {
	next := *e
	if in.Subject != nil {
		next.subject = *in.Subject
	}
	if in.Body != nil {
		switch strings.ToLower(in.Body.ContentType) {
		case "html":
			next.bodyIsHTML = true
		case "text", "":
			next.bodyIsHTML = false
		default:
			return badValue(in.Body.ContentType)
		}
		next.body = in.Body.Content
	}
	if create && (in.Start == nil || in.End == nil) {
		return newError(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. Start and End must be specified.")
	}
	if in.Start != nil {
		t, gerr := parseEventDateTime(in.Start)
		if gerr != nil {
			return gerr
		}
		next.start = t
	}
	if in.End != nil {
		t, gerr := parseEventDateTime(in.End)
		if gerr != nil {
			return gerr
		}
		next.end = t
	}
	if in.IsAllDay != nil {
		next.isAllDay = *in.IsAllDay
	}
	if next.end.Before(next.start) {
		return newError(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. The end time must be after the start time.")
	}
	if next.isAllDay && (!next.start.Equal(next.start.Truncate(day)) || !next.end.Equal(next.end.Truncate(day)) || !next.end.After(next.start)) {
		return newError(http.StatusBadRequest, "ErrorPropertyValidationFailure", "Your request can't be completed. An all-day event must start and end at midnight, end after start.")
	}
	if in.Location != nil {
		next.location = in.Location.DisplayName
	}
	if in.Attendees != nil {
		next.attendees = nil
		for _, a := range *in.Attendees {
			kind, ok := canonicalEnum(orDefault(a.Type, "required"), "required", "optional", "resource")
			if !ok || a.EmailAddress.Address == "" {
				return badValue(a.Type)
			}
			prev := attendee{response: "none"}
			for _, old := range e.attendees {
				if strings.EqualFold(old.who.address, a.EmailAddress.Address) {
					prev = old
				}
			}
			next.attendees = append(next.attendees, attendee{who: recipient{a.EmailAddress.Name, a.EmailAddress.Address}, kind: kind, response: prev.response, at: prev.at})
		}
	}
	if in.ShowAs != nil {
		v, ok := canonicalEnum(*in.ShowAs, "free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
		if !ok {
			return badValue(*in.ShowAs)
		}
		next.showAs = v
	}
	if in.Importance != nil {
		v, ok := canonicalEnum(*in.Importance, "low", "normal", "high")
		if !ok {
			return badValue(*in.Importance)
		}
		next.importance = v
	}
	if in.Recurrence != nil {
		if !create {
			return errBadRequest("Changing the recurrence of a series is not supported by the emulator.")
		}
		rec := in.Recurrence
		r := &recurrence{interval: max(rec.Pattern.Interval, 1), startDate: next.start.Truncate(day)}
		var ok bool
		if r.pattern, ok = canonicalEnum(rec.Pattern.Type, "daily", "weekly"); !ok {
			return errBadRequest("Only daily and weekly recurrence patterns are supported by the emulator.")
		}
		for _, d := range rec.Pattern.DaysOfWeek {
			found := false
			for wd := time.Sunday; wd <= time.Saturday; wd++ {
				if strings.EqualFold(d, wd.String()) {
					r.daysOfWeek = append(r.daysOfWeek, wd)
					found = true
				}
			}
			if !found {
				return badValue(d)
			}
		}
		if r.rangeType, ok = canonicalEnum(orDefault(rec.Range.Type, "noEnd"), "endDate", "numbered", "noEnd"); !ok {
			return badValue(rec.Range.Type)
		}
		if rec.Range.StartDate != "" {
			d, err := time.Parse("2006-01-02", rec.Range.StartDate)
			if err != nil {
				return badValue(rec.Range.StartDate)
			}
			r.startDate = d
		}
		switch r.rangeType {
		case "endDate":
			d, err := time.Parse("2006-01-02", rec.Range.EndDate)
			if err != nil {
				return badValue(rec.Range.EndDate)
			}
			r.endDate = d
		case "numbered":
			if rec.Range.NumberOfOccurrences < 1 {
				return errBadRequest("numberOfOccurrences must be positive.")
			}
			r.count = rec.Range.NumberOfOccurrences
		}
		next.recurrence = r
	}
	*e = next
	return nil
}

// readEventInput decodes a POST/PATCH events body.
func (c *call) readEventInput() (*eventInput, *graphError) {
	var in eventInput
	if gerr := c.readJSON(&in); gerr != nil {
		return nil, gerr
	}
	return &in, nil
}

// createEvent serves POST events: the mailbox owner organizes it.
func (c *call) createEvent() {
	in, gerr := c.readEventInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	e := &event{organizer: recipient{mb.displayName, mb.upn}, isOrganizer: true, response: "organizer", showAs: "busy", importance: "normal"}
	if gerr := applyEventInput(e, in, true); gerr != nil {
		c.fail(gerr)
		return
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.addEvent(e, c.now)
	c.writeEventAnswer(http.StatusCreated, e)
}

// writeEventAnswer answers with one event in the preferred time zone.
func (c *call) writeEventAnswer(status int, e *event) {
	tz := c.timeZonePreference()
	c.setCalendarPreferenceApplied(tz, false)
	var b jsonBuf
	writeEvent(&b, e, tz, c.eventEntityContext(), false)
	c.reply(status, b.b)
}

// getEvent serves GET events/{id} (an occurrence id answers a stub-free,
// full occurrence built from its master).
func (c *call) getEvent(ref string) {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	e, master, os, gerr := mb.eventByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if e == nil {
		occ := *master
		occ.kind = "occurrence"
		occ.recurrence, occ.exceptions, occ.cancelled = nil, nil, nil
		occ.master, occ.originalStart = master, os
		occ.id = occurrenceID(mb.mbxPart, master.key, os)
		occ.start, occ.end = os, os.Add(master.span())
		e = &occ
	}
	c.writeEventAnswer(http.StatusOK, e)
}

// patchEvent serves PATCH events/{id}; patching an occurrence turns it
// into an exception.
func (c *call) patchEvent(ref string) {
	in, gerr := c.readEventInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	e, master, os, gerr := mb.eventByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if e == nil {
		if in.Recurrence != nil {
			c.fail(errBadRequest("An occurrence has no recurrence."))
			return
		}
		probe := *master
		probe.start, probe.end = os, os.Add(master.span())
		if gerr := applyEventInput(&probe, in, false); gerr != nil {
			c.fail(gerr)
			return
		}
		e = mb.exceptionFor(master, os, c.now)
	}
	if gerr := applyEventInput(e, in, false); gerr != nil {
		c.fail(gerr)
		return
	}
	if e.recurrence != nil && e.recurrence.rangeType != "" {
		e.recurrence.startDate = e.start.Truncate(day)
	}
	mb.touchEvent(e, c.now)
	c.writeEventAnswer(http.StatusOK, e)
}

// deleteEvent serves DELETE events/{id}: a single event or a whole series
// is removed; an occurrence or exception is cancelled.
func (c *call) deleteEvent(ref string) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	e, master, os, gerr := mb.eventByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	switch {
	case e == nil:
		mb.cancelOccurrence(master, os, c.now)
	case e.master != nil:
		mb.cancelOccurrence(e.master, e.originalStart, c.now)
	default:
		mb.deleteEvent(e, c.now)
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// respondInput is the body of accept/decline/tentativelyAccept.
type respondInput struct {
	Comment      *string          `json:"comment"`
	SendResponse *bool            `json:"sendResponse"`
	Proposed     *json.RawMessage `json:"proposedNewTime"`
}

// respondToEvent serves POST events/{id}/accept|decline|tentativelyAccept:
// 202 without a body. The invitee's responseStatus (and its attendee
// entry) change; an organizer cannot respond to its own meeting. Responding
// to a series master answers for the whole series; responding to an
// occurrence makes it an exception.
func (c *call) respondToEvent(ref, action string) {
	body, gerr := c.readBody()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var in respondInput
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			c.fail(errBadRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))
			return
		}
	}
	if in.Proposed != nil && action == "accept" {
		c.fail(errBadRequest("proposedNewTime is not valid for accept."))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	e, master, os, gerr := mb.eventByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	organizer := (e != nil && e.isOrganizer) || (master != nil && master.isOrganizer)
	if organizer {
		c.fail(newError(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to a meeting you organized."))
		return
	}
	if e == nil {
		e = mb.exceptionFor(master, os, c.now)
	}
	response, showAs := "accepted", "busy"
	switch action {
	case "tentativelyAccept":
		response, showAs = "tentativelyAccepted", "tentative"
	case "decline":
		response, showAs = "declined", "free"
	}
	targets := []*event{e}
	for _, x := range e.exceptions {
		targets = append(targets, x)
	}
	for _, t := range targets {
		t.response, t.responseAt, t.showAs = response, c.now, showAs
		for i := range t.attendees {
			if strings.EqualFold(t.attendees[i].who.address, mb.upn) {
				t.attendees[i].response, t.attendees[i].at = response, c.now
			}
		}
		mb.touchEvent(t, c.now)
	}
	c.w.WriteHeader(http.StatusAccepted)
}
