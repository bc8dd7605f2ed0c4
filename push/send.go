package push

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Sender is what every push sender offers the webhook.
type Sender interface {
	// Send delivers one push within ctx's deadline (or the sender's
	// SendTimeout when ctx has none). It never blocks on a token refresh.
	Send(ctx context.Context, t *Target, m *Message) Result
	// Breaker returns the circuit breaker Send would consult for t; its
	// Open tells the webhook to answer 503 at once. It may be nil (never
	// open).
	Breaker(t *Target) *Breaker
	// Close stops background refreshing and drops idle connections.
	Close() error
}

// sendCore is what the senders share: the provider's name, its client, the
// bound on concurrency and the default timeout.
type sendCore struct {
	provider string
	client   *http.Client
	inflight *Inflight
	timeout  time.Duration
}

func newSendCore(provider string, client *http.Client, inflight *Inflight, timeout time.Duration) sendCore {
	if inflight == nil {
		inflight = NewInflight(0)
	}
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	return sendCore{provider: provider, client: client, inflight: inflight, timeout: timeout}
}

// run bounds one send: the breaker, the deadline, a send slot; then it does
// the send and tells the breaker how the provider fared.
func (c *sendCore) run(ctx context.Context, b *Breaker, send func(ctx context.Context) Result) Result {
	if b.Open() {
		return Result{Outcome: Unavailable, Err: ErrCircuitOpen}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if err := c.inflight.Acquire(ctx); err != nil {
		return failed(c.provider, Dropped, err)
	}
	defer c.inflight.Release()
	t := b.allow()
	if t == ticketDenied {
		return Result{Outcome: Unavailable, Err: ErrCircuitOpen}
	}
	r := send(ctx)
	switch r.Outcome {
	case ProviderFailure:
		b.failure(t, r.trip)
	case Dropped:
		b.abandon(t)
	default:
		b.success(t)
	}
	return r
}

// post sends one request and turns a transport failure into a result: the
// caller giving up is Dropped, anything else (a timeout included) is a
// provider failure.
func (c *sendCore) post(ctx context.Context, req *http.Request) (answer, *Result) {
	a, err := roundTrip(c.client, req.WithContext(ctx))
	if err == nil {
		return a, nil
	}
	o := ProviderFailure
	if errors.Is(err, context.Canceled) {
		o = Dropped
	}
	r := failed(c.provider, o, err)
	return a, &r
}
