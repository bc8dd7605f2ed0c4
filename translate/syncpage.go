package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// This file translates one delta page (folders.sync, mail.sync,
// calendar.sync, contacts.sync) in a single validating pass: the page object
// is walked once with a jreader, every byte it passes is checked, the links
// are captured and each mail item is written in device form as it is read.
// For a direct call the page is the whole upstream body, which nothing has
// validated before: a malformed page sets p.answerInvalid and Respond answers
// the envelope-level upstream_error, as for any other malformed answer.

// appendSyncData writes {"changes":[…],"state":"…","more":bool} for one delta page.
func (p *Plan) appendSyncData(b []byte, c *command, page gjson.Result) ([]byte, Error) {
	malformed := Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamMalformed}
	r := jreader{s: page.Raw, max: maxUpstreamDepth}
	if !r.enter('{') {
		p.answerInvalid = r.bad
		return b, malformed
	}
	b = append(b, `{"changes":[`...)
	changesAt := len(b)
	var next, delta gjson.Result
	var fail Error
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "value":
			// A repeated "value" member: the last one counts.
			b = b[:changesAt]
			b, fail = p.appendChanges(b, c, &r)
		case "@odata.nextLink":
			next = r.value()
		case "@odata.deltaLink":
			delta = r.value()
		default:
			r.skip()
		}
	}
	if !r.end() {
		p.answerInvalid = true
		return b, malformed
	}
	if fail.Code != "" {
		return b, fail
	}
	link, more := next, true
	if link.Type != gjson.String {
		link, more = delta, false
	}
	if link.Type != gjson.String {
		return b, Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamNoLink}
	}
	rel, ok := p.t.relativeLink(jsonStr(link))
	if !ok {
		return b, Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamBadLink}
	}
	b = append(b, `],"state":"`...)
	if p.scratch == nil {
		p.scratch = getBuf()
	}
	b = p.t.sealState(b, p.scratch, c.op, c.scope, c.window, c.fields, rel)
	b = append(b, `","more":`...)
	b = appendBool(b, more)
	return append(b, '}'), Error{}
}

// appendChanges writes the changes of the page's value array, read from r.
func (p *Plan) appendChanges(b []byte, c *command, r *jreader) ([]byte, Error) {
	malformed := Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamMalformed}
	if c.op != opMailSync {
		value := r.value()
		if !value.IsArray() {
			return b, malformed
		}
		if c.op == opCalendarSync || c.op == opContactsSync {
			return appendPIMChanges(b, c.op, value)
		}
		return appendFolderChanges(b, value), Error{}
	}
	if !r.enter('[') {
		return b, malformed
	}
	var vals messageValues
	nf := &p.nested
	n := 0
	for k := 0; r.more(']', k); k++ {
		if !r.enter('{') {
			continue // not an object: skipped
		}
		removed := collectMessageFrom(r, &vals, nf, c.fields)
		if vals[mfID].Type != gjson.String {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		if removed {
			b = append(b, `{"op":"delete","id":`...)
			b = appendStringToken(b, vals[mfID])
			b = append(b, '}')
			continue
		}
		b = append(b, `{"op":"upsert","message":`...)
		b = appendMessageNested(b, &vals, nf, c.fields)
		b = append(b, '}')
	}
	return b, Error{}
}

// collectMessageFrom reads the members of the message object r has entered:
// the scalar fields into vals, the nested fields of set written into nf, and
// reports whether it carries @removed.
func collectMessageFrom(r *jreader, vals *messageValues, nf *nestedFields, set fieldSet) (removed bool) {
	*vals = messageValues{}
	nf.reset()
	for k := 0; r.more('}', k); k++ {
		key := r.key()
		s := messageSlot(key)
		switch {
		case s < 0:
			if key == "@removed" {
				removed = true
			}
			r.skip()
		case isNestedField(s):
			if set&(1<<s) != 0 {
				nf.read(s, r)
			} else {
				r.skip()
			}
		default:
			vals[s] = r.value()
		}
	}
	return removed
}

// appendFolderChanges writes the changes of a folders delta page's value array.
func appendFolderChanges(b []byte, value gjson.Result) []byte {
	var vals folderValues
	n := 0
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendFolderChange(b, item, &vals); ok {
			n++
		} else {
			b = b[:mark]
		}
		return true
	})
	return b
}

// directSyncPage reports whether the one command of a direct call is a sync
// op, whose page appendSyncData validates while translating it.
func (p *Plan) directSyncPage() bool {
	for i := 0; i < p.n; i++ {
		if c := &p.cmds[i]; c.err == nil {
			return c.op.isSync()
		}
	}
	return false
}
