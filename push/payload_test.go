package push

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPayloads(t *testing.T) {
	refs := []string{"cmVmMQ", "cmVmMg"}
	tests := []struct {
		name    string
		m       Message
		apns    string
		webpush string
		fcm     map[string]string
	}{
		{
			name:    "background mail",
			m:       Message{Kind: KindMail},
			apns:    `{"aps":{"content-available":1},"k":"mail"}`,
			webpush: `{"k":"mail"}`,
			fcm:     map[string]string{"k": "mail"},
		},
		{
			name:    "background calendar with account",
			m:       Message{Kind: KindCalendar, Account: "work-1"},
			apns:    `{"aps":{"content-available":1},"k":"calendar","a":"work-1"}`,
			webpush: `{"k":"calendar","a":"work-1"}`,
			fcm:     map[string]string{"k": "calendar", "a": "work-1"},
		},
		{
			name:    "renew hint",
			m:       Message{Kind: KindRenew, Account: "a"},
			apns:    `{"aps":{"content-available":1},"k":"renew","a":"a"}`,
			webpush: `{"k":"renew","a":"a"}`,
			fcm:     map[string]string{"k": "renew", "a": "a"},
		},
		{
			name:    "alert with refs",
			m:       Message{Kind: KindMail, Account: "home", Alert: true, Refs: refs, CollapseID: "Y29sbGFwc2U"},
			apns:    `{"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1},"k":"mail","a":"home","m":["cmVmMQ","cmVmMg"]}`,
			webpush: `{"k":"mail","a":"home","m":["cmVmMQ","cmVmMg"]}`,
			fcm:     map[string]string{"k": "mail", "a": "home", "m": "cmVmMQ,cmVmMg"},
		},
		{
			name:    "alert without refs",
			m:       Message{Kind: KindMail, Alert: true, CollapseID: "x"},
			apns:    `{"aps":{"alert":{"loc-key":"NEW_MAIL"},"mutable-content":1},"k":"mail"}`,
			webpush: `{"k":"mail"}`,
			fcm:     map[string]string{"k": "mail"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := APNsPayload(&tc.m)
			if err != nil || string(a) != tc.apns {
				t.Errorf("APNs = %s, %v; want %s", a, err, tc.apns)
			}
			if !json.Valid(a) {
				t.Error("APNs payload not JSON")
			}
			w, err := WebPushPayload(&tc.m)
			if err != nil || string(w) != tc.webpush {
				t.Errorf("web push = %s, %v; want %s", w, err, tc.webpush)
			}
			f, err := FCMData(&tc.m)
			if err != nil || !reflect.DeepEqual(f, tc.fcm) {
				t.Errorf("FCM = %v, %v; want %v", f, err, tc.fcm)
			}
		})
	}
}

func TestMessageValidate(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"no kind", Message{}, ErrBadKind},
		{"unknown kind", Message{Kind: "inbox"}, ErrBadKind},
		{"account too long", Message{Kind: KindMail, Account: strings.Repeat("a", 17)}, ErrBadAccount},
		{"account with quote", Message{Kind: KindMail, Account: `a"b`}, ErrBadAccount},
		{"alert for calendar", Message{Kind: KindCalendar, Alert: true, CollapseID: "x"}, ErrBadAlert},
		{"refs without alert", Message{Kind: KindMail, Refs: []string{"x"}}, ErrBadRefs},
		{"six refs", Message{Kind: KindMail, Alert: true, CollapseID: "x", Refs: []string{"a", "b", "c", "d", "e", "f"}}, ErrBadRefs},
		{"ref with slash", Message{Kind: KindMail, Alert: true, CollapseID: "x", Refs: []string{"a/b"}}, ErrBadRefs},
		{"empty ref", Message{Kind: KindMail, Alert: true, CollapseID: "x", Refs: []string{""}}, ErrBadRefs},
		{"alert without collapse id", Message{Kind: KindMail, Alert: true}, ErrBadCollapseID},
		{"collapse id too long", Message{Kind: KindMail, Alert: true, CollapseID: strings.Repeat("c", 33)}, ErrBadCollapseID},
		{"max account", Message{Kind: KindMail, Account: strings.Repeat("a", 16)}, nil},
		{"five refs", Message{Kind: KindMail, Alert: true, CollapseID: strings.Repeat("c", 22), Refs: []string{"a", "b", "c", "d", "e"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); err != tc.want {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if _, err := APNsPayload(&tc.m); err == nil {
					t.Fatal("APNsPayload accepted an invalid message")
				}
			}
		})
	}
}
