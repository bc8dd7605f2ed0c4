package translate

import "github.com/tidwall/gjson"

// This file holds attachments.list (docs/device-api.md §9; its row is in table.go):
//
//	GET {root}/messages/{id}/attachments?$select=id,name,contentType,size,isInline
//
// Data: {"attachments":[{"id","name","type","size","inline"}]}. The
// attachment bytes themselves go through the streaming endpoint (streams.go).

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
