package push

import (
	"crypto/ecdsa"
	"encoding/base64"
	"sync"
	"time"
)

// VAPID (RFC 8292) token timing: tokens live 12 hours (the limit is 24)
// and are reused per push-service origin until an hour before they expire.
const (
	vapidLifetime   = 12 * time.Hour
	vapidReuseSlack = time.Hour
	vapidCacheMax   = 1024 // origins; the cache starts over when full
)

// vapid signs and caches the Authorization values of one VAPID key.
type vapid struct {
	key     *ecdsa.PrivateKey
	subject string
	k       string // base64url of the uncompressed public key
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]vapidToken // by origin
}

type vapidToken struct {
	header string // "vapid t=…, k=…"
	exp    time.Time
}

func newVAPID(key *ecdsa.PrivateKey, subject string) (*vapid, error) {
	pub, err := key.PublicKey.Bytes() // uncompressed point
	if err != nil {
		return nil, err
	}
	return &vapid{
		key: key, subject: subject, now: time.Now,
		k:     base64.RawURLEncoding.EncodeToString(pub),
		cache: make(map[string]vapidToken),
	}, nil
}

// authorization returns the Authorization value for a push service origin
// ("https://host[:port]"), signing a new token only when the cached one is
// near expiry. Signing is local (one ECDSA signature), never network I/O.
func (v *vapid) authorization(origin string) (string, error) {
	now := v.now()
	v.mu.Lock()
	tok, ok := v.cache[origin]
	v.mu.Unlock()
	if ok && tok.exp.Sub(now) > vapidReuseSlack {
		return tok.header, nil
	}
	exp := now.Add(vapidLifetime)
	jwt, err := signES256(v.key,
		struct {
			Typ string `json:"typ"`
			Alg string `json:"alg"`
		}{"JWT", "ES256"},
		struct {
			Aud string `json:"aud"`
			Exp int64  `json:"exp"`
			Sub string `json:"sub"`
		}{origin, exp.Unix(), v.subject})
	if err != nil {
		return "", err
	}
	tok = vapidToken{header: "vapid t=" + jwt + ", k=" + v.k, exp: exp}
	v.mu.Lock()
	if len(v.cache) >= vapidCacheMax {
		clear(v.cache)
	}
	v.cache[origin] = tok
	v.mu.Unlock()
	return tok.header, nil
}
