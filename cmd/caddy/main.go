// Command caddy is the demo and test build: Caddy's standard modules, the
// devicebridge plugin, and the emulators the demo, the integration tests
// and the benchmarks run against. An organization's production build is
// the plugin alone (xcaddy.json), which carries no emulator.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/devicebridge/caddy-devicebridge"
	_ "github.com/devicebridge/caddy-devicebridge/emulator"
	_ "github.com/devicebridge/caddy-devicebridge/pushemulator"
)

func main() {
	caddycmd.Main()
}
