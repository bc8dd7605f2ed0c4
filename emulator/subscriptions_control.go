package emulator

import (
	"net/http"
	"time"
)

// Control API of subscriptions and notifications (tests and demos only):
//
//	GET   {prefix}/mailboxes/{token}/subscriptions  → 200 [SubscriptionInfo]
//	POST  {prefix}/mailboxes/{token}/expire-token   → 200 {"subscriptions": n, "lifecycleSent": n}
//	POST  {prefix}/subscriptions/{id}/lifecycle     {"event"} → 200 {"sent": bool}
//	GET   {prefix}/notifications/settings           → 200 NotificationSettings
//	PATCH {prefix}/notifications/settings           NotificationSettings → 200 NotificationSettings
//	GET   {prefix}/notifications/log                → 200 NotificationLog
//	DELETE {prefix}/notifications/log               → 204

// SubscriptionInfo is a subscription as the control API shows it,
// clientState included.
type SubscriptionInfo struct {
	// ID is the subscription id.
	ID string `json:"id"`
	// Resource is the resource as created.
	Resource string `json:"resource"`
	// ChangeType is the comma-separated change types.
	ChangeType string `json:"changeType"`
	// NotificationURL receives change notifications.
	NotificationURL string `json:"notificationUrl"`
	// LifecycleNotificationURL receives lifecycle notifications ("" = none).
	LifecycleNotificationURL string `json:"lifecycleNotificationUrl,omitempty"`
	// ClientState is echoed in every notification.
	ClientState string `json:"clientState,omitempty"`
	// ExpirationDateTime is when the subscription expires.
	ExpirationDateTime time.Time `json:"expirationDateTime"`
	// Paused is set while delivery waits for a renewal (token-expiry
	// variant "pause").
	Paused bool `json:"paused"`
}

// NotificationLog is the delivery log with its counters.
type NotificationLog struct {
	// ValidationRequests counts validation handshakes since the start.
	ValidationRequests int64 `json:"validationRequests"`
	// Attempts are the last POSTs to subscribers, oldest first.
	Attempts []DeliveryRecord `json:"attempts"`
}

// Subscriptions lists the live subscriptions the mailbox of token owns.
func (s *Server) Subscriptions(token string) ([]SubscriptionInfo, error) {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return nil, controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	ss := s.subs
	ss.mu.Lock()
	defer ss.mu.Unlock()
	owned := ss.ownedLocked(mb)
	out := make([]SubscriptionInfo, 0, len(owned))
	for _, sub := range owned {
		out = append(out, SubscriptionInfo{ID: sub.id, Resource: sub.resource, ChangeType: sub.changeType,
			NotificationURL: sub.notificationURL, LifecycleNotificationURL: sub.lifecycleURL,
			ClientState: sub.clientState, ExpirationDateTime: sub.expires, Paused: sub.paused})
	}
	return out, nil
}

// ExpireSubscriptionToken treats the token of the mailbox as expired for
// its subscriptions: each gets a reauthorizationRequired, and in the
// "pause" token-expiry variant stops delivering until renewed. It returns
// how many subscriptions it touched and how many lifecycle POSTs it sent.
func (s *Server) ExpireSubscriptionToken(token string) (int, int, error) {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return 0, 0, controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	ss := s.subs
	ss.mu.Lock()
	defer ss.mu.Unlock()
	owned := ss.ownedLocked(mb)
	sent := 0
	for _, sub := range owned {
		if ss.sendLifecycleLocked(sub, LifecycleReauthorizationRequired) {
			sent++
		}
	}
	return len(owned), sent, nil
}

// SendLifecycle sends a lifecycle event (reauthorizationRequired,
// subscriptionRemoved or missed) for subscription id. subscriptionRemoved
// also removes the subscription. It reports whether a POST was sent (a
// subscription without lifecycleNotificationUrl gets none).
func (s *Server) SendLifecycle(id, event string) (bool, error) {
	switch event {
	case LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved, LifecycleMissed:
	default:
		return false, controlErr(http.StatusBadRequest, "event must be reauthorizationRequired, subscriptionRemoved or missed")
	}
	ss := s.subs
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sub := ss.byID[id]
	if sub == nil || !sub.expires.After(ss.now()) {
		return false, controlErr(http.StatusNotFound, "no live subscription with this id")
	}
	return ss.sendLifecycleLocked(sub, event), nil
}

// NotificationSettings returns the current delivery settings.
func (s *Server) NotificationSettings() NotificationSettings {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	return s.subs.current
}

// SetNotificationSettings changes the fields set in p; it fails without
// change when the result is invalid. Notifications already being retried
// keep the settings they started with.
func (s *Server) SetNotificationSettings(p NotificationSettings) (NotificationSettings, error) {
	ss := s.subs
	ss.mu.Lock()
	defer ss.mu.Unlock()
	merged, parsed, err := ss.current.merge(p)
	if err != nil {
		return ss.current, controlErr(http.StatusBadRequest, err.Error())
	}
	ss.current, ss.parsed = merged, parsed
	return merged, nil
}

// NotificationLog returns the delivery log and the validation counter.
func (s *Server) NotificationLog() NotificationLog {
	return NotificationLog{ValidationRequests: s.subs.validations.Load(), Attempts: s.subs.log.list()}
}

// ClearNotificationLog empties the delivery log (the counter stays).
func (s *Server) ClearNotificationLog() { s.subs.log.clear() }

// serveSubscriptionControl serves the control endpoints above; it reports
// false when segs is none of them.
func (s *Server) serveSubscriptionControl(w http.ResponseWriter, r *http.Request, segs []string) bool {
	methodNotAllowed := func() { writeControlError(w, controlErr(http.StatusMethodNotAllowed, "method not allowed")) }
	switch {
	case len(segs) == 3 && segs[0] == "mailboxes" && segs[2] == "subscriptions":
		if r.Method != http.MethodGet {
			methodNotAllowed()
			return true
		}
		list, err := s.Subscriptions(segs[1])
		if err != nil {
			writeControlError(w, err)
			return true
		}
		writeControlJSON(w, http.StatusOK, list)
	case len(segs) == 3 && segs[0] == "mailboxes" && segs[2] == "expire-token":
		if r.Method != http.MethodPost {
			methodNotAllowed()
			return true
		}
		n, sent, err := s.ExpireSubscriptionToken(segs[1])
		if err != nil {
			writeControlError(w, err)
			return true
		}
		writeControlJSON(w, http.StatusOK, map[string]int{"subscriptions": n, "lifecycleSent": sent})
	case len(segs) == 3 && segs[0] == "subscriptions" && segs[2] == "lifecycle":
		if r.Method != http.MethodPost {
			methodNotAllowed()
			return true
		}
		var in struct {
			Event string `json:"event"`
		}
		if err := readControlJSON(r, &in); err != nil {
			writeControlError(w, err)
			return true
		}
		sent, err := s.SendLifecycle(segs[1], in.Event)
		if err != nil {
			writeControlError(w, err)
			return true
		}
		writeControlJSON(w, http.StatusOK, map[string]bool{"sent": sent})
	case len(segs) == 2 && segs[0] == "notifications" && segs[1] == "settings":
		switch r.Method {
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.NotificationSettings())
		case http.MethodPatch:
			var p NotificationSettings
			if err := readControlJSON(r, &p); err != nil {
				writeControlError(w, err)
				return true
			}
			cur, err := s.SetNotificationSettings(p)
			if err != nil {
				writeControlError(w, err)
				return true
			}
			writeControlJSON(w, http.StatusOK, cur)
		default:
			methodNotAllowed()
		}
	case len(segs) == 2 && segs[0] == "notifications" && segs[1] == "log":
		switch r.Method {
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.NotificationLog())
		case http.MethodDelete:
			s.ClearNotificationLog()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed()
		}
	default:
		return false
	}
	return true
}
