package governor

import (
	"encoding/base64"
	"encoding/binary"
	"strings"

	"github.com/tidwall/gjson"
)

// maxJWTPayload bounds the encoded payload segment decoded to find the
// tenant and object ids; a longer one counts as an opaque token.
const maxJWTPayload = 16 << 10

// bearerValue returns the token of an Authorization: Bearer header.
func bearerValue(authorization string) string {
	if len(authorization) < len("Bearer ") || !strings.EqualFold(authorization[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(authorization)
	}
	return strings.TrimSpace(authorization[len("Bearer "):])
}

// appendTokenIdentity appends the identity a token stands for: the tenant
// and object ids (tid, oid) of a JWT's payload, read without verifying the
// token — the upstream verifies it — or, for anything else (including a
// JWT without an oid), the token itself. Each part is length-prefixed, so
// no two identities serialize alike.
func appendTokenIdentity(dst []byte, token string) []byte {
	if tid, oid, ok := jwtIdentity(token); ok {
		dst = append(dst, 'j')
		dst = appendLengthPrefixed(dst, tid)
		return appendLengthPrefixed(dst, oid)
	}
	dst = append(dst, 't')
	return appendLengthPrefixed(dst, token)
}

// jwtIdentity reads tid and oid from a compact JWS's payload. ok is false
// unless token has three dot-separated segments whose middle one is
// base64url of a JSON object with a non-empty string oid.
func jwtIdentity(token string) (tid, oid string, ok bool) {
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return "", "", false
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second <= 0 || strings.IndexByte(rest[second+1:], '.') >= 0 {
		return "", "", false
	}
	segment := strings.TrimRight(rest[:second], "=")
	if len(segment) > maxJWTPayload {
		return "", "", false
	}
	var small [1024]byte
	buf := small[:0]
	if n := base64.RawURLEncoding.DecodedLen(len(segment)); n > len(small) {
		buf = make([]byte, 0, n)
	}
	payload, err := base64.RawURLEncoding.AppendDecode(buf, []byte(segment))
	if err != nil || !gjson.ValidBytes(payload) {
		return "", "", false
	}
	root := gjson.ParseBytes(payload)
	if !root.IsObject() {
		return "", "", false
	}
	o, t := root.Get("oid"), root.Get("tid")
	if o.Type != gjson.String || o.Str == "" {
		return "", "", false
	}
	if t.Type == gjson.String {
		tid = t.Str
	}
	return tid, o.Str, true
}

func appendLengthPrefixed(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
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
