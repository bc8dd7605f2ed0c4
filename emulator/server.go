package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultBasePath is the path prefix of the Graph surface.
	DefaultBasePath = "/v1.0"
	// DefaultControlPrefix is the path prefix of the control API.
	DefaultControlPrefix = "/_emulator"
	// DefaultRequestLogSize is the number of Graph requests remembered.
	DefaultRequestLogSize = 200
	// DefaultMaxRequestBody is the largest request body read, in bytes.
	DefaultMaxRequestBody = 8 << 20
	// DefaultBatchItemConcurrency is how many $batch items run at once
	// (Outlook runs at most 4).
	DefaultBatchItemConcurrency = 4
	// DefaultPageSize is the delta and list page size without
	// Prefer: odata.maxpagesize or $top.
	DefaultPageSize = 10
	// DefaultThrottleRetryAfter is the Retry-After of MailboxConcurrency 429s.
	DefaultThrottleRetryAfter = "1"
)

// Seed values of Options.Seed.
const (
	// SeedDemo creates the demo mailboxes (see DemoToken and friends).
	SeedDemo = "demo"
	// SeedNone starts without mailboxes; create them with the control API.
	SeedNone = "none"
)

// Values of Quirks.BatchThrottle.
const (
	// BatchThrottleInner answers a $batch with throttled items as a 200
	// envelope holding inner 429 items (json-batching.md).
	BatchThrottleInner = "inner"
	// BatchThrottleEnvelope424 answers such a $batch with envelope status
	// 424 (throttling.md), still carrying the per-item responses and the
	// largest item Retry-After on the envelope.
	BatchThrottleEnvelope424 = "envelope_424"
)

// Options configure a Server. The zero value is usable: every field has a
// default.
type Options struct {
	// Seed is SeedDemo (default) or SeedNone.
	Seed string
	// BasePath is the Graph version prefix. Default "/v1.0".
	BasePath string
	// ControlPrefix is the control API prefix. Default "/_emulator".
	ControlPrefix string
	// MailboxConcurrency is how many requests one mailbox serves at once;
	// more get 429 ApplicationThrottled. 0 (default) turns the limit off.
	MailboxConcurrency int
	// ThrottleRetryAfter is the Retry-After value of MailboxConcurrency
	// 429s. Default "1"; "-" sends none.
	ThrottleRetryAfter string
	// SyncStateCapacity is the number of delta sync states kept per
	// mailbox; older ones are evicted and answer 410. Default 1000.
	SyncStateCapacity int
	// RequestLogSize is the number of Graph requests kept for the control
	// API's request log. Default 200.
	RequestLogSize int
	// MaxRequestBody is the largest request body read, in bytes. Default 8 MiB.
	MaxRequestBody int64
	// BatchItemConcurrency is how many $batch items run at once. Default 4.
	BatchItemConcurrency int
	// DefaultPageSize is the page size of delta and lists without a
	// preference. Default 10.
	DefaultPageSize int
	// Quirks switch between behaviours where Graph's documentation and
	// observed behaviour disagree.
	Quirks Quirks
	// Now returns the current time; default time.Now. Tests may fix it.
	Now func() time.Time
	// DownloadOrigin is the scheme://host[:port] that downloadUrls point
	// at: a separate download host (a DownloadHandler with the same key).
	// Default: the origin of the Graph request, whose download host this
	// Server serves under DownloadPrefix.
	DownloadOrigin string
	// DownloadPrefix is the path prefix of the download host. Default
	// "/_download".
	DownloadPrefix string
	// DownloadKey signs download URLs. Default: a key shared by every
	// emulator in this process.
	DownloadKey []byte
	// DownloadURLLifetime is how long a download URL works. Default 1h.
	DownloadURLLifetime time.Duration
	// Subscriptions configure change-notification subscriptions and
	// their delivery (see notify_options.go).
	Subscriptions SubscriptionOptions
}

// Quirks select Graph behaviours that GRAPH_FACTS marks as CONFLICT or
// belief, so the bridge can be tested against each variant.
type Quirks struct {
	// BatchThrottle is BatchThrottleInner (default) or BatchThrottleEnvelope424.
	BatchThrottle string
	// SyncStateCode is the error code of an unknown delta token:
	// "SyncStateNotFound" (default), "syncStateNotFound" or "resyncRequired".
	SyncStateCode string
	// SyncStateStatus is the HTTP status of an unknown delta token. Default 410.
	SyncStateStatus int
	// SyncStateOmitLocation drops the Location header (fresh initial URL)
	// from unknown-token answers. Default false (Location is sent).
	SyncStateOmitLocation bool
	// EmptyPageEvery inserts a nextLink page with an empty value before
	// every Nth page of a delta round. 0 (default) is off.
	EmptyPageEvery int
	// ReplayEvery repeats every Nth message of a delta round at the end of
	// the round (a duplicate, as Graph may send). 0 (default) is off.
	ReplayEvery int
	// DriveResyncCode is the error of an unknown or expired drive delta
	// token (FILES_FACTS 1): one of the DriveResync* values. Default
	// DriveResyncRequired.
	DriveResyncCode string
	// DriveResyncOmitLocation drops the Location header (a fresh delta URL)
	// from those 410s. Default false (Location is sent, as the docs say).
	DriveResyncOmitLocation bool
	// DriveDeletePageSize ends a drive delta page after this many items
	// once half of them are deletions ("pages of about 7 items when mostly
	// deletes"). 0 means 7; negative turns it off.
	DriveDeletePageSize int
	// DriveIgnoreTop makes drive delta ignore $top. Default false.
	DriveIgnoreTop bool
	// DriveKeepDeletedFacet keeps the deleted facet on drive delta
	// tombstones when $select does not name it. Default false: the facet
	// is dropped, as the device contract expects of Graph.
	DriveKeepDeletedFacet bool
	// DriveOmitDownloadURL leaves @microsoft.graph.downloadUrl out unless
	// $select names it. Default false (files carry it).
	DriveOmitDownloadURL bool
	// DriveContentDirect answers /content with 200 and the bytes instead
	// of a 302 to the download host. Default false.
	DriveContentDirect bool
	// DownloadDeniedStatus is the status of the download host for an
	// expired or altered URL or a request with Authorization: 401
	// (default) or 403.
	DownloadDeniedStatus int
	// DownloadIgnoreRange makes the download host answer Range requests
	// with the whole file (200). Default false.
	DownloadIgnoreRange bool
	// DownloadRedirects makes the download host answer each URL with this
	// many 302 hops before the content (0–20). Default 0.
	DownloadRedirects int
	// DownloadRedirectOrigin is where those hops point (scheme://host[:port]);
	// default the download host itself.
	DownloadRedirectOrigin string
	// DriveOmitMimeType leaves file.mimeType out on business drives (a
	// 2017 note says they may). Default false.
	DriveOmitMimeType bool
	// DriveSparseSearch leaves createdBy, lastModifiedBy and
	// parentReference out of business search results (a 2017 note).
	// Default false.
	DriveSparseSearch bool
	// DriveBusinessAnyOrder lets business drives sort children by
	// lastModifiedDateTime and size too (the 2017 note that they sort by
	// name only is unconfirmed). Default false: name only.
	DriveBusinessAnyOrder bool
	// DriveLatestLinkKeepsToken keeps token=latest in the links of a delta
	// started with it, ahead of the new token, so a client that replays
	// such a link as it is starts from "latest" again. Default false.
	DriveLatestLinkKeepsToken bool
}

// Server is the emulator: an http.Handler serving the Graph surface under
// BasePath and the control API under ControlPrefix. It is safe for
// concurrent use.
type Server struct {
	opts Options

	mu         sync.RWMutex
	byToken    map[string]*mailbox
	byUPN      map[string]*mailbox
	byObjectID map[string]*mailbox

	faults   *faultSet
	requests *requestLog
	// downloads is the download host served under DownloadPrefix.
	downloads *DownloadHandler
	subs      *subscriptionSet
}

// NewServer returns a Server configured by opts, seeded per opts.Seed.
func NewServer(opts Options) (*Server, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:       opts,
		byToken:    map[string]*mailbox{},
		byUPN:      map[string]*mailbox{},
		byObjectID: map[string]*mailbox{},
		faults:     &faultSet{},
		requests:   newRequestLog(opts.RequestLogSize),
	}
	dl, err := NewDownloadHandler(DownloadOptions{Prefix: opts.DownloadPrefix, Key: opts.DownloadKey,
		DeniedStatus: opts.Quirks.DownloadDeniedStatus, IgnoreRange: opts.Quirks.DownloadIgnoreRange, Now: opts.Now,
		Redirects: opts.Quirks.DownloadRedirects, RedirectOrigin: opts.Quirks.DownloadRedirectOrigin})
	if err != nil {
		return nil, err
	}
	s.downloads = dl
	s.subs = newSubscriptionSet(&s.opts.Subscriptions, s.opts.Now)
	if opts.Seed == SeedDemo {
		s.seedDemo()
	}
	return s, nil
}

func (o *Options) normalize() error {
	if o.Seed == "" {
		o.Seed = SeedDemo
	}
	if o.Seed != SeedDemo && o.Seed != SeedNone {
		return fmt.Errorf("seed must be %q or %q, got %q", SeedDemo, SeedNone, o.Seed)
	}
	if o.BasePath == "" {
		o.BasePath = DefaultBasePath
	}
	if o.ControlPrefix == "" {
		o.ControlPrefix = DefaultControlPrefix
	}
	o.BasePath = "/" + strings.Trim(o.BasePath, "/")
	o.ControlPrefix = "/" + strings.Trim(o.ControlPrefix, "/")
	if o.BasePath == "/" || o.ControlPrefix == "/" {
		return fmt.Errorf("base_path and control_prefix must not be the root")
	}
	if strings.HasPrefix(o.BasePath+"/", o.ControlPrefix+"/") || strings.HasPrefix(o.ControlPrefix+"/", o.BasePath+"/") {
		return fmt.Errorf("base_path %q and control_prefix %q overlap", o.BasePath, o.ControlPrefix)
	}
	if o.MailboxConcurrency < 0 {
		return fmt.Errorf("mailbox_concurrency must not be negative")
	}
	if o.ThrottleRetryAfter == "" {
		o.ThrottleRetryAfter = DefaultThrottleRetryAfter
	}
	if o.SyncStateCapacity <= 0 {
		o.SyncStateCapacity = DefaultSyncStateCapacity
	}
	if o.RequestLogSize <= 0 {
		o.RequestLogSize = DefaultRequestLogSize
	}
	if o.MaxRequestBody <= 0 {
		o.MaxRequestBody = DefaultMaxRequestBody
	}
	if o.BatchItemConcurrency <= 0 {
		o.BatchItemConcurrency = DefaultBatchItemConcurrency
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = DefaultPageSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := o.Subscriptions.normalize(); err != nil {
		return err
	}
	q := &o.Quirks
	switch q.BatchThrottle {
	case "":
		q.BatchThrottle = BatchThrottleInner
	case BatchThrottleInner, BatchThrottleEnvelope424:
	default:
		return fmt.Errorf("batch throttle quirk must be %q or %q, got %q", BatchThrottleInner, BatchThrottleEnvelope424, q.BatchThrottle)
	}
	switch q.SyncStateCode {
	case "":
		q.SyncStateCode = "SyncStateNotFound"
	case "SyncStateNotFound", "syncStateNotFound", "resyncRequired":
	default:
		return fmt.Errorf("sync state code must be SyncStateNotFound, syncStateNotFound or resyncRequired, got %q", q.SyncStateCode)
	}
	if q.SyncStateStatus == 0 {
		q.SyncStateStatus = http.StatusGone
	}
	if q.SyncStateStatus < 400 || q.SyncStateStatus > 499 {
		return fmt.Errorf("sync state status must be a 4xx status, got %d", q.SyncStateStatus)
	}
	if q.EmptyPageEvery < 0 || q.ReplayEvery < 0 {
		return fmt.Errorf("empty_page_every and replay_every must not be negative")
	}
	return o.normalizeDrive()
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

func (s *Server) seedDemo() {
	demo := newMailbox(DemoToken, DemoUPN, DemoDisplayName, DemoObjectID, s.opts.SyncStateCapacity)
	seedDemoMailbox(demo)
	adele := newMailbox(Demo2Token, Demo2UPN, "Adele Vance", Demo2ObjectID, s.opts.SyncStateCapacity)
	seedSmallMailbox(adele, 5, 2)
	shared := newMailbox(SharedToken, SharedUPN, "Shared Support", SharedObjectID, s.opts.SyncStateCapacity)
	shared.delegates[strings.ToLower(DemoUPN)] = true
	seedSmallMailbox(shared, 20, 3)
	seedDemoDrives(demo, adele, shared)
	for _, mb := range []*mailbox{demo, adele, shared} {
		s.register(mb)
	}
}

func (s *Server) register(mb *mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb.watchers = s.subs
	s.byToken[mb.token] = mb
	s.byUPN[strings.ToLower(mb.upn)] = mb
	s.byObjectID[mb.objectID] = mb
}

func (s *Server) mailboxByToken(token string) *mailbox {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byToken[token]
}

// mailboxByUser finds a mailbox by UPN (case-insensitive) or object id.
func (s *Server) mailboxByUser(user string) *mailbox {
	key := strings.ToLower(user)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if mb := s.byUPN[key]; mb != nil {
		return mb
	}
	return s.byObjectID[key]
}

// Close stops the delivery of notifications and waits for the POSTs in
// flight. The Server still answers requests afterwards.
func (s *Server) Close() { s.subs.close() }

// Handles reports whether the request is for the emulator (Graph surface
// or control API); the Caddy module passes other requests on.
func (s *Server) Handles(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return hasPathPrefix(p, s.opts.BasePath) || hasPathPrefix(p, s.opts.ControlPrefix) || s.downloads.Handles(r)
}

func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// ServeHTTP serves the Graph surface and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case hasPathPrefix(p, s.opts.ControlPrefix):
		s.serveControl(w, r, strings.TrimPrefix(p, s.opts.ControlPrefix))
	case hasPathPrefix(p, s.opts.BasePath):
		s.serveGraph(w, r, false)
	case s.downloads.Handles(r):
		s.downloads.ServeHTTP(w, r)
	default:
		w.Header().Set("request-id", newUUID())
		writeError(w, errBadRequest("Invalid version."), w.Header().Get("request-id"), r.Header.Get("client-request-id"), s.opts.Now())
	}
}
