package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// This file holds Graph's subscription resource (PUSH_FACTS §1.1–1.3, 1.7,
// 1.8): POST, GET, PATCH and DELETE {base}/subscriptions[/{id}] and POST
// {base}/subscriptions/{id}/reauthorize, with Graph's validation rules and
// the validation handshake. Delivery of change and lifecycle notifications
// is in notify.go.

// Kinds of Outlook resource a subscription watches.
const (
	watchMessages uint8 = iota + 1
	watchEvents
	watchContacts
)

// Change types, as a bit mask.
const (
	changeTypeCreated uint8 = 1 << iota
	changeTypeUpdated
	changeTypeDeleted
)

// minSubscriptionLifetime is Graph's floor: an expirationDateTime less
// than 45 minutes ahead is raised to 45 minutes (PUSH_FACTS §1.1).
const minSubscriptionLifetime = 45 * time.Minute

// subscription is one change-notification subscription. Its fields are
// guarded by the subscriptionSet's mu.
type subscription struct {
	id string
	// owner is the mailbox whose token created the subscription; only it
	// sees, renews and deletes the subscription (delegated tokens).
	owner *mailbox
	// resource is the resource as the creator wrote it.
	resource string
	watch    uint8
	// folderID limits a message subscription to one folder; "" watches
	// every folder of the mailbox.
	folderID        string
	changeType      string
	changeMask      uint8
	notificationURL string
	lifecycleURL    string
	clientState     string
	expires         time.Time
	tlsVersion      string
	immutableIDs    bool
	// paused stops delivery after a reauthorizationRequired (token-expiry
	// variant "pause") until a renewal or reauthorize.
	paused bool
}

// graphTime formats t as Graph formats subscription times: UTC with seven
// fractional digits.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// errSubscription is a refusal of the subscription API in Graph's shape.
func errSubscription(status int, code, msg string) *graphError {
	return newError(status, code, msg)
}

func errSubscriptionNotFound(id string) *graphError {
	return errSubscription(http.StatusNotFound, "ResourceNotFound", "The object '"+id+"' was not found.")
}

// routeSubscriptions serves {base}/subscriptions[/{id}[/reauthorize]]. The
// caller's mailbox owns what it creates.
func (c *call) routeSubscriptions(segs []string) {
	m := c.r.Method
	switch len(segs) {
	case 0:
		switch m {
		case http.MethodPost:
			c.createSubscription()
		case http.MethodGet:
			c.listSubscriptions()
		default:
			c.fail(errMethodNotAllowed())
		}
	case 1:
		switch m {
		case http.MethodGet:
			c.getSubscription(segs[0])
		case http.MethodPatch:
			c.patchSubscription(segs[0])
		case http.MethodDelete:
			c.deleteSubscription(segs[0])
		default:
			c.fail(errMethodNotAllowed())
		}
	case 2:
		if !eq(segs[1], "reauthorize") {
			c.fail(errSegmentNotFound(segs[1]))
			return
		}
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.reauthorizeSubscription(segs[0])
	default:
		c.fail(errSegmentNotFound(segs[2]))
	}
}

// subscriptionInput is the body of POST and PATCH /subscriptions.
type subscriptionInput struct {
	ChangeType                *string `json:"changeType"`
	NotificationURL           *string `json:"notificationUrl"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	Resource                  *string `json:"resource"`
	ExpirationDateTime        *string `json:"expirationDateTime"`
	ClientState               *string `json:"clientState"`
	LatestSupportedTLSVersion *string `json:"latestSupportedTlsVersion"`
	IncludeResourceData       *bool   `json:"includeResourceData"`
}

// readSubscriptionInput decodes the body; unknown properties are refused
// as Graph refuses them.
func (c *call) readSubscriptionInput() (*subscriptionInput, *graphError) {
	body, gerr := c.readBody()
	if gerr != nil {
		return nil, gerr
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(body, &props); err != nil || props == nil {
		return nil, errSubscription(http.StatusBadRequest, "InvalidRequest", "Could not process subscription creation payload. Are all property names spelled and camelCased properly? Also are the dateTimeOffest properties in a valid internet date and time format?")
	}
	known := map[string]bool{"changeType": true, "notificationUrl": true, "lifecycleNotificationUrl": true, "resource": true,
		"expirationDateTime": true, "clientState": true, "latestSupportedTlsVersion": true, "includeResourceData": true,
		"@odata.type": true, "id": true, "applicationId": true, "creatorId": true, "notificationContentType": true,
		"encryptionCertificate": true, "encryptionCertificateId": true, "notificationQueryOptions": true, "notificationUrlAppId": true}
	for name := range props {
		if !known[name] {
			return nil, errBadRequest("The property '" + name + "' does not exist on type 'microsoft.graph.subscription'. Make sure to only use property names that are defined by the type or mark the type as open type.")
		}
	}
	var in subscriptionInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errSubscription(http.StatusBadRequest, "InvalidRequest", "Could not process subscription creation payload. Are all property names spelled and camelCased properly? Also are the dateTimeOffest properties in a valid internet date and time format?")
	}
	return &in, nil
}

// parseChangeType checks a comma-separated changeType.
func parseChangeType(v string) (string, uint8, *graphError) {
	var mask uint8
	var parts []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		var bit uint8
		switch strings.ToLower(p) {
		case "created":
			bit = changeTypeCreated
		case "updated":
			bit = changeTypeUpdated
		case "deleted":
			bit = changeTypeDeleted
		default:
			return "", 0, errSubscription(http.StatusBadRequest, "InvalidRequest", "'"+p+"' is not a valid change type. Valid change types are 'created', 'updated' and 'deleted'.")
		}
		if mask&bit == 0 {
			parts = append(parts, strings.ToLower(p))
		}
		mask |= bit
	}
	return strings.Join(parts, ","), mask, nil
}

// checkNotificationURL applies Graph's rules to a notification or
// lifecycle URL: absolute, https, no fragment, bounded length.
func (s *Server) checkNotificationURL(name, raw string) *graphError {
	max := s.opts.Subscriptions.MaxURLLength
	if max > 0 && len(raw) > max {
		return errSubscription(http.StatusBadRequest, "InvalidRequest", "The "+name+" is too long.")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errSubscription(http.StatusBadRequest, "InvalidRequest", "Invalid "+name+": '"+raw+"' is not a valid absolute URI.")
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return errSubscription(http.StatusBadRequest, "InvalidRequest", "The "+name+" must be an HTTPS URL: '"+raw+"' uses the '"+u.Scheme+"' scheme.")
	}
	return nil
}

// parseExpiration checks expirationDateTime against now: not past, at
// most the maximum lifetime ahead, raised to 45 minutes.
func (s *Server) parseExpiration(v string, now time.Time) (time.Time, *graphError) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errSubscription(http.StatusBadRequest, "InvalidRequest", "Could not process subscription creation payload. Are all property names spelled and camelCased properly? Also are the dateTimeOffest properties in a valid internet date and time format?")
	}
	t = t.UTC()
	if !t.After(now) {
		return time.Time{}, errSubscription(http.StatusBadRequest, "ExtensionError", "Subscription expiration time must be in the future.")
	}
	limit := s.opts.Subscriptions.MaxLifetime
	if t.After(now.Add(limit)) {
		return time.Time{}, errSubscription(http.StatusBadRequest, "ExtensionError", "Subscription expiration can only be "+itoa(int(limit/time.Minute))+" minutes in the future.")
	}
	if t.Before(now.Add(minSubscriptionLifetime)) {
		t = now.Add(minSubscriptionLifetime)
	}
	return t, nil
}

// resolveResource parses an Outlook resource path: [/]me|users/{id or upn}
// followed by messages, mailFolders('{id}')/messages,
// mailFolders/{id}/messages, events or contacts. Delegated subscriptions
// cover only the caller's own mailbox.
func (c *call) resolveResource(resource string) (watch uint8, folderID string, gerr *graphError) {
	unsupported := errSubscription(http.StatusBadRequest, "InvalidRequest", "The resource '"+resource+"' is not supported for change notifications.")
	if strings.ContainsAny(resource, "?#") {
		return 0, "", errSubscription(http.StatusBadRequest, "InvalidRequest", "The emulator does not support query options ($filter, $select) in a subscription resource: '"+resource+"'.")
	}
	if strings.Contains(resource, "://") {
		return 0, "", unsupported
	}
	segs, perr := splitPath(resource)
	if perr != nil || len(segs) == 0 {
		return 0, "", unsupported
	}
	switch {
	case eq(segs[0], "me"):
		segs = segs[1:]
	case eq(segs[0], "users") && len(segs) >= 2:
		mb := c.s.mailboxByUser(segs[1])
		if mb == nil {
			return 0, "", errSubscription(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+segs[1]+"' is invalid.")
		}
		if mb != c.caller {
			return 0, "", errSubscription(http.StatusForbidden, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. A delegated subscription can only watch the signed-in user's own mailbox.]")
		}
		segs = segs[2:]
	default:
		return 0, "", unsupported
	}
	switch {
	case len(segs) == 1 && eq(segs[0], "messages"):
		return watchMessages, "", nil
	case len(segs) == 1 && eq(segs[0], "events"):
		return watchEvents, "", nil
	case len(segs) == 1 && eq(segs[0], "contacts"):
		return watchContacts, "", nil
	case len(segs) == 3 && eq(segs[0], "mailFolders") && eq(segs[2], "messages"):
		mb := c.caller
		mb.mu.RLock()
		f, ferr := mb.folderByRef(segs[1])
		mb.mu.RUnlock()
		if ferr != nil {
			return 0, "", errSubscription(ferr.status, ferr.code, ferr.message)
		}
		return watchMessages, f.id, nil
	}
	return 0, "", unsupported
}

// createSubscription serves POST /subscriptions: checks the body, runs
// the validation handshake on both URLs and answers 201.
func (c *call) createSubscription() {
	in, gerr := c.readSubscriptionInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	so := &c.s.opts.Subscriptions
	switch {
	case in.ChangeType == nil || *in.ChangeType == "":
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "changeType is a required property for subscription creation."))
		return
	case in.NotificationURL == nil || *in.NotificationURL == "":
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "notificationUrl is a required property for subscription creation."))
		return
	case in.Resource == nil || *in.Resource == "":
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "resource is a required property for subscription creation."))
		return
	case in.ExpirationDateTime == nil || *in.ExpirationDateTime == "":
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "expirationDateTime is a required property for subscription creation."))
		return
	}
	changeType, mask, gerr := parseChangeType(*in.ChangeType)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if gerr := c.s.checkNotificationURL("notificationUrl", *in.NotificationURL); gerr != nil {
		c.fail(gerr)
		return
	}
	lifecycle := ""
	if in.LifecycleNotificationURL != nil && *in.LifecycleNotificationURL != "" {
		lifecycle = *in.LifecycleNotificationURL
		if gerr := c.s.checkNotificationURL("lifecycleNotificationUrl", lifecycle); gerr != nil {
			c.fail(gerr)
			return
		}
	}
	clientState := ""
	if in.ClientState != nil {
		clientState = *in.ClientState
		if n := len([]rune(clientState)); n > so.MaxClientState {
			c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "The clientState is "+itoa(n)+" characters long; at most "+itoa(so.MaxClientState)+" are allowed."))
			return
		}
	}
	tlsVersion := "v1_2"
	if in.LatestSupportedTLSVersion != nil && *in.LatestSupportedTLSVersion != "" {
		v, ok := canonicalEnum(*in.LatestSupportedTLSVersion, "v1_0", "v1_1", "v1_2", "v1_3")
		if !ok {
			c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "Invalid latestSupportedTlsVersion '"+*in.LatestSupportedTLSVersion+"'. Valid values are v1_0, v1_1, v1_2 and v1_3."))
			return
		}
		tlsVersion = v
	}
	if in.IncludeResourceData != nil && *in.IncludeResourceData {
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "The emulator does not support rich notifications (includeResourceData)."))
		return
	}
	expires, gerr := c.s.parseExpiration(*in.ExpirationDateTime, c.now)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	watch, folderID, gerr := c.resolveResource(*in.Resource)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if c.s.subs.countOwned(c.caller) >= so.MaxPerMailbox {
		c.fail(errSubscription(http.StatusForbidden, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The mailbox has reached its limit of "+itoa(so.MaxPerMailbox)+" subscriptions.]"))
		return
	}
	if gerr := c.s.subs.validate(c.r.Context(), *in.NotificationURL, tlsVersion); gerr != nil {
		c.fail(gerr)
		return
	}
	if lifecycle != "" {
		if gerr := c.s.subs.validate(c.r.Context(), lifecycle, tlsVersion); gerr != nil {
			c.fail(gerr)
			return
		}
	}
	sub := &subscription{
		id:              newUUID(),
		owner:           c.caller,
		resource:        *in.Resource,
		watch:           watch,
		folderID:        folderID,
		changeType:      changeType,
		changeMask:      mask,
		notificationURL: *in.NotificationURL,
		lifecycleURL:    lifecycle,
		clientState:     clientState,
		expires:         expires,
		tlsVersion:      tlsVersion,
		immutableIDs:    c.prefs.immutableIDs,
	}
	if !c.s.subs.add(sub, so.MaxPerMailbox) {
		c.fail(errSubscription(http.StatusForbidden, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The mailbox has reached its limit of "+itoa(so.MaxPerMailbox)+" subscriptions.]"))
		return
	}
	c.s.subs.mu.Lock()
	body := c.renderSubscription(sub, true, true)
	c.s.subs.mu.Unlock()
	c.reply(http.StatusCreated, body)
}

// renderSubscription writes a subscription as Graph does. clientState is
// only returned by the create call (PUSH_FACTS §1.1). Caller holds the
// subscriptionSet's mu.
func (c *call) renderSubscription(sub *subscription, withContext, withClientState bool) []byte {
	var b jsonBuf
	b.raw("{")
	if withContext {
		b.raw(`"@odata.context":`)
		b.str(c.root() + "/$metadata#subscriptions/$entity")
		b.raw(",")
	}
	b.raw(`"id":`)
	b.str(sub.id)
	b.raw(`,"resource":`)
	b.str(sub.resource)
	b.raw(`,"applicationId":`)
	b.str(c.s.opts.Subscriptions.ApplicationID)
	b.raw(`,"changeType":`)
	b.str(sub.changeType)
	b.raw(`,"clientState":`)
	if withClientState && sub.clientState != "" {
		b.str(sub.clientState)
	} else {
		b.raw("null")
	}
	b.raw(`,"notificationUrl":`)
	b.str(sub.notificationURL)
	b.raw(`,"notificationQueryOptions":null,"lifecycleNotificationUrl":`)
	if sub.lifecycleURL != "" {
		b.str(sub.lifecycleURL)
	} else {
		b.raw("null")
	}
	b.raw(`,"expirationDateTime":`)
	b.str(graphTime(sub.expires))
	b.raw(`,"creatorId":`)
	b.str(sub.owner.objectID)
	b.raw(`,"includeResourceData":false,"latestSupportedTlsVersion":`)
	b.str(sub.tlsVersion)
	b.raw(`,"encryptionCertificate":null,"encryptionCertificateId":null,"notificationUrlAppId":null,"notificationContentType":null}`)
	return b.b
}

// listSubscriptions serves GET /subscriptions: the caller's own
// subscriptions, without clientState.
func (c *call) listSubscriptions() {
	subs := c.s.subs
	subs.mu.Lock()
	defer subs.mu.Unlock()
	owned := subs.ownedLocked(c.caller)
	var b jsonBuf
	b.raw(`{"@odata.context":`)
	b.str(c.root() + "/$metadata#subscriptions")
	b.raw(`,"value":[`)
	for i, sub := range owned {
		if i > 0 {
			b.raw(",")
		}
		b.rawBytes(c.renderSubscription(sub, false, false))
	}
	b.raw("]}")
	c.reply(http.StatusOK, b.b)
}

// ownedSubscription finds a live subscription of the caller; another
// mailbox's subscription is not found, as with Graph's delegated tokens,
// and an expired one is forgotten. Caller holds the subscriptionSet's mu.
func (c *call) ownedSubscription(id string) *subscription {
	subs := c.s.subs
	sub := subs.byID[id]
	if sub == nil {
		return nil
	}
	if !sub.expires.After(subs.now()) {
		delete(subs.byID, id)
		return nil
	}
	if sub.owner != c.caller {
		return nil
	}
	return sub
}

func (c *call) getSubscription(id string) {
	subs := c.s.subs
	subs.mu.Lock()
	defer subs.mu.Unlock()
	sub := c.ownedSubscription(id)
	if sub == nil {
		c.fail(errSubscriptionNotFound(id))
		return
	}
	c.reply(http.StatusOK, c.renderSubscription(sub, true, false))
}

// patchSubscription serves PATCH /subscriptions/{id}: a renewal
// (expirationDateTime) and/or a new notificationUrl. Any other property
// is refused; lifecycleNotificationUrl and clientState are fixed at
// creation (PUSH_FACTS §1.1, §1.2). A renewal also reauthorizes.
func (c *call) patchSubscription(id string) {
	in, gerr := c.readSubscriptionInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	switch {
	case in.LifecycleNotificationURL != nil:
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "lifecycleNotificationUrl can only be set when the subscription is created. Delete the subscription and create a new one to add or change it."))
		return
	case in.ClientState != nil:
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "clientState can only be set when the subscription is created."))
		return
	case in.ChangeType != nil, in.Resource != nil, in.LatestSupportedTLSVersion != nil, in.IncludeResourceData != nil:
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "Only expirationDateTime and notificationUrl can be updated."))
		return
	case in.ExpirationDateTime == nil && in.NotificationURL == nil:
		c.fail(errSubscription(http.StatusBadRequest, "InvalidRequest", "Only expirationDateTime and notificationUrl can be updated."))
		return
	}
	var expires time.Time
	if in.ExpirationDateTime != nil {
		expires, gerr = c.s.parseExpiration(*in.ExpirationDateTime, c.now)
		if gerr != nil {
			c.fail(gerr)
			return
		}
	}
	subs := c.s.subs
	subs.mu.Lock()
	sub := c.ownedSubscription(id)
	var oldURL, tlsVersion string
	if sub != nil {
		oldURL, tlsVersion = sub.notificationURL, sub.tlsVersion
	}
	subs.mu.Unlock()
	if sub == nil {
		c.fail(errSubscriptionNotFound(id))
		return
	}
	newURL := oldURL
	if in.NotificationURL != nil {
		if gerr := c.s.checkNotificationURL("notificationUrl", *in.NotificationURL); gerr != nil {
			c.fail(gerr)
			return
		}
		newURL = *in.NotificationURL
	}
	if newURL != oldURL || subs.settings().RenewValidation == RenewValidationAlways {
		if gerr := subs.validate(c.r.Context(), newURL, tlsVersion); gerr != nil {
			c.fail(gerr)
			return
		}
	}
	subs.mu.Lock()
	defer subs.mu.Unlock()
	if c.ownedSubscription(id) != sub {
		c.fail(errSubscriptionNotFound(id))
		return
	}
	sub.notificationURL = newURL
	if !expires.IsZero() {
		sub.expires = expires
	}
	sub.paused = false
	c.reply(http.StatusOK, c.renderSubscription(sub, true, false))
}

// deleteSubscription serves DELETE /subscriptions/{id}: 204.
func (c *call) deleteSubscription(id string) {
	subs := c.s.subs
	subs.mu.Lock()
	defer subs.mu.Unlock()
	sub := c.ownedSubscription(id)
	if sub == nil {
		c.fail(errSubscriptionNotFound(id))
		return
	}
	delete(subs.byID, id)
	c.w.WriteHeader(http.StatusNoContent)
}

// reauthorizeSubscription serves POST /subscriptions/{id}/reauthorize:
// 204; delivery paused by a reauthorizationRequired resumes.
func (c *call) reauthorizeSubscription(id string) {
	subs := c.s.subs
	subs.mu.Lock()
	defer subs.mu.Unlock()
	sub := c.ownedSubscription(id)
	if sub == nil {
		c.fail(errSubscriptionNotFound(id))
		return
	}
	sub.paused = false
	c.w.WriteHeader(http.StatusNoContent)
}

// countOwned is how many live subscriptions mb owns.
func (ss *subscriptionSet) countOwned(mb *mailbox) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.ownedLocked(mb))
}

// ownedLocked lists mb's live subscriptions by id, dropping expired ones
// (Graph forgets a subscription once it expires). Caller holds mu.
func (ss *subscriptionSet) ownedLocked(mb *mailbox) []*subscription {
	now := ss.now()
	var out []*subscription
	for id, sub := range ss.byID {
		if !sub.expires.After(now) {
			delete(ss.byID, id)
			continue
		}
		if sub.owner == mb {
			out = append(out, sub)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// add stores sub unless its owner reached max subscriptions.
func (ss *subscriptionSet) add(sub *subscription, max int) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.ownedLocked(sub.owner)) >= max {
		return false
	}
	ss.byID[sub.id] = sub
	ss.used.Store(true)
	return true
}

func itoa(n int) string {
	var b jsonBuf
	b.int(n)
	return string(b.b)
}
