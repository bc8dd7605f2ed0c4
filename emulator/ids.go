package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// Graph ids use the URL-safe base64 alphabet plus '+' and '=' padding. The
// emulator's ids follow the look of real ones (GRAPH_FACTS 1.4, 10.1):
//
//	folder (well-known)  AQMkAD<mailbox>AC-EWg0A_AAAB<n>AAAA
//	folder (user)        AAMkAD<mailbox>AC-EWg0A_AuAAAA<hash>AAA=
//	message REST id      AAMkAD<mailbox>BGAAAAAA-Bw_<hash><key><gen>AAA=
//	message immutable id AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A<mailbox>_<hash><key>AAA=
//	attachment           AAMkAD<mailbox>BEgAQA_<hash><key><n>=
//
// Every id contains '-', '_' and '='; some message and folder ids contain '+'
// so that escaping is exercised.

// idPartMailbox is the mailbox part of ids, derived from the mailbox object id.
func idPartMailbox(objectID string) string {
	raw, err := hex.DecodeString(strings.ReplaceAll(objectID, "-", ""))
	if err != nil || len(raw) != 16 {
		sum := sha256.Sum256([]byte(objectID))
		raw = sum[:16]
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func hashPart(n int, parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)[:n]
}

// withPlus replaces the character at position i of s with '+'.
func withPlus(s string, i int) string {
	if i < 0 || i >= len(s) {
		return s
	}
	return s[:i] + "+" + s[i+1:]
}

func encodeKey(key uint32, extra ...uint16) string {
	buf := make([]byte, 4, 4+2*len(extra))
	binary.BigEndian.PutUint32(buf, key)
	for _, e := range extra {
		buf = binary.BigEndian.AppendUint16(buf, e)
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

func wellKnownFolderID(mbxPart string, n int) string {
	return "AQMkAD" + mbxPart + "AC-EWg0A_AAAB" + encodeKey(uint32(n)) + "AAAA"
}

func userFolderID(mbxPart string, key uint32, withPlusChar bool) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(9, mbxPart, "folder", string(rune(key))))
	if withPlusChar {
		h = withPlus(h, 3)
	}
	return "AAMkAD" + mbxPart + "AC-EWg0A_AuAAAA" + h + encodeKey(key) + "AAA="
}

func messageRESTID(mbxPart string, key uint32, gen uint16) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(6, mbxPart, "rest", encodeKey(key, gen)))
	if key%5 == 0 {
		h = withPlus(h, 2)
	}
	return "AAMkAD" + mbxPart + "BGAAAAAA-Bw_" + h + encodeKey(key, gen) + "AAA="
}

func messageImmutableID(mbxPart string, key uint32) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(6, mbxPart, "immutable", encodeKey(key)))
	if key%7 == 0 {
		h = withPlus(h, 4)
	}
	return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + mbxPart + "_" + h + encodeKey(key) + "AAA="
}

func attachmentID(mbxPart string, key uint32, n int) string {
	h := base64.RawURLEncoding.EncodeToString(hashPart(6, mbxPart, "attachment", encodeKey(key, uint16(n))))
	return "AAMkAD" + mbxPart + "BEgAQA_" + h + encodeKey(key, uint16(n)) + "="
}

// minGraphIDLength is the length below which a string cannot be a Graph id.
const minGraphIDLength = 16

// looksLikeGraphID reports whether s could be a Graph item id: long enough
// and only characters of the id alphabet [A-Za-z0-9_=+-]. Anything else is
// answered with ErrorInvalidIdMalformed.
func looksLikeGraphID(s string) bool {
	if len(s) < minGraphIDLength || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '=', c == '+':
		default:
			return false
		}
	}
	return true
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// objectIDForUPN derives a stable object id GUID from a UPN.
func objectIDForUPN(upn string) string {
	sum := sha256.Sum256([]byte("objectid:" + strings.ToLower(upn)))
	sum[6] = (sum[6] & 0x0f) | 0x40
	sum[8] = (sum[8] & 0x3f) | 0x80
	s := hex.EncodeToString(sum[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
