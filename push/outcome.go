package push

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Outcome says what became of one push, in the terms the webhook acts on.
type Outcome uint8

const (
	// Delivered: the push service accepted the push.
	Delivered Outcome = iota
	// TargetGone: the target is unknown, expired or invalid for good
	// (APNs 400 BadDeviceToken, 410 Unregistered; FCM UNREGISTERED; web
	// push 404/410). Drop the push and never retry it.
	TargetGone
	// TargetThrottled: the push service limits this one target (APNs 429
	// TooManyRequests, an FCM per-device quota, web push 429). Drop the
	// push; RetryAfter says when the service would take another.
	TargetThrottled
	// Rejected: the push service (or the sender's own policy) refused this
	// one push for a reason that is neither the target's absence nor the
	// provider's health: an oversized payload, a redirect, an endpoint off
	// the allow list. Drop it; retrying cannot help.
	Rejected
	// ProviderFailure: the provider as a whole failed (5xx, a connection
	// error, a timeout, a rejected provider token, a project-wide quota).
	// It counts toward the provider's circuit breaker.
	ProviderFailure
	// Unavailable: the provider's circuit breaker is open and nothing was
	// sent. The webhook answers 503 so that Graph retries later.
	Unavailable
	// Dropped: nothing was sent because the caller's context ended first,
	// typically while waiting for a free send slot. Not the provider's
	// fault; it does not count toward the breaker.
	Dropped
)

var outcomeNames = [...]string{
	Delivered:       "delivered",
	TargetGone:      "target_gone",
	TargetThrottled: "target_throttled",
	Rejected:        "rejected",
	ProviderFailure: "provider_failure",
	Unavailable:     "unavailable",
	Dropped:         "dropped",
}

// String returns the outcome's name as used in logs and metrics.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is what a sender reports for one push. It never holds a push
// target, a payload or a credential, so it is safe to log whole.
type Result struct {
	// Outcome is what became of the push.
	Outcome Outcome
	// Status is the push service's HTTP status; 0 when no answer came.
	Status int
	// Reason is the push service's reason code (an APNs reason, an FCM
	// error code or gRPC status), reduced to letters, digits and '_'.
	Reason string
	// RetryAfter is the wait the push service asked for (Retry-After),
	// zero when it named none.
	RetryAfter time.Duration
	// Err describes a failure; nil when Outcome is Delivered.
	Err error

	// trip, on a provider failure, opens the breaker at once for that long:
	// the provider asked the whole sender to back off.
	trip time.Duration
}

// ErrCircuitOpen is the error of an Unavailable result.
var ErrCircuitOpen = errors.New("push: provider circuit breaker open")

// providerError is the error of a result that came from the push service's
// answer. It names the provider, outcome, status and reason only.
type providerError struct {
	provider string
	outcome  Outcome
	status   int
	reason   string
}

func (e *providerError) Error() string {
	s := "push: " + e.provider + ": " + e.outcome.String()
	if e.status != 0 {
		s += ": status " + strconv.Itoa(e.status)
	}
	if e.reason != "" {
		s += " " + e.reason
	}
	return s
}

// answered builds the result for an answer of the push service.
func answered(provider string, o Outcome, status int, reason string, retryAfter time.Duration) Result {
	r := Result{Outcome: o, Status: status, Reason: reason, RetryAfter: retryAfter}
	if o != Delivered {
		r.Err = &providerError{provider: provider, outcome: o, status: status, reason: reason}
	}
	return r
}

// failed builds a result without an answer from the push service. err must
// not carry a target or URL (see transportError).
func failed(provider string, o Outcome, err error) Result {
	return Result{Outcome: o, Err: fmt.Errorf("push: %s: %s: %w", provider, o, err)}
}

// maxRetryAfter caps what a push service can ask for.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Anything unreadable, negative or in the past is zero; the result is at
// most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// cleanReason keeps a provider's reason code printable and short: letters,
// digits and '_' only, at most 64 bytes; anything else makes it empty.
func cleanReason(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return ""
		}
	}
	return s
}
