package translate

import "github.com/tidwall/gjson"

// This file holds the mail folder commands: folders.sync and folder.get.
// Folder: {"id","parent","name","unread","total","children","hidden"} ←
// id, parentFolderId, displayName, unreadItemCount, totalItemCount,
// childFolderCount, isHidden.

// folderSelect is the $select of every folder call.
const folderSelect = "$select=id,displayName,parentFolderId,childFolderCount,unreadItemCount,totalItemCount,isHidden"

// folderFieldsAll is the (fixed) field set sealed into folders.sync states.
const folderFieldsAll fieldSet = 1

// Folder field slots, in device output order.
const (
	ffID = iota
	ffParent
	ffName
	ffUnread
	ffTotal
	ffChildren
	ffHidden
	numFolderFields
)

// folderFields are the device names of the folder fields, in output order.
var folderFields = [numFolderFields]string{"id", "parent", "name", "unread", "total", "children", "hidden"}

func folderSlot(graphName string) int {
	switch graphName {
	case "id":
		return ffID
	case "parentFolderId":
		return ffParent
	case "displayName":
		return ffName
	case "unreadItemCount":
		return ffUnread
	case "totalItemCount":
		return ffTotal
	case "childFolderCount":
		return ffChildren
	case "isHidden":
		return ffHidden
	}
	return -1
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
// the first call of c, or the sealed link for a continuation.
func (c *command) buildURL() {
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
	var arr [1024]byte
	b := appendRoot(arr[:0], c.mailbox)
	switch c.op {
	case opFoldersSync:
		b = append(b, "/mailFolders/delta"...)
		c.pathLen = len(b)
		b = append(b, '?')
		b = append(b, folderSelect...)
	case opFolderGet:
		b = append(b, "/mailFolders/"...)
		b = appendPathSegment(b, c.folder)
		c.pathLen = len(b)
		b = append(b, '?')
		b = append(b, folderSelect...)
	case opMailSync:
		b = append(b, "/mailFolders/"...)
		b = appendPathSegment(b, c.folder)
		b = append(b, "/messages/delta"...)
		c.pathLen = len(b)
		b = append(b, '?')
		b = appendMessageSelect(b, c.fields)
		if c.since != "" {
			b = append(b, "&$filter=receivedDateTime%20ge%20"...)
			b = append(b, c.since...) // [0-9TZ:-] only
		}
	case opMailGet:
		b = append(b, "/messages/"...)
		b = appendPathSegment(b, c.msgID)
		c.pathLen = len(b)
		b = append(b, '?')
		b = appendMessageSelect(b, c.fields)
	case opMailUpdate, opMailMove, opMailDelete, opMailSend, opMailReply, opMailForward, opMailSearch, opAttachmentsList:
		b = c.appendMailActionURL(b)
	default:
		b = c.appendPIMURL(b) // calendar and contacts
	}
	c.url = string(b)
}

// folderValues holds the Graph values of one folder, by field slot.
type folderValues [numFolderFields]gjson.Result

// collectFolder reads obj once into vals and reports whether it carries @removed.
func collectFolder(obj gjson.Result, vals *folderValues) (removed bool) {
	*vals = folderValues{}
	eachMember(obj.Raw, func(k string, v gjson.Result) bool {
		if s := folderSlot(k); s >= 0 {
			vals[s] = v
		} else if k == "@removed" {
			removed = true
		}
		return true
	})
	return removed
}

// appendFolderChange writes one sync change for a Graph folder delta item;
// false (nothing written) when the item has no string id.
func appendFolderChange(dst []byte, item gjson.Result, vals *folderValues) ([]byte, bool) {
	removed := collectFolder(item, vals)
	if vals[ffID].Type != gjson.String {
		return dst, false
	}
	if removed {
		dst = append(dst, `{"op":"delete","id":`...)
		dst = appendStringToken(dst, vals[ffID])
		return append(dst, '}'), true
	}
	dst = append(dst, `{"op":"upsert","folder":`...)
	dst = appendFolder(dst, vals)
	return append(dst, '}'), true
}

// appendFolder writes the device form of a collected folder; absent, null and
// ill-typed values are omitted.
func appendFolder(dst []byte, vals *folderValues) []byte {
	first := true
	dst = append(dst, '{')
	for i := 0; i < numFolderFields; i++ {
		v := vals[i]
		switch i {
		case ffID, ffParent, ffName:
			if v.Type != gjson.String {
				continue
			}
			dst = appendKey(dst, &first, folderFields[i])
			dst = appendStringToken(dst, v)
		case ffUnread, ffTotal, ffChildren:
			if v.Type != gjson.Number {
				continue
			}
			dst = appendKey(dst, &first, folderFields[i])
			dst = append(dst, v.Raw...)
		case ffHidden:
			if v.Type != gjson.True && v.Type != gjson.False {
				continue
			}
			dst = appendKey(dst, &first, folderFields[i])
			dst = appendBool(dst, v.Type == gjson.True)
		}
	}
	return append(dst, '}')
}
