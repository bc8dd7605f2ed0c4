package tlspolicy

import (
	"net/url"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		insecure bool
		wantErr  bool
		wantPath string
		wantHost string
	}{
		{name: "graph", raw: "https://graph.microsoft.com/v1.0", wantPath: "/v1.0", wantHost: "graph.microsoft.com:443"},
		{name: "trailing slash", raw: "https://localhost:9443/v1.0/", wantPath: "/v1.0", wantHost: "localhost:9443"},
		{name: "plain http refused", raw: "http://localhost:9080/v1.0", wantErr: true},
		{name: "plain http allowed when insecure", raw: "http://localhost:9080/v1.0", insecure: true, wantPath: "/v1.0", wantHost: "localhost:9080"},
		{name: "other scheme", raw: "ftp://graph.example/v1.0", wantErr: true},
		{name: "relative", raw: "/v1.0", wantErr: true},
		{name: "no host", raw: "https:///v1.0", wantErr: true},
		{name: "user info", raw: "https://user:pw@graph.example/v1.0", wantErr: true},
		{name: "query", raw: "https://graph.example/v1.0?x=1", wantErr: true},
		{name: "fragment", raw: "https://graph.example/v1.0#x", wantErr: true},
		{name: "dot segment", raw: "https://graph.example/v1.0/../beta", wantErr: true},
		{name: "no hostname", raw: "https://:443/v1.0", wantErr: true},
		{name: "upper-case scheme", raw: "HTTPS://graph.example/v1.0", wantPath: "/v1.0", wantHost: "graph.example:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream(tt.raw, tt.insecure)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPath, u.Path)
			assert.Equal(t, tt.wantHost, HostPort(u))
		})
	}
}

func TestCheckTransport(t *testing.T) {
	graph, err := ParseUpstream("https://graph.microsoft.com/v1.0", false)
	require.NoError(t, err)
	custom, err := ParseUpstream("https://graph.example:8443/v1.0", false)
	require.NoError(t, err)
	plain, err := ParseUpstream("http://127.0.0.1:9080/v1.0", true)
	require.NoError(t, err)
	withTLS := func(tls reverseproxy.TLSConfig) *reverseproxy.HTTPTransport {
		return &reverseproxy.HTTPTransport{TLS: &tls}
	}
	tests := []struct {
		name      string
		upstream  *url.URL
		transport *reverseproxy.HTTPTransport
		wantErr   string
	}{
		{"verified TLS", graph, withTLS(reverseproxy.TLSConfig{}), ""},
		{"trust pool and server name", graph, withTLS(reverseproxy.TLSConfig{ServerName: "graph.microsoft.com"}), ""},
		{"except another port", graph, withTLS(reverseproxy.TLSConfig{ExceptPorts: []string{"80"}}), ""},
		{"no TLS", graph, &reverseproxy.HTTPTransport{}, "no TLS"},
		{"except the default port", graph, withTLS(reverseproxy.TLSConfig{ExceptPorts: []string{"443"}}), "tls_except_ports 443"},
		{"except the upstream's port", custom, withTLS(reverseproxy.TLSConfig{ExceptPorts: []string{"80", "8443"}}), "tls_except_ports 8443"},
		{"skip verify", graph, withTLS(reverseproxy.TLSConfig{InsecureSkipVerify: true}), "tls_insecure_skip_verify"},
		{"plain upstream", plain, &reverseproxy.HTTPTransport{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTransport(tt.upstream, tt.transport, false)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "insecure_upstream")
			assert.NoError(t, CheckTransport(tt.upstream, tt.transport, true), "insecure_upstream allows it")
		})
	}
}
