package translate

import "github.com/tidwall/gjson"

// This file holds the mail folder commands: folders.sync and folder.get
// (their rows are in table.go).
//
//	folders.sync → GET {root}/mailFolders/delta?$select=…   (delta sync)
//	folder.get   → GET {root}/mailFolders/{folder}?$select=…
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

func parseFolderArgs(c *command, _ *argValues) *Error {
	c.fields = folderFieldsAll
	return nil
}

// isFolderFields reports whether a folders.sync state's field set is valid.
func isFolderFields(f fieldSet) bool { return f == folderFieldsAll }

func foldersSyncPath(b []byte, _ *command) []byte { return append(b, "/mailFolders/delta"...) }

func folderPath(b []byte, c *command) []byte {
	b = append(b, "/mailFolders/"...)
	return appendPathSegment(b, c.folder)
}

func folderQuery(b []byte, _ *command) []byte { return append(b, folderSelect...) }

// appendFolderData writes folder.get's {"folder":{…}}.
func appendFolderData(_ *Plan, b []byte, _ *command, body gjson.Result) ([]byte, *Error) {
	var vals folderValues
	collectFolder(body, &vals)
	if vals[ffID].Type != gjson.String {
		return b, upstreamMalformed()
	}
	b = append(b, `{"folder":`...)
	b = appendFolder(b, &vals)
	return append(b, '}'), nil
}

// appendFolderChanges writes the changes of a folders delta page's value array.
func appendFolderChanges(_ *Plan, b []byte, _ *command, r *jreader) ([]byte, *Error) {
	value := r.value()
	if !value.IsArray() {
		return b, upstreamMalformed()
	}
	var vals folderValues
	n := 0
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendFolderChange(b, item, &vals); ok {
			n++
		} else {
			b = b[:mark]
		}
		return true
	})
	return b, nil
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
