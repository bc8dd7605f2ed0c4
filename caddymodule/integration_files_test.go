package caddymodule_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

	heap := watchHeap(t)

	resp := e.getFile(fileContentURL(id), token, "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, fmt.Sprint(size), resp.Header.Get("Content-Length"))
	assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	assertFileHeaders(t, resp)
	got := sha256.New()
	n, err := io.CopyBuffer(got, resp.Body, make([]byte, 32<<10))
	resp.Body.Close()
	baseline, peak := heap.stop()
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, want, hex.EncodeToString(got.Sum(nil)), "the bytes arrive unchanged")
	growth := int64(peak) - int64(baseline)
	t.Logf("heap in use: baseline %d MiB, peak %d MiB, growth %d KiB for a %d MiB file",
		baseline>>20, peak>>20, growth>>10, size>>20)
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

// driveRootID is the root folder id of a mailbox's drive.
func (e *env) driveRootID(token string) string {
	e.t.Helper()
	d := gjson.ParseBytes(e.control("GET", "/_emulator/mailboxes/"+token+"/drive", nil, http.StatusOK))
	require.NotEmpty(e.t, d.Get("rootId").String(), d.Raw)
	return d.Get("rootId").String()
}

// syncFiles runs files.sync from state ("" for a first call, with args)
// until more is false and returns the upserted files by id, the deleted
// ids and the final state.
func (e *env) syncFiles(token, state string, args map[string]any) (map[string]gjson.Result, map[string]bool, string) {
	e.t.Helper()
	upserts, deletes := map[string]gjson.Result{}, map[string]bool{}
	for round := 0; round < 200; round++ {
		callArgs := map[string]any{}
		for k, v := range args {
			callArgs[k] = v
		}
		if state != "" {
			callArgs["state"] = state
		}
		data := ok(e.t, e.command(token, "files.sync", callArgs))
		for _, c := range data.Get("changes").Array() {
			switch c.Get("op").String() {
			case "upsert":
				f := c.Get("file")
				assert.False(e.t, f.Get("children").Exists(), "files.sync never sends children: %s", f.Raw)
				upserts[f.Get("id").String()] = f
				delete(deletes, f.Get("id").String())
			case "delete":
				deletes[c.Get("id").String()] = true
				delete(upserts, c.Get("id").String())
			default:
				e.t.Fatalf("unexpected change %s", c.Raw)
			}
		}
		state = data.Get("state").String()
		require.NotEmpty(e.t, state, data.Raw)
		if !data.Get("more").Bool() {
			return upserts, deletes, state
		}
	}
	e.t.Fatal("files.sync did not finish in 200 rounds")
	return nil, nil, ""
}

// TestIntegrationFilesSync, on both drive flavours: a full files.sync
// equals the emulator's tree; after a rename, a move and deletes through
// the control API the next round brings exactly those changes (plus the
// changed items' ancestors, as Graph's delta does); from: now brings no
// changes, then exactly one new file; an expired delta token is
// resync_required.
func TestIntegrationFilesSync(t *testing.T) {
	startFilesBridge(t, "", "")
	for _, flavour := range []string{"business", "personal"} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t)
			token := e.newDriveMailbox(flavour)
			root := e.driveRootID(token)
			docs := e.addDriveItem(token, map[string]any{"name": "Docs", "folder": true}).Get("id").String()
			photos := e.addDriveItem(token, map[string]any{"name": "Photos", "folder": true}).Get("id").String()
			want := map[string][2]string{ // id → name, parent
				root: {"", ""}, docs: {"Docs", root}, photos: {"Photos", root},
			}
			add := func(name, parent string) string {
				id := e.addDriveItem(token, map[string]any{"name": name, "parent": parent, "content": "content of " + name}).Get("id").String()
				want[id] = [2]string{name, parent}
				return id
			}
			a := add("a.txt", docs)
			b := add("b.txt", docs)
			p := add("p.jpg", photos)
			add("top.txt", root)
			for i := 0; i < 12; i++ {
				add(fmt.Sprintf("file %02d.txt", i), docs)
			}

			upserts, deletes, state := e.syncFiles(token, "", map[string]any{"window": 5})
			assert.Empty(t, deletes)
			require.Len(t, upserts, len(want), "the sync holds exactly the tree")
			for id, nameParent := range want {
				f, found := upserts[id]
				require.True(t, found, "%s is in the sync", id)
				if id == root {
					assert.True(t, f.Get("root").Bool(), f.Raw)
					continue
				}
				assert.Equal(t, nameParent[0], f.Get("name").String())
				assert.Equal(t, nameParent[1], f.Get("parent").String())
			}
			assert.Equal(t, "folder", upserts[docs].Get("kind").String())
			assert.Equal(t, "file", upserts[a].Get("kind").String())

			// A rename, a move, a file deleted and a folder deleted.
			e.control("PATCH", "/_emulator/mailboxes/"+token+"/drive/items/"+url.PathEscape(a), map[string]any{"name": "a renamed.txt"}, http.StatusOK)
			e.control("PATCH", "/_emulator/mailboxes/"+token+"/drive/items/"+url.PathEscape(p), map[string]any{"parent": docs}, http.StatusOK)
			e.control("DELETE", "/_emulator/mailboxes/"+token+"/drive/items/"+url.PathEscape(b), nil, http.StatusNoContent)
			e.control("DELETE", "/_emulator/mailboxes/"+token+"/drive/items/"+url.PathEscape(photos), nil, http.StatusNoContent)
			upserts, deletes, state = e.syncFiles(token, state, nil)
			assert.Equal(t, map[string]bool{b: true, photos: true}, deletes, "exactly the deleted items, keyed by id")
			require.Contains(t, upserts, a)
			assert.Equal(t, "a renamed.txt", upserts[a].Get("name").String())
			require.Contains(t, upserts, p)
			assert.Equal(t, docs, upserts[p].Get("parent").String())
			for id := range upserts {
				assert.Contains(t, []string{a, p, docs, root}, id, "only the changed items and their ancestors")
			}

			// from: now starts at the present, then one change arrives.
			data := ok(t, e.command(token, "files.sync", map[string]any{"from": "now"}))
			assert.Empty(t, data.Get("changes").Array(), data.Raw)
			assert.False(t, data.Get("more").Bool())
			now := data.Get("state").String()
			c := add("after now.txt", docs)
			upserts, deletes, _ = e.syncFiles(token, now, nil)
			assert.Empty(t, deletes)
			require.Contains(t, upserts, c)
			for id := range upserts {
				assert.Contains(t, []string{c, docs, root}, id, "only the new file and its ancestors")
			}

			// An expired delta token: resync_required.
			e.control("POST", "/_emulator/mailboxes/"+token+"/drive/expire-delta-tokens", nil, http.StatusOK)
			res := e.command(token, "files.sync", map[string]any{"state": state})
			assert.Equal(t, int64(410), res.Get("status").Int(), res.Raw)
			assert.Equal(t, "resync_required", res.Get("error.code").String(), res.Raw)
		})
	}
}

// TestIntegrationFilesListAndSearch lists folders of a personal drive (ids
// with '!'), pages, answers notModified to an unchanged folder's etag, and
// finds files by text with quotes, %, #, non-ASCII, '/' and '\'.
func TestIntegrationFilesListAndSearch(t *testing.T) {
	e := startFilesBridge(t, "", "")
	token := e.newDriveMailbox("personal")
	docs := e.addDriveItem(token, map[string]any{"name": "Docs", "folder": true}).Get("id").String()
	require.Contains(t, docs, "!")
	special := e.addDriveItem(token, map[string]any{"name": "Reports O'Brien 50% #1 Zoë.txt", "parent": docs, "content": "x"}).Get("id").String()
	for i := 0; i < 4; i++ {
		e.addDriveItem(token, map[string]any{"name": fmt.Sprintf("plain %d.txt", i), "parent": docs, "content": "y"})
	}

	var names []string
	args := map[string]any{"folder": docs, "window": 2}
	for round := 0; ; round++ {
		require.Less(t, round, 10)
		data := ok(t, e.command(token, "files.list", args))
		for _, f := range data.Get("files").Array() {
			assert.Equal(t, docs, f.Get("parent").String())
			names = append(names, f.Get("name").String())
		}
		if !data.Get("more").Bool() {
			assert.False(t, data.Get("state").Exists())
			break
		}
		args = map[string]any{"folder": docs, "state": data.Get("state").String()}
	}
	assert.Equal(t, []string{"plain 0.txt", "plain 1.txt", "plain 2.txt", "plain 3.txt", "Reports O'Brien 50% #1 Zoë.txt"}, names, "name order, every page")

	rootList := ok(t, e.command(token, "files.list", map[string]any{}))
	var docsEntry gjson.Result
	for _, f := range rootList.Get("files").Array() {
		if f.Get("id").String() == docs {
			docsEntry = f
		}
	}
	require.True(t, docsEntry.Exists(), rootList.Raw)
	assert.Equal(t, int64(5), docsEntry.Get("children").Int())
	folderEtag := gjson.ParseBytes(e.graph(token, "GET", "/me/drive/items/"+url.PathEscape(docs)+"?$select=eTag", nil, http.StatusOK)).Get("eTag").String()
	require.NotEmpty(t, folderEtag)
	e.clearUpstreamRequests()
	unchanged := ok(t, e.command(token, "files.list", map[string]any{"folder": docs, "etag": folderEtag}))
	assert.JSONEq(t, `{"notModified":true}`, unchanged.Raw)
	assert.Equal(t, folderEtag, e.upstreamRequests().Get("0.headers.If-None-Match.0").String(), "the etag went upstream as If-None-Match")

	for _, q := range []string{"O'Brien", "50%", "#1", "Zoë", "Reports/O'Brien", `Reports\O'Brien`, "o'brien 50% #1 zoë"} {
		t.Run(q, func(t *testing.T) {
			data := ok(t, e.command(token, "files.search", map[string]any{"query": q}))
			var ids []string
			for _, f := range data.Get("files").Array() {
				ids = append(ids, f.Get("id").String())
			}
			assert.Equal(t, []string{special}, ids, data.Raw)
		})
	}
	none := ok(t, e.command(token, "files.search", map[string]any{"query": `"quoted" text`}))
	assert.Empty(t, none.Get("files").Array(), none.Raw)
}

// TestIntegrationAttachmentsRecent: messages with attachments across
// folders come newest first with their folder, kind for file, item and
// link attachments, never their content; a message without attachments
// does not come.
func TestIntegrationAttachmentsRecent(t *testing.T) {
	e := startFilesBridge(t, "", "")
	token := e.newMailbox("empty")
	now := time.Now().UTC().Truncate(time.Second)
	deliver := func(folder, subject string, age time.Duration, attachments []any) string {
		body := map[string]any{
			"folder": folder, "subject": subject, "receivedDateTime": now.Add(-age).Format(time.RFC3339),
			"body": map[string]any{"contentType": "text", "content": "see attached"},
		}
		if attachments != nil {
			body["attachments"] = attachments
		}
		return gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", body, http.StatusCreated)).Get("immutableId").String()
	}
	const secret = "Q09OVEVOVC1NVVNULU5PVC1BUFBFQVI="
	inbox := deliver("inbox", "file in inbox", 3*time.Hour, []any{map[string]any{"name": "a.txt", "contentType": "text/plain", "contentBytes": secret}})
	junk := deliver("junkemail", "link in junk", 2*time.Hour, []any{map[string]any{"name": "Plan", "kind": "reference"}})
	archive := deliver("archive", "item in archive", 1*time.Hour, []any{map[string]any{"name": "Forwarded", "kind": "item"}})
	deliver("inbox", "no attachment", 30*time.Minute, nil)
	deliver("inbox", "too old", 72*time.Hour, []any{map[string]any{"name": "old.txt", "contentType": "text/plain", "contentBytes": secret}})

	result := e.command(token, "attachments.recent", map[string]any{"since": now.Add(-24 * time.Hour).Format(time.RFC3339)})
	data := ok(t, result)
	assert.NotContains(t, result.Raw, secret, "no attachment content in the answer")
	assert.NotContains(t, result.Raw, "contentBytes")
	items := data.Get("items").Array()
	require.Len(t, items, 3, data.Raw)
	var ids, kinds, folders []string
	for _, it := range items {
		ids = append(ids, it.Get("message.id").String())
		kinds = append(kinds, it.Get("attachments.0.kind").String())
		folders = append(folders, it.Get("message.folder").String())
	}
	assert.Equal(t, []string{archive, junk, inbox}, ids, "newest first, across folders")
	assert.Equal(t, []string{"item", "link", "file"}, kinds)
	assert.Len(t, map[string]bool{folders[0]: true, folders[1]: true, folders[2]: true}, 3, "each names its own folder")
	assert.Equal(t, "a.txt", items[2].Get("attachments.0.name").String())

	// folder narrows to one folder.
	only := ok(t, e.command(token, "attachments.recent", map[string]any{"folder": "junkemail", "since": now.Add(-24 * time.Hour).Format(time.RFC3339)}))
	require.Len(t, only.Get("items").Array(), 1, only.Raw)
	assert.Equal(t, junk, only.Get("items.0.message.id").String())
}

// TestIntegrationFilesSharedFolder: a folder another user shares appears
// in a personal drive's listing with remote {drive, id}; listing it with
// drive = remote.drive and folder = remote.id shows its files, and one
// downloads through the bridge with ?drive=.
func TestIntegrationFilesSharedFolder(t *testing.T) {
	e := startFilesBridge(t, "", "")
	owner, reader := e.newDriveMailbox("personal"), e.newDriveMailbox("personal")
	team := e.addDriveItem(owner, map[string]any{"name": "Team", "folder": true})
	plan := e.addDriveItem(owner, map[string]any{"name": "plan.txt", "parent": team.Get("id").String(), "content": "the plan"})
	e.control("POST", "/_emulator/mailboxes/"+owner+"/drive/items/"+url.PathEscape(team.Get("id").String())+"/share",
		map[string]any{"token": reader}, http.StatusCreated)

	root := ok(t, e.command(reader, "files.list", map[string]any{}))
	var entry gjson.Result
	for _, f := range root.Get("files").Array() {
		if f.Get("name").String() == "Team" {
			entry = f
		}
	}
	require.True(t, entry.Exists(), root.Raw)
	assert.Equal(t, "folder", entry.Get("kind").String())
	remoteDrive, remoteID := entry.Get("remote.drive").String(), entry.Get("remote.id").String()
	assert.Equal(t, team.Get("driveId").String(), remoteDrive, entry.Raw)
	assert.Equal(t, team.Get("id").String(), remoteID, entry.Raw)

	inside := ok(t, e.command(reader, "files.list", map[string]any{"drive": remoteDrive, "folder": remoteID}))
	require.Len(t, inside.Get("files").Array(), 1, inside.Raw)
	assert.Equal(t, plan.Get("id").String(), inside.Get("files.0.id").String())

	resp := e.getFile(fileContentURL(plan.Get("id").String())+"?drive="+url.QueryEscape(remoteDrive), reader)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "the plan", string(body))
}
