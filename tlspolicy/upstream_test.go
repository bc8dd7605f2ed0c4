package tlspolicy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		insecure bool
		wantErr  bool
		wantPath string
		wantHost string
	}{
		{name: "graph", raw: "https://graph.microsoft.com/v1.0", wantPath: "/v1.0", wantHost: "graph.microsoft.com:443"},
		{name: "trailing slash", raw: "https://localhost:9443/v1.0/", wantPath: "/v1.0", wantHost: "localhost:9443"},
		{name: "plain http refused", raw: "http://localhost:9080/v1.0", wantErr: true},
		{name: "plain http allowed when insecure", raw: "http://localhost:9080/v1.0", insecure: true, wantPath: "/v1.0", wantHost: "localhost:9080"},
		{name: "other scheme", raw: "ftp://graph.example/v1.0", wantErr: true},
		{name: "relative", raw: "/v1.0", wantErr: true},
		{name: "no host", raw: "https:///v1.0", wantErr: true},
		{name: "user info", raw: "https://user:pw@graph.example/v1.0", wantErr: true},
		{name: "query", raw: "https://graph.example/v1.0?x=1", wantErr: true},
		{name: "fragment", raw: "https://graph.example/v1.0#x", wantErr: true},
		{name: "dot segment", raw: "https://graph.example/v1.0/../beta", wantErr: true},
		{name: "no hostname", raw: "https://:443/v1.0", wantErr: true},
		{name: "upper-case scheme", raw: "HTTPS://graph.example/v1.0", wantPath: "/v1.0", wantHost: "graph.example:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream(tt.raw, tt.insecure)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPath, u.Path)
			assert.Equal(t, tt.wantHost, HostPort(u))
		})
	}
}
