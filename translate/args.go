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
)

// opArgs lists the arguments each op accepts.
var opArgs = [numOps]argBit{
	opFoldersSync: argMailbox | argState | argWindow,
	opFolderGet:   argMailbox | argFolder,
	opMailSync:    argMailbox | argFolder | argState | argWindow | argSince | argFields,
	opMailGet:     argMailbox | argID | argBody | argFields,
}

// argValues holds the raw values of the known arguments of one command.
type argValues struct {
	mailbox, folder, id, state, window, since, fields, body gjson.Result
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
	}
	return 0, nil
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
	case opMailSync:
		if fields == 0 {
			fields = messageFieldsSyncDefault
		}
		c.fields = fields | 1<<mfID
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
