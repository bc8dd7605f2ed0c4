package governor

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// This file computes a ticket's mailbox keys without allocating per
// request: the HMAC, the identity and lower-casing buffers and the callback
// handed to the plan live in a pooled keyScratch.

// keyScratch is the working space of Governor.Ticket.
type keyScratch struct {
	mac      hash.Hash // HMAC-SHA256 under the governor's secret
	secret   [32]byte  // the secret mac was made with
	identity [128]byte
	prefix   []byte // the token's identity, in identity
	lower    [320]byte
	t        *Ticket
	// add is s.addClaim, bound once so that handing it to the plan does not allocate.
	add func(mailbox string, commands int)
}

var keyScratchPool = sync.Pool{New: func() any {
	s := new(keyScratch)
	s.add = s.addClaim
	return s
}}

// getKeyScratch returns a scratch whose mac is keyed with secret.
func getKeyScratch(secret *[32]byte) *keyScratch {
	s := keyScratchPool.Get().(*keyScratch)
	if s.mac == nil || s.secret != *secret {
		s.secret = *secret
		s.mac = hmac.New(sha256.New, s.secret[:])
	}
	return s
}

// putKeyScratch returns s to the pool.
func putKeyScratch(s *keyScratch) {
	s.t, s.prefix = nil, nil
	keyScratchPool.Put(s)
}

// addClaim adds the claim of one mailbox to s.t.
func (s *keyScratch) addClaim(mailbox string, commands int) {
	t := s.t
	if t.n == len(t.claims) {
		return
	}
	c := &t.claims[t.n]
	t.n++
	c.mailbox = mailbox
	c.weight = min(commands, BatchParallelism, t.g.limit)
	s.mac.Reset()
	s.mac.Write(s.prefix)
	s.mac.Write(appendLowerASCII(s.lower[:0], mailbox))
	s.mac.Sum(c.key[:0])
}

// sortClaims orders claims by key (insertion sort: at most 20 claims).
func sortClaims(claims []mailboxClaim) {
	for i := 1; i < len(claims); i++ {
		for j := i; j > 0 && bytes.Compare(claims[j].key[:], claims[j-1].key[:]) < 0; j-- {
			claims[j], claims[j-1] = claims[j-1], claims[j]
		}
	}
}
