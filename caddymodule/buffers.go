package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/devicebridge/caddy-devicebridge/governor"
	"github.com/devicebridge/caddy-devicebridge/translate"
)

// This file keeps the bytes buffered for requests — device bodies, Graph's
// answers, translated answers — within max_buffered_bytes for the whole
// process. Each request reserves what its buffers are about to hold before
// they grow (the first step is bufferStep, so small requests reserve
// little); a reservation that does not fit waits up to buffer_wait, then
// the request is answered 503 with Retry-After instead of the process
// running out of memory.

// Defaults of the buffer budget's options.
const (
	// DefaultMaxBufferedBytes fits a small VM: with Go's garbage collector
	// allowing the heap about twice its live size, 256 MiB of buffers
	// stay within a 1 GiB machine next to Caddy itself.
	DefaultMaxBufferedBytes = 256 << 20
	// DefaultBufferWait is long enough for a burst of large answers to
	// drain (one takes well under a second to translate and send) and
	// short against a mobile client's patience.
	DefaultBufferWait = 2 * time.Second
)

// bufferStep is the smallest step a buffer grows by.
const bufferStep = 64 << 10

// bufferRetryAfter is the retryAfter, in seconds, of a request refused for
// lack of buffer budget.
const bufferRetryAfter = 5

// errOverBudget is the device's answer when its request could not get the
// memory to buffer within buffer_wait.
var errOverBudget = func() *translate.Error {
	e := translate.NewError(http.StatusServiceUnavailable, translate.CodeUpstreamUnavailable,
		"the bridge is at its memory limit for buffered answers; retry later")
	e.RetryAfter = bufferRetryAfter
	return e
}()

// budgets shares one Budget between every handler configured with the same
// max_buffered_bytes, across sites and config reloads: the ceiling is per
// process, not per handler.
var budgets = caddy.NewUsagePool()

// sharedBudget is a Budget in the usage pool.
type sharedBudget struct{ *governor.Budget }

// Destruct implements caddy.Destructor; a budget holds nothing to close.
func (sharedBudget) Destruct() error { return nil }

// budgetKey names the shared budget of a limit.
func budgetKey(limit int64) string {
	return "devicebridge.buffer_budget." + strconv.FormatInt(limit, 10)
}

// provisionBudget attaches the handler to the process's budget.
func (h *Handler) provisionBudget() error {
	key := budgetKey(h.MaxBufferedBytes)
	shared, _, err := budgets.LoadOrNew(key, func() (caddy.Destructor, error) {
		return sharedBudget{governor.NewBudget(h.MaxBufferedBytes)}, nil
	})
	if err != nil {
		return err
	}
	h.budget = shared.(sharedBudget).Budget
	h.budgetKey = key
	return nil
}

// Cleanup detaches the handler from the shared budget and drops the
// file download client's idle connections.
func (h *Handler) Cleanup() error {
	if h.files != nil {
		h.files.close()
	}
	pushErr := h.closePush()
	if h.budgetKey != "" {
		_, err := budgets.Delete(h.budgetKey)
		return errors.Join(err, pushErr)
	}
	return pushErr
}

// bufferAccount is one request's buffers and its reservation, which always
// covers the capacity of every buffer it handed out.
type bufferAccount struct {
	res     *governor.Reservation
	buffers [4]*bytes.Buffer
	n       int
}

// newBufferAccount starts the account of one request.
func (h *Handler) newBufferAccount(ctx context.Context) *bufferAccount {
	return &bufferAccount{res: h.budget.NewReservation(ctx, time.Duration(h.BufferWait))}
}

// buffer returns a pooled buffer accounted to the request. A pooled
// buffer whose capacity the budget cannot cover at once is dropped for a
// new, empty one, so a small request never waits for capacity it does not
// use.
func (a *bufferAccount) buffer() *bytes.Buffer {
	buf := getBuffer()
	if c := int64(buf.Cap()); c > 0 && a.res.TryGrowTo(a.res.Held()+c) != nil {
		buf = new(bytes.Buffer) // not returned to the pool: let it go
	}
	if a.n < len(a.buffers) {
		a.buffers[a.n] = buf
		a.n++
	}
	return buf
}

// capacity is what the account's buffers hold.
func (a *bufferAccount) capacity() int64 {
	var total int64
	for _, buf := range a.buffers[:a.n] {
		total += int64(buf.Cap())
	}
	return total
}

// ensure makes room for extra more bytes in buf, reserving the growth
// first: the buffer at least doubles (at least bufferStep), the way
// bytes.Buffer grows, so a large body takes few steps.
func (a *bufferAccount) ensure(buf *bytes.Buffer, extra int) error {
	if buf.Available() >= extra {
		return nil
	}
	newCap := max(buf.Len()+extra, 2*buf.Cap(), bufferStep)
	if err := a.res.GrowTo(a.res.Held() + int64(newCap-buf.Cap())); err != nil {
		return err
	}
	buf.Grow(newCap - buf.Len())
	return nil
}

// reserveTransient reserves n bytes on top of the buffers, for memory a
// step allocates outside them (the translator decoding an escaped string).
func (a *bufferAccount) reserveTransient(n int64) error {
	return a.res.GrowTo(a.capacity() + n)
}

// settle makes the reservation what the buffers hold now: transient bytes
// are given back, growth beyond an estimate is accounted.
func (a *bufferAccount) settle() {
	c := a.capacity()
	a.res.ShrinkTo(c)
	a.res.ForceTo(c)
}

// release gives the whole reservation back (the buffers go back to the
// pool through their own defers).
func (a *bufferAccount) release() { a.res.Release() }

// readLimited reads all of body into buf like readLimited, reserving each
// step before the buffer grows; a known Content-Length is reserved at once.
func (a *bufferAccount) readLimited(buf *bytes.Buffer, body io.Reader, contentLength, limit int64) error {
	if contentLength > 0 && contentLength <= limit {
		if err := a.ensure(buf, int(contentLength)+1); err != nil {
			return err
		}
	}
	var total int64
	for {
		if err := a.ensure(buf, 32<<10); err != nil {
			return err
		}
		room := buf.AvailableBuffer()[:buf.Available()]
		if left := limit + 1 - total; int64(len(room)) > left {
			room = room[:left]
		}
		n, err := body.Read(room)
		buf.Write(room[:n])
		total += int64(n)
		if total > limit {
			return errRequestTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isOverBudget reports whether err is the budget's refusal.
func isOverBudget(err error) bool { return errors.Is(err, governor.ErrBudgetExhausted) }
