package emulator

import (
	"strings"
)

// fieldSet is a bit set of selectable properties.
type fieldSet uint64

func (s fieldSet) has(f int) bool { return s&(1<<uint(f)) != 0 }

// Message properties, in the order Graph writes them.
const (
	mfCreated = iota
	mfLastModified
	mfChangeKey
	mfCategories
	mfReceived
	mfSent
	mfHasAttachments
	mfInternetMessageID
	mfSubject
	mfBodyPreview
	mfImportance
	mfParentFolderID
	mfConversationID
	mfConversationIndex
	mfDeliveryReceipt
	mfReadReceipt
	mfIsRead
	mfIsDraft
	mfWebLink
	mfInference
	mfBody
	mfSender
	mfFrom
	mfTo
	mfCc
	mfBcc
	mfReplyTo
	mfFlag
	mfUniqueBody
	mfHeaders
	mfID
	mfCount
)

var messageFieldNames = [mfCount]string{
	mfCreated:           "createdDateTime",
	mfLastModified:      "lastModifiedDateTime",
	mfChangeKey:         "changeKey",
	mfCategories:        "categories",
	mfReceived:          "receivedDateTime",
	mfSent:              "sentDateTime",
	mfHasAttachments:    "hasAttachments",
	mfInternetMessageID: "internetMessageId",
	mfSubject:           "subject",
	mfBodyPreview:       "bodyPreview",
	mfImportance:        "importance",
	mfParentFolderID:    "parentFolderId",
	mfConversationID:    "conversationId",
	mfConversationIndex: "conversationIndex",
	mfDeliveryReceipt:   "isDeliveryReceiptRequested",
	mfReadReceipt:       "isReadReceiptRequested",
	mfIsRead:            "isRead",
	mfIsDraft:           "isDraft",
	mfWebLink:           "webLink",
	mfInference:         "inferenceClassification",
	mfBody:              "body",
	mfSender:            "sender",
	mfFrom:              "from",
	mfTo:                "toRecipients",
	mfCc:                "ccRecipients",
	mfBcc:               "bccRecipients",
	mfReplyTo:           "replyTo",
	mfFlag:              "flag",
	mfUniqueBody:        "uniqueBody",
	mfHeaders:           "internetMessageHeaders",
	mfID:                "id",
}

// defaultMessageFields is what Graph returns without $select: everything
// except uniqueBody and internetMessageHeaders.
const defaultMessageFields = fieldSet(1<<mfUniqueBody-1) | 1<<mfID

// Folder properties.
const (
	ffID = iota
	ffDisplayName
	ffParentFolderID
	ffChildFolderCount
	ffUnreadItemCount
	ffTotalItemCount
	ffIsHidden
	ffCount
)

var folderFieldNames = [ffCount]string{
	ffID:               "id",
	ffDisplayName:      "displayName",
	ffParentFolderID:   "parentFolderId",
	ffChildFolderCount: "childFolderCount",
	ffUnreadItemCount:  "unreadItemCount",
	ffTotalItemCount:   "totalItemCount",
	ffIsHidden:         "isHidden",
}

const allFolderFields = fieldSet(1<<ffCount - 1)

// parseSelect parses a $select value against names. An empty value selects
// the defaults. Property names match case-insensitively, as Graph does.
func parseSelect(value string, names []string, defaults fieldSet, typeName string) (fieldSet, *graphError) {
	value = strings.TrimSpace(value)
	if value == "" {
		return defaults, nil
	}
	var s fieldSet
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part == "*" {
			s |= defaults
			continue
		}
		found := false
		for i, n := range names {
			if strings.EqualFold(n, part) {
				s |= 1 << uint(i)
				found = true
				break
			}
		}
		if !found {
			return 0, newError(400, "RequestBroker--ParseUri", "Could not find a property named '"+part+"' on type '"+typeName+"'.")
		}
	}
	return s, nil
}
