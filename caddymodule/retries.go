package caddymodule

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// This file keeps the generated reverse_proxy from sending a non-idempotent
// request twice. A device send, reply, forward or move must reach Graph at
// most once per device request.
//
// reverse_proxy retries only when lb_retries or lb_try_duration is set
// (default: never). It then always retries dial errors (no byte reached the
// upstream); for any other failure, and for responses matched by a
// retry_match expression, it retries only requests matched by retry_match
// — GET only when retry_match is empty. The devicebridge directive adds
// `method GET` to every lb_retry_match set the user writes, so a POST,
// PATCH or DELETE whose bytes may have reached Graph is never retried,
// whatever the retry options say. (Go's transport itself resends a
// non-idempotent request only when nothing of it was written.)

// getOnlyMethod is the method matcher ANDed into every retry matcher set.
var getOnlyMethod = json.RawMessage(`["GET"]`)

// restrictRetriesToGET makes every retry_match set of proxy also require
// the GET method.
func restrictRetriesToGET(proxy *reverseproxy.Handler) {
	if proxy.LoadBalancing == nil {
		return
	}
	for _, set := range proxy.LoadBalancing.RetryMatchRaw {
		set["method"] = getOnlyMethod
	}
}
