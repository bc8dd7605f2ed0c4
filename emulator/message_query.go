package emulator

import (
	"net/http"
	"strings"
	"time"
)

// This file reads the query options of message lists beyond $select and
// paging (FILES_FACTS 6): a $filter of "and"-joined receivedDateTime
// ge|gt and hasAttachments eq clauses, $orderby=receivedDateTime desc —
// which Graph refuses with InefficientFilter unless the filter starts with
// the ordered property — and $expand=attachments with an optional nested
// $select of the attachment base type (a derived-type field such as
// contentId answers 400). Without a nested $select each file attachment
// carries its contentBytes.

// messageListQuery is the parsed $filter, $orderby and $expand.
type messageListQuery struct {
	op string // "", "ge" or "gt"
	at time.Time
	// hasAttachments is the hasAttachments clause, nil when absent.
	hasAttachments *bool
	expand         bool
	expandSel      fieldSet
}

// baseAttachmentFields are the properties of microsoft.graph.attachment
// itself (the nested $select may name only these).
const baseAttachmentFields = fieldSet(1<<6 - 1)

func errInefficientFilter() *graphError {
	return newError(http.StatusBadRequest, "InefficientFilter", "The restriction or sort order is too complex for this operation.")
}

func (c *call) parseMessageListQuery() (messageListQuery, *graphError) {
	var q messageListQuery
	var order []string
	if f := strings.TrimSpace(c.query["$filter"]); f != "" {
		for _, clause := range splitAnd(f) {
			parts := strings.Fields(clause)
			switch {
			case len(parts) == 3 && strings.EqualFold(parts[0], "hasAttachments"):
				if !strings.EqualFold(parts[1], "eq") || q.hasAttachments != nil {
					return q, newError(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
				}
				v := strings.EqualFold(parts[2], "true")
				if !v && !strings.EqualFold(parts[2], "false") {
					return q, newError(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
				}
				q.hasAttachments = &v
				order = append(order, "hasattachments")
			default:
				if q.op != "" {
					return q, newError(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
				}
				op, at, gerr := parseReceivedFilter(clause)
				if gerr != nil {
					return q, gerr
				}
				q.op, q.at = op, at
				order = append(order, "receiveddatetime")
			}
		}
	}
	if ob, ok := c.query["$orderby"]; ok {
		fields := strings.Fields(ob)
		if len(fields) == 0 || len(fields) > 2 || !strings.EqualFold(fields[0], "receivedDateTime") ||
			len(fields) == 2 && !strings.EqualFold(fields[1], "desc") {
			return q, errBadRequest("The emulator sorts message lists by 'receivedDateTime desc' only.")
		}
		// The ordered property must come first in the filter.
		if len(order) > 0 && order[0] != "receiveddatetime" {
			return q, errInefficientFilter()
		}
	}
	if ex, ok := c.query["$expand"]; ok {
		sel, gerr := parseAttachmentExpand(ex)
		if gerr != nil {
			return q, gerr
		}
		q.expand, q.expandSel = true, sel
	}
	return q, nil
}

// splitAnd splits a filter on " and " (case-insensitive).
func splitAnd(f string) []string {
	var out []string
	lower := strings.ToLower(f)
	for {
		i := strings.Index(lower, " and ")
		if i < 0 {
			return append(out, strings.TrimSpace(f))
		}
		out = append(out, strings.TrimSpace(f[:i]))
		f, lower = f[i+5:], lower[i+5:]
	}
}

// parseAttachmentExpand reads attachments or attachments($select=…).
func parseAttachmentExpand(v string) (fieldSet, *graphError) {
	v = strings.TrimSpace(v)
	bad := errBadRequest("Parsing OData Select and Expand failed: only attachments can be expanded.")
	if strings.EqualFold(v, "attachments") {
		return allAttachmentFields, nil
	}
	if len(v) < len("attachments(") || !strings.EqualFold(v[:len("attachments(")], "attachments(") || !strings.HasSuffix(v, ")") {
		if strings.Contains(v, ",") {
			return 0, errBadRequest("Only one relationship can be expanded in a single request.")
		}
		return 0, bad
	}
	inner := strings.TrimSpace(v[len("attachments(") : len(v)-1])
	name, value, ok := strings.Cut(inner, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "$select") || strings.Contains(value, ";") {
		return 0, bad
	}
	names := attachmentFieldNames[:6]
	return parseSelect(value, names, baseAttachmentFields, "microsoft.graph.attachment")
}

// writeExpandedAttachments closes a message object written by writeMessage
// with its "attachments" array.
func writeExpandedAttachments(b *jsonBuf, m *message, sel fieldSet) {
	b.b = b.b[:len(b.b)-1]
	b.raw(`,"attachments":[`)
	for i, a := range m.attachments {
		if i > 0 {
			b.byte1(',')
		}
		writeAttachment(b, a, sel|1, "")
	}
	b.raw(`]}`)
}

// filterHasAttachments keeps the messages whose hasAttachments is want.
func filterHasAttachments(msgs []*message, want bool) []*message {
	out := make([]*message, 0, len(msgs))
	for _, m := range msgs {
		if m.hasAttachments() == want {
			out = append(out, m)
		}
	}
	return out
}
