package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// load runs devices syncing their Inboxes page by page until stopped,
// each page sent to the next of node 1, node 2 and the load balancer in
// turn, so that states sealed on one node are opened on another. Every
// answer that is not a success is counted as a problem.
type load struct {
	outcome counter
	pages   counter
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func (c *cluster) startLoad(devices int) *load {
	t := c.t
	t.Helper()
	urls := []string{c.nodeURL(0, "/device/v1/batch"), c.nodeURL(1, "/device/v1/batch"), c.lbURL("/device/v1/batch")}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stop: cancel}
	for d := 0; d < devices; d++ {
		token := fmt.Sprintf("%s-load-%d", strings.ToLower(t.Name()), d)
		c.newMailbox(token)
		l.wg.Add(1)
		go func(d int) {
			defer l.wg.Done()
			state := ""
			for turn := d; ctx.Err() == nil; turn++ {
				a, err := c.syncPage(urls[turn%len(urls)], token, state, 25)
				p := problem(a, err)
				l.outcome.add(p)
				if p != "" {
					state = "" // start over, as a device would
					continue
				}
				state = a.result.Get("data.state").String()
				if !a.result.Get("data.more").Bool() {
					state = ""
				}
			}
		}(d)
	}
	t.Cleanup(l.end)
	return l
}

// end stops the load and waits for its devices.
func (l *load) end() {
	l.stop()
	l.wg.Wait()
}

// requireClean ends the load and fails on any problem; it also requires
// some successful requests, so a load that never ran cannot pass.
func (l *load) requireClean(t *testing.T) {
	t.Helper()
	l.end()
	ok, problems := l.outcome.snapshot()
	if len(problems) > 5 {
		problems = problems[:5]
	}
	require.Empty(t, problems, "failed requests under load (first five)")
	require.Greater(t, ok, 20, "the load ran")
	t.Logf("%d requests under load, none failed", ok)
}

// waitForRequests waits until the load has made n more requests, so each
// step of a rolling change happens under load.
func (l *load) waitForRequests(t *testing.T, n int) {
	t.Helper()
	start, _ := l.outcome.snapshot()
	require.Eventually(t, func() bool {
		ok, problems := l.outcome.snapshot()
		return ok >= start+n || len(problems) > 0
	}, 30*time.Second, 10*time.Millisecond)
}

// TestReloadUnderLoad changes a limit on every node with caddy reload
// while devices sync: not one request fails, and the new limit is in
// force.
func TestReloadUnderLoad(t *testing.T) {
	c := startCluster(t, options{nodes: 2, withLB: true})
	l := c.startLoad(4)
	l.waitForRequests(t, 20)
	c.opts.maxInflight = 8
	c.rollingReload(func(i int) {
		assert.Equal(t, int64(8), c.bridgeHandler(i).Get("max_inflight_per_mailbox").Int(), "node %d's limit", i+1)
		l.waitForRequests(t, 20)
	})
	l.requireClean(t)
}

// stateKeys is a node's running state keys.
func (c *cluster) stateKeys(i int) string {
	var keys []string
	for _, k := range c.bridgeHandler(i).Get("state_keys").Array() {
		keys = append(keys, k.String())
	}
	return strings.Join(keys, " ")
}

// TestRollingKeyRotation rotates the state key across the fleet by the
// three steps of docs/operations.md, one `caddy reload` per node and step,
// while devices sync with their pages spread over all nodes: no request
// fails (no invalid_state, no resync_required), and a state sealed before
// the rotation still opens on every node until the old key is dropped.
func TestRollingKeyRotation(t *testing.T) {
	oldKey, newKey := keygen(t), keygen(t)
	c := startCluster(t, options{nodes: 2, withLB: true, stateKeys: oldKey})

	// A device that synced before the rotation and then went quiet.
	c.newMailbox("quiet")
	_, _, parked := c.syncAll([]string{c.nodeURL(0, "/device/v1/batch")}, "quiet", "", 200)

	l := c.startLoad(4)
	l.waitForRequests(t, 20)
	for _, keys := range []string{
		oldKey + " " + newKey, // 1: every node learns the new key
		newKey + " " + oldKey, // 2: every node seals with it
	} {
		c.opts.stateKeys = keys
		c.rollingReload(func(i int) {
			require.Equal(t, keys, c.stateKeys(i), "node %d's keys", i+1)
			l.waitForRequests(t, 20)
		})
	}
	l.requireClean(t)

	// The state sealed with the old key before the rotation opens on
	// every node, and its answer is sealed with the new key.
	var resealed string
	for i := range c.nodes {
		a, err := c.syncPage(c.nodeURL(i, "/device/v1/batch"), "quiet", parked, 200)
		require.Empty(t, problem(a, err), "node %d", i+1)
		assert.Empty(t, messageIDs(a))
		resealed = a.result.Get("data.state").String()
	}

	// 3: the old key is dropped (after state_ttl in production). A state
	// sealed with it no longer opens (invalid_state, as an expired one
	// would: the device starts over); one sealed with the new key still
	// opens.
	c.opts.stateKeys = newKey
	for i := range c.nodes {
		c.reloadNode(i)
		require.Equal(t, newKey, c.stateKeys(i))
	}
	for i := range c.nodes {
		a, err := c.syncPage(c.nodeURL(i, "/device/v1/batch"), "quiet", parked, 200)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Equal(t, "invalid_state", a.result.Get("error.code").String(), "%s", a.body)
		a, err = c.syncPage(c.nodeURL(i, "/device/v1/batch"), "quiet", resealed, 200)
		require.Empty(t, problem(a, err), "node %d", i+1)
	}
}
