package caddymodule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectiveRetriesOnlyGET(t *testing.T) {
	tests := []struct {
		name, block string
		want        []string // JSON of each retry_match set's method matcher; nil = no retry_match
	}{
		{"no retry options", ``, nil},
		{"retries without match: reverse_proxy retries only GET", "lb_retries 3", nil},
		{"a POST match is narrowed to GET", "lb_retries 3\n\t\tlb_retry_match {\n\t\t\tmethod POST GET\n\t\t}", []string{`["GET"]`}},
		{"a response expression gets GET added", "lb_try_duration 5s\n\t\tlb_retry_match {\n\t\t\texpression `{rp.status_code} == 503`\n\t\t}\n\t\tlb_retry_match {\n\t\t\tpath /x\n\t\t}", []string{`["GET"]`, `["GET"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.example/v1.0 {
		`+tt.block+`
	}
}`)
			require.NoError(t, err)
			proxy := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.1")
			require.Equal(t, "reverse_proxy", proxy.Get("handler").String(), cfg.Raw)
			sets := proxy.Get("load_balancing.retry_match").Array()
			require.Len(t, sets, len(tt.want), proxy.Raw)
			for i, want := range tt.want {
				assert.JSONEq(t, want, sets[i].Get("method").Raw)
			}
			if len(tt.want) > 1 {
				assert.True(t, sets[0].Get("expression").Exists(), "the user's matchers stay")
				assert.True(t, sets[1].Get("path").Exists(), "the user's matchers stay")
			}
		})
	}
}

func TestDirectiveMaxMIMEBody(t *testing.T) {
	cfg, err := adapt(t, `
https://bridge.example {
	devicebridge https://graph.example/v1.0 {
		max_mime_body 2MiB
	}
}`)
	require.NoError(t, err)
	translator := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0")
	assert.Equal(t, int64(2<<20), translator.Get("max_mime_body").Int())
}
