package pushemulator

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("push_emulator", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("push_emulator", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	pe := new(Handler)
	if err := pe.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return pe, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	push_emulator [<matcher>] {
//	    control_prefix             <path>         # default /_push
//	    origin                     <https://host[:port]>  # default: each request's Host
//	    apns_key_id                <kid>          # default EMUKEY0001
//	    apns_team_id               <iss>          # default EMUTEAM001
//	    apns_topic                 <bundle id>    # default com.example.devicebridge
//	    apns_public_key_file       <PEM path>     # default none
//	    apns_key_file              <.p8 path>     # default none (key in memory)
//	    apns_sandbox_hosts         <host[:port]>...  # default none (all production)
//	    apns_allow_http1                          # default off (HTTP/2 only)
//	    apns_token_update_interval <duration>|off # default 20m
//	    apns_max_payload           <bytes>        # default 4096
//	    fcm_project                <project id>   # default devicebridge-emulator
//	    fcm_client_email           <email>        # default firebase-adminsdk@{project}.iam.gserviceaccount.com
//	    fcm_credentials_file       <JSON path>    # default none (account in memory)
//	    fcm_token_path             <path>         # default /token
//	    fcm_token_lifetime         <duration>     # default 1h
//	    fcm_max_payload            <bytes>        # default 4096
//	    webpush_path               <path>         # default /wp
//	    webpush_max_body           <bytes>        # default 4096
//	    webpush_max_subscriptions  <n>            # default 10000
//	    record_limit               <n>            # default 1000
//	    clock_skew                 <duration>     # default 1m
//	}
//
// Every subdirective is optional; the block may be omitted entirely. A key
// or credentials file that does not exist is generated and written (mode
// 0600); one that exists is read. Paths are fixed: APNs at
// /3/device/{token}, FCM at /v1/projects/{project}/messages:send.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	oneArg := func() (string, error) {
		if !d.NextArg() {
			return "", d.ArgErr()
		}
		v := d.Val()
		if d.NextArg() {
			return "", d.ArgErr()
		}
		return v, nil
	}
	strArg := func(dst *string) error {
		v, err := oneArg()
		*dst = v
		return err
	}
	intArg := func(dst *int) error {
		name := d.Val()
		v, err := oneArg()
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return d.Errf("%s: invalid number %q", name, v)
		}
		*dst = n
		return nil
	}
	durArg := func(dst *caddy.Duration, offAllowed bool) error {
		name := d.Val()
		v, err := oneArg()
		if err != nil {
			return err
		}
		if offAllowed && v == "off" {
			*dst = caddy.Duration(-1)
			return nil
		}
		dur, err := caddy.ParseDuration(v)
		if err != nil || dur <= 0 {
			return d.Errf("%s: invalid duration %q", name, v)
		}
		*dst = caddy.Duration(dur)
		return nil
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "control_prefix":
			err = strArg(&h.ControlPrefix)
		case "origin":
			err = strArg(&h.Origin)
		case "apns_key_id":
			err = strArg(&h.APNsKeyID)
		case "apns_team_id":
			err = strArg(&h.APNsTeamID)
		case "apns_topic":
			err = strArg(&h.APNsTopic)
		case "apns_public_key_file":
			err = strArg(&h.APNsPublicKeyFile)
		case "apns_key_file":
			err = strArg(&h.APNsKeyFile)
		case "apns_sandbox_hosts":
			h.APNsSandboxHosts = append(h.APNsSandboxHosts, d.RemainingArgs()...)
			if len(h.APNsSandboxHosts) == 0 {
				return d.ArgErr()
			}
		case "apns_allow_http1":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.APNsAllowHTTP1 = true
		case "apns_token_update_interval":
			err = durArg(&h.APNsTokenUpdateInterval, true)
		case "apns_max_payload":
			err = intArg(&h.APNsMaxPayload)
		case "fcm_project":
			err = strArg(&h.FCMProject)
		case "fcm_client_email":
			err = strArg(&h.FCMClientEmail)
		case "fcm_credentials_file":
			err = strArg(&h.FCMCredentialsFile)
		case "fcm_token_path":
			err = strArg(&h.FCMTokenPath)
		case "fcm_token_lifetime":
			err = durArg(&h.FCMTokenLifetime, false)
		case "fcm_max_payload":
			err = intArg(&h.FCMMaxPayload)
		case "webpush_path":
			err = strArg(&h.WebPushPath)
		case "webpush_max_body":
			err = intArg(&h.WebPushMaxBody)
		case "webpush_max_subscriptions":
			err = intArg(&h.WebPushMaxSubscriptions)
		case "record_limit":
			err = intArg(&h.RecordLimit)
		case "clock_skew":
			err = durArg(&h.ClockSkew, false)
		default:
			return d.Errf("unrecognized subdirective %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
