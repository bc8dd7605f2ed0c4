// Command devicectl is a command-line device for the devicebridge device
// API: it mirrors a mailbox into SQLite as an app would, lists, reads,
// sends, searches and downloads, and lists and removes the user's push
// subscriptions, so an operator can see exactly what a user's device sees.
//
// Connection flags (every command):
//
//	--url URL          the bridge's device API prefix URL (default $DEVICEBRIDGE_URL,
//	                   else https://localhost:8443/device/v1, the demo)
//	--token-file FILE  a file holding the bearer token (default: $DEVICEBRIDGE_TOKEN)
//	--cacert FILE      PEM roots to trust instead of the system's (the demo's Caddy root)
//	--mailbox ADDR     work on a shared or delegated mailbox
//
// Exit codes: 0 success; 1 usage or local error; 2 the bridge answered
// with a device API error (printed as its code and message); 3 the bridge
// could not be reached (network or TLS); 130 interrupted.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	deviceclient "github.com/devicebridge/caddy-devicebridge/client"
)

// Exit codes.
const (
	exitOK          = 0
	exitLocal       = 1
	exitDeviceError = 2
	exitUnreachable = 3
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCommand(stdout, stderr, getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var e *deviceclient.Error
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(stderr, "devicectl: interrupted")
		return exitInterrupted
	case errors.As(err, &e):
		fmt.Fprintf(stderr, "devicectl: %s: %s", e.Code, e.Message)
		if e.RetryAfter > 0 {
			fmt.Fprintf(stderr, " (retry after %d s)", e.RetryAfter)
		}
		if e.UpstreamCode != "" {
			fmt.Fprintf(stderr, " [upstream %s]", e.UpstreamCode)
		}
		fmt.Fprintln(stderr)
		return exitDeviceError
	case isTransportError(err):
		fmt.Fprintf(stderr, "devicectl: cannot reach the bridge: %v\n", err)
		return exitUnreachable
	default:
		fmt.Fprintf(stderr, "devicectl: %v\n", err)
		return exitLocal
	}
}

// isTransportError reports a failure to talk to the bridge at all.
func isTransportError(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.As(err, &ue) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:")
}

// connection holds the persistent flags.
type connection struct {
	url, tokenFile, cacert, mailbox string
	getenv                          func(string) string
}

func newRootCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	conn := &connection{getenv: getenv}
	root := &cobra.Command{
		Use:           "devicectl",
		Short:         "A command-line device for the devicebridge device API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultURL := getenv("DEVICEBRIDGE_URL")
	if defaultURL == "" {
		defaultURL = "https://localhost:8443/device/v1"
	}
	root.PersistentFlags().StringVar(&conn.url, "url", defaultURL, "the bridge's device API URL (env DEVICEBRIDGE_URL)")
	root.PersistentFlags().StringVar(&conn.tokenFile, "token-file", "", "file holding the bearer token (default: env DEVICEBRIDGE_TOKEN)")
	root.PersistentFlags().StringVar(&conn.cacert, "cacert", "", "PEM file of the roots to trust (default: the system's)")
	root.PersistentFlags().StringVar(&conn.mailbox, "mailbox", "", "a shared or delegated mailbox to work on")
	root.AddCommand(
		newMirrorCommand(conn, stderr),
		newLsCommand(conn),
		newReadCommand(conn),
		newSendCommand(conn),
		newGetCommand(conn, stderr),
		newSearchCommand(conn),
		newPushCommand(conn),
	)
	return root
}

// client builds the device API client from the flags.
func (c *connection) client() (*deviceclient.Client, error) {
	token := strings.TrimSpace(c.getenv("DEVICEBRIDGE_TOKEN"))
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the token file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, errors.New("no token: give --token-file or set DEVICEBRIDGE_TOKEN")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if c.cacert != "" {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			return nil, fmt.Errorf("reading --cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s holds no PEM certificate", c.cacert)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return deviceclient.New(c.url, deviceclient.Options{
		Token:      token,
		HTTPClient: &http.Client{Transport: transport},
	})
}
