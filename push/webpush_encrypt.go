package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// RFC 8291 (Message Encryption for Web Push) with the RFC 8188 aes128gcm
// content coding: one record, record size 4096.
const (
	webPushRecordSize = 4096
	webPushSaltLen    = 16
	webPushHeaderLen  = webPushSaltLen + 4 + 1 + webPushKeyLen // salt, rs, idlen, keyid
	// MaxWebPushPlaintext is the largest payload that fits one record of a
	// 4096-byte push message body (RFC 8291 §4).
	MaxWebPushPlaintext = webPushRecordSize - webPushHeaderLen - 16 - 1
)

var errWebPushTooLarge = errors.New("payload over the web push limit")

// encryptWebPush encrypts plaintext for the subscription's p256dh key and
// auth secret with a fresh sender key pair and salt.
func encryptWebPush(plaintext, uaPublic, authSecret []byte) ([]byte, error) {
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, webPushSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return encryptWebPushWith(plaintext, uaPublic, authSecret, as, salt)
}

// encryptWebPushWith is encryptWebPush with the sender key and salt given
// (RFC 8291 §3.4 and §4):
//
//	ecdh_secret = ECDH(as_private, ua_public)
//	IKM   = HKDF(salt=auth_secret, ikm=ecdh_secret, info="WebPush: info\0"||ua_public||as_public, 32)
//	CEK   = HKDF(salt, IKM, "Content-Encoding: aes128gcm\0", 16)
//	NONCE = HKDF(salt, IKM, "Content-Encoding: nonce\0", 12)
//	body  = salt || rs(4096) || idlen(65) || as_public || AES-GCM(CEK, NONCE, plaintext||0x02)
func encryptWebPushWith(plaintext, uaPublic, authSecret []byte, as *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	if len(plaintext) > MaxWebPushPlaintext {
		return nil, errWebPushTooLarge
	}
	if len(authSecret) != webPushAuthLen || len(salt) != webPushSaltLen {
		return nil, ErrBadWebPushAuth
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, ErrBadWebPushKey
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		return nil, ErrBadWebPushKey
	}
	asPublic := as.PublicKey().Bytes()
	keyInfo := make([]byte, 0, 14+2*webPushKeyLen)
	keyInfo = append(keyInfo, "WebPush: info\x00"...)
	keyInfo = append(keyInfo, uaPublic...)
	keyInfo = append(keyInfo, asPublic...)
	ikm, err := hkdf.Key(sha256.New, secret, authSecret, string(keyInfo), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
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
	out := make([]byte, 0, webPushHeaderLen+len(plaintext)+1+gcm.Overhead())
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, webPushRecordSize)
	out = append(out, byte(len(asPublic)))
	out = append(out, asPublic...)
	record := make([]byte, 0, len(plaintext)+1)
	record = append(record, plaintext...)
	record = append(record, 0x02) // last-record padding delimiter, no padding
	return gcm.Seal(out, nonce, record, nil), nil
}
