package push

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// The routing blob R: everything the webhook needs to reach the device,
// AEAD-sealed into the subscription's notification URL, so the bridge keeps
// no record of it.
//
//	R = base64url( version(1) | key id(4) | nonce(12) | AES-256-GCM(record) )
//	record = flags(1) | watch(1) | issued(4) | notAfter(4) | device hash(8)
//	         | [binding hash(8)] | account len(1) account
//	         | target: apns  len(2) token bytes (hex decoded)
//	                   fcm   len(2) token or fid
//	                   webpush len(2) endpoint | p256dh(65) | auth(16)
//
// The version and key id are the AEAD's additional data. Times are Unix
// seconds.
const (
	routingVersion   = 1
	routingHeaderLen = 1 + 4 + 12
	// MaxRoutingLen is the longest R accepted for opening (base64url
	// characters); longer input is refused before decoding.
	MaxRoutingLen = 8192
)

const (
	flagPlatformMask = 0x03
	flagSandbox      = 1 << 2
	flagAlert        = 1 << 3
	flagBound        = 1 << 4
	flagFID          = 1 << 5
	flagKnown        = flagPlatformMask | flagSandbox | flagAlert | flagBound | flagFID
)

// ErrRouting is the error of an R that does not open: wrong key, tampered,
// truncated or malformed. It says nothing more on purpose.
var ErrRouting = errors.New("push: routing blob does not open")

// Routing is the content of R.
type Routing struct {
	// Target is where pushes go.
	Target Target
	// Watch is the watched kind: KindMail, KindCalendar or KindContacts.
	Watch Kind
	// Alert is the subscription's alert flag.
	Alert bool
	// Account is the app's account tag, possibly empty.
	Account string
	// Issued is when R was sealed (second precision).
	Issued time.Time
	// NotAfter is when R stops being honoured: Issued + push_reseal_after
	// + subscription_ttl.
	NotAfter time.Time

	keyID   uint32
	device  [8]byte
	binding [8]byte
	bound   bool
}

// KeyID is the id of the key R was sealed with (see Keys.FirstKeyID).
func (r *Routing) KeyID() uint32 { return r.keyID }

// Bound reports whether R is bound to a tenant and user.
func (r *Routing) Bound() bool { return r.bound }

// Expired reports whether now is past R's not-after time.
func (r *Routing) Expired(now time.Time) bool { return now.After(r.NotAfter) }

var watchCodes = [...]Kind{1: KindMail, 2: KindCalendar, 3: KindContacts}

func watchCode(k Kind) byte {
	for i, w := range watchCodes {
		if i > 0 && w == k {
			return byte(i)
		}
	}
	return 0
}

// SealRouting seals r with the first key. device is the app's per-install
// id; tenantID and userID, when both are known from the token's claims,
// bind R to that user (otherwise clientState alone authenticates).
func (k *Keys) SealRouting(r *Routing, device, tenantID, userID string) (string, error) {
	if err := r.Target.Validate(); err != nil {
		return "", err
	}
	wc := watchCode(r.Watch)
	if wc == 0 {
		return "", errors.New("push: routing watch must be mail, calendar or contacts")
	}
	if r.Account != "" && !isTag(r.Account, maxAccountLen) {
		return "", ErrBadAccount
	}
	issued, notAfter := r.Issued.Unix(), r.NotAfter.Unix()
	if issued < 0 || notAfter <= issued || notAfter > 1<<32-1 {
		return "", errors.New("push: routing times out of range")
	}
	set := &k.sets[0]
	flags := byte(r.Target.Platform) & flagPlatformMask
	if r.Target.Platform == PlatformAPNs && r.Target.Env == EnvSandbox {
		flags |= flagSandbox
	}
	if r.Alert {
		flags |= flagAlert
	}
	bound := tenantID != "" && userID != ""
	if bound {
		flags |= flagBound
	}
	if r.Target.Platform == PlatformFCM && r.Target.FID != "" {
		flags |= flagFID
	}
	rec := make([]byte, 0, 64+len(r.Target.Token)+len(r.Target.FID)+len(r.Target.Endpoint))
	rec = append(rec, flags, wc)
	rec = binary.BigEndian.AppendUint32(rec, uint32(issued))
	rec = binary.BigEndian.AppendUint32(rec, uint32(notAfter))
	dh := k.deviceHash(set, device)
	rec = append(rec, dh[:]...)
	if bound {
		bh := k.bindingHash(set, tenantID, userID)
		rec = append(rec, bh[:]...)
	}
	rec = append(rec, byte(len(r.Account)))
	rec = append(rec, r.Account...)
	var tgt []byte
	switch r.Target.Platform {
	case PlatformAPNs:
		tgt, _ = hex.DecodeString(r.Target.Token) // validated hex
	case PlatformFCM:
		tgt = []byte(r.Target.Token + r.Target.FID) // exactly one is set
	case PlatformWebPush:
		tgt = []byte(r.Target.Endpoint)
	}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(tgt)))
	rec = append(rec, tgt...)
	if r.Target.Platform == PlatformWebPush {
		rec = append(rec, r.Target.P256dh...)
		rec = append(rec, r.Target.Auth...)
	}

	out := make([]byte, routingHeaderLen, routingHeaderLen+len(rec)+set.routing.Overhead())
	out[0] = routingVersion
	binary.BigEndian.PutUint32(out[1:5], set.id)
	if _, err := rand.Read(out[5:routingHeaderLen]); err != nil {
		return "", err
	}
	out = set.routing.Seal(out, out[5:routingHeaderLen], rec, out[:5])
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenRouting opens R with whichever configured key sealed it. It does not
// check the not-after time (see Routing.Expired).
func (k *Keys) OpenRouting(blob string) (*Routing, error) {
	if len(blob) > MaxRoutingLen {
		return nil, ErrRouting
	}
	raw, err := base64.RawURLEncoding.DecodeString(blob)
	if err != nil || len(raw) < routingHeaderLen || raw[0] != routingVersion {
		return nil, ErrRouting
	}
	set := k.set(binary.BigEndian.Uint32(raw[1:5]))
	if set == nil {
		return nil, ErrRouting
	}
	rec, err := set.routing.Open(nil, raw[5:routingHeaderLen], raw[routingHeaderLen:], raw[:5])
	if err != nil {
		return nil, ErrRouting
	}
	r, ok := decodeRouting(rec)
	if !ok {
		return nil, ErrRouting
	}
	r.keyID = set.id
	return r, nil
}

// decodeRouting parses an opened record; every field is checked as on
// sealing.
func decodeRouting(rec []byte) (*Routing, bool) {
	d := recordReader{b: rec}
	flags, wc := d.byte(), d.byte()
	issued, notAfter := d.uint32(), d.uint32()
	r := &Routing{Issued: time.Unix(int64(issued), 0), NotAfter: time.Unix(int64(notAfter), 0)}
	copy(r.device[:], d.bytes(8))
	if flags&flagBound != 0 {
		r.bound = true
		copy(r.binding[:], d.bytes(8))
	}
	r.Account = string(d.bytes(int(d.byte())))
	tgt := d.bytes(int(d.uint16()))
	if d.bad || flags&^flagKnown != 0 || int(wc) >= len(watchCodes) || wc == 0 || notAfter <= issued {
		return nil, false
	}
	r.Watch = watchCodes[wc]
	r.Alert = flags&flagAlert != 0
	t := &r.Target
	t.Platform = Platform(flags & flagPlatformMask)
	switch t.Platform {
	case PlatformAPNs:
		t.Token = hex.EncodeToString(tgt)
		if flags&flagSandbox != 0 {
			t.Env = EnvSandbox
		}
	case PlatformFCM:
		if flags&flagFID != 0 {
			t.FID = string(tgt)
		} else {
			t.Token = string(tgt)
		}
	case PlatformWebPush:
		t.Endpoint = string(tgt)
		t.P256dh = bytes.Clone(d.bytes(webPushKeyLen))
		t.Auth = bytes.Clone(d.bytes(webPushAuthLen))
	}
	if t.Platform != PlatformAPNs && flags&flagSandbox != 0 || t.Platform != PlatformFCM && flags&flagFID != 0 {
		return nil, false
	}
	if d.bad || len(d.b) != 0 || t.Validate() != nil || r.Account != "" && !isTag(r.Account, maxAccountLen) {
		return nil, false
	}
	return r, true
}

// recordReader reads a record; any overrun sets bad.
type recordReader struct {
	b   []byte
	bad bool
}

func (d *recordReader) bytes(n int) []byte {
	if d.bad || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *recordReader) byte() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *recordReader) uint16() uint16 {
	if v := d.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *recordReader) uint32() uint32 {
	if v := d.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// SameDevice reports whether r was sealed for the app install device
// (push.list's "mine").
func (k *Keys) SameDevice(r *Routing, device string) bool {
	set := k.set(r.keyID)
	if set == nil {
		return false
	}
	h := k.deviceHash(set, device)
	return hmac.Equal(h[:], r.device[:])
}

// SameUser reports whether a notification's tenant and user match r's
// binding. An unbound r matches anyone: its clientState alone
// authenticates.
func (k *Keys) SameUser(r *Routing, tenantID, userID string) bool {
	if !r.bound {
		return true
	}
	set := k.set(r.keyID)
	if set == nil {
		return false
	}
	h := k.bindingHash(set, tenantID, userID)
	return hmac.Equal(h[:], r.binding[:])
}

// ClientState returns the subscription's clientState for R:
// base64url(HMAC-SHA256(k, R)), 43 characters, with the MAC key of the key
// that sealed R.
func (k *Keys) ClientState(blob string) (string, error) {
	set := k.blobSet(blob)
	if set == nil {
		return "", ErrRouting
	}
	return base64.RawURLEncoding.EncodeToString(mac(set.clientState, []byte(blob))), nil
}

// CheckClientState reports, in constant time, whether clientState belongs
// to R.
func (k *Keys) CheckClientState(blob, clientState string) bool {
	want, err := k.ClientState(blob)
	return err == nil && hmac.Equal([]byte(want), []byte(clientState))
}

// blobSet returns the key set named by R's header, without opening R.
func (k *Keys) blobSet(blob string) *keySet {
	if len(blob) < 8 || len(blob) > MaxRoutingLen {
		return nil
	}
	head, err := base64.RawURLEncoding.DecodeString(blob[:8]) // 6 bytes
	if err != nil || head[0] != routingVersion {
		return nil
	}
	return k.set(binary.BigEndian.Uint32(head[1:5]))
}

// Message references: a message id sealed for the push payload's "m";
// mail.get accepts it as ref.
//
//	ref = base64url( key id(4) | nonce(12) | AES-256-GCM(message id) )
const maxMessageIDLen = 256 // a ref then fits Message.Refs (384 characters)

// ErrRef is the error of a ref that does not open.
var ErrRef = errors.New("push: message ref does not open")

// SealRef seals a message id into a ref with the first key.
func (k *Keys) SealRef(messageID string) (string, error) {
	if messageID == "" || len(messageID) > maxMessageIDLen {
		return "", errors.New("push: message id empty or too long")
	}
	set := &k.sets[0]
	out := make([]byte, 16, 16+len(messageID)+set.ref.Overhead())
	binary.BigEndian.PutUint32(out[:4], set.id)
	if _, err := rand.Read(out[4:16]); err != nil {
		return "", err
	}
	out = set.ref.Seal(out, out[4:16], []byte(messageID), out[:4])
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenRef opens a ref with whichever configured key sealed it.
func (k *Keys) OpenRef(ref string) (string, error) {
	if len(ref) > 2*maxMessageIDLen {
		return "", ErrRef
	}
	raw, err := base64.RawURLEncoding.DecodeString(ref)
	if err != nil || len(raw) < 16 {
		return "", ErrRef
	}
	set := k.set(binary.BigEndian.Uint32(raw[:4]))
	if set == nil {
		return "", ErrRef
	}
	id, err := set.ref.Open(nil, raw[4:16], raw[16:], raw[:4])
	if err != nil || len(id) == 0 {
		return "", ErrRef
	}
	return string(id), nil
}
