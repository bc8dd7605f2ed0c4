package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

var updateGoldens = flag.Bool("update", false, "rewrite the expected JSON of testdata/caddyfile_adapt/*.caddyfiletest")

// TestCaddyfileAdaptGoldens adapts every testdata/caddyfile_adapt/*.caddyfiletest
// as Caddy's own adapt tests do: a Caddyfile, a line of dashes, then either
// the expected JSON (tab-indented, compared by caddytest.CompareAdapt) or
// the text an error must contain. An error expected of a Caddyfile that
// adapts is looked for in caddy.Validate, which provisions the config as
// `caddy validate` does (a bad state key is refused there, not when
// adapting). go test ./caddymodule -run TestCaddyfileAdaptGoldens -update
// rewrites the JSON of the passing files after a deliberate change.
func TestCaddyfileAdaptGoldens(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(string(raw), "----------")
			if !ok {
				t.Fatal("no ---------- separator")
			}
			caddyfile = strings.TrimSpace(caddyfile) + "\n"
			expected = strings.TrimSpace(expected)
			if strings.HasPrefix(expected, "{") {
				if *updateGoldens {
					writeGolden(t, file, caddyfile)
					return
				}
				if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", expected) {
					t.Errorf("%s: adapted JSON differs (see the diff above; -update rewrites it)", file)
				}
				return
			}
			adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
			if err == nil {
				var cfg caddy.Config
				if err = json.Unmarshal(adapted, &cfg); err == nil {
					err = caddy.Validate(&cfg)
				}
			}
			if err == nil {
				t.Fatalf("adapted and validated; want an error containing %q", expected)
			}
			if !strings.Contains(err.Error(), expected) {
				t.Fatalf("error %q does not contain %q", err, expected)
			}
		})
	}
}

func writeGolden(t *testing.T, file, caddyfile string) {
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, adapted, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(caddyfile+"----------\n"+pretty.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
