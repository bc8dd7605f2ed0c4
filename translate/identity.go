package translate

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/tidwall/gjson"
)

// Identity is who a device request acts as, as far as the bearer token
// tells: a hash of the token's tenant id (tid) and user object id (oid)
// claims. Sealed states are bound to it (docs/security.md), so a state
// issued to one user does not open in another user's request, even where
// its scope is the same ("me").
//
// The claims are read, not verified: Graph verifies the token, and a
// forged token carrying someone's claims gets nothing from Graph. A token
// that is not a JWT with both claims (the emulator's demo tokens, some
// consumer-account tokens) gives the zero Identity, and its states are not
// bound to a user — binding them to the token itself would make every
// state fail at the hourly token refresh.
type Identity struct {
	sum   [sha256.Size]byte
	bound bool
	// tenant and user are the claims, lower-cased; push binds its routing
	// blob to them.
	tenant, user string
}

// Bound reports whether the identity names a user.
func (id Identity) Bound() bool { return id.bound }

// maxTokenPayload bounds the JWT payload the identity is read from.
const maxTokenPayload = 16 << 10

// IdentityFromAuthorization reads the identity from an Authorization
// header value ("Bearer <token>").
func IdentityFromAuthorization(authorization string) Identity {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Identity{}
	}
	tid, oid, ok := TokenPrincipal(strings.TrimSpace(token))
	if !ok {
		return Identity{}
	}
	return IdentityOf(tid, oid)
}

// IdentityOf is the identity of a token whose tid and oid claims are
// tenantID and userID; the zero Identity when either is empty.
func IdentityOf(tenantID, userID string) Identity {
	if tenantID == "" || userID == "" {
		return Identity{}
	}
	tid, oid := strings.ToLower(tenantID), strings.ToLower(userID)
	var stack [256]byte
	b := append(stack[:0], "devicebridge/identity\x00"...)
	b = append(b, tid...)
	b = append(b, 0)
	b = append(b, oid...)
	return Identity{sum: sha256.Sum256(b), bound: true, tenant: tid, user: oid}
}

// TokenPrincipal returns the tenant id (tid) and user object id (oid)
// claims of a JWT bearer token, lower-cased, without verifying the token;
// ok is false when token is not a JWT carrying both as non-empty strings.
func TokenPrincipal(token string) (tid, oid string, ok bool) {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return "", "", false
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return "", "", false
	}
	payload := rest[:second]
	if payload == "" || base64.RawURLEncoding.DecodedLen(len(payload)) > maxTokenPayload {
		return "", "", false
	}
	claims, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil || !gjson.ValidBytes(claims) {
		return "", "", false
	}
	t, o := gjson.GetBytes(claims, "tid"), gjson.GetBytes(claims, "oid")
	if t.Type != gjson.String || o.Type != gjson.String || t.Str == "" || o.Str == "" {
		return "", "", false
	}
	return strings.ToLower(t.Str), strings.ToLower(o.Str), true
}
