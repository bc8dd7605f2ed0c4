package translate

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
)

func TestUpstreamMailboxes(t *testing.T) {
	tr, _ := newTestTranslator(t)
	tests := []struct {
		name, body string
		want       []string // "mailbox=count"
	}{
		{"one direct call", `{"commands":[{"id":"a","op":"folders.sync"}]}`, []string{"=1"}},
		{"batch on /me", `{"commands":[{"id":"a","op":"folders.sync"},{"id":"b","op":"folder.get","args":{"folder":"inbox"}}]}`, []string{"=2"}},
		{"mailboxes grouped case-insensitively, first spelling kept", `{"commands":[
			{"id":"a","op":"folders.sync","args":{"mailbox":"Shared@contoso.example"}},
			{"id":"b","op":"folders.sync"},
			{"id":"c","op":"folder.get","args":{"folder":"inbox","mailbox":"shared@CONTOSO.example"}},
			{"id":"d","op":"folder.get","args":{"folder":"inbox","mailbox":"other@contoso.example"}}]}`,
			[]string{"Shared@contoso.example=2", "=1", "other@contoso.example=1"}},
		{"invalid commands do not count", `{"commands":[
			{"id":"a","op":"folders.sync","args":{"mailbox":"x@y.example"}},
			{"id":"b","op":"folder.get","args":{"folder":"../inbox","mailbox":"x@y.example"}},
			{"id":"c","op":"nope"}]}`, []string{"x@y.example=1"}},
		{"nothing upstream", `{"commands":[{"id":"a","op":"nope"}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan(t, tr, tt.body)
			defer p.Release()
			var got []string
			p.UpstreamMailboxes(func(mb string, n int) { got = append(got, fmt.Sprintf("%s=%d", mb, n)) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUpstreamMailboxesAllocationFree(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"commands":[{"id":"a","op":"folders.sync","args":{"mailbox":"a@b.example"}},{"id":"b","op":"folders.sync"}]}`)
	defer p.Release()
	total := 0
	fn := func(_ string, n int) { total += n }
	if allocs := testing.AllocsPerRun(100, func() { p.UpstreamMailboxes(fn) }); allocs != 0 {
		t.Errorf("UpstreamMailboxes allocates %v times", allocs)
	}
}

func TestThrottledMailboxes(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"commands":[
		{"id":"a","op":"folder.get","args":{"folder":"inbox","mailbox":"a@contoso.example"}},
		{"id":"b","op":"folder.get","args":{"folder":"inbox"}},
		{"id":"c","op":"folder.get","args":{"folder":"drafts","mailbox":"c@contoso.example"}},
		{"id":"d","op":"folder.get","args":{"folder":"bad/"}},
		{"id":"e","op":"folder.get","args":{"folder":"archive"}}]}`)
	defer p.Release()
	_, out := respond(t, p, 200, http.Header{}, `{"responses":[
		{"id":"0","status":429,"headers":{"Retry-After":"7"},"body":{"error":{"code":"ApplicationThrottled"}}},
		{"id":"1","status":200,"body":{"id":"AAA","displayName":"Inbox"}},
		{"id":"2","status":424,"body":{"error":{"code":"BadRequest"}}},
		{"id":"4","status":404,"body":{"error":{"code":"ErrorItemNotFound"}}}]}`)
	if out.Status != 200 {
		t.Fatalf("status %d", out.Status)
	}
	var got []string
	p.ThrottledMailboxes(func(mb string, ra int) { got = append(got, fmt.Sprintf("%s=%d", mb, ra)) })
	// The 424 item takes the largest Retry-After of the batch's 429 items.
	want := []string{"a@contoso.example=7", "c@contoso.example=7"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
