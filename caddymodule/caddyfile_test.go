package caddymodule

import (
	"time"

	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func TestDirectiveExpandsIntoTranslatorAndProxy(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.example:8443/v1.0 {
		prefix /api/device
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 {env.OLD_KEY}
		state_ttl 7d
		immutable_ids off
		max_request_body 512KiB
		max_response_body 8MiB
		max_commands 10
		transport http {
			tls_trust_pool pki_root local
			dial_timeout 3s
		}
		header_up X-Extra yes
	}
}`)
	require.NoError(t, err)
	route := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0")
	require.True(t, route.Exists(), cfg.Raw)

	assert.JSONEq(t, `["/api/device","/api/device/*"]`, route.Get("match.0.path").Raw)
	translator := route.Get("handle.0")
	proxy := route.Get("handle.1")
	assert.Equal(t, "devicebridge", translator.Get("handler").String())
	assert.Equal(t, "https://graph.example:8443/v1.0", translator.Get("upstream").String())
	assert.Equal(t, "/api/device", translator.Get("prefix").String())
	assert.Len(t, translator.Get("state_keys").Array(), 2)
	assert.Equal(t, "{env.OLD_KEY}", translator.Get("state_keys.1").String(), "placeholders are replaced at provision time")
	assert.Equal(t, int64(7*24*3600*1e9), translator.Get("state_ttl").Int())
	assert.False(t, translator.Get("immutable_ids").Bool())
	assert.Equal(t, int64(512*1024), translator.Get("max_request_body").Int())
	assert.Equal(t, int64(8<<20), translator.Get("max_response_body").Int())
	assert.Equal(t, int64(10), translator.Get("max_commands").Int())

	assert.Equal(t, "reverse_proxy", proxy.Get("handler").String())
	assert.Equal(t, "graph.example:8443", proxy.Get("upstreams.0.dial").String())
	assert.Equal(t, "pki_root", proxy.Get("transport.tls.ca.provider").String(), "the user's trust pool reaches the transport")
	assert.True(t, proxy.Get("transport.dial_timeout").Exists())
	assert.Equal(t, "yes", proxy.Get("headers.request.set.X-Extra.0").String(), "other reverse_proxy options pass through")
}

func TestDirectiveEnablesUpstreamTLSByDefault(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.microsoft.com/v1.0
}`)
	require.NoError(t, err)
	route := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0")
	assert.JSONEq(t, `["/device/v1","/device/v1/*"]`, route.Get("match.0.path").Raw)
	proxy := route.Get("handle.1")
	assert.Equal(t, "graph.microsoft.com:443", proxy.Get("upstreams.0.dial").String())
	assert.True(t, proxy.Get("transport.tls").Exists(), "an https upstream gets a TLS transport: %s", proxy.Raw)
}

func TestDirectiveWithUserMatcher(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	@mobile header User-Agent *Mobile*
	devicebridge @mobile https://graph.microsoft.com/v1.0
}`)
	require.NoError(t, err)
	outer := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0")
	assert.True(t, outer.Get("match.0.header").Exists(), outer.Raw)
	inner := outer.Get("handle.0.routes.0")
	assert.Equal(t, "devicebridge", inner.Get("handle.0.handler").String())
	assert.True(t, inner.Get("match.0.path").Exists())
}

func TestDirectiveErrors(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"no upstream", `devicebridge`, "upstream base URL"},
		{"plain http upstream", `devicebridge http://graph.example/v1.0`, "plain http"},
		{"bad max_commands", "devicebridge https://graph.example/v1.0 {\n max_commands 0\n}", "max_commands"},
		{"bad state_ttl", "devicebridge https://graph.example/v1.0 {\n state_ttl -1h\n}", "state_ttl"},
		{"upstream dot segment", `devicebridge https://graph.example/v1.0/../beta`, "dot segments"},
		{"bad immutable_ids", "devicebridge https://graph.example/v1.0 {\n immutable_ids maybe\n}", "immutable_ids"},
		{"unknown option", "devicebridge https://graph.example/v1.0 {\n no_such_thing 1\n}", "unrecognized subdirective"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(t, "https://bridge.example {\n"+tt.body+"\n}")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// The translator's limits are checked in one place, translate.New, when
// the handler is provisioned; the Caddyfile parser only parses.
func TestDirectiveTranslatorLimitsCheckedAtProvision(t *testing.T) {
	site := func(options string) string {
		return "http://localhost:0 {\n\tdevicebridge https://graph.example/v1.0 {\n\t\t" + options + "\n\t}\n}\n"
	}
	require.NoError(t, validateCaddyfile(t, site("max_commands 20")))
	err := validateCaddyfile(t, site("max_commands 21"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MaxCommands must be 1..20")
	err = validateCaddyfile(t, site("state_key AAECAwQFBgcICQoLDA0ODw"))
	require.Error(t, err, "a 16-byte state key")
	assert.Contains(t, err.Error(), "want 32")
}

func TestDirectiveInsecureUpstreamAllowed(t *testing.T) {
	cfg, err := adapt(t, "https://bridge.example {\ndevicebridge http://127.0.0.1:9080/v1.0 {\n insecure_upstream\n}\n}")
	require.NoError(t, err)
	route := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0")
	assert.True(t, route.Get("handle.0.insecure_upstream").Bool())
	assert.Equal(t, "127.0.0.1:9080", route.Get("handle.1.upstreams.0.dial").String())
	assert.False(t, route.Get("handle.1.transport.tls").Exists())
}

func TestHandlerUnmarshalCaddyfile(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser("devicebridge https://graph.example/v1.0 {\n insecure_upstream\n max_commands 2\n}")
	require.NoError(t, h.UnmarshalCaddyfile(d))
	assert.Equal(t, "https://graph.example/v1.0", h.Upstream)
	assert.True(t, h.InsecureUpstream)
	assert.Equal(t, 2, h.MaxCommands)
}

// The bridge takes only its own subdirectives at the top of its block;
// everything else, arguments and nested blocks included, is
// reverse_proxy's, with reverse_proxy's errors and the original line
// numbers.
func TestDirectiveHandsTheRestToReverseProxy(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.example/v1.0 {
		header_up max_commands 3
		max_commands 5
		transport http {
			dial_timeout 2s
		}
		prefix /d
	}
}`)
	require.NoError(t, err)
	route := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0")
	assert.Equal(t, int64(5), route.Get("handle.0.max_commands").Int(), route.Raw)
	assert.Equal(t, "/d", route.Get("handle.0.prefix").String())
	assert.Equal(t, "3", route.Get("handle.1.headers.request.set.Max_commands.0").String(), "a header named like a bridge option is reverse_proxy's: %s", route.Raw)
	assert.Equal(t, int64(2e9), route.Get("handle.1.transport.dial_timeout").Int())

	_, err = adapt(t, "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tmax_commands 5\n\t\tno_such_thing 1\n\t}\n}")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unrecognized subdirective no_such_thing")
	assert.Contains(t, err.Error(), "Caddyfile:4", "the line of the unknown subdirective")

	_, err = adapt(t, "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tmax_commands 5 {\n\t\t\tx\n\t\t}\n\t}\n}")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_commands takes no block")
}

func TestHandlerUnmarshalCaddyfileRefusesProxyOptions(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser("devicebridge https://graph.example/v1.0 {\n max_commands 2\n transport http {\n }\n}")
	err := h.UnmarshalCaddyfile(d)
	require.Error(t, err, "without the directive's reverse_proxy, nothing takes transport")
	assert.Contains(t, err.Error(), "transport")
}

// A stalled upstream must not hold the device (and its mailbox's slots)
// for ever: the directive gives reverse_proxy's transport a dial timeout,
// a TLS handshake timeout and a response header timeout unless the
// transport block sets its own.
func TestDirectiveSetsUpstreamTimeouts(t *testing.T) {
	transport := func(t *testing.T, body string) gjson.Result {
		t.Helper()
		cfg, err := adapt(t, "https://bridge.example {\n"+body+"\n}")
		require.NoError(t, err)
		proxy := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.1")
		require.Equal(t, "reverse_proxy", proxy.Get("handler").String(), cfg.Raw)
		return proxy.Get("transport")
	}
	seconds := func(r gjson.Result) float64 { return float64(r.Int()) / 1e9 }

	t.Run("defaults", func(t *testing.T) {
		tr := transport(t, "devicebridge https://graph.microsoft.com/v1.0")
		assert.Equal(t, 5.0, seconds(tr.Get("dial_timeout")), tr.Raw)
		assert.Equal(t, 40.0, seconds(tr.Get("response_header_timeout")), tr.Raw)
		assert.Equal(t, 10.0, seconds(tr.Get("tls.handshake_timeout")), tr.Raw)
	})
	t.Run("defaults fill a transport block", func(t *testing.T) {
		tr := transport(t, "devicebridge https://graph.microsoft.com/v1.0 {\n transport http {\n  tls_trust_pool pki_root local\n }\n}")
		assert.Equal(t, 5.0, seconds(tr.Get("dial_timeout")), tr.Raw)
		assert.Equal(t, 40.0, seconds(tr.Get("response_header_timeout")), tr.Raw)
		assert.Equal(t, "pki_root", tr.Get("tls.ca.provider").String(), tr.Raw)
	})
	t.Run("the transport block wins", func(t *testing.T) {
		tr := transport(t, "devicebridge https://graph.microsoft.com/v1.0 {\n transport http {\n  dial_timeout 2s\n  response_header_timeout 90s\n  tls_timeout 3s\n }\n}")
		assert.Equal(t, 2.0, seconds(tr.Get("dial_timeout")), tr.Raw)
		assert.Equal(t, 90.0, seconds(tr.Get("response_header_timeout")), tr.Raw)
		assert.Equal(t, 3.0, seconds(tr.Get("tls.handshake_timeout")), tr.Raw)
	})
	t.Run("plain http upstream", func(t *testing.T) {
		tr := transport(t, "devicebridge http://127.0.0.1:9080/v1.0 {\n insecure_upstream\n}")
		assert.Equal(t, 40.0, seconds(tr.Get("response_header_timeout")), tr.Raw)
		assert.False(t, tr.Get("tls").Exists(), tr.Raw)
	})
}

// A transport setting that takes TLS, or its verification, off the
// upstream leg is refused unless insecure_upstream says so.
func TestDirectiveRefusesTLSDowngrade(t *testing.T) {
	site := func(upstream, options string) string {
		return "https://bridge.example {\n\tdevicebridge " + upstream + " {\n\t\t" + options + "\n\t}\n}"
	}
	refused := []struct{ name, upstream, transport string }{
		{"tls_except_ports on the default port", "https://graph.microsoft.com/v1.0", "tls_except_ports 443"},
		{"tls_except_ports among others", "https://graph.example:8443/v1.0", "tls_except_ports 80 8443"},
		{"tls_insecure_skip_verify", "https://graph.microsoft.com/v1.0", "tls_insecure_skip_verify"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(t, site(tt.upstream, "transport http {\n\t\t\t"+tt.transport+"\n\t\t}"))
			require.Error(t, err, "a transport without TLS toward the upstream must be refused")
			assert.Contains(t, err.Error(), "insecure_upstream")

			cfg, err := adapt(t, site(tt.upstream, "insecure_upstream\n\t\ttransport http {\n\t\t\t"+tt.transport+"\n\t\t}"))
			require.NoError(t, err, "insecure_upstream allows it")
			assert.True(t, cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0.insecure_upstream").Bool())
		})
	}

	// Settings that keep TLS verified toward the upstream are fine.
	for _, transport := range []string{"tls_except_ports 80", "tls_server_name graph.microsoft.com", "tls_trust_pool pki_root local", "versions 1.1"} {
		_, err := adapt(t, site("https://graph.microsoft.com/v1.0", "transport http {\n\t\t\t"+transport+"\n\t\t}"))
		assert.NoError(t, err, transport)
	}
	_, err := adapt(t, site("http://127.0.0.1:9000/v1.0", "insecure_upstream\n\t\ttransport fastcgi"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "transport must be http")
}

// The file endpoint's options: file_hosts repeats and accumulates, the
// download client gets the upstream transport's trust pool (never its
// server name), file_proxy off and bad entries are refused where they
// are checked.
func TestDirectiveFileOptions(t *testing.T) {
	cfg, err := adapt(t, `https://bridge.example {
	devicebridge https://graph.example/v1.0 {
		file_proxy on
		file_hosts localhost:9445 *.cdn.example
		file_hosts files.example
		max_file_streams 8
		file_idle_timeout 45s
		transport http {
			tls_trust_pool pki_root local
			tls_server_name graph.internal
		}
	}
}`)
	require.NoError(t, err)
	h := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0")
	assert.True(t, h.Get("file_proxy").Bool())
	assert.Equal(t, `["localhost:9445","*.cdn.example","files.example"]`, h.Get("file_hosts").Raw)
	assert.Equal(t, int64(8), h.Get("max_file_streams").Int())
	assert.Equal(t, int64(45*time.Second), h.Get("file_idle_timeout").Int())
	assert.Equal(t, "pki_root", h.Get("file_tls.ca.provider").String())
	assert.False(t, h.Get("file_tls.server_name").Exists(), "Graph's server name is not the download host's")

	off, err := adapt(t, "https://bridge.example {\ndevicebridge https://graph.example/v1.0 {\n file_proxy off\n}\n}")
	require.NoError(t, err)
	assert.False(t, off.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0.file_proxy").Bool())
	assert.True(t, off.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0.file_proxy").Exists())

	for body, want := range map[string]string{
		"file_proxy maybe":      "file_proxy",
		"file_hosts":            "wrong argument count",
		"max_file_streams 0":    "max_file_streams",
		"file_idle_timeout -1s": "file_idle_timeout",
	} {
		_, err := adapt(t, "https://bridge.example {\ndevicebridge https://graph.example/v1.0 {\n "+body+"\n}\n}")
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
	err = validateCaddyfile(t, "http://localhost:0 {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tfile_hosts https://x.example\n\t}\n}\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file_hosts")
}
