package translate

import (
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// This file holds the file commands (DEVICE_API.md §8; their rows are in
// table.go), on the user's drive ({root} = /me/drive, /users/{mailbox}/drive,
// or /drives/{drive} with the drive argument):
//
//	files.sync   → GET {root}/root/delta?$select=…&$top={window}[&token=latest]   (delta sync)
//	files.list   → GET {root}/root/children (or /items/{folder}/children)?$select=…&$top=…&$orderby=name[&$expand=thumbnails($select=medium)]
//	files.search → GET {root}/root/search(q='…') (scope all: {root}/search(q='…'))?$select=…&$top=…
//	files.link   → GET {root}/items/{id}?$select=id,size,eTag,file,@microsoft.graph.downloadUrl
//
// File: {"id","name","parent","drive","size","modified","etag","mime","kind",
// "children","root","remote","thumb","web"} ← id, name, parentReference.id,
// parentReference.driveId, size, lastModifiedDateTime, eTag, file.mimeType,
// file|folder|package → kind, folder.childCount, root (present → true),
// remoteItem → {drive, id}, thumbnails[0].medium → {url, w, h}, webUrl.
// Absent facets are omitted. Items are read in one validating pass with a
// jreader, their values kept as tokens of the answer and written in device
// order: nothing is decoded into maps or structs of strings.

// Limits of the file commands.
const (
	// maxDriveIDLen bounds drive and item ids (§8: 1–256 characters).
	maxDriveIDLen = 256
	// maxFileQueryRunes bounds files.search's query, in characters.
	maxFileQueryRunes = 255
	// maxEtagLen bounds files.list's etag argument, in bytes.
	maxEtagLen = 512
)

// Messages of the file commands.
const (
	msgBadDrive       = "drive must be 1-256 characters of [A-Za-z0-9!._~=-]"
	msgBadDriveFolder = "folder must be a drive item id: 1-256 characters of [A-Za-z0-9!._~=-]"
	msgMissingFileID  = "id is required"
	msgBadFileID      = "id must be a drive item id: 1-256 characters of [A-Za-z0-9!._~=-]"
	msgBadFrom        = `from must be "now"`
	msgBadThumbs      = "thumbs must be a boolean"
	msgBadEtag        = "etag must be 1-512 characters of printable ASCII"
	msgBadFileQuery   = "query must be 1-255 characters of text without control characters"
	msgBadFileScope   = "scope must be drive or all"
	msgNoDownloadURL  = "the item has no content to download (a folder or a package)"
)

// fileFlags are the options of a file command that shape its first call.
type fileFlags uint8

const (
	// fileFromNow: files.sync starts at the present (token=latest).
	fileFromNow fileFlags = 1 << iota
	// fileThumbs: files.list expands the medium thumbnails.
	fileThumbs
	// fileScopeAll: files.search also finds items shared with the user.
	fileScopeAll
)

// fileFieldsFixed is the (fixed) field set sealed into the states of the
// file commands and attachments.recent: they always carry every field.
const fileFieldsFixed fieldSet = 1

// isFileFields reports whether a file command's state carries its field set.
func isFileFields(f fieldSet) bool { return f == fileFieldsFixed }

// fileSyncSelect is files.sync's fixed $select: without deleted in it,
// Graph drops the deleted facet from tombstones.
const fileSyncSelect = "$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl"

// fileListSelect is the $select of files.list and files.search.
const fileListSelect = "$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,webUrl"

// fileLinkSelect is the $select of files.link and of the streaming
// endpoint's item call.
const fileLinkSelect = "$select=id,size,eTag,file,@microsoft.graph.downloadUrl"

// validDriveID reports whether s is a drive or drive item id: 1–256
// characters of [A-Za-z0-9!._~=-], and not only dots (which could act as
// a dot segment however it is escaped).
func validDriveID(s string) bool {
	if len(s) == 0 || len(s) > maxDriveIDLen {
		return false
	}
	dots := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '!' && c != '.' && c != '_' && c != '~' && c != '=' && c != '-' {
			return false
		}
		if c != '.' {
			dots = false
		}
	}
	return !dots
}

// foldDriveID returns the form of a drive or item id a state scope compares:
// personal drive ids (16 hex digits) and the item ids built on them
// ({drive}!{n}) compare case-insensitively, so they are lower-cased;
// business ids (b!…, and items without '!') are kept as they are.
func foldDriveID(s string) string {
	if strings.HasPrefix(s, "b!") {
		return s
	}
	if strings.IndexByte(s, '!') >= 0 || (len(s) == 16 && isHexString(s)) {
		return lowerASCII(s)
	}
	return s
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// parseDriveArg reads the drive argument shared by every file command.
func parseDriveArg(c *command, a *argValues) *Error {
	if !a.drive.Exists() {
		return nil
	}
	if a.drive.Type != gjson.String || !validDriveID(a.drive.Str) {
		return invalidArgs(msgBadDrive)
	}
	c.drive = a.drive.Str
	return nil
}

// parseFilesSyncArgs validates files.sync's drive and from.
func parseFilesSyncArgs(c *command, a *argValues) *Error {
	if err := parseDriveArg(c, a); err != nil {
		return err
	}
	if a.from.Exists() {
		if a.from.Type != gjson.String || a.from.Str != "now" {
			return invalidArgs(msgBadFrom)
		}
		c.fileOpts |= fileFromNow
	}
	c.fields = fileFieldsFixed
	return nil
}

// parseFilesListArgs validates files.list's drive, folder, thumbs and etag.
func parseFilesListArgs(c *command, a *argValues) *Error {
	if err := parseDriveArg(c, a); err != nil {
		return err
	}
	if a.folder.Exists() {
		if a.folder.Type != gjson.String || !validDriveID(a.folder.Str) {
			return invalidArgs(msgBadDriveFolder)
		}
		c.folder = a.folder.Str
	}
	if a.thumbs.Exists() {
		switch a.thumbs.Type {
		case gjson.True:
			c.fileOpts |= fileThumbs
		case gjson.False:
		default:
			return invalidArgs(msgBadThumbs)
		}
	}
	if a.etag.Exists() {
		if a.etag.Type != gjson.String || !validEtag(a.etag.Str) {
			return invalidArgs(msgBadEtag)
		}
		// Only the first call is conditional: a state continues a listing.
		if !a.state.Exists() {
			c.ifNoneMatch = a.etag.Str
		}
	}
	c.fields = fileFieldsFixed
	return nil
}

// validEtag accepts 1–512 bytes of printable ASCII (space included, not at
// either end): an entity tag as Graph gave it, quotes and all, that cannot
// break out of its header.
func validEtag(s string) bool {
	if len(s) == 0 || len(s) > maxEtagLen || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// parseFilesSearchArgs validates files.search's drive, query and scope.
func parseFilesSearchArgs(c *command, a *argValues) *Error {
	if err := parseDriveArg(c, a); err != nil {
		return err
	}
	if !a.query.Exists() {
		return invalidArgs(msgMissingQuery)
	}
	if a.query.Type != gjson.String || !validFileQuery(a.query.Str) {
		return invalidArgs(msgBadFileQuery)
	}
	c.search = a.query.Str
	if a.scope.Exists() {
		switch {
		case a.scope.Type != gjson.String:
			return invalidArgs(msgBadFileScope)
		case a.scope.Str == "drive":
		case a.scope.Str == "all":
			c.fileOpts |= fileScopeAll
		default:
			return invalidArgs(msgBadFileScope)
		}
	}
	c.fields = fileFieldsFixed
	return nil
}

// validFileQuery accepts 1–255 characters of valid UTF-8 without control
// characters, holding something besides spaces once '/' and '\' are spaces.
func validFileQuery(s string) bool {
	if len(s) == 0 || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxFileQueryRunes {
		return false
	}
	blank := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
		if r != ' ' && r != '/' && r != '\\' {
			blank = false
		}
	}
	return !blank
}

// parseFilesLinkArgs validates files.link's drive and id.
func parseFilesLinkArgs(c *command, a *argValues) *Error {
	if err := parseDriveArg(c, a); err != nil {
		return err
	}
	if !a.id.Exists() {
		return invalidArgs(msgMissingFileID)
	}
	if a.id.Type != gjson.String || !validDriveID(a.id.Str) {
		return invalidArgs(msgBadFileID)
	}
	c.msgID = a.id.Str
	return nil
}

// driveScope is the state scope part every file command shares: the
// mailbox and the drive.
func driveScope(c *command) string { return lowerASCII(c.mailbox) + "\x00" + foldDriveID(c.drive) }

// filesSyncScope binds a files.sync state to its mailbox and drive.
func filesSyncScope(c *command) string { return driveScope(c) }

// filesListScope binds a files.list state to its mailbox, drive and folder.
func filesListScope(c *command) string { return driveScope(c) + "\x00" + foldDriveID(c.folder) }

// filesSearchScope binds a files.search state to its mailbox, drive, scope and query.
func filesSearchScope(c *command) string {
	s := driveScope(c) + "\x00drive\x00"
	if c.fileOpts&fileScopeAll != 0 {
		s = driveScope(c) + "\x00all\x00"
	}
	return s + c.search
}

// appendDriveRoot appends /drives/{drive}, or /me/drive or /users/{mailbox}/drive.
func appendDriveRoot(b []byte, mailbox, drive string) []byte {
	if drive != "" {
		b = append(b, "/drives/"...)
		return appendPathSegment(b, drive)
	}
	b = appendRoot(b, mailbox)
	return append(b, "/drive"...)
}

func filesSyncPath(b []byte, c *command) []byte {
	b = appendDriveRoot(b, c.mailbox, c.drive)
	return append(b, "/root/delta"...)
}

// filesSyncQuery appends the fixed $select, $top and, for from now, token=latest.
func filesSyncQuery(b []byte, c *command) []byte {
	b = append(b, fileSyncSelect...)
	b = append(b, "&$top="...)
	b = appendInt(b, c.window)
	if c.fileOpts&fileFromNow != 0 {
		b = append(b, "&token=latest"...)
	}
	return b
}

func filesListPath(b []byte, c *command) []byte {
	b = appendDriveRoot(b, c.mailbox, c.drive)
	if c.folder == "" {
		return append(b, "/root/children"...)
	}
	b = append(b, "/items/"...)
	b = appendPathSegment(b, c.folder)
	return append(b, "/children"...)
}

// filesListQuery appends $select, $top, $orderby=name (business drives
// order by nothing else) and, for thumbs, the medium thumbnails.
func filesListQuery(b []byte, c *command) []byte {
	b = append(b, fileListSelect...)
	b = append(b, "&$top="...)
	b = appendInt(b, c.window)
	b = append(b, "&$orderby=name"...)
	if c.fileOpts&fileThumbs != 0 {
		b = append(b, "&$expand=thumbnails($select=medium)"...)
	}
	return b
}

func filesSearchPath(b []byte, c *command) []byte {
	b = appendDriveRoot(b, c.mailbox, c.drive)
	if c.fileOpts&fileScopeAll == 0 {
		b = append(b, "/root"...)
	}
	b = append(b, "/search(q='"...)
	b = appendFileQuery(b, c.search)
	return append(b, "')"...)
}

// appendFileQuery appends the text of search(q='…'): '/' and '\' become
// spaces (Graph routes an escaped '/' as a separator), single quotes are
// doubled (the OData string literal's escape), then every byte outside
// [A-Za-z0-9-._~] is percent-encoded, the doubled quotes included.
func appendFileQuery(b []byte, q string) []byte {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '/' || c == '\\':
			b = append(b, "%20"...)
		case c == '\'':
			b = append(b, "%27%27"...)
		case isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~':
			b = append(b, c)
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return b
}

func filesSearchQuery(b []byte, c *command) []byte {
	b = append(b, fileListSelect...)
	b = append(b, "&$top="...)
	return appendInt(b, c.window)
}

func filesLinkPath(b []byte, c *command) []byte {
	b = appendDriveRoot(b, c.mailbox, c.drive)
	b = append(b, "/items/"...)
	return appendPathSegment(b, c.msgID)
}

func filesLinkQuery(b []byte, _ *command) []byte { return append(b, fileLinkSelect...) }

// dropLatestToken removes a token=latest parameter from a files.sync link
// before it is sealed: a link that still carries it (as Graph's may, next
// to the new token) would start again from "latest" when it is replayed,
// and the changes in between would be lost.
func dropLatestToken(rel string) string {
	q := strings.IndexByte(rel, '?')
	if q < 0 || !hasLatestToken(rel[q+1:]) {
		return rel // the common case: nothing to drop, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(rel))
	b.WriteString(rel[:q])
	sep := byte('?')
	for rest := rel[q+1:]; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if kv == "" || isLatestToken(kv) {
			continue
		}
		b.WriteByte(sep)
		b.WriteString(kv)
		sep = '&'
	}
	return b.String()
}

// hasLatestToken reports whether a query holds a token=latest parameter.
func hasLatestToken(query string) bool {
	for rest := query; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if isLatestToken(kv) {
			return true
		}
	}
	return false
}

// isLatestToken reports whether a query parameter is token=latest.
func isLatestToken(kv string) bool {
	k, v, ok := strings.Cut(kv, "=")
	return ok && k == "token" && (equalFoldASCII(v, "latest") || equalFoldASCII(v, "'latest'") || equalFoldASCII(v, "%27latest%27"))
}

// File kinds, from the file, folder and package facets.
const (
	fileKindNone uint8 = iota
	fileKindFile
	fileKindFolder
	fileKindPackage
)

var fileKindNames = [...]string{fileKindFile: `"file"`, fileKindFolder: `"folder"`, fileKindPackage: `"package"`}

// fileValues holds the Graph values of one drive item, as tokens of the answer.
type fileValues struct {
	id, name, size, modified, etag, web gjson.Result
	parent, drive                       gjson.Result // parentReference.id, .driveId
	mime, children                      gjson.Result // file.mimeType, folder.childCount
	remoteID, remoteDrive               gjson.Result // remoteItem.id, .parentReference.driveId
	thumbURL, thumbW, thumbH            gjson.Result // thumbnails[0].medium
	kind, remoteKind                    uint8
	root, deleted, remote               bool
}

// readFile reads the members of the drive item object r has entered.
func readFile(r *jreader, v *fileValues) {
	*v = fileValues{}
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "id":
			v.id = r.value()
		case "name":
			v.name = r.value()
		case "size":
			v.size = r.value()
		case "lastModifiedDateTime":
			v.modified = r.value()
		case "eTag":
			v.etag = r.value()
		case "webUrl":
			v.web = r.value()
		case "parentReference":
			readParentRef(r, &v.parent, &v.drive)
		case "file":
			if r.enter('{') {
				setKind(&v.kind, fileKindFile)
				v.mime = readMember(r, "mimeType")
			}
		case "folder":
			if r.enter('{') {
				setKind(&v.kind, fileKindFolder)
				v.children = readMember(r, "childCount")
			}
		case "package":
			if r.enter('{') {
				v.kind = fileKindPackage
				readMember(r, "")
			}
		case "root":
			if r.enter('{') {
				v.root = true
				readMember(r, "")
			}
		case "deleted":
			if r.enter('{') {
				v.deleted = true
				readMember(r, "")
			}
		case "remoteItem":
			readRemoteItem(r, v)
		case "thumbnails":
			readThumbnails(r, v)
		default:
			r.skip()
		}
	}
}

// setKind sets a file or folder kind unless the item is a package.
func setKind(kind *uint8, k uint8) {
	if *kind != fileKindPackage {
		*kind = k
	}
}

// readMember reads the rest of the object r has entered and returns the
// value of its member name (the last one; absent when name is "").
func readMember(r *jreader, name string) gjson.Result {
	var v gjson.Result
	for k := 0; r.more('}', k); k++ {
		if key := r.key(); name != "" && key == name {
			v = r.value()
		} else {
			r.skip()
		}
	}
	return v
}

// readParentRef reads an itemReference's id and driveId.
func readParentRef(r *jreader, id, drive *gjson.Result) {
	if !r.enter('{') {
		return
	}
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "id":
			*id = r.value()
		case "driveId":
			*drive = r.value()
		default:
			r.skip()
		}
	}
}

// readRemoteItem reads a remoteItem's id, its parentReference.driveId and
// its kind (used when the item itself has no facet).
func readRemoteItem(r *jreader, v *fileValues) {
	if !r.enter('{') {
		return
	}
	v.remote = true
	var unusedID gjson.Result
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "id":
			v.remoteID = r.value()
		case "parentReference":
			readParentRef(r, &unusedID, &v.remoteDrive)
		case "file":
			if r.enter('{') {
				setKind(&v.remoteKind, fileKindFile)
				readMember(r, "")
			}
		case "folder":
			if r.enter('{') {
				setKind(&v.remoteKind, fileKindFolder)
				readMember(r, "")
			}
		case "package":
			if r.enter('{') {
				v.remoteKind = fileKindPackage
				readMember(r, "")
			}
		default:
			r.skip()
		}
	}
}

// readThumbnails reads the medium thumbnail of the first thumbnail set.
func readThumbnails(r *jreader, v *fileValues) {
	if !r.enter('[') {
		return
	}
	for k := 0; r.more(']', k); k++ {
		if k > 0 {
			r.skip()
			continue
		}
		if !r.enter('{') {
			continue // enter skipped the value
		}
		for k2 := 0; r.more('}', k2); k2++ {
			if r.key() != "medium" {
				r.skip()
				continue
			}
			if !r.enter('{') {
				continue // enter skipped the value
			}
			for k3 := 0; r.more('}', k3); k3++ {
				switch r.key() {
				case "url":
					v.thumbURL = r.value()
				case "width":
					v.thumbW = r.value()
				case "height":
					v.thumbH = r.value()
				default:
					r.skip()
				}
			}
		}
	}
}

// appendFile writes the device form of a collected drive item; absent,
// null and ill-typed values are omitted. children only when withChildren
// (files.sync never sends it: personal delta reports 0 for every folder).
func appendFile(dst []byte, v *fileValues, withChildren bool) []byte {
	first := true
	dst = append(dst, '{')
	dst = appendStringMember(dst, &first, "id", v.id)
	dst = appendStringMember(dst, &first, "name", v.name)
	dst = appendStringMember(dst, &first, "parent", v.parent)
	dst = appendStringMember(dst, &first, "drive", v.drive)
	dst = appendCountMember(dst, &first, "size", v.size)
	dst = appendStringMember(dst, &first, "modified", v.modified)
	dst = appendStringMember(dst, &first, "etag", v.etag)
	dst = appendStringMember(dst, &first, "mime", v.mime)
	kind := v.kind
	if kind == fileKindNone {
		kind = v.remoteKind
	}
	if kind != fileKindNone {
		dst = appendKey(dst, &first, "kind")
		dst = append(dst, fileKindNames[kind]...)
	}
	if withChildren && v.kind == fileKindFolder {
		dst = appendCountMember(dst, &first, "children", v.children)
	}
	if v.root {
		dst = appendKey(dst, &first, "root")
		dst = append(dst, "true"...)
	}
	if v.remote && v.remoteID.Type == gjson.String {
		dst = appendKey(dst, &first, "remote")
		inner := true
		dst = append(dst, '{')
		dst = appendStringMember(dst, &inner, "drive", v.remoteDrive)
		dst = appendStringMember(dst, &inner, "id", v.remoteID)
		dst = append(dst, '}')
	}
	if v.thumbURL.Type == gjson.String {
		dst = appendKey(dst, &first, "thumb")
		inner := true
		dst = append(dst, '{')
		dst = appendStringMember(dst, &inner, "url", v.thumbURL)
		dst = appendCountMember(dst, &inner, "w", v.thumbW)
		dst = appendCountMember(dst, &inner, "h", v.thumbH)
		dst = append(dst, '}')
	}
	dst = appendStringMember(dst, &first, "web", v.web)
	return append(dst, '}')
}

// appendStringMember writes "name":v when v is a string.
func appendStringMember(dst []byte, first *bool, name string, v gjson.Result) []byte {
	if v.Type != gjson.String {
		return dst
	}
	dst = appendKey(dst, first, name)
	return appendStringToken(dst, v)
}

// appendCountMember writes "name":v when v is a whole number from 0 to 2^53.
func appendCountMember(dst []byte, first *bool, name string, v gjson.Result) []byte {
	if !isCount(v) {
		return dst
	}
	dst = appendKey(dst, first, name)
	return appendInt(dst, int(v.Num))
}

// isCount reports whether v is a whole number from 0 to 2^53.
func isCount(v gjson.Result) bool {
	return v.Type == gjson.Number && v.Num >= 0 && v.Num <= 1<<53 && v.Num == float64(int64(v.Num))
}

// appendFileChanges writes the changes of a files.sync delta page's value
// array, read from r in the single validating pass of appendSyncData. An
// item with the deleted facet is a delete, whatever else it lacks
// (business tombstones have no name, personal ones no size).
func appendFileChanges(_ *Plan, b []byte, _ *command, r *jreader) ([]byte, *Error) {
	if !r.enter('[') {
		return b, upstreamMalformed()
	}
	var v fileValues
	n := 0
	for k := 0; r.more(']', k); k++ {
		if !r.enter('{') {
			continue // not an object: skipped
		}
		readFile(r, &v)
		if v.id.Type != gjson.String {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		if v.deleted {
			b = append(b, `{"op":"delete","id":`...)
			b = appendStringToken(b, v.id)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"op":"upsert","file":`...)
		b = appendFile(b, &v, false)
		b = append(b, '}')
	}
	return b, nil
}

// appendFilesPageData writes {"files":[…],"state"?,"more"} for one page of
// files.list or files.search. The state is there exactly when more is
// true; a nextLink must pass the same checks as a sync link.
func (p *Plan) appendFilesPageData(b []byte, c *command, page gjson.Result) ([]byte, *Error) {
	r := jreader{s: page.Raw, max: maxUpstreamDepth}
	if !r.enter('{') {
		return b, upstreamMalformed()
	}
	b = append(b, `{"files":[`...)
	itemsAt := len(b)
	var next gjson.Result
	var v fileValues
	for k := 0; r.more('}', k); k++ {
		switch r.key() {
		case "value":
			b = b[:itemsAt] // a repeated "value" member: the last one counts
			if !r.enter('[') {
				return b, upstreamMalformed()
			}
			n := 0
			for k2 := 0; r.more(']', k2); k2++ {
				if !r.enter('{') {
					continue
				}
				readFile(&r, &v)
				if v.id.Type != gjson.String || v.deleted {
					continue
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				b = appendFile(b, &v, true)
			}
		case "@odata.nextLink":
			next = r.value()
		default:
			r.skip()
		}
	}
	if !r.end() {
		return b, upstreamMalformed()
	}
	b = append(b, ']')
	return p.appendPageEnd(b, c, next)
}

// appendPageEnd writes ,"state":"…" (when next is a link) and ,"more":…}
// for a paged answer; next must be absent, null or a link within the
// configured upstream.
func (p *Plan) appendPageEnd(b []byte, c *command, next gjson.Result) ([]byte, *Error) {
	rel := ""
	if next.Exists() && next.Type != gjson.Null {
		var ok bool
		if next.Type != gjson.String {
			return b, upstreamMalformed()
		}
		if rel, ok = p.t.relativeLink(jsonStr(next)); !ok {
			return b, upstreamBadLink()
		}
	}
	if rel != "" {
		b = append(b, `,"state":"`...)
		if p.scratch == nil {
			p.scratch = getBuf()
		}
		b = p.t.sealState(b, p.scratch, c.op, c.ident, c.scope, c.window, c.fields, rel)
		b = append(b, '"')
	}
	b = append(b, `,"more":`...)
	b = appendBool(b, rel != "")
	return append(b, '}'), nil
}

// appendFileLinkData writes files.link's {"url","size","etag"}. An item
// without a download URL (a folder or a package) has no content to link to.
func appendFileLinkData(_ *Plan, b []byte, _ *command, body gjson.Result) ([]byte, *Error) {
	var url, size, etag gjson.Result
	eachMember(body.Raw, func(k string, v gjson.Result) bool {
		switch k {
		case "@microsoft.graph.downloadUrl":
			url = v
		case "size":
			size = v
		case "eTag":
			etag = v
		}
		return true
	})
	if url.Type != gjson.String {
		return b, invalidArgs(msgNoDownloadURL)
	}
	first := true
	b = append(b, '{')
	b = appendStringMember(b, &first, "url", url)
	b = appendCountMember(b, &first, "size", size)
	b = appendStringMember(b, &first, "etag", etag)
	return append(b, '}'), nil
}
