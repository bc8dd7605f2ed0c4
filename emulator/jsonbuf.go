package emulator

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// bufPool recycles page buffers; buffers above maxPooledBuf are dropped
// so the pool stays bounded.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledBuf = 4 << 20

// pooledBuf returns an empty jsonBuf backed by a pooled buffer; give it
// back with release once its bytes are written out.
func pooledBuf() *jsonBuf {
	return &jsonBuf{b: (*bufPool.Get().(*[]byte))[:0]}
}

// release returns the buffer to the pool; j must not be used afterwards.
func (j *jsonBuf) release() {
	if cap(j.b) <= maxPooledBuf {
		b := j.b[:0]
		bufPool.Put(&b)
	}
	j.b = nil
}

// safeASCII marks bytes that need no escaping in JSON strings.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonString returns s encoded as a JSON string.
func jsonString(s string) []byte {
	var j jsonBuf
	j.str(s)
	return j.b
}

// jsonBuf appends JSON text without building intermediate values, so a page
// of messages is rendered in one pass.
type jsonBuf struct {
	b []byte
}

func (j *jsonBuf) raw(s string)      { j.b = append(j.b, s...) }
func (j *jsonBuf) rawBytes(p []byte) { j.b = append(j.b, p...) }
func (j *jsonBuf) byte1(c byte)      { j.b = append(j.b, c) }

func (j *jsonBuf) int(n int) { j.b = strconv.AppendInt(j.b, int64(n), 10) }

func (j *jsonBuf) bool(v bool) { j.b = strconv.AppendBool(j.b, v) }

// time writes t as Graph does: UTC, seconds precision, "Z" suffix.
func (j *jsonBuf) time(t time.Time) {
	j.b = append(j.b, '"')
	j.b = t.UTC().AppendFormat(j.b, "2006-01-02T15:04:05Z")
	j.b = append(j.b, '"')
}

const hexDigits = "0123456789abcdef"

// str writes s as a JSON string. Invalid UTF-8 becomes U+FFFD; U+2028 and
// U+2029 are escaped; HTML characters are not (Graph does not escape them).
func (j *jsonBuf) str(s string) {
	b := append(j.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	j.b = append(b, '"')
}

// key writes `"name":`, preceded by a comma unless first is set.
func (j *jsonBuf) key(name string, first *bool) {
	if !*first {
		j.b = append(j.b, ',')
	}
	*first = false
	j.b = append(j.b, '"')
	j.b = append(j.b, name...)
	j.b = append(j.b, '"', ':')
}

// entityHead opens an Outlook item object the way Graph starts one:
// @odata.context (when given), @odata.type (when asked for; odataType is
// the quoted type name), @odata.etag over the change key, then id.
func (b *jsonBuf) entityHead(first *bool, context string, withType bool, odataType, changeKey, id string) {
	b.byte1('{')
	if context != "" {
		b.key("@odata.context", first)
		b.str(context)
	}
	if withType {
		b.key("@odata.type", first)
		b.raw(odataType)
	}
	b.key("@odata.etag", first)
	b.str(`W/"` + changeKey + `"`)
	b.key("id", first)
	b.str(id)
}
