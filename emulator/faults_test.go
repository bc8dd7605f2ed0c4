package emulator

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (e *testEnv) addFault(body string) {
	e.t.Helper()
	res := e.do(req{method: http.MethodPost, path: "/_emulator/faults", body: body})
	require.Equal(e.t, http.StatusCreated, res.status, "%s", res.body)
}

func TestFaultAnswers(t *testing.T) {
	tests := []struct {
		name       string
		rule       string
		status     int
		code       string
		retryAfter string
		header     [2]string
		body       string
	}{
		{"429 with Retry-After", `{"pathContains":"/messages/delta","status":429,"retryAfter":"7"}`, 429, "ApplicationThrottled", "7", [2]string{}, ""},
		{"429 fractional Retry-After", `{"status":429,"code":"TooManyRequests","retryAfter":"2.128"}`, 429, "TooManyRequests", "2.128", [2]string{}, ""},
		{"429 without Retry-After", `{"status":429}`, 429, "ApplicationThrottled", "", [2]string{}, ""},
		{"503", `{"status":503}`, 503, "serviceNotAvailable", "", [2]string{}, ""},
		{"claims challenge", `{"status":401,"code":"InvalidAuthenticationToken","headers":{"WWW-Authenticate":"Bearer realm=\"\", error=\"insufficient_claims\", claims=\"e30=\""}}`, 401, "InvalidAuthenticationToken", "", [2]string{"WWW-Authenticate", `Bearer realm="", error="insufficient_claims", claims="e30="`}, ""},
		{"raw body", `{"status":502,"body":"<html>bad gateway</html>","contentType":"text/html"}`, 502, "", "", [2]string{"Content-Type", "text/html"}, "<html>bad gateway</html>"},
		{"token filter", `{"token":"demo","method":"GET","status":500}`, 500, "generalException", "", [2]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.addFault(tt.rule)
			res := e.do(req{path: inboxDelta, token: "demo"})
			require.Equal(t, tt.status, res.status, "%s", res.body)
			if tt.code != "" {
				assert.Equal(t, tt.code, graphErrorCode(t, res))
			}
			assert.Equal(t, tt.retryAfter, res.header.Get("Retry-After"))
			if tt.header[0] != "" {
				assert.Equal(t, tt.header[1], res.header.Get(tt.header[0]))
			}
			if tt.body != "" {
				assert.Equal(t, tt.body, string(res.body))
			}
			// count defaults to 1: the next request is normal.
			assert.Equal(t, http.StatusOK, e.do(req{path: inboxDelta, token: "demo"}).status)
		})
	}
}

func TestFaultMatchingAndCount(t *testing.T) {
	e := newEnv(t, Options{})
	e.addFault(`{"token":"demo2","status":503,"count":2}`)
	assert.Equal(t, http.StatusOK, e.do(req{path: inboxDelta, token: "demo"}).status)
	assert.Equal(t, 503, e.do(req{path: inboxDelta, token: "demo2"}).status)
	assert.Equal(t, 503, e.do(req{path: inboxDelta, token: "demo2"}).status)
	assert.Equal(t, 200, e.do(req{path: inboxDelta, token: "demo2"}).status)

	e.addFault(`{"method":"PATCH","status":409,"count":0}`)
	for i := 0; i < 3; i++ {
		assert.Equal(t, 409, e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/AAMkADdoesnotexist0000=", token: "demo", body: `{"isRead":true}`}).status)
	}
	assert.Equal(t, 200, e.do(req{path: inboxDelta, token: "demo"}).status)
	assert.Equal(t, http.StatusNoContent, e.do(req{method: http.MethodDelete, path: "/_emulator/faults"}).status)
	assert.Equal(t, 404, e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/AAMkADdoesnotexist0000=", token: "demo", body: `{"isRead":true}`}).status)

	// Invalid rules are refused.
	for _, bad := range []string{`{"delay":"soon"}`, `{"action":"explode"}`, `{"status":42}`, `{"unknown":1}`} {
		res := e.do(req{method: http.MethodPost, path: "/_emulator/faults", body: bad})
		assert.Equal(t, http.StatusBadRequest, res.status, bad)
	}
}

func TestFaultDelay(t *testing.T) {
	e := newEnv(t, Options{})
	e.addFault(`{"delay":"150ms"}`)
	start := time.Now()
	res := e.do(req{path: inboxDelta, token: "demo"})
	assert.Equal(t, http.StatusOK, res.status, "a delay-only rule delays the normal answer")
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// The delay ends when the client goes away.
	e.addFault(`{"delay":"5s","status":503}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+inboxDelta, nil)
	hr.Header.Set("Authorization", "Bearer demo")
	start = time.Now()
	_, err := e.ts.Client().Do(hr)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestFaultActions(t *testing.T) {
	e := newEnv(t, Options{})
	get := func() (*http.Response, []byte, error) {
		hr, _ := http.NewRequest(http.MethodGet, e.ts.URL+inboxDelta, nil)
		hr.Header.Set("Authorization", "Bearer demo")
		// A fresh connection each time: Go's Transport silently retries a
		// GET whose reused connection closes before any answer.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := client.Do(hr)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	e.addFault(`{"action":"reset"}`)
	res0, _, err := get()
	require.Error(t, err, "reset closes without an answer")
	assert.Nil(t, res0, "no status line was sent")

	e.addFault(`{"action":"truncate"}`)
	res, body, err := get()
	require.NotNil(t, res)
	assert.Equal(t, 200, res.StatusCode)
	require.Error(t, err, "truncated body")
	assert.True(t, strings.HasPrefix(string(body), `{"@odata.context"`), "%s", body)

	e.addFault(`{"action":"reset_after_headers"}`)
	res, _, err = get()
	require.NotNil(t, res)
	assert.Equal(t, 200, res.StatusCode)
	require.Error(t, err)

	_, _, err = get()
	require.NoError(t, err)
}

func TestFaultsOnBatchItemsAndEnvelope(t *testing.T) {
	e := newEnv(t, Options{})
	e.addFault(`{"pathContains":"/mailFolders/drafts","status":503,"retryAfter":"3"}`)
	_, a := e.batch("demo", `{"requests":[{"id":"1","method":"GET","url":"/me/mailFolders/inbox"},{"id":"2","method":"GET","url":"/me/mailFolders/drafts"}]}`)
	st := map[string]int{}
	for _, r := range a.Responses {
		st[r.ID] = r.Status
	}
	assert.Equal(t, map[string]int{"1": 200, "2": 503}, st)

	e.addFault(`{"batchEnvelope":true,"status":504}`)
	res, _ := e.batch("demo", `{"requests":[{"id":"1","method":"GET","url":"/me"}]}`)
	assert.Equal(t, 504, res.status)
	// Envelope rules do not match direct requests.
	e.addFault(`{"batchEnvelope":true,"status":500}`)
	assert.Equal(t, 200, e.do(req{path: "/v1.0/me", token: "demo"}).status)
}

func TestMailboxConcurrencyLimit(t *testing.T) {
	e := newEnv(t, Options{MailboxConcurrency: 2})
	e.addFault(`{"pathContains":"/mailFolders/inbox","delay":"400ms","count":2}`)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hr, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1.0/me/mailFolders/inbox", nil)
			hr.Header.Set("Authorization", "Bearer demo")
			if res, err := e.ts.Client().Do(hr); err == nil {
				res.Body.Close()
			}
		}()
	}
	mb := e.srv.mailboxByToken("demo")
	require.Eventually(t, func() bool { return mb.inflight.Load() == 2 }, 2*time.Second, 2*time.Millisecond)
	res := e.do(req{path: "/v1.0/me/mailFolders/drafts", token: "demo"})
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "ApplicationThrottled", graphErrorCode(t, res))
	assert.Contains(t, string(res.body), "MailboxConcurrency")
	assert.Equal(t, "1", res.header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "demo2"}).status, "other mailboxes are not limited")
	wg.Wait()
	assert.Equal(t, http.StatusOK, e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "demo"}).status)
}
