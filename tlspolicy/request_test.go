package tlspolicy

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
)

func TestRequestIsTLS(t *testing.T) {
	tests := []struct {
		name    string
		direct  bool
		trusted bool
		proto   string
		want    bool
	}{
		{name: "direct TLS", direct: true, want: true},
		{name: "plaintext", want: false},
		{name: "untrusted proxy claims https", proto: "https", want: false},
		{name: "trusted proxy says https", trusted: true, proto: "https", want: true},
		{name: "trusted proxy appends http to a client's https", trusted: true, proto: "HTTPS, http", want: false},
		{name: "trusted proxy appends https", trusted: true, proto: "http, HTTPS", want: true},
		{name: "trusted proxy says http", trusted: true, proto: "http", want: false},
		{name: "trusted proxy without header", trusted: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://bridge.example/device/v1/batch", nil)
			if tt.direct {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: tt.trusted}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			assert.Equal(t, tt.want, RequestIsTLS(r))
		})
	}
}
