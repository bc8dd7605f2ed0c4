package caddymodule_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationHealth: a load balancer's active health check gets 200
// over TLS, without a token and without any request reaching Graph;
// plaintext is refused like every device endpoint.
func TestIntegrationHealth(t *testing.T) {
	e := startBridge(t)
	e.clearUpstreamRequests()
	healthURL := fmt.Sprintf("https://localhost:%d/device/v1/health", devicePort)
	for range 3 {
		resp, err := e.client.Get(healthURL)
		require.NoError(t, err)
		body := readAll(t, resp)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `{"status":"ok"}`, string(body))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	head, err := http.NewRequest(http.MethodHead, healthURL, nil)
	require.NoError(t, err)
	resp, err := e.client.Do(head)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	e.sendsInvalidRequests() // the specification has no POST on /health
	post, err := e.client.Post(healthURL, "application/json", nil)
	require.NoError(t, err)
	assertDeviceError(t, post, readAll(t, post), http.StatusMethodNotAllowed, "method_not_allowed")

	plain, err := http.Get(fmt.Sprintf("http://localhost:%d/device/v1/health", plainPort))
	require.NoError(t, err)
	assertDeviceError(t, plain, readAll(t, plain), http.StatusForbidden, "tls_required")

	e.assertNoUpstream("the health check must not call Graph")
}
