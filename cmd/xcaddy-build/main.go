// Command xcaddy-build builds a custom Caddy from the project's build
// manifest, xcaddy.json: the Caddy version and plugins in the JSON shape of
// xcaddy's Builder type, built with xcaddy's Go library. The xcaddy CLI
// reads no manifest of its own; this command is the manifest's reader.
//
// Usage:
//
//	go run ./cmd/xcaddy-build [-manifest xcaddy.json] [-output ./caddy]
//
// Replacement paths in the manifest that are relative (such as ".", this
// checkout) are taken relative to the manifest's folder.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/caddyserver/xcaddy"
)

func main() {
	manifest := flag.String("manifest", "xcaddy.json", "build manifest: xcaddy's Builder as JSON")
	output := flag.String("output", "caddy", "path of the binary to write")
	flag.Parse()

	if err := build(*manifest, *output); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddy-build:", err)
		os.Exit(1)
	}
}

func build(manifestPath, output string) error {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return fmt.Errorf("reading manifest: %v", err)
	}
	var builder xcaddy.Builder
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&builder); err != nil {
		return fmt.Errorf("parsing manifest %s: %v", manifestPath, err)
	}
	base, err := filepath.Abs(filepath.Dir(manifestPath))
	if err != nil {
		return err
	}
	for i, repl := range builder.Replacements {
		target := string(repl.New)
		if strings.HasPrefix(target, ".") {
			builder.Replacements[i].New = xcaddy.ReplacementPath(filepath.Join(base, target))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return builder.Build(ctx, output)
}
