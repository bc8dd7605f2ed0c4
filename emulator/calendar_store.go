package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"sort"
	"strings"
	"time"
)

// This file holds the calendar and contacts of a mailbox: events (single
// instances, series masters with their exceptions and cancelled
// occurrences) and contacts, each with the change sequence numbers delta
// needs. Everything is guarded by the mailbox's mu.

// attendee is one attendee of an event.
type attendee struct {
	who      recipient
	kind     string // required, optional or resource
	response string // none, accepted, tentativelyAccepted, declined, …
	at       time.Time
}

// recurrence is a series master's pattern and range (daily and weekly).
type recurrence struct {
	pattern    string // daily or weekly
	interval   int
	daysOfWeek []time.Weekday // weekly
	rangeType  string         // endDate, numbered or noEnd
	startDate  time.Time      // midnight UTC
	endDate    time.Time      // midnight UTC, inclusive (endDate range)
	count      int            // numbered range
}

// event is a single instance, a series master or an exception.
type event struct {
	key     uint32
	id      string
	version uint32
	kind    string // singleInstance, seriesMaster or exception

	created, lastModified time.Time

	subject     string
	bodyIsHTML  bool
	body        string
	start, end  time.Time // UTC; all-day events: midnight of their dates
	isAllDay    bool
	location    string
	organizer   recipient
	isOrganizer bool
	attendees   []attendee
	response    string // responseStatus.response of the mailbox owner
	responseAt  time.Time
	showAs      string
	isCancelled bool
	importance  string

	// Series masters: the pattern, exceptions by original start (Unix
	// seconds) and cancelled occurrences (original start → change seq).
	recurrence *recurrence
	exceptions map[int64]*event
	cancelled  map[int64]uint64
	// Exceptions: their master and original start.
	master        *event
	originalStart time.Time

	// changeSeq is the last change of the event (for a master: of anything
	// in its series); createdSeq its creation.
	changeSeq, createdSeq uint64
	deleted               bool
}

// contact is one contact of the default Contacts folder.
type contact struct {
	key     uint32
	id      string
	version uint32

	created, lastModified time.Time

	displayName, givenName, surname string
	emails                          []recipient
	mobile                          string
	business, home                  []string
	company, title                  string

	changeSeq, createdSeq uint64
	deleted               bool
}

// pimStore is a mailbox's calendar and contacts.
type pimStore struct {
	events   []*event          // singles and masters (exceptions hang off their master), tombstones included
	eventIDs map[string]*event // singles, masters and exceptions by id
	contacts []*contact        // tombstones included
	byContID map[string]*contact
}

// changeKey is the event's version stamp, also the etag payload.
func (e *event) changeKey() string {
	return "DwAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAA" + encodeKey(e.key, uint16(e.version>>16), uint16(e.version))
}

func (ct *contact) changeKey() string {
	return "EQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAA" + encodeKey(ct.key, uint16(ct.version>>16), uint16(ct.version))
}

// Event and contact ids (immutable: events and contacts never move).
//
//	event         AAMkAD<mailbox>BGAAAAAA-EvT<hash><key>AAA=
//	occurrence    AAMkAD<mailbox>BFRAAgI<key><original start>=
//	contact       AAMkAD<mailbox>BGAAAAAA-CtT<hash><key>AAA=
//
// An occurrence id (also the id of an exception) encodes its master's key
// and original start, so it can be resolved without storing every
// occurrence.
func eventID(mbxPart string, key uint32) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(6, mbxPart, "event", encodeKey(key)))
	if key%4 == 0 {
		h = withPlus(h, 3)
	}
	return "AAMkAD" + mbxPart + "BGAAAAAA-EvT" + h + encodeKey(key) + "AAA="
}

func contactID(mbxPart string, key uint32) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(6, mbxPart, "contact", encodeKey(key)))
	if key%3 == 0 {
		h = withPlus(h, 2)
	}
	return "AAMkAD" + mbxPart + "BGAAAAAA-CtT" + h + encodeKey(key) + "AAA="
}

func occurrencePrefix(mbxPart string) string { return "AAMkAD" + mbxPart + "BFRAAgI" }

func occurrenceID(mbxPart string, masterKey uint32, originalStart time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(originalStart.Unix()))
	return occurrencePrefix(mbxPart) + encodeKey(masterKey) + base64.RawURLEncoding.EncodeToString(ts[:]) + "="
}

// parseOccurrenceID returns the master key and original start an
// occurrence id encodes.
func parseOccurrenceID(mbxPart, id string) (uint32, time.Time, bool) {
	rest, ok := strings.CutPrefix(id, occurrencePrefix(mbxPart))
	if !ok || len(rest) != 6+11+1 || rest[len(rest)-1] != '=' {
		return 0, time.Time{}, false
	}
	k, err := base64.RawURLEncoding.DecodeString(rest[:6])
	if err != nil || len(k) != 4 {
		return 0, time.Time{}, false
	}
	ts, err := base64.RawURLEncoding.DecodeString(rest[6:17])
	if err != nil || len(ts) != 8 {
		return 0, time.Time{}, false
	}
	return binary.BigEndian.Uint32(k), time.Unix(int64(binary.BigEndian.Uint64(ts)), 0).UTC(), true
}

// addEvent stores a new single event or series master. Caller holds mu.
func (mb *mailbox) addEvent(e *event, now time.Time) {
	if mb.pim.eventIDs == nil {
		mb.pim.eventIDs = map[string]*event{}
	}
	mb.seq++
	mb.nextKey++
	e.key = mb.nextKey
	e.id = eventID(mb.mbxPart, e.key)
	e.version = 1
	e.created, e.lastModified = now, now
	e.createdSeq, e.changeSeq = mb.seq, mb.seq
	if e.kind == "" {
		e.kind = "singleInstance"
	}
	if e.recurrence != nil {
		e.kind = "seriesMaster"
		e.exceptions = map[int64]*event{}
		e.cancelled = map[int64]uint64{}
	}
	mb.pim.events = append(mb.pim.events, e)
	mb.pim.eventIDs[e.id] = e
	mb.notifyEvent(changeTypeCreated, e)
}

// touchEvent records a change of e (and of its series). Caller holds mu.
func (mb *mailbox) touchEvent(e *event, now time.Time) {
	mb.bumpEvent(e, now)
	mb.notifyEvent(changeTypeUpdated, e)
}

// bumpEvent advances e's version and change sequence. Caller holds mu.
func (mb *mailbox) bumpEvent(e *event, now time.Time) {
	mb.seq++
	e.version++
	e.lastModified = now
	e.changeSeq = mb.seq
	if m := e.master; m != nil {
		m.changeSeq = mb.seq
	}
}

// exceptionFor returns the exception of master at original start os,
// creating it from the occurrence when needed. Caller holds mu.
func (mb *mailbox) exceptionFor(master *event, os time.Time, now time.Time) *event {
	if x := master.exceptions[os.Unix()]; x != nil {
		return x
	}
	x := *master
	x.kind = "exception"
	x.recurrence, x.exceptions, x.cancelled = nil, nil, nil
	x.master = master
	x.originalStart = os
	x.id = occurrenceID(mb.mbxPart, master.key, os)
	x.start = os
	x.end = os.Add(master.span())
	x.attendees = append([]attendee(nil), master.attendees...)
	x.version = 0
	x.created = now
	mb.seq++
	x.createdSeq = mb.seq
	master.exceptions[os.Unix()] = &x
	mb.pim.eventIDs[x.id] = &x
	return &x
}

// cancelOccurrence removes one occurrence (or exception) of master.
// Caller holds mu.
func (mb *mailbox) cancelOccurrence(master *event, os time.Time, now time.Time) {
	if x := master.exceptions[os.Unix()]; x != nil {
		delete(master.exceptions, os.Unix())
		delete(mb.pim.eventIDs, x.id)
		x.deleted = true
	}
	mb.touchEvent(master, now)
	master.cancelled[os.Unix()] = mb.seq
}

// deleteEvent removes a single event or a whole series. Caller holds mu.
func (mb *mailbox) deleteEvent(e *event, now time.Time) {
	mb.bumpEvent(e, now)
	e.deleted = true
	mb.notifyEvent(changeTypeDeleted, e)
	delete(mb.pim.eventIDs, e.id)
	for _, x := range e.exceptions {
		delete(mb.pim.eventIDs, x.id)
	}
}

// eventByRef resolves an event id: a single, master or exception, or an
// occurrence id (master and original start). Caller holds mu.
func (mb *mailbox) eventByRef(ref string) (e *event, master *event, os time.Time, gerr *graphError) {
	if e := mb.pim.eventIDs[ref]; e != nil {
		return e, nil, time.Time{}, nil
	}
	if key, start, ok := parseOccurrenceID(mb.mbxPart, ref); ok {
		for _, m := range mb.pim.events {
			if m.key == key && !m.deleted && m.recurrence != nil {
				if _, gone := m.cancelled[start.Unix()]; gone {
					break
				}
				if m.isOccurrenceStart(start) {
					return nil, m, start, nil
				}
				break
			}
		}
	}
	if !looksLikeGraphID(ref) {
		return nil, nil, time.Time{}, errIDMalformed()
	}
	return nil, nil, time.Time{}, errItemNotFound()
}

// addContact stores a new contact. Caller holds mu.
func (mb *mailbox) addContact(ct *contact, now time.Time) {
	if mb.pim.byContID == nil {
		mb.pim.byContID = map[string]*contact{}
	}
	mb.seq++
	mb.nextKey++
	ct.key = mb.nextKey
	ct.id = contactID(mb.mbxPart, ct.key)
	ct.version = 1
	ct.created, ct.lastModified = now, now
	ct.createdSeq, ct.changeSeq = mb.seq, mb.seq
	mb.pim.contacts = append(mb.pim.contacts, ct)
	mb.pim.byContID[ct.id] = ct
	mb.notifyContact(changeTypeCreated, ct)
}

// touchContact records a change of ct. Caller holds mu.
func (mb *mailbox) touchContact(ct *contact, now time.Time) {
	mb.bumpContact(ct, now)
	mb.notifyContact(changeTypeUpdated, ct)
}

func (mb *mailbox) bumpContact(ct *contact, now time.Time) {
	mb.seq++
	ct.version++
	ct.lastModified = now
	ct.changeSeq = mb.seq
}

// removeContact deletes ct, leaving a tombstone for delta. Caller holds mu.
func (mb *mailbox) removeContact(ct *contact, now time.Time) {
	mb.bumpContact(ct, now)
	ct.deleted = true
	delete(mb.pim.byContID, ct.id)
	mb.notifyContact(changeTypeDeleted, ct)
}

// contactByRef resolves a contact id. Caller holds mu.
func (mb *mailbox) contactByRef(ref string) (*contact, *graphError) {
	if ct := mb.pim.byContID[ref]; ct != nil {
		return ct, nil
	}
	if !looksLikeGraphID(ref) {
		return nil, errIDMalformed()
	}
	return nil, errItemNotFound()
}

// sortEventsByStart orders round items by start, then key (stable output).
func sortByStart(items []roundItem) {
	start := func(it *roundItem) time.Time {
		if !it.occStart.IsZero() {
			return it.occStart
		}
		if it.event != nil {
			return it.event.start
		}
		return time.Time{}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := start(&items[i]), start(&items[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return items[i].event != nil && items[j].event != nil && items[i].event.key < items[j].event.key
	})
}
