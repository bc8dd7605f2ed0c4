package caddymodule

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/dustin/go-humanize"

	"github.com/devicebridge/caddy-devicebridge/tlspolicy"
)

func init() {
	httpcaddyfile.RegisterDirective("devicebridge", parseDirective)
	httpcaddyfile.RegisterDirectiveOrder("devicebridge", httpcaddyfile.Before, "reverse_proxy")
}

// translatorSubdirectives are the subdirectives the translator handler
// owns; every other subdirective of the devicebridge directive belongs to
// the reverse_proxy it expands into.
var translatorSubdirectives = map[string]bool{
	"prefix": true, "state_key": true, "state_ttl": true, "immutable_ids": true,
	"max_request_body": true, "max_response_body": true, "max_commands": true, "max_mime_body": true,
	"insecure_upstream": true, "max_inflight_per_mailbox": true, "queue_timeout": true,
	"max_tracked_mailboxes": true, "mime_read_timeout": true,
	"max_buffered_bytes": true, "buffer_wait": true,
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	devicebridge [<matcher>] <upstream-base-url> {
//	    prefix            <path>                     # default /device/v1
//	    state_key         <base64-32-bytes> [<more>] # repeatable; first seals, all open
//	    state_ttl         <duration>                 # default 30d
//	    immutable_ids     on|off                     # default on
//	    max_request_body  <size>                     # default 1MiB
//	    max_response_body <size>                     # default 32MiB
//	    max_mime_body     <size>                     # default 4MiB (mime/send)
//	    mime_read_timeout <duration>                 # default 1m (mime/send upload)
//	    max_commands      <1-20>                     # default 20
//	    insecure_upstream                            # allow an http:// upstream (testing only)
//	    max_inflight_per_mailbox <n>                 # default 4
//	    queue_timeout     <duration>                 # default 10s
//	    max_tracked_mailboxes <n>                    # default 100000
//	    max_buffered_bytes <size>                    # default 256MiB, per process
//	    buffer_wait       <duration>                 # default 2s
//
//	    # any reverse_proxy subdirective, passed to the proxy, e.g.
//	    transport http {
//	        tls_trust_pool pki_root local
//	    }
//	}
//
// The directive expands into one route matching the prefix that holds the
// translator followed by a reverse_proxy to the upstream's host over TLS,
// the way php_fastcgi and forward_auth expand. Options not listed above
// are reverse_proxy's: transport and its TLS trust, timeouts, health
// checks, load balancing, header_up and the rest.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		h.Upstream = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Prefix = d.Val()
		case "state_key":
			keys := d.RemainingArgs()
			if len(keys) == 0 {
				return d.ArgErr()
			}
			h.StateKeys = append(h.StateKeys, keys...)
		case "state_ttl":
			if !d.NextArg() {
				return d.ArgErr()
			}
			ttl, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("parsing state_ttl: %v", err)
			}
			h.StateTTL = caddy.Duration(ttl)
		case "immutable_ids":
			if !d.NextArg() {
				return d.ArgErr()
			}
			var on bool
			switch d.Val() {
			case "on", "true":
				on = true
			case "off", "false":
				on = false
			default:
				return d.Errf("immutable_ids takes on or off, got %q", d.Val())
			}
			h.ImmutableIDs = &on
		case "max_request_body", "max_response_body", "max_mime_body":
			name := d.Val()
			if !d.NextArg() {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(d.Val())
			if err != nil || size == 0 || size > 1<<40 {
				return d.Errf("parsing %s: %q is not a size", name, d.Val())
			}
			switch name {
			case "max_request_body":
				h.MaxRequestBody = int64(size)
			case "max_response_body":
				h.MaxResponseBody = int64(size)
			default:
				h.MaxMIMEBody = int64(size)
			}
		case "max_commands":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 1 || n > 20 {
				return d.Errf("max_commands must be a number from 1 to 20, got %q", d.Val())
			}
			h.MaxCommands = n
		case "insecure_upstream":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.InsecureUpstream = true
		case "max_inflight_per_mailbox", "max_tracked_mailboxes":
			name := d.Val()
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 1 {
				return d.Errf("%s must be a positive number, got %q", name, d.Val())
			}
			if name == "max_inflight_per_mailbox" {
				h.MaxInflightPerMailbox = n
			} else {
				h.MaxTrackedMailboxes = n
			}
		case "queue_timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			timeout, err := caddy.ParseDuration(d.Val())
			if err != nil || timeout <= 0 {
				return d.Errf("queue_timeout must be a positive duration, got %q", d.Val())
			}
			h.QueueTimeout = caddy.Duration(timeout)
		case "max_buffered_bytes":
			if !d.NextArg() {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(d.Val())
			if err != nil || size == 0 || size > 1<<40 {
				return d.Errf("parsing max_buffered_bytes: %q is not a size", d.Val())
			}
			h.MaxBufferedBytes = int64(size)
		case "buffer_wait":
			if !d.NextArg() {
				return d.ArgErr()
			}
			wait, err := caddy.ParseDuration(d.Val())
			if err != nil || wait <= 0 {
				return d.Errf("buffer_wait must be a positive duration, got %q", d.Val())
			}
			h.BufferWait = caddy.Duration(wait)
		case "mime_read_timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			timeout, err := caddy.ParseDuration(d.Val())
			if err != nil || timeout <= 0 {
				return d.Errf("mime_read_timeout must be a positive duration, got %q", d.Val())
			}
			h.MIMEReadTimeout = caddy.Duration(timeout)
		default:
			return d.Errf("unrecognized devicebridge subdirective %s", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// parseDirective expands the devicebridge directive into a route: the
// translator, then a reverse_proxy to the upstream base URL's host. The
// translator's own subdirectives are taken out of the token stream; all
// others go to reverse_proxy's own parser, so every reverse_proxy option
// keeps working. The route matches only the device API's prefix, so the
// rest of the site is untouched.
func parseDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	userMatcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}

	// Split the tokens: translator subdirectives on one side, the rest
	// (directive name, upstream, proxy subdirectives) on the other.
	var all []caddyfile.Token
	for h.Next() {
		all = append(all, h.Token())
	}
	translatorTokens, proxyTokens := splitTokens(all)

	translator := new(Handler)
	if err := translator.UnmarshalCaddyfile(caddyfile.NewDispenser(translatorTokens)); err != nil {
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

	prefix := translator.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = "/" + strings.Trim(prefix, "/")
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

// splitTokens separates the translator's subdirectives (with their
// arguments) from the tokens meant for reverse_proxy. Both results start
// with the directive name and its arguments and keep the original braces,
// so line numbers in error messages stay right.
func splitTokens(all []caddyfile.Token) (translator, proxy []caddyfile.Token) {
	if len(all) == 0 {
		return nil, nil
	}
	// Header: the directive name and the arguments on its line.
	end := 1
	for end < len(all) && all[end].Text != "{" && all[end].Line == all[0].Line {
		end++
	}
	translator = append(translator, all[:end]...)
	proxy = append(proxy, all[:end]...)
	if len(proxy) == 1 {
		// No upstream argument: keep an empty one in its place so that the
		// caller reports the missing upstream, not reverse_proxy.
		placeholder := all[0]
		placeholder.Text = ""
		proxy = append(proxy, placeholder)
	}
	if end == len(all) || all[end].Text != "{" {
		return translator, proxy
	}
	open, close := all[end], all[len(all)-1]
	var translatorBlock, proxyBlock []caddyfile.Token
	for i := end + 1; i < len(all)-1; {
		j := subdirectiveEnd(all, i)
		if translatorSubdirectives[all[i].Text] {
			translatorBlock = append(translatorBlock, all[i:j]...)
		} else {
			proxyBlock = append(proxyBlock, all[i:j]...)
		}
		i = j
	}
	if len(translatorBlock) > 0 {
		translator = append(append(append(translator, open), translatorBlock...), close)
	}
	if len(proxyBlock) > 0 {
		proxy = append(append(append(proxy, open), proxyBlock...), close)
	}
	return translator, proxy
}

// subdirectiveEnd returns the index just past the subdirective starting at
// tokens[start]: its arguments on the same line and, when that line ends
// with an opening brace, its whole block.
func subdirectiveEnd(tokens []caddyfile.Token, start int) int {
	i := start + 1
	for i < len(tokens) && tokens[i].Line == tokens[start].Line && tokens[i].Text != "{" && tokens[i].Text != "}" {
		i++
	}
	if i >= len(tokens) || tokens[i].Text != "{" {
		return i
	}
	depth := 0
	for ; i < len(tokens); i++ {
		switch tokens[i].Text {
		case "{":
			depth++
		case "}":
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}
