package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeECKey writes a fresh EC key of curve as a PEM file of pemType
// ("PRIVATE KEY" for PKCS#8, "EC PRIVATE KEY" for SEC 1).
func writeECKey(t *testing.T, dir, name string, curve elliptic.Curve, pemType string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	var der []byte
	if pemType == "EC PRIVATE KEY" {
		der, err = x509.MarshalECPrivateKey(key)
	} else {
		der, err = x509.MarshalPKCS8PrivateKey(key)
	}
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o600))
	return path
}

const pushTestBlock = `
		push {
			public_url https://bridge.example
			subscription_ttl 2d
			send_timeout 800ms
			push_reseal_after 10d
			max_inflight_sends 64
			trust_pool pki_root local
			apns {
				key_file %APNS%
				key_id ABCDE12345
				team_id TEAM123456
				topic com.example.mail
				endpoint https://apns.example
				sandbox_endpoint https://apns-sandbox.example
			}
			fcm {
				credentials_file /etc/fcm.json
				project_id mail-app
				endpoint https://fcm.example
				priority high
			}
			webpush {
				vapid_key_file %VAPID%
				subject mailto:ops@example.com
				allow_hosts push.example:8443 *.push.example
				allow_hosts updates.push.example
			}
		}
`

func TestDirectivePushBlock(t *testing.T) {
	block := strings.NewReplacer("%APNS%", "/keys/AuthKey.p8", "%VAPID%", "/keys/vapid.pem").Replace(pushTestBlock)
	cfg, err := adapt(t, "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tprefix /dbx\n"+block+"\t}\n}")
	require.NoError(t, err)
	translator := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.0")
	require.Equal(t, "devicebridge", translator.Get("handler").String(), cfg.Raw)
	p := translator.Get("push")
	assert.Equal(t, "https://bridge.example", p.Get("public_url").String())
	assert.Equal(t, int64(2*24*3600e9), p.Get("subscription_ttl").Int())
	assert.Equal(t, int64(800e6), p.Get("send_timeout").Int())
	assert.Equal(t, int64(10*24*3600e9), p.Get("push_reseal_after").Int())
	assert.Equal(t, int64(64), p.Get("max_inflight_sends").Int())
	assert.Equal(t, "pki_root", p.Get("trust_pool.provider").String())
	assert.Equal(t, "local", p.Get("trust_pool.authority.0").String())
	assert.JSONEq(t, `{"key_file":"/keys/AuthKey.p8","key_id":"ABCDE12345","team_id":"TEAM123456","topic":"com.example.mail","endpoint":"https://apns.example","sandbox_endpoint":"https://apns-sandbox.example"}`, p.Get("apns").Raw)
	assert.JSONEq(t, `{"credentials_file":"/etc/fcm.json","project_id":"mail-app","endpoint":"https://fcm.example","priority":"high"}`, p.Get("fcm").Raw)
	assert.JSONEq(t, `{"vapid_key_file":"/keys/vapid.pem","subject":"mailto:ops@example.com","allow_hosts":["push.example:8443","*.push.example","updates.push.example"]}`, p.Get("webpush").Raw)

	proxy := cfg.Get("apps.http.servers.srv0.routes.0.handle.0.routes.0.handle.1")
	assert.NotContains(t, proxy.Raw, "public_url", "the push block stays with the translator")
	assert.Equal(t, int64(40e9), proxy.Get("transport.response_header_timeout").Int(), "the default covers a subscription's validation")
}

func TestHandlerUnmarshalCaddyfilePush(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser("devicebridge https://graph.example/v1.0 {\n push {\n public_url https://b.example\n apns {\n key_file k.p8\n }\n }\n max_commands 2\n}")
	require.NoError(t, h.UnmarshalCaddyfile(d))
	require.NotNil(t, h.Push)
	assert.Equal(t, "https://b.example", h.Push.PublicURL)
	assert.Equal(t, "k.p8", h.Push.APNs.KeyFile)
	assert.Equal(t, 2, h.MaxCommands, "subdirectives after the push block are read")
}

func TestDirectivePushBlockErrors(t *testing.T) {
	site := func(push string) string {
		return "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tpush {\n" + push + "\n\t\t}\n\t}\n}"
	}
	const apns = "apns {\nkey_file k.p8\n}\n"
	for _, tt := range []struct{ push, want string }{
		{"apns {\nkey_file k.p8\n}", "push needs public_url"},
		{"public_url https://b.example", "at least one of apns, fcm and webpush"},
		{"public_url https://b.example\nsubscription_ttl soon\n" + apns, "subscription_ttl must be a positive duration"},
		{"public_url https://b.example\nsend_timeout 0s\n" + apns, "send_timeout must be a positive duration"},
		{"public_url https://b.example\nmax_inflight_sends 0\n" + apns, "max_inflight_sends must be a positive number"},
		{"public_url https://b.example\npublic_url_typo x\n" + apns, "unrecognized push subdirective public_url_typo"},
		{"public_url https://b.example https://c.example\n" + apns, "wrong argument count"},
		{"public_url https://b.example\napns {\nkey_path k.p8\n}", "unrecognized push apns subdirective key_path"},
		{"public_url https://b.example\n" + apns + apns, "push apns is given twice"},
		{"public_url https://b.example\nfcm {\npriority urgent\n}", "priority takes normal or high"},
		{"public_url https://b.example\nwebpush {\nallow_hosts\n}", "wrong argument count"},
		{"public_url https://b.example\ntrust_pool nonesuch\n" + apns, "nonesuch"},
	} {
		_, err := adapt(t, site(tt.push))
		if assert.Error(t, err, tt.push) {
			assert.Contains(t, err.Error(), tt.want, tt.push)
		}
	}
	_, err := adapt(t, "https://bridge.example {\n\tdevicebridge https://graph.example/v1.0 {\n\t\ttransport http {\n\t\t\tresponse_header_timeout 20s\n\t\t}\n\t\tpush {\n\t\t\tpublic_url https://b.example\n\t\t\t"+apns+"\t\t}\n\t}\n}")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "response_header_timeout to be at least 35s")
}

// Bad key material, a wrong curve or a public URL that is not https fail
// when the configuration is provisioned, with a message naming the setting.
func TestPushConfigCheckedAtProvision(t *testing.T) {
	dir := t.TempDir()
	goodAPNs := writeECKey(t, dir, "AuthKey.p8", elliptic.P256(), "PRIVATE KEY")
	p384 := writeECKey(t, dir, "p384.p8", elliptic.P384(), "PRIVATE KEY")
	goodVAPID := writeECKey(t, dir, "vapid.pem", elliptic.P256(), "EC PRIVATE KEY")
	site := func(push string) string {
		return "http://localhost:0 {\n\tdevicebridge https://graph.example/v1.0 {\n\t\tpush {\n" + push + "\n\t\t}\n\t}\n}\n"
	}
	apns := func(key string) string {
		return "apns {\nkey_file " + key + "\nkey_id ABCDE12345\nteam_id TEAM123456\ntopic com.example.mail\n}\n"
	}
	webpush := func(key string) string {
		return "webpush {\nvapid_key_file " + key + "\nsubject mailto:ops@example.com\nallow_hosts push.example\n}\n"
	}
	require.NoError(t, validateCaddyfile(t, site("public_url https://bridge.example\n"+apns(goodAPNs)+webpush(goodVAPID))))

	for _, tt := range []struct{ push, want string }{
		{"public_url http://bridge.example\n" + apns(goodAPNs), "public_url must be https"},
		{"public_url https://bridge.example\n" + apns(filepath.Join(dir, "missing.p8")), "push apns key_file"},
		{"public_url https://bridge.example\n" + apns(p384), "want P-256"},
		{"public_url https://bridge.example\n" + apns(goodVAPID), "want PRIVATE KEY"},
		{"public_url https://bridge.example\n" + webpush(p384), "want P-256"},
		{"public_url https://bridge.example\napns {\nkey_file " + goodAPNs + "\nkey_id short\nteam_id TEAM123456\ntopic t\n}", "push apns"},
		{"public_url https://bridge.example\nfcm {\ncredentials_file " + filepath.Join(dir, "none.json") + "\n}", "push fcm credentials_file"},
		{"public_url https://bridge.example\nsubscription_ttl 8d\n" + apns(goodAPNs), "subscription_ttl must be"},
	} {
		err := validateCaddyfile(t, site(tt.push))
		if assert.Error(t, err, tt.push) {
			assert.Contains(t, err.Error(), tt.want, tt.push)
		}
	}
}
