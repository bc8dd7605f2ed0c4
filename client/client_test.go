package deviceclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBridge answers the device API from a script: each batch request gets
// the next answer, and every request is recorded.
type fakeBridge struct {
	t        *testing.T
	mu       sync.Mutex
	answers  []fakeAnswer
	requests []recordedRequest
}

type fakeAnswer struct {
	status int
	header map[string]string
	body   string
}

type recordedRequest struct {
	method, path, query, auth, contentType string
	body                                   []byte
}

func (f *fakeBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	if len(f.answers) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, "no answer scripted", http.StatusTeapot)
		return
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// newTestClient starts a TLS fake bridge and a client of it whose sleeps
// are recorded instead of waited.
func newTestClient(t *testing.T, answers ...fakeAnswer) (*Client, *fakeBridge, *[]time.Duration) {
	t.Helper()
	f := &fakeBridge{t: t, answers: answers}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	var slept []time.Duration
	c, err := New(srv.URL+"/device/v1", Options{
		Token:      "tok-123",
		HTTPClient: srv.Client(),
		Sleep: func(_ context.Context, d time.Duration) error {
			slept = append(slept, d)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, f, &slept
}

func TestBatchSendsCommandsAndMatchesResultsByID(t *testing.T) {
	c, f, _ := newTestClient(t, fakeAnswer{body: `{"results":[
		{"id":"c2","status":404,"error":{"code":"not_found","message":"no such message","upstreamCode":"ErrorItemNotFound","requestId":"r-1"}},
		{"id":"c1","status":200,"data":{"folder":{"id":"F1","parent":"P","name":"Inbox","unread":3,"total":9,"children":1,"hidden":false}}}]}`})
	b := c.NewBatch()
	folder := b.FolderGet(FolderGetArgs{Folder: "inbox"})
	msg := b.MailGet(MailGetArgs{ID: "AAMk=", Body: "none", Mailbox: "a@b.example"})
	if err := c.Do(context.Background(), b); err != nil {
		t.Fatal(err)
	}

	got, err := folder.Result()
	if err != nil || got.ID != "F1" || got.Name != "Inbox" || got.Unread != 3 || got.Children != 1 {
		t.Fatalf("folder.get = %+v, %v", got, err)
	}
	_, err = msg.Result()
	var e *Error
	if !IsCode(err, CodeNotFound) || !asError(err, &e) || e.Status != 404 || e.UpstreamCode != "ErrorItemNotFound" || e.RequestID != "r-1" {
		t.Fatalf("mail.get error = %#v", err)
	}

	req := f.requests[0]
	if req.method != "POST" || req.path != "/device/v1/batch" || req.auth != "Bearer tok-123" || req.contentType != "application/json" {
		t.Fatalf("request = %+v", req)
	}
	want := `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}},{"id":"c2","op":"mail.get","args":{"mailbox":"a@b.example","id":"AAMk=","body":"none"}}]}`
	if string(req.body) != want {
		t.Fatalf("envelope\n got %s\nwant %s", req.body, want)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func TestEnvelopeThrottledIsRetriedAfterRetryAfter(t *testing.T) {
	throttled := fakeAnswer{status: 429, header: map[string]string{"Retry-After": "7"},
		body: `{"error":{"code":"throttled","message":"slow down","retryAfter":7}}`}
	ok := fakeAnswer{body: `{"results":[{"id":"c1","status":200,"data":{}}]}`}
	c, f, slept := newTestClient(t, throttled, throttled, ok)

	if err := c.MailDelete(context.Background(), MailDeleteArgs{ID: "X1"}); err != nil {
		t.Fatalf("MailDelete after two throttled answers: %v", err)
	}
	if len(f.requests) != 3 {
		t.Fatalf("%d requests, want 3", len(f.requests))
	}
	if len(*slept) != 2 {
		t.Fatalf("slept %v, want two waits", *slept)
	}
	for _, d := range *slept {
		if d < 7*time.Second || d > 7*time.Second*12/10 {
			t.Errorf("waited %v, want Retry-After 7s plus at most 20%% jitter", d)
		}
	}
}

func TestEnvelopeThrottledGivesUpAfterMaxAttempts(t *testing.T) {
	throttled := fakeAnswer{status: 429, body: `{"error":{"code":"throttled","message":"slow down","retryAfter":1}}`}
	c, f, _ := newTestClient(t, throttled, throttled, throttled, throttled)
	_, err := c.FolderGet(context.Background(), FolderGetArgs{Folder: "inbox"})
	if !IsCode(err, CodeThrottled) {
		t.Fatalf("err = %v, want throttled", err)
	}
	if len(f.requests) != DefaultMaxAttempts {
		t.Fatalf("%d requests, want %d", len(f.requests), DefaultMaxAttempts)
	}
}

func TestLongRetryAfterIsReturnedNotWaited(t *testing.T) {
	c, f, slept := newTestClient(t, fakeAnswer{status: 429, header: map[string]string{"Retry-After": "3600"},
		body: `{"error":{"code":"throttled","message":"slow down"}}`})
	_, err := c.FolderGet(context.Background(), FolderGetArgs{Folder: "inbox"})
	var e *Error
	if !asError(err, &e) || e.Code != CodeThrottled || e.RetryAfter != 3600 {
		t.Fatalf("err = %#v, want throttled with RetryAfter 3600 from the header", err)
	}
	if len(f.requests) != 1 || len(*slept) != 0 {
		t.Fatalf("requests %d, slept %v: a wait over MaxRetryWait must be the caller's", len(f.requests), *slept)
	}
}

func TestSendIsNeverRetriedOnUpstreamError(t *testing.T) {
	c, f, _ := newTestClient(t, fakeAnswer{status: 502, body: `{"error":{"code":"upstream_error","message":"connection lost"}}`})
	err := c.MailSend(context.Background(), MailSendArgs{To: []Person{{Addr: "x@y.example"}}, Subject: "s", Body: Body{Content: "b"},
		Attachments: []OutgoingAttachment{{Name: "a.bin", Data: []byte{0, 1, 2}}}})
	if !IsCode(err, CodeUpstreamError) {
		t.Fatalf("err = %v", err)
	}
	if len(f.requests) != 1 {
		t.Fatalf("a send was sent %d times", len(f.requests))
	}
	if !strings.Contains(string(f.requests[0].body), `"data":"AAEC"`) {
		t.Fatalf("attachment not base64 on the wire: %s", f.requests[0].body)
	}
}

func TestNonJSONErrorAnswerStillAnError(t *testing.T) {
	c, _, _ := newTestClient(t, fakeAnswer{status: 502, body: `<html>bad gateway</html>`})
	_, err := c.FolderGet(context.Background(), FolderGetArgs{Folder: "inbox"})
	var e *Error
	if !asError(err, &e) || e.Status != 502 || e.Code != CodeUpstreamError {
		t.Fatalf("err = %#v", err)
	}
}

func TestMailSyncRoundFollowsMoreAndRetriesAThrottledPage(t *testing.T) {
	page := func(changes string, state string, more bool) fakeAnswer {
		data, _ := json.Marshal(state)
		return fakeAnswer{body: `{"results":[{"id":"c1","status":200,"data":{"changes":[` + changes +
			`],"state":` + string(data) + `,"more":` + map[bool]string{true: "true", false: "false"}[more] + `}}]}`}
	}
	c, f, slept := newTestClient(t,
		page(`{"op":"upsert","message":{"id":"M1","subject":"one","from":{"name":"A","addr":"a@x.example"},"read":true}}`, "S1", true),
		fakeAnswer{body: `{"results":[{"id":"c1","status":429,"error":{"code":"throttled","message":"m","retryAfter":3}}]}`},
		page(`{"op":"delete","id":"M0"},{"op":"upsert","message":{"id":"M2"}}`, "S2", true),
		page(``, "S3", false),
	)
	var ids []string
	var states []string
	for p, err := range c.MailSyncRound(context.Background(), MailSyncArgs{Folder: "inbox", Window: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range p.Changes {
			ids = append(ids, ch.Op+":"+ch.ID)
		}
		states = append(states, p.State)
	}
	if got := strings.Join(ids, " "); got != "upsert:M1 delete:M0 upsert:M2" {
		t.Fatalf("changes %s", got)
	}
	if got := strings.Join(states, " "); got != "S1 S2 S3" {
		t.Fatalf("states %s", got)
	}
	if len(*slept) != 1 || (*slept)[0] < 3*time.Second {
		t.Fatalf("slept %v, want one wait of the page's retryAfter", *slept)
	}
	// The first call carries no state; the rest carry the previous page's.
	wantStates := []string{"", "S1", "S1", "S2"}
	for i, r := range f.requests {
		var env struct {
			Commands []struct {
				Args MailSyncArgs `json:"args"`
			} `json:"commands"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		if got := env.Commands[0].Args.State; got != wantStates[i] {
			t.Errorf("request %d state %q, want %q", i, got, wantStates[i])
		}
	}
}

func TestSyncRoundSurfacesResyncRequired(t *testing.T) {
	c, f, _ := newTestClient(t, fakeAnswer{body: `{"results":[{"id":"c1","status":410,"error":{"code":"resync_required","message":"start again"}}]}`})
	n := 0
	for _, err := range c.ContactsSyncRound(context.Background(), ContactsSyncArgs{State: "old"}) {
		n++
		if !IsCode(err, CodeResyncRequired) {
			t.Fatalf("err = %v, want resync_required", err)
		}
	}
	if n != 1 || len(f.requests) != 1 {
		t.Fatalf("yielded %d, requests %d; want one error and no retry", n, len(f.requests))
	}
}

func TestSyncPageDecodesEveryKind(t *testing.T) {
	var ev SyncPage[Event]
	if err := json.Unmarshal([]byte(`{"changes":[{"op":"upsert","event":{"id":"E1","start":"2026-11-11","end":"2026-11-12","allDay":true,"attendees":[{"addr":"a@x.example","type":"required"}]}},{"op":"delete","id":"E0"}],"state":"s","more":false}`), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Changes) != 2 || ev.Changes[0].Item.Start != "2026-11-11" || !ev.Changes[0].Item.AllDay || !ev.Changes[1].IsDelete() || ev.Changes[1].ID != "E0" {
		t.Fatalf("events %+v", ev)
	}
	var folders SyncPage[Folder]
	if err := json.Unmarshal([]byte(`{"changes":[{"op":"upsert","message":{"id":"M"}}],"state":"s","more":false}`), &folders); err == nil {
		t.Fatal("a folder page with a message upsert was accepted")
	}
	var contacts SyncPage[Contact]
	if err := json.Unmarshal([]byte(`{"changes":[{"op":"rename","id":"C"}],"state":"s","more":false}`), &contacts); err == nil {
		t.Fatal("an unknown change op was accepted")
	}
}

func TestDownloadStreamsAndMapsErrors(t *testing.T) {
	c, f, _ := newTestClient(t,
		fakeAnswer{header: map[string]string{"Content-Type": "application/pdf", "Content-Length": "5"}, body: "%PDF-"},
		fakeAnswer{status: 404, body: `{"error":{"code":"not_found","message":"no such attachment"}}`},
	)
	d, err := c.Attachment(context.Background(), "shared@x.example", "M+1", "A/2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(d.Body)
	d.Body.Close()
	if string(body) != "%PDF-" || d.Size != 5 || d.ContentType != "application/pdf" {
		t.Fatalf("download %q size %d type %q", body, d.Size, d.ContentType)
	}
	if r := f.requests[0]; r.path != "/device/v1/messages/M+1/attachments/A/2" || r.query != "mailbox=shared%40x.example" {
		// net/http decodes the path; the escaped form is what crossed the wire.
		t.Fatalf("request path %q query %q", r.path, r.query)
	}
	_, err = c.MIME(context.Background(), "", "M1")
	if !IsCode(err, CodeNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestSendMIME(t *testing.T) {
	c, f, _ := newTestClient(t, fakeAnswer{body: `{}`})
	mime := "From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n"
	if err := c.SendMIME(context.Background(), "", strings.NewReader(mime), int64(len(mime))); err != nil {
		t.Fatal(err)
	}
	r := f.requests[0]
	if r.path != "/device/v1/mime/send" || r.contentType != "message/rfc822" || string(r.body) != mime {
		t.Fatalf("request %+v", r)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		url string
		o   Options
	}{
		{"https://b.example/device/v1", Options{}},
		{"ftp://b.example/device/v1", Options{Token: "t"}},
		{"https://b.example/device/v1?x=1", Options{Token: "t"}},
		{"/device/v1", Options{Token: "t"}},
	} {
		if _, err := New(tc.url, tc.o); err == nil {
			t.Errorf("New(%q, %+v) accepted", tc.url, tc.o)
		}
	}
}
