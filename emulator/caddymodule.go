package emulator

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is an in-memory Microsoft Graph v1.0 emulator for demos, tests
// and benchmarks of devicebridge: a few Exchange mailboxes with message and
// folder delta, $batch, Graph's errors and throttling, and fault
// injection. It answers requests under base_path (the Graph surface) and
// control_prefix (the unauthenticated control API, for tests and demos
// only: never expose it to untrusted clients); other requests go to the
// next handler.
//
// The mailboxes live in the module instance: loading a new config starts
// with fresh mailboxes.
type Handler struct {
	// Seed is "demo" (the demo mailboxes: tokens demo, demo2 and shared)
	// or "none" (no mailboxes; create them with the control API).
	// Default: demo.
	Seed string `json:"seed,omitempty"`

	// BasePath is the Graph version root. Default: /v1.0.
	BasePath string `json:"base_path,omitempty"`

	// ControlPrefix is the path prefix of the control API.
	// Default: /_emulator.
	ControlPrefix string `json:"control_prefix,omitempty"`

	// MailboxConcurrency is how many requests one mailbox serves at once,
	// like Exchange's limit of about 4; further requests get 429
	// ApplicationThrottled. Default: 0 (no limit).
	MailboxConcurrency int `json:"mailbox_concurrency,omitempty"`

	// ThrottleRetryAfter is the Retry-After value of MailboxConcurrency
	// 429s; "-" sends none. Default: 1.
	ThrottleRetryAfter string `json:"throttle_retry_after,omitempty"`

	// SyncStateCapacity is how many delta sync states (skip and delta
	// tokens) each mailbox keeps; evicted tokens answer 410
	// SyncStateNotFound. Default: 1000.
	SyncStateCapacity int `json:"sync_state_capacity,omitempty"`

	// RequestLogSize is how many Graph requests the control API's request
	// log keeps. Default: 200.
	RequestLogSize int `json:"request_log_size,omitempty"`

	// MaxRequestBody is the largest request body read, in bytes.
	// Default: 8388608 (8 MiB).
	MaxRequestBody int64 `json:"max_request_body,omitempty"`

	// BatchItemConcurrency is how many $batch items run at once (Outlook
	// runs at most 4). Default: 4.
	BatchItemConcurrency int `json:"batch_item_concurrency,omitempty"`

	// DefaultPageSize is the page size of delta and list answers without
	// Prefer: odata.maxpagesize (or $top on lists). Default: 10.
	DefaultPageSize int `json:"default_page_size,omitempty"`

	// BatchThrottle chooses how a $batch with throttled items is answered:
	// "inner" (a 200 envelope with inner 429 items) or "envelope_424" (the
	// envelope itself is 424, still listing the items, with the largest
	// item Retry-After). Default: inner.
	BatchThrottle string `json:"batch_throttle,omitempty"`

	// SyncStateCode is the error code of an unknown, evicted or expired
	// delta token: SyncStateNotFound, syncStateNotFound or resyncRequired.
	// Default: SyncStateNotFound.
	SyncStateCode string `json:"sync_state_code,omitempty"`

	// SyncStateStatus is the HTTP status of an unknown delta token (4xx).
	// Default: 410.
	SyncStateStatus int `json:"sync_state_status,omitempty"`

	// SyncStateOmitLocation drops the Location header (a fresh initial
	// delta URL) from unknown-token answers. Default: false.
	SyncStateOmitLocation bool `json:"sync_state_omit_location,omitempty"`

	// EmptyPageEvery inserts a nextLink page with an empty value before
	// every Nth page of a delta round. Default: 0 (off).
	EmptyPageEvery int `json:"empty_page_every,omitempty"`

	// ReplayEvery repeats every Nth message of a delta round at its end,
	// as Graph may replay items. Default: 0 (off).
	ReplayEvery int `json:"replay_every,omitempty"`

	// Notifications configure change-notification subscriptions and the
	// notifications the emulator POSTs. Default: every field's default.
	Notifications *NotificationConfig `json:"notifications,omitempty"`

	server *Server
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.graph_emulator",
		New: func() caddy.Module { return new(Handler) },
	}
}

// options converts the config to Options.
func (h *Handler) options() Options {
	return Options{
		Seed:                 h.Seed,
		BasePath:             h.BasePath,
		ControlPrefix:        h.ControlPrefix,
		MailboxConcurrency:   h.MailboxConcurrency,
		ThrottleRetryAfter:   h.ThrottleRetryAfter,
		SyncStateCapacity:    h.SyncStateCapacity,
		RequestLogSize:       h.RequestLogSize,
		MaxRequestBody:       h.MaxRequestBody,
		BatchItemConcurrency: h.BatchItemConcurrency,
		DefaultPageSize:      h.DefaultPageSize,
		Quirks: Quirks{
			BatchThrottle:         h.BatchThrottle,
			SyncStateCode:         h.SyncStateCode,
			SyncStateStatus:       h.SyncStateStatus,
			SyncStateOmitLocation: h.SyncStateOmitLocation,
			EmptyPageEvery:        h.EmptyPageEvery,
			ReplayEvery:           h.ReplayEvery,
		},
		Subscriptions: h.Notifications.subscriptionOptions(),
	}
}

// Provision builds the emulator with fresh mailboxes.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	opts := h.options()
	if err := h.provisionNotifications(ctx, &opts); err != nil {
		return fmt.Errorf("configuring graph emulator: %v", err)
	}
	srv, err := NewServer(opts)
	if err != nil {
		return fmt.Errorf("configuring graph emulator: %v", err)
	}
	h.server = srv
	h.logger.Info("graph emulator ready",
		zap.String("seed", srv.opts.Seed),
		zap.String("base_path", srv.opts.BasePath),
		zap.String("control_prefix", srv.opts.ControlPrefix))
	return nil
}

// Validate checks the configuration without side effects.
func (h *Handler) Validate() error {
	opts := h.options()
	return opts.normalize()
}

// Server returns the emulator behind the module (nil before Provision).
func (h *Handler) Server() *Server { return h.server }

// ServeHTTP answers Graph and control API requests and passes everything
// else to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.server == nil || !h.server.Handles(r) {
		return next.ServeHTTP(w, r)
	}
	h.server.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
