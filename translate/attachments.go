package translate

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// This file holds attachments.list (docs/device-api.md §9; its row is in table.go):
//
//	GET {root}/messages/{id}/attachments?$select=id,name,contentType,size,isInline
//
// Data: {"attachments":[{"id","name","type","size","inline"}]}. The
// attachment bytes themselves go through the streaming endpoint (streams.go).
// It also holds attachments.recent (DEVICE_API.md §8), below.

func attachmentsPath(b []byte, c *command) []byte {
	return append(messagePath(b, c), "/attachments"...)
}

func attachmentsQuery(b []byte, _ *command) []byte {
	return append(b, "$select=id,name,contentType,size,isInline"...)
}

// appendAttachmentsData writes {"attachments":[{"id","name","type","size","inline"}]}
// from an attachments list; items without a string id are skipped, other
// absent or ill-typed values omitted.
func appendAttachmentsData(_ *Plan, b []byte, _ *command, body gjson.Result) ([]byte, *Error) {
	value := body.Get("value")
	if value.Exists() && !value.IsArray() {
		return b, upstreamMalformed()
	}
	b = append(b, `{"attachments":[`...)
	n := 0
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		var id, name, typ, size, inline gjson.Result
		eachMember(item.Raw, func(k string, v gjson.Result) bool {
			switch k {
			case "id":
				id = v
			case "name":
				name = v
			case "contentType":
				typ = v
			case "size":
				size = v
			case "isInline":
				inline = v
			}
			return true
		})
		if id.Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		first := true
		b = append(b, '{')
		b = appendKey(b, &first, "id")
		b = appendStringToken(b, id)
		if name.Type == gjson.String {
			b = appendKey(b, &first, "name")
			b = appendStringToken(b, name)
		}
		if typ.Type == gjson.String {
			b = appendKey(b, &first, "type")
			b = appendStringToken(b, typ)
		}
		if size.Type == gjson.Number && size.Num >= 0 && size.Num <= 1<<53 && size.Num == float64(int64(size.Num)) {
			b = appendKey(b, &first, "size")
			b = appendInt(b, int(size.Num))
		}
		if inline.Type == gjson.True || inline.Type == gjson.False {
			b = appendKey(b, &first, "inline")
			b = appendBool(b, inline.Type == gjson.True)
		}
		b = append(b, '}')
		n++
		return true
	})
	return append(b, "]}"...), nil
}

// attachments.recent (DEVICE_API.md §8; its row is in table.go) lists the
// attachments of recent mail, newest first:
//
//	GET {root}/messages (or /mailFolders/{folder}/messages)?$filter=receivedDateTime ge {since} and hasAttachments eq true
//		&$orderby=receivedDateTime desc&$select=id,subject,from,receivedDateTime,parentFolderId
//		&$expand=attachments($select=id,name,size,contentType,isInline)&$top={window}
//
// The $filter begins with receivedDateTime because $orderby uses it (Graph
// answers InefficientFilter otherwise); the nested $select names no
// derived-type property such as contentId (Graph answers 400) and no
// contentBytes: no attachment content is ever in the answer. Data:
// {"items":[{"message":{"id","subject","from","received","folder"},
// "attachments":[{"id","name","size","type","inline","kind"}]}],"state"?,"more"}.

// Limits and defaults of attachments.recent.
const (
	// defaultRecentSince is how far back attachments.recent looks without since.
	defaultRecentSince = 30 * 24 * time.Hour
	// maxRecentWindow is attachments.recent's largest window: messages come
	// with their attachments expanded, and big pages time out at Graph.
	maxRecentWindow = 50
)

// Messages of attachments.recent.
const (
	msgBadRecentFolder = "folder must be a well-known folder name or a folder id"
	msgBadRecentWindow = "window must be an integer from 1 to 50"
)

// parseRecentAttachmentsArgs validates attachments.recent's optional
// folder and its window (1–50), and sets since to 30 days ago when it is
// not given.
func parseRecentAttachmentsArgs(c *command, a *argValues) *Error {
	if a.folder.Exists() {
		f, ok := "", false
		if a.folder.Type == gjson.String {
			f, ok = normalizeFolder(a.folder.Str)
		}
		if !ok {
			return invalidArgs(msgBadRecentFolder)
		}
		c.folder = f
	}
	if a.window.Exists() {
		if w, ok := parseWindow(a.window); !ok || w > maxRecentWindow {
			return invalidArgs(msgBadRecentWindow)
		}
	}
	if c.since == "" {
		c.since = a.now().Add(-defaultRecentSince).UTC().Format("2006-01-02T15:04:05Z")
	}
	c.fields = fileFieldsFixed
	return nil
}

func recentAttachmentsPath(b []byte, c *command) []byte {
	if c.folder == "" {
		return append(b, "/messages"...)
	}
	b = append(b, "/mailFolders/"...)
	b = appendPathSegment(b, c.folder)
	return append(b, "/messages"...)
}

func recentAttachmentsQuery(b []byte, c *command) []byte {
	b = append(b, "$filter=receivedDateTime%20ge%20"...)
	b = append(b, c.since...) // [0-9TZ:-] only
	b = append(b, "%20and%20hasAttachments%20eq%20true&$orderby=receivedDateTime%20desc"...)
	b = append(b, "&$select=id,subject,from,receivedDateTime,parentFolderId"...)
	b = append(b, "&$expand=attachments($select=id,name,size,contentType,isInline)&$top="...)
	return appendInt(b, c.window)
}

// appendRecentAttachmentsData writes one page of attachments.recent.
// Messages without a string id are skipped, and so are attachments.
func (p *Plan) appendRecentAttachmentsData(b []byte, c *command, page gjson.Result) ([]byte, *Error) {
	var value, next gjson.Result
	eachMember(page.Raw, func(k string, v gjson.Result) bool {
		switch k {
		case "value":
			value = v
		case "@odata.nextLink":
			next = v
		}
		return true
	})
	if value.Exists() && !value.IsArray() {
		return b, upstreamMalformed()
	}
	b = append(b, `{"items":[`...)
	n := 0
	eachElement(value.Raw, func(msg gjson.Result) bool {
		if !msg.IsObject() {
			return true
		}
		var id, subject, from, received, folder, atts gjson.Result
		eachMember(msg.Raw, func(k string, v gjson.Result) bool {
			switch k {
			case "id":
				id = v
			case "subject":
				subject = v
			case "from":
				from = v
			case "receivedDateTime":
				received = v
			case "parentFolderId":
				folder = v
			case "attachments":
				atts = v
			}
			return true
		})
		if id.Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		first := true
		b = append(b, `{"message":{`...)
		b = appendStringMember(b, &first, "id", id)
		b = appendStringMember(b, &first, "subject", subject)
		if from.IsObject() {
			mark, wasFirst := len(b), first
			b = appendKey(b, &first, "from")
			var ok bool
			if b, ok = appendPerson(b, from); !ok {
				b, first = b[:mark], wasFirst
			}
		}
		b = appendStringMember(b, &first, "received", received)
		b = appendStringMember(b, &first, "folder", folder)
		b = append(b, `},"attachments":`...)
		b = appendRecentAttachments(b, atts)
		b = append(b, '}')
		return true
	})
	b = append(b, ']')
	return p.appendPageEnd(b, c, next)
}

// appendRecentAttachments writes [{"id","name","size","type","inline","kind"}]
// from a message's expanded attachments ([] when there are none).
func appendRecentAttachments(b []byte, atts gjson.Result) []byte {
	b = append(b, '[')
	n := 0
	eachElement(atts.Raw, func(att gjson.Result) bool {
		if !att.IsObject() {
			return true
		}
		var id, name, size, typ, inline, odataType gjson.Result
		eachMember(att.Raw, func(k string, v gjson.Result) bool {
			switch k {
			case "id":
				id = v
			case "name":
				name = v
			case "size":
				size = v
			case "contentType":
				typ = v
			case "isInline":
				inline = v
			case "@odata.type":
				odataType = v
			}
			return true
		})
		if id.Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		first := true
		b = append(b, '{')
		b = appendStringMember(b, &first, "id", id)
		b = appendStringMember(b, &first, "name", name)
		b = appendCountMember(b, &first, "size", size)
		b = appendStringMember(b, &first, "type", typ)
		if inline.Type == gjson.True || inline.Type == gjson.False {
			b = appendKey(b, &first, "inline")
			b = appendBool(b, inline.Type == gjson.True)
		}
		if kind := attachmentKind(jsonStr(odataType)); kind != "" {
			b = appendKey(b, &first, "kind")
			b = append(b, kind...)
		}
		b = append(b, '}')
		return true
	})
	return append(b, ']')
}

// attachmentKind maps an attachment's @odata.type to the device kind
// ("file", "item", "link", as JSON strings), "" for another type.
func attachmentKind(odataType string) string {
	t := strings.TrimPrefix(odataType, "#")
	if len(t) > len("microsoft.graph.") && equalFoldASCII(t[:len("microsoft.graph.")], "microsoft.graph.") {
		t = t[len("microsoft.graph."):]
	}
	switch {
	case equalFoldASCII(t, "fileAttachment"):
		return `"file"`
	case equalFoldASCII(t, "itemAttachment"):
		return `"item"`
	case equalFoldASCII(t, "referenceAttachment"):
		return `"link"`
	}
	return ""
}
