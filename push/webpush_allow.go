package push

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

// The device chooses a web push endpoint, so without these rules the bridge
// would call any URL: only https endpoints whose host is on the operator's
// allow list, only to public addresses unless the list names the host
// exactly, checked again on the very address dialled.

// Web push policy errors. They never quote the endpoint.
var (
	ErrEndpointNotAllowed = errors.New("push: webpush endpoint not on the allow list")
	ErrAddressNotAllowed  = errors.New("push: webpush endpoint resolves to a non-public address")
)

// allowEntry is one allow_hosts entry.
type allowEntry struct {
	host     string // lower case; for a wildcard, the suffix after "*."
	wildcard bool
	port     string
	breaker  *Breaker
}

// parseAllowEntry reads "host", "host:port", "*.suffix" or "*.suffix:port"
// (IPv6 literals in brackets). The port defaults to 443.
func parseAllowEntry(s string) (allowEntry, error) {
	e := allowEntry{port: "443"}
	hostPart := s
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return e, fmt.Errorf("webpush allow_hosts %q: %v", s, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return e, fmt.Errorf("webpush allow_hosts %q: bad port", s)
		}
		hostPart, e.port = h, strconv.Itoa(n)
	}
	hostPart = strings.ToLower(hostPart)
	if rest, ok := strings.CutPrefix(hostPart, "*."); ok {
		e.wildcard, hostPart = true, rest
		if !validHostname(hostPart) || !strings.Contains(hostPart, ".") {
			return e, fmt.Errorf("webpush allow_hosts %q: a wildcard needs a domain with a dot, as in *.push.example.com", s)
		}
	} else if _, err := netip.ParseAddr(hostPart); err != nil && !validHostname(hostPart) {
		return e, fmt.Errorf("webpush allow_hosts %q: not a host name or address", s)
	}
	e.host = hostPart
	return e, nil
}

// allowList is the parsed allow_hosts.
type allowList []allowEntry

func parseAllowList(entries []string, bo BreakerOptions) (allowList, error) {
	l := make(allowList, 0, len(entries))
	for _, s := range entries {
		e, err := parseAllowEntry(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		e.breaker = NewBreaker(bo)
		l = append(l, e)
	}
	return l, nil
}

// match returns the entry for host and port (host in lower case), exact
// entries first; nil when none allows it.
func (l allowList) match(host, port string) *allowEntry {
	for i := range l {
		if e := &l[i]; !e.wildcard && e.host == host && e.port == port {
			return e
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an address literal only matches an exact entry
	}
	for i := range l {
		if e := &l[i]; e.wildcard && e.port == port && strings.HasSuffix(host, "."+e.host) {
			return e
		}
	}
	return nil
}

// checkEndpoint parses a web push endpoint and finds its allow-list entry.
func (l allowList) checkEndpoint(endpoint string) (*url.URL, *allowEntry, error) {
	if len(endpoint) > maxEndpointLen {
		return nil, nil, ErrBadEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, nil, ErrBadEndpoint
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	e := l.match(strings.ToLower(u.Hostname()), port)
	if e == nil {
		return nil, nil, ErrEndpointNotAllowed
	}
	return u, e, nil
}

// nonPublic lists special-purpose ranges that netip's predicates do not
// cover (RFC 6890 and successors).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, may embed a private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"), // local NAT64
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4, may embed a private IPv4
	netip.MustParsePrefix("3fff::/20"),      // documentation
	netip.MustParsePrefix("fec0::/10"),      // site-local
}

// publicAddr reports whether a is a public unicast address: not loopback,
// private, ULA, link-local, multicast, unspecified, CGNAT, documentation
// or otherwise special.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" || !a.IsGlobalUnicast() || a.IsPrivate() ||
		a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// guardedDialer dials web push endpoints under the allow list: the host
// must match an entry, and unless the entry names the host exactly, every
// address dialled must be public. The address is checked in the socket's
// Control hook, right before connect, on the address actually dialled, so a
// DNS answer that changes between lookup and connect cannot slip through.
type guardedDialer struct {
	allow  allowList
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func (d *guardedDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, ErrEndpointNotAllowed
	}
	e := d.allow.match(strings.ToLower(host), port)
	if e == nil {
		return nil, ErrEndpointNotAllowed
	}
	publicOnly := e.wildcard
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = d.lookup(ctx, host); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if publicOnly {
		dialer.Control = refuseNonPublic
	}
	lastErr := error(ErrAddressNotAllowed)
	for _, a := range addrs {
		if publicOnly && !publicAddr(a) {
			continue
		}
		c, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// refuseNonPublic is a net.Dialer Control hook: it refuses to connect to a
// non-public address.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !publicAddr(ap.Addr()) {
		return ErrAddressNotAllowed
	}
	return nil
}

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// validHostname accepts a DNS name: labels of letters, digits and '-',
// separated by dots, no empty label, at most 253 bytes.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
