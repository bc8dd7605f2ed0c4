package push

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"
)

// RFC 8291 Appendix A.
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcASPublic  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebPushEncryptionRFC8291Vector(t *testing.T) {
	as, err := ecdh.P256().NewPrivateKey(b64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(as.PublicKey().Bytes(), b64(t, rfcASPublic)) {
		t.Fatal("sender public key does not match the RFC")
	}
	got, err := encryptWebPushWith([]byte(rfcPlaintext), b64(t, rfcUAPublic), b64(t, rfcAuth), as, b64(t, rfcSalt))
	if err != nil {
		t.Fatal(err)
	}
	if enc := base64.RawURLEncoding.EncodeToString(got); enc != rfcBody {
		t.Fatalf("body\n got %s\nwant %s", enc, rfcBody)
	}
}

// decryptWebPush is the user agent's side of RFC 8291, for tests.
func decryptWebPush(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < webPushHeaderLen+17 {
		return nil, errors.New("short body")
	}
	salt := body[:16]
	if rs := binary.BigEndian.Uint32(body[16:20]); rs != webPushRecordSize || body[20] != 65 {
		return nil, errors.New("bad header")
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21:86])
	if err != nil {
		return nil, err
	}
	secret, err := ua.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), ua.PublicKey().Bytes()...), body[21:86]...)
	ikm, _ := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, body[86:], nil)
	if err != nil {
		return nil, err
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 0x02 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:len(plain)-1], nil
}

func TestWebPushEncryptionRoundTrip(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	for _, n := range []int{0, 1, 100, MaxWebPushPlaintext} {
		plain := bytes.Repeat([]byte{'x'}, n)
		body, err := encryptWebPush(plain, ua.PublicKey().Bytes(), auth)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if len(body) > webPushRecordSize {
			t.Fatalf("%d bytes: body %d over 4096", n, len(body))
		}
		got, err := decryptWebPush(body, ua, auth)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip %v", n, err)
		}
	}
	if _, err := encryptWebPush(make([]byte, MaxWebPushPlaintext+1), ua.PublicKey().Bytes(), auth); err == nil {
		t.Fatal("oversized plaintext accepted")
	}
	if _, err := encryptWebPush([]byte("x"), make([]byte, 65), auth); err == nil {
		t.Fatal("invalid p256dh accepted")
	}
}

func TestDecodeWebPushKeys(t *testing.T) {
	key, auth, err := DecodeWebPushKeys(rfcUAPublic, rfcAuth+"==")
	if err != nil || len(key) != 65 || len(auth) != 16 {
		t.Fatalf("RFC keys: %v", err)
	}
	bad := []struct{ p, a string }{
		{"", rfcAuth},
		{rfcUAPublic[:40], rfcAuth},
		{base64.RawURLEncoding.EncodeToString(make([]byte, 65)), rfcAuth}, // not on the curve
		{rfcUAPublic, "AAAA"},
		{rfcUAPublic, "!!"},
	}
	for _, b := range bad {
		if _, _, err := DecodeWebPushKeys(b.p, b.a); err == nil {
			t.Errorf("accepted %q %q", b.p, b.a)
		}
	}
}

func BenchmarkWebPushEncrypt(b *testing.B) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	plain := []byte(`{"k":"mail","a":"work","m":["cmVmMQ","cmVmMg"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encryptWebPush(plain, ua.PublicKey().Bytes(), auth); err != nil {
			b.Fatal(err)
		}
	}
}
