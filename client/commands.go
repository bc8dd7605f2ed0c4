package deviceclient

import "context"

// One method per command on Batch, and the same command run alone on
// Client. The data each returns is the command's data of
// docs/device-api.md, unwrapped where it is a single member.

// FoldersSync adds folders.sync.
func (b *Batch) FoldersSync(a FoldersSyncArgs) *Pending[SyncPage[Folder]] {
	return add[SyncPage[Folder]](b, "folders.sync", "", a)
}

// FolderGet adds folder.get.
func (b *Batch) FolderGet(a FolderGetArgs) *Pending[Folder] {
	return add[Folder](b, "folder.get", "folder", a)
}

// MailSync adds mail.sync.
func (b *Batch) MailSync(a MailSyncArgs) *Pending[SyncPage[Message]] {
	return add[SyncPage[Message]](b, "mail.sync", "", a)
}

// MailGet adds mail.get.
func (b *Batch) MailGet(a MailGetArgs) *Pending[Message] {
	return add[Message](b, "mail.get", "message", a)
}

// MailUpdate adds mail.update; the result is the updated message.
func (b *Batch) MailUpdate(a MailUpdateArgs) *Pending[Message] {
	return add[Message](b, "mail.update", "message", a)
}

// MailMove adds mail.move; the result is the moved message (its id may be new).
func (b *Batch) MailMove(a MailMoveArgs) *Pending[Message] {
	return add[Message](b, "mail.move", "message", a)
}

// MailDelete adds mail.delete.
func (b *Batch) MailDelete(a MailDeleteArgs) *Pending[Empty] {
	return add[Empty](b, "mail.delete", "", a)
}

// MailSend adds mail.send.
func (b *Batch) MailSend(a MailSendArgs) *Pending[Empty] {
	return add[Empty](b, "mail.send", "", a)
}

// MailReply adds mail.reply.
func (b *Batch) MailReply(a MailReplyArgs) *Pending[Empty] {
	return add[Empty](b, "mail.reply", "", a)
}

// MailForward adds mail.forward.
func (b *Batch) MailForward(a MailForwardArgs) *Pending[Empty] {
	return add[Empty](b, "mail.forward", "", a)
}

// MailSearch adds mail.search.
func (b *Batch) MailSearch(a MailSearchArgs) *Pending[SearchPage] {
	return add[SearchPage](b, "mail.search", "", a)
}

// AttachmentsList adds attachments.list.
func (b *Batch) AttachmentsList(a AttachmentsListArgs) *Pending[[]Attachment] {
	return add[[]Attachment](b, "attachments.list", "attachments", a)
}

// AttachmentsRecent adds attachments.recent.
func (b *Batch) AttachmentsRecent(a AttachmentsRecentArgs) *Pending[AttachmentsRecentPage] {
	return add[AttachmentsRecentPage](b, "attachments.recent", "", a)
}

// CalendarSync adds calendar.sync.
func (b *Batch) CalendarSync(a CalendarSyncArgs) *Pending[SyncPage[Event]] {
	return add[SyncPage[Event]](b, "calendar.sync", "", a)
}

// EventRespond adds event.respond.
func (b *Batch) EventRespond(a EventRespondArgs) *Pending[Empty] {
	return add[Empty](b, "event.respond", "", a)
}

// EventCreate adds event.create; the result is the new event.
func (b *Batch) EventCreate(a EventCreateArgs) *Pending[Event] {
	return add[Event](b, "event.create", "event", a)
}

// EventUpdate adds event.update; the result is the updated event.
func (b *Batch) EventUpdate(a EventUpdateArgs) *Pending[Event] {
	return add[Event](b, "event.update", "event", a)
}

// EventDelete adds event.delete.
func (b *Batch) EventDelete(a EventDeleteArgs) *Pending[Empty] {
	return add[Empty](b, "event.delete", "", a)
}

// ContactsSync adds contacts.sync.
func (b *Batch) ContactsSync(a ContactsSyncArgs) *Pending[SyncPage[Contact]] {
	return add[SyncPage[Contact]](b, "contacts.sync", "", a)
}

// ContactCreate adds contact.create; the result is the new contact.
func (b *Batch) ContactCreate(a ContactCreateArgs) *Pending[Contact] {
	return add[Contact](b, "contact.create", "contact", a)
}

// ContactUpdate adds contact.update; the result is the updated contact.
func (b *Batch) ContactUpdate(a ContactUpdateArgs) *Pending[Contact] {
	return add[Contact](b, "contact.update", "contact", a)
}

// ContactDelete adds contact.delete.
func (b *Batch) ContactDelete(a ContactDeleteArgs) *Pending[Empty] {
	return add[Empty](b, "contact.delete", "", a)
}

// FilesSync adds files.sync.
func (b *Batch) FilesSync(a FilesSyncArgs) *Pending[SyncPage[File]] {
	return add[SyncPage[File]](b, "files.sync", "", a)
}

// FilesList adds files.list.
func (b *Batch) FilesList(a FilesListArgs) *Pending[FilePage] {
	return add[FilePage](b, "files.list", "", a)
}

// FilesSearch adds files.search.
func (b *Batch) FilesSearch(a FilesSearchArgs) *Pending[FilePage] {
	return add[FilePage](b, "files.search", "", a)
}

// FilesLink adds files.link.
func (b *Batch) FilesLink(a FilesLinkArgs) *Pending[FileLink] {
	return add[FileLink](b, "files.link", "", a)
}

// PushSubscribe adds push.subscribe.
func (b *Batch) PushSubscribe(a PushSubscribeArgs) *Pending[PushSubscription] {
	return add[PushSubscription](b, "push.subscribe", "", a)
}

// PushList adds push.list.
func (b *Batch) PushList(a PushListArgs) *Pending[[]ListedSubscription] {
	return add[[]ListedSubscription](b, "push.list", "subscriptions", a)
}

// PushUnsubscribe adds push.unsubscribe.
func (b *Batch) PushUnsubscribe(a PushUnsubscribeArgs) *Pending[Empty] {
	return add[Empty](b, "push.unsubscribe", "", a)
}

// FilesList runs one page of files.list alone.
func (c *Client) FilesList(ctx context.Context, a FilesListArgs) (FilePage, error) {
	return one(ctx, c, func(b *Batch) *Pending[FilePage] { return b.FilesList(a) })
}

// FilesSearch runs one page of files.search alone.
func (c *Client) FilesSearch(ctx context.Context, a FilesSearchArgs) (FilePage, error) {
	return one(ctx, c, func(b *Batch) *Pending[FilePage] { return b.FilesSearch(a) })
}

// FilesLink runs files.link alone.
func (c *Client) FilesLink(ctx context.Context, a FilesLinkArgs) (FileLink, error) {
	return one(ctx, c, func(b *Batch) *Pending[FileLink] { return b.FilesLink(a) })
}

// one runs a batch of the single command add puts in it.
func one[T any](ctx context.Context, c *Client, add func(*Batch) *Pending[T]) (T, error) {
	b := c.NewBatch()
	p := add(b)
	if err := c.Do(ctx, b); err != nil {
		var zero T
		return zero, err
	}
	return p.Result()
}

// oneIdempotent runs one command alone as one does, and again after its
// Retry-After plus jitter while the command alone is refused as throttled
// (Do itself retries a request throttled as a whole), up to
// Options.MaxAttempts: for commands that do no harm when run twice.
func oneIdempotent[T any](ctx context.Context, c *Client, add func(*Batch) *Pending[T]) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		b := c.NewBatch()
		p := add(b)
		if err := c.Do(ctx, b); err != nil {
			return zero, err
		}
		result, err := p.Result()
		wait, retry := c.retryDelay(err, attempt)
		if !retry {
			return result, err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return zero, serr
		}
	}
}

// FolderGet runs folder.get alone.
func (c *Client) FolderGet(ctx context.Context, a FolderGetArgs) (Folder, error) {
	return one(ctx, c, func(b *Batch) *Pending[Folder] { return b.FolderGet(a) })
}

// MailGet runs mail.get alone.
func (c *Client) MailGet(ctx context.Context, a MailGetArgs) (Message, error) {
	return one(ctx, c, func(b *Batch) *Pending[Message] { return b.MailGet(a) })
}

// MailUpdate runs mail.update alone.
func (c *Client) MailUpdate(ctx context.Context, a MailUpdateArgs) (Message, error) {
	return one(ctx, c, func(b *Batch) *Pending[Message] { return b.MailUpdate(a) })
}

// MailMove runs mail.move alone.
func (c *Client) MailMove(ctx context.Context, a MailMoveArgs) (Message, error) {
	return one(ctx, c, func(b *Batch) *Pending[Message] { return b.MailMove(a) })
}

// MailDelete runs mail.delete alone.
func (c *Client) MailDelete(ctx context.Context, a MailDeleteArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.MailDelete(a) })
	return err
}

// MailSend runs mail.send alone. A send is never retried by the client
// unless the bridge refused the whole request as throttled (then Graph did
// nothing).
func (c *Client) MailSend(ctx context.Context, a MailSendArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.MailSend(a) })
	return err
}

// MailReply runs mail.reply alone.
func (c *Client) MailReply(ctx context.Context, a MailReplyArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.MailReply(a) })
	return err
}

// MailForward runs mail.forward alone.
func (c *Client) MailForward(ctx context.Context, a MailForwardArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.MailForward(a) })
	return err
}

// MailSearch runs one page of mail.search alone.
func (c *Client) MailSearch(ctx context.Context, a MailSearchArgs) (SearchPage, error) {
	return one(ctx, c, func(b *Batch) *Pending[SearchPage] { return b.MailSearch(a) })
}

// AttachmentsList runs attachments.list alone.
func (c *Client) AttachmentsList(ctx context.Context, a AttachmentsListArgs) ([]Attachment, error) {
	return one(ctx, c, func(b *Batch) *Pending[[]Attachment] { return b.AttachmentsList(a) })
}

// AttachmentsRecent runs one page of attachments.recent alone.
func (c *Client) AttachmentsRecent(ctx context.Context, a AttachmentsRecentArgs) (AttachmentsRecentPage, error) {
	return one(ctx, c, func(b *Batch) *Pending[AttachmentsRecentPage] { return b.AttachmentsRecent(a) })
}

// EventRespond runs event.respond alone.
func (c *Client) EventRespond(ctx context.Context, a EventRespondArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.EventRespond(a) })
	return err
}

// EventCreate runs event.create alone.
func (c *Client) EventCreate(ctx context.Context, a EventCreateArgs) (Event, error) {
	return one(ctx, c, func(b *Batch) *Pending[Event] { return b.EventCreate(a) })
}

// EventUpdate runs event.update alone.
func (c *Client) EventUpdate(ctx context.Context, a EventUpdateArgs) (Event, error) {
	return one(ctx, c, func(b *Batch) *Pending[Event] { return b.EventUpdate(a) })
}

// EventDelete runs event.delete alone.
func (c *Client) EventDelete(ctx context.Context, a EventDeleteArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.EventDelete(a) })
	return err
}

// ContactCreate runs contact.create alone.
func (c *Client) ContactCreate(ctx context.Context, a ContactCreateArgs) (Contact, error) {
	return one(ctx, c, func(b *Batch) *Pending[Contact] { return b.ContactCreate(a) })
}

// ContactUpdate runs contact.update alone.
func (c *Client) ContactUpdate(ctx context.Context, a ContactUpdateArgs) (Contact, error) {
	return one(ctx, c, func(b *Batch) *Pending[Contact] { return b.ContactUpdate(a) })
}

// ContactDelete runs contact.delete alone.
func (c *Client) ContactDelete(ctx context.Context, a ContactDeleteArgs) error {
	_, err := one(ctx, c, func(b *Batch) *Pending[Empty] { return b.ContactDelete(a) })
	return err
}

// PushSubscribe runs push.subscribe alone. A renewal (a.State set) may
// answer resync_required (IsCode(err, CodeResyncRequired)): the
// subscription cannot be renewed, so the app subscribes again without a
// state and unsubscribes the old subscription by its id, both in one batch.
func (c *Client) PushSubscribe(ctx context.Context, a PushSubscribeArgs) (PushSubscription, error) {
	return one(ctx, c, func(b *Batch) *Pending[PushSubscription] { return b.PushSubscribe(a) })
}

// PushList runs push.list alone.
func (c *Client) PushList(ctx context.Context, a PushListArgs) ([]ListedSubscription, error) {
	return one(ctx, c, func(b *Batch) *Pending[[]ListedSubscription] { return b.PushList(a) })
}

// PushUnsubscribe runs push.unsubscribe alone. A subscription already gone
// counts as deleted, so a command refused as throttled is sent again
// whole, after its Retry-After, like a sync page; its other errors are
// returned, and the caller may retry the whole command later.
func (c *Client) PushUnsubscribe(ctx context.Context, a PushUnsubscribeArgs) error {
	_, err := oneIdempotent(ctx, c, func(b *Batch) *Pending[Empty] { return b.PushUnsubscribe(a) })
	return err
}
