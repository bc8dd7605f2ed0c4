package caddymodule_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// TestIntegrationUnrequestedEncodingRefused has the upstream gzip a MIME
// download and an attachment although the bridge asked for identity: the
// device gets 502 upstream_error, never compressed bytes under the
// message's or attachment's media type. Without the fault both downloads
// arrive as sent.
func TestIntegrationUnrequestedEncodingRefused(t *testing.T) {
	e := startBridge(t)
	defer e.clearFaults()
	token := e.newMailbox("empty")
	content := "attachment bytes " + randomHex(16)
	delivered := gjson.ParseBytes(e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"subject": "encoded " + randomHex(4),
		"body":    map[string]any{"contentType": "text", "content": "hello"},
		"attachments": []any{map[string]any{"name": "a.txt", "contentType": "text/plain",
			"contentBytes": base64.StdEncoding.EncodeToString([]byte(content))}},
	}, http.StatusCreated))
	msgID := delivered.Get("immutableId").String()
	list := e.command(token, "attachments.list", map[string]any{"id": msgID})
	attID := list.Get("data.attachments.0.id").String()
	require.NotEmpty(t, attID, list.Raw)

	base := deviceBase + "/messages/" + url.PathEscape(msgID)
	downloads := []struct {
		name, path, contentType, marker string
	}{
		{"MIME", base + "/mime", "message/rfc822", "Subject: encoded "},
		{"attachment", base + "/attachments/" + url.PathEscape(attID), "text/plain", content},
	}
	for _, d := range downloads {
		t.Run(d.name, func(t *testing.T) {
			resp := e.get(d.path, token)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			assert.Contains(t, string(body), d.marker, "without the fault the download is plain")

			e.control("POST", "/_emulator/faults", map[string]any{
				"token": token, "pathContains": "/$value", "action": "gzip", "count": 1,
			}, http.StatusCreated)
			resp = e.get(d.path, token)
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Empty(t, resp.Header.Get("Content-Encoding"))
			assertDeviceError(t, resp, body, http.StatusBadGateway, "upstream_error")
			assert.Empty(t, e.upstreamFaultsLeft(), "the fault fired")
		})
	}
}

// upstreamFaultsLeft lists the emulator's fault rules still installed.
func (e *env) upstreamFaultsLeft() []gjson.Result {
	e.t.Helper()
	return gjson.ParseBytes(e.control("GET", "/_emulator/faults", nil, http.StatusOK)).Array()
}
