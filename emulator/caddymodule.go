package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

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

	// DownloadOrigin is the scheme://host[:port] that drive download URLs
	// point at, e.g. a second site running this module with download_only
	// (and the same download_key). Default: the Graph site itself, which
	// serves them under download_prefix.
	DownloadOrigin string `json:"download_origin,omitempty"`

	// DownloadPrefix is the path prefix of the download host.
	// Default: /_download.
	DownloadPrefix string `json:"download_prefix,omitempty"`

	// DownloadKey (base64) signs download URLs; instances that serve each
	// other's URLs need the same key. Default: a key shared by every
	// instance in the process.
	DownloadKey string `json:"download_key,omitempty"`

	// DownloadURLLifetime is how long a download URL works. Default: 1h.
	DownloadURLLifetime caddy.Duration `json:"download_url_lifetime,omitempty"`

	// DownloadOnly makes this instance only the download host (download
	// URLs under download_prefix, POST {control_prefix}/download-urls/expire
	// and GET|DELETE {control_prefix}/download-requests):
	// no mailboxes, no Graph surface. Default: false.
	DownloadOnly bool `json:"download_only,omitempty"`

	// DriveResyncCode is the error of an expired drive delta token:
	// resyncRequired, resyncApplyDifferences (inner code under
	// resyncRequired), resyncUploadDifferences, resyncChangesApplyDifferences,
	// resyncChangesUploadDifferences or syncStateNotFound.
	// Default: resyncRequired.
	DriveResyncCode string `json:"drive_resync_code,omitempty"`

	// DriveResyncOmitLocation drops the Location header from those 410s.
	// Default: false.
	DriveResyncOmitLocation bool `json:"drive_resync_omit_location,omitempty"`

	// DriveDeletePageSize ends a drive delta page after this many items
	// once half are deletions; -1 turns it off. Default: 7.
	DriveDeletePageSize int `json:"drive_delete_page_size,omitempty"`

	// DriveIgnoreTop makes drive delta ignore $top. Default: false.
	DriveIgnoreTop bool `json:"drive_ignore_top,omitempty"`

	// DriveKeepDeletedFacet keeps the deleted facet on delta tombstones
	// when $select does not name it. Default: false (dropped).
	DriveKeepDeletedFacet bool `json:"drive_keep_deleted_facet,omitempty"`

	// DriveOmitDownloadURL leaves @microsoft.graph.downloadUrl out unless
	// $select names it. Default: false.
	DriveOmitDownloadURL bool `json:"drive_omit_download_url,omitempty"`

	// DriveContentDirect answers /content with 200 and the bytes instead
	// of a 302. Default: false.
	DriveContentDirect bool `json:"drive_content_direct,omitempty"`

	// DownloadDeniedStatus is the download host's status for an expired
	// or altered URL or a request carrying Authorization: 401 or 403.
	// Default: 401.
	DownloadDeniedStatus int `json:"download_denied_status,omitempty"`

	// DownloadIgnoreRange answers Range requests with the whole file.
	// Default: false.
	DownloadIgnoreRange bool `json:"download_ignore_range,omitempty"`

	// DownloadRedirects makes the download host answer each URL with this
	// many 302 hops (0–20) before the content. Default: 0.
	DownloadRedirects int `json:"download_redirects,omitempty"`

	// DownloadRedirectOrigin is where those hops point
	// (scheme://host[:port]). Default: the download host itself.
	DownloadRedirectOrigin string `json:"download_redirect_origin,omitempty"`

	// DriveBusinessAnyOrder lets business drives sort children by
	// lastModifiedDateTime and size too. Default: false (name only).
	DriveBusinessAnyOrder bool `json:"drive_business_any_order,omitempty"`

	// DriveOmitMimeType leaves file.mimeType out on business drives.
	// Default: false.
	DriveOmitMimeType bool `json:"drive_omit_mime_type,omitempty"`

	// DriveSparseSearch leaves createdBy, lastModifiedBy and
	// parentReference out of business search results. Default: false.
	DriveSparseSearch bool `json:"drive_sparse_search,omitempty"`

	// DriveLatestLinkKeepsToken keeps token=latest in the links of a delta
	// started with it, ahead of the new token. Default: false.
	DriveLatestLinkKeepsToken bool `json:"drive_latest_link_keeps_token,omitempty"`
	// Notifications configure change-notification subscriptions and the
	// notifications the emulator POSTs. Default: every field's default.
	Notifications *NotificationConfig `json:"notifications,omitempty"`

	server *Server
	// downloads and controlPrefix are set in download_only mode.
	downloads     *DownloadHandler
	controlPrefix string
	logger        *zap.Logger
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
			BatchThrottle:             h.BatchThrottle,
			SyncStateCode:             h.SyncStateCode,
			SyncStateStatus:           h.SyncStateStatus,
			SyncStateOmitLocation:     h.SyncStateOmitLocation,
			EmptyPageEvery:            h.EmptyPageEvery,
			ReplayEvery:               h.ReplayEvery,
			DriveResyncCode:           h.DriveResyncCode,
			DriveResyncOmitLocation:   h.DriveResyncOmitLocation,
			DriveDeletePageSize:       h.DriveDeletePageSize,
			DriveIgnoreTop:            h.DriveIgnoreTop,
			DriveKeepDeletedFacet:     h.DriveKeepDeletedFacet,
			DriveOmitDownloadURL:      h.DriveOmitDownloadURL,
			DriveContentDirect:        h.DriveContentDirect,
			DownloadDeniedStatus:      h.DownloadDeniedStatus,
			DownloadIgnoreRange:       h.DownloadIgnoreRange,
			DownloadRedirects:         h.DownloadRedirects,
			DownloadRedirectOrigin:    h.DownloadRedirectOrigin,
			DriveLatestLinkKeepsToken: h.DriveLatestLinkKeepsToken,
			DriveOmitMimeType:         h.DriveOmitMimeType,
			DriveSparseSearch:         h.DriveSparseSearch,
			DriveBusinessAnyOrder:     h.DriveBusinessAnyOrder,
		},
		DownloadOrigin:      h.DownloadOrigin,
		DownloadPrefix:      h.DownloadPrefix,
		DownloadURLLifetime: time.Duration(h.DownloadURLLifetime),
		Subscriptions:       h.Notifications.subscriptionOptions(),
	}
}

// downloadKey decodes DownloadKey.
func (h *Handler) downloadKey() ([]byte, error) {
	if h.DownloadKey == "" {
		return nil, nil
	}
	k, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(h.DownloadKey, "="))
	if err != nil {
		k, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h.DownloadKey, "="))
	}
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("download_key must be base64 of at least 16 bytes")
	}
	return k, nil
}

// Provision builds the emulator with fresh mailboxes.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	key, err := h.downloadKey()
	if err != nil {
		return err
	}
	opts := h.options()
	opts.DownloadKey = key
	if h.DownloadOnly {
		if err := opts.normalize(); err != nil {
			return fmt.Errorf("configuring graph emulator: %v", err)
		}
		dl, err := NewDownloadHandler(DownloadOptions{Prefix: opts.DownloadPrefix, Key: key,
			DeniedStatus: opts.Quirks.DownloadDeniedStatus, IgnoreRange: opts.Quirks.DownloadIgnoreRange,
			Redirects: opts.Quirks.DownloadRedirects, RedirectOrigin: opts.Quirks.DownloadRedirectOrigin})
		if err != nil {
			return fmt.Errorf("configuring graph emulator download host: %v", err)
		}
		h.downloads = dl
		h.controlPrefix = opts.ControlPrefix
		h.logger.Info("graph emulator download host ready", zap.String("download_prefix", opts.DownloadPrefix))
		return nil
	}
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
	if _, err := h.downloadKey(); err != nil {
		return err
	}
	opts := h.options()
	return opts.normalize()
}

// Server returns the emulator behind the module (nil before Provision).
func (h *Handler) Server() *Server { return h.server }

// ServeHTTP answers Graph and control API requests and passes everything
// else to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.downloads != nil {
		switch {
		case h.downloads.Handles(r):
			h.downloads.ServeHTTP(w, r)
			return nil
		case hasPathPrefix(r.URL.EscapedPath(), h.controlPrefix):
			if serveDownloadControl(w, r, h.downloads, strings.TrimPrefix(r.URL.EscapedPath(), h.controlPrefix)) {
				return nil
			}
		}
		return next.ServeHTTP(w, r)
	}
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
