package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Control API (tests and demos only; no authentication):
//
//	POST   {prefix}/mailboxes                            MailboxSpec → 201 MailboxInfo
//	GET    {prefix}/mailboxes                            → 200 [MailboxInfo]
//	DELETE {prefix}/mailboxes/{token}                    → 204
//	POST   {prefix}/mailboxes/{token}/deliver            DeliverSpec → 201 Delivered
//	POST   {prefix}/mailboxes/{token}/expire-sync-states → 200 {"expired": n}
//	POST   {prefix}/mailboxes/{token}/delegates          {"upn"} → 204
//	POST   {prefix}/faults                               FaultRule → 201
//	GET    {prefix}/faults                               → 200 [FaultRule]
//	DELETE {prefix}/faults                               → 204
//	GET    {prefix}/requests                             → 200 [RequestRecord]
//	DELETE {prefix}/requests                             → 204

// ControlError is an error of the control API or the Server's Go API, with
// the HTTP status the control API answers.
type ControlError struct {
	// Status is the HTTP status.
	Status int
	// Message says what went wrong.
	Message string
}

// Error implements error.
func (e *ControlError) Error() string { return e.Message }

func controlErr(status int, msg string) error { return &ControlError{Status: status, Message: msg} }

// MailboxSpec describes a mailbox to create.
type MailboxSpec struct {
	// Token is the bearer token that opens the mailbox (required, unique).
	Token string `json:"token"`
	// UPN is the user principal name (required, unique, case-insensitive).
	UPN string `json:"upn"`
	// DisplayName defaults to the UPN's local part.
	DisplayName string `json:"displayName,omitempty"`
	// ObjectID is the user's object id GUID; derived from the UPN if empty.
	ObjectID string `json:"objectId,omitempty"`
	// Seed is "empty" (default: only the well-known folders) or "demo"
	// (the demo mailbox's folders and messages).
	Seed string `json:"seed,omitempty"`
	// Delegates are UPNs allowed to open this mailbox via /users/{upn}.
	Delegates []string `json:"delegates,omitempty"`
}

// MailboxInfo identifies a mailbox.
type MailboxInfo struct {
	// Token is the mailbox's bearer token.
	Token string `json:"token"`
	// UPN is the user principal name.
	UPN string `json:"upn"`
	// ObjectID is the user's object id.
	ObjectID string `json:"objectId"`
	// DisplayName is the user's display name.
	DisplayName string `json:"displayName"`
}

// Address is a name and an email address.
type Address struct {
	// Name is the display name.
	Name string `json:"name"`
	// Address is the email address.
	Address string `json:"address"`
}

// BodySpec is a message body.
type BodySpec struct {
	// ContentType is "text" or "html" (case-insensitive); default "text".
	ContentType string `json:"contentType"`
	// Content is the body.
	Content string `json:"content"`
}

// AttachmentSpec is a file attachment of a delivered message.
type AttachmentSpec struct {
	// Name is the file name.
	Name string `json:"name"`
	// ContentType defaults to application/octet-stream.
	ContentType string `json:"contentType,omitempty"`
	// ContentBytes is the base64 content.
	ContentBytes string `json:"contentBytes"`
	// IsInline marks an inline attachment (not counted by hasAttachments).
	IsInline bool `json:"isInline,omitempty"`
	// ContentID is the CID of an inline attachment.
	ContentID string `json:"contentId,omitempty"`
}

// DeliverSpec is a message arriving in a mailbox.
type DeliverSpec struct {
	// Folder is a folder id or well-known name; default "inbox".
	Folder string `json:"folder,omitempty"`
	// Subject is the subject.
	Subject string `json:"subject"`
	// From defaults to "Sender <sender@fabrikam.example>".
	From *Address `json:"from,omitempty"`
	// To defaults to the mailbox owner.
	To []Address `json:"to,omitempty"`
	// Cc is empty by default.
	Cc []Address `json:"cc,omitempty"`
	// Body defaults to an empty text body.
	Body *BodySpec `json:"body,omitempty"`
	// ReceivedDateTime (RFC 3339) defaults to now.
	ReceivedDateTime string `json:"receivedDateTime,omitempty"`
	// IsRead defaults to false.
	IsRead bool `json:"isRead,omitempty"`
	// Importance is low, normal (default) or high.
	Importance string `json:"importance,omitempty"`
	// Categories are category names.
	Categories []string `json:"categories,omitempty"`
	// Attachments are file attachments.
	Attachments []AttachmentSpec `json:"attachments,omitempty"`
}

// Delivered identifies a delivered message.
type Delivered struct {
	// ID is the REST id.
	ID string `json:"id"`
	// ImmutableID is the immutable id.
	ImmutableID string `json:"immutableId"`
	// FolderID is the id of the folder it arrived in.
	FolderID string `json:"folderId"`
}

// CreateMailbox creates a fresh mailbox (for test isolation).
func (s *Server) CreateMailbox(spec MailboxSpec) (MailboxInfo, error) {
	if spec.Token == "" || strings.ContainsAny(spec.Token, " \t\r\n") {
		return MailboxInfo{}, controlErr(http.StatusBadRequest, "token is required and must not contain spaces")
	}
	if spec.UPN == "" || !strings.Contains(spec.UPN, "@") {
		return MailboxInfo{}, controlErr(http.StatusBadRequest, "upn is required and must look like user@domain")
	}
	if spec.DisplayName == "" {
		spec.DisplayName, _, _ = strings.Cut(spec.UPN, "@")
	}
	switch spec.Seed {
	case "", "empty", "demo":
	default:
		return MailboxInfo{}, controlErr(http.StatusBadRequest, `seed must be "empty" or "demo"`)
	}
	if spec.ObjectID != "" && len(strings.ReplaceAll(spec.ObjectID, "-", "")) != 32 {
		return MailboxInfo{}, controlErr(http.StatusBadRequest, "objectId must be a GUID")
	}
	mb := newMailbox(spec.Token, spec.UPN, spec.DisplayName, spec.ObjectID, s.opts.SyncStateCapacity)
	for _, d := range spec.Delegates {
		mb.delegates[strings.ToLower(d)] = true
	}
	if spec.Seed == "demo" {
		seedDemoMailbox(mb)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byToken[mb.token] != nil {
		return MailboxInfo{}, controlErr(http.StatusConflict, "a mailbox with this token exists")
	}
	if s.byUPN[strings.ToLower(mb.upn)] != nil || s.byObjectID[mb.objectID] != nil {
		return MailboxInfo{}, controlErr(http.StatusConflict, "a mailbox with this upn or objectId exists")
	}
	s.byToken[mb.token] = mb
	s.byUPN[strings.ToLower(mb.upn)] = mb
	s.byObjectID[mb.objectID] = mb
	return mb.info(), nil
}

func (mb *mailbox) info() MailboxInfo {
	return MailboxInfo{Token: mb.token, UPN: mb.upn, ObjectID: mb.objectID, DisplayName: mb.displayName}
}

// Mailboxes lists the mailboxes.
func (s *Server) Mailboxes() []MailboxInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]MailboxInfo, 0, len(s.byToken))
	for _, mb := range s.byToken {
		out = append(out, mb.info())
	}
	return out
}

// DeleteMailbox removes the mailbox of token.
func (s *Server) DeleteMailbox(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.byToken[token]
	if mb == nil {
		return controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	delete(s.byToken, token)
	delete(s.byUPN, strings.ToLower(mb.upn))
	delete(s.byObjectID, mb.objectID)
	return nil
}

// AddDelegate lets upn open the mailbox of token via /users/{upn}.
func (s *Server) AddDelegate(token, upn string) error {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	if upn == "" {
		return controlErr(http.StatusBadRequest, "upn is required")
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.delegates[strings.ToLower(upn)] = true
	return nil
}

// Deliver adds a new message to the mailbox of token; it shows up in the
// next delta round of its folder.
func (s *Server) Deliver(token string, spec DeliverSpec) (Delivered, error) {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return Delivered{}, controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	received := now
	if spec.ReceivedDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, spec.ReceivedDateTime)
		if err != nil {
			return Delivered{}, controlErr(http.StatusBadRequest, "receivedDateTime must be RFC 3339")
		}
		received = t.UTC()
	}
	from := recipient{"Sender", "sender@fabrikam.example"}
	if spec.From != nil {
		from = recipient{spec.From.Name, spec.From.Address}
	}
	importance := "normal"
	if spec.Importance != "" {
		imp, ok := canonicalEnum(spec.Importance, "low", "normal", "high")
		if !ok {
			return Delivered{}, controlErr(http.StatusBadRequest, "importance must be low, normal or high")
		}
		importance = imp
	}
	m := &message{
		created: now, lastModified: now, received: received, sent: received,
		subject: spec.Subject, from: from, sender: from,
		isRead: spec.IsRead, importance: importance, flagStatus: "notFlagged", inference: "focused",
		categories: append([]string{}, spec.Categories...),
		cc:         toRecipients(spec.Cc), bcc: []recipient{}, replyTo: []recipient{},
	}
	m.to = toRecipients(spec.To)
	if len(spec.To) == 0 {
		m.to = []recipient{{mb.displayName, mb.upn}}
	}
	content, isHTML := "", false
	if spec.Body != nil {
		content = spec.Body.Content
		switch strings.ToLower(spec.Body.ContentType) {
		case "", "text":
		case "html":
			isHTML = true
		default:
			return Delivered{}, controlErr(http.StatusBadRequest, "body.contentType must be text or html")
		}
	}
	if isHTML {
		m.bodyIsHTML, m.bodyHTML, m.bodyText = true, content, htmlToText(content)
	} else {
		m.bodyText, m.bodyHTML = content, textToHTML(content)
	}
	m.preview = makePreview(m.bodyText)
	for _, a := range spec.Attachments {
		data, err := base64.StdEncoding.DecodeString(a.ContentBytes)
		if err != nil {
			return Delivered{}, controlErr(http.StatusBadRequest, "attachment contentBytes must be base64")
		}
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		m.attachments = append(m.attachments, &attachment{name: a.Name, contentType: ct, size: len(data), content: data, isInline: a.IsInline, contentID: a.ContentID, lastModified: now})
	}
	folderRef := spec.Folder
	if folderRef == "" {
		folderRef = "inbox"
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	f, gerr := mb.folderByRef(folderRef)
	if gerr != nil || f == mb.root {
		return Delivered{}, controlErr(http.StatusNotFound, "unknown folder "+folderRef)
	}
	m.internetMsgID = "<" + encodeKey(mb.nextKey+1) + "." + received.Format("20060102150405") + "@mail.fabrikam.example>"
	m.conversationID = "AAQkAD" + mb.mbxPart + "ABAAdelivered" + encodeKey(mb.nextKey+1) + "="
	m.convIndex = "AQHZ" + encodeKey(mb.nextKey+1) + "=="
	mb.addMessage(f, m)
	return Delivered{ID: m.restID, ImmutableID: m.immutableID, FolderID: f.id}, nil
}

func toRecipients(as []Address) []recipient {
	out := make([]recipient, 0, len(as))
	for _, a := range as {
		out = append(out, recipient{a.Name, a.Address})
	}
	return out
}

// ExpireSyncStates evicts every delta token of the mailbox of token; their
// next use answers 410 SyncStateNotFound. It returns how many were evicted.
func (s *Server) ExpireSyncStates(token string) (int, error) {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return 0, controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	n := mb.syncStates.len()
	mb.syncStates.clear()
	return n, nil
}

// maxControlBody bounds control API request bodies.
const maxControlBody = 16 << 20

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ce *ControlError
	if errors.As(err, &ce) {
		status = ce.Status
	}
	writeControlJSON(w, status, map[string]any{"error": map[string]string{"message": err.Error()}})
}

func readControlJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return controlErr(http.StatusBadRequest, "cannot read body")
	}
	if len(body) > maxControlBody {
		return controlErr(http.StatusRequestEntityTooLarge, "body too large")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return controlErr(http.StatusBadRequest, "invalid JSON: "+err.Error())
	}
	return nil
}

// serveControl serves the control API; rel is the escaped path after the
// control prefix.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, rel string) {
	var segs []string
	for _, p := range strings.Split(strings.Trim(rel, "/"), "/") {
		seg, err := url.PathUnescape(p)
		if err != nil {
			writeControlError(w, controlErr(http.StatusBadRequest, "bad escape in path"))
			return
		}
		segs = append(segs, seg)
	}
	notFound := func() { writeControlError(w, controlErr(http.StatusNotFound, "no such control endpoint")) }
	methodNotAllowed := func() { writeControlError(w, controlErr(http.StatusMethodNotAllowed, "method not allowed")) }
	switch {
	case segs[0] == "mailboxes" && len(segs) == 1:
		switch r.Method {
		case http.MethodPost:
			var spec MailboxSpec
			if err := readControlJSON(r, &spec); err != nil {
				writeControlError(w, err)
				return
			}
			info, err := s.CreateMailbox(spec)
			if err != nil {
				writeControlError(w, err)
				return
			}
			writeControlJSON(w, http.StatusCreated, info)
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.Mailboxes())
		default:
			methodNotAllowed()
		}
	case segs[0] == "mailboxes" && len(segs) == 2:
		if r.Method != http.MethodDelete {
			methodNotAllowed()
			return
		}
		if err := s.DeleteMailbox(segs[1]); err != nil {
			writeControlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case segs[0] == "mailboxes" && len(segs) == 3:
		if r.Method != http.MethodPost {
			methodNotAllowed()
			return
		}
		token := segs[1]
		switch segs[2] {
		case "deliver":
			var spec DeliverSpec
			if err := readControlJSON(r, &spec); err != nil {
				writeControlError(w, err)
				return
			}
			d, err := s.Deliver(token, spec)
			if err != nil {
				writeControlError(w, err)
				return
			}
			writeControlJSON(w, http.StatusCreated, d)
		case "expire-sync-states":
			n, err := s.ExpireSyncStates(token)
			if err != nil {
				writeControlError(w, err)
				return
			}
			writeControlJSON(w, http.StatusOK, map[string]int{"expired": n})
		case "delegates":
			var in struct {
				UPN string `json:"upn"`
			}
			if err := readControlJSON(r, &in); err != nil {
				writeControlError(w, err)
				return
			}
			if err := s.AddDelegate(token, in.UPN); err != nil {
				writeControlError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			notFound()
		}
	case segs[0] == "faults" && len(segs) == 1:
		switch r.Method {
		case http.MethodPost:
			var rule FaultRule
			if err := readControlJSON(r, &rule); err != nil {
				writeControlError(w, err)
				return
			}
			if err := s.AddFault(rule); err != nil {
				writeControlError(w, controlErr(http.StatusBadRequest, err.Error()))
				return
			}
			writeControlJSON(w, http.StatusCreated, rule)
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.Faults())
		case http.MethodDelete:
			s.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed()
		}
	case segs[0] == "requests" && len(segs) == 1:
		switch r.Method {
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.Requests())
		case http.MethodDelete:
			s.ClearRequests()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed()
		}
	default:
		notFound()
	}
}
