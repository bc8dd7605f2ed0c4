package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/devicebridge/caddy-devicebridge/emulator"
)

// TestKeygenKeyAndHealth starts nodes whose one state key is the output
// of `caddy devicebridge keygen` (a state one node seals, the other
// opens), and shows that the health endpoint — asked by the test on
// every node and through the balancer, and by the balancer's own active
// checks every interval — never makes a Graph request.
func TestKeygenKeyAndHealth(t *testing.T) {
	key := keygen(t)
	c := startCluster(t, options{nodes: 2, withLB: true, stateKeys: key})
	require.Equal(t, key, c.stateKeys(0))
	require.Equal(t, key, c.stateKeys(1))

	c.newMailbox("keyed")
	ids, nodes, _ := c.syncAll([]string{c.nodeURL(0, "/device/v1/batch"), c.nodeURL(1, "/device/v1/batch")}, "keyed", "", 100)
	assert.Len(t, ids, emulator.DemoInboxCount)
	assert.Contains(t, nodes, nodeName(1), "a state sealed on node 1 opened on node 2")

	c.control(http.MethodDelete, "/requests", "", http.StatusNoContent)
	urls := []string{c.nodeURL(0, "/device/v1/health"), c.nodeURL(1, "/device/v1/health"), c.lbURL("/device/v1/health")}
	for round := 0; round < 5; round++ {
		for _, url := range urls {
			res, err := c.client.Get(url)
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", url, body)
			assert.JSONEq(t, `{"status":"ok"}`, string(body))
		}
	}
	// Two of the balancer's check intervals pass as well.
	time.Sleep(2*c.opts.healthInterval + 200*time.Millisecond)
	var requests []json.RawMessage
	require.NoError(t, json.Unmarshal(c.control(http.MethodGet, "/requests", "", http.StatusOK), &requests))
	assert.Empty(t, requests, "health checks reached Graph")
}
