package emulator

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Demo seed facts (stable; tests rely on them).
const (
	// DemoToken is the bearer token of the demo mailbox.
	DemoToken = "demo"
	// DemoUPN is the demo mailbox's user principal name.
	DemoUPN = "demo@contoso.example"
	// DemoObjectID is the demo mailbox's object id.
	DemoObjectID = "5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10"
	// DemoDisplayName is the demo mailbox's display name.
	DemoDisplayName = "Demo User"
	// Demo2Token is the bearer token of Adele's small mailbox.
	Demo2Token = "demo2"
	// Demo2UPN is Adele's user principal name.
	Demo2UPN = "adele@contoso.example"
	// Demo2ObjectID is Adele's object id.
	Demo2ObjectID = "a7e3c1d9-4b2f-4e8a-9c61-0d5b7f2e8a34"
	// SharedToken is the bearer token of the shared mailbox.
	SharedToken = "shared"
	// SharedUPN is the shared mailbox's UPN; it lists DemoUPN as delegate.
	SharedUPN = "shared@contoso.example"
	// SharedObjectID is the shared mailbox's object id.
	SharedObjectID = "0c4e9a2b-7d1f-4f3a-8b6e-5a9d2c7e1f08"
	// DemoInboxCount is the number of messages in the demo Inbox.
	DemoInboxCount = 520
	// DemoLargeAttachmentSubject is the subject of the demo Inbox message
	// carrying the large (DemoLargeAttachmentSize bytes) attachment.
	DemoLargeAttachmentSubject = "Design assets (large attachment)"
	// DemoLargeAttachmentSize is the size of the large demo attachment.
	DemoLargeAttachmentSize = 5 << 20
)

// seedEpoch is the fixed instant the demo data counts back from.
var seedEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

var seedPeople = []recipient{
	{"Priya Natarajan", "priya@fabrikam.example"},
	{"Tomás Ruiz", "tomas@contoso.example"},
	{"Lea Martin", "lea@contoso.example"},
	{"Sam Okafor", "sam@contoso.example"},
	{"Ana Souza", "ana.souza@northwind.example"},
	{"Jun Park", "jun.park@northwind.example"},
	{"Zoë Müller", "zoe.mueller@tailspin.example"},
	{"Kwame Mensah", "kwame@woodgrove.example"},
	{"Ingrid Solberg", "ingrid@fabrikam.example"},
	{"Rahul Iyer", "rahul.iyer@contoso.example"},
	{"Chen Wei", "chen.wei@adatum.example"},
	{"Olivia O'Neill", "olivia.oneill@litware.example"},
	{"Mateo Rossi", "mateo@contoso.example"},
	{"Fatima Haddad", "fatima@woodgrove.example"},
	{"Noah Fischer", "noah.fischer@tailspin.example"},
	{"Aiko Tanaka", "aiko@adatum.example"},
	{"Billing Desk", "billing@northwind.example"},
	{"IT Helpdesk", "helpdesk@contoso.example"},
	{"Newsletter", "news@litware.example"},
	{"Grace Kim", "grace.kim@fabrikam.example"},
}

var seedTopics = []string{
	"Q3 roadmap review", "Lunch Thursday?", "Invoice #%d", "Build %d failed", "Offsite agenda",
	"Contract renewal", "Weekly status", "Design review notes", "Travel itinerary", "Budget draft v%d",
	"Customer escalation", "Release checklist", "Hiring loop feedback", "Security advisory %d", "Team photo 📷",
	"Réunion de lancement", "Expense report", "Server maintenance window", "Welcome aboard!", "Quarterly numbers",
}

var seedSentences = []string{
	"Thanks for the quick turnaround on this.",
	"Please find the details below and let me know if anything is missing.",
	"Can we move the meeting to Thursday afternoon?",
	"The numbers look good, but the forecast for Q4 needs another pass.",
	"I've attached the latest version; changes are highlighted.",
	"Heads up: the staging environment will be down for an hour tonight.",
	"Could you review the proposal before Friday?",
	"Great work everyone — the launch went smoothly.",
	"We still need sign-off from legal & procurement.",
	"Let's sync tomorrow at 10:00 to go over the open items.",
	"Ça marche pour moi, à demain !",
	"Reminder: timesheets are due by end of day.",
	"The customer reported the issue again <after> the fix, see ticket 4711.",
	"Quote: \"ship it\" — said nobody before QA signed off.",
}

var seedCategories = [][]string{{"Blue category"}, {"Red category", "Green category"}, {"Yellow category"}}

// seedGen builds deterministic demo content for a mailbox.
type seedGen struct {
	rng   *rand.Rand
	mb    *mailbox
	owner recipient
}

// seedDemoMailbox fills mb with the demo folder tree and messages.
func seedDemoMailbox(mb *mailbox) {
	g := &seedGen{rng: rand.New(rand.NewPCG(20261101, 42)), mb: mb, owner: recipient{mb.displayName, mb.upn}}
	inbox := mb.wellKnown["inbox"]
	archive := mb.wellKnown["archive"]
	projects := mb.addUserFolder(inbox, "Projects", false)
	alpha := mb.addUserFolder(projects, "Alpha", false)
	beta := mb.addUserFolder(projects, "Beta", false)
	receipts := mb.addUserFolder(inbox, "Receipts", false)
	archive2025 := mb.addUserFolder(archive, "2025", false)
	hidden := mb.addUserFolder(mb.root, "Hidden Notes", true)

	g.fill(inbox, DemoInboxCount, 182, true)
	g.fill(projects, 8, 120, false)
	g.fill(alpha, 25, 150, false)
	g.fill(beta, 12, 90, false)
	g.fill(receipts, 40, 180, false)
	g.fill(archive, 60, 365, false)
	g.fill(archive2025, 20, 400, false)
	g.fill(mb.wellKnown["sentitems"], 60, 182, false)
	g.fill(mb.wellKnown["drafts"], 3, 30, false)
	g.fill(mb.wellKnown["deleteditems"], 15, 60, false)
	g.fill(mb.wellKnown["junkemail"], 6, 30, false)
	g.fill(hidden, 4, 200, false)
	seedCalendar(mb)
	seedContacts(mb)
}

// seedSmallMailbox gives mb a handful of Inbox messages.
func seedSmallMailbox(mb *mailbox, n int, rngSeed uint64) {
	g := &seedGen{rng: rand.New(rand.NewPCG(rngSeed, 7)), mb: mb, owner: recipient{mb.displayName, mb.upn}}
	g.fill(mb.wellKnown["inbox"], n, 30, false)
	g.fill(mb.wellKnown["sentitems"], 1, 30, false)
}

// fill adds n messages to f spread over the last days days before
// seedEpoch, newest first. rich turns on the Inbox-only features.
func (g *seedGen) fill(f *folder, n, days int, rich bool) {
	span := time.Duration(days) * 24 * time.Hour
	for i := 0; i < n; i++ {
		offset := span * time.Duration(i) / time.Duration(max(n, 1))
		offset += time.Duration(g.rng.IntN(3600)) * time.Second
		received := seedEpoch.Add(-offset - time.Hour)
		m := g.message(f, i, received, rich)
		g.mb.addMessage(f, m)
	}
}

func (g *seedGen) person() recipient { return seedPeople[g.rng.IntN(len(seedPeople))] }

func (g *seedGen) message(f *folder, i int, received time.Time, rich bool) *message {
	r := g.rng
	topic := seedTopics[r.IntN(len(seedTopics))]
	if strings.Contains(topic, "%d") {
		topic = fmt.Sprintf(topic, 1000+r.IntN(9000))
	}
	convKey := fmt.Sprintf("%s|%d", f.id, i/4)
	subject := topic
	if i%4 != 3 && rich {
		subject = "RE: " + topic
	}
	from := g.person()
	m := &message{
		created:      received,
		lastModified: received,
		received:     received,
		sent:         received.Add(-time.Duration(1+r.IntN(120)) * time.Second),
		subject:      subject,
		from:         from,
		sender:       from,
		importance:   "normal",
		flagStatus:   "notFlagged",
		isRead:       true,
		inference:    "focused",
		categories:   []string{},
	}
	switch f.wellKnown {
	case "sentitems", "drafts", "outbox":
		m.from, m.sender = g.owner, g.owner
		m.to = []recipient{g.person()}
		m.isDraft = f.wellKnown == "drafts"
	default:
		m.to = []recipient{g.owner}
	}
	// Recipients.
	extraTo := i % 5
	if i%37 == 0 {
		extraTo = 11
	}
	for k := 0; k < extraTo; k++ {
		m.to = append(m.to, g.person())
	}
	for k := 0; k < i%3; k++ {
		m.cc = append(m.cc, g.person())
	}
	m.bcc = []recipient{}
	m.replyTo = []recipient{}
	if m.cc == nil {
		m.cc = []recipient{}
	}
	// Body: a few sentences, sometimes long enough to exceed the preview.
	nSent := 1 + r.IntN(4)
	if i%6 == 0 {
		nSent += 12
	}
	paras := make([]string, 0, nSent)
	for k := 0; k < nSent; k++ {
		paras = append(paras, seedSentences[r.IntN(len(seedSentences))])
	}
	greeting := "Hi " + strings.Fields(g.owner.name + " there")[0] + ","
	text := greeting + "\r\n\r\n" + strings.Join(paras, " ") + "\r\n\r\nBest,\r\n" + from.name
	if i%3 == 0 {
		m.bodyText = text
		m.bodyHTML = textToHTML(text)
	} else {
		var hb strings.Builder
		hb.WriteString(htmlEnvelopeStart)
		hb.WriteString("<p>" + htmlEscape(greeting) + "</p><p>")
		for k, p := range paras {
			if k == 1 {
				hb.WriteString("<b>" + htmlEscape(p) + "</b> ")
				continue
			}
			hb.WriteString(htmlEscape(p) + " ")
		}
		hb.WriteString("</p><p>Best,<br>" + htmlEscape(from.name) + "</p>")
		if rich && i%50 == 7 {
			hb.WriteString(`<p><img src="cid:logo@contoso.example" alt="logo"></p>`)
		}
		hb.WriteString(htmlEnvelopeEnd)
		m.bodyIsHTML = true
		m.bodyHTML = hb.String()
		m.bodyText = htmlToText(m.bodyHTML)
	}
	m.preview = makePreview(m.bodyText)
	m.conversationID = "AAQkAD" + g.mb.mbxPart + "ABAA" + base64.RawURLEncoding.EncodeToString(hashPart(12, convKey)) + "="
	m.convIndex = "AQHZ" + encodeKey(uint32(i/4), uint16(i%4)) + "=="
	m.internetMsgID = fmt.Sprintf("<%s.%d.%d@mail.contoso.example>", strings.ToUpper(fmt.Sprintf("%x", r.Uint32())), i, received.Unix())

	if rich {
		if i < 25 {
			m.isRead = i%4 == 0
		} else {
			m.isRead = r.IntN(100) >= 8
		}
		if i%13 == 0 {
			m.flagStatus = "flagged"
			m.flagStart = graphDateTimeTimeZone(received.Truncate(24 * time.Hour))
			m.flagDue = graphDateTimeTimeZone(received.Truncate(24 * time.Hour).Add(72 * time.Hour))
		}
		if i%29 == 0 && i%13 != 0 {
			m.flagStatus = "complete"
			m.flagCompleted = graphDateTimeTimeZone(received.Add(48 * time.Hour))
		}
		switch {
		case i%7 == 0:
			m.categories = append([]string(nil), seedCategories[0]...)
		case i%11 == 0:
			m.categories = append([]string(nil), seedCategories[1]...)
		}
		switch {
		case i%17 == 0:
			m.importance = "high"
		case i%23 == 0:
			m.importance = "low"
		}
		if i%9 == 0 {
			m.inference = "other"
		}
		g.attach(m, i)
	} else if f.wellKnown != "sentitems" && f.wellKnown != "drafts" {
		m.isRead = r.IntN(100) >= 20
	}
	return m
}

// attach adds the demo Inbox attachments: message index i%10 == 3 has one
// or two small files, i == 13 has the large generated attachment, and
// i%50 == 7 has only an inline image (hasAttachments false).
func (g *seedGen) attach(m *message, i int) {
	at := func(name, ctype string, content []byte, inline bool, cid string) *attachment {
		return &attachment{name: name, contentType: ctype, size: len(content), content: content, isInline: inline, contentID: cid, lastModified: m.received}
	}
	switch {
	case i == 13:
		m.subject = DemoLargeAttachmentSubject
		m.attachments = append(m.attachments,
			&attachment{name: "design-assets.zip", contentType: "application/zip", size: DemoLargeAttachmentSize, generatedSeed: 0x5eed0013, lastModified: m.received},
			at("readme.txt", "text/plain", []byte("Unpack the archive and open index.html.\r\n"), false, ""))
	case i%10 == 3:
		m.attachments = append(m.attachments, at(fmt.Sprintf("notes-%d.txt", i), "text/plain", []byte(fmt.Sprintf("Notes for item %d\r\n%s\r\n", i, m.subject)), false, ""))
		if i%20 == 3 {
			m.attachments = append(m.attachments, at(fmt.Sprintf("report-%d.pdf", i), "application/pdf", generateAttachmentBytes(uint64(i)+1, 2048), false, ""))
		}
	case i%50 == 7:
		m.attachments = append(m.attachments, at("logo.png", "image/png", generateAttachmentBytes(uint64(i)+7, 512), true, "logo@contoso.example"))
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// generateAttachmentBytes deterministically produces size bytes from seed.
func generateAttachmentBytes(seed uint64, size int) []byte {
	if size <= 0 {
		return []byte{}
	}
	out := make([]byte, size)
	x := seed | 1
	for i := 0; i < size; i += 8 {
		// xorshift64*
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		v := x * 2685821657736338717
		for k := 0; k < 8 && i+k < size; k++ {
			out[i+k] = byte(v >> (8 * k))
		}
	}
	return out
}
