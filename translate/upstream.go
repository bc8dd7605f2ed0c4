package translate

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Upstream is a checked upstream base URL, e.g. https://graph.microsoft.com/v1.0.
type Upstream struct {
	// Scheme is "https" or "http".
	Scheme string
	// Host is host[:port], lower case.
	Host string
	// BasePath is the escaped base path without trailing slash, e.g.
	// "/v1.0"; "" for the root.
	BasePath string
}

// ParseUpstream checks an upstream base URL and returns it parsed. It is
// the one set of rules for the upstream: scheme https or http, a host
// (with an optional port), an optional base path; no user info, query or
// fragment; no dot segment, control character, space, '?', '#' or '\' in
// the base path. A trailing slash is dropped, so that the base path
// compares exactly with the path of Graph's links. Whether plain http is
// acceptable is the caller's policy: it is reported in Scheme.
func ParseUpstream(raw string) (Upstream, error) {
	if raw == "" {
		return Upstream{}, errors.New("translate: Upstream is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Upstream{}, fmt.Errorf("translate: Upstream: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return Upstream{}, errors.New("translate: Upstream scheme must be https or http")
	}
	if u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Upstream{}, errors.New("translate: Upstream must be scheme://host[:port][/base/path] without user info, query or fragment")
	}
	base := strings.TrimRight(u.EscapedPath(), "/")
	// Dot segments are refused escaped (%2E%2E) as well: a server may decode them.
	for _, seg := range strings.Split(strings.TrimRight(u.Path, "/"), "/") {
		if seg == "." || seg == ".." {
			return Upstream{}, errors.New("translate: Upstream base path must not contain dot segments")
		}
	}
	for i := 0; i < len(base); i++ {
		if c := base[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '\\' {
			return Upstream{}, errors.New("translate: Upstream base path has an invalid character")
		}
	}
	return Upstream{Scheme: scheme, Host: strings.ToLower(u.Host), BasePath: base}, nil
}

// String returns the base URL: scheme://host[:port]/base/path.
func (u Upstream) String() string { return u.Scheme + "://" + u.Host + u.BasePath }

// HostPort returns host:port, with the scheme's default port when the URL
// names none: the form of a dial address.
func (u Upstream) HostPort() string {
	if _, port := splitPort(u.Host); port != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return u.Host + ":80"
	}
	return u.Host + ":443"
}

// splitPort splits host[:port] (IPv6 literals in brackets).
func splitPort(hostport string) (host, port string) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.IndexByte(hostport[i:], ']') >= 0 {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}
