package emulator

import (
	"crypto/x509"
	"fmt"
	"time"
)

// This file holds the options of subscriptions and notification delivery,
// and the settings the control API can change at run time.

// Defaults of SubscriptionOptions.
const (
	// DefaultTenantID is the tenantId of notifications.
	DefaultTenantID = "7a3c5e1f-2b4d-4f6a-8c9e-0d1b3a5c7e9f"
	// DefaultApplicationID is the applicationId of subscriptions.
	DefaultApplicationID = "24d3b144-21ae-4080-943f-7067b395b913"
	// DefaultMaxSubscriptionLifetime is Graph's maximum for basic Outlook
	// subscriptions: 10,080 minutes (PUSH_FACTS §1.2).
	DefaultMaxSubscriptionLifetime = 10080 * time.Minute
	// DefaultMaxClientState is the v1.0 limit of clientState (§1.1).
	DefaultMaxClientState = 128
	// DefaultMaxNotificationURLLength bounds notificationUrl and
	// lifecycleNotificationUrl, in bytes (§1.8: no limit is documented).
	DefaultMaxNotificationURLLength = 2048
	// DefaultMaxSubscriptionsPerMailbox is Outlook's limit (§1.2).
	DefaultMaxSubscriptionsPerMailbox = 1000
	// DefaultValidationTimeout is how long an endpoint has to echo the
	// validation token (§1.3).
	DefaultValidationTimeout = 10 * time.Second
	// DefaultNotificationTimeout is Graph's timeout per notification POST
	// (§1.5).
	DefaultNotificationTimeout = 3 * time.Second
	// DefaultRetryInitial is the first retry's delay.
	DefaultRetryInitial = time.Minute
	// DefaultRetryMaxInterval caps the doubling retry delay.
	DefaultRetryMaxInterval = 30 * time.Minute
	// DefaultRetryFor is how long a notification is retried before it is
	// dropped: 4 hours (§1.5).
	DefaultRetryFor = 4 * time.Hour
	// DefaultDuplicateEvery makes every 10th notification arrive twice.
	DefaultDuplicateEvery = 10
	// DefaultDeliveryLogSize is how many notification attempts the
	// delivery log keeps.
	DefaultDeliveryLogSize = 1000
)

// Values of SubscriptionOptions.TokenExpiry (PUSH_FACTS §1.7, UNSURE).
const (
	// TokenExpiryContinue keeps delivering after the creating token
	// expired; reauthorizationRequired is only a hint.
	TokenExpiryContinue = "continue"
	// TokenExpiryPause stops delivery of a subscription after its
	// reauthorizationRequired until it is renewed (PATCH) or reauthorized;
	// changes made meanwhile are lost.
	TokenExpiryPause = "pause"
)

// Values of SubscriptionOptions.RenewValidation (PUSH_FACTS §1.3, UNSURE).
const (
	// RenewValidationChangedURL validates on PATCH only when the
	// notificationUrl changes.
	RenewValidationChangedURL = "changed_url"
	// RenewValidationAlways validates the notificationUrl on every PATCH.
	RenewValidationAlways = "always"
)

// Values of SubscriptionOptions.ResourceForm: how a notification's
// resource names the item (PUSH_FACTS §1.4; DEVICE_API §7 lists all three).
const (
	// ResourceFormUsers is Users/{user id}/Messages/{id}.
	ResourceFormUsers = "users"
	// ResourceFormUserAtTenant is users/{user id}@{tenant id}/messages/{id}.
	ResourceFormUserAtTenant = "user_at_tenant"
	// ResourceFormODataKey is Users('{user id}')/Messages('{id}').
	ResourceFormODataKey = "odata_key"
)

// Values of SubscriptionOptions.ValidationErrorCode: Graph has been seen
// answering a failed validation with either code.
const (
	ValidationErrorCodeValidation = "ValidationError"
	ValidationErrorCodeInvalid    = "InvalidRequest"
)

// SubscriptionOptions configure subscriptions and notification delivery.
// The zero value is usable: every field has a default. The fields marked
// "runtime" can also be changed through the control API.
type SubscriptionOptions struct {
	// TenantID is the tenantId of notifications. Default DefaultTenantID.
	TenantID string
	// ApplicationID is the applicationId of subscriptions. Default
	// DefaultApplicationID.
	ApplicationID string
	// MaxLifetime is the longest expirationDateTime ahead. Default 10080
	// minutes; 4230 minutes reproduces the older documentation.
	MaxLifetime time.Duration
	// MaxClientState is the longest clientState in characters. Default
	// 128 (v1.0); 255 is the changeNotification page's figure.
	MaxClientState int
	// MaxURLLength bounds notificationUrl and lifecycleNotificationUrl in
	// bytes. Default 2048; negative = no limit.
	MaxURLLength int
	// MaxPerMailbox is the number of live subscriptions a mailbox may
	// own. Default 1000.
	MaxPerMailbox int
	// ValidationTimeout is the validation request's timeout. Default 10s.
	ValidationTimeout time.Duration
	// ValidationErrorCode is the error code of a failed validation:
	// "ValidationError" (default) or "InvalidRequest".
	ValidationErrorCode string
	// TrustedRoots verify the subscriber's certificate. Default nil: the
	// system roots (the Caddy module adds Caddy's local CA).
	TrustedRoots *x509.CertPool
	// DeliveryLogSize is how many POST attempts the delivery log keeps.
	// Default 1000.
	DeliveryLogSize int
	// Runtime holds the settings the control API can change.
	Runtime NotificationSettings
}

// NotificationSettings are the delivery settings that can change at run
// time (control API: GET/PATCH {control}/notifications/settings). In a
// PATCH, absent fields stay as they are.
type NotificationSettings struct {
	// TokenExpiry is "continue" (default) or "pause".
	TokenExpiry string `json:"tokenExpiry,omitempty"`
	// RenewValidation is "changed_url" (default) or "always".
	RenewValidation string `json:"renewValidation,omitempty"`
	// ResourceForm is "users" (default), "user_at_tenant" or "odata_key".
	ResourceForm string `json:"resourceForm,omitempty"`
	// NotificationTimeout is the timeout of each notification POST (Go
	// duration). Default "3s".
	NotificationTimeout string `json:"notificationTimeout,omitempty"`
	// RetryInitial is the delay before the first retry. Default "1m".
	RetryInitial string `json:"retryInitial,omitempty"`
	// RetryMaxInterval caps the doubling retry delay. Default "30m".
	RetryMaxInterval string `json:"retryMaxInterval,omitempty"`
	// RetryFor is how long a notification is retried before it is
	// dropped. Default "4h".
	RetryFor string `json:"retryFor,omitempty"`
	// DuplicateEvery sends every Nth change notification POST more than
	// once. Default 10; -1 turns duplicates off.
	DuplicateEvery int `json:"duplicateEvery,omitempty"`
	// DuplicateCopies is how many extra copies a duplicated POST gets.
	// Default 1.
	DuplicateCopies int `json:"duplicateCopies,omitempty"`
	// BatchWindow collects the changes of this long for one notification
	// URL into one POST (Go duration). Default "0s": one POST per change
	// (the changes of one operation, like a move, still share a POST).
	BatchWindow string `json:"batchWindow,omitempty"`
	// MissedOnDrop is "on" to send a missed lifecycle notification to
	// the subscriptions whose change notification was dropped, or "off"
	// (default): the facts do not say Graph does so.
	MissedOnDrop string `json:"missedOnDrop,omitempty"`
}

// notificationSettings are NotificationSettings parsed.
type notificationSettings struct {
	TokenExpiry, RenewValidation, ResourceForm             string
	timeout, retryInitial, retryMax, retryFor, batchWindow time.Duration
	duplicateEvery, duplicateCopies                        int
	missedOnDrop                                           bool
}

// merge applies the fields set in p onto base and parses the result.
func (base NotificationSettings) merge(p NotificationSettings) (NotificationSettings, notificationSettings, error) {
	if p.TokenExpiry != "" {
		base.TokenExpiry = p.TokenExpiry
	}
	if p.RenewValidation != "" {
		base.RenewValidation = p.RenewValidation
	}
	if p.ResourceForm != "" {
		base.ResourceForm = p.ResourceForm
	}
	if p.MissedOnDrop != "" {
		base.MissedOnDrop = p.MissedOnDrop
	}
	for _, f := range []struct{ dst, src *string }{
		{&base.NotificationTimeout, &p.NotificationTimeout}, {&base.RetryInitial, &p.RetryInitial},
		{&base.RetryMaxInterval, &p.RetryMaxInterval}, {&base.RetryFor, &p.RetryFor}, {&base.BatchWindow, &p.BatchWindow},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	if p.DuplicateEvery != 0 {
		base.DuplicateEvery = p.DuplicateEvery
	}
	if p.DuplicateCopies != 0 {
		base.DuplicateCopies = p.DuplicateCopies
	}
	parsed, err := base.parse()
	return base, parsed, err
}

// parse fills defaults and checks the settings.
func (ns *NotificationSettings) parse() (notificationSettings, error) {
	var out notificationSettings
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&ns.TokenExpiry, TokenExpiryContinue)
	def(&ns.RenewValidation, RenewValidationChangedURL)
	def(&ns.ResourceForm, ResourceFormUsers)
	def(&ns.NotificationTimeout, DefaultNotificationTimeout.String())
	def(&ns.RetryInitial, DefaultRetryInitial.String())
	def(&ns.RetryMaxInterval, DefaultRetryMaxInterval.String())
	def(&ns.RetryFor, DefaultRetryFor.String())
	def(&ns.BatchWindow, "0s")
	def(&ns.MissedOnDrop, "off")
	if ns.DuplicateEvery == 0 {
		ns.DuplicateEvery = DefaultDuplicateEvery
	}
	if ns.DuplicateCopies == 0 {
		ns.DuplicateCopies = 1
	}
	switch ns.TokenExpiry {
	case TokenExpiryContinue, TokenExpiryPause:
	default:
		return out, fmt.Errorf("token expiry must be %q or %q, got %q", TokenExpiryContinue, TokenExpiryPause, ns.TokenExpiry)
	}
	switch ns.RenewValidation {
	case RenewValidationChangedURL, RenewValidationAlways:
	default:
		return out, fmt.Errorf("renew validation must be %q or %q, got %q", RenewValidationChangedURL, RenewValidationAlways, ns.RenewValidation)
	}
	switch ns.MissedOnDrop {
	case "on", "off":
	default:
		return out, fmt.Errorf("missed on drop must be on or off, got %q", ns.MissedOnDrop)
	}
	switch ns.ResourceForm {
	case ResourceFormUsers, ResourceFormUserAtTenant, ResourceFormODataKey:
	default:
		return out, fmt.Errorf("resource form must be %q, %q or %q, got %q", ResourceFormUsers, ResourceFormUserAtTenant, ResourceFormODataKey, ns.ResourceForm)
	}
	for _, d := range []struct {
		name string
		src  string
		dst  *time.Duration
		min  time.Duration
	}{
		{"notification timeout", ns.NotificationTimeout, &out.timeout, time.Millisecond},
		{"retry initial", ns.RetryInitial, &out.retryInitial, time.Millisecond},
		{"retry max interval", ns.RetryMaxInterval, &out.retryMax, time.Millisecond},
		{"retry for", ns.RetryFor, &out.retryFor, 0},
		{"batch window", ns.BatchWindow, &out.batchWindow, 0},
	} {
		v, err := time.ParseDuration(d.src)
		if err != nil || v < d.min || v > 24*time.Hour {
			return out, fmt.Errorf("%s must be a duration from %v to 24h, got %q", d.name, d.min, d.src)
		}
		*d.dst = v
	}
	if ns.DuplicateEvery < -1 || ns.DuplicateCopies < 1 || ns.DuplicateCopies > 10 {
		return out, fmt.Errorf("duplicate every must be -1 (off) or positive and duplicate copies 1 to 10")
	}
	out.TokenExpiry, out.RenewValidation, out.ResourceForm = ns.TokenExpiry, ns.RenewValidation, ns.ResourceForm
	out.duplicateEvery, out.duplicateCopies = ns.DuplicateEvery, ns.DuplicateCopies
	out.missedOnDrop = ns.MissedOnDrop == "on"
	return out, nil
}

// normalize fills defaults and checks the options.
func (o *SubscriptionOptions) normalize() error {
	if o.TenantID == "" {
		o.TenantID = DefaultTenantID
	}
	if o.ApplicationID == "" {
		o.ApplicationID = DefaultApplicationID
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = DefaultMaxSubscriptionLifetime
	}
	if o.MaxLifetime < minSubscriptionLifetime {
		return fmt.Errorf("subscription max lifetime must be at least 45m")
	}
	if o.MaxClientState == 0 {
		o.MaxClientState = DefaultMaxClientState
	}
	if o.MaxURLLength == 0 {
		o.MaxURLLength = DefaultMaxNotificationURLLength
	}
	if o.MaxPerMailbox <= 0 {
		o.MaxPerMailbox = DefaultMaxSubscriptionsPerMailbox
	}
	if o.ValidationTimeout <= 0 {
		o.ValidationTimeout = DefaultValidationTimeout
	}
	switch o.ValidationErrorCode {
	case "":
		o.ValidationErrorCode = ValidationErrorCodeValidation
	case ValidationErrorCodeValidation, ValidationErrorCodeInvalid:
	default:
		return fmt.Errorf("validation error code must be %q or %q", ValidationErrorCodeValidation, ValidationErrorCodeInvalid)
	}
	if o.DeliveryLogSize <= 0 {
		o.DeliveryLogSize = DefaultDeliveryLogSize
	}
	_, err := o.Runtime.parse()
	return err
}
