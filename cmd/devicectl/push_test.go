package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// fakeBridge answers push.list and push.unsubscribe from a set of
// subscriptions, refusing what the bridge refuses (more than 20 ids, an
// id twice), and records every command it got.
type fakeBridge struct {
	mu       sync.Mutex
	subs     map[string]string // id → device that made it
	commands []gjson.Result
}

func (f *fakeBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	var results []string
	for _, c := range gjson.GetBytes(body.Bytes(), "commands").Array() {
		f.commands = append(f.commands, c)
		id := c.Get("id").Raw
		switch c.Get("op").Str {
		case "push.list":
			var items []string
			for sub, device := range f.subs {
				mine := device == c.Get("args.device").Str && device != ""
				items = append(items, fmt.Sprintf(`{"id":%q,"watch":"mail","platform":"apns","expires":"2026-12-05T10:00:00Z","mine":%t}`, sub, mine))
			}
			results = append(results, fmt.Sprintf(`{"id":%s,"status":200,"data":{"subscriptions":[%s]}}`, id, strings.Join(items, ",")))
		case "push.unsubscribe":
			ids := c.Get("args.ids").Array()
			seen := map[string]bool{}
			ok := len(ids) >= 1 && len(ids) <= 20
			for _, x := range ids {
				ok = ok && !seen[x.Str]
				seen[x.Str] = true
			}
			if !ok {
				results = append(results, fmt.Sprintf(`{"id":%s,"status":400,"error":{"code":"invalid_args","message":"ids must be an array of 1-20 distinct subscription ids"}}`, id))
				continue
			}
			for _, x := range ids {
				delete(f.subs, x.Str)
			}
			results = append(results, fmt.Sprintf(`{"id":%s,"status":200,"data":{}}`, id))
		default:
			results = append(results, fmt.Sprintf(`{"id":%s,"status":400,"error":{"code":"invalid_args","message":"unknown op"}}`, id))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"results":[%s]}`, strings.Join(results, ","))
}

func runDevicectl(t *testing.T, url string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DEVICEBRIDGE_TOKEN" {
			return "token-1"
		}
		return ""
	}
	code = run(context.Background(), append([]string{"--url", url}, args...), &out, &errOut, getenv)
	return code, out.String(), errOut.String()
}

func TestPushRmByDeviceRemovesThatInstallsSubscriptionsInChunks(t *testing.T) {
	f := &fakeBridge{subs: map[string]string{}}
	for i := 0; i < 45; i++ {
		f.subs[fmt.Sprintf("old-%02d", i)] = "phone-1"
	}
	f.subs["tablet"] = "tablet-7"
	srv := httptest.NewServer(f)
	defer srv.Close()

	code, out, errOut := runDevicectl(t, srv.URL+"/device/v1", "push", "ls", "--device", "phone-1")
	if code != exitOK || strings.Count(out, "\n") != 46 || strings.Count(out, "* mail") != 45 {
		t.Fatalf("ls: %d %q %q", code, out, errOut)
	}

	code, out, errOut = runDevicectl(t, srv.URL+"/device/v1", "push", "rm", "--device", "phone-1")
	if code != exitOK || out != "removed 45 subscriptions\n" {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if len(f.subs) != 1 || f.subs["tablet"] == "" {
		t.Fatalf("left: %v", f.subs)
	}
	var sizes []int
	for _, c := range f.commands {
		if c.Get("op").Str == "push.unsubscribe" {
			sizes = append(sizes, len(c.Get("args.ids").Array()))
		}
	}
	if fmt.Sprint(sizes) != "[20 20 5]" {
		t.Fatalf("unsubscribe sizes %v", sizes)
	}
}

func TestPushRmByIDs(t *testing.T) {
	f := &fakeBridge{subs: map[string]string{"a": "p", "b": "p", "c": "q"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	// An id named twice is sent once.
	code, out, errOut := runDevicectl(t, srv.URL+"/device/v1", "push", "rm", "a", "b", "a")
	if code != exitOK || out != "removed 2 subscriptions\n" {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if len(f.subs) != 1 || f.subs["c"] != "q" {
		t.Fatalf("left: %v", f.subs)
	}
}

func TestPushCommandsRefuseBadUse(t *testing.T) {
	f := &fakeBridge{subs: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	for _, args := range [][]string{
		{"push", "rm"},
		{"push", "rm", "a", "--device", "phone-1"},
		{"--mailbox", "shared@contoso.example", "push", "ls"},
	} {
		code, _, errOut := runDevicectl(t, srv.URL+"/device/v1", args...)
		if code != exitLocal || errOut == "" {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
	if len(f.commands) != 0 {
		t.Fatalf("a refused command line reached the bridge: %v", f.commands)
	}
}

// The bridge's own refusal is a device API error: exit 2, code printed.
func TestPushRmReportsTheBridgesError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Commands []struct{ ID string } `json:"commands"`
		}
		_ = json.NewDecoder(r.Body).Decode(&env)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"results":[{"id":%q,"status":403,"error":{"code":"forbidden","message":"upstream denied access"}}]}`, env.Commands[0].ID)
	}))
	defer srv.Close()
	code, _, errOut := runDevicectl(t, srv.URL+"/device/v1", "push", "rm", "a")
	if code != exitDeviceError || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, "removed 0 of 1") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}
