package translate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

const (
	// DefaultStateTTL is the state lifetime used when Options.StateTTL is 0.
	DefaultStateTTL = 30 * 24 * time.Hour
	// MaxBatchCommands is Graph's $batch limit and the largest MaxCommands.
	MaxBatchCommands = 20
	// MaxBatchItems is how many upstream requests one device envelope may
	// need, Graph's $batch limit: commands that fan out (push.unsubscribe
	// with several ids) count each of their requests.
	MaxBatchItems = 20
	// DefaultMaxCommands is used when Options.MaxCommands is 0.
	DefaultMaxCommands = MaxBatchCommands
	// StateKeySize is the length in bytes of a state key (AES-256).
	StateKeySize = 32
)

// Options configure a Translator.
type Options struct {
	// Upstream is the upstream base URL, e.g. "https://graph.microsoft.com/v1.0";
	// required. ParseUpstream states its rules.
	Upstream string
	// StateKeys are StateKeySize-byte keys; the first seals, all open (rotation).
	// Empty: New generates one random key (see Translator.GeneratedKey).
	StateKeys [][]byte
	// StateTTL is how long a sealed state stays valid; 0 means
	// DefaultStateTTL, a negative value is an error.
	StateTTL time.Duration
	// MaxCommands is the most commands one envelope may hold, 1 to
	// MaxBatchCommands; 0 means DefaultMaxCommands.
	MaxCommands int
	// ImmutableIDs sends Prefer: IdType="ImmutableId" on every upstream call.
	ImmutableIDs bool
	// Now returns the current time; nil means time.Now (tests inject a clock).
	Now func() time.Time
	// Push configures the push commands (push.subscribe, push.list,
	// push.unsubscribe, and mail.get's ref); nil means push is not
	// configured and those commands answer invalid_args.
	Push *PushOptions
}

// Translator turns device envelopes into upstream calls and upstream answers
// into device responses. It is immutable after New and safe for concurrent use.
type Translator struct {
	scheme       string // lower case
	host         string // lower case host[:port]
	basePath     string // escaped, no trailing slash, "" for the root
	linkPrefix   string // scheme://host + basePath + "/", for link checks
	sealers      []cipher.AEAD
	generatedKey bool
	ttl          time.Duration
	maxCommands  int
	immutableIDs bool
	now          func() time.Time
	nonce        func([]byte) // fills a nonce; crypto/rand unless a test replaces it
	push         *pushConfig  // nil: push is not configured
}

// Validate checks the options as New does, without building a Translator:
// a configuration can be checked where it is read.
func (o Options) Validate() error {
	_, err := o.check()
	return err
}

// check validates o and returns its parsed upstream. It holds every rule
// of the options.
func (o Options) check() (Upstream, error) {
	if o.StateTTL < 0 {
		return Upstream{}, errors.New("translate: StateTTL must not be negative")
	}
	if o.MaxCommands < 0 || o.MaxCommands > MaxBatchCommands {
		return Upstream{}, fmt.Errorf("translate: MaxCommands must be 1..%d (Graph's $batch limit)", MaxBatchCommands)
	}
	u, err := ParseUpstream(o.Upstream)
	if err != nil {
		return Upstream{}, err
	}
	for i, k := range o.StateKeys {
		if len(k) != StateKeySize {
			return Upstream{}, fmt.Errorf("translate: state key %d is %d bytes, want %d", i, len(k), StateKeySize)
		}
	}
	if o.Push != nil {
		stateTTL := o.StateTTL
		if stateTTL == 0 {
			stateTTL = DefaultStateTTL
		}
		if _, err := o.Push.check(stateTTL); err != nil {
			return Upstream{}, err
		}
	}
	return u, nil
}

// New checks the options (see Validate) and returns a Translator.
func New(o Options) (*Translator, error) {
	u, err := o.check()
	if err != nil {
		return nil, err
	}
	t := &Translator{ttl: o.StateTTL, maxCommands: o.MaxCommands, immutableIDs: o.ImmutableIDs, now: o.Now}
	if t.now == nil {
		t.now = time.Now
	}
	t.nonce = func(b []byte) { _, _ = rand.Read(b) } // crypto/rand.Read never fails (Go 1.24+)
	if t.ttl == 0 {
		t.ttl = DefaultStateTTL
	}
	if t.maxCommands == 0 {
		t.maxCommands = DefaultMaxCommands
	}
	t.scheme, t.host, t.basePath = u.Scheme, u.Host, u.BasePath
	t.linkPrefix = u.String() + "/"
	keys := o.StateKeys
	if len(keys) == 0 {
		k := make([]byte, StateKeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("translate: generating a state key: %w", err)
		}
		keys = [][]byte{k}
		t.generatedKey = true
	}
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("translate: state key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("translate: state key %d: %w", i, err)
		}
		t.sealers = append(t.sealers, aead)
	}
	if o.Push != nil {
		if t.push, err = o.Push.build(keys, t.ttl); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// GeneratedKey reports whether New generated the state key because none was
// configured: states then do not survive a restart or work across instances,
// and the caller should log a warning.
func (t *Translator) GeneratedKey() bool { return t.generatedKey }

// MaxCommands returns the effective command limit of one envelope.
func (t *Translator) MaxCommands() int { return t.maxCommands }

// BasePath returns the upstream base path ("/v1.0"), escaped, without trailing slash.
func (t *Translator) BasePath() string { return t.basePath }
