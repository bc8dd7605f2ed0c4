// Package mirror keeps a SQLite copy of a mailbox the way a device does:
// it runs the device API's sync rounds (folders, mail per folder, calendar,
// contacts) and applies each page together with its new state in one
// transaction, so the file never holds a state ahead of its data and an
// interrupted run resumes where the last committed page left off.
//
// A scope whose state the bridge no longer accepts (resync_required or
// invalid_state) is dropped — its rows and its state, in one transaction —
// and synced again from the start.
package mirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	deviceclient "github.com/devicebridge/caddy-devicebridge/client"
)

// schemaVersion is the file's PRAGMA user_version; a file of another
// version is refused rather than misread.
const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS sync_state (scope TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS folders  (id TEXT PRIMARY KEY, parent_id TEXT, name TEXT, unread INTEGER, total INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, folder_id TEXT NOT NULL, received_at TEXT, subject TEXT, from_addr TEXT,
                                     is_read INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_folder ON messages(folder_id, received_at DESC);
CREATE TABLE IF NOT EXISTS events   (id TEXT PRIMARY KEY, start_utc TEXT, end_utc TEXT, subject TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY, display_name TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files    (id TEXT PRIMARY KEY, parent_id TEXT, name TEXT, kind TEXT, size INTEGER, data TEXT NOT NULL);
`

// Store is an open mirror file.
type Store struct {
	db *sql.DB
}

// Open opens (creating when needed) the mirror at path: WAL journal, one
// writer, foreign keys on.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("mirror: %s is not a readable SQLite file: %v", path, err)
	}
	if version != 0 && version != schemaVersion {
		db.Close()
		return nil, fmt.Errorf("mirror: %s has schema version %d, this devicectl writes %d", path, version, schemaVersion)
	}
	if _, err := db.ExecContext(ctx, schema+fmt.Sprintf("PRAGMA user_version = %d;", schemaVersion)); err != nil {
		db.Close()
		return nil, fmt.Errorf("mirror: creating the schema: %v", err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// DB is the underlying database, for reading the mirror.
func (s *Store) DB() *sql.DB { return s.db }

// Options choose what Sync mirrors.
type Options struct {
	// Mail, Calendar, Contacts and Files select the kinds; all false
	// means all but Files (a drive can be large; ask for it).
	Mail, Calendar, Contacts, Files bool
	// Mailbox is the mailbox argument of every command ("" = the token's own).
	Mailbox string
	// Window is the page size (0 = the bridge's default).
	Window int
	// CalendarStart and CalendarEnd bound the calendar window of a first
	// calendar sync; zero means 30 days back and 180 days ahead.
	CalendarStart, CalendarEnd time.Time
	// Progress, when set, is told about every page applied.
	Progress func(p Progress)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Progress describes one applied page.
type Progress struct {
	// Scope is "folders", "mail:<folder id>", "calendar", "contacts" or "files".
	Scope string
	// Name is a human name for the scope (the folder's name for mail).
	Name string
	// Changes is the number of changes in the page; More whether the
	// scope's round goes on.
	Changes int
	More    bool
	// Total is the folder's message count, for mail scopes (0 if unknown).
	Total int
}

// Stats count what a Sync applied.
type Stats struct {
	Pages, Upserts, Deletes, Resyncs int
}

// Sync runs one round of every selected scope until each is up to date.
// A second run fetches only what changed since the first.
func (s *Store) Sync(ctx context.Context, c *deviceclient.Client, o Options) (Stats, error) {
	if !o.Mail && !o.Calendar && !o.Contacts && !o.Files {
		o.Mail, o.Calendar, o.Contacts = true, true, true
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &run{store: s, client: c, o: o}
	if o.Mail {
		if err := r.mail(ctx); err != nil {
			return r.stats, err
		}
	}
	if o.Calendar {
		if err := r.calendar(ctx); err != nil {
			return r.stats, err
		}
	}
	if o.Contacts {
		if err := r.contacts(ctx); err != nil {
			return r.stats, err
		}
	}
	if o.Files {
		if err := r.files(ctx); err != nil {
			return r.stats, err
		}
	}
	return r.stats, nil
}

type run struct {
	store  *Store
	client *deviceclient.Client
	o      Options
	stats  Stats
}

// scopeRound runs the round of one scope from its saved state, applying
// each page and its state in one transaction. When the bridge refuses the
// state, the scope is dropped and synced again from the start, once.
func scopeRound[T any](ctx context.Context, r *run, scope string, rows scopeRows[T],
	round func(state string) func(yield func(deviceclient.SyncPage[T], error) bool)) error {
	for attempt := 0; attempt < 2; attempt++ {
		state, err := r.store.state(ctx, scope)
		if err != nil {
			return err
		}
		var roundErr error
		for page, err := range round(state) {
			if err != nil {
				roundErr = err
				break
			}
			if err := r.apply(ctx, scope, page.State, func(tx *sql.Tx) error {
				for _, ch := range page.Changes {
					if ch.IsDelete() {
						r.stats.Deletes++
						if err := rows.remove(ctx, tx, ch.ID); err != nil {
							return err
						}
						continue
					}
					r.stats.Upserts++
					if err := rows.upsert(ctx, tx, ch.Item); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
			if r.o.Progress != nil {
				r.o.Progress(Progress{Scope: scope, Name: rows.name, Changes: len(page.Changes), More: page.More, Total: rows.total})
			}
		}
		if roundErr == nil {
			return nil
		}
		if !deviceclient.IsCode(roundErr, deviceclient.CodeResyncRequired) && !deviceclient.IsCode(roundErr, deviceclient.CodeInvalidState) {
			return fmt.Errorf("%s: %w", scope, roundErr)
		}
		if state == "" {
			return fmt.Errorf("%s: the bridge refused a sync started without a state: %w", scope, roundErr)
		}
		r.stats.Resyncs++
		if err := r.store.inTx(ctx, func(tx *sql.Tx) error {
			if err := rows.clear(ctx, tx); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM sync_state WHERE scope = ?`, scope)
			return err
		}); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s: the bridge asked for a resync twice in a row", scope)
}

// scopeRows are how one scope's changes land in its table.
type scopeRows[T any] struct {
	name   string
	total  int
	upsert func(ctx context.Context, tx *sql.Tx, item *T) error
	remove func(ctx context.Context, tx *sql.Tx, id string) error
	clear  func(ctx context.Context, tx *sql.Tx) error
}

func (r *run) apply(ctx context.Context, scope, state string, changes func(*sql.Tx) error) error {
	r.stats.Pages++
	return r.store.inTx(ctx, func(tx *sql.Tx) error {
		if err := changes(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sync_state(scope, state, updated_at) VALUES(?,?,?)
			ON CONFLICT(scope) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
			scope, state, r.o.Now().Unix())
		return err
	})
}

func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) state(ctx context.Context, scope string) (string, error) {
	var state string
	err := s.db.QueryRowContext(ctx, `SELECT state FROM sync_state WHERE scope = ?`, scope).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return state, err
}

func (r *run) mail(ctx context.Context) error {
	folders := scopeRows[deviceclient.Folder]{
		name: "folders",
		upsert: func(ctx context.Context, tx *sql.Tx, f *deviceclient.Folder) error {
			data, _ := json.Marshal(f)
			_, err := tx.ExecContext(ctx, `INSERT INTO folders(id, parent_id, name, unread, total, data) VALUES(?,?,?,?,?,?)
				ON CONFLICT(id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
				unread = excluded.unread, total = excluded.total, data = excluded.data`,
				f.ID, f.Parent, f.Name, f.Unread, f.Total, string(data))
			return err
		},
		remove: func(ctx context.Context, tx *sql.Tx, id string) error {
			// A folder gone takes its messages and its mail sync with it.
			for _, q := range []string{`DELETE FROM messages WHERE folder_id = ?`, `DELETE FROM folders WHERE id = ?`,
				`DELETE FROM sync_state WHERE scope = 'mail:' || ?`} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
			return nil
		},
		clear: func(ctx context.Context, tx *sql.Tx) error {
			for _, q := range []string{`DELETE FROM messages`, `DELETE FROM folders`, `DELETE FROM sync_state WHERE scope LIKE 'mail:%'`} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		},
	}
	if err := scopeRound(ctx, r, "folders", folders, func(state string) func(func(deviceclient.SyncPage[deviceclient.Folder], error) bool) {
		return r.client.FoldersSyncRound(ctx, deviceclient.FoldersSyncArgs{Mailbox: r.o.Mailbox, State: state})
	}); err != nil {
		return err
	}

	rows, err := r.store.db.QueryContext(ctx, `SELECT id, name, total FROM folders ORDER BY id`)
	if err != nil {
		return err
	}
	type folder struct {
		id, name string
		total    int
	}
	var list []folder
	for rows.Next() {
		var f folder
		var name sql.NullString
		var total sql.NullInt64
		if err := rows.Scan(&f.id, &name, &total); err != nil {
			rows.Close()
			return err
		}
		f.name, f.total = name.String, int(total.Int64)
		list = append(list, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range list {
		if err := r.folderMail(ctx, f.id, f.name, f.total); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) folderMail(ctx context.Context, folderID, name string, total int) error {
	messages := scopeRows[deviceclient.Message]{
		name:  name,
		total: total,
		upsert: func(ctx context.Context, tx *sql.Tx, m *deviceclient.Message) error {
			data, _ := json.Marshal(m)
			from := ""
			if m.From != nil {
				from = m.From.Addr
			}
			// A move may arrive as an upsert here before the delete in the
			// folder it left: the row simply changes folder.
			_, err := tx.ExecContext(ctx, `INSERT INTO messages(id, folder_id, received_at, subject, from_addr, is_read, data)
				VALUES(?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET folder_id = excluded.folder_id,
				received_at = excluded.received_at, subject = excluded.subject, from_addr = excluded.from_addr,
				is_read = excluded.is_read, data = excluded.data`,
				m.ID, folderID, m.Received, m.Subject, from, m.Read, string(data))
			return err
		},
		remove: func(ctx context.Context, tx *sql.Tx, id string) error {
			// Only from this folder: the message may already live in the
			// folder it moved to.
			_, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = ? AND folder_id = ?`, id, folderID)
			return err
		},
		clear: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE folder_id = ?`, folderID)
			return err
		},
	}
	return scopeRound(ctx, r, "mail:"+folderID, messages, func(state string) func(func(deviceclient.SyncPage[deviceclient.Message], error) bool) {
		return r.client.MailSyncRound(ctx, deviceclient.MailSyncArgs{Mailbox: r.o.Mailbox, Folder: folderID, State: state, Window: r.o.Window})
	})
}

func (r *run) calendar(ctx context.Context) error {
	start, end := r.o.CalendarStart, r.o.CalendarEnd
	now := r.o.Now().UTC().Truncate(time.Second)
	if start.IsZero() {
		start = now.AddDate(0, 0, -30)
	}
	if end.IsZero() {
		end = now.AddDate(0, 0, 180)
	}
	events := scopeRows[deviceclient.Event]{
		name: "calendar",
		upsert: func(ctx context.Context, tx *sql.Tx, e *deviceclient.Event) error {
			data, _ := json.Marshal(e)
			_, err := tx.ExecContext(ctx, `INSERT INTO events(id, start_utc, end_utc, subject, data) VALUES(?,?,?,?,?)
				ON CONFLICT(id) DO UPDATE SET start_utc = excluded.start_utc, end_utc = excluded.end_utc,
				subject = excluded.subject, data = excluded.data`, e.ID, e.Start, e.End, e.Subject, string(data))
			return err
		},
		remove: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id = ?`, id)
			return err
		},
		clear: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM events`)
			return err
		},
	}
	return scopeRound(ctx, r, "calendar", events, func(state string) func(func(deviceclient.SyncPage[deviceclient.Event], error) bool) {
		a := deviceclient.CalendarSyncArgs{Mailbox: r.o.Mailbox, State: state, Window: r.o.Window}
		if state == "" {
			a.Start, a.End = start.Format(time.RFC3339), end.Format(time.RFC3339)
		}
		return r.client.CalendarSyncRound(ctx, a)
	})
}

func (r *run) contacts(ctx context.Context) error {
	contacts := scopeRows[deviceclient.Contact]{
		name: "contacts",
		upsert: func(ctx context.Context, tx *sql.Tx, c *deviceclient.Contact) error {
			data, _ := json.Marshal(c)
			_, err := tx.ExecContext(ctx, `INSERT INTO contacts(id, display_name, data) VALUES(?,?,?)
				ON CONFLICT(id) DO UPDATE SET display_name = excluded.display_name, data = excluded.data`, c.ID, c.Name, string(data))
			return err
		},
		remove: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE id = ?`, id)
			return err
		},
		clear: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM contacts`)
			return err
		},
	}
	return scopeRound(ctx, r, "contacts", contacts, func(state string) func(func(deviceclient.SyncPage[deviceclient.Contact], error) bool) {
		return r.client.ContactsSyncRound(ctx, deviceclient.ContactsSyncArgs{Mailbox: r.o.Mailbox, State: state, Window: r.o.Window})
	})
}

func (r *run) files(ctx context.Context) error {
	files := scopeRows[deviceclient.File]{
		name: "files",
		upsert: func(ctx context.Context, tx *sql.Tx, f *deviceclient.File) error {
			data, _ := json.Marshal(f)
			_, err := tx.ExecContext(ctx, `INSERT INTO files(id, parent_id, name, kind, size, data) VALUES(?,?,?,?,?,?)
				ON CONFLICT(id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
				kind = excluded.kind, size = excluded.size, data = excluded.data`,
				f.ID, f.Parent, f.Name, f.Kind, f.Size, string(data))
			return err
		},
		remove: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id)
			return err
		},
		clear: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM files`)
			return err
		},
	}
	return scopeRound(ctx, r, "files", files, func(state string) func(func(deviceclient.SyncPage[deviceclient.File], error) bool) {
		return r.client.FilesSyncRound(ctx, deviceclient.FilesSyncArgs{Mailbox: r.o.Mailbox, State: state, Window: r.o.Window})
	})
}
