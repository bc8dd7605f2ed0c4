package caddymodule

import (
	"bytes"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// TestKeygenOutputIsAStateKey runs `caddy devicebridge keygen` as Caddy's
// command line would, and hands what it prints to the state_key decoder and
// the translator, as a Caddyfile's state_key would be.
func TestKeygenOutputIsAStateKey(t *testing.T) {
	registered, ok := caddycmd.Commands()["devicebridge"]
	if !ok {
		t.Fatal("the devicebridge subcommand is not registered with caddy's command line")
	}
	root := &cobra.Command{Use: "devicebridge"}
	registered.CobraFunc(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"keygen"})
	if err := root.Execute(); err != nil {
		t.Fatalf("keygen: %v", err)
	}
	printed := strings.TrimSpace(out.String())
	keys, err := decodeStateKeys([]string{printed})
	if err != nil {
		t.Fatalf("keygen printed %q, which state_key refuses: %v", printed, err)
	}
	if _, err := translate.New(translate.Options{Upstream: "https://graph.example/v1.0", StateKeys: keys}); err != nil {
		t.Fatalf("the translator refuses the generated key: %v", err)
	}

	// Two runs never print the same key.
	out.Reset()
	if err := root.Execute(); err != nil {
		t.Fatalf("keygen again: %v", err)
	}
	if again := strings.TrimSpace(out.String()); again == printed {
		t.Fatal("keygen printed the same key twice")
	}
}
