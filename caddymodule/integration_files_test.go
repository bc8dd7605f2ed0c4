package caddymodule_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/devicebridge/caddy-devicebridge/emulator"
)

// filesServer is the test server with the emulator's download host as its
// own site, named in the bridge's file_hosts; the device site compresses
// with encode gzip and every log (at DEBUG) goes into capturedLogs.
func filesServer(bridge, downloadHost string) testServer {
	return testServer{
		global:           "log {\noutput devicebridge_test_memory\nformat json\nlevel DEBUG\n}",
		deviceSite:       "encode gzip\nlog {\noutput devicebridge_test_memory\nformat json\n}",
		bridge:           fmt.Sprintf("file_hosts localhost:%d\n%s", downloadPort, bridge),
		downloadSite:     true,
		downloadEmulator: downloadHost,
	}
}

// startFilesBridge starts filesServer with the given extra subdirectives.
func startFilesBridge(t *testing.T, bridge, downloadHost string) *env {
	t.Helper()
	return startBridgeWith(t, filesServer(bridge, downloadHost).caddyfile())
}

// newDriveMailbox creates an empty mailbox whose drive is of the given
// type (business or personal) and returns its token.
func (e *env) newDriveMailbox(driveType string) string {
	e.t.Helper()
	token := "t-" + randomHex(8)
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": token, "upn": token + "@contoso.example", "seed": "empty", "drive": driveType,
	}, http.StatusCreated)
	return token
}

// addDriveItem adds a file or folder through the control API and returns
// the emulator's description of it.
func (e *env) addDriveItem(token string, item map[string]any) gjson.Result {
	e.t.Helper()
	return gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/drive/items", item, http.StatusCreated))
}

// fileContentURL is the device URL of a drive item's content.
func fileContentURL(id string) string {
	return deviceBase + "/files/" + url.PathEscape(id) + "/content"
}

// getFile downloads through the device API with extra request headers.
func (e *env) getFile(u, token string, header ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	return resp
}

// downloadRequests returns the download host's request log.
func (e *env) downloadRequests() []gjson.Result {
	e.t.Helper()
	resp, err := e.client.Get(downloadURL + "/_emulator/download-requests")
	require.NoError(e.t, err)
	body := readAll(e.t, resp)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, "%s", body)
	return gjson.ParseBytes(body).Array()
}

// clearDownloadRequests empties the download host's request log.
func (e *env) clearDownloadRequests() {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, downloadURL+"/_emulator/download-requests", nil)
	require.NoError(e.t, err)
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	readAll(e.t, resp)
}

// assertNoAuthorizationReachedDownloadHost checks the download host's log:
// requests arrived, none with an Authorization header.
func (e *env) assertNoAuthorizationReachedDownloadHost() {
	e.t.Helper()
	logged := e.downloadRequests()
	require.NotEmpty(e.t, logged, "the download host saw the bridge's requests")
	for _, r := range logged {
		for name := range r.Get("headers").Map() {
			assert.NotEqual(e.t, "authorization", strings.ToLower(name), "the token reached the download host: %s", r.Raw)
		}
	}
}

// assertFileHeaders checks the headers every file answer carries.
func assertFileHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	assert.Equal(t, "private, no-store, no-transform", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "encode leaves the download alone")
}

// contentHash is the sha256 of a generated drive file's bytes.
func contentHash(t *testing.T, seed uint64, offset, length int64) string {
	t.Helper()
	h := sha256.New()
	_, err := io.Copy(h, emulator.DriveContentReader(seed, offset, length))
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// TestIntegrationFileDownloadBoundedMemory streams a 256 MiB file of a
// business drive through the bridge into a hash while sampling the heap:
// the bytes match, the heap does not grow with the file, the device's
// token never reaches the download host (which would answer 401), and the
// site's encode gzip leaves the bytes alone even though the client asks
// for gzip.
func TestIntegrationFileDownloadBoundedMemory(t *testing.T) {
	const size = 256 << 20
	const heapGrowthLimit = 16 << 20
	e := startFilesBridge(t, "", "")
	token := e.newDriveMailbox("business")
	file := e.addDriveItem(token, map[string]any{"name": "Keynote recording.mp4", "size": size, "mimeType": "video/mp4"})
	id, seed := file.Get("id").String(), file.Get("contentSeed").Uint()
	require.NotEmpty(t, id, file.Raw)
	want := contentHash(t, seed, 0, size)
	e.clearDownloadRequests()

	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&s)
				if s.HeapInuse > peak.Load() {
					peak.Store(s.HeapInuse)
				}
			}
		}
	}()

	resp := e.getFile(fileContentURL(id), token, "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, fmt.Sprint(size), resp.Header.Get("Content-Length"))
	assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	assertFileHeaders(t, resp)
	got := sha256.New()
	n, err := io.CopyBuffer(got, resp.Body, make([]byte, 32<<10))
	resp.Body.Close()
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, want, hex.EncodeToString(got.Sum(nil)), "the bytes arrive unchanged")
	growth := int64(peak.Load()) - int64(baseline)
	t.Logf("heap in use: baseline %d MiB, peak %d MiB, growth %d KiB for a %d MiB file",
		baseline>>20, peak.Load()>>20, growth>>10, size>>20)
	assert.Less(t, growth, int64(heapGrowthLimit), "the heap stays bounded while 256 MiB stream through")
	e.assertNoAuthorizationReachedDownloadHost()
}

// TestIntegrationFileDownloadRangeAndHTML downloads from a personal drive
// (ids with '!', sent as %21): a Range request is 206 with exactly those
// bytes, an unsatisfiable one 416, an HTML file comes as an attachment
// under CSP sandbox, and a folder is invalid_args.
func TestIntegrationFileDownloadRangeAndHTML(t *testing.T) {
	e := startFilesBridge(t, "", "")
	token := e.newDriveMailbox("personal")
	file := e.addDriveItem(token, map[string]any{"name": "report.pdf", "size": 1 << 20, "mimeType": "application/pdf"})
	id, seed := file.Get("id").String(), file.Get("contentSeed").Uint()
	require.Contains(t, id, "!", "personal item ids hold '!'")
	require.Contains(t, fileContentURL(id), "%21")

	resp := e.getFile(fileContentURL(id), token, "Range", "bytes=1000-1999", "Accept-Encoding", "gzip")
	body := readAll(t, resp)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode, "%s", body)
	assert.Equal(t, fmt.Sprintf("bytes 1000-1999/%d", 1<<20), resp.Header.Get("Content-Range"))
	assert.Equal(t, "1000", resp.Header.Get("Content-Length"))
	assertFileHeaders(t, resp)
	sum := sha256.Sum256(body)
	assert.Equal(t, contentHash(t, seed, 1000, 1000), hex.EncodeToString(sum[:]), "exactly the requested bytes")

	resp = e.getFile(fileContentURL(id), token, "Range", fmt.Sprintf("bytes=%d-", 2<<20))
	readAll(t, resp)
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	assert.Equal(t, fmt.Sprintf("bytes */%d", 1<<20), resp.Header.Get("Content-Range"))

	page := `<html><body><script>document.cookie</script></body></html>`
	html := e.addDriveItem(token, map[string]any{"name": "index.html", "content": page, "mimeType": "text/html"})
	resp = e.getFile(fileContentURL(html.Get("id").String()), token)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, page, string(body))
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"), resp.Header.Get("Content-Type"))
	assertFileHeaders(t, resp)

	folder := e.addDriveItem(token, map[string]any{"name": "Folder", "folder": true})
	resp = e.getFile(fileContentURL(folder.Get("id").String()), token)
	body = readAll(t, resp)
	assertDeviceError(t, resp, body, http.StatusBadRequest, "invalid_args")
	e.assertNoAuthorizationReachedDownloadHost()
}

// trapListener counts the TCP connections made to it (and closes them).
type trapListener struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newTrap(t *testing.T) *trapListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tr := &trapListener{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tr
}

func (tr *trapListener) port() int { return tr.ln.Addr().(*net.TCPAddr).Port }

// TestIntegrationFileDownloadRefusals: redirects to a host off file_hosts,
// to a host on it that is at a private address, and a third redirect are
// 502 upstream_error, with no connection to the refused target; two
// redirects are fine. The download host's 401 or 403 (an expired URL)
// is 502 without WWW-Authenticate. No log line, at DEBUG, holds the
// pre-authenticated URL's path or query.
func TestIntegrationFileDownloadRefusals(t *testing.T) {
	offList, private := newTrap(t), newTrap(t)
	cases := []struct {
		name, bridge, downloadHost string
		trap                       *trapListener
		status                     int
		code                       string
		hostRequests               int
		refused                    string // the refused metric's reason; "" for none
	}{
		{name: "two redirects are followed", downloadHost: "download_redirects 2", status: http.StatusOK, hostRequests: 3},
		{name: "a third redirect", downloadHost: "download_redirects 3", status: http.StatusBadGateway, code: "upstream_error", hostRequests: 3, refused: "redirects"},
		{
			name:         "redirect off the allow list",
			downloadHost: fmt.Sprintf("download_redirects 1\ndownload_redirect_origin https://localhost:%d", offList.port()),
			trap:         offList, status: http.StatusBadGateway, code: "upstream_error", hostRequests: 1, refused: "host",
		},
		{
			name:         "redirect to a private address",
			bridge:       fmt.Sprintf("file_hosts *.0.0.1:%d", private.port()),
			downloadHost: fmt.Sprintf("download_redirects 1\ndownload_redirect_origin https://127.0.0.1:%d", private.port()),
			trap:         private, status: http.StatusBadGateway, code: "upstream_error", hostRequests: 1, refused: "address",
		},
		{name: "download host 401", bridge: "", downloadHost: "", status: http.StatusBadGateway, code: "upstream_error", hostRequests: 1},
		{name: "download host 403", bridge: "", downloadHost: "download_denied_status 403", status: http.StatusBadGateway, code: "upstream_error", hostRequests: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config := filesServer(c.bridge, c.downloadHost)
			if strings.HasPrefix(c.name, "download host 40") {
				config.emulator = "download_url_lifetime 1ns"
			}
			e := startBridgeWith(t, config.caddyfile())
			token := e.newDriveMailbox("business")
			file := e.addDriveItem(token, map[string]any{"name": "secret plans.docx", "size": 4096})
			linkResult := ok(t, e.command(token, "files.link", map[string]any{"id": file.Get("id").String()}))
			link, err := url.Parse(linkResult.Get("url").String())
			require.NoError(t, err)
			require.NotEmpty(t, link.RawQuery, linkResult.Raw)
			e.clearDownloadRequests()
			refusedBefore := refusedCount(t, c.refused)
			capturedLogs.Reset()

			resp := e.getFile(fileContentURL(file.Get("id").String()), token)
			body := readAll(t, resp)
			require.Equal(t, c.status, resp.StatusCode, "%s", body)
			if c.code != "" {
				assertDeviceError(t, resp, body, c.status, c.code)
				assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "the device's token is fine")
			} else {
				assert.Len(t, body, 4096)
			}
			if c.trap != nil {
				assert.Zero(t, c.trap.accepted.Load(), "no connection to the refused target")
			}
			if c.refused != "" {
				assert.Equal(t, refusedBefore+1, refusedCount(t, c.refused), "refused for its reason: %s", c.refused)
			}
			assert.Len(t, e.downloadRequests(), c.hostRequests, "requests the download host saw")
			e.assertNoAuthorizationReachedDownloadHost()

			// Nothing of a pre-authenticated URL in the logs: its token
			// (tempauth) and its path below the download prefix (the UniqueId is
			// the item's GUID, which its ETag carries anyway).
			time.Sleep(50 * time.Millisecond)
			logs := capturedLogs.String()
			require.Contains(t, logs, `"level":"debug"`, "the logs are captured at DEBUG")
			for _, secret := range []string{"tempauth", "download.aspx", link.Query().Get("tempauth")} {
				for _, line := range strings.Split(logs, "\n") {
					assert.False(t, strings.Contains(line, secret), "a log line holds %q of the download URL: %.600s", secret, line)
				}
			}
		})
	}
}

// refusedCount is caddy_devicebridge_file_hosts_refused_total for reason.
func refusedCount(t *testing.T, reason string) int {
	t.Helper()
	if reason == "" {
		return 0
	}
	prefix := `caddy_devicebridge_file_hosts_refused_total{reason="` + reason + `"} `
	for _, line := range strings.Split(scrapeMetrics(t), "\n") {
		if strings.HasPrefix(line, prefix) {
			n, err := strconv.Atoi(strings.TrimPrefix(line, prefix))
			require.NoError(t, err, line)
			return n
		}
	}
	return 0
}

// TestIntegrationFileProxyOff: file_proxy off answers the endpoint 404
// without an upstream call, and files.link still works.
func TestIntegrationFileProxyOff(t *testing.T) {
	e := startFilesBridge(t, "file_proxy off", "")
	token := e.newDriveMailbox("business")
	file := e.addDriveItem(token, map[string]any{"name": "a.txt", "content": "hello"})
	e.clearUpstreamRequests()
	resp := e.getFile(fileContentURL(file.Get("id").String()), token)
	body := readAll(t, resp)
	assertDeviceError(t, resp, body, http.StatusNotFound, "not_found")
	assert.Empty(t, e.upstreamRequests().Array(), "no upstream call")
	link := ok(t, e.command(token, "files.link", map[string]any{"id": file.Get("id").String()}))
	assert.NotEmpty(t, link.Get("url").String())
}
