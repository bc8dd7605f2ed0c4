package caddymodule

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// Defaults the directive gives the upstream transport when its transport
// block does not set them, so that a stalled upstream cannot hold a
// device, and its mailbox's governor slots, indefinitely. A timeout ends
// the request with 504 `upstream_timeout`.
const (
	// DefaultUpstreamDialTimeout bounds connecting to the upstream
	// (`dial_timeout`).
	DefaultUpstreamDialTimeout = 5 * time.Second

	// DefaultUpstreamTLSTimeout bounds the TLS handshake with the
	// upstream (`tls_timeout`), which the dial timeout does not cover.
	DefaultUpstreamTLSTimeout = 10 * time.Second

	// DefaultUpstreamResponseHeaderTimeout bounds the wait for the
	// upstream's response headers once the request is written
	// (`response_header_timeout`). Creating a Graph subscription waits for
	// Graph to validate two notification URLs, up to 10 s each, so push
	// commands need at least 35 s; 40 s leaves them a margin while still
	// freeing a stalled request's slots well before a device gives up.
	DefaultUpstreamResponseHeaderTimeout = 40 * time.Second
)

// upstreamTransport decodes the http transport reverse_proxy's parser
// wrote for the directive; a proxy without one gets a fresh one. The
// bridge speaks HTTP to Graph, so any other transport is refused.
func upstreamTransport(proxy *reverseproxy.Handler) (*reverseproxy.HTTPTransport, error) {
	transport := new(reverseproxy.HTTPTransport)
	if proxy.TransportRaw == nil {
		return transport, nil
	}
	var module struct {
		Protocol string `json:"protocol"`
	}
	if err := json.Unmarshal(proxy.TransportRaw, &module); err != nil {
		return nil, fmt.Errorf("reading the transport: %v", err)
	}
	if module.Protocol != "http" {
		return nil, fmt.Errorf("the upstream transport must be http, not %q", module.Protocol)
	}
	if err := json.Unmarshal(proxy.TransportRaw, transport); err != nil {
		return nil, fmt.Errorf("reading the http transport: %v", err)
	}
	return transport, nil
}

// setTransportDefaults fills in the upstream timeouts the transport block
// left unset.
func setTransportDefaults(transport *reverseproxy.HTTPTransport) {
	if transport.DialTimeout == 0 {
		transport.DialTimeout = caddy.Duration(DefaultUpstreamDialTimeout)
	}
	if transport.ResponseHeaderTimeout == 0 {
		transport.ResponseHeaderTimeout = caddy.Duration(DefaultUpstreamResponseHeaderTimeout)
	}
	if transport.TLS != nil && transport.TLS.HandshakeTimeout == 0 {
		transport.TLS.HandshakeTimeout = caddy.Duration(DefaultUpstreamTLSTimeout)
	}
}

// encodeTransport writes transport back into the proxy's config.
func encodeTransport(proxy *reverseproxy.Handler, transport *reverseproxy.HTTPTransport) {
	proxy.TransportRaw = caddyconfig.JSONModuleObject(transport, "protocol", "http", nil)
}
