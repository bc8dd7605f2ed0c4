package emulator

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inflightOf(t *testing.T, e *testEnv, token string) Inflight {
	t.Helper()
	res := e.do(req{path: "/_emulator/mailboxes/" + token + "/inflight"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var in Inflight
	require.NoError(t, json.Unmarshal(res.body, &in))
	return in
}

func TestInflightRecordsTheMostAtOnce(t *testing.T) {
	e := newEnv(t, Options{})
	e.newMailbox("busy", "empty")
	e.newMailbox("quiet", "empty")
	assert.Equal(t, Inflight{}, inflightOf(t, e, "busy"))

	// Six requests held in the mailbox's slot at once by a delay rule.
	e.do(req{method: http.MethodPost, path: "/_emulator/faults",
		body: `{"token":"busy","pathContains":"/mailFolders","delay":"300ms","count":0}`})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "busy"})
			assert.Equal(t, http.StatusOK, res.status)
		}()
	}
	wg.Wait()
	assert.Equal(t, Inflight{Max: 6, Now: 0}, inflightOf(t, e, "busy"))
	assert.Equal(t, Inflight{}, inflightOf(t, e, "quiet"), "counted per mailbox")

	// One more request, one at a time, leaves the maximum alone.
	e.do(req{method: http.MethodDelete, path: "/_emulator/faults"})
	e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "busy"})
	assert.Equal(t, int32(6), inflightOf(t, e, "busy").Max)

	// A reset starts over from the requests in flight now.
	res := e.do(req{method: http.MethodDelete, path: "/_emulator/mailboxes/busy/inflight"})
	require.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, Inflight{}, inflightOf(t, e, "busy"))
	e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "busy"})
	assert.Equal(t, Inflight{Max: 1, Now: 0}, inflightOf(t, e, "busy"))

	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/_emulator/mailboxes/nobody/inflight"}).status)
	assert.Equal(t, http.StatusMethodNotAllowed, e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes/busy/inflight"}).status)
}
