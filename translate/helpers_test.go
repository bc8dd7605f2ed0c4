package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testUpstream = "https://graph.microsoft.com/v1.0"

var (
	testKey1 = bytes.Repeat([]byte{1}, 32)
	testKey2 = bytes.Repeat([]byte{2}, 32)
	testNow  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newTestTranslator(t testing.TB, mod ...func(*Options)) (*Translator, *clock) {
	t.Helper()
	c := &clock{t: testNow}
	o := Options{Upstream: testUpstream, StateKeys: [][]byte{testKey1}, Now: c.Now}
	for _, m := range mod {
		m(&o)
	}
	tr, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr, c
}

// mustPlanFor is mustPlan for a request acting as identity.
func mustPlanFor(t testing.TB, tr *Translator, body string, identity Identity) *Plan {
	t.Helper()
	p, e := tr.PlanFor([]byte(body), identity)
	if e != nil {
		t.Fatalf("PlanFor(%s): %v", body, e)
	}
	return p
}

// testJWT is an unsigned JWT with the given claims, as far as the
// bridge reads one (it never verifies; Graph does).
func testJWT(claims string) string {
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
}

func mustPlan(t testing.TB, tr *Translator, body string) *Plan {
	t.Helper()
	p, e := tr.Plan([]byte(body))
	if e != nil {
		t.Fatalf("Plan(%s): %v", body, e)
	}
	return p
}

// respond runs Respond on a fresh buffer and checks the output is valid JSON.
func respond(t testing.TB, p *Plan, status int, h http.Header, body string) (string, Outcome) {
	t.Helper()
	var dst bytes.Buffer
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	o := p.Respond(&dst, status, h, b)
	if !json.Valid(dst.Bytes()) {
		t.Fatalf("Respond wrote invalid JSON: %s", dst.String())
	}
	return dst.String(), o
}

var stateRe = regexp.MustCompile(`"state":"[A-Za-z0-9_-]+"`)

// maskState replaces state tokens by "S" for comparisons.
func maskState(s string) string { return stateRe.ReplaceAllString(s, `"state":"S"`) }

// firstState extracts the first state token of a device response.
func firstState(t testing.TB, s string) string {
	t.Helper()
	m := stateRe.FindString(s)
	if m == "" {
		t.Fatalf("no state in %s", s)
	}
	return strings.TrimSuffix(strings.TrimPrefix(m, `"state":"`), `"`)
}

// compact removes insignificant whitespace from JSON test fixtures.
func compact(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact: %v", err)
	}
	return b.String()
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Graph payloads from GRAPH_FACTS §10.
const (
	graphMessagePageNext = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/mailfolders('AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB')/messages/delta?$skiptoken=LztZwWjo5IivWBhyxw5rAGsYqmGQ7Gc0OF",
  "value": [
    {
      "@odata.type": "#microsoft.graph.message",
      "@odata.etag": "W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3Rk\"",
      "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=",
      "changeKey": "CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3Rk",
      "subject": "Q3 roadmap review",
      "receivedDateTime": "2025-03-04T08:15:22Z",
      "isRead": false,
      "from": { "emailAddress": { "name": "Priya Natarajan", "address": "priya@fabrikam.example" } },
      "flag": { "flagStatus": "notFlagged" },
      "categories": [],
      "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB"
    },
    {
      "@odata.type": "#microsoft.graph.message",
      "@odata.etag": "W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3Rl\"",
      "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1yAAA=",
      "changeKey": "CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3Rl",
      "subject": "Lunch Thursday?",
      "receivedDateTime": "2025-03-04T09:02:10Z",
      "isRead": true,
      "from": { "emailAddress": { "name": "Tomás Ruiz", "address": "tomas@contoso.example" } },
      "flag": { "flagStatus": "flagged" },
      "categories": [ "Blue category" ],
      "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB"
    }
  ]
}`
	graphMessagePageFinal = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
  "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/mailfolders('AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB')/messages/delta?$deltatoken=LztZwWjo5IivWBhyxw5rAAbC8EuY9t2qgGfpQ",
  "value": [
    {
      "@odata.type": "#microsoft.graph.message",
      "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1yAAA=",
      "@removed": { "reason": "deleted" }
    },
    {
      "@odata.type": "#microsoft.graph.message",
      "@odata.etag": "W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp4Aa\"",
      "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=",
      "changeKey": "CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp4Aa",
      "subject": "Q3 roadmap review",
      "receivedDateTime": "2025-03-04T08:15:22Z",
      "isRead": true,
      "from": { "emailAddress": { "name": "Priya Natarajan", "address": "priya@fabrikam.example" } },
      "flag": { "flagStatus": "flagged" },
      "categories": [],
      "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB"
    }
  ]
}`
	// graphFolderPage is §10.3's folder list, as a folders delta page (deltaLink).
	graphFolderPage = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(mailFolder)",
  "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/mailFolders/delta?$deltatoken=Fd1",
  "value": [
    {
      "id": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB",
      "displayName": "Inbox",
      "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAA",
      "childFolderCount": 2,
      "unreadItemCount": 14,
      "totalItemCount": 238,
      "isHidden": false
    },
    {
      "@odata.type": "#microsoft.graph.mailSearchFolder",
      "id": "AAMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAZg1yTAAA=",
      "displayName": "Unread from boss",
      "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAA",
      "childFolderCount": 0,
      "unreadItemCount": 2,
      "totalItemCount": 2,
      "isHidden": false,
      "isSupported": true,
      "filterQuery": "isRead eq false"
    },
    { "id": "AQMkGone", "@removed": { "reason": "deleted" } }
  ]
}`
	graphMessageGet = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10')/messages/$entity",
  "@odata.etag": "W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp4Ab\"",
  "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA=",
  "parentFolderId": "AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB",
  "conversationId": "AAQkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoAEABKw==",
  "subject": "Q3 roadmap review",
  "from": { "emailAddress": { "name": "Priya Natarajan", "address": "priya@fabrikam.example" } },
  "toRecipients": [ { "emailAddress": { "name": "Lea Martin", "address": "lea@contoso.example" } }, { "emailAddress": { "address": "team@contoso.example" } } ],
  "ccRecipients": [],
  "bccRecipients": [],
  "receivedDateTime": "2025-03-04T08:15:22Z",
  "sentDateTime": "2025-03-04T08:15:20Z",
  "bodyPreview": "Agenda: \"numbers\" first",
  "isRead": true,
  "flag": { "flagStatus": "complete", "completedDateTime": { "dateTime": "2025-03-05T00:00:00.0000000", "timeZone": "UTC" } },
  "importance": "high",
  "hasAttachments": false,
  "categories": [ "Red category", "Blue category" ],
  "isDraft": false,
  "isDeliveryReceiptRequested": null,
  "body": { "contentType": "text", "content": "Agenda:\r\n\"numbers\" first\u2028end" }
}`
)

// Wire ids of the ops the tests seal states for or look at.
var (
	opFoldersSync  = lookupOp("folders.sync")
	opFolderGet    = lookupOp("folder.get")
	opMailSync     = lookupOp("mail.sync")
	opMailGet      = lookupOp("mail.get")
	opCalendarSync = lookupOp("calendar.sync")
	opContactsSync = lookupOp("contacts.sync")
)
