package translate

import (
	"net/http"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// This file holds mail.search (DEVICE_API.md §5):
//
//	GET {base}/me/messages?$search="{query}"&$top={window}&$select=…
//
// The query is one KQL phrase: inside the double quotes, '"' and '\' are
// escaped with a backslash, so no device input can end the phrase or change
// the query's structure; the whole value is then percent-encoded. Paging
// follows Graph's @odata.nextLink, sealed in a state bound to the op and the
// scope mailbox + query. Data: {"messages":[…],"state"?,"more"}.

// maxSearchQueryLen bounds mail.search's query, in bytes.
const maxSearchQueryLen = 512

// Messages of mail.search.
const (
	msgMissingQuery = "query is required"
	msgBadQuery     = "query must be 1-512 bytes of UTF-8 text without control characters"
)

// parseSearchArgs validates mail.search's query, window and state and sets
// the command's scope, window and (with a state) continuation link.
func (t *Translator) parseSearchArgs(c *command, a *argValues) *Error {
	if !a.query.Exists() {
		return invalidArgs(msgMissingQuery)
	}
	if a.query.Type != gjson.String || !validSearchQuery(a.query.Str) {
		return invalidArgs(msgBadQuery)
	}
	c.search = a.query.Str
	c.window = defaultWindow
	if a.window.Exists() {
		w, ok := parseWindow(a.window)
		if !ok {
			return invalidArgs(msgBadWindow)
		}
		c.window = w
	}
	c.scope = lowerASCII(c.mailbox) + "\x00" + c.search
	if !a.state.Exists() {
		return nil
	}
	if a.state.Type != gjson.String {
		return invalidArgs(msgBadStateArg)
	}
	rec, serr := t.openState(a.state.Str, c.op, c.scope)
	if serr != nil {
		return serr
	}
	// The link holds $search, $top and $select of the first call.
	c.link, c.window, c.fields = rec.link, rec.window, rec.fields
	return nil
}

// validSearchQuery accepts 1–512 bytes of valid UTF-8 without control
// characters and with at least one non-space character.
func validSearchQuery(s string) bool {
	if len(s) == 0 || len(s) > maxSearchQueryLen || !utf8.ValidString(s) {
		return false
	}
	blank := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
		if r != ' ' {
			blank = false
		}
	}
	return !blank
}

// appendSearchQuery appends ?$search=…&$top=…&$select=… for the first call.
func (c *command) appendSearchQuery(b []byte) []byte {
	b = append(b, "?$search="...)
	b = appendSearchValue(b, c.search)
	b = append(b, "&$top="...)
	b = appendInt(b, c.window)
	b = append(b, '&')
	return appendMessageSelect(b, c.fields)
}

// appendSearchValue appends the $search value for query: the KQL phrase
// "query" with '"' and '\' backslash-escaped, percent-encoded so that only
// [A-Za-z0-9-._~] stays literal.
func appendSearchValue(b []byte, query string) []byte {
	const upperHex = "0123456789ABCDEF"
	b = append(b, "%22"...)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, "%5C"...) // the KQL escape, itself encoded
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		case isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~':
			b = append(b, c)
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return append(b, "%22"...)
}

// appendSearchData writes {"messages":[…],"state"?,"more"} for one page of
// search results. A nextLink must pass the same checks as a sync link.
func (p *Plan) appendSearchData(b []byte, c *command, page gjson.Result) ([]byte, Error) {
	malformed := Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamMalformed}
	var value, next gjson.Result
	page.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "value":
			value = v
		case "@odata.nextLink":
			next = v
		}
		return true
	})
	if value.Exists() && !value.IsArray() {
		return b, malformed
	}
	rel := ""
	if next.Exists() && next.Type != gjson.Null {
		var ok bool
		if next.Type != gjson.String {
			return b, malformed
		}
		if rel, ok = p.t.relativeLink(next.Str); !ok {
			return b, Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamBadLink}
		}
	}
	b = append(b, `{"messages":[`...)
	n := 0
	var vals messageValues
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		collectMessage(item, &vals)
		if vals[mfID].Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, &vals, c.fields)
		n++
		return true
	})
	b = append(b, ']')
	if rel != "" {
		b = append(b, `,"state":"`...)
		if p.scratch == nil {
			p.scratch = getBuf()
		}
		b = p.t.sealState(b, p.scratch, c.op, c.scope, c.window, c.fields, rel)
		b = append(b, '"')
	}
	b = append(b, `,"more":`...)
	b = appendBool(b, rel != "")
	return append(b, '}'), Error{}
}

// appendAttachmentsData writes {"attachments":[{"id","name","type","size","inline"}]}
// from an attachments list; items without a string id are skipped, other
// absent or ill-typed values omitted.
func appendAttachmentsData(b []byte, body gjson.Result) ([]byte, Error) {
	value := body.Get("value")
	if value.Exists() && !value.IsArray() {
		return b, Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: msgUpstreamMalformed}
	}
	b = append(b, `{"attachments":[`...)
	n := 0
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		var id, name, typ, size, inline gjson.Result
		eachMember(item.Raw, func(k string, v gjson.Result) bool {
			switch k {
			case "id":
				id = v
			case "name":
				name = v
			case "contentType":
				typ = v
			case "size":
				size = v
			case "isInline":
				inline = v
			}
			return true
		})
		if id.Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		first := true
		b = append(b, '{')
		b = appendKey(b, &first, "id")
		b = appendStringToken(b, id)
		if name.Type == gjson.String {
			b = appendKey(b, &first, "name")
			b = appendStringToken(b, name)
		}
		if typ.Type == gjson.String {
			b = appendKey(b, &first, "type")
			b = appendStringToken(b, typ)
		}
		if size.Type == gjson.Number && size.Num >= 0 && size.Num <= 1<<53 && size.Num == float64(int64(size.Num)) {
			b = appendKey(b, &first, "size")
			b = appendInt(b, int(size.Num))
		}
		if inline.Type == gjson.True || inline.Type == gjson.False {
			b = appendKey(b, &first, "inline")
			b = appendBool(b, inline.Type == gjson.True)
		}
		b = append(b, '}')
		n++
		return true
	})
	return append(b, "]}"...), Error{}
}
