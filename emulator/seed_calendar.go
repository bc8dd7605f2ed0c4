package emulator

import (
	"fmt"
	"strings"
	"time"
)

// This file seeds the demo calendar and contacts, deterministically, around
// seedEpoch (Sunday 2026-11-01 00:00 UTC). All times are UTC.
//
// Events (a window of 2026-10-25 … 2026-12-01 holds all but the last two):
//   - "Design sync": single, 2026-11-03 17:00–17:30, organized by Lea Martin; the
//     mailbox owner is an invitee who has not responded (notResponded, showAs tentative).
//   - "Daily standup": daily series organized by the owner, 09:00–09:15, 20
//     occurrences from 2026-10-26; the 2026-11-04 occurrence is an exception
//     moved to 09:30–09:45 ("Daily standup (moved)"), the 2026-11-05 one is cancelled.
//   - "1:1 with Priya": weekly series on Tuesdays 14:00–14:30 from 2026-10-06 to
//     2027-01-26, organized by Priya Natarajan, accepted by the owner.
//   - "Company holiday": all-day 2026-11-11 (one day), organized by the owner.
//   - "Offsite Lisbon": all-day 2026-11-16 … 2026-11-18 (end 2026-11-19), organized
//     by Ingrid Solberg, tentatively accepted.
//   - "Conference travel": timed, 2026-11-09 18:00 – 2026-11-10 10:30.
//   - "Canceled: Vendor call": 2026-11-06 15:00–15:45, cancelled by its organizer.
//   - "Retro": 2026-10-28 16:00–17:00, declined by the owner.
//   - "Q1 planning": 2027-02-10 10:00–12:00 (outside the window above).
//
// Contacts: DemoContactCount people of the demo address book.

// DemoContactCount is the number of contacts in the demo mailbox.
const DemoContactCount = 12

// seedAt returns seedEpoch shifted by days, hours and minutes.
func seedAt(days, hours, minutes int) time.Time {
	return seedEpoch.Add(time.Duration(days)*day + time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute)
}

// seedCalendar adds the demo events to mb.
func seedCalendar(mb *mailbox) {
	owner := recipient{mb.displayName, mb.upn}
	created := seedEpoch.Add(-30 * day)
	att := func(r recipient, kind, response string) attendee {
		a := attendee{who: r, kind: kind, response: response}
		if response != "none" && response != "notResponded" {
			a.at = created.Add(time.Hour)
		}
		return a
	}
	lea, sam, tomas, priya := seedPeople[2], seedPeople[3], seedPeople[1], seedPeople[0]
	ingrid, kwame, mateo, rahul, chen := seedPeople[8], seedPeople[7], seedPeople[12], seedPeople[9], seedPeople[10]

	invite := func(e *event, organizer recipient, response, showAs string) *event {
		e.organizer, e.isOrganizer, e.response, e.showAs = organizer, false, response, showAs
		if response != "notResponded" {
			e.responseAt = created.Add(2 * time.Hour)
		}
		return e
	}
	own := func(e *event, showAs string) *event {
		e.organizer, e.isOrganizer, e.response, e.showAs = owner, true, "organizer", showAs
		return e
	}

	mb.addEvent(invite(&event{
		subject: "Design sync", bodyIsHTML: true, body: "<html><body><p>Agenda: mocks, API contract</p></body></html>",
		start: seedAt(2, 17, 0), end: seedAt(2, 17, 30), location: "Room 4.12",
		attendees: []attendee{att(lea, "required", "accepted"), att(owner, "required", "none"), att(sam, "optional", "none")},
	}, lea, "notResponded", "tentative"), created)

	standup := own(&event{
		subject: "Daily standup", body: "Yesterday, today, blockers.",
		start: seedAt(-6, 9, 0), end: seedAt(-6, 9, 15), location: "Teams",
		attendees:  []attendee{att(tomas, "required", "accepted"), att(lea, "required", "tentativelyAccepted")},
		recurrence: &recurrence{pattern: "daily", interval: 1, rangeType: "numbered", count: 20, startDate: seedAt(-6, 0, 0)},
	}, "busy")
	mb.addEvent(standup, created)
	moved := mb.exceptionFor(standup, seedAt(3, 9, 0), created)
	moved.subject, moved.start, moved.end = "Daily standup (moved)", seedAt(3, 9, 30), seedAt(3, 9, 45)
	mb.touchEvent(moved, created)
	mb.cancelOccurrence(standup, seedAt(4, 9, 0), created)

	mb.addEvent(invite(&event{
		subject: "1:1 with Priya", body: "Career and roadmap.",
		start: seedAt(-26, 14, 0), end: seedAt(-26, 14, 30),
		attendees: []attendee{att(priya, "required", "accepted"), att(owner, "required", "accepted")},
		recurrence: &recurrence{pattern: "weekly", interval: 1, daysOfWeek: []time.Weekday{time.Tuesday}, rangeType: "endDate",
			startDate: seedAt(-26, 0, 0), endDate: time.Date(2027, 1, 26, 0, 0, 0, 0, time.UTC)},
	}, priya, "accepted", "busy"), created)

	mb.addEvent(own(&event{subject: "Company holiday", start: seedAt(10, 0, 0), end: seedAt(11, 0, 0), isAllDay: true}, "oof"), created)

	mb.addEvent(invite(&event{
		subject: "Offsite Lisbon", body: "Travel details to follow.", start: seedAt(15, 0, 0), end: seedAt(18, 0, 0), isAllDay: true,
		location:  "Lisbon",
		attendees: []attendee{att(ingrid, "required", "accepted"), att(owner, "required", "tentativelyAccepted")},
	}, ingrid, "tentativelyAccepted", "tentative"), created)

	mb.addEvent(own(&event{subject: "Conference travel", start: seedAt(8, 18, 0), end: seedAt(9, 10, 30), location: "LIS → BER"}, "oof"), created)

	mb.addEvent(invite(&event{
		subject: "Canceled: Vendor call", body: "This meeting was cancelled.", start: seedAt(5, 15, 0), end: seedAt(5, 15, 45),
		isCancelled: true, attendees: []attendee{att(kwame, "required", "accepted"), att(owner, "required", "accepted")},
	}, kwame, "accepted", "free"), created)

	mb.addEvent(invite(&event{
		subject: "Retro", start: seedAt(-4, 16, 0), end: seedAt(-4, 17, 0), location: "Room 2.01",
		attendees: []attendee{att(mateo, "required", "accepted"), att(owner, "required", "declined")},
	}, mateo, "declined", "free"), created)

	mb.addEvent(own(&event{
		subject: "Q1 planning", start: time.Date(2027, 2, 10, 10, 0, 0, 0, time.UTC), end: time.Date(2027, 2, 10, 12, 0, 0, 0, time.UTC),
		attendees: []attendee{att(rahul, "required", "none"), att(chen, "optional", "none")},
	}, "busy"), created)
}

var seedTitles = []string{"Buyer", "Engineering Manager", "Account Executive", "Designer", "CFO", "Support Lead"}

// seedContacts adds DemoContactCount contacts (the first people of
// seedPeople) to mb.
func seedContacts(mb *mailbox) {
	created := seedEpoch.Add(-60 * day)
	for i := 0; i < DemoContactCount; i++ {
		p := seedPeople[i]
		given, surname, _ := strings.Cut(p.name, " ")
		domain := p.address[strings.IndexByte(p.address, '@')+1:]
		company := strings.ToUpper(domain[:1]) + domain[1:strings.IndexByte(domain, '.')]
		ct := &contact{
			displayName: p.name, givenName: given, surname: surname,
			emails:   []recipient{{p.name, p.address}},
			business: []string{fmt.Sprintf("+1 425 555 %04d", 100+i)},
			home:     []string{},
			company:  company, title: seedTitles[i%len(seedTitles)],
		}
		if i%2 == 0 {
			ct.mobile = fmt.Sprintf("+1 206 555 %04d", 200+i)
		}
		if i%3 == 0 {
			ct.home = []string{fmt.Sprintf("+1 360 555 %04d", 300+i)}
		}
		switch i {
		case 4: // two addresses
			ct.emails = append(ct.emails, recipient{p.name + " (personal)", "ana.souza@mail.example"})
		case 7: // none
			ct.emails = []recipient{}
		}
		mb.addContact(ct, created)
	}
}
