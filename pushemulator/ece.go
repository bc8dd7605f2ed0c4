package pushemulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// RFC 8188 / RFC 8291 sizes.
const (
	eceSaltLen      = 16
	eceHeaderFixed  = eceSaltLen + 4 + 1 // salt, rs, idlen
	eceTagLen       = 16
	eceMinRecord    = 18 // RFC 8188 §2: rs of at least 18
	p256PointLen    = 65 // uncompressed P-256 point
	webPushAuthLen  = 16 // RFC 8291 §3.2: auth secret
	ecePaddingDelim = 0x02
)

// eceHeader is the aes128gcm content-coding header (RFC 8188 §2.1).
type eceHeader struct {
	salt       []byte
	recordSize uint32
	keyID      []byte
	ciphertext []byte
}

var errECE = errors.New("body is not an RFC 8291 aes128gcm message")

// parseECEHeader splits an aes128gcm body into its header and ciphertext,
// with RFC 8291's rules: the key id is the 65-byte application-server
// public key and the message is one record (no longer than rs).
func parseECEHeader(body []byte) (eceHeader, error) {
	if len(body) < eceHeaderFixed {
		return eceHeader{}, errECE
	}
	h := eceHeader{salt: body[:eceSaltLen], recordSize: binary.BigEndian.Uint32(body[eceSaltLen : eceSaltLen+4])}
	idLen := int(body[eceSaltLen+4])
	if idLen != p256PointLen || len(body) < eceHeaderFixed+idLen {
		return eceHeader{}, errECE
	}
	h.keyID = body[eceHeaderFixed : eceHeaderFixed+idLen]
	h.ciphertext = body[eceHeaderFixed+idLen:]
	if h.recordSize < eceMinRecord || len(h.ciphertext) < eceTagLen+1 || uint64(len(h.ciphertext)) > uint64(h.recordSize) {
		return eceHeader{}, errECE
	}
	return h, nil
}

// decryptWebPush decrypts an RFC 8291 message with the user agent's key
// pair and auth secret and returns the plaintext without its padding.
func decryptWebPush(body []byte, ua *ecdh.PrivateKey, authSecret []byte) ([]byte, error) {
	h, err := parseECEHeader(body)
	if err != nil {
		return nil, err
	}
	asPublic, err := ecdh.P256().NewPublicKey(h.keyID)
	if err != nil {
		return nil, errECE
	}
	ecdhSecret, err := ua.ECDH(asPublic)
	if err != nil {
		return nil, errECE
	}
	// RFC 8291 §3.3: IKM from the ECDH secret, keyed by the auth secret.
	prkKey, err := hkdf.Extract(sha256.New, ecdhSecret, authSecret)
	if err != nil {
		return nil, err
	}
	keyInfo := "WebPush: info\x00" + string(ua.PublicKey().Bytes()) + string(h.keyID)
	ikm, err := hkdf.Expand(sha256.New, prkKey, keyInfo, 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188 §2.2, §2.3: CEK and nonce from the salt.
	prk, err := hkdf.Extract(sha256.New, ikm, h.salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The only record has sequence number 0: the nonce is used as is.
	plain, err := gcm.Open(nil, nonce, h.ciphertext, nil)
	if err != nil {
		return nil, errECE
	}
	// RFC 8188 §2: padding is a delimiter (2 for the last record) and zeros.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != ecePaddingDelim {
		return nil, errECE
	}
	return plain[:i], nil
}
