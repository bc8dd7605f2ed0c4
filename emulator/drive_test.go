package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const driveDeltaSelect = "$select=id,name,size,eTag,cTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl"

// driveTestKey signs download URLs in tests that run a separate host.
var driveTestKey = []byte("0123456789abcdef0123456789abcdef")

// newDriveEnv runs the emulator and, on another listener, its download
// host, sharing a key.
func newDriveEnv(t *testing.T, opts Options) (*testEnv, *httptest.Server, *DownloadHandler) {
	t.Helper()
	q := opts.Quirks
	dl, err := NewDownloadHandler(DownloadOptions{Key: driveTestKey, DeniedStatus: q.DownloadDeniedStatus, IgnoreRange: q.DownloadIgnoreRange,
		Redirects: q.DownloadRedirects, RedirectOrigin: q.DownloadRedirectOrigin})
	require.NoError(t, err)
	dts := httptest.NewServer(dl)
	t.Cleanup(dts.Close)
	opts.DownloadOrigin, opts.DownloadKey = dts.URL, driveTestKey
	return newEnv(t, opts), dts, dl
}

// list GETs a children or search page (no delta link rules).
func (e *testEnv) driveList(path, token string) deltaPage {
	e.t.Helper()
	res := e.do(req{path: path, token: token})
	require.Equal(e.t, http.StatusOK, res.status, "GET %s: %s", path, res.body)
	var p deltaPage
	require.NoError(e.t, json.Unmarshal(res.body, &p))
	assert.Empty(e.t, p.DeltaLink)
	return p
}

// control calls the control API and checks the status.
func (e *testEnv) control(method, path, body string, want int) map[string]any {
	e.t.Helper()
	res := e.do(req{method: method, path: "/_emulator" + path, body: body})
	require.Equal(e.t, want, res.status, "%s %s: %s", method, path, res.body)
	if len(res.body) == 0 || res.body[0] != '{' {
		return nil
	}
	return res.json(e.t)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// newDriveMailbox creates a mailbox with a demo drive of the flavour.
func (e *testEnv) newDriveMailbox(token, flavour string) {
	e.t.Helper()
	e.control(http.MethodPost, "/mailboxes", mustJSON(map[string]any{"token": token, "upn": token + "@contoso.example", "drive": flavour}), http.StatusCreated)
	e.control(http.MethodPut, "/mailboxes/"+token+"/drive", `{"type":"`+flavour+`","seed":"demo"}`, http.StatusOK)
}

// treeIDs lists the drive's items by walking children (following every
// nextLink), root included.
func (e *testEnv) treeIDs(token string) map[string]string {
	e.t.Helper()
	root := e.do(req{path: "/v1.0/me/drive/root?$select=id,name", token: token}).json(e.t)
	out := map[string]string{root["id"].(string): "root"}
	queue := []string{root["id"].(string)}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		next := "/v1.0/me/drive/items/" + url.PathEscape(id) + "/children?$select=id,name,folder"
		for next != "" {
			res := e.do(req{path: next, token: token})
			require.Equal(e.t, http.StatusOK, res.status, "%s", res.body)
			var p deltaPage
			require.NoError(e.t, json.Unmarshal(res.body, &p))
			for _, it := range p.Value {
				out[it["id"].(string)] = it["name"].(string)
				if _, ok := it["folder"]; ok {
					queue = append(queue, it["id"].(string))
				}
			}
			next = p.NextLink
		}
	}
	return out
}

func TestDriveDeltaFromScratchEqualsTree(t *testing.T) {
	for _, flavour := range []string{DriveBusiness, DrivePersonal} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t, Options{Seed: SeedNone})
			e.newDriveMailbox("d1", flavour)
			items, link, pages := e.round("/v1.0/me/drive/root/delta?"+driveDeltaSelect+"&$top=50", "d1", nil)
			assert.Greater(t, pages, 6, "$top pages the round")
			assert.Contains(t, link, "token=")
			assert.Contains(t, link, "$select=id,name", "links keep the query options")
			tree := e.treeIDs("d1")
			got := map[string]string{}
			seen := map[string]bool{}
			for i, it := range items {
				id := it["id"].(string)
				got[id] = it["name"].(string)
				if i == 0 {
					assert.Equal(t, map[string]any{}, it["root"], "the root comes first")
				} else {
					parent := it["parentReference"].(map[string]any)
					assert.True(t, seen[parent["id"].(string)], "parent of %s listed before it", it["name"])
					assert.NotContains(t, parent, "path", "no path in delta")
				}
				seen[id] = true
				if folder, ok := it["folder"].(map[string]any); ok && flavour == DrivePersonal {
					assert.EqualValues(t, 0, folder["childCount"], "personal delta reports childCount 0")
				}
				if flavour == DriveBusiness {
					assert.NotContains(t, it, "cTag", "business delta omits cTag")
					assert.True(t, strings.HasPrefix(id, "01"), id)
				} else {
					assert.Contains(t, id, "!", id)
				}
				assert.NotContains(t, it, "deleted")
			}
			assert.Equal(t, tree, got)
			assert.Len(t, items, len(tree), "each item once")
		})
	}
}

func TestDriveDeltaChanges(t *testing.T) {
	for _, flavour := range []string{DriveBusiness, DrivePersonal} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t, Options{Seed: SeedNone})
			e.newDriveMailbox("d2", flavour)
			items, link, _ := e.round("/v1.0/me/drive/root/delta?"+driveDeltaSelect, "d2", nil)
			byName := map[string]map[string]any{}
			for _, it := range items {
				byName[it["name"].(string)] = it
			}
			id := func(name string) string { return byName[name]["id"].(string) }
			// Nothing changed: an empty round.
			none, link, _ := e.round(link, "d2", nil)
			assert.Empty(t, none)

			e.control(http.MethodPatch, "/mailboxes/d2/drive/items/"+url.PathEscape(id("Budget 2026.xlsx")), `{"name":"Budget 2027.xlsx"}`, http.StatusOK)
			e.control(http.MethodPatch, "/mailboxes/d2/drive/items/"+url.PathEscape(id("Team photo.png")), `{"parent":"`+id("Beta")+`"}`, http.StatusOK)
			e.control(http.MethodDelete, "/mailboxes/d2/drive/items/"+url.PathEscape(id("readme.txt")), "", http.StatusNoContent)
			e.control(http.MethodDelete, "/mailboxes/d2/drive/items/"+url.PathEscape(id("Reports")), "", http.StatusNoContent)
			added := e.control(http.MethodPost, "/mailboxes/d2/drive/items", `{"parent":"`+id("Documents")+`","name":"new.txt","content":"hi"}`, http.StatusCreated)

			changes, _, _ := e.round(link, "d2", nil)
			live, gone := map[string]map[string]any{}, map[string]map[string]any{}
			for _, it := range changes {
				if _, ok := it["deleted"]; ok {
					gone[it["id"].(string)] = it
				} else {
					live[it["id"].(string)] = it
				}
			}
			assert.Equal(t, "Budget 2027.xlsx", live[id("Budget 2026.xlsx")]["name"])
			assert.Equal(t, id("Beta"), live[id("Team photo.png")]["parentReference"].(map[string]any)["id"])
			assert.Contains(t, live, added["id"])
			// Parents of the changes, and the root first.
			assert.Equal(t, id("root"), changes[0]["id"])
			for _, parent := range []string{"Documents", "Photos", "Projects", "Beta"} {
				assert.Contains(t, live, id(parent), "parent %s of a change", parent)
			}
			assert.Len(t, live, 8, "the changed items, their parents and the root; nothing else: %v", live)
			// Tombstones: readme.txt, Reports and its five files.
			assert.Len(t, gone, 7)
			for _, name := range []string{"readme.txt", "Reports", "Q1 report.docx", "Annual report 2025.pdf"} {
				tomb := gone[id(name)]
				require.NotNil(t, tomb, name)
				assert.Equal(t, map[string]any{"state": "deleted"}, tomb["deleted"])
				assert.NotContains(t, tomb, "cTag")
				if flavour == DriveBusiness {
					assert.NotContains(t, tomb, "name", "business tombstones have no name")
					assert.Contains(t, tomb, "size")
				} else {
					assert.Equal(t, name, tomb["name"])
					assert.NotContains(t, tomb, "size", "personal tombstones have no size")
				}
			}
		})
	}
}

func TestDriveDeltaDeletedFacetOnlyWhenSelected(t *testing.T) {
	for _, keep := range []bool{false, true} {
		e := newEnv(t, Options{Seed: SeedNone, Quirks: Quirks{DriveKeepDeletedFacet: keep}})
		e.newDriveMailbox("d3", DriveBusiness)
		items, link, _ := e.round("/v1.0/me/drive/root/delta?$select=id,name,parentReference", "d3", nil)
		var readme string
		for _, it := range items {
			if it["name"] == "readme.txt" {
				readme = it["id"].(string)
			}
		}
		e.control(http.MethodDelete, "/mailboxes/d3/drive/items/"+readme, "", http.StatusNoContent)
		changes, _, _ := e.round(link, "d3", nil)
		var tomb map[string]any
		for _, it := range changes {
			if it["id"] == readme {
				tomb = it
			}
		}
		require.NotNil(t, tomb)
		if keep {
			assert.Contains(t, tomb, "deleted")
		} else {
			assert.NotContains(t, tomb, "deleted", "without deleted in $select the facet is dropped")
			assert.NotContains(t, tomb, "name")
		}
	}
	// Without $select the tombstone carries the facet.
	e := newEnv(t, Options{Seed: SeedNone})
	e.newDriveMailbox("d4", DriveBusiness)
	_, link, _ := e.round("/v1.0/me/drive/root/delta", "d4", nil)
	info := e.control(http.MethodPost, "/mailboxes/d4/drive/items", `{"name":"x.bin","size":10}`, http.StatusCreated)
	_, link, _ = e.round(link, "d4", nil)
	e.control(http.MethodDelete, "/mailboxes/d4/drive/items/"+info["id"].(string), "", http.StatusNoContent)
	changes, _, _ := e.round(link, "d4", nil)
	require.NotEmpty(t, changes)
	assert.Contains(t, changes[len(changes)-1], "deleted")
}

func TestDriveDeltaShortPagesOfDeletes(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newDriveMailbox("d5", DriveBusiness)
	items, link, _ := e.round("/v1.0/me/drive/root/delta?"+driveDeltaSelect+"&$top=100", "d5", nil)
	deleted := 0
	for _, it := range items {
		if name, _ := it["name"].(string); strings.HasPrefix(name, "IMG_") && deleted < 30 {
			e.control(http.MethodDelete, "/mailboxes/d5/drive/items/"+it["id"].(string), "", http.StatusNoContent)
			deleted++
		}
	}
	var total, pages int
	next := link
	for {
		p := e.page(req{path: next, token: "d5"})
		pages++
		total += len(p.Value)
		tombs := 0
		for _, it := range p.Value {
			if _, ok := it["deleted"]; ok {
				tombs++
			}
		}
		if tombs > 0 {
			assert.LessOrEqual(t, len(p.Value), 7, "pages of mostly deletes are short")
		}
		if p.DeltaLink != "" {
			break
		}
		next = p.NextLink
	}
	assert.Equal(t, 33, total, "30 tombstones, their folder, its parent and the root")
	assert.GreaterOrEqual(t, pages, 5)
}

func TestDriveDeltaTokenLatest(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newDriveMailbox("d6", DrivePersonal)
	p := e.page(req{path: "/v1.0/me/drive/root/delta?" + driveDeltaSelect + "&token=latest", token: "d6"})
	assert.Empty(t, p.Value)
	require.NotEmpty(t, p.DeltaLink)
	assert.NotContains(t, p.DeltaLink, "latest")
	added := e.control(http.MethodPost, "/mailboxes/d6/drive/items", `{"name":"one.txt","content":"1"}`, http.StatusCreated)
	changes, link, _ := e.round(p.DeltaLink, "d6", nil)
	require.Len(t, changes, 2, "the new file and the root")
	assert.Equal(t, added["id"], changes[1]["id"])
	assert.Equal(t, map[string]any{}, changes[0]["root"])
	// deltaExcludeParent drops the parent chain of a renamed file.
	e.control(http.MethodPatch, "/mailboxes/d6/drive/items/"+url.PathEscape(added["id"].(string)), `{"name":"uno.txt"}`, http.StatusOK)
	changes, _, _ = e.round(link, "d6", prefer("deltaExcludeParent"))
	require.Len(t, changes, 1)
	assert.Equal(t, "uno.txt", changes[0]["name"])
}

func TestDriveDeltaExpiredToken(t *testing.T) {
	cases := []struct {
		code, wantCode, wantInner string
		omitLocation              bool
	}{
		{"", "resyncRequired", "", false},
		{DriveResyncApplyDifferences, "resyncRequired", "resyncApplyDifferences", false},
		{DriveResyncUploadDifferences, "resyncRequired", "resyncUploadDifferences", false},
		{DriveResyncChangesApplyDifferences, "resyncChangesApplyDifferences", "", true},
		{DriveResyncChangesUploadDifferences, "resyncChangesUploadDifferences", "", false},
		{DriveSyncStateNotFound, "syncStateNotFound", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.wantCode+tc.wantInner, func(t *testing.T) {
			e := newEnv(t, Options{Seed: SeedNone, Quirks: Quirks{DriveResyncCode: tc.code, DriveResyncOmitLocation: tc.omitLocation}})
			e.newDriveMailbox("d7", DriveBusiness)
			first := e.page(req{path: "/v1.0/me/drive/root/delta?$select=id,name,deleted&$top=20", token: "d7"})
			_, link, _ := e.round(first.NextLink, "d7", nil)
			got := e.control(http.MethodPost, "/mailboxes/d7/drive/expire-delta-tokens", "", http.StatusOK)
			assert.Positive(t, got["expired"])
			for _, stale := range []string{link, first.NextLink} {
				res := e.do(req{path: stale, token: "d7"})
				require.Equal(t, http.StatusGone, res.status, "%s", res.body)
				body := res.json(t)["error"].(map[string]any)
				assert.Equal(t, tc.wantCode, body["code"])
				inner := body["innerError"].(map[string]any)
				if tc.wantInner != "" {
					assert.Equal(t, tc.wantInner, inner["code"])
				} else {
					assert.NotContains(t, inner, "code")
				}
				if tc.omitLocation {
					assert.Empty(t, res.header.Get("Location"))
				} else {
					loc := res.header.Get("Location")
					assert.Contains(t, loc, "/me/drive/root/delta?$select=id,name,deleted&$top=20")
					assert.NotContains(t, loc, "token=")
				}
			}
			// A token of another drive is unknown here too.
			res := e.do(req{path: "/v1.0/me/drive/root/delta?token=bogus", token: "d7"})
			assert.Equal(t, http.StatusGone, res.status)
		})
	}
}

func TestDriveChildrenPagingSelectAndETags(t *testing.T) {
	e := newEnv(t, Options{})
	root := e.do(req{path: "/v1.0/me/drive/root/children?$select=id,name", token: "demo"}).json(t)
	var projects, photos string
	for _, it := range root["value"].([]any) {
		switch m := it.(map[string]any); m["name"] {
		case "Projects":
			projects = m["id"].(string)
		case "Photos":
			photos = m["id"].(string)
		}
	}
	kids := e.do(req{path: "/v1.0/me/drive/items/" + projects + "/children", token: "demo"}).json(t)
	var alpha map[string]any
	for _, it := range kids["value"].([]any) {
		if m := it.(map[string]any); m["name"] == "Alpha" {
			alpha = m
		}
	}
	require.NotNil(t, alpha)
	assert.EqualValues(t, DemoDriveAlphaFiles, alpha["folder"].(map[string]any)["childCount"])
	assert.NotContains(t, alpha, "cTag", "business folders have no cTag")
	first := e.driveList("/v1.0/me/drive/items/"+alpha["id"].(string)+"/children?$select=id,name,size", "demo")
	assert.Len(t, first.Value, DefaultDrivePageSize, "the default page is 200")
	require.Contains(t, first.NextLink, "$skiptoken=")
	assert.Contains(t, first.NextLink, "$select=id,name,size")
	assert.Equal(t, map[string]any{"id": first.Value[0]["id"], "name": "spec-001.md", "size": float64(len("# Spec 1\n\nDraft.\n"))}, first.Value[0])
	second := e.driveList(first.NextLink, "demo")
	assert.Len(t, second.Value, DemoDriveAlphaFiles-DefaultDrivePageSize)
	assert.Equal(t, "spec-250.md", second.Value[len(second.Value)-1]["name"])
	small := e.driveList("/v1.0/me/drive/items/"+alpha["id"].(string)+"/children?$top=7", "demo")
	assert.Len(t, small.Value, 7)

	// If-None-Match with the eTag (folder) or cTag (file) → 304.
	res := e.do(req{path: "/v1.0/me/drive/items/" + alpha["id"].(string) + "/children", token: "demo", headers: http.Header{"If-None-Match": {alpha["eTag"].(string)}}})
	assert.Equal(t, http.StatusNotModified, res.status)
	assert.Empty(t, res.body)
	file := e.do(req{path: "/v1.0/me/drive/items/" + first.Value[0]["id"].(string), token: "demo"}).json(t)
	res = e.do(req{path: "/v1.0/me/drive/items/" + first.Value[0]["id"].(string), token: "demo", headers: http.Header{"If-None-Match": {file["cTag"].(string)}}})
	assert.Equal(t, http.StatusNotModified, res.status)
	res = e.do(req{path: "/v1.0/me/drive/items/" + first.Value[0]["id"].(string), token: "demo", headers: http.Header{"If-None-Match": {`"{00000000-0000-0000-0000-000000000000},1"`}}})
	assert.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, res.json(t), "@microsoft.graph.downloadUrl")

	// Business: $orderby by name only; thumbnails expand on children,
	// refused in delta.
	res = e.do(req{path: "/v1.0/me/drive/root/children?$orderby=lastModifiedDateTime%20desc", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "invalidRequest", graphErrorCode(t, res))
	desc := e.driveList("/v1.0/me/drive/items/"+alpha["id"].(string)+"/children?$orderby=name%20desc&$top=1", "demo")
	assert.Equal(t, "spec-250.md", desc.Value[0]["name"])
	res = e.do(req{path: "/v1.0/me/drive/root/delta?$expand=thumbnails", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	res = e.do(req{path: "/v1.0/me/drive/items/" + photos + "/children?$select=id,name&$expand=thumbnails($select=medium)", token: "demo"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), `"medium":{"height":132,"width":176,"url":`)
	assert.NotContains(t, string(res.body), `"large"`)
	res = e.do(req{path: "/v1.0/me/drive/root/children?$select=nonsense", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)

	// Personal: other orders work; thumbnails in delta too.
	res = e.do(req{path: "/v1.0/me/drive/root/children?$orderby=lastModifiedDateTime%20desc", token: Demo2Token})
	assert.Equal(t, http.StatusOK, res.status)
	res = e.do(req{path: "/v1.0/me/drive/root/delta?$expand=thumbnails", token: Demo2Token})
	assert.Equal(t, http.StatusOK, res.status)
}

func TestDriveFlavoursAndAddressing(t *testing.T) {
	e := newEnv(t, Options{})
	business := e.do(req{path: "/v1.0/me/drive", token: "demo"}).json(t)
	assert.Equal(t, "business", business["driveType"])
	assert.True(t, strings.HasPrefix(business["id"].(string), "b!"))
	personal := e.do(req{path: "/v1.0/users/" + Demo2UPN + "/drive", token: Demo2Token}).json(t)
	assert.Equal(t, "personal", personal["driveType"])
	pid := personal["id"].(string)

	// /drives/{id}, with personal ids compared case-insensitively.
	root := e.do(req{path: "/v1.0/drives/" + strings.ToLower(pid) + "/root?$select=id,root", token: Demo2Token}).json(t)
	assert.True(t, strings.HasPrefix(root["id"].(string), pid+"!"))
	escaped := e.do(req{path: "/v1.0/me/drive/items/" + strings.ReplaceAll(strings.ToLower(root["id"].(string)), "!", "%21") + "?$select=id", token: Demo2Token})
	require.Equal(t, http.StatusOK, escaped.status, "an escaped '!' and a lower-case personal id: %s", escaped.body)
	assert.Equal(t, root["id"], escaped.json(t)["id"])
	batch := e.do(req{method: http.MethodPost, path: "/v1.0/$batch", token: Demo2Token,
		body: `{"requests":[{"id":"1","method":"GET","url":"/me/drive/root/delta?$select=id,name&$top=3"}]}`})
	require.Equal(t, http.StatusOK, batch.status, "%s", batch.body)
	assert.Contains(t, string(batch.body), `"status":200`)
	assert.Contains(t, string(batch.body), `delta(token='`)
	res := e.do(req{path: "/v1.0/drives/" + url.PathEscape(business["id"].(string)) + "/root/children", token: Demo2Token})
	assert.Equal(t, http.StatusNotFound, res.status, "someone else's drive: 404, as Graph answers without permission")

	// Adele's drive lists the shared folder as a remoteItem; she can read
	// it in its own drive, but not its neighbour.
	kids := e.driveList("/v1.0/me/drive/root/children", Demo2Token)
	var remote map[string]any
	for _, it := range kids.Value {
		if r, ok := it["remoteItem"].(map[string]any); ok {
			remote = r
		}
	}
	require.NotNil(t, remote)
	assert.Equal(t, DemoSharedFolderName, remote["name"])
	remoteDrive := remote["parentReference"].(map[string]any)["driveId"].(string)
	shared := e.driveList("/v1.0/drives/"+remoteDrive+"/items/"+remote["id"].(string)+"/children", Demo2Token)
	assert.Len(t, shared.Value, 5)
	items, _, _ := e.round("/v1.0/drives/"+remoteDrive+"/items/"+remote["id"].(string)+"/delta", Demo2Token, nil)
	assert.Len(t, items, 6, "personal delta on a shared folder: it and its files")
	sharedRoot := e.do(req{path: "/v1.0/drives/" + remoteDrive + "/root/children", token: Demo2Token})
	assert.Equal(t, http.StatusNotFound, sharedRoot.status)

	// Business delta works on the root only.
	docs := e.driveList("/v1.0/me/drive/root/children?$select=id,name", "demo").Value[0]
	res = e.do(req{path: "/v1.0/me/drive/items/" + docs["id"].(string) + "/delta", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	res = e.do(req{path: "/v1.0/me/drive/items/01AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", token: "demo"})
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "itemNotFound", graphErrorCode(t, res))
}

func TestDriveSearch(t *testing.T) {
	e := newEnv(t, Options{})
	search := func(token, q string) resp {
		return e.do(req{path: "/v1.0/me/drive/root/search(q='" + url.PathEscape(q) + "')?$select=id,name", token: token})
	}
	names := func(r resp) []string {
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var out []string
		for _, it := range r.json(t)["value"].([]any) {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"O'Brien contract.pdf"}, names(search("demo", "O''Brien")), "doubled quote")
	res := search("demo", "O'Brien")
	assert.Equal(t, http.StatusBadRequest, res.status, "an undoubled quote is a syntax error")
	assert.Equal(t, []string{"Notes #1.txt"}, names(search("demo", "#1")))
	assert.Equal(t, []string{"100% plan.md"}, names(search("demo", "100%")))
	assert.Equal(t, []string{"Résumé – Zoë.pdf"}, names(search("demo", "zoë")))
	assert.Equal(t, []string{"a+b=c.txt"}, names(search("demo", "a+b")))
	all := e.driveList("/v1.0/me/drive/root/search(q='spec-')?$top=1000", "demo")
	assert.Len(t, all.Value, DemoDriveAlphaFiles)
	assert.Empty(t, all.NextLink)
	res = search("demo", "a/b")
	assert.Equal(t, http.StatusBadRequest, res.status, "'/' in the text")
	res = e.do(req{path: "/v1.0/me/drive/root/search(q='a/b')", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status, "an unescaped '/' splits the path")
	res = e.do(req{path: "/v1.0/me/drive/root/search(q=\"x\")", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	// Paging and the searchResult facet.
	p := e.driveList("/v1.0/me/drive/root/search(q='spec')?$top=100", "demo")
	assert.Len(t, p.Value, 100)
	assert.Contains(t, p.NextLink, "$skiptoken=")
	assert.Contains(t, p.Value[0], "searchResult")
	// The drive-wide search also finds what is shared with the caller.
	res = e.do(req{path: "/v1.0/me/drive/search(q='team')", token: Demo2Token})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var remote int
	for _, it := range res.json(t)["value"].([]any) {
		if _, ok := it.(map[string]any)["remoteItem"]; ok {
			remote++
		}
	}
	assert.Equal(t, 6, remote, "the five shared team photos and Adele's entry for their folder")
	assert.Equal(t, []string{DemoSharedFolderName}, names(search(Demo2Token, "team")), "the root search stays in the drive: only the remoteItem entry")
}

func TestDriveLatestLinkKeepsTokenQuirk(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone, Quirks: Quirks{DriveLatestLinkKeepsToken: true}})
	e.newDriveMailbox("d8", DriveBusiness)
	p := e.page(req{path: "/v1.0/me/drive/root/delta?$select=id,name&token=latest", token: "d8"})
	require.Contains(t, p.DeltaLink, "token=latest&token=")
	e.control(http.MethodPost, "/mailboxes/d8/drive/items", `{"name":"late.txt","content":"x"}`, http.StatusCreated)
	replayed := e.page(req{path: p.DeltaLink, token: "d8"})
	assert.Empty(t, replayed.Value, "the link as it is starts from latest again: the change is lost")
	dropped := strings.Replace(p.DeltaLink, "token=latest&", "", 1)
	changes, _, _ := e.round(dropped, "d8", nil)
	require.Len(t, changes, 2)
	assert.Equal(t, "late.txt", changes[1]["name"])
}

func TestDriveDeltaTimestampToken(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, Options{Seed: SeedNone, Now: func() time.Time { return now }})
	e.newDriveMailbox("d9", DriveBusiness)
	e.control(http.MethodPost, "/mailboxes/d9/drive/items", `{"name":"before.txt","content":"1"}`, http.StatusCreated)
	now = now.Add(time.Hour)
	e.control(http.MethodPost, "/mailboxes/d9/drive/items", `{"name":"after.txt","content":"2"}`, http.StatusCreated)
	stamp := url.QueryEscape("2026-11-20T10:30:00Z")
	changes, _, _ := e.round("/v1.0/me/drive/root/delta?$select=id,name&token="+stamp, "d9", nil)
	require.Len(t, changes, 2, "the root and the file created after the timestamp: %v", changes)
	assert.Equal(t, "after.txt", changes[1]["name"])
	res := e.do(req{path: "/v1.0/me/drive/root/delta?token=1999-01-01T00%3A00%3A00Z", token: "d9"})
	assert.Equal(t, http.StatusGone, res.status, "older than the drive remembers")

	e.newDriveMailbox("p9", DrivePersonal)
	res = e.do(req{path: "/v1.0/me/drive/root/delta?token=" + stamp, token: "p9"})
	assert.Equal(t, http.StatusGone, res.status, "personal drives know no timestamp tokens")
}

func TestDriveBusinessBeliefQuirks(t *testing.T) {
	e := newEnv(t, Options{Quirks: Quirks{DriveOmitMimeType: true, DriveSparseSearch: true, DriveBusinessAnyOrder: true}})
	newest := e.driveList("/v1.0/me/drive/root/children?$orderby=lastModifiedDateTime%20desc&$select=name", "demo").Value
	assert.Equal(t, "readme.txt", newest[0]["name"], "sorted by time on a business drive")
	hit := e.driveList("/v1.0/me/drive/root/search(q='readme')", "demo").Value[0]
	assert.NotContains(t, hit, "parentReference")
	assert.NotContains(t, hit, "createdBy")
	assert.Equal(t, map[string]any{}, hit["file"], "file facet without mimeType")
	personal := e.driveList("/v1.0/me/drive/root/search(q='readme')", Demo2Token).Value[0]
	assert.Contains(t, personal, "parentReference", "personal drives are not affected")
	assert.Equal(t, "text/plain", personal["file"].(map[string]any)["mimeType"])
}

func TestDriveReplacedDriveForgetsTokens(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newDriveMailbox("d10", DriveBusiness)
	_, link, _ := e.round("/v1.0/me/drive/root/delta?$select=id", "d10", nil)
	e.control(http.MethodPut, "/mailboxes/d10/drive", `{"type":"business","seed":"demo"}`, http.StatusOK)
	_, _, _ = e.round("/v1.0/me/drive/root/delta?$select=id", "d10", nil)
	res := e.do(req{path: link, token: "d10"})
	assert.Equal(t, http.StatusGone, res.status, "a token of the replaced drive is unknown, never another state: %s", res.body)
}

func TestDriveDeltaEmptyPagesAndIgnoredTop(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone, Quirks: Quirks{EmptyPageEvery: 2}})
	e.newDriveMailbox("d11", DrivePersonal)
	next := "/v1.0/me/drive/root/delta?$select=id&$top=40"
	empty, total := 0, 0
	for {
		p := e.page(req{path: next, token: "d11"})
		total += len(p.Value)
		if len(p.Value) == 0 && p.NextLink != "" {
			empty++
		}
		if p.DeltaLink != "" {
			break
		}
		next = p.NextLink
	}
	assert.Positive(t, empty, "empty pages that still carry a nextLink")
	assert.Equal(t, len(e.treeIDs("d11")), total)

	ignoring := newEnv(t, Options{Seed: SeedNone, Quirks: Quirks{DriveIgnoreTop: true}})
	ignoring.newDriveMailbox("d12", DriveBusiness)
	p := ignoring.page(req{path: "/v1.0/me/drive/root/delta?$select=id&$top=5", token: "d12"})
	assert.Len(t, p.Value, DefaultDrivePageSize, "$top ignored")
}
