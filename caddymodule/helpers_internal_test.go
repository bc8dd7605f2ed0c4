package caddymodule

// Helpers of the package's internal tests (the integration tests' helpers,
// in package caddymodule_test, are in helpers_test.go).

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// adapt adapts a Caddyfile to JSON, as `caddy adapt` does.
func adapt(t *testing.T, input string) (gjson.Result, error) {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	require.NotNil(t, adapter)
	out, _, err := adapter.Adapt([]byte(input), nil)
	if err != nil {
		return gjson.Result{}, err
	}
	return gjson.ParseBytes(out), nil
}

// validateCaddyfile adapts a Caddyfile and provisions the result without
// starting it, as `caddy validate` does.
func validateCaddyfile(t *testing.T, input string) error {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, _, err := adapter.Adapt([]byte(input), nil)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	require.NoError(t, json.Unmarshal(out, &cfg))
	return caddy.Validate(&cfg)
}
