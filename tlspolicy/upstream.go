package tlspolicy

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// ParseUpstream checks the configured upstream base URL (for example
// https://graph.microsoft.com/v1.0) and returns it parsed.
//
// What an upstream base URL may look like — scheme http or https, a host,
// no user info, query or fragment, no dot segments in the base path — is
// the translator's rule, checked by the translator itself; this package
// adds only the TLS policy: https, unless allowInsecure is set. A trailing
// slash on the base path is removed so that path comparisons against
// Graph's links are exact.
func ParseUpstream(raw string, allowInsecure bool) (*url.URL, error) {
	if _, err := translate.ParseUpstream(raw); err != nil {
		return nil, fmt.Errorf("upstream %q: %v", raw, err)
	}
	u, err := url.Parse(raw)
	if err != nil { // the translator parsed it already
		return nil, fmt.Errorf("parsing upstream URL: %v", err)
	}
	if u.Scheme != "https" && !allowInsecure {
		return nil, fmt.Errorf("upstream %q is plain http: the upstream leg must use TLS (set insecure_upstream to allow it for testing)", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("upstream %q has no host to dial", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// CheckTransport refuses a reverse_proxy transport that would take TLS, or
// the verification of the upstream's certificate, off the upstream leg of
// an https upstream: no TLS at all, tls_except_ports naming the upstream's
// port (plaintext to that port) or tls_insecure_skip_verify (any
// certificate accepted, so anyone on the path reads the device's token).
// allowInsecure (the insecure_upstream option) permits them for testing.
// Settings that keep TLS verified, such as a trust pool or a server name,
// are the operator's to choose.
func CheckTransport(upstream *url.URL, transport *reverseproxy.HTTPTransport, allowInsecure bool) error {
	if allowInsecure || upstream.Scheme != "https" {
		return nil
	}
	if transport.TLS == nil {
		return fmt.Errorf("the upstream transport has no TLS toward %s (set insecure_upstream to allow it for testing)", upstream.Host)
	}
	_, port, err := net.SplitHostPort(HostPort(upstream))
	if err != nil {
		return fmt.Errorf("upstream %q: %v", upstream, err)
	}
	if slices.Contains(transport.TLS.ExceptPorts, port) {
		return fmt.Errorf("tls_except_ports %s would send upstream requests, and the device's token, in plaintext (set insecure_upstream to allow it for testing)", port)
	}
	if transport.TLS.InsecureSkipVerify {
		return fmt.Errorf("tls_insecure_skip_verify would accept any certificate for the upstream and hand the device's token to whoever presents one (set insecure_upstream to allow it for testing)")
	}
	return nil
}

// HostPort returns the upstream's host:port, filling in the scheme's
// default port, in the form reverse_proxy's upstream dial address takes.
func HostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return u.Host + ":80"
	}
	return u.Host + ":443"
}
