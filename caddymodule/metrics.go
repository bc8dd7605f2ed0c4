package caddymodule

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// metrics are devicebridge's Prometheus collectors. They are created once
// per process and registered on the metrics registry of every config
// context that provisions a handler: Caddy makes a fresh registry on each
// config load and serves the active one from its metrics endpoint.
//
// Labels stay bounded: op names come from the translator's registry
// ("unknown" for anything else), statuses are HTTP status codes.
type metrics struct {
	commands          *prometheus.CounterVec
	envelopeErrors    *prometheus.CounterVec
	translateDuration *prometheus.HistogramVec
	upstreamResponses *prometheus.CounterVec
	localThrottles    *prometheus.CounterVec
	errors            *prometheus.CounterVec
	governorWait      prometheus.Histogram
	fileHostsRefused  *prometheus.CounterVec
	pushSends         *prometheus.CounterVec
	webhookDuration   *prometheus.HistogramVec
}

var (
	sharedMetrics     *metrics
	sharedMetricsOnce sync.Once
)

func newMetrics() *metrics {
	const ns, sub = "caddy", "devicebridge"
	return &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Device commands answered, by op and result status.",
		}, []string{"op", "status"}),
		envelopeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "envelope_errors_total",
			Help: "Device requests refused or failed as a whole (envelope-level errors), by HTTP status.",
		}, []string{"status"}),
		translateDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "translate_duration_seconds",
			Help:    "Time spent translating, by phase (request: device to Graph; response: Graph to device).",
			Buckets: []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2},
		}, []string{"phase"}),
		upstreamResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_responses_total",
			Help: "Upstream answers by HTTP status; status 0 means no complete answer (transport failure, timeout, oversized).",
		}, []string{"status"}),
		localThrottles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "local_throttles_total",
			Help: "Device requests the per-mailbox governor answered 429 without an upstream call, by reason (queue_timeout: no free slot in time; retry_after: an upstream Retry-After for the mailbox is pending).",
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Device API error objects answered, by error code and level (command: one command's result; envelope: the whole request).",
		}, []string{"code", "level"}),
		governorWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "governor_wait_seconds",
			Help:    "Time a request waited for its mailboxes' slots in the per-mailbox governor (admitted or not).",
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		fileHostsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "file_hosts_refused_total",
			Help: "File downloads refused before any byte was fetched, by reason (scheme: not https or malformed; host: off file_hosts, also on a redirect hop; address: not public at connect time; redirects: more than 2 hops).",
		}, []string{"reason"}),
		pushSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "push_sends_total",
			Help: "Pushes the webhook sent or tried to send, by platform (apns, fcm, webpush) and outcome (delivered, target_gone, target_throttled, rejected, provider_failure, unavailable, dropped).",
		}, []string{"platform", "outcome"}),
		webhookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "push_webhook_duration_seconds",
			Help:    "Time to answer Graph's notification POSTs, by outcome (sent, limited, forged, validated, not_found, breaker_open, …). Graph throttles an endpoint whose answers take over 2.9 s.",
			Buckets: []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 1.5, 2.9, 5},
		}, []string{"outcome"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.commands, m.envelopeErrors, m.translateDuration, m.upstreamResponses, m.localThrottles,
		m.errors, m.governorWait, m.fileHostsRefused, m.pushSends, m.webhookDuration}
}

// provisionMetrics registers the shared collectors on ctx's registry.
func provisionMetrics(ctx caddy.Context) (*metrics, error) {
	sharedMetricsOnce.Do(func() { sharedMetrics = newMetrics() })
	registry := ctx.GetMetricsRegistry()
	if registry == nil {
		return sharedMetrics, nil
	}
	for _, c := range sharedMetrics.collectors() {
		if err := registry.Register(c); err != nil {
			// Several devicebridge handlers in one config share collectors.
			if already := (prometheus.AlreadyRegisteredError{}); errors.As(err, &already) {
				continue
			}
			return nil, err
		}
	}
	return sharedMetrics, nil
}

func (m *metrics) countCommands(results []translate.Result) {
	for _, res := range results {
		m.commands.WithLabelValues(res.Op, strconv.Itoa(res.Status)).Inc()
		if res.Code != "" {
			m.errors.WithLabelValues(res.Code, "command").Inc()
		}
	}
}

func (m *metrics) countEnvelopeError(status int, code string) {
	m.envelopeErrors.WithLabelValues(strconv.Itoa(status)).Inc()
	m.errors.WithLabelValues(code, "envelope").Inc()
}

func (m *metrics) observeGovernorWait(took time.Duration) {
	m.governorWait.Observe(took.Seconds())
}

func (m *metrics) observeTranslate(phase string, took time.Duration) {
	m.translateDuration.WithLabelValues(phase).Observe(took.Seconds())
}

func (m *metrics) countUpstream(status int) {
	m.upstreamResponses.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (m *metrics) countFileHostRefused(reason string) {
	m.fileHostsRefused.WithLabelValues(reason).Inc()
}

func (m *metrics) countLocalThrottle(reason string) {
	m.localThrottles.WithLabelValues(reason).Inc()
}

func (m *metrics) countPushSend(platform, outcome string) {
	m.pushSends.WithLabelValues(platform, outcome).Inc()
}

func (m *metrics) observeWebhook(outcome string, took time.Duration) {
	m.webhookDuration.WithLabelValues(outcome).Observe(took.Seconds())
}
