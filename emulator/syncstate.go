package emulator

import (
	"container/list"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultSyncStateCapacity is the default number of delta sync states kept
// per mailbox.
const DefaultSyncStateCapacity = 1000

// deltaKind tells folder delta from message delta tokens.
type deltaKind uint8

const (
	deltaMessages deltaKind = iota + 1
	deltaFolders
	deltaEvents
	deltaContacts
	deltaDrive
)

// roundItem is one entry of a delta round: a message (rendered with its
// state at page time) or a removal.
type roundItem struct {
	msg    *message
	folder *folder
	// event is a single event, series master or exception; with occStart
	// set, the occurrence of the series master event starting then (a stub).
	event    *event
	occStart time.Time
	contact  *contact
	// driveItem is a drive item (rendered with its state at page time);
	// driveTomb a deleted one.
	driveItem *driveItem
	driveTomb *driveTombstone
	// removed entries carry the ids the client knew.
	removed     bool
	restID      string
	immutableID string
}

// deltaRound is the frozen list of items of one delta round. upto is the
// change sequence the round was computed at: the round's deltaLink
// continues from there, so changes made while the round is paged show up
// in the next round.
type deltaRound struct {
	items []roundItem
	upto  uint64
}

// deltaOptions are the query options of the first delta call, baked into
// every token of the sync.
type deltaOptions struct {
	selected   fieldSet
	hasSelect  bool
	filterOp   string // "", "ge" or "gt"
	filterTime time.Time
	changeType string // "", "created", "updated" or "deleted"
	// windowStart and windowEnd are calendarView delta's window.
	windowStart, windowEnd time.Time
}

// syncState is what a skiptoken or deltatoken stands for. States are never
// mutated after they are stored, so a client may retry a link.
type syncState struct {
	kind     deltaKind
	folderID string
	opts     deltaOptions
	// round and offset are set for skiptokens (the rest of a round).
	round  *deltaRound
	offset int
	// pageIndex counts pages served in the round (for the empty-page quirk);
	// emptyServed records that the quirk's empty page for this offset was sent.
	pageIndex   int
	emptyServed bool
	// baseline is set for deltatokens: the next round reports changes after it.
	baseline uint64
	isDelta  bool
	// drive holds the options of a drive delta.
	drive *driveDeltaOptions
}

// syncStateCache is a bounded LRU of sync states of one mailbox. A token
// unknown to it (evicted, expired, or issued for another mailbox) answers
// 410 SyncStateNotFound.
type syncStateCache struct {
	mu       sync.Mutex
	capacity int
	ll       *list.List
	items    map[string]*list.Element
	issued   uint64
	salt     string
}

type cacheEntry struct {
	token string
	state *syncState
}

func newSyncStateCache(capacity int, salt string) *syncStateCache {
	if capacity <= 0 {
		capacity = DefaultSyncStateCapacity
	}
	return &syncStateCache{capacity: capacity, ll: list.New(), items: map[string]*list.Element{}, salt: salt}
}

// put stores st and returns its new opaque token. Tokens are derived from
// the mailbox and a counter, so a freshly seeded server issues the same
// tokens in the same order.
func (c *syncStateCache) put(st *syncState) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.issued++
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], c.issued)
	sum := sha256.Sum256(append([]byte(c.salt), n[:]...))
	token := base64.RawURLEncoding.EncodeToString(sum[:24])
	c.items[token] = c.ll.PushFront(&cacheEntry{token: token, state: st})
	for c.ll.Len() > c.capacity {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).token)
	}
	return token
}

// get returns the state of token and marks it recently used.
func (c *syncStateCache) get(token string) (*syncState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[token]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).state, true
}

// clear evicts every state.
func (c *syncStateCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[string]*list.Element{}
}

// len returns the number of stored states.
func (c *syncStateCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// counter returns the number of tokens issued so far.
func (c *syncStateCache) counter() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issued
}
