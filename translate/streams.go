package translate

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// This file builds the upstream calls of the streaming endpoints
// (docs/device-api.md §12 and the files section) and maps their failed answers to device errors.
// The bodies themselves never pass through the translator: the caller
// streams them.

// MIMESendContentType is the request body type of Graph's MIME sendMail
// form: the RFC 822 message, base64-encoded.
const MIMESendContentType = "text/plain"

// Messages of the streaming endpoints.
const (
	msgBadAttachmentID = "attachment id must be a Graph id"
)

// AttachmentValueCall returns the call GET {base}/me/messages/{id}/attachments/{aid}/$value
// (or /users/{mailbox}/… when mailbox is not ""). Ids and mailbox are
// checked like command arguments: a bad one is 400 invalid_args.
func (t *Translator) AttachmentValueCall(mailbox, messageID, attachmentID string) (*Call, *Error) {
	b, err := t.streamRoot(mailbox, messageID)
	if err != nil {
		return nil, err
	}
	if !validGraphID(attachmentID) {
		return nil, invalidArgs(msgBadAttachmentID)
	}
	b = append(b, "/attachments/"...)
	b = appendPathSegment(b, attachmentID)
	b = append(b, "/$value"...)
	return t.streamCall(http.MethodGet, b, ""), nil
}

// MIMEValueCall returns the call GET {base}/me/messages/{id}/$value: the
// message as MIME.
func (t *Translator) MIMEValueCall(mailbox, messageID string) (*Call, *Error) {
	b, err := t.streamRoot(mailbox, messageID)
	if err != nil {
		return nil, err
	}
	b = append(b, "/$value"...)
	return t.streamCall(http.MethodGet, b, ""), nil
}

// MIMESendCall returns the call POST {base}/me/sendMail with Content-Type
// text/plain. Its Body is nil: the caller streams the device's MIME message
// base64-encoded as the request body.
func (t *Translator) MIMESendCall(mailbox string) (*Call, *Error) {
	if mailbox != "" && !validMailbox(mailbox) {
		return nil, invalidArgs(msgBadMailbox)
	}
	b := make([]byte, 0, len(t.basePath)+len(mailbox)*3+32)
	b = append(b, t.basePath...)
	b = appendRoot(b, mailbox)
	b = append(b, "/sendMail"...)
	return t.streamCall(http.MethodPost, b, MIMESendContentType), nil
}

// streamRoot checks mailbox and message id and returns
// {base}/me/messages/{id} (escaped).
func (t *Translator) streamRoot(mailbox, messageID string) ([]byte, *Error) {
	if mailbox != "" && !validMailbox(mailbox) {
		return nil, invalidArgs(msgBadMailbox)
	}
	if !validGraphID(messageID) {
		return nil, invalidArgs(msgBadMessageID)
	}
	b := make([]byte, 0, len(t.basePath)+len(mailbox)*3+len(messageID)*3+600)
	b = append(b, t.basePath...)
	b = appendRoot(b, mailbox)
	b = append(b, "/messages/"...)
	return appendPathSegment(b, messageID), nil
}

func (t *Translator) streamCall(method string, path []byte, contentType string) *Call {
	c := &Call{Method: method, Path: string(path), ContentType: contentType}
	if t.immutableIDs {
		c.Prefer = []string{preferImmutableID}
	}
	return c
}

// UpstreamError maps a streaming endpoint's non-2xx upstream answer (status,
// headers, and the start of its body, at most a few KiB are needed) to the
// device error: 401, 429 and 5xx as for an envelope (unauthenticated — the
// caller copies WWW-Authenticate —, throttled with retryAfter,
// upstream_unavailable / upstream_timeout / upstream_error), every other
// status as a command's result (400 invalid_args, 403 forbidden, 404
// not_found, 409/412 conflict, 410 resync_required, anything else 502
// upstream_error), with upstreamCode and requestId. It returns nil for a
// 2xx status.
func (t *Translator) UpstreamError(status int, header http.Header, body []byte) *Error {
	if status/100 == 2 {
		return nil
	}
	var root gjson.Result
	if len(body) > 0 && depthWithin(body, maxUpstreamDepth) && gjson.ValidBytes(body) {
		root = gjson.ParseBytes(body)
	}
	now := t.now()
	if e := envelopeFailure(status, header, root, true, now); e != nil {
		return e
	}
	r := responder{header: header, direct: true, now: now}
	it := batchItem{present: true, status: status, body: root}
	// commandFailure reads only its arguments, never the plan; the command
	// has no row, so the generic rules apply.
	var p *Plan
	return p.commandFailure(&r, &command{}, &it)
}

// FileContentCall returns the call of the file streaming endpoint
// (DEVICE_API.md §8, GET {prefix}/files/{id}/content[?drive=…]): GET
// {base}/me/drive/items/{id}?$select=id,size,eTag,file,@microsoft.graph.downloadUrl
// (/users/{mailbox}/drive/… with a mailbox, /drives/{drive}/… with a
// drive), the item whose pre-authenticated download URL the caller then
// takes from the JSON answer with FileDownloadURL. Never /content: its
// 302 carries the URL in a Location header, which logs would print. Ids
// follow the drive id rule (1–256 of [A-Za-z0-9!._~=-]); a bad one is 400
// invalid_args.
func (t *Translator) FileContentCall(mailbox, drive, itemID string) (*Call, *Error) {
	if mailbox != "" && !validMailbox(mailbox) {
		return nil, invalidArgs(msgBadMailbox)
	}
	if drive != "" && !validDriveID(drive) {
		return nil, invalidArgs(msgBadDrive)
	}
	if !validDriveID(itemID) {
		return nil, invalidArgs(msgBadFileID)
	}
	b := make([]byte, 0, len(t.basePath)+len(mailbox)*3+len(drive)*3+len(itemID)*3+32)
	b = append(b, t.basePath...)
	b = appendDriveRoot(b, mailbox, drive)
	b = append(b, "/items/"...)
	b = appendPathSegment(b, itemID)
	c := t.streamCall(http.MethodGet, b, "")
	c.RawQuery = fileLinkSelect
	return c, nil
}

// FileDownloadURL reads the answer of a FileContentCall (a 2xx JSON body):
// the item's @microsoft.graph.downloadUrl, unescaped, to be used byte for
// byte. An answer that is not a JSON object is 502 upstream_error; an item
// without a download URL (a folder or a package) is 400 invalid_args.
func FileDownloadURL(body []byte) (string, *Error) {
	s := bytesToString(body)
	if !validJSON(s, maxUpstreamDepth) {
		return "", upstreamMalformed()
	}
	root := gjson.Parse(s)
	if !root.IsObject() {
		return "", upstreamMalformed()
	}
	var url gjson.Result
	eachMember(root.Raw, func(k string, v gjson.Result) bool {
		if k == "@microsoft.graph.downloadUrl" {
			url = v
		}
		return true
	})
	if url.Type != gjson.String || len(url.Raw) <= 2 {
		return "", invalidArgs(msgNoDownloadURL)
	}
	// A copy: the caller's body buffer may be reused.
	return strings.Clone(jsonStr(url)), nil
}
