// Package caddymodule is the Caddy glue of devicebridge: the
// http.handlers.devicebridge handler, its Caddyfile directive, metrics and
// logging. The device API itself lives in package translate and the
// per-mailbox throttling in package governor; this package only moves
// bytes between Caddy, the translator and reverse_proxy and wires the
// governor in.
package caddymodule

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/governor"
	"github.com/devicebridge/caddy-devicebridge/tlspolicy"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's own limits. The translator's limits and
// defaults (state_ttl, max_commands, the state key size) are package
// translate's: translate.DefaultStateTTL, translate.DefaultMaxCommands,
// translate.MaxBatchCommands, translate.StateKeySize.
const (
	DefaultPrefix = "/device/v1"
	// DefaultMaxRequestBody takes one mail.send with the 3 MiB of
	// attachments the device API allows (translate.MaxSendAttachmentBytes,
	// 4 MiB in base64) plus 1 MiB for its body, recipients and the rest
	// of the envelope.
	DefaultMaxRequestBody  = 5 << 20
	DefaultMaxResponseBody = 32 << 20
)

// Handler is devicebridge's translator: it serves the device API (batched
// commands, sealed sync state) by rewriting each device request into one
// Microsoft Graph call, handing it to the next handler — normally a
// reverse_proxy to the upstream over TLS — and translating Graph's answer
// back into the device's form.
//
// The handler stores nothing about users: sync positions travel in the
// sealed state the device holds. It opens no connection to Graph of its
// own; transport, TLS trust, load balancing and retries are
// reverse_proxy's. The one connection it makes itself is the file
// endpoint's fetch of a pre-authenticated download URL, which carries no
// token and goes only to the file_hosts allow list. The `devicebridge` Caddyfile directive sets up both.
//
// The next handler only ever receives requests the handler rewrote into
// upstream calls: any other request that reaches the handler, under
// Prefix or not, is answered 404 not_found. Route only Prefix to it, as
// the directive does.
type Handler struct {
	// Upstream is the Graph base URL, scheme, host and version path,
	// e.g. `https://graph.microsoft.com/v1.0`. Required. Graph's paging
	// links are only followed when their scheme, host and base path equal
	// this URL's.
	Upstream string `json:"upstream,omitempty"`

	// Prefix is the path under which the device API is served; leading
	// and trailing slashes are normalised (`device/v1/` is `/device/v1`).
	// Default: `/device/v1`.
	Prefix string `json:"prefix,omitempty"`

	// StateKeys are the keys that seal sync state, each 32 bytes in
	// base64 (standard or URL alphabet, padding optional). The first key
	// seals; every key opens, so a key can be rotated in by putting it
	// first and rotated out once states sealed with the old one have
	// expired. Global placeholders such as `{env.DEVICEBRIDGE_STATE_KEY}`
	// are replaced at provision time. Default: none, in which case a
	// random key is generated at start-up and a warning is logged,
	// because states then neither survive a restart nor work across
	// instances.
	StateKeys []string `json:"state_keys,omitempty"`

	// StateTTL is how long a sealed state stays valid after it was issued.
	// Default: 30 days (translate.DefaultStateTTL).
	StateTTL caddy.Duration `json:"state_ttl,omitempty"`

	// ImmutableIDs asks Graph for immutable ids (`Prefer:
	// IdType="ImmutableId"`) on every call, so a message keeps its id
	// when it moves between folders. Default: true.
	ImmutableIDs *bool `json:"immutable_ids,omitempty"`

	// MaxRequestBody is the largest device request body (a batch
	// envelope) accepted, in bytes; larger ones are refused with 413
	// `request_too_large`. The body is buffered whole. Default: 5 MiB,
	// enough for a mail.send with 3 MiB of attachments (4 MiB in base64)
	// and its envelope.
	MaxRequestBody int64 `json:"max_request_body,omitempty"`

	// MaxResponseBody is the largest upstream JSON answer buffered for
	// translation, in bytes; a larger one ends the request with 502
	// `upstream_error`. Default: 32 MiB.
	MaxResponseBody int64 `json:"max_response_body,omitempty"`

	// MaxMIMEBody is the largest raw MIME message, in bytes, accepted by
	// the mime/send endpoint; a larger one is refused with 413
	// `request_too_large`. The message is read whole before it is sent
	// upstream (base64-encoded on the fly). Default: 4 MiB.
	MaxMIMEBody int64 `json:"max_mime_body,omitempty"`

	// MIMEReadTimeout is how long mime/send waits for the whole message
	// to arrive; a slower upload is answered 408 `invalid_request`. The
	// message is read before the request takes a slot of its mailbox, so
	// a slow upload holds none. Default: 1m.
	MIMEReadTimeout caddy.Duration `json:"mime_read_timeout,omitempty"`

	// MaxCommands is the largest number of commands in one device batch,
	// from 1 to 20 (translate.MaxBatchCommands, Graph's `$batch` limit).
	// Default: 20 (translate.DefaultMaxCommands).
	MaxCommands int `json:"max_commands,omitempty"`

	// InsecureUpstream allows a plain-http Upstream. Only for tests and
	// local development: the device's bearer token would then cross the
	// network in clear. Default: false.
	InsecureUpstream bool `json:"insecure_upstream,omitempty"`

	// MaxInflightPerMailbox is the most upstream requests this instance
	// keeps in flight per mailbox (Exchange Online allows about 4 and
	// throttles beyond); a `$batch` counts as one per sub-request, at
	// most 4 (Outlook runs 4 items of a batch at once). Further requests
	// for the mailbox wait for up to QueueTimeout. Default: 4.
	MaxInflightPerMailbox int `json:"max_inflight_per_mailbox,omitempty"`

	// QueueTimeout is how long a request waits for a free slot of its
	// mailbox before it is answered 429 `throttled` (with retryAfter 5)
	// without an upstream call. Default: 10s.
	QueueTimeout caddy.Duration `json:"queue_timeout,omitempty"`

	// MaxTrackedMailboxes bounds the governor's table of mailboxes with
	// requests in flight, queued or under an upstream Retry-After. When
	// it is full a new mailbox evicts the least recently used mailbox
	// kept only for a Retry-After; when every mailbox in it is busy,
	// requests for new mailboxes go ungoverned instead of failing.
	// Default: 100000.
	MaxTrackedMailboxes int `json:"max_tracked_mailboxes,omitempty"`

	// MaxBufferedBytes is the most bytes the process holds in buffers
	// for requests in progress — device bodies, Graph's answers and the
	// translated answers — shared by every handler configured with the
	// same value. A request whose buffers would go beyond it waits up to
	// BufferWait, then is answered 503 `upstream_unavailable` with
	// Retry-After 5. Default: 256 MiB.
	MaxBufferedBytes int64 `json:"max_buffered_bytes,omitempty"`

	// BufferWait is how long a request waits for buffer budget before it
	// is refused. Default: 2s.
	BufferWait caddy.Duration `json:"buffer_wait,omitempty"`

	// FileProxy serves GET {prefix}/files/{id}/content, where the bridge
	// fetches a drive item's pre-authenticated download URL itself and
	// streams it. Off, the path answers 404 and devices fetch the URL of
	// files.link directly. Default: true.
	FileProxy *bool `json:"file_proxy,omitempty"`

	// FileHosts are the hosts the file endpoint fetches from, each an
	// exact host or `*.suffix`, optionally with a port (else only 443);
	// https only, and only at public addresses (checked when connecting)
	// unless the entry names the host exactly. Every redirect hop (at most
	// 2) is checked the same way. Default: the upstream cloud's download
	// hosts — global `*.sharepoint.com`, `my.microsoftpersonalcontent.com`,
	// `*.files.1drv.com`; US Gov (graph.microsoft.us) `*.sharepoint.us`;
	// DoD (dod-graph.microsoft.us) `*.sharepoint-mil.us`; China
	// (microsoftgraph.chinacloudapi.cn) `*.sharepoint.cn`.
	FileHosts []string `json:"file_hosts,omitempty"`

	// MaxFileStreams is the most file downloads this handler streams at
	// once; one more is answered 503 upstream_unavailable with
	// Retry-After 5. Default: 64.
	MaxFileStreams int `json:"max_file_streams,omitempty"`

	// FileIdleTimeout is how long a file download may wait for the
	// download host's response headers or its next bytes; a download has
	// no total timeout. Default: 30s.
	FileIdleTimeout caddy.Duration `json:"file_idle_timeout,omitempty"`

	// FileTLS is the TLS trust of the file download client. The directive
	// fills it with the trust pool of the upstream transport's TLS
	// (tls_trust_pool and the like), so download hosts are verified as
	// Graph is; only the trust is taken, never client certificates or a
	// server name. Default: the system's roots.
	FileTLS *reverseproxy.TLSConfig `json:"file_tls,omitempty"`

	// Push turns push on: the push commands and the webhook Graph posts
	// change notifications to. Default: none (push is off).
	Push *PushConfig `json:"push,omitempty"`

	translator *translate.Translator
	files      *fileFetcher
	governor   *governor.Governor
	budget     *governor.Budget
	budgetKey  string
	upstream   *url.URL
	logger     *zap.Logger
	metrics    *metrics
	push       *pushRuntime
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.devicebridge",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets defaults, decodes the state keys and builds the translator.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()

	h.Prefix = normalizePrefix(h.Prefix)
	if h.ImmutableIDs == nil {
		immutable := true
		h.ImmutableIDs = &immutable
	}
	if h.MaxRequestBody == 0 {
		h.MaxRequestBody = DefaultMaxRequestBody
	}
	if h.MaxResponseBody == 0 {
		h.MaxResponseBody = DefaultMaxResponseBody
	}
	if h.MaxMIMEBody == 0 {
		h.MaxMIMEBody = DefaultMaxMIMEBody
	}
	if h.MIMEReadTimeout == 0 {
		h.MIMEReadTimeout = caddy.Duration(DefaultMIMEReadTimeout)
	}
	if h.MaxInflightPerMailbox == 0 {
		h.MaxInflightPerMailbox = governor.DefaultMaxInflightPerMailbox
	}
	if h.QueueTimeout == 0 {
		h.QueueTimeout = caddy.Duration(governor.DefaultQueueTimeout)
	}
	if h.MaxTrackedMailboxes == 0 {
		h.MaxTrackedMailboxes = governor.DefaultMaxTrackedMailboxes
	}
	if h.MaxBufferedBytes == 0 {
		h.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if h.BufferWait == 0 {
		h.BufferWait = caddy.Duration(DefaultBufferWait)
	}
	if err := h.provisionBudget(); err != nil {
		return err
	}
	h.governor = governor.New(governor.Options{
		MaxInflightPerMailbox: h.MaxInflightPerMailbox,
		QueueTimeout:          time.Duration(h.QueueTimeout),
		MaxTrackedMailboxes:   h.MaxTrackedMailboxes,
	})

	upstream, err := tlspolicy.ParseUpstream(h.Upstream, h.InsecureUpstream)
	if err != nil {
		return err
	}
	if h.InsecureUpstream && upstream.Scheme == "http" {
		h.logger.Warn("upstream is plain http: device tokens cross the network in clear; use only for testing",
			zap.String("upstream_host", upstream.Host))
	}
	h.upstream = upstream

	keys, err := decodeStateKeys(h.StateKeys)
	if err != nil {
		return err
	}
	pushOptions, err := h.provisionPush(ctx)
	if err != nil {
		return err
	}
	// The translator validates its own options (state_ttl, max_commands,
	// the upstream URL, the key size) and fills in their defaults.
	h.translator, err = translate.New(translate.Options{
		Upstream:     upstream.String(),
		StateKeys:    keys,
		StateTTL:     time.Duration(h.StateTTL),
		MaxCommands:  h.MaxCommands,
		ImmutableIDs: *h.ImmutableIDs,
		Push:         pushOptions,
	})
	if err != nil {
		_ = h.closePush()
		return fmt.Errorf("building translator: %v", err)
	}
	if h.translator.GeneratedKey() {
		h.logger.Warn("no state_key configured: generated a random one; sync states will not survive a restart or work across instances")
		if h.push != nil {
			h.logger.Warn("push is on with a generated state key: subscriptions made here reach their devices only while this instance runs, and no other instance can serve their notifications")
		}
	}
	if h.push != nil {
		h.push.keys = h.translator.PushKeys()
	}

	h.metrics, err = provisionMetrics(ctx)
	if err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	return h.provisionFiles(ctx)
}

// provisionFiles sets the file endpoint's defaults and builds its client.
func (h *Handler) provisionFiles(ctx caddy.Context) error {
	if h.FileProxy == nil {
		on := true
		h.FileProxy = &on
	}
	if !*h.FileProxy {
		return nil
	}
	if h.MaxFileStreams == 0 {
		h.MaxFileStreams = DefaultMaxFileStreams
	}
	if h.FileIdleTimeout == 0 {
		h.FileIdleTimeout = caddy.Duration(DefaultFileIdleTimeout)
	}
	entries, named := h.FileHosts, true
	if len(entries) == 0 {
		entries, named = defaultFileHosts(h.upstream.Hostname()), false
	}
	hosts, err := parseFileHosts(entries, named)
	if err != nil {
		return err
	}
	var trust *tls.Config
	if h.FileTLS != nil {
		if trust, err = h.FileTLS.MakeTLSClientConfig(ctx); err != nil {
			return fmt.Errorf("file_tls: %v", err)
		}
	}
	h.files = newFileFetcher(hosts, trust, h.MaxFileStreams, time.Duration(h.FileIdleTimeout), h.metrics.countFileHostRefused)
	return nil
}

// Validate checks the handler's own options without changing them. The
// translator's options (state_ttl, max_commands, upstream, state keys) are
// checked by translate.New in Provision, their one place.
func (h *Handler) Validate() error {
	if h.MaxRequestBody < 0 || h.MaxResponseBody < 0 || h.MaxMIMEBody < 0 {
		return fmt.Errorf("body limits must not be negative")
	}
	if h.MaxBufferedBytes < 0 || time.Duration(h.BufferWait) < 0 {
		return fmt.Errorf("max_buffered_bytes and buffer_wait must not be negative")
	}
	if time.Duration(h.MIMEReadTimeout) < 0 {
		return fmt.Errorf("mime_read_timeout must not be negative")
	}
	if h.MaxInflightPerMailbox < 0 || time.Duration(h.QueueTimeout) < 0 || h.MaxTrackedMailboxes < 0 {
		return fmt.Errorf("max_inflight_per_mailbox, queue_timeout and max_tracked_mailboxes must not be negative")
	}
	if h.MaxFileStreams < 0 || time.Duration(h.FileIdleTimeout) < 0 {
		return fmt.Errorf("max_file_streams and file_idle_timeout must not be negative")
	}
	if _, err := parseFileHosts(h.FileHosts, true); err != nil {
		return err
	}
	return nil
}

// normalizePrefix returns the device API's path prefix in its one form:
// DefaultPrefix when unset, else one leading slash and no trailing one.
func normalizePrefix(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	return "/" + strings.Trim(prefix, "/")
}

// decodeStateKeys replaces global placeholders in the configured keys and
// decodes each from base64; translate.New checks their size.
func decodeStateKeys(configured []string) ([][]byte, error) {
	repl := caddy.NewReplacer()
	keys := make([][]byte, 0, len(configured))
	for i, raw := range configured {
		text := strings.TrimSpace(repl.ReplaceAll(raw, ""))
		if text == "" {
			return nil, fmt.Errorf("state key %d is empty (is its environment variable set?)", i+1)
		}
		key, err := decodeBase64(text)
		if err != nil {
			return nil, fmt.Errorf("state key %d is not base64: %v", i+1, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// decodeBase64 accepts standard and URL alphabets, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
