package devicebridge_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	_ "github.com/devicebridge/caddy-devicebridge"
)

// TestPluginRegistersOnlyTheBridge checks what an organization's build
// (xcaddy build --with the module root) gets: the translator, and no
// emulator — the emulators have unauthenticated control APIs and must never
// ship in a production Caddy. This test binary links only the root package,
// so Caddy's module registry holds exactly what the plugin registers.
func TestPluginRegistersOnlyTheBridge(t *testing.T) {
	if _, err := caddy.GetModule("http.handlers.devicebridge"); err != nil {
		t.Fatalf("the plugin does not register the bridge: %v", err)
	}
	for _, id := range caddy.Modules() {
		if strings.Contains(id, "emulator") {
			t.Errorf("the plugin registers %s; emulators belong in cmd/caddy and tests only", id)
		}
	}
}
