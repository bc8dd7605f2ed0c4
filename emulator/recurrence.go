package emulator

import (
	"sort"
	"time"
)

// This file expands series masters into occurrences (daily and weekly
// patterns with endDate, numbered or noEnd ranges). The series master's
// start and end are those of its first occurrence; every occurrence has the
// master's time of day and duration.

// maxExpansion bounds the occurrences one series expands to per request.
const maxExpansion = 5000

const day = 24 * time.Hour

// eachPatternStart calls fn with each original start of m's pattern, in
// order, before until; it stops when fn returns false.
func (m *event) eachPatternStart(until time.Time, fn func(time.Time) bool) {
	r := m.recurrence
	if r == nil {
		return
	}
	interval := max(r.interval, 1)
	timeOfDay := m.start.Sub(m.start.Truncate(day))
	startDate := r.startDate
	if startDate.IsZero() {
		startDate = m.start.Truncate(day)
	}
	n := 0
	emit := func(d time.Time) bool {
		if r.rangeType == "endDate" && d.After(r.endDate) {
			return false
		}
		if r.rangeType == "numbered" && n >= r.count {
			return false
		}
		s := d.Add(timeOfDay)
		if !s.Before(until) || n >= maxExpansion {
			return false
		}
		n++
		return fn(s)
	}
	switch r.pattern {
	case "daily":
		for d := startDate; ; d = d.Add(time.Duration(interval) * day) {
			if !emit(d) {
				return
			}
		}
	case "weekly":
		days := append([]time.Weekday(nil), r.daysOfWeek...)
		if len(days) == 0 {
			days = []time.Weekday{startDate.Weekday()}
		}
		sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
		weekStart := startDate.Add(-time.Duration(startDate.Weekday()) * day) // Sunday
		for w := weekStart; ; w = w.Add(time.Duration(7*interval) * day) {
			for _, wd := range days {
				d := w.Add(time.Duration(wd) * day)
				if d.Before(startDate) {
					continue
				}
				if !emit(d) {
					return
				}
			}
		}
	}
}

// isOccurrenceStart reports whether t is an original start of m's pattern.
func (m *event) isOccurrenceStart(t time.Time) bool {
	found := false
	m.eachPatternStart(t.Add(time.Second), func(s time.Time) bool {
		if s.Equal(t) {
			found = true
			return false
		}
		return true
	})
	return found
}

// overlaps reports whether [s, e) meets the window [ws, we); a zero-length
// event counts when it starts inside the window.
func overlaps(s, e, ws, we time.Time) bool {
	if !s.Before(we) {
		return false
	}
	return e.After(ws) || (s.Equal(e) && !s.Before(ws))
}

// seriesInstances lists the instances of master m in the window: occurrence
// stubs (item.occStart set) and exceptions (item.event the exception), in
// start order. Cancelled occurrences are left out.
func seriesInstances(m *event, ws, we time.Time) []roundItem {
	var out []roundItem
	dur := m.span()
	m.eachPatternStart(we, func(os time.Time) bool {
		if _, gone := m.cancelled[os.Unix()]; gone {
			return true
		}
		if _, exc := m.exceptions[os.Unix()]; exc {
			return true
		}
		if overlaps(os, os.Add(dur), ws, we) {
			out = append(out, roundItem{event: m, occStart: os})
		}
		return true
	})
	for _, x := range m.exceptions {
		if !x.deleted && overlaps(x.start, x.end, ws, we) {
			out = append(out, roundItem{event: x})
		}
	}
	sortByStart(out)
	return out
}

// eventInWindow reports whether a single event or exception meets the window.
func eventInWindow(e *event, ws, we time.Time) bool { return overlaps(e.start, e.end, ws, we) }
