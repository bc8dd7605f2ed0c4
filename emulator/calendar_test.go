package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Pacific Standard Time in the tests, whatever the host has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const calWindow = "startDateTime=2026-10-25T00:00:00Z&endDateTime=2026-12-01T00:00:00Z"

// bySubject indexes full events by subject and counts stubs per series master.
func bySubject(items []map[string]any) (map[string]map[string]any, map[string]int) {
	full, stubs := map[string]map[string]any{}, map[string]int{}
	for _, it := range items {
		if it["type"] == "occurrence" {
			stubs[it["seriesMasterId"].(string)]++
			continue
		}
		if s, ok := it["subject"].(string); ok {
			full[s] = it
		}
	}
	return full, stubs
}

func TestCalendarViewDeltaInitialRound(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("cal", "demo")
	items, deltaLink, pages := e.round("/v1.0/me/calendarView/delta?"+calWindow, "cal", prefer("odata.maxpagesize=5", `outlook.timezone="UTC"`))
	assert.Greater(t, pages, 5, "paged by maxpagesize")
	assert.Contains(t, deltaLink, "/me/calendarView/delta?$deltatoken=")
	full, stubs := bySubject(items)

	design := full["Design sync"]
	require.NotNil(t, design)
	assert.Equal(t, "singleInstance", design["type"])
	assert.Equal(t, map[string]any{"dateTime": "2026-11-03T17:00:00.0000000", "timeZone": "UTC"}, design["start"])
	assert.Equal(t, "notResponded", design["responseStatus"].(map[string]any)["response"])
	assert.Equal(t, false, design["isOrganizer"])
	assert.Len(t, design["attendees"], 3)

	standup := full["Daily standup"]
	require.NotNil(t, standup)
	assert.Equal(t, "seriesMaster", standup["type"])
	assert.Equal(t, "organizer", standup["responseStatus"].(map[string]any)["response"])
	assert.Equal(t, 18, stubs[standup["id"].(string)], "20 occurrences, one exception, one cancelled")
	moved := full["Daily standup (moved)"]
	require.NotNil(t, moved)
	assert.Equal(t, "exception", moved["type"])
	assert.Equal(t, standup["id"], moved["seriesMasterId"])
	assert.Equal(t, "2026-11-04T09:30:00.0000000", moved["start"].(map[string]any)["dateTime"])

	priya := full["1:1 with Priya"]
	require.NotNil(t, priya)
	assert.Equal(t, 5, stubs[priya["id"].(string)], "Tuesdays 10-27 … 11-24")

	holiday := full["Company holiday"]
	require.NotNil(t, holiday)
	assert.Equal(t, true, holiday["isAllDay"])
	assert.Equal(t, "2026-11-11T00:00:00.0000000", holiday["start"].(map[string]any)["dateTime"])
	assert.Equal(t, "2026-11-19T00:00:00.0000000", full["Offsite Lisbon"]["end"].(map[string]any)["dateTime"])
	assert.Equal(t, true, full["Canceled: Vendor call"]["isCancelled"])
	assert.Contains(t, full, "Conference travel")
	assert.Contains(t, full, "Retro")
	assert.NotContains(t, full, "Q1 planning", "outside the window")

	for _, it := range items {
		if it["type"] != "occurrence" {
			continue
		}
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		assert.Equal(t, []string{"@odata.etag", "@odata.type", "end", "id", "seriesMasterId", "start", "type"}, keys, "stubs carry only these")
	}

	// An idle incremental round is empty.
	again, _, _ := e.round(deltaLink, "cal", nil)
	assert.Empty(t, again)
}

func TestCalendarViewDeltaRejects(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("cal", "demo")
	for _, path := range []string{
		"/v1.0/me/calendarView/delta",
		"/v1.0/me/calendarView/delta?startDateTime=2026-10-25T00:00:00Z",
		"/v1.0/me/calendarView/delta?" + calWindow + "&$select=subject",
		"/v1.0/me/calendarView/delta?" + calWindow + "&$filter=subject%20eq%20'x'",
		"/v1.0/me/calendarView/delta?startDateTime=2026-12-01T00:00:00Z&endDateTime=2026-10-25T00:00:00Z",
	} {
		res := e.do(req{path: path, token: "cal"})
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.body)
	}
	res := e.do(req{path: "/v1.0/me/calendarView/delta?$deltatoken=unknown", token: "cal"})
	assert.Equal(t, http.StatusGone, res.status)
	assert.Equal(t, "SyncStateNotFound", graphErrorCode(t, res))
}

func TestCalendarViewDeltaTimeZone(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("cal", "demo")
	items, _, _ := e.round("/v1.0/me/calendarView/delta?"+calWindow, "cal", prefer(`outlook.timezone="Pacific Standard Time"`))
	full, _ := bySubject(items)
	// 2026-11-03 17:00 UTC is 09:00 in Los Angeles (PST, after the DST change on 11-01).
	assert.Equal(t, map[string]any{"dateTime": "2026-11-03T09:00:00.0000000", "timeZone": "Pacific Standard Time"}, full["Design sync"]["start"])
	// All-day events are floating dates: not converted.
	assert.Equal(t, "2026-11-11T00:00:00.0000000", full["Company holiday"]["start"].(map[string]any)["dateTime"])
}

func TestCalendarChangesShowUpInNextRound(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("cal", "demo")
	items, deltaLink, _ := e.round("/v1.0/me/calendarView/delta?"+calWindow, "cal", nil)
	full, _ := bySubject(items)
	design, retro := full["Design sync"]["id"].(string), full["Retro"]["id"].(string)
	standup, priya := full["Daily standup"]["id"].(string), full["1:1 with Priya"]["id"].(string)
	var priyaStub, standupStub string
	for _, it := range items {
		if it["seriesMasterId"] == priya && it["type"] == "occurrence" && priyaStub == "" {
			priyaStub = it["id"].(string)
		}
		if it["seriesMasterId"] == standup && it["type"] == "occurrence" && strings.HasPrefix(it["start"].(map[string]any)["dateTime"].(string), "2026-11-10") {
			standupStub = it["id"].(string)
		}
	}
	require.NotEmpty(t, priyaStub)
	require.NotEmpty(t, standupStub)

	// Respond, edit, move out of the window, cancel an occurrence, edit an occurrence, create.
	assert.Equal(t, http.StatusAccepted, e.do(req{method: "POST", path: "/v1.0/me/events/" + url.PathEscape(design) + "/accept", token: "cal", body: `{"comment":"ok","sendResponse":true}`}).status)
	res := e.do(req{method: "POST", path: "/v1.0/me/events/" + url.PathEscape(standup) + "/decline", token: "cal", body: `{}`})
	assert.Equal(t, http.StatusBadRequest, res.status, "the organizer cannot respond")
	assert.Equal(t, "ErrorInvalidRequest", graphErrorCode(t, res))
	res = e.do(req{method: "PATCH", path: "/v1.0/me/events/" + url.PathEscape(retro), token: "cal",
		body: `{"start":{"dateTime":"2027-03-01T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2027-03-01T11:00:00","timeZone":"UTC"}}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1.0/me/events/" + url.PathEscape(priyaStub), token: "cal"}).status)
	res = e.do(req{method: "PATCH", path: "/v1.0/me/events/" + url.PathEscape(standupStub), token: "cal", body: `{"subject":"Standup with demo"}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, "exception", res.json(t)["type"])
	assert.Equal(t, standupStub, res.json(t)["id"], "an exception keeps its occurrence's id")
	res = e.do(req{method: "POST", path: "/v1.0/me/events", token: "cal", body: `{"subject":"New","start":{"dateTime":"2026-11-20T08:00:00","timeZone":"UTC"},
		"end":{"dateTime":"2026-11-20T09:00:00","timeZone":"UTC"},"attendees":[{"emailAddress":{"address":"lea@contoso.example","name":"Lea"},"type":"required"}]}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	created := res.json(t)
	assert.Equal(t, "organizer", created["responseStatus"].(map[string]any)["response"])

	changes, _, _ := e.round(deltaLink, "cal", nil)
	got := map[string]map[string]any{}
	removed := map[string]bool{}
	for _, it := range changes {
		if _, ok := it["@removed"]; ok {
			removed[it["id"].(string)] = true
			continue
		}
		got[it["id"].(string)] = it
	}
	require.Contains(t, got, design)
	assert.Equal(t, "accepted", got[design]["responseStatus"].(map[string]any)["response"])
	assert.Equal(t, "busy", got[design]["showAs"])
	assert.True(t, removed[retro], "moved out of the window: @removed")
	assert.True(t, removed[priyaStub], "a cancelled occurrence: @removed")
	require.Contains(t, got, standupStub, "the new exception arrives in full")
	assert.Equal(t, "Standup with demo", got[standupStub]["subject"])
	assert.Contains(t, got, created["id"].(string))
	assert.NotContains(t, got, priyaStub)
}

func TestEventCRUDAndAllDay(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("cal", "empty")
	bad := []string{
		`{"subject":"x"}`,
		`{"start":{"dateTime":"2026-11-20T08:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-20T07:00:00","timeZone":"UTC"}}`,
		`{"isAllDay":true,"start":{"dateTime":"2026-11-20T08:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-21T00:00:00","timeZone":"UTC"}}`,
		`{"start":{"dateTime":"2026-11-20T08:00:00","timeZone":"Mars/Olympus"},"end":{"dateTime":"2026-11-20T09:00:00","timeZone":"UTC"}}`,
	}
	for _, body := range bad {
		res := e.do(req{method: "POST", path: "/v1.0/me/events", token: "cal", body: body})
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", body, res.body)
	}
	res := e.do(req{method: "POST", path: "/v1.0/me/events", token: "cal", headers: prefer(`outlook.timezone="UTC"`),
		body: `{"subject":"Off","isAllDay":true,"start":{"dateTime":"2026-11-20T00:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-22T00:00:00","timeZone":"UTC"}}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	ev := res.json(t)
	id := ev["id"].(string)
	assert.Equal(t, true, ev["isAllDay"])
	assert.Contains(t, res.header.Get("Preference-Applied"), `outlook.timezone="UTC"`)

	res = e.do(req{method: "PATCH", path: "/v1.0/me/events/" + url.PathEscape(id), token: "cal", body: `{"showAs":"oof","location":{"displayName":"Home"}}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, "oof", res.json(t)["showAs"])
	assert.Equal(t, "Home", res.json(t)["location"].(map[string]any)["displayName"])

	items, deltaLink, _ := e.round("/v1.0/me/calendarView/delta?"+calWindow, "cal", nil)
	require.Len(t, items, 1)
	assert.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1.0/me/events/" + url.PathEscape(id), token: "cal"}).status)
	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/v1.0/me/events/" + url.PathEscape(id), token: "cal"}).status)
	changes, _, _ := e.round(deltaLink, "cal", nil)
	require.Len(t, changes, 1)
	assert.Equal(t, id, changes[0]["id"])
	assert.Contains(t, changes[0], "@removed")

	// A weekly series created through the API expands in the next round.
	res = e.do(req{method: "POST", path: "/v1.0/me/events", token: "cal", body: `{"subject":"Weekly","start":{"dateTime":"2026-11-02T10:00:00","timeZone":"UTC"},
		"end":{"dateTime":"2026-11-02T10:30:00","timeZone":"UTC"},"recurrence":{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["monday","thursday"]},
		"range":{"type":"numbered","startDate":"2026-11-02","numberOfOccurrences":4}}}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	assert.Equal(t, "seriesMaster", res.json(t)["type"])
	items, _, _ = e.round("/v1.0/me/calendarView/delta?"+calWindow, "cal", nil)
	_, stubs := bySubject(items)
	assert.Equal(t, 4, stubs[res.json(t)["id"].(string)])
}

func TestRecurrenceExpansion(t *testing.T) {
	utc := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	m := &event{start: utc(2026, 11, 2, 9), end: utc(2026, 11, 2, 10),
		recurrence: &recurrence{pattern: "daily", interval: 2, rangeType: "endDate", startDate: utc(2026, 11, 2, 0), endDate: utc(2026, 11, 8, 0)}}
	var got []int
	m.eachPatternStart(utc(2027, 1, 1, 0), func(s time.Time) bool { got = append(got, s.Day()); return true })
	assert.Equal(t, []int{2, 4, 6, 8}, got)
	assert.True(t, m.isOccurrenceStart(utc(2026, 11, 6, 9)))
	assert.False(t, m.isOccurrenceStart(utc(2026, 11, 5, 9)))

	m.recurrence = &recurrence{pattern: "weekly", interval: 2, daysOfWeek: []time.Weekday{time.Friday, time.Monday}, rangeType: "noEnd", startDate: utc(2026, 11, 2, 0)}
	got = nil
	m.eachPatternStart(utc(2026, 12, 1, 0), func(s time.Time) bool { got = append(got, s.Day()); return true })
	assert.Equal(t, []int{2, 6, 16, 20, 30}, got)
}

func TestContactsDelta(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("ab", "demo")
	sel := "$select=displayName,givenName,surname,emailAddresses,mobilePhone,businessPhones,homePhones,companyName,jobTitle"
	items, deltaLink, pages := e.round("/v1.0/me/contacts/delta?"+sel, "ab", prefer("odata.maxpagesize=5"))
	require.Len(t, items, DemoContactCount)
	assert.Equal(t, 3, pages)
	byName := map[string]map[string]any{}
	for _, it := range items {
		byName[it["displayName"].(string)] = it
		assert.NotContains(t, it, "createdDateTime", "only the selected properties")
	}
	ana := byName["Ana Souza"]
	require.NotNil(t, ana)
	assert.Len(t, ana["emailAddresses"], 2)
	assert.Equal(t, "ana.souza@northwind.example", ana["emailAddresses"].([]any)[0].(map[string]any)["address"], "no emailAddress wrapper")
	assert.Empty(t, byName["Kwame Mensah"]["emailAddresses"])
	assert.Nil(t, byName["Tomás Ruiz"]["mobilePhone"])

	res := e.do(req{path: "/v1.0/me/contacts/delta?$select=nope", token: "ab"})
	assert.Equal(t, http.StatusBadRequest, res.status)

	anaID, jun := ana["id"].(string), byName["Jun Park"]["id"].(string)
	res = e.do(req{method: "PATCH", path: "/v1.0/me/contacts/" + url.PathEscape(anaID), token: "ab", body: `{"jobTitle":"Head of Buying","mobilePhone":null}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Nil(t, res.json(t)["mobilePhone"])
	assert.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1.0/me/contacts/" + url.PathEscape(jun), token: "ab"}).status)
	res = e.do(req{method: "POST", path: "/v1.0/me/contacts", token: "ab", body: `{"givenName":"Nia","surname":"Okoye","emailAddresses":[{"name":"Nia","address":"nia@x.example"}]}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	nia := res.json(t)
	assert.Equal(t, "Nia Okoye", nia["displayName"], "displayName composed from the names")
	tmp := e.do(req{method: "POST", path: "/v1.0/me/contacts", token: "ab", body: `{"displayName":"Temp"}`}).json(t)
	assert.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1.0/me/contacts/" + url.PathEscape(tmp["id"].(string)), token: "ab"}).status)

	changes, _, _ := e.round(deltaLink, "ab", nil)
	got, removed := map[string]map[string]any{}, map[string]bool{}
	for _, it := range changes {
		if _, ok := it["@removed"]; ok {
			removed[it["id"].(string)] = true
		} else {
			got[it["id"].(string)] = it
		}
	}
	assert.Equal(t, "Head of Buying", got[anaID]["jobTitle"])
	assert.Contains(t, got, nia["id"])
	assert.Equal(t, map[string]bool{jun: true}, removed, "a contact created and deleted within the round is not reported")
	assert.Len(t, got, 2)
}
