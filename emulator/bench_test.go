package emulator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// BenchmarkDeltaPage50 serves 50-message delta pages of the demo Inbox
// (default property set), following nextLinks and restarting at the end.
func BenchmarkDeltaPage50(b *testing.B) {
	srv, err := NewServer(Options{})
	if err != nil {
		b.Fatal(err)
	}
	url := "http://emulator" + inboxDelta
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		r.Header.Set("Authorization", "Bearer demo")
		r.Header.Set("Prefer", "odata.maxpagesize=50")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
		body := w.Body.String()
		if i := strings.Index(body, `"@odata.nextLink":"`); i >= 0 {
			rest := body[i+len(`"@odata.nextLink":"`):]
			url = rest[:strings.IndexByte(rest, '"')]
		} else {
			url = "http://emulator" + inboxDelta
		}
	}
}

// TestConcurrentDevices runs many clients syncing and changing one
// mailbox at once (meaningful with -race).
func TestConcurrentDevices(t *testing.T) {
	e := newEnv(t, Options{})
	var wg sync.WaitGroup
	for d := 0; d < 8; d++ {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			client := e.ts.Client()
			get := func(url string) string {
				hr, _ := http.NewRequest(http.MethodGet, url, nil)
				hr.Header.Set("Authorization", "Bearer demo")
				hr.Header.Set("Prefer", "odata.maxpagesize=50")
				res, err := client.Do(hr)
				if err != nil {
					return ""
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return string(b)
			}
			url := e.ts.URL + inboxDelta + "?$select=subject,isRead"
			for p := 0; p < 6; p++ {
				body := get(url)
				if i := strings.Index(body, `"@odata.nextLink":"`); i >= 0 {
					rest := body[i+len(`"@odata.nextLink":"`):]
					url = rest[:strings.IndexByte(rest, '"')]
				}
				if i := strings.Index(body, `"id":"`); i >= 0 && d%2 == 0 {
					rest := body[i+6:]
					id := rest[:strings.IndexByte(rest, '"')]
					hr, _ := http.NewRequest(http.MethodPatch, e.ts.URL+"/v1.0/me/messages/"+id, strings.NewReader(`{"isRead":true}`))
					hr.Header.Set("Authorization", "Bearer demo")
					hr.Header.Set("Content-Type", "application/json")
					if res, err := client.Do(hr); err == nil {
						res.Body.Close()
					}
				}
			}
			e.srv.Deliver("demo", DeliverSpec{Subject: "concurrent"})
			get(e.ts.URL + "/v1.0/me/mailFolders/delta")
		}(d)
	}
	wg.Wait()
	assert.NotEmpty(t, e.srv.Requests())
}

// TestOddInputsDoNotPanic throws odd paths and bodies at the router.
func TestOddInputsDoNotPanic(t *testing.T) {
	e := newEnv(t, Options{})
	paths := []string{
		"/v1.0", "/v1.0/", "/v1.0//", "/v1.0/me//messages", "/v1.0/me/mailFolders()", "/v1.0/me/mailFolders('')/messages/delta",
		"/v1.0/me/mailfolders('inbox')/messages('x')", "/v1.0/users", "/v1.0/users/", "/v1.0/users('')", "/v1.0/me/messages/" + strings.Repeat("A", 5000),
		"/v1.0/me/mailFolders/inbox/messages/delta?$skiptoken=&$deltatoken=", "/v1.0/me/mailFolders/inbox/messages/delta?$select=", "/v1.0/%24batch",
		"/v1.0/me/messages/AAMkAD%00abcdefghijklmn", "/v1.0/me/mailFolders/inbox/childFolders/x", "/_emulator", "/_emulator/", "/_emulator/mailboxes/a/b/c",
		"/v1.0/me/messages/AAMkADdoesnotexist0000=/attachments/x/y/z", "/v1.0/me/mailFolders/delta/extra",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE", "PUT"} {
			res := e.do(req{method: m, path: p, token: "demo", body: `{"requests":[{}]}`})
			assert.GreaterOrEqual(t, res.status, 200, p)
			assert.Less(t, res.status, 500, "%s %s: %s", m, p, res.body)
		}
	}
}
