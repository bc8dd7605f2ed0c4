package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/push"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

// The webhook Graph posts change notifications ({prefix}/push/n/{R}) and
// lifecycle notifications ({prefix}/push/l/{R}) to. It is anonymous: the
// routing blob R, which only this bridge's keys open, and each item's
// clientState (a MAC of R) authenticate a notification. It never calls
// Graph, and never logs R or the push target.
const (
	// MaxWebhookBody is the largest notification POST read; a larger one
	// is answered 413.
	MaxWebhookBody = 1 << 20
	// MaxValidationToken is the longest validation token echoed.
	MaxValidationToken = 1024
	// pushExpirySlack is how far past now + subscription_ttl a
	// notification's subscriptionExpirationDateTime may lie (clock skew,
	// Graph's rounding).
	pushExpirySlack = 5 * time.Minute
	// maxAlertRefs is the most message references an alert push carries.
	maxAlertRefs = 5
	// pushRetryAfter is the Retry-After of a 503 while a breaker is open.
	pushRetryAfter = 10
)

// webhookKind says which of the two webhook paths was posted to.
type webhookKind byte

const (
	webhookChange    webhookKind = 'n'
	webhookLifecycle webhookKind = 'l'
)

// pushWebhookOf returns the kind and R of a webhook path below the prefix.
func pushWebhookOf(endpoint string) (webhookKind, string, bool) {
	rest, ok := strings.CutPrefix(endpoint, "/push/")
	if !ok || len(rest) < 3 || rest[1] != '/' || (rest[0] != 'n' && rest[0] != 'l') {
		return 0, "", false
	}
	blob := rest[2:]
	if blob == "" || len(blob) > push.MaxRoutingLen || strings.IndexByte(blob, '/') >= 0 {
		return 0, "", false
	}
	return webhookKind(rest[0]), blob, true
}

var (
	errPushNotFound = translate.NewError(http.StatusNotFound, translate.CodeNotFound,
		"no device API endpoint at this path")
	errPushBreakerOpen = func() *translate.Error {
		e := translate.NewError(http.StatusServiceUnavailable, translate.CodeUpstreamUnavailable,
			"the push service is unavailable")
		e.RetryAfter = pushRetryAfter
		return e
	}()
	errPushTooLarge = translate.NewError(http.StatusRequestEntityTooLarge, translate.CodeRequestTooLarge,
		"the notification body exceeds 1 MiB")
)

// servePushWebhook answers one POST of Graph to the webhook.
func (h *Handler) servePushWebhook(w http.ResponseWriter, r *http.Request, kind webhookKind, blob string) error {
	started := time.Now()
	outcome := h.handlePushWebhook(w, r, kind, blob, started)
	h.metrics.observeWebhook(outcome, time.Since(started))
	return nil
}

// handlePushWebhook does the work of servePushWebhook and returns the
// outcome for the metrics.
func (h *Handler) handlePushWebhook(w http.ResponseWriter, r *http.Request, kind webhookKind, blob string, now time.Time) string {
	p := h.push
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		_ = h.writeError(w, translate.NewError(http.StatusMethodNotAllowed, translate.CodeMethodNotAllowed,
			"the push webhook takes POST"))
		return "method_not_allowed"
	}
	route, err := p.keys.OpenRouting(blob)
	if err != nil || route.Expired(now) {
		_ = h.writeError(w, errPushNotFound)
		return "not_found"
	}
	if token, ok := validationToken(r); ok {
		if len(token) > MaxValidationToken {
			_ = h.writeError(w, errPushNotFound)
			return "not_found"
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, MaxWebhookBody))
		header := w.Header()
		header.Set("Content-Type", "text/plain; charset=utf-8")
		header.Set("Content-Length", strconv.Itoa(len(token)))
		header.Set("Cache-Control", "no-store")
		header.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, token)
		return "validated"
	}

	body := getBuffer()
	defer putBuffer(body)
	if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, MaxWebhookBody)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			_ = h.writeError(w, errPushTooLarge)
			return "too_large"
		}
		return "aborted" // Graph went away; it retries
	}

	var n notificationSummary
	if kind == webhookChange {
		n = p.checkChanges(body.Bytes(), blob, route, now)
	} else {
		n = p.checkLifecycle(body.Bytes(), blob, route, now)
	}
	if n.valid == 0 {
		accepted(w)
		return "forged"
	}
	msg, class, ok := p.message(&n, route)
	if !ok {
		accepted(w)
		return "nothing_to_send"
	}
	return h.sendPush(w, r.Context(), blob, route, msg, class, now)
}

// validationToken returns Graph's validationToken query parameter,
// decoded, and whether the request has one.
func validationToken(r *http.Request) (string, bool) {
	values, ok := r.URL.Query()["validationToken"]
	if !ok || len(values) == 0 {
		return "", false
	}
	return values[0], true
}

// accepted answers 202 without a body.
func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// notificationSummary is what the valid items of one POST amount to.
type notificationSummary struct {
	valid   int
	created bool
	// refIDs are the ids of created messages, up to maxAlertRefs.
	refIDs [maxAlertRefs]string
	nRefs  int
	// lifecycle is the strongest lifecycle event of the POST.
	lifecycle lifecycleEvent
}

type lifecycleEvent uint8

const (
	lifecycleNone lifecycleEvent = iota
	lifecycleMissed
	lifecycleRenew
	lifecycleResubscribe
)

// checkItem applies the checks every item shares: clientState is R's MAC,
// and the subscription's expiry lies neither in the past nor later than a
// subscription made now could (an old POST replayed after its
// subscription's time fails it).
func (p *pushRuntime) checkItem(item gjson.Result, blob string, now time.Time) bool {
	cs := item.Get("clientState")
	if cs.Type != gjson.String || !p.keys.CheckClientState(blob, cs.Str) {
		return false
	}
	exp := item.Get("subscriptionExpirationDateTime")
	if exp.Type != gjson.String {
		return false
	}
	ts, err := time.Parse(time.RFC3339Nano, exp.Str)
	if err != nil {
		return false
	}
	return ts.After(now) && !ts.After(now.Add(p.ttl+pushExpirySlack))
}

// checkChanges reads a change notification POST: {"value":[…]}.
func (p *pushRuntime) checkChanges(body []byte, blob string, route *push.Routing, now time.Time) notificationSummary {
	var n notificationSummary
	value := gjson.GetBytes(body, "value")
	if !value.IsArray() {
		return n
	}
	value.ForEach(func(_, item gjson.Result) bool {
		if !item.IsObject() || !p.checkItem(item, blob, now) {
			return true
		}
		resource := item.Get("resource")
		if resource.Type != gjson.String {
			return true
		}
		if route.Bound() {
			tenant := item.Get("tenantId")
			user, resourceTenant, ok := resourceUser(resource.Str)
			if !ok || tenant.Type != gjson.String || resourceTenant != "" && !strings.EqualFold(resourceTenant, tenant.Str) ||
				!p.keys.SameUser(route, strings.ToLower(tenant.Str), strings.ToLower(user)) {
				return true
			}
		}
		change := item.Get("changeType")
		switch change.Str {
		case "created":
			n.created = true
			if id := item.Get("resourceData.id"); id.Type == gjson.String && id.Str != "" && n.nRefs < maxAlertRefs {
				n.refIDs[n.nRefs] = id.Str
				n.nRefs++
			}
		case "updated", "deleted":
		default:
			return true
		}
		n.valid++
		return true
	})
	return n
}

// checkLifecycle reads a lifecycle notification POST. Lifecycle items
// carry no resource: clientState and the expiry window authenticate them.
func (p *pushRuntime) checkLifecycle(body []byte, blob string, route *push.Routing, now time.Time) notificationSummary {
	var n notificationSummary
	value := gjson.GetBytes(body, "value")
	if !value.IsArray() {
		return n
	}
	value.ForEach(func(_, item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		var event lifecycleEvent
		switch item.Get("lifecycleEvent").Str {
		case "reauthorizationRequired":
			event = lifecycleRenew
		case "subscriptionRemoved":
			event = lifecycleResubscribe
		case "missed":
			event = lifecycleMissed
		default:
			return true
		}
		if !p.checkLifecycleItem(item, blob, now, event) {
			return true
		}
		n.valid++
		n.lifecycle = max(n.lifecycle, event)
		return true
	})
	return n
}

// checkLifecycleItem checks a lifecycle item. A removed subscription's
// expiry may already have passed: only its clientState is required then.
func (p *pushRuntime) checkLifecycleItem(item gjson.Result, blob string, now time.Time, event lifecycleEvent) bool {
	if event != lifecycleResubscribe {
		return p.checkItem(item, blob, now)
	}
	cs := item.Get("clientState")
	if cs.Type != gjson.String || !p.keys.CheckClientState(blob, cs.Str) {
		return false
	}
	if exp := item.Get("subscriptionExpirationDateTime"); exp.Type == gjson.String {
		if ts, err := time.Parse(time.RFC3339Nano, exp.Str); err != nil || ts.After(now.Add(p.ttl+pushExpirySlack)) {
			return false
		}
	}
	return true
}

// resourceUser reads the user, and the tenant when the form has one, from
// a notification's resource in Graph's three forms:
//
//	Users/{id}/Messages/{id}
//	users/{uid}@{tid}/messages/{id}
//	Users('{id}')/Messages('{id}')
func resourceUser(resource string) (user, tenant string, ok bool) {
	resource = strings.TrimPrefix(resource, "/")
	if len(resource) < 6 || !strings.EqualFold(resource[:5], "users") {
		return "", "", false
	}
	rest := resource[5:]
	switch {
	case strings.HasPrefix(rest, "('"):
		end := strings.Index(rest, "')")
		if end < 2 {
			return "", "", false
		}
		user = rest[2:end]
	case rest[0] == '/':
		end := strings.IndexByte(rest[1:], '/')
		if end < 0 {
			end = len(rest) - 1
		}
		user = rest[1 : 1+end]
	default:
		return "", "", false
	}
	if at := strings.IndexByte(user, '@'); at >= 0 {
		user, tenant = user[:at], user[at+1:]
	}
	if user == "" || strings.ContainsAny(user, "'/") {
		return "", "", false
	}
	return user, tenant, true
}

// message builds the push for the valid items of one POST, and the limit
// class it counts against. ok is false when nothing is to be sent (a web
// push that would not be alert class).
func (p *pushRuntime) message(n *notificationSummary, route *push.Routing) (*push.Message, pushClass, bool) {
	msg := &push.Message{Account: route.Account}
	switch n.lifecycle {
	case lifecycleRenew:
		msg.Kind = push.KindRenew
		return msg, classRenew, route.Target.Platform != push.PlatformWebPush
	case lifecycleResubscribe:
		msg.Kind = push.KindResubscribe
		return msg, classHint, route.Target.Platform != push.PlatformWebPush
	case lifecycleMissed:
		msg.Kind = route.Watch
		return msg, classHint, route.Target.Platform != push.PlatformWebPush
	}
	msg.Kind = route.Watch
	webpush := route.Target.Platform == push.PlatformWebPush
	if (route.Alert || webpush) && route.Watch == push.KindMail && n.created && n.nRefs > 0 {
		msg.Alert = true
		msg.CollapseID = p.keys.CollapseID(n.refIDs[0])
		for _, id := range n.refIDs[:n.nRefs] {
			ref, err := p.keys.SealRef(id)
			if err != nil {
				continue // an id too long to seal: the push goes without it
			}
			msg.Refs = append(msg.Refs, ref)
		}
		return msg, classAlert, true
	}
	return msg, classHint, !webpush
}

// sendPush sends msg by send_timeout after the notification arrived (now)
// and answers Graph: 503 only while the provider's breaker is open, 202
// otherwise.
func (h *Handler) sendPush(w http.ResponseWriter, ctx context.Context, blob string, route *push.Routing, msg *push.Message, class pushClass, now time.Time) string {
	p := h.push
	sender := p.senders.For(route.Target.Platform)
	if sender == nil {
		accepted(w) // the platform is no longer configured
		return "platform_off"
	}
	platform := route.Target.Platform.String()
	if b := sender.Breaker(&route.Target); b != nil && b.Open() {
		h.metrics.countPushSend(platform, push.Unavailable.String())
		_ = h.writeError(w, errPushBreakerOpen)
		return "breaker_open"
	}
	key := routeKeyOf(blob)
	prev, ok := p.limits.take(key, class, now)
	if !ok {
		accepted(w)
		return "limited"
	}
	// send_timeout counts from the notification's arrival, not from here,
	// and keeps back a moment for writing the answer: the answer to Graph,
	// the work before the send included, is never later than send_timeout.
	sendCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), now.Add(p.sendTimeout-answerReserve(p.sendTimeout)))
	res := sender.Send(sendCtx, &route.Target, msg)
	cancel()
	h.metrics.countPushSend(platform, res.Outcome.String())
	switch res.Outcome {
	case push.Delivered:
	case push.Unavailable:
		// Nothing was sent: Graph's retry may push.
		p.limits.giveBack(key, class, now, prev)
		_ = h.writeError(w, errPushBreakerOpen)
		return "breaker_open"
	default:
		if res.Outcome == push.ProviderFailure || res.Outcome == push.Dropped {
			// Nothing reached the device: the next notification may try
			// again (and a failing provider's breaker sees it).
			p.limits.giveBack(key, class, now, prev)
		}
		if c := h.logger.Check(zap.DebugLevel, "push not delivered"); c != nil {
			// A Result never holds the target, a token or the payload.
			c.Write(zap.String("platform", platform), zap.String("outcome", res.Outcome.String()),
				zap.Int("status", res.Status), zap.String("reason", res.Reason))
		}
	}
	accepted(w)
	return "sent"
}

// answerReserve is the part of send_timeout kept for writing the answer to
// Graph after a send ran out of time: a twentieth, at most 50 ms.
func answerReserve(sendTimeout time.Duration) time.Duration {
	return min(sendTimeout/20, 50*time.Millisecond)
}
