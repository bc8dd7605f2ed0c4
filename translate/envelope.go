package translate

import (
	"bytes"
	"sync"

	"github.com/tidwall/gjson"
)

// This file parses and validates the device batch envelope (docs/device-api.md §3)
// and turns it into a Plan.

// maxEnvelopeDepth bounds JSON nesting in a device envelope. It is checked by
// a byte scan before any recursive parser runs.
const maxEnvelopeDepth = 32

// maxUpstreamDepth bounds JSON nesting in an upstream answer.
const maxUpstreamDepth = 64

// command is one validated device command and what it becomes upstream.
type command struct {
	id      string
	op      opKind
	err     *Error // validation failure: the result, no upstream sub-request
	mailbox string // validated mailbox argument as given; "" means /me
	folder  string // normalized folder argument
	msgID   string // id argument: a message, event or contact id
	window  int    // sync page size (1–200)
	fields  fieldSet
	body    bodyKind
	since   string    // UTC RFC 3339, first mail.sync call only
	link    string    // continuation link from the state, relative to the base path
	scope   string    // state scope (stateful ops): see opSpec.scope
	url     string    // escaped upstream path[?query] relative to the base path
	pathLen int       // length of the path part of url
	payload []byte    // upstream JSON request body; nil for none
	start   string    // calendar.sync window start, UTC RFC 3339, first call only
	end     string    // calendar.sync window end, UTC RFC 3339, first call only
	action  string    // path segment after the item id (event.respond), "" for none
	search  string    // mail.search query, as given
	ident   *Identity // the plan's identity, which its states are bound to
	// Files (files.go).
	drive       string    // drive argument, checked; "" for the user's own drive
	ifNoneMatch string    // files.list's etag argument, sent as If-None-Match on the first call
	fileOpts    fileFlags // files.sync from now, files.list thumbs, files.search scope all
	// method is the upstream method when it is not the row's (a push
	// renewal), "" otherwise.
	method string
	// push holds a push command's arguments (push.go); nil for other ops.
	push *pushCommand
	// more holds the escaped URLs (relative to the base path) of the
	// command's further upstream requests when it fans out (push.unsubscribe
	// with several ids): each is sent like url, with the same method,
	// headers and payload, as its own $batch item. nil for one request.
	more []string
	// extraAt is the index in Plan.extra of the answer to more[0].
	extraAt int
}

// Plan is one device request turned into (at most) one upstream call: a
// direct request, or one $batch of at most MaxBatchItems requests. Create
// it with Translator.Plan, send Upstream, hand the answer to Respond, then Release.
// A Plan is not safe for concurrent use.
type Plan struct {
	// Upstream is the one upstream call; nil when no command needs upstream
	// (every command failed validation): then call Respond(dst, 0, nil, nil).
	Upstream *Call

	t    *Translator
	cmds [MaxBatchCommands]command
	n    int
	sent int // commands that go upstream
	// upstreamItems counts the upstream requests of the commands that go
	// upstream: one each, more for a command that fans out.
	upstreamItems int
	// extraUsed counts the entries of extra given to commands so far.
	extraUsed int
	call      Call
	prefer    [4]string
	body      *[]byte // pooled $batch body
	scratch   *[]byte // pooled sealing scratch
	results   [MaxBatchCommands]Result
	items     [MaxBatchCommands]batchItem // each command's first answer, by command index
	// extra holds the answers to the further requests of commands that fan
	// out (command.more), from command.extraAt on.
	extra [MaxBatchItems - 1]batchItem
	// answerInvalid is set when the single-pass reader finds a direct sync
	// page malformed (see appendSyncData).
	answerInvalid bool
	// nested is the single-pass sync translation's scratch for nested message fields.
	nested nestedFields
	// scratchSpace is the plan's working space, kept across Release (see work).
	scratchSpace *planScratch
	// identity is whom the request acts as; its states are bound to it.
	identity Identity
	// tenantID and userID are the principal of the request's token (its
	// claims when it is a JWT that holds them), "" when unknown; push
	// binds its routing blob to them.
	tenantID, userID string
}

// planScratch is working space of a plan that lives on the heap because
// the rows' functions, called through the table, would make it escape from
// the stack anyway. It is allocated once per pooled plan and not cleared by
// Release: args is reset after each command, and Release clears reader.
type planScratch struct {
	args   argValues  // the arguments of the command being parsed
	urlBuf [1024]byte // the URL of the command being built
	reader jreader    // the delta page being translated
}

// work returns the plan's scratch space.
func (p *Plan) work() *planScratch {
	if p.scratchSpace == nil {
		p.scratchSpace = new(planScratch)
	}
	return p.scratchSpace
}

var planPool = sync.Pool{New: func() any { return new(Plan) }}

// Release returns the plan's pooled memory; the plan, its Call and the
// Results of its Outcome must not be used afterwards.
func (p *Plan) Release() {
	if p == nil {
		return
	}
	putBuf(p.body)
	putBuf(p.scratch)
	nested := p.nested.buf[:0]
	work := p.scratchSpace
	if work != nil {
		work.reader = jreader{} // drops its reference to the answer
	}
	*p = Plan{scratchSpace: work}
	if cap(nested) <= maxPooledNested {
		p.nested.buf = nested // kept with the pooled plan
	}
	planPool.Put(p)
}

// Plan parses and validates a device batch envelope (the raw POST body) and
// builds the single upstream call. An envelope-level problem returns an
// *Error (400 invalid_request) and no plan. Per-command problems become that
// command's result; they never fail the envelope.
func (t *Translator) Plan(body []byte) (*Plan, *Error) {
	return t.PlanFor(body, Identity{})
}

// PlanWithPrincipal is PlanFor for the identity of a token whose tid and
// oid claims are tenantID and userID (both or neither given).
func (t *Translator) PlanWithPrincipal(body []byte, tenantID, userID string) (*Plan, *Error) {
	return t.PlanFor(body, IdentityOf(tenantID, userID))
}

// PlanFor is Plan for a request acting as identity (see
// IdentityFromAuthorization): the states it reads must have been sealed
// for the same identity, and the states it issues are sealed for it.
func (t *Translator) PlanFor(body []byte, identity Identity) (*Plan, *Error) {
	if !depthWithin(body, maxEnvelopeDepth) {
		return nil, invalidRequest(msgTooDeep)
	}
	if !gjson.ValidBytes(body) {
		return nil, invalidRequest(msgBodyNotJSON)
	}
	// One copy of the device body: everything the plan keeps refers to it, so
	// the caller may reuse its buffer.
	root := gjson.Parse(string(body))
	if !root.IsObject() {
		return nil, invalidRequest(msgBodyNotObject)
	}
	var commands gjson.Result
	dup := false
	root.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "commands" {
			if commands.Exists() {
				dup = true
				return false
			}
			commands = v
		}
		return true
	})
	if dup {
		return nil, invalidRequest(msgDuplicateMember)
	}
	if !commands.IsArray() {
		return nil, invalidRequest(msgNoCommands)
	}
	count := 0
	commands.ForEach(func(_, _ gjson.Result) bool { count++; return count <= t.maxCommands })
	if count == 0 {
		return nil, invalidRequest(msgNoCommands)
	}
	if count > t.maxCommands {
		return nil, invalidRequest(msgTooManyCommands)
	}

	p := planPool.Get().(*Plan)
	p.t = t
	p.identity = identity
	if identity.bound {
		p.tenantID, p.userID = identity.tenant, identity.user
	}
	var envErr *Error
	commands.ForEach(func(_, v gjson.Result) bool {
		envErr = p.addCommand(v)
		return envErr == nil
	})
	if envErr != nil {
		p.Release()
		return nil, envErr
	}
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if c.err == nil {
			p.sent++
		}
	}
	p.buildCall()
	return p, nil
}

// addCommand parses one element of commands: envelope-level checks first
// (object, id, op type, args type), then the op's own validation.
func (p *Plan) addCommand(v gjson.Result) *Error {
	if !v.IsObject() {
		return invalidRequest(msgCommandNotObject)
	}
	var id, op, args gjson.Result
	dup := false
	v.ForEach(func(k, val gjson.Result) bool {
		var slot *gjson.Result
		switch k.Str {
		case "id":
			slot = &id
		case "op":
			slot = &op
		case "args":
			slot = &args
		default:
			return true // unknown members are ignored (forward compatibility)
		}
		if slot.Exists() {
			dup = true
			return false
		}
		*slot = val
		return true
	})
	if dup {
		return invalidRequest(msgDuplicateMember)
	}
	if id.Type != gjson.String || !validCommandID(id.Str) {
		return invalidRequest(msgBadCommandID)
	}
	for i := 0; i < p.n; i++ {
		if p.cmds[i].id == id.Str {
			return invalidRequest(msgDuplicateCommandID)
		}
	}
	if op.Type != gjson.String {
		return invalidRequest(msgOpNotString)
	}
	if args.Exists() && !args.IsObject() {
		return invalidRequest(msgArgsNotObject)
	}
	c := &p.cmds[p.n]
	p.n++
	c.id = id.Str
	c.op = lookupOp(op.Str)
	c.ident = &p.identity
	spec := c.op.spec()
	if spec == nil {
		c.err = invalidArgs(msgUnknownOp)
		return nil
	}
	w := p.work()
	c.err = p.t.parseArgs(c, spec, &w.args, args)
	w.args.reset() // zero for the next command; keeps no device input
	if c.err == nil && spec.prepare != nil {
		c.err = spec.prepare(p, c)
	}
	if c.err == nil {
		c.buildURL(spec, w.urlBuf[:0])
	}
	if c.err == nil {
		// Graph takes at most MaxBatchItems requests in one $batch; the
		// command that would need more fails alone, before anything is sent.
		need := 1 + len(c.more)
		if p.upstreamItems+need > MaxBatchItems {
			c.err = invalidArgs(msgTooManyUpstreamItems)
			c.more = nil
		} else {
			c.extraAt = p.extraUsed
			p.upstreamItems += need
			p.extraUsed += len(c.more)
		}
	}
	return nil
}

// appendRoot appends /me or /users/{mailbox} (escaped).
func appendRoot(dst []byte, mailbox string) []byte {
	if mailbox == "" {
		return append(dst, "/me"...)
	}
	dst = append(dst, "/users/"...)
	return appendPathSegment(dst, mailbox)
}

// buildURL sets c.url (escaped path[?query], relative to the base path) for
// the first call of c, or the sealed link for a continuation; b is scratch.
func (c *command) buildURL(spec *opSpec, b []byte) {
	if c.link != "" {
		c.url = c.link
		c.pathLen = len(c.link)
		for i := 0; i < len(c.link); i++ {
			if c.link[i] == '?' {
				c.pathLen = i
				break
			}
		}
		return
	}
	if spec.flags&(opOwnRoot|opRootless) == 0 {
		b = appendRoot(b, c.mailbox)
	}
	b = spec.path(b, c)
	c.pathLen = len(b)
	if spec.query != nil {
		b = append(b, '?')
		b = spec.query(b, c)
	}
	c.url = string(b)
}

// depthWithin reports whether the JSON nesting of b (arrays and objects,
// brackets inside strings not counted) stays within max. It is a flat byte
// scan, safe to run on hostile input before any recursive parser.
func depthWithin(b []byte, max int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: find a quote not escaped by an odd run of backslashes.
			start := i + 1
			for {
				k := bytes.IndexByte(b[i+1:], '"')
				if k < 0 {
					return true // unterminated: the validator rejects it
				}
				i += 1 + k
				n := 0
				for j := i - 1; j >= start && b[j] == '\\'; j-- {
					n++
				}
				if n%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
			if depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}
