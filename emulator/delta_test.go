package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inboxDelta = "/v1.0/me/mailFolders/inbox/messages/delta"

func byID(items []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, it := range items {
		out[it["id"].(string)] = it
	}
	return out
}

func TestMessageDeltaRoundThenChanges(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("t1", "demo")
	pages50 := prefer("odata.maxpagesize=50")

	// Initial round of Inbox and Archive.
	items, inboxLink, pages := e.round(inboxDelta+"?$select=subject,isRead,parentFolderId", "t1", pages50)
	require.Len(t, items, DemoInboxCount)
	assert.Equal(t, (DemoInboxCount+49)/50, pages)
	assert.Len(t, byID(items), DemoInboxCount, "ids are unique")
	archiveItems, archiveLink, _ := e.round("/v1.0/me/mailFolders/ARCHIVE/messages/delta?$select=subject,isRead", "t1", pages50)
	require.Len(t, archiveItems, 60)

	// An empty incremental round keeps working.
	none, inboxLink2, _ := e.round(inboxLink, "t1", pages50)
	assert.Empty(t, none)
	inboxLink = inboxLink2

	readID := items[3]["id"].(string)
	require.Equal(t, false, items[3]["isRead"], "newest messages start unread")
	deleteID := items[10]["id"].(string)
	moveID := items[20]["id"].(string)

	delivered := e.deliver("t1", `{"subject":"Fresh news","from":{"name":"Ana","address":"ana@x.example"},"body":{"contentType":"text","content":"hello"}}`)
	res := e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/" + readID, token: "t1", body: `{"isRead":true}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, true, res.json(t)["isRead"])
	res = e.do(req{method: http.MethodDelete, path: "/v1.0/me/messages/" + deleteID, token: "t1"})
	require.Equal(t, http.StatusNoContent, res.status)
	res = e.do(req{method: http.MethodPost, path: "/v1.0/me/messages/" + moveID + "/move", token: "t1", body: `{"destinationId":"archive"}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	movedNewID := res.json(t)["id"].(string)
	assert.NotEqual(t, moveID, movedNewID, "REST id changes on move")

	changes, _, _ := e.round(inboxLink, "t1", pages50)
	got := byID(changes)
	require.Len(t, changes, 4, "%v", changes)
	assert.Equal(t, "Fresh news", got[delivered["id"].(string)]["subject"])
	assert.Equal(t, true, got[readID]["isRead"])
	for _, id := range []string{deleteID, moveID} {
		it := got[id]
		require.NotNil(t, it, "removal of %s", id)
		assert.Equal(t, map[string]any{"reason": "deleted"}, it["@removed"])
		assert.Equal(t, "#microsoft.graph.message", it["@odata.type"])
	}
	// Updates return the full selected set.
	assert.Contains(t, got[readID], "subject")
	assert.Contains(t, got[readID], "@odata.etag")

	archiveChanges, _, _ := e.round(archiveLink, "t1", pages50)
	require.Len(t, archiveChanges, 1)
	assert.Equal(t, movedNewID, archiveChanges[0]["id"])
	assert.Nil(t, archiveChanges[0]["@removed"])

	// Deleted Items got the deleted message; folder counts follow.
	res = e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "t1"})
	assert.EqualValues(t, DemoInboxCount+1-2, res.json(t)["totalItemCount"])
}

func TestMessageDeltaSelect(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.page(req{path: inboxDelta + "?$select=subject,isRead", token: "demo"})
	require.Len(t, p.Value, DefaultPageSize)
	for _, it := range p.Value {
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"@odata.type", "@odata.etag", "id", "subject", "isRead"}, keys)
	}
	// The selection is baked into the nextLink's token.
	p2 := e.page(req{path: p.NextLink, token: "demo"})
	assert.Len(t, p2.Value[0], 5)
	// Unknown properties are rejected.
	res := e.do(req{path: inboxDelta + "?$select=subject,nope", token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	// No $select: the default set (body included, uniqueBody not).
	p = e.page(req{path: inboxDelta, token: "demo"})
	assert.Contains(t, p.Value[0], "body")
	assert.Contains(t, p.Value[0], "toRecipients")
	assert.NotContains(t, p.Value[0], "uniqueBody")
}

func TestMessageDeltaFilter(t *testing.T) {
	e := newEnv(t, Options{})
	since := seedEpoch.Add(-30 * 24 * time.Hour).Format(time.RFC3339)
	all, _, _ := e.round(inboxDelta+"?$select=receivedDateTime", "demo", prefer("odata.maxpagesize=100"))
	want := 0
	for _, it := range all {
		if it["receivedDateTime"].(string) >= since {
			want++
		}
	}
	require.Greater(t, want, 10)
	require.Less(t, want, len(all))
	got, _, _ := e.round(inboxDelta+"?$select=receivedDateTime&$filter=receivedDateTime+ge+"+since, "demo", prefer("odata.maxpagesize=100"))
	assert.Len(t, got, want)
	for _, it := range got {
		assert.GreaterOrEqual(t, it["receivedDateTime"].(string), since)
	}
	for _, bad := range []string{"isRead+eq+false", "receivedDateTime+le+" + since, "subject+eq+'x'", "receivedDateTime+ge+yesterday"} {
		res := e.do(req{path: inboxDelta + "?$filter=" + bad, token: "demo"})
		assert.Equal(t, http.StatusBadRequest, res.status, bad)
	}
	// $top is ignored on delta (page stays at the default).
	p := e.page(req{path: inboxDelta + "?$top=3", token: "demo"})
	assert.Len(t, p.Value, DefaultPageSize)
}

func TestMaxPageSizeAndPreferParsing(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name      string
		headers   http.Header
		size      int
		immutable bool
	}{
		{"default", nil, 10, false},
		{"single", prefer("odata.maxpagesize=7"), 7, false},
		{"two headers", prefer(`IdType="ImmutableId"`, "odata.maxpagesize=13"), 13, true},
		{"comma joined", prefer(`odata.maxpagesize=5, IdType="ImmutableId"`), 5, true},
		{"quoted value", prefer(`odata.maxpagesize="9"`), 9, false},
		{"comma joined with body type", prefer(`outlook.body-content-type="text", odata.maxpagesize=4`), 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.page(req{path: inboxDelta + "?$select=subject", token: "demo", headers: tt.headers})
			require.Len(t, p.Value, tt.size)
			for _, id := range ids(p.Value) {
				if tt.immutable {
					assert.True(t, strings.HasPrefix(id, "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A"), id)
				} else {
					assert.True(t, strings.HasPrefix(id, "AAMkAD"), id)
				}
			}
		})
	}
}

func TestDeltaLinksShapeAndInputForms(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.page(req{path: inboxDelta, token: "demo"})
	inbox := e.do(req{path: "/v1.0/me/mailFolders/inbox", token: "demo"}).json(t)["id"].(string)
	assert.True(t, strings.HasPrefix(p.NextLink, e.ts.URL+"/v1.0/me/mailfolders('"+inbox+"')/messages/delta?$skiptoken="), p.NextLink)
	// Both folder forms are accepted, as is delta().
	for _, path := range []string{
		"/v1.0/me/mailfolders('" + inbox + "')/messages/delta",
		"/v1.0/me/mailFolders/" + inbox + "/messages/delta()",
		"/v1.0/me/MailFolders/InBox/Messages/Delta",
	} {
		p := e.page(req{path: path, token: "demo"})
		assert.Len(t, p.Value, 10, path)
	}
	// A token used with another mailbox's bearer is unknown there: 410.
	res := e.do(req{path: p.NextLink, token: "demo2"})
	assert.Equal(t, http.StatusGone, res.status)
	// A token used on another folder is rejected.
	tok := p.NextLink[strings.Index(p.NextLink, "?"):]
	res = e.do(req{path: "/v1.0/me/mailFolders/archive/messages/delta" + tok, token: "demo"})
	assert.Equal(t, http.StatusBadRequest, res.status)
}

func TestChangesDuringPagingAreNotLost(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("t2", "demo")
	p := e.page(req{path: inboxDelta + "?$select=subject", token: "t2", headers: prefer("odata.maxpagesize=100")})
	d := e.deliver("t2", `{"subject":"mid-round"}`)
	e.deliver("t2", `{"subject":"old mid-round","receivedDateTime":"2026-05-01T00:00:00Z"}`)
	rest, link, _ := e.round(p.NextLink, "t2", prefer("odata.maxpagesize=100"))
	assert.Len(t, append(p.Value, rest...), DemoInboxCount, "the round is the snapshot at its start")
	next, _, _ := e.round(link, "t2", nil)
	subjects := map[string]bool{}
	for _, it := range next {
		subjects[it["subject"].(string)] = true
	}
	assert.True(t, subjects["mid-round"] && subjects["old mid-round"], "%v", next)
	assert.Equal(t, d["id"], byID(next)[d["id"].(string)]["id"])
}

func TestImmutableAndRESTIDsAcrossMove(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("t3", "empty")
	d := e.deliver("t3", `{"subject":"mover"}`)
	restID, immID := d["id"].(string), d["immutableId"].(string)
	immutable := prefer(`IdType="ImmutableId"`)

	res := e.do(req{path: "/v1.0/me/messages/" + immID, token: "t3", headers: immutable})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, immID, res.json(t)["id"])
	res = e.do(req{path: "/v1.0/me/messages/" + immID, token: "t3"})
	assert.Equal(t, restID, res.json(t)["id"], "without the preference REST ids are returned")

	// Move with ImmutableId: the returned id is the same immutable id.
	res = e.do(req{method: http.MethodPost, path: "/v1.0/me/messages/" + immID + "/move", token: "t3", headers: immutable, body: `{"destinationId":"Archive"}`})
	require.Equal(t, http.StatusCreated, res.status)
	assert.Equal(t, immID, res.json(t)["id"])
	// The old REST id is gone, a new one exists.
	res = e.do(req{path: "/v1.0/me/messages/" + restID, token: "t3"})
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "ErrorItemNotFound", graphErrorCode(t, res))
	res = e.do(req{path: "/v1.0/me/messages/" + immID, token: "t3"})
	newREST := res.json(t)["id"].(string)
	assert.NotEqual(t, restID, newREST)

	// Move back without the preference: REST id changes again.
	res = e.do(req{method: http.MethodPost, path: "/v1.0/me/messages/" + newREST + "/move", token: "t3", body: `{"destinationId":"inbox"}`})
	require.Equal(t, http.StatusCreated, res.status)
	third := res.json(t)["id"].(string)
	assert.NotEqual(t, newREST, third)
	assert.NotEqual(t, immID, third)

	// Delta with immutable ids reports the same id in the folder it is in.
	items, _, _ := e.round(inboxDelta, "t3", immutable)
	require.Len(t, items, 1)
	assert.Equal(t, immID, items[0]["id"])
}

func TestMoveAndRemovalIDsInDelta(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("t4", "empty")
	d := e.deliver("t4", `{"subject":"a"}`)
	immutable := prefer(`IdType="ImmutableId"`)
	_, link, _ := e.round(inboxDelta, "t4", immutable)
	res := e.do(req{method: http.MethodPost, path: "/v1.0/me/messages/" + d["id"].(string) + "/move", token: "t4", body: `{"destinationId":"junkemail"}`})
	require.Equal(t, http.StatusCreated, res.status)
	items, _, _ := e.round(link, "t4", immutable)
	require.Len(t, items, 1)
	assert.Equal(t, d["immutableId"], items[0]["id"], "removals use the id form asked for")
	assert.NotNil(t, items[0]["@removed"])
}

func TestSyncStateEvictionAndExpiry(t *testing.T) {
	e := newEnv(t, Options{SyncStateCapacity: 3})
	first := e.page(req{path: inboxDelta, token: "demo"})
	for i := 0; i < 3; i++ {
		e.page(req{path: inboxDelta, token: "demo"})
	}
	res := e.do(req{path: first.NextLink, token: "demo"})
	require.Equal(t, http.StatusGone, res.status, "%s", res.body)
	assert.Equal(t, "SyncStateNotFound", graphErrorCode(t, res))
	loc := res.header.Get("Location")
	assert.True(t, strings.HasSuffix(loc, "/messages/delta"), loc)
	assert.Equal(t, http.StatusOK, e.do(req{path: loc, token: "demo"}).status, "Location is a fresh initial URL")

	p := e.page(req{path: inboxDelta, token: "demo"})
	ctl := e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes/demo/expire-sync-states"})
	require.Equal(t, http.StatusOK, ctl.status)
	res = e.do(req{path: p.NextLink, token: "demo"})
	assert.Equal(t, http.StatusGone, res.status)

	// Unknown tokens too.
	res = e.do(req{path: inboxDelta + "?$deltatoken=bogus", token: "demo"})
	assert.Equal(t, http.StatusGone, res.status)
	res = e.do(req{path: "/v1.0/me/mailFolders/delta?$skiptoken=bogus", token: "demo"})
	assert.Equal(t, http.StatusGone, res.status)
}

func TestSyncStateQuirks(t *testing.T) {
	tests := []struct {
		name     string
		quirks   Quirks
		status   int
		code     string
		location bool
	}{
		{"default", Quirks{}, 410, "SyncStateNotFound", true},
		{"camel case", Quirks{SyncStateCode: "syncStateNotFound"}, 410, "syncStateNotFound", true},
		{"resync required 400", Quirks{SyncStateCode: "resyncRequired", SyncStateStatus: 400}, 400, "resyncRequired", true},
		{"no location", Quirks{SyncStateOmitLocation: true}, 410, "SyncStateNotFound", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{Quirks: tt.quirks})
			res := e.do(req{path: inboxDelta + "?$deltatoken=gone", token: "demo"})
			require.Equal(t, tt.status, res.status)
			assert.Equal(t, tt.code, graphErrorCode(t, res))
			assert.Equal(t, tt.location, res.header.Get("Location") != "")
		})
	}
}

func TestDeltaQuirksEmptyPagesAndReplays(t *testing.T) {
	e := newEnv(t, Options{Quirks: Quirks{EmptyPageEvery: 2, ReplayEvery: 10}})
	var all []map[string]any
	url := inboxDelta + "?$select=subject"
	empty := 0
	for {
		p := e.page(req{path: url, token: "demo", headers: prefer("odata.maxpagesize=100")})
		if len(p.Value) == 0 && p.NextLink != "" {
			empty++
		}
		all = append(all, p.Value...)
		if p.DeltaLink != "" {
			break
		}
		url = p.NextLink
	}
	assert.Equal(t, 2, empty, "an empty nextLink page before pages 2 and 4")
	assert.Len(t, all, DemoInboxCount+DemoInboxCount/10)
	assert.Len(t, byID(all), DemoInboxCount)
}

func TestFolderDelta(t *testing.T) {
	e := newEnv(t, Options{Seed: SeedNone})
	e.newMailbox("t5", "demo")
	items, link, pages := e.round("/v1.0/me/mailFolders/delta", "t5", prefer("odata.maxpagesize=4"))
	assert.Equal(t, 4, pages)
	require.Len(t, items, 13)
	names := map[string]map[string]any{}
	for _, it := range items {
		names[it["displayName"].(string)] = it
		assert.NotEmpty(t, it["parentFolderId"])
	}
	for _, n := range []string{"Inbox", "Drafts", "Sent Items", "Deleted Items", "Archive", "Junk Email", "Outbox", "Projects", "Alpha", "Beta", "Receipts", "2025", "Hidden Notes"} {
		assert.Contains(t, names, n)
	}
	assert.Equal(t, names["Projects"]["id"], names["Alpha"]["parentFolderId"])
	assert.Equal(t, names["Inbox"]["id"], names["Projects"]["parentFolderId"])
	assert.Equal(t, names["Inbox"]["parentFolderId"], names["Hidden Notes"]["parentFolderId"])
	assert.Equal(t, true, names["Hidden Notes"]["isHidden"])
	assert.EqualValues(t, DemoInboxCount, names["Inbox"]["totalItemCount"])

	// Counts change with a delivery; a created-then-deleted folder is a removal.
	e.deliver("t5", `{"subject":"count me"}`)
	res := e.do(req{method: http.MethodPost, path: "/v1.0/me/mailFolders/inbox/childFolders", token: "t5", body: `{"displayName":"Temp"}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	tempID := res.json(t)["id"].(string)
	changes, link, _ := e.round(link, "t5", nil)
	got := byID(changes)
	assert.EqualValues(t, DemoInboxCount+1, got[names["Inbox"]["id"].(string)]["totalItemCount"])
	assert.Contains(t, got, tempID)
	res = e.do(req{method: http.MethodDelete, path: "/v1.0/me/mailFolders/" + tempID, token: "t5"})
	require.Equal(t, http.StatusNoContent, res.status)
	changes, _, _ = e.round(link, "t5", nil)
	got = byID(changes)
	require.Contains(t, got, tempID)
	assert.Equal(t, map[string]any{"reason": "deleted"}, got[tempID]["@removed"])

	// $select on folder delta.
	p := e.page(req{path: "/v1.0/me/mailFolders/delta?$select=displayName", token: "t5"})
	assert.Len(t, p.Value[0], 2)
}

func TestFolderListsAndGet(t *testing.T) {
	e := newEnv(t, Options{})
	list := func(path string) []any {
		res := e.do(req{path: path, token: "demo"})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		return res.json(t)["value"].([]any)
	}
	assert.Len(t, list("/v1.0/me/mailFolders?$top=50"), 7, "hidden folders are not listed")
	assert.Len(t, list("/v1.0/me/mailFolders?$top=50&includeHiddenFolders=true"), 8)
	assert.Len(t, list("/v1.0/me/mailFolders/inbox/childFolders"), 2)
	res0 := e.do(req{path: "/v1.0/me/mailFolders?$top=3", token: "demo"}).json(t)
	assert.Len(t, res0["value"], 3)
	assert.Contains(t, res0["@odata.nextLink"], "$skip=3")
	res := e.do(req{path: "/v1.0/me/mailFolders/SentItems?$select=displayName", token: "demo"})
	require.Equal(t, http.StatusOK, res.status)
	v := res.json(t)
	assert.Equal(t, "Sent Items", v["displayName"])
	assert.NotContains(t, v, "totalItemCount")
	res = e.do(req{path: "/v1.0/me/mailFolders/msgfolderroot", token: "demo"})
	assert.Equal(t, "Top of Information Store", res.json(t)["displayName"])
	res = e.do(req{path: "/v1.0/me/mailFolders/AAMkADnotafolderatall=", token: "demo"})
	assert.Equal(t, http.StatusNotFound, res.status)
}
