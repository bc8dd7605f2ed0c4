// Package devicebridge is the plugin entry point for custom Caddy builds:
// importing it (xcaddy build --with github.com/devicebridge/caddy-devicebridge)
// registers the http.handlers.devicebridge translator with its devicebridge
// Caddyfile directive, and the http.handlers.graph_emulator Graph emulator
// with its graph_emulator directive.
//
// The code lives in the subpackages: translate (the device API),
// caddymodule (the Caddy glue), tls (TLS policy) and emulator.
package devicebridge

import (
	// Register the Caddy modules and Caddyfile directives.
	_ "github.com/devicebridge/caddy-devicebridge/caddymodule"
	_ "github.com/devicebridge/caddy-devicebridge/emulator"
)
