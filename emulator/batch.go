package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// maxBatchRequests is Graph's limit of requests per $batch.
const maxBatchRequests = 20

// batchItemRequest is one request of a $batch envelope.
type batchItemRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// batchItemResult is one answer of a $batch.
type batchItemResult struct {
	status  int
	headers http.Header
	body    []byte
}

func (c *call) itemError(e *graphError, requestID string) batchItemResult {
	rec := newRecorder()
	writeError(rec, e, requestID, requestID, c.now)
	return batchItemResult{status: e.status, headers: rec.header, body: rec.body.Bytes()}
}

// serveBatch serves POST /$batch: items run through the same routing as
// direct requests, at most BatchItemConcurrency at a time, dependsOn
// respected (a failed prerequisite gives its dependents 424), and the
// answers come back in a deterministic order different from the request's.
func (c *call) serveBatch() {
	if c.r.Method != http.MethodPost {
		c.fail(errMethodNotAllowed())
		return
	}
	if !c.authenticate() {
		return
	}
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		c.fail(errBadRequest("Invalid or missing Content-Type header; a JSON batch requires application/json."))
		return
	}
	body, gerr := c.readBody()
	if gerr != nil {
		c.fail(gerr)
		return
	}
	var env struct {
		Requests []batchItemRequest `json:"requests"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		c.fail(errBadRequest("Invalid batch payload format."))
		return
	}
	items := env.Requests
	switch {
	case len(items) == 0:
		c.fail(errBadRequest("Invalid batch payload format: no requests."))
		return
	case len(items) > maxBatchRequests:
		c.fail(errBadRequest("Number of requests exceeds the limit of 20."))
		return
	}
	index := make(map[string]int, len(items))
	for i, it := range items {
		if it.ID == "" || it.Method == "" || it.URL == "" {
			c.fail(errBadRequest("Each batch request requires an id, a method and a url."))
			return
		}
		key := strings.ToLower(it.ID)
		if _, dup := index[key]; dup {
			c.fail(errBadRequest("Batch request contains duplicate ids: '" + it.ID + "'."))
			return
		}
		index[key] = i
	}
	deps := make([][]int, len(items))
	for i, it := range items {
		for _, d := range it.DependsOn {
			j, ok := index[strings.ToLower(d)]
			if !ok {
				c.fail(errBadRequest("Request '" + it.ID + "' depends on unknown request id '" + d + "'."))
				return
			}
			deps[i] = append(deps[i], j)
		}
	}
	if hasCycle(deps) {
		c.fail(errBadRequest("The dependsOn relations of the batch contain a cycle."))
		return
	}

	results := make([]batchItemResult, len(items))
	done := make([]chan struct{}, len(items))
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, c.s.opts.BatchItemConcurrency)
	var wg sync.WaitGroup
	for i := range items {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer close(done[i])
			for _, d := range deps[i] {
				<-done[d]
				if results[d].status >= 400 {
					results[i] = c.itemError(newError(http.StatusFailedDependency, "BadRequest", "Failed dependency: request '"+items[d].ID+"' failed."), newUUID())
					return
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = c.runBatchItem(&items[i])
		}(i)
	}
	wg.Wait()

	status := http.StatusOK
	if c.s.opts.Quirks.BatchThrottle == BatchThrottleEnvelope424 {
		retry, throttled := "", false
		for _, r := range results {
			if r.status == http.StatusTooManyRequests {
				throttled = true
				retry = maxRetryAfter(retry, r.headers.Get("Retry-After"))
			}
		}
		if throttled {
			status = http.StatusFailedDependency
			if retry != "" {
				c.w.Header().Set("Retry-After", retry)
			}
		}
	}
	var b jsonBuf
	b.raw(`{"responses":[`)
	for k, i := range batchAnswerOrder(items) {
		if k > 0 {
			b.byte1(',')
		}
		writeBatchResult(&b, items[i].ID, results[i])
	}
	b.raw(`]}`)
	c.reply(status, b.b)
}

func maxRetryAfter(a, b string) string {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	switch {
	case errB != nil:
		return a
	case errA != nil || fb > fa:
		return b
	}
	return a
}

// hasCycle reports whether the dependsOn graph has a cycle.
func hasCycle(deps [][]int) bool {
	state := make([]uint8, len(deps)) // 0 new, 1 visiting, 2 done
	var visit func(int) bool
	visit = func(i int) bool {
		switch state[i] {
		case 1:
			return true
		case 2:
			return false
		}
		state[i] = 1
		for _, d := range deps[i] {
			if visit(d) {
				return true
			}
		}
		state[i] = 2
		return false
	}
	for i := range deps {
		if visit(i) {
			return true
		}
	}
	return false
}

// batchAnswerOrder is a deterministic shuffle of the items (by a hash of
// their ids), never the request order when there are two or more.
func batchAnswerOrder(items []batchItemRequest) []int {
	order := make([]int, len(items))
	keys := make([]uint64, len(items))
	for i, it := range items {
		order[i] = i
		h := fnv.New64a()
		h.Write([]byte(it.ID))
		keys[i] = h.Sum64()
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	identity := true
	for i, v := range order {
		if i != v {
			identity = false
			break
		}
	}
	if identity {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	return order
}

// runBatchItem executes one item through the Graph routing.
func (c *call) runBatchItem(it *batchItemRequest) batchItemResult {
	reqID := newUUID()
	if strings.Contains(it.URL, "://") || strings.HasPrefix(strings.ToLower(it.URL), "http:") || strings.HasPrefix(strings.ToLower(it.URL), "https:") {
		return c.itemError(errBadRequest("Invalid request URL '"+it.URL+"': batch request URLs must be relative to the version root."), reqID)
	}
	method := strings.ToUpper(it.Method)
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return c.itemError(errBadRequest("Invalid method '"+it.Method+"'."), reqID)
	}
	var body []byte
	contentType := ""
	for k, v := range it.Headers {
		if strings.EqualFold(k, "Content-Type") {
			contentType = v
		}
	}
	if len(it.Body) > 0 && !bytes.Equal(bytes.TrimSpace(it.Body), []byte("null")) {
		if contentType == "" {
			return c.itemError(errBadRequest("Content-Type header must be specified when a body is present."), reqID)
		}
		body = it.Body
		if mt, _, _ := mime.ParseMediaType(contentType); !strings.HasSuffix(mt, "json") {
			var s string
			if json.Unmarshal(it.Body, &s) == nil {
				if strings.HasPrefix(mt, "text/") {
					body = []byte(s)
				} else if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					body = dec
				} else if dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
					body = dec
				} else {
					return c.itemError(errBadRequest("The body of a non-JSON request must be base64 encoded."), reqID)
				}
			}
		}
	}
	target := c.s.opts.BasePath + "/" + strings.TrimPrefix(it.URL, "/")
	var rdr io.Reader = http.NoBody
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	sub, err := http.NewRequestWithContext(c.r.Context(), method, target, rdr)
	if err != nil {
		return c.itemError(errBadRequest("Invalid request URL '"+it.URL+"'."), reqID)
	}
	for k, v := range it.Headers {
		if strings.EqualFold(k, "Authorization") {
			continue
		}
		sub.Header.Add(k, v)
	}
	sub.Header.Set("Authorization", c.r.Header.Get("Authorization"))
	sub.Host = c.r.Host
	sub.TLS = c.r.TLS
	sub.RemoteAddr = c.r.RemoteAddr
	rec := newRecorder()
	c.s.serveGraph(rec, sub, true)
	return batchItemResult{status: rec.statusCode(), headers: rec.header, body: rec.body.Bytes()}
}

// writeBatchResult writes one item of the responses array.
func writeBatchResult(b *jsonBuf, id string, r batchItemResult) {
	b.raw(`{"id":`)
	b.str(id)
	b.raw(`,"status":`)
	b.int(r.status)
	b.raw(`,"headers":{`)
	keys := make([]string, 0, len(r.headers))
	for k := range r.headers {
		switch strings.ToLower(k) {
		case "request-id", "client-request-id", "content-length", "date":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.byte1(',')
		}
		b.str(k)
		b.byte1(':')
		b.str(strings.Join(r.headers[k], ", "))
	}
	b.byte1('}')
	if len(r.body) > 0 {
		b.raw(`,"body":`)
		ct := r.headers.Get("Content-Type")
		switch {
		case strings.Contains(ct, "json") && json.Valid(r.body):
			b.rawBytes(r.body)
		case strings.HasPrefix(ct, "text/"):
			b.str(string(r.body))
		default:
			b.str(base64.StdEncoding.EncodeToString(r.body))
		}
	}
	b.byte1('}')
}
