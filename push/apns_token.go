package push

import (
	"crypto/ecdsa"
	"sync"
	"sync/atomic"
	"time"
)

// APNs provider-token timing. Apple refuses tokens older than an hour and
// answers 429 TooManyProviderTokenUpdates to tokens replaced more often
// than about every 20 minutes.
const (
	DefaultAPNsTokenRefresh = 40 * time.Minute
	MinAPNsTokenRefresh     = 20 * time.Minute
	MaxAPNsTokenRefresh     = 50 * time.Minute
	// apnsForcedRefreshAge is the youngest token a rejected-token answer
	// (403 ExpiredProviderToken, InvalidProviderToken) may replace.
	apnsForcedRefreshAge = 5 * time.Minute
	// apnsMintRetry is the wait after a failed signature.
	apnsMintRetry = time.Minute
)

// apnsToken is one signed provider token.
type apnsToken struct {
	bearer string // "bearer <jwt>"
	issued time.Time
}

// apnsTokens keeps the current provider token and replaces it in the
// background, so no send ever waits for a signature.
type apnsTokens struct {
	key       *ecdsa.PrivateKey
	keyID     string
	teamID    string
	refresh   time.Duration
	forcedAge time.Duration
	now       func() time.Time

	cur      atomic.Pointer[apnsToken]
	force    chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	started  atomic.Bool
}

func newAPNsTokens(key *ecdsa.PrivateKey, keyID, teamID string, refresh time.Duration) (*apnsTokens, error) {
	t := &apnsTokens{
		key: key, keyID: keyID, teamID: teamID,
		refresh: refresh, forcedAge: apnsForcedRefreshAge, now: time.Now,
		force: make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if err := t.mint(); err != nil {
		return nil, err
	}
	return t, nil
}

// bearer returns the Authorization value of the current token.
func (t *apnsTokens) bearer() string { return t.cur.Load().bearer }

// mint signs a new token: header alg ES256 and kid, claims iss (team id)
// and iat.
func (t *apnsTokens) mint() error {
	now := t.now()
	jwt, err := signES256(t.key,
		struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}{"ES256", t.keyID},
		struct {
			Iss string `json:"iss"`
			Iat int64  `json:"iat"`
		}{t.teamID, now.Unix()})
	if err != nil {
		return err
	}
	t.cur.Store(&apnsToken{bearer: "bearer " + jwt, issued: now})
	return nil
}

// invalidate asks the refresher for a new token soon (APNs rejected the
// current one). It never blocks.
func (t *apnsTokens) invalidate() {
	select {
	case t.force <- struct{}{}:
	default:
	}
}

// start runs the refresher until close.
func (t *apnsTokens) start() {
	t.started.Store(true)
	go t.loop()
}

// close stops the refresher; it may be called more than once.
func (t *apnsTokens) close() {
	t.stopOnce.Do(func() {
		close(t.stop)
		if t.started.Load() {
			<-t.done
		}
	})
}

func (t *apnsTokens) loop() {
	defer close(t.done)
	due := t.cur.Load().issued.Add(t.refresh)
	timer := time.NewTimer(due.Sub(t.now()))
	defer timer.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-t.force:
			// Replace the rejected token, but never one younger than
			// forcedAge: that earns TooManyProviderTokenUpdates.
			if soonest := t.cur.Load().issued.Add(t.forcedAge); soonest.Before(due) {
				due = soonest
				timer.Reset(due.Sub(t.now()))
			}
			continue
		case <-timer.C:
		}
		if err := t.mint(); err != nil {
			due = t.now().Add(apnsMintRetry)
		} else {
			due = t.cur.Load().issued.Add(t.refresh)
		}
		timer.Reset(due.Sub(t.now()))
	}
}
