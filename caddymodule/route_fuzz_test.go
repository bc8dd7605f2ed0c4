package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// FuzzEndpoint feeds request targets, as a device may send them, to the
// directive's path matcher and to the handler's endpoint decision: when
// the matcher routes a request to the handler, the handler sees it under
// the prefix too (so it is served or answered 404, never mistaken for
// another site's request), and a download route's ids (a file's too)
// never hold a dot segment or an empty segment.
func FuzzEndpoint(f *testing.F) {
	for _, seed := range []string{
		"/device/v1/batch", "/v1.0/me/../../device/v1/batch", "//device/v1//batch", "/./device/v1/./batch",
		"/v1.0/me/%2e%2e/%2E%2E/device/v1/batch", "/DEVICE/V1/batch", "/device/v1/messages/AAMk%2Fx/mime",
		"/device/v1/messages/a/attachments/%2e%2e", "/device/v1/messages/a/../b/mime", "/device/v1",
		"/device/v1/", "/device/v1x", "/x/../device/v1/messages/a/attachments/b?mailbox=x",
		"/device/v1/files/C5B8561D9F6BE2E0%21102/content?drive=C5B8561D9F6BE2E0", "/device/v1/files/%2e%2e/content",
		"/device/v1/files/b%21x/../content", "/device/v1/files//content",
	} {
		f.Add(seed)
	}
	h := &Handler{Prefix: DefaultPrefix}
	matcher := caddyhttp.MatchPath{DefaultPrefix, DefaultPrefix + "/*"}
	if err := matcher.Provision(caddy.Context{Context: context.Background()}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return // net/http's server refuses it before any handler runs
		}
		r := &http.Request{Method: "GET", URL: u, RequestURI: target, Header: http.Header{}}
		r = r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		routed, err := matcher.MatchWithError(r)
		if err != nil {
			t.Fatalf("matcher: %v", err)
		}
		_, underPrefix := h.endpoint(r)
		if routed && !underPrefix && isASCII(u.Path) {
			t.Fatalf("%q is routed to the bridge, but the handler does not see it under the prefix", target)
		}
		if route, ok := h.downloadRouteOf(r); ok && route.fileID != "" {
			if route.fileID == "." || route.fileID == ".." || route.messageID != "" {
				t.Fatalf("%q: file id %q", target, route.fileID)
			}
		} else if ok {
			for _, id := range []string{route.messageID, route.attachmentID} {
				if id == "." || id == ".." || (id == "" && id != route.attachmentID) {
					t.Fatalf("%q: download id %q", target, id)
				}
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
