package emulator

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddypki"
	"go.uber.org/zap"
)

// NotificationConfig configures the emulator's subscriptions and the
// notifications it sends (the `notifications` block of graph_emulator).
type NotificationConfig struct {
	// TenantID is the tenantId of notifications.
	// Default: 7a3c5e1f-2b4d-4f6a-8c9e-0d1b3a5c7e9f.
	TenantID string `json:"tenant_id,omitempty"`

	// MaxLifetime is the longest subscription lifetime. Default: 10080m
	// (Graph's limit for basic Outlook subscriptions); 4230m reproduces
	// the older documentation.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// MaxClientState is the longest clientState in characters.
	// Default: 128 (v1.0); 255 is the other documented figure.
	MaxClientState int `json:"max_client_state,omitempty"`

	// MaxURLLength bounds notificationUrl and lifecycleNotificationUrl in
	// bytes; -1 = no limit. Default: 2048.
	MaxURLLength int `json:"max_url_length,omitempty"`

	// ValidationTimeout is the validation request's timeout.
	// Default: 10s.
	ValidationTimeout caddy.Duration `json:"validation_timeout,omitempty"`

	// ValidationErrorCode is the error code of a failed validation:
	// ValidationError or InvalidRequest. Default: ValidationError.
	ValidationErrorCode string `json:"validation_error_code,omitempty"`

	// TrustPEMFile, when set, is the only trust pool (PEM certificates)
	// for the subscribers' TLS certificates. Default: the system roots
	// plus Caddy's local CA root.
	TrustPEMFile string `json:"trust_pem_file,omitempty"`

	// The delivery settings below can also be changed at run time through
	// the control API.

	// TokenExpiry is what delivery does after the creating token expired:
	// continue, or pause after reauthorizationRequired until renewed.
	// Default: continue.
	TokenExpiry string `json:"token_expiry,omitempty"`

	// RenewValidation is when a PATCH validates the notificationUrl:
	// changed_url or always. Default: changed_url.
	RenewValidation string `json:"renew_validation,omitempty"`

	// ResourceForm is how a notification's resource names the item:
	// users, user_at_tenant or odata_key. Default: users.
	ResourceForm string `json:"resource_form,omitempty"`

	// NotificationTimeout is each notification POST's timeout.
	// Default: 3s.
	NotificationTimeout caddy.Duration `json:"notification_timeout,omitempty"`

	// RetryInitial is the delay before the first retry. Default: 1m.
	RetryInitial caddy.Duration `json:"retry_initial,omitempty"`

	// RetryMaxInterval caps the doubling retry delay. Default: 30m.
	RetryMaxInterval caddy.Duration `json:"retry_max_interval,omitempty"`

	// RetryFor is how long a notification is retried before it is
	// dropped. Default: 4h.
	RetryFor caddy.Duration `json:"retry_for,omitempty"`

	// DuplicateEvery sends every Nth notification POST more than once;
	// -1 = never. Default: 10.
	DuplicateEvery int `json:"duplicate_every,omitempty"`

	// DuplicateCopies is how many extra copies such a POST gets.
	// Default: 1.
	DuplicateCopies int `json:"duplicate_copies,omitempty"`

	// BatchWindow collects a notification URL's changes this long into
	// one POST. Default: 0 (a POST per change).
	BatchWindow caddy.Duration `json:"batch_window,omitempty"`

	// MissedOnDrop sends missed after a dropped notification: on or off.
	// Default: off.
	MissedOnDrop string `json:"missed_on_drop,omitempty"`
}

// durationSetting renders a configured duration for NotificationSettings
// ("" when unset).
func durationSetting(d caddy.Duration) string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

// subscriptionOptions converts the config to SubscriptionOptions (without
// the trust pool, which Provision loads).
func (nc *NotificationConfig) subscriptionOptions() SubscriptionOptions {
	if nc == nil {
		return SubscriptionOptions{}
	}
	return SubscriptionOptions{
		TenantID:            nc.TenantID,
		MaxLifetime:         time.Duration(nc.MaxLifetime),
		MaxClientState:      nc.MaxClientState,
		MaxURLLength:        nc.MaxURLLength,
		ValidationTimeout:   time.Duration(nc.ValidationTimeout),
		ValidationErrorCode: nc.ValidationErrorCode,
		Runtime: NotificationSettings{
			TokenExpiry:         nc.TokenExpiry,
			RenewValidation:     nc.RenewValidation,
			ResourceForm:        nc.ResourceForm,
			NotificationTimeout: durationSetting(nc.NotificationTimeout),
			RetryInitial:        durationSetting(nc.RetryInitial),
			RetryMaxInterval:    durationSetting(nc.RetryMaxInterval),
			RetryFor:            durationSetting(nc.RetryFor),
			DuplicateEvery:      nc.DuplicateEvery,
			DuplicateCopies:     nc.DuplicateCopies,
			BatchWindow:         durationSetting(nc.BatchWindow),
			MissedOnDrop:        nc.MissedOnDrop,
		},
	}
}

// notificationTrust builds the trust pool of notification POSTs: the PEM
// file when configured, else the system roots plus the root of Caddy's
// local CA (from the pki app when it is configured, else from the
// default storage location), so TLS sites served with `tls internal` or
// `local_certs` work as subscribers without configuration.
func (h *Handler) notificationTrust(ctx caddy.Context) (*x509.CertPool, error) {
	if h.Notifications != nil && h.Notifications.TrustPEMFile != "" {
		data, err := os.ReadFile(h.Notifications.TrustPEMFile)
		if err != nil {
			return nil, fmt.Errorf("reading notification trust pool: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("notification trust pool %s holds no PEM certificate", h.Notifications.TrustPEMFile)
		}
		return pool, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if root := localCARoot(ctx); root != nil {
		pool.AddCert(root)
	} else if h.logger != nil {
		h.logger.Warn("graph emulator: Caddy's local CA root not found; notifications trust the system roots only")
	}
	return pool, nil
}

// localCARoot is the root certificate of Caddy's local CA, or nil.
func localCARoot(ctx caddy.Context) *x509.Certificate {
	if app, err := ctx.AppIfConfigured("pki"); err == nil {
		if pki, ok := app.(*caddypki.PKI); ok {
			if ca, err := pki.GetCA(ctx, caddypki.DefaultCAID); err == nil && ca != nil {
				if root := ca.RootCertificate(); root != nil {
					return root
				}
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(caddy.AppDataDir(), "pki", "authorities", caddypki.DefaultCAID, "root.crt"))
	if err != nil {
		return nil
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return cert
}

// provisionNotifications sets the trust pool into opts.
func (h *Handler) provisionNotifications(ctx caddy.Context, opts *Options) error {
	pool, err := h.notificationTrust(ctx)
	if err != nil {
		return err
	}
	opts.Subscriptions.TrustedRoots = pool
	return nil
}

// Cleanup stops the notifications still being delivered or retried.
func (h *Handler) Cleanup() error {
	if h.server != nil {
		h.server.Close()
		if h.logger != nil {
			h.logger.Debug("graph emulator stopped its notification delivery", zap.String("base_path", h.server.opts.BasePath))
		}
	}
	return nil
}

// unmarshalNotifications parses the notifications block:
//
//	notifications {
//	    tenant_id             <guid>
//	    max_lifetime          <duration>
//	    max_client_state      <n>
//	    max_url_length        <n>|off
//	    validation_timeout    <duration>
//	    validation_error_code ValidationError|InvalidRequest
//	    trust_pem_file        <path>
//	    token_expiry          continue|pause
//	    renew_validation      changed_url|always
//	    resource_form         users|user_at_tenant|odata_key
//	    notification_timeout  <duration>
//	    retry_initial         <duration>
//	    retry_max_interval    <duration>
//	    retry_for             <duration>
//	    duplicate_every       <n>|off
//	    duplicate_copies      <n>
//	    batch_window          <duration>
//	    missed_on_drop        on|off
//	}
func unmarshalNotifications(d *caddyfile.Dispenser) (*NotificationConfig, error) {
	nc := new(NotificationConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	one := func() (string, error) {
		if !d.NextArg() {
			return "", d.ArgErr()
		}
		v := d.Val()
		if d.NextArg() {
			return "", d.ArgErr()
		}
		return v, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		v, err := one()
		if err != nil {
			return nil, err
		}
		dur := func(dst *caddy.Duration) error {
			x, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("%s: %v", name, err)
			}
			*dst = caddy.Duration(x)
			return nil
		}
		num := func(dst *int, off int) error {
			if v == "off" && off != 0 {
				*dst = off
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return d.Errf("%s: invalid number %q", name, v)
			}
			*dst = n
			return nil
		}
		switch name {
		case "tenant_id":
			nc.TenantID = v
		case "max_lifetime":
			err = dur(&nc.MaxLifetime)
		case "max_client_state":
			err = num(&nc.MaxClientState, 0)
		case "max_url_length":
			err = num(&nc.MaxURLLength, -1)
		case "validation_timeout":
			err = dur(&nc.ValidationTimeout)
		case "validation_error_code":
			nc.ValidationErrorCode = v
		case "trust_pem_file":
			nc.TrustPEMFile = v
		case "token_expiry":
			nc.TokenExpiry = v
		case "renew_validation":
			nc.RenewValidation = v
		case "resource_form":
			nc.ResourceForm = v
		case "notification_timeout":
			err = dur(&nc.NotificationTimeout)
		case "retry_initial":
			err = dur(&nc.RetryInitial)
		case "retry_max_interval":
			err = dur(&nc.RetryMaxInterval)
		case "retry_for":
			err = dur(&nc.RetryFor)
		case "duplicate_every":
			err = num(&nc.DuplicateEvery, -1)
		case "duplicate_copies":
			err = num(&nc.DuplicateCopies, 0)
		case "batch_window":
			err = dur(&nc.BatchWindow)
		case "missed_on_drop":
			nc.MissedOnDrop = v
		default:
			return nil, d.Errf("unrecognized notifications subdirective %s", name)
		}
		if err != nil {
			return nil, err
		}
	}
	opts := nc.subscriptionOptions()
	if err := opts.normalize(); err != nil {
		return nil, d.Errf("notifications: %v", err)
	}
	return nc, nil
}

// Interface guards
var (
	_ caddy.CleanerUpper = (*Handler)(nil)
)
