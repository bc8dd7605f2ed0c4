package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// Ports of the tests (loopback only): the emulator, the load balancer and
// its admin, and per node an HTTPS and an admin port.
const (
	emulatorPort = 9600
	lbPort       = 9601
	lbAdminPort  = 9602
	nodeBasePort = 9610 // node i (from 0): HTTPS 9610+2i, admin 9611+2i
)

// startTimeout bounds the wait for one process to answer.
const startTimeout = 30 * time.Second

// caddyBinary is ./cmd/caddy, built once by TestMain.
var caddyBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	if list := flag.Lookup("test.list"); list != nil && list.Value.String() != "" {
		return m.Run() // listing tests needs no Caddy
	}
	dir, err := os.MkdirTemp("", "devicebridge-cluster-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	caddyBinary = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBinary, "github.com/devicebridge/caddy-devicebridge/cmd/caddy")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ./cmd/caddy:", err)
		return 1
	}
	return m.Run()
}

// process is one Caddy process of the cluster, in a process group of its
// own so that it and anything it starts can be killed together.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // file with its stdout and stderr
	env  []string
	done chan struct{}
}

// options shape a cluster.
type options struct {
	nodes          int
	withLB         bool
	lbPolicy       string        // default "header Authorization"
	healthInterval time.Duration // default 1s
	stateKeys      string        // default a new key from caddy devicebridge keygen
	maxInflight    int           // default the directive's default
}

// cluster is a running cluster.
type cluster struct {
	t       *testing.T
	dir     string
	storage string
	opts    options
	client  *http.Client

	emulator *process
	nodes    []*process
	lb       *process
}

// keygen runs caddy devicebridge keygen and returns its key, checked to
// be 32 bytes in standard base64.
func keygen(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(caddyBinary, "devicebridge", "keygen").Output()
	require.NoError(t, err)
	key := strings.TrimSpace(string(out))
	raw, err := base64.StdEncoding.DecodeString(key)
	require.NoError(t, err, "keygen printed %q", out)
	require.Len(t, raw, 32)
	return key
}

// startCluster starts the emulator, the nodes and (with opts.withLB) the
// load balancer, each with its own data directory and the one shared
// storage directory, and waits until each answers over TLS. Everything is
// killed when the test ends.
func startCluster(t *testing.T, opts options) *cluster {
	t.Helper()
	if opts.nodes == 0 {
		opts.nodes = 2
	}
	if opts.lbPolicy == "" {
		opts.lbPolicy = "header Authorization"
	}
	if opts.healthInterval == 0 {
		opts.healthInterval = time.Second
	}
	if opts.stateKeys == "" {
		opts.stateKeys = keygen(t)
	}
	requirePortsFree(t, opts.nodes)
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, storage: filepath.Join(dir, "storage"), opts: opts}

	// The emulator first: it creates the local CA in the shared storage.
	c.emulator = c.start("emulator", "emulator.Caddyfile")
	c.waitFor(c.emulator, fmt.Sprintf("https://localhost:%d/_emulator/mailboxes", emulatorPort))
	for i := 0; i < opts.nodes; i++ {
		c.nodes = append(c.nodes, c.start(nodeName(i), "node.Caddyfile", c.nodeEnv(i)...))
	}
	for i, n := range c.nodes {
		c.waitFor(n, c.nodeURL(i, "/device/v1/health"))
	}
	if opts.withLB {
		c.lb = c.start("lb", "lb.Caddyfile", c.lbEnv()...)
		c.waitFor(c.lb, c.lbURL("/device/v1/health"))
	}
	return c
}

// requirePortsFree fails the test when a port of the cluster is taken.
// Caddy listens with SO_REUSEPORT, so a process left over from elsewhere
// would not make a start fail but silently share the port.
func requirePortsFree(t *testing.T, nodes int) {
	t.Helper()
	ports := []int{emulatorPort, lbPort, lbAdminPort}
	for i := 0; i < nodes; i++ {
		ports = append(ports, nodePort(i), nodeAdminPort(i))
	}
	for _, port := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("localhost:%d", port))
		require.NoError(t, err, "port %d is taken; a process left over?", port)
		l.Close()
	}
}

func nodeName(i int) string { return fmt.Sprintf("node%d", i+1) }

func nodePort(i int) int { return nodeBasePort + 2*i }

func nodeAdminPort(i int) int { return nodeBasePort + 2*i + 1 }

func (c *cluster) nodeURL(i int, path string) string {
	return fmt.Sprintf("https://localhost:%d%s", nodePort(i), path)
}

func (c *cluster) lbURL(path string) string {
	return fmt.Sprintf("https://localhost:%d%s", lbPort, path)
}

func (c *cluster) emulatorURL(path string) string {
	return fmt.Sprintf("https://localhost:%d%s", emulatorPort, path)
}

// commonEnv is what every process's Caddyfile reads.
func (c *cluster) commonEnv() []string {
	return []string{
		"CLUSTER_STORAGE=" + c.storage,
		fmt.Sprintf("CLUSTER_EMULATOR_PORT=%d", emulatorPort),
	}
}

// nodeEnv is node i's environment with the cluster's current keys and
// limit; reloads pass it again with changed values.
func (c *cluster) nodeEnv(i int) []string {
	env := append(c.commonEnv(),
		"CLUSTER_NODE_NAME="+nodeName(i),
		fmt.Sprintf("CLUSTER_NODE_PORT=%d", nodePort(i)),
		fmt.Sprintf("CLUSTER_NODE_ADMIN=%d", nodeAdminPort(i)),
		"CLUSTER_DRAIN_FILE="+c.drainFile(i),
		"DEVICEBRIDGE_STATE_KEYS="+c.opts.stateKeys,
	)
	if c.opts.maxInflight > 0 {
		env = append(env, fmt.Sprintf("DEVICEBRIDGE_MAX_INFLIGHT=%d", c.opts.maxInflight))
	}
	return env
}

func (c *cluster) lbEnv() []string {
	var nodes []string
	for i := range c.nodes {
		nodes = append(nodes, c.nodeURL(i, ""))
	}
	return append(c.commonEnv(),
		fmt.Sprintf("CLUSTER_LB_PORT=%d", lbPort),
		fmt.Sprintf("CLUSTER_LB_ADMIN=%d", lbAdminPort),
		"CLUSTER_NODES="+strings.Join(nodes, " "),
		"CLUSTER_HEALTH_INTERVAL="+c.opts.healthInterval.String(),
		"CLUSTER_LB_POLICY="+c.opts.lbPolicy,
	)
}

// baseEnv is the test's environment without variables the Caddyfiles
// read, so the caller's shell cannot change a cluster.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CLUSTER_") || strings.HasPrefix(kv, "DEVICEBRIDGE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// start runs `caddy run` with a Caddyfile of this directory.
func (c *cluster) start(name, caddyfile string, env ...string) *process {
	t := c.t
	t.Helper()
	home := filepath.Join(c.dir, name)
	require.NoError(t, os.MkdirAll(home, 0o700))
	p := &process{name: name, log: filepath.Join(home, "caddy.log"), done: make(chan struct{})}
	p.env = append(append(baseEnv(),
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"HOME="+home,
	), append(c.commonEnv(), env...)...)
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(caddyBinary, "run", "--config", caddyfile, "--adapter", "caddyfile")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// Its own process group, killed as a whole; and killed by the kernel
	// should this test binary die without running its cleanups.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of %s, errors:\n%s\nlast lines:\n%s", name, errorLines(p.log, 20), tail(p.log, 20))
		}
	})
	return p
}

// kill ends the process group with SIGKILL and waits for the process.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// errorLines returns the first n lines of a log at level error.
func errorLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"error"`) && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor waits until url answers 200 over TLS verified against the
// shared local CA; the first call sets up the client with that CA.
func (c *cluster) waitFor(p *process, url string) {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	var last string
	for time.Now().Before(deadline) {
		require.False(t, p.exited(), "%s exited:\n%s", p.name, tail(p.log, 40))
		if c.client == nil {
			c.client = c.newClient()
		}
		if c.client != nil {
			res, err := c.client.Get(url)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return
				}
				last = res.Status
			} else {
				last = err.Error()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %s within %v (last: %s):\n%s", p.name, url, startTimeout, last, tail(p.log, 40))
}

// newClient is an HTTP/2 client trusting only the shared local CA's root,
// or nil while the root does not exist yet.
func (c *cluster) newClient() *http.Client {
	pem, err := os.ReadFile(filepath.Join(c.storage, "pki", "authorities", "local", "root.crt"))
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
	}
	c.t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

// reloadNode runs `caddy reload` of node i's Caddyfile with the cluster's
// current keys and limit, the way an operator rolls a change through a
// fleet.
func (c *cluster) reloadNode(i int) {
	t := c.t
	t.Helper()
	c.caddyReload(c.nodes[i], "node.Caddyfile", nodeAdminPort(i), c.nodeEnv(i))
}

// drainFile is node i's drain file (see node.Caddyfile).
func (c *cluster) drainFile(i int) string {
	return filepath.Join(c.dir, nodeName(i), "drain")
}

// rollingReload reloads every node in turn the way docs/operations.md
// says to behind a load balancer: drain the node (its health check fails,
// the balancer sends it nothing new), reload it, undrain it and wait
// until the balancer uses it again. check runs after each node's reload.
func (c *cluster) rollingReload(check func(i int)) {
	t := c.t
	t.Helper()
	for i := range c.nodes {
		addr := fmt.Sprintf("localhost:%d", nodePort(i))
		downs := len(hostLines(c.lb, "status code out of tolerances", addr))
		require.NoError(t, os.WriteFile(c.drainFile(i), nil, 0o600))
		require.Eventually(t, func() bool {
			return len(hostLines(c.lb, "status code out of tolerances", addr)) > downs
		}, 10*c.opts.healthInterval, 20*time.Millisecond, "the balancer did not see %s draining", addr)

		c.reloadNode(i)
		if check != nil {
			check(i)
		}

		ups := len(hostLines(c.lb, "host is up", addr))
		require.NoError(t, os.Remove(c.drainFile(i)))
		require.Eventually(t, func() bool {
			return len(hostLines(c.lb, "host is up", addr)) > ups
		}, 10*c.opts.healthInterval, 20*time.Millisecond, "the balancer did not take %s back", addr)
	}
}

// hostLines are the log lines of p with message msg about host.
func hostLines(p *process, msg, host string) []gjson.Result {
	var out []gjson.Result
	for _, line := range logLines(p, msg) {
		if line.Get("host").String() == host {
			out = append(out, line)
		}
	}
	return out
}

// reloadLB runs `caddy reload` of the load balancer's Caddyfile.
func (c *cluster) reloadLB() {
	c.t.Helper()
	c.caddyReload(c.lb, "lb.Caddyfile", lbAdminPort, c.lbEnv())
}

func (c *cluster) caddyReload(p *process, caddyfile string, adminPort int, env []string) {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBinary, "reload", "--config", caddyfile, "--adapter", "caddyfile",
		"--address", fmt.Sprintf("localhost:%d", adminPort))
	cmd.Env = append(append(baseEnv(), "HOME="+filepath.Join(c.dir, p.name)), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "caddy reload of %s: %s", p.name, out)
}

// adminConfig is a node's running configuration from its admin API.
func (c *cluster) adminConfig(adminPort int) string {
	t := c.t
	t.Helper()
	res, err := http.Get(fmt.Sprintf("http://localhost:%d/config/", adminPort))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	return string(b)
}

// bridgeHandler is the devicebridge handler of a node's running
// configuration.
func (c *cluster) bridgeHandler(i int) gjson.Result {
	cfg := c.adminConfig(nodeAdminPort(i))
	var found gjson.Result
	var walk func(v gjson.Result)
	walk = func(v gjson.Result) {
		if found.Exists() || !(v.IsObject() || v.IsArray()) {
			return
		}
		if v.IsObject() && v.Get("handler").String() == "devicebridge" {
			found = v
			return
		}
		v.ForEach(func(_, child gjson.Result) bool {
			walk(child)
			return !found.Exists()
		})
	}
	walk(gjson.Parse(cfg))
	require.True(c.t, found.Exists(), "no devicebridge handler in %s", cfg)
	return found
}

// control calls the emulator's control API and returns the body.
func (c *cluster) control(method, path, body string, wantStatus int) []byte {
	t := c.t
	t.Helper()
	req, err := http.NewRequest(method, c.emulatorURL("/_emulator"+path), strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, res.StatusCode, "%s %s: %s", method, path, b)
	return b
}

// newMailbox creates a demo-seeded mailbox for token.
func (c *cluster) newMailbox(token string) {
	c.t.Helper()
	c.control(http.MethodPost, "/mailboxes", fmt.Sprintf(`{"token":%q,"upn":"%s@contoso.example","seed":"demo"}`, token, token), http.StatusCreated)
}

// answer is a device request's outcome.
type answer struct {
	status int    // HTTP status of the envelope
	node   string // the Cluster-Node header: the node that served it
	body   []byte
	result gjson.Result // results.0
}

// command sends one device command to url (a node's or the load
// balancer's batch endpoint) with token.
func (c *cluster) command(url, token, op string, args map[string]any) (answer, error) {
	if args == nil {
		args = map[string]any{}
	}
	raw, err := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": op, "args": args}}})
	if err != nil {
		return answer{}, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: res.StatusCode, node: res.Header.Get("Cluster-Node"), body: body,
		result: gjson.GetBytes(body, "results.0")}, nil
}

// syncPage sends one mail.sync of the Inbox; state "" starts a sync.
func (c *cluster) syncPage(url, token, state string, window int) (answer, error) {
	args := map[string]any{"folder": "inbox", "window": window}
	if state != "" {
		args["state"] = state
	}
	return c.command(url, token, "mail.sync", args)
}

// ok reports a device answer that is not a success: a transport error,
// an envelope status other than 200 or a command status other than 200.
func problem(a answer, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case a.status != http.StatusOK:
		return fmt.Sprintf("envelope %d: %s", a.status, a.body)
	case a.result.Get("status").Int() != http.StatusOK:
		return fmt.Sprintf("command %d: %s", a.result.Get("status").Int(), a.result.Raw)
	}
	return ""
}

// messageIDs are the ids of a sync page's upserted messages.
func messageIDs(a answer) []string {
	var ids []string
	a.result.Get("data.changes").ForEach(func(_, ch gjson.Result) bool {
		if ch.Get("op").String() == "upsert" {
			ids = append(ids, ch.Get("message.id").String())
		}
		return true
	})
	return ids
}

// logLines are the JSON log lines of a process whose msg is msg.
func logLines(p *process, msg string) []gjson.Result {
	f, err := os.Open(p.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []gjson.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := gjson.Parse(sc.Text())
		if line.Get("msg").String() == msg {
			out = append(out, line)
		}
	}
	return out
}

// counter counts outcomes of concurrent requests.
type counter struct {
	mu       sync.Mutex
	ok       int
	problems []string
}

func (n *counter) add(p string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p == "" {
		n.ok++
		return
	}
	n.problems = append(n.problems, p)
}

func (n *counter) snapshot() (int, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ok, append([]string(nil), n.problems...)
}
