package caddymodule

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

func TestDefaultFileHostsPerCloud(t *testing.T) {
	assert.Equal(t, []string{"*.sharepoint.com", "my.microsoftpersonalcontent.com", "*.files.1drv.com"}, defaultFileHosts("graph.microsoft.com"))
	assert.Equal(t, []string{"*.sharepoint.us"}, defaultFileHosts("GRAPH.microsoft.us"))
	assert.Equal(t, []string{"*.sharepoint-mil.us"}, defaultFileHosts("dod-graph.microsoft.us"))
	assert.Equal(t, []string{"*.sharepoint.cn"}, defaultFileHosts("microsoftgraph.chinacloudapi.cn"))
	assert.Equal(t, globalFileHosts, defaultFileHosts("localhost"))
}

func TestParseFileHostsRefusesNonHosts(t *testing.T) {
	for _, entry := range []string{"", "*.", "https://x.example", "x.example/path", "user@x.example", "*.*.example", "a b"} {
		_, err := parseFileHosts([]string{entry}, true)
		assert.Error(t, err, "%q", entry)
	}
	_, err := parseFileHosts([]string{"x.example", "*.x.example:8443", "localhost:9445"}, true)
	assert.NoError(t, err)
}

func TestFileHostCheck(t *testing.T) {
	defaults, err := parseFileHosts(globalFileHosts, false)
	require.NoError(t, err)
	configured, err := parseFileHosts([]string{"files.example", "*.cdn.example:8443"}, true)
	require.NoError(t, err)
	cases := []struct {
		list   *fileHostList
		url    string
		reason string
		named  bool
	}{
		{defaults, "https://contoso-my.sharepoint.com/personal/x/_layouts/15/download.aspx?tempauth=1", "", false},
		{defaults, "https://CONTOSO.SharePoint.com./x", "", false},
		{defaults, "https://my.microsoftpersonalcontent.com/y4m", "", false},
		{defaults, "https://public.bn1302.files.1drv.com/y4m", "", false},
		{defaults, "http://contoso.sharepoint.com/x", refusedScheme, false},
		{defaults, "https://user:pw@contoso.sharepoint.com/x", refusedScheme, false},
		{defaults, "https://sharepoint.com/x", refusedHost, false},
		{defaults, "https://contoso.sharepoint.com.evil.example/x", refusedHost, false},
		{defaults, "https://evilsharepoint.com/x", refusedHost, false},
		{defaults, "https://contoso.sharepoint.com:8443/x", refusedHost, false},
		{defaults, "https://127.0.0.1/x", refusedHost, false},
		{configured, "https://files.example/x", "", true},
		{configured, "https://files.example:443/x", "", true},
		{configured, "https://sub.files.example/x", refusedHost, false},
		{configured, "https://a.cdn.example:8443/x", "", false},
		{configured, "https://a.cdn.example/x", refusedHost, false},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		require.NoError(t, err)
		reason, named := c.list.check(u)
		assert.Equal(t, c.reason, reason, c.url)
		assert.Equal(t, c.named, named, c.url)
	}
	assert.True(t, configured.namedHost("FILES.example:443"))
	assert.False(t, configured.namedHost("files.example:8443"))
	assert.False(t, configured.namedHost("a.cdn.example:8443"), "a wildcard names no host")
	assert.False(t, defaults.namedHost("my.microsoftpersonalcontent.com:443"), "defaults are not the operator's own names")
}

func TestIsPublicAddress(t *testing.T) {
	for addr, public := range map[string]bool{
		"20.190.151.68": true, "13.107.136.9": true, "2603:1036::1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false,
		"224.0.0.1": false, "198.18.0.1": false, "::1": false, "fe80::1": false, "fc00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "::": false,
	} {
		assert.Equal(t, public, isPublicAddress(netip.MustParseAddr(addr)), addr)
	}
}

func TestScrubURLsKeepsSchemeAndHostOnly(t *testing.T) {
	in := `Get "https://contoso-my.sharepoint.com/personal/u/_layouts/15/download.aspx?UniqueId=1&tempauth=SECRET": EOF; redirect to https://x.example:8443/p?q=SECRET2 refused`
	out := scrubURLs(in)
	assert.NotContains(t, out, "SECRET")
	assert.NotContains(t, out, "download.aspx")
	assert.Contains(t, out, "https://contoso-my.sharepoint.com")
	assert.Contains(t, out, "https://x.example:8443")
}

// TestFileRequestKeepsTheURLsBytes: the request line carries the path and
// query exactly as Graph wrote them (a signed URL breaks if Go re-escapes
// it), and the request carries nothing but User-Agent and
// Accept-Encoding.
func TestFileRequestKeepsTheURLsBytes(t *testing.T) {
	hosts, err := parseFileHosts(globalFileHosts, false)
	require.NoError(t, err)
	f := newFileFetcher(hosts, nil, 1, time.Second, func(string) {})
	for _, raw := range []string{
		"https://contoso-my.sharepoint.com/personal/a_b/_layouts/15/download.aspx?UniqueId=x&Translate=false&tempauth=e%2By&ApiVersion=2.0",
		"https://public.files.1drv.com/y4mAbC{}'!/Report%20O'Brien%2550%25.docx?download&psid=1",
		"https://my.microsoftpersonalcontent.com/a;b=c/%7e?z=1&a=2#frag",
	} {
		req, _, reason := f.newRequest(context.Background(), raw)
		require.Empty(t, reason, raw)
		want := strings.SplitN(strings.SplitN(raw, "#", 2)[0], "/", 4)[3]
		assert.Equal(t, "/"+want, req.URL.RequestURI(), raw)
		assert.Equal(t, http.Header{"User-Agent": {fileUserAgent}, "Accept-Encoding": {"identity"}}, req.Header)
	}
	for _, raw := range []string{"https://evil.example/x", "https://contoso.sharepoint.com//double", "ftp://contoso.sharepoint.com/x", "%zz"} {
		_, _, reason := f.newRequest(context.Background(), raw)
		assert.NotEmpty(t, reason, raw)
	}
}

// FuzzFileDownloadURL: whatever URL Graph's JSON holds, a request is built
// only for an allowed https host, and then its request line is the URL's
// path and query byte for byte.
func FuzzFileDownloadURL(f *testing.F) {
	for _, seed := range []string{
		"https://contoso-my.sharepoint.com/personal/a/_layouts/15/download.aspx?tempauth=x",
		"https://a.files.1drv.com/y4m/%2e%2e/x?download", "https://a.sharepoint.com@evil.example/",
		"https://evil.example#@a.sharepoint.com/", "https://a.sharepoint.com\\@evil.example/", "https://[::1]/",
	} {
		f.Add(seed)
	}
	hosts, err := parseFileHosts(globalFileHosts, false)
	if err != nil {
		f.Fatal(err)
	}
	fetcher := newFileFetcher(hosts, nil, 1, time.Second, func(string) {})
	f.Fuzz(func(t *testing.T, raw string) {
		req, _, reason := fetcher.newRequest(context.Background(), raw)
		if reason != "" {
			return
		}
		if r, _ := hosts.check(req.URL); r != "" {
			t.Fatalf("%q: a request to a refused host", raw)
		}
		if !strings.HasPrefix(raw, req.URL.Scheme+"://"+req.URL.Host) {
			t.Fatalf("%q: host %q is not the URL's", raw, req.URL.Host)
		}
		rest := strings.SplitN(raw[len(req.URL.Scheme+"://"+req.URL.Host):], "#", 2)[0]
		if rest == "" || rest[0] == '?' {
			rest = "/" + rest
		}
		if got := req.URL.RequestURI(); got != rest && !(strings.HasSuffix(rest, "?") && got == strings.TrimSuffix(rest, "?")) {
			t.Fatalf("%q: request line %q, want %q", raw, got, rest)
		}
		if _, ok := req.Header["Authorization"]; ok {
			t.Fatalf("%q: Authorization on a download request", raw)
		}
	})
}

// testFileHandler is a handler with only what the download leg needs.
func testFileHandler(t *testing.T, srv *httptest.Server, idle time.Duration) *Handler {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	hosts, err := parseFileHosts([]string{u.Host}, true)
	require.NoError(t, err)
	roots := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	h := &Handler{logger: zap.NewNop(), metrics: newMetrics()}
	h.files = newFileFetcher(hosts, roots, 2, idle, h.metrics.countFileHostRefused)
	return h
}

// TestFileStreamIdleTimeout: a download host that stops sending mid-body
// ends the transfer after the idle timeout, aborting the device's
// response (never completed short); a slow but steady one is not cut.
func TestFileStreamIdleTimeout(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("Authorization"))
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		steady := r.URL.Path == "/steady"
		for i := 0; i < 10; i++ {
			_, _ = w.Write(make([]byte, 50))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		if !steady {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		_, _ = w.Write(make([]byte, 500))
	}))
	defer srv.Close()
	h := testFileHandler(t, srv, 150*time.Millisecond)

	rec := httptest.NewRecorder()
	require.NoError(t, h.files.stream(h, rec, context.Background(), srv.URL+"/steady", "", ""))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 1000, rec.Body.Len(), "a slow but steady download is not cut")

	rec = httptest.NewRecorder()
	started := time.Now()
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		_ = h.files.stream(h, rec, context.Background(), srv.URL+"/stall", "", "")
	}, "a stalled download aborts the device's response")
	assert.Less(t, time.Since(started), 3*time.Second, "the idle timeout ended it")
	assert.Equal(t, 500, rec.Body.Len())
}

// TestFileStreamsAreCapped: with max_file_streams downloads running, one
// more is 503 with Retry-After before any upstream call; an oversized
// Range is invalid_args, also before any upstream call.
func TestFileStreamsAreCapped(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	h := testFileHandler(t, srv, time.Second)
	tr, err := newTestTranslator()
	require.NoError(t, err)
	h.translator = tr
	// A Range header over 1024 bytes is invalid_args before any upstream
	// call (next is nil: reaching it would panic).
	long := httptest.NewRequest(http.MethodGet, "https://bridge.example/device/v1/files/abc/content", nil)
	long.Header.Set("Authorization", "Bearer x")
	long.Header.Set("Range", "bytes="+strings.Repeat("1-2,", 300))
	rec := httptest.NewRecorder()
	require.NoError(t, h.serveFile(rec, long, nil, "abc"))
	assert.Equal(t, http.StatusBadRequest, rec.Code)

	for i := 0; i < cap(h.files.slots); i++ {
		h.files.slots <- struct{}{}
	}
	req := httptest.NewRequest(http.MethodGet, "https://bridge.example/device/v1/files/abc/content", nil)
	req.Header.Set("Authorization", "Bearer x")
	rec = httptest.NewRecorder()
	require.NoError(t, h.serveFile(rec, req, nil, "abc"))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	body, _ := io.ReadAll(rec.Body)
	assert.Contains(t, string(body), "upstream_unavailable")
}

// newTestTranslator is a translator for Graph's global endpoint.
func newTestTranslator() (*translate.Translator, error) {
	return translate.New(translate.Options{Upstream: "https://graph.microsoft.com/v1.0", StateKeys: [][]byte{make([]byte, translate.StateKeySize)}})
}
