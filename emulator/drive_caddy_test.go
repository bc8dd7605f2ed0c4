package emulator

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCaddyfileDriveOptions(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(driveTestKey)
	d := caddyfile.NewTestDispenser(`graph_emulator {
		download_origin https://files.localhost:9445
		download_prefix /dl
		download_key ` + key + `
		download_url_lifetime 5m
		drive_resync_code resyncApplyDifferences
		drive_resync_omit_location
		drive_delete_page_size off
		drive_ignore_top
		drive_keep_deleted_facet
		drive_omit_download_url
		drive_content_direct
		download_denied_status 403
		download_ignore_range
		download_redirects 3
		download_redirect_origin https://10.0.0.1:8443
		drive_latest_link_keeps_token
		drive_omit_mime_type
		drive_sparse_search
		drive_business_any_order
	}`)
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(d))
	assert.Equal(t, Handler{DownloadOrigin: "https://files.localhost:9445", DownloadPrefix: "/dl", DownloadKey: key,
		DownloadURLLifetime: caddy.Duration(5 * time.Minute), DriveResyncCode: DriveResyncApplyDifferences, DriveResyncOmitLocation: true,
		DriveDeletePageSize: -1, DriveIgnoreTop: true, DriveKeepDeletedFacet: true, DriveOmitDownloadURL: true, DriveContentDirect: true,
		DownloadDeniedStatus: 403, DownloadIgnoreRange: true, DownloadRedirects: 3, DownloadRedirectOrigin: "https://10.0.0.1:8443",
		DriveLatestLinkKeepsToken: true, DriveOmitMimeType: true, DriveSparseSearch: true,
		DriveBusinessAnyOrder: true}, h)
	require.NoError(t, h.Validate())

	for _, bad := range []string{
		"graph_emulator { drive_resync_code gone }",
		"graph_emulator { drive_delete_page_size 0 }",
		"graph_emulator { download_denied_status 500 }",
		"graph_emulator { download_origin ftp://x }",
		"graph_emulator { download_prefix /v1.0/files }",
		"graph_emulator { download_key short }",
		"graph_emulator { download_only extra }",
		"graph_emulator { download_url_lifetime soon }",
		"graph_emulator { download_redirects 21 }",
		"graph_emulator { download_redirect_origin nowhere }",
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad))
		if err == nil {
			err = h.Validate()
		}
		assert.Error(t, err, bad)
	}
}

// TestCaddyDownloadOnlyInstance runs the Graph instance and a
// download_only instance as two handlers, as two Caddy sites would: the
// URLs of one are served by the other.
func TestCaddyDownloadOnlyInstance(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	key := base64.RawURLEncoding.EncodeToString(driveTestKey)
	files := &Handler{DownloadOnly: true, DownloadKey: key}
	require.NoError(t, files.Provision(ctx))
	assert.Nil(t, files.Server(), "no mailboxes in download_only mode")
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	filesSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = files.ServeHTTP(w, r, next) }))
	defer filesSite.Close()

	graph := &Handler{DownloadOrigin: filesSite.URL, DownloadKey: key}
	require.NoError(t, graph.Provision(ctx))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1.0/me/drive/root/search(q='readme')?$select=name,@microsoft.graph.downloadUrl", nil)
	r.Header.Set("Authorization", "Bearer demo")
	require.NoError(t, graph.ServeHTTP(rec, r, next))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	link := strings.Split(strings.Split(rec.Body.String(), `"@microsoft.graph.downloadUrl":"`)[1], `"`)[0]
	require.True(t, strings.HasPrefix(link, filesSite.URL+"/_download/"), link)

	res := fetch(t, link, nil)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "Welcome to your OneDrive.\n", string(res.body))
	assert.Equal(t, http.StatusTeapot, fetch(t, filesSite.URL+"/v1.0/me", nil).status, "no Graph surface on the download site")
	req, err := http.NewRequest(http.MethodPost, filesSite.URL+"/_emulator/download-urls/expire", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, http.StatusUnauthorized, fetch(t, link, nil).status)
	logged := fetch(t, filesSite.URL+"/_emulator/download-requests", nil)
	require.Equal(t, http.StatusOK, logged.status)
	assert.Contains(t, string(logged.body), `"path":"/_download/`)
	assert.NotContains(t, string(logged.body), "Authorization")
}
