package push

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// signES256 returns the compact JWS of header and claims (both JSON objects)
// signed with ES256: base64url(header).base64url(claims).base64url(r||s).
func signES256(key *ecdsa.PrivateKey, header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.EncodedLen(len(h))+enc.EncodedLen(len(c))+enc.EncodedLen(64)+2)
	buf = enc.AppendEncode(buf, h)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, c)
	digest := sha256.Sum256(buf)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig[:])
	return string(buf), nil
}
