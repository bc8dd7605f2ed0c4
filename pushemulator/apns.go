package pushemulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APNs reasons the emulator answers (Apple, "Handling notification
// responses from APNs").
const (
	ReasonBadCollapseID               = "BadCollapseId"
	ReasonBadDeviceToken              = "BadDeviceToken"
	ReasonBadExpirationDate           = "BadExpirationDate"
	ReasonBadMessageID                = "BadMessageId"
	ReasonBadPriority                 = "BadPriority"
	ReasonBadTopic                    = "BadTopic"
	ReasonDuplicateHeaders            = "DuplicateHeaders"
	ReasonInvalidPushType             = "InvalidPushType"
	ReasonMissingDeviceToken          = "MissingDeviceToken"
	ReasonMissingTopic                = "MissingTopic"
	ReasonPayloadEmpty                = "PayloadEmpty"
	ReasonTopicDisallowed             = "TopicDisallowed"
	ReasonExpiredProviderToken        = "ExpiredProviderToken"
	ReasonInvalidProviderToken        = "InvalidProviderToken"
	ReasonMissingProviderToken        = "MissingProviderToken"
	ReasonBadPath                     = "BadPath"
	ReasonMethodNotAllowed            = "MethodNotAllowed"
	ReasonUnregistered                = "Unregistered"
	ReasonExpiredToken                = "ExpiredToken"
	ReasonPayloadTooLarge             = "PayloadTooLarge"
	ReasonTooManyProviderTokenUpdates = "TooManyProviderTokenUpdates"
	ReasonTooManyRequests             = "TooManyRequests"
	ReasonInternalServerError         = "InternalServerError"
	ReasonServiceUnavailable          = "ServiceUnavailable"
	// ReasonBadPayload answers a body that is not a JSON object. APNs does
	// not document this case; the emulator refuses such a body so that a
	// sender's bug shows.
	ReasonBadPayload = "BadPayload"
	// ReasonHTTP2Required answers (505) a request over HTTP/1.x, which
	// APNs does not speak at all.
	ReasonHTTP2Required = "HTTP2Required"
)

// apnsProviderTokenMaxAge is how old a provider token's iat may be (APNs:
// one hour).
const apnsProviderTokenMaxAge = time.Hour

// apnsRecordedHeaders are the request headers recorded for APNs pushes.
var apnsRecordedHeaders = []string{"apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-collapse-id", "apns-id"}

// apnsService holds the provider key and the per-connection token state.
type apnsService struct {
	pub  *ecdsa.PublicKey
	priv *ecdsa.PrivateKey // nil when only the public key is configured

	signatures signatureCache

	mu         sync.Mutex
	connTokens map[string]connToken // remote address → last token
}

// connToken is the provider token last accepted on one connection.
type connToken struct {
	digest [32]byte
	since  time.Time
}

// maxConnTokens bounds the per-connection token table.
const maxConnTokens = 100000

func newAPNsService(o *Options) (*apnsService, error) {
	a := &apnsService{connTokens: map[string]connToken{}}
	switch {
	case o.APNsKey != nil:
		if o.APNsKey.Curve != elliptic.P256() {
			return nil, fmt.Errorf("apns key: not a P-256 key")
		}
		a.priv = o.APNsKey
	case o.APNsPublicKeyFile != "":
		data, err := os.ReadFile(o.APNsPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("apns_public_key_file: %v", err)
		}
		if a.pub, err = decodeP256PublicKey(data); err != nil {
			return nil, fmt.Errorf("apns_public_key_file %s: %v", o.APNsPublicKeyFile, err)
		}
		return a, nil
	case o.APNsKeyFile != "":
		data, err := loadOrCreateFile(o.APNsKeyFile, func() ([]byte, error) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			return encodeP8(key)
		})
		if err != nil {
			return nil, fmt.Errorf("apns_key_file: %v", err)
		}
		if a.priv, err = decodeP256PrivateKey(data); err != nil {
			return nil, fmt.Errorf("apns_key_file %s: %v", o.APNsKeyFile, err)
		}
	default:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		a.priv = key
	}
	a.pub = &a.priv.PublicKey
	return a, nil
}

// APNsKey is the provider key material a sender needs.
type APNsKey struct {
	// KeyID is the key id (the JWT's kid).
	KeyID string `json:"keyId"`
	// TeamID is the team id (the JWT's iss).
	TeamID string `json:"teamId"`
	// Topic is the bundle id pushes must name in apns-topic.
	Topic string `json:"topic"`
	// P8 is the private key as Apple hands it out (PKCS #8 PEM); empty
	// when the emulator was given only a public key.
	P8 string `json:"p8,omitempty"`
	// PublicKey is the public key (PKIX PEM).
	PublicKey string `json:"publicKey"`
}

// APNsKey returns the provider key material.
func (s *Server) APNsKey() APNsKey {
	k := APNsKey{KeyID: s.opts.APNsKeyID, TeamID: s.opts.APNsTeamID, Topic: s.opts.APNsTopic, PublicKey: encodePublicKeyPEM(s.apns.pub)}
	if s.apns.priv != nil {
		if p8, err := encodeP8(s.apns.priv); err == nil {
			k.P8 = string(p8)
		}
	}
	return k
}

// apnsDefaultReason is APNs' reason for an injected status.
func apnsDefaultReason(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return ReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return ReasonServiceUnavailable
	case http.StatusGone:
		return ReasonUnregistered
	case http.StatusForbidden:
		return ReasonInvalidProviderToken
	case http.StatusBadRequest:
		return ReasonBadDeviceToken
	default:
		return ReasonInternalServerError
	}
}

// writeAPNsReason writes APNs' error body; timestampMillis > 0 adds the
// timestamp of a 410.
func writeAPNsReason(w http.ResponseWriter, status int, reason string, timestampMillis int64) {
	body := map[string]any{"reason": reason}
	if timestampMillis > 0 {
		body["timestamp"] = timestampMillis
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// serveAPNs answers POST /3/device/{token}.
func (s *Server) serveAPNs(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	rec := Push{Service: ServiceAPNs, Proto: r.Proto, Host: r.Host, Time: now, Headers: recordHeaders(r, apnsRecordedHeaders...)}
	apnsID := r.Header.Get("apns-id")
	if !validUUID(apnsID) {
		apnsID = newUUID()
	}
	answer := func(status int, reason string, timestampMillis int64) {
		rec.Status, rec.Reason = status, reason
		w.Header().Set("apns-id", apnsID)
		if reason == "" {
			rec.ID = apnsID
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(status)
		} else {
			writeAPNsReason(w, status, reason, timestampMillis)
		}
		s.record.add(rec)
	}

	token, ok := strings.CutPrefix(r.URL.EscapedPath(), "/3/device/")
	if !ok || strings.Contains(token, "/") {
		answer(http.StatusNotFound, ReasonBadPath, 0)
		return
	}
	rec.Target = strings.ToLower(token)
	if r.Method != http.MethodPost {
		answer(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, 0)
		return
	}
	if r.ProtoMajor < 2 && !s.opts.APNsAllowHTTP1 {
		answer(http.StatusHTTPVersionNotSupported, ReasonHTTP2Required, 0)
		return
	}
	for _, h := range append([]string{"authorization"}, apnsRecordedHeaders...) {
		if len(r.Header.Values(h)) > 1 {
			answer(http.StatusBadRequest, ReasonDuplicateHeaders, 0)
			return
		}
	}

	// Provider token.
	auth := r.Header.Get("Authorization")
	if auth == "" {
		answer(http.StatusForbidden, ReasonMissingProviderToken, 0)
		return
	}
	scheme, tokenString, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "bearer") {
		answer(http.StatusForbidden, ReasonInvalidProviderToken, 0)
		return
	}
	status, reason := s.apns.checkProviderToken(&s.opts, strings.TrimSpace(tokenString), r.RemoteAddr, now, &rec)
	if status != 0 {
		answer(status, reason, 0)
		return
	}

	// Topic and headers.
	topic := r.Header.Get("apns-topic")
	switch {
	case topic == "":
		answer(http.StatusBadRequest, ReasonMissingTopic, 0)
		return
	case !validTopic(topic):
		answer(http.StatusBadRequest, ReasonBadTopic, 0)
		return
	case topic != s.opts.APNsTopic:
		answer(http.StatusBadRequest, ReasonTopicDisallowed, 0)
		return
	}
	if token == "" {
		answer(http.StatusBadRequest, ReasonMissingDeviceToken, 0)
		return
	}
	if !validDeviceToken(token) {
		answer(http.StatusBadRequest, ReasonBadDeviceToken, 0)
		return
	}
	rec.Environment = s.apnsEnvironment(r)
	if env, bound := s.apnsTokenEnvironment(rec.Target); bound && env != rec.Environment {
		// A token of the other environment is a bad token (Apple: "valid
		// for the other environment").
		answer(http.StatusBadRequest, ReasonBadDeviceToken, 0)
		return
	}
	pushType := r.Header.Get("apns-push-type")
	switch pushType {
	case "alert", "background":
	case "":
		rec.Problems = append(rec.Problems, "no apns-push-type header")
		pushType = "alert"
	default:
		answer(http.StatusBadRequest, ReasonInvalidPushType, 0)
		return
	}
	priority := 10
	if v := r.Header.Get("apns-priority"); v != "" {
		switch v {
		case "10", "5", "1":
			priority, _ = strconv.Atoi(v)
		default:
			answer(http.StatusBadRequest, ReasonBadPriority, 0)
			return
		}
	}
	if pushType == "background" && priority == 10 {
		// Apple: background pushes must use priority 5; 10 (also the
		// default when the header is absent) is an error.
		answer(http.StatusBadRequest, ReasonBadPriority, 0)
		return
	}
	if v := r.Header.Get("apns-expiration"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			answer(http.StatusBadRequest, ReasonBadExpirationDate, 0)
			return
		}
	}
	if len(r.Header.Get("apns-collapse-id")) > 64 {
		answer(http.StatusBadRequest, ReasonBadCollapseID, 0)
		return
	}
	if v := r.Header.Get("apns-id"); v != "" && !validUUID(v) {
		answer(http.StatusBadRequest, ReasonBadMessageID, 0)
		return
	}

	// Payload.
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.APNsMaxPayload)+1))
	if err != nil {
		answer(http.StatusBadRequest, ReasonPayloadEmpty, 0)
		return
	}
	if len(body) == 0 {
		answer(http.StatusBadRequest, ReasonPayloadEmpty, 0)
		return
	}
	if len(body) > s.opts.APNsMaxPayload {
		answer(http.StatusRequestEntityTooLarge, ReasonPayloadTooLarge, 0)
		return
	}
	var payload map[string]json.RawMessage
	if json.Unmarshal(body, &payload) != nil || payload == nil {
		answer(http.StatusBadRequest, ReasonBadPayload, 0)
		return
	}
	rec.Payload = json.RawMessage(body)
	rec.Problems = append(rec.Problems, apnsPayloadProblems(payload, pushType)...)

	if u, gone := s.unregisteredAt(ServiceAPNs, rec.Target); gone {
		answer(http.StatusGone, u.reason, u.at.UnixMilli())
		return
	}
	answer(http.StatusOK, "", 0)
}

// APNs environments.
const (
	// EnvironmentProduction is api.push.apple.com.
	EnvironmentProduction = "production"
	// EnvironmentSandbox is api.sandbox.push.apple.com.
	EnvironmentSandbox = "sandbox"
)

// apnsEnvironment is the environment r reached, by its host.
func (s *Server) apnsEnvironment(r *http.Request) string {
	host := strings.ToLower(r.Host)
	name := host
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		name = host[:i]
	}
	for _, h := range s.opts.APNsSandboxHosts {
		if h == host || h == name {
			return EnvironmentSandbox
		}
	}
	return EnvironmentProduction
}

// apnsTokenEnvironment returns the environment a token was bound to.
func (s *Server) apnsTokenEnvironment(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env, ok := s.apnsEnvs[token]
	return env, ok
}

// SetAPNsTokenEnvironment binds a device token to one environment: pushes
// to it through the other environment answer 400 BadDeviceToken, as APNs
// does for a token of the other environment.
func (s *Server) SetAPNsTokenEnvironment(token, environment string) error {
	if !validDeviceToken(token) {
		return controlErr(http.StatusBadRequest, "token must be hex of even length, 16 to 400 digits")
	}
	if environment != EnvironmentProduction && environment != EnvironmentSandbox {
		return controlErr(http.StatusBadRequest, `environment must be "production" or "sandbox"`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.apnsEnvs) >= 100000 {
		return controlErr(http.StatusInsufficientStorage, "too many bound tokens")
	}
	s.apnsEnvs[strings.ToLower(token)] = environment
	return nil
}

// checkProviderToken verifies the provider JWT; a non-zero status is the
// answer. It records kid, iss and iat in rec.Auth.
func (a *apnsService) checkProviderToken(o *Options, token, remoteAddr string, now time.Time, rec *Push) (int, string) {
	t, err := parseJWT(token)
	if err != nil || t.alg != "ES256" || t.kid != o.APNsKeyID {
		return http.StatusForbidden, ReasonInvalidProviderToken
	}
	if a.signatures.verifyES256(t, token, a.pub, nil) != nil {
		return http.StatusForbidden, ReasonInvalidProviderToken
	}
	iss, okIss := t.stringClaim("iss")
	iat, okIat := t.timeClaim("iat")
	if !okIss || iss != o.APNsTeamID || !okIat {
		return http.StatusForbidden, ReasonInvalidProviderToken
	}
	rec.Auth = map[string]string{"kid": t.kid, "iss": iss, "iat": strconv.FormatInt(iat, 10)}
	issued := time.Unix(iat, 0)
	if issued.After(now.Add(o.ClockSkew)) {
		return http.StatusForbidden, ReasonInvalidProviderToken
	}
	if now.Sub(issued) > apnsProviderTokenMaxAge {
		return http.StatusForbidden, ReasonExpiredProviderToken
	}
	if o.APNsTokenUpdateInterval > 0 {
		// A token is identified by its claims: ES256 signatures are
		// randomized, so a re-signed token with the same iat is no update.
		digest := sha256.Sum256([]byte(t.kid + "\x00" + iss + "\x00" + strconv.FormatInt(iat, 10)))
		a.mu.Lock()
		defer a.mu.Unlock()
		prev, seen := a.connTokens[remoteAddr]
		if seen && prev.digest != digest && now.Sub(prev.since) < o.APNsTokenUpdateInterval {
			return http.StatusTooManyRequests, ReasonTooManyProviderTokenUpdates
		}
		if !seen || prev.digest != digest {
			if len(a.connTokens) >= maxConnTokens {
				clear(a.connTokens)
			}
			a.connTokens[remoteAddr] = connToken{digest: digest, since: now}
		}
	}
	return 0, ""
}

// apnsPayloadProblems lists what a correct sender would not send.
func apnsPayloadProblems(payload map[string]json.RawMessage, pushType string) []string {
	var aps map[string]json.RawMessage
	if raw, ok := payload["aps"]; !ok || json.Unmarshal(raw, &aps) != nil || aps == nil {
		return []string{"payload has no aps dictionary"}
	}
	var problems []string
	switch pushType {
	case "background":
		if string(aps["content-available"]) != "1" {
			problems = append(problems, "background push without aps.content-available 1")
		}
		for _, k := range []string{"alert", "sound", "badge"} {
			if _, ok := aps[k]; ok {
				problems = append(problems, "background push with aps."+k)
			}
		}
	case "alert":
		if _, ok := aps["alert"]; !ok {
			problems = append(problems, "alert push without aps.alert")
		}
	}
	return problems
}

// validTopic reports whether s looks like a bundle id (with an optional
// push-type suffix): letters, digits, '-', '_' and '.'.
func validTopic(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validDeviceToken reports whether s is a device token: hex of even
// length, 16 to 400 digits (today's tokens are 64).
func validDeviceToken(s string) bool {
	if len(s) < 16 || len(s) > 400 || len(s)%2 != 0 {
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

// validUUID reports whether s has the 8-4-4-4-12 hex form of a UUID.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
