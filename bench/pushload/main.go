// Command pushload measures devicebridge's push webhook the way Graph
// drives it: change notifications (a created message, alert class, one
// routing blob R per notification so that no per-R limit holds a push
// back) POSTed over TLS to a running bridge at {bridge}/device/v1/push/n/{R},
// each answered once the push-service emulator accepted the push. It plays
// Graph itself: it derives the push keys from the bridge's state key
// (push.NewKeys), seals every R (Keys.SealRouting) and computes its
// clientState (Keys.ClientState), so no Graph is needed.
//
// Phases, in this order:
//
//  1. memory per in-flight send: the emulator answers APNs after -slow;
//     -inflight notifications are posted at once, and the bridge's VmRSS
//     (and, with -admin, its Go heap and goroutines) before vs during gives
//     bytes per in-flight send; the slowest answer is checked against
//     -send-timeout.
//  2. latency at -low-rate notifications/s for -low-duration, open loop
//     (a schedule launches each request at its time, whether or not the
//     earlier ones have been answered): p50, p99, max from the scheduled
//     time to the answer.
//  3. the same at -rate notifications/s for -rate-duration.
//  4. the sustained rate: -concurrency notifications in flight for
//     -sustained-duration, with the bridge's CPU time from
//     /proc/{pid}/stat: notifications/s and notifications per CPU-second.
//  5. a push service slower than send_timeout (-inflight-timeout
//     notifications at once, the emulator answering after twice
//     -send-timeout): every answer must come at send_timeout.
//
// With -admin (the bridge's Caddy admin address) it also checks, from the
// bridge's metrics, that every notification of phases 1–4 answered 202 was
// one push sent, reports the sends that were not delivered, and fails when
// the counts differ.
//
// It is run by bench/pushload.sh, which starts the servers.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/devicebridge/caddy-devicebridge/push"
)

type config struct {
	bridge, control, admin string
	bridgePID, emulatorPID int
	hz                     float64
	sendTimeout            time.Duration
	slow                   time.Duration
	inflight               int
	inflightTimeout        int
	lowRate, rate          float64
	lowDuration            time.Duration
	rateDuration           time.Duration
	sustainedDuration      time.Duration
	concurrency            int
	http1                  bool
}

func main() {
	var c config
	flag.StringVar(&c.bridge, "bridge", "", "base URL of the bridge's site, e.g. https://localhost:9671")
	flag.StringVar(&c.control, "control", "", "the push emulator's control API, e.g. https://localhost:9672/_push")
	flag.StringVar(&c.admin, "admin", "", "the bridge's Caddy admin address for its metrics, e.g. http://localhost:9673; empty = not checked")
	rootFile := flag.String("root", "", "PEM root certificate the sites are signed with")
	stateKey := flag.String("state-key", "", "the bridge's state key (base64 or base64url, as in the Caddyfile)")
	flag.IntVar(&c.bridgePID, "bridge-pid", 0, "process id of the bridge's Caddy")
	flag.IntVar(&c.emulatorPID, "emulator-pid", 0, "process id of the push emulator's Caddy; 0 = its CPU is not reported")
	flag.Float64Var(&c.hz, "hz", 100, "clock ticks per second of /proc/{pid}/stat (getconf CLK_TCK)")
	flag.DurationVar(&c.sendTimeout, "send-timeout", 1500*time.Millisecond, "the bridge's send_timeout")
	flag.DurationVar(&c.slow, "slow", time.Second, "the emulator's answer delay in the memory phase (below send_timeout)")
	flag.IntVar(&c.inflight, "inflight", 200, "notifications in flight in the memory phase (at most max_inflight_sends)")
	flag.IntVar(&c.inflightTimeout, "inflight-timeout", 20, "notifications in flight when the push service is slower than send_timeout; 0 = skip")
	flag.Float64Var(&c.lowRate, "low-rate", 1, "notifications/s of the first latency phase")
	flag.DurationVar(&c.lowDuration, "low-duration", 30*time.Second, "duration of the first latency phase")
	flag.Float64Var(&c.rate, "rate", 200, "notifications/s of the second latency phase")
	flag.DurationVar(&c.rateDuration, "rate-duration", 20*time.Second, "duration of the second latency phase")
	flag.DurationVar(&c.sustainedDuration, "sustained-duration", 15*time.Second, "duration of the sustained-rate phase")
	flag.IntVar(&c.concurrency, "concurrency", 64, "notifications in flight in the sustained-rate phase")
	flag.BoolVar(&c.http1, "http1", false, "POST over HTTP/1.1 connections instead of HTTP/2")
	flag.Parse()
	if c.bridge == "" || c.control == "" || *rootFile == "" || *stateKey == "" || c.bridgePID == 0 {
		fail(errors.New("-bridge, -control, -root, -state-key and -bridge-pid are required"))
	}
	client, err := newClient(*rootFile, c.http1)
	if err != nil {
		fail(err)
	}
	key, err := decodeKey(*stateKey)
	if err != nil {
		fail(fmt.Errorf("-state-key: %v", err))
	}
	keys, err := push.NewKeys([][]byte{key})
	if err != nil {
		fail(err)
	}
	h := &harness{config: c, client: client, graph: &graph{keys: keys}}
	if err := h.run(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pushload:", err)
	os.Exit(1)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func newClient(rootFile string, http1 bool) (*http.Client, error) {
	pem, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", rootFile)
	}
	t := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2:   !http1,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
	}
	if http1 {
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}

// graph makes change notifications as Graph posts them: one subscription
// (one R) per notification.
type graph struct {
	keys *push.Keys
	seq  atomic.Int64
}

// notification is one POST: the webhook path and its body.
type notification struct {
	path string
	body []byte
}

// next returns a notification of a created message for a subscription of
// its own (an APNs target, mail, alert).
func (g *graph) next() (notification, error) {
	i := g.seq.Add(1)
	now := time.Now()
	r := &push.Routing{
		Target:   push.Target{Platform: push.PlatformAPNs, Token: fmt.Sprintf("%064x", 0xbe00000000+i)},
		Watch:    push.KindMail,
		Alert:    true,
		Account:  "work",
		Issued:   now,
		NotAfter: now.Add(36 * 24 * time.Hour),
	}
	blob, err := g.keys.SealRouting(r, "bench-device", "", "")
	if err != nil {
		return notification{}, err
	}
	cs, err := g.keys.ClientState(blob)
	if err != nil {
		return notification{}, err
	}
	msgID := fmt.Sprintf("AAMkAGI2TG93AAA-bench-%d", i)
	body, err := json.Marshal(map[string]any{"value": []any{map[string]any{
		"subscriptionId":                 fmt.Sprintf("7f105c7d-2dc5-4530-97cd-%012x", i),
		"subscriptionExpirationDateTime": now.Add(3 * 24 * time.Hour).UTC().Format(time.RFC3339Nano),
		"changeType":                     "created",
		"resource":                       "Users/6d8b-bench-user/Messages/" + msgID,
		"resourceData": map[string]any{
			"@odata.type": "#Microsoft.Graph.Message",
			"@odata.id":   "Users/6d8b-bench-user/Messages/" + msgID,
			"@odata.etag": `W/"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf"`,
			"id":          msgID,
		},
		"clientState": cs,
		"tenantId":    "84bd8158-6d4d-4958-8b9f-9d6445542f95",
	}}})
	if err != nil {
		return notification{}, err
	}
	return notification{path: "/device/v1/push/n/" + blob, body: body}, nil
}

// batch makes n notifications ahead of a phase, so that sealing costs the
// harness nothing while it measures.
func (g *graph) batch(n int) ([]notification, error) {
	out := make([]notification, n)
	for i := range out {
		var err error
		if out[i], err = g.next(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type harness struct {
	config
	client *http.Client
	graph  *graph
	// answered counts notifications answered 202 in the checked phases.
	answered int64
	failures []string
}

// result is one notification's answer.
type result struct {
	latency time.Duration
	status  int
	err     error
}

// post sends one notification and returns its answer; latency runs from
// start (the scheduled time in open-loop phases).
func (h *harness) post(n notification, start time.Time) result {
	req, err := http.NewRequest(http.MethodPost, h.bridge+n.path, bytes.NewReader(n.body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := h.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{latency: time.Since(start), status: resp.StatusCode}
}

func (h *harness) run() error {
	// The warm-up also opens the connections the memory phase needs (one
	// with HTTP/2, -inflight with -http1), as Graph keeps its connections.
	// A gentle start: the bridge opens its connection to the push
	// service. With -http1 the harness then opens as many connections as
	// the memory phase uses (as Graph keeps its connections), so that it
	// measures sends, not TLS handshakes; with HTTP/2 one connection
	// carries them all, and the bridge has never had more than 16
	// notifications in flight before the memory phase.
	sends0 := h.outcomes()
	warmups := []int{16}
	if h.http1 {
		warmups = append(warmups, h.inflight)
	}
	for _, w := range warmups {
		fmt.Printf("== warm-up: %d notifications, %d in flight\n", 2*w, w)
		warm, err := h.graph.batch(2 * w)
		if err != nil {
			return err
		}
		if rs := h.closedLoop(warm, w, 0); countStatus(rs, http.StatusAccepted) != len(rs) {
			printOutcomes(sends0, h.outcomes())
			return fmt.Errorf("warm-up: %s", summary(rs))
		}
	}
	sends0 = h.outcomes()

	if err := h.memoryPhase(); err != nil {
		return err
	}
	for _, p := range []struct {
		rate float64
		d    time.Duration
	}{{h.lowRate, h.lowDuration}, {h.rate, h.rateDuration}} {
		if p.d <= 0 {
			continue
		}
		if err := h.ratePhase(p.rate, p.d); err != nil {
			return err
		}
	}
	if h.sustainedDuration > 0 {
		if err := h.sustainedPhase(); err != nil {
			return err
		}
	}
	if h.admin != "" {
		// Every 202 must be a send: delivered, or dropped for a reason
		// the bridge counts (a send that outlived send_timeout on a
		// stalled machine is a provider_failure, answered 202).
		sends1 := h.outcomes()
		var sends, delivered float64
		for o, v := range sends1 {
			sends += v - sends0[o]
		}
		delivered = sends1["delivered"] - sends0["delivered"]
		fmt.Printf("== check: %d notifications answered 202; the bridge sent %.0f pushes, %.0f delivered (bridge metrics)\n", h.answered, sends, delivered)
		if int64(sends) != h.answered {
			h.failures = append(h.failures, fmt.Sprintf("%d notifications answered 202 but the bridge sent %.0f pushes", h.answered, sends))
		}
	}
	if h.inflightTimeout > 0 {
		if err := h.timeoutPhase(); err != nil {
			return err
		}
	}
	if len(h.failures) > 0 {
		return fmt.Errorf("FAILED: %s", strings.Join(h.failures, "; "))
	}
	return nil
}

// memoryPhase measures the bridge's memory per in-flight send.
func (h *harness) memoryPhase() error {
	ns, err := h.graph.batch(h.inflight)
	if err != nil {
		return err
	}
	out0 := h.outcomes()
	defer func() { printOutcomes(out0, h.outcomes()) }()
	fmt.Printf("== memory: %d notifications at once, the push service answering after %v (send_timeout %v)\n", h.inflight, h.slow, h.sendTimeout)
	if err := h.fault(h.slow); err != nil {
		return err
	}
	defer h.clearFaults()
	time.Sleep(500 * time.Millisecond)
	rssBefore, err := readStatus(h.bridgePID, "VmRSS")
	if err != nil {
		return err
	}
	heapBefore, stackBefore, goBefore, hasHeap := h.heap()

	var peakRSS atomic.Int64
	peakRSS.Store(rssBefore)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample VmRSS every 5 ms while the sends are in flight
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, err := readStatus(h.bridgePID, "VmRSS"); err == nil && v > peakRSS.Load() {
					peakRSS.Store(v)
				}
			}
		}
	}()
	results := make([]result, len(ns))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.post(ns[i], time.Now())
		}()
	}
	// Midway through the slow answers every send is in flight.
	time.Sleep(h.slow * 6 / 10)
	heapDuring, stackDuring, goDuring, _ := h.heap()
	wg.Wait()
	close(stop)
	<-sampled
	total := time.Since(start)
	h.count(results)

	grew := peakRSS.Load() - rssBefore
	fmt.Printf("   answers: %s in %v\n", summary(results), total.Round(time.Millisecond))
	fmt.Printf("   bridge VmRSS: %.1f MiB before, %.1f MiB peak during → %.1f KiB per in-flight send\n",
		mib(rssBefore), mib(peakRSS.Load()), float64(grew)/float64(len(ns))/1024)
	if hasHeap {
		fmt.Printf("   bridge Go heap in use: %.1f MiB before, %.1f MiB during → %.1f KiB per in-flight send (the collector's timing moves this)\n",
			mib(heapBefore), mib(heapDuring), (heapDuring-heapBefore)/float64(len(ns))/1024)
		fmt.Printf("   bridge goroutine stacks: %.1f MiB → %.1f MiB, %.1f KiB per in-flight send; goroutines %d → %d (%.1f per send)\n",
			mib(stackBefore), mib(stackDuring), (stackDuring-stackBefore)/float64(len(ns))/1024,
			int(goBefore), int(goDuring), (goDuring-goBefore)/float64(len(ns)))
	}
	lat := latencies(results)
	fmt.Printf("   slowest answer %v (send_timeout %v)\n", lat[len(lat)-1].Round(time.Microsecond), h.sendTimeout)
	if lat[len(lat)-1] > h.sendTimeout {
		h.failures = append(h.failures, fmt.Sprintf("memory phase: an answer after %v, later than send_timeout", lat[len(lat)-1]))
	}
	return nil
}

// ratePhase posts at rate notifications/s for d, open loop.
func (h *harness) ratePhase(rate float64, d time.Duration) error {
	n := int(math.Round(rate * d.Seconds()))
	ns, err := h.graph.batch(n)
	if err != nil {
		return err
	}
	fmt.Printf("== latency at %g notifications/s for %v, open loop (%d notifications)\n", rate, d, n)
	out0 := h.outcomes()
	cpu0 := h.cpu()
	interval := time.Duration(float64(time.Second) / rate)
	results := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	launched := make([]result, n) // latency from the actual launch
	var late time.Duration
	for i := range ns {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		} else if -w > late {
			late = -w
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			results[i] = h.post(ns[i], at)
			launched[i] = results[i]
			launched[i].latency -= sent.Sub(at)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1 := h.cpu()
	h.count(results)
	lat, fromLaunch := latencies(results), latencies(launched)
	fmt.Printf("   answers: %s\n", summary(results))
	fmt.Printf("   latency from the scheduled time: p50 %v  p99 %v  max %v\n",
		pct(lat, 50).Round(time.Microsecond), pct(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	fmt.Printf("   latency from the POST:           p50 %v  p99 %v  max %v  (the harness launched up to %v late)\n",
		pct(fromLaunch, 50).Round(time.Microsecond), pct(fromLaunch, 99).Round(time.Microsecond), fromLaunch[len(fromLaunch)-1].Round(time.Microsecond), late.Round(time.Microsecond))
	h.printCPU(cpu0, cpu1, countStatus(results, http.StatusAccepted), elapsed)
	printOutcomes(out0, h.outcomes())
	return nil
}

// sustainedPhase keeps concurrency notifications in flight for the
// phase's duration.
func (h *harness) sustainedPhase() error {
	// Enough notifications for 6,000/s; more are made on the way.
	ns, err := h.graph.batch(int(6000 * h.sustainedDuration.Seconds()))
	if err != nil {
		return err
	}
	fmt.Printf("== sustained rate: %d notifications in flight for %v\n", h.concurrency, h.sustainedDuration)
	out0 := h.outcomes()
	cpu0 := h.cpu()
	start := time.Now()
	results := h.closedLoop(ns, h.concurrency, h.sustainedDuration)
	elapsed := time.Since(start)
	cpu1 := h.cpu()
	h.count(results)
	lat := latencies(results)
	ok := countStatus(results, http.StatusAccepted)
	fmt.Printf("   answers: %s → %.0f notifications/s\n", summary(results), float64(ok)/elapsed.Seconds())
	fmt.Printf("   latency p50 %v  p99 %v  max %v\n", pct(lat, 50).Round(time.Microsecond), pct(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	h.printCPU(cpu0, cpu1, ok, elapsed)
	printOutcomes(out0, h.outcomes())
	return nil
}

// timeoutPhase makes the push service slower than send_timeout: every
// answer must still come at send_timeout.
func (h *harness) timeoutPhase() error {
	ns, err := h.graph.batch(h.inflightTimeout)
	if err != nil {
		return err
	}
	fmt.Printf("== push service slower than send_timeout: %d notifications at once, answers after %v (send_timeout %v)\n",
		len(ns), 2*h.sendTimeout, h.sendTimeout)
	out0 := h.outcomes()
	if err := h.fault(2 * h.sendTimeout); err != nil {
		return err
	}
	defer h.clearFaults()
	defer func() { printOutcomes(out0, h.outcomes()) }()
	results := make([]result, len(ns))
	var wg sync.WaitGroup
	for i := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.post(ns[i], time.Now())
		}()
	}
	wg.Wait()
	lat := latencies(results)
	worst := lat[len(lat)-1]
	fmt.Printf("   answers: %s; fastest %v, slowest %v: %v past send_timeout\n", summary(results),
		lat[0].Round(time.Microsecond), worst.Round(time.Microsecond), (worst - h.sendTimeout).Round(time.Microsecond))
	// The bridge bounds the send by send_timeout; reading the body and
	// checking it come before. Allow 100 ms for those on a loaded machine.
	if worst > h.sendTimeout+100*time.Millisecond {
		h.failures = append(h.failures, fmt.Sprintf("timeout phase: an answer after %v", worst))
	}
	return nil
}

// closedLoop posts ns with workers in flight, until ns or d (when > 0)
// runs out; it makes more notifications when ns runs out before d.
func (h *harness) closedLoop(ns []notification, workers int, d time.Duration) []result {
	var next atomic.Int64
	var mu sync.Mutex
	var all []result
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []result
			for {
				if d > 0 && time.Now().After(deadline) {
					break
				}
				i := int(next.Add(1) - 1)
				var n notification
				if i < len(ns) {
					n = ns[i]
				} else if d > 0 {
					var err error
					if n, err = h.graph.next(); err != nil {
						mine = append(mine, result{err: err})
						break
					}
				} else {
					break
				}
				mine = append(mine, h.post(n, time.Now()))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

// count adds a checked phase's 202 answers.
func (h *harness) count(rs []result) { h.answered += int64(countStatus(rs, http.StatusAccepted)) }

type cpuSample struct{ bridge, emulator, harness float64 }

func (h *harness) cpu() cpuSample {
	var s cpuSample
	s.bridge, _ = cpuSeconds(h.bridgePID, h.hz)
	if h.emulatorPID != 0 {
		s.emulator, _ = cpuSeconds(h.emulatorPID, h.hz)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.harness = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return s
}

func (h *harness) printCPU(a, b cpuSample, n int, elapsed time.Duration) {
	if n == 0 {
		return
	}
	bridge := b.bridge - a.bridge
	if bridge < 10/h.hz {
		fmt.Printf("   bridge CPU %.2f s: too little to resolve per notification (clock ticks of %.0f ms)\n", bridge, 1000/h.hz)
		return
	}
	fmt.Printf("   bridge CPU %.2f s (%.0f%% of one core) = %.0f µs per notification → %.0f notifications per CPU-second",
		bridge, 100*bridge/elapsed.Seconds(), bridge*1e6/float64(n), float64(n)/bridge)
	if h.emulatorPID != 0 {
		fmt.Printf("; push emulator %.0f µs, harness %.0f µs per notification", (b.emulator-a.emulator)*1e6/float64(n), (b.harness-a.harness)*1e6/float64(n))
	}
	fmt.Println()
}

// fault makes the emulator answer APNs after delay until cleared.
func (h *harness) fault(delay time.Duration) error {
	body := fmt.Sprintf(`{"service":"apns","delay":%q,"count":0}`, delay.String())
	resp, err := h.client.Post(h.control+"/faults", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("push emulator faults: %s: %s", resp.Status, msg)
	}
	return nil
}

func (h *harness) clearFaults() {
	req, _ := http.NewRequest(http.MethodDelete, h.control+"/faults", nil)
	if resp, err := h.client.Do(req); err == nil {
		resp.Body.Close()
	}
}

// metrics returns the bridge's Prometheus metrics, or nil without -admin.
func (h *harness) metrics() []string {
	if h.admin == "" {
		return nil
	}
	resp, err := http.Get(h.admin + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// metricSum sums the samples of name whose labels contain every one of
// labels.
func metricSum(lines []string, name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		sp := strings.LastIndexByte(rest, ' ')
		head := rest[:sp]
		match := true
		for _, l := range labels {
			if !strings.Contains(head, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(rest[sp+1:], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// outcomes returns the bridge's push sends by outcome.
func (h *harness) outcomes() map[string]float64 {
	out := map[string]float64{}
	for _, line := range h.metrics() {
		rest, ok := strings.CutPrefix(line, "caddy_devicebridge_push_sends_total{")
		if !ok {
			continue
		}
		_, o, ok1 := strings.Cut(rest, `outcome="`)
		o, _, ok2 := strings.Cut(o, `"`)
		sp := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[sp+1:], 64)
		if ok1 && ok2 && err == nil {
			out[o] += v
		}
	}
	return out
}

// printOutcomes prints the sends other than delivered since before.
func printOutcomes(before, after map[string]float64) {
	var parts []string
	for o, v := range after {
		if d := v - before[o]; d > 0 && o != "delivered" {
			parts = append(parts, fmt.Sprintf("%.0f × %s", d, o))
		}
	}
	if len(parts) > 0 {
		slices.Sort(parts)
		fmt.Printf("   bridge sends not delivered: %s\n", strings.Join(parts, ", "))
	}
}

// heap is the bridge's Go heap in use, its goroutine stacks and its
// goroutines.
func (h *harness) heap() (heap, stacks, goroutines float64, ok bool) {
	lines := h.metrics()
	heap, ok1 := metricSum(lines, "go_memstats_heap_inuse_bytes")
	stacks, ok2 := metricSum(lines, "go_memstats_stack_inuse_bytes")
	goroutines, ok3 := metricSum(lines, "go_goroutines")
	return heap, stacks, goroutines, ok1 && ok2 && ok3
}

// cpuSeconds reads a process's user+system CPU time from /proc/{pid}/stat.
func cpuSeconds(pid int, hz float64) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at
	// field 3 (state); utime and stime are fields 14 and 15.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return (u + st) / hz, nil
}

// readStatus returns a /proc/{pid}/status field given in kB, in bytes.
func readStatus(pid int, field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

func latencies(rs []result) []time.Duration {
	out := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		if r.err == nil {
			out = append(out, r.latency)
		}
	}
	if len(out) == 0 {
		out = append(out, 0)
	}
	slices.Sort(out)
	return out
}

// pct is the p-th percentile (nearest rank) of sorted.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func countStatus(rs []result, status int) int {
	n := 0
	for _, r := range rs {
		if r.err == nil && r.status == status {
			n++
		}
	}
	return n
}

// summary counts answers by status, and errors.
func summary(rs []result) string {
	counts := map[string]int{}
	var keys []string
	for _, r := range rs {
		k := strconv.Itoa(r.status)
		if r.err != nil {
			k = "error (" + r.err.Error() + ")"
		}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

func mib[T int64 | float64](b T) float64 { return float64(b) / (1 << 20) }
