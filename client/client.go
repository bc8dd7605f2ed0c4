package deviceclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxAttempts   = 4
	DefaultMaxRetryWait  = 2 * time.Minute
	DefaultResponseLimit = 64 << 20
)

// Options configure a Client.
type Options struct {
	// Token is the bearer token sent with every request. Either Token or
	// TokenSource is required.
	Token string
	// TokenSource, when set, is asked for the token before every request
	// (so a refreshed token is picked up); it takes precedence over Token.
	TokenSource func(ctx context.Context) (string, error)
	// HTTPClient sends the requests. Default: a client with Go's default
	// transport and no overall timeout (contexts bound each call).
	// It must not follow redirects to other hosts with the token; the
	// bridge never redirects.
	HTTPClient *http.Client
	// MaxAttempts is how many times a request refused as throttled as a
	// whole is sent before its error is returned. Default: 4.
	MaxAttempts int
	// MaxRetryWait is the longest Retry-After the client waits out by
	// itself; a longer one is returned as the error. Default: 2 minutes.
	MaxRetryWait time.Duration
	// ResponseLimit bounds a batch answer's size in bytes. Default: 64 MiB.
	ResponseLimit int64
	// Sleep waits d or until ctx ends; tests replace it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one bridge endpoint with one identity.
type Client struct {
	base          string // the prefix URL, no trailing slash
	token         func(ctx context.Context) (string, error)
	http          *http.Client
	maxAttempts   int
	maxRetryWait  time.Duration
	responseLimit int64
	sleep         func(ctx context.Context, d time.Duration) error
}

// New returns a client of the device API served at baseURL, the bridge's
// prefix URL, e.g. https://bridge.example.com/device/v1.
func New(baseURL string, o Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("deviceclient: base URL: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("deviceclient: base URL must be https://host[:port]/prefix")
	}
	c := &Client{
		base:          strings.TrimRight(u.String(), "/"),
		http:          o.HTTPClient,
		maxAttempts:   o.MaxAttempts,
		maxRetryWait:  o.MaxRetryWait,
		responseLimit: o.ResponseLimit,
		sleep:         o.Sleep,
	}
	switch {
	case o.TokenSource != nil:
		c.token = o.TokenSource
	case o.Token != "":
		token := o.Token
		c.token = func(context.Context) (string, error) { return token, nil }
	default:
		return nil, errors.New("deviceclient: a Token or TokenSource is required")
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.maxRetryWait <= 0 {
		c.maxRetryWait = DefaultMaxRetryWait
	}
	if c.responseLimit <= 0 {
		c.responseLimit = DefaultResponseLimit
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	return c, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do sends the batch as one request and fills in every command's result.
// It returns an error when the request as a whole failed (an *Error for the
// bridge's envelope-level answers); each command's own failure is returned
// by its Pending's Result.
func (c *Client) Do(ctx context.Context, b *Batch) error {
	if len(b.commands) == 0 {
		return errors.New("deviceclient: empty batch")
	}
	body, err := json.Marshal(struct {
		Commands []command `json:"commands"`
	}{b.commands})
	if err != nil {
		return fmt.Errorf("deviceclient: encoding the batch: %v", err)
	}
	var results []json.RawMessage
	err = c.withRetries(ctx, func() error {
		var rerr error
		results, rerr = c.postBatch(ctx, body)
		return rerr
	})
	if err != nil {
		return err
	}
	return b.deliver(results)
}

// withRetries runs send again while it fails as throttled as a whole, after
// the Retry-After it was given plus jitter.
func (c *Client) withRetries(ctx context.Context, send func() error) error {
	for attempt := 1; ; attempt++ {
		err := send()
		wait, retry := c.retryDelay(err, attempt)
		if !retry {
			return err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return serr
		}
	}
}

// retryDelay says whether err is worth another attempt, and after how long:
// Retry-After (5 s when absent) plus up to 20% jitter, so devices throttled
// together do not come back together.
func (c *Client) retryDelay(err error, attempt int) (time.Duration, bool) {
	var e *Error
	if attempt >= c.maxAttempts || !errors.As(err, &e) || e.Code != CodeThrottled {
		return 0, false
	}
	secs := e.RetryAfter
	if secs <= 0 {
		secs = 5
	}
	wait := time.Duration(secs) * time.Second
	if wait > c.maxRetryWait {
		return 0, false
	}
	return wait + time.Duration(rand.Int64N(int64(wait)/5+1)), true
}

func (c *Client) postBatch(ctx context.Context, body []byte) ([]json.RawMessage, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, c.responseLimit+1))
	if err != nil {
		return nil, fmt.Errorf("deviceclient: reading the answer: %v", err)
	}
	if int64(len(answer)) > c.responseLimit {
		return nil, errors.New("deviceclient: the answer exceeds ResponseLimit")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, envelopeError(resp, answer)
	}
	var wire struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(answer, &wire); err != nil {
		return nil, fmt.Errorf("deviceclient: malformed answer: %v", err)
	}
	return wire.Results, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("deviceclient: token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// envelopeError reads a non-200 answer's {"error":{…}}; an answer without
// one (a proxy's page, say) becomes an error with the status alone.
func envelopeError(resp *http.Response, body []byte) error {
	var wire struct {
		Error *Error `json:"error"`
	}
	e := &Error{}
	if json.Unmarshal(body, &wire) == nil && wire.Error != nil {
		e = wire.Error
	} else {
		e.Code, e.Message = CodeUpstreamError, "the answer carries no device API error object"
	}
	e.Status = resp.StatusCode
	if e.RetryAfter == 0 {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = secs
		}
	}
	return e
}
