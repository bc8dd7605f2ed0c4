package cluster

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/devicebridge/caddy-devicebridge/emulator"
)

// syncAll follows a mail.sync from state to more:false, sending page k to
// urls[k%len(urls)], and returns the upserted ids, the nodes that answered
// each page and the last state.
func (c *cluster) syncAll(urls []string, token, state string, window int) ([]string, []string, string) {
	t := c.t
	t.Helper()
	var ids, nodes []string
	for page := 0; page < 1000; page++ {
		a, err := c.syncPage(urls[page%len(urls)], token, state, window)
		require.Empty(t, problem(a, err), "page %d", page)
		ids = append(ids, messageIDs(a)...)
		nodes = append(nodes, a.node)
		state = a.result.Get("data.state").String()
		require.NotEmpty(t, state)
		if !a.result.Get("data.more").Bool() {
			return ids, nodes, state
		}
	}
	t.Fatal("the sync did not end")
	return nil, nil, ""
}

// TestSyncAcrossNodes syncs a mailbox page by page with every page sent
// to the other node: a state one node sealed opens on the other, so the
// device sees every message exactly once and never resync_required.
func TestSyncAcrossNodes(t *testing.T) {
	c := startCluster(t, options{nodes: 2})
	c.newMailbox("roaming")
	urls := []string{c.nodeURL(0, "/device/v1/batch"), c.nodeURL(1, "/device/v1/batch")}

	ids, nodes, state := c.syncAll(urls, "roaming", "", 37)
	require.Greater(t, len(nodes), 10, "enough pages to alternate")
	for i, n := range nodes {
		require.Equal(t, nodeName(i%2), n, "page %d was served by the node it was sent to", i)
	}
	assert.Len(t, ids, emulator.DemoInboxCount)
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		assert.False(t, seen[id], "message %s delivered twice", id)
		seen[id] = true
	}

	// The final state, sealed on one node, brings exactly the new message
	// from the other.
	delivered := c.control(http.MethodPost, "/mailboxes/roaming/deliver", `{"subject":"after the sync"}`, http.StatusCreated)
	last := len(nodes) - 1
	a, err := c.syncPage(urls[(last+1)%2], "roaming", state, 37)
	require.Empty(t, problem(a, err))
	assert.Equal(t, nodeName((last+1)%2), a.node)
	newIDs := messageIDs(a)
	require.Len(t, newIDs, 1, "%s", a.result.Raw)
	assert.False(t, seen[newIDs[0]])
	assert.Contains(t, string(delivered), newIDs[0])
	assert.False(t, a.result.Get("data.more").Bool())
}
