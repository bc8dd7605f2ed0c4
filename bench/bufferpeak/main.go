// Command bufferpeak drives the buffered-answer memory scenario against a
// running bridge and reports the bridge process's peak resident memory:
// three accounts, each with a message whose HTML body is -size bytes, and
// -connections device connections (default 36: 12 per account, spelling
// its mailbox three ways — me, the UPN, the object id) fetching that
// message with mail.get body html, -rounds times each. It samples the
// bridge's VmRSS from /proc every 5 ms and prints the peak, the kernel's
// VmHWM and the answers by status. Used by bench/buffers.sh.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bridge := flag.String("bridge", "", "device API batch URL")
	emulator := flag.String("emulator", "", "emulator base URL (control API)")
	rootCA := flag.String("root", "", "root certificate (PEM) of both sites")
	pid := flag.Int("pid", 0, "the bridge process id")
	size := flag.Int("size", 15_000_000, "HTML body size in bytes")
	connections := flag.Int("connections", 36, "device connections")
	rounds := flag.Int("rounds", 3, "requests per connection")
	flag.Parse()

	pem, err := os.ReadFile(*rootCA)
	check(err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		log.Fatal("no certificate in -root")
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConnsPerHost: *connections,
	}}

	type account struct{ token, upn, oid, id string }
	accounts := make([]account, 3)
	html := largeHTML(*size)
	for i := range accounts {
		a := &accounts[i]
		a.oid = fmt.Sprintf("%08x-0b8a-4c3f-9e61-2d4b7a9c8e1%d", time.Now().UnixNano()&0xffffffff, i)
		a.upn = fmt.Sprintf("peak%d-%d@contoso.example", i, time.Now().UnixNano())
		claims := fmt.Sprintf(`{"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","oid":%q,"upn":%q}`, a.oid, a.upn)
		enc := base64.RawURLEncoding
		a.token = enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2ln"
		post(client, *emulator+"/_emulator/mailboxes", map[string]any{"token": a.token, "upn": a.upn, "objectId": a.oid, "seed": "empty"}, http.StatusCreated)
		answer := post(client, *emulator+"/_emulator/mailboxes/"+a.token+"/deliver", map[string]any{
			"folder": "inbox", "subject": "large html",
			"body": map[string]any{"contentType": "html", "content": html},
		}, http.StatusCreated)
		var delivered struct{ ImmutableID string }
		check(json.Unmarshal(answer, &delivered))
		a.id = delivered.ImmutableID
	}
	html = ""

	baseline := rss(*pid)
	var peak atomic.Int64
	peak.Store(baseline)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := rss(*pid); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	started := time.Now()
	for c := 0; c < *connections; c++ {
		a := accounts[c%3]
		mailbox := [...]string{"", a.upn, a.oid}[(c/3)%3]
		args := map[string]any{"id": a.id, "body": "html"}
		if mailbox != "" {
			args["mailbox"] = mailbox
		}
		envelope, _ := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "g", "op": "mail.get", "args": args}}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < *rounds; r++ {
				req, _ := http.NewRequest("POST", *bridge, bytes.NewReader(envelope))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+a.token)
				key := "error"
				if resp, err := client.Do(req); err == nil {
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = strconv.Itoa(resp.StatusCode)
					if resp.StatusCode == http.StatusOK && n < int64(*size) {
						key = "200-short"
					}
				}
				mu.Lock()
				statuses[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(started)
	close(stop)
	<-sampled
	fmt.Printf("connections=%d rounds=%d size=%d took=%.1fs answers=%v\n", *connections, *rounds, *size, took.Seconds(), statuses)
	fmt.Printf("bridge RSS: baseline %d MiB, peak %d MiB (sampled), VmHWM %d MiB\n",
		baseline>>20, peak.Load()>>20, status(*pid, "VmHWM:")>>20)
}

// largeHTML is an HTML body of about size bytes with quoted attributes.
func largeHTML(size int) string {
	const para = `<p class="x">All work and no play makes Jack a dull boy. </p>` + "\n"
	return "<html><body>" + strings.Repeat(para, size/len(para)) + "</body></html>"
}

func post(client *http.Client, url string, body any, want int) []byte {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false) // a 15 MB body must stay under the control API's 16 MiB
	check(enc.Encode(body))
	resp, err := client.Post(url, "application/json", &raw)
	check(err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	check(err)
	if resp.StatusCode != want {
		log.Fatalf("POST %s: %d %.300s", url, resp.StatusCode, out)
	}
	return out
}

// rss is the process's resident set in bytes.
func rss(pid int) int64 { return status(pid, "VmRSS:") }

// status reads a kB field of /proc/{pid}/status, in bytes.
func status(pid int, field string) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	check(err)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
