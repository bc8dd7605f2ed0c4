// Package translate is the device API of devicebridge in pure Go: it parses a
// device batch envelope, builds the one Microsoft Graph v1.0 call it becomes
// (a direct call or a $batch), and translates Graph's answer back into device
// JSON, including the error mapping and the sealed sync state.
//
// It knows nothing of Caddy or of HTTP transport: the caller sends the Call
// and hands the answer to Plan.Respond.
package translate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	// DefaultStateTTL is the state lifetime used when Options.StateTTL is 0.
	DefaultStateTTL = 30 * 24 * time.Hour
	// MaxBatchCommands is Graph's $batch limit and the largest MaxCommands.
	MaxBatchCommands = 20
	// DefaultMaxCommands is used when Options.MaxCommands is 0.
	DefaultMaxCommands = MaxBatchCommands
	// StateKeySize is the length in bytes of a state key (AES-256).
	StateKeySize = 32
)

// Options configure a Translator.
type Options struct {
	// Upstream is the upstream base URL, e.g. "https://graph.microsoft.com/v1.0":
	// scheme (http or https), host[:port] and base path; no user info, query or fragment.
	Upstream string
	// StateKeys are 32-byte keys; the first seals, all open (rotation).
	// Empty: New generates one random key (see Translator.GeneratedKey).
	StateKeys [][]byte
	// StateTTL is how long a sealed state stays valid; 0 means DefaultStateTTL.
	StateTTL time.Duration
	// MaxCommands is the most commands one envelope may hold; 0 means 20, more than 20 is an error.
	MaxCommands int
	// ImmutableIDs sends Prefer: IdType="ImmutableId" on every upstream call.
	ImmutableIDs bool
	// Now returns the current time; nil means time.Now (tests inject a clock).
	Now func() time.Time
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
}

// New checks the options and returns a Translator.
func New(o Options) (*Translator, error) {
	t := &Translator{ttl: o.StateTTL, maxCommands: o.MaxCommands, immutableIDs: o.ImmutableIDs, now: o.Now}
	if t.now == nil {
		t.now = time.Now
	}
	t.nonce = func(b []byte) { _, _ = rand.Read(b) } // crypto/rand.Read never fails (Go 1.24+)
	switch {
	case t.ttl == 0:
		t.ttl = DefaultStateTTL
	case t.ttl < 0:
		return nil, errors.New("translate: StateTTL must not be negative")
	}
	switch {
	case t.maxCommands == 0:
		t.maxCommands = DefaultMaxCommands
	case t.maxCommands < 0 || t.maxCommands > MaxBatchCommands:
		return nil, fmt.Errorf("translate: MaxCommands must be 1..%d (Graph's $batch limit)", MaxBatchCommands)
	}
	if err := t.setUpstream(o.Upstream); err != nil {
		return nil, err
	}
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
		if len(k) != StateKeySize {
			return nil, fmt.Errorf("translate: state key %d is %d bytes, want %d", i, len(k), StateKeySize)
		}
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
	return t, nil
}

func (t *Translator) setUpstream(raw string) error {
	if raw == "" {
		return errors.New("translate: Upstream is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("translate: Upstream: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return errors.New("translate: Upstream scheme must be https or http")
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("translate: Upstream must be scheme://host[:port][/base/path] without user info, query or fragment")
	}
	base := strings.TrimRight(u.EscapedPath(), "/")
	for _, seg := range strings.Split(base, "/") {
		if seg == "." || seg == ".." {
			return errors.New("translate: Upstream base path must not contain dot segments")
		}
	}
	for i := 0; i < len(base); i++ {
		if c := base[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '\\' {
			return errors.New("translate: Upstream base path has an invalid character")
		}
	}
	t.scheme = scheme
	t.host = strings.ToLower(u.Host)
	t.basePath = base
	t.linkPrefix = scheme + "://" + t.host + base + "/"
	return nil
}

// GeneratedKey reports whether New generated the state key because none was
// configured: states then do not survive a restart or work across instances,
// and the caller should log a warning.
func (t *Translator) GeneratedKey() bool { return t.generatedKey }

// MaxCommands returns the effective command limit of one envelope.
func (t *Translator) MaxCommands() int { return t.maxCommands }

// BasePath returns the upstream base path ("/v1.0"), escaped, without trailing slash.
func (t *Translator) BasePath() string { return t.basePath }
