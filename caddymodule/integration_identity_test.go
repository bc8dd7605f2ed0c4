package caddymodule_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jwtLike is a bearer token shaped like Entra ID's: a JWT whose claims
// carry the tenant and user object ids. The emulator takes any string as
// a mailbox's token; the bridge reads (never verifies) these claims.
func jwtLike(tid, oid, nonce string) string {
	claims := `{"tid":"` + tid + `","oid":"` + oid + `","nonce":"` + nonce + `"}`
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
}

// newJWTMailbox creates a mailbox whose token is jwtLike(tid, oid).
func (e *env) newJWTMailbox(tid, oid string) string {
	e.t.Helper()
	token := jwtLike(tid, oid, randomHex(4))
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": token, "upn": oid + "@contoso.example", "seed": "demo",
	}, http.StatusCreated)
	return token
}

// TestIntegrationStateBoundToTheTokensUser: a state for /me has the same
// scope for every user, so before states were bound to the token's
// identity another user's token could present it, and the bridge sent the
// first user's delta link upstream under the second user's token. Now the
// state does not open for another user: invalid_state, no upstream call.
// A new token of the same user (a refresh) still continues the sync.
func TestIntegrationStateBoundToTheTokensUser(t *testing.T) {
	e := startBridge(t)
	alice := e.newJWTMailbox("tenant-1", "user-alice")
	bob := e.newJWTMailbox("tenant-1", "user-bob")

	first := ok(t, e.command(alice, "folders.sync", map[string]any{}))
	state := first.Get("state").String()
	require.NotEmpty(t, state, "%s", first.Raw)

	e.clearUpstreamRequests()
	replayed := e.command(bob, "folders.sync", map[string]any{"state": state})
	assert.Equal(t, int64(400), replayed.Get("status").Int(), "%s", replayed.Raw)
	assert.Equal(t, "invalid_state", replayed.Get("error.code").String(), "%s", replayed.Raw)
	e.assertNoUpstream("another user's state must not reach Graph")

	// Alice's refreshed token (same tid/oid, new token) continues.
	refreshed := jwtLike("tenant-1", "user-alice", randomHex(4))
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": refreshed, "upn": "user-alice-2@contoso.example", "seed": "empty",
	}, http.StatusCreated)
	cont := e.command(refreshed, "folders.sync", map[string]any{"state": state})
	assert.NotEqual(t, "invalid_state", cont.Get("error.code").String(), "a refreshed token of the same user must open the state: %s", cont.Raw)
}
