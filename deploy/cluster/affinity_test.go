package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/devicebridge/caddy-devicebridge/emulator"
)

// burst sends n concurrent first pages of one token's Inbox sync through
// the load balancer and returns the nodes that served them.
func (c *cluster) burst(token string, n int) map[string]int {
	t := c.t
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	nodes := map[string]int{}
	var outcome counter
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := c.syncPage(c.lbURL("/device/v1/batch"), token, "", 10)
			outcome.add(problem(a, err))
			mu.Lock()
			nodes[a.node]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	ok, problems := outcome.snapshot()
	require.Empty(t, problems)
	require.Equal(t, n, ok)
	return nodes
}

// inflight is the emulator's record of a mailbox's concurrent Graph
// requests.
func (c *cluster) inflight(token string) emulator.Inflight {
	c.t.Helper()
	var in emulator.Inflight
	require.NoError(c.t, json.Unmarshal(c.control(http.MethodGet, "/mailboxes/"+token+"/inflight", "", http.StatusOK), &in))
	return in
}

// TestMailboxAffinity sends 20 concurrent requests of one token through
// the load balancer. With lb_policy header Authorization they all land on
// one node, whose governor lets at most 4 reach Graph at once: Graph
// never sees more than 4 in flight for the mailbox. With round_robin each
// node counts only its own requests, and the mailbox sees up to
// nodes × 4 — the documented per-node behaviour.
func TestMailboxAffinity(t *testing.T) {
	c := startCluster(t, options{nodes: 2, withLB: true})
	const token = "busy"
	c.newMailbox(token)
	// Every Graph call of the mailbox takes 400ms, so requests overlap.
	c.control(http.MethodPost, "/faults", fmt.Sprintf(`{"token":%q,"pathContains":"/messages/delta","delay":"400ms","count":0}`, token), http.StatusCreated)

	nodes := c.burst(token, 20)
	assert.Len(t, nodes, 1, "one token, one node: %v", nodes)
	assert.Equal(t, int32(4), c.inflight(token).Max, "the node's governor holds the mailbox at 4 in flight")

	// Without affinity.
	c.opts.lbPolicy = "round_robin"
	c.reloadLB()
	c.control(http.MethodDelete, "/mailboxes/"+token+"/inflight", "", http.StatusNoContent)
	nodes = c.burst(token, 20)
	assert.Len(t, nodes, 2, "round robin spreads the token: %v", nodes)
	max := c.inflight(token).Max
	assert.Greater(t, max, int32(4), "each node admits its own 4")
	assert.LessOrEqual(t, max, int32(2*4), "at most nodes × max_inflight_per_mailbox")
}
