package pushemulator

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`push_emulator {
		control_prefix /_pe
		origin https://localhost:8445
		apns_key_id ABCDE12345
		apns_team_id TEAM123456
		apns_topic com.example.mail
		apns_key_file /tmp/AuthKey.p8
		apns_sandbox_hosts 127.0.0.1:8445 sandbox.localhost
		apns_allow_http1
		apns_token_update_interval off
		apns_max_payload 5120
		fcm_project demo-project
		fcm_client_email push@demo-project.iam.gserviceaccount.com
		fcm_credentials_file /tmp/sa.json
		fcm_token_path /oauth2/token
		fcm_token_lifetime 30m
		fcm_max_payload 2048
		webpush_path /push
		webpush_max_body 8192
		webpush_max_subscriptions 50
		record_limit 20
		clock_skew 30s
	}`)
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(d))
	assert.Equal(t, Handler{
		ControlPrefix: "/_pe", Origin: "https://localhost:8445",
		APNsKeyID: "ABCDE12345", APNsTeamID: "TEAM123456", APNsTopic: "com.example.mail", APNsKeyFile: "/tmp/AuthKey.p8",
		APNsSandboxHosts: []string{"127.0.0.1:8445", "sandbox.localhost"}, APNsAllowHTTP1: true, APNsTokenUpdateInterval: -1, APNsMaxPayload: 5120,
		FCMProject: "demo-project", FCMClientEmail: "push@demo-project.iam.gserviceaccount.com", FCMCredentialsFile: "/tmp/sa.json",
		FCMTokenPath: "/oauth2/token", FCMTokenLifetime: caddy.Duration(30 * time.Minute), FCMMaxPayload: 2048,
		WebPushPath: "/push", WebPushMaxBody: 8192, WebPushMaxSubscriptions: 50, RecordLimit: 20,
		ClockSkew: caddy.Duration(30 * time.Second),
	}, h)
	require.NoError(t, h.Validate())
	opts := h.options()
	require.NoError(t, opts.normalize())
	assert.Equal(t, time.Duration(-1), opts.APNsTokenUpdateInterval)

	var empty Handler
	require.NoError(t, empty.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`push_emulator`)))
	assert.Equal(t, Handler{}, empty)
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, in := range []string{
		"push_emulator extra",
		"push_emulator {\n bogus 1\n}",
		"push_emulator {\n apns_key_id\n}",
		"push_emulator {\n apns_key_id a b\n}",
		"push_emulator {\n record_limit -1\n}",
		"push_emulator {\n fcm_token_lifetime soon\n}",
		"push_emulator {\n fcm_token_lifetime off\n}",
		"push_emulator {\n apns_allow_http1 yes\n}",
		"push_emulator {\n apns_sandbox_hosts\n}",
	} {
		var h Handler
		assert.Error(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)), in)
	}
}

func TestValidateRefusesBadOptions(t *testing.T) {
	for name, h := range map[string]Handler{
		"overlapping paths":  {ControlPrefix: "/wp"},
		"control at /3":      {ControlPrefix: "/3/x"},
		"origin with a path": {Origin: "https://localhost/x"},
		"origin not a URL":   {Origin: "localhost"},
		"bad topic":          {APNsTopic: "com example"},
		"bad project":        {FCMProject: "Demo_Project"},
		"two APNs keys":      {APNsKeyFile: "a", APNsPublicKeyFile: "b"},
	} {
		assert.Error(t, h.Validate(), name)
	}
}
