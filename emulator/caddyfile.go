package emulator

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
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
//	    download_origin          <scheme://host[:port]>
//	    download_prefix          <path>
//	    download_key             <base64>
//	    download_url_lifetime    <duration>
//	    download_only
//	    drive_resync_code        resyncRequired|resyncApplyDifferences|resyncUploadDifferences|resyncChangesApplyDifferences|resyncChangesUploadDifferences|syncStateNotFound
//	    drive_resync_omit_location
//	    drive_delete_page_size   <n>|off
//	    drive_ignore_top
//	    drive_keep_deleted_facet
//	    drive_omit_download_url
//	    drive_content_direct
//	    download_denied_status   401|403
//	    download_ignore_range
//	    download_redirects       <n>
//	    download_redirect_origin <scheme://host[:port]>
//	    drive_latest_link_keeps_token
//	    drive_omit_mime_type
//	    drive_sparse_search
//	    drive_business_any_order
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
	flagArg := func(dst *bool) error {
		if d.NextArg() {
			return d.ArgErr()
		}
		*dst = true
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
		case "download_origin":
			err = strArg(&h.DownloadOrigin)
		case "download_prefix":
			err = strArg(&h.DownloadPrefix)
		case "download_key":
			err = strArg(&h.DownloadKey)
		case "download_url_lifetime":
			var v string
			if err = strArg(&v); err == nil {
				dur, perr := caddy.ParseDuration(v)
				if perr != nil || dur <= 0 {
					return d.Errf("download_url_lifetime: invalid duration %q", v)
				}
				h.DownloadURLLifetime = caddy.Duration(dur)
			}
		case "drive_resync_code":
			err = strArg(&h.DriveResyncCode)
		case "drive_delete_page_size":
			var v string
			if err = strArg(&v); err == nil {
				n, perr := strconv.Atoi(v)
				switch {
				case v == "off":
					h.DriveDeletePageSize = -1
				case perr != nil || n < 1:
					return d.Errf("drive_delete_page_size: want a positive number or off, got %q", v)
				default:
					h.DriveDeletePageSize = n
				}
			}
		case "download_denied_status":
			err = intArg(&h.DownloadDeniedStatus)
		case "download_only":
			err = flagArg(&h.DownloadOnly)
		case "drive_resync_omit_location":
			err = flagArg(&h.DriveResyncOmitLocation)
		case "drive_ignore_top":
			err = flagArg(&h.DriveIgnoreTop)
		case "drive_keep_deleted_facet":
			err = flagArg(&h.DriveKeepDeletedFacet)
		case "drive_omit_download_url":
			err = flagArg(&h.DriveOmitDownloadURL)
		case "drive_content_direct":
			err = flagArg(&h.DriveContentDirect)
		case "download_ignore_range":
			err = flagArg(&h.DownloadIgnoreRange)
		case "download_redirects":
			err = intArg(&h.DownloadRedirects)
		case "download_redirect_origin":
			err = strArg(&h.DownloadRedirectOrigin)
		case "drive_latest_link_keeps_token":
			err = flagArg(&h.DriveLatestLinkKeepsToken)
		case "drive_omit_mime_type":
			err = flagArg(&h.DriveOmitMimeType)
		case "drive_sparse_search":
			err = flagArg(&h.DriveSparseSearch)
		case "drive_business_any_order":
			err = flagArg(&h.DriveBusinessAnyOrder)
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
