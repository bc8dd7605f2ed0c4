package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call is one Graph request being served.
type call struct {
	s               *Server
	w               http.ResponseWriter
	r               *http.Request
	now             time.Time
	requestID       string
	clientRequestID string
	prefs           preferences
	query           map[string]string
	batchItem       bool
	// caller is the token's mailbox, mb the addressed one.
	caller, mb *mailbox
	// principal is "me" or "users/<escaped user>", for links.
	principal string
	// slowBy is a delay-only fault to wait for before answering.
	slowBy *fault
}

// fail writes a Graph error.
func (c *call) fail(e *graphError) {
	cid := c.clientRequestID
	if cid == "" {
		cid = c.requestID
	}
	writeError(c.w, e, c.requestID, cid, c.now)
}

// reply writes a successful JSON answer.
func (c *call) reply(status int, body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", contentTypeGraphJSON)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// origin is scheme://host of the request, for absolute links.
func (c *call) origin() string {
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host
}

// root is the absolute URL of the version root, e.g. https://host/v1.0.
func (c *call) root() string { return c.origin() + c.s.opts.BasePath }

// metadata returns an @odata.context value.
func (c *call) metadata(fragment string) string { return c.root() + "/$metadata#" + fragment }

// userContext is "users('<object id>')" for @odata.context values.
func (c *call) userContext() string { return "users('" + c.mb.objectID + "')" }

// readWholeRequest reads a direct request's body (up to limit+1 bytes)
// before anything is answered, as Graph's front ends do, and puts it back
// as an in-memory body. An early answer — a fault, a 401 — then never
// arrives while the client is still uploading: over HTTP/2 that makes the
// client's transport close the request body while another goroutine reads
// it, a data race in some proxies' body wrappers that real Graph does not
// provoke either. The handlers still apply their own size limit.
func readWholeRequest(r *http.Request, limit int64) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
}

func bearerToken(r *http.Request) string {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// serveGraph serves one Graph request: a direct request, a $batch envelope
// or (batchItem) one item of a $batch.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, batchItem bool) {
	c := &call{
		s:               s,
		w:               w,
		r:               r,
		now:             s.opts.Now(),
		requestID:       newUUID(),
		clientRequestID: r.Header.Get("client-request-id"),
		batchItem:       batchItem,
	}
	h := w.Header()
	h.Set("request-id", c.requestID)
	if c.clientRequestID != "" {
		h.Set("client-request-id", c.clientRequestID)
	}
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	s.requests.add(r, batchItem)
	if !batchItem {
		// Logged first, so the log shows the request as it arrived even
		// while its body is still uploading.
		readWholeRequest(r, s.opts.MaxRequestBody)
	}

	rel := strings.TrimPrefix(r.URL.EscapedPath(), s.opts.BasePath)
	kind := kindDirect
	switch {
	case batchItem:
		kind = kindBatchItem
	case isBatchPath(rel):
		kind = kindBatchEnvelope
	}
	if f := s.faults.match(bearerToken(r), r.Method, rel, kind); f != nil {
		if !f.answers() {
			// A delay-only rule slows the normal answer down; the wait
			// happens inside the mailbox's concurrency slot, like a slow
			// Graph request.
			c.slowBy = f
			c.dispatch(rel, kind)
			return
		}
		if !f.wait(r.Context()) {
			return
		}
		if f.rule.Action != "" {
			runAction(w, f.rule.Action, func(rw http.ResponseWriter) {
				inner := *c
				inner.w = rw
				inner.dispatch(rel, kind)
			})
			return
		}
		f.writeAnswer(w, c.requestID, c.clientRequestIDOrRequestID(), c.now)
		return
	}
	c.dispatch(rel, kind)
}

func (c *call) clientRequestIDOrRequestID() string {
	if c.clientRequestID != "" {
		return c.clientRequestID
	}
	return c.requestID
}

func isBatchPath(rel string) bool {
	return strings.EqualFold(rel, "/$batch") || strings.EqualFold(rel, "/%24batch")
}

// dispatch authenticates, resolves the mailbox and routes the request.
func (c *call) dispatch(rel string, kind requestKind) {
	if kind == kindBatchEnvelope {
		c.serveBatch()
		return
	}
	if kind == kindBatchItem && isBatchPath(rel) {
		c.fail(errBadRequest("Nested $batch requests are not supported."))
		return
	}
	if !c.authenticate() {
		return
	}
	segs, gerr := splitPath(rel)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		c.fail(errBadRequest("Invalid query string."))
		return
	}
	c.query = make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			c.query[strings.ToLower(k)] = v[0]
		}
	}
	c.prefs = parsePreferences(c.r.Header)
	if len(segs) > 0 && eq(segs[0], "subscriptions") {
		c.mb, c.principal = c.caller, "me"
		c.routeSubscriptions(segs[1:])
		return
	}
	rest, ok := c.resolvePrincipal(segs)
	if !ok {
		return
	}
	n := c.mb.enter()
	defer c.mb.leave()
	if limit := c.s.opts.MailboxConcurrency; limit > 0 {
		if int(n) > limit {
			e := newError(http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
			if ra := c.s.opts.ThrottleRetryAfter; ra != "-" {
				e.withHeader("Retry-After", ra)
			}
			c.fail(e)
			return
		}
	}
	if c.slowBy != nil && !c.slowBy.wait(c.r.Context()) {
		return
	}
	c.route(rest)
}

// authenticate checks the bearer token; on failure it answers 401.
func (c *call) authenticate() bool {
	token := bearerToken(c.r)
	if token == "" {
		c.w.Header().Set("WWW-Authenticate", wwwAuthenticateBearer)
		c.fail(newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty."))
		return false
	}
	mb := c.s.mailboxByToken(token)
	if mb == nil {
		c.w.Header().Set("WWW-Authenticate", wwwAuthenticateBearer)
		c.fail(newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failed: the token is not valid for this audience or has expired."))
		return false
	}
	c.caller = mb
	return true
}

// resolvePrincipal handles /me and /users/{upn|id}, with the delegate rule.
func (c *call) resolvePrincipal(segs []string) ([]string, bool) {
	if len(segs) == 0 {
		c.fail(errBadRequest("Invalid request."))
		return nil, false
	}
	switch strings.ToLower(segs[0]) {
	case "me":
		c.mb = c.caller
		c.principal = "me"
		return segs[1:], true
	case "users":
		if len(segs) < 2 {
			c.fail(errBadRequest("Listing users is not supported by the emulator."))
			return nil, false
		}
		user := segs[1]
		mb := c.s.mailboxByUser(user)
		if mb == nil {
			c.fail(newError(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+user+"' is invalid."))
			return nil, false
		}
		if mb != c.caller && !mb.hasDelegate(c.caller.upn) {
			c.fail(errAccessDenied())
			return nil, false
		}
		c.mb = mb
		c.principal = "users/" + url.PathEscape(user)
		return segs[2:], true
	case "drives":
		return c.resolveDrives(segs)
	}
	c.fail(errSegmentNotFound(segs[0]))
	return nil, false
}

// splitPath splits an escaped path into decoded segments. Each segment is
// unescaped on its own, so %2F inside an id never becomes a separator. The
// OData key form name('key') becomes two segments; a trailing "()" (as in
// delta()) is dropped.
func splitPath(escaped string) ([]string, *graphError) {
	escaped = strings.TrimPrefix(escaped, "/")
	escaped = strings.TrimSuffix(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	raw := strings.Split(escaped, "/")
	out := make([]string, 0, len(raw)+2)
	for _, r := range raw {
		seg, err := url.PathUnescape(r)
		if err != nil {
			return nil, errBadRequest("Invalid URL: bad escape in segment.")
		}
		if seg == "" {
			return nil, errSegmentNotFound("")
		}
		if open := strings.IndexByte(seg, '('); open > 0 && strings.HasSuffix(seg, ")") {
			name, key := seg[:open], seg[open+1:len(seg)-1]
			out = append(out, name)
			if len(key) >= 2 && (key[0] == '\'' && key[len(key)-1] == '\'' || key[0] == '"' && key[len(key)-1] == '"') {
				key = key[1 : len(key)-1]
			}
			if key != "" {
				out = append(out, key)
			}
			continue
		}
		out = append(out, seg)
	}
	return out, nil
}

func eq(a, b string) bool { return strings.EqualFold(a, b) }

// route dispatches the path after the principal.
func (c *call) route(segs []string) {
	m := c.r.Method
	if len(segs) == 0 {
		if m != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		c.getUser()
		return
	}
	switch {
	case eq(segs[0], "mailFolders"):
		c.routeFolders(segs[1:])
	case eq(segs[0], "calendarView"), eq(segs[0], "events"), eq(segs[0], "calendar"):
		c.routeCalendar(segs)
	case eq(segs[0], "contacts"):
		c.routeContacts(segs[1:])
	case eq(segs[0], "drive"):
		c.routeDrive(segs[1:])
	case eq(segs[0], "sendMail") && len(segs) == 1:
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.sendMail()
	case eq(segs[0], "messages"):
		if len(segs) == 1 {
			if m == http.MethodGet {
				c.listMessages(nil)
				return
			}
			c.fail(errMethodNotAllowed())
			return
		}
		if eq(segs[1], "delta") {
			c.fail(errBadRequest("Unsupported request: Change tracking is not supported against 'microsoft.graph.message'."))
			return
		}
		c.routeMessage(segs[1], segs[2:])
	default:
		c.fail(errSegmentNotFound(segs[0]))
	}
}

func (c *call) routeFolders(segs []string) {
	m := c.r.Method
	if len(segs) == 0 {
		switch m {
		case http.MethodGet:
			c.listChildFolders("")
		case http.MethodPost:
			c.createFolder("")
		default:
			c.fail(errMethodNotAllowed())
		}
		return
	}
	if eq(segs[0], "delta") && len(segs) == 1 {
		if m != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		c.folderDelta()
		return
	}
	ref := segs[0]
	rest := segs[1:]
	if len(rest) == 0 {
		switch m {
		case http.MethodGet:
			c.getFolder(ref)
		case http.MethodPatch:
			c.updateFolder(ref)
		case http.MethodDelete:
			c.deleteFolder(ref)
		default:
			c.fail(errMethodNotAllowed())
		}
		return
	}
	switch {
	case eq(rest[0], "childFolders") && len(rest) == 1:
		switch m {
		case http.MethodGet:
			c.listChildFolders(ref)
		case http.MethodPost:
			c.createFolder(ref)
		default:
			c.fail(errMethodNotAllowed())
		}
	case eq(rest[0], "messages"):
		if len(rest) == 1 {
			if m != http.MethodGet {
				c.fail(errMethodNotAllowed())
				return
			}
			c.listMessages(&ref)
			return
		}
		if eq(rest[1], "delta") && len(rest) == 2 {
			if m != http.MethodGet {
				c.fail(errMethodNotAllowed())
				return
			}
			c.messageDelta(ref)
			return
		}
		c.routeMessage(rest[1], rest[2:])
	default:
		c.fail(errSegmentNotFound(rest[0]))
	}
}

func (c *call) routeMessage(ref string, rest []string) {
	m := c.r.Method
	if len(rest) == 0 {
		switch m {
		case http.MethodGet:
			c.getMessage(ref)
		case http.MethodPatch:
			c.patchMessage(ref)
		case http.MethodDelete:
			c.deleteMessage(ref)
		default:
			c.fail(errMethodNotAllowed())
		}
		return
	}
	switch {
	case (eq(rest[0], "move") || eq(rest[0], "copy")) && len(rest) == 1:
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.moveOrCopyMessage(ref, eq(rest[0], "copy"))
	case (eq(rest[0], "reply") || eq(rest[0], "replyAll") || eq(rest[0], "forward")) && len(rest) == 1:
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.replyOrForward(ref, rest[0])
	case eq(rest[0], "$value") && len(rest) == 1:
		if m != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		c.getMessageMIME(ref)
	case eq(rest[0], "attachments"):
		if m != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		switch len(rest) {
		case 1:
			c.listAttachments(ref)
		case 2:
			c.getAttachment(ref, rest[1], false)
		case 3:
			if !eq(rest[2], "$value") {
				c.fail(errSegmentNotFound(rest[2]))
				return
			}
			c.getAttachment(ref, rest[1], true)
		default:
			c.fail(errSegmentNotFound(rest[3]))
		}
	default:
		c.fail(errSegmentNotFound(rest[0]))
	}
}
