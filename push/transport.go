package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Transport tuning shared by every sender.
const (
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	idleConnTimeout     = 4 * time.Minute // keep provider connections warm between bursts
	maxIdleConnsPerHost = 16
	maxIdleConns        = 256
	http2ReadIdle       = 30 * time.Second // ping a silent HTTP/2 connection
	http2PingTimeout    = 10 * time.Second // and drop it when the ping is not answered
	maxResponseBody     = 64 << 10         // push services answer with small bodies
)

// DefaultSendTimeout bounds a send whose context has no deadline.
const DefaultSendTimeout = 1500 * time.Millisecond

// dialFunc is a transport's DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newHTTPClient returns the client of one provider: HTTP/2 where the server
// offers it, connections kept and reused, no proxy from the environment, no
// redirects followed. roots nil means the system roots. dial nil means a
// plain net.Dialer.
func newHTTPClient(roots *x509.CertPool, dial dialFunc) *http.Client {
	if dial == nil {
		dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         dial,
		ForceAttemptHTTP2:   true,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: tlsHandshakeTimeout,
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConnsPerHost,
		IdleConnTimeout:     idleConnTimeout,
		DisableCompression:  true,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: http2ReadIdle,
			PingTimeout:     http2PingTimeout,
		},
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// answer is what a push service said.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// roundTrip sends req and reads at most maxResponseBody of the answer, then
// drains and closes the body so the connection is reused. Its error never
// holds the request URL (which holds the target).
func roundTrip(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, transportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return answer{}, transportError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError strips the URL from a client error: *url.Error quotes the
// whole request URL, which holds the device token or the web push endpoint.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return err
}
