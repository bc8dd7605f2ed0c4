package deviceclient

import (
	"encoding/json"
	"fmt"
)

// Person is a mail address with an optional display name.
type Person struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// Body is a message or event body.
type Body struct {
	// Type is "text" or "html".
	Type    string `json:"type,omitempty"`
	Content string `json:"content"`
}

// Folder is a mail folder.
type Folder struct {
	ID       string `json:"id"`
	Parent   string `json:"parent,omitempty"`
	Name     string `json:"name,omitempty"`
	Unread   int    `json:"unread"`
	Total    int    `json:"total"`
	Children int    `json:"children"`
	Hidden   bool   `json:"hidden"`
}

// Message is a mail message; which fields are set depends on the command's
// fields argument.
type Message struct {
	ID         string   `json:"id"`
	Folder     string   `json:"folder,omitempty"`
	Conv       string   `json:"conv,omitempty"`
	Subject    string   `json:"subject,omitempty"`
	From       *Person  `json:"from,omitempty"`
	To         []Person `json:"to,omitempty"`
	Cc         []Person `json:"cc,omitempty"`
	Bcc        []Person `json:"bcc,omitempty"`
	Received   string   `json:"received,omitempty"`
	Sent       string   `json:"sent,omitempty"`
	Preview    string   `json:"preview,omitempty"`
	Read       bool     `json:"read,omitempty"`
	Flag       string   `json:"flag,omitempty"`
	Importance string   `json:"importance,omitempty"`
	Att        bool     `json:"att,omitempty"`
	Cats       []string `json:"cats,omitempty"`
	Draft      bool     `json:"draft,omitempty"`
	Body       *Body    `json:"body,omitempty"`
}

// Attendee is an event attendee.
type Attendee struct {
	Name     string `json:"name,omitempty"`
	Addr     string `json:"addr"`
	Type     string `json:"type,omitempty"`
	Response string `json:"response,omitempty"`
}

// Event is a calendar event, a series master, an exception or an
// occurrence stub. Start and End are RFC 3339 times in UTC, or dates
// (YYYY-MM-DD, End exclusive) when AllDay is true.
type Event struct {
	ID        string     `json:"id"`
	Subject   string     `json:"subject,omitempty"`
	Start     string     `json:"start,omitempty"`
	End       string     `json:"end,omitempty"`
	AllDay    bool       `json:"allDay,omitempty"`
	Location  string     `json:"location,omitempty"`
	Organizer *Person    `json:"organizer,omitempty"`
	Attendees []Attendee `json:"attendees,omitempty"`
	Response  string     `json:"response,omitempty"`
	ShowAs    string     `json:"showAs,omitempty"`
	Cancelled bool       `json:"cancelled,omitempty"`
	Type      string     `json:"type,omitempty"`
	Series    string     `json:"series,omitempty"`
	Preview   string     `json:"preview,omitempty"`
}

// Contact is a personal contact.
type Contact struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Given    string   `json:"given,omitempty"`
	Surname  string   `json:"surname,omitempty"`
	Emails   []Person `json:"emails,omitempty"`
	Mobile   string   `json:"mobile,omitempty"`
	Business []string `json:"business,omitempty"`
	Home     []string `json:"home,omitempty"`
	Company  string   `json:"company,omitempty"`
	Title    string   `json:"title,omitempty"`
}

// Attachment describes one attachment of a message.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Type   string `json:"type,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Inline bool   `json:"inline,omitempty"`
}

// Change is one entry of a sync page: an upsert carrying the whole item
// (as far as the fields selected), or a delete carrying only the id.
type Change[T any] struct {
	// Op is "upsert" or "delete".
	Op string
	// ID is the item's id, for both ops.
	ID string
	// Item is the item of an upsert; nil for a delete.
	Item *T
}

// IsDelete reports whether the change removes the item.
func (c Change[T]) IsDelete() bool { return c.Op == "delete" }

// SyncPage is one answer of a *.sync command.
type SyncPage[T any] struct {
	Changes []Change[T]
	// State continues the sync; keep it with the items it produced.
	State string
	// More is true when the device should call again at once with State.
	More bool
}

// kindOf names the member that holds an item of type T in a change.
func kindOf[T any]() string {
	var zero T
	switch any(zero).(type) {
	case Folder:
		return "folder"
	case Message:
		return "message"
	case Event:
		return "event"
	case Contact:
		return "contact"
	case File:
		return "file"
	}
	panic(fmt.Sprintf("deviceclient: no change kind for %T", zero))
}

// UnmarshalJSON reads {"changes":[…],"state":"…","more":bool}.
func (p *SyncPage[T]) UnmarshalJSON(data []byte) error {
	var wire struct {
		Changes []map[string]json.RawMessage `json:"changes"`
		State   string                       `json:"state"`
		More    bool                         `json:"more"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	kind := kindOf[T]()
	p.State, p.More = wire.State, wire.More
	p.Changes = make([]Change[T], 0, len(wire.Changes))
	for i, raw := range wire.Changes {
		var c Change[T]
		if err := json.Unmarshal(raw["op"], &c.Op); err != nil {
			return fmt.Errorf("change %d: op: %v", i, err)
		}
		switch c.Op {
		case "delete":
			if err := json.Unmarshal(raw["id"], &c.ID); err != nil {
				return fmt.Errorf("change %d: id: %v", i, err)
			}
		case "upsert":
			item, ok := raw[kind]
			if !ok {
				return fmt.Errorf("change %d: upsert without %q", i, kind)
			}
			c.Item = new(T)
			if err := json.Unmarshal(item, c.Item); err != nil {
				return fmt.Errorf("change %d: %s: %v", i, kind, err)
			}
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(item, &id)
			c.ID = id.ID
		default:
			return fmt.Errorf("change %d: unknown op %q", i, c.Op)
		}
		p.Changes = append(p.Changes, c)
	}
	return nil
}

// SearchPage is one answer of mail.search.
type SearchPage struct {
	Messages []Message `json:"messages"`
	// State continues the search when More is true.
	State string `json:"state,omitempty"`
	More  bool   `json:"more"`
}

// Empty is the data of commands that answer {}.
type Empty struct{}

// File is a drive item: a file, a folder or a package (a OneNote notebook).
type File struct {
	ID       string     `json:"id"`
	Name     string     `json:"name,omitempty"`
	Parent   string     `json:"parent,omitempty"`
	Drive    string     `json:"drive,omitempty"`
	Size     int64      `json:"size,omitempty"`
	Modified string     `json:"modified,omitempty"`
	ETag     string     `json:"etag,omitempty"`
	MIME     string     `json:"mime,omitempty"`
	Kind     string     `json:"kind,omitempty"`
	Children int        `json:"children,omitempty"`
	Root     bool       `json:"root,omitempty"`
	Remote   *RemoteRef `json:"remote,omitempty"`
	Thumb    *Thumbnail `json:"thumb,omitempty"`
	Web      string     `json:"web,omitempty"`
}

// RemoteRef points at a shared item in another drive: browse it with
// files.list, Drive = RemoteRef.Drive and Folder = RemoteRef.ID.
type RemoteRef struct {
	Drive string `json:"drive"`
	ID    string `json:"id"`
}

// Thumbnail is an item's medium thumbnail.
type Thumbnail struct {
	URL string `json:"url"`
	W   int    `json:"w,omitempty"`
	H   int    `json:"h,omitempty"`
}

// FilePage is one answer of files.list or files.search.
type FilePage struct {
	Files []File `json:"files"`
	// State continues the listing when More is true.
	State string `json:"state,omitempty"`
	More  bool   `json:"more"`
	// NotModified is true when the folder did not change since the etag given.
	NotModified bool `json:"notModified,omitempty"`
}

// FileLink is a file's short-lived, pre-authenticated download URL.
type FileLink struct {
	URL  string `json:"url"`
	Size int64  `json:"size,omitempty"`
	ETag string `json:"etag,omitempty"`
}

// AttachmentsRecentPage is one answer of attachments.recent: messages with
// attachments, newest first. Paging may repeat an attachment: dedupe by id.
type AttachmentsRecentPage struct {
	Items []MessageAttachments `json:"items"`
	// State continues the listing when More is true.
	State string `json:"state,omitempty"`
	More  bool   `json:"more"`
}

// MessageAttachments is one message of attachments.recent with its
// attachments (empty when Graph expanded none).
type MessageAttachments struct {
	Message     RecentMessage      `json:"message"`
	Attachments []RecentAttachment `json:"attachments"`
}

// RecentMessage is the message an attachments.recent item came with.
type RecentMessage struct {
	ID      string  `json:"id"`
	Subject string  `json:"subject,omitempty"`
	From    *Person `json:"from,omitempty"`
	// Received is an RFC 3339 time in UTC.
	Received string `json:"received,omitempty"`
	// Folder is the message's folder id, so an app can leave out Junk
	// and Deleted Items.
	Folder string `json:"folder,omitempty"`
}

// RecentAttachment describes one attachment of attachments.recent; its
// content is downloaded with Client.Attachment.
type RecentAttachment struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
	Type string `json:"type,omitempty"`
	// Inline is advisory only (Graph gets it wrong both ways): apps hide
	// only inline images.
	Inline bool `json:"inline,omitempty"`
	// Kind is "file", "item" or "link" ("" for another type); a link (a
	// reference attachment) cannot be downloaded.
	Kind string `json:"kind,omitempty"`
}

// PushSubscription is the answer of push.subscribe.
type PushSubscription struct {
	// State renews the subscription (PushSubscribeArgs.State) or deletes
	// it (PushUnsubscribeArgs.State); keep it with the subscription.
	State string `json:"state"`
	// ID is Graph's subscription id.
	ID string `json:"id"`
	// Expires is when Graph ends the subscription (RFC 3339, UTC).
	Expires string `json:"expires"`
	// RenewAfter is when to renew (RFC 3339, UTC): two thirds of the
	// subscription's lifetime.
	RenewAfter string `json:"renewAfter"`
}

// ListedSubscription is one subscription of push.list.
type ListedSubscription struct {
	// ID is Graph's subscription id, for PushUnsubscribeArgs.IDs.
	ID string `json:"id"`
	// Watch ("mail", "calendar" or "contacts") and Platform ("apns",
	// "fcm" or "webpush") are set only for a subscription this bridge
	// made whose routing record still opens.
	Watch    string `json:"watch,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Expires is Graph's expiry (RFC 3339), when it reads as a time.
	Expires string `json:"expires,omitempty"`
	// Mine is true when the subscription was made with PushListArgs.Device.
	Mine bool `json:"mine"`
}
