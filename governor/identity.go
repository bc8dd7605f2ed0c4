package governor

import (
	"encoding/base64"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// A mailbox's key is an HMAC, under the governor's per-process secret, of
// the whole bearer token and the mailbox argument. Only the holder of a
// token can file requests under its keys: a third party who knows a user's
// tenant and object ids (they are not secret) and mints a token with them
// gets keys of its own, so it can neither take the user's slots nor plant
// a Retry-After on the user's mailbox.
//
// The token's own mailbox has several spellings: /me (mailbox ""), the
// user's principal name and the object id. When the token is a JWT, a
// mailbox argument equal (ignoring ASCII case) to its upn,
// preferred_username, unique_name or oid claim is filed as the token's
// own mailbox. The claims are not verified — Graph verifies the token —
// and need not be: the token itself is part of the key, so a token can
// only merge spellings of its own requests.

// maxJWTPayload bounds the encoded payload segment decoded to read the
// token's own mailbox names; a longer one counts as an opaque token.
const maxJWTPayload = 16 << 10

// ownNameClaims are the JWT claims that name the token's own mailbox.
var ownNameClaims = [...]string{"upn", "preferred_username", "unique_name", "oid"}

// tokenNames are the token's own mailbox names, read from its payload.
type tokenNames struct {
	names [len(ownNameClaims)]string
	n     int
}

// isOwn reports whether mailbox names the token's own mailbox.
func (tn *tokenNames) isOwn(mailbox string) bool {
	if mailbox == "" {
		return true
	}
	for _, name := range tn.names[:tn.n] {
		if strings.EqualFold(name, mailbox) {
			return true
		}
	}
	return false
}

// bearerValue returns the token of an Authorization: Bearer header.
func bearerValue(authorization string) string {
	if len(authorization) < len("Bearer ") || !strings.EqualFold(authorization[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(authorization)
	}
	return strings.TrimSpace(authorization[len("Bearer "):])
}

// readTokenNames reads the token's own mailbox names from a compact JWS's
// payload into tn, decoding into buf (returned, possibly grown, for
// reuse). The names point into buf and are valid until buf is reused.
// Anything that is not three dot-separated segments whose middle one is
// base64url of a JSON object yields no names.
func readTokenNames(tn *tokenNames, buf []byte, token string) []byte {
	tn.n = 0
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return buf
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second <= 0 || strings.IndexByte(rest[second+1:], '.') >= 0 {
		return buf
	}
	segment := strings.TrimRight(rest[:second], "=")
	if len(segment) > maxJWTPayload {
		return buf
	}
	payload, err := base64.RawURLEncoding.AppendDecode(buf[:0], unsafe.Slice(unsafe.StringData(segment), len(segment)))
	if err != nil || len(payload) == 0 || !gjson.ValidBytes(payload) {
		return payload
	}
	root := gjson.Parse(unsafe.String(&payload[0], len(payload)))
	if !root.IsObject() {
		return payload
	}
	root.ForEach(func(key, value gjson.Result) bool {
		if value.Type != gjson.String || value.Str == "" || tn.n == len(tn.names) {
			return true
		}
		for _, claim := range ownNameClaims {
			if key.Str == claim {
				tn.names[tn.n] = value.Str
				tn.n++
				break
			}
		}
		return true
	})
	return payload
}

// appendLowerASCII appends s with ASCII letters in lower case (mailboxes
// are case-insensitive).
func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
