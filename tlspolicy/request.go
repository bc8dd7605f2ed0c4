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
func RequestIsTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	// With several proxies in a chain the first value is the one the
	// device spoke to; every later hop is also a trusted proxy.
	proto := r.Header.Get("X-Forwarded-Proto")
	if first, _, found := strings.Cut(proto, ","); found {
		proto = first
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
