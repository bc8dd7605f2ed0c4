package pushemulator

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// webPushMaxTTL is the longest the emulated service keeps a message, in
// seconds (4 weeks).
const webPushMaxTTL = 28 * 24 * 3600

// vapidMaxExpiry is RFC 8292 §2's limit: exp no more than 24 hours ahead.
const vapidMaxExpiry = 24 * time.Hour

// webPushRecordedHeaders are the request headers recorded for Web Push.
var webPushRecordedHeaders = []string{"TTL", "Urgency", "Topic", "Content-Encoding"}

// webPushService holds the issued subscriptions.
type webPushService struct {
	signatures signatureCache

	max  int
	mu   sync.Mutex
	subs map[string]*webPushSubscription
}

// webPushSubscription is the user agent's side of one subscription.
type webPushSubscription struct {
	key          *ecdh.PrivateKey
	auth         []byte
	appServerKey []byte // nil: any VAPID key
	gone         bool
}

func newWebPushService(o *Options) *webPushService {
	return &webPushService{max: o.WebPushMaxSubscriptions, subs: map[string]*webPushSubscription{}}
}

// WebPushKeys are a subscription's keys, as PushSubscription.toJSON()
// names them.
type WebPushKeys struct {
	// P256dh is the user agent's public key (base64url, 65-byte point).
	P256dh string `json:"p256dh"`
	// Auth is the auth secret (base64url, 16 bytes).
	Auth string `json:"auth"`
}

// WebPushSubscription is an issued subscription.
type WebPushSubscription struct {
	// ID names the subscription in records and in unregister.
	ID string `json:"id"`
	// Endpoint is the push resource URL.
	Endpoint string `json:"endpoint"`
	// P256dh is Keys.P256dh, for callers that want it flat.
	P256dh string `json:"p256dh"`
	// Auth is Keys.Auth, for callers that want it flat.
	Auth string `json:"auth"`
	// Keys are the keys in PushSubscription.toJSON() form.
	Keys WebPushKeys `json:"keys"`
}

// WebPushSubscriptionSpec asks for a subscription.
type WebPushSubscriptionSpec struct {
	// ApplicationServerKey restricts the subscription to one VAPID key
	// (base64url, 65-byte uncompressed P-256 point), as a browser's
	// subscribe({applicationServerKey}) does. Default: any key.
	ApplicationServerKey string `json:"applicationServerKey,omitempty"`
}

// NewWebPushSubscription issues a subscription whose endpoint is on origin
// (Options.Origin when set).
func (s *Server) NewWebPushSubscription(origin string, spec WebPushSubscriptionSpec) (WebPushSubscription, error) {
	if s.opts.Origin != "" {
		origin = s.opts.Origin
	}
	sub := &webPushSubscription{auth: make([]byte, webPushAuthLen)}
	if spec.ApplicationServerKey != "" {
		k, err := base64.RawURLEncoding.DecodeString(spec.ApplicationServerKey)
		if err != nil || len(k) != p256PointLen {
			return WebPushSubscription{}, controlErr(http.StatusBadRequest, "applicationServerKey must be a base64url 65-byte P-256 point")
		}
		if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k); err != nil {
			return WebPushSubscription{}, controlErr(http.StatusBadRequest, "applicationServerKey is not a P-256 point")
		}
		sub.appServerKey = k
	}
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return WebPushSubscription{}, err
	}
	sub.key = key
	_, _ = rand.Read(sub.auth)
	id := randomID(16)
	wp := s.webpush
	wp.mu.Lock()
	if len(wp.subs) >= wp.max {
		wp.mu.Unlock()
		return WebPushSubscription{}, controlErr(http.StatusInsufficientStorage, "too many subscriptions")
	}
	wp.subs[id] = sub
	wp.mu.Unlock()
	keys := WebPushKeys{
		P256dh: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(sub.auth),
	}
	return WebPushSubscription{ID: id, Endpoint: origin + s.opts.WebPushPath + "/" + id, P256dh: keys.P256dh, Auth: keys.Auth, Keys: keys}, nil
}

// webPushError is a refusal with its status, text and whether it is a
// missing authentication (which adds WWW-Authenticate).
type webPushError struct {
	status int
	text   string
}

// serveWebPush answers POST {webpush_path}/{id} (RFC 8030 §5).
func (s *Server) serveWebPush(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	rec := Push{Service: ServiceWebPush, Proto: r.Proto, Host: r.Host, Time: now, Headers: recordHeaders(r, webPushRecordedHeaders...)}
	fail := func(status int, text string) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "vapid")
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeText(w, status, text)
		rec.Status, rec.Reason = status, text
		s.record.add(rec)
	}
	id := strings.TrimPrefix(r.URL.EscapedPath(), s.opts.WebPushPath+"/")
	if id == r.URL.EscapedPath() || id == "" || strings.Contains(id, "/") {
		fail(http.StatusNotFound, "no such push resource")
		return
	}
	rec.Target = id
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "push resources accept POST only")
		return
	}
	s.webpush.mu.Lock()
	sub := s.webpush.subs[id]
	gone := sub != nil && sub.gone
	s.webpush.mu.Unlock()
	if sub == nil {
		fail(http.StatusNotFound, "no such subscription")
		return
	}
	if gone {
		fail(http.StatusGone, "subscription expired or unsubscribed")
		return
	}
	if e := s.checkVAPID(r, sub, now, &rec); e != nil {
		fail(e.status, e.text)
		return
	}
	ttlValues := r.Header.Values("TTL")
	if len(ttlValues) != 1 {
		fail(http.StatusBadRequest, "exactly one TTL header is required")
		return
	}
	ttl, err := strconv.ParseUint(ttlValues[0], 10, 64)
	if err != nil {
		fail(http.StatusBadRequest, "TTL must be a non-negative integer of seconds")
		return
	}
	// RFC 8030 §5.2: the service may keep a message for less time than
	// asked and says so in the answer's TTL.
	ttl = min(ttl, webPushMaxTTL)
	if v := r.Header.Get("Urgency"); v != "" {
		switch v {
		case "very-low", "low", "normal", "high":
		default:
			fail(http.StatusBadRequest, "Urgency must be very-low, low, normal or high")
			return
		}
	}
	if v := r.Header.Get("Topic"); v != "" && !validPushTopic(v) {
		fail(http.StatusBadRequest, "Topic must be at most 32 characters of the base64url alphabet")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.WebPushMaxBody)+1))
	if err != nil {
		fail(http.StatusBadRequest, "cannot read the body")
		return
	}
	if len(body) > s.opts.WebPushMaxBody {
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.opts.WebPushMaxBody))
		return
	}
	if len(body) > 0 {
		if ce := r.Header.Get("Content-Encoding"); !strings.EqualFold(ce, "aes128gcm") {
			fail(http.StatusBadRequest, "Content-Encoding must be aes128gcm")
			return
		}
		plain, err := decryptWebPush(body, sub.key, sub.auth)
		if err != nil {
			fail(http.StatusBadRequest, "the body does not decrypt: "+err.Error())
			return
		}
		if json.Valid(plain) {
			rec.Payload = json.RawMessage(plain)
		} else if utf8.Valid(plain) {
			rec.PayloadText = string(plain)
		} else {
			rec.PayloadText = base64.StdEncoding.EncodeToString(plain)
			rec.Problems = append(rec.Problems, "plaintext is not UTF-8 (recorded as base64)")
		}
	}
	loc := s.origin(r) + s.opts.WebPushPath + "/" + id + "/m/" + randomID(12)
	rec.Status, rec.ID = http.StatusCreated, loc
	w.Header().Set("Location", loc)
	w.Header().Set("TTL", strconv.FormatUint(ttl, 10))
	w.WriteHeader(http.StatusCreated)
	s.record.add(rec)
}

// checkVAPID verifies RFC 8292 authentication: "vapid t=<JWT>, k=<key>",
// an ES256 JWT signed by k, aud the push resource's origin, exp in the
// future and at most 24 h ahead, sub a mailto: or https: URL.
func (s *Server) checkVAPID(r *http.Request, sub *webPushSubscription, now time.Time, rec *Push) *webPushError {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return &webPushError{http.StatusUnauthorized, "VAPID authentication is required"}
	}
	if len(values) > 1 {
		return &webPushError{http.StatusBadRequest, "more than one Authorization header"}
	}
	token, key, ok := parseVAPIDAuthorization(values[0])
	if !ok {
		return &webPushError{http.StatusUnauthorized, `Authorization must be "vapid t=<JWT>, k=<key>"`}
	}
	forbidden := func(text string) *webPushError { return &webPushError{http.StatusForbidden, text} }
	k, err := base64.RawURLEncoding.Strict().DecodeString(key)
	if err != nil || len(k) != p256PointLen {
		return forbidden("k must be a base64url (unpadded) 65-byte P-256 public key")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k)
	if err != nil {
		return forbidden("k is not a P-256 public key")
	}
	if sub.appServerKey != nil && !bytes.Equal(k, sub.appServerKey) {
		return forbidden("k is not the subscription's application server key")
	}
	t, err := parseJWT(token)
	if err != nil {
		return forbidden("t is not a JWT")
	}
	if t.alg != "ES256" || s.webpush.signatures.verifyES256(t, token, pub, k) != nil {
		return forbidden("the JWT's ES256 signature does not verify with k")
	}
	aud, okAud := t.stringClaim("aud")
	exp, okExp := t.timeClaim("exp")
	subject, okSub := t.stringClaim("sub")
	rec.Auth = map[string]string{"aud": aud, "sub": subject, "k": key}
	if okExp {
		rec.Auth["exp"] = strconv.FormatInt(exp, 10)
	}
	if !okAud || !sameOrigin(aud, s.origin(r)) {
		return forbidden("aud must be the push resource's origin " + s.origin(r))
	}
	if !okExp {
		return forbidden("the JWT has no exp")
	}
	expires := time.Unix(exp, 0)
	if !expires.After(now) {
		return forbidden("the JWT has expired")
	}
	if expires.Sub(now) > vapidMaxExpiry {
		return forbidden("the JWT's exp is more than 24 hours ahead")
	}
	if !okSub || !validVAPIDSubject(subject) {
		return forbidden("sub must be a mailto: or https: URL")
	}
	return nil
}

// parseVAPIDAuthorization splits "vapid t=<JWT>, k=<key>" (RFC 8292 §3:
// auth-params in any order, values optionally quoted).
func parseVAPIDAuthorization(h string) (token, key string, ok bool) {
	scheme, params, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "vapid") {
		return "", "", false
	}
	for _, p := range strings.Split(params, ",") {
		name, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found {
			return "", "", false
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		switch name {
		case "t":
			if token != "" {
				return "", "", false
			}
			token = value
		case "k":
			if key != "" {
				return "", "", false
			}
			key = value
		default:
			return "", "", false
		}
	}
	return token, key, token != "" && key != ""
}

// sameOrigin reports whether aud serializes the origin want.
func sameOrigin(aud, want string) bool {
	u, err := url.Parse(aud)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	return strings.HasSuffix(aud, u.Host) && normalizeOrigin(u.Scheme, u.Host) == want
}

// validVAPIDSubject reports whether sub is a mailto: or https: URL.
func validVAPIDSubject(sub string) bool {
	u, err := url.Parse(sub)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "mailto":
		return strings.Contains(u.Opaque, "@")
	case "https":
		return u.Host != ""
	}
	return false
}

// validPushTopic reports whether v is an RFC 8030 §5.4 Topic: at most 32
// characters of the URL-safe base64 alphabet.
func validPushTopic(v string) bool {
	if len(v) > 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// unsubscribeWebPush marks a subscription gone; false if unknown.
func (s *Server) unsubscribeWebPush(id string) bool {
	s.webpush.mu.Lock()
	defer s.webpush.mu.Unlock()
	sub := s.webpush.subs[id]
	if sub == nil {
		return false
	}
	sub.gone = true
	return true
}
