// Command caddy is a Caddy build with the standard modules plus
// devicebridge and its Graph emulator.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/devicebridge/caddy-devicebridge"
)

func main() {
	caddycmd.Main()
}
