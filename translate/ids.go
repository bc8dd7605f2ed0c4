package translate

// This file checks every identifier a device can send before it goes near an
// upstream path, and escapes path segments.

const (
	maxCommandIDLen = 64
	maxGraphIDLen   = 512
	maxMailboxLen   = 320
)

// validCommandID reports whether s is 1–64 characters of [A-Za-z0-9._-].
func validCommandID(s string) bool {
	if len(s) == 0 || len(s) > maxCommandIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validGraphID reports whether s looks like a Graph id: URL-safe base64
// characters [A-Za-z0-9_=+-], 1–512 of them.
func validGraphID(s string) bool {
	if len(s) == 0 || len(s) > maxGraphIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '=' && c != '+' && c != '-' {
			return false
		}
	}
	return true
}

// wellKnownFolders are the folder names docs/device-api.md §5 accepts in place of an id.
var wellKnownFolders = [...]string{"inbox", "drafts", "sentitems", "deleteditems", "archive", "junkemail", "outbox"}

// normalizeFolder checks a folder argument. A well-known name is matched
// case-insensitively and returned in lower case; anything else must be a Graph id
// and is returned unchanged (ids are case-sensitive).
func normalizeFolder(s string) (string, bool) {
	for _, w := range wellKnownFolders {
		if equalFoldASCII(s, w) {
			return w, true
		}
	}
	return s, validGraphID(s)
}

// validMailbox reports whether s is a user principal name
// ([A-Za-z0-9'._!#^~+-]+@[A-Za-z0-9.-]+) or an object id GUID.
func validMailbox(s string) bool {
	if len(s) == 0 || len(s) > maxMailboxLen {
		return false
	}
	if isGUID(s) {
		return true
	}
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 || at == len(s)-1 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if isAlnum(c) {
			continue
		}
		switch c {
		case '\'', '.', '_', '!', '#', '^', '~', '+', '-':
			continue
		}
		return false
	}
	for i := at + 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isGUID reports whether s is 8-4-4-4-12 hexadecimal digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// pathSegmentSafe reports whether c may appear unescaped in a path segment we
// build. It is a subset of RFC 3986 pchar: unreserved characters, '@' and '='.
// Everything else, '+' included, is percent-encoded.
func pathSegmentSafe(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@' || c == '='
}

// appendPathSegment appends s as one escaped path segment. A segment of only
// dots is fully escaped so it can never act as a dot-segment.
func appendPathSegment(dst []byte, s string) []byte {
	allDots := len(s) > 0
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			allDots = false
			break
		}
	}
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSegmentSafe(c) && !(allDots && c == '.') {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// equalFoldASCII compares ASCII strings case-insensitively without allocating.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lowerASCII returns s with ASCII letters in lower case (allocates only when needed).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
