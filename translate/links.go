package translate

// This file checks the links Graph hands back (@odata.nextLink,
// @odata.deltaLink) before they are sealed and later followed with the
// device's token.

// maxLinkLen bounds a link we seal.
const maxLinkLen = 8 << 10

// relativeLink checks an absolute link from Graph and returns its path and
// query relative to the configured base path (starting with "/"). The link
// must start with exactly the configured scheme://host (case-insensitive)
// followed by the base path and "/": no user info, no other port spelling,
// no other host, scheme or base path. It must be printable ASCII without
// spaces, '#' or '\', and its path must hold no dot-segments and must not
// start with an empty segment: "/v1.0//evil.example/x" would become the
// scheme-relative url "//evil.example/x" of a $batch item.
func (t *Translator) relativeLink(link string) (string, bool) {
	if len(link) > maxLinkLen {
		return "", false
	}
	authority := len(t.scheme) + len("://") + len(t.host)
	if len(link) <= len(t.linkPrefix) || !equalFoldASCII(link[:authority], t.linkPrefix[:authority]) ||
		link[authority:len(t.linkPrefix)] != t.linkPrefix[authority:] {
		return "", false
	}
	rel := link[len(t.linkPrefix)-1:]
	if len(rel) > 1 && rel[1] == '/' || !validRelativeLink(rel) {
		return "", false
	}
	return rel, true
}

// validRelativeLink reports whether rel is a safe "/path[?query]": printable
// ASCII without spaces, '#' or '\', no dot-segment (also percent-encoded) in
// the path.
func validRelativeLink(rel string) bool {
	if len(rel) < 2 || len(rel) > maxLinkLen || rel[0] != '/' {
		return false
	}
	inPath := true
	segStart := 1
	for i := 1; i <= len(rel); i++ {
		if i < len(rel) {
			c := rel[i]
			if c <= ' ' || c >= 0x7f || c == '#' || c == '\\' {
				return false
			}
			if !inPath || (c != '/' && c != '?') {
				continue
			}
		} else if !inPath {
			break
		}
		if isDotSegment(rel[segStart:i]) {
			return false
		}
		segStart = i + 1
		if i < len(rel) && rel[i] == '?' {
			inPath = false
		}
	}
	return true
}

// isDotSegment reports whether seg is "." or "..", literally or percent-encoded.
func isDotSegment(seg string) bool {
	dots := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case i+2 < len(seg) && seg[i] == '%' && seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
			i += 3
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}
