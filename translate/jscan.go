package translate

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// This file holds the validating JSON scanner of the hot path: one pass over
// the upstream bytes that checks the grammar (the same grammar as
// encoding/json's Valid), counts nesting on the way (no separate depth pass)
// and hands the translator each value it asks for. Strings are searched for
// their end eight bytes at a time.
//
// The one intended difference from json.Valid: nesting deeper than the given
// limit (maxUpstreamDepth for Graph answers) is rejected. Like json.Valid, the
// scanner does not check that string bytes are valid UTF-8.

// validJSON reports whether s is exactly one JSON value (surrounding
// whitespace allowed) nested at most maxDepth deep.
func validJSON(s string, maxDepth int) bool {
	i := skipSpace(s, 0)
	end := skipValid(s, i, 0, maxDepth)
	return end >= 0 && skipSpace(s, end) == len(s)
}

// swar constants: a byte repeated in every lane of a uint64.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// stringEnd returns the index just past the JSON string token that starts at
// s[i] (a '"'), validating its escapes and rejecting control characters, or -1.
func stringEnd(s string, i int) int {
	end, _ := stringEndEsc(s, i)
	return end
}

// stringEndEsc is stringEnd that also reports whether the token holds escapes.
func stringEndEsc(s string, i int) (end int, escaped bool) {
	j := i + 1
	n := len(s)
	for {
		// Eight bytes at a time: stop at the first '"', '\\' or byte < 0x20.
		for j+8 <= n {
			if m := specialLanes(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[j:]), 8))); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < n && stringPlain[s[j]] {
			j++
		}
		if j >= n {
			return -1, false
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, escaped
		case c == '\\':
			escaped = true
			if j+1 >= n {
				return -1, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > n || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) || !isHex(s[j+5]) {
					return -1, false
				}
				j += 6
			default:
				return -1, false
			}
		default: // a control character
			return -1, false
		}
	}
}

// specialLanes returns a mask with the high bit set in (at least) the lowest
// byte lane of x holding '"', '\\' or a byte < 0x20, and zero when there is
// none. Lanes above the first set one may be set spuriously (borrows), so
// only the lowest set lane is meaningful; bytes >= 0x80 are never special.
func specialLanes(x uint64) uint64 {
	q := x ^ (lanes01 * '"')
	bs := x ^ (lanes01 * '\\')
	m := ((q - lanes01) &^ q) | ((bs - lanes01) &^ bs) | (x - lanes01*0x20)
	return m & (lanes80 &^ x)
}

// stringPlain marks the bytes that may appear unescaped in a JSON string
// and do not end or escape it.
var stringPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// numberEnd returns the index just past the JSON number that starts at s[i], or -1.
func numberEnd(s string, i int) int {
	n := len(s)
	if i < n && s[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return -1
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i++
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < n && s[i] == '.' {
		i++
		if i >= n || s[i] < '0' || s[i] > '9' {
			return -1
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= n || s[i] < '0' || s[i] > '9' {
			return -1
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i
}

// skipValid validates the value starting at s[i] (no leading whitespace),
// nested inside depth levels already, and returns the index just past it, or
// -1 when it is malformed or nests deeper than maxDepth. It is iterative: a
// bit stack (1 = object) remembers the open containers, so maxDepth - depth
// must not exceed 64.
func skipValid(s string, i, depth, maxDepth int) int {
	var stack uint64
	open := 0
	n := len(s)
	for {
		// A value is expected at s[i].
		if i >= n {
			return -1
		}
		switch c := s[i]; c {
		case '"':
			if i = stringEnd(s, i); i < 0 {
				return -1
			}
		case '{', '[':
			if depth+open >= maxDepth || open >= 64 {
				return -1
			}
			open++
			stack <<= 1
			j := skipSpace(s, i+1)
			if j >= n {
				return -1
			}
			if c == '[' {
				if s[j] != ']' {
					i = j
					continue
				}
			} else {
				stack |= 1
				if s[j] != '}' {
					if j = memberValue(s, j); j < 0 {
						return -1
					}
					i = j
					continue
				}
			}
			// An empty container.
			i = j + 1
			open--
			stack >>= 1
		case 't':
			if !strings.HasPrefix(s[i:], "true") {
				return -1
			}
			i += 4
		case 'f':
			if !strings.HasPrefix(s[i:], "false") {
				return -1
			}
			i += 5
		case 'n':
			if !strings.HasPrefix(s[i:], "null") {
				return -1
			}
			i += 4
		default:
			if i = numberEnd(s, i); i < 0 {
				return -1
			}
		}
		// After a value: close containers or move to the next value.
		for {
			if open == 0 {
				return i
			}
			i = skipSpace(s, i)
			if i >= n {
				return -1
			}
			c := s[i]
			if stack&1 == 1 {
				if c == '}' {
					i++
					open--
					stack >>= 1
					continue
				}
				if c != ',' {
					return -1
				}
				if i = memberValue(s, skipSpace(s, i+1)); i < 0 {
					return -1
				}
				break
			}
			if c == ']' {
				i++
				open--
				stack >>= 1
				continue
			}
			if c != ',' {
				return -1
			}
			i = skipSpace(s, i+1)
			break
		}
	}
}

// memberValue reads a member's key and colon starting at s[i] and returns the
// index of its value (whitespace skipped), or -1.
func memberValue(s string, i int) int {
	if i >= len(s) || s[i] != '"' {
		return -1
	}
	if i = stringEnd(s, i); i < 0 {
		return -1
	}
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != ':' {
		return -1
	}
	return skipSpace(s, i+1)
}

// jreader walks a JSON text with validation: the translator asks for the
// members and elements it wants and skips the rest, and every byte it passes
// is checked. The first error sets bad; afterwards every call fails.
type jreader struct {
	s     string
	i     int
	depth int // open containers
	max   int // depth limit
	bad   bool
}

func (r *jreader) fail() bool {
	r.bad = true
	r.i = len(r.s)
	return false
}

// enter consumes the opening bracket open ('{' or '[') of the value at the
// current position; false (bad unless the value is of another valid kind,
// which is skipped) when the value is not such a container.
func (r *jreader) enter(open byte) bool {
	if r.bad {
		return false
	}
	i := skipSpace(r.s, r.i)
	if i >= len(r.s) {
		return r.fail()
	}
	if r.s[i] != open {
		r.i = i
		r.skip()
		return false
	}
	if r.depth >= r.max {
		return r.fail()
	}
	r.depth++
	r.i = i + 1
	return true
}

// more reports whether another member or element of the container entered
// last follows (n is how many were read so far); at the closing bracket close
// it consumes it and returns false.
func (r *jreader) more(close byte, n int) bool {
	if r.bad {
		return false
	}
	i := skipSpace(r.s, r.i)
	if i >= len(r.s) {
		return r.fail()
	}
	if r.s[i] == close {
		r.i = i + 1
		r.depth--
		return false
	}
	if n > 0 {
		if r.s[i] != ',' {
			return r.fail()
		}
		i = skipSpace(r.s, i+1)
	}
	r.i = i
	return true
}

// key reads a member's key and colon; the key is unescaped (this allocates
// only for a key holding escapes, which Graph never sends).
func (r *jreader) key() string {
	if r.bad {
		return ""
	}
	i := r.i
	if i >= len(r.s) || r.s[i] != '"' {
		r.fail()
		return ""
	}
	end, esc := stringEndEsc(r.s, i)
	if end < 0 {
		r.fail()
		return ""
	}
	j := end
	if j < len(r.s) && r.s[j] != ':' {
		j = skipSpace(r.s, j)
	}
	if j >= len(r.s) || r.s[j] != ':' {
		r.fail()
		return ""
	}
	r.i = j + 1
	if esc {
		return tokenString(r.s[i:end])
	}
	return r.s[i+1 : end-1]
}

// value reads and validates the value at the current position. A String
// result's Str is set only when the token holds no escapes (use jsonStr).
func (r *jreader) value() gjson.Result {
	if r.bad {
		return gjson.Result{}
	}
	s, i := r.s, skipSpace(r.s, r.i)
	if i >= len(s) {
		r.fail()
		return gjson.Result{}
	}
	var res gjson.Result
	switch c := s[i]; {
	case c == '"':
		end, esc := stringEndEsc(s, i)
		if end < 0 {
			r.fail()
			return res
		}
		res = gjson.Result{Type: gjson.String, Raw: s[i:end]}
		if !esc {
			res.Str = res.Raw[1 : len(res.Raw)-1]
		}
		r.i = end
		return res
	case c == '{' || c == '[':
		res.Type = gjson.JSON
	case c == 't':
		res.Type = gjson.True
	case c == 'f':
		res.Type = gjson.False
	case c == 'n':
		res.Type = gjson.Null
	default:
		res.Type = gjson.Number
	}
	end := skipValid(s, i, r.depth, r.max)
	if end < 0 {
		r.fail()
		return gjson.Result{}
	}
	res.Raw = s[i:end]
	if res.Type == gjson.Number {
		res.Num, _ = strconv.ParseFloat(res.Raw, 64)
	}
	r.i = end
	return res
}

// skip validates and passes over the value at the current position.
func (r *jreader) skip() {
	if r.bad {
		return
	}
	i := skipSpace(r.s, r.i)
	if i < len(r.s) && r.s[i] == '"' {
		if r.i = stringEnd(r.s, i); r.i < 0 {
			r.fail()
		}
		return
	}
	if r.i = skipValid(r.s, i, r.depth, r.max); r.i < 0 {
		r.fail()
	}
}

// stringToken reads the value at the current position and returns it when
// it is a string (the token, quotes and escapes included), else "" (the
// value is validated and skipped).
func (r *jreader) stringToken() string {
	if r.bad {
		return ""
	}
	i := skipSpace(r.s, r.i)
	if i >= len(r.s) || r.s[i] != '"' {
		r.i = i
		r.skip()
		return ""
	}
	end := stringEnd(r.s, i)
	if end < 0 {
		r.fail()
		return ""
	}
	r.i = end
	return r.s[i:end]
}

// end validates that only whitespace follows the top-level value.
func (r *jreader) end() bool {
	return !r.bad && r.depth == 0 && skipSpace(r.s, r.i) == len(r.s)
}
