package tlspolicy

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// RequestIsTLS reports whether the device request was protected by TLS.
//
// A request that Caddy terminated itself carries r.TLS. A request that
// reached Caddy through a proxy counts as TLS-protected only when Caddy's
// server considers that proxy trusted (the `trusted_proxies` server option)
// and the proxy says, in X-Forwarded-Proto, that the device spoke https to
// it. An X-Forwarded-Proto header from an untrusted peer is ignored: anyone
// can send it.
//
// Only the last value counts — the last comma-separated value of the last
// header line — because that is the one the trusted proxy added: a proxy
// that appends keeps whatever the client sent in front of its own value,
// so the first value is the client's claim. In a chain of proxies the
// last value describes the hop into the last proxy; a chain whose inner
// hops speak plain http is therefore not TLS, which errs on the safe side.
func RequestIsTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	lines := r.Header.Values("X-Forwarded-Proto")
	if len(lines) == 0 {
		return false
	}
	proto := lines[len(lines)-1]
	if i := strings.LastIndexByte(proto, ','); i >= 0 {
		proto = proto[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
