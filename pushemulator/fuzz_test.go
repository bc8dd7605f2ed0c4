package pushemulator

import (
	"crypto/ecdh"
	"testing"
)

// FuzzParseJWT feeds untrusted provider tokens, assertions and VAPID
// tokens to the JWT parser and its claim getters: no panic, and a parsed
// token's signing input is a prefix of the input.
func FuzzParseJWT(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6IkVNVUtFWTAwMDEifQ.eyJpc3MiOiJFTVVURUFNMDAxIiwiaWF0IjoxNzk2MDQwMDAwfQ.AAAA")
	f.Add("e30.e30.AA")
	f.Add("eyJhbGciOiJub25lIn0.eyJpYXQiOjEuNWUzMDB9.")
	f.Add("..")
	f.Add("eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.AA")
	f.Fuzz(func(t *testing.T, token string) {
		jt, err := parseJWT(token)
		if err != nil {
			return
		}
		if len(jt.signingInput) >= len(token) || token[:len(jt.signingInput)] != jt.signingInput {
			t.Fatalf("signing input %q is not a prefix of %q", jt.signingInput, token)
		}
		for _, name := range []string{"iss", "aud", "sub", "scope"} {
			jt.stringClaim(name)
		}
		for _, name := range []string{"iat", "exp"} {
			jt.timeClaim(name)
		}
		testKeys(t)
		if jt.verifyES256(&testAPNsKey.PublicKey) == nil {
			t.Fatal("a fuzzed token verified")
		}
		_ = jt.verifyRS256(&testFCMKey.PublicKey)
	})
}

// FuzzDecryptWebPush feeds untrusted Web Push bodies to the aes128gcm
// header parser and decryption: no panic, and the header's parts stay
// inside the body.
func FuzzDecryptWebPush(f *testing.F) {
	body := mustB64(f, rfcBody)
	f.Add(body)
	f.Add(body[:21])
	f.Add(body[:86])
	f.Add(append(append([]byte{}, body[:16]...), 0, 0, 0, 0, 65))
	ua, err := ecdh.P256().NewPrivateKey(mustB64(f, rfcUAPrivate))
	if err != nil {
		f.Fatal(err)
	}
	auth := mustB64(f, rfcAuth)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseECEHeader(data)
		if err == nil {
			if len(h.salt)+4+1+len(h.keyID)+len(h.ciphertext) != len(data) {
				t.Fatalf("header parts do not add up to the body")
			}
		}
		plain, err := decryptWebPush(data, ua, auth)
		if err == nil && len(plain) >= len(data) {
			t.Fatalf("plaintext longer than the body")
		}
	})
}

// FuzzParseVAPIDAuthorization feeds untrusted Authorization headers to
// the VAPID parser.
func FuzzParseVAPIDAuthorization(f *testing.F) {
	f.Add("vapid t=a.b.c, k=BCVx")
	f.Add(`vapid k="x",t="y"`)
	f.Add("vapid t=,k=")
	f.Add("WebPush a.b.c")
	f.Fuzz(func(t *testing.T, h string) {
		token, key, ok := parseVAPIDAuthorization(h)
		if ok && (token == "" || key == "") {
			t.Fatal("ok without both parameters")
		}
	})
}
