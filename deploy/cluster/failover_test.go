package cluster

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// upstreamFails is the load balancer's count of recent failed attempts
// per node (fail_duration window), from its admin API.
func (c *cluster) upstreamFails() map[string]int64 {
	t := c.t
	t.Helper()
	res, err := http.Get(fmt.Sprintf("http://localhost:%d/reverse_proxy/upstreams", lbAdminPort))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	fails := map[string]int64{}
	gjson.ParseBytes(b).ForEach(func(_, u gjson.Result) bool {
		fails[u.Get("address").String()] = u.Get("fails").Int()
		return true
	})
	return fails
}

// TestKillNodeMidSync kills the node serving a device (SIGKILL, nothing
// flushed or handed over) in the middle of its sync: the device's next
// request through the load balancer is served by the other node from the
// same state, and the sync ends with every message exactly once. The
// load balancer's active health check marks the dead node down within
// one health-check interval, and from then on sends it nothing.
func TestKillNodeMidSync(t *testing.T) {
	const interval = time.Second
	c := startCluster(t, options{nodes: 2, withLB: true, healthInterval: interval})
	c.newMailbox("failover")
	lb := []string{c.lbURL("/device/v1/batch")}

	// Three pages, all on the token's node.
	var ids []string
	state, served := "", ""
	for page := 0; page < 3; page++ {
		a, err := c.syncPage(lb[0], "failover", state, 40)
		require.Empty(t, problem(a, err))
		require.True(t, a.result.Get("data.more").Bool())
		if served == "" {
			served = a.node
		}
		require.Equal(t, served, a.node, "one token, one node")
		ids = append(ids, messageIDs(a)...)
		state = a.result.Get("data.state").String()
	}
	dead := 0
	if served == nodeName(1) {
		dead = 1
	}
	deadAddr := fmt.Sprintf("localhost:%d", nodePort(dead))

	require.NoError(t, syscall.Kill(c.nodes[dead].cmd.Process.Pid, syscall.SIGKILL))
	<-c.nodes[dead].done
	killed := time.Now()

	// The next request, before any health check could notice: the load
	// balancer's connection to the dead node is refused and the request
	// goes to the other node, which opens the same state.
	rest, nodes, _ := c.syncAll(lb, "failover", state, 40)
	for _, n := range nodes {
		require.Equal(t, nodeName(1-dead), n)
	}
	ids = append(ids, rest...)
	assert.Len(t, ids, 520)
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "message %s delivered twice", id)
		seen[id] = true
	}

	// The active health check marks the node down within one interval
	// (plus the check's own timeout, 1s, and scheduling slack).
	var down time.Time
	require.Eventually(t, func() bool {
		for _, line := range logLines(c.lb, "HTTP request failed") {
			if line.Get("host").String() == deadAddr {
				down = time.Unix(0, int64(line.Get("ts").Float()*float64(time.Second)))
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the load balancer's health check never failed on %s", deadAddr)
	assert.Less(t, down.Sub(killed), interval+2*time.Second, "health check noticed the dead node after %v", down.Sub(killed))

	// From then on the dead node gets nothing: twenty tokens, some of
	// which hash to it, are all served by the other node without a single
	// failed attempt on the dead one.
	time.Sleep(100 * time.Millisecond)
	before := c.upstreamFails()[deadAddr]
	for i := 0; i < 20; i++ {
		token := fmt.Sprintf("device-%d", i)
		c.newMailbox(token)
		a, err := c.command(lb[0], token, "folders.sync", nil)
		require.Empty(t, problem(a, err))
		require.Equal(t, nodeName(1-dead), a.node)
	}
	assert.LessOrEqual(t, c.upstreamFails()[deadAddr], before, "the load balancer still tried the dead node")
	assert.False(t, strings.Contains(tail(c.lb.log, 1000), `"msg":"aborting with incomplete response"`))
}
