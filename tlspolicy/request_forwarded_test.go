package tlspolicy

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
)

// TestRequestIsTLSTrustsTheProxysOwnValue: behind a trusted proxy that
// appends to X-Forwarded-Proto, the first value is whatever the client
// sent and only the last one is the proxy's. A client speaking plain http
// that claims "https" itself must not pass.
func TestRequestIsTLSTrustsTheProxysOwnValue(t *testing.T) {
	tests := []struct {
		name  string
		lines []string // X-Forwarded-Proto header lines, in order
		want  bool
	}{
		{name: "client claims https, proxy appends http", lines: []string{"https, http"}, want: false},
		{name: "client claims https twice, proxy appends http", lines: []string{"https,https,http"}, want: false},
		{name: "client line https, proxy adds a line http", lines: []string{"https", "http"}, want: false},
		{name: "client lines, proxy's last line http", lines: []string{"https", "https, http"}, want: false},
		{name: "client claims http, proxy appends https", lines: []string{"http, https"}, want: true},
		{name: "client line, proxy adds a line https", lines: []string{"http", "HTTPS"}, want: true},
		{name: "proxy's value with spaces", lines: []string{" https "}, want: true},
		{name: "empty last value", lines: []string{"https,"}, want: false},
		{name: "empty last line", lines: []string{"https", ""}, want: false},
		{name: "single value https", lines: []string{"https"}, want: true},
		{name: "single value http", lines: []string{"http"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://bridge.example/device/v1/batch", nil)
			for _, line := range tt.lines {
				r.Header.Add("X-Forwarded-Proto", line)
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: true}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			assert.Equal(t, tt.want, RequestIsTLS(r))
		})
	}
}
