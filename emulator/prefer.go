package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// preferences are the Prefer header values the emulator understands
// (GRAPH_FACTS 1.3). Several Prefer headers and comma-separated values in one
// header are both accepted; values may be quoted.
type preferences struct {
	// maxPageSize is odata.maxpagesize, 0 when absent.
	maxPageSize int
	// immutableIDs is set by IdType="ImmutableId".
	immutableIDs bool
	// idTypeGiven records that an IdType preference was present.
	idTypeGiven bool
	// bodyType is "text" or "html" from outlook.body-content-type, "" when absent.
	bodyType string
}

// maxPageSizeLimit caps odata.maxpagesize.
const maxPageSizeLimit = 1000

func parsePreferences(h http.Header) preferences {
	var p preferences
	for _, line := range h.Values("Prefer") {
		for _, item := range splitPreferList(line) {
			name, value, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.TrimSpace(value)
			// Drop parameters after ';'.
			if i := strings.IndexByte(value, ';'); i >= 0 && !strings.HasPrefix(value, `"`) {
				value = strings.TrimSpace(value[:i])
			}
			value = unquote(value)
			switch name {
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(value); err == nil && n > 0 {
					if n > maxPageSizeLimit {
						n = maxPageSizeLimit
					}
					p.maxPageSize = n
				}
			case "idtype":
				p.idTypeGiven = true
				p.immutableIDs = strings.EqualFold(value, "ImmutableId")
			case "outlook.body-content-type":
				switch strings.ToLower(value) {
				case "text":
					p.bodyType = "text"
				case "html":
					p.bodyType = "html"
				}
			}
		}
	}
	return p
}

// splitPreferList splits a Prefer header value on commas outside quotes.
func splitPreferList(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				if part := strings.TrimSpace(s[start:i]); part != "" {
					out = append(out, part)
				}
				start = i + 1
			}
		}
	}
	if part := strings.TrimSpace(s[min(start, len(s)):]); part != "" {
		out = append(out, part)
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.IndexByte(v, '\\') >= 0 {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		}
	}
	return v
}

// applied lists the preferences for the Preference-Applied header.
func (p preferences) applied(pageSizeUsed bool, bodyUsed bool) string {
	var parts []string
	if pageSizeUsed && p.maxPageSize > 0 {
		parts = append(parts, "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	if p.idTypeGiven {
		if p.immutableIDs {
			parts = append(parts, `IdType="ImmutableId"`)
		} else {
			parts = append(parts, `IdType="RestId"`)
		}
	}
	if bodyUsed && p.bodyType != "" {
		parts = append(parts, `outlook.body-content-type="`+p.bodyType+`"`)
	}
	return strings.Join(parts, ", ")
}
