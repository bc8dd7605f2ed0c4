package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

var validJSONCases = []string{
	``, ` `, `{}`, `[]`, `{`, `}`, `[`, `]`, `[1,]`, `[,1]`, `{"a":1,}`, `{,"a":1}`, `{"a"}`, `{"a":}`,
	`{"a" 1}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `true`, `tru`, `truex`, `false`, `null`, `nul`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e5`, `1E-5`, `-1.5e+10`, `+1`, `0x1`,
	`""`, `"a`, `"\"`, `"\\"`, `"\/\b\f\n\r\t"`, `"\u00e9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, "\"a\x01\"",
	"\"a\x1f\"", "\"a\x7f\"", "\"\xff\xfe\"", `"Grüße — 日本語 \"quoted\" \\ end"`, `"0123456789abcdef\"x"`,
	" {\"a\" : [ 1 , { } , [ ] , \"x\" ] } \n", `{"a":[1,2,{"b":null}]}x`, `{"a":1}}`, `[[]]]`, `[{]}`, `{[]}`,
	`"` + strings.Repeat("abcdefgh", 9) + `\"` + strings.Repeat("é", 20) + `"`,
	strings.Repeat("[", 64) + strings.Repeat("]", 64),
	strings.Repeat("[", 65) + strings.Repeat("]", 65),
	`{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`,
	`{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
}

// TestValidJSON checks the single-pass validator against encoding/json on
// a table of edge cases: the verdicts agree except for nesting deeper than
// the limit, which only validJSON rejects.
func TestValidJSON(t *testing.T) {
	for _, c := range validJSONCases {
		want := json.Valid([]byte(c)) && depthWithin([]byte(c), maxUpstreamDepth)
		if got := validJSON(c, maxUpstreamDepth); got != want {
			t.Errorf("validJSON(%q)=%v, want %v", c, got, want)
		}
	}
}

// FuzzValidJSON compares validJSON with json.Valid on arbitrary input: it
// never accepts what json.Valid rejects, and it rejects what json.Valid
// accepts only when the nesting exceeds the limit.
func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(graphMessagePageNext))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := validJSON(bytesToString(b), maxUpstreamDepth)
		std := json.Valid(b)
		if got && !std {
			t.Fatalf("validJSON accepts what json.Valid rejects: %q", b)
		}
		if !got && std && depthWithin(b, maxUpstreamDepth) {
			t.Fatalf("validJSON rejects valid JSON within the depth limit: %q", b)
		}
	})
}

// FuzzSyncPageValidation feeds arbitrary 200 answers to a direct mail.sync:
// the single-pass translation must answer the envelope-level upstream_error
// exactly when the body is not valid JSON (within the depth limit), and write
// valid device JSON otherwise.
func FuzzSyncPageValidation(f *testing.F) {
	f.Add([]byte(graphMessagePageNext))
	f.Add(messagePage50())
	f.Add([]byte(`{"value":[{"id":"a"}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/x"} x`))
	f.Add([]byte(`{"value":[{"id":"a","subject":"\q"}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/x"}`))
	tr, _ := newTestTranslator(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, env := range []string{cmd("mail.sync", `{"folder":"inbox"}`), cmd("folders.sync", "")} {
			p := mustPlan(t, tr, env)
			var dst bytes.Buffer
			o := p.Respond(&dst, 200, nil, body)
			if !json.Valid(dst.Bytes()) {
				t.Fatalf("invalid device JSON for %q: %s", body, dst.Bytes())
			}
			valid := json.Valid(body) && depthWithin(body, maxUpstreamDepth)
			envelopeMalformed := o.Status == http.StatusBadGateway && strings.Contains(dst.String(), msgUpstreamMalformed)
			if !valid && !envelopeMalformed {
				t.Fatalf("malformed answer %q translated: %d %s", body, o.Status, dst.Bytes())
			}
			isObject := strings.HasPrefix(strings.TrimLeft(string(body), " \t\r\n"), "{")
			if valid && isObject && o.Status != 200 {
				t.Fatalf("valid object answer %q failed the envelope: %s", body, dst.Bytes())
			}
			p.Release()
		}
	})
}
