package caddymodule

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// The devicebridge subcommand of the caddy binary, registered the way
// Caddy's own hash-password is:
//
//	caddy devicebridge keygen
//
// prints a new state key: translate.StateKeySize random bytes in standard
// base64, ready for a state_key line or an environment variable such as
// DEVICEBRIDGE_STATE_KEY. docs/operations.md shows how to roll a new key
// through a fleet.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "devicebridge",
		Usage: "keygen",
		Short: "Tools for the devicebridge device API",
		Long: `
Tools for operating devicebridge.

keygen
    Prints a new state key (32 random bytes, base64) for the devicebridge
    directive's state_key. Every node of a fleet must share the same keys;
    the first key seals, every key opens.
`,
		CobraFunc: func(cmd *cobra.Command) {
			keygen := &cobra.Command{
				Use:   "keygen",
				Short: "Prints a new base64 state key for state_key",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return writeNewStateKey(cmd.OutOrStdout(), rand.Reader)
				},
			}
			cmd.AddCommand(keygen)
		},
	})
}

// writeNewStateKey writes a new state key from random, in standard base64
// and a newline.
func writeNewStateKey(w io.Writer, random io.Reader) error {
	key := make([]byte, translate.StateKeySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return fmt.Errorf("reading random bytes: %v", err)
	}
	_, err := fmt.Fprintln(w, base64.StdEncoding.EncodeToString(key))
	return err
}
