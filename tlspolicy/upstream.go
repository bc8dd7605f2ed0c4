package tlspolicy

import (
	"fmt"
	"net/url"
	"strings"

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
	if err := checkUpstreamSyntax(raw); err != nil {
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

// syntaxCheckKey is the state key of the throw-away translator that
// checks an upstream URL's syntax; it never seals anything.
var syntaxCheckKey = make([]byte, translate.StateKeySize)

// checkUpstreamSyntax applies the translator's validation of its upstream
// base URL, so that the directive refuses at adapt time exactly what the
// handler would refuse when it is provisioned.
func checkUpstreamSyntax(raw string) error {
	_, err := translate.New(translate.Options{Upstream: raw, StateKeys: [][]byte{syntaxCheckKey}})
	return err
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
