package translate

import (
	"encoding/base64"
	"encoding/binary"
	"time"
)

// This file seals and opens the sync state (docs/device-api.md §7).
//
// Token: base64url, no padding, of
//
//	version (1 byte) | nonce (12 bytes) | AES-256-GCM(plaintext) incl. 16-byte tag
//
// plaintext: issued (int64 Unix seconds, big endian) | window (1 byte) |
// fields (uint32, big endian) | link (path+query relative to the base path).
// Additional data binds the record to its op, the token's identity and the
// scope (version 2, what the bridge seals):
//
//	"devicebridge/state" 0x00 | 2 | op | 0, or 1 and the identity (32 bytes) | scope
//
// so a state presented for another op, user, mailbox or folder fails
// authentication exactly like a tampered one. Version 1 states, sealed by
// builds before the identity binding, had no identity in their additional
// data ("devicebridge/state" 0x00 | 1 | op | scope); they still open, until
// their state_ttl runs out, so that a deploy sends no device back to the
// start of its sync.

const (
	// stateVersion is the version the bridge seals; stateVersionUnbound
	// states (no identity in their additional data) are only opened.
	stateVersion        byte = 2
	stateVersionUnbound byte = 1
	stateNonceSize           = 12
	stateTagSize             = 16
	stateHeaderSize          = 8 + 1 + 4 // issued, window, fields
	stateAADPrefix           = "devicebridge/state\x00"
	// stateAADMax is the longest additional data apart from the scope.
	stateAADMax = len(stateAADPrefix) + 3 + identitySize
	// stateClockSkew is how far in the future an issue time may lie.
	stateClockSkew = 5 * time.Minute
	// maxStateRawLen bounds the decoded token.
	maxStateRawLen = 1 + stateNonceSize + stateHeaderSize + maxLinkLen + stateTagSize
)

var stateEncoding = base64.RawURLEncoding.Strict()

// stateRecord is an opened state.
type stateRecord struct {
	issued int64
	window int
	fields fieldSet
	link   string
}

// sealState appends the sealed state token to dst, using *scratch as working
// space (grown as needed). The first key seals.
func (t *Translator) sealState(dst []byte, scratch *[]byte, op opKind, ident *Identity, scope string, window int, fields fieldSet, link string) []byte {
	aadLen := stateAADMax + len(scope)
	ptLen := stateHeaderSize + len(link)
	outLen := 1 + stateNonceSize + ptLen + stateTagSize
	need := aadLen + ptLen + outLen
	s := *scratch
	if cap(s) < need {
		s = make([]byte, 0, need+need/2)
	}
	s = s[:need]
	*scratch = s[:0]

	aad := appendStateAAD(s[:0:aadLen], stateVersion, op, ident, scope)

	pt := s[aadLen : aadLen : aadLen+ptLen]
	pt = binary.BigEndian.AppendUint64(pt, uint64(t.now().Unix()))
	pt = append(pt, byte(window))
	pt = binary.BigEndian.AppendUint32(pt, uint32(fields))
	pt = append(pt, link...)

	out := s[aadLen+ptLen : aadLen+ptLen : need]
	out = append(out, stateVersion)
	out = out[:1+stateNonceSize]
	t.nonce(out[1:])
	out = t.sealers[0].Seal(out, out[1:1+stateNonceSize], pt, aad)

	return stateEncoding.AppendEncode(dst, out)
}

// openState opens token for op and scope with any configured key, and
// checks its age and contents. Every failure is invalid_state.
func (t *Translator) openState(token string, op opKind, ident *Identity, scope string) (stateRecord, *Error) {
	var rec stateRecord
	if len(token) == 0 || len(token) > stateEncoding.EncodedLen(maxStateRawLen) {
		return rec, stateInvalid()
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !isAlnum(c) && c != '-' && c != '_' {
			return rec, stateInvalid()
		}
	}
	// The decoded token, the additional data and the plaintext share one
	// pooled scratch buffer; only the link is copied out.
	scratch := getBuf()
	defer putBuf(scratch)
	rawLen := stateEncoding.DecodedLen(len(token))
	aadLen := stateAADMax + len(scope)
	need := rawLen + aadLen + rawLen
	s := *scratch
	if cap(s) < need {
		s = make([]byte, 0, need)
		*scratch = s
	}
	s = s[:need]
	n, err := stateEncoding.Decode(s[:rawLen], []byte(token))
	raw := s[:n]
	if err != nil || len(raw) < 1+stateNonceSize+stateHeaderSize+stateTagSize ||
		(raw[0] != stateVersion && raw[0] != stateVersionUnbound) {
		return rec, stateInvalid()
	}
	aad := appendStateAAD(s[rawLen:rawLen:rawLen+aadLen], raw[0], op, ident, scope)
	nonce, sealed := raw[1:1+stateNonceSize], raw[1+stateNonceSize:]
	var pt []byte
	opened := false
	for _, aead := range t.sealers {
		if pt, err = aead.Open(s[rawLen+aadLen:rawLen+aadLen], nonce, sealed, aad); err == nil {
			opened = true
			break
		}
	}
	if !opened || len(pt) < stateHeaderSize {
		return rec, stateInvalid()
	}
	rec.issued = int64(binary.BigEndian.Uint64(pt[0:8]))
	rec.window = int(pt[8])
	rec.fields = fieldSet(binary.BigEndian.Uint32(pt[9:13]))
	rec.link = string(pt[13:])

	now := t.now()
	issued := time.Unix(rec.issued, 0)
	if issued.After(now.Add(stateClockSkew)) {
		return rec, stateInvalid()
	}
	if now.Sub(issued) > t.ttl {
		return rec, stateExpired()
	}
	if rec.window < 1 || rec.window > maxWindow || !validRelativeLink(rec.link) {
		return rec, stateInvalid()
	}
	if spec := op.spec(); spec == nil || spec.stateFields == nil || !spec.stateFields(rec.fields) {
		return rec, stateInvalid()
	}
	return rec, nil
}

// identitySize is the length of an Identity's hash in the additional data.
const identitySize = 32

// appendStateAAD appends a state's additional data for version.
func appendStateAAD(aad []byte, version byte, op opKind, ident *Identity, scope string) []byte {
	aad = append(aad, stateAADPrefix...)
	aad = append(aad, version, byte(op))
	if version != stateVersionUnbound {
		if ident != nil && ident.bound {
			aad = append(aad, 1)
			aad = append(aad, ident.sum[:]...)
		} else {
			aad = append(aad, 0)
		}
	}
	return append(aad, scope...)
}
