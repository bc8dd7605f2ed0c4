package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testEnv is an emulator behind an httptest server.
type testEnv struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
}

func newEnv(t *testing.T, opts Options) *testEnv {
	t.Helper()
	srv, err := NewServer(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{t: t, srv: srv, ts: ts}
}

// req describes a test request.
type req struct {
	method  string
	path    string // path and query, or an absolute URL
	token   string
	headers http.Header
	body    string
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

func (e *testEnv) do(r req) resp {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	u := r.path
	if !strings.HasPrefix(u, "http") {
		u = e.ts.URL + u
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, u, body)
	require.NoError(e.t, err)
	for k, vs := range r.headers {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.body != "" && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	res, err := e.ts.Client().Do(hr)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// deltaPage is a decoded delta or list page.
type deltaPage struct {
	Context   string           `json:"@odata.context"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
	Value     []map[string]any `json:"value"`
}

func (e *testEnv) page(r req) deltaPage {
	e.t.Helper()
	res := e.do(r)
	require.Equal(e.t, http.StatusOK, res.status, "GET %s: %s", r.path, res.body)
	var p deltaPage
	require.NoError(e.t, json.Unmarshal(res.body, &p))
	require.True(e.t, (p.NextLink == "") != (p.DeltaLink == ""), "exactly one of nextLink/deltaLink: %s", res.body)
	return p
}

// round follows a delta round from url to its deltaLink and returns all
// items and the deltaLink.
func (e *testEnv) round(url, token string, headers http.Header) ([]map[string]any, string, int) {
	e.t.Helper()
	var items []map[string]any
	pages := 0
	for i := 0; i < 10000; i++ {
		p := e.page(req{path: url, token: token, headers: headers})
		pages++
		items = append(items, p.Value...)
		if p.DeltaLink != "" {
			return items, p.DeltaLink, pages
		}
		url = p.NextLink
	}
	e.t.Fatal("delta round did not end")
	return nil, "", 0
}

func prefer(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("Prefer", v)
	}
	return h
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		if id, ok := it["id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

func graphErrorCode(t *testing.T, r resp) string {
	t.Helper()
	v := r.json(t)
	e, ok := v["error"].(map[string]any)
	require.True(t, ok, "no error object: %s", r.body)
	return e["code"].(string)
}

// newMailboxForTest creates an isolated mailbox via the control API.
func (e *testEnv) newMailbox(token, seed string) {
	e.t.Helper()
	res := e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes", body: `{"token":"` + token + `","upn":"` + token + `@contoso.example","seed":"` + seed + `"}`})
	require.Equal(e.t, http.StatusCreated, res.status, "%s", res.body)
}

func (e *testEnv) deliver(token, body string) map[string]any {
	e.t.Helper()
	res := e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes/" + token + "/deliver", body: body})
	require.Equal(e.t, http.StatusCreated, res.status, "%s", res.body)
	return res.json(e.t)
}
