package translate

import (
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// This file holds mail.search (docs/device-api.md §9; its row is in table.go):
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

// parseSearchArgs validates mail.search's fields and query; parseArgs
// handles its window and state.
func parseSearchArgs(c *command, a *argValues) *Error {
	if err := withMessageFields(c, a, messageFieldsSyncDefault); err != nil {
		return err
	}
	if !a.query.Exists() {
		return invalidArgs(msgMissingQuery)
	}
	if a.query.Type != gjson.String || !validSearchQuery(a.query.Str) {
		return invalidArgs(msgBadQuery)
	}
	c.search = a.query.Str
	return nil
}

// searchScope binds a mail.search state to its mailbox and query. The
// continuation link holds $search, $top and $select of the first call.
func searchScope(c *command) string { return lowerASCII(c.mailbox) + "\x00" + c.search }

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

func searchPath(b []byte, _ *command) []byte { return append(b, "/messages"...) }

// searchQuery appends $search=…&$top=…&$select=… for the first call.
func searchQuery(b []byte, c *command) []byte {
	b = append(b, "$search="...)
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
func (p *Plan) appendSearchData(b []byte, c *command, page gjson.Result) ([]byte, *Error) {
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
		return b, upstreamMalformed()
	}
	rel := ""
	if next.Exists() && next.Type != gjson.Null {
		var ok bool
		if next.Type != gjson.String {
			return b, upstreamMalformed()
		}
		if rel, ok = p.t.relativeLink(next.Str); !ok {
			return b, upstreamBadLink()
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
		b = p.t.sealState(b, p.scratch, c.op, c.ident, c.scope, c.window, c.fields, rel)
		b = append(b, '"')
	}
	b = append(b, `,"more":`...)
	b = appendBool(b, rel != "")
	return append(b, '}'), nil
}
