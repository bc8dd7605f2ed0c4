package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// This file holds the translator's benchmarks. BenchmarkTranslateMailPage
// compares, on the same bytes, the bridge's translation of a 50-message
// delta page with two baselines: json.Valid (every byte read once, the
// floor) and encoding/json decode-into-structs plus encode (what a naive
// converter does). Compare them from one run:
//
//	go test ./translate/ -run '^$' -bench 'TranslateMailPage' -count 6

// benchPeople, benchSubjects, benchPreviews and benchCategories feed the
// realistic page: non-ASCII names and text, previews with quotes, escapes
// and line breaks at Graph's 255-character preview length.
var (
	benchPeople = [][2]string{
		{"Priya Natarajan", "priya.natarajan@fabrikam.example"}, {"Lea Martin", "lea.martin@contoso.example"},
		{"Sam Okafor", "sam.okafor@contoso.example"}, {"Tomás Ruiz", "tomas.ruiz@contoso.example"},
		{"Jürgen Weiß", "juergen.weiss@fabrikam.example"}, {"佐藤 花子", "hanako.sato@contoso.example"},
		{"Zoë O'Brien", "zoe.obrien@northwind.example"}, {"Ana-Maria Popescu", "ana.popescu@contoso.example"},
		{"IT Service Desk", "servicedesk@contoso.example"}, {"Marc \"Mac\" Dupont", "marc.dupont@fabrikam.example"},
	}
	benchSubjects = []string{
		`Q3 roadmap review`, `RE: Lunch Thursday?`, `FW: Angebot für die Erweiterung — bitte prüfen`,
		`[Action required] Expense report #4471`, `Réunion d'équipe : ordre du jour`, `会議の議事録`,
		`RE: RE: "Final" numbers (v7)`, `Your weekly digest 📬`,
	}
	benchPreviews = []string{
		`Hi all, attached the numbers for the \"Q3\" review. Please read before Thursday; we will go through the open items one by one.\r\n\r\nKey changes since last time: revenue forecast is up 4 %, hiring plan moved to Q4, and the vendor contract needs a decision. Thanks, Priya`,
		`Bonjour à tous, voici l'ordre du jour de la réunion de lundi : 1) bilan du trimestre, 2) priorités, 3) questions diverses. Merci de m'envoyer vos points avant vendredi midi. Cordialement, Léa — “à bientôt”`,
		`Sehr geehrte Damen und Herren, anbei erhalten Sie unser Angebot für die Erweiterung der Lizenzen. Die Preise gelten bis zum 31.03. Für Rückfragen stehe ich gerne zur Verfügung. Mit freundlichen Grüßen, Jürgen Weiß\r\nFabrikam GmbH`,
		`Sure, 12:30 works for me. Shall we try the new place on 5th street? I heard the \"lunch special\" is good.\r\n\r\n-----Original Message-----\r\nFrom: Lea Martin\r\nSent: Tuesday\r\nSubject: Lunch Thursday?\r\n\r\nAnyone up for lunch on Thursday?`,
		`お疲れ様です。本日の会議の議事録を共有します。次回は来週の火曜日です。ご確認のほどよろしくお願いいたします。 Summary: decisions on budget, timeline and owners are in the attached document; please add comments by Friday.`,
		`Your expense report \\\\finance\\reports\\4471 is waiting for approval. Open the link to review the items (3 receipts, total 412.50 EUR). This is an automated message \u2014 please do not reply. Tabs:\there.`,
	}
	benchCategories = []string{"Blue category", "Red category", "Projekt Ölfeld", "Follow-up", "客户"}
)

// benchRand is a small deterministic generator for the benchmark page.
type benchRand uint64

func (r *benchRand) intn(n int) int {
	*r = *r*6364136223846793005 + 1442695040888963407
	return int(uint64(*r>>33) % uint64(n))
}

// appendBenchRecipient writes a Graph recipient object.
func appendBenchRecipient(b *strings.Builder, p [2]string) {
	b.WriteString(`{"emailAddress":{"name":`)
	b.WriteString(strconv.Quote(p[0])) // ASCII-safe quoting is valid JSON for these names
	b.WriteString(`,"address":"`)
	b.WriteString(p[1])
	b.WriteString(`"}}`)
}

// messagePage50 builds a realistic 50-message delta page in Graph's shape
// for mail.sync's default selection: @odata.etag, ids of Graph's length,
// 2–6 recipients and 0–3 cc, 0–3 categories, flags, non-ASCII subjects and
// names, previews of up to 255 characters with escapes, and a nextLink.
func messagePage50() []byte {
	var b strings.Builder
	rnd := benchRand(42)
	b.WriteString(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(message)",` +
		`"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/mailFolders('inbox')/messages/delta?$skiptoken=LztZwWjo5IivWBhyxw5rAGsYqmGQ7Gc0OFHd4L8ZKmTEqPKBEBmO6kVIiBX0fpaLs8gsNOh0tOsqb0qB4bUhC5VVxC0yAnfnLxXm8nXnEEiDyYz9L4wcV1Oq7b2tk9c0wRIeqDKx3HwYxONxrA4rqQ9YYKfO-oEhnbAuEgYM6S4",` +
		`"value":[`)
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.type":"#microsoft.graph.message","@odata.etag":"W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3R%04d\"",`+
			`"id":"AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAAiIsqMbYjsT5e-T7KzowPTAAB%05dAAA=",`+
			`"receivedDateTime":"2026-03-%02dT08:%02d:22Z","sentDateTime":"2026-03-%02dT08:%02d:20Z","hasAttachments":%t,`,
			i, i, 1+i%28, i, 1+i%28, i, rnd.intn(3) == 0)
		fmt.Fprintf(&b, `"subject":"%s","bodyPreview":"%s","importance":"%s",`,
			strings.ReplaceAll(benchSubjects[rnd.intn(len(benchSubjects))], `"`, `\"`),
			benchPreviews[rnd.intn(len(benchPreviews))], []string{"normal", "normal", "high", "low"}[rnd.intn(4)])
		fmt.Fprintf(&b, `"parentFolderId":"AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAA=",`+
			`"conversationId":"AAQkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAQA%05dLM04b6GB4f=","isRead":%t,"isDraft":false,"categories":[`,
			i, rnd.intn(2) == 0)
		for c, n := 0, rnd.intn(4); c < n; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(benchCategories[(i+c)%len(benchCategories)]))
		}
		b.WriteString(`],"from":`)
		appendBenchRecipient(&b, benchPeople[rnd.intn(len(benchPeople))])
		b.WriteString(`,"toRecipients":[`)
		for r, n := 0, 2+rnd.intn(5); r < n; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			appendBenchRecipient(&b, benchPeople[(i+r)%len(benchPeople)])
		}
		b.WriteString(`],"ccRecipients":[`)
		for r, n := 0, rnd.intn(4); r < n; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			appendBenchRecipient(&b, benchPeople[(i+r+5)%len(benchPeople)])
		}
		fmt.Fprintf(&b, `],"flag":{"flagStatus":"%s"}}`, []string{"notFlagged", "notFlagged", "flagged", "complete"}[rnd.intn(4)])
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// naive* are the structs of the encoding/json baseline: Graph's message in,
// the device's change out.
type (
	naiveRecipient struct {
		EmailAddress struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"emailAddress"`
	}
	naiveGraphMessage struct {
		ID             string           `json:"id"`
		ParentFolderID string           `json:"parentFolderId"`
		ConversationID string           `json:"conversationId"`
		Subject        string           `json:"subject"`
		From           *naiveRecipient  `json:"from"`
		To             []naiveRecipient `json:"toRecipients"`
		Cc             []naiveRecipient `json:"ccRecipients"`
		Received       string           `json:"receivedDateTime"`
		Sent           string           `json:"sentDateTime"`
		Preview        string           `json:"bodyPreview"`
		IsRead         bool             `json:"isRead"`
		Flag           struct {
			FlagStatus string `json:"flagStatus"`
		} `json:"flag"`
		Importance string   `json:"importance"`
		HasAtt     bool     `json:"hasAttachments"`
		Categories []string `json:"categories"`
		IsDraft    bool     `json:"isDraft"`
		Removed    *struct {
			Reason string `json:"reason"`
		} `json:"@removed"`
	}
	naiveGraphPage struct {
		Next  string              `json:"@odata.nextLink"`
		Delta string              `json:"@odata.deltaLink"`
		Value []naiveGraphMessage `json:"value"`
	}
	naivePerson struct {
		Name string `json:"name,omitempty"`
		Addr string `json:"addr,omitempty"`
	}
	naiveDeviceMessage struct {
		ID         string        `json:"id"`
		Folder     string        `json:"folder,omitempty"`
		Conv       string        `json:"conv,omitempty"`
		Subject    string        `json:"subject,omitempty"`
		From       *naivePerson  `json:"from,omitempty"`
		To         []naivePerson `json:"to"`
		Cc         []naivePerson `json:"cc"`
		Received   string        `json:"received,omitempty"`
		Sent       string        `json:"sent,omitempty"`
		Preview    string        `json:"preview,omitempty"`
		Read       bool          `json:"read"`
		Flag       string        `json:"flag,omitempty"`
		Importance string        `json:"importance,omitempty"`
		Att        bool          `json:"att"`
		Cats       []string      `json:"cats"`
		Draft      bool          `json:"draft"`
	}
	naiveChange struct {
		Op      string              `json:"op"`
		ID      string              `json:"id,omitempty"`
		Message *naiveDeviceMessage `json:"message,omitempty"`
	}
	naiveResponse struct {
		Results []struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
			Data   struct {
				Changes []naiveChange `json:"changes"`
				State   string        `json:"state"`
				More    bool          `json:"more"`
			} `json:"data"`
		} `json:"results"`
	}
)

func naivePersons(in []naiveRecipient) []naivePerson {
	out := make([]naivePerson, 0, len(in))
	for _, r := range in {
		out = append(out, naivePerson{Name: r.EmailAddress.Name, Addr: r.EmailAddress.Address})
	}
	return out
}

// naiveTranslate is the encoding/json baseline: decode the Graph page into
// structs, map them to device structs and encode those. It leaves out the
// state sealing and the link checks, so it is a lower bound of the cost.
func naiveTranslate(out *bytes.Buffer, data []byte) error {
	var pg naiveGraphPage
	if err := json.Unmarshal(data, &pg); err != nil {
		return err
	}
	var resp naiveResponse
	resp.Results = make([]struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
		Data   struct {
			Changes []naiveChange `json:"changes"`
			State   string        `json:"state"`
			More    bool          `json:"more"`
		} `json:"data"`
	}, 1)
	res := &resp.Results[0]
	res.ID, res.Status = "c1", 200
	res.Data.Changes = make([]naiveChange, 0, len(pg.Value))
	for i := range pg.Value {
		m := &pg.Value[i]
		if m.Removed != nil {
			res.Data.Changes = append(res.Data.Changes, naiveChange{Op: "delete", ID: m.ID})
			continue
		}
		d := &naiveDeviceMessage{ID: m.ID, Folder: m.ParentFolderID, Conv: m.ConversationID, Subject: m.Subject,
			To: naivePersons(m.To), Cc: naivePersons(m.Cc), Received: m.Received, Sent: m.Sent, Preview: m.Preview,
			Read: m.IsRead, Importance: m.Importance, Att: m.HasAtt, Cats: m.Categories, Draft: m.IsDraft}
		if m.From != nil {
			d.From = &naivePerson{Name: m.From.EmailAddress.Name, Addr: m.From.EmailAddress.Address}
		}
		switch m.Flag.FlagStatus {
		case "notFlagged":
			d.Flag = "none"
		case "flagged", "complete":
			d.Flag = m.Flag.FlagStatus
		}
		res.Data.Changes = append(res.Data.Changes, naiveChange{Op: "upsert", Message: d})
	}
	res.Data.State, res.Data.More = pg.Next, pg.Next != ""
	return json.NewEncoder(out).Encode(&resp)
}

// BenchmarkTranslateMailPage translates the 50-message page into the device
// form (bridge) next to its two baselines on the same bytes.
func BenchmarkTranslateMailPage(b *testing.B) {
	page := messagePage50()
	b.Run("bridge", func(b *testing.B) {
		tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
		p := mustPlan(b, tr, cmd("mail.sync", `{"folder":"inbox","window":50}`))
		defer p.Release()
		var dst bytes.Buffer
		if o := p.Respond(&dst, 200, nil, page); o.Status != 200 || !json.Valid(dst.Bytes()) ||
			!strings.Contains(dst.String(), `"more":true`) || strings.Count(dst.String(), `"op":"upsert"`) != 50 {
			b.Fatalf("bad translation: %.300s", dst.String())
		}
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			dst.Reset()
			p.Respond(&dst, 200, nil, page)
		}
	})
	b.Run("json_valid", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !json.Valid(page) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		var out bytes.Buffer
		if err := naiveTranslate(&out, page); err != nil || strings.Count(out.String(), `"op":"upsert"`) != 50 {
			b.Fatalf("baseline: %v %.300s", err, out.String())
		}
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			out.Reset()
			if err := naiveTranslate(&out, page); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMessagePage50Translation pins the benchmark page: it is valid JSON, and
// the bridge's translation holds the same messages as the baseline's.
func TestMessagePage50Translation(t *testing.T) {
	page := messagePage50()
	if !json.Valid(page) || !validJSON(string(page), maxUpstreamDepth) {
		t.Fatal("benchmark page is not valid JSON")
	}
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox","window":50}`))
	out, _ := respond(t, p, 200, nil, string(page))
	p.Release()
	var dev naiveResponse
	if err := json.Unmarshal([]byte(out), &dev); err != nil || len(dev.Results) != 1 {
		t.Fatalf("device answer: %v", err)
	}
	var naive bytes.Buffer
	if err := naiveTranslate(&naive, page); err != nil {
		t.Fatal(err)
	}
	var base naiveResponse
	if err := json.Unmarshal(naive.Bytes(), &base); err != nil {
		t.Fatal(err)
	}
	got, want := dev.Results[0].Data.Changes, base.Results[0].Data.Changes
	if len(got) != 50 || len(want) != 50 {
		t.Fatalf("changes: %d, baseline %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i].Message, want[i].Message
		if len(w.Cc) == 0 {
			w.Cc = g.Cc // the baseline writes [] and null alike
		}
		if len(w.Cats) == 0 {
			w.Cats = g.Cats
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Fatalf("message %d:\n got  %s\n want %s", i, gj, wj)
		}
	}
}

// BenchmarkPlanEnvelope parses and validates a three-command device envelope.
func BenchmarkPlanEnvelope(b *testing.B) {
	tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
	body := []byte(`{"commands":[{"id":"c1","op":"folders.sync","args":{}},{"id":"c2","op":"mail.sync","args":{"folder":"inbox","window":50}},{"id":"c3","op":"mail.get","args":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA="}}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, e := tr.Plan(body)
		if e != nil {
			b.Fatal(e)
		}
		p.Release()
	}
}

// BenchmarkState seals and opens a mail.sync state.
func BenchmarkState(b *testing.B) {
	tr, _ := newTestTranslator(b)
	const link = "/me/mailFolders('inbox')/messages/delta?$skiptoken=LztZwWjo5IivWBhyxw5rAGsYqmGQ7Gc0OFHd4L8ZKmTEqPKBEBmO6kVIiBX0fpaLs8gsNOh0tOsqb0qB4bUhC5VVxC0yAnfnLxXm8nXnEEiDyYz9L4wcV1Oq7b2tk9c0wRIeqDKx3HwYxONxrA4rqQ9YYKfO-oEhnbAuEgYM6S4"
	scope := "\x00inbox"
	scratch := getBuf()
	defer putBuf(scratch)
	token := string(tr.sealState(nil, scratch, opMailSync, nil, scope, 50, messageFieldsSyncDefault, link))
	if _, err := tr.openState(token, opMailSync, nil, scope); err != nil {
		b.Fatal(err)
	}
	b.Run("seal", func(b *testing.B) {
		dst := make([]byte, 0, 512)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			dst = tr.sealState(dst[:0], scratch, opMailSync, nil, scope, 50, messageFieldsSyncDefault, link)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := tr.openState(token, opMailSync, nil, scope); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// batch20 returns a 20-command envelope (20 mail.get) and Graph's $batch
// answer to it, items in reverse order as Graph may send them.
func batch20() (envelope, answer []byte) {
	var env, ans strings.Builder
	env.WriteString(`{"commands":[`)
	ans.WriteString(`{"responses":[`)
	for i := 0; i < 20; i++ {
		if i > 0 {
			env.WriteByte(',')
			ans.WriteByte(',')
		}
		id := fmt.Sprintf("AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAB%05dAAA=", i)
		fmt.Fprintf(&env, `{"id":"m%d","op":"mail.get","args":{"id":"%s"}}`, i, id)
		n := 19 - i
		fmt.Fprintf(&ans, `{"id":"%d","status":200,"headers":{"Content-Type":"application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8","OData-Version":"4.0"},"body":`+
			`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('x')/messages/$entity","@odata.etag":"W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3R\"","id":"%s",`+
			`"receivedDateTime":"2026-03-01T08:15:22Z","sentDateTime":"2026-03-01T08:15:20Z","hasAttachments":false,"subject":"%s","bodyPreview":"%s","importance":"normal",`+
			`"parentFolderId":"AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAA=",`+
			`"conversationId":"AAQkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAQALM04b6GB4f=","isRead":true,"isDraft":false,"categories":[],`+
			`"body":{"contentType":"text","content":"%s"},"from":{"emailAddress":{"name":"Lea Martin","address":"lea@contoso.example"}},`+
			`"toRecipients":[{"emailAddress":{"name":"Sam Okafor","address":"sam@contoso.example"}}],"ccRecipients":[],"flag":{"flagStatus":"notFlagged"}}}`,
			n, fmt.Sprintf("AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAB%05dAAA=", n),
			strings.ReplaceAll(benchSubjects[n%len(benchSubjects)], `"`, `\"`), benchPreviews[n%len(benchPreviews)],
			strings.Repeat(benchPreviews[n%len(benchPreviews)]+`\r\n`, 4))
	}
	env.WriteString(`]}`)
	ans.WriteString(`]}`)
	return []byte(env.String()), []byte(ans.String())
}

// BenchmarkBatch20 packs a 20-command envelope into one $batch request
// (pack: Plan) and unpacks Graph's 20-item answer into device results in
// device order (unpack: Respond).
func BenchmarkBatch20(b *testing.B) {
	tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
	env, ans := batch20()
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(int64(len(env)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, e := tr.Plan(env)
			if e != nil {
				b.Fatal(e)
			}
			if len(p.Upstream.Body) == 0 {
				b.Fatal("no $batch body")
			}
			p.Release()
		}
	})
	b.Run("unpack", func(b *testing.B) {
		p, e := tr.Plan(env)
		if e != nil {
			b.Fatal(e)
		}
		defer p.Release()
		var dst bytes.Buffer
		if o := p.Respond(&dst, 200, nil, ans); o.Status != 200 || strings.Count(dst.String(), `"status":200`) != 20 ||
			strings.Index(dst.String(), `"id":"m0"`) > strings.Index(dst.String(), `"id":"m1"`) {
			b.Fatalf("bad unpacking: %.500s", dst.String())
		}
		b.SetBytes(int64(len(ans)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			dst.Reset()
			p.Respond(&dst, 200, nil, ans)
		}
	})
}

// benchFileNames feed the realistic drive page: non-ASCII names, names
// with quotes, and the file types of an office user's OneDrive.
var benchFileNames = []struct{ name, mime string }{
	{"Q3 roadmap review.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	{"Budget 2026 (final).xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	{"Angebot für die Erweiterung.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{"会議の議事録.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{`Contract "v7" signed.pdf`, "application/pdf"},
	{"IMG_20260301_101532.jpg", "image/jpeg"},
	{"Réunion d'équipe — notes.txt", "text/plain"},
	{"design-assets.zip", "application/zip"},
}

// filesPage50 builds a realistic 50-item page of a business drive's delta
// in Graph's shape for files.sync's $select: the root first, folders
// before their files, eTags with escaped quotes, parentReference without
// path, file facets with mimeType and hashes, webUrls, three tombstones
// without name, and a nextLink.
func filesPage50() []byte {
	const drive = "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB"
	const web = "https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents"
	var b strings.Builder
	rnd := benchRand(7)
	id := func(i int) string { return fmt.Sprintf("01XLP57TBCST43TKXCNHYWQ5BRXLD%05d", i) }
	b.WriteString(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",` +
		`"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/drive/root/delta(token='MzslMTswOzE7NjM4NzA2Mzg0MDk0NzAwMDAwOzE5NDI3MTUzNTU7MDs%3d')` +
		`?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=50","value":[`)
	fmt.Fprintf(&b, `{"eTag":"\"{A861F036-7B32-F0F3-834E-1D032DB630D6},8\"","id":"%s","lastModifiedDateTime":"2025-09-27T00:00:00Z","name":"root",`+
		`"webUrl":"%s","size":664673762,"parentReference":{"driveType":"business","driveId":"%s"},"folder":{"childCount":7},"root":{}}`, id(0), web, drive)
	folder := 0
	for i := 1; i < 50; i++ {
		b.WriteByte(',')
		switch {
		case i%8 == 1: // a folder below the previous one or the root
			parent := folder
			folder = i
			fmt.Fprintf(&b, `{"eTag":"\"{AB4D6254-84E1-71BD-1D62-DC09EC1%05d},%d\"","id":"%s","lastModifiedDateTime":"2026-01-%02dT07:00:00Z","name":"Project %d — Ölfeld",`+
				`"webUrl":"%s/Project%%20%d","size":%d,"parentReference":{"driveType":"business","driveId":"%s","id":"%s"},"folder":{"childCount":%d}}`,
				i, 1+rnd.intn(20), id(i), 1+i%28, i, web, i, 1000+rnd.intn(1<<30), drive, id(parent), rnd.intn(40))
		case i%16 == 7: // a tombstone: business drives omit the name
			fmt.Fprintf(&b, `{"id":"%s","parentReference":{"driveType":"business","driveId":"%s","id":"%s"},"file":{},"deleted":{"state":"deleted"},"size":0}`,
				id(i), drive, id(folder))
		default:
			f := benchFileNames[rnd.intn(len(benchFileNames))]
			fmt.Fprintf(&b, `{"eTag":"\"{9DBA097B-AC5F-5C02-E532-823062C%05d},%d\"","id":"%s","lastModifiedDateTime":"2026-02-%02dT%02d:00:00Z","name":%s,`+
				`"webUrl":"%s/Project%%20%d/%s","size":%d,"parentReference":{"driveType":"business","driveId":"%s","id":"%s"},`+
				`"file":{"mimeType":"%s","hashes":{"quickXorHash":"k2TSbXUGQgPhCmz3PYk5Rg%05d4cE="}}}`,
				i, 1+rnd.intn(9), id(i), 1+i%28, i%24, jsonQuote(f.name), web, folder, url.PathEscape(f.name), rnd.intn(50<<20), drive, id(folder), f.mime, i)
		}
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// jsonQuote writes s as a JSON string the way Graph does (UTF-8 kept).
func jsonQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// naive drive types of the encoding/json baseline.
type (
	naiveDriveItem struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		Size            *int64 `json:"size"`
		ETag            string `json:"eTag"`
		Modified        string `json:"lastModifiedDateTime"`
		WebURL          string `json:"webUrl"`
		ParentReference *struct {
			ID      string `json:"id"`
			DriveID string `json:"driveId"`
		} `json:"parentReference"`
		File *struct {
			MimeType string `json:"mimeType"`
		} `json:"file"`
		Folder *struct {
			ChildCount int `json:"childCount"`
		} `json:"folder"`
		Package    *struct{} `json:"package"`
		Root       *struct{} `json:"root"`
		Deleted    *struct{} `json:"deleted"`
		RemoteItem *struct {
			ID              string `json:"id"`
			ParentReference struct {
				DriveID string `json:"driveId"`
			} `json:"parentReference"`
		} `json:"remoteItem"`
	}
	naiveDrivePage struct {
		Next  string           `json:"@odata.nextLink"`
		Delta string           `json:"@odata.deltaLink"`
		Value []naiveDriveItem `json:"value"`
	}
	naiveRemote struct {
		Drive string `json:"drive,omitempty"`
		ID    string `json:"id"`
	}
	naiveFile struct {
		ID       string       `json:"id"`
		Name     string       `json:"name,omitempty"`
		Parent   string       `json:"parent,omitempty"`
		Drive    string       `json:"drive,omitempty"`
		Size     *int64       `json:"size,omitempty"`
		Modified string       `json:"modified,omitempty"`
		ETag     string       `json:"etag,omitempty"`
		MIME     string       `json:"mime,omitempty"`
		Kind     string       `json:"kind,omitempty"`
		Root     bool         `json:"root,omitempty"`
		Remote   *naiveRemote `json:"remote,omitempty"`
		Web      string       `json:"web,omitempty"`
	}
	naiveFileChange struct {
		Op   string     `json:"op"`
		ID   string     `json:"id,omitempty"`
		File *naiveFile `json:"file,omitempty"`
	}
	naiveFilesResponse struct {
		Results []naiveFilesResult `json:"results"`
	}
	naiveFilesResult struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
		Data   struct {
			Changes []naiveFileChange `json:"changes"`
			State   string            `json:"state"`
			More    bool              `json:"more"`
		} `json:"data"`
	}
)

// naiveTranslateFiles is the encoding/json baseline of a files.sync page.
func naiveTranslateFiles(out *bytes.Buffer, data []byte) error {
	var pg naiveDrivePage
	if err := json.Unmarshal(data, &pg); err != nil {
		return err
	}
	resp := naiveFilesResponse{Results: make([]naiveFilesResult, 1)}
	res := &resp.Results[0]
	res.ID, res.Status = "c1", 200
	res.Data.Changes = make([]naiveFileChange, 0, len(pg.Value))
	for i := range pg.Value {
		it := &pg.Value[i]
		if it.Deleted != nil {
			res.Data.Changes = append(res.Data.Changes, naiveFileChange{Op: "delete", ID: it.ID})
			continue
		}
		f := &naiveFile{ID: it.ID, Name: it.Name, Size: it.Size, Modified: it.Modified, ETag: it.ETag, Web: it.WebURL, Root: it.Root != nil}
		if it.ParentReference != nil {
			f.Parent, f.Drive = it.ParentReference.ID, it.ParentReference.DriveID
		}
		switch {
		case it.Package != nil:
			f.Kind = "package"
		case it.Folder != nil:
			f.Kind = "folder"
		case it.File != nil:
			f.Kind, f.MIME = "file", it.File.MimeType
		}
		if it.RemoteItem != nil {
			f.Remote = &naiveRemote{Drive: it.RemoteItem.ParentReference.DriveID, ID: it.RemoteItem.ID}
		}
		res.Data.Changes = append(res.Data.Changes, naiveFileChange{Op: "upsert", File: f})
	}
	res.Data.State, res.Data.More = pg.Next, pg.Next != ""
	return json.NewEncoder(out).Encode(&resp)
}

// BenchmarkTranslateFilesPage translates the 50-item drive delta page into
// files.sync's device form (bridge) next to its two baselines on the same bytes.
func BenchmarkTranslateFilesPage(b *testing.B) {
	page := filesPage50()
	b.Run("bridge", func(b *testing.B) {
		tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
		p := mustPlan(b, tr, cmd("files.sync", `{"window":50}`))
		defer p.Release()
		var dst bytes.Buffer
		if o := p.Respond(&dst, 200, nil, page); o.Status != 200 || !json.Valid(dst.Bytes()) ||
			!strings.Contains(dst.String(), `"more":true`) || strings.Count(dst.String(), `"op":"upsert"`) != 47 {
			b.Fatalf("bad translation: %.300s", dst.String())
		}
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			dst.Reset()
			p.Respond(&dst, 200, nil, page)
		}
	})
	b.Run("json_valid", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !json.Valid(page) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		var out bytes.Buffer
		if err := naiveTranslateFiles(&out, page); err != nil || strings.Count(out.String(), `"op":"upsert"`) != 47 {
			b.Fatalf("baseline: %v %.300s", err, out.String())
		}
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			out.Reset()
			if err := naiveTranslateFiles(&out, page); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFilesPage50Translation pins the benchmark page: it is valid JSON, and
// the bridge's translation holds the same changes as the baseline's.
func TestFilesPage50Translation(t *testing.T) {
	page := filesPage50()
	if !json.Valid(page) || !validJSON(string(page), maxUpstreamDepth) {
		t.Fatal("benchmark page is not valid JSON")
	}
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("files.sync", `{"window":50}`))
	out, _ := respond(t, p, 200, nil, string(page))
	p.Release()
	var dev naiveFilesResponse
	if err := json.Unmarshal([]byte(out), &dev); err != nil || len(dev.Results) != 1 {
		t.Fatalf("device answer: %v", err)
	}
	var naive bytes.Buffer
	if err := naiveTranslateFiles(&naive, page); err != nil {
		t.Fatal(err)
	}
	var base naiveFilesResponse
	if err := json.Unmarshal(naive.Bytes(), &base); err != nil {
		t.Fatal(err)
	}
	got, want := dev.Results[0].Data.Changes, base.Results[0].Data.Changes
	if len(got) != 50 || len(want) != 50 {
		t.Fatalf("changes: %d, baseline %d", len(got), len(want))
	}
	for i := range got {
		gj, _ := json.Marshal(got[i])
		wj, _ := json.Marshal(want[i])
		if !bytes.Equal(gj, wj) {
			t.Fatalf("change %d:\n got  %s\n want %s", i, gj, wj)
		}
	}
}

// BenchmarkIdentityFromAuthorization reads the identity of an Entra-ID-sized
// token (about 1.5 KB of claims), as every batch request does.
func BenchmarkIdentityFromAuthorization(b *testing.B) {
	claims := `{"aud":"https://graph.microsoft.com","iss":"https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",` +
		`"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","oid":"1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901","upn":"adele@contoso.example",` +
		`"scp":"Mail.ReadWrite Mail.Send Calendars.ReadWrite Contacts.ReadWrite Files.Read.All offline_access",` +
		`"name":"Adele Vance","xms_tcdt":1289241547,"uti":"` + strings.Repeat("x", 900) + `"}`
	authorization := "Bearer " + testJWT(claims)
	b.ReportAllocs()
	for b.Loop() {
		if !IdentityFromAuthorization(authorization).Bound() {
			b.Fatal("unbound")
		}
	}
}
