package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type batchAnswer struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

func (e *testEnv) batch(token, body string) (resp, batchAnswer) {
	e.t.Helper()
	res := e.do(req{method: http.MethodPost, path: "/v1.0/$batch", token: token, body: body})
	var a batchAnswer
	if res.status == http.StatusOK || res.status == http.StatusFailedDependency {
		require.NoError(e.t, json.Unmarshal(res.body, &a), "%s", res.body)
	}
	return res, a
}

func TestBatchOutOfOrderMixedStatusesAndDependsOn(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("b1", "empty")
	d := e.deliver("b1", `{"subject":"batch me"}`)
	id := d["id"].(string)
	// Items without dependsOn run concurrently: item 5's delta must find a
	// message in the Inbox whether or not item 2's move ran first.
	e.deliver("b1", `{"subject":"stays in the inbox"}`)
	body := `{"requests":[
		{"id":"1","method":"PATCH","url":"/me/messages/` + id + `","headers":{"Content-Type":"application/json","Prefer":"IdType=\"ImmutableId\""},"body":{"isRead":true}},
		{"id":"2","method":"POST","url":"me/messages/` + id + `/move","headers":{"Content-Type":"application/json"},"body":{"destinationId":"archive"},"dependsOn":["1"]},
		{"id":"3","method":"GET","url":"/me/messages/AAMkADdoesnotexist0000="},
		{"id":"4","method":"GET","url":"/me/messages/AAMkADdoesnotexist0000=/attachments","dependsOn":["3"]},
		{"id":"5","method":"GET","url":"/me/mailFolders/inbox/messages/delta?$select=subject","headers":{"Prefer":"odata.maxpagesize=1"}},
		{"id":"6","method":"GET","url":"https://graph.microsoft.com/v1.0/me/messages"},
		{"id":"7","method":"GET","url":"/me/messages/bad%2Fid"}
	]}`
	res, a := e.batch("b1", body)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Len(t, a.Responses, 7)
	order := make([]string, 0, 7)
	got := map[string]int{}
	for _, r := range a.Responses {
		order = append(order, r.ID)
		got[r.ID] = r.Status
	}
	assert.NotEqual(t, []string{"1", "2", "3", "4", "5", "6", "7"}, order, "answers are out of order")
	assert.Equal(t, map[string]int{"1": 200, "2": 201, "3": 404, "4": 424, "5": 200, "6": 400, "7": 400}, got)
	for _, r := range a.Responses {
		switch r.ID {
		case "1":
			var m map[string]any
			require.NoError(t, json.Unmarshal(r.Body, &m))
			assert.Equal(t, d["immutableId"], m["id"], "per-item Prefer applies")
			assert.Equal(t, contentTypeGraphJSON, r.Headers["Content-Type"])
		case "3":
			assert.Contains(t, string(r.Body), "ErrorItemNotFound")
		case "5":
			var p deltaPage
			require.NoError(t, json.Unmarshal(r.Body, &p))
			assert.Len(t, p.Value, 1)
		}
	}
	// Same order for the same ids (deterministic).
	_, a2 := e.batch("b1", `{"requests":[{"id":"1","method":"GET","url":"/me"},{"id":"2","method":"GET","url":"/me"},{"id":"3","method":"GET","url":"/me"},{"id":"4","method":"GET","url":"/me"},{"id":"5","method":"GET","url":"/me"},{"id":"6","method":"GET","url":"/me"},{"id":"7","method":"GET","url":"/me"}]}`)
	for i := range order {
		assert.Equal(t, order[i], a2.Responses[i].ID)
	}
}

func TestBatchEnvelopeErrors(t *testing.T) {
	e := newEnv(t, Options{})
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"%d","method":"GET","url":"/me"}`, i)
	}
	tests := []struct {
		name   string
		token  string
		body   string
		status int
	}{
		{"too many", "demo", `{"requests":[` + strings.Join(many, ",") + `]}`, 400},
		{"duplicate ids ignoring case", "demo", `{"requests":[{"id":"a","method":"GET","url":"/me"},{"id":"A","method":"GET","url":"/me"}]}`, 400},
		{"unknown dependency", "demo", `{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["z"]}]}`, 400},
		{"cycle", "demo", `{"requests":[{"id":"a","method":"GET","url":"/me","dependsOn":["b"]},{"id":"b","method":"GET","url":"/me","dependsOn":["a"]}]}`, 400},
		{"not json", "demo", `{"requests":`, 400},
		{"empty", "demo", `{"requests":[]}`, 400},
		{"no auth", "", `{"requests":[{"id":"a","method":"GET","url":"/me"}]}`, 401},
		{"twenty is fine", "demo", `{"requests":[` + strings.Join(many[:20], ",") + `]}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := e.batch(tt.token, tt.body)
			assert.Equal(t, tt.status, res.status, "%s", res.body)
		})
	}
	// A body without Content-Type fails the item.
	_, a := e.batch("demo", `{"requests":[{"id":"a","method":"PATCH","url":"/me/messages/AAMkADdoesnotexist0000=","body":{"isRead":true}}]}`)
	require.Len(t, a.Responses, 1)
	assert.Equal(t, 400, a.Responses[0].Status)
}

func TestBatchThrottling(t *testing.T) {
	for _, mode := range []string{BatchThrottleInner, BatchThrottleEnvelope424} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, Options{Quirks: Quirks{BatchThrottle: mode}})
			ra := "7"
			require.NoError(t, e.srv.AddFault(FaultRule{PathContains: "/mailFolders/drafts", Status: 429, RetryAfter: &ra}))
			res, a := e.batch("demo", `{"requests":[{"id":"1","method":"GET","url":"/me/mailFolders/inbox"},{"id":"2","method":"GET","url":"/me/mailFolders/drafts"}]}`)
			want := http.StatusOK
			if mode == BatchThrottleEnvelope424 {
				want = http.StatusFailedDependency
				assert.Equal(t, "7", res.header.Get("Retry-After"))
			}
			require.Equal(t, want, res.status)
			for _, r := range a.Responses {
				if r.ID == "2" {
					assert.Equal(t, 429, r.Status)
					assert.Equal(t, "7", r.Headers["Retry-After"])
					assert.Contains(t, string(r.Body), "ApplicationThrottled")
				} else {
					assert.Equal(t, 200, r.Status)
				}
			}
		})
	}
}
