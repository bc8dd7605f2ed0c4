package emulator

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// htmlEnvelopeStart and htmlEnvelopeEnd wrap text converted to HTML the way
// Exchange renders HTML bodies.
const (
	htmlEnvelopeStart = "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><div>"
	htmlEnvelopeEnd   = "</div></body></html>"
)

// textToHTML converts a plain-text body to HTML.
func textToHTML(text string) string {
	var b strings.Builder
	b.WriteString(htmlEnvelopeStart)
	escaped := html.EscapeString(text)
	escaped = strings.ReplaceAll(escaped, "\r\n", "\n")
	b.WriteString(strings.ReplaceAll(escaped, "\n", "<br>\r\n"))
	b.WriteString(htmlEnvelopeEnd)
	return b.String()
}

// htmlToText converts an HTML body to plain text: tags are dropped (script
// and style with their content), block ends become line breaks, entities
// are decoded and runs of blank lines are collapsed.
func htmlToText(s string) string {
	var b strings.Builder
	lower := strings.ToLower(s)
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break
		}
		tag := strings.TrimSpace(strings.Trim(lower[i+1:i+end], "/ "))
		name := tag
		if k := strings.IndexFunc(tag, unicode.IsSpace); k >= 0 {
			name = tag[:k]
		}
		closing := strings.HasPrefix(lower[i+1:], "/")
		i += end + 1
		switch name {
		case "script", "style", "head", "title":
			if !closing {
				if k := strings.Index(lower[i:], "</"+name); k >= 0 {
					i += k
				}
			}
		case "br":
			b.WriteString("\r\n")
		case "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table":
			if closing {
				b.WriteString("\r\n")
			}
		}
	}
	text := html.UnescapeString(b.String())
	text = strings.ReplaceAll(text, "\u00a0", " ")
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
			out = append(out, "")
			continue
		}
		blank = 0
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\r\n"))
}

// bodyPreviewLength is the length of bodyPreview in characters.
const bodyPreviewLength = 255

// makePreview returns the first 255 characters of text with whitespace runs
// collapsed to single spaces.
func makePreview(text string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range text {
		if n >= bodyPreviewLength {
			break
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && n > 0 {
			b.WriteByte(' ')
			n++
			if n >= bodyPreviewLength {
				break
			}
		}
		space = false
		if r == utf8.RuneError {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
