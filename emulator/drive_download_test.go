package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noRedirect is a client that shows 302s instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type fetched struct {
	status int
	header http.Header
	body   []byte
}

func fetch(t *testing.T, rawURL string, header http.Header) fetched {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	for k, vs := range header {
		r.Header[k] = vs
	}
	res, err := noRedirect.Do(r)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return fetched{res.StatusCode, res.Header, body}
}

func driveBytes(seed uint64, off, n int64) []byte {
	b, _ := io.ReadAll(DriveContentReader(seed, off, n))
	return b
}

func TestDriveContentReaderIsRandomAccess(t *testing.T) {
	whole := driveBytes(42, 0, 1000)
	require.Len(t, whole, 1000)
	for _, c := range []struct{ off, n int64 }{{0, 1}, {3, 17}, {8, 8}, {13, 987}, {999, 1}, {500, 0}} {
		assert.Equal(t, whole[c.off:c.off+c.n], driveBytes(42, c.off, c.n), "offset %d", c.off)
	}
	var small bytes.Buffer
	_, err := io.CopyBuffer(&small, io.LimitReader(DriveContentReader(42, 0, 1000), 1000), make([]byte, 3))
	require.NoError(t, err)
	assert.Equal(t, whole, small.Bytes(), "odd read sizes")
	assert.NotEqual(t, whole[:64], driveBytes(43, 0, 64))
}

func TestDriveDownloadViaSeparateHost(t *testing.T) {
	for _, flavour := range []string{DriveBusiness, DrivePersonal} {
		t.Run(flavour, func(t *testing.T) {
			e, dts, dl := newDriveEnv(t, Options{Seed: SeedNone})
			e.newDriveMailbox("f1", flavour)
			const size = 3<<20 + 5
			info := e.control(http.MethodPost, "/mailboxes/f1/drive/items", `{"name":"data file #1.bin","size":`+fmt.Sprint(size)+`}`, http.StatusCreated)
			id := info["id"].(string)
			seed := uint64(info["contentSeed"].(float64))
			require.NotZero(t, seed)

			// /content answers 302 to the download host, a different host:port.
			res := fetch(t, e.ts.URL+"/v1.0/me/drive/items/"+url.PathEscape(id)+"/content", http.Header{"Authorization": {"Bearer f1"}})
			require.Equal(t, http.StatusFound, res.status, "%s", res.body)
			loc := res.header.Get("Location")
			require.True(t, strings.HasPrefix(loc, dts.URL+DefaultDownloadPrefix+"/"), loc)
			item := e.do(req{path: "/v1.0/me/drive/items/" + url.PathEscape(id) + "?$select=id,@microsoft.graph.downloadUrl", token: "f1"}).json(t)
			dlURL := item["@microsoft.graph.downloadUrl"].(string)
			assert.True(t, strings.HasPrefix(dlURL, dts.URL), dlURL)
			assert.Len(t, item, 3, "@odata.context, id and the download URL: %v", item)
			if flavour == DriveBusiness {
				assert.Contains(t, loc, "/_layouts/15/download.aspx?UniqueId=")
				assert.Contains(t, loc, "&tempauth=")
			} else {
				assert.Contains(t, loc, "/y4m")
				assert.Contains(t, loc, "?download&psid=1")
			}

			// Without Authorization: the bytes.
			got := fetch(t, loc, nil)
			require.Equal(t, http.StatusOK, got.status, "%s", got.body)
			assert.Equal(t, fmt.Sprint(size), got.header.Get("Content-Length"))
			assert.Equal(t, "bytes", got.header.Get("Accept-Ranges"))
			assert.NotEmpty(t, got.header.Get("ETag"))
			assert.True(t, bytes.Equal(driveBytes(seed, 0, size), got.body), "the generated content")

			// With Authorization (a bearer token forwarded): 401 and a challenge.
			dl.ClearRequests()
			denied := fetch(t, loc, http.Header{"Authorization": {"Bearer f1"}})
			assert.Equal(t, http.StatusUnauthorized, denied.status)
			assert.Contains(t, denied.header.Get("WWW-Authenticate"), "Bearer")
			logged := dl.Requests()
			require.Len(t, logged, 1)
			assert.Equal(t, []string{"present"}, logged[0].Headers["Authorization"], "the log shows a token arrived, not the token")

			// Range: 206 with Content-Range, suffix ranges, 416, ignored forms.
			part := fetch(t, loc, http.Header{"Range": {"bytes=1000-1999"}})
			require.Equal(t, http.StatusPartialContent, part.status)
			assert.Equal(t, fmt.Sprintf("bytes 1000-1999/%d", size), part.header.Get("Content-Range"))
			assert.Equal(t, driveBytes(seed, 1000, 1000), part.body)
			tail := fetch(t, loc, http.Header{"Range": {"bytes=-7"}})
			require.Equal(t, http.StatusPartialContent, tail.status)
			assert.Equal(t, driveBytes(seed, size-7, 7), tail.body)
			open := fetch(t, loc, http.Header{"Range": {fmt.Sprintf("bytes=%d-", size-3)}})
			assert.Equal(t, driveBytes(seed, size-3, 3), open.body)
			bad := fetch(t, loc, http.Header{"Range": {fmt.Sprintf("bytes=%d-", size)}})
			assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, bad.status)
			assert.Equal(t, fmt.Sprintf("bytes */%d", size), bad.header.Get("Content-Range"))
			multi := fetch(t, loc, http.Header{"Range": {"bytes=0-1,5-6"}})
			assert.Equal(t, http.StatusOK, multi.status, "several ranges: the whole file")
			stale := fetch(t, loc, http.Header{"Range": {"bytes=0-1"}, "If-Range": {`"old"`}})
			assert.Equal(t, http.StatusOK, stale.status, "If-Range mismatch: the whole file")
			assert.Len(t, stale.body, size)

			// Altered URLs: a changed token byte, a changed path, reordered query.
			u, err := url.Parse(loc)
			require.NoError(t, err)
			altered := []string{strings.Replace(loc, "psid=1", "psid=2", 1), strings.Replace(loc, "Translate=false", "Translate=true", 1)}
			if flavour == DriveBusiness {
				q := strings.Split(u.RawQuery, "&")
				q[0], q[1] = q[1], q[0]
				altered = append(altered, dts.URL+u.EscapedPath()+"?"+strings.Join(q, "&"))
			} else {
				altered = append(altered, strings.Replace(loc, "/data%20file", "/other%20file", 1))
			}
			tok := strings.Index(loc, "tempauth=") + len("tempauth=")
			if flavour == DrivePersonal {
				tok = strings.Index(loc, "/y4m") + len("/y4m")
			}
			dot := tok + strings.IndexByte(loc[tok:], '.')
			for _, i := range []int{tok + 3, dot + 3} {
				flipped := []byte(loc)
				if flipped[i] == 'A' {
					flipped[i] = 'B'
				} else {
					flipped[i] = 'A'
				}
				altered = append(altered, string(flipped))
			}
			for _, a := range altered {
				if a == loc {
					continue
				}
				assert.Equal(t, http.StatusUnauthorized, fetch(t, a, nil).status, a)
			}

			// Expired: every URL issued so far.
			dl.ExpireURLs()
			assert.Equal(t, http.StatusUnauthorized, fetch(t, loc, nil).status)
			fresh := e.do(req{path: "/v1.0/me/drive/items/" + url.PathEscape(id) + "?$select=@microsoft.graph.downloadUrl", token: "f1"}).json(t)
			time.Sleep(time.Millisecond)
			assert.Equal(t, http.StatusPartialContent, fetch(t, fresh["@microsoft.graph.downloadUrl"].(string), http.Header{"Range": {"bytes=0-0"}}).status, "a new URL works")
		})
	}
}

func TestDriveDownloadExpiryAndDeniedStatus(t *testing.T) {
	// A URL past its lifetime answers 401 (or the configured 403).
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		dl, err := NewDownloadHandler(DownloadOptions{Key: driveTestKey, DeniedStatus: status, Now: later})
		require.NoError(t, err)
		dts := httptest.NewServer(dl)
		e := newEnv(t, Options{DownloadOrigin: dts.URL, DownloadKey: driveTestKey, Quirks: Quirks{DownloadDeniedStatus: status}})
		readme := e.driveList("/v1.0/me/drive/root/search(q='readme')?$select=name,@microsoft.graph.downloadUrl", "demo").Value[0]
		res := fetch(t, readme["@microsoft.graph.downloadUrl"].(string), nil)
		assert.Equal(t, status, res.status)
		assert.Equal(t, status == http.StatusUnauthorized, res.header.Get("WWW-Authenticate") != "")
		dts.Close()
	}
	// The default lifetime is an hour; a shorter one is an option.
	e := newEnv(t, Options{DownloadURLLifetime: time.Nanosecond})
	readme := e.driveList("/v1.0/me/drive/root/search(q='readme')?$select=name,@microsoft.graph.downloadUrl", "demo").Value[0]
	time.Sleep(2 * time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, fetch(t, readme["@microsoft.graph.downloadUrl"].(string), nil).status)
}

func TestDriveDownloadSameHostAndControl(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.driveList("/v1.0/me/drive/root/children?$select=name,file,@microsoft.graph.downloadUrl", "demo")
	var html string
	for _, it := range p.Value {
		if it["name"] == DemoDriveHTMLName {
			html = it["@microsoft.graph.downloadUrl"].(string)
		}
		if _, isFile := it["file"]; !isFile {
			assert.NotContains(t, it, "@microsoft.graph.downloadUrl", "folders have no download URL")
		}
	}
	require.True(t, strings.HasPrefix(html, e.ts.URL+"/_download/"), html)
	res := fetch(t, html, nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, DemoDriveHTML, string(res.body))
	assert.Equal(t, "text/html", res.header.Get("Content-Type"))
	assert.Contains(t, res.header.Get("Content-Disposition"), "attachment")
	e.control(http.MethodPost, "/download-urls/expire", "", http.StatusNoContent)
	assert.Equal(t, http.StatusUnauthorized, fetch(t, html, nil).status)

	// The quirk where /content answers 200 with the bytes itself.
	direct := newEnv(t, Options{Quirks: Quirks{DriveContentDirect: true}})
	item := direct.driveList("/v1.0/me/drive/root/search(q='readme')?$select=id", "demo").Value[0]
	res = fetch(t, direct.ts.URL+"/v1.0/me/drive/items/"+item["id"].(string)+"/content", http.Header{"Authorization": {"Bearer demo"}})
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "Welcome to your OneDrive.\n", string(res.body))
	// A folder has no content.
	res = fetch(t, direct.ts.URL+"/v1.0/me/drive/root/content", http.Header{"Authorization": {"Bearer demo"}})
	assert.Equal(t, http.StatusBadRequest, res.status)
}

// TestDriveDownloadLargeFileBoundedMemory streams the demo drive's 256 MiB
// video from the download host into a hash while sampling the heap: the
// bytes match and the heap does not grow with the file.
func TestDriveDownloadLargeFileBoundedMemory(t *testing.T) {
	const heapGrowthLimit = 16 << 20
	e, _, _ := newDriveEnv(t, Options{Seed: SeedNone})
	e.newDriveMailbox("big", DriveBusiness)
	p := e.driveList("/v1.0/me/drive/root/search(q='"+url.PathEscape("keynote")+"')?$select=id,name,size,@microsoft.graph.downloadUrl", "big")
	require.Len(t, p.Value, 1)
	video := p.Value[0]
	require.EqualValues(t, DemoDriveLargeFileSize, video["size"])

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
	res, err := http.Get(video["@microsoft.graph.downloadUrl"].(string))
	require.NoError(t, err)
	gotHash := sha256.New()
	n, err := io.CopyBuffer(gotHash, res.Body, make([]byte, 32<<10))
	res.Body.Close()
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, int64(DemoDriveLargeFileSize), n)
	growth := int64(peak.Load()) - int64(baseline)
	t.Logf("heap in use: baseline %d MiB, peak %d MiB, growth %d KiB for a %d MiB file",
		baseline>>20, peak.Load()>>20, growth>>10, DemoDriveLargeFileSize>>20)
	assert.Less(t, growth, int64(heapGrowthLimit), "the heap stays bounded while 256 MiB stream out")

	// The bytes are the drive's content: its seed is the item's.
	e.srv.mu.RLock()
	mb := e.srv.byToken["big"]
	e.srv.mu.RUnlock()
	mb.mu.RLock()
	seed := mb.drive.item(video["id"].(string)).seed
	mb.mu.RUnlock()
	wantHash := sha256.New()
	_, err = io.Copy(wantHash, DriveContentReader(seed, 0, DemoDriveLargeFileSize))
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(wantHash.Sum(nil)), hex.EncodeToString(gotHash.Sum(nil)))
}

func TestDriveDownloadRedirectHops(t *testing.T) {
	e, dts, _ := newDriveEnv(t, Options{Quirks: Quirks{DownloadRedirects: 2}})
	readme := e.driveList("/v1.0/me/drive/root/search(q='readme')?$select=name,@microsoft.graph.downloadUrl", "demo").Value[0]
	next := readme["@microsoft.graph.downloadUrl"].(string)
	for hop := 1; hop <= 2; hop++ {
		res := fetch(t, next, nil)
		require.Equal(t, http.StatusFound, res.status, "hop %d", hop)
		next = res.header.Get("Location")
		assert.True(t, strings.HasPrefix(next, dts.URL), next)
		assert.True(t, strings.HasSuffix(next, fmt.Sprintf("&hop=%d", hop)), next)
		assert.Equal(t, http.StatusUnauthorized, fetch(t, strings.Replace(next, fmt.Sprintf("hop=%d", hop), "hop=9", 1), nil).status, "the hop is signed")
	}
	res := fetch(t, next, nil)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "Welcome to your OneDrive.\n", string(res.body))

	// Hops to another origin (an off-list or private host in bridge tests).
	elsewhere := httptest.NewServer(http.NotFoundHandler())
	defer elsewhere.Close()
	dl, err := NewDownloadHandler(DownloadOptions{Redirects: 1, RedirectOrigin: elsewhere.URL})
	require.NoError(t, err)
	other := httptest.NewServer(dl)
	defer other.Close()
	e2 := newEnv(t, Options{DownloadOrigin: other.URL})
	readme = e2.driveList("/v1.0/me/drive/root/search(q='readme')?$select=name,@microsoft.graph.downloadUrl", "demo").Value[0]
	res = fetch(t, readme["@microsoft.graph.downloadUrl"].(string), nil)
	require.Equal(t, http.StatusFound, res.status)
	assert.True(t, strings.HasPrefix(res.header.Get("Location"), elsewhere.URL+"/_download/"), res.header.Get("Location"))
}
