package tlspolicy

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseUpstream checks the configured upstream base URL (for example
// https://graph.microsoft.com/v1.0) and returns it parsed.
//
// The URL must be absolute with a host, carry no user info, query or
// fragment, and use https unless allowInsecure is set, in which case http
// is accepted too. A trailing slash on the base path is removed so that
// path comparisons against Graph's links are exact.
func ParseUpstream(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing upstream URL: %v", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	case u.Scheme == "http":
		return nil, fmt.Errorf("upstream %q is plain http: the upstream leg must use TLS (set insecure_upstream to allow it for testing)", raw)
	default:
		return nil, fmt.Errorf("upstream %q must be an absolute https URL", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("upstream %q has no host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("upstream URL must not carry user info")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
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
