package push

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckEndpoint feeds device-chosen endpoints to the allow list: an
// accepted one is always https on an allowed host and port.
func FuzzCheckEndpoint(f *testing.F) {
	l, err := parseAllowList([]string{"fcm.googleapis.com", "*.push.apple.com", "push.example.net:8443"}, BreakerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"https://fcm.googleapis.com/fcm/send/abc", "https://web.push.apple.com/x", "https://push.example.net:8443/a",
		"https://evil.com#@fcm.googleapis.com/", "https://fcm.googleapis.com@evil.com/", "https://[::1]/", "HTTPS://FCM.GOOGLEAPIS.COM/",
		"https://fcm.googleapis.com%2f@evil/", "https://xn--fcm.googleapis.com/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		u, e, err := l.checkEndpoint(endpoint)
		if err != nil {
			return
		}
		if u.Scheme != "https" || u.User != nil || e == nil {
			t.Fatalf("accepted %q", endpoint)
		}
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if port == "" {
			port = "443"
		}
		ok := host == "fcm.googleapis.com" && port == "443" ||
			strings.HasSuffix(host, ".push.apple.com") && port == "443" ||
			host == "push.example.net" && port == "8443"
		if !ok {
			t.Fatalf("accepted %q (host %q port %q)", endpoint, host, port)
		}
		// What is dialled is what was checked.
		again, err := url.Parse(endpoint)
		if err != nil || !strings.EqualFold(again.Hostname(), host) {
			t.Fatalf("re-parse of %q differs", endpoint)
		}
	})
}

// FuzzTargetValidate feeds device-chosen push targets to the validators.
func FuzzTargetValidate(f *testing.F) {
	f.Add(uint8(1), goodToken, "", "", rfcUAPublic, rfcAuth)
	f.Add(uint8(2), "tok:en_-1", "", "", "", "")
	f.Add(uint8(2), "", "cAbCdEfGhIjKlMnOpQrStU", "", "", "")
	f.Add(uint8(3), "", "", "https://fcm.googleapis.com/x", rfcUAPublic, rfcAuth)
	f.Fuzz(func(t *testing.T, platform uint8, token, fid, endpoint, p256dh, auth string) {
		key, secret, kerr := DecodeWebPushKeys(p256dh, auth)
		tg := Target{Platform: Platform(platform), Token: token, FID: fid, Endpoint: endpoint, P256dh: key, Auth: secret}
		if tg.Validate() != nil {
			return
		}
		switch tg.Platform {
		case PlatformAPNs:
			if strings.ContainsAny(tg.Token, "/?#%.") {
				t.Fatalf("apns token %q accepted", tg.Token)
			}
		case PlatformWebPush:
			if kerr != nil {
				t.Fatal("web push target valid without keys")
			}
		}
	})
}
