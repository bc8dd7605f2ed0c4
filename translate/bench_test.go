package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// messagePage50 builds a realistic 50-message delta page (mail.sync default
// selection, nextLink) in Graph's shape.
func messagePage50() []byte {
	var b strings.Builder
	b.WriteString(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(message)",` +
		`"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/mailfolders('AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB')/messages/delta?$skiptoken=LztZwWjo5IivWBhyxw5rAGsYqmGQ7Gc0OF",` +
		`"value":[`)
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.type":"#microsoft.graph.message","@odata.etag":"W/\"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3R%02d\"",`+
			`"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ%04dAAA=","changeKey":"CQAAABYAAAB3qMpQ0Xy9SaUv8QqJlz4uAAAKp3R%02d",`+
			`"parentFolderId":"AQMkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoALgAAA0Wd3fmp3l1CtrLkQ0AAAAB",`+
			`"conversationId":"AAQkADAwATM3ZmYAZS0wMAItZmFlZC1mYWMzLTAwAi0wMAoAEAB%04d=",`+
			`"subject":"Q3 roadmap review #%d","from":{"emailAddress":{"name":"Priya Natarajan","address":"priya@fabrikam.example"}},`+
			`"toRecipients":[{"emailAddress":{"name":"Lea Martin","address":"lea@contoso.example"}},{"emailAddress":{"name":"Sam Okafor","address":"sam@contoso.example"}}],`+
			`"ccRecipients":[],"receivedDateTime":"2025-03-04T08:15:22Z","sentDateTime":"2025-03-04T08:15:20Z",`+
			`"bodyPreview":"Hi all, attached the numbers for the \"Q3\" review. Please read before Thursday; we will go through the open items one by one.",`+
			`"isRead":%t,"flag":{"flagStatus":"notFlagged"},"importance":"normal","hasAttachments":true,"categories":["Blue category"],"isDraft":false}`,
			i%100, i, i%100, i, i, i%2 == 0)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkRespondMessagePage50(b *testing.B) {
	tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
	page := messagePage50()
	p := mustPlan(b, tr, cmd("mail.sync", `{"folder":"inbox"}`))
	defer p.Release()
	var dst bytes.Buffer
	p.Respond(&dst, 200, nil, page) // warm the buffers
	if !strings.Contains(dst.String(), `"more":true`) || strings.Count(dst.String(), `"op":"upsert"`) != 50 {
		b.Fatalf("bad translation: %.300s", dst.String())
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst.Reset()
		p.Respond(&dst, 200, nil, page)
	}
}

// BenchmarkBaselineJSONValid is the floor: encoding/json's validator alone.
func BenchmarkBaselineJSONValid(b *testing.B) {
	page := messagePage50()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !json.Valid(page) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkBaselineEncodingJSON decodes the page into structs and encodes a
// device-like shape: the round trip the translator avoids.
func BenchmarkBaselineEncodingJSON(b *testing.B) {
	type person struct {
		EmailAddress struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"emailAddress"`
	}
	type message struct {
		ID             string   `json:"id"`
		ParentFolderID string   `json:"parentFolderId"`
		ConversationID string   `json:"conversationId"`
		Subject        string   `json:"subject"`
		From           *person  `json:"from"`
		To             []person `json:"toRecipients"`
		Cc             []person `json:"ccRecipients"`
		Received       string   `json:"receivedDateTime"`
		Sent           string   `json:"sentDateTime"`
		Preview        string   `json:"bodyPreview"`
		IsRead         bool     `json:"isRead"`
		Flag           struct {
			FlagStatus string `json:"flagStatus"`
		} `json:"flag"`
		Importance string   `json:"importance"`
		HasAtt     bool     `json:"hasAttachments"`
		Categories []string `json:"categories"`
		IsDraft    bool     `json:"isDraft"`
	}
	type page struct {
		Next  string    `json:"@odata.nextLink"`
		Value []message `json:"value"`
	}
	data := messagePage50()
	var out bytes.Buffer
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var pg page
		if err := json.Unmarshal(data, &pg); err != nil {
			b.Fatal(err)
		}
		out.Reset()
		if err := json.NewEncoder(&out).Encode(pg.Value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanBatch(b *testing.B) {
	tr, _ := newTestTranslator(b, func(o *Options) { o.ImmutableIDs = true })
	body := []byte(`{"commands":[{"id":"c1","op":"folders.sync","args":{}},{"id":"c2","op":"mail.sync","args":{"folder":"inbox","window":50}},{"id":"c3","op":"mail.get","args":{"id":"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA="}}]}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, e := tr.Plan(body)
		if e != nil {
			b.Fatal(e)
		}
		p.Release()
	}
}
