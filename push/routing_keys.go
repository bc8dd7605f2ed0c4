package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Purpose labels: each derived key serves one purpose only, and none of
// them is a state key itself (sync states are sealed with the state keys
// directly).
const (
	labelKeyID       = "devicebridge push v1 key id"
	labelRouting     = "devicebridge push v1 routing seal"
	labelClientState = "devicebridge push v1 clientState mac"
	labelRef         = "devicebridge push v1 message ref seal"
	labelCollapse    = "devicebridge push v1 collapse id mac"
	labelDevice      = "devicebridge push v1 device hash"
	labelBinding     = "devicebridge push v1 user binding hash"
)

// MinStateKeySize is the shortest state key push keys are derived from.
const MinStateKeySize = 16

// keySet is the push keys derived from one state key.
type keySet struct {
	id          uint32
	routing     cipher.AEAD
	clientState []byte
	ref         cipher.AEAD
	collapse    []byte
	device      []byte
	binding     []byte
}

// Keys are the push keys derived from the configured state keys: the first
// seals, all open (rotation). Keys must stay configured for as long as a
// routing blob sealed with them may come back: push_reseal_after plus the
// subscription lifetime.
type Keys struct {
	sets []keySet
}

// NewKeys derives the push keys from stateKeys (HKDF-SHA-256, one label
// per purpose).
func NewKeys(stateKeys [][]byte) (*Keys, error) {
	if len(stateKeys) == 0 {
		return nil, errors.New("push keys: no state key")
	}
	k := &Keys{}
	seen := map[uint32]bool{}
	for i, sk := range stateKeys {
		if len(sk) < MinStateKeySize {
			return nil, fmt.Errorf("push keys: state key %d is %d bytes, want at least %d", i, len(sk), MinStateKeySize)
		}
		set, err := deriveKeySet(sk)
		if err != nil {
			return nil, fmt.Errorf("push keys: state key %d: %w", i, err)
		}
		if seen[set.id] {
			return nil, fmt.Errorf("push keys: state key %d repeats an earlier key", i)
		}
		seen[set.id] = true
		k.sets = append(k.sets, set)
	}
	return k, nil
}

func deriveKeySet(sk []byte) (keySet, error) {
	derive := func(label string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, sk, nil, label, n)
	}
	var s keySet
	id, err := derive(labelKeyID, 4)
	if err != nil {
		return s, err
	}
	s.id = binary.BigEndian.Uint32(id)
	if s.routing, err = newAESGCM(derive(labelRouting, 32)); err != nil {
		return s, err
	}
	if s.ref, err = newAESGCM(derive(labelRef, 32)); err != nil {
		return s, err
	}
	for _, x := range []struct {
		dst   *[]byte
		label string
	}{{&s.clientState, labelClientState}, {&s.collapse, labelCollapse}, {&s.device, labelDevice}, {&s.binding, labelBinding}} {
		if *x.dst, err = derive(x.label, 32); err != nil {
			return s, err
		}
	}
	return s, nil
}

func newAESGCM(key []byte, err error) (cipher.AEAD, error) {
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// FirstKeyID is the id of the key that seals; a push state records the id
// R was sealed with, and a renewal whose id is not the first answers
// resync_required.
func (k *Keys) FirstKeyID() uint32 { return k.sets[0].id }

// set returns the key set with id, or nil.
func (k *Keys) set(id uint32) *keySet {
	for i := range k.sets {
		if k.sets[i].id == id {
			return &k.sets[i]
		}
	}
	return nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

// deviceHash is the keyed hash of the app's per-install id that R carries
// (push.list's "mine"; see Keys.SameDevice).
func (k *Keys) deviceHash(set *keySet, device string) [8]byte {
	return [8]byte(mac(set.device, []byte(device))[:8])
}

// bindingHash is the keyed hash of the tenant id and user object id (GUIDs,
// compared without regard to case).
func (k *Keys) bindingHash(set *keySet, tenantID, userID string) [8]byte {
	return [8]byte(mac(set.binding, []byte(strings.ToLower(tenantID)), []byte(strings.ToLower(userID)))[:8])
}

// CollapseID is the alert collapse id for a new message:
// base64url(HMAC(k, message id)) cut to 22 characters.
func (k *Keys) CollapseID(messageID string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.sets[0].collapse, []byte(messageID)))[:22]
}
