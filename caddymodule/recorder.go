package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
)

// errResponseTooLarge stops reverse_proxy's body copy once the upstream
// answer exceeds max_response_body.
var errResponseTooLarge = errors.New("upstream response exceeds max_response_body")

// upstreamRecorder is the ResponseWriter handed to reverse_proxy for a
// translated request. It keeps the upstream status, headers and body to
// itself — nothing of Graph's answer reaches the device unless the
// translator puts it there — and buffers at most limit bytes of body.
type upstreamRecorder struct {
	header   http.Header
	status   int
	body     *bytes.Buffer
	limit    int64
	overflow bool
	// reserve, when set, is called before the body grows by n bytes; an
	// error (no buffer budget) stops the copy and sets overBudget.
	reserve    func(n int) error
	overBudget bool
}

func newUpstreamRecorder(body *bytes.Buffer, limit int64) *upstreamRecorder {
	return &upstreamRecorder{header: make(http.Header), body: body, limit: limit}
}

// Header returns the recorder's own header map (never the device's).
func (rec *upstreamRecorder) Header() http.Header { return rec.header }

// WriteHeader records the upstream status; 1xx informational answers are
// ignored, as only the final status matters to the translator.
func (rec *upstreamRecorder) WriteHeader(status int) {
	if rec.status != 0 || (status >= 100 && status < 200) {
		return
	}
	rec.status = status
}

// Write buffers body bytes up to the limit.
func (rec *upstreamRecorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if int64(rec.body.Len())+int64(len(p)) > rec.limit {
		rec.overflow = true
		return 0, errResponseTooLarge
	}
	if rec.reserve != nil {
		if err := rec.reserve(len(p)); err != nil {
			rec.overBudget = true
			return 0, err
		}
	}
	return rec.body.Write(p)
}

// Flush is a no-op: nothing is sent to the device before translation.
func (rec *upstreamRecorder) Flush() {}

// Interface guards
var (
	_ http.ResponseWriter = (*upstreamRecorder)(nil)
	_ http.Flusher        = (*upstreamRecorder)(nil)
)
