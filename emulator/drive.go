package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file serves the OneDrive surface (FILES_FACTS 1–3, 5):
//
//	GET {me|users/{id}}/drive, /drives/{drive-id}
//	GET …/root, …/items/{id}                      (If-None-Match → 304)
//	GET …/root/children, …/items/{id}/children     ($top, $select, $expand=thumbnails, $orderby, $skiptoken)
//	GET …/root/delta, …/items/{id}/delta (personal only), delta(token='…'), ?token=…|latest
//	GET …/root/search(q='…'), …/drive/search(q='…') (also items shared with the caller)
//	GET …/items/{id}/content                       → 302 to the download host
//
// Errors use OneDrive's codes (itemNotFound, invalidRequest, accessDenied,
// resyncRequired).

// Values of Quirks.DriveResyncCode: the variants FILES_FACTS 1 lists for
// an expired drive delta token.
const (
	// DriveResyncRequired is the observed live body: code resyncRequired.
	DriveResyncRequired = "resyncRequired"
	// DriveResyncApplyDifferences is concepts/errors.md: top-level
	// resyncRequired with inner code resyncApplyDifferences.
	DriveResyncApplyDifferences = "resyncApplyDifferences"
	// DriveResyncUploadDifferences is the same with resyncUploadDifferences.
	DriveResyncUploadDifferences = "resyncUploadDifferences"
	// DriveResyncChangesApplyDifferences is driveitem-delta.md's code.
	DriveResyncChangesApplyDifferences = "resyncChangesApplyDifferences"
	// DriveResyncChangesUploadDifferences is its upload variant.
	DriveResyncChangesUploadDifferences = "resyncChangesUploadDifferences"
	// DriveSyncStateNotFound is concepts/errors.md's syncStateNotFound.
	DriveSyncStateNotFound = "syncStateNotFound"
)

// DefaultDrivePageSize is the page size of children, search and delta
// without $top (Graph's documented default for children).
const DefaultDrivePageSize = 200

// maxDrivePageSize caps $top.
const maxDrivePageSize = 1000

// maxDriveQuery bounds a search query (maxQueryLengthExceeded above).
const maxDriveQuery = 1024

// defaultDeletePageSize is the observed page size when most items are
// deletions.
const defaultDeletePageSize = 7

func (o *Options) normalizeDrive() error {
	if o.DownloadPrefix == "" {
		o.DownloadPrefix = DefaultDownloadPrefix
	}
	o.DownloadPrefix = "/" + strings.Trim(o.DownloadPrefix, "/")
	if o.DownloadPrefix == "/" {
		return fmt.Errorf("download_prefix must not be the root")
	}
	for _, p := range []string{o.BasePath, o.ControlPrefix} {
		if strings.HasPrefix(o.DownloadPrefix+"/", p+"/") || strings.HasPrefix(p+"/", o.DownloadPrefix+"/") {
			return fmt.Errorf("download_prefix %q overlaps %q", o.DownloadPrefix, p)
		}
	}
	if o.DownloadOrigin != "" {
		u, err := url.Parse(o.DownloadOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("download_origin must be scheme://host[:port], got %q", o.DownloadOrigin)
		}
		o.DownloadOrigin = u.Scheme + "://" + u.Host
	}
	if o.DownloadURLLifetime < 0 {
		return fmt.Errorf("download_url_lifetime must not be negative")
	}
	if o.DownloadURLLifetime == 0 {
		o.DownloadURLLifetime = DefaultDownloadURLLifetime
	}
	q := &o.Quirks
	switch q.DriveResyncCode {
	case "":
		q.DriveResyncCode = DriveResyncRequired
	case DriveResyncRequired, DriveResyncApplyDifferences, DriveResyncUploadDifferences,
		DriveResyncChangesApplyDifferences, DriveResyncChangesUploadDifferences, DriveSyncStateNotFound:
	default:
		return fmt.Errorf("drive resync code %q is not one Graph documents", q.DriveResyncCode)
	}
	if q.DriveDeletePageSize == 0 {
		q.DriveDeletePageSize = defaultDeletePageSize
	}
	if q.DownloadRedirects < 0 || q.DownloadRedirects > 20 {
		return fmt.Errorf("download_redirects must be 0 to 20")
	}
	if q.DownloadRedirectOrigin != "" {
		u, err := url.Parse(q.DownloadRedirectOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("download_redirect_origin must be scheme://host[:port], got %q", q.DownloadRedirectOrigin)
		}
		q.DownloadRedirectOrigin = u.Scheme + "://" + u.Host
	}
	switch q.DownloadDeniedStatus {
	case 0:
		q.DownloadDeniedStatus = http.StatusUnauthorized
	case http.StatusUnauthorized, http.StatusForbidden:
	default:
		return fmt.Errorf("download_denied_status must be 401 or 403")
	}
	return nil
}

// seedDemoDrives gives the demo mailbox a business drive, Adele and the
// shared mailbox personal ones, with a folder of the shared mailbox shared
// with Adele.
func seedDemoDrives(demo, adele, shared *mailbox) {
	seedDemoDrive(demo.drive)
	adele.drive = newDrive(adele, DrivePersonal, adele.drive.capacity, adele.drive.generation+1)
	seedSmallDrive(adele.drive, "Adele")
	shared.drive = newDrive(shared, DrivePersonal, shared.drive.capacity, shared.drive.generation+1)
	seedSmallDrive(shared.drive, "Support")
	seedSharedFolder(shared, adele)
}

func errDriveNotFound() *graphError {
	return newError(http.StatusNotFound, "itemNotFound", "The resource could not be found.")
}

func errDriveInvalid(msg string) *graphError {
	return newError(http.StatusBadRequest, "invalidRequest", msg)
}

func errDriveDenied() *graphError {
	return newError(http.StatusForbidden, "accessDenied", "Access denied")
}

// resolveDrives handles /drives/{drive-id}/…: the owner's mailbox becomes
// the addressed one; access is checked per item (owner, delegate, or a
// folder shared with the caller).
func (c *call) resolveDrives(segs []string) ([]string, bool) {
	if len(segs) < 2 {
		c.fail(errDriveInvalid("Listing drives is not supported by the emulator."))
		return nil, false
	}
	driveID := segs[1]
	c.s.mu.RLock()
	all := make([]*mailbox, 0, len(c.s.byToken))
	for _, mb := range c.s.byToken {
		all = append(all, mb)
	}
	c.s.mu.RUnlock()
	for _, mb := range all {
		mb.mu.RLock()
		d := mb.drive
		match := d.id == driveID || d.flavour == DrivePersonal && strings.EqualFold(d.id, driveID)
		mb.mu.RUnlock()
		if match {
			c.mb = mb
			c.principal = "drives/" + url.PathEscape(driveID)
			return append([]string{"drive"}, segs[2:]...), true
		}
	}
	c.fail(errDriveNotFound())
	return nil, false
}

// driveBase is the absolute URL of the addressed drive, for links.
func (c *call) driveBase() string {
	if strings.HasPrefix(c.principal, "drives/") {
		return c.root() + "/" + c.principal
	}
	return c.root() + "/" + c.principal + "/drive"
}

// ownsDrive reports whether the caller may use the whole drive: its owner
// or a delegate. Caller holds c.mb.mu.
func (c *call) ownsDrive() bool {
	return c.mb == c.caller || c.mb.delegates[strings.ToLower(c.caller.upn)]
}

// mayRead reports whether the caller may read it. Caller holds c.mb.mu.
func (c *call) mayRead(it *driveItem) bool {
	if c.ownsDrive() {
		return true
	}
	who := strings.ToLower(c.caller.upn)
	for p := it; p != nil; p = p.parent {
		if p.sharedWith[who] {
			return true
		}
	}
	return false
}

// routeDrive routes the path after …/drive (or /drives/{id}).
func (c *call) routeDrive(segs []string) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.fail(newError(http.StatusMethodNotAllowed, "invalidRequest", "The emulated drive is read-only; use the control API."))
		return
	}
	mb := c.mb
	mb.mu.RLock()
	locked := true
	defer func() {
		if locked {
			mb.mu.RUnlock()
		}
	}()
	d := mb.drive
	if len(segs) == 0 {
		if !c.ownsDrive() {
			c.fail(errDriveDenied())
			return
		}
		c.getDrive(d)
		return
	}
	var it *driveItem
	var rest []string
	switch {
	case eq(segs[0], "root"):
		it, rest = d.root, segs[1:]
	case eq(segs[0], "items") && len(segs) >= 2:
		it, rest = d.item(segs[1]), segs[2:]
		if it == nil && eq(segs[1], "root") {
			it = d.root
		}
	case eq(segs[0], "search"):
		if !c.ownsDrive() {
			c.fail(errDriveDenied())
			return
		}
		// The drive-wide search also finds what others share with the
		// caller; it reads other mailboxes, so it runs unlocked.
		mb.mu.RUnlock()
		locked = false
		c.searchDrive(nil, segs[1:], true)
		return
	case eq(segs[0], "recent") || eq(segs[0], "sharedWithMe"):
		c.fail(errDriveInvalid("The emulator does not offer " + segs[0] + " (deprecated by Microsoft)."))
		return
	default:
		c.fail(errSegmentNotFound(segs[0]))
		return
	}
	if it == nil || !c.mayRead(it) {
		c.fail(errDriveNotFound())
		return
	}
	if len(rest) == 0 {
		c.getDriveItem(d, it)
		return
	}
	switch {
	case eq(rest[0], "children") && len(rest) == 1:
		c.listDriveChildren(d, it)
	case eq(rest[0], "delta"):
		c.driveDelta(d, it, rest[1:])
	case eq(rest[0], "search"):
		c.searchDrive(it, rest[1:], false)
	case eq(rest[0], "content") && len(rest) == 1:
		mb.mu.RUnlock()
		locked = false
		c.driveContent(d, it)
	case eq(rest[0], "thumbnails") && len(rest) == 1:
		c.listThumbnails(d, it)
	default:
		c.fail(errSegmentNotFound(rest[0]))
	}
}

func (c *call) getDrive(d *drive) {
	var b jsonBuf
	first := true
	b.byte1('{')
	b.key("@odata.context", &first)
	b.str(c.metadata("drives/$entity"))
	b.key("id", &first)
	b.str(d.id)
	b.key("driveType", &first)
	b.str(d.flavour)
	b.key("name", &first)
	b.str("OneDrive")
	b.key("webUrl", &first)
	b.str(d.webURL(d.root))
	b.key("createdDateTime", &first)
	b.time(d.root.created)
	b.key("lastModifiedDateTime", &first)
	b.time(d.root.modified)
	b.key("owner", &first)
	writeIdentity(&b, d.owner)
	b.key("quota", &first)
	used := d.sizeOf(d.root)
	total := int64(1 << 40)
	b.raw(`{"deleted":0,"remaining":`)
	b.b = appendInt64(b.b, total-used)
	b.raw(`,"state":"normal","total":`)
	b.b = appendInt64(b.b, total)
	b.raw(`,"used":`)
	b.b = appendInt64(b.b, used)
	b.raw(`}}`)
	c.reply(http.StatusOK, b.b)
}

// notModified answers 304 when If-None-Match names it's eTag or cTag.
func (c *call) notModified(d *drive, it *driveItem) bool {
	inm := c.r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	etag, ctag := d.eTag(it.id, it.guid, it.version), d.cTag(it)
	// Business tags hold a comma themselves, so the whole value is tried
	// before the list.
	for _, v := range append([]string{inm}, strings.Split(inm, ",")...) {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag || v == ctag {
			c.w.Header().Set("ETag", etag)
			c.w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func (c *call) getDriveItem(d *drive, it *driveItem) {
	sel, explicit, gerr := parseDriveSelect(c.query["$select"])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	thumbs, gerr := parseDriveExpand(c.query["$expand"])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if c.notModified(d, it) {
		return
	}
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata("drives('" + d.id + "')/items/$entity"))
	b.byte1(',')
	mark := len(b.b)
	c.writeDriveItem(b, d, it, &driveRender{sel: sel, explicit: explicit, thumbs: thumbs, now: c.now})
	// Merge the item object into the context object.
	b.b = append(b.b[:mark], b.b[mark+1:]...)
	c.reply(http.StatusOK, b.b)
}

// drivePage reads $top and $skiptoken of children and search.
func (c *call) drivePage() (top, offset int, gerr *graphError) {
	top = DefaultDrivePageSize
	if v, ok := c.query["$top"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, errDriveInvalid("Invalid $top value.")
		}
		top = min(n, maxDrivePageSize)
	}
	if v, ok := c.query["$skiptoken"]; ok {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "skip:"))
		if err != nil || err2 != nil || n < 0 || !strings.HasPrefix(string(raw), "skip:") {
			return 0, 0, errDriveInvalid("Invalid $skiptoken.")
		}
		offset = n
	}
	return top, offset, nil
}

// pageLink is the request URL with $skiptoken set to offset, the other
// query options kept as sent.
func (c *call) pageLink(offset int) string {
	var kept []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if kv == "" || strings.EqualFold(k, "$skiptoken") || strings.EqualFold(k, "%24skiptoken") {
			continue
		}
		kept = append(kept, kv)
	}
	kept = append(kept, "$skiptoken="+base64.RawURLEncoding.EncodeToString([]byte("skip:"+strconv.Itoa(offset))))
	return c.origin() + c.r.URL.EscapedPath() + "?" + strings.Join(kept, "&")
}

// parseDriveOrderBy checks $orderby: business drives sort by name only.
func (c *call) parseDriveOrderBy(d *drive) (field string, desc bool, gerr *graphError) {
	v := strings.Join(strings.Fields(c.query["$orderby"]), " ")
	if v == "" {
		return "name", false, nil
	}
	name, dir, _ := strings.Cut(v, " ")
	switch strings.ToLower(dir) {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return "", false, errDriveInvalid("Invalid $orderby direction '" + dir + "'.")
	}
	allowed := []string{"name"}
	if d.flavour == DrivePersonal || c.s.opts.Quirks.DriveBusinessAnyOrder {
		allowed = append(allowed, "lastModifiedDateTime", "size")
	}
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return a, desc, nil
		}
	}
	if d.flavour == DriveBusiness && !c.s.opts.Quirks.DriveBusinessAnyOrder {
		return "", false, errDriveInvalid("$orderby is only supported on 'name' for this drive.")
	}
	return "", false, errDriveInvalid("Invalid $orderby property '" + name + "'.")
}

func (c *call) listDriveChildren(d *drive, it *driveItem) {
	if !it.isFolder || it.remote != nil {
		if it.remote != nil {
			c.fail(errDriveInvalid("Use the remote item's drive to list a shared folder."))
			return
		}
		c.fail(errDriveNotFound())
		return
	}
	sel, explicit, gerr := parseDriveSelect(c.query["$select"])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	thumbs, gerr := parseDriveExpand(c.query["$expand"])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	field, desc, gerr := c.parseDriveOrderBy(d)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	top, offset, gerr := c.drivePage()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if c.notModified(d, it) {
		return
	}
	kids := append([]*driveItem(nil), it.children...)
	sort.SliceStable(kids, func(i, j int) bool {
		a, b := kids[i], kids[j]
		var less bool
		switch field {
		case "lastModifiedDateTime":
			if a.modified.Equal(b.modified) {
				return a.id < b.id != desc
			}
			less = a.modified.Before(b.modified)
		case "size":
			sa, sb := d.sizeOf(a), d.sizeOf(b)
			if sa == sb {
				return a.id < b.id != desc
			}
			less = sa < sb
		default:
			la, lb := strings.ToLower(a.name), strings.ToLower(b.name)
			if la == lb {
				return a.id < b.id != desc
			}
			less = la < lb
		}
		return less != desc
	})
	c.writeItemPage(d, kids, offset, top, "Collection(driveItem)", &driveRender{sel: sel, explicit: explicit, thumbs: thumbs, now: c.now})
}

// writeItemPage writes items[offset:offset+top] with a nextLink when more
// remain.
func (c *call) writeItemPage(d *drive, items []*driveItem, offset, top int, context string, o *driveRender) {
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata(context))
	end := min(offset+top, len(items))
	if end < len(items) {
		b.raw(`,"@odata.nextLink":`)
		b.str(c.pageLink(end))
	}
	b.raw(`,"value":[`)
	for i := offset; i < end; i++ {
		if i > offset {
			b.byte1(',')
		}
		c.writeDriveItem(b, d, items[i], o)
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}

func (c *call) listThumbnails(d *drive, it *driveItem) {
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata("Collection(thumbnailSet)"))
	b.raw(`,"value":`)
	c.writeThumbnails(b, d, it, &driveRender{thumbs: thumbsAll, now: c.now})
	b.raw(`}`)
	c.reply(http.StatusOK, b.b)
}

// driveContent answers /content: 302 to the download host (or, with the
// DriveContentDirect quirk, 200 with the bytes). It runs without the lock:
// it takes what it needs under a read lock first.
func (c *call) driveContent(d *drive, it *driveItem) {
	mb := c.mb
	mb.mu.RLock()
	if it.deleted {
		mb.mu.RUnlock()
		c.fail(errDriveNotFound())
		return
	}
	if it.isFolder || it.remote != nil {
		mb.mu.RUnlock()
		c.fail(errDriveInvalid("The item is a folder; only files have content."))
		return
	}
	if c.notModified(d, it) {
		mb.mu.RUnlock()
		return
	}
	t := c.ticketFor(d, it, c.now)
	location := c.signedURL(d, it, t)
	mb.mu.RUnlock()
	if c.s.opts.Quirks.DriveContentDirect {
		c.w.Header().Del("Cache-Control")
		serveTicket(c.w, c.r, t, true)
		return
	}
	c.w.Header().Set("Location", location)
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusFound)
}

// parseSearchLiteral reads q='…' from a search(…) key: an OData string
// literal whose single quotes are doubled. Anything else is a syntax
// error (400), as is a '/' in the text.
func parseSearchLiteral(key string) (string, *graphError) {
	v, ok := strings.CutPrefix(key, "q=")
	if !ok {
		return "", errDriveInvalid("Syntax error: search needs q='<text>'.")
	}
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", errDriveInvalid("Syntax error at position 0 in search query: the text must be a quoted string literal.")
	}
	inner := v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\'' {
			if i+1 < len(inner) && inner[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return "", errDriveInvalid("Syntax error at position " + strconv.Itoa(i+3) + ": a single quote in the text must be doubled.")
		}
		b.WriteByte(inner[i])
	}
	q := b.String()
	if strings.Contains(q, "/") {
		return "", errDriveInvalid("Invalid request: '/' is not allowed in the search text.")
	}
	if len(q) > maxDriveQuery {
		return "", newError(http.StatusBadRequest, "maxQueryLengthExceeded", "The search query is too long.")
	}
	return q, nil
}

// searchHit is one search result, rendered.
type searchHit struct {
	score int
	at    time.Time
	id    string
	json  []byte
}

// searchDrive serves search(q='…') on a folder (it) or, with it nil, the
// drive (also items shared with the caller). Matching: every word of the
// text appears in the name (or a text file's content), case-insensitively.
// Results come in relevance order: names starting with the first word,
// then newest first.
func (c *call) searchDrive(it *driveItem, segs []string, driveWide bool) {
	if len(segs) != 1 {
		c.fail(errDriveInvalid("Syntax error: search needs q='<text>'."))
		return
	}
	q, gerr := parseSearchLiteral(segs[0])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	sel, explicit, gerr := parseDriveSelect(c.query["$select"])
	if gerr != nil {
		c.fail(gerr)
		return
	}
	top, offset, gerr := c.drivePage()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	words := strings.Fields(strings.ToLower(q))
	o := &driveRender{sel: sel | 1<<dfSearchResult, explicit: explicit, search: true, now: c.now}
	var hits []searchHit
	collect := func(mb *mailbox, scope *driveItem, shared bool) {
		d := mb.drive
		walkDrive(scope, func(x *driveItem) {
			if x == scope && (x.isRoot || shared) || len(words) == 0 {
				return
			}
			name := strings.ToLower(x.name)
			for _, w := range words {
				if !strings.Contains(name, w) && !strings.Contains(strings.ToLower(string(x.literal)), w) {
					return
				}
			}
			score := 1
			if strings.HasPrefix(name, words[0]) {
				score = 0
			}
			var b jsonBuf
			if shared {
				c.writeSharedHit(&b, d, x, o)
			} else {
				c.writeDriveItem(&b, d, x, o)
			}
			hits = append(hits, searchHit{score: score, at: x.modified, id: x.id, json: b.b})
		})
	}
	if !driveWide {
		collect(c.mb, it, false)
	} else {
		c.mb.mu.RLock()
		collect(c.mb, c.mb.drive.root, false)
		c.mb.mu.RUnlock()
		c.s.mu.RLock()
		others := make([]*mailbox, 0, len(c.s.byToken))
		for _, mb := range c.s.byToken {
			if mb != c.mb {
				others = append(others, mb)
			}
		}
		c.s.mu.RUnlock()
		who := strings.ToLower(c.caller.upn)
		for _, mb := range others {
			mb.mu.RLock()
			walkDrive(mb.drive.root, func(x *driveItem) {
				if x.sharedWith[who] {
					collect(mb, x, true)
				}
			})
			mb.mu.RUnlock()
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score < hits[j].score
		}
		if !hits[i].at.Equal(hits[j].at) {
			return hits[i].at.After(hits[j].at)
		}
		return hits[i].id < hits[j].id
	})
	b := pooledBuf()
	defer b.release()
	b.raw(`{"@odata.context":`)
	b.str(c.metadata("Collection(driveItem)"))
	end := min(offset+top, len(hits))
	if end < len(hits) {
		b.raw(`,"@odata.nextLink":`)
		b.str(c.pageLink(end))
	}
	b.raw(`,"value":[`)
	for i := offset; i < end; i++ {
		if i > offset {
			b.byte1(',')
		}
		b.rawBytes(hits[i].json)
	}
	b.raw(`]}`)
	c.reply(http.StatusOK, b.b)
}

// writeSharedHit writes an item of someone else's drive as the drive-wide
// search shows it: with a remoteItem facet pointing at the original.
func (c *call) writeSharedHit(b *jsonBuf, d *drive, x *driveItem, o *driveRender) {
	b.raw(`{"id":`)
	b.str(x.id)
	b.raw(`,"name":`)
	b.str(x.name)
	b.raw(`,"lastModifiedDateTime":`)
	b.time(x.modified)
	b.raw(`,"size":`)
	b.b = appendInt64(b.b, d.sizeOf(x))
	b.raw(`,"webUrl":`)
	b.str(d.webURL(x))
	b.raw(`,"remoteItem":{"id":`)
	b.str(x.id)
	b.raw(`,"name":`)
	b.str(x.name)
	if x.isFolder {
		b.raw(`,"folder":{"childCount":`)
		b.int(len(x.children))
		b.byte1('}')
	} else {
		b.raw(`,"file":{"mimeType":`)
		b.str(x.mimeType)
		b.byte1('}')
	}
	b.raw(`,"size":`)
	b.b = appendInt64(b.b, d.sizeOf(x))
	b.raw(`,"parentReference":`)
	d.writeParentRef(b, x.parent, true)
	b.raw(`},"searchResult":{"onClickTelemetryUrl":`)
	b.str("https://www.bing.com/personalsearchclick?IID=" + x.guid)
	b.raw(`}}`)
}
