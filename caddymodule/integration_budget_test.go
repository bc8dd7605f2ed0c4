package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// largeHTMLBody is an HTML body of about size bytes with quotes, so that
// its JSON form is escaped as Graph's is.
func largeHTMLBody(size int) string {
	const para = `<p class="x">All work and no play makes Jack a dull boy. </p>` + "\n"
	return "<html><body>" + strings.Repeat(para, size/len(para)) + "</body></html>"
}

// deliverLarge delivers a message with an HTML body of size bytes to a new
// mailbox and returns its token and the message id.
func (e *env) deliverLarge(size int) (token, id string) {
	e.t.Helper()
	token = e.newMailbox("empty")
	delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"folder": "inbox", "subject": "large html",
		"from": map[string]any{"name": "Sender", "address": "sender@fabrikam.example"},
		"body": map[string]any{"contentType": "html", "content": largeHTMLBody(size)},
	}, http.StatusCreated))
	id = delivered.Get("immutableId").String()
	require.NotEmpty(e.t, id)
	return token, id
}

// With a budget far below what concurrent large answers need, requests
// beyond it are refused with 503 and Retry-After (an error object, never a
// truncated answer), the others are answered whole, and the budget is
// given back: a request afterwards succeeds.
func TestIntegrationBufferBudgetRefusesBeyondIt(t *testing.T) {
	e := startBridgeWith(t, customConfig(siteOptions{
		bridge: "max_buffered_bytes 24MiB\n\t\tbuffer_wait 200ms\n\t\tmax_inflight_per_mailbox 16",
	}))
	const size = 6 << 20
	token, id := e.deliverLarge(size)
	get := fmt.Sprintf(`{"commands":[{"id":"g","op":"mail.get","args":{"id":%q,"body":"html"}}]}`, id)

	type answer struct {
		status     int
		code       string
		retryAfter string
		bodyLen    int
	}
	answers := make([]answer, 12)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("POST", deviceURL, strings.NewReader(get))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := e.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return
			}
			answers[i] = answer{resp.StatusCode, gjson.GetBytes(body, "error.code").String(), resp.Header.Get("Retry-After"),
				len(gjson.GetBytes(body, "results.0.data.message.body.content").String())}
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok++
			assert.Greater(t, a.bodyLen, size-1024, "answer %d is whole", i)
		case http.StatusServiceUnavailable:
			refused++
			assert.Equal(t, "upstream_unavailable", a.code, "answer %d", i)
			assert.Equal(t, "5", a.retryAfter, "answer %d", i)
		default:
			t.Errorf("answer %d: %+v", i, a)
		}
	}
	t.Logf("%d answered, %d refused for lack of buffer budget", ok, refused)
	assert.Positive(t, ok, "the budget lets some large answers through")
	assert.Positive(t, refused, "12 concurrent 6 MB answers do not fit 24 MiB: some must be refused")

	// The budget comes back as the handlers finish, which may trail the
	// clients' last read by a moment: the answer must come within seconds.
	var body []byte
	require.Eventually(t, func() bool {
		var resp *http.Response
		resp, body = e.batch(deviceURL, token, get)
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "the budget was given back: %.200s", body)
	var resp *http.Response

	// Small requests were never held up.
	resp, body = e.batch(deviceURL, token, folderGet)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}
