package pushemulator

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is an in-memory emulator of APNs, FCM HTTP v1 and a Web Push
// service for tests and the demo of devicebridge's push senders. It answers
// APNs at /3/device/{token}, FCM at /v1/projects/{project}/messages:send and
// its OAuth token endpoint at fcm_token_path, Web Push at webpush_path, and
// the control API at control_prefix (unauthenticated, for tests and demos
// only: never expose it to untrusted clients); other requests go to the next
// handler. APNs needs HTTP/2, so serve the site over TLS.
//
// Records and subscriptions live in the module instance: loading a new
// config starts afresh (keys survive when they come from files, and so do
// the FCM access tokens issued under them, which verify themselves).
type Handler struct {
	// ControlPrefix is the path prefix of the control API.
	// Default: /_push.
	ControlPrefix string `json:"control_prefix,omitempty"`

	// Origin is the emulator's public origin (https://host[:port]), used
	// for the FCM credentials' token_uri, Web Push endpoints and the VAPID
	// audience. Default: derived from each request's Host.
	Origin string `json:"origin,omitempty"`

	// APNsKeyID is the key id provider tokens must carry as kid.
	// Default: EMUKEY0001.
	APNsKeyID string `json:"apns_key_id,omitempty"`

	// APNsTeamID is the team id provider tokens must carry as iss.
	// Default: EMUTEAM001.
	APNsTeamID string `json:"apns_team_id,omitempty"`

	// APNsTopic is the bundle id pushes must name in apns-topic.
	// Default: com.example.devicebridge.
	APNsTopic string `json:"apns_topic,omitempty"`

	// APNsPublicKeyFile is a PEM P-256 public key verifying provider
	// tokens (the emulator then cannot hand out the private key).
	// Default: none.
	APNsPublicKeyFile string `json:"apns_public_key_file,omitempty"`

	// APNsKeyFile is a .p8 P-256 private key: read if the file exists,
	// else generated and written there (mode 0600). Default: none (a key
	// generated in memory, handed out by the control API).
	APNsKeyFile string `json:"apns_key_file,omitempty"`

	// APNsSandboxHosts are the hosts (host or host:port) whose APNs
	// requests are the sandbox environment; the rest are production.
	// Default: none.
	APNsSandboxHosts []string `json:"apns_sandbox_hosts,omitempty"`

	// APNsAllowHTTP1 accepts APNs requests over HTTP/1.x, which APNs
	// itself refuses. Default: false.
	APNsAllowHTTP1 bool `json:"apns_allow_http1,omitempty"`

	// APNsTokenUpdateInterval is the shortest time between two different
	// provider tokens on one connection (else 429
	// TooManyProviderTokenUpdates); negative turns the check off.
	// Default: 20m.
	APNsTokenUpdateInterval caddy.Duration `json:"apns_token_update_interval,omitempty"`

	// APNsMaxPayload is the largest APNs body in bytes. Default: 4096.
	APNsMaxPayload int `json:"apns_max_payload,omitempty"`

	// FCMProject is the Firebase project id. Default:
	// devicebridge-emulator (or the project of fcm_credentials_file).
	FCMProject string `json:"fcm_project,omitempty"`

	// FCMClientEmail is the generated service account's email. Default:
	// firebase-adminsdk@{project}.iam.gserviceaccount.com.
	FCMClientEmail string `json:"fcm_client_email,omitempty"`

	// FCMCredentialsFile is a service-account JSON: read if the file
	// exists, else generated and written there (mode 0600; needs origin).
	// Default: none (generated in memory, handed out by the control API).
	FCMCredentialsFile string `json:"fcm_credentials_file,omitempty"`

	// FCMTokenPath is the path of the OAuth 2.0 token endpoint.
	// Default: /token.
	FCMTokenPath string `json:"fcm_token_path,omitempty"`

	// FCMTokenLifetime is the lifetime of issued access tokens.
	// Default: 1h.
	FCMTokenLifetime caddy.Duration `json:"fcm_token_lifetime,omitempty"`

	// FCMMaxPayload is the largest FCM data payload in bytes.
	// Default: 4096.
	FCMMaxPayload int `json:"fcm_max_payload,omitempty"`

	// WebPushPath is the path prefix of Web Push resources. Default: /wp.
	WebPushPath string `json:"webpush_path,omitempty"`

	// WebPushMaxBody is the largest encrypted Web Push body in bytes.
	// Default: 4096.
	WebPushMaxBody int `json:"webpush_max_body,omitempty"`

	// WebPushMaxSubscriptions bounds the subscriptions issued.
	// Default: 10000.
	WebPushMaxSubscriptions int `json:"webpush_max_subscriptions,omitempty"`

	// RecordLimit is how many pushes the record keeps. Default: 1000.
	RecordLimit int `json:"record_limit,omitempty"`

	// ClockSkew is how far in the future a token's iat may be.
	// Default: 1m.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	server *Server
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.push_emulator",
		New: func() caddy.Module { return new(Handler) },
	}
}

// options converts the config to Options.
func (h *Handler) options() Options {
	return Options{
		ControlPrefix:           h.ControlPrefix,
		Origin:                  h.Origin,
		APNsKeyID:               h.APNsKeyID,
		APNsTeamID:              h.APNsTeamID,
		APNsTopic:               h.APNsTopic,
		APNsPublicKeyFile:       h.APNsPublicKeyFile,
		APNsKeyFile:             h.APNsKeyFile,
		APNsSandboxHosts:        append([]string(nil), h.APNsSandboxHosts...),
		APNsAllowHTTP1:          h.APNsAllowHTTP1,
		APNsTokenUpdateInterval: time.Duration(h.APNsTokenUpdateInterval),
		APNsMaxPayload:          h.APNsMaxPayload,
		FCMProject:              h.FCMProject,
		FCMClientEmail:          h.FCMClientEmail,
		FCMCredentialsFile:      h.FCMCredentialsFile,
		FCMTokenPath:            h.FCMTokenPath,
		FCMTokenLifetime:        time.Duration(h.FCMTokenLifetime),
		FCMMaxPayload:           h.FCMMaxPayload,
		WebPushPath:             h.WebPushPath,
		WebPushMaxBody:          h.WebPushMaxBody,
		WebPushMaxSubscriptions: h.WebPushMaxSubscriptions,
		RecordLimit:             h.RecordLimit,
		ClockSkew:               time.Duration(h.ClockSkew),
	}
}

// Provision loads or generates the keys and builds the emulator.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	srv, err := NewServer(h.options())
	if err != nil {
		return fmt.Errorf("configuring push emulator: %v", err)
	}
	h.server = srv
	h.logger.Info("push emulator ready",
		zap.String("control_prefix", srv.opts.ControlPrefix),
		zap.String("apns_key_id", srv.opts.APNsKeyID),
		zap.String("apns_topic", srv.opts.APNsTopic),
		zap.String("fcm_project", srv.opts.FCMProject),
		zap.String("webpush_path", srv.opts.WebPushPath))
	return nil
}

// Validate checks the configuration without side effects.
func (h *Handler) Validate() error {
	opts := h.options()
	return opts.normalize()
}

// Server returns the emulator behind the module (nil before Provision).
func (h *Handler) Server() *Server { return h.server }

// ServeHTTP answers push and control API requests and passes everything
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
