package translate

import "github.com/tidwall/gjson"

// This file translates one delta page (the answer of every opDelta op) in a
// single validating pass: the page object is walked once with a jreader,
// every byte it passes is checked, the links are captured and the op's
// changes writer (opSpec.changes) writes the items of value as it reads them.
// For a direct call the page is the whole upstream body, which nothing has
// validated before: a malformed page sets p.answerInvalid and Respond answers
// the envelope-level upstream_error, as for any other malformed answer.

// appendSyncData writes {"changes":[…],"state":"…","more":bool} for one delta page.
func (p *Plan) appendSyncData(b []byte, c *command, page gjson.Result) ([]byte, *Error) {
	r := &p.work().reader
	*r = jreader{s: page.Raw, max: maxUpstreamDepth}
	if !r.enter('{') {
		p.answerInvalid = r.bad
		return b, upstreamMalformed()
	}
	b = append(b, `{"changes":[`...)
	changesAt := len(b)
	var next, delta gjson.Result
	var fail *Error
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "value":
			// A repeated "value" member: the last one counts.
			b = b[:changesAt]
			b, fail = c.op.spec().changes(p, b, c, r)
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
		return b, upstreamMalformed()
	}
	if fail != nil {
		return b, fail
	}
	link, more := next, true
	if link.Type != gjson.String {
		link, more = delta, false
	}
	if link.Type != gjson.String {
		return b, upstreamNoLink()
	}
	rel, ok := p.t.relativeLink(jsonStr(link))
	if !ok {
		return b, upstreamBadLink()
	}
	if keep := c.op.spec().sealLink; keep != nil {
		rel = keep(rel)
	}
	b = append(b, `],"state":"`...)
	if p.scratch == nil {
		p.scratch = getBuf()
	}
	b = p.t.sealState(b, p.scratch, c.op, c.ident, c.scope, c.window, c.fields, rel)
	b = append(b, `","more":`...)
	b = appendBool(b, more)
	return append(b, '}'), nil
}
