package push

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"strings"
)

// Platform is a push service family.
type Platform uint8

const (
	// PlatformAPNs is Apple Push Notification service (token auth).
	PlatformAPNs Platform = 1 + iota
	// PlatformFCM is Firebase Cloud Messaging, HTTP v1 API.
	PlatformFCM
	// PlatformWebPush is RFC 8030 Web Push with RFC 8291/8292.
	PlatformWebPush
)

// String returns the platform's name in the device API.
func (p Platform) String() string {
	switch p {
	case PlatformAPNs:
		return "apns"
	case PlatformFCM:
		return "fcm"
	case PlatformWebPush:
		return "webpush"
	}
	return "unknown"
}

// ParsePlatform reads a platform name of the device API.
func ParsePlatform(s string) (Platform, bool) {
	switch s {
	case "apns":
		return PlatformAPNs, true
	case "fcm":
		return PlatformFCM, true
	case "webpush":
		return PlatformWebPush, true
	}
	return 0, false
}

// Env is an APNs environment.
type Env uint8

const (
	// EnvProduction is api.push.apple.com.
	EnvProduction Env = iota
	// EnvSandbox is api.sandbox.push.apple.com.
	EnvSandbox
)

// String returns the environment's name in the device API.
func (e Env) String() string {
	if e == EnvSandbox {
		return "sandbox"
	}
	return "production"
}

// Target limits of the device API.
const (
	minAPNsTokenLen   = 16
	maxAPNsTokenLen   = 400
	maxFCMTargetLen   = 4096
	maxEndpointLen    = 2048
	webPushKeyLen     = 65 // uncompressed P-256 point
	webPushAuthLen    = 16
	maxAccountLen     = 16
	maxRefs           = 5
	maxRefLen         = 384
	maxCollapseIDLen  = 32 // web push Topic limit; APNs allows 64
	maxEncodedKeySize = 128
)

// Target is where one push goes. Exactly the fields of its Platform are
// set. A Target is a secret of the device: never log it.
type Target struct {
	// Platform selects the sender.
	Platform Platform
	// Env is the APNs environment (APNs only).
	Env Env
	// Token is the APNs device token (hex) or the FCM registration token.
	Token string
	// FID is the Firebase installation id (FCM only, instead of Token).
	FID string
	// Endpoint is the web push subscription's https URL.
	Endpoint string
	// P256dh is the web push subscription's public key, a 65-byte
	// uncompressed P-256 point.
	P256dh []byte
	// Auth is the web push subscription's 16-byte authentication secret.
	Auth []byte
}

// Target validation errors. They never quote the target.
var (
	ErrBadPlatform    = errors.New("push: unknown platform")
	ErrBadAPNsToken   = errors.New("push: apns token must be hex, even length 16-400")
	ErrBadFCMTarget   = errors.New("push: fcm target needs exactly one of token or fid, [A-Za-z0-9_:-], 1-4096")
	ErrBadEndpoint    = errors.New("push: webpush endpoint must be an https URL of at most 2048 bytes")
	ErrBadWebPushKey  = errors.New("push: webpush p256dh must be a 65-byte uncompressed P-256 point")
	ErrBadWebPushAuth = errors.New("push: webpush auth must be 16 bytes")
)

// Validate checks the target's form against the device API's rules. The web
// push endpoint's host is checked against the allow list by the WebPush
// sender (see WebPush.CheckEndpoint).
func (t *Target) Validate() error {
	switch t.Platform {
	case PlatformAPNs:
		if !validAPNsToken(t.Token) {
			return ErrBadAPNsToken
		}
	case PlatformFCM:
		v := t.Token
		if (t.Token == "") == (t.FID == "") {
			return ErrBadFCMTarget
		}
		if v == "" {
			v = t.FID
		}
		if !validFCMTarget(v) {
			return ErrBadFCMTarget
		}
	case PlatformWebPush:
		if len(t.Endpoint) > maxEndpointLen || !strings.HasPrefix(t.Endpoint, "https://") {
			return ErrBadEndpoint
		}
		if len(t.P256dh) != webPushKeyLen || t.P256dh[0] != 4 {
			return ErrBadWebPushKey
		}
		if _, err := ecdh.P256().NewPublicKey(t.P256dh); err != nil {
			return ErrBadWebPushKey
		}
		if len(t.Auth) != webPushAuthLen {
			return ErrBadWebPushAuth
		}
	default:
		return ErrBadPlatform
	}
	return nil
}

// DecodeWebPushKeys decodes a subscription's base64url p256dh and auth (with
// or without padding) and checks them.
func DecodeWebPushKeys(p256dh, auth string) (key, secret []byte, err error) {
	if len(p256dh) > maxEncodedKeySize || len(auth) > maxEncodedKeySize {
		return nil, nil, ErrBadWebPushKey
	}
	key, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(p256dh, "="))
	if err != nil || len(key) != webPushKeyLen || key[0] != 4 {
		return nil, nil, ErrBadWebPushKey
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return nil, nil, ErrBadWebPushKey
	}
	secret, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(auth, "="))
	if err != nil || len(secret) != webPushAuthLen {
		return nil, nil, ErrBadWebPushAuth
	}
	return key, secret, nil
}

func validAPNsToken(s string) bool {
	if len(s) < minAPNsTokenLen || len(s) > maxAPNsTokenLen || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func validFCMTarget(s string) bool {
	if len(s) == 0 || len(s) > maxFCMTargetLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// isTag reports whether s is 1..max characters of [A-Za-z0-9_-].
func isTag(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SameTarget reports whether a and b address the same device: APNs tokens
// are compared without regard to case, everything else exactly.
func SameTarget(a, b *Target) bool {
	if a.Platform != b.Platform {
		return false
	}
	switch a.Platform {
	case PlatformAPNs:
		return a.Env == b.Env && strings.EqualFold(a.Token, b.Token)
	case PlatformFCM:
		return a.Token == b.Token && a.FID == b.FID
	case PlatformWebPush:
		return a.Endpoint == b.Endpoint && bytes.Equal(a.P256dh, b.P256dh) && bytes.Equal(a.Auth, b.Auth)
	}
	return false
}
