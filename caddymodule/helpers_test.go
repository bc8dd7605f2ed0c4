package caddymodule_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/devicebridge/caddy-devicebridge/api"
	_ "github.com/devicebridge/caddy-devicebridge/caddymodule"
	_ "github.com/devicebridge/caddy-devicebridge/emulator"
)

// The integration tests run one real Caddy in this test process (caddytest
// starts it once) with three sites: the device API over TLS, the same bridge
// on plaintext HTTP (to prove it is refused), and the Graph emulator over
// TLS. Caddy's internal CA signs both TLS sites; the bridge's upstream leg
// trusts it through tls_trust_pool, and the test client trusts it through
// the root certificate served by the admin API — TLS is verified on both
// legs.
//
// caddytest uses fixed ports, so these tests must not run in parallel. The
// ports are 2999 (admin), 7080 and 7443 to 7447 by default;
// DEVICEBRIDGE_TEST_PORT_OFFSET shifts them all, so two checkouts can run
// their suites on one machine at the same time.
var (
	adminPort    = 2999 + portOffset()
	plainPort    = 7080 + portOffset()
	devicePort   = 7443 + portOffset()
	emulatorPort = 7444 + portOffset()
	retryPort    = 7445 + portOffset()
	downloadPort = 7446 + portOffset()

	adminURL       = fmt.Sprintf("http://localhost:%d", adminPort)
	deviceURL      = fmt.Sprintf("https://localhost:%d/device/v1/batch", devicePort)
	deviceBase     = fmt.Sprintf("https://localhost:%d/device/v1", devicePort)
	plainURL       = fmt.Sprintf("http://localhost:%d/device/v1/batch", plainPort)
	emulatorURL    = fmt.Sprintf("https://localhost:%d", emulatorPort)
	retryDeviceURL = fmt.Sprintf("https://localhost:%d/device/v1/batch", retryPort)
	downloadURL    = fmt.Sprintf("https://localhost:%d", downloadPort)
	retryBase      = fmt.Sprintf("https://localhost:%d/device/v1", retryPort)
)

func portOffset() int {
	n, _ := strconv.Atoi(os.Getenv("DEVICEBRIDGE_TEST_PORT_OFFSET"))
	return n
}

// testStateKey is the state key of every test site unless a test sets
// its own.
const testStateKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

// testServer describes the test server's Caddyfile; its zero value is the
// default integration server: the device site over TLS, the same bridge on
// plaintext HTTP, and the emulator over TLS, all on localhost and signed
// by Caddy's internal CA. Each field adds to or replaces one part.
type testServer struct {
	global     string // extra global options
	deviceHost string // the device site's host name; default localhost
	deviceSite string // directives of the device site before devicebridge (tls, log)
	stateKeys  string // state_key arguments of the device site; default testStateKey
	bridge     string // extra devicebridge subdirectives of the device site
	transport  string // extra lines of the device site's transport http block
	emulator   string // extra graph_emulator subdirectives
	sites      string // extra sites, appended to the Caddyfile

	// acmeDeviceCert leaves out local_certs: the device site then gets
	// its certificate from the issuer its deviceSite names, while the
	// emulator's site keeps Caddy's internal CA.
	acmeDeviceCert bool

	// retrySite adds a fourth site on retryPort: a bridge whose
	// reverse_proxy is configured to retry (lb_retries, and a retry match
	// that names POST), to prove the directive still never resends a
	// non-idempotent request.
	retrySite bool

	// downloadSite adds the emulator's download host as its own site on
	// downloadPort (graph_emulator download_only, plus these extra
	// subdirectives), and points the emulator's download URLs at it. The
	// bridge fetches from it only when its file_hosts name it.
	downloadSite     bool
	downloadEmulator string // extra subdirectives of the download host
}

// caddyfile returns the server's Caddyfile text.
func (s testServer) caddyfile() string {
	var b strings.Builder
	// line writes Caddyfile text at the indent, re-indenting its lines by
	// their braces and leaving out empty ones.
	line := func(indent int, format string, args ...any) {
		depth := 0
		for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			if strings.HasPrefix(l, "}") && depth > 0 {
				depth--
			}
			b.WriteString(strings.Repeat("\t", indent+depth) + l + "\n")
			if strings.HasSuffix(l, "{") {
				depth++
			}
		}
	}
	bridge := func(stateKeys, subdirectives, transport string) {
		line(1, "devicebridge https://localhost:%d/v1.0 {", emulatorPort)
		line(2, "state_key %s", stateKeys)
		line(2, "%s", subdirectives)
		line(2, "transport http {")
		line(3, "tls_trust_pool pki_root local")
		line(3, "%s", transport)
		line(2, "}")
		line(1, "}")
	}

	line(0, "{")
	line(1, "admin localhost:%d", adminPort)
	line(1, "http_port %d", plainPort)
	line(1, "https_port %d", devicePort)
	if !s.acmeDeviceCert {
		line(1, "local_certs")
	}
	line(1, "skip_install_trust")
	line(1, "grace_period 1ns")
	line(1, "%s", s.global)
	line(0, "}")
	b.WriteString("\n")

	host := s.deviceHost
	if host == "" {
		host = "localhost"
	}
	keys := s.stateKeys
	if keys == "" {
		keys = testStateKey
	}
	line(0, "https://%s:%d {", host, devicePort)
	line(1, "%s", s.deviceSite)
	bridge(keys, s.bridge, s.transport)
	line(0, "}")
	b.WriteString("\n")

	line(0, "http://localhost:%d {", plainPort)
	bridge(testStateKey, "", "")
	line(0, "}")
	b.WriteString("\n")

	if s.retrySite {
		line(0, "https://localhost:%d {", retryPort)
		bridge(testStateKey, "lb_retries 3\nlb_retry_match {\nmethod GET POST\n}", "")
		line(0, "}")
		b.WriteString("\n")
	}

	line(0, "https://localhost:%d {", emulatorPort)
	if s.acmeDeviceCert {
		line(1, "tls internal")
	}
	line(1, "# Graph compresses when asked; so does the emulator's site.")
	line(1, "encode gzip")
	line(1, "graph_emulator {")
	line(2, "seed demo")
	if s.downloadSite {
		line(2, "download_origin %s", downloadURL)
	}
	line(2, "%s", s.emulator)
	line(1, "}")
	line(0, "}")

	if s.downloadSite {
		b.WriteString("\n")
		line(0, "https://localhost:%d {", downloadPort)
		if s.acmeDeviceCert {
			line(1, "tls internal")
		}
		line(1, "graph_emulator {")
		line(2, "download_only")
		line(2, "%s", s.downloadEmulator)
		line(1, "}")
		line(0, "}")
	}
	if s.sites != "" {
		b.WriteString("\n")
		line(0, "%s", s.sites)
	}
	return b.String()
}

// integrationConfig is the Caddyfile of the default test server.
func integrationConfig() string { return testServer{}.caddyfile() }

// siteOptions are the options of customConfig.
type siteOptions = testServer

// customConfig is the test server with extra options, on the same ports.
func customConfig(o siteOptions) string { return o.caddyfile() }

// mailIntegrationConfig is the test server plus the retrying bridge.
func mailIntegrationConfig() string { return testServer{retrySite: true}.caddyfile() }

func TestMain(m *testing.M) {
	// Keep Caddy's storage (its internal CA) away from the user's.
	dir, err := os.MkdirTemp("", "devicebridge-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one running bridge + emulator and a client that verifies TLS
// against Caddy's local root.
type env struct {
	t *testing.T
	// client checks every exchange with the device API against
	// api/openapi.yaml (see checkedClient).
	client *http.Client
	// invalidRequests, once set by sendsInvalidRequests, stops the check
	// of the test's own requests; the bridge's answers are still checked.
	invalidRequests *atomic.Bool
}

// sendsInvalidRequests declares that the test sends requests outside the
// device API's specification on purpose (no token, hostile envelopes,
// unknown ops, bad arguments): the spec check then looks only at the
// bridge's answers, which must still match the specification.
func (e *env) sendsInvalidRequests() { e.invalidRequests.Store(true) }

// tlsConfig is the TLS configuration of the env's client.
func (e *env) tlsConfig() *tls.Config {
	return e.client.Transport.(*checkedTransport).tls.TLSClientConfig
}

// transport is the env's client's own HTTP transport, without the spec check.
func (e *env) transport() *http.Transport { return e.client.Transport.(*checkedTransport).tls }

// startBridge starts (or keeps) the default test server.
func startBridge(t *testing.T) *env {
	t.Helper()
	return startBridgeWith(t, integrationConfig())
}

// startBridgeWith loads config (caddytest reloads when it differs from the
// running one) and returns a client env.
func startBridgeWith(t *testing.T, config string) *env {
	t.Helper()
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(config, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return newEnv(t)
}

// startMailBridge starts the test server plus the retrying bridge.
func startMailBridge(t *testing.T) *env {
	t.Helper()
	return startBridgeWith(t, mailIntegrationConfig())
}

// newEnv is the env of a test whose server runs: a client that trusts
// Caddy's local root and checks every device API exchange against the
// specification.
func newEnv(t *testing.T) *env {
	e := &env{t: t, invalidRequests: new(atomic.Bool)}
	plain := trustingClient(t)
	raw := plain.Transport.(*http.Transport)
	e.client = &http.Client{Timeout: plain.Timeout, Transport: &checkedTransport{
		tls:     raw,
		invalid: e.invalidRequests,
		checked: api.NewCheckingTransport(t, raw),
	}}
	return e
}

// checkedTransport hands every request to the spec-checking transport,
// marked deliberately invalid once the test said it sends such requests.
type checkedTransport struct {
	tls     *http.Transport
	invalid *atomic.Bool
	checked http.RoundTripper
}

func (c *checkedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.invalid.Load() {
		r = r.WithContext(api.DeliberatelyInvalid(r.Context()))
	}
	return c.checked.RoundTrip(r)
}

// trustingClient trusts only Caddy's local root certificate.
func trustingClient(t *testing.T) *http.Client {
	t.Helper()
	resp, err := http.Get(adminURL + "/pki/ca/local")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM([]byte(gjson.GetBytes(body, "root_certificate").String())), "root certificate from the admin API")
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
}

// newMailbox creates a fresh emulator mailbox for one test and returns its
// bearer token.
func (e *env) newMailbox(seed string) string {
	e.t.Helper()
	token := "t-" + randomHex(8)
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": token, "upn": token + "@contoso.example", "seed": seed,
	}, http.StatusCreated)
	return token
}

// control calls the emulator's control API and returns the answer body.
func (e *env) control(method, path string, body any, wantStatus int) []byte {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(e.t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, emulatorURL+path, reader)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, wantStatus, resp.StatusCode, "control %s %s: %s", method, path, out)
	return out
}

// graph calls the emulator's Graph API directly (not through the bridge),
// the way another mail client would change the mailbox.
func (e *env) graph(token, method, path string, body any, wantStatus int) []byte {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(e.t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, emulatorURL+"/v1.0"+path, reader)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, wantStatus, resp.StatusCode, "graph %s %s: %s", method, path, out)
	return out
}

// batch sends a device envelope and returns the response and its body.
func (e *env) batch(url, token string, envelope string, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(envelope))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, body
}

// command runs a single-command envelope and returns its result.
func (e *env) command(token, op string, args any) gjson.Result {
	e.t.Helper()
	raw, err := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": op, "args": args}}})
	require.NoError(e.t, err)
	resp, body := e.batch(deviceURL, token, string(raw))
	require.Equal(e.t, http.StatusOK, resp.StatusCode, "%s", body)
	result := gjson.GetBytes(body, "results.0")
	require.Equal(e.t, "c1", result.Get("id").String(), "%s", body)
	return result
}

func (e *env) upstreamRequests() gjson.Result {
	e.t.Helper()
	return gjson.ParseBytes(e.control("GET", "/_emulator/requests", nil, http.StatusOK))
}

func (e *env) clearUpstreamRequests() {
	e.t.Helper()
	e.control("DELETE", "/_emulator/requests", nil, http.StatusNoContent)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncAll runs mail.sync (or folders.sync) from state until more is false
// and returns every change and the final state.
func (e *env) syncAll(token, op string, args map[string]any) ([]gjson.Result, string) {
	e.t.Helper()
	var changes []gjson.Result
	state := ""
	for round := 0; round < 100; round++ {
		callArgs := map[string]any{}
		for k, v := range args {
			callArgs[k] = v
		}
		if state != "" {
			callArgs["state"] = state
		}
		result := e.command(token, op, callArgs)
		require.Equal(e.t, int64(200), result.Get("status").Int(), "%s", result.Raw)
		changes = append(changes, result.Get("data.changes").Array()...)
		state = result.Get("data.state").String()
		require.NotEmpty(e.t, state)
		if !result.Get("data.more").Bool() {
			return changes, state
		}
	}
	e.t.Fatal("sync did not finish in 100 rounds")
	return nil, ""
}

// scrapeMetrics reads Caddy's metrics endpoint on the admin API.
func scrapeMetrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// addFault installs an emulator fault rule.
func (e *env) addFault(rule map[string]any) {
	e.t.Helper()
	e.control("POST", "/_emulator/faults", rule, http.StatusCreated)
}

func (e *env) clearFaults() {
	e.t.Helper()
	e.control("DELETE", "/_emulator/faults", nil, http.StatusNoContent)
}

// goroutineBaseline settles the process after a warm-up and returns its
// goroutine count.
func (e *env) goroutineBaseline() int {
	e.client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	return runtime.NumGoroutine()
}

// assertNoGoroutineLeak polls until the goroutine count is back near the
// baseline (generous time: the machine may be loaded).
func (e *env) assertNoGoroutineLeak(baseline int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		e.client.CloseIdleConnections()
		n = runtime.NumGoroutine()
		if n <= baseline+leakSlack {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	e.t.Errorf("goroutines did not settle: %d, baseline %d\n%s", n, baseline, buf)
}

// assertDeviceError checks an envelope-level error answer.
func assertDeviceError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, code, gjson.GetBytes(body, "error.code").String(), "%s", body)
	assert.NotEmpty(t, gjson.GetBytes(body, "error.message").String())
	assert.False(t, gjson.GetBytes(body, "results").Exists(), "an envelope error has no results")
}

// waitCancelled waits until the emulator's fault rules report n delayed
// requests whose client went away.
func (e *env) waitCancelled(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got int64
	for time.Now().Before(deadline) {
		got = 0
		for _, r := range gjson.ParseBytes(e.control("GET", "/_emulator/faults", nil, http.StatusOK)).Array() {
			got += r.Get("cancelled").Int()
		}
		if got >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Errorf("the emulator saw %d cancelled upstream calls, want %d", got, n)
}

// messageIDs returns n message ids of the token's Inbox.
func (e *env) messageIDs(token string, n int) []string {
	e.t.Helper()
	res := e.command(token, "mail.sync", map[string]any{"folder": "inbox", "window": n, "fields": []string{"subject"}})
	require.Equal(e.t, int64(200), res.Get("status").Int(), res.Raw)
	var ids []string
	for _, c := range res.Get("data.changes").Array() {
		ids = append(ids, c.Get("message.id").String())
	}
	require.Len(e.t, ids, n)
	return ids
}

// mailboxUPN is the UPN newMailbox gives a token.
func mailboxUPN(token string) string { return token + "@contoso.example" }

// ok asserts a command result succeeded and returns its data.
func ok(t *testing.T, result gjson.Result) gjson.Result {
	t.Helper()
	require.Equal(t, int64(200), result.Get("status").Int(), "%s", result.Raw)
	return result.Get("data")
}

// get sends a GET to the device API with a bearer token.
func (e *env) get(u, token string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	return resp
}

// readAll reads and closes a response body.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// splitChanges indexes a sync's changes: the upserted items (the object
// under kind: message, event, contact, folder) by id, and the deleted ids.
func splitChanges(t *testing.T, changes []gjson.Result, kind string) (map[string]gjson.Result, map[string]bool) {
	t.Helper()
	upserts, deletes := map[string]gjson.Result{}, map[string]bool{}
	for _, c := range changes {
		switch c.Get("op").String() {
		case "upsert":
			item := c.Get(kind)
			require.True(t, item.Exists(), "upsert without %s: %s", kind, c.Raw)
			upserts[item.Get("id").String()] = item
		case "delete":
			deletes[c.Get("id").String()] = true
		default:
			t.Fatalf("unexpected change %s", c.Raw)
		}
	}
	return upserts, deletes
}

// syncChanges is splitChanges of a mail sync.
func syncChanges(t *testing.T, changes []gjson.Result) (map[string]gjson.Result, map[string]bool) {
	t.Helper()
	return splitChanges(t, changes, "message")
}

// bySubject finds an item of splitChanges by its subject.
func bySubject(items map[string]gjson.Result, subject string) (gjson.Result, bool) {
	for _, item := range items {
		if item.Get("subject").String() == subject {
			return item, true
		}
	}
	return gjson.Result{}, false
}

// eventBySubject is bySubject for use in an expression: a missing event is
// a Result that does not exist.
func eventBySubject(events map[string]gjson.Result, subject string) gjson.Result {
	event, _ := bySubject(events, subject)
	return event
}

// assertNoUpstream checks that Graph received nothing since the last clear.
func (e *env) assertNoUpstream(msgAndArgs ...any) {
	e.t.Helper()
	assert.Empty(e.t, e.upstreamRequests().Array(), msgAndArgs...)
}

// leakSlack is how many goroutines above the baseline are tolerated:
// connection pools may hold a few more or fewer connections.
const leakSlack = 6

// folderGet is a one-command envelope whose direct call is
// GET /me/mailFolders/inbox.
const folderGet = `{"commands":[{"id":"c1","op":"folder.get","args":{"folder":"inbox"}}]}`

// heapWatch samples the heap in use while a transfer runs.
type heapWatch struct {
	baseline uint64
	peak     atomic.Uint64
	done     chan struct{}
	wg       sync.WaitGroup
	restore  int
}

// watchHeap lowers the GC target (so garbage does not pass for growth:
// what stays in use is what the transfer holds), collects, takes the
// heap in use as the baseline and samples it every 20 ms until stop.
func watchHeap(t *testing.T) *heapWatch {
	t.Helper()
	h := &heapWatch{done: make(chan struct{}), restore: debug.SetGCPercent(20)}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.baseline = ms.HeapInuse
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		var s runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&s)
				if s.HeapInuse > h.peak.Load() {
					h.peak.Store(s.HeapInuse)
				}
			}
		}
	}()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop ends the sampling (once) and returns the baseline and the peak.
func (h *heapWatch) stop() (baseline, peak uint64) {
	select {
	case <-h.done:
	default:
		close(h.done)
		h.wg.Wait()
		debug.SetGCPercent(h.restore)
	}
	return h.baseline, h.peak.Load()
}
