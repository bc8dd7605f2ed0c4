package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file sends what Graph sends to a subscriber (PUSH_FACTS §1.3–1.6):
// the validation requests, change notifications for mail, events and
// contacts changed by any means (Graph calls, the control API), with
// Graph's 3-second timeout, retries with back-off, duplicate POSTs and
// optional batching, and lifecycle notifications.

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
}

// notificationSettings are NotificationSettings parsed.
type notificationSettings struct {
	TokenExpiry, RenewValidation, ResourceForm             string
	timeout, retryInitial, retryMax, retryFor, batchWindow time.Duration
	duplicateEvery, duplicateCopies                        int
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

// subscriptionSet holds a Server's subscriptions and sends their
// notifications. Lock order: a mailbox's mu before mu; never the other
// way round.
type subscriptionSet struct {
	opts   *SubscriptionOptions
	now    func() time.Time
	client *http.Client

	mu      sync.Mutex
	byID    map[string]*subscription
	current NotificationSettings
	parsed  notificationSettings
	// pending collects items per notification URL during a batch window.
	pending map[string]*pendingPost
	posts   uint64

	validations atomic.Int64
	log         *deliveryLog

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newSubscriptionSet(opts *SubscriptionOptions, now func() time.Time) *subscriptionSet {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &subscriptionSet{
		opts:    opts,
		now:     now,
		byID:    map[string]*subscription{},
		pending: map[string]*pendingPost{},
		log:     newDeliveryLog(opts.DeliveryLogSize),
		ctx:     ctx,
		cancel:  cancel,
	}
	ss.current = opts.Runtime
	ss.parsed, _ = ss.current.parse()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.TrustedRoots}
	tr.MaxIdleConnsPerHost = 16
	ss.client = &http.Client{
		Transport: tr,
		// Graph follows no redirects: a 3xx is a failed POST.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return ss
}

// settings returns the current runtime settings.
func (ss *subscriptionSet) settings() notificationSettings {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.parsed
}

// close stops deliveries and waits for them. Deliveries start only under
// mu with the context alive, so none starts once Wait runs.
func (ss *subscriptionSet) close() {
	ss.mu.Lock()
	ss.cancel()
	ss.mu.Unlock()
	ss.wg.Wait()
	ss.client.CloseIdleConnections()
}

// withQuery appends name=value to raw's query string, keeping what is
// there (Graph sends a notificationUrl's query back unchanged).
func withQuery(raw, name, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + name + "=" + url.QueryEscape(value)
}

// hostOf is a URL's host, for the delivery log (paths carry secrets).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// validate runs the validation handshake on target: POST
// target?validationToken=T, which must answer 200 text/plain with T
// within ValidationTimeout. On failure the answer is Graph's 400.
func (ss *subscriptionSet) validate(ctx context.Context, target string) *graphError {
	ss.validations.Add(1)
	token := "Validation: Testing client application reachability for subscription Request-Id: " + newUUID()
	code := ss.opts.ValidationErrorCode
	ctx, cancel := context.WithTimeout(ctx, ss.opts.ValidationTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, withQuery(target, "validationToken", token), http.NoBody)
	if err != nil {
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	r.Header.Set("Content-Type", "text/plain; charset=utf-8")
	start := time.Now()
	res, err := ss.client.Do(r)
	if err != nil {
		ss.log.add(DeliveryRecord{Kind: "validation", Host: r.URL.Host, Attempt: 1, Error: errorKind(err), Time: start.UTC()})
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return newError(http.StatusBadRequest, code, "Subscription validation request timed out.")
		}
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	ss.log.add(DeliveryRecord{Kind: "validation", Host: r.URL.Host, Attempt: 1, Status: res.StatusCode, Time: start.UTC()})
	if err != nil {
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	if res.StatusCode != http.StatusOK {
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/plain" {
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Response must be of content type 'text/plain'.")
	}
	if string(body) != token {
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Response must exactly match validationToken query parameter.")
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errorKind names a failed POST for the delivery log.
func errorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return "timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return "connection"
}

// itemChange is a change of one mail item, event or contact, reported by
// the store while it holds the mailbox's mu.
type itemChange struct {
	watch  uint8
	change uint8 // changeTypeCreated, changeTypeUpdated or changeTypeDeleted
	// folderID is the folder of a message (for a deletion: the folder it
	// left).
	folderID            string
	restID, immutableID string
	changeKey           string
}

// notifyMessage reports a change of m in folder f. Like notifyEvent and
// notifyContact, it is called by the store inside its change, holding
// mb.mu.
func (mb *mailbox) notifyMessage(change uint8, m *message, f *folder) {
	if mb.watchers == nil || f == nil {
		return
	}
	mb.watchers.changed(mb, itemChange{watch: watchMessages, change: change, folderID: f.id,
		restID: m.restID, immutableID: m.immutableID, changeKey: m.changeKey()})
}

// notifyEvent reports a change of e.
func (mb *mailbox) notifyEvent(change uint8, e *event) {
	if mb.watchers == nil {
		return
	}
	mb.watchers.changed(mb, itemChange{watch: watchEvents, change: change, restID: e.id, immutableID: e.id, changeKey: e.changeKey()})
}

// notifyContact reports a change of ct.
func (mb *mailbox) notifyContact(change uint8, ct *contact) {
	if mb.watchers == nil {
		return
	}
	mb.watchers.changed(mb, itemChange{watch: watchContacts, change: change, restID: ct.id, immutableID: ct.id, changeKey: ct.changeKey()})
}

// changed builds a notification item for every live, unpaused
// subscription of mb that watches ch, and queues them.
func (ss *subscriptionSet) changed(mb *mailbox, ch itemChange) {
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, sub := range ss.byID {
		if sub.owner != mb || sub.watch != ch.watch || sub.changeMask&ch.change == 0 || sub.paused || !sub.expires.After(now) {
			continue
		}
		if sub.folderID != "" && sub.folderID != ch.folderID {
			continue
		}
		ss.queueLocked(mb, sub.notificationURL, ss.changeItem(sub, ch))
	}
}

// changeItem renders one changeNotification. Caller holds mu.
func (ss *subscriptionSet) changeItem(sub *subscription, ch itemChange) []byte {
	id := ch.restID
	if sub.immutableIDs {
		id = ch.immutableID
	}
	user := sub.owner.objectID
	var odataType, coll, resource string
	switch ch.watch {
	case watchMessages:
		odataType, coll = "#Microsoft.Graph.Message", "Messages"
	case watchEvents:
		odataType, coll = "#Microsoft.Graph.Event", "Events"
	default:
		odataType, coll = "#Microsoft.Graph.Contact", "Contacts"
	}
	odataID := "Users/" + user + "/" + coll + "/" + id
	switch ss.parsed.ResourceForm {
	case ResourceFormUserAtTenant:
		resource = "users/" + user + "@" + ss.opts.TenantID + "/" + strings.ToLower(coll) + "/" + id
		odataID = "Users/" + user + "@" + ss.opts.TenantID + "/" + coll + "/" + id
	case ResourceFormODataKey:
		resource = "Users('" + user + "')/" + coll + "('" + id + "')"
		odataID = resource
	default:
		resource = odataID
	}
	change := "updated"
	switch ch.change {
	case changeTypeCreated:
		change = "created"
	case changeTypeDeleted:
		change = "deleted"
	}
	var b jsonBuf
	b.raw(`{"subscriptionId":`)
	b.str(sub.id)
	b.raw(`,"subscriptionExpirationDateTime":`)
	b.str(sub.expires.UTC().Format("2006-01-02T15:04:05.0000000+00:00"))
	b.raw(`,"changeType":`)
	b.str(change)
	b.raw(`,"resource":`)
	b.str(resource)
	b.raw(`,"resourceData":{"@odata.type":`)
	b.str(odataType)
	b.raw(`,"@odata.id":`)
	b.str(odataID)
	b.raw(`,"@odata.etag":`)
	b.str(`W/"` + ch.changeKey + `"`)
	b.raw(`,"id":`)
	b.str(id)
	b.raw(`},"clientState":`)
	if sub.clientState != "" {
		b.str(sub.clientState)
	} else {
		b.raw("null")
	}
	b.raw(`,"tenantId":`)
	b.str(ss.opts.TenantID)
	b.raw("}")
	return b.b
}

// lifecycleItem renders one lifecycle notification. Caller holds mu.
func (ss *subscriptionSet) lifecycleItem(sub *subscription, event string) []byte {
	var b jsonBuf
	b.raw(`{"lifecycleEvent":`)
	b.str(event)
	b.raw(`,"subscriptionId":`)
	b.str(sub.id)
	b.raw(`,"subscriptionExpirationDateTime":`)
	b.str(sub.expires.UTC().Format("2006-01-02T15:04:05.0000000+00:00"))
	b.raw(`,"clientState":`)
	if sub.clientState != "" {
		b.str(sub.clientState)
	} else {
		b.raw("null")
	}
	b.raw(`,"tenantId":`)
	b.str(ss.opts.TenantID)
	b.raw("}")
	return b.b
}

// pendingPost is a POST being collected during a batch window.
type pendingPost struct {
	items [][]byte
}

// queueLocked sends item, a change in mb, to target: in a POST of its own,
// or with the other items for target within the batch window. Caller
// holds mb.mu and mu.
func (ss *subscriptionSet) queueLocked(mb *mailbox, target string, item []byte) {
	if ss.ctx.Err() != nil {
		return
	}
	if p := ss.pending[target]; p != nil {
		p.items = append(p.items, item)
		return
	}
	p := &pendingPost{items: [][]byte{item}}
	ss.pending[target] = p
	window := ss.parsed.batchWindow
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		if window > 0 {
			t := time.NewTimer(window)
			select {
			case <-t.C:
			case <-ss.ctx.Done():
				t.Stop()
				return
			}
		}
		// Wait until the store's operation that made this change is over
		// (it holds mb.mu), so all the items of one operation (a move:
		// deleted + created) share the POST. mb.mu before mu, as always.
		mb.mu.RLock()
		mb.mu.RUnlock()
		ss.mu.Lock()
		items := p.items
		delete(ss.pending, target)
		ss.posts++
		copies := 1
		if every := ss.parsed.duplicateEvery; every > 0 && ss.posts%uint64(every) == 0 {
			copies += ss.parsed.duplicateCopies
		}
		st := ss.parsed
		ss.mu.Unlock()
		body := postBody(items)
		for i := 0; i < copies; i++ {
			ss.wg.Add(1)
			go func() {
				defer ss.wg.Done()
				ss.deliver("notification", target, body, st)
			}()
		}
	}()
}

// postBody is {"value":[items…]}.
func postBody(items [][]byte) []byte {
	var b jsonBuf
	b.raw(`{"value":[`)
	for i, it := range items {
		if i > 0 {
			b.raw(",")
		}
		b.rawBytes(it)
	}
	b.raw("]}")
	return b.b
}

// deliver POSTs body to target until an answer is 2xx, retrying with a
// doubling delay for st.retryFor; then the notification is dropped.
func (ss *subscriptionSet) deliver(kind, target string, body []byte, st notificationSettings) {
	host := hostOf(target)
	start := time.Now()
	delay := st.retryInitial
	for attempt := 1; ; attempt++ {
		rec := DeliveryRecord{Kind: kind, Host: host, Attempt: attempt, Time: time.Now().UTC()}
		ok := ss.post(target, body, st.timeout, &rec)
		if !ok && time.Since(start)+delay > st.retryFor {
			rec.Dropped = true
		}
		ss.log.add(rec)
		if ok || rec.Dropped {
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ss.ctx.Done():
			t.Stop()
			return
		}
		delay = min(delay*2, st.retryMax)
	}
}

// post makes one notification POST; it reports a 2xx answer in time.
func (ss *subscriptionSet) post(target string, body []byte, timeout time.Duration, rec *DeliveryRecord) bool {
	ctx, cancel := context.WithTimeout(ss.ctx, timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		rec.Error = "bad url"
		return false
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	start := time.Now()
	res, err := ss.client.Do(r)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		rec.Status = res.StatusCode
	}
	rec.Millis = time.Since(start).Milliseconds()
	if err != nil {
		rec.Error = errorKind(err)
		return false
	}
	return res.StatusCode >= 200 && res.StatusCode <= 299
}

// Lifecycle events (PUSH_FACTS §1.6).
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// sendLifecycle POSTs event for sub to its lifecycleNotificationUrl
// (nothing without one) and applies its effect: subscriptionRemoved
// deletes the subscription; reauthorizationRequired pauses delivery in the
// "pause" token-expiry variant. It reports whether a POST was queued.
// Caller holds mu.
func (ss *subscriptionSet) sendLifecycleLocked(sub *subscription, event string) bool {
	sent := false
	if sub.lifecycleURL != "" && ss.ctx.Err() == nil {
		body := postBody([][]byte{ss.lifecycleItem(sub, event)})
		target, st := sub.lifecycleURL, ss.parsed
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			ss.deliver("lifecycle", target, body, st)
		}()
		sent = true
	}
	switch event {
	case LifecycleSubscriptionRemoved:
		delete(ss.byID, sub.id)
	case LifecycleReauthorizationRequired:
		if ss.parsed.TokenExpiry == TokenExpiryPause {
			sub.paused = true
		}
	}
	return sent
}

// DeliveryRecord is one POST the emulator made to a subscriber.
type DeliveryRecord struct {
	// Kind is "validation", "notification" or "lifecycle".
	Kind string `json:"kind"`
	// Host is the target's host (the path is not logged).
	Host string `json:"host"`
	// Attempt counts from 1 for each notification POST and its retries.
	Attempt int `json:"attempt"`
	// Status is the HTTP answer's status; 0 when there was none.
	Status int `json:"status,omitempty"`
	// Error is "timeout", "connection", "cancelled" or "bad url" when no
	// answer came.
	Error string `json:"error,omitempty"`
	// Millis is how long the POST took.
	Millis int64 `json:"ms"`
	// Dropped is set on the last failed attempt before the notification
	// was given up.
	Dropped bool `json:"dropped,omitempty"`
	// Time is when the attempt started.
	Time time.Time `json:"time"`
}

// deliveryLog keeps the last POST attempts.
type deliveryLog struct {
	mu   sync.Mutex
	size int
	recs []DeliveryRecord
}

func newDeliveryLog(size int) *deliveryLog { return &deliveryLog{size: size} }

func (l *deliveryLog) add(r DeliveryRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) >= l.size {
		l.recs = append(l.recs[:0:0], l.recs[len(l.recs)-l.size+1:]...)
	}
	l.recs = append(l.recs, r)
}

func (l *deliveryLog) list() []DeliveryRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]DeliveryRecord{}, l.recs...)
}

func (l *deliveryLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = nil
}
