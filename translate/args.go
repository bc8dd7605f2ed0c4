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
	// Files (query, folder, id, since, window and state are shared).
	argDrive
	argFrom
	argThumbs
	argEtag
	argScope
	// Push (push.go); ref is mail.get's.
	argPlatform
	argWatch
	argDevice
	argAccount
	argAlert
	argEnv
	argToken
	argFID
	argEndpoint
	argP256dh
	argAuth
	argIDs
	argRef
)

// pushSubscribeArgs are push.subscribe's own arguments.
const pushSubscribeArgs = argPlatform | argWatch | argDevice | argAccount | argAlert | argEnv |
	argToken | argFID | argEndpoint | argP256dh | argAuth

// argValues holds the raw values of the known arguments of one command.
type argValues struct {
	mailbox, folder, id, state, window, since, fields, body gjson.Result
	// Calendar and contacts.
	start, end, response, comment, send, subject, allDay, location, attendees, showAs gjson.Result
	name, given, surname, emails, mobile, business, home, company, title              gjson.Result
	// Mail actions and search.
	to, cc, bcc, attachments, save, all, query, read, flag, cats gjson.Result
	// Files.
	drive, from, thumbs, etag, scope gjson.Result

	// now is the translator's clock, for defaults relative to the current
	// time (attachments.recent's since); set by parseArgs.
	now func() time.Time
	// Push, and mail.get's ref.
	platform, watch, device, account, alert, env, token, fid, endpoint, p256dh, auth, ids, ref gjson.Result

	// written are the values collectArgs set, so that reset clears only
	// them: clearing the whole struct on the heap costs a write barrier
	// for every pointer it holds.
	written  [64]*gjson.Result
	nWritten int
}

// reset makes a zero again after collectArgs.
func (a *argValues) reset() {
	for _, v := range a.written[:a.nWritten] {
		*v = gjson.Result{}
	}
	a.nWritten = 0
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
	case "drive":
		return argDrive, &a.drive
	case "from":
		return argFrom, &a.from
	case "thumbs":
		return argThumbs, &a.thumbs
	case "etag":
		return argEtag, &a.etag
	case "scope":
		return argScope, &a.scope
	}
	return a.pimSlot(name)
}

// collectArgs reads the args object once into a (zero or reset), keeping
// the allowed arguments.
func collectArgs(a *argValues, allowed argBit, args gjson.Result) *Error {
	var seen argBit
	dup := false
	args.ForEach(func(k, v gjson.Result) bool {
		bit, slot := a.slot(k.Str)
		if bit == 0 || allowed&bit == 0 {
			return true
		}
		if seen&bit != 0 {
			dup = true
			return false
		}
		seen |= bit // each bit once: at most 64 values written
		if v.Type != gjson.Null {
			*slot = v
			a.written[a.nWritten] = slot
			a.nWritten++
		}
		return true
	})
	if dup {
		return invalidArgs(msgDuplicateArg)
	}
	return nil
}

// parseArgs validates the arguments of c, whose op is spec, and fills c:
// first the arguments shared by many ops (mailbox, folder, id, window,
// since), then the op's own (spec.parse), then the state of a stateful op.
// a is zero (or reset) space for the argument values.
func (t *Translator) parseArgs(c *command, spec *opSpec, a *argValues, args gjson.Result) *Error {
	if err := collectArgs(a, spec.args, args); err != nil {
		return err
	}
	if a.mailbox.Exists() {
		if a.mailbox.Type != gjson.String || !validMailbox(a.mailbox.Str) {
			return invalidArgs(msgBadMailbox)
		}
		c.mailbox = a.mailbox.Str
	}
	if spec.args&argFolder != 0 && spec.flags&opOwnIDs == 0 && (a.folder.Exists() || spec.flags&opFolderOptional == 0) {
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
	if spec.args&argID != 0 && spec.flags&opOwnIDs == 0 {
		missing, bad := msgMissingMessageID, msgBadMessageID
		if spec.flags&opItemID != 0 {
			missing, bad = msgMissingItemID, msgBadItemID
		}
		switch {
		case a.ref.Exists():
			// A sealed message reference from a push, in place of id.
			if a.id.Exists() {
				return invalidArgs(msgIDAndRef)
			}
			id, err := t.openRef(c, a.ref)
			if err != nil {
				return err
			}
			c.msgID = id
		case !a.id.Exists():
			return invalidArgs(missing)
		case a.id.Type != gjson.String || !validGraphID(a.id.Str):
			return invalidArgs(bad)
		default:
			c.msgID = a.id.Str
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
	if a.since.Exists() {
		s, ok := parseSince(a.since)
		if !ok {
			return invalidArgs(msgBadSince)
		}
		c.since = s
	}
	a.now = t.now
	if perr := spec.parse(c, a); perr != nil {
		return perr
	}
	if !spec.stateful() {
		return nil
	}
	c.window = defaultWindow
	if window != 0 {
		c.window = window
	}
	c.scope = spec.scope(c)
	if a.state.Exists() {
		if a.state.Type != gjson.String {
			return invalidArgs(msgBadStateArg)
		}
		rec, serr := t.openState(a.state.Str, c.op, c.ident, c.scope)
		if serr != nil {
			return serr
		}
		// Arguments that shaped the first call come from the state; a delta
		// sync takes a new window (a page size preference) from the device.
		c.link, c.fields, c.since = rec.link, rec.fields, ""
		if window == 0 || spec.flags&opDelta == 0 {
			c.window = rec.window
		}
	}
	return nil
}

// withMessageFields sets c.fields from the fields argument, or def when it
// is not given; the id is always selected.
func withMessageFields(c *command, a *argValues, def fieldSet) *Error {
	fields := def
	if a.fields.Exists() {
		f, ok := parseMessageFields(a.fields)
		if !ok {
			return invalidArgs(msgBadFields)
		}
		fields = f
	}
	c.fields = fields | 1<<mfID
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

// pimSlot is argValues.slot for the calendar and contact argument names.
func (a *argValues) pimSlot(name string) (argBit, *gjson.Result) {
	switch name {
	case "start":
		return argStart, &a.start
	case "end":
		return argEnd, &a.end
	case "response":
		return argResponse, &a.response
	case "comment":
		return argComment, &a.comment
	case "send":
		return argSend, &a.send
	case "subject":
		return argSubject, &a.subject
	case "allDay":
		return argAllDay, &a.allDay
	case "location":
		return argLocation, &a.location
	case "attendees":
		return argAttendees, &a.attendees
	case "showAs":
		return argShowAs, &a.showAs
	case "name":
		return argName, &a.name
	case "given":
		return argGiven, &a.given
	case "surname":
		return argSurname, &a.surname
	case "emails":
		return argEmails, &a.emails
	case "mobile":
		return argMobile, &a.mobile
	case "business":
		return argBusiness, &a.business
	case "home":
		return argHome, &a.home
	case "company":
		return argCompany, &a.company
	case "title":
		return argTitle, &a.title
	}
	return a.pushSlot(name)
}

// pushSlot is argValues.slot for the push argument names and mail.get's ref.
func (a *argValues) pushSlot(name string) (argBit, *gjson.Result) {
	switch name {
	case "platform":
		return argPlatform, &a.platform
	case "watch":
		return argWatch, &a.watch
	case "device":
		return argDevice, &a.device
	case "account":
		return argAccount, &a.account
	case "alert":
		return argAlert, &a.alert
	case "env":
		return argEnv, &a.env
	case "token":
		return argToken, &a.token
	case "fid":
		return argFID, &a.fid
	case "endpoint":
		return argEndpoint, &a.endpoint
	case "p256dh":
		return argP256dh, &a.p256dh
	case "auth":
		return argAuth, &a.auth
	case "ids":
		return argIDs, &a.ids
	case "ref":
		return argRef, &a.ref
	}
	return 0, nil
}
