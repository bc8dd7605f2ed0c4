package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	deviceclient "github.com/devicebridge/caddy-devicebridge/client"
	"github.com/devicebridge/caddy-devicebridge/cmd/devicectl/mirror"
)

func newMirrorCommand(conn *connection, stderr io.Writer) *cobra.Command {
	var (
		db                       string
		mail, calendar, contacts bool
		files                    bool
		window                   int
		calendarFrom, calendarTo string
	)
	cmd := &cobra.Command{
		Use:   "mirror --db FILE [--mail] [--calendar] [--contacts] [--files]",
		Short: "Mirror the mailbox into a SQLite file; a second run fetches only changes",
		Long: `Mirror the mailbox into a SQLite file as a device would: every page of every
sync round is written together with its new state in one transaction, so
Ctrl-C leaves a consistent file and the next run continues from it. Without
--mail, --calendar, --contacts or --files, the first three are mirrored;
--files mirrors the OneDrive's tree (names, sizes, kinds; not content).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return fmt.Errorf("--db is required")
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			o := mirror.Options{Mail: mail, Calendar: calendar, Contacts: contacts, Files: files, Mailbox: conn.mailbox, Window: window}
			if o.CalendarStart, err = parseOptionalTime(calendarFrom); err != nil {
				return fmt.Errorf("--calendar-from: %v", err)
			}
			if o.CalendarEnd, err = parseOptionalTime(calendarTo); err != nil {
				return fmt.Errorf("--calendar-to: %v", err)
			}
			store, err := mirror.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer store.Close()
			bars := newProgress(cmd.Context(), stderr)
			o.Progress = bars.page
			stats, err := store.Sync(cmd.Context(), c, o)
			bars.wait()
			fmt.Fprintf(cmd.OutOrStdout(), "%d pages, %d upserts, %d deletes, %d resyncs\n", stats.Pages, stats.Upserts, stats.Deletes, stats.Resyncs)
			return err
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "the SQLite file (created when missing)")
	cmd.Flags().BoolVar(&mail, "mail", false, "mirror mail folders and messages")
	cmd.Flags().BoolVar(&calendar, "calendar", false, "mirror the calendar")
	cmd.Flags().BoolVar(&contacts, "contacts", false, "mirror contacts")
	cmd.Flags().BoolVar(&files, "files", false, "mirror the user's OneDrive (metadata, not content)")
	cmd.Flags().IntVar(&window, "window", 0, "page size, 1–200 (default: the bridge's)")
	cmd.Flags().StringVar(&calendarFrom, "calendar-from", "", "RFC 3339 start of the calendar window (default: 30 days ago)")
	cmd.Flags().StringVar(&calendarTo, "calendar-to", "", "RFC 3339 end of the calendar window (default: in 180 days)")
	return cmd
}

func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func newLsCommand(conn *connection) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "ls FOLDER",
		Short: "List the newest messages of a folder (an id or a well-known name such as inbox)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			n := 0
			window := min(max(limit, 1), 200)
			for page, err := range c.MailSyncRound(cmd.Context(), deviceclient.MailSyncArgs{Mailbox: conn.mailbox, Folder: args[0], Window: window,
				Fields: []string{"subject", "from", "received", "read", "att"}}) {
				if err != nil {
					return err
				}
				for _, ch := range page.Changes {
					if ch.Item == nil {
						continue
					}
					printMessageLine(out, *ch.Item)
					if n++; n >= limit {
						return nil
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many messages to list")
	return cmd
}

func printMessageLine(w io.Writer, m deviceclient.Message) {
	mark := " "
	if !m.Read {
		mark = "*"
	}
	att := " "
	if m.Att {
		att = "@"
	}
	from := ""
	if m.From != nil {
		from = m.From.Addr
	}
	fmt.Fprintf(w, "%s%s %-20.20s %-30.30s %s\t%s\n", mark, att, m.Received, from, m.Subject, m.ID)
}

func newReadCommand(conn *connection) *cobra.Command {
	var html bool
	cmd := &cobra.Command{
		Use:   "read ID",
		Short: "Show a message with its body and attachments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			body := "text"
			if html {
				body = "html"
			}
			b := c.NewBatch()
			msgP := b.MailGet(deviceclient.MailGetArgs{Mailbox: conn.mailbox, ID: args[0], Body: body})
			attP := b.AttachmentsList(deviceclient.AttachmentsListArgs{Mailbox: conn.mailbox, ID: args[0]})
			if err := c.Do(cmd.Context(), b); err != nil {
				return err
			}
			m, err := msgP.Result()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if m.From != nil {
				fmt.Fprintf(out, "From:    %s\n", formatPerson(*m.From))
			}
			fmt.Fprintf(out, "To:      %s\n", formatPeople(m.To))
			if len(m.Cc) > 0 {
				fmt.Fprintf(out, "Cc:      %s\n", formatPeople(m.Cc))
			}
			fmt.Fprintf(out, "Date:    %s\nSubject: %s\n", m.Received, m.Subject)
			if atts, err := attP.Result(); err == nil {
				for _, a := range atts {
					fmt.Fprintf(out, "Attachment: %s (%s, %d bytes) %s\n", a.Name, a.Type, a.Size, a.ID)
				}
			}
			if m.Body != nil {
				fmt.Fprintf(out, "\n%s\n", m.Body.Content)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&html, "html", false, "show the HTML body instead of text")
	return cmd
}

func formatPerson(p deviceclient.Person) string {
	if p.Name == "" {
		return p.Addr
	}
	return fmt.Sprintf("%s <%s>", p.Name, p.Addr)
}

func formatPeople(ps []deviceclient.Person) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = formatPerson(p)
	}
	return strings.Join(s, ", ")
}

func newSendCommand(conn *connection) *cobra.Command {
	var (
		to, cc, attach []string
		subject, body  string
		noSave         bool
	)
	cmd := &cobra.Command{
		Use:   "send --to ADDR [--to ADDR…] --subject TEXT [--body TEXT | < body] [--attach FILE…]",
		Short: "Send a mail (the body from --body, or standard input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(to) == 0 {
				return fmt.Errorf("--to is required")
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("body") {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4<<20))
				if err != nil {
					return fmt.Errorf("reading the body: %v", err)
				}
				body = string(b)
			}
			a := deviceclient.MailSendArgs{Mailbox: conn.mailbox, Subject: subject, Body: deviceclient.Body{Type: "text", Content: body}}
			for _, addr := range to {
				a.To = append(a.To, deviceclient.Person{Addr: addr})
			}
			for _, addr := range cc {
				a.Cc = append(a.Cc, deviceclient.Person{Addr: addr})
			}
			for _, path := range attach {
				data, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("--attach: %v", err)
				}
				typ := mime.TypeByExtension(filepath.Ext(path))
				if typ == "" {
					typ = http.DetectContentType(data)
				}
				a.Attachments = append(a.Attachments, deviceclient.OutgoingAttachment{Name: filepath.Base(path), Type: typ, Data: data})
			}
			if noSave {
				f := false
				a.Save = &f
			}
			if err := c.MailSend(cmd.Context(), a); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "sent")
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&to, "to", nil, "a recipient (repeatable)")
	cmd.Flags().StringArrayVar(&cc, "cc", nil, "a copy recipient (repeatable)")
	cmd.Flags().StringVar(&subject, "subject", "", "the subject")
	cmd.Flags().StringVar(&body, "body", "", "the text body (default: read standard input)")
	cmd.Flags().StringArrayVar(&attach, "attach", nil, "a file to attach (repeatable; 3 MiB in all)")
	cmd.Flags().BoolVar(&noSave, "no-save", false, "do not keep a copy in Sent Items")
	return cmd
}

func newGetCommand(conn *connection, stderr io.Writer) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get ID ATTACHMENT -o FILE",
		Short: "Download an attachment, with a progress bar on a terminal",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return fmt.Errorf("-o FILE is required")
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			d, err := c.Attachment(cmd.Context(), conn.mailbox, args[0], args[1])
			if err != nil {
				return err
			}
			defer d.Body.Close()
			return saveDownload(cmd.Context(), d, output, stderr, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write")
	return cmd
}

// saveDownload writes d to path through a temporary file, so an
// interrupted download never leaves a partial file under the name.
func saveDownload(ctx context.Context, d *deviceclient.Download, path string, stderr, stdout io.Writer) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bars := newProgress(ctx, stderr)
	n, err := bars.copy(tmp, d.Body, filepath.Base(path), d.Size)
	bars.wait()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	if d.Size >= 0 && n != d.Size {
		return fmt.Errorf("downloading: got %d of %d bytes", n, d.Size)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes\n", path, n)
	return nil
}

func newSearchCommand(conn *connection) *cobra.Command {
	var all bool
	var window int
	cmd := &cobra.Command{
		Use:   "search TEXT",
		Short: "Search the mailbox (one phrase; Graph ranks and caps the results)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			a := deviceclient.MailSearchArgs{Mailbox: conn.mailbox, Query: strings.Join(args, " "), Window: window,
				Fields: []string{"subject", "from", "received", "read", "att"}}
			for {
				page, err := c.MailSearch(cmd.Context(), a)
				if err != nil {
					return err
				}
				for _, m := range page.Messages {
					printMessageLine(cmd.OutOrStdout(), m)
				}
				if !all || !page.More {
					return nil
				}
				a.State = page.State
			}
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "follow every page of results")
	cmd.Flags().IntVar(&window, "window", 25, "results per page, 1–200")
	return cmd
}
