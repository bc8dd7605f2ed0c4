package translate

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// This file holds the JSON reader helpers for the hot path (the items of a
// delta page). gjson's ForEach unescapes every string value it passes over,
// which allocates for each escaped string (etags, previews with quotes…);
// device output copies string tokens verbatim and never needs that. These
// helpers walk an object or array that gjson.Valid has already accepted and
// yield gjson.Results whose String values are NOT unescaped when they hold
// escapes: use jsonStr to read a string's content.

// eachMember calls fn for each member of the JSON object raw (already
// validated), stopping when fn returns false. Keys are unescaped (Graph
// never escapes its member names, so this does not allocate in practice).
func eachMember(raw string, fn func(key string, val gjson.Result) bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return
		}
		kend := scanString(raw, i)
		if kend < 0 {
			return
		}
		key := tokenString(raw[i:kend])
		i = skipSpace(raw, kend)
		if i >= len(raw) || raw[i] != ':' {
			return
		}
		i = skipSpace(raw, i+1)
		val, end := scanValue(raw, i)
		if end < 0 {
			return
		}
		if !fn(key, val) {
			return
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i++
	}
}

// eachElement calls fn for each element of the JSON array raw (already
// validated), stopping when fn returns false.
func eachElement(raw string, fn func(val gjson.Result) bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return
	}
	for {
		i = skipSpace(raw, i)
		val, end := scanValue(raw, i)
		if end < 0 {
			return
		}
		if !fn(val) {
			return
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i++
	}
}

// jsonStr returns the content of a String result (unescaped; allocates only
// when the token holds escapes), or "" for any other type.
func jsonStr(r gjson.Result) string {
	if r.Type != gjson.String {
		return ""
	}
	return tokenString(r.Raw)
}

// tokenString unescapes a JSON string token (with its quotes).
func tokenString(tok string) string {
	if len(tok) < 2 {
		return ""
	}
	if strings.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1]
	}
	return gjson.Parse(tok).Str
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index just past the string token starting at s[i]
// ('"'), or -1. A quote ends the string unless an odd number of backslashes
// precedes it.
func scanString(s string, i int) int {
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		if !escapedQuote(s, i+1, j) {
			return j + 1
		}
		j++
	}
}

// escapedQuote reports whether the quote at s[q] is preceded by an odd number
// of backslashes after position start.
func escapedQuote(s string, start, q int) bool {
	n := 0
	for k := q - 1; k >= start && s[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// scanValue reads the value starting at s[i] and returns it with the index
// just past it, or end -1 when s is not well-formed there.
func scanValue(s string, i int) (gjson.Result, int) {
	if i >= len(s) {
		return gjson.Result{}, -1
	}
	switch c := s[i]; {
	case c == '"':
		end := scanString(s, i)
		if end < 0 {
			return gjson.Result{}, -1
		}
		r := gjson.Result{Type: gjson.String, Raw: s[i:end]}
		if strings.IndexByte(r.Raw, '\\') < 0 {
			r.Str = r.Raw[1 : len(r.Raw)-1]
		}
		return r, end
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				end := scanString(s, j)
				if end < 0 {
					return gjson.Result{}, -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return gjson.Result{Type: gjson.JSON, Raw: s[i : j+1]}, j + 1
				}
			}
		}
		return gjson.Result{}, -1
	case strings.HasPrefix(s[i:], "true"):
		return gjson.Result{Type: gjson.True, Raw: s[i : i+4]}, i + 4
	case strings.HasPrefix(s[i:], "false"):
		return gjson.Result{Type: gjson.False, Raw: s[i : i+5]}, i + 5
	case strings.HasPrefix(s[i:], "null"):
		return gjson.Result{Type: gjson.Null, Raw: s[i : i+4]}, i + 4
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(s) {
			d := s[j]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				j++
				continue
			}
			break
		}
		f, _ := strconv.ParseFloat(s[i:j], 64)
		return gjson.Result{Type: gjson.Number, Raw: s[i:j], Num: f}, j
	}
	return gjson.Result{}, -1
}
