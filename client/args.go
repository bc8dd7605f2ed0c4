package deviceclient

// The arguments of each command, with the device API's names. Zero values
// are left out of the request, so a command gets the bridge's defaults.
// Every command but the push commands takes Mailbox (a user principal name
// or object id) to work on a shared or delegated mailbox instead of the
// token's own; Graph's delegated subscriptions cover the signed-in user's
// own mailbox only, so the bridge refuses a push command with a mailbox.

// FoldersSyncArgs are the arguments of folders.sync.
type FoldersSyncArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	State   string `json:"state,omitempty"`
}

// FolderGetArgs are the arguments of folder.get.
type FolderGetArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	// Folder is a folder id or a well-known name such as "inbox".
	Folder string `json:"folder"`
}

// MailSyncArgs are the arguments of mail.sync.
type MailSyncArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	Folder  string `json:"folder"`
	State   string `json:"state,omitempty"`
	// Window is the page size, 1–200 (bridge default 50).
	Window int `json:"window,omitempty"`
	// Since (RFC 3339) limits the first sync to mail received since then.
	Since string `json:"since,omitempty"`
	// Fields selects the message fields (device names); default all but bcc and body.
	Fields []string `json:"fields,omitempty"`
}

// MailGetArgs are the arguments of mail.get: exactly one of ID and Ref.
type MailGetArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id,omitempty"`
	// Ref is a sealed message reference from an alert push's "m", in place
	// of ID; it goes without Mailbox (a push is of the user's own mailbox).
	Ref string `json:"ref,omitempty"`
	// Body is "text" (bridge default), "html" or "none".
	Body   string   `json:"body,omitempty"`
	Fields []string `json:"fields,omitempty"`
}

// MailUpdateArgs are the arguments of mail.update; at least one of Read,
// Flag and Cats must be set.
type MailUpdateArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
	Read    *bool  `json:"read,omitempty"`
	// Flag is "none", "flagged" or "complete".
	Flag string `json:"flag,omitempty"`
	// Cats replaces the categories; a pointer to an empty slice clears them.
	Cats   *[]string `json:"cats,omitempty"`
	Fields []string  `json:"fields,omitempty"`
}

// MailMoveArgs are the arguments of mail.move.
type MailMoveArgs struct {
	Mailbox string   `json:"mailbox,omitempty"`
	ID      string   `json:"id"`
	To      string   `json:"to"`
	Fields  []string `json:"fields,omitempty"`
}

// MailDeleteArgs are the arguments of mail.delete.
type MailDeleteArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
}

// OutgoingAttachment is a file attached to mail.send; Data is the raw
// content (encoded to base64 on the wire).
type OutgoingAttachment struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	Data []byte `json:"data"`
}

// MailSendArgs are the arguments of mail.send.
type MailSendArgs struct {
	Mailbox     string               `json:"mailbox,omitempty"`
	To          []Person             `json:"to"`
	Cc          []Person             `json:"cc,omitempty"`
	Bcc         []Person             `json:"bcc,omitempty"`
	Subject     string               `json:"subject"`
	Body        Body                 `json:"body"`
	Attachments []OutgoingAttachment `json:"attachments,omitempty"`
	// Save keeps a copy in Sent Items; nil means the bridge default (true).
	Save *bool `json:"save,omitempty"`
}

// MailReplyArgs are the arguments of mail.reply.
type MailReplyArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
	Comment string `json:"comment"`
	All     bool   `json:"all,omitempty"`
}

// MailForwardArgs are the arguments of mail.forward.
type MailForwardArgs struct {
	Mailbox string   `json:"mailbox,omitempty"`
	ID      string   `json:"id"`
	To      []Person `json:"to"`
	Comment string   `json:"comment,omitempty"`
}

// MailSearchArgs are the arguments of mail.search.
type MailSearchArgs struct {
	Mailbox string   `json:"mailbox,omitempty"`
	Query   string   `json:"query"`
	Window  int      `json:"window,omitempty"`
	State   string   `json:"state,omitempty"`
	Fields  []string `json:"fields,omitempty"`
}

// AttachmentsListArgs are the arguments of attachments.list.
type AttachmentsListArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
}

// AttachmentsRecentArgs are the arguments of attachments.recent. Since,
// Folder and Window shape the first page only; later pages pass State alone.
type AttachmentsRecentArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	// Since (RFC 3339) is the oldest mail looked at; "" means 30 days ago.
	Since string `json:"since,omitempty"`
	// Folder is a folder id or a well-known name; "" means every folder
	// (Junk and Deleted Items included).
	Folder string `json:"folder,omitempty"`
	State  string `json:"state,omitempty"`
	// Window is the number of messages per page, 1–50 (bridge default 50).
	Window int `json:"window,omitempty"`
}

// CalendarSyncArgs are the arguments of calendar.sync; Start and End
// (RFC 3339) are required on the first call and sealed in the state.
type CalendarSyncArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	Start   string `json:"start,omitempty"`
	End     string `json:"end,omitempty"`
	State   string `json:"state,omitempty"`
	Window  int    `json:"window,omitempty"`
}

// EventRespondArgs are the arguments of event.respond.
type EventRespondArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
	// Response is "accept", "decline" or "tentative".
	Response string `json:"response"`
	Comment  string `json:"comment,omitempty"`
	// Send tells the organizer; nil means the bridge default (true).
	Send *bool `json:"send,omitempty"`
}

// EventFields are the editable fields of event.create and event.update.
type EventFields struct {
	Subject   string     `json:"subject,omitempty"`
	Body      *Body      `json:"body,omitempty"`
	Start     string     `json:"start,omitempty"`
	End       string     `json:"end,omitempty"`
	AllDay    *bool      `json:"allDay,omitempty"`
	Location  *string    `json:"location,omitempty"`
	Attendees []Attendee `json:"attendees,omitempty"`
	ShowAs    string     `json:"showAs,omitempty"`
}

// EventCreateArgs are the arguments of event.create.
type EventCreateArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	EventFields
}

// EventUpdateArgs are the arguments of event.update.
type EventUpdateArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
	EventFields
}

// EventDeleteArgs are the arguments of event.delete.
type EventDeleteArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
}

// ContactsSyncArgs are the arguments of contacts.sync.
type ContactsSyncArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	State   string `json:"state,omitempty"`
	Window  int    `json:"window,omitempty"`
}

// ContactFields are the editable fields of contact.create and
// contact.update. A pointer to "" clears a string field.
type ContactFields struct {
	Name     *string  `json:"name,omitempty"`
	Given    *string  `json:"given,omitempty"`
	Surname  *string  `json:"surname,omitempty"`
	Emails   []Person `json:"emails,omitempty"`
	Mobile   *string  `json:"mobile,omitempty"`
	Business []string `json:"business,omitempty"`
	Home     []string `json:"home,omitempty"`
	Company  *string  `json:"company,omitempty"`
	Title    *string  `json:"title,omitempty"`
}

// ContactCreateArgs are the arguments of contact.create.
type ContactCreateArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ContactFields
}

// ContactUpdateArgs are the arguments of contact.update.
type ContactUpdateArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
	ContactFields
}

// ContactDeleteArgs are the arguments of contact.delete.
type ContactDeleteArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	ID      string `json:"id"`
}

// FilesSyncArgs are the arguments of files.sync.
type FilesSyncArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	// Drive is another drive's id; "" means the user's own.
	Drive  string `json:"drive,omitempty"`
	State  string `json:"state,omitempty"`
	Window int    `json:"window,omitempty"`
	// From "now" starts at the present: no items, only later changes.
	From string `json:"from,omitempty"`
}

// FilesListArgs are the arguments of files.list.
type FilesListArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	Drive   string `json:"drive,omitempty"`
	// Folder is the folder's id; "" is the drive's root.
	Folder string `json:"folder,omitempty"`
	State  string `json:"state,omitempty"`
	Window int    `json:"window,omitempty"`
	Thumbs bool   `json:"thumbs,omitempty"`
	// ETag asks for NotModified when the folder is unchanged.
	ETag string `json:"etag,omitempty"`
}

// FilesSearchArgs are the arguments of files.search.
type FilesSearchArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	Drive   string `json:"drive,omitempty"`
	Query   string `json:"query"`
	// Scope is "drive" (default) or "all" (shared items too).
	Scope  string `json:"scope,omitempty"`
	State  string `json:"state,omitempty"`
	Window int    `json:"window,omitempty"`
}

// FilesLinkArgs are the arguments of files.link.
type FilesLinkArgs struct {
	Mailbox string `json:"mailbox,omitempty"`
	Drive   string `json:"drive,omitempty"`
	ID      string `json:"id"`
}

// PushSubscribeArgs are the arguments of push.subscribe. Platform decides
// the target: "apns" takes Token (and Env); "fcm" exactly one of Token and
// FID; "webpush" Endpoint, P256DH and Auth. A target field of another
// platform is invalid_args.
type PushSubscribeArgs struct {
	// Platform is "apns", "fcm" or "webpush".
	Platform string `json:"platform"`
	// Token is the APNs device token (hex) or the FCM registration token.
	Token string `json:"token,omitempty"`
	// FID is the FCM Firebase installation id.
	FID string `json:"fid,omitempty"`
	// Endpoint is the web push service's https URL.
	Endpoint string `json:"endpoint,omitempty"`
	// P256DH is base64url of the web push subscription's P-256 public key.
	P256DH string `json:"p256dh,omitempty"`
	// Auth is base64url of the web push subscription's 16-byte secret.
	Auth string `json:"auth,omitempty"`
	// Env is the APNs environment: "production" (bridge default) or "sandbox".
	Env string `json:"env,omitempty"`
	// Watch is "mail" (bridge default), "calendar" or "contacts".
	Watch string `json:"watch,omitempty"`
	// Folder is the mail folder watched, an id or a well-known name (bridge
	// default "inbox"); with Watch "mail" only.
	Folder string `json:"folder,omitempty"`
	// Device is the app's per-install id, 1–64 of [A-Za-z0-9_-]; push.list
	// tells this install's subscriptions apart by it.
	Device string `json:"device"`
	// Account is a tag of up to 16 [A-Za-z0-9_-] that every push carries
	// as "a", so the app tells its accounts apart.
	Account string `json:"account,omitempty"`
	// Alert makes new mail an alert push carrying sealed message
	// references (MailGetArgs.Ref); always so for webpush.
	Alert bool `json:"alert,omitempty"`
	// State renews the subscription of an earlier answer; every other
	// argument must be as it was then.
	State string `json:"state,omitempty"`
}

// PushListArgs are the arguments of push.list.
type PushListArgs struct {
	// Device is the app's per-install id; the subscriptions made with it
	// are listed as Mine.
	Device string `json:"device,omitempty"`
}

// PushUnsubscribeArgs are the arguments of push.unsubscribe: exactly one
// of State and IDs.
type PushUnsubscribeArgs struct {
	// State is a push state of push.subscribe.
	State string `json:"state,omitempty"`
	// IDs are 1–20 distinct subscription ids (Graph's), one DELETE each.
	IDs []string `json:"ids,omitempty"`
}
