package translate

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const (
	selFileSync = "$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl"
	selFileList = "$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,webUrl"
	selFileLink = "$select=id,size,eTag,file,@microsoft.graph.downloadUrl"
	// qRecent is attachments.recent's query after $filter=receivedDateTime ge {since}.
	qRecent = "%20and%20hasAttachments%20eq%20true&$orderby=receivedDateTime%20desc" +
		"&$select=id,subject,from,receivedDateTime,parentFolderId&$expand=attachments($select=id,name,size,contentType,isInline)&$top="
	businessDrive = "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB"
)

func TestFileCalls(t *testing.T) {
	cases := []struct {
		name      string
		immutable bool
		body      string
		path      string
		query     string
		prefer    []string
		ifNone    string
	}{
		{"sync defaults", false, cmd("files.sync", ""), "/v1.0/me/drive/root/delta", selFileSync + "&$top=50", nil, ""},
		{"sync window is $top, never maxpagesize", true, cmd("files.sync", `{"window":200}`), "/v1.0/me/drive/root/delta",
			selFileSync + "&$top=200", []string{`IdType="ImmutableId"`}, ""},
		{"sync from now", false, cmd("files.sync", `{"from":"now","window":5}`), "/v1.0/me/drive/root/delta",
			selFileSync + "&$top=5&token=latest", nil, ""},
		{"sync shared mailbox", false, cmd("files.sync", `{"mailbox":"shared@contoso.example"}`),
			"/v1.0/users/shared@contoso.example/drive/root/delta", selFileSync + "&$top=50", nil, ""},
		{"sync business drive", false, cmd("files.sync", `{"drive":"`+businessDrive+`"}`),
			"/v1.0/drives/b%21wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB/root/delta", selFileSync + "&$top=50", nil, ""},
		{"sync drive wins over mailbox", false, cmd("files.sync", `{"drive":"92F785471BCBB510","mailbox":"a@b.example"}`),
			"/v1.0/drives/92F785471BCBB510/root/delta", selFileSync + "&$top=50", nil, ""},
		{"list root", false, cmd("files.list", ""), "/v1.0/me/drive/root/children", selFileList + "&$top=50&$orderby=name", nil, ""},
		{"list personal folder", false, cmd("files.list", `{"folder":"92F785471BCBB510!102","window":20}`),
			"/v1.0/me/drive/items/92F785471BCBB510%21102/children", selFileList + "&$top=20&$orderby=name", nil, ""},
		{"list thumbs and etag", false, cmd("files.list", `{"folder":"01WV4DI7ROWS6FF4NX7PH35AMYDCSZANKW","thumbs":true,"etag":"\"{ED6F5199-80DE-8EB3-1CF2-160CB3F39DE3},6\""}`),
			"/v1.0/me/drive/items/01WV4DI7ROWS6FF4NX7PH35AMYDCSZANKW/children",
			selFileList + "&$top=50&$orderby=name&$expand=thumbnails($select=medium)", nil, `"{ED6F5199-80DE-8EB3-1CF2-160CB3F39DE3},6"`},
		{"list thumbs false", false, cmd("files.list", `{"thumbs":false,"drive":"85c4e56547c56ebd","folder":"85C4E56547C56EBD!117"}`),
			"/v1.0/drives/85c4e56547c56ebd/items/85C4E56547C56EBD%21117/children", selFileList + "&$top=50&$orderby=name", nil, ""},
		{"search drive", false, cmd("files.search", `{"query":"budget"}`),
			"/v1.0/me/drive/root/search(q='budget')", selFileList + "&$top=50", nil, ""},
		{"search all", false, cmd("files.search", `{"query":"budget","scope":"all","window":10}`),
			"/v1.0/me/drive/search(q='budget')", selFileList + "&$top=10", nil, ""},
		{"search explicit drive scope", false, cmd("files.search", `{"query":"x","scope":"drive","drive":"b!x"}`),
			"/v1.0/drives/b%21x/root/search(q='x')", selFileList + "&$top=50", nil, ""},
		{"search quotes doubled", false, cmd("files.search", `{"query":"O'Brien's"}`),
			"/v1.0/me/drive/root/search(q='O%27%27Brien%27%27s')", selFileList + "&$top=50", nil, ""},
		{"search slash backslash percent hash", false, cmd("files.search", `{"query":"a/b\\c 50% #1 ?x=y&z"}`),
			"/v1.0/me/drive/root/search(q='a%20b%20c%2050%25%20%231%20%3Fx%3Dy%26z')", selFileList + "&$top=50", nil, ""},
		{"search non-ASCII", false, cmd("files.search", `{"query":"Übersicht 日本"}`),
			"/v1.0/me/drive/root/search(q='%C3%9Cbersicht%20%E6%97%A5%E6%9C%AC')", selFileList + "&$top=50", nil, ""},
		{"search parentheses", false, cmd("files.search", `{"query":"q(1)')"}`),
			"/v1.0/me/drive/root/search(q='q%281%29%27%27%29')", selFileList + "&$top=50", nil, ""},
		{"link", false, cmd("files.link", `{"id":"01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA"}`),
			"/v1.0/me/drive/items/01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA", selFileLink, nil, ""},
		{"link personal id on a drive", true, cmd("files.link", `{"id":"92F785471BCBB510!103","drive":"92F785471BCBB510","mailbox":"a@b.example"}`),
			"/v1.0/drives/92F785471BCBB510/items/92F785471BCBB510%21103", selFileLink, []string{`IdType="ImmutableId"`}, ""},
		{"link id with tilde dot equals", false, cmd("files.link", `{"id":"a~b.c=d-e_f"}`),
			"/v1.0/me/drive/items/a~b.c=d-e_f", selFileLink, nil, ""},
		{"recent default since 30 days", false, cmd("attachments.recent", ""), "/v1.0/me/messages",
			"$filter=receivedDateTime%20ge%202026-01-30T12:00:00Z" + qRecent + "50", nil, ""},
		{"recent folder since window", true, cmd("attachments.recent", `{"folder":"Inbox","since":"2026-02-01T10:00:00+02:00","window":20}`),
			"/v1.0/me/mailFolders/inbox/messages", "$filter=receivedDateTime%20ge%202026-02-01T08:00:00Z" + qRecent + "20", []string{`IdType="ImmutableId"`}, ""},
		{"recent folder id shared mailbox", false, cmd("attachments.recent", `{"folder":"AQMk+x=","mailbox":"shared@contoso.example"}`),
			"/v1.0/users/shared@contoso.example/mailFolders/AQMk%2Bx=/messages", "$filter=receivedDateTime%20ge%202026-01-30T12:00:00Z" + qRecent + "50", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = tc.immutable })
			p := mustPlan(t, tr, tc.body)
			defer p.Release()
			u := p.Upstream
			if u == nil {
				out, _ := respond(t, p, 0, nil, "")
				t.Fatalf("no upstream call: %s", out)
			}
			if u.Method != http.MethodGet || u.Path != tc.path || u.RawQuery != tc.query || u.Body != nil {
				t.Fatalf("call %s %s ? %s\nwant     %s ? %s", u.Method, u.Path, u.RawQuery, tc.path, tc.query)
			}
			if len(u.Prefer) != len(tc.prefer) || strings.Join(u.Prefer, "|") != strings.Join(tc.prefer, "|") {
				t.Fatalf("prefer %q, want %q", u.Prefer, tc.prefer)
			}
			if u.IfNoneMatch != tc.ifNone {
				t.Fatalf("If-None-Match %q, want %q", u.IfNoneMatch, tc.ifNone)
			}
		})
	}
}

// TestFileCallsInBatch: file commands in a $batch keep their own paths;
// files.list's etag becomes the item's If-None-Match header.
func TestFileCallsInBatch(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, `{"commands":[
		{"id":"s","op":"files.sync","args":{"window":7}},
		{"id":"l","op":"files.list","args":{"folder":"92F785471BCBB510!102","etag":"\"aOTJ\""}},
		{"id":"k","op":"files.link","args":{"id":"92F785471BCBB510!103"}},
		{"id":"r","op":"attachments.recent","args":{"window":5}}]}`)
	defer p.Release()
	want := compact(t, `{"requests":[
		{"id":"0","method":"GET","url":"/me/drive/root/delta?`+selFileSync+`&$top=7"},
		{"id":"1","method":"GET","url":"/me/drive/items/92F785471BCBB510%21102/children?`+selFileList+`&$top=50&$orderby=name","headers":{"If-None-Match":"\"aOTJ\""}},
		{"id":"2","method":"GET","url":"/me/drive/items/92F785471BCBB510%21103?`+selFileLink+`"},
		{"id":"3","method":"GET","url":"/me/messages?$filter=receivedDateTime%20ge%202026-01-30T12:00:00Z`+qRecent+`5"}]}`)
	if string(p.Upstream.Body) != want {
		t.Fatalf("batch body\n got %s\nwant %s", p.Upstream.Body, want)
	}
	if p.Upstream.IfNoneMatch != "" {
		t.Fatalf("the $batch POST carries If-None-Match %q", p.Upstream.IfNoneMatch)
	}
}

func TestFileArgErrors(t *testing.T) {
	long := strings.Repeat("A", maxDriveIDLen+1)
	cases := []struct{ name, op, args, msg string }{
		{"sync drive number", "files.sync", `{"drive":5}`, msgBadDrive},
		{"sync drive slash", "files.sync", `{"drive":"b!a/b"}`, msgBadDrive},
		{"sync drive percent", "files.sync", `{"drive":"b!a%2Fb"}`, msgBadDrive},
		{"sync drive dotdot", "files.sync", `{"drive":".."}`, msgBadDrive},
		{"sync drive empty", "files.sync", `{"drive":""}`, msgBadDrive},
		{"sync drive too long", "files.sync", `{"drive":"` + long + `"}`, msgBadDrive},
		{"sync drive quote", "files.sync", `{"drive":"b!a'b"}`, msgBadDrive},
		{"sync from other", "files.sync", `{"from":"latest"}`, msgBadFrom},
		{"sync from upper", "files.sync", `{"from":"NOW"}`, msgBadFrom},
		{"sync from bool", "files.sync", `{"from":true}`, msgBadFrom},
		{"sync window 0", "files.sync", `{"window":0}`, msgBadWindow},
		{"sync window 201", "files.sync", `{"window":201}`, msgBadWindow},
		{"sync state number", "files.sync", `{"state":7}`, msgBadStateArg},
		{"sync bad mailbox", "files.sync", `{"mailbox":"a/b@c"}`, msgBadMailbox},
		{"list folder number", "files.list", `{"folder":1}`, msgBadDriveFolder},
		{"list folder slash", "files.list", `{"folder":"92F7!1/../x"}`, msgBadDriveFolder},
		{"list folder space", "files.list", `{"folder":"a b"}`, msgBadDriveFolder},
		{"list folder dot", "files.list", `{"folder":"."}`, msgBadDriveFolder},
		{"list folder non-ascii", "files.list", `{"folder":"ü"}`, msgBadDriveFolder},
		{"list folder too long", "files.list", `{"folder":"` + long + `"}`, msgBadDriveFolder},
		{"list thumbs string", "files.list", `{"thumbs":"yes"}`, msgBadThumbs},
		{"list thumbs number", "files.list", `{"thumbs":1}`, msgBadThumbs},
		{"list etag number", "files.list", `{"etag":1}`, msgBadEtag},
		{"list etag empty", "files.list", `{"etag":""}`, msgBadEtag},
		{"list etag CRLF", "files.list", `{"etag":"\"a\"\r\nX-Evil: 1"}`, msgBadEtag},
		{"list etag non-ascii", "files.list", `{"etag":"\"é\""}`, msgBadEtag},
		{"list etag padded", "files.list", `{"etag":" \"a\""}`, msgBadEtag},
		{"list etag too long", "files.list", `{"etag":"` + strings.Repeat("a", maxEtagLen+1) + `"}`, msgBadEtag},
		{"list bad drive", "files.list", `{"drive":"x?y"}`, msgBadDrive},
		{"search no query", "files.search", `{}`, msgMissingQuery},
		{"search empty", "files.search", `{"query":""}`, msgBadFileQuery},
		{"search blank", "files.search", `{"query":"  "}`, msgBadFileQuery},
		{"search only slashes", "files.search", `{"query":"/\\ /"}`, msgBadFileQuery},
		{"search control", "files.search", `{"query":"a\u0007b"}`, msgBadFileQuery},
		{"search newline", "files.search", `{"query":"a\nb"}`, msgBadFileQuery},
		{"search C1 control", "files.search", `{"query":"a\u0085b"}`, msgBadFileQuery},
		{"search number", "files.search", `{"query":5}`, msgBadFileQuery},
		{"search 256 characters", "files.search", `{"query":"` + strings.Repeat("ü", maxFileQueryRunes+1) + `"}`, msgBadFileQuery},
		{"search scope other", "files.search", `{"query":"x","scope":"shared"}`, msgBadFileScope},
		{"search scope number", "files.search", `{"query":"x","scope":1}`, msgBadFileScope},
		{"search bad drive", "files.search", `{"query":"x","drive":"b!x y"}`, msgBadDrive},
		{"link no id", "files.link", `{}`, msgMissingFileID},
		{"link id number", "files.link", `{"id":3}`, msgBadFileID},
		{"link id slash", "files.link", `{"id":"a/b"}`, msgBadFileID},
		{"link id plus", "files.link", `{"id":"AAk+x"}`, msgBadFileID},
		{"link id dots", "files.link", `{"id":"..."}`, msgBadFileID},
		{"link bad drive", "files.link", `{"id":"x","drive":"#"}`, msgBadDrive},
		{"recent window 51", "attachments.recent", `{"window":51}`, msgBadRecentWindow},
		{"recent window 0", "attachments.recent", `{"window":0}`, msgBadWindow},
		{"recent window fraction", "attachments.recent", `{"window":2.5}`, msgBadWindow},
		{"recent folder bad", "attachments.recent", `{"folder":"a/b"}`, msgBadRecentFolder},
		{"recent folder number", "attachments.recent", `{"folder":3}`, msgBadRecentFolder},
		{"recent since bad", "attachments.recent", `{"since":"last week"}`, msgBadSince},
		{"recent since date only", "attachments.recent", `{"since":"2026-01-01"}`, msgBadSince},
		{"recent state number", "attachments.recent", `{"state":true}`, msgBadStateArg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, cmd(tc.op, tc.args))
			defer p.Release()
			if p.Upstream != nil {
				t.Fatalf("a failed validation made an upstream call: %+v", p.Upstream)
			}
			out, _ := respond(t, p, 0, nil, "")
			r := gjson.Get(out, "results.0")
			if r.Get("status").Int() != 400 || r.Get("error.code").String() != CodeInvalidArgs || r.Get("error.message").String() != tc.msg {
				t.Fatalf("result %s, want invalid_args %q", r.Raw, tc.msg)
			}
		})
	}
}

// Graph-shaped drive delta pages (FILES_FACTS 1, 7): a business drive's
// first page (root first, parents before children, no path in
// parentReference, hashes in the file facet) and a later page with a
// tombstone without a name; a personal drive's page with childCount 0 on
// every folder, a tombstone without a size, a remoteItem entry, a package
// and a "deleted": null that is no delete.
const (
	graphBusinessDeltaFirst = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/drive/root/delta(token='MzslMTswOzE7NjM3')?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=50",
  "value": [
    {"eTag": "\"{A861F036-7B32-F0F3-834E-1D032DB630D6},8\"", "id": "01XLP57TBCST43TKXCNHYWQ5BRXLDXKH3G", "lastModifiedDateTime": "2025-09-27T00:00:00Z",
     "name": "root", "webUrl": "https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents", "size": 664673762,
     "parentReference": {"driveType": "business", "driveId": "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB"},
     "folder": {"childCount": 7}, "root": {}},
    {"eTag": "\"{AB4D6254-84E1-71BD-1D62-DC09EC12CDB1},10\"", "id": "012NQGFFYKHJZZUAL5KZWARGG5CLU2M5UL", "lastModifiedDateTime": "2026-01-05T07:00:00Z",
     "name": "Documents", "webUrl": "https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents/Documents", "size": 2433115,
     "parentReference": {"driveType": "business", "driveId": "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB", "id": "01XLP57TBCST43TKXCNHYWQ5BRXLDXKH3G"},
     "folder": {"childCount": 9}},
    {"eTag": "\"{9DBA097B-AC5F-5C02-E532-823062C91670},1\"", "id": "01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA", "lastModifiedDateTime": "2026-01-05T21:00:00Z",
     "name": "Q1 \"final\" report.docx", "webUrl": "https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents/Documents/Q1%20report.docx", "size": 19500,
     "parentReference": {"driveType": "business", "driveId": "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB", "id": "012NQGFFYKHJZZUAL5KZWARGG5CLU2M5UL"},
     "file": {"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "hashes": {"quickXorHash": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}}},
    {"id": "01BADITEMWITHOUTID", "name": 5},
    "not an item",
    {"name": "no id at all", "file": {}}
  ]
}`
	graphBusinessDeltaDeletes = `{
  "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/drive/root/delta?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=50&token=MzslMTswOzE7NjM4",
  "value": [
    {"id": "01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA", "parentReference": {"driveType": "business", "driveId": "b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB", "id": "012NQGFFYKHJZZUAL5KZWARGG5CLU2M5UL"},
     "file": {}, "deleted": {"state": "deleted"}, "size": 0},
    {"id": "01FOLDERGONE", "folder": {"childCount": 0}, "deleted": {}}
  ]
}`
	graphPersonalDelta = `{
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/drives/92f785471bcbb510/root/delta(token='aTE09NjM4')?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=50",
  "value": [
    {"eTag": "\"aOTJGNzg1NDcxQkNCQjUxMCExMDIuMw\"", "id": "92F785471BCBB510!102", "lastModifiedDateTime": "2026-01-05T07:00:00Z", "name": "Documents",
     "webUrl": "https://onedrive.live.com/redir?resid=92F785471BCBB510!102", "size": 58023,
     "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!101"}, "folder": {"childCount": 0}, "deleted": null},
    {"id": "92F785471BCBB510!103", "name": "Cover letter.docx", "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!102"},
     "file": {"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}, "deleted": {"state": "deleted"}},
    {"eTag": "\"aOTJGNzg1NDcxQkNCQjUxMCExMTcuMQ\"", "id": "92F785471BCBB510!117", "lastModifiedDateTime": "2026-01-07T15:00:00Z", "name": "Team Photos",
     "webUrl": "https://onedrive.live.com/redir?resid=92F785471BCBB510!117", "size": 0,
     "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!101"},
     "remoteItem": {"id": "85C4E56547C56EBD!117", "name": "Team Photos", "folder": {"childCount": 5},
                    "parentReference": {"driveId": "85C4E56547C56EBD", "driveType": "personal"}, "webUrl": "https://onedrive.live.com/redir?resid=85C4E56547C56EBD!117"}},
    {"id": "92F785471BCBB510!120", "name": "Notebook", "size": 0, "package": {"type": "oneNote"},
     "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!101"}}
  ]
}`
)

func TestFilesSyncAnswers(t *testing.T) {
	cases := []struct {
		name, args, page, want string
	}{
		{"business first page", `{}`, graphBusinessDeltaFirst, `{"changes":[
			{"op":"upsert","file":{"id":"01XLP57TBCST43TKXCNHYWQ5BRXLDXKH3G","name":"root","drive":"b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB","size":664673762,"modified":"2025-09-27T00:00:00Z","etag":"\"{A861F036-7B32-F0F3-834E-1D032DB630D6},8\"","kind":"folder","root":true,"web":"https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents"}},
			{"op":"upsert","file":{"id":"012NQGFFYKHJZZUAL5KZWARGG5CLU2M5UL","name":"Documents","parent":"01XLP57TBCST43TKXCNHYWQ5BRXLDXKH3G","drive":"b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB","size":2433115,"modified":"2026-01-05T07:00:00Z","etag":"\"{AB4D6254-84E1-71BD-1D62-DC09EC12CDB1},10\"","kind":"folder","web":"https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents/Documents"}},
			{"op":"upsert","file":{"id":"01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA","name":"Q1 \"final\" report.docx","parent":"012NQGFFYKHJZZUAL5KZWARGG5CLU2M5UL","drive":"b!wPkbr73ub6X5DFS4LAxkwUT4pX4O2SzElfi3J4iQ-HzA-Ruvve5vpfkMVLgsDGTB","size":19500,"modified":"2026-01-05T21:00:00Z","etag":"\"{9DBA097B-AC5F-5C02-E532-823062C91670},1\"","mime":"application/vnd.openxmlformats-officedocument.wordprocessingml.document","kind":"file","web":"https://contoso-my.sharepoint.com/personal/alice_contoso_example/Documents/Documents/Q1%20report.docx"}},
			{"op":"upsert","file":{"id":"01BADITEMWITHOUTID"}}
			],"state":"S","more":true}`},
		{"business tombstones without names are deletes", `{}`, graphBusinessDeltaDeletes,
			`{"changes":[{"op":"delete","id":"01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA"},{"op":"delete","id":"01FOLDERGONE"}],"state":"S","more":false}`},
		{"personal page", `{"drive":"92f785471bcbb510"}`, graphPersonalDelta, `{"changes":[
			{"op":"upsert","file":{"id":"92F785471BCBB510!102","name":"Documents","parent":"92F785471BCBB510!101","drive":"92F785471BCBB510","size":58023,"modified":"2026-01-05T07:00:00Z","etag":"\"aOTJGNzg1NDcxQkNCQjUxMCExMDIuMw\"","kind":"folder","web":"https://onedrive.live.com/redir?resid=92F785471BCBB510!102"}},
			{"op":"delete","id":"92F785471BCBB510!103"},
			{"op":"upsert","file":{"id":"92F785471BCBB510!117","name":"Team Photos","parent":"92F785471BCBB510!101","drive":"92F785471BCBB510","size":0,"modified":"2026-01-07T15:00:00Z","etag":"\"aOTJGNzg1NDcxQkNCQjUxMCExMTcuMQ\"","kind":"folder","remote":{"drive":"85C4E56547C56EBD","id":"85C4E56547C56EBD!117"},"web":"https://onedrive.live.com/redir?resid=92F785471BCBB510!117"}},
			{"op":"upsert","file":{"id":"92F785471BCBB510!120","name":"Notebook","parent":"92F785471BCBB510!101","drive":"92F785471BCBB510","size":0,"kind":"package"}}
			],"state":"S","more":true}`},
		{"empty page still more", `{}`, `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/drive/root/delta(token='e1')?$top=50"}`,
			`{"changes":[],"state":"S","more":true}`},
		{"page without value", `{}`, `{"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/drive/root/delta(token='e2')"}`,
			`{"changes":[],"state":"S","more":true}`},
		{"from now", `{"from":"now"}`, `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/drive/root/delta?$top=50&token=Lt1"}`,
			`{"changes":[],"state":"S","more":false}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTranslator(t)
			p := mustPlan(t, tr, cmd("files.sync", tc.args))
			defer p.Release()
			out, o := respond(t, p, 200, nil, tc.page)
			want := `{"results":[{"id":"c1","status":200,"data":` + compact(t, tc.want) + `}]}`
			if o.Status != 200 || maskState(out) != want {
				t.Fatalf("got  %s\nwant %s", maskState(out), want)
			}
		})
	}
}

// TestFilesSyncState follows a files.sync through its states: Graph's links
// verbatim (no $top added, no Prefer), token=latest dropped before sealing,
// states bound to the op, mailbox and drive (personal drive ids in any case).
func TestFilesSyncState(t *testing.T) {
	tr, _ := newTestTranslator(t)
	next := func(args, page string) (string, string) {
		t.Helper()
		p := mustPlan(t, tr, cmd("files.sync", args))
		defer p.Release()
		call := p.Upstream.Path + "?" + p.Upstream.RawQuery
		if len(p.Upstream.Prefer) != 0 {
			t.Fatalf("Prefer %q", p.Upstream.Prefer)
		}
		out, _ := respond(t, p, 200, nil, page)
		return call, firstState(t, out)
	}
	_, s1 := next(`{"drive":"92F785471BCBB510","window":3}`, `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/drives/92F785471BCBB510/root/delta(token='p2')?$select=id&$top=3"}`)
	call, s2 := next(`{"drive":"92f785471bcbb510","state":"`+s1+`","window":9,"from":"now"}`,
		`{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/drives/92F785471BCBB510/root/delta?$select=id&$top=3&token=latest&token=d3"}`)
	if call != "/v1.0/drives/92F785471BCBB510/root/delta(token='p2')?$select=id&$top=3" {
		t.Fatalf("continuation %s", call)
	}
	// token=latest is gone from the sealed link: replaying it continues at d3.
	call, _ = next(`{"drive":"92F785471BCBB510","state":"`+s2+`"}`, `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/x?token=d4"}`)
	if call != "/v1.0/drives/92F785471BCBB510/root/delta?$select=id&$top=3&token=d3" {
		t.Fatalf("delta round %s", call)
	}
	for _, tc := range []struct{ op, args string }{
		{"files.sync", `{"state":"` + s2 + `"}`},
		{"files.sync", `{"drive":"b!92F785471BCBB510","state":"` + s2 + `"}`},
		{"files.sync", `{"drive":"92F785471BCBB510","mailbox":"a@b.example","state":"` + s2 + `"}`},
		{"files.list", `{"drive":"92F785471BCBB510","state":"` + s2 + `"}`},
		{"folders.sync", `{"state":"` + s2 + `"}`},
	} {
		p := mustPlan(t, tr, cmd(tc.op, tc.args))
		out, _ := respond(t, p, 0, nil, "")
		p.Release()
		if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
			t.Fatalf("%s %s: %s", tc.op, tc.args, out)
		}
	}
	// Business drive ids are case-sensitive.
	_, sb := next(`{"drive":"b!AbC"}`, `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/drives/b!AbC/root/delta?token=b1"}`)
	p := mustPlan(t, tr, cmd("files.sync", `{"drive":"b!abc","state":"`+sb+`"}`))
	out, _ := respond(t, p, 0, nil, "")
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
		t.Fatalf("a b!AbC state opened for b!abc: %s", out)
	}
}

func TestDropLatestToken(t *testing.T) {
	for in, want := range map[string]string{
		"/me/drive/root/delta?$top=5&token=latest&token=abc": "/me/drive/root/delta?$top=5&token=abc",
		"/me/drive/root/delta?token=latest&$top=5":           "/me/drive/root/delta?$top=5",
		"/me/drive/root/delta?token=LATEST":                  "/me/drive/root/delta",
		"/me/drive/root/delta?token=%27latest%27&a=1":        "/me/drive/root/delta?a=1",
		"/me/drive/root/delta?token=latestx&a=1":             "/me/drive/root/delta?token=latestx&a=1",
		"/me/drive/root/delta?xtoken=latest":                 "/me/drive/root/delta?xtoken=latest",
		"/me/drive/root/delta(token='latest')":               "/me/drive/root/delta(token='latest')",
		"/me/drive/root/delta":                               "/me/drive/root/delta",
	} {
		if got := dropLatestToken(in); got != want {
			t.Errorf("dropLatestToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFilesResync: any 410 of a file command is resync_required, whatever
// Graph's error code (FILES_FACTS 1 lists several), directly and in a $batch.
func TestFilesResync(t *testing.T) {
	tr, _ := newTestTranslator(t)
	bodies := []string{
		`{"error":{"code":"resyncRequired","message":"Resync required. Replace any local items with the server's version."}}`,
		`{"error":{"code":"resyncChangesApplyDifferences","message":"x"}}`,
		`{"error":{"code":"resyncChangesUploadDifferences","message":"x"}}`,
		`{"error":{"code":"resyncApplyDifferences","innerError":{"code":"resyncApplyDifferences"}}}`,
		`{"error":{"code":"syncStateNotFound"}}`,
		`{"error":{"code":"somethingNew"}}`,
		``,
	}
	for _, body := range bodies {
		p := mustPlan(t, tr, cmd("files.sync", ""))
		out, o := respond(t, p, http.StatusGone, hdr("Location", "https://graph.microsoft.com/v1.0/me/drive/root/delta"), body)
		p.Release()
		if o.Status != 200 || gjson.Get(out, "results.0.status").Int() != 410 || gjson.Get(out, "results.0.error.code").String() != CodeResyncRequired {
			t.Fatalf("410 %q: %s", body, out)
		}
		p = mustPlan(t, tr, `{"commands":[{"id":"a","op":"files.sync"},{"id":"b","op":"files.link","args":{"id":"x"}}]}`)
		batch := `{"responses":[{"id":"0","status":410,"body":` + orNull(body) + `},{"id":"1","status":200,"body":{"@microsoft.graph.downloadUrl":"https://x.sharepoint.com/d?tempauth=1"}}]}`
		out, _ = respond(t, p, 200, nil, batch)
		p.Release()
		if gjson.Get(out, "results.0.error.code").String() != CodeResyncRequired || gjson.Get(out, "results.1.status").Int() != 200 {
			t.Fatalf("batch 410 %q: %s", body, out)
		}
	}
	// A 400 that names a resync code is one too.
	p := mustPlan(t, tr, cmd("files.sync", ""))
	out, _ := respond(t, p, 400, nil, `{"error":{"code":"resyncRequired"}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeResyncRequired {
		t.Fatalf("400 resyncRequired: %s", out)
	}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func TestFilesSyncMalformed(t *testing.T) {
	tr, _ := newTestTranslator(t)
	for _, page := range []string{
		`{"value":{},"@odata.deltaLink":"https://graph.microsoft.com/v1.0/x"}`,
		`{"value":[{"id":"a","deleted":{}}]}`,
		`{"value":[],"@odata.nextLink":"https://evil.example/v1.0/me/drive/root/delta"}`,
		`{"value":[{"id":"a"`,
		`{"value":[]} x`,
	} {
		p := mustPlan(t, tr, cmd("files.sync", ""))
		out, o := respond(t, p, 200, nil, page)
		p.Release()
		if o.Status == 200 && gjson.Get(out, "results.0.error.code").String() != CodeUpstreamError {
			t.Fatalf("%s: %s", page, out)
		}
		if o.Status != 200 && o.Status != http.StatusBadGateway {
			t.Fatalf("%s: status %d", page, o.Status)
		}
	}
}

func TestFilesListAnswers(t *testing.T) {
	const page = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/drive/items/92F785471BCBB510%21105/children?$select=id&$top=2&$orderby=name&$skiptoken=c2tpcDoy",
  "value": [
    {"eTag": "\"aOTJ.1\"", "id": "92F785471BCBB510!106", "lastModifiedDateTime": "2026-01-06T04:00:00Z", "name": "beach.jpg", "size": 2048,
     "webUrl": "https://onedrive.live.com/redir?resid=92F785471BCBB510!106",
     "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!105", "name": "Pictures", "path": "/drive/root:/Pictures"},
     "file": {"mimeType": "image/jpeg"},
     "thumbnails": [{"id": "0", "medium": {"height": 132, "width": 176, "url": "https://my.microsoftpersonalcontent.com/thumb/106?w=176"}}]},
    {"eTag": "\"aOTJ.2\"", "id": "92F785471BCBB510!107", "name": "Trips", "size": 10,
     "parentReference": {"driveType": "personal", "driveId": "92F785471BCBB510", "id": "92F785471BCBB510!105"},
     "folder": {"childCount": 3, "view": {"viewType": "thumbnails"}}, "thumbnails": []},
    {"id": "92F785471BCBB510!109", "file": null, "folder": [], "thumbnails": [null, {"medium": {"url": "https://x/2"}}]},
    {"id": "92F785471BCBB510!110", "thumbnails": [{"small": {"url": "https://x/s"}, "medium": null}], "remoteItem": null, "root": null}
  ]
}`
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("files.list", `{"folder":"92F785471BCBB510!105","thumbs":true,"window":2}`))
	out, _ := respond(t, p, 200, nil, page)
	p.Release()
	want := compact(t, `{"results":[{"id":"c1","status":200,"data":{"files":[
		{"id":"92F785471BCBB510!106","name":"beach.jpg","parent":"92F785471BCBB510!105","drive":"92F785471BCBB510","size":2048,"modified":"2026-01-06T04:00:00Z","etag":"\"aOTJ.1\"","mime":"image/jpeg","kind":"file","thumb":{"url":"https://my.microsoftpersonalcontent.com/thumb/106?w=176","w":176,"h":132},"web":"https://onedrive.live.com/redir?resid=92F785471BCBB510!106"},
		{"id":"92F785471BCBB510!107","name":"Trips","parent":"92F785471BCBB510!105","drive":"92F785471BCBB510","size":10,"etag":"\"aOTJ.2\"","kind":"folder","children":3},
		{"id":"92F785471BCBB510!109"},
		{"id":"92F785471BCBB510!110"}
		],"state":"S","more":true}}]}`)
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	state := firstState(t, out)

	// The continuation is Graph's link with the first call's window; its
	// last page has no state. The folder id compares case-insensitively.
	p = mustPlan(t, tr, cmd("files.list", `{"folder":"92f785471bcbb510!105","state":"`+state+`","window":7,"etag":"\"x\""}`))
	if u := p.Upstream; u.Path != "/v1.0/me/drive/items/92F785471BCBB510%21105/children" || u.RawQuery != "$select=id&$top=2&$orderby=name&$skiptoken=c2tpcDoy" || u.IfNoneMatch != "" {
		t.Fatalf("continuation %s ? %s (If-None-Match %q)", u.Path, u.RawQuery, u.IfNoneMatch)
	}
	out, _ = respond(t, p, 200, nil, `{"value":[{"id":"92F785471BCBB510!108","name":"z.txt","file":{}}]}`)
	p.Release()
	if out != `{"results":[{"id":"c1","status":200,"data":{"files":[{"id":"92F785471BCBB510!108","name":"z.txt","kind":"file"}],"more":false}}]}` {
		t.Fatalf("last page %s", out)
	}
	for _, args := range []string{
		`{"state":"` + state + `"}`,
		`{"folder":"92F785471BCBB510!999","state":"` + state + `"}`,
		`{"folder":"92F785471BCBB510!105","drive":"92F785471BCBB510","state":"` + state + `"}`,
	} {
		p = mustPlan(t, tr, cmd("files.list", args))
		out, _ = respond(t, p, 0, nil, "")
		p.Release()
		if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
			t.Fatalf("%s: %s", args, out)
		}
	}
	p = mustPlan(t, tr, cmd("files.search", `{"query":"x","state":"`+state+`"}`))
	out, _ = respond(t, p, 0, nil, "")
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
		t.Fatalf("a files.list state opened for files.search: %s", out)
	}

	// A hostile link is an upstream_error, never sealed.
	p = mustPlan(t, tr, cmd("files.list", ""))
	out, _ = respond(t, p, 200, nil, `{"value":[],"@odata.nextLink":"https://graph.microsoft.com.evil.example/v1.0/me/drive/root/children"}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeUpstreamError || strings.Contains(out, "state") {
		t.Fatalf("hostile link: %s", out)
	}
}

// TestFilesListNotModified: with etag, Graph's 304 is {"notModified":true},
// directly and in a $batch; without etag a 304 is an upstream_error.
func TestFilesListNotModified(t *testing.T) {
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("files.list", `{"etag":"\"{E}\",1"}`))
	out, _ := respond(t, p, http.StatusNotModified, hdr("ETag", `"{E}",1`), "")
	p.Release()
	if out != `{"results":[{"id":"c1","status":200,"data":{"notModified":true}}]}` {
		t.Fatalf("direct 304: %s", out)
	}
	p = mustPlan(t, tr, `{"commands":[{"id":"a","op":"files.list","args":{"etag":"\"e\""}},{"id":"b","op":"files.list"}]}`)
	out, _ = respond(t, p, 200, nil, `{"responses":[{"id":"1","status":304},{"id":"0","status":304,"headers":{"ETag":"\"e\""}}]}`)
	p.Release()
	if gjson.Get(out, "results.0.data.notModified").Type != gjson.True || gjson.Get(out, "results.1.error.code").String() != CodeUpstreamError {
		t.Fatalf("batch 304: %s", out)
	}
}

func TestFilesSearchAnswers(t *testing.T) {
	// scope all: an item shared with the user carries remoteItem; business
	// results may lack parentReference (FILES_FACTS 3).
	const page = `{
  "value": [
    {"id": "01M6MG72TAFO7DR6JOHSRGLGJTV3WRDJ5O", "name": "Annual report 2025.pdf", "size": 2097152, "file": {"mimeType": "application/pdf"},
     "searchResult": {"onClickTelemetryUrl": "https://www.bing.com/personalsearchclick?IID=F551"}},
    {"id": "92F785471BCBB510!130", "name": "Shared report.xlsx", "remoteItem": {"id": "85C4E56547C56EBD!140", "size": 100, "file": {"mimeType": "text/csv"},
     "parentReference": {"driveId": "85C4E56547C56EBD", "driveType": "personal", "id": "85C4E56547C56EBD!117"}}}
  ],
  "@odata.nextLink": null
}`
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("files.search", `{"query":"report","scope":"all"}`))
	out, _ := respond(t, p, 200, nil, page)
	p.Release()
	want := compact(t, `{"results":[{"id":"c1","status":200,"data":{"files":[
		{"id":"01M6MG72TAFO7DR6JOHSRGLGJTV3WRDJ5O","name":"Annual report 2025.pdf","size":2097152,"mime":"application/pdf","kind":"file"},
		{"id":"92F785471BCBB510!130","name":"Shared report.xlsx","kind":"file","remote":{"drive":"85C4E56547C56EBD","id":"85C4E56547C56EBD!140"}}
		],"more":false}}]}`)
	if out != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}

	p = mustPlan(t, tr, cmd("files.search", `{"query":"O'Brien"}`))
	out, _ = respond(t, p, 200, nil, `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/drive/root/search(q='O''Brien')?$top=50&$skiptoken=s1"}`)
	p.Release()
	state := firstState(t, out)
	p = mustPlan(t, tr, cmd("files.search", `{"query":"O'Brien","state":"`+state+`"}`))
	if u := p.Upstream; u.Path != "/v1.0/me/drive/root/search(q='O''Brien')" || u.RawQuery != "$top=50&$skiptoken=s1" {
		t.Fatalf("continuation %s ? %s", u.Path, u.RawQuery)
	}
	p.Release()
	for _, args := range []string{`{"query":"o'brien","state":"` + state + `"}`, `{"query":"O'Brien","scope":"all","state":"` + state + `"}`} {
		p = mustPlan(t, tr, cmd("files.search", args))
		out, _ = respond(t, p, 0, nil, "")
		p.Release()
		if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
			t.Fatalf("%s: %s", args, out)
		}
	}
	// Graph's 400 (e.g. its quoting rules) is invalid_args with Graph's code.
	p = mustPlan(t, tr, cmd("files.search", `{"query":"x"}`))
	out, _ = respond(t, p, 400, nil, `{"error":{"code":"invalidRequest","message":"Syntax error"}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeInvalidArgs || gjson.Get(out, "results.0.error.upstreamCode").String() != "invalidRequest" {
		t.Fatalf("400: %s", out)
	}
}

func TestFilesLinkAnswers(t *testing.T) {
	tr, _ := newTestTranslator(t)
	const url = "https://contoso-my.sharepoint.com/personal/alice_contoso_example/_layouts/15/download.aspx?UniqueId=9dba097b&Translate=false&tempauth=v1.eyJ\\u0026x&ApiVersion=2.0"
	p := mustPlan(t, tr, cmd("files.link", `{"id":"01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA"}`))
	out, _ := respond(t, p, 200, nil, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#drives('b!x')/items/$entity",`+
		`"@microsoft.graph.downloadUrl":"`+url+`","eTag":"\"{9DBA097B},1\"","id":"01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA","size":19500,"file":{"mimeType":"application/pdf"}}`)
	p.Release()
	if out != `{"results":[{"id":"c1","status":200,"data":{"url":"`+url+`","size":19500,"etag":"\"{9DBA097B},1\""}}]}` {
		t.Fatalf("link: %s", out)
	}
	for _, body := range []string{
		`{"id":"92F785471BCBB510!102","eTag":"\"a\"","size":58023}`,
		`{"id":"x","@microsoft.graph.downloadUrl":null}`,
	} {
		p = mustPlan(t, tr, cmd("files.link", `{"id":"92F785471BCBB510!102"}`))
		out, _ = respond(t, p, 200, nil, body)
		p.Release()
		if gjson.Get(out, "results.0.error.message").String() != msgNoDownloadURL {
			t.Fatalf("folder %s: %s", body, out)
		}
	}
	p = mustPlan(t, tr, cmd("files.link", `{"id":"gone"}`))
	out, _ = respond(t, p, 404, nil, `{"error":{"code":"itemNotFound","message":"The resource could not be found."}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeNotFound || gjson.Get(out, "results.0.error.upstreamCode").String() != "itemNotFound" {
		t.Fatalf("404: %s", out)
	}
}

func TestRecentAttachmentsAnswers(t *testing.T) {
	const page = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/messages(id,subject,from,receivedDateTime,parentFolderId,attachments(id,name,size,contentType,isInline))",
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/messages?$filter=receivedDateTime+ge+2026-01-30T12%3A00%3A00Z+and+hasAttachments+eq+true&$orderby=receivedDateTime+desc&$top=2&$skip=2",
  "value": [
    {"@odata.etag": "W/\"CQAAABYAAAB3\"", "id": "AAMkAD1=", "subject": "Invoice \"#9319\"", "receivedDateTime": "2026-02-27T09:17:44Z",
     "parentFolderId": "AQMkJunk=", "from": {"emailAddress": {"name": "Rahul Iyer", "address": "rahul@contoso.example"}},
     "attachments": [
       {"@odata.type": "#microsoft.graph.fileAttachment", "@odata.mediaContentType": "application/pdf", "id": "AAMkAT1=", "name": "invoice.pdf",
        "contentType": "application/pdf", "size": 52311, "isInline": false, "contentBytes": "JVBERi0xLjQK"},
       {"@odata.type": "#microsoft.graph.itemAttachment", "id": "AAMkAT2=", "name": "Fwd: meeting", "contentType": null, "size": 9000, "isInline": false},
       {"@odata.type": "#microsoft.graph.referenceAttachment", "id": "AAMkAT3=", "name": "Plan.docx", "contentType": "application/octet-stream", "size": 0, "isInline": true},
       {"@odata.type": "#microsoft.graph.somethingNew", "id": "AAMkAT4=", "name": "x"},
       {"name": "no id"}
     ]},
    {"id": "AAMkAD2=", "subject": "Inline only", "from": {}, "attachments": []},
    {"subject": "no id"}
  ]
}`
	tr, _ := newTestTranslator(t)
	p := mustPlan(t, tr, cmd("attachments.recent", `{"window":2}`))
	out, _ := respond(t, p, 200, nil, page)
	p.Release()
	want := compact(t, `{"results":[{"id":"c1","status":200,"data":{"items":[
		{"message":{"id":"AAMkAD1=","subject":"Invoice \"#9319\"","from":{"name":"Rahul Iyer","addr":"rahul@contoso.example"},"received":"2026-02-27T09:17:44Z","folder":"AQMkJunk="},
		 "attachments":[{"id":"AAMkAT1=","name":"invoice.pdf","size":52311,"type":"application/pdf","inline":false,"kind":"file"},
		                {"id":"AAMkAT2=","name":"Fwd: meeting","size":9000,"inline":false,"kind":"item"},
		                {"id":"AAMkAT3=","name":"Plan.docx","size":0,"type":"application/octet-stream","inline":true,"kind":"link"},
		                {"id":"AAMkAT4=","name":"x"}]},
		{"message":{"id":"AAMkAD2=","subject":"Inline only"},"attachments":[]}
		],"state":"S","more":true}}]}`)
	if maskState(out) != want {
		t.Fatalf("got  %s\nwant %s", maskState(out), want)
	}
	if strings.Contains(out, "JVBERi0") {
		t.Fatal("attachment content reached the answer")
	}
	state := firstState(t, out)
	p = mustPlan(t, tr, cmd("attachments.recent", `{"since":"2020-01-01T00:00:00Z","window":50,"state":"`+state+`"}`))
	if u := p.Upstream; u.Path != "/v1.0/me/messages" || !strings.HasSuffix(u.RawQuery, "&$top=2&$skip=2") {
		t.Fatalf("continuation %s ? %s", u.Path, u.RawQuery)
	}
	p.Release()
	p = mustPlan(t, tr, cmd("attachments.recent", `{"folder":"inbox","state":"`+state+`"}`))
	out, _ = respond(t, p, 0, nil, "")
	p.Release()
	if gjson.Get(out, "results.0.error.code").String() != CodeInvalidState {
		t.Fatalf("a state for all folders opened for inbox: %s", out)
	}
	// Graph's InefficientFilter would be a 400: invalid_args with its code.
	p = mustPlan(t, tr, cmd("attachments.recent", ""))
	out, _ = respond(t, p, 400, nil, `{"error":{"code":"InefficientFilter","message":"The restriction or sort order is too complex for this operation."}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.upstreamCode").String() != "InefficientFilter" {
		t.Fatalf("400: %s", out)
	}
}

func TestAttachmentKind(t *testing.T) {
	for in, want := range map[string]string{
		"#microsoft.graph.fileAttachment": `"file"`, "microsoft.graph.itemAttachment": `"item"`,
		"#Microsoft.Graph.ReferenceAttachment": `"link"`, "#microsoft.graph.attachment": "", "": "", "#microsoft.graph.": "",
		"fileAttachment": `"file"`,
	} {
		if got := attachmentKind(in); got != want {
			t.Errorf("attachmentKind(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFileStreamCalls(t *testing.T) {
	tr, _ := newTestTranslator(t, func(o *Options) { o.ImmutableIDs = true })
	cases := []struct{ mailbox, drive, id, path string }{
		{"", "", "01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA", "/v1.0/me/drive/items/01CJZ4Y2ESOA6I66LIT3CBOEJS4UWIIWWA"},
		{"a@b.example", "", "92F785471BCBB510!103", "/v1.0/users/a@b.example/drive/items/92F785471BCBB510%21103"},
		{"a@b.example", "b!AbC", "01X", "/v1.0/drives/b%21AbC/items/01X"},
	}
	for _, tc := range cases {
		c, err := tr.FileContentCall(tc.mailbox, tc.drive, tc.id)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if c.Method != http.MethodGet || c.Path != tc.path || c.RawQuery != selFileLink || c.Body != nil || c.IfNoneMatch != "" {
			t.Fatalf("call %+v, want %s ? %s", c, tc.path, selFileLink)
		}
	}
	for _, bad := range [][3]string{{"", "", ""}, {"", "", "a/b"}, {"", "", ".."}, {"", "b!a b", "x"}, {"x", "", "y"}, {"", "", "x%2F"}} {
		if c, err := tr.FileContentCall(bad[0], bad[1], bad[2]); err == nil || err.Status != 400 || err.Code != CodeInvalidArgs {
			t.Fatalf("%q: %+v %v", bad, c, err)
		}
	}

	u, err := FileDownloadURL([]byte(`{"@microsoft.graph.downloadUrl":"https://x.sharepoint.com/_layouts/15/download.aspx?UniqueId=1\u0026tempauth=v1.a","id":"x"}`))
	if err != nil || u != "https://x.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=v1.a" {
		t.Fatalf("url %q %v", u, err)
	}
	for _, body := range []string{`{"id":"folder"}`, `{"@microsoft.graph.downloadUrl":""}`, `{"@microsoft.graph.downloadUrl":5}`} {
		if _, err := FileDownloadURL([]byte(body)); err == nil || err.Message != msgNoDownloadURL {
			t.Fatalf("%s: %v", body, err)
		}
	}
	for _, body := range []string{``, `[]`, `{"a":`, `"https://x"`} {
		if _, err := FileDownloadURL([]byte(body)); err == nil || err.Code != CodeUpstreamError {
			t.Fatalf("%s: %v", body, err)
		}
	}
}
