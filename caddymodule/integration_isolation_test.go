package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// Sizes of the isolation test.
const (
	isolationMailboxes       = 20
	isolationDevices         = 10 // per mailbox, all at once
	isolationMessages        = 4  // per mailbox
	isolationRounds          = 2  // per device
	isolationThrottleRetries = 20
)

// isolationMarker matches every mailbox marker of the isolation test.
var isolationMarker = regexp.MustCompile(`iso[0-9a-f]{16}x`)

// isolationMailbox is one mailbox of the isolation test.
type isolationMailbox struct {
	token, marker string
	ids           map[string]bool // immutable ids of its messages
}

// TestIntegrationConcurrentMailboxIsolation runs 20 mailboxes with 10
// devices each, all at once (200 concurrent clients), through the bridge:
// paged syncs, message bodies and $batches. Every subject, address and
// body of a mailbox carries that mailbox's marker; every answer must hold
// only its own mailbox's marker and message ids, and the sync must see
// exactly the mailbox's own messages. Pooled buffers or translator state
// crossing requests would show another mailbox's data; run with -race.
func TestIntegrationConcurrentMailboxIsolation(t *testing.T) {
	e := startBridge(t)
	mailboxes := make([]*isolationMailbox, isolationMailboxes)
	for i := range mailboxes {
		mb := &isolationMailbox{marker: "iso" + randomHex(8) + "x", ids: map[string]bool{}}
		mb.token = "t-" + mb.marker
		e.control("POST", "/_emulator/mailboxes", map[string]any{
			"token": mb.token, "upn": mb.marker + "@contoso.example", "seed": "empty",
		}, http.StatusCreated)
		for n := 0; n < isolationMessages; n++ {
			delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+mb.token+"/deliver", map[string]any{
				"subject": fmt.Sprintf("%s message %d", mb.marker, n),
				"from":    map[string]any{"name": "From " + mb.marker, "address": mb.marker + "@fabrikam.example"},
				"to":      []any{map[string]any{"name": "To " + mb.marker, "address": "to-" + mb.marker + "@contoso.example"}},
				"body":    map[string]any{"contentType": "text", "content": fmt.Sprintf("body of %s %d %s", mb.marker, n, bytes.Repeat([]byte("."), 200*n))},
			}, http.StatusCreated))
			mb.ids[delivered.Get("immutableId").String()] = true
		}
		mailboxes[i] = mb
	}

	transport := &http.Transport{
		TLSClientConfig:     e.tlsConfig(),
		MaxIdleConnsPerHost: isolationMailboxes * isolationDevices,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: transport}

	var answers, throttled, failures atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, mb := range mailboxes {
		for d := 0; d < isolationDevices; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				dev := &isolationDevice{t: t, client: client, mb: mb, answers: &answers, throttled: &throttled, failures: &failures}
				for round := 0; round < isolationRounds && !t.Failed(); round++ {
					dev.run(round)
				}
			}()
		}
	}
	started := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d answers checked in %v (%d throttled by the governor and retried)", answers.Load(), time.Since(started), throttled.Load())
	require.Zero(t, failures.Load(), "answers failed the isolation checks")
	require.GreaterOrEqual(t, answers.Load(), int64(isolationMailboxes*isolationDevices*isolationRounds*3))
}

// isolationDevice is one device of one mailbox. It reports with t.Errorf,
// which is safe from any goroutine.
type isolationDevice struct {
	t         *testing.T
	client    *http.Client
	mb        *isolationMailbox
	answers   *atomic.Int64
	throttled *atomic.Int64
	failures  *atomic.Int64
}

// errorf reports the first few failures in full and only counts the rest,
// so one broken guarantee does not print thousands of answers.
func (d *isolationDevice) errorf(format string, args ...any) {
	if d.failures.Add(1) > 10 {
		d.t.Fail()
		return
	}
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			a = string(b)
		}
		if text, ok := a.(string); ok && len(text) > 400 {
			args[i] = text[:400] + "…"
		}
	}
	d.t.Errorf(format, args...)
}

// run does one round: a paged mail sync, every message with its body, and
// a $batch mixing a sync page, message gets and a folder.
func (d *isolationDevice) run(round int) {
	var ids []string
	state := ""
	for page := 0; page < 20; page++ {
		args := map[string]any{"folder": "inbox", "window": 1 + round}
		if state != "" {
			args["state"] = state
		}
		result, ok := d.command("mail.sync", args)
		if !ok {
			return
		}
		for _, c := range result.Get("data.changes").Array() {
			id := c.Get("message.id").String()
			if !d.mb.ids[id] {
				d.errorf("mailbox %s: sync delivered a message id that is not its own: %s", d.mb.marker, id)
				return
			}
			if !bytes.Contains([]byte(c.Get("message.subject").String()), []byte(d.mb.marker)) {
				d.errorf("mailbox %s: message without its marker: %s", d.mb.marker, c.Raw)
			}
			ids = append(ids, id)
		}
		state = result.Get("data.state").String()
		if !result.Get("data.more").Bool() {
			break
		}
	}
	if len(ids) != len(d.mb.ids) {
		d.errorf("mailbox %s: the sync delivered %d messages, want %d", d.mb.marker, len(ids), len(d.mb.ids))
		return
	}
	for _, id := range ids {
		result, ok := d.command("mail.get", map[string]any{"id": id, "body": "text"})
		if !ok {
			return
		}
		if got := result.Get("data.message.id").String(); got != id {
			d.errorf("mailbox %s: asked for %s, got %s", d.mb.marker, id, got)
		}
		if !bytes.Contains([]byte(result.Get("data.message.body.content").String()), []byte(d.mb.marker)) {
			d.errorf("mailbox %s: body without its marker: %s", d.mb.marker, result.Raw)
		}
	}
	envelope := fmt.Sprintf(`{"commands":[
		{"id":"s","op":"mail.sync","args":{"folder":"inbox","window":2}},
		{"id":"g0","op":"mail.get","args":{"id":%q,"body":"text"}},
		{"id":"g1","op":"mail.get","args":{"id":%q,"body":"html"}},
		{"id":"f","op":"folder.get","args":{"folder":"inbox"}}
	]}`, ids[0], ids[len(ids)-1])
	body, ok := d.post(envelope)
	if !ok {
		return
	}
	results := gjson.GetBytes(body, "results").Array()
	if len(results) != 4 {
		d.errorf("mailbox %s: $batch answered %d results: %s", d.mb.marker, len(results), body)
		return
	}
	for i, want := range []string{"s", "g0", "g1", "f"} {
		if results[i].Get("id").String() != want || results[i].Get("status").Int() != 200 {
			d.errorf("mailbox %s: $batch result %d: %s", d.mb.marker, i, results[i].Raw)
		}
	}
	if results[1].Get("data.message.id").String() != ids[0] || results[2].Get("data.message.id").String() != ids[len(ids)-1] {
		d.errorf("mailbox %s: $batch answered other messages: %s", d.mb.marker, body)
	}
	if results[3].Get("data.folder.total").Int() != int64(len(d.mb.ids)) {
		d.errorf("mailbox %s: the Inbox count is another mailbox's: %s", d.mb.marker, results[3].Raw)
	}
}

// command runs one command and returns its successful result.
func (d *isolationDevice) command(op string, args map[string]any) (gjson.Result, bool) {
	raw, _ := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": op, "args": args}}})
	body, ok := d.post(string(raw))
	if !ok {
		return gjson.Result{}, false
	}
	result := gjson.GetBytes(body, "results.0")
	if result.Get("status").Int() != 200 {
		d.errorf("mailbox %s: %s failed: %s", d.mb.marker, op, body)
		return gjson.Result{}, false
	}
	return result, true
}

// post sends an envelope, retries while the governor throttles the
// mailbox, and checks that the answer carries no other mailbox's marker.
func (d *isolationDevice) post(envelope string) ([]byte, bool) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest("POST", deviceURL, bytes.NewReader([]byte(envelope)))
		if err != nil {
			d.errorf("request: %v", err)
			return nil, false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+d.mb.token)
		resp, err := d.client.Do(req)
		if err != nil {
			d.errorf("mailbox %s: %v", d.mb.marker, err)
			return nil, false
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			d.errorf("mailbox %s: reading the answer: %v", d.mb.marker, err)
			return nil, false
		}
		d.answers.Add(1)
		for _, m := range isolationMarker.FindAll(body, -1) {
			if string(m) != d.mb.marker {
				d.errorf("mailbox %s received mailbox %s's data: %s", d.mb.marker, m, body)
				return nil, false
			}
		}
		if !json.Valid(body) {
			d.errorf("mailbox %s: the answer is not JSON: %q", d.mb.marker, body)
			return nil, false
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < isolationThrottleRetries {
			d.throttled.Add(1)
			time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			d.errorf("mailbox %s: status %d: %s", d.mb.marker, resp.StatusCode, body)
			return nil, false
		}
		return body, true
	}
}
