package push

import (
	"errors"
	"strings"
)

// Kind is what a push tells the device to look at.
type Kind string

// The kinds of the device API.
const (
	KindMail        Kind = "mail"
	KindCalendar    Kind = "calendar"
	KindContacts    Kind = "contacts"
	KindRenew       Kind = "renew"       // renew the subscription (push.subscribe with state)
	KindResubscribe Kind = "resubscribe" // subscribe again, then resync
)

func (k Kind) valid() bool {
	switch k {
	case KindMail, KindCalendar, KindContacts, KindRenew, KindResubscribe:
		return true
	}
	return false
}

// control reports whether the kind is about the subscription rather than
// about a change (FCM collapse key "ctl" rather than "sync").
func (k Kind) control() bool { return k == KindRenew || k == KindResubscribe }

// Message is the content of one push. It carries no ids, subjects,
// addresses or counts in the clear.
type Message struct {
	// Kind is required.
	Kind Kind
	// Account is the tag the app chose for the account, 0-16 characters of
	// [A-Za-z0-9_-]; empty when the app gave none.
	Account string
	// Alert makes the push alert class: a visible notification the app's
	// extension may rewrite. Only for KindMail.
	Alert bool
	// Refs are up to 5 sealed message references (base64url, at most 384
	// characters each; Keys.SealRef) for an alert push; the app resolves them through
	// mail.get with ref.
	Refs []string
	// CollapseID collapses alert pushes (apns-collapse-id, web push Topic):
	// 1-32 base64url characters, required when Alert is set. Background
	// pushes collapse by Kind.
	CollapseID string
}

// Message validation errors.
var (
	ErrBadKind       = errors.New("push: unknown message kind")
	ErrBadAccount    = errors.New("push: account tag must be at most 16 of [A-Za-z0-9_-]")
	ErrBadAlert      = errors.New("push: only mail pushes can be alert class")
	ErrBadRefs       = errors.New("push: refs need alert class, at most 5 base64url strings of at most 384 characters")
	ErrBadCollapseID = errors.New("push: collapse id must be 1-32 base64url characters, and is required for an alert")
)

// Validate checks the message. Every value that reaches a payload is
// restricted to characters that need no JSON escaping.
func (m *Message) Validate() error {
	if !m.Kind.valid() {
		return ErrBadKind
	}
	if m.Account != "" && !isTag(m.Account, maxAccountLen) {
		return ErrBadAccount
	}
	if m.Alert && m.Kind != KindMail {
		return ErrBadAlert
	}
	if len(m.Refs) > 0 && !m.Alert || len(m.Refs) > maxRefs {
		return ErrBadRefs
	}
	for _, r := range m.Refs {
		if !isTag(r, maxRefLen) {
			return ErrBadRefs
		}
	}
	if m.Alert && m.CollapseID == "" || m.CollapseID != "" && !isTag(m.CollapseID, maxCollapseIDLen) {
		return ErrBadCollapseID
	}
	return nil
}

// APNsPayload returns the APNs request body for m:
//
//	background: {"aps":{"content-available":1},"k":"mail","a":"work"}
//	alert:      {"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1},"k":"mail","a":"work","m":["…"]}
//
// "a" is left out when m has no account, "m" when it has no refs.
func APNsPayload(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 96+len(m.Account)+len(m.Refs)*64)
	if m.Alert {
		b = append(b, `{"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1}`...)
	} else {
		b = append(b, `{"aps":{"content-available":1}`...)
	}
	b = appendCommon(b, m, true)
	return append(b, '}'), nil
}

// WebPushPayload returns the plaintext of a web push for m:
// {"k":"mail","a":"work","m":["…"]}, "a" and "m" left out when empty.
func WebPushPayload(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 32+len(m.Account)+len(m.Refs)*64)
	b = append(b, '{')
	b = appendCommon(b, m, false)
	return append(b, '}'), nil
}

// FCMData returns the FCM data map for m: "k", "a" when set, and "m" with the
// refs joined by commas when set. FCM data values are strings.
func FCMData(m *Message) (map[string]string, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	d := map[string]string{"k": string(m.Kind)}
	if m.Account != "" {
		d["a"] = m.Account
	}
	if len(m.Refs) > 0 {
		d["m"] = strings.Join(m.Refs, ",")
	}
	return d, nil
}

// appendCommon appends "k":…,"a":…,"m":[…], after a comma when comma is
// set. Values are validated tags, so they need no escaping.
func appendCommon(b []byte, m *Message, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, `"k":"`...)
	b = append(b, m.Kind...)
	b = append(b, '"')
	if m.Account != "" {
		b = append(b, `,"a":"`...)
		b = append(b, m.Account...)
		b = append(b, '"')
	}
	if len(m.Refs) > 0 {
		b = append(b, `,"m":[`...)
		for i, r := range m.Refs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, r...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	return b
}
