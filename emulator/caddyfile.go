package emulator

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("graph_emulator", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("graph_emulator", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ge := new(Handler)
	if err := ge.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return ge, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	graph_emulator [<matcher>] {
//	    seed                     demo|none
//	    base_path                <path>
//	    control_prefix           <path>
//	    mailbox_concurrency      <n>
//	    throttle_retry_after     <value>|-
//	    sync_state_capacity      <n>
//	    request_log_size         <n>
//	    max_request_body         <bytes>
//	    batch_item_concurrency   <n>
//	    default_page_size        <n>
//	    batch_throttle           inner|envelope_424
//	    sync_state_code          SyncStateNotFound|syncStateNotFound|resyncRequired
//	    sync_state_status        <4xx>
//	    sync_state_omit_location
//	    empty_page_every         <n>
//	    replay_every             <n>
//	    notifications {          # see unmarshalNotifications
//	        ...
//	    }
//	}
//
// Every subdirective is optional; the defaults are those of the JSON
// fields. The block may be omitted entirely.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	intArg := func(dst *int) error {
		name := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		n, err := strconv.Atoi(d.Val())
		if err != nil || n < 0 {
			return d.Errf("%s: invalid number %q", name, d.Val())
		}
		*dst = n
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	strArg := func(dst *string) error {
		if !d.NextArg() {
			return d.ArgErr()
		}
		*dst = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "seed":
			err = strArg(&h.Seed)
			if err == nil && h.Seed != SeedDemo && h.Seed != SeedNone {
				return d.Errf("seed must be demo or none, got %q", h.Seed)
			}
		case "base_path":
			err = strArg(&h.BasePath)
		case "control_prefix":
			err = strArg(&h.ControlPrefix)
		case "mailbox_concurrency":
			err = intArg(&h.MailboxConcurrency)
		case "throttle_retry_after":
			err = strArg(&h.ThrottleRetryAfter)
		case "sync_state_capacity":
			err = intArg(&h.SyncStateCapacity)
		case "request_log_size":
			err = intArg(&h.RequestLogSize)
		case "max_request_body":
			var n int
			err = intArg(&n)
			h.MaxRequestBody = int64(n)
		case "batch_item_concurrency":
			err = intArg(&h.BatchItemConcurrency)
		case "default_page_size":
			err = intArg(&h.DefaultPageSize)
		case "batch_throttle":
			err = strArg(&h.BatchThrottle)
			if err == nil && h.BatchThrottle != BatchThrottleInner && h.BatchThrottle != BatchThrottleEnvelope424 {
				return d.Errf("batch_throttle must be inner or envelope_424, got %q", h.BatchThrottle)
			}
		case "sync_state_code":
			err = strArg(&h.SyncStateCode)
		case "sync_state_status":
			err = intArg(&h.SyncStateStatus)
		case "sync_state_omit_location":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.SyncStateOmitLocation = true
		case "empty_page_every":
			err = intArg(&h.EmptyPageEvery)
		case "replay_every":
			err = intArg(&h.ReplayEvery)
		case "notifications":
			h.Notifications, err = unmarshalNotifications(d)
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
