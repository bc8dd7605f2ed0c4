package pushemulator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"strings"
	"sync"
)

// maxJWTLength bounds a compact JWS before it is decoded.
const maxJWTLength = 8192

// jwt is a parsed compact JWS (RFC 7515) with a JSON claims set (RFC 7519).
// Nothing in it is verified until verifyES256 or verifyRS256 says so.
type jwt struct {
	alg, kid, typ string
	claims        map[string]any
	signingInput  string
	signature     []byte
}

var (
	errJWTMalformed = errors.New("malformed JWT")
	errJWTSignature = errors.New("bad JWT signature")
)

// parseJWT splits and decodes a compact JWS: three unpadded base64url parts,
// a JSON object header without crit, a JSON object claims set.
func parseJWT(token string) (*jwt, error) {
	if len(token) == 0 || len(token) > maxJWTLength {
		return nil, errJWTMalformed
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errJWTMalformed
	}
	c, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, errJWTMalformed
	}
	headerJSON, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, errJWTMalformed
	}
	claimsJSON, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return nil, errJWTMalformed
	}
	sigBytes, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(sigBytes) == 0 {
		return nil, errJWTMalformed
	}
	var header map[string]any
	if err := decodeJSONObject(headerJSON, &header); err != nil {
		return nil, errJWTMalformed
	}
	if _, ok := header["crit"]; ok {
		return nil, errJWTMalformed
	}
	t := &jwt{signingInput: token[:len(h)+1+len(c)], signature: sigBytes}
	var okAlg bool
	if t.alg, okAlg = header["alg"].(string); !okAlg {
		return nil, errJWTMalformed
	}
	if v, present := header["kid"]; present {
		if t.kid, ok = v.(string); !ok {
			return nil, errJWTMalformed
		}
	}
	if v, present := header["typ"]; present {
		if t.typ, ok = v.(string); !ok {
			return nil, errJWTMalformed
		}
	}
	if err := decodeJSONObject(claimsJSON, &t.claims); err != nil {
		return nil, errJWTMalformed
	}
	return t, nil
}

// decodeJSONObject decodes one JSON object (numbers as json.Number) with
// nothing after it.
func decodeJSONObject(data []byte, v *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if *v == nil {
		return errJWTMalformed
	}
	if _, err := dec.Token(); err != io.EOF {
		return errJWTMalformed
	}
	return nil
}

// stringClaim returns a string claim; ok is false when it is absent or not
// a string.
func (t *jwt) stringClaim(name string) (string, bool) {
	s, ok := t.claims[name].(string)
	return s, ok
}

// timeClaim returns a NumericDate claim (RFC 7519 §2: seconds since the
// epoch, fractions allowed) in whole seconds; ok is false when it is absent
// or not a finite number.
func (t *jwt) timeClaim(name string) (int64, bool) {
	n, ok := t.claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// verifyES256 checks an ES256 signature (RFC 7518 §3.4: R and S as two
// 32-byte big-endian integers, not DER).
func (t *jwt) verifyES256(pub *ecdsa.PublicKey) error {
	if t.alg != "ES256" || len(t.signature) != 64 {
		return errJWTSignature
	}
	r := new(big.Int).SetBytes(t.signature[:32])
	sv := new(big.Int).SetBytes(t.signature[32:])
	digest := sha256.Sum256([]byte(t.signingInput))
	if !ecdsa.Verify(pub, digest[:], r, sv) {
		return errJWTSignature
	}
	return nil
}

// maxVerifiedSignatures bounds the cache of verified signatures.
const maxVerifiedSignatures = 4096

// signatureCache remembers (token, key) pairs whose ES256 signature
// verified. Senders reuse a token for many requests (an APNs provider
// token for 20 to 60 minutes), so the service checks each signature once;
// the claims are still checked on every request.
type signatureCache struct {
	mu       sync.Mutex
	verified map[string]struct{}
}

// verifyES256 is jwt.verifyES256 with the cache; pubBytes identifies pub.
func (c *signatureCache) verifyES256(t *jwt, token string, pub *ecdsa.PublicKey, pubBytes []byte) error {
	key := string(pubBytes) + "\x00" + token
	c.mu.Lock()
	_, ok := c.verified[key]
	c.mu.Unlock()
	if ok && t.alg == "ES256" {
		return nil
	}
	if err := t.verifyES256(pub); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verified == nil || len(c.verified) >= maxVerifiedSignatures {
		c.verified = map[string]struct{}{}
	}
	c.verified[key] = struct{}{}
	return nil
}

// verifyRS256 checks an RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256).
func (t *jwt) verifyRS256(pub *rsa.PublicKey) error {
	if t.alg != "RS256" {
		return errJWTSignature
	}
	digest := sha256.Sum256([]byte(t.signingInput))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], t.signature) != nil {
		return errJWTSignature
	}
	return nil
}
