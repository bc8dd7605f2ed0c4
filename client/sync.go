package deviceclient

import (
	"context"
	"errors"
	"iter"
)

// A sync round calls a *.sync command again and again with the state of the
// previous page while the bridge answers more: true. Each page is yielded
// with its state; the caller applies the page's changes and keeps its state
// together (one transaction), so a round broken off anywhere resumes from
// the last page kept.
//
// A page refused as throttled is asked for again after its Retry-After
// plus jitter, up to Options.MaxAttempts. Any other error is yielded once
// and ends the round; resync_required (IsCode(err, CodeResyncRequired))
// means the caller drops its mirror of that scope and starts a new round
// without a state.

// FoldersSyncRound runs folders.sync from a.State until up to date.
func (c *Client) FoldersSyncRound(ctx context.Context, a FoldersSyncArgs) iter.Seq2[SyncPage[Folder], error] {
	return syncRound(ctx, c, a.State, func(b *Batch, state string) *Pending[SyncPage[Folder]] {
		a.State = state
		return b.FoldersSync(a)
	})
}

// MailSyncRound runs mail.sync from a.State until up to date.
func (c *Client) MailSyncRound(ctx context.Context, a MailSyncArgs) iter.Seq2[SyncPage[Message], error] {
	return syncRound(ctx, c, a.State, func(b *Batch, state string) *Pending[SyncPage[Message]] {
		a.State = state
		return b.MailSync(a)
	})
}

// CalendarSyncRound runs calendar.sync from a.State until up to date.
func (c *Client) CalendarSyncRound(ctx context.Context, a CalendarSyncArgs) iter.Seq2[SyncPage[Event], error] {
	return syncRound(ctx, c, a.State, func(b *Batch, state string) *Pending[SyncPage[Event]] {
		a.State = state
		return b.CalendarSync(a)
	})
}

// ContactsSyncRound runs contacts.sync from a.State until up to date.
func (c *Client) ContactsSyncRound(ctx context.Context, a ContactsSyncArgs) iter.Seq2[SyncPage[Contact], error] {
	return syncRound(ctx, c, a.State, func(b *Batch, state string) *Pending[SyncPage[Contact]] {
		a.State = state
		return b.ContactsSync(a)
	})
}

// FilesSyncRound runs files.sync from a.State until up to date.
func (c *Client) FilesSyncRound(ctx context.Context, a FilesSyncArgs) iter.Seq2[SyncPage[File], error] {
	return syncRound(ctx, c, a.State, func(b *Batch, state string) *Pending[SyncPage[File]] {
		a.State = state
		return b.FilesSync(a)
	})
}

// errNoProgress ends a round whose bridge answered more: true without a state.
var errNoProgress = errors.New("deviceclient: the bridge answered more without a state")

func syncRound[T any](ctx context.Context, c *Client, state string, page func(*Batch, string) *Pending[SyncPage[T]]) iter.Seq2[SyncPage[T], error] {
	return func(yield func(SyncPage[T], error) bool) {
		for {
			result, err := syncPage(ctx, c, state, page)
			if err == nil && result.More && result.State == "" {
				err = errNoProgress
			}
			if err != nil {
				yield(SyncPage[T]{}, err)
				return
			}
			if !yield(result, nil) || !result.More {
				return
			}
			state = result.State
		}
	}
}

// syncPage asks for one page, and again after its Retry-After when the
// command alone was throttled (Do itself retries a request throttled as a
// whole).
func syncPage[T any](ctx context.Context, c *Client, state string, page func(*Batch, string) *Pending[SyncPage[T]]) (SyncPage[T], error) {
	return oneIdempotent(ctx, c, func(b *Batch) *Pending[SyncPage[T]] { return page(b, state) })
}
