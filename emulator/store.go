package emulator

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// recipient is an emailAddress of a message.
type recipient struct {
	name    string
	address string
}

// attachment is a file attachment. Small attachments keep their bytes;
// generated ones (the large demo attachment) produce them on demand.
type attachment struct {
	id           string
	name         string
	contentType  string
	size         int
	isInline     bool
	contentID    string
	lastModified time.Time
	content      []byte
	// generatedSeed, when non-zero, means the bytes are produced by
	// generateAttachmentBytes(generatedSeed, size) instead of stored.
	generatedSeed uint64
	// kind is "" (a fileAttachment), attachmentItem or attachmentReference.
	kind string
}

// Attachment kinds besides file attachments.
const (
	// attachmentItem is an itemAttachment (a mail, event or contact); its
	// $value is MIME text.
	attachmentItem = "item"
	// attachmentReference is a referenceAttachment (a cloud link); its
	// $value answers 405.
	attachmentReference = "reference"
)

// odataType is the attachment's @odata.type, quoted.
func (a *attachment) odataType() string {
	switch a.kind {
	case attachmentItem:
		return `"#microsoft.graph.itemAttachment"`
	case attachmentReference:
		return `"#microsoft.graph.referenceAttachment"`
	}
	return `"#microsoft.graph.fileAttachment"`
}

// bytes returns the attachment content.
func (a *attachment) bytes() []byte {
	if a.generatedSeed != 0 {
		return generateAttachmentBytes(a.generatedSeed, a.size)
	}
	return a.content
}

// message is one mail item.
type message struct {
	key         uint32
	gen         uint16
	restID      string
	immutableID string
	folder      *folder
	version     uint32

	created, lastModified, received, sent time.Time

	subject    string
	bodyIsHTML bool
	bodyHTML   string
	bodyText   string
	// bodyHTMLJSON and bodyTextJSON are the bodies pre-encoded as JSON
	// strings (set by addMessage; bodies never change afterwards).
	bodyHTMLJSON   []byte
	bodyTextJSON   []byte
	preview        string
	from, sender   recipient
	to, cc, bcc    []recipient
	replyTo        []recipient
	isRead         bool
	isDraft        bool
	importance     string
	flagStatus     string
	flagStart      string
	flagDue        string
	flagCompleted  string
	categories     []string
	conversationID string
	convIndex      string
	internetMsgID  string
	inference      string
	attachments    []*attachment
	// deleted is set when the message left the mailbox for good.
	deleted bool
}

// hasAttachments follows Graph: inline-only attachments do not count.
func (m *message) hasAttachments() bool {
	for _, a := range m.attachments {
		if !a.isInline {
			return true
		}
	}
	return false
}

// changeKey is the message's version stamp, also the etag payload.
func (m *message) changeKey() string {
	return "CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAA" + encodeKey(m.key, uint16(m.version>>16), uint16(m.version))
}

// id returns the id the caller sees, depending on IdType.
func (m *message) id(immutable bool) string {
	if immutable {
		return m.immutableID
	}
	return m.restID
}

// journal entry kinds.
const (
	changeAdded uint8 = iota + 1
	changeUpdated
	changeRemoved
)

// journalEntry records one change of a folder's contents, for delta.
type journalEntry struct {
	seq  uint64
	msg  *message
	kind uint8
	// restID and immutableID are the ids the message had in this folder
	// (set for removals).
	restID      string
	immutableID string
}

// maxJournalEntries bounds each folder's change journal. When exceeded, the
// older half is dropped and delta tokens from before it answer 410.
const maxJournalEntries = 20000

// folder is a mail folder.
type folder struct {
	id          string
	wellKnown   string
	displayName string
	parent      *folder
	children    []*folder
	hidden      bool
	total       int
	unread      int
	// createdSeq and changeSeq drive folder delta.
	createdSeq uint64
	changeSeq  uint64
	// msgs is the folder's messages, newest first (received desc, key desc).
	msgs []*message
	// journal is ordered by seq; journalFloor is the last seq not covered.
	journal      []journalEntry
	journalFloor uint64
	deleted      bool
}

func messageBefore(a, b *message) bool {
	if !a.received.Equal(b.received) {
		return a.received.After(b.received)
	}
	return a.key > b.key
}

func (f *folder) insert(m *message) {
	i := sort.Search(len(f.msgs), func(i int) bool { return !messageBefore(f.msgs[i], m) })
	f.msgs = append(f.msgs, nil)
	copy(f.msgs[i+1:], f.msgs[i:])
	f.msgs[i] = m
}

func (f *folder) remove(m *message) {
	i := sort.Search(len(f.msgs), func(i int) bool { return !messageBefore(f.msgs[i], m) })
	if i < len(f.msgs) && f.msgs[i] == m {
		copy(f.msgs[i:], f.msgs[i+1:])
		f.msgs[len(f.msgs)-1] = nil
		f.msgs = f.msgs[:len(f.msgs)-1]
	}
}

func (f *folder) record(e journalEntry) {
	if len(f.journal) >= maxJournalEntries {
		half := len(f.journal) / 2
		f.journalFloor = f.journal[half-1].seq
		f.journal = append(f.journal[:0:0], f.journal[half:]...)
	}
	f.journal = append(f.journal, e)
}

// folderTombstone remembers a deleted folder for folder delta.
type folderTombstone struct {
	seq        uint64
	createdSeq uint64
	id         string
}

// maxFolderTombstones bounds the remembered folder deletions.
const maxFolderTombstones = 1000

// mailbox is one user's mailbox with its own lock, sync-state cache and
// concurrency counter.
type mailbox struct {
	token       string
	upn         string
	objectID    string
	displayName string
	mbxPart     string
	// delegates holds lower-cased UPNs allowed to use /users/{this mailbox};
	// guarded by mu.
	delegates map[string]bool

	mu         sync.RWMutex
	seq        uint64
	nextKey    uint32
	root       *folder
	folders    map[string]*folder // by id
	wellKnown  map[string]*folder // by lower-case well-known name
	byREST     map[string]*message
	byImmut    map[string]*message
	tombstones []folderTombstone
	tombFloor  uint64

	syncStates *syncStateCache
	// inflight counts the Graph requests being served; maxInflight is
	// the most at once (see Inflight).
	inflight    atomic.Int32
	maxInflight atomic.Int32

	// pim holds the calendar and contacts; guarded by mu.
	pim pimStore
	// drive is the user's OneDrive; guarded by mu.
	drive *drive

	// watchers receives the mailbox's changes for its subscriptions; nil
	// until the mailbox is registered.
	watchers *subscriptionSet
}

func newMailbox(token, upn, displayName, objectID string, syncCapacity int) *mailbox {
	if objectID == "" {
		objectID = objectIDForUPN(upn)
	}
	mb := &mailbox{
		token:       token,
		upn:         upn,
		objectID:    strings.ToLower(objectID),
		displayName: displayName,
		delegates:   map[string]bool{},
		folders:     map[string]*folder{},
		wellKnown:   map[string]*folder{},
		byREST:      map[string]*message{},
		byImmut:     map[string]*message{},
	}
	mb.mbxPart = idPartMailbox(mb.objectID)
	mb.syncStates = newSyncStateCache(syncCapacity, "syncstate:"+token+":"+strings.ToLower(upn))
	mb.addWellKnownFolders()
	mb.drive = newDrive(mb, DriveBusiness, syncCapacity, 0)
	return mb
}

// wellKnownFolderDefs are the folders every mailbox has, in creation order.
var wellKnownFolderDefs = []struct{ name, display string }{
	{"inbox", "Inbox"},
	{"drafts", "Drafts"},
	{"sentitems", "Sent Items"},
	{"deleteditems", "Deleted Items"},
	{"archive", "Archive"},
	{"junkemail", "Junk Email"},
	{"outbox", "Outbox"},
}

func (mb *mailbox) addWellKnownFolders() {
	mb.root = &folder{id: wellKnownFolderID(mb.mbxPart, 1), wellKnown: "msgfolderroot", displayName: "Top of Information Store"}
	mb.folders[mb.root.id] = mb.root
	mb.wellKnown["msgfolderroot"] = mb.root
	for i, d := range wellKnownFolderDefs {
		f := &folder{id: wellKnownFolderID(mb.mbxPart, i+2), wellKnown: d.name, displayName: d.display}
		mb.attachFolder(f, mb.root)
	}
}

// attachFolder links f under parent. Caller holds mu (or owns mb exclusively).
func (mb *mailbox) attachFolder(f, parent *folder) {
	mb.seq++
	f.parent = parent
	f.createdSeq = mb.seq
	f.changeSeq = mb.seq
	f.journalFloor = mb.seq
	parent.children = append(parent.children, f)
	parent.changeSeq = mb.seq
	mb.folders[f.id] = f
	if f.wellKnown != "" {
		mb.wellKnown[f.wellKnown] = f
	}
}

// addUserFolder creates a user folder under parent. Caller holds mu.
func (mb *mailbox) addUserFolder(parent *folder, name string, hidden bool) *folder {
	mb.nextKey++
	f := &folder{id: userFolderID(mb.mbxPart, mb.nextKey, mb.nextKey%3 == 0), displayName: name, hidden: hidden}
	mb.attachFolder(f, parent)
	return f
}

// folderByRef resolves a folder id or well-known name (case-insensitive).
// Caller holds mu.
func (mb *mailbox) folderByRef(ref string) (*folder, *graphError) {
	if f := mb.wellKnown[strings.ToLower(ref)]; f != nil {
		return f, nil
	}
	if f := mb.folders[ref]; f != nil {
		return f, nil
	}
	if !looksLikeGraphID(ref) {
		return nil, errIDMalformed()
	}
	return nil, errItemNotFound()
}

// messageByRef resolves a REST or immutable message id. Caller holds mu.
func (mb *mailbox) messageByRef(ref string) (*message, *graphError) {
	if m := mb.byREST[ref]; m != nil {
		return m, nil
	}
	if m := mb.byImmut[ref]; m != nil {
		return m, nil
	}
	if !looksLikeGraphID(ref) {
		return nil, errIDMalformed()
	}
	return nil, errItemNotFound()
}

// countsChanged marks f's representation as changed at the current seq.
func (mb *mailbox) touchFolder(f *folder) { f.changeSeq = mb.seq }

// addMessage stores a new message in f. The message's ids are assigned
// here. Caller holds mu.
func (mb *mailbox) addMessage(f *folder, m *message) {
	mb.nextKey++
	m.key = mb.nextKey
	m.restID = messageRESTID(mb.mbxPart, m.key, m.gen)
	m.immutableID = messageImmutableID(mb.mbxPart, m.key)
	for i, a := range m.attachments {
		a.id = attachmentID(mb.mbxPart, m.key, i)
	}
	m.version = 1
	m.bodyHTMLJSON = jsonString(m.bodyHTML)
	m.bodyTextJSON = jsonString(m.bodyText)
	mb.byREST[m.restID] = m
	mb.byImmut[m.immutableID] = m
	mb.placeMessage(f, m)
}

// placeMessage puts m into f and records the addition. Caller holds mu.
func (mb *mailbox) placeMessage(f *folder, m *message) {
	mb.seq++
	m.folder = f
	f.insert(m)
	f.total++
	if !m.isRead {
		f.unread++
	}
	mb.touchFolder(f)
	f.record(journalEntry{seq: mb.seq, msg: m, kind: changeAdded})
	mb.notifyMessage(changeTypeCreated, m, f)
}

// unplaceMessage takes m out of its folder and records the removal under
// the ids it had there. Caller holds mu.
func (mb *mailbox) unplaceMessage(m *message) {
	f := m.folder
	if f == nil {
		return
	}
	mb.seq++
	f.remove(m)
	f.total--
	if !m.isRead {
		f.unread--
	}
	mb.touchFolder(f)
	f.record(journalEntry{seq: mb.seq, msg: m, kind: changeRemoved, restID: m.restID, immutableID: m.immutableID})
	mb.notifyMessage(changeTypeDeleted, m, f)
	m.folder = nil
}

// updateMessage records that m changed; wasRead is its isRead before the
// change, for the folder counts. Caller holds mu.
func (mb *mailbox) updateMessage(m *message, wasRead bool, now time.Time) {
	mb.seq++
	m.version++
	m.lastModified = now
	f := m.folder
	if f == nil {
		return
	}
	if wasRead != m.isRead {
		if m.isRead {
			f.unread--
		} else {
			f.unread++
		}
		mb.touchFolder(f)
	}
	f.record(journalEntry{seq: mb.seq, msg: m, kind: changeUpdated})
	mb.notifyMessage(changeTypeUpdated, m, f)
}

// moveMessage moves m to dst; the REST id changes, the immutable id does
// not. Caller holds mu.
func (mb *mailbox) moveMessage(m *message, dst *folder, now time.Time) {
	if m.folder == dst {
		return
	}
	mb.unplaceMessage(m)
	delete(mb.byREST, m.restID)
	m.gen++
	m.restID = messageRESTID(mb.mbxPart, m.key, m.gen)
	mb.byREST[m.restID] = m
	m.version++
	m.lastModified = now
	mb.placeMessage(dst, m)
}

// deleteMessage moves m to Deleted Items, or removes it for good when it is
// already there. It reports whether m was removed for good. Caller holds mu.
func (mb *mailbox) deleteMessage(m *message, now time.Time) {
	deleted := mb.wellKnown["deleteditems"]
	if deleted == nil || m.folder == deleted || m.folder == nil {
		mb.purgeMessage(m)
		return
	}
	mb.moveMessage(m, deleted, now)
}

// purgeMessage removes m from the mailbox. Caller holds mu.
func (mb *mailbox) purgeMessage(m *message) {
	mb.unplaceMessage(m)
	delete(mb.byREST, m.restID)
	delete(mb.byImmut, m.immutableID)
	m.deleted = true
}

// deleteFolder removes f, its subfolders and their messages. Caller holds mu.
func (mb *mailbox) deleteFolder(f *folder) {
	for len(f.children) > 0 {
		mb.deleteFolder(f.children[len(f.children)-1])
	}
	for len(f.msgs) > 0 {
		mb.purgeMessage(f.msgs[0])
	}
	mb.seq++
	if p := f.parent; p != nil {
		for i, c := range p.children {
			if c == f {
				p.children = append(p.children[:i], p.children[i+1:]...)
				break
			}
		}
		p.changeSeq = mb.seq
	}
	delete(mb.folders, f.id)
	f.deleted = true
	if len(mb.tombstones) >= maxFolderTombstones {
		half := len(mb.tombstones) / 2
		mb.tombFloor = mb.tombstones[half-1].seq
		mb.tombstones = append(mb.tombstones[:0:0], mb.tombstones[half:]...)
	}
	mb.tombstones = append(mb.tombstones, folderTombstone{seq: mb.seq, createdSeq: f.createdSeq, id: f.id})
}

// hasDelegate reports whether upn may open this mailbox via /users/{x}.
func (mb *mailbox) hasDelegate(upn string) bool {
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	return mb.delegates[strings.ToLower(upn)]
}

// forEachFolder visits the folder tree below the root, depth first.
func (mb *mailbox) forEachFolder(fn func(*folder)) {
	var walk func(*folder)
	walk = func(f *folder) {
		for _, c := range f.children {
			fn(c)
			walk(c)
		}
	}
	walk(mb.root)
}
