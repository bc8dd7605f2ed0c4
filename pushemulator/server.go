package pushemulator

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultControlPrefix is the path prefix of the control API.
	DefaultControlPrefix = "/_push"
	// DefaultAPNsKeyID is the provider key id (Apple's are 10 characters).
	DefaultAPNsKeyID = "EMUKEY0001"
	// DefaultAPNsTeamID is the team id (Apple's are 10 characters).
	DefaultAPNsTeamID = "EMUTEAM001"
	// DefaultAPNsTopic is the app's bundle id.
	DefaultAPNsTopic = "com.example.devicebridge"
	// DefaultAPNsTokenUpdateInterval is the shortest time between two
	// different provider tokens on one connection (Apple: no more than
	// once every 20 minutes, else 429 TooManyProviderTokenUpdates).
	DefaultAPNsTokenUpdateInterval = 20 * time.Minute
	// DefaultAPNsMaxPayload is APNs' limit for a non-VoIP payload.
	DefaultAPNsMaxPayload = 4096
	// DefaultFCMProject is the Firebase project id.
	DefaultFCMProject = "devicebridge-emulator"
	// DefaultFCMTokenPath is the path of the OAuth 2.0 token endpoint.
	DefaultFCMTokenPath = "/token"
	// DefaultFCMTokenLifetime is the lifetime of issued access tokens.
	DefaultFCMTokenLifetime = time.Hour
	// DefaultFCMMaxPayload is FCM's limit for a message's data.
	DefaultFCMMaxPayload = 4096
	// DefaultWebPushPath is the path prefix of push resources.
	DefaultWebPushPath = "/wp"
	// DefaultWebPushMaxBody is the largest encrypted Web Push body accepted
	// (RFC 8291 §4: push services must accept 4096 bytes).
	DefaultWebPushMaxBody = 4096
	// DefaultWebPushMaxSubscriptions bounds the issued subscriptions.
	DefaultWebPushMaxSubscriptions = 10000
	// DefaultRecordLimit is how many pushes the record keeps.
	DefaultRecordLimit = 1000
	// DefaultClockSkew is the tolerance for token times in the future.
	DefaultClockSkew = time.Minute
)

// Service names, as used in records, filters, faults and statistics.
const (
	// ServiceAPNs is the APNs provider API.
	ServiceAPNs = "apns"
	// ServiceFCM is FCM's messages:send.
	ServiceFCM = "fcm"
	// ServiceOAuth is the OAuth 2.0 token endpoint used by FCM senders.
	ServiceOAuth = "oauth"
	// ServiceWebPush is the Web Push service.
	ServiceWebPush = "webpush"
)

// Options configure a Server. The zero value is usable: every field has a
// default.
type Options struct {
	// ControlPrefix is the control API's path prefix. Default "/_push".
	ControlPrefix string
	// Origin is the emulator's public origin (scheme://host[:port]), used
	// for the FCM credentials' token_uri, Web Push endpoints and the VAPID
	// audience. Default: derived from each request (Host, TLS or not).
	Origin string

	// APNsKeyID is the provider key id the JWT's kid must carry.
	// Default "EMUKEY0001".
	APNsKeyID string
	// APNsTeamID is the team id the JWT's iss must carry. Default "EMUTEAM001".
	APNsTeamID string
	// APNsTopic is the only topic (bundle id) pushes may go to.
	// Default "com.example.devicebridge".
	APNsTopic string
	// APNsPublicKeyFile is a PEM public key (PKIX, P-256) that verifies
	// provider tokens; the emulator then has no private key to hand out.
	// Default "" (see APNsKeyFile).
	APNsPublicKeyFile string
	// APNsKeyFile is a .p8 private key (PKCS #8 PEM, P-256): read when the
	// file exists, else generated and written there (mode 0600). Without
	// it and without APNsPublicKeyFile a key is generated in memory.
	// Default "".
	APNsKeyFile string
	// APNsKey is a private key to use instead of generating one (Go API
	// only, for tests). Default nil.
	APNsKey *ecdsa.PrivateKey
	// APNsSandboxHosts are the hosts (host or host:port, as in the
	// request's :authority) whose APNs requests are the sandbox
	// environment; the rest are production. Default none.
	APNsSandboxHosts []string
	// APNsAllowHTTP1 accepts APNs requests over HTTP/1.x, which real APNs
	// refuses. Default false.
	APNsAllowHTTP1 bool
	// APNsTokenUpdateInterval is the shortest time between two different
	// provider tokens on one client connection; a quicker change answers
	// 429 TooManyProviderTokenUpdates. Negative turns the check off.
	// Default 20m.
	APNsTokenUpdateInterval time.Duration
	// APNsMaxPayload is the largest APNs body in bytes (413
	// PayloadTooLarge beyond). Default 4096.
	APNsMaxPayload int

	// FCMProject is the Firebase project id. Default
	// "devicebridge-emulator", or the project of FCMCredentialsFile.
	FCMProject string
	// FCMClientEmail is the service account's email. Default
	// "firebase-adminsdk@{project}.iam.gserviceaccount.com".
	FCMClientEmail string
	// FCMCredentialsFile is a service-account JSON: read when the file
	// exists, else generated and written there (mode 0600; needs Origin
	// for its token_uri). Default "" (generated in memory; the control API
	// hands it out).
	FCMCredentialsFile string
	// FCMKey is an RSA private key to use instead of generating one (Go
	// API only, for tests). Default nil.
	FCMKey *rsa.PrivateKey
	// FCMTokenPath is the path of the OAuth 2.0 token endpoint.
	// Default "/token".
	FCMTokenPath string
	// FCMTokenLifetime is the lifetime of issued access tokens. Default 1h.
	FCMTokenLifetime time.Duration
	// FCMMaxPayload is the largest size of a message's data (keys and
	// values) in bytes. Default 4096.
	FCMMaxPayload int

	// WebPushPath is the path prefix of push resources. Default "/wp".
	WebPushPath string
	// WebPushMaxBody is the largest encrypted body in bytes (413 beyond).
	// Default 4096.
	WebPushMaxBody int
	// WebPushMaxSubscriptions bounds the subscriptions issued. Default 10000.
	WebPushMaxSubscriptions int

	// RecordLimit is how many pushes the record keeps (oldest dropped).
	// Default 1000.
	RecordLimit int
	// ClockSkew is how far in the future a token's iat may be. Default 1m.
	ClockSkew time.Duration
	// Now returns the current time; default time.Now. Tests may fix it.
	Now func() time.Time
}

func (o *Options) normalize() error {
	if o.ControlPrefix == "" {
		o.ControlPrefix = DefaultControlPrefix
	}
	o.ControlPrefix = "/" + strings.Trim(o.ControlPrefix, "/")
	if o.WebPushPath == "" {
		o.WebPushPath = DefaultWebPushPath
	}
	o.WebPushPath = "/" + strings.Trim(o.WebPushPath, "/")
	if o.FCMTokenPath == "" {
		o.FCMTokenPath = DefaultFCMTokenPath
	}
	o.FCMTokenPath = "/" + strings.Trim(o.FCMTokenPath, "/")
	if o.ControlPrefix == "/" || o.WebPushPath == "/" || o.FCMTokenPath == "/" {
		return fmt.Errorf("control_prefix, webpush_path and fcm_token_path must not be the root")
	}
	paths := []string{o.ControlPrefix, o.WebPushPath, o.FCMTokenPath, "/3", "/v1"}
	for i, a := range paths {
		for _, b := range paths[i+1:] {
			if hasPathPrefix(a, b) || hasPathPrefix(b, a) {
				return fmt.Errorf("paths %q and %q overlap", a, b)
			}
		}
	}
	if o.Origin != "" {
		u, err := url.Parse(o.Origin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("origin must be scheme://host[:port], got %q", o.Origin)
		}
		o.Origin = normalizeOrigin(u.Scheme, u.Host)
	}
	if o.APNsKeyID == "" {
		o.APNsKeyID = DefaultAPNsKeyID
	}
	if o.APNsTeamID == "" {
		o.APNsTeamID = DefaultAPNsTeamID
	}
	if o.APNsTopic == "" {
		o.APNsTopic = DefaultAPNsTopic
	}
	if !validTopic(o.APNsTopic) {
		return fmt.Errorf("apns_topic %q is not a bundle id", o.APNsTopic)
	}
	if o.APNsPublicKeyFile != "" && o.APNsKeyFile != "" {
		return fmt.Errorf("apns_public_key_file and apns_key_file are exclusive")
	}
	o.APNsSandboxHosts = append([]string(nil), o.APNsSandboxHosts...)
	for i, h := range o.APNsSandboxHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			return fmt.Errorf("apns_sandbox_hosts: %q is not a host[:port]", h)
		}
		o.APNsSandboxHosts[i] = strings.ToLower(h)
	}
	if o.APNsTokenUpdateInterval == 0 {
		o.APNsTokenUpdateInterval = DefaultAPNsTokenUpdateInterval
	}
	if o.APNsMaxPayload <= 0 {
		o.APNsMaxPayload = DefaultAPNsMaxPayload
	}
	if o.FCMProject == "" && o.FCMCredentialsFile == "" {
		o.FCMProject = DefaultFCMProject
	}
	if o.FCMProject != "" && !validProjectID(o.FCMProject) {
		return fmt.Errorf("fcm_project %q is not a project id", o.FCMProject)
	}
	if o.FCMTokenLifetime <= 0 {
		o.FCMTokenLifetime = DefaultFCMTokenLifetime
	}
	if o.FCMMaxPayload <= 0 {
		o.FCMMaxPayload = DefaultFCMMaxPayload
	}
	if o.WebPushMaxBody <= 0 {
		o.WebPushMaxBody = DefaultWebPushMaxBody
	}
	if o.WebPushMaxSubscriptions <= 0 {
		o.WebPushMaxSubscriptions = DefaultWebPushMaxSubscriptions
	}
	if o.RecordLimit <= 0 {
		o.RecordLimit = DefaultRecordLimit
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// validProjectID reports whether s looks like a Google Cloud project id.
func validProjectID(s string) bool {
	if len(s) < 1 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Server is the emulator: an http.Handler serving the three push services
// and the control API. It is safe for concurrent use.
type Server struct {
	opts Options

	apns    *apnsService
	fcm     *fcmService
	webpush *webPushService

	record *pushRecord
	faults *faultSet
	stats  *serviceStats

	mu           sync.Mutex
	unregistered map[targetKey]unregistration
	apnsEnvs     map[string]string // device token → its environment
}

// targetKey names one push target of one service.
type targetKey struct {
	service string
	target  string
}

// unregistration is a target marked unregistered.
type unregistration struct {
	reason string
	at     time.Time
}

// NewServer returns a Server configured by opts. It loads or generates the
// APNs key and the FCM service account, writing the files opts names.
func NewServer(opts Options) (*Server, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:         opts,
		record:       newPushRecord(opts.RecordLimit),
		faults:       &faultSet{},
		stats:        newServiceStats(),
		unregistered: map[targetKey]unregistration{},
		apnsEnvs:     map[string]string{},
	}
	var err error
	if s.apns, err = newAPNsService(&s.opts); err != nil {
		return nil, err
	}
	if s.fcm, err = newFCMService(&s.opts); err != nil {
		return nil, err
	}
	s.webpush = newWebPushService(&s.opts)
	return s, nil
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// Handles reports whether the request is for the emulator; the Caddy module
// passes other requests on.
func (s *Server) Handles(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return hasPathPrefix(p, s.opts.ControlPrefix) || hasPathPrefix(p, "/3") ||
		hasPathPrefix(p, "/v1") || p == s.opts.FCMTokenPath || hasPathPrefix(p, s.opts.WebPushPath)
}

// ServeHTTP serves the push services and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case hasPathPrefix(p, s.opts.ControlPrefix):
		s.serveControl(w, r, strings.TrimPrefix(p, s.opts.ControlPrefix))
	case hasPathPrefix(p, "/3"):
		s.serveWithFaults(w, r, ServiceAPNs, s.serveAPNs)
	case p == s.opts.FCMTokenPath:
		s.serveWithFaults(w, r, ServiceOAuth, s.serveToken)
	case hasPathPrefix(p, "/v1"):
		s.serveWithFaults(w, r, ServiceFCM, s.serveFCMSend)
	case hasPathPrefix(p, s.opts.WebPushPath):
		s.serveWithFaults(w, r, ServiceWebPush, s.serveWebPush)
	default:
		http.NotFound(w, r)
	}
}

// origin is the emulator's origin as seen by r: Options.Origin, else the
// request's scheme and Host.
func (s *Server) origin(r *http.Request) string {
	if s.opts.Origin != "" {
		return s.opts.Origin
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return normalizeOrigin(scheme, r.Host)
}

// normalizeOrigin serializes an origin: lower case, without the scheme's
// default port.
func normalizeOrigin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// unregisteredAt returns the unregistration of a target, if any.
func (s *Server) unregisteredAt(service, target string) (unregistration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.unregistered[targetKey{service, target}]
	return u, ok
}
