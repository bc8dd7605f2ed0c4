package translate

import (
	"time"

	"github.com/tidwall/gjson"
)

// This file validates a command's args object. Unknown argument names are
// ignored (forward compatibility); a JSON null counts as "not given"; a known
// argument given twice is invalid_args.

const (
	defaultWindow = 50
	maxWindow     = 200
	maxStateLen   = 16 << 10
)

// argBit names one known argument.
type argBit uint64

const (
	argMailbox argBit = 1 << iota
	argFolder
	argID
	argState
	argWindow
	argSince
	argFields
	argBody
	// Calendar and contacts (also subject and comment, which mail commands share).
	argStart
	argEnd
	argResponse
	argComment
	argSend
	argSubject
	argAllDay
	argLocation
	argAttendees
	argShowAs
	argName
	argGiven
	argSurname
	argEmails
	argMobile
	argBusiness
	argHome
	argCompany
	argTitle
	// Mail actions and search (subject, comment and body are shared).
	argTo
	argCc
	argBcc
	argAttachments
	argSave
	argAll
	argQuery
	argRead
	argFlag
	argCats
)

// opArgs lists the arguments each op accepts.
var opArgs = [numOps]argBit{
	opFoldersSync: argMailbox | argState | argWindow,
	opFolderGet:   argMailbox | argFolder,
	opMailSync:    argMailbox | argFolder | argState | argWindow | argSince | argFields,
	opMailGet:     argMailbox | argID | argBody | argFields,
	// Mail actions, search and attachments.
	opMailUpdate:      argMailbox | argID | argRead | argFlag | argCats | argFields,
	opMailMove:        argMailbox | argID | argTo | argFields,
	opMailDelete:      argMailbox | argID,
	opMailSend:        argMailbox | argTo | argCc | argBcc | argSubject | argBody | argAttachments | argSave,
	opMailReply:       argMailbox | argID | argComment | argAll,
	opMailForward:     argMailbox | argID | argTo | argComment,
	opMailSearch:      argMailbox | argQuery | argWindow | argState | argFields,
	opAttachmentsList: argMailbox | argID,
	// Calendar and contacts.
	opCalendarSync:  argMailbox | argState | argWindow | argStart | argEnd,
	opEventRespond:  argMailbox | argID | argResponse | argComment | argSend,
	opEventCreate:   argMailbox | eventEditArgs,
	opEventUpdate:   argMailbox | argID | eventEditArgs,
	opEventDelete:   argMailbox | argID,
	opContactsSync:  argMailbox | argState | argWindow,
	opContactCreate: argMailbox | contactEditArgs,
	opContactUpdate: argMailbox | argID | contactEditArgs,
	opContactDelete: argMailbox | argID,
}

// argValues holds the raw values of the known arguments of one command.
type argValues struct {
	mailbox, folder, id, state, window, since, fields, body gjson.Result
	// Calendar and contacts.
	start, end, response, comment, send, subject, allDay, location, attendees, showAs gjson.Result
	name, given, surname, emails, mobile, business, home, company, title              gjson.Result
	// Mail actions and search.
	to, cc, bcc, attachments, save, all, query, read, flag, cats gjson.Result
}

func (a *argValues) slot(name string) (argBit, *gjson.Result) {
	switch name {
	case "mailbox":
		return argMailbox, &a.mailbox
	case "folder":
		return argFolder, &a.folder
	case "id":
		return argID, &a.id
	case "state":
		return argState, &a.state
	case "window":
		return argWindow, &a.window
	case "since":
		return argSince, &a.since
	case "fields":
		return argFields, &a.fields
	case "body":
		return argBody, &a.body
	case "to":
		return argTo, &a.to
	case "cc":
		return argCc, &a.cc
	case "bcc":
		return argBcc, &a.bcc
	case "attachments":
		return argAttachments, &a.attachments
	case "save":
		return argSave, &a.save
	case "all":
		return argAll, &a.all
	case "query":
		return argQuery, &a.query
	case "read":
		return argRead, &a.read
	case "flag":
		return argFlag, &a.flag
	case "cats":
		return argCats, &a.cats
	}
	return a.pimSlot(name)
}

// collectArgs reads the args object once, keeping the arguments op accepts.
func collectArgs(op opKind, args gjson.Result) (argValues, *Error) {
	var a argValues
	var seen argBit
	dup := false
	allowed := opArgs[op]
	args.ForEach(func(k, v gjson.Result) bool {
		bit, slot := a.slot(k.Str)
		if bit == 0 || allowed&bit == 0 {
			return true
		}
		if seen&bit != 0 {
			dup = true
			return false
		}
		seen |= bit
		if v.Type != gjson.Null {
			*slot = v
		}
		return true
	})
	if dup {
		return a, invalidArgs(msgDuplicateArg)
	}
	return a, nil
}

// parseArgs validates the arguments of c (whose op is known) and fills c.
func (t *Translator) parseArgs(c *command, args gjson.Result) *Error {
	a, err := collectArgs(c.op, args)
	if err != nil {
		return err
	}
	if a.mailbox.Exists() {
		if a.mailbox.Type != gjson.String || !validMailbox(a.mailbox.Str) {
			return invalidArgs(msgBadMailbox)
		}
		c.mailbox = a.mailbox.Str
	}
	if opArgs[c.op]&argFolder != 0 {
		if !a.folder.Exists() {
			return invalidArgs(msgMissingFolder)
		}
		f, ok := "", false
		if a.folder.Type == gjson.String {
			f, ok = normalizeFolder(a.folder.Str)
		}
		if !ok {
			return invalidArgs(msgBadFolder)
		}
		c.folder = f
	}
	if c.op == opMailGet {
		if !a.id.Exists() {
			return invalidArgs(msgMissingMessageID)
		}
		if a.id.Type != gjson.String || !validGraphID(a.id.Str) {
			return invalidArgs(msgBadMessageID)
		}
		c.msgID = a.id.Str
		if a.body.Exists() {
			switch {
			case a.body.Type != gjson.String:
				return invalidArgs(msgBadBodyArg)
			case a.body.Str == "text":
				c.body = bodyText
			case a.body.Str == "html":
				c.body = bodyHTML
			case a.body.Str == "none":
				c.body = bodyNone
			default:
				return invalidArgs(msgBadBodyArg)
			}
		}
	}
	window := 0
	if a.window.Exists() {
		w, ok := parseWindow(a.window)
		if !ok {
			return invalidArgs(msgBadWindow)
		}
		window = w
	}
	since := ""
	if a.since.Exists() {
		s, ok := parseSince(a.since)
		if !ok {
			return invalidArgs(msgBadSince)
		}
		since = s
	}
	var fields fieldSet
	if a.fields.Exists() {
		f, ok := parseMessageFields(a.fields)
		if !ok {
			return invalidArgs(msgBadFields)
		}
		fields = f
	}
	switch c.op {
	case opFoldersSync, opFolderGet:
		c.fields = folderFieldsAll
	case opMailGet:
		if fields == 0 {
			fields = messageFieldsAll
		}
		if c.body == bodyNone {
			fields &^= 1 << mfBody
		}
		c.fields = fields | 1<<mfID
	case opMailSync, opMailUpdate, opMailMove, opMailSearch:
		if fields == 0 {
			fields = messageFieldsSyncDefault
		}
		c.fields = fields | 1<<mfID
	}
	if perr := c.parsePIMArgs(&a); perr != nil {
		return perr
	}
	if perr := t.parseMailActionArgs(c, &a); perr != nil {
		return perr
	}
	if !c.op.isSync() {
		return nil
	}
	c.window = defaultWindow
	c.since = since
	c.scope = c.scopeOf()
	if a.state.Exists() {
		if a.state.Type != gjson.String {
			return invalidArgs(msgBadStateArg)
		}
		rec, serr := t.openState(a.state.Str, c.op, c.scope)
		if serr != nil {
			return serr
		}
		// Arguments that shaped the first call come from the state.
		c.link, c.window, c.fields, c.since = rec.link, rec.window, rec.fields, ""
	}
	if window != 0 {
		c.window = window
	}
	return nil
}

// parseWindow accepts a JSON number with an integral value 1–200.
func parseWindow(v gjson.Result) (int, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	f := v.Num
	if f < 1 || f > maxWindow || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// parseSince accepts an RFC 3339 date-time and returns it in UTC as
// 2006-01-02T15:04:05Z (fractions of a second dropped: the filter is "ge", so
// the truncated instant includes everything the device asked for).
func parseSince(v gjson.Result) (string, bool) {
	if v.Type != gjson.String || len(v.Str) > 64 {
		return "", false
	}
	ts, err := time.Parse(time.RFC3339, v.Str)
	if err != nil {
		return "", false
	}
	ts = ts.UTC()
	if y := ts.Year(); y < 1 || y > 9999 {
		return "", false
	}
	return ts.Format("2006-01-02T15:04:05Z"), true
}

// parseMessageFields reads a non-empty array of device message field names.
func parseMessageFields(v gjson.Result) (fieldSet, bool) {
	if !v.IsArray() {
		return 0, false
	}
	var set fieldSet
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		if e.Type != gjson.String {
			ok = false
			return false
		}
		f, known := lookupMessageField(e.Str)
		if !known {
			ok = false
			return false
		}
		set |= 1 << f
		return true
	})
	return set, ok && set != 0
}
