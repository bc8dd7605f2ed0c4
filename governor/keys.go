package governor

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strings"
	"sync"
	"unsafe"
)

// This file computes a ticket's mailbox keys without allocating per
// request: the HMAC, the payload and lower-casing buffers and the callback
// handed to the lister live in a pooled keyScratch.

// keyScratch is the working space of Governor.Ticket.
type keyScratch struct {
	mac         hash.Hash // HMAC-SHA256 under the governor's secret
	secret      [32]byte  // the secret mac was made with
	tokenDigest [sha256.Size]byte
	payload     []byte // the decoded JWT payload the names point into
	names       tokenNames
	lower       [320]byte
	t           *Ticket
	// add is s.addClaim, bound once so that handing it to the lister does not allocate.
	add func(mailbox string, commands int)
}

// mailboxSeparator separates the token digest from a mailbox argument in
// the HMAC input; the token's own mailbox has none.
var mailboxSeparator = []byte{'/'}

var keyScratchPool = sync.Pool{New: func() any {
	s := new(keyScratch)
	s.add = s.addClaim
	s.payload = make([]byte, 0, 1024)
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

// putKeyScratch returns s to the pool, dropping a payload buffer that grew
// unusually large.
func putKeyScratch(s *keyScratch) {
	s.t = nil
	s.names = tokenNames{}
	if cap(s.payload) > 4<<10 {
		s.payload = make([]byte, 0, 1024)
	}
	keyScratchPool.Put(s)
}

// setToken prepares s for the claims of one token: its keyed digest and
// its own mailbox names.
func (s *keyScratch) setToken(token string) {
	s.mac.Reset()
	s.mac.Write(unsafe.Slice(unsafe.StringData(token), len(token)))
	s.mac.Sum(s.tokenDigest[:0])
	s.payload = readTokenNames(&s.names, s.payload, token)
}

// addClaim adds the claim of one mailbox to s.t: a new claim for a new
// key, or more weight on the claim of another spelling of the same
// mailbox.
func (s *keyScratch) addClaim(mailbox string, commands int) {
	t := s.t
	if t.spellings == len(t.spelled) {
		return
	}
	var key mailboxKey
	s.mac.Reset()
	s.mac.Write(s.tokenDigest[:])
	if !s.names.isOwn(mailbox) {
		s.mac.Write(mailboxSeparator)
		s.mac.Write(appendLowerASCII(s.lower[:0], mailbox))
	}
	s.mac.Sum(key[:0])
	t.spelled[t.spellings] = spelling{mailbox: mailbox, key: key}
	t.spellings++
	maxWeight := min(BatchParallelism, t.g.limit)
	for i := 0; i < t.n; i++ {
		if c := &t.claims[i]; c.key == key {
			c.weight = min(c.weight+commands, maxWeight)
			return
		}
	}
	c := &t.claims[t.n]
	t.n++
	c.key = key
	c.weight = min(commands, maxWeight)
}

// keyOf returns the key the ticket filed mailbox under (compared
// case-insensitively), and whether it has one.
func (t *Ticket) keyOf(mailbox string) (mailboxKey, bool) {
	for _, sp := range t.spelled[:t.spellings] {
		if strings.EqualFold(sp.mailbox, mailbox) {
			return sp.key, true
		}
	}
	return mailboxKey{}, false
}

// sortClaims orders claims by key (insertion sort: at most 20 claims).
func sortClaims(claims []mailboxClaim) {
	for i := 1; i < len(claims); i++ {
		for j := i; j > 0 && bytes.Compare(claims[j].key[:], claims[j-1].key[:]) < 0; j-- {
			claims[j], claims[j-1] = claims[j-1], claims[j]
		}
	}
}
