package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
)

// This file serves the default Contacts folder (GRAPH_FACTS 3.6, 5):
// contacts/delta with $select, paging and @removed, and contacts CRUD.
// emailAddresses are [{name, address}] without an emailAddress wrapper.

// Contact properties, in the order they are written.
const (
	cfCreated = iota
	cfLastModified
	cfChangeKey
	cfCategories
	cfParentFolderID
	cfDisplayName
	cfGivenName
	cfSurname
	cfEmailAddresses
	cfMobilePhone
	cfBusinessPhones
	cfHomePhones
	cfCompanyName
	cfJobTitle
	cfID
	cfCount
)

var contactFieldNames = [cfCount]string{
	cfCreated:        "createdDateTime",
	cfLastModified:   "lastModifiedDateTime",
	cfChangeKey:      "changeKey",
	cfCategories:     "categories",
	cfParentFolderID: "parentFolderId",
	cfDisplayName:    "displayName",
	cfGivenName:      "givenName",
	cfSurname:        "surname",
	cfEmailAddresses: "emailAddresses",
	cfMobilePhone:    "mobilePhone",
	cfBusinessPhones: "businessPhones",
	cfHomePhones:     "homePhones",
	cfCompanyName:    "companyName",
	cfJobTitle:       "jobTitle",
	cfID:             "id",
}

const allContactFields = fieldSet(1<<cfCount - 1)

// contactsFolderID is the id of the default Contacts folder.
func contactsFolderID(mbxPart string) string {
	return "AQMkAD" + mbxPart + "AC-EWg0A_AAAC" + encodeKey(1) + "AAAA"
}

// routeContacts routes /contacts….
func (c *call) routeContacts(segs []string) {
	m := c.r.Method
	switch {
	case len(segs) == 0:
		if m != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.createContact()
	case len(segs) == 1 && eq(segs[0], "delta"):
		if m != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		c.contactsDelta()
	case len(segs) == 1:
		switch m {
		case http.MethodGet:
			c.getContact(segs[0])
		case http.MethodPatch:
			c.patchContact(segs[0])
		case http.MethodDelete:
			c.deleteContact(segs[0])
		default:
			c.fail(errMethodNotAllowed())
		}
	default:
		c.fail(errSegmentNotFound(segs[1]))
	}
}

// contactsDelta serves GET contacts/delta.
func (c *call) contactsDelta() {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	base := c.root() + "/" + c.principal + "/contacts/delta"
	var st syncState
	if token, hasToken := c.deltaTokenParam(); hasToken {
		prev, ok := mb.syncStates.get(token)
		if !ok || prev.kind != deltaContacts {
			c.syncStateGone(base)
			return
		}
		st = *prev
		if st.isDelta {
			r := &deltaRound{upto: mb.seq}
			for _, ct := range mb.pim.contacts {
				switch {
				case ct.changeSeq <= st.baseline:
				case !ct.deleted:
					r.items = append(r.items, roundItem{contact: ct})
				case ct.createdSeq <= st.baseline:
					r.items = append(r.items, roundItem{removed: true, restID: ct.id, immutableID: ct.id})
				}
			}
			st.round = r
			st.offset, st.pageIndex, st.emptyServed, st.isDelta = 0, 0, false, false
		}
	} else {
		sel, gerr := parseSelect(c.query["$select"], contactFieldNames[:], allContactFields, "microsoft.graph.contact")
		if gerr != nil {
			c.fail(gerr)
			return
		}
		for _, o := range []string{"$expand", "$filter", "$orderby", "$search"} {
			if _, given := c.query[o]; given {
				c.fail(errBadRequest("The query parameter '" + o + "' is not supported with change tracking over the 'Contacts' resource."))
				return
			}
		}
		r := &deltaRound{upto: mb.seq}
		for _, ct := range mb.pim.contacts {
			if !ct.deleted {
				r.items = append(r.items, roundItem{contact: ct})
			}
		}
		st = syncState{kind: deltaContacts, opts: deltaOptions{selected: sel, hasSelect: c.query["$select"] != ""}, round: r}
	}
	if applied := c.prefs.applied(true, false); applied != "" {
		c.w.Header().Set("Preference-Applied", applied)
	}
	c.serveDeltaPage(&st, base, c.metadata("Collection(contact)"), func(b *jsonBuf, it *roundItem) bool {
		if it.removed {
			writeRemoved(b, "#microsoft.graph.contact", it.restID)
			return true
		}
		if it.contact.deleted {
			return false
		}
		writeContact(b, mb, it.contact, st.opts.selected, "", true)
		return true
	})
}

// writeContact writes ct with the selected properties; unset strings are null.
func writeContact(b *jsonBuf, mb *mailbox, ct *contact, sel fieldSet, context string, odataType bool) {
	first := true
	b.entityHead(&first, context, odataType, `"#microsoft.graph.contact"`, ct.changeKey(), ct.id)
	strOrNull := func(s string) {
		if s == "" {
			b.raw("null")
		} else {
			b.str(s)
		}
	}
	strs := func(ss []string) {
		b.byte1('[')
		for i, s := range ss {
			if i > 0 {
				b.byte1(',')
			}
			b.str(s)
		}
		b.byte1(']')
	}
	for f := 0; f < cfID; f++ {
		if !sel.has(f) {
			continue
		}
		b.key(contactFieldNames[f], &first)
		switch f {
		case cfCreated:
			b.time(ct.created)
		case cfLastModified:
			b.time(ct.lastModified)
		case cfChangeKey:
			b.str(ct.changeKey())
		case cfCategories:
			b.raw("[]")
		case cfParentFolderID:
			b.str(contactsFolderID(mb.mbxPart))
		case cfDisplayName:
			b.str(ct.displayName)
		case cfGivenName:
			strOrNull(ct.givenName)
		case cfSurname:
			strOrNull(ct.surname)
		case cfEmailAddresses:
			b.byte1('[')
			for i, e := range ct.emails {
				if i > 0 {
					b.byte1(',')
				}
				b.raw(`{"name":`)
				b.str(e.name)
				b.raw(`,"address":`)
				b.str(e.address)
				b.byte1('}')
			}
			b.byte1(']')
		case cfMobilePhone:
			strOrNull(ct.mobile)
		case cfBusinessPhones:
			strs(ct.business)
		case cfHomePhones:
			strs(ct.home)
		case cfCompanyName:
			strOrNull(ct.company)
		case cfJobTitle:
			strOrNull(ct.title)
		}
	}
	b.byte1('}')
}

// contactInput is the body of POST/PATCH contacts; a null clears a field.
type contactInput map[string]json.RawMessage

// applyContactInput validates in and applies it to ct. Nothing changes
// when it fails. Unknown properties are ignored.
func applyContactInput(ct *contact, in contactInput) *graphError {
	next := *ct
	str := func(name string, dst *string) *graphError {
		raw, ok := in[name]
		if !ok {
			return nil
		}
		if string(raw) == "null" {
			*dst = ""
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return errBadRequest("Invalid value for property '" + name + "'.")
		}
		return nil
	}
	strList := func(name string, dst *[]string) *graphError {
		raw, ok := in[name]
		if !ok {
			return nil
		}
		var v []string
		if string(raw) != "null" {
			if err := json.Unmarshal(raw, &v); err != nil {
				return errBadRequest("Invalid value for property '" + name + "'.")
			}
		}
		*dst = append([]string{}, v...)
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"displayName", &next.displayName}, {"givenName", &next.givenName}, {"surname", &next.surname},
		{"mobilePhone", &next.mobile}, {"companyName", &next.company}, {"jobTitle", &next.title}} {
		if gerr := str(f.name, f.dst); gerr != nil {
			return gerr
		}
	}
	if gerr := strList("businessPhones", &next.business); gerr != nil {
		return gerr
	}
	if gerr := strList("homePhones", &next.home); gerr != nil {
		return gerr
	}
	if raw, ok := in["emailAddresses"]; ok {
		var v []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		}
		if string(raw) != "null" {
			if err := json.Unmarshal(raw, &v); err != nil {
				return errBadRequest("Invalid value for property 'emailAddresses'.")
			}
		}
		next.emails = []recipient{}
		for _, e := range v {
			if e.Address == "" {
				return errBadRequest("An email address must have an address.")
			}
			next.emails = append(next.emails, recipient{e.Name, e.Address})
		}
	}
	if _, given := in["displayName"]; !given && ct.id == "" && next.displayName == "" {
		next.displayName = strings.TrimSpace(next.givenName + " " + next.surname)
	}
	*ct = next
	return nil
}

func (c *call) contactEntityContext() string {
	return c.metadata(c.userContext() + "/contacts/$entity")
}

func (c *call) readContactInput() (contactInput, *graphError) {
	var in contactInput
	if gerr := c.readJSON(&in); gerr != nil {
		return nil, gerr
	}
	if in == nil {
		return nil, errBadRequest("Empty Payload. JSON content expected.")
	}
	return in, nil
}

// createContact serves POST contacts: 201 and the contact.
func (c *call) createContact() {
	in, gerr := c.readContactInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	ct := &contact{emails: []recipient{}, business: []string{}, home: []string{}}
	if gerr := applyContactInput(ct, in); gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.addContact(ct, c.now)
	var b jsonBuf
	writeContact(&b, mb, ct, allContactFields, c.contactEntityContext(), false)
	c.reply(http.StatusCreated, b.b)
}

func (c *call) getContact(ref string) {
	mb := c.mb
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	ct, gerr := mb.contactByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	sel, gerr := parseSelect(c.query["$select"], contactFieldNames[:], allContactFields, "microsoft.graph.contact")
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var b jsonBuf
	writeContact(&b, mb, ct, sel, c.contactEntityContext(), false)
	c.reply(http.StatusOK, b.b)
}

// patchContact serves PATCH contacts/{id}: 200 and the contact.
func (c *call) patchContact(ref string) {
	in, gerr := c.readContactInput()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ct, gerr := mb.contactByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	if gerr := applyContactInput(ct, in); gerr != nil {
		c.fail(gerr)
		return
	}
	mb.touchContact(ct, c.now)
	var b jsonBuf
	writeContact(&b, mb, ct, allContactFields, c.contactEntityContext(), false)
	c.reply(http.StatusOK, b.b)
}

// deleteContact serves DELETE contacts/{id}: 204.
func (c *call) deleteContact(ref string) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ct, gerr := mb.contactByRef(ref)
	if gerr != nil {
		c.fail(gerr)
		return
	}
	mb.removeContact(ct, c.now)
	c.w.WriteHeader(http.StatusNoContent)
}
