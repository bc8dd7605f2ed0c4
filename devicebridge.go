// Package devicebridge is the plugin entry point for custom Caddy builds:
// importing it (xcaddy build --with github.com/devicebridge/caddy-devicebridge)
// registers the http.handlers.devicebridge translator and its devicebridge
// Caddyfile directive, and nothing else.
//
// The code lives in the subpackages: translate (the device API),
// caddymodule (the Caddy glue) and tlspolicy (TLS policy). The Graph
// emulator (package emulator) is not part of the plugin: it has an
// unauthenticated control API and belongs in demos and tests only, which
// import it themselves (see cmd/caddy).
package devicebridge

import (
	// Register the bridge's Caddy module and Caddyfile directive.
	_ "github.com/devicebridge/caddy-devicebridge/caddymodule"
)
