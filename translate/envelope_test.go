package translate

import (
	"strings"
	"testing"
	"time"
)

func TestNewOptions(t *testing.T) {
	tr, err := New(Options{Upstream: "https://Graph.Microsoft.com/v1.0/"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.GeneratedKey() || tr.MaxCommands() != 20 || tr.ttl != DefaultStateTTL || tr.BasePath() != "/v1.0" {
		t.Fatalf("defaults: generated=%v max=%d ttl=%v base=%q", tr.GeneratedKey(), tr.MaxCommands(), tr.ttl, tr.BasePath())
	}
	if tr.host != "graph.microsoft.com" {
		t.Fatalf("host %q", tr.host)
	}
	tr, err = New(Options{Upstream: "http://127.0.0.1:9443", StateKeys: [][]byte{testKey1, testKey2}, MaxCommands: 5, StateTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tr.GeneratedKey() || tr.MaxCommands() != 5 || tr.BasePath() != "" || len(tr.sealers) != 2 {
		t.Fatalf("configured translator wrong: %+v", tr)
	}

	bad := []Options{
		{Upstream: ""},
		{Upstream: "ftp://graph.microsoft.com/v1.0"},
		{Upstream: "graph.microsoft.com/v1.0"},
		{Upstream: "https://user:pw@graph.microsoft.com/v1.0"},
		{Upstream: "https://graph.microsoft.com/v1.0?x=1"},
		{Upstream: "https://graph.microsoft.com/v1.0#f"},
		{Upstream: "https://graph.microsoft.com/a/../v1.0"},
		{Upstream: testUpstream, MaxCommands: 21},
		{Upstream: testUpstream, MaxCommands: -1},
		{Upstream: testUpstream, StateTTL: -time.Second},
		{Upstream: testUpstream, StateKeys: [][]byte{make([]byte, 16)}},
		{Upstream: testUpstream, StateKeys: [][]byte{testKey1, make([]byte, 31)}},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
		if o.Validate() == nil {
			t.Errorf("Validate(%+v) accepted", o)
		}
	}
	if err := (Options{Upstream: testUpstream, StateKeys: [][]byte{testKey1}}).Validate(); err != nil {
		t.Errorf("Validate refused good options: %v", err)
	}
}

func TestParseUpstream(t *testing.T) {
	good := []struct {
		raw      string
		want     Upstream
		hostPort string
	}{
		{"https://Graph.Microsoft.com/v1.0/", Upstream{"https", "graph.microsoft.com", "/v1.0"}, "graph.microsoft.com:443"},
		{"HTTP://127.0.0.1:9443", Upstream{"http", "127.0.0.1:9443", ""}, "127.0.0.1:9443"},
		{"http://[::1]/graph/v1.0", Upstream{"http", "[::1]", "/graph/v1.0"}, "[::1]:80"},
		{"https://[::1]:8443/a%20b", Upstream{"https", "[::1]:8443", "/a%20b"}, "[::1]:8443"},
	}
	for _, g := range good {
		u, err := ParseUpstream(g.raw)
		if err != nil || u != g.want || u.HostPort() != g.hostPort {
			t.Errorf("ParseUpstream(%q) = %+v %q, %v; want %+v %q", g.raw, u, u.HostPort(), err, g.want, g.hostPort)
		}
	}
	if u, _ := ParseUpstream("https://graph.microsoft.com/v1.0"); u.String() != "https://graph.microsoft.com/v1.0" {
		t.Errorf("String() = %q", u.String())
	}
	for _, raw := range []string{
		"", "ftp://h/v1.0", "h/v1.0", "https://", "https://:443/v1.0", "https://u@h/v1.0",
		"https://h/v1.0?x", "https://h/v1.0?", "https://h/v1.0#f", "https://h/a/../v1.0", "https://h/./v1.0",
		"https://h/v1.0/..", "https://h/%2E%2E/v1.0", "https://h/a/%2e", "mailto:a@b",
	} {
		if u, err := ParseUpstream(raw); err == nil {
			t.Errorf("ParseUpstream(%q) accepted: %+v", raw, u)
		}
	}
}

func TestPlanEnvelopeErrors(t *testing.T) {
	tr, _ := newTestTranslator(t)
	twentyOne := func() string {
		var b strings.Builder
		b.WriteString(`{"commands":[`)
		for i := 0; i < 21; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"id":"c` + string(rune('a'+i)) + `","op":"folders.sync"}`)
		}
		b.WriteString(`]}`)
		return b.String()
	}()
	deep := `{"commands":[{"id":"a","op":"x","args":{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}]}`
	cases := map[string]string{
		"empty body":         ``,
		"not json":           `{"commands":`,
		"trailing garbage":   `{"commands":[{"id":"a","op":"folders.sync"}]} x`,
		"array":              `[{"id":"a","op":"folders.sync"}]`,
		"string":             `"commands"`,
		"null":               `null`,
		"no commands":        `{}`,
		"commands null":      `{"commands":null}`,
		"commands object":    `{"commands":{"id":"a","op":"folders.sync"}}`,
		"empty commands":     `{"commands":[]}`,
		"too many":           twentyOne,
		"command not object": `{"commands":["folders.sync"]}`,
		"command null":       `{"commands":[null]}`,
		"id missing":         `{"commands":[{"op":"folders.sync"}]}`,
		"id number":          `{"commands":[{"id":1,"op":"folders.sync"}]}`,
		"id empty":           `{"commands":[{"id":"","op":"folders.sync"}]}`,
		"id too long":        `{"commands":[{"id":"` + strings.Repeat("a", 65) + `","op":"folders.sync"}]}`,
		"id bad char":        `{"commands":[{"id":"a b","op":"folders.sync"}]}`,
		"id slash":           `{"commands":[{"id":"a/b","op":"folders.sync"}]}`,
		"id non-ascii":       `{"commands":[{"id":"é","op":"folders.sync"}]}`,
		"id duplicate":       `{"commands":[{"id":"a","op":"folders.sync"},{"id":"a","op":"folder.get","args":{"folder":"inbox"}}]}`,
		"op missing":         `{"commands":[{"id":"a"}]}`,
		"op number":          `{"commands":[{"id":"a","op":7}]}`,
		"op null":            `{"commands":[{"id":"a","op":null}]}`,
		"args array":         `{"commands":[{"id":"a","op":"folders.sync","args":[]}]}`,
		"args string":        `{"commands":[{"id":"a","op":"folders.sync","args":"x"}]}`,
		"args null":          `{"commands":[{"id":"a","op":"folders.sync","args":null}]}`,
		"duplicate commands": `{"commands":[{"id":"a","op":"folders.sync"}],"commands":[]}`,
		"duplicate id key":   `{"commands":[{"id":"a","id":"b","op":"folders.sync"}]}`,
		"too deep":           deep,
		"deep unclosed":      strings.Repeat("[", 100000),
		"bom":                "\xef\xbb\xbf" + `{"commands":[{"id":"a","op":"folders.sync"}]}`,
	}
	for name, body := range cases {
		p, e := tr.Plan([]byte(body))
		if e == nil || p != nil {
			t.Errorf("%s: want invalid_request, got plan", name)
			continue
		}
		if e.Status != 400 || e.Code != CodeInvalidRequest {
			t.Errorf("%s: got %d %s", name, e.Status, e.Code)
		}
		env := string(e.AppendEnvelope(nil))
		if !strings.HasPrefix(env, `{"error":{"code":"invalid_request","message":"`) {
			t.Errorf("%s: envelope %s", name, env)
		}
	}
	// Twenty commands with unique ids are fine; MaxCommands lowers the limit.
	var b strings.Builder
	b.WriteString(`{"commands":[`)
	for i := 0; i < 20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"c` + string(rune('a'+i)) + `","op":"folders.sync"}`)
	}
	b.WriteString(`]}`)
	p := mustPlan(t, tr, b.String())
	p.Release()
	small, _ := newTestTranslator(t, func(o *Options) { o.MaxCommands = 2 })
	if _, e := small.Plan([]byte(`{"commands":[{"id":"a","op":"x"},{"id":"b","op":"x"},{"id":"c","op":"x"}]}`)); e == nil || e.Code != CodeInvalidRequest {
		t.Errorf("MaxCommands=2 accepted 3 commands")
	}
}

func TestPlanUnknownOpAndIgnoredMembers(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"v":2,"commands":[{"id":"a.b_c-1","op":"mail.teleport","args":{"x":1},"extra":true}]}`)
	defer p.Release()
	if p.Upstream != nil {
		t.Fatalf("unknown op went upstream: %+v", p.Upstream)
	}
	out, o := respond(t, p, 0, nil, "")
	want := `{"results":[{"id":"a.b_c-1","status":400,"error":{"code":"invalid_args","message":"unknown op"}}]}`
	if out != want {
		t.Fatalf("got %s", out)
	}
	if o.Status != 200 || len(o.Results) != 1 || o.Results[0] != (Result{Op: "unknown", Status: 400, Code: CodeInvalidArgs}) {
		t.Fatalf("outcome %+v", o)
	}
}

func TestErrorEnvelope(t *testing.T) {
	e := &Error{Status: 429, Code: CodeThrottled, Message: "a \"quoted\"\nmessage", RetryAfter: 7, UpstreamCode: "ApplicationThrottled", RequestID: "r-1"}
	got := string(e.AppendEnvelope(nil))
	want := `{"error":{"code":"throttled","message":"a \"quoted\"\nmessage","retryAfter":7,"upstreamCode":"ApplicationThrottled","requestId":"r-1"}}`
	if got != want {
		t.Fatalf("got %s", got)
	}
	if NewError(413, CodeRequestTooLarge, "too large").Error() != "request_too_large: too large" {
		t.Fatal("Error()")
	}
	codes := []string{CodeInvalidRequest, CodeUnauthenticated, CodeTLSRequired, CodeMethodNotAllowed, CodeRequestTooLarge,
		CodeUnsupportedMediaType, CodeThrottled, CodeUpstreamError, CodeUpstreamUnavailable, CodeUpstreamTimeout,
		CodeInvalidArgs, CodeInvalidState, CodeForbidden, CodeNotFound, CodeConflict, CodeResyncRequired}
	seen := map[string]bool{}
	for _, c := range codes {
		if c == "" || seen[c] {
			t.Fatalf("code %q empty or duplicate", c)
		}
		seen[c] = true
	}
}

func TestDepthWithin(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want bool
	}{
		{`{}`, 1, true},
		{`{"a":[]}`, 1, false},
		{`{"a":"[[[[[[[["}`, 1, true},
		{`{"a":"\"[[[["}`, 1, true},
		{`[[[]]]`, 3, true},
		{`[[[[]]]]`, 3, false},
	}
	for _, c := range cases {
		if got := depthWithin([]byte(c.in), c.max); got != c.want {
			t.Errorf("depthWithin(%s,%d)=%v", c.in, c.max, got)
		}
	}
}
