package translate

import "github.com/tidwall/gjson"

// This file holds the contact commands (their rows are in table.go):
//
//	contacts.sync  → GET {root}/contacts/delta?$select=…   (delta sync)
//	contact.create → POST {root}/contacts     (edits.go builds the body)
//	contact.update → PATCH {root}/contacts/{id}
//	contact.delete → DELETE {root}/contacts/{id}
//
// and translates Graph contacts into the device's contact form.
// Contact: {"id","name","given","surname","emails","mobile","business",
// "home","company","title"} ← id, displayName, givenName, surname,
// emailAddresses, mobilePhone, businessPhones, homePhones, companyName,
// jobTitle. emailAddresses are [{name, address}] (no emailAddress wrapper,
// unlike recipients); a wrapped entry is accepted too.

// contactSelect is the $select of contacts.sync.
const contactSelect = "$select=id,displayName,givenName,surname,emailAddresses,mobilePhone,businessPhones,homePhones,companyName,jobTitle"

// Contact field slots, in device output order.
const (
	cfID = iota
	cfName
	cfGiven
	cfSurname
	cfEmails
	cfMobile
	cfBusiness
	cfHome
	cfCompany
	cfTitle
	numContactFields
)

// contactFields are the device names, contactGraphFields the Graph names.
var (
	contactFields      = [numContactFields]string{"id", "name", "given", "surname", "emails", "mobile", "business", "home", "company", "title"}
	contactGraphFields = [numContactFields]string{"id", "displayName", "givenName", "surname", "emailAddresses", "mobilePhone",
		"businessPhones", "homePhones", "companyName", "jobTitle"}
)

func contactSlot(graphName string) int {
	for i, n := range contactGraphFields {
		if n == graphName {
			return i
		}
	}
	return -1
}

// contactValues holds the Graph values of one contact, by field slot.
type contactValues [numContactFields]gjson.Result

// collectContact reads obj once into vals and reports whether it carries @removed.
func collectContact(obj gjson.Result, vals *contactValues) (removed bool) {
	*vals = contactValues{}
	eachMember(obj.Raw, func(k string, v gjson.Result) bool {
		if s := contactSlot(k); s >= 0 {
			vals[s] = v
		} else if k == "@removed" {
			removed = true
		}
		return true
	})
	return removed
}

// appendContactChange writes one sync change for a contacts delta item.
func appendContactChange(dst []byte, item gjson.Result, vals *contactValues) ([]byte, changeStatus) {
	removed := collectContact(item, vals)
	if vals[cfID].Type != gjson.String {
		return dst, changeSkipped
	}
	if removed {
		dst = append(dst, `{"op":"delete","id":`...)
		dst = appendStringToken(dst, vals[cfID])
		return append(dst, '}'), changeWritten
	}
	dst = append(dst, `{"op":"upsert","contact":`...)
	dst = appendContact(dst, vals)
	return append(dst, '}'), changeWritten
}

// appendContact writes the device form of a collected contact; absent,
// null and ill-typed values are omitted, empty arrays kept.
func appendContact(dst []byte, vals *contactValues) []byte {
	first := true
	dst = append(dst, '{')
	for i := 0; i < numContactFields; i++ {
		v := vals[i]
		switch i {
		case cfID, cfName, cfGiven, cfSurname, cfMobile, cfCompany, cfTitle:
			if v.Type != gjson.String {
				continue
			}
			dst = appendKey(dst, &first, contactFields[i])
			dst = appendStringToken(dst, v)
		case cfBusiness, cfHome:
			if !v.IsArray() {
				continue
			}
			dst = appendKey(dst, &first, contactFields[i])
			dst = appendStringArray(dst, v)
		case cfEmails:
			if !v.IsArray() {
				continue
			}
			dst = appendKey(dst, &first, contactFields[i])
			dst = appendContactEmails(dst, v)
		}
	}
	return append(dst, '}')
}

// appendContactEmails writes [{"name","addr"}] from emailAddresses; entries
// with neither a string name nor address are dropped.
func appendContactEmails(dst []byte, arr gjson.Result) []byte {
	dst = append(dst, '[')
	n := 0
	eachElement(arr.Raw, func(e gjson.Result) bool {
		if !e.IsObject() {
			return true
		}
		if w := memberOf(e, "emailAddress"); w.IsObject() {
			e = w
		}
		name, addr := memberOf(e, "name"), memberOf(e, "address")
		if name.Type != gjson.String && addr.Type != gjson.String {
			return true
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		first := true
		dst = append(dst, '{')
		if name.Type == gjson.String {
			dst = appendKey(dst, &first, "name")
			dst = appendStringToken(dst, name)
		}
		if addr.Type == gjson.String {
			dst = appendKey(dst, &first, "addr")
			dst = appendStringToken(dst, addr)
		}
		dst = append(dst, '}')
		n++
		return true
	})
	return append(dst, ']')
}

func parseContactsSyncArgs(c *command, _ *argValues) *Error {
	c.fields = pimFieldsAll
	return nil
}

func parseContactArgs(c *command, a *argValues) (err *Error) {
	c.payload, err = buildContactPayload(a)
	return err
}

func contactsSyncPath(b []byte, _ *command) []byte { return append(b, "/contacts/delta"...) }

func contactsQuery(b []byte, _ *command) []byte { return append(b, contactSelect...) }

func contactsPath(b []byte, _ *command) []byte { return append(b, "/contacts"...) }

func contactPath(b []byte, c *command) []byte {
	b = append(b, "/contacts/"...)
	return appendPathSegment(b, c.msgID)
}

func appendContactChanges(_ *Plan, b []byte, _ *command, r *jreader) ([]byte, *Error) {
	return appendPIMChanges(b, r, appendContactChange)
}

// appendContactData writes {"contact":{…}} for the answer of contact.create and contact.update.
func appendContactData(_ *Plan, b []byte, _ *command, body gjson.Result) ([]byte, *Error) {
	var vals contactValues
	collectContact(body, &vals)
	if vals[cfID].Type != gjson.String {
		return b, upstreamMalformed()
	}
	b = append(b, `{"contact":`...)
	b = appendContact(b, &vals)
	return append(b, '}'), nil
}
