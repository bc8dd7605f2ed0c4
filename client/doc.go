// Package deviceclient is a typed Go client of the devicebridge device API
// (docs/device-api.md, api/openapi.yaml): one method per command, batches of
// up to 20 commands in one request, sync loops that follow "more", the
// streaming endpoints as io.ReadCloser, and the retry rules a well-behaved
// device follows.
//
// A client is cheap and holds no global state; it is safe for concurrent
// use. Typical use:
//
//	c, err := deviceclient.New("https://bridge.example.com/device/v1", deviceclient.Options{Token: token})
//	b := c.NewBatch()
//	inbox := b.FolderGet(deviceclient.FolderGetArgs{Folder: "inbox"})
//	sync := b.MailSync(deviceclient.MailSyncArgs{Folder: "inbox", Window: 50})
//	if err := c.Do(ctx, b); err != nil {
//		return err // the request as a whole failed: *Error
//	}
//	folder, err := inbox.Result() // this command's own outcome: *Error on failure
//
// Or one command at a time, and whole sync rounds:
//
//	for page, err := range c.MailSyncRound(ctx, deviceclient.MailSyncArgs{Folder: "inbox", State: saved}) {
//		if deviceclient.IsCode(err, deviceclient.CodeResyncRequired) {
//			// drop the mirror of this folder and start again without a state
//		}
//		...
//	}
//
// Push: PushSubscribe creates a Graph subscription whose notifications
// reach the device as content-free pushes, and answers a state to keep.
// Renew after RenewAfter with the same arguments and that state; a renewal
// answered resync_required is replaced, in one batch, by a subscription
// without a state and a PushUnsubscribe of the old one's id. PushList finds
// an earlier install's leftovers (Mine tells this install's own apart).
// Push commands take no mailbox: Graph subscribes the signed-in user only.
//
// Retries: an envelope answered 429 throttled (Graph refused the whole
// request, so nothing was done) is sent again after its Retry-After plus
// jitter, up to Options.MaxAttempts; a throttled page of a sync round, and
// a throttled PushUnsubscribe (deleting a subscription already gone counts
// as done), are retried the same way. Nothing else is retried: a send
// whose answer was lost must not go out twice.
//
// The package imports no Caddy and none of the bridge's own packages: it
// speaks the wire protocol only, as an app would. Only its tests import
// the translator, to hold the client to the bridge's list of commands.
package deviceclient
