package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// subscriptionSet holds a Server's subscriptions and sends their
// notifications. Lock order: a mailbox's mu before mu; never the other
// way round.
type subscriptionSet struct {
	opts *SubscriptionOptions
	now  func() time.Time
	// client12 and client13 speak TLS up to 1.2 and 1.3.
	client12, client13 *http.Client

	mu      sync.Mutex
	byID    map[string]*subscription
	current NotificationSettings
	parsed  notificationSettings
	// pending collects items per notification URL during a batch window.
	pending map[string]*pendingPost
	posts   uint64

	validations atomic.Int64
	log         *deliveryLog
	// used is set by the first subscription, so that a Server without
	// any spends nothing on changes.
	used atomic.Bool

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
	ss.client12 = newNotificationClient(opts.TrustedRoots, tls.VersionTLS12)
	ss.client13 = newNotificationClient(opts.TrustedRoots, tls.VersionTLS13)
	return ss
}

// newNotificationClient is the HTTP client of validation and
// notification POSTs: TLS up to maxVersion, trusting roots (nil: the
// system roots), no proxy, no redirects followed (a 3xx is a failed POST).
func newNotificationClient(roots *x509.CertPool, maxVersion uint16) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: maxVersion, RootCAs: roots}
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientFor is the client for a subscription's latestSupportedTlsVersion:
// Graph speaks TLS 1.3 only to endpoints that declared v1_3, so an
// endpoint accepting only TLS 1.3 fails validation by default
// (PUSH_FACTS §1.1, §1.8).
func (ss *subscriptionSet) clientFor(tlsVersion string) *http.Client {
	if tlsVersion == "v1_3" {
		return ss.client13
	}
	return ss.client12
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
	ss.client12.CloseIdleConnections()
	ss.client13.CloseIdleConnections()
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
func (ss *subscriptionSet) validate(ctx context.Context, target, tlsVersion string) *graphError {
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
	res, err := ss.clientFor(tlsVersion).Do(r)
	if err != nil {
		ss.log.add(DeliveryRecord{Kind: "validation", Host: r.URL.Host, Attempt: 1, Error: errorKind(err), Millis: time.Since(start).Milliseconds(), Time: start.UTC()})
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return newError(http.StatusBadRequest, code, "Subscription validation request timed out.")
		}
		return newError(http.StatusBadRequest, code, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	ss.log.add(DeliveryRecord{Kind: "validation", Host: r.URL.Host, Attempt: 1, Status: res.StatusCode, Millis: time.Since(start).Milliseconds(), Time: start.UTC()})
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
	if mb.watchers == nil || !mb.watchers.used.Load() || f == nil {
		return
	}
	mb.watchers.changed(mb, itemChange{watch: watchMessages, change: change, folderID: f.id,
		restID: m.restID, immutableID: m.immutableID, changeKey: m.changeKey()})
}

// notifyEvent reports a change of e.
func (mb *mailbox) notifyEvent(change uint8, e *event) {
	if mb.watchers == nil || !mb.watchers.used.Load() {
		return
	}
	mb.watchers.changed(mb, itemChange{watch: watchEvents, change: change, restID: e.id, immutableID: e.id, changeKey: e.changeKey()})
}

// notifyContact reports a change of ct.
func (mb *mailbox) notifyContact(change uint8, ct *contact) {
	if mb.watchers == nil || !mb.watchers.used.Load() {
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
		ss.queueLocked(mb, sub, ss.changeItem(sub, ch))
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
	// subs are the subscriptions the items belong to.
	subs []*subscription
}

// queueLocked sends item, a change in mb for sub, to sub's notification
// URL: in a POST of its own, or with the other items for that URL within
// the batch window. Caller holds mb.mu and mu.
func (ss *subscriptionSet) queueLocked(mb *mailbox, sub *subscription, item []byte) {
	if ss.ctx.Err() != nil {
		return
	}
	target, tlsVersion := sub.notificationURL, sub.tlsVersion
	key := tlsVersion + " " + target
	if p := ss.pending[key]; p != nil {
		p.items = append(p.items, item)
		if p.subs[len(p.subs)-1] != sub {
			p.subs = append(p.subs, sub)
		}
		return
	}
	p := &pendingPost{items: [][]byte{item}, subs: []*subscription{sub}}
	ss.pending[key] = p
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
		items, subs := p.items, p.subs
		delete(ss.pending, key)
		ss.posts++
		copies := 1
		if every := ss.parsed.duplicateEvery; every > 0 && ss.posts%uint64(every) == 0 {
			copies += ss.parsed.duplicateCopies
		}
		st := ss.parsed
		ss.mu.Unlock()
		body := postBody(items)
		var onDrop func()
		if st.missedOnDrop {
			var once sync.Once
			onDrop = func() { once.Do(func() { ss.missed(subs) }) }
		}
		for i := 0; i < copies; i++ {
			ss.wg.Add(1)
			go func() {
				defer ss.wg.Done()
				ss.deliver("notification", target, tlsVersion, body, st, onDrop)
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

// missed sends a missed lifecycle notification to each live subscription
// of subs (once each).
func (ss *subscriptionSet) missed(subs []*subscription) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	seen := map[*subscription]bool{}
	for _, sub := range subs {
		if seen[sub] || ss.byID[sub.id] != sub || !sub.expires.After(ss.now()) {
			continue
		}
		seen[sub] = true
		ss.sendLifecycleLocked(sub, LifecycleMissed)
	}
}

// deliver POSTs body to target until an answer is 2xx, retrying with a
// doubling delay for st.retryFor; then the notification is dropped and
// onDrop (if any) runs.
func (ss *subscriptionSet) deliver(kind, target, tlsVersion string, body []byte, st notificationSettings, onDrop func()) {
	host := hostOf(target)
	start := time.Now()
	delay := st.retryInitial
	for attempt := 1; ; attempt++ {
		rec := DeliveryRecord{Kind: kind, Host: host, Attempt: attempt, Time: time.Now().UTC()}
		ok := ss.post(ss.clientFor(tlsVersion), target, body, st.timeout, &rec)
		if !ok && time.Since(start)+delay > st.retryFor {
			rec.Dropped = true
		}
		ss.log.add(rec)
		if rec.Dropped && onDrop != nil {
			onDrop()
		}
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
func (ss *subscriptionSet) post(client *http.Client, target string, body []byte, timeout time.Duration, rec *DeliveryRecord) bool {
	ctx, cancel := context.WithTimeout(ss.ctx, timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		rec.Error = "bad url"
		return false
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	start := time.Now()
	res, err := client.Do(r)
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
		target, tlsVersion, st := sub.lifecycleURL, sub.tlsVersion, ss.parsed
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			ss.deliver("lifecycle", target, tlsVersion, body, st, nil)
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
