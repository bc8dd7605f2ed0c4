package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file is the emulated download host: the SharePoint (business) or
// files.1drv.com (personal) server that @microsoft.graph.downloadUrl and
// the 302 of /content point at (FILES_FACTS 5). Its URLs are
// pre-authenticated by a signed, expiring token in the URL itself, so the
// host needs no state: a second emulator instance sharing the key (by
// default every instance in one process shares one) serves them as a
// different host. As SharePoint does, it answers 401 to a request that
// carries an Authorization header, 401 to an expired or altered URL
// (including reordered query parameters), supports a single Range, and
// streams content with a fixed buffer.
//
// URL forms:
//
//	business  {origin}{prefix}/personal/{user}/_layouts/15/download.aspx?UniqueId={guid}&Translate=false&tempauth={token}&ApiVersion=2.0
//	personal  {origin}{prefix}/y4m{token}/{name}?download&psid=1
//
// The token's signature covers the whole path and query as sent, with the
// token itself left out.

// Defaults of the download host.
const (
	// DefaultDownloadPrefix is the path prefix of the download host.
	DefaultDownloadPrefix = "/_download"
	// DefaultDownloadURLLifetime is how long a download URL works
	// (resources/driveitem.md says one hour; driveitem-get-content.md "a
	// few minutes").
	DefaultDownloadURLLifetime = time.Hour
)

// processDownloadKey signs download URLs when no key is configured, so
// every emulator instance in one process accepts the others' URLs.
var processDownloadKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

const tokenPlaceholder = "{tempauth}"

// downloadTicket is what a download URL grants: one file's content.
type downloadTicket struct {
	business bool
	issued   time.Time
	expires  time.Time
	size     int64
	seed     uint64
	literal  []byte
	ctype    string
	etag     string
	name     string
	modified time.Time
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (t *downloadTicket) encode() string {
	b := make([]byte, 0, 96+len(t.literal)+len(t.name))
	b = append(b, 1)
	if t.business {
		b = append(b, 'b')
	} else {
		b = append(b, 'p')
	}
	b = binary.AppendVarint(b, t.issued.UnixNano())
	b = binary.AppendVarint(b, t.expires.Unix())
	b = binary.AppendVarint(b, t.modified.Unix())
	b = binary.AppendVarint(b, t.size)
	b = binary.AppendUvarint(b, t.seed)
	b = appendString(b, string(t.literal))
	b = appendString(b, t.ctype)
	b = appendString(b, t.etag)
	b = appendString(b, t.name)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadTicket = errors.New("malformed download ticket")

func decodeTicket(s string) (*downloadTicket, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 1 {
		return nil, errBadTicket
	}
	t := &downloadTicket{business: b[1] == 'b'}
	b = b[2:]
	varint := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			err = errBadTicket
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			err = errBadTicket
			return ""
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s
	}
	t.issued = time.Unix(0, varint())
	t.expires = time.Unix(varint(), 0)
	t.modified = time.Unix(varint(), 0)
	t.size = varint()
	seed, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errBadTicket
	}
	b = b[n:]
	t.seed = seed
	if lit := str(); lit != "" {
		t.literal = []byte(lit)
	}
	t.ctype, t.etag, t.name = str(), str(), str()
	if err != nil || t.size < 0 {
		return nil, errBadTicket
	}
	return t, nil
}

func signTicket(key []byte, payload, canonical string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	m.Write([]byte{'\n'})
	m.Write([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// downloadURL builds the signed URL of t on the download host at origin
// (scheme://host[:port]) under prefix; user names the business site.
func downloadURL(key []byte, origin, prefix, user, uniqueID string, t *downloadTicket) string {
	var path, query string
	if t.business {
		path = prefix + "/personal/" + url.PathEscape(user) + "/_layouts/15/download.aspx"
		query = "UniqueId=" + url.QueryEscape(uniqueID) + "&Translate=false&tempauth=" + tokenPlaceholder + "&ApiVersion=2.0"
	} else {
		path = prefix + "/y4m" + tokenPlaceholder + "/" + url.PathEscape(t.name)
		query = "download&psid=1"
	}
	payload := t.encode()
	token := payload + "." + signTicket(key, payload, path+"?"+query)
	return origin + strings.Replace(path+"?"+query, tokenPlaceholder, token, 1)
}

// DownloadOptions configure a DownloadHandler. The zero value is usable.
type DownloadOptions struct {
	// Prefix is the path prefix of the download host. Default "/_download".
	Prefix string
	// Key verifies URL signatures; it must equal the key of the Server
	// issuing the URLs. Default: a key shared by every instance in this
	// process.
	Key []byte
	// DeniedStatus answers expired, altered or bearer-carrying requests:
	// 401 (default, as SharePoint does) or 403.
	DeniedStatus int
	// IgnoreRange answers every Range request with the whole file (200),
	// which Graph documents as possible. Default false.
	IgnoreRange bool
	// Redirects makes the host answer a URL with this many 302 hops (to
	// re-signed URLs with a hop parameter) before serving it. Default 0.
	Redirects int
	// RedirectOrigin is the scheme://host[:port] those hops point at;
	// default the host the request came to.
	RedirectOrigin string
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// DownloadHandler is the emulated download host. It is safe for
// concurrent use.
type DownloadHandler struct {
	opts DownloadOptions
	// notBefore (unix ns) rejects URLs issued up to then (ExpireURLs).
	notBefore atomic.Int64
	// log keeps the last requests (Authorization shown as "present").
	log *requestLog
}

// NewDownloadHandler returns a download host configured by opts.
func NewDownloadHandler(opts DownloadOptions) (*DownloadHandler, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultDownloadPrefix
	}
	opts.Prefix = "/" + strings.Trim(opts.Prefix, "/")
	if opts.Prefix == "/" {
		return nil, errors.New("download prefix must not be the root")
	}
	if len(opts.Key) == 0 {
		opts.Key = processDownloadKey
	}
	switch opts.DeniedStatus {
	case 0:
		opts.DeniedStatus = http.StatusUnauthorized
	case http.StatusUnauthorized, http.StatusForbidden:
	default:
		return nil, errors.New("download denied status must be 401 or 403")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Redirects < 0 || opts.Redirects > 20 {
		return nil, errors.New("download redirects must be 0 to 20")
	}
	return &DownloadHandler{opts: opts, log: newRequestLog(DefaultRequestLogSize)}, nil
}

// Handles reports whether r is for the download host.
func (h *DownloadHandler) Handles(r *http.Request) bool {
	return hasPathPrefix(r.URL.EscapedPath(), h.opts.Prefix)
}

// ExpireURLs makes every URL issued so far answer as expired.
func (h *DownloadHandler) ExpireURLs() { h.notBefore.Store(h.opts.Now().UnixNano()) }

// Requests returns the last requests the download host received, oldest
// first, with Authorization shown as "present" — a test can assert that a
// bearer token never arrived.
func (h *DownloadHandler) Requests() []RequestRecord { return h.log.list() }

// ClearRequests empties the download host's request log.
func (h *DownloadHandler) ClearRequests() { h.log.clear() }

// sharePointChallenge is the WWW-Authenticate SharePoint sends with 401.
const sharePointChallenge = `Bearer realm="6babcaad-604b-40ac-a9d7-9fd97c0b779f",client_id="00000003-0000-0ff1-ce00-000000000000",trusted_issuers="00000001-0000-0000-c000-000000000000@*",authorization_uri="https://login.windows.net/common/oauth2/authorize"`

func (h *DownloadHandler) deny(w http.ResponseWriter, msg string) {
	hd := w.Header()
	if h.opts.DeniedStatus == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", sharePointChallenge)
	}
	hd.Set("Content-Type", "application/json;odata=verbose;charset=utf-8")
	hd.Set("X-MS-InvokeApp", "1; RequireReadOnly")
	var b jsonBuf
	b.raw(`{"error_description":`)
	b.str(msg)
	b.raw(`}`)
	w.WriteHeader(h.opts.DeniedStatus)
	_, _ = w.Write(b.b)
}

// ServeHTTP serves a download URL.
func (h *DownloadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.log.add(r, false)
	w.Header().Set("request-id", newUUID())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "" {
		// SharePoint takes the bearer token for its own and rejects a
		// Graph token: the URL must be fetched without one.
		h.deny(w, "Invalid audience Uri 'https://graph.microsoft.com'.")
		return
	}
	t, token, ok := h.verify(r)
	if !ok {
		h.deny(w, "Invalid JWT token. Could not resolve issuer token.")
		return
	}
	now := h.opts.Now()
	if !t.issued.After(time.Unix(0, h.notBefore.Load())) || !now.Before(t.expires) {
		h.deny(w, "Invalid JWT token. The token is expired.")
		return
	}
	if hop := hopOf(r.URL.RawQuery); hop < h.opts.Redirects {
		w.Header().Set("Location", h.nextHop(r, token, hop+1))
		w.WriteHeader(http.StatusFound)
		return
	}
	serveTicket(w, r, t, h.opts.IgnoreRange)
}

// hopOf reads the hop parameter of a redirect hop (0 when absent).
func hopOf(rawQuery string) int {
	for _, kv := range strings.Split(rawQuery, "&") {
		if v, ok := strings.CutPrefix(kv, "hop="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// nextHop is r's URL with hop set and the token signed anew.
func (h *DownloadHandler) nextHop(r *http.Request, token string, hop int) string {
	var kept []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if !strings.HasPrefix(kv, "hop=") {
			kept = append(kept, kv)
		}
	}
	kept = append(kept, "hop="+strconv.Itoa(hop))
	payload, _, _ := strings.Cut(token, ".")
	canonical := strings.Replace(r.URL.EscapedPath()+"?"+strings.Join(kept, "&"), token, tokenPlaceholder, 1)
	next := strings.Replace(canonical, tokenPlaceholder, payload+"."+signTicket(h.opts.Key, payload, canonical), 1)
	origin := h.opts.RedirectOrigin
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	return origin + next
}

// verify checks the token of r's URL and returns its ticket and token.
func (h *DownloadHandler) verify(r *http.Request) (*downloadTicket, string, bool) {
	path := r.URL.EscapedPath()
	rel := strings.TrimPrefix(path, h.opts.Prefix)
	var token string
	if strings.HasPrefix(rel, "/y4m") {
		seg := rel[len("/y4m"):]
		if i := strings.IndexByte(seg, '/'); i > 0 {
			token = seg[:i]
		}
	} else {
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if v, ok := strings.CutPrefix(kv, "tempauth="); ok {
				token = v
				break
			}
		}
	}
	payload, sig, found := strings.Cut(token, ".")
	if !found || payload == "" {
		return nil, "", false
	}
	canonical := strings.Replace(path+"?"+r.URL.RawQuery, token, tokenPlaceholder, 1)
	if !hmac.Equal([]byte(sig), []byte(signTicket(h.opts.Key, payload, canonical))) {
		return nil, "", false
	}
	t, err := decodeTicket(payload)
	if err != nil {
		return nil, "", false
	}
	return t, token, true
}

// serveTicket writes t's content, honouring a single Range.
func serveTicket(w http.ResponseWriter, r *http.Request, t *downloadTicket, ignoreRange bool) {
	hd := w.Header()
	hd.Set("Content-Type", t.ctype)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", t.etag)
	hd.Set("Last-Modified", t.modified.UTC().Format(http.TimeFormat))
	hd.Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`"`, "", `\`, "").Replace(asciiOnly(t.name))+`"; filename*=UTF-8''`+rfc5987(t.name))
	hd.Set("Cache-Control", "private")
	start, length := int64(0), t.size
	status := http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && !ignoreRange {
		if ir := r.Header.Get("If-Range"); ir == "" || ir == t.etag {
			s, n, ok, satisfiable := parseSingleRange(rh, t.size)
			switch {
			case ok && !satisfiable:
				hd.Set("Content-Range", "bytes */"+strconv.FormatInt(t.size, 10))
				hd.Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				_, _ = w.Write([]byte(`{"error":{"code":"invalidRange","message":"The requested range is not satisfiable."}}`))
				return
			case ok:
				start, length, status = s, n, http.StatusPartialContent
				hd.Set("Content-Range", "bytes "+strconv.FormatInt(s, 10)+"-"+strconv.FormatInt(s+n-1, 10)+"/"+strconv.FormatInt(t.size, 10))
			}
		}
	}
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	var src io.Reader
	if t.literal != nil {
		src = &literalReader{pattern: t.literal, off: start, left: length}
	} else {
		src = DriveContentReader(t.seed, start, length)
	}
	_, _ = io.CopyBuffer(onlyWriter{w}, src, make([]byte, generatedChunk))
}

// rfc5987 percent-encodes s for a filename* parameter (RFC 8187
// attr-char kept as is).
func rfc5987(s string) string {
	const keep = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

func asciiOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// parseSingleRange parses "bytes=a-b", "bytes=a-" or "bytes=-n" against
// size. ok is false for anything else (several ranges, bad syntax), which
// is answered with the whole file as RFC 9110 allows.
func parseSingleRange(h string, size int64) (start, length int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	s, err := strconv.ParseInt(first, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, false
	}
	e := size - 1
	if last != "" {
		e, err = strconv.ParseInt(last, 10, 64)
		if err != nil || e < s {
			return 0, 0, false, false
		}
		e = min(e, size-1)
	}
	if s >= size {
		return 0, 0, true, false
	}
	return s, e - s + 1, true, true
}

// DriveContentReader returns length bytes of the generated content with
// the given seed from offset on — the bytes the download host serves for a
// drive file whose content seed it is (the control API reports it). Any
// offset is reached without generating what lies before it.
func DriveContentReader(seed uint64, offset, length int64) io.Reader {
	return &driveContentReader{seed: seed, off: offset, left: length}
}

type driveContentReader struct {
	seed      uint64
	off, left int64
}

// driveBlock is the 8-byte block k of the content with seed (splitmix64).
func driveBlock(seed uint64, k int64) uint64 {
	z := seed + uint64(k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (g *driveContentReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	// An unaligned head and tail byte by byte, whole blocks at once.
	for n < len(p) && (g.off%8 != 0 || len(p)-n < 8) {
		p[n] = byte(driveBlock(g.seed, g.off/8) >> (8 * (g.off % 8)))
		n++
		g.off++
	}
	for ; len(p)-n >= 8; n += 8 {
		binary.LittleEndian.PutUint64(p[n:], driveBlock(g.seed, g.off/8))
		g.off += 8
	}
	for n < len(p) {
		p[n] = byte(driveBlock(g.seed, g.off/8) >> (8 * (g.off % 8)))
		n++
		g.off++
	}
	g.left -= int64(n)
	return n, nil
}

// literalReader repeats pattern from off for left bytes.
type literalReader struct {
	pattern   []byte
	off, left int64
}

func (l *literalReader) Read(p []byte) (int, error) {
	if l.left <= 0 || len(l.pattern) == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.pattern[l.off%int64(len(l.pattern)):])
		n += c
		l.off += int64(c)
	}
	l.left -= int64(n)
	return n, nil
}
