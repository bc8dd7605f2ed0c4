package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file holds the checks of the file streaming endpoint's own
// connections (DEVICE_API.md §8): the file_hosts allow list, applied to
// the download URL and to every redirect hop, and the connect-time check
// that the address dialed is public.

// Default file_hosts per cloud, chosen by the upstream's host.
var (
	globalFileHosts = []string{"*.sharepoint.com", "my.microsoftpersonalcontent.com", "*.files.1drv.com"}
	cloudFileHosts  = map[string][]string{
		"graph.microsoft.us":              {"*.sharepoint.us"},
		"dod-graph.microsoft.us":          {"*.sharepoint-mil.us"},
		"microsoftgraph.chinacloudapi.cn": {"*.sharepoint.cn"},
	}
)

// defaultFileHosts returns the download hosts of the cloud whose Graph
// host is upstreamHost; any other upstream gets the global cloud's.
func defaultFileHosts(upstreamHost string) []string {
	if hosts, ok := cloudFileHosts[strings.ToLower(upstreamHost)]; ok {
		return hosts
	}
	return globalFileHosts
}

// fileHostRule is one entry of the allow list.
type fileHostRule struct {
	host     string // the exact host, or the suffix after "*." for a wildcard
	wildcard bool
	port     string // "443" unless the entry names another
	named    bool   // an exact host the operator configured: any address allowed
}

// fileHostList is the parsed allow list.
type fileHostList struct{ rules []fileHostRule }

// parseFileHosts parses allow list entries: `host`, `host:port`,
// `*.suffix` or `*.suffix:port`. named marks the operator's own list,
// whose exact hosts may resolve to any address.
func parseFileHosts(entries []string, named bool) (*fileHostList, error) {
	list := &fileHostList{}
	for _, entry := range entries {
		text := strings.ToLower(strings.TrimSpace(entry))
		rule := fileHostRule{port: "443"}
		if h, p, err := net.SplitHostPort(text); err == nil {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
				return nil, fmt.Errorf("file_hosts entry %q has no valid port", entry)
			}
			text, rule.port = h, p
		}
		if strings.HasPrefix(text, "*.") {
			rule.wildcard = true
			text = text[2:]
		}
		if text == "" || strings.ContainsAny(text, "/?#@*[]: \\") {
			return nil, fmt.Errorf("file_hosts entry %q is not a host, host:port or *.suffix", entry)
		}
		rule.host = text
		rule.named = named && !rule.wildcard
		list.rules = append(list.rules, rule)
	}
	return list, nil
}

// Reasons a download URL or hop is refused (the refused metric's label).
const (
	refusedScheme    = "scheme"
	refusedHost      = "host"
	refusedAddress   = "address"
	refusedRedirects = "redirects"
)

// check returns "" when u may be fetched, else the reason it may not. named
// reports whether the host is one the operator named exactly.
func (l *fileHostList) check(u *url.URL) (reason string, named bool) {
	if u.Scheme != "https" || u.User != nil || u.Host == "" {
		return refusedScheme, false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = "443"
	}
	for _, rule := range l.rules {
		if rule.port != port {
			continue
		}
		if rule.wildcard && len(host) > len(rule.host)+1 && strings.HasSuffix(host, "."+rule.host) ||
			!rule.wildcard && host == rule.host {
			return "", rule.named
		}
	}
	return refusedHost, false
}

// namedHost reports whether the dial address host:port is one the
// operator named exactly.
func (l *fileHostList) namedHost(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, rule := range l.rules {
		if rule.named && rule.host == host && rule.port == port {
			return true
		}
	}
	return false
}

// errPrivateAddress is the dial error of a download host that resolved to
// an address that is not public.
var errPrivateAddress = errors.New("the download host resolved to an address that is not public")

// isPublicAddress reports whether ip is a global unicast address outside
// the private, shared, loopback, link-local and reserved ranges.
func isPublicAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublicPrefixes are ranges IsGlobalUnicast and IsPrivate leave in.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
}

// fileDialer dials download hosts: a host the operator named exactly may
// be at any address; any other must resolve to a public one, checked on
// the address actually connected to (after resolution, so a DNS answer
// cannot point the bridge into the local network).
func fileDialer(hosts *fileHostList, timeout time.Duration, refused func(string)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		if !hosts.namedHost(addr) {
			d.Control = func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !isPublicAddress(ap.Addr()) {
					refused(refusedAddress)
					return errPrivateAddress
				}
				return nil
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}
