package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// calendarWindow is a window around the demo seed's fixed date (2026-11-01).
var calendarWindow = map[string]any{"start": "2026-10-25T00:00:00Z", "end": "2026-12-01T00:00:00+00:00", "window": 10}

func TestIntegrationCalendarSyncWindow(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo")
	e.clearUpstreamRequests()
	changes, state := e.syncAll(token, "calendar.sync", calendarWindow)
	events, deletes := splitChanges(t, changes, "event")
	assert.Empty(t, deletes)

	design := eventBySubject(events, "Design sync")
	require.True(t, design.Exists(), "the single event is in the window")
	assert.Equal(t, "2026-11-03T17:00:00Z", design.Get("start").String())
	assert.Equal(t, "2026-11-03T17:30:00Z", design.Get("end").String())
	assert.Equal(t, "notResponded", design.Get("response").String(), "an invitee's view")
	assert.Equal(t, "lea@contoso.example", design.Get("organizer.addr").String())
	assert.Equal(t, "Room 4.12", design.Get("location").String())
	assert.Equal(t, "tentative", design.Get("showAs").String())
	assert.Len(t, design.Get("attendees").Array(), 3)
	assert.Equal(t, "accepted", design.Get(`attendees.#(addr=="lea@contoso.example").response`).String())
	assert.Equal(t, "optional", design.Get(`attendees.#(addr=="sam@contoso.example").type`).String())

	standup := eventBySubject(events, "Daily standup")
	require.True(t, standup.Exists())
	assert.Equal(t, "seriesMaster", standup.Get("type").String())
	assert.Equal(t, "organizer", standup.Get("response").String(), "the organizer's view")
	stubs := 0
	for _, ev := range events {
		if ev.Get("series").String() == standup.Get("id").String() && ev.Get("type").String() == "occurrence" {
			stubs++
			assert.False(t, ev.Get("subject").Exists(), "stubs carry only what Graph sends")
			assert.True(t, strings.HasSuffix(ev.Get("start").String(), ":00Z"), ev.Raw)
		}
	}
	assert.Equal(t, 18, stubs, "20 occurrences less one exception and one cancelled")
	moved := eventBySubject(events, "Daily standup (moved)")
	assert.Equal(t, "exception", moved.Get("type").String())
	assert.Equal(t, standup.Get("id").String(), moved.Get("series").String())
	assert.Equal(t, "2026-11-04T09:30:00Z", moved.Get("start").String())

	holiday := eventBySubject(events, "Company holiday")
	assert.True(t, holiday.Get("allDay").Bool())
	assert.Equal(t, "2026-11-11", holiday.Get("start").String(), "all-day events carry dates")
	assert.Equal(t, "2026-11-12", holiday.Get("end").String())
	offsite := eventBySubject(events, "Offsite Lisbon")
	assert.Equal(t, "2026-11-16", offsite.Get("start").String())
	assert.Equal(t, "2026-11-19", offsite.Get("end").String(), "end is exclusive")
	assert.Equal(t, "tentativelyAccepted", offsite.Get("response").String())
	travel := eventBySubject(events, "Conference travel")
	assert.Equal(t, "2026-11-09T18:00:00Z", travel.Get("start").String())
	assert.Equal(t, "2026-11-10T10:30:00Z", travel.Get("end").String())
	assert.True(t, eventBySubject(events, "Canceled: Vendor call").Get("cancelled").Bool())
	assert.False(t, eventBySubject(events, "Q1 planning").Exists(), "outside the window")

	// The first call carries the window, later calls only the link; every
	// call asks for UTC and the page size.
	var direct []gjson.Result
	for _, r := range e.upstreamRequests().Array() {
		if !r.Get("batchItem").Bool() {
			direct = append(direct, r)
		}
	}
	require.Greater(t, len(direct), 2)
	assert.Equal(t, "/v1.0/me/calendarView/delta", direct[0].Get("path").String())
	assert.Contains(t, direct[0].Get("query").String(), "startDateTime=2026-10-25T00:00:00Z&endDateTime=2026-12-01T00:00:00Z")
	for i, r := range direct {
		prefer := r.Get("headers.Prefer").String()
		assert.Contains(t, prefer, `outlook.timezone=\"UTC\"`)
		assert.Contains(t, prefer, "odata.maxpagesize=10")
		assert.NotContains(t, r.Get("query").String(), "$select", "no $select on calendar delta")
		if i > 0 {
			assert.NotContains(t, r.Get("query").String(), "startDateTime", "later calls follow the link")
		}
	}

	// Nothing changed: the next round is empty; start/end given with a state are ignored.
	idle, _ := e.syncAll(token, "calendar.sync", map[string]any{"state": state, "start": "2030-01-01T00:00:00Z", "end": "2031-01-01T00:00:00Z"})
	assert.Empty(t, idle)

	// A state is bound to its op.
	res := e.command(token, "contacts.sync", map[string]any{"state": state})
	assert.Equal(t, "invalid_state", res.Get("error.code").String())
}

func TestIntegrationCalendarRespondAndEdit(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo")
	changes, state := e.syncAll(token, "calendar.sync", calendarWindow)
	events, _ := splitChanges(t, changes, "event")
	design, standup, retro := eventBySubject(events, "Design sync"), eventBySubject(events, "Daily standup"), eventBySubject(events, "Retro")
	require.True(t, design.Exists() && standup.Exists() && retro.Exists())

	// Respond to an invitation; the organizer cannot respond to its own meeting.
	res := e.command(token, "event.respond", map[string]any{"id": design.Get("id").String(), "response": "accept", "comment": "See you there"})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	assert.JSONEq(t, `{}`, res.Get("data").Raw)
	res = e.command(token, "event.respond", map[string]any{"id": standup.Get("id").String(), "response": "decline", "send": false})
	assert.Equal(t, int64(400), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "ErrorInvalidRequest", res.Get("error.upstreamCode").String())

	// Create, then edit, an event; delete another; edit one occurrence of a series.
	res = e.command(token, "event.create", map[string]any{
		"subject": "Bridge review", "start": "2026-11-12T15:00:00+01:00", "end": "2026-11-12T15:45:00+01:00",
		"location": "Room 1", "showAs": "busy", "body": map[string]any{"type": "text", "content": "Agenda: calendar"},
		"attendees": []any{map[string]any{"name": "Sam Okafor", "addr": "sam@contoso.example", "type": "optional"}},
	})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	created := res.Get("data.event")
	createdID := created.Get("id").String()
	require.NotEmpty(t, createdID)
	assert.Equal(t, "2026-11-12T14:00:00Z", created.Get("start").String(), "offsets become UTC")
	assert.Equal(t, "organizer", created.Get("response").String())
	assert.Equal(t, "optional", created.Get("attendees.0.type").String())
	assert.Equal(t, "Agenda: calendar", created.Get("preview").String())

	res = e.command(token, "event.update", map[string]any{"id": createdID, "subject": "Bridge review (final)", "end": "2026-11-12T14:30:00Z"})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "Bridge review (final)", res.Get("data.event.subject").String())
	assert.Equal(t, "2026-11-12T14:30:00Z", res.Get("data.event.end").String())

	res = e.command(token, "event.create", map[string]any{"subject": "Focus day", "allDay": true, "start": "2026-11-13", "end": "2026-11-14", "showAs": "oof"})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	focusID := res.Get("data.event.id").String()
	assert.Equal(t, "2026-11-13", res.Get("data.event.start").String())
	assert.True(t, res.Get("data.event.allDay").Bool())

	res = e.command(token, "event.delete", map[string]any{"id": retro.Get("id").String()})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	assert.JSONEq(t, `{}`, res.Get("data").Raw)

	var stubID string
	for _, ev := range events {
		if ev.Get("series").String() == standup.Get("id").String() && ev.Get("start").String() == "2026-11-10T09:00:00Z" {
			stubID = ev.Get("id").String()
		}
	}
	require.NotEmpty(t, stubID)
	res = e.command(token, "event.delete", map[string]any{"id": stubID})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)

	// Every change round-trips through the next sync.
	changes, _ = e.syncAll(token, "calendar.sync", map[string]any{"state": state})
	upserts, deletes := splitChanges(t, changes, "event")
	require.Contains(t, upserts, design.Get("id").String())
	assert.Equal(t, "accepted", upserts[design.Get("id").String()].Get("response").String())
	assert.Equal(t, "busy", upserts[design.Get("id").String()].Get("showAs").String())
	require.Contains(t, upserts, createdID)
	assert.Equal(t, "Bridge review (final)", upserts[createdID].Get("subject").String())
	assert.Equal(t, "2026-11-12T14:30:00Z", upserts[createdID].Get("end").String())
	require.Contains(t, upserts, focusID)
	assert.Equal(t, "2026-11-13", upserts[focusID].Get("start").String())
	assert.True(t, deletes[retro.Get("id").String()], "the deleted event")
	assert.True(t, deletes[stubID], "the cancelled occurrence")
}

func TestIntegrationContactsSyncAndEdit(t *testing.T) {
	e := startBridge(t)
	token := e.newMailbox("demo")
	changes, state := e.syncAll(token, "contacts.sync", map[string]any{"window": 5})
	contacts, deletes := splitChanges(t, changes, "contact")
	require.Len(t, contacts, 12, "the demo address book")
	assert.Empty(t, deletes)
	var ana, jun gjson.Result
	for _, c := range contacts {
		switch c.Get("name").String() {
		case "Ana Souza":
			ana = c
		case "Jun Park":
			jun = c
		}
	}
	require.True(t, ana.Exists() && jun.Exists())
	assert.Equal(t, "Ana", ana.Get("given").String())
	assert.Equal(t, "Souza", ana.Get("surname").String())
	assert.Equal(t, "ana.souza@northwind.example", ana.Get("emails.0.addr").String())
	assert.Len(t, ana.Get("emails").Array(), 2)
	assert.Equal(t, "Northwind", ana.Get("company").String())
	assert.NotEmpty(t, ana.Get("business.0").String())

	res := e.command(token, "contact.create", map[string]any{
		"given": "Nia", "surname": "Okoye", "name": "Nia Okoye", "emails": []any{map[string]any{"name": "Nia", "addr": "nia@fabrikam.example"}},
		"mobile": "+1 206 555 0999", "business": []any{"+1 425 555 0999"}, "company": "Fabrikam", "title": "CTO",
	})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	nia := res.Get("data.contact")
	niaID := nia.Get("id").String()
	require.NotEmpty(t, niaID)
	assert.Equal(t, "nia@fabrikam.example", nia.Get("emails.0.addr").String())

	res = e.command(token, "contact.update", map[string]any{"id": ana.Get("id").String(), "title": "Head of Buying", "mobile": ""})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "Head of Buying", res.Get("data.contact.title").String())
	assert.False(t, res.Get("data.contact.mobile").Exists(), "an empty string clears the field")

	res = e.command(token, "contact.delete", map[string]any{"id": jun.Get("id").String()})
	require.Equal(t, int64(200), res.Get("status").Int(), res.Raw)
	res = e.command(token, "contact.delete", map[string]any{"id": jun.Get("id").String()})
	assert.Equal(t, "not_found", res.Get("error.code").String())

	changes, _ = e.syncAll(token, "contacts.sync", map[string]any{"state": state})
	upserts, deletes := splitChanges(t, changes, "contact")
	assert.Len(t, upserts, 2)
	assert.Equal(t, "Head of Buying", upserts[ana.Get("id").String()].Get("title").String())
	assert.Equal(t, "CTO", upserts[niaID].Get("title").String())
	assert.Equal(t, map[string]bool{jun.Get("id").String(): true}, deletes)
}

func TestIntegrationCalendarBatch(t *testing.T) {
	e := startBridge(t)
	e.sendsInvalidRequests() // bad input on purpose; the answers are still checked
	token := e.newMailbox("demo")
	resp, body := e.batch(deviceURL, token, `{"commands":[
		{"id":"cal","op":"calendar.sync","args":{"start":"2026-11-01T00:00:00Z","end":"2026-11-08T00:00:00Z","window":200}},
		{"id":"ab","op":"contacts.sync","args":{"window":200}},
		{"id":"new","op":"contact.create","args":{"name":"Batch Person"}},
		{"id":"bad","op":"event.respond","args":{"id":"x/y","response":"accept"}}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	results := gjson.GetBytes(body, "results").Array()
	require.Len(t, results, 4)
	assert.Equal(t, int64(200), results[0].Get("status").Int(), results[0].Raw)
	assert.NotEmpty(t, results[0].Get("data.changes").Array())
	assert.False(t, results[0].Get("data.more").Bool())
	// $batch items run concurrently: the contact created in the same batch may or may not be in the sync.
	assert.GreaterOrEqual(t, len(results[1].Get("data.changes").Array()), 12)
	assert.Equal(t, "Batch Person", results[2].Get("data.contact.name").String(), results[2].Raw)
	assert.Equal(t, "invalid_args", results[3].Get("error.code").String())
}
