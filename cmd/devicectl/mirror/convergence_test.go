package mirror_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/tidwall/gjson"
	"pgregory.net/rapid"

	deviceclient "github.com/devicebridge/caddy-devicebridge/client"
	"github.com/devicebridge/caddy-devicebridge/cmd/devicectl/mirror"

	_ "github.com/devicebridge/caddy-devicebridge/caddymodule"
	_ "github.com/devicebridge/caddy-devicebridge/emulator"
)

// The convergence proof: whatever happens to a mailbox — mail delivered,
// read, flagged, moved and deleted, events and contacts created, changed
// and deleted, the server's sync states expired, syncs broken off half way
// — a device that follows the sync model ends up, after a full sync, with
// exactly the mailbox's content. rapid draws the sequences and shrinks a
// failure to a minimal one; the mirror is devicectl's, the bridge a real
// Caddy with TLS on both legs, the mailbox the Graph emulator's.
//
// CI runs 30 sequences (rapid's -rapid.checks; the default here when the
// flag is not given). A long run:
//
//	go test ./cmd/devicectl/mirror -run TestConvergence -rapid.checks=1000 -rapid.steps=60 -v

// Ports: apart from the caddymodule suite's, so both packages can run at
// once; DEVICEBRIDGE_TEST_PORT_OFFSET shifts them as it does there.
var (
	adminPort    = 3599 + portOffset()
	plainPort    = 7980 + portOffset()
	devicePort   = 7943 + portOffset()
	emulatorPort = 7944 + portOffset()
	emulatorURL  = fmt.Sprintf("https://localhost:%d", emulatorPort)
	deviceURL    = fmt.Sprintf("https://localhost:%d/device/v1", devicePort)
)

func portOffset() int {
	n, _ := strconv.Atoi(os.Getenv("DEVICEBRIDGE_TEST_PORT_OFFSET"))
	return n
}

func TestMain(m *testing.M) {
	flag.Parse()
	checksGiven := false
	flag.Visit(func(f *flag.Flag) { checksGiven = checksGiven || f.Name == "rapid.checks" })
	if !checksGiven {
		_ = flag.Set("rapid.checks", "30")
	}
	dir, err := os.MkdirTemp("", "devicectl-mirror-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func caddyfile() string {
	return fmt.Sprintf(`
{
	admin localhost:%[1]d
	http_port %[2]d
	https_port %[3]d
	local_certs
	skip_install_trust
	grace_period 1ns
}

https://localhost:%[3]d {
	devicebridge https://localhost:%[4]d/v1.0 {
		state_key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
		transport http {
			tls_trust_pool pki_root local
		}
	}
}

https://localhost:%[4]d {
	graph_emulator {
		seed none
	}
}
`, adminPort, plainPort, devicePort, emulatorPort)
}

// server is the running Caddy: the bridge and the emulator.
type server struct {
	http *http.Client
}

func startServer(t *testing.T) *server {
	t.Helper()
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(caddyfile(), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/pki/ca/local", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(gjson.GetBytes(body, "root_certificate").String())) {
		t.Fatal("no root certificate from the admin API")
	}
	return &server{http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}}
}

// call makes one request to the emulator (control API or Graph) and
// returns the answer, failing rt on an unexpected status.
func (s *server) call(rt *rapid.T, token, method, path string, body any, want int) gjson.Result {
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, emulatorURL+path, reader)
	if err != nil {
		rt.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Prefer", `IdType="ImmutableId"`)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		rt.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		rt.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return gjson.ParseBytes(out)
}

// The model: what the mailbox holds, as the test made it.
type message struct {
	folder, subject, flag string
	read                  bool
}
type event struct{ subject, start, end string }
type contact struct{ name, mobile string }
type driveItem struct {
	name, parent string
	folder       bool
}

type harness struct {
	s        *server
	token    string
	folders  map[string]string // well-known name → folder id
	names    []string
	messages map[string]message
	events   map[string]event
	contacts map[string]contact
	files    map[string]driveItem // the drive's items but its root
	rootID   string
	store    *mirror.Store
	client   *deviceclient.Client
	window   time.Time
}

func newHarness(rt *rapid.T, s *server, dir string) *harness {
	h := &harness{s: s, token: "conv-" + randomHex(), folders: map[string]string{},
		messages: map[string]message{}, events: map[string]event{}, contacts: map[string]contact{}, files: map[string]driveItem{},
		window: time.Now().UTC().Truncate(24 * time.Hour)}
	s.call(rt, "", "POST", "/_emulator/mailboxes", map[string]any{"token": h.token, "upn": h.token + "@contoso.example", "seed": "empty", "drive": "business"}, http.StatusCreated)
	h.rootID = s.call(rt, "", "GET", "/_emulator/mailboxes/"+h.token+"/drive", nil, http.StatusOK).Get("rootId").String()
	for _, name := range []string{"inbox", "archive", "deleteditems", "drafts"} {
		h.folders[name] = s.call(rt, h.token, "GET", "/v1.0/me/mailFolders/"+name, nil, http.StatusOK).Get("id").String()
		h.names = append(h.names, name)
	}
	var err error
	h.store, err = mirror.Open(context.Background(), filepath.Join(dir, h.token+".db"))
	if err != nil {
		rt.Fatal(err)
	}
	rt.Cleanup(func() { h.store.Close() })
	h.client, err = deviceclient.New(deviceURL, deviceclient.Options{Token: h.token, HTTPClient: s.http})
	if err != nil {
		rt.Fatal(err)
	}
	return h
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *harness) pickMessage(rt *rapid.T) string {
	if len(h.messages) == 0 {
		rt.Skip("no message")
	}
	ids := make([]string, 0, len(h.messages))
	for id := range h.messages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return rapid.SampledFrom(ids).Draw(rt, "message")
}

func pick[T any](rt *rapid.T, m map[string]T, label string) string {
	if len(m) == 0 {
		rt.Skip("none to pick")
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return rapid.SampledFrom(ids).Draw(rt, label)
}

func (h *harness) options() mirror.Options {
	return mirror.Options{Mail: true, Calendar: true, Contacts: true, Files: true,
		Window: 3, CalendarStart: h.window.AddDate(0, 0, -7), CalendarEnd: h.window.AddDate(0, 0, 30)}
}

// fullSync runs the mirror until every scope is up to date.
func (h *harness) fullSync(rt *rapid.T) {
	if _, err := h.store.Sync(context.Background(), h.client, h.options()); err != nil {
		rt.Fatalf("full sync: %v", err)
	}
}

// partialSync breaks a sync off after a few pages, as a killed app would.
func (h *harness) partialSync(rt *rapid.T) {
	pages := rapid.IntRange(1, 4).Draw(rt, "pages")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := h.options()
	n := 0
	o.Progress = func(mirror.Progress) {
		if n++; n >= pages {
			cancel()
		}
	}
	_, _ = h.store.Sync(ctx, h.client, o) // an error from the cancel is the point
}

// check compares the mirror with the model field by field, and the model
// with what Graph itself lists.
func (h *harness) check(rt *rapid.T) {
	db := h.store.DB()
	folderName := map[string]string{}
	for name, id := range h.folders {
		folderName[id] = name
	}

	got := map[string]message{}
	rows, err := db.Query(`SELECT id, folder_id, data FROM messages`)
	if err != nil {
		rt.Fatal(err)
	}
	for rows.Next() {
		var id, folder, data string
		if err := rows.Scan(&id, &folder, &data); err != nil {
			rt.Fatal(err)
		}
		d := gjson.Parse(data)
		if d.Get("folder").Exists() && d.Get("folder").String() != folder {
			rt.Errorf("message %s filed under %s but says folder %s", id, folder, d.Get("folder"))
		}
		got[id] = message{folder: folderName[folder], subject: d.Get("subject").String(), flag: d.Get("flag").String(), read: d.Get("read").Bool()}
	}
	rows.Close()
	compare(rt, "messages", h.messages, got)

	// Graph's own listing agrees with the model.
	listed := map[string]message{}
	for _, m := range h.s.call(rt, h.token, "GET", "/v1.0/me/messages?$top=1000&$select=id,parentFolderId,subject,isRead,flag", nil, http.StatusOK).Get("value").Array() {
		flag := m.Get("flag.flagStatus").String()
		if flag == "notFlagged" {
			flag = "none"
		}
		listed[m.Get("id").String()] = message{folder: folderName[m.Get("parentFolderId").String()], subject: m.Get("subject").String(), flag: flag, read: m.Get("isRead").Bool()}
	}
	compare(rt, "Graph's messages", h.messages, listed)

	gotEvents := map[string]event{}
	rows, err = db.Query(`SELECT id, data FROM events`)
	if err != nil {
		rt.Fatal(err)
	}
	for rows.Next() {
		var id, data string
		_ = rows.Scan(&id, &data)
		d := gjson.Parse(data)
		gotEvents[id] = event{subject: d.Get("subject").String(), start: d.Get("start").String(), end: d.Get("end").String()}
	}
	rows.Close()
	compare(rt, "events", h.events, gotEvents)

	gotContacts := map[string]contact{}
	rows, err = db.Query(`SELECT id, data FROM contacts`)
	if err != nil {
		rt.Fatal(err)
	}
	for rows.Next() {
		var id, data string
		_ = rows.Scan(&id, &data)
		d := gjson.Parse(data)
		gotContacts[id] = contact{name: d.Get("name").String(), mobile: d.Get("mobile").String()}
	}
	rows.Close()
	compare(rt, "contacts", h.contacts, gotContacts)

	gotFiles := map[string]driveItem{}
	rows, err = db.Query(`SELECT id, data FROM files`)
	if err != nil {
		rt.Fatal(err)
	}
	for rows.Next() {
		var id, data string
		_ = rows.Scan(&id, &data)
		if id == h.rootID {
			continue
		}
		d := gjson.Parse(data)
		gotFiles[id] = driveItem{name: d.Get("name").String(), parent: d.Get("parent").String(), folder: d.Get("kind").String() == "folder"}
	}
	rows.Close()
	compare(rt, "files", h.files, gotFiles)
}

// folders returns the drive's folders, the root first.
func (h *harness) driveFolders() []string {
	ids := []string{h.rootID}
	var rest []string
	for id, f := range h.files {
		if f.folder {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(ids, rest...)
}

// removeTree drops id and everything below it from the model.
func (h *harness) removeTree(id string) {
	delete(h.files, id)
	for child, f := range h.files {
		if f.parent == id {
			h.removeTree(child)
		}
	}
}

func compare[T comparable](rt *rapid.T, what string, want, got map[string]T) {
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			rt.Errorf("%s: %s missing from the mirror", what, id)
		case g != w:
			rt.Errorf("%s: %s is %+v, want %+v", what, id, g, w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			rt.Errorf("%s: %s in the mirror but not in the mailbox", what, id)
		}
	}
}

var flags = []string{"none", "flagged", "complete"}

func TestConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	s := startServer(t)
	dir := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(rt, s, dir)
		subject := rapid.StringMatching(`[a-z]{1,8}( [a-z]{1,8})?`)
		rt.Repeat(map[string]func(*rapid.T){
			"deliver": func(rt *rapid.T) {
				folder := rapid.SampledFrom(h.names).Draw(rt, "folder")
				subj := subject.Draw(rt, "subject")
				read := rapid.Bool().Draw(rt, "read")
				d := h.s.call(rt, "", "POST", "/_emulator/mailboxes/"+h.token+"/deliver",
					map[string]any{"folder": folder, "subject": subj, "isRead": read}, http.StatusCreated)
				h.messages[d.Get("immutableId").String()] = message{folder: folder, subject: subj, flag: "none", read: read}
			},
			"markRead": func(rt *rapid.T) {
				id := h.pickMessage(rt)
				read := rapid.Bool().Draw(rt, "read")
				h.s.call(rt, h.token, "PATCH", "/v1.0/me/messages/"+id, map[string]any{"isRead": read}, http.StatusOK)
				m := h.messages[id]
				m.read = read
				h.messages[id] = m
			},
			"flag": func(rt *rapid.T) {
				id := h.pickMessage(rt)
				flag := rapid.SampledFrom(flags).Draw(rt, "flag")
				graphFlag := map[string]string{"none": "notFlagged", "flagged": "flagged", "complete": "complete"}[flag]
				h.s.call(rt, h.token, "PATCH", "/v1.0/me/messages/"+id, map[string]any{"flag": map[string]any{"flagStatus": graphFlag}}, http.StatusOK)
				m := h.messages[id]
				m.flag = flag
				h.messages[id] = m
			},
			"move": func(rt *rapid.T) {
				id := h.pickMessage(rt)
				to := rapid.SampledFrom(h.names).Draw(rt, "to")
				moved := h.s.call(rt, h.token, "POST", "/v1.0/me/messages/"+id+"/move", map[string]any{"destinationId": h.folders[to]}, http.StatusCreated)
				m := h.messages[id]
				delete(h.messages, id)
				m.folder = to
				h.messages[moved.Get("id").String()] = m
			},
			"delete": func(rt *rapid.T) {
				id := h.pickMessage(rt)
				h.s.call(rt, h.token, "DELETE", "/v1.0/me/messages/"+id, nil, http.StatusNoContent)
				// Deleting moves a message to Deleted Items (its immutable id
				// stays); deleting it there removes it.
				if m := h.messages[id]; m.folder != "deleteditems" {
					m.folder = "deleteditems"
					h.messages[id] = m
				} else {
					delete(h.messages, id)
				}
			},
			"createEvent": func(rt *rapid.T) {
				subj := subject.Draw(rt, "subject")
				day := rapid.IntRange(0, 20).Draw(rt, "day")
				hour := rapid.IntRange(0, 22).Draw(rt, "hour")
				start := h.window.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour)
				end := start.Add(time.Hour)
				e := h.s.call(rt, h.token, "POST", "/v1.0/me/events", map[string]any{
					"subject": subj,
					"start":   map[string]string{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
					"end":     map[string]string{"dateTime": end.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
				}, http.StatusCreated)
				h.events[e.Get("id").String()] = event{subject: subj, start: start.Format(time.RFC3339), end: end.Format(time.RFC3339)}
			},
			"renameEvent": func(rt *rapid.T) {
				id := pick(rt, h.events, "event")
				subj := subject.Draw(rt, "subject")
				h.s.call(rt, h.token, "PATCH", "/v1.0/me/events/"+id, map[string]any{"subject": subj}, http.StatusOK)
				e := h.events[id]
				e.subject = subj
				h.events[id] = e
			},
			"deleteEvent": func(rt *rapid.T) {
				id := pick(rt, h.events, "event")
				h.s.call(rt, h.token, "DELETE", "/v1.0/me/events/"+id, nil, http.StatusNoContent)
				delete(h.events, id)
			},
			"createContact": func(rt *rapid.T) {
				name := subject.Draw(rt, "name")
				c := h.s.call(rt, h.token, "POST", "/v1.0/me/contacts", map[string]any{"displayName": name}, http.StatusCreated)
				h.contacts[c.Get("id").String()] = contact{name: name}
			},
			"updateContact": func(rt *rapid.T) {
				id := pick(rt, h.contacts, "contact")
				mobile := rapid.StringMatching(`\+1 555 0[0-9]{3}`).Draw(rt, "mobile")
				h.s.call(rt, h.token, "PATCH", "/v1.0/me/contacts/"+id, map[string]any{"mobilePhone": mobile}, http.StatusOK)
				c := h.contacts[id]
				c.mobile = mobile
				h.contacts[id] = c
			},
			"deleteContact": func(rt *rapid.T) {
				id := pick(rt, h.contacts, "contact")
				h.s.call(rt, h.token, "DELETE", "/v1.0/me/contacts/"+id, nil, http.StatusNoContent)
				delete(h.contacts, id)
			},
			"addFile": func(rt *rapid.T) {
				parent := rapid.SampledFrom(h.driveFolders()).Draw(rt, "parent")
				name := subject.Draw(rt, "name") + rapid.SampledFrom([]string{".txt", ".docx", ""}).Draw(rt, "ext")
				folder := rapid.Bool().Draw(rt, "folder")
				spec := map[string]any{"parent": parent, "name": name}
				if folder {
					spec["folder"] = true
				} else {
					spec["content"] = name
				}
				// Names are unique per folder in a drive; a clash is Graph's 409.
				for _, f := range h.files {
					if f.parent == parent && f.name == name {
						rt.Skip("name taken")
					}
				}
				item := h.s.call(rt, "", "POST", "/_emulator/mailboxes/"+h.token+"/drive/items", spec, http.StatusCreated)
				h.files[item.Get("id").String()] = driveItem{name: name, parent: parent, folder: folder}
			},
			"renameFile": func(rt *rapid.T) {
				id := pick(rt, h.files, "item")
				name := subject.Draw(rt, "name")
				f := h.files[id]
				for other, g := range h.files {
					if other != id && g.parent == f.parent && g.name == name {
						rt.Skip("name taken")
					}
				}
				h.s.call(rt, "", "PATCH", "/_emulator/mailboxes/"+h.token+"/drive/items/"+id, map[string]any{"name": name}, http.StatusOK)
				f.name = name
				h.files[id] = f
			},
			"moveFile": func(rt *rapid.T) {
				id := pick(rt, h.files, "item")
				f := h.files[id]
				if f.folder {
					rt.Skip("folders stay put (no move into their own subtree)")
				}
				to := rapid.SampledFrom(h.driveFolders()).Draw(rt, "to")
				for _, g := range h.files {
					if g.parent == to && g.name == f.name {
						rt.Skip("name taken")
					}
				}
				h.s.call(rt, "", "PATCH", "/_emulator/mailboxes/"+h.token+"/drive/items/"+id, map[string]any{"parent": to}, http.StatusOK)
				f.parent = to
				h.files[id] = f
			},
			"deleteFile": func(rt *rapid.T) {
				id := pick(rt, h.files, "item")
				h.s.call(rt, "", "DELETE", "/_emulator/mailboxes/"+h.token+"/drive/items/"+id, nil, http.StatusNoContent)
				h.removeTree(id)
			},
			"expireSyncStates": func(rt *rapid.T) {
				h.s.call(rt, "", "POST", "/_emulator/mailboxes/"+h.token+"/expire-sync-states", nil, http.StatusOK)
			},
			"partialSync": h.partialSync,
			"fullSync": func(rt *rapid.T) {
				h.fullSync(rt)
				h.check(rt)
			},
		})
		h.fullSync(rt)
		h.check(rt)
	})
}
