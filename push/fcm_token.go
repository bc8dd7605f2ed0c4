package push

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// FCM access-token timing.
const (
	fcmTokenFetchTimeout = 30 * time.Second
	fcmRefreshAhead      = 10 * time.Minute // replace a token this long before it expires
	fcmNoExpiryRefresh   = 30 * time.Minute // for a token without an expiry
	fcmRetryMin          = time.Second
	fcmRetryMax          = time.Minute
	fcmForcedRefreshGap  = 30 * time.Second // at most one forced fetch per gap
)

// fcmToken is one access token.
type fcmToken struct {
	bearer string    // "Bearer <token>"
	expiry time.Time // zero when the token server named none
}

// fcmTokens keeps an OAuth2 access token for the service account and
// replaces it in the background; a send only ever reads the current one.
type fcmTokens struct {
	conf    *jwt.Config
	client  *http.Client // toward the credentials' token_uri
	onError func(error)
	now     func() time.Time

	cur       atomic.Pointer[fcmToken]
	ready     chan struct{} // closed once the first token is in
	readyOnce sync.Once
	force     chan struct{}
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	life      context.Context // ends at close, cutting a fetch short
	end       context.CancelFunc
}

func newFCMTokens(conf *jwt.Config, client *http.Client, onError func(error)) *fcmTokens {
	life, end := context.WithCancel(context.Background())
	return &fcmTokens{
		life: life, end: end,
		conf: conf, client: client, onError: onError, now: time.Now,
		ready: make(chan struct{}),
		force: make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// bearer returns the current token's Authorization value, or "" when there
// is no token or it has expired.
func (t *fcmTokens) bearer() string {
	tok := t.cur.Load()
	if tok == nil || !tok.expiry.IsZero() && !t.now().Before(tok.expiry) {
		return ""
	}
	return tok.bearer
}

// invalidate asks for a new token (FCM refused the current one). It never
// blocks.
func (t *fcmTokens) invalidate() {
	select {
	case t.force <- struct{}{}:
	default:
	}
}

func (t *fcmTokens) start() { go t.loop() }

func (t *fcmTokens) close() {
	t.stopOnce.Do(func() {
		t.end()
		close(t.stop)
		<-t.done
	})
}

// fetch asks the token server for a new token.
func (t *fcmTokens) fetch() (*fcmToken, error) {
	ctx, cancel := context.WithTimeout(t.life, fcmTokenFetchTimeout)
	defer cancel()
	// The source caches nothing across calls: a new one per fetch.
	tok, err := t.conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, t.client)).Token()
	if err != nil {
		return nil, err
	}
	return &fcmToken{bearer: "Bearer " + tok.AccessToken, expiry: tok.Expiry}, nil
}

// next returns when a token fetched now should be replaced.
func (t *fcmTokens) next(tok *fcmToken) time.Duration {
	if tok.expiry.IsZero() {
		return fcmNoExpiryRefresh
	}
	life := tok.expiry.Sub(t.now())
	return life - min(fcmRefreshAhead, life/2)
}

func (t *fcmTokens) loop() {
	defer close(t.done)
	retry := fcmRetryMin
	var lastForced time.Time
	for {
		var wait time.Duration
		tok, err := t.fetch()
		if err != nil {
			if t.onError != nil && t.life.Err() == nil {
				t.onError(fmt.Errorf("fcm: fetching an access token: %w", err))
			}
			wait = retry
			retry = min(2*retry, fcmRetryMax)
		} else {
			retry = fcmRetryMin
			t.cur.Store(tok)
			t.readyOnce.Do(func() { close(t.ready) })
			wait = t.next(tok)
		}
		timer := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-t.stop:
				timer.Stop()
				return
			case <-timer.C:
				break waiting
			case <-t.force:
				if t.now().Sub(lastForced) >= fcmForcedRefreshGap {
					lastForced = t.now()
					timer.Stop()
					break waiting
				}
			}
		}
	}
}
