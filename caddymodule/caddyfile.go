package caddymodule

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/dustin/go-humanize"

	"github.com/devicebridge/caddy-devicebridge/tlspolicy"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

func init() {
	httpcaddyfile.RegisterDirective("devicebridge", parseDirective)
	httpcaddyfile.RegisterDirectiveOrder("devicebridge", httpcaddyfile.Before, "reverse_proxy")
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	devicebridge [<matcher>] <upstream-base-url> {
//	    prefix            <path>                     # default /device/v1
//	    state_key         <base64-32-bytes> [<more>] # repeatable; first seals, all open
//	    state_ttl         <duration>                 # default 30d
//	    immutable_ids     on|off                     # default on
//	    max_request_body  <size>                     # default 5MiB (a 3 MiB attachment send)
//	    max_response_body <size>                     # default 32MiB
//	    max_mime_body     <size>                     # default 4MiB (mime/send)
//	    mime_read_timeout <duration>                 # default 1m (mime/send upload)
//	    max_commands      <1-20>                     # default 20 (Graph's $batch limit)
//	    insecure_upstream                            # allow an http:// upstream, or a transport
//	                                                 # without verified TLS (testing only)
//	    max_inflight_per_mailbox <n>                 # default 4
//	    queue_timeout     <duration>                 # default 10s
//	    max_tracked_mailboxes <n>                    # default 100000
//	    max_buffered_bytes <size>                    # default 256MiB, per process
//	    buffer_wait       <duration>                 # default 2s
//	    file_proxy        on|off                     # default on: GET {prefix}/files/{id}/content
//	    file_hosts        <host>|*.<suffix>[:port]... # repeatable; default the cloud's download hosts
//	    max_file_streams  <n>                        # default 64
//	    file_idle_timeout <duration>                 # default 30s (no total timeout)
//
//	    push {                                       # push; off without this block
//	        public_url         <https-url>           # required; where Graph posts
//	        subscription_ttl   <duration>            # default 6d, 45m to 10080m
//	        send_timeout       <duration>            # default 1500ms
//	        push_reseal_after  <duration>            # default 30d
//	        max_inflight_sends <n>                   # default 256
//	        trust_pool         <module> [...]        # roots for the push services,
//	                                                 # as reverse_proxy's tls_trust_pool;
//	                                                 # default the system roots
//	        apns {
//	            key_file         <path to .p8>
//	            key_id           <10 chars>
//	            team_id          <10 chars>
//	            topic            <bundle id>
//	            endpoint         <url>               # default https://api.push.apple.com
//	            sandbox_endpoint <url>               # default https://api.sandbox.push.apple.com
//	        }
//	        fcm {
//	            credentials_file <service-account JSON>
//	            project_id       <id>                # default the credentials' project_id
//	            endpoint         <url>               # default https://fcm.googleapis.com
//	            priority         normal|high         # default normal
//	        }
//	        webpush {
//	            vapid_key_file <PEM P-256 private key>
//	            subject        mailto:<address>|https://<url>
//	            allow_hosts    <host[:port]|*.domain[:port]> ...  # port 443 unless named
//	        }
//	    }
//
//	    # any reverse_proxy subdirective, passed to the proxy, e.g.
//	    transport http {
//	        tls_trust_pool pki_root local
//	        dial_timeout            <duration>     # default 5s
//	        tls_timeout             <duration>     # default 10s
//	        response_header_timeout <duration>     # default 40s (push needs >= 35s)
//	    }
//	}
//
// The directive expands into one route matching the prefix that holds the
// translator followed by a reverse_proxy to the upstream's host over TLS,
// the way php_fastcgi and forward_auth expand. Subdirectives not listed
// above are reverse_proxy's and are handed to its own Caddyfile parser:
// transport and its TLS trust, timeouts, health checks, load balancing,
// header_up and the rest; a subdirective neither knows gets
// reverse_proxy's error. The transport must be http; the directive gives
// it the timeouts above unless the block sets its own, so a stalled
// upstream ends in 504 upstream_timeout. A transport setting that takes
// TLS or its verification off the upstream leg (tls_except_ports naming
// the upstream's port, tls_insecure_skip_verify) is refused unless
// insecure_upstream is set.
//
// Standing alone (without the directive's reverse_proxy) the handler
// takes only the subdirectives listed above.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	proxyTokens, err := h.unmarshalBridgeTokens(d)
	if err != nil {
		return err
	}
	rest := caddyfile.NewDispenser(proxyTokens)
	rest.Next() // the directive name
	rest.RemainingArgs()
	if rest.NextBlock(0) {
		return rest.Errf("unrecognized devicebridge subdirective %s", rest.Val())
	}
	return nil
}

// unmarshalBridgeTokens reads the directive at d's cursor (its upstream
// argument and the bridge's own subdirectives) into h, and returns the
// tokens that are left for reverse_proxy's parser: the directive name, the
// upstream and every other subdirective with its block. As in
// php_fastcgi, the bridge's subdirectives are deleted from the token
// stream as they are read, so nothing has to list them a second time.
func (h *Handler) unmarshalBridgeTokens(d *caddyfile.Dispenser) ([]caddyfile.Token, error) {
	tokens := d.NextSegment() // a copy: deleting from it leaves the caller's tokens alone
	d = caddyfile.NewDispenser(tokens)
	d.Next() // the directive name
	if d.NextArg() {
		h.Upstream = d.Val()
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		if name == "push" {
			segment := d.NextSegment()
			if err := h.unmarshalPush(caddyfile.NewDispenser(segment)); err != nil {
				return nil, err
			}
			tokens = d.DeleteN(len(segment))
			continue
		}
		args := d.RemainingArgs()
		ours, err := h.unmarshalSubdirective(d, name, args)
		if err != nil {
			return nil, err
		}
		if !ours {
			// reverse_proxy's: step over its block, if any.
			for nesting := d.Nesting(); d.NextBlock(nesting); {
			}
			continue
		}
		if d.NextBlock(d.Nesting()) {
			return nil, d.Errf("%s takes no block", name)
		}
		tokens = d.DeleteN(len(args) + 1)
	}
	return tokens, nil
}

// unmarshalSubdirective sets the option of one of the bridge's own
// subdirectives from its arguments, and reports whether name is one of
// them. Values are only parsed here; their limits are checked where the
// options are used (Validate, translate.New).
func (h *Handler) unmarshalSubdirective(d *caddyfile.Dispenser, name string, args []string) (bool, error) {
	// one returns the subdirective's single argument.
	one := func() (string, error) {
		if len(args) != 1 {
			return "", d.ArgErr()
		}
		return args[0], nil
	}
	var err error
	switch name {
	case "prefix":
		h.Prefix, err = one()
	case "state_key":
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		h.StateKeys = append(h.StateKeys, args...)
	case "state_ttl":
		h.StateTTL, err = parseDuration(d, name, args)
	case "queue_timeout":
		h.QueueTimeout, err = parseDuration(d, name, args)
	case "mime_read_timeout":
		h.MIMEReadTimeout, err = parseDuration(d, name, args)
	case "buffer_wait":
		h.BufferWait, err = parseDuration(d, name, args)
	case "max_buffered_bytes":
		h.MaxBufferedBytes, err = parseSize(d, name, args)
	case "immutable_ids":
		h.ImmutableIDs, err = parseSwitch(d, name, args)
	case "file_proxy":
		h.FileProxy, err = parseSwitch(d, name, args)
	case "file_hosts":
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		h.FileHosts = append(h.FileHosts, args...)
	case "max_file_streams":
		h.MaxFileStreams, err = parseCount(d, name, args)
	case "file_idle_timeout":
		h.FileIdleTimeout, err = parseDuration(d, name, args)
	case "max_request_body":
		h.MaxRequestBody, err = parseSize(d, name, args)
	case "max_response_body":
		h.MaxResponseBody, err = parseSize(d, name, args)
	case "max_mime_body":
		h.MaxMIMEBody, err = parseSize(d, name, args)
	case "max_commands":
		h.MaxCommands, err = parseCount(d, name, args)
	case "max_inflight_per_mailbox":
		h.MaxInflightPerMailbox, err = parseCount(d, name, args)
	case "max_tracked_mailboxes":
		h.MaxTrackedMailboxes, err = parseCount(d, name, args)
	case "insecure_upstream":
		if len(args) != 0 {
			return true, d.ArgErr()
		}
		h.InsecureUpstream = true
	default:
		return false, nil
	}
	return true, err
}

// parseSwitch parses on|off (or true|false).
func parseSwitch(d *caddyfile.Dispenser, name string, args []string) (*bool, error) {
	if len(args) != 1 {
		return nil, d.ArgErr()
	}
	var on bool
	switch args[0] {
	case "on", "true":
		on = true
	case "off", "false":
		on = false
	default:
		return nil, d.Errf("%s takes on or off, got %q", name, args[0])
	}
	return &on, nil
}

// parseCount parses a count. In the Caddyfile a count is a positive
// number: 0 would silently mean the default.
func parseCount(d *caddyfile.Dispenser, name string, args []string) (int, error) {
	if len(args) != 1 {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return 0, d.Errf("%s must be a positive number, got %q", name, args[0])
	}
	return n, nil
}

// parseDuration parses a positive duration (Caddy's syntax, e.g. 30d, 1500ms).
func parseDuration(d *caddyfile.Dispenser, name string, args []string) (caddy.Duration, error) {
	if len(args) != 1 {
		return 0, d.ArgErr()
	}
	duration, err := caddy.ParseDuration(args[0])
	if err != nil || duration <= 0 {
		return 0, d.Errf("%s must be a positive duration, got %q", name, args[0])
	}
	return caddy.Duration(duration), nil
}

// parseSize parses a positive size in bytes (e.g. 512KiB, 4MiB).
func parseSize(d *caddyfile.Dispenser, name string, args []string) (int64, error) {
	if len(args) != 1 {
		return 0, d.ArgErr()
	}
	size, err := humanize.ParseBytes(args[0])
	if err != nil || size == 0 || size > 1<<40 {
		return 0, d.Errf("parsing %s: %q is not a size", name, args[0])
	}
	return int64(size), nil
}

// parseDirective expands the devicebridge directive into a route: the
// translator, then a reverse_proxy to the upstream base URL's host. The
// translator's own subdirectives are taken out of the token stream; the
// rest goes to reverse_proxy's own parser, so every reverse_proxy option
// keeps working and an unknown subdirective gets reverse_proxy's error.
// The route matches only the device API's prefix, so the rest of the site
// is untouched.
func parseDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	userMatcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}

	h.Next() // back to the directive name (ExtractMatcherSet rewinds)
	translator := new(Handler)
	proxyTokens, err := translator.unmarshalBridgeTokens(h.Dispenser)
	if err != nil {
		return nil, err
	}
	if translator.Upstream == "" {
		return nil, h.Err("devicebridge needs the upstream base URL, e.g. devicebridge https://graph.microsoft.com/v1.0")
	}
	upstream, err := tlspolicy.ParseUpstream(translator.Upstream, translator.InsecureUpstream)
	if err != nil {
		return nil, h.Errf("devicebridge: %v", err)
	}

	// reverse_proxy dials the upstream's host; the scheme in the address
	// makes its parser enable TLS on the transport (also on a transport
	// block the user wrote).
	proxyTokens[1].Text = upstream.Scheme + "://" + tlspolicy.HostPort(upstream)
	proxy := new(reverseproxy.Handler)
	proxyDispenser := caddyfile.NewDispenser(proxyTokens)
	if err := proxy.UnmarshalCaddyfile(proxyDispenser); err != nil {
		return nil, err
	}
	if err := proxy.FinalizeUnmarshalCaddyfile(h.WithDispenser(proxyDispenser)); err != nil {
		return nil, err
	}
	restrictRetriesToGET(proxy) // never resend a send, reply, forward or move
	transport, err := upstreamTransport(proxy)
	if err != nil {
		return nil, h.Errf("devicebridge: %v", err)
	}
	if err := tlspolicy.CheckTransport(upstream, transport, translator.InsecureUpstream); err != nil {
		return nil, h.Errf("devicebridge: %v", err)
	}
	setTransportDefaults(transport)
	if translator.Push != nil && time.Duration(transport.ResponseHeaderTimeout) < translate.PushUpstreamTimeout {
		return nil, h.Errf("devicebridge: push needs the transport's response_header_timeout to be at least %v (Graph validates the notification URLs before it answers)", translate.PushUpstreamTimeout)
	}
	encodeTransport(proxy, transport)
	if transport.TLS != nil && translator.FileTLS == nil {
		// The file download client trusts what the upstream leg trusts;
		// only the trust is copied, never a client certificate or a
		// server name meant for Graph.
		translator.FileTLS = &reverseproxy.TLSConfig{
			CARaw:          transport.TLS.CARaw,
			RootCAPool:     transport.TLS.RootCAPool,
			RootCAPEMFiles: transport.TLS.RootCAPEMFiles,
		}
	}

	prefix := normalizePrefix(translator.Prefix)
	route := caddyhttp.Route{
		MatcherSetsRaw: []caddy.ModuleMap{{
			"path": h.JSON(caddyhttp.MatchPath{prefix, prefix + "/*"}),
		}},
		HandlersRaw: []json.RawMessage{
			caddyconfig.JSONModuleObject(translator, "handler", "devicebridge", nil),
			caddyconfig.JSONModuleObject(proxy, "handler", "reverse_proxy", nil),
		},
	}
	if userMatcherSet != nil {
		route = caddyhttp.Route{
			MatcherSetsRaw: []caddy.ModuleMap{userMatcherSet},
			HandlersRaw: []json.RawMessage{caddyconfig.JSONModuleObject(
				caddyhttp.Subroute{Routes: caddyhttp.RouteList{route}}, "handler", "subroute", nil)},
		}
	}
	return []httpcaddyfile.ConfigValue{{Class: "route", Value: route}}, nil
}
