// Command attachment measures a large attachment download through the edge:
// (a) the plain reverse_proxy serving Graph's
// /v1.0/me/messages/{id}/attachments/{aid}/$value and (b) devicebridge
// serving /device/v1/messages/{id}/attachments/{aid}, alternating in the same
// run. It reports each side's throughput, their ratio, and the edge
// process's peak resident memory growth during each download (the high-water
// mark is reset through /proc/{pid}/clear_refs before, VmHWM is read after).
//
// With -file it measures a OneDrive file instead: (a) the plain
// reverse_proxy serving the download host's pre-authenticated URL (path and
// query of the item's @microsoft.graph.downloadUrl, fetched without a
// token) and (b) devicebridge serving /device/v1/files/{id}/content, which
// asks Graph for that URL and fetches it with its own client.
//
// It is part of the load harness (bench/run.sh), which starts the servers.
//
//	attachment -proxy https://localhost:9542 -bridge https://localhost:9541 -root root.crt -edge-pid 1234 [-file]
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/devicebridge/caddy-devicebridge/emulator"
)

func main() {
	proxy := flag.String("proxy", "", "base URL of the plain reverse_proxy site")
	bridge := flag.String("bridge", "", "base URL of the devicebridge site")
	rootFile := flag.String("root", "", "PEM root certificate the sites are signed with")
	token := flag.String("token", "demo", "bearer token of the mailbox")
	size := flag.Int64("size", 1<<30, "attachment size in bytes (at most 1 GiB)")
	rounds := flag.Int("rounds", 2, "downloads per side, alternating")
	edgePID := flag.Int("edge-pid", 0, "process id of the edge Caddy (for its memory); 0 = not measured")
	file := flag.Bool("file", false, "measure a OneDrive file download instead of an attachment")
	flag.Parse()

	client, err := newClient(*rootFile)
	if err != nil {
		fail(err)
	}
	var seed uint64 = 7
	kind := "attachment"
	var urls map[string]string
	proxyToken := *token
	expected := func(n int64) io.Reader { return emulator.GeneratedAttachmentReader(seed, *size) }
	if *file {
		kind = "file"
		itemID, link, contentSeed, err := createFile(client, *proxy, *token, *size)
		if err != nil {
			fail(fmt.Errorf("file: %v", err))
		}
		seed = contentSeed
		expected = func(n int64) io.Reader { return emulator.DriveContentReader(seed, 0, n) }
		urls = map[string]string{
			"proxy":  *proxy + link.EscapedPath() + "?" + link.RawQuery,
			"bridge": *bridge + "/device/v1/files/" + url.PathEscape(itemID) + "/content",
		}
		proxyToken = "" // the download host refuses a bearer token
	} else {
		msgID, attID, err := deliver(client, *proxy, *token, *size, seed)
		if err != nil {
			fail(fmt.Errorf("deliver: %v", err))
		}
		urls = map[string]string{
			"proxy":  *proxy + "/v1.0/me/messages/" + url.PathEscape(msgID) + "/attachments/" + url.PathEscape(attID) + "/$value",
			"bridge": *bridge + "/device/v1/messages/" + url.PathEscape(msgID) + "/attachments/" + url.PathEscape(attID),
		}
	}
	tokens := map[string]string{"proxy": proxyToken, "bridge": *token}
	secs := map[string][]float64{}
	growth := map[string][]int64{}
	for round := 1; round <= *rounds; round++ {
		for _, side := range []string{"proxy", "bridge"} {
			before, err := resetPeak(*edgePID)
			if err != nil {
				fail(err)
			}
			d, err := download(client, urls[side], tokens[side], *size, expected)
			if err != nil {
				fail(fmt.Errorf("%s download: %v", side, err))
			}
			peak, err := readStatus(*edgePID, "VmHWM")
			if err != nil {
				fail(err)
			}
			secs[side] = append(secs[side], d.Seconds())
			growth[side] = append(growth[side], peak-before)
			fmt.Printf("   round %d %-6s %6.1f MiB/s  (%.2fs)   edge peak RSS growth %6.1f MiB\n", round, side,
				float64(*size)/d.Seconds()/(1<<20), d.Seconds(), float64(peak-before)/(1<<20))
		}
	}
	p, b := mean(secs["proxy"]), mean(secs["bridge"])
	fmt.Printf("%s %d bytes: proxy %.1f MiB/s   bridge %.1f MiB/s   bridge/proxy %.3f   (target >= 0.9)\n",
		kind, *size, float64(*size)/p/(1<<20), float64(*size)/b/(1<<20), p/b)
	if *edgePID != 0 {
		fmt.Printf("edge peak RSS growth during a download: proxy %.1f MiB   bridge %.1f MiB   (target <= 16 MiB for the bridge)\n",
			float64(maxOf(growth["proxy"]))/(1<<20), float64(maxOf(growth["bridge"]))/(1<<20))
	}
}

func newClient(rootFile string) (*http.Client, error) {
	pem, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", rootFile)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: roots},
		DisableCompression: true,
		ReadBufferSize:     256 << 10,
	}}, nil
}

// deliver puts a message with one generated attachment of size bytes into
// the mailbox (emulator control API, through the plain proxy) and returns
// the message's and the attachment's ids.
func deliver(client *http.Client, proxy, token string, size int64, seed uint64) (string, string, error) {
	spec, _ := json.Marshal(map[string]any{
		"subject": "Load harness: large attachment",
		"attachments": []any{map[string]any{"name": "large.bin", "contentType": "application/octet-stream",
			"generatedSize": size, "generatedSeed": seed}},
	})
	resp, err := client.Post(proxy+"/_emulator/mailboxes/"+url.PathEscape(token)+"/deliver", "application/json", bytes.NewReader(spec))
	if err != nil {
		return "", "", err
	}
	var delivered struct{ ID, ImmutableID string }
	err = decode(resp, &delivered)
	if err != nil {
		return "", "", err
	}
	id := delivered.ID
	req, _ := http.NewRequest(http.MethodGet, proxy+"/v1.0/me/messages/"+url.PathEscape(id)+"/attachments?$select=id,name", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = client.Do(req)
	if err != nil {
		return "", "", err
	}
	var list struct {
		Value []struct{ ID, Name string }
	}
	if err := decode(resp, &list); err != nil {
		return "", "", err
	}
	if len(list.Value) != 1 {
		return "", "", fmt.Errorf("%d attachments", len(list.Value))
	}
	return id, list.Value[0].ID, nil
}

// createFile adds a file of size generated bytes to the mailbox's drive
// (emulator control API, through the plain proxy) and returns its id, its
// pre-authenticated download URL (as Graph gives it) and its content seed.
func createFile(client *http.Client, proxy, token string, size int64) (string, *url.URL, uint64, error) {
	spec, _ := json.Marshal(map[string]any{"name": "large.bin", "size": size})
	resp, err := client.Post(proxy+"/_emulator/mailboxes/"+url.PathEscape(token)+"/drive/items", "application/json", bytes.NewReader(spec))
	if err != nil {
		return "", nil, 0, err
	}
	var item struct {
		ID          string
		ContentSeed uint64
	}
	if err := decode(resp, &item); err != nil {
		return "", nil, 0, err
	}
	req, _ := http.NewRequest(http.MethodGet, proxy+"/v1.0/me/drive/items/"+url.PathEscape(item.ID)+"?$select=id,@microsoft.graph.downloadUrl", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = client.Do(req)
	if err != nil {
		return "", nil, 0, err
	}
	var withURL struct {
		URL string `json:"@microsoft.graph.downloadUrl"`
	}
	if err := decode(resp, &withURL); err != nil {
		return "", nil, 0, err
	}
	link, err := url.Parse(withURL.URL)
	if err != nil || withURL.URL == "" {
		return "", nil, 0, fmt.Errorf("no download URL for %s", item.ID)
	}
	return item.ID, link, item.ContentSeed, nil
}

func decode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %d %.300s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// download fetches the attachment or file (with token as bearer, none when
// ""), checks its length and its first MiB against expected, and returns
// the time from request to last byte.
func download(client *http.Client, u, token string, size int64, expected func(n int64) io.Reader) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("%d %.300s", resp.StatusCode, body)
	}
	head := int64(1 << 20)
	if head > size {
		head = size
	}
	got := make([]byte, head)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		return 0, err
	}
	want := make([]byte, head)
	_, _ = io.ReadFull(expected(head), want)
	if !bytes.Equal(got, want) {
		return 0, fmt.Errorf("the first MiB differs from the generated content")
	}
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	if n+head != size {
		return 0, fmt.Errorf("got %d bytes, want %d", n+head, size)
	}
	return d, nil
}

// resetPeak returns the process's resident size in bytes and then resets
// its resident high-water mark to the current size (0 when pid is 0). A
// negative growth (peak after minus this) means the process returned
// memory to the system meanwhile.
func resetPeak(pid int) (int64, error) {
	if pid == 0 {
		return 0, nil
	}
	rss, err := readStatus(pid, "VmRSS")
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("resetting the peak RSS of %d: %v", pid, err)
	}
	return rss, nil
}

// readStatus reads a kB field of /proc/{pid}/status, in bytes.
func readStatus(pid int, field string) (int64, error) {
	if pid == 0 {
		return 0, nil
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func mean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

func maxOf(v []int64) int64 {
	m := v[0]
	for _, x := range v[1:] {
		if x > m {
			m = x
		}
	}
	return m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "attachment:", strings.TrimSpace(err.Error()))
	os.Exit(1)
}
