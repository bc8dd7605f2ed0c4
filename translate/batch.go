package translate

import "strconv"

// This file builds the one upstream call of a plan: a direct call for one
// command that needs upstream, a POST {base}/$batch for 2–20.

// Call is the one upstream HTTP request for a plan.
type Call struct {
	Method string
	// Path is the escaped absolute path on the upstream host, base path
	// included, e.g. "/v1.0/me/mailFolders/inbox/messages/delta". For a sync
	// continuation it is Graph's own link path, verbatim.
	Path string
	// RawQuery is the escaped query without '?', e.g.
	// "$select=id,subject&$filter=receivedDateTime%20ge%202026-01-01T00:00:00Z".
	RawQuery string
	// Prefer holds the values for Prefer headers, one header per value,
	// e.g. `odata.maxpagesize=50`, `IdType="ImmutableId"`.
	Prefer []string
	// ContentType is the request body's media type; "" when Body is nil.
	ContentType string
	// Body is the request body (the $batch envelope), nil for a GET.
	Body []byte
	// IfNoneMatch is the value for an If-None-Match header; "" for none
	// (files.list's etag: Graph answers 304 when the folder is unchanged).
	IfNoneMatch string
}

// Prefer values.
const (
	preferImmutableID = `IdType="ImmutableId"`
	batchContentType  = "application/json"
)

// maxPageSizePrefer holds "odata.maxpagesize=N" for N = 0..200 (index 0 unused).
var maxPageSizePrefer = func() (t [maxWindow + 1]string) {
	for i := 1; i <= maxWindow; i++ {
		t[i] = "odata.maxpagesize=" + strconv.Itoa(i)
	}
	return t
}()

// preferFor appends the Prefer values of command c to dst.
func (t *Translator) preferFor(dst []string, c *command, spec *opSpec) []string {
	if spec.flags&opDelta != 0 && spec.flags&opTopWindow == 0 && c.window >= 1 && c.window <= maxWindow {
		dst = append(dst, maxPageSizePrefer[c.window])
	}
	if spec.flags&opBodyType != 0 {
		if bp := bodyPreference(c); bp != "" {
			dst = append(dst, bp)
		}
	}
	if spec.flags&opUTC != 0 {
		dst = append(dst, preferUTC)
	}
	if t.immutableIDs {
		dst = append(dst, preferImmutableID)
	}
	return dst
}

// buildCall sets p.Upstream from the commands that passed validation: a
// direct call when they need one upstream request, else a $batch.
func (p *Plan) buildCall() {
	t := p.t
	switch {
	case p.sent == 0:
		p.Upstream = nil
		return
	case p.upstreamItems == 1:
		for i := 0; i < p.n; i++ {
			c := &p.cmds[i]
			if c.err != nil {
				continue
			}
			spec := c.op.spec()
			p.call = Call{Method: c.upstreamMethod(spec), Path: t.basePath + c.url[:c.pathLen]}
			if c.payload != nil {
				p.call.ContentType, p.call.Body = batchContentType, c.payload
			}
			if c.pathLen < len(c.url) {
				p.call.RawQuery = c.url[c.pathLen+1:]
			}
			p.call.Prefer = t.preferFor(p.prefer[:0], c, spec)
			p.call.IfNoneMatch = c.ifNoneMatch
			break
		}
		p.Upstream = &p.call
		return
	}
	buf := getBuf()
	b := append((*buf)[:0], `{"requests":[`...)
	first := true
	for i := 0; i < p.n; i++ {
		c := &p.cmds[i]
		if c.err != nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		spec := c.op.spec()
		b = t.appendBatchItem(b, i, -1, c, spec, c.url)
		for j, u := range c.more {
			b = append(b, ',')
			b = t.appendBatchItem(b, i, j, c, spec, u)
		}
	}
	b = append(b, "]}"...)
	*buf = b
	p.body = buf
	p.call = Call{Method: "POST", Path: t.basePath + "/$batch", ContentType: batchContentType, Body: b}
	if t.immutableIDs {
		p.prefer[0] = preferImmutableID
		p.call.Prefer = p.prefer[:1]
	}
	p.Upstream = &p.call
}

// appendBatchItem appends one $batch request of command c (index i in the
// envelope) for url. The item id is the command's index, "i"; the requests
// of a command that fans out are "i", then "i.0", "i.1", … for c.more[j]
// (j ≥ 0; j = -1 is the first request).
func (t *Translator) appendBatchItem(b []byte, i, j int, c *command, spec *opSpec, url string) []byte {
	b = append(b, `{"id":"`...)
	b = strconv.AppendInt(b, int64(i), 10)
	if j >= 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(j), 10)
	}
	b = append(b, `","method":"`...)
	b = append(b, c.upstreamMethod(spec)...)
	b = append(b, `","url":`...)
	b = appendJSONString(b, url)
	var prefer [4]string
	pv := t.preferFor(prefer[:0], c, spec)
	if len(pv) > 0 || c.payload != nil || c.ifNoneMatch != "" {
		b = append(b, `,"headers":{`...)
		sep := false
		if len(pv) > 0 {
			b = append(b, `"Prefer":"`...)
			for k, v := range pv {
				if k > 0 {
					b = append(b, ", "...)
				}
				b = appendJSONEscaped(b, v)
			}
			b = append(b, '"')
			sep = true
		}
		if c.payload != nil {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"Content-Type":"application/json"`...)
			sep = true
		}
		if c.ifNoneMatch != "" {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"If-None-Match":`...)
			b = appendJSONString(b, c.ifNoneMatch)
		}
		b = append(b, '}')
	}
	if c.payload != nil {
		b = append(b, `,"body":`...)
		b = append(b, c.payload...) // valid JSON built by the translator
	}
	return append(b, '}')
}

// upstreamMethod is the command's upstream method: the row's, unless the
// command names its own (a push renewal PATCHes what push.subscribe POSTs).
func (c *command) upstreamMethod(spec *opSpec) string {
	if c.method != "" {
		return c.method
	}
	return spec.method
}
