package translate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func parseJSON(s string) gjson.Result { return gjson.Parse(s) }
func jsonValid(b []byte) bool         { return json.Valid(b) }

var timeParse = time.Parse

const (
	selContacts = "$select=id,displayName,givenName,surname,emailAddresses,mobilePhone,businessPhones,homePhones,companyName,jobTitle"
	preferTZ    = `outlook.timezone="UTC"`
	evID        = "AAMkAGE1M2IyNGNm+LTVh="
)

func TestPIMDirectCalls(t *testing.T) {
	cases := []struct {
		name, body, method, path, query string
		prefer                          []string
		payload                         string
	}{
		{"calendar.sync window", cmd("calendar.sync", `{"start":"2026-10-01T00:00:00Z","end":"2026-12-01T00:00:00Z"}`),
			"GET", "/v1.0/me/calendarView/delta", "startDateTime=2026-10-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z",
			[]string{"odata.maxpagesize=50", preferTZ}, ""},
		{"calendar.sync offsets to UTC, fractions dropped, window", cmd("calendar.sync",
			`{"start":"2026-10-01T02:00:00.999+02:00","end":"2026-11-30T19:00:00-05:00","window":7,"mailbox":"a@b.example"}`),
			"GET", "/v1.0/users/a@b.example/calendarView/delta", "startDateTime=2026-10-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z",
			[]string{"odata.maxpagesize=7", preferTZ}, ""},
		{"contacts.sync", cmd("contacts.sync", `{"window":3}`), "GET", "/v1.0/me/contacts/delta", selContacts,
			[]string{"odata.maxpagesize=3"}, ""},
		{"event.respond accept", cmd("event.respond", `{"id":"`+evID+`","response":"accept"}`),
			"POST", "/v1.0/me/events/AAMkAGE1M2IyNGNm%2BLTVh=/accept", "", nil, `{"sendResponse":true}`},
		{"event.respond tentative comment no send", cmd("event.respond", `{"id":"AAMk","response":"tentative","comment":"maybe \"later\"","send":false}`),
			"POST", "/v1.0/me/events/AAMk/tentativelyAccept", "", nil, `{"comment":"maybe \"later\"","sendResponse":false}`},
		{"event.respond decline", cmd("event.respond", `{"id":"AAMk","response":"decline","comment":""}`),
			"POST", "/v1.0/me/events/AAMk/decline", "", nil, `{"comment":"","sendResponse":true}`},
		{"event.create timed", cmd("event.create", `{"subject":"Design sync","start":"2026-11-03T10:00:00+01:00","end":"2026-11-03T09:30:00Z",
			"location":"Room 4.12","showAs":"tentative","body":{"type":"html","content":"<p>Agenda</p>"},
			"attendees":[{"name":"Lea Martin","addr":"lea@contoso.example"},{"addr":"sam@contoso.example","type":"optional"}]}`),
			"POST", "/v1.0/me/events", "", []string{preferTZ},
			`{"subject":"Design sync","body":{"contentType":"html","content":"<p>Agenda</p>"},` +
				`"start":{"dateTime":"2026-11-03T09:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-03T09:30:00","timeZone":"UTC"},` +
				`"location":{"displayName":"Room 4.12"},"attendees":[{"emailAddress":{"address":"lea@contoso.example","name":"Lea Martin"},"type":"required"},` +
				`{"emailAddress":{"address":"sam@contoso.example"},"type":"optional"}],"showAs":"tentative"}`},
		{"event.create all-day dates", cmd("event.create", `{"subject":"Offsite","allDay":true,"start":"2026-11-05","end":"2026-11-07"}`),
			"POST", "/v1.0/me/events", "", []string{preferTZ},
			`{"subject":"Offsite","start":{"dateTime":"2026-11-05T00:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-07T00:00:00","timeZone":"UTC"},"isAllDay":true}`},
		{"event.create all-day midnight UTC", cmd("event.create", `{"allDay":true,"start":"2026-11-05T00:00:00Z","end":"2026-11-06T00:00:00Z"}`),
			"POST", "/v1.0/me/events", "", []string{preferTZ},
			`{"start":{"dateTime":"2026-11-05T00:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-06T00:00:00","timeZone":"UTC"},"isAllDay":true}`},
		{"event.create body defaults to text", cmd("event.create", `{"start":"2026-11-05T08:00:00Z","end":"2026-11-05T08:00:00Z","body":{"content":"x"}}`),
			"POST", "/v1.0/me/events", "", []string{preferTZ},
			`{"body":{"contentType":"text","content":"x"},"start":{"dateTime":"2026-11-05T08:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-05T08:00:00","timeZone":"UTC"}}`},
		{"event.update subject only, immutable mailbox", cmd("event.update", `{"id":"AAMk","subject":"Renamed","mailbox":"x@y"}`),
			"PATCH", "/v1.0/users/x@y/events/AAMk", "", []string{preferTZ}, `{"subject":"Renamed"}`},
		{"event.update start only, allDay false", cmd("event.update", `{"id":"AAMk","start":"2026-11-05T08:00:00Z","allDay":false,"location":""}`),
			"PATCH", "/v1.0/me/events/AAMk", "", []string{preferTZ},
			`{"start":{"dateTime":"2026-11-05T08:00:00","timeZone":"UTC"},"isAllDay":false,"location":{"displayName":""}}`},
		{"event.delete", cmd("event.delete", `{"id":"AAMk+x"}`), "DELETE", "/v1.0/me/events/AAMk%2Bx", "", nil, ""},
		{"contact.create", cmd("contact.create", `{"name":"Ana Souza","given":"Ana","surname":"Souza","emails":[{"name":"Ana","addr":"ana@northwind.example"},{"addr":"a2@x.example"}],
			"mobile":"+55 11 91234 5678","business":["+55 11 3000 1000"],"home":[],"company":"Northwind","title":"Buyer"}`),
			"POST", "/v1.0/me/contacts", "", nil,
			`{"displayName":"Ana Souza","givenName":"Ana","surname":"Souza","mobilePhone":"+55 11 91234 5678","companyName":"Northwind","jobTitle":"Buyer",` +
				`"emailAddresses":[{"name":"Ana","address":"ana@northwind.example"},{"address":"a2@x.example"}],"businessPhones":["+55 11 3000 1000"],"homePhones":[]}`},
		{"contact.update clears with empty string", cmd("contact.update", `{"id":"AAMkC","company":"","title":"Lead buyer"}`),
			"PATCH", "/v1.0/me/contacts/AAMkC", "", nil, `{"companyName":null,"jobTitle":"Lead buyer"}`},
		{"contact.delete", cmd("contact.delete", `{"id":"AAMkC"}`), "DELETE", "/v1.0/me/contacts/AAMkC", "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, c.body)
			defer p.Release()
			u := p.Upstream
			if u == nil {
				out, _ := respond(t, p, 0, nil, "")
				t.Fatalf("no upstream call: %s", out)
			}
			if u.Method != c.method || u.Path != c.path || u.RawQuery != c.query {
				t.Fatalf("got %s %s ? %s\nwant %s %s ? %s", u.Method, u.Path, u.RawQuery, c.method, c.path, c.query)
			}
			if string(u.Body) != c.payload {
				t.Fatalf("body\n got %s\nwant %s", u.Body, c.payload)
			}
			wantCT := ""
			if c.payload != "" {
				wantCT = "application/json"
			}
			if u.ContentType != wantCT {
				t.Fatalf("content type %q", u.ContentType)
			}
			if len(u.Prefer) != len(c.prefer) || (len(c.prefer) > 0 && !reflect.DeepEqual(u.Prefer, c.prefer)) {
				t.Fatalf("prefer %q, want %q", u.Prefer, c.prefer)
			}
		})
	}
}

func TestPIMInvalidArgs(t *testing.T) {
	cases := map[string]string{
		"calendar.sync no window":          cmd("calendar.sync", `{}`),
		"calendar.sync no end":             cmd("calendar.sync", `{"start":"2026-10-01T00:00:00Z"}`),
		"calendar.sync date only":          cmd("calendar.sync", `{"start":"2026-10-01","end":"2026-11-01"}`),
		"calendar.sync end before start":   cmd("calendar.sync", `{"start":"2026-11-01T00:00:00Z","end":"2026-10-01T00:00:00Z"}`),
		"calendar.sync empty window":       cmd("calendar.sync", `{"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00+01:00"}`),
		"calendar.sync bad start w/ state": cmd("calendar.sync", `{"start":5,"state":"AAAA"}`),
		"calendar.sync window 0":           cmd("calendar.sync", `{"start":"2026-10-01T00:00:00Z","end":"2026-11-01T00:00:00Z","window":0}`),
		"event.respond no id":              cmd("event.respond", `{"response":"accept"}`),
		"event.respond bad id":             cmd("event.respond", `{"id":"../x","response":"accept"}`),
		"event.respond no response":        cmd("event.respond", `{"id":"AAMk"}`),
		"event.respond graph verb":         cmd("event.respond", `{"id":"AAMk","response":"tentativelyAccept"}`),
		"event.respond upper":              cmd("event.respond", `{"id":"AAMk","response":"Accept"}`),
		"event.respond comment number":     cmd("event.respond", `{"id":"AAMk","response":"accept","comment":1}`),
		"event.respond send string":        cmd("event.respond", `{"id":"AAMk","response":"accept","send":"no"}`),
		"event.create no times":            cmd("event.create", `{"subject":"x"}`),
		"event.create no end":              cmd("event.create", `{"start":"2026-11-05T08:00:00Z"}`),
		"event.create end before start":    cmd("event.create", `{"start":"2026-11-05T08:00:00Z","end":"2026-11-05T07:59:59Z"}`),
		"event.create date without allDay": cmd("event.create", `{"start":"2026-11-05","end":"2026-11-06"}`),
		"event.create allDay not midnight": cmd("event.create", `{"allDay":true,"start":"2026-11-05T08:00:00Z","end":"2026-11-06T00:00:00Z"}`),
		"event.create allDay same day":     cmd("event.create", `{"allDay":true,"start":"2026-11-05","end":"2026-11-05"}`),
		"event.create allDay string":       cmd("event.create", `{"allDay":"yes","start":"2026-11-05","end":"2026-11-06"}`),
		"event.create bad date":            cmd("event.create", `{"allDay":true,"start":"2026-02-30","end":"2026-03-01"}`),
		"event.create subject number":      cmd("event.create", `{"subject":1,"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create location object":     cmd("event.create", `{"location":{"displayName":"x"},"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create showAs graph case":   cmd("event.create", `{"showAs":"Busy","start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create body string":         cmd("event.create", `{"body":"hi","start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create body rtf":            cmd("event.create", `{"body":{"type":"rtf","content":"x"},"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create body no content":     cmd("event.create", `{"body":{"type":"text"},"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create body dup member":     cmd("event.create", `{"body":{"content":"a","content":"b"},"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create attendee no addr":    cmd("event.create", `{"attendees":[{"name":"x"}],"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create attendee bad addr":   cmd("event.create", `{"attendees":[{"addr":"nobody"}],"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create attendee bad type":   cmd("event.create", `{"attendees":[{"addr":"a@b","type":"cc"}],"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create attendees object":    cmd("event.create", `{"attendees":{"addr":"a@b"},"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.create attendees too many":  cmd("event.create", `{"attendees":[`+strings.TrimSuffix(strings.Repeat(`{"addr":"a@b"},`, 501), ",")+`],"start":"2026-11-05T08:00:00Z","end":"2026-11-05T09:00:00Z"}`),
		"event.update nothing":             cmd("event.update", `{"id":"AAMk"}`),
		"event.update nulls only":          cmd("event.update", `{"id":"AAMk","subject":null}`),
		"event.update no id":               cmd("event.update", `{"subject":"x"}`),
		"event.delete no id":               cmd("event.delete", `{}`),
		"event.delete bad id":              cmd("event.delete", `{"id":"a/b"}`),
		"contact.create nothing":           cmd("contact.create", `{}`),
		"contact.create name number":       cmd("contact.create", `{"name":5}`),
		"contact.create emails strings":    cmd("contact.create", `{"emails":["a@b"]}`),
		"contact.create email no addr":     cmd("contact.create", `{"emails":[{"name":"x"}]}`),
		"contact.create phones string":     cmd("contact.create", `{"business":"+1 555"}`),
		"contact.create phones number":     cmd("contact.create", `{"home":[5]}`),
		"contact.update no id":             cmd("contact.update", `{"name":"x"}`),
		"contact.update nothing":           cmd("contact.update", `{"id":"AAMk"}`),
		"contact.delete bad id":            cmd("contact.delete", `{"id":"AA BB"}`),
	}
	tr, _ := newTestTranslator(t)
	for name, body := range cases {
		p, e := tr.Plan([]byte(body))
		if e != nil {
			t.Errorf("%s: envelope error %v", name, e)
			continue
		}
		if p.Upstream != nil {
			t.Errorf("%s: went upstream: %+v", name, p.Upstream)
		}
		out, o := respond(t, p, 0, nil, "")
		if len(o.Results) != 1 || o.Results[0].Status != 400 || o.Results[0].Code != CodeInvalidArgs {
			t.Errorf("%s: %s", name, out)
		}
		p.Release()
	}
}

// graphCalendarPage is GRAPH_FACTS §10.4, the link made relative to the test upstream.
const graphCalendarPage = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)",
  "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=R0usmcDq1Z7fP3bvS9kVx2",
  "value": [
    {
      "@odata.type": "#microsoft.graph.event",
      "@odata.etag": "W/\"EZ9r3czxY0m2jz8c45czkwAAAF9vYg==\"",
      "id": "AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAAD=",
      "createdDateTime": "2025-03-02T10:11:12.3456789Z",
      "lastModifiedDateTime": "2025-03-05T16:40:01.1234567Z",
      "changeKey": "EZ9r3czxY0m2jz8c45czkwAAAF9vYg==",
      "subject": "Design sync",
      "bodyPreview": "Agenda: mocks, API contract",
      "body": { "contentType": "html", "content": "<html><body>Agenda: mocks, API contract</body></html>" },
      "importance": "normal",
      "isAllDay": false,
      "isCancelled": false,
      "isOrganizer": false,
      "showAs": "tentative",
      "type": "singleInstance",
      "seriesMasterId": null,
      "start": { "dateTime": "2025-03-12T17:00:00.0000000", "timeZone": "UTC" },
      "end": { "dateTime": "2025-03-12T17:30:00.0000000", "timeZone": "UTC" },
      "location": { "displayName": "Room 4.12" },
      "responseStatus": { "response": "tentativelyAccepted", "time": "2025-03-05T16:40:00Z" },
      "organizer": { "emailAddress": { "name": "Lea Martin", "address": "lea@contoso.example" } },
      "attendees": [
        { "type": "required", "status": { "response": "accepted", "time": "2025-03-03T09:00:00Z" },
          "emailAddress": { "name": "Lea Martin", "address": "lea@contoso.example" } },
        { "type": "optional", "status": { "response": "none", "time": "0001-01-01T00:00:00Z" },
          "emailAddress": { "name": "Sam Okafor", "address": "sam@contoso.example" } }
      ]
    },
    {
      "@odata.type": "#microsoft.graph.event",
      "@odata.etag": "W/\"EZ9r3czxY0m2jz8c45czkwAAAF9vYw==\"",
      "id": "AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQFRAAgI3VhTmvSAAEYAAAAA=",
      "seriesMasterId": "AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAADMaster=",
      "type": "occurrence",
      "start": { "dateTime": "2025-03-14T08:00:00.0000000", "timeZone": "UTC" },
      "end": { "dateTime": "2025-03-14T08:15:00.0000000", "timeZone": "UTC" }
    },
    {
      "@odata.type": "#microsoft.graph.event",
      "id": "AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAADRemoved=",
      "@removed": { "reason": "deleted" }
    },
    {
      "id": "AAMkAllDay=", "subject": "Offsite", "isAllDay": true, "type": "SeriesMaster", "showAs": "Oof",
      "start": { "dateTime": "2025-03-20T00:00:00.0000000", "timeZone": "Pacific Standard Time" },
      "end": { "dateTime": "2025-03-22T00:00:00.0000000", "timeZone": "Pacific Standard Time" },
      "responseStatus": { "response": "Organizer" }, "isCancelled": true, "location": {}, "attendees": []
    },
    { "subject": "no id, skipped" }
  ]
}`

// graphContactsPage is GRAPH_FACTS §10.5 plus a removal and a wrapped email.
const graphContactsPage = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(contact)",
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/contactfolders('AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAE')/contacts/delta?$skiptoken=Kq9mB3xQ0dRZxN4eYh1",
  "value": [
    {
      "@odata.type": "#microsoft.graph.contact",
      "@odata.etag": "W/\"EQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAB1c2k\"",
      "id": "AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoARgAAA0Wd3fmp3l1CtrLkQ0ContactA=",
      "displayName": "Ana Souza",
      "givenName": "Ana",
      "surname": "Souza",
      "emailAddresses": [ { "name": "Ana Souza", "address": "ana.souza@northwind.example" } ],
      "mobilePhone": "+55 11 91234 5678",
      "businessPhones": [ "+55 11 3000 1000" ],
      "companyName": "Northwind",
      "jobTitle": "Buyer"
    },
    {
      "@odata.type": "#microsoft.graph.contact",
      "id": "AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoARgAAA0Wd3fmp3l1CtrLkQ0ContactB=",
      "displayName": "Jun Park",
      "givenName": "Jun",
      "surname": "Park",
      "emailAddresses": [ { "emailAddress": { "address": "jun@x.example" } }, {}, 5 ],
      "mobilePhone": null,
      "businessPhones": [],
      "homePhones": [ "+82 2 1234", 7 ],
      "companyName": null,
      "jobTitle": null
    },
    { "id": "AAMkContactGone=", "@removed": { "reason": "deleted" } }
  ]
}`

func TestRespondCalendarPage(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("calendar.sync", `{"start":"2025-03-01T00:00:00Z","end":"2025-04-01T00:00:00Z"}`))
	defer p.Release()
	out, o := respond(t, p, 200, nil, graphCalendarPage)
	want := `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"upsert","event":{"id":"AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAAD=","subject":"Design sync",` +
		`"start":"2025-03-12T17:00:00Z","end":"2025-03-12T17:30:00Z","allDay":false,"location":"Room 4.12",` +
		`"organizer":{"name":"Lea Martin","addr":"lea@contoso.example"},"attendees":[` +
		`{"name":"Lea Martin","addr":"lea@contoso.example","type":"required","response":"accepted"},` +
		`{"name":"Sam Okafor","addr":"sam@contoso.example","type":"optional","response":"none"}],` +
		`"response":"tentativelyAccepted","showAs":"tentative","cancelled":false,"type":"singleInstance","preview":"Agenda: mocks, API contract"}},` +
		`{"op":"upsert","event":{"id":"AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQFRAAgI3VhTmvSAAEYAAAAA=",` +
		`"start":"2025-03-14T08:00:00Z","end":"2025-03-14T08:15:00Z","type":"occurrence",` +
		`"series":"AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAADMaster="}},` +
		`{"op":"delete","id":"AAMkAGE1M2IyNGNmLTVhY2ItNDk5Mi1hMzcxLWQ1NjM5MjI3MjFlZQBGAAAAAADRemoved="},` +
		`{"op":"upsert","event":{"id":"AAMkAllDay=","subject":"Offsite","start":"2025-03-20","end":"2025-03-22","allDay":true,` +
		`"attendees":[],"response":"organizer","showAs":"oof","cancelled":true,"type":"seriesMaster"}}` +
		`],"state":"S","more":false}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	if o.Results[0].Status != 200 {
		t.Fatalf("outcome %+v", o)
	}

	// The state continues with the link alone; start/end given with it are ignored.
	rec, err := tr.openState(firstState(t, out), opCalendarSync, nil, "")
	if err != nil || rec.link != "/me/calendarView/delta?$deltatoken=R0usmcDq1Z7fP3bvS9kVx2" || rec.window != 50 {
		t.Fatalf("state %+v %v", rec, err)
	}
	p2 := mustPlan(t, tr, cmd("calendar.sync", `{"state":"`+firstState(t, out)+`","start":"2030-01-01T00:00:00Z","end":"2031-01-01T00:00:00Z","window":9}`))
	defer p2.Release()
	if u := p2.Upstream; u == nil || u.Path != "/v1.0/me/calendarView/delta" || u.RawQuery != "$deltatoken=R0usmcDq1Z7fP3bvS9kVx2" ||
		!reflect.DeepEqual(u.Prefer, []string{"odata.maxpagesize=9", preferTZ}) {
		t.Fatalf("continuation %+v", p2.Upstream)
	}
	// A calendar state is bound to its op and mailbox.
	for _, body := range []string{
		cmd("contacts.sync", `{"state":"`+firstState(t, out)+`"}`),
		cmd("calendar.sync", `{"state":"`+firstState(t, out)+`","mailbox":"other@contoso.example"}`),
		cmd("folders.sync", `{"state":"`+firstState(t, out)+`"}`),
	} {
		p3 := mustPlan(t, tr, body)
		out3, _ := respond(t, p3, 0, nil, "")
		if !strings.Contains(out3, `"invalid_state"`) {
			t.Errorf("%s: %s", body, out3)
		}
		p3.Release()
	}
}

func TestEventTimes(t *testing.T) {
	cases := []struct {
		name, value string
		allDay      bool
		want        string // "" = omitted, "!" = unconvertible zone
	}{
		{"UTC 7 digits", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"UTC"}`, false, `"2026-03-12T17:00:00Z"`},
		{"UTC non-zero fraction truncated", `{"dateTime":"2026-03-12T17:00:05.9999999","timeZone":"UTC"}`, false, `"2026-03-12T17:00:05Z"`},
		{"no fraction", `{"dateTime":"2026-03-12T17:00:00","timeZone":"utc"}`, false, `"2026-03-12T17:00:00Z"`},
		{"zone absent means UTC", `{"dateTime":"2026-03-12T17:00:00.0000000"}`, false, `"2026-03-12T17:00:00Z"`},
		{"Etc/GMT", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"Etc/GMT"}`, false, `"2026-03-12T17:00:00Z"`},
		{"tzone utc", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"tzone://Microsoft/Utc"}`, false, `"2026-03-12T17:00:00Z"`},
		{"offset +05:30", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"+05:30"}`, false, `"2026-03-12T11:30:00Z"`},
		{"UTC-08:00 crosses midnight", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"UTC-08:00"}`, false, `"2026-03-13T01:00:00Z"`},
		{"GMT+0100", `{"dateTime":"2026-12-31T23:30:00","timeZone":"GMT+0100"}`, false, `"2026-12-31T22:30:00Z"`},
		{"GMT-03", `{"dateTime":"2026-12-31T23:30:00","timeZone":"GMT-03"}`, false, `"2027-01-01T02:30:00Z"`},
		{"offset inside value wins", `{"dateTime":"2026-03-12T17:00:00+02:00","timeZone":"Pacific Standard Time"}`, false, `"2026-03-12T15:00:00Z"`},
		{"Windows zone", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"Pacific Standard Time"}`, false, "!"},
		{"IANA zone", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"Europe/Berlin"}`, false, "!"},
		{"offset out of range", `{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"+15:00"}`, false, "!"},
		{"year 0 after conversion", `{"dateTime":"0001-01-01T00:30:00","timeZone":"+01:00"}`, false, ""},
		{"garbage", `{"dateTime":"tomorrow","timeZone":"UTC"}`, false, ""},
		{"number", `{"dateTime":20260312,"timeZone":"UTC"}`, false, ""},
		{"zone number", `{"dateTime":"2026-03-12T17:00:00","timeZone":1}`, false, ""},
		{"not an object", `"2026-03-12T17:00:00Z"`, false, ""},
		{"all-day UTC", `{"dateTime":"2026-11-03T00:00:00.0000000","timeZone":"UTC"}`, true, `"2026-11-03"`},
		{"all-day Windows zone is a floating date", `{"dateTime":"2026-11-03T00:00:00.0000000","timeZone":"W. Europe Standard Time"}`, true, `"2026-11-03"`},
		{"all-day garbage", `{"dateTime":"2026-1x-03T00:00:00","timeZone":"UTC"}`, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, st := appendEventTime(nil, parseJSON(c.value), c.allDay)
			switch {
			case c.want == "!":
				if st != timeBadZone {
					t.Fatalf("status %d out %s", st, out)
				}
			case c.want == "":
				if st != timeAbsent || len(out) != 0 {
					t.Fatalf("status %d out %s", st, out)
				}
			default:
				if st != timeWritten || string(out) != c.want {
					t.Fatalf("status %d out %s want %s", st, out, c.want)
				}
			}
		})
	}

	// A page holding an unconvertible time fails the command, not the envelope.
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("calendar.sync", `{"start":"2025-03-01T00:00:00Z","end":"2025-04-01T00:00:00Z"}`))
	defer p.Release()
	out, o := respond(t, p, 200, nil, `{"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=x","value":[
		{"id":"AAMk","start":{"dateTime":"2025-03-12T17:00:00.0000000","timeZone":"Pacific Standard Time"}}]}`)
	if o.Status != 200 || o.Results[0].Status != 502 || !strings.Contains(out, msgBadEventTimeZone) {
		t.Fatalf("%s", out)
	}
}

func TestRespondContactsPage(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("contacts.sync", `{"window":2}`))
	defer p.Release()
	out, _ := respond(t, p, 200, nil, graphContactsPage)
	want := `{"results":[{"id":"c1","status":200,"data":{"changes":[` +
		`{"op":"upsert","contact":{"id":"AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoARgAAA0Wd3fmp3l1CtrLkQ0ContactA=","name":"Ana Souza",` +
		`"given":"Ana","surname":"Souza","emails":[{"name":"Ana Souza","addr":"ana.souza@northwind.example"}],"mobile":"+55 11 91234 5678",` +
		`"business":["+55 11 3000 1000"],"company":"Northwind","title":"Buyer"}},` +
		`{"op":"upsert","contact":{"id":"AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoARgAAA0Wd3fmp3l1CtrLkQ0ContactB=","name":"Jun Park",` +
		`"given":"Jun","surname":"Park","emails":[{"addr":"jun@x.example"}],"business":[],"home":["+82 2 1234"]}},` +
		`{"op":"delete","id":"AAMkContactGone="}],"state":"S","more":true}}]}`
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	rec, err := tr.openState(firstState(t, out), opContactsSync, nil, "")
	if err != nil || rec.window != 2 || !strings.HasPrefix(rec.link, "/me/contactfolders(") {
		t.Fatalf("state %+v %v", rec, err)
	}
}

func TestRespondEdits(t *testing.T) {
	eventAnswer := `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('x')/events/$entity","id":"AAMkNew=",
		"subject":"Design sync","isAllDay":false,"showAs":"busy","type":"singleInstance","isCancelled":false,
		"start":{"dateTime":"2026-11-03T09:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-11-03T09:30:00.0000000","timeZone":"UTC"},
		"location":{"displayName":"Room 4.12"},"responseStatus":{"response":"organizer","time":"0001-01-01T00:00:00Z"},
		"organizer":{"emailAddress":{"name":"Demo User","address":"demo@contoso.example"}},"attendees":[],"bodyPreview":""}`
	contactAnswer := `{"id":"AAMkC=","displayName":"Ana Souza","emailAddresses":[],"businessPhones":[],"homePhones":[],"companyName":null}`
	cases := []struct {
		name, body string
		status     int
		answer     string
		want       string
	}{
		{"event.create 201", cmd("event.create", `{"start":"2026-11-03T09:00:00Z","end":"2026-11-03T09:30:00Z"}`), 201, eventAnswer,
			`{"results":[{"id":"c1","status":200,"data":{"event":{"id":"AAMkNew=","subject":"Design sync","start":"2026-11-03T09:00:00Z",` +
				`"end":"2026-11-03T09:30:00Z","allDay":false,"location":"Room 4.12","organizer":{"name":"Demo User","addr":"demo@contoso.example"},` +
				`"attendees":[],"response":"organizer","showAs":"busy","cancelled":false,"type":"singleInstance","preview":""}}}]}`},
		{"event.update 200", cmd("event.update", `{"id":"AAMkNew=","subject":"x"}`), 200, `{"id":"AAMkNew=","subject":"x"}`,
			`{"results":[{"id":"c1","status":200,"data":{"event":{"id":"AAMkNew=","subject":"x"}}}]}`},
		{"event.update bad zone", cmd("event.update", `{"id":"AAMkNew=","subject":"x"}`), 200,
			`{"id":"AAMkNew=","start":{"dateTime":"2026-11-03T09:00:00","timeZone":"Romance Standard Time"}}`,
			`{"results":[{"id":"c1","status":502,"error":{"code":"upstream_error","message":"` + msgBadEventTimeZone + `"}}]}`},
		{"event.update no id in answer", cmd("event.update", `{"id":"AAMkNew=","subject":"x"}`), 200, `{"subject":"x"}`,
			`{"results":[{"id":"c1","status":502,"error":{"code":"upstream_error","message":"` + msgUpstreamMalformed + `"}}]}`},
		{"event.respond 202 empty", cmd("event.respond", `{"id":"AAMk","response":"accept"}`), 202, "",
			`{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"event.delete 204 empty", cmd("event.delete", `{"id":"AAMk"}`), 204, "",
			`{"results":[{"id":"c1","status":200,"data":{}}]}`},
		{"event.respond organizer 400", cmd("event.respond", `{"id":"AAMk","response":"decline"}`), 400,
			`{"error":{"code":"ErrorInvalidRequest","message":"Your request can't be completed. You can't respond to a meeting you organized."}}`,
			`{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":"` + msgUpstreamRejected + `","upstreamCode":"ErrorInvalidRequest"}}]}`},
		{"contact.delete 404", cmd("contact.delete", `{"id":"AAMk"}`), 404, `{"error":{"code":"ErrorItemNotFound","message":"x"}}`,
			`{"results":[{"id":"c1","status":404,"error":{"code":"not_found","message":"` + msgNotFound + `","upstreamCode":"ErrorItemNotFound"}}]}`},
		{"contact.create 201", cmd("contact.create", `{"name":"Ana Souza"}`), 201, contactAnswer,
			`{"results":[{"id":"c1","status":200,"data":{"contact":{"id":"AAMkC=","name":"Ana Souza","emails":[],"business":[],"home":[]}}}]}`},
		{"contact.update not JSON", cmd("contact.update", `{"id":"AAMkC=","name":"x"}`), 200, "",
			`{"error":{"code":"upstream_error","message":"` + msgUpstreamMalformed + `"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, c.body)
			defer p.Release()
			out, _ := respond(t, p, c.status, nil, c.answer)
			if out != c.want {
				t.Fatalf("got  %s\nwant %s", out, c.want)
			}
		})
	}
}

func TestPIMBatch(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	p := mustPlan(t, tr, `{"commands":[
		{"id":"cal","op":"calendar.sync","args":{"start":"2026-10-01T00:00:00Z","end":"2026-12-01T00:00:00Z","window":20}},
		{"id":"acc","op":"event.respond","args":{"id":"AAMk","response":"accept","send":false}},
		{"id":"ren","op":"contact.update","args":{"id":"AAMkC","name":"Ana"}},
		{"id":"del","op":"event.delete","args":{"id":"AAMkD"}}]}`)
	defer p.Release()
	want := compact(t, `{"requests":[
	 {"id":"0","method":"GET","url":"/me/calendarView/delta?startDateTime=2026-10-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z",
	  "headers":{"Prefer":"odata.maxpagesize=20, outlook.timezone=\"UTC\", IdType=\"ImmutableId\""}},
	 {"id":"1","method":"POST","url":"/me/events/AAMk/accept","headers":{"Prefer":"IdType=\"ImmutableId\"","Content-Type":"application/json"},
	  "body":{"sendResponse":false}},
	 {"id":"2","method":"PATCH","url":"/me/contacts/AAMkC","headers":{"Prefer":"IdType=\"ImmutableId\"","Content-Type":"application/json"},
	  "body":{"displayName":"Ana"}},
	 {"id":"3","method":"DELETE","url":"/me/events/AAMkD","headers":{"Prefer":"IdType=\"ImmutableId\""}}]}`)
	if string(p.Upstream.Body) != want {
		t.Fatalf("batch body\n got %s\nwant %s", p.Upstream.Body, want)
	}
	// Items without a body (202/204) succeed; a created contact is translated.
	out, _ := respond(t, p, 200, nil, `{"responses":[
		{"id":"3","status":204,"headers":{}},
		{"id":"1","status":202,"headers":{}},
		{"id":"2","status":200,"headers":{"Content-Type":"application/json"},"body":{"id":"AAMkC","displayName":"Ana"}},
		{"id":"0","status":200,"body":{"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=D","value":[]}}]}`)
	wantOut := `{"results":[{"id":"cal","status":200,"data":{"changes":[],"state":"S","more":false}},` +
		`{"id":"acc","status":200,"data":{}},{"id":"ren","status":200,"data":{"contact":{"id":"AAMkC","name":"Ana"}}},` +
		`{"id":"del","status":200,"data":{}}]}`
	if maskState(out) != wantOut {
		t.Fatalf("got  %s\nwant %s", maskState(out), wantOut)
	}
}

// FuzzPIMArgs runs the calendar and contact commands on arbitrary args:
// nothing panics, every upstream body is valid JSON, every path is escaped,
// and every rejection is invalid_args or invalid_state.
func FuzzPIMArgs(f *testing.F) {
	ops := []string{"calendar.sync", "event.respond", "event.create", "event.update", "event.delete",
		"contacts.sync", "contact.create", "contact.update", "contact.delete"}
	seeds := []string{
		`{"start":"2026-10-01T00:00:00Z","end":"2026-12-01T00:00:00+01:00","window":5}`,
		`{"id":"AAMk+=","response":"tentative","comment":"\u2028\"x\"","send":false}`,
		`{"subject":"é","allDay":true,"start":"2026-11-05","end":"2026-11-06","attendees":[{"addr":"a@b","name":null,"type":"resource"}]}`,
		`{"id":"AAMk","body":{"type":"html","content":"<b>"},"showAs":"workingElsewhere","location":"\\"}`,
		`{"name":"","emails":[{"addr":"a@b"}],"business":["1"],"home":[],"mobile":"x","company":"c","title":"t"}`,
		`{"id":"../..","start":"9999-12-31T23:59:59-23:59","end":"0000-01-01T00:00:00Z"}`,
		`{"state":"AAAA","start":1}`, `{"attendees":[[]],"emails":{}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, opIdx uint8, args string) {
		op := ops[int(opIdx)%len(ops)]
		p, e := tr.Plan([]byte(`{"commands":[{"id":"c","op":"` + op + `","args":` + args + `}]}`))
		if e != nil {
			if e.Code != CodeInvalidRequest {
				t.Fatalf("envelope error %+v", e)
			}
			return
		}
		defer p.Release()
		checkPlan(t, p)
		c := &p.cmds[0]
		if c.err != nil && c.err.Code != CodeInvalidArgs && c.err.Code != CodeInvalidState {
			t.Fatalf("unexpected command error %+v", c.err)
		}
		if c.err == nil && c.payload != nil && !jsonValid(c.payload) {
			t.Fatalf("invalid payload %s", c.payload)
		}
	})
}

// FuzzEventTime feeds arbitrary dateTimeTimeZone values to the event time
// translation: nothing panics, and the output is a quoted RFC 3339 UTC time
// or date, or nothing.
func FuzzEventTime(f *testing.F) {
	for _, s := range []string{`{"dateTime":"2026-03-12T17:00:00.0000000","timeZone":"UTC"}`, `{"dateTime":"2026-03-12T17:00:00","timeZone":"UTC+14:00"}`,
		`{"dateTime":"9999-12-31T23:59:59.9999999","timeZone":"-14:00"}`, `{"dateTime":"2026-03-12T17:00:00Z"}`, `{}`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, value string, allDay bool) {
		if !jsonValid([]byte(value)) {
			return
		}
		out, st := appendEventTime(nil, parseJSON(value), allDay)
		if st != timeWritten {
			if len(out) != 0 {
				t.Fatalf("wrote %s with status %d", out, st)
			}
			return
		}
		s := strings.Trim(string(out), `"`)
		if allDay {
			if _, err := timeParse(deviceDateLayout, s); err != nil {
				t.Fatalf("bad date %s", out)
			}
			return
		}
		if _, err := timeParse(deviceTimeLayout, s); err != nil {
			t.Fatalf("bad time %s", out)
		}
	})
}

// FuzzPIMRespond feeds arbitrary upstream answers to the calendar and
// contact commands: the device JSON is always valid.
func FuzzPIMRespond(f *testing.F) {
	f.Add(200, []byte(graphCalendarPage))
	f.Add(200, []byte(graphContactsPage))
	f.Add(201, []byte(`{"id":"A","start":{"dateTime":"2026-01-01T00:00:00","timeZone":"+01:00"},"isAllDay":true,"attendees":[{"emailAddress":{}},1]}`))
	f.Add(202, []byte(``))
	f.Add(200, []byte(`{"responses":[{"id":"1","status":202},{"id":"0","status":200,"body":{"value":[{"id":"x","@removed":{}}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/d"}}]}`))
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, env := range []string{
			cmd("calendar.sync", `{"start":"2025-03-01T00:00:00Z","end":"2025-04-01T00:00:00Z"}`),
			cmd("contacts.sync", ``),
			cmd("event.create", `{"start":"2025-03-01T00:00:00Z","end":"2025-03-01T01:00:00Z"}`),
			cmd("contact.update", `{"id":"A","name":"x"}`),
			cmd("event.respond", `{"id":"A","response":"accept"}`),
			`{"commands":[{"id":"a","op":"contacts.sync"},{"id":"b","op":"event.delete","args":{"id":"A"}}]}`,
		} {
			p := mustPlan(t, tr, env)
			var dst bytes.Buffer
			o := p.Respond(&dst, status, nil, body)
			if !json.Valid(dst.Bytes()) {
				t.Fatalf("invalid device JSON for %d %q: %s", status, body, dst.Bytes())
			}
			if o.Status != 200 && len(o.Results) != 0 {
				t.Fatalf("envelope failure with results")
			}
			p.Release()
		}
	})
}
