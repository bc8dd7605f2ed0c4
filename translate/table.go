package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// This file is the command table: one row per device op with everything the
// envelope, the $batch packing and the answer translation need. The code of
// each row lives in its family's file (folders.go, mail.go, mailactions.go,
// search.go, attachments.go, calendar.go, contacts.go, files.go, push.go); the generic machinery
// only reads rows.

// opKind is an op's wire id. It is sealed into every state (the additional
// data of the AEAD holds byte(op)), so a wire id never changes and is never
// reused, and it does not follow the order of the table. 0 is no op.
type opKind uint8

// opUnknown is the wire id of no op: an op name outside the table.
const opUnknown opKind = 0

// opFlags are the properties of an op the generic machinery acts on.
type opFlags uint16

const (
	// opDelta: a Graph delta sync. The window becomes Prefer
	// odata.maxpagesize (a window argument overrides the state's), a state
	// continues at its sealed link, and the answer is a delta page written
	// by appendSyncData with the row's changes writer.
	opDelta opFlags = 1 << iota
	// opPaged: paged by @odata.nextLink. A state continues at its sealed
	// link with the window and fields of the first call.
	opPaged
	// opEmptyData: the data is {} whatever the 2xx answer holds (Graph
	// answers 202 or 204 without a body).
	opEmptyData
	// opBodyType: a message body in the answer is asked for with Prefer
	// outlook.body-content-type.
	opBodyType
	// opUTC: the answer holds event times, asked for with Prefer outlook.timezone="UTC".
	opUTC
	// opItemID: the id argument names a calendar or contact item, not a message.
	opItemID
	// opOwnRoot: the row's path writes the whole path, its root included
	// (the file commands: /me/drive, /users/{mailbox}/drive or /drives/{drive}).
	opOwnRoot
	// opOwnIDs: the folder and id arguments are the row's parse's to check
	// (drive item ids, an optional folder), not parseArgs'.
	opOwnIDs
	// opTopWindow: the window is the $top of the first call, written by the
	// row's query; a delta sync sends no Prefer odata.maxpagesize.
	opTopWindow
	// opRootless: the path is written right after the base path, not after
	// /me or /users/{mailbox} (Graph's /subscriptions).
	opRootless
	// opOwnState: the op issues and accepts a state that is no sync
	// position (the push state): its parse or prepare opens it, its answer
	// seals it. parseArgs leaves the state argument to the row.
	opOwnState
	// opFolderOptional: the folder argument may be absent (the row's parse
	// picks the default).
	opFolderOptional
	// opGoneIsDone: the op deletes, and an upstream 404 means the thing is
	// already gone, which is what the device asked for: it counts as
	// success, so a command that fanned out (see command.more) can be
	// retried whole after a partial failure.
	opGoneIsDone
)

// opSpec is one row of the command table.
type opSpec struct {
	// wire is the op's wire id, written out in the row.
	wire opKind
	// name is the device op name.
	name string
	// args are the arguments the op accepts; others are ignored. mailbox,
	// folder, id, window and since are validated by parseArgs for every op
	// that accepts them (and ref, opened in place of id), the rest by parse.
	args argBit
	// flags are the op's properties.
	flags opFlags
	// method is the upstream HTTP method.
	method string
	// parse validates the op's own arguments and fills c: payload, field
	// set (withMessageFields for message fields), action, ….
	parse func(c *command, a *argValues) *Error
	// prepare, when set, completes c after parse with what parse cannot
	// see: the translator's configuration, keys and clock, and the plan's
	// principal (push commands). nil for most ops.
	prepare func(p *Plan, c *command) *Error
	// path appends the upstream path after /me or /users/{mailbox}, escaped.
	path func(b []byte, c *command) []byte
	// query appends the query of the first call (without '?'); nil for none.
	query func(b []byte, c *command) []byte
	// answer writes the data of a 2xx answer from its parsed JSON object
	// (for an opEmptyData op, from whatever the answer held).
	answer func(p *Plan, b []byte, c *command, body gjson.Result) ([]byte, *Error)
	// changes writes the changes of a delta page's value array (opDelta only).
	changes func(p *Plan, b []byte, c *command, r *jreader) ([]byte, *Error)
	// scope is the scope a state is bound to (opDelta and opPaged only).
	scope func(c *command) string
	// stateFields reports whether a state may carry the field set (opDelta,
	// opPaged and the opOwnState op that seals the state).
	stateFields func(fieldSet) bool
	// sealLink rewrites a delta page's checked link before it is sealed
	// (opDelta only); nil seals the link as Graph gave it.
	sealLink func(rel string) string
	// failure, when set, maps a non-2xx upstream answer of the command
	// before the generic rules; nil from it means the generic mapping.
	failure func(c *command, status int, code string, body gjson.Result) *Error
}

// stateful reports whether the op issues and accepts a state.
func (s *opSpec) stateful() bool { return s.flags&(opDelta|opPaged) != 0 }

// opRows is the command table. Each row's wire id is fixed forever; the
// states already issued carry it. Rows may be listed in any order.
var opRows = [...]opSpec{
	// Folders (folders.go).
	{wire: 1, name: "folders.sync", args: argMailbox | argState | argWindow, flags: opDelta, method: http.MethodGet,
		parse: parseFolderArgs, path: foldersSyncPath, query: folderQuery, answer: (*Plan).appendSyncData,
		changes: appendFolderChanges, scope: mailboxScope, stateFields: isFolderFields},
	{wire: 2, name: "folder.get", args: argMailbox | argFolder, method: http.MethodGet,
		parse: parseFolderArgs, path: folderPath, query: folderQuery, answer: appendFolderData},

	// Mail read and sync (mail.go).
	{wire: 3, name: "mail.sync", args: argMailbox | argFolder | argState | argWindow | argSince | argFields,
		flags: opDelta | opBodyType, method: http.MethodGet,
		parse: parseMailSyncArgs, path: mailSyncPath, query: mailSyncQuery, answer: (*Plan).appendSyncData,
		changes: appendMessageChanges, scope: folderScope, stateFields: isMessageFields},
	{wire: 4, name: "mail.get", args: argMailbox | argID | argRef | argBody | argFields, flags: opBodyType, method: http.MethodGet,
		parse: parseMailGetArgs, path: messagePath, query: messageQuery, answer: appendMessageData},

	// Mail actions (mailactions.go).
	{wire: 5, name: "mail.update", args: argMailbox | argID | argRead | argFlag | argCats | argFields,
		flags: opBodyType, method: http.MethodPatch,
		parse: parseUpdateArgs, path: messagePath, answer: appendMessageData},
	{wire: 6, name: "mail.move", args: argMailbox | argID | argTo | argFields, flags: opBodyType, method: http.MethodPost,
		parse: parseMoveArgs, path: movePath, answer: appendMessageData},
	{wire: 7, name: "mail.delete", args: argMailbox | argID, flags: opEmptyData, method: http.MethodDelete,
		parse: parseNoArgs, path: messagePath, answer: appendEmptyData},
	{wire: 8, name: "mail.send", args: argMailbox | argTo | argCc | argBcc | argSubject | argBody | argAttachments | argSave,
		flags: opEmptyData, method: http.MethodPost,
		parse: parseSendArgs, path: sendPath, answer: appendEmptyData},
	{wire: 9, name: "mail.reply", args: argMailbox | argID | argComment | argAll, flags: opEmptyData, method: http.MethodPost,
		parse: parseReplyArgs, path: messageActionPath, answer: appendEmptyData},
	{wire: 10, name: "mail.forward", args: argMailbox | argID | argTo | argComment, flags: opEmptyData, method: http.MethodPost,
		parse: parseForwardArgs, path: forwardPath, answer: appendEmptyData},

	// Search (search.go).
	{wire: 11, name: "mail.search", args: argMailbox | argQuery | argWindow | argState | argFields,
		flags: opPaged | opBodyType, method: http.MethodGet,
		parse: parseSearchArgs, path: searchPath, query: searchQuery, answer: (*Plan).appendSearchData,
		scope: searchScope, stateFields: isMessageFields},

	// Attachments (attachments.go).
	{wire: 12, name: "attachments.list", args: argMailbox | argID, method: http.MethodGet,
		parse: parseNoArgs, path: attachmentsPath, query: attachmentsQuery, answer: appendAttachmentsData},

	{wire: 29, name: "attachments.recent", args: argMailbox | argFolder | argSince | argState | argWindow,
		flags: opPaged | opOwnIDs, method: http.MethodGet,
		parse: parseRecentAttachmentsArgs, path: recentAttachmentsPath, query: recentAttachmentsQuery,
		answer: (*Plan).appendRecentAttachmentsData, scope: folderScope, stateFields: isFileFields},

	// Calendar (calendar.go).
	{wire: 13, name: "calendar.sync", args: argMailbox | argState | argWindow | argStart | argEnd,
		flags: opDelta | opUTC, method: http.MethodGet,
		parse: parseCalendarSyncArgs, path: calendarSyncPath, query: calendarSyncQuery, answer: (*Plan).appendSyncData,
		changes: appendEventChanges, scope: mailboxScope, stateFields: isPIMFields},
	{wire: 14, name: "event.respond", args: argMailbox | argID | argResponse | argComment | argSend,
		flags: opEmptyData | opItemID, method: http.MethodPost,
		parse: parseRespondArgs, path: eventActionPath, answer: appendEmptyData},
	{wire: 15, name: "event.create", args: argMailbox | eventEditArgs, flags: opUTC, method: http.MethodPost,
		parse: parseEventCreateArgs, path: eventsPath, answer: appendEventData},
	{wire: 16, name: "event.update", args: argMailbox | argID | eventEditArgs, flags: opUTC | opItemID, method: http.MethodPatch,
		parse: parseEventUpdateArgs, path: eventPath, answer: appendEventData},
	{wire: 17, name: "event.delete", args: argMailbox | argID, flags: opEmptyData | opItemID, method: http.MethodDelete,
		parse: parseNoArgs, path: eventPath, answer: appendEmptyData},

	// Contacts (contacts.go).
	{wire: 18, name: "contacts.sync", args: argMailbox | argState | argWindow, flags: opDelta, method: http.MethodGet,
		parse: parseContactsSyncArgs, path: contactsSyncPath, query: contactsQuery, answer: (*Plan).appendSyncData,
		changes: appendContactChanges, scope: mailboxScope, stateFields: isPIMFields},
	{wire: 19, name: "contact.create", args: argMailbox | contactEditArgs, method: http.MethodPost,
		parse: parseContactArgs, path: contactsPath, answer: appendContactData},
	{wire: 20, name: "contact.update", args: argMailbox | argID | contactEditArgs, flags: opItemID, method: http.MethodPatch,
		parse: parseContactArgs, path: contactPath, answer: appendContactData},
	{wire: 21, name: "contact.delete", args: argMailbox | argID, flags: opEmptyData | opItemID, method: http.MethodDelete,
		parse: parseNoArgs, path: contactPath, answer: appendEmptyData},

	// Files (files.go).
	{wire: 25, name: "files.sync", args: argMailbox | argDrive | argState | argWindow | argFrom,
		flags: opDelta | opOwnRoot | opTopWindow, method: http.MethodGet,
		parse: parseFilesSyncArgs, path: filesSyncPath, query: filesSyncQuery, answer: (*Plan).appendSyncData,
		changes: appendFileChanges, scope: filesSyncScope, stateFields: isFileFields, sealLink: dropLatestToken},
	{wire: 26, name: "files.list", args: argMailbox | argDrive | argFolder | argState | argWindow | argThumbs | argEtag,
		flags: opPaged | opOwnRoot | opOwnIDs, method: http.MethodGet,
		parse: parseFilesListArgs, path: filesListPath, query: filesListQuery, answer: (*Plan).appendFilesPageData,
		scope: filesListScope, stateFields: isFileFields},
	{wire: 27, name: "files.search", args: argMailbox | argDrive | argQuery | argScope | argState | argWindow,
		flags: opPaged | opOwnRoot, method: http.MethodGet,
		parse: parseFilesSearchArgs, path: filesSearchPath, query: filesSearchQuery, answer: (*Plan).appendFilesPageData,
		scope: filesSearchScope, stateFields: isFileFields},
	{wire: 28, name: "files.link", args: argMailbox | argDrive | argID, flags: opOwnRoot | opOwnIDs, method: http.MethodGet,
		parse: parseFilesLinkArgs, path: filesLinkPath, query: filesLinkQuery, answer: appendFileLinkData},
	// Push (push.go). mailbox is accepted only to be refused: Graph's
	// delegated subscriptions cover the signed-in user's own mailbox.
	{wire: 22, name: "push.subscribe", args: argMailbox | argFolder | argState | pushSubscribeArgs,
		flags: opRootless | opOwnState | opFolderOptional, method: http.MethodPost,
		parse: parsePushSubscribeArgs, prepare: (*Plan).preparePushSubscribe, path: pushSubscribePath,
		answer: (*Plan).appendPushSubscribeData, failure: pushSubscribeFailure, stateFields: isPushStateFields},
	{wire: 23, name: "push.list", args: argMailbox | argDevice, flags: opRootless, method: http.MethodGet,
		parse: parsePushListArgs, prepare: (*Plan).preparePushList, path: pushSubscriptionsPath,
		answer: (*Plan).appendPushListData},
	{wire: 24, name: "push.unsubscribe", args: argMailbox | argState | argIDs,
		flags:  opRootless | opOwnState | opEmptyData | opGoneIsDone,
		method: http.MethodDelete, parse: parsePushUnsubscribeArgs, prepare: (*Plan).preparePushUnsubscribe,
		path: pushSubscriptionPath, answer: appendEmptyData},
}

// opTable indexes the rows by wire id; nil for a wire id without a row.
// Indexing by a byte needs no bounds check and allocates nothing.
var opTable [256]*opSpec

func init() { indexRows(opRows[:]) }

// indexRows enters the complete rows into opTable. A second row with the
// same wire id is left out (TestCommandTable reports both).
func indexRows(rows []opSpec) {
	for i := range rows {
		s := &rows[i]
		if opTable[s.wire] == nil && s.wire != opUnknown && s.problems() == nil {
			opTable[s.wire] = s
		}
	}
}

// problems returns what a row of the command table lacks or holds in
// contradiction; nil for a complete row. TestCommandTable requires every
// row to be complete; init leaves an incomplete row out of opTable, so that
// its op answers like an unknown op instead of planning a broken call.
func (s *opSpec) problems() []string {
	var p []string
	miss := func(what string) { p = append(p, "no "+what) }
	if s.wire == opUnknown {
		miss("wire id")
	}
	if s.name == "" {
		miss("name")
	}
	if s.args&argMailbox == 0 {
		miss("mailbox argument")
	}
	switch s.method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete:
	default:
		p = append(p, "method "+s.method)
	}
	if s.parse == nil {
		miss("args parser")
	}
	if s.path == nil {
		miss("path builder")
	}
	if s.answer == nil {
		miss("answer writer")
	}
	if s.flags&opDelta != 0 && s.flags&opPaged != 0 {
		p = append(p, "both delta and paged")
	}
	if s.stateful() {
		if s.scope == nil {
			miss("state scope")
		}
		if s.stateFields == nil {
			miss("state field check")
		}
		if s.args&argState == 0 {
			miss("state argument")
		}
		if s.flags&opOwnState != 0 {
			p = append(p, "both a sync state and a state of its own")
		}
	} else if s.flags&opOwnState != 0 {
		if s.args&argState == 0 {
			miss("state argument")
		}
	} else if s.scope != nil || s.stateFields != nil || s.args&argState != 0 {
		p = append(p, "state parts on an op without state")
	}
	if s.flags&opItemID != 0 && s.args&argID == 0 {
		p = append(p, "opItemID without an id argument")
	}
	if s.flags&opGoneIsDone != 0 && (s.method != http.MethodDelete || s.flags&opEmptyData == 0) {
		p = append(p, "opGoneIsDone on an op that is not a DELETE with empty data")
	}
	if s.sealLink != nil && s.flags&opDelta == 0 {
		p = append(p, "sealLink on an op without delta sync")
	}
	if (s.flags&opDelta != 0) != (s.changes != nil) {
		p = append(p, "changes writer must be set exactly for a delta sync")
	}
	return p
}

// spec returns the op's row, nil for opUnknown.
func (k opKind) spec() *opSpec { return opTable[k] }

// String returns the op's device name, or "unknown".
func (k opKind) String() string {
	if s := opTable[k]; s != nil {
		return s.name
	}
	return "unknown"
}

// lookupOp returns the wire id of the op named s, or opUnknown.
func lookupOp(s string) opKind {
	for i := range opRows {
		if opRows[i].name == s {
			return opRows[i].wire
		}
	}
	return opUnknown
}

// parseNoArgs is the parse of an op whose arguments parseArgs checks alone.
func parseNoArgs(*command, *argValues) *Error { return nil }

// appendEmptyData is the answer of an opEmptyData op.
func appendEmptyData(_ *Plan, b []byte, _ *command, _ gjson.Result) ([]byte, *Error) {
	return append(b, "{}"...), nil
}

// mailboxScope is the state scope of an op bound to its mailbox only.
func mailboxScope(c *command) string { return lowerASCII(c.mailbox) }

// Ops returns the device names of the commands this translator serves, in
// wire-id order: the rows of the command table that are complete. The
// device API's machine-readable description (api/openapi.yaml) must list
// exactly these; a test holds the two together.
func Ops() []string {
	var names []string
	for _, s := range opTable {
		if s != nil {
			names = append(names, s.name)
		}
	}
	return names
}
