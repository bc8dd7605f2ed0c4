package caddymodule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectiveGovernorOptions(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.example/v1.0 {
		max_inflight_per_mailbox 2
		queue_timeout 1500ms
		max_tracked_mailboxes 5000
		mime_read_timeout 45s
		max_buffered_bytes 64MiB
		buffer_wait 500ms
	}
}`)
	require.NoError(t, err)
	translator := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0")
	require.Equal(t, "devicebridge", translator.Get("handler").String(), cfg.Raw)
	assert.Equal(t, int64(2), translator.Get("max_inflight_per_mailbox").Int())
	assert.Equal(t, int64(1500e6), translator.Get("queue_timeout").Int())
	assert.Equal(t, int64(5000), translator.Get("max_tracked_mailboxes").Int())
	assert.Equal(t, int64(45e9), translator.Get("mime_read_timeout").Int())
	assert.Equal(t, int64(64<<20), translator.Get("max_buffered_bytes").Int())
	assert.Equal(t, int64(500e6), translator.Get("buffer_wait").Int())
	proxy := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.1")
	assert.NotContains(t, proxy.Raw, "queue_timeout", "governor options stay with the translator")

	for _, bad := range []string{
		"max_inflight_per_mailbox 0", "max_inflight_per_mailbox x", "max_inflight_per_mailbox",
		"queue_timeout -1s", "queue_timeout soon", "max_tracked_mailboxes 0", "queue_timeout 1s 2s",
		"mime_read_timeout 0s", "mime_read_timeout", "mime_read_timeout later",
		"max_buffered_bytes 0", "max_buffered_bytes lots", "buffer_wait 0s", "buffer_wait",
	} {
		_, err := adapt(t, "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\t"+bad+"\n\t}\n}")
		assert.Error(t, err, bad)
	}
}

func TestGovernorDefaults(t *testing.T) {
	h := &Handler{}
	require.NoError(t, h.Validate())
	h.MaxInflightPerMailbox = -1
	assert.Error(t, h.Validate())
}
