package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
)

// TestingT is the part of *testing.T the checking transport reports to.
type TestingT interface {
	Helper()
	Errorf(format string, args ...any)
}

// requestUncheckedKey marks a request whose own shape is deliberately
// outside the specification.
type requestUncheckedKey struct{}

// DeliberatelyInvalid returns a context for a request that breaks the
// specification on purpose (no token, a malformed envelope, an unknown op,
// a wrong method or media type): the checking transport then checks only
// the bridge's answer — against the operation when the specification has
// one, else as an error envelope.
func DeliberatelyInvalid(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestUncheckedKey{}, true)
}

func isDeliberatelyInvalid(ctx context.Context) bool {
	v, _ := ctx.Value(requestUncheckedKey{}).(bool)
	return v
}

// NewCheckingTransport wraps next so that every exchange with the device API
// (every request whose path starts with the specification's base path,
// /device/v1) is validated against the specification: the request (unless
// its context comes from DeliberatelyInvalid) and the response, headers,
// status and JSON body. Each violation is reported with t.Errorf; the
// exchange itself is passed on unchanged, bodies included. Requests to
// other paths (an emulator's control API, Graph itself) are not checked.
// next nil means http.DefaultTransport.
func NewCheckingTransport(t TestingT, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	c, err := shared()
	if err != nil {
		t.Helper()
		t.Errorf("api: the specification does not load: %v", err)
		return next
	}
	ct := &checkingTransport{t: t, next: next, checker: c}
	// A request still in flight when its test ends must not report into a
	// finished test (testing panics on that).
	if cl, ok := t.(interface{ Cleanup(func()) }); ok {
		cl.Cleanup(func() { ct.done.Store(true) })
	}
	return ct
}

type checkingTransport struct {
	done    atomic.Bool
	t       TestingT
	next    http.RoundTripper
	checker *Checker
}

// RoundTrip implements http.RoundTripper.
func (ct *checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.EscapedPath(), ct.checker.basePath+"/") {
		return ct.next.RoundTrip(r)
	}
	var body []byte
	// Only JSON bodies are checked, and only they are read ahead: a MIME
	// upload streams through as the caller sends it (a test that trickles
	// one must see it trickle).
	if r.Body != nil && r.Body != http.NoBody && isJSONMediaType(r.Header.Get("Content-Type")) {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		sent := r.Clone(r.Context())
		sent.Body = io.NopCloser(bytes.NewReader(body))
		sent.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r = sent
	}
	resp, err := ct.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	problems := ct.checker.CheckExchange(r, body, resp, !isDeliberatelyInvalid(r.Context()))
	for _, p := range problems {
		if ct.done.Load() {
			break
		}
		ct.t.Errorf("device API spec: %s %s → %d: %s", r.Method, r.URL.Path, resp.StatusCode, p)
	}
	return resp, nil
}

// CheckExchange validates one exchange with the device API: the request
// (when checkRequest is true; reqBody is its body, since r's may have been
// read) and the response. resp's body is read and restored. It returns one
// line per violation.
func (c *Checker) CheckExchange(r *http.Request, reqBody []byte, resp *http.Response, checkRequest bool) []string {
	vr := r.Clone(context.Background())
	vr.Body = io.NopCloser(bytes.NewReader(reqBody))
	// Only JSON bodies are schema-checked, so only they are buffered: a
	// download streams through untouched (its status, headers and media
	// type are checked).
	isJSON := isJSONMediaType(resp.Header.Get("Content-Type"))
	var respBody []byte
	if isJSON {
		var err error
		if respBody, err = readAndRestore(resp); err != nil {
			// A broken answer (a test that aborts the upstream or the
			// connection) is the test's to judge, not the spec's.
			return nil
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	pathItem, pathErrs, _ := paths.FindPath(vr, c.model, nil)
	if pathItem == nil || len(pathErrs) > 0 {
		if checkRequest {
			return describe(pathErrs)
		}
		// A path or method the specification does not have: the bridge
		// must still answer with a device error envelope.
		return c.checkBareError(resp, respBody)
	}
	var problems []string
	if checkRequest {
		if ok, errs := c.validator.ValidateHttpRequest(vr); !ok {
			problems = append(problems, prefixed("request: ", describe(errs))...)
		}
		vr.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	if ok, errs := c.validator.ValidateHttpResponse(vr, resp); !ok {
		problems = append(problems, prefixed("response: ", describe(errs))...)
	}
	if isJSON {
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
	}
	return problems
}

// checkBareError checks an answer to a request outside the specification's
// operations: an error status with a JSON error envelope.
func (c *Checker) checkBareError(resp *http.Response, body []byte) []string {
	var problems []string
	if resp.StatusCode < 400 {
		problems = append(problems, fmt.Sprintf("a request outside the specification was answered %d", resp.StatusCode))
	}
	if !isJSONMediaType(resp.Header.Get("Content-Type")) {
		problems = append(problems, fmt.Sprintf("error answer has Content-Type %q, want application/json", resp.Header.Get("Content-Type")))
		return problems
	}
	s := c.schema("ErrorEnvelope")
	if s == nil {
		return append(problems, "no ErrorEnvelope schema in the specification")
	}
	if ok, errs := c.schemas.ValidateSchemaBytes(s, body); !ok {
		problems = append(problems, prefixed("response: ", describe(errs))...)
	}
	return problems
}

// isJSONMediaType reports whether a Content-Type is application/json.
func isJSONMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// readAndRestore reads resp's body whole and puts an equivalent reader back.
func readAndRestore(resp *http.Response) ([]byte, error) {
	if resp.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// The caller reads what arrived and then the same error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errorReader{err}))
		return b, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// errorReader fails every read with err.
type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }

// describe turns validation errors into one line each, with the schema
// failures that explain them.
func describe(errs []*errors.ValidationError) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		if e == nil {
			continue
		}
		line := e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			if f == nil {
				continue
			}
			loc := f.FieldPath
			if loc == "" {
				loc = f.KeywordLocation
			}
			line += fmt.Sprintf(" [%s: %s]", loc, f.Reason)
		}
		out = append(out, line)
	}
	return out
}

func prefixed(prefix string, lines []string) []string {
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return lines
}
