package translate

import (
	"strings"
	"testing"
)

// TestRelativeLink checks which of Graph's links are followed and what
// relative path and query is kept of each. A link whose path after the
// base starts with '/' would be a scheme-relative reference
// ("//evil.example/x") once it is the url of a $batch item, so it is
// refused like a link to another host.
func TestRelativeLink(t *testing.T) {
	tr, _ := newTestTranslator(t)
	cases := []struct {
		link string
		rel  string // "" = refused
	}{
		{"https://graph.microsoft.com/v1.0/me/mailFolders/delta?$deltatoken=x", "/me/mailFolders/delta?$deltatoken=x"},
		{"HTTPS://Graph.Microsoft.COM/v1.0/me/messages?$skip=10", "/me/messages?$skip=10"},
		{"https://graph.microsoft.com/v1.0/users/a@contoso.example/messages", "/users/a@contoso.example/messages"},
		{"https://graph.microsoft.com/v1.0//evil.example/x", ""},
		{"https://graph.microsoft.com/v1.0//evil.example", ""},
		{"https://graph.microsoft.com/v1.0///evil.example/x", ""},
		{"https://graph.microsoft.com/v1.0//", ""},
		{"https://graph.microsoft.com/v1.0//?$skip=1", ""},
		{"https://graph.microsoft.com/v1.0/", ""},
		{"https://graph.microsoft.com/v1.0", ""},
		{"https://graph.microsoft.com/v1.0/../x", ""},
		{"https://evil.example/v1.0/me/messages", ""},
	}
	for _, c := range cases {
		rel, ok := tr.relativeLink(c.link)
		if c.rel == "" {
			if ok {
				t.Errorf("%q: accepted as %q, want refused", c.link, rel)
			}
			continue
		}
		if !ok || rel != c.rel {
			t.Errorf("%q: got %q, %v; want %q", c.link, rel, ok, c.rel)
		}
	}
}

// TestSchemeRelativeLinkRefused answers a sync page whose delta link has
// an empty first segment: the command fails as a bad link, so no state
// ever holds it and no later $batch item url can start with "//".
func TestSchemeRelativeLinkRefused(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("folders.sync", ""))
	out, _ := respond(t, p, 200, nil, `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0//evil.example/x?$deltatoken=a"}`)
	p.Release()
	if !strings.Contains(out, `"code":"upstream_error"`) || !strings.Contains(out, msgUpstreamBadLink) {
		t.Fatalf("a scheme-relative link was accepted: %s", out)
	}
}
