package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// This file serves $search on message lists, a small part of KQL as Graph
// documents it: $search="<query>" (the outer double quotes may be left out
// for a single word), where the query is whitespace-separated terms, each
// optionally restricted by subject:, body: or from:, and "quoted phrases"
// (\" and \\ escape a quote and a backslash inside the outer quotes). A
// term without a property matches subject, body and from (name or address);
// every term must match, case-insensitively, as a substring. Results come
// newest sent first. $search cannot be combined with $filter.

// maxSearchLength bounds a $search value.
const maxSearchLength = 1024

// searchTerm is one term of a query.
type searchTerm struct {
	property string // "", "subject", "body" or "from"
	text     string // lower case
}

func errSearchSyntax() *graphError {
	return newError(http.StatusBadRequest, "BadRequest", "Syntax error: the $search query is not valid.")
}

// parseSearch parses a $search value; nil terms and no error means absent.
func parseSearch(value string, present bool) ([]searchTerm, *graphError) {
	if !present {
		return nil, nil
	}
	if len(value) > maxSearchLength {
		return nil, errSearchSyntax()
	}
	v := strings.TrimSpace(value)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			ch := inner[i]
			if ch == '\\' {
				if i+1 >= len(inner) {
					return nil, errSearchSyntax()
				}
				i++
				ch = inner[i]
				if ch == '"' {
					// An escaped quote is a literal character of a term,
					// marked so the tokenizer does not take it as a phrase.
					b.WriteByte(0)
					continue
				}
				b.WriteByte(ch)
				continue
			}
			b.WriteByte(ch)
		}
		v = b.String()
	} else if strings.ContainsAny(v, "\" \t") {
		return nil, errSearchSyntax()
	}
	var terms []searchTerm
	for i := 0; i < len(v); {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i >= len(v) {
			break
		}
		start := i
		prop := ""
		if k := strings.IndexAny(v[i:], ": \t\""); k > 0 && v[i+k] == ':' {
			switch p := strings.ToLower(v[i : i+k]); p {
			case "subject", "body", "from":
				prop = p
				i += k + 1
			}
		}
		var text string
		if i < len(v) && v[i] == '"' {
			end := strings.IndexByte(v[i+1:], '"')
			if end < 0 {
				return nil, errSearchSyntax()
			}
			text = v[i+1 : i+1+end]
			i += end + 2
		} else {
			j := i
			for j < len(v) && v[j] != ' ' && v[j] != '\t' {
				j++
			}
			text = v[i:j]
			i = j
		}
		text = strings.ReplaceAll(text, "\x00", `"`)
		if text == "" {
			if prop != "" || i == start {
				return nil, errSearchSyntax()
			}
			continue
		}
		terms = append(terms, searchTerm{property: prop, text: strings.ToLower(text)})
	}
	if len(terms) == 0 {
		return nil, errSearchSyntax()
	}
	return terms, nil
}

// searchMatches reports whether m matches every term.
func searchMatches(m *message, terms []searchTerm) bool {
	for _, t := range terms {
		subject := strings.Contains(strings.ToLower(m.subject), t.text)
		body := strings.Contains(strings.ToLower(m.bodyText), t.text)
		from := strings.Contains(strings.ToLower(m.from.name), t.text) || strings.Contains(strings.ToLower(m.from.address), t.text)
		var ok bool
		switch t.property {
		case "subject":
			ok = subject
		case "body":
			ok = body
		case "from":
			ok = from
		default:
			ok = subject || body || from
		}
		if !ok {
			return false
		}
	}
	return true
}

// searchMessages returns the messages of msgs matching terms, newest sent
// first, in a new slice.
func searchMessages(msgs []*message, terms []searchTerm) []*message {
	var out []*message
	for _, m := range msgs {
		if searchMatches(m, terms) {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].sent.Equal(out[j].sent) {
			return out[i].sent.After(out[j].sent)
		}
		return out[i].key > out[j].key
	})
	return out
}
