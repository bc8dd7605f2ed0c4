// Package translate is the device API of devicebridge in pure Go: it parses a
// device batch envelope, builds the one Microsoft Graph v1.0 call it becomes
// (a direct call or a $batch), and translates Graph's answer back into device
// JSON, including the error mapping and the sealed sync state.
//
// It knows nothing of Caddy or of HTTP transport: the caller sends the Call
// and hands the answer to Plan.Respond.
//
// # The command table
//
// Every device op is one row of the command table (opRows in table.go, an
// opSpec each). The generic machinery — the envelope (envelope.go, args.go),
// the $batch packing (batch.go), the sealed state (state.go), the answer
// (respond.go, syncpage.go) and the JSON scanner and writer (jscan.go,
// jsonr.go, jsonw.go) — knows no op by name: it reads rows. A row's code
// lives in the file of its resource family: folders.go, mail.go,
// mailactions.go, search.go, attachments.go, calendar.go, contacts.go,
// files.go, push.go.
//
// Take mail.get, whose row is
//
//	{wire: 4, name: "mail.get", args: argMailbox | argID | argBody | argFields, flags: opBodyType, method: http.MethodGet,
//		parse: parseMailGetArgs, path: messagePath, query: messageQuery, answer: appendMessageData},
//
// and the device command
//
//	{"id":"c1","op":"mail.get","args":{"id":"AAk=","body":"html","fields":["subject","body"]}}
//
// Translator.Plan reads the envelope; addCommand looks the name up
// (lookupOp) and keeps the wire id 4 in the command. parseArgs collects the
// arguments the row accepts (args: others are ignored), validates the shared
// ones itself (mailbox, and id, which must be a Graph id) and hands the
// rest to the row's parse, parseMailGetArgs in mail.go: body html, and the
// field set subject, body and the always-selected id. buildURL writes
// /me (or /users/{mailbox}), then the row's path, messagePath:
// /messages/AAk= (escaped as one path segment), then '?' and the row's
// query, messageQuery:
// $select=id,subject,body. buildCall makes it the direct call
//
//	GET /v1.0/me/messages/AAk=?$select=id,subject,body
//	Prefer: outlook.body-content-type="html"
//
// with the method of the row and the Prefer values its flags ask for
// (opBodyType). Had the envelope held two or more commands, the same pieces
// would have become items of one POST /v1.0/$batch.
//
// Plan.Respond reads Graph's answer. A failed status is mapped to a device
// error by the same rules for every op; a 2xx object goes to the row's
// answer, appendMessageData, which writes for the message
// {"id":"AAk=","subject":"Hi","body":{"contentType":"html","content":"<p>x</p>"}}
//
//	{"results":[{"id":"c1","status":200,"data":{"message":{"id":"AAk=","subject":"Hi","body":{"type":"html","content":"<p>x</p>"}}}}]}
//
// The row's wire id is what a state is bound to: a stateful op (opDelta or
// opPaged) seals its next link with byte(wire) in the AEAD's additional data
// and its field set in the plaintext (state.go), and opens a state only with
// the row's scope and stateFields. A wire id is therefore written into its
// row, never changed and never reused; TestWireIDs pins them and
// TestGoldenStates holds states sealed by a deployed build.
//
// Errors: every function that can fail returns a *Error, nil on success,
// made by one constructor per error (errors.go).
//
// docs/adding-a-command.md walks through adding a row.
package translate
