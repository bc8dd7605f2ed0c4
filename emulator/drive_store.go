package emulator

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file holds each mailbox's OneDrive: a tree of folders and files in
// one of the two flavours Graph has (FILES_FACTS 1, 7). File bytes are never
// stored: a file's content is a function of its content seed and the
// offset (see DriveContentReader), or a short literal repeated to its size.
//
// Ids follow the look of real ones:
//
//	business drive  b!<64 base64url characters>
//	business item   01<32 base32 characters>
//	personal drive  <16 upper-case hex digits>   (compared case-insensitively)
//	personal item   <drive id>!<decimal key>     e.g. 5D33DD65C6932946!105

// Drive flavours (Options, MailboxSpec.Drive).
const (
	// DriveBusiness is OneDrive for Business (SharePoint): b! drive ids,
	// tombstones without a name, $orderby only by name, no thumbnails in
	// delta, no cTag on folders or in delta, delta on the root only.
	DriveBusiness = "business"
	// DrivePersonal is OneDrive personal: ids with '!', remoteItem entries
	// for shared folders, childCount 0 on folders in delta, tombstones
	// without a size.
	DrivePersonal = "personal"
)

// maxDriveTombstones bounds the remembered deletions of a drive; delta
// tokens from before the oldest one answer 410.
const maxDriveTombstones = 20000

// maxDriveLiteral bounds the literal content of a file (control API).
const maxDriveLiteral = 4 << 10

// maxDriveFileSize bounds a generated file (control API): 4 GiB.
const maxDriveFileSize = 4 << 30

// remoteRef is what a personal drive's entry for a folder shared by
// someone else knows about that folder.
type remoteRef struct {
	id, name, driveID, webURL string
	childCount                int
}

// driveItem is a folder or file of a drive.
type driveItem struct {
	id       string
	name     string
	parent   *driveItem
	children []*driveItem
	isFolder bool
	isRoot   bool
	// pkg is the package type ("oneNote"); such an item is a folder on
	// disk but a file to clients.
	pkg      string
	mimeType string
	size     int64
	// seed chooses generated content; literal, when set, is repeated to
	// size instead.
	seed    uint64
	literal []byte
	// version counts metadata changes (eTag), contentVersion content
	// changes (cTag).
	version, contentVersion uint32
	created, modified       time.Time
	createdSeq, changeSeq   uint64
	deleted                 bool
	// remote marks an entry for a folder shared from another drive.
	remote *remoteRef
	// sharedWith holds lower-case UPNs this folder is shared with.
	sharedWith map[string]bool
	// guid is the business eTag/cTag GUID.
	guid string
}

// driveTombstone remembers a deleted item for delta.
type driveTombstone struct {
	seq, createdSeq uint64
	id, name        string
	parentID        string
	isFolder        bool
	pkg             string
	size            int64
	modified        time.Time
	version         uint32
	guid            string
	// ancestors are the ids of the item's parents up to the root, for
	// delta rooted at a folder.
	ancestors []string
}

// drive is one mailbox's OneDrive, guarded by the mailbox's mu.
type drive struct {
	id       string
	flavour  string
	owner    *mailbox
	root     *driveItem
	items    map[string]*driveItem // by itemKey(id)
	seq      uint64
	nextKey  uint32
	tombs    []driveTombstone
	tombFlr  uint64
	states   *syncStateCache
	capacity int
	// generation counts the drives the mailbox had before this one.
	generation int
	// clock records when each change sequence began, for timestamp
	// tokens (business drives).
	clock []seqTime
}

// seqTime is a change sequence and when it happened.
type seqTime struct {
	seq uint64
	at  time.Time
}

// maxDriveClock bounds the change clock; older changes fall back to the
// tombstone floor (410).
const maxDriveClock = 20000

// tick starts a new change sequence at now. Caller holds mu.
func (d *drive) tick(now time.Time) {
	d.seq++
	if len(d.clock) >= maxDriveClock {
		d.clock = append(d.clock[:0:0], d.clock[len(d.clock)/2:]...)
	}
	d.clock = append(d.clock, seqTime{d.seq, now})
}

// seqAt is the last change sequence at or before t, and false when t is
// older than the clock remembers.
func (d *drive) seqAt(t time.Time) (uint64, bool) {
	if len(d.clock) == 0 || t.Before(d.clock[0].at) {
		return 0, false
	}
	var seq uint64
	for _, c := range d.clock {
		if c.at.After(t) {
			break
		}
		seq = c.seq
	}
	return seq, true
}

// newDrive returns an empty drive of mb. generation counts the drives the
// mailbox had, so a replaced drive's delta tokens never name states of
// the new one.
func newDrive(mb *mailbox, flavour string, syncCapacity, generation int) *drive {
	d := &drive{flavour: flavour, owner: mb, items: map[string]*driveItem{}, capacity: syncCapacity, generation: generation}
	sum := sha256.Sum256([]byte("drive:" + flavour + ":" + strings.ToLower(mb.upn)))
	if flavour == DrivePersonal {
		d.id = strings.ToUpper(hex.EncodeToString(sum[:8]))
		d.nextKey = 100
	} else {
		d.id = "b!" + base64.RawURLEncoding.EncodeToString(append(sum[:], sum[:16]...))
	}
	d.states = newSyncStateCache(syncCapacity, "drivestate:"+d.id+":"+strconv.Itoa(generation))
	d.seq = 1
	d.root = &driveItem{name: "root", isFolder: true, isRoot: true, created: seedEpoch.Add(-400 * 24 * time.Hour)}
	d.root.modified = d.root.created
	d.assignID(d.root)
	d.root.createdSeq, d.root.changeSeq = d.seq, d.seq
	return d
}

// itemKey is the map key of an item id: personal ids compare
// case-insensitively.
func (d *drive) itemKey(id string) string {
	if d.flavour == DrivePersonal {
		return strings.ToLower(id)
	}
	return id
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// assignID gives it a new id of the drive's form and registers it.
func (d *drive) assignID(it *driveItem) {
	d.nextKey++
	if d.flavour == DrivePersonal {
		it.id = d.id + "!" + strconv.FormatUint(uint64(d.nextKey), 10)
	} else {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], d.nextKey)
		it.id = "01" + base32NoPad.EncodeToString(hashPart(20, d.id, "item", string(n[:])))
	}
	g := hashPart(16, d.id, "guid", it.id)
	it.guid = strings.ToUpper(hex.EncodeToString(g[0:4]) + "-" + hex.EncodeToString(g[4:6]) + "-" + hex.EncodeToString(g[6:8]) + "-" + hex.EncodeToString(g[8:10]) + "-" + hex.EncodeToString(g[10:16]))
	it.version, it.contentVersion = 1, 1
	d.items[d.itemKey(it.id)] = it
}

// item returns the live item with id, or nil.
func (d *drive) item(id string) *driveItem {
	it := d.items[d.itemKey(id)]
	if it == nil || it.deleted {
		return nil
	}
	return it
}

// contentSeed derives an item's content seed from its id and content
// version, so a changed file has new bytes. Seeds keep to 53 bits so they
// survive JSON readers that parse numbers as doubles.
func contentSeed(id string, contentVersion uint32) uint64 {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], contentVersion)
	return binary.BigEndian.Uint64(hashPart(8, "content", id, string(v[:]))) & (1<<53 - 1)
}

// touch records a change of the item's metadata at now.
func (d *drive) touch(it *driveItem, now time.Time) {
	d.tick(now)
	it.changeSeq = d.seq
	it.version++
	it.modified = now
}

// touchFolder records that f's children changed (childCount, eTag) in the
// current change sequence.
func (d *drive) touchFolder(f *driveItem) {
	if f == nil {
		return
	}
	f.changeSeq = d.seq
	f.version++
}

// addItem creates it under parent. Caller holds the mailbox's mu.
func (d *drive) addItem(parent, it *driveItem, now time.Time) {
	d.assignID(it)
	if it.created.IsZero() {
		it.created = now
	}
	if it.modified.IsZero() {
		it.modified = it.created
	}
	if !it.isFolder && it.literal == nil && it.seed == 0 {
		it.seed = contentSeed(it.id, it.contentVersion)
	}
	d.tick(it.created)
	it.createdSeq, it.changeSeq = d.seq, d.seq
	it.parent = parent
	parent.children = append(parent.children, it)
	d.touchFolder(parent)
}

// renameItem renames it. Caller holds mu.
func (d *drive) renameItem(it *driveItem, name string, now time.Time) {
	it.name = name
	d.touch(it, now)
}

// moveItem moves it under dst. Caller holds mu.
func (d *drive) moveItem(it, dst *driveItem, now time.Time) {
	old := it.parent
	old.children = removeDriveChild(old.children, it)
	it.parent = dst
	dst.children = append(dst.children, it)
	d.touch(it, now)
	d.touchFolder(old)
	d.touchFolder(dst)
}

// rewriteItem gives a file new content. Caller holds mu.
func (d *drive) rewriteItem(it *driveItem, size int64, literal []byte, now time.Time) {
	it.contentVersion++
	it.size, it.literal = size, literal
	if literal == nil {
		it.seed = contentSeed(it.id, it.contentVersion)
	}
	d.touch(it, now)
}

// deleteItem removes it and everything below it; the folder's tombstone
// comes before those of its descendants, as Graph may order them.
// Caller holds mu.
func (d *drive) deleteItem(it *driveItem, now time.Time) {
	parent := it.parent
	parent.children = removeDriveChild(parent.children, it)
	d.tick(now)
	d.touchFolder(parent)
	var ancestors []string
	for p := parent; p != nil; p = p.parent {
		ancestors = append(ancestors, p.id)
	}
	d.bury(it, parent.id, ancestors)
}

func (d *drive) bury(it *driveItem, parentID string, ancestors []string) {
	it.deleted = true
	delete(d.items, d.itemKey(it.id))
	if len(d.tombs) >= maxDriveTombstones {
		half := len(d.tombs) / 2
		d.tombFlr = d.tombs[half-1].seq
		d.tombs = append(d.tombs[:0:0], d.tombs[half:]...)
	}
	d.tombs = append(d.tombs, driveTombstone{
		seq: d.seq, createdSeq: it.createdSeq, id: it.id, name: it.name, parentID: parentID,
		isFolder: it.isFolder, pkg: it.pkg, size: d.sizeOf(it), modified: it.modified, version: it.version + 1,
		guid: it.guid, ancestors: ancestors,
	})
	childAncestors := append([]string{it.id}, ancestors...)
	for _, c := range it.children {
		d.bury(c, it.id, childAncestors)
	}
	it.children = nil
}

func removeDriveChild(list []*driveItem, it *driveItem) []*driveItem {
	for i, c := range list {
		if c == it {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// sizeOf is a file's size or a folder's total.
func (d *drive) sizeOf(it *driveItem) int64 {
	if it.remote != nil {
		return 0
	}
	if !it.isFolder || it.pkg != "" && len(it.children) == 0 {
		return it.size
	}
	var n int64
	for _, c := range it.children {
		n += d.sizeOf(c)
	}
	return n
}

// isAncestor reports whether a is it or one of its parents.
func isAncestor(a, it *driveItem) bool {
	for p := it; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

// pathOf is the parentReference.path of it's children, e.g.
// "/drive/root:/Documents/Reports".
func pathOf(it *driveItem) string {
	if it.isRoot {
		return "/drive/root:"
	}
	var parts []string
	for p := it; p != nil && !p.isRoot; p = p.parent {
		parts = append(parts, p.name)
	}
	var b strings.Builder
	b.WriteString("/drive/root:")
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// walk visits it and its descendants depth first, parents before children.
func walkDrive(it *driveItem, fn func(*driveItem)) {
	fn(it)
	for _, c := range it.children {
		walkDrive(c, fn)
	}
}

// eTag and cTag of an item, in the flavour's form.
func (d *drive) eTag(id, guid string, version uint32) string {
	if d.flavour == DriveBusiness {
		return `"{` + guid + `},` + strconv.FormatUint(uint64(version), 10) + `"`
	}
	return `"a` + base64.RawURLEncoding.EncodeToString([]byte(id+"."+strconv.FormatUint(uint64(version), 10))) + `"`
}

func (d *drive) cTag(it *driveItem) string {
	if d.flavour == DriveBusiness {
		return `"c:{` + it.guid + `},` + strconv.FormatUint(uint64(it.contentVersion), 10) + `"`
	}
	return `"adDp` + base64.RawURLEncoding.EncodeToString([]byte(it.id+"."+strconv.FormatUint(uint64(it.contentVersion)+637000000000000000, 10))) + `"`
}

// webURL is the item's browser address.
func (d *drive) webURL(it *driveItem) string {
	if d.flavour == DrivePersonal {
		return "https://onedrive.live.com/redir?resid=" + it.id
	}
	base := "https://contoso-my.sharepoint.com/personal/" + sharePointUser(d.owner.upn) + "/Documents"
	if it.isRoot {
		return base
	}
	p := strings.TrimPrefix(pathOf(it), "/drive/root:")
	return base + escapePathKeepSlash(p)
}

// sharePointUser turns a UPN into the personal site name, as SharePoint
// does: demo@contoso.example → demo_contoso_example.
func sharePointUser(upn string) string {
	return strings.NewReplacer("@", "_", ".", "_").Replace(strings.ToLower(upn))
}

func escapePathKeepSlash(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// mimeByName guesses a file's MIME type from its extension.
func mimeByName(name string) string {
	ext := strings.ToLower(name[strings.LastIndexByte(name, '.')+1:])
	switch ext {
	case "txt", "md":
		return "text/plain"
	case "html", "htm":
		return "text/html"
	case "pdf":
		return "application/pdf"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "png":
		return "image/png"
	case "mp4":
		return "video/mp4"
	case "zip":
		return "application/zip"
	case "docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case "csv":
		return "text/csv"
	}
	return "application/octet-stream"
}

// hasThumbnail reports whether Graph makes thumbnails for the file.
func (it *driveItem) hasThumbnail() bool {
	if it.isFolder || it.remote != nil {
		return false
	}
	return strings.HasPrefix(it.mimeType, "image/") || strings.HasPrefix(it.mimeType, "video/") ||
		it.mimeType == "application/pdf" || strings.Contains(it.mimeType, "officedocument")
}
