package emulator

import (
	"net/http"
	"strings"
	"time"
)

// driveItem properties selectable with $select, in the order Graph writes
// them (the download URL annotation first).
const (
	dfDownloadURL = iota
	dfCreated
	dfETag
	dfID
	dfModified
	dfName
	dfWebURL
	dfCTag
	dfSize
	dfCreatedBy
	dfModifiedBy
	dfParentRef
	dfFile
	dfFileSystemInfo
	dfFolder
	dfPackage
	dfRoot
	dfRemoteItem
	dfDeleted
	dfSearchResult
	dfCount
)

var driveFieldNames = []string{
	dfDownloadURL:    "@microsoft.graph.downloadUrl",
	dfCreated:        "createdDateTime",
	dfETag:           "eTag",
	dfID:             "id",
	dfModified:       "lastModifiedDateTime",
	dfName:           "name",
	dfWebURL:         "webUrl",
	dfCTag:           "cTag",
	dfSize:           "size",
	dfCreatedBy:      "createdBy",
	dfModifiedBy:     "lastModifiedBy",
	dfParentRef:      "parentReference",
	dfFile:           "file",
	dfFileSystemInfo: "fileSystemInfo",
	dfFolder:         "folder",
	dfPackage:        "package",
	dfRoot:           "root",
	dfRemoteItem:     "remoteItem",
	dfDeleted:        "deleted",
	dfSearchResult:   "searchResult",
}

// defaultDriveFields is what Graph returns without $select.
const defaultDriveFields = fieldSet(1<<dfSearchResult - 1)

// Thumbnail choices of $expand=thumbnails.
const (
	thumbsNone = iota
	thumbsAll
	thumbsMedium
)

// driveRender says how items are written.
type driveRender struct {
	sel fieldSet
	// explicit is set when $select was given.
	explicit bool
	inDelta  bool
	thumbs   int
	search   bool
	// now is when download URLs are issued.
	now time.Time
}

// parseDriveSelect parses $select for driveItems. Names match
// case-insensitively; an unknown name answers 400.
func parseDriveSelect(v string) (fieldSet, bool, *graphError) {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultDriveFields, false, nil
	}
	sel, gerr := parseSelect(v, driveFieldNames, defaultDriveFields, "microsoft.graph.driveItem")
	if gerr != nil {
		return 0, true, newError(http.StatusBadRequest, "invalidRequest", gerr.message)
	}
	return sel | 1<<dfID, true, nil
}

// parseDriveExpand accepts thumbnails and thumbnails($select=medium).
func parseDriveExpand(v string) (int, *graphError) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return thumbsNone, nil
	case strings.EqualFold(v, "thumbnails"):
		return thumbsAll, nil
	}
	inner, ok := strings.CutPrefix(strings.ToLower(strings.ReplaceAll(v, " ", "")), "thumbnails(")
	if ok && strings.HasSuffix(inner, ")") {
		opt := strings.TrimSuffix(inner, ")")
		if sel, ok := strings.CutPrefix(opt, "$select="); ok {
			if sel == "medium" {
				return thumbsMedium, nil
			}
			if sel == "small,medium,large" || sel == "" {
				return thumbsAll, nil
			}
		}
	}
	return 0, newError(http.StatusBadRequest, "invalidRequest", "Invalid $expand: only thumbnails (optionally with $select) is supported.")
}

func writeIdentity(b *jsonBuf, mb *mailbox) {
	b.raw(`{"user":{"email":`)
	b.str(mb.upn)
	b.raw(`,"id":`)
	b.str(mb.objectID)
	b.raw(`,"displayName":`)
	b.str(mb.displayName)
	b.raw(`}}`)
}

func (d *drive) writeParentRef(b *jsonBuf, parent *driveItem, inDelta bool) {
	b.raw(`{"driveType":`)
	b.str(d.flavour)
	b.raw(`,"driveId":`)
	b.str(d.id)
	if parent != nil {
		b.raw(`,"id":`)
		b.str(parent.id)
		if !inDelta {
			b.raw(`,"name":`)
			b.str(parent.name)
			b.raw(`,"path":`)
			b.str(pathOf(parent))
		}
	}
	b.byte1('}')
}

// writeDriveItem writes it as Graph does for the flavour and place
// (delta or not). Caller holds the owner's mailbox lock.
func (c *call) writeDriveItem(b *jsonBuf, d *drive, it *driveItem, o *driveRender) {
	first := true
	b.byte1('{')
	business := d.flavour == DriveBusiness
	isFile := !it.isFolder && it.remote == nil
	for f := 0; f < dfCount; f++ {
		if !o.sel.has(f) {
			continue
		}
		switch f {
		case dfDownloadURL:
			if !isFile || (!o.explicit && c.s.opts.Quirks.DriveOmitDownloadURL) {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.str(c.downloadURLFor(d, it, o.now))
		case dfCreated:
			b.key(driveFieldNames[f], &first)
			b.time(it.created)
		case dfETag:
			b.key(driveFieldNames[f], &first)
			b.str(d.eTag(it.id, it.guid, it.version))
		case dfID:
			b.key(driveFieldNames[f], &first)
			b.str(it.id)
		case dfModified:
			b.key(driveFieldNames[f], &first)
			b.time(it.modified)
		case dfName:
			b.key(driveFieldNames[f], &first)
			b.str(it.name)
		case dfWebURL:
			b.key(driveFieldNames[f], &first)
			b.str(d.webURL(it))
		case dfCTag:
			// Business: never in delta, never on folders.
			if business && (o.inDelta || it.isFolder) || it.remote != nil {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.str(d.cTag(it))
		case dfSize:
			b.key(driveFieldNames[f], &first)
			b.b = appendInt64(b.b, d.sizeOf(it))
		case dfCreatedBy, dfModifiedBy:
			if o.search && business && c.s.opts.Quirks.DriveSparseSearch {
				continue
			}
			b.key(driveFieldNames[f], &first)
			writeIdentity(b, d.owner)
		case dfParentRef:
			if o.search && business && c.s.opts.Quirks.DriveSparseSearch {
				continue
			}
			b.key(driveFieldNames[f], &first)
			d.writeParentRef(b, it.parent, o.inDelta)
		case dfFile:
			if !isFile || it.pkg != "" {
				continue
			}
			b.key(driveFieldNames[f], &first)
			if business && c.s.opts.Quirks.DriveOmitMimeType {
				b.raw(`{}`)
				continue
			}
			b.raw(`{"mimeType":`)
			b.str(it.mimeType)
			b.byte1('}')
		case dfFileSystemInfo:
			b.key(driveFieldNames[f], &first)
			b.raw(`{"createdDateTime":`)
			b.time(it.created)
			b.raw(`,"lastModifiedDateTime":`)
			b.time(it.modified)
			b.byte1('}')
		case dfFolder:
			if !it.isFolder || it.pkg != "" {
				continue
			}
			b.key(driveFieldNames[f], &first)
			n := len(it.children)
			if it.remote != nil {
				n = it.remote.childCount
			}
			if o.inDelta && !business {
				// Personal delta reports 0 for every folder.
				n = 0
			}
			b.raw(`{"childCount":`)
			b.int(n)
			b.byte1('}')
		case dfPackage:
			if it.pkg == "" {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{"type":`)
			b.str(it.pkg)
			b.byte1('}')
		case dfRoot:
			if !it.isRoot {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{}`)
		case dfRemoteItem:
			if it.remote == nil {
				continue
			}
			b.key(driveFieldNames[f], &first)
			r := it.remote
			b.raw(`{"id":`)
			b.str(r.id)
			b.raw(`,"name":`)
			b.str(r.name)
			b.raw(`,"folder":{"childCount":`)
			b.int(r.childCount)
			b.raw(`},"parentReference":{"driveId":`)
			b.str(r.driveID)
			b.raw(`,"driveType":"personal"},"webUrl":`)
			b.str(r.webURL)
			b.byte1('}')
		case dfSearchResult:
			if !o.search {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{"onClickTelemetryUrl":`)
			b.str("https://www.bing.com/personalsearchclick?IID=" + it.guid)
			b.byte1('}')
		}
	}
	if o.thumbs != thumbsNone {
		b.key("thumbnails", &first)
		c.writeThumbnails(b, d, it, o)
	}
	b.byte1('}')
}

// thumbnail sizes by longest edge (FILES_FACTS 5).
var thumbnailSizes = []struct {
	name string
	edge int
}{{"large", 800}, {"medium", 176}, {"small", 96}}

func (c *call) writeThumbnails(b *jsonBuf, d *drive, it *driveItem, o *driveRender) {
	if !it.hasThumbnail() {
		b.raw(`[]`)
		return
	}
	b.raw(`[{"id":"0"`)
	for _, s := range thumbnailSizes {
		if o.thumbs == thumbsMedium && s.name != "medium" {
			continue
		}
		b.raw(`,"`)
		b.raw(s.name)
		b.raw(`":{"height":`)
		b.int(s.edge * 3 / 4)
		b.raw(`,"width":`)
		b.int(s.edge)
		b.raw(`,"url":`)
		t := &downloadTicket{business: d.flavour == DriveBusiness, issued: o.now, expires: o.now.Add(c.s.opts.DownloadURLLifetime),
			size: int64(s.edge * 24), seed: contentSeed(it.id+"/thumb/"+s.name, it.contentVersion), ctype: "image/jpeg",
			etag: d.eTag(it.id, it.guid, it.contentVersion), name: "thumbnail.jpg", modified: it.modified}
		b.str(c.signedURL(d, it, t))
		b.byte1('}')
	}
	b.raw(`}]`)
}

// writeDriveTombstone writes a deleted item as delta reports it: business
// without cTag and name, personal without cTag and size; the deleted facet
// only when selected (or without $select).
func (c *call) writeDriveTombstone(b *jsonBuf, d *drive, t *driveTombstone, o *driveRender) {
	first := true
	b.byte1('{')
	business := d.flavour == DriveBusiness
	for f := 0; f < dfCount; f++ {
		if !o.sel.has(f) && !(f == dfDeleted && c.s.opts.Quirks.DriveKeepDeletedFacet) {
			continue
		}
		switch f {
		case dfETag:
			b.key(driveFieldNames[f], &first)
			b.str(d.eTag(t.id, t.guid, t.version))
		case dfID:
			b.key(driveFieldNames[f], &first)
			b.str(t.id)
		case dfModified:
			b.key(driveFieldNames[f], &first)
			b.time(t.modified)
		case dfName:
			if business {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.str(t.name)
		case dfSize:
			if !business {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.b = appendInt64(b.b, t.size)
		case dfParentRef:
			b.key(driveFieldNames[f], &first)
			b.raw(`{"driveType":`)
			b.str(d.flavour)
			b.raw(`,"driveId":`)
			b.str(d.id)
			b.raw(`,"id":`)
			b.str(t.parentID)
			b.byte1('}')
		case dfFile:
			if t.isFolder {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{}`)
		case dfFolder:
			if !t.isFolder || t.pkg != "" {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{"childCount":0}`)
		case dfPackage:
			if t.pkg == "" {
				continue
			}
			b.key(driveFieldNames[f], &first)
			b.raw(`{"type":`)
			b.str(t.pkg)
			b.byte1('}')
		case dfDeleted:
			b.key(driveFieldNames[f], &first)
			b.raw(`{"state":"deleted"}`)
		}
	}
	b.byte1('}')
}

func appendInt64(b []byte, n int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		i--
		tmp[i] = '-'
	}
	return append(b, tmp[i:]...)
}

// downloadURLFor is the pre-authenticated URL of a file's content.
func (c *call) downloadURLFor(d *drive, it *driveItem, now time.Time) string {
	return c.signedURL(d, it, c.ticketFor(d, it, now))
}

func (c *call) ticketFor(d *drive, it *driveItem, now time.Time) *downloadTicket {
	return &downloadTicket{business: d.flavour == DriveBusiness, issued: now, expires: now.Add(c.s.opts.DownloadURLLifetime),
		size: it.size, seed: it.seed, literal: it.literal, ctype: it.mimeType,
		etag: d.eTag(it.id, it.guid, it.version), name: it.name, modified: it.modified}
}

func (c *call) signedURL(d *drive, it *driveItem, t *downloadTicket) string {
	origin := c.s.opts.DownloadOrigin
	if origin == "" {
		origin = c.origin()
	}
	return downloadURL(c.s.downloads.opts.Key, origin, c.s.downloads.opts.Prefix, sharePointUser(d.owner.upn), it.guid, t)
}
