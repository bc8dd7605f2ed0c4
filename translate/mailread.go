package translate

// This file holds the writers of a message's nested fields (from, to, cc,
// bcc, flag, categories) that read their Graph value from a jreader: the
// single-pass sync translation calls them on the page's reader, mail.get and
// mail.search on a reader over the value already read. Each returns false,
// having appended nothing, when the value is absent, ill-typed or unusable,
// and the field is then omitted.

// isNestedField reports whether slot i has a nestedWriter.
func isNestedField(i int) bool {
	switch i {
	case mfFrom, mfTo, mfCc, mfBcc, mfFlag, mfCats:
		return true
	}
	return false
}

// writeNested dispatches to the writer of slot i.
func writeNested(i int, dst []byte, r *jreader) ([]byte, bool) {
	switch i {
	case mfFrom:
		return readPerson(dst, r)
	case mfTo, mfCc, mfBcc:
		return readRecipients(dst, r)
	case mfFlag:
		return readFlag(dst, r)
	case mfCats:
		return readStringArray(dst, r)
	}
	r.skip()
	return dst, false
}

// readPerson writes {"name","addr"} from a recipient {"emailAddress":{name,address}}
// (the first emailAddress member counts; within it the last name and
// address); false when neither is a string.
func readPerson(dst []byte, r *jreader) ([]byte, bool) {
	if !r.enter('{') {
		return dst, false
	}
	var name, addr string
	seen := false
	for k := 0; r.more('}', k); k++ {
		if r.key() != "emailAddress" || seen {
			r.skip()
			continue
		}
		seen = true
		if !r.enter('{') {
			continue
		}
		for k2 := 0; r.more('}', k2); k2++ {
			switch r.key() {
			case "name":
				name = r.stringToken()
			case "address":
				addr = r.stringToken()
			default:
				r.skip()
			}
		}
	}
	if r.bad || (name == "" && addr == "") {
		return dst, false
	}
	dst = append(dst, '{')
	if name != "" {
		dst = append(dst, `"name":`...)
		dst = append(dst, name...)
		if addr != "" {
			dst = append(dst, ',')
		}
	}
	if addr != "" {
		dst = append(dst, `"addr":`...)
		dst = append(dst, addr...)
	}
	return append(dst, '}'), true
}

// readRecipients writes an array of persons, skipping unusable entries;
// false when the value is not an array.
func readRecipients(dst []byte, r *jreader) ([]byte, bool) {
	if !r.enter('[') {
		return dst, false
	}
	dst = append(dst, '[')
	n := 0
	for k := 0; r.more(']', k); k++ {
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = readPerson(dst, r); ok {
			n++
		} else {
			dst = dst[:mark]
		}
	}
	return append(dst, ']'), !r.bad
}

// readStringArray writes the string elements of an array, skipping the
// others; false when the value is not an array.
func readStringArray(dst []byte, r *jreader) ([]byte, bool) {
	if !r.enter('[') {
		return dst, false
	}
	dst = append(dst, '[')
	n := 0
	for k := 0; r.more(']', k); k++ {
		tok := r.stringToken()
		if tok == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, tok...)
		n++
	}
	return append(dst, ']'), !r.bad
}

// readFlag writes the device flag ("none", "flagged", "complete") from
// Graph's followupFlag (its first flagStatus member); false when absent or
// of another value.
func readFlag(dst []byte, r *jreader) ([]byte, bool) {
	if !r.enter('{') {
		return dst, false
	}
	var st string
	seen := false
	for k := 0; r.more('}', k); k++ {
		if r.key() != "flagStatus" || seen {
			r.skip()
			continue
		}
		seen = true
		st = r.stringToken()
	}
	if r.bad || st == "" {
		return dst, false
	}
	switch tokenString(st) {
	case "notFlagged":
		return append(dst, `"none"`...), true
	case "flagged":
		return append(dst, `"flagged"`...), true
	case "complete":
		return append(dst, `"complete"`...), true
	}
	return dst, false
}

// nestedFields holds the device forms of a message's nested fields written
// by the single-pass reader, before the message is written in device order.
type nestedFields struct {
	buf  []byte
	span [numMessageFields]struct {
		start, end int
		ok         bool
	}
}

// maxPooledNested is the largest nestedFields buffer a released plan keeps.
const maxPooledNested = 64 << 10

// reset forgets the previous message's fields.
func (nf *nestedFields) reset() {
	nf.buf = nf.buf[:0]
	for _, i := range [...]int{mfFrom, mfTo, mfCc, mfBcc, mfFlag, mfCats} {
		nf.span[i].ok = false
	}
}

// read writes nested field i from r into nf.buf (the last occurrence counts).
func (nf *nestedFields) read(i int, r *jreader) {
	start := len(nf.buf)
	var ok bool
	nf.buf, ok = writeNested(i, nf.buf, r)
	sp := &nf.span[i]
	sp.start, sp.end, sp.ok = start, len(nf.buf), ok
}
