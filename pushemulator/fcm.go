package pushemulator

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OAuth 2.0 values of Google's token endpoint.
const (
	// jwtBearerGrant is the grant type of a service account's assertion
	// (RFC 7523).
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// ScopeFirebaseMessaging is the scope FCM HTTP v1 needs.
	ScopeFirebaseMessaging = "https://www.googleapis.com/auth/firebase.messaging"
	// ScopeCloudPlatform also grants FCM HTTP v1.
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	// maxAssertionLifetime is Google's limit for exp - iat.
	maxAssertionLifetime = time.Hour
	// maxFCMRequestBody bounds what the emulator reads of a request.
	maxFCMRequestBody = 64 << 10
	// maxFCMTTLSeconds is FCM's maximum android.ttl (4 weeks).
	maxFCMTTLSeconds = 28 * 24 * 3600
)

// fcmService holds the service account. The access tokens it issues
// verify themselves (see issueAccessToken): like Google's, a token stays
// good for its lifetime whichever instance of the emulator checks it, a
// new one after a Caddy reload included.
type fcmService struct {
	key         *rsa.PrivateKey
	keyID       string
	clientEmail string
	clientID    string
}

// issuedToken is what an access token says of itself.
type issuedToken struct {
	expires time.Time
	fcm     bool // scope grants FCM
	email   string
}

// accessTokenPrefix starts every access token the emulator issues.
const accessTokenPrefix = "ya29.emu-"

// tokenMACKey is the key of the access tokens' MAC: derived from the
// service account's private key, so it is the same for every instance
// that loads the same credentials.
func (f *fcmService) tokenMACKey() []byte {
	h := sha256.New()
	h.Write([]byte("devicebridge push emulator: fcm access token\x00"))
	h.Write(f.key.D.Bytes())
	return h.Sum(nil)
}

// issueAccessToken returns accessTokenPrefix + base64url(expiry (8 bytes,
// Unix seconds) | scope grants FCM (1 byte) | client email) + "." +
// base64url(HMAC-SHA256 of those bytes).
func (f *fcmService) issueAccessToken(t issuedToken) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(t.expires.Unix()))
	grant := byte(0)
	if t.fcm {
		grant = 1
	}
	payload = append(append(payload, grant), t.email...)
	mac := hmac.New(sha256.New, f.tokenMACKey())
	mac.Write(payload)
	return accessTokenPrefix + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// openAccessToken checks an access token's MAC and returns what it says.
func (f *fcmService) openAccessToken(token string) (issuedToken, bool) {
	rest, ok := strings.CutPrefix(token, accessTokenPrefix)
	if !ok {
		return issuedToken{}, false
	}
	p64, m64, ok := strings.Cut(rest, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	got, err2 := base64.RawURLEncoding.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || len(payload) < 9 {
		return issuedToken{}, false
	}
	mac := hmac.New(sha256.New, f.tokenMACKey())
	mac.Write(payload)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return issuedToken{}, false
	}
	return issuedToken{
		expires: time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0),
		fcm:     payload[8] == 1,
		email:   string(payload[9:]),
	}, true
}

// serviceAccountFile is the JSON of a Google service-account key.
type serviceAccountFile struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
	UniverseDomain          string `json:"universe_domain"`
}

func newFCMService(o *Options) (*fcmService, error) {
	f := &fcmService{}
	if o.FCMCredentialsFile != "" {
		data, err := loadOrCreateFile(o.FCMCredentialsFile, func() ([]byte, error) {
			if o.Origin == "" {
				return nil, fmt.Errorf("writing a new credentials file needs origin (its token_uri)")
			}
			if o.FCMProject == "" {
				o.FCMProject = DefaultFCMProject
			}
			if err := f.generate(o); err != nil {
				return nil, err
			}
			return f.credentialsJSON(o, o.Origin)
		})
		if err != nil {
			return nil, fmt.Errorf("fcm_credentials_file: %v", err)
		}
		if err := f.load(o, data); err != nil {
			return nil, fmt.Errorf("fcm_credentials_file %s: %v", o.FCMCredentialsFile, err)
		}
		return f, nil
	}
	return f, f.generate(o)
}

// generate makes the service account (or takes Options.FCMKey).
func (f *fcmService) generate(o *Options) error {
	f.key = o.FCMKey
	if f.key == nil {
		key, err := generateRSAKey()
		if err != nil {
			return err
		}
		f.key = key
	}
	f.keyID = keyFingerprint(&f.key.PublicKey)
	f.clientEmail = o.FCMClientEmail
	if f.clientEmail == "" {
		f.clientEmail = "firebase-adminsdk@" + o.FCMProject + ".iam.gserviceaccount.com"
	}
	f.clientID = strconv.FormatUint(f.key.PublicKey.N.Uint64(), 10)
	return nil
}

// load reads a service-account JSON.
func (f *fcmService) load(o *Options, data []byte) error {
	var sa serviceAccountFile
	if err := json.Unmarshal(data, &sa); err != nil {
		return err
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" || sa.ProjectID == "" {
		return fmt.Errorf("not a service-account key (type, client_email, private_key and project_id are required)")
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return fmt.Errorf("private_key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Errorf("private_key: %v", err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("private_key is not an RSA key")
	}
	if o.FCMProject != "" && o.FCMProject != sa.ProjectID {
		return fmt.Errorf("project_id %q differs from fcm_project %q", sa.ProjectID, o.FCMProject)
	}
	o.FCMProject = sa.ProjectID
	f.key, f.keyID, f.clientEmail, f.clientID = rk, sa.PrivateKeyID, sa.ClientEmail, sa.ClientID
	return nil
}

// credentialsJSON renders the service-account JSON with token_uri on origin.
func (f *fcmService) credentialsJSON(o *Options, origin string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		return nil, err
	}
	sa := serviceAccountFile{
		Type:                    "service_account",
		ProjectID:               o.FCMProject,
		PrivateKeyID:            f.keyID,
		PrivateKey:              string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ClientEmail:             f.clientEmail,
		ClientID:                f.clientID,
		AuthURI:                 "https://accounts.google.com/o/oauth2/auth",
		TokenURI:                origin + o.FCMTokenPath,
		AuthProviderX509CertURL: "https://www.googleapis.com/oauth2/v1/certs",
		ClientX509CertURL:       "https://www.googleapis.com/robot/v1/metadata/x509/" + url.PathEscape(f.clientEmail),
		UniverseDomain:          "googleapis.com",
	}
	return json.MarshalIndent(sa, "", "  ")
}

// FCMCredentials returns the service-account JSON a sender loads; its
// token_uri is origin (Options.Origin when set) plus the token path.
func (s *Server) FCMCredentials(origin string) ([]byte, error) {
	if s.opts.Origin != "" {
		origin = s.opts.Origin
	}
	return s.fcm.credentialsJSON(&s.opts, origin)
}

// writeOAuthError writes an RFC 6749 §5.2 error as Google's token endpoint
// does.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	data, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// serveToken answers the OAuth 2.0 token endpoint: the JWT-bearer grant of
// the service account, signed RS256 with its key.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST.")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFCMRequestBody+1))
	if err != nil || len(body) > maxFCMRequestBody {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Request body unreadable or too large.")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body.")
		return
	}
	if gt := form.Get("grant_type"); gt != jwtBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := form.Get("assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
		return
	}
	now := s.opts.Now()
	t, err := parseJWT(assertion)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: cannot parse the assertion.")
		return
	}
	f := s.fcm
	if t.alg != "RS256" || (t.kid != "" && t.kid != f.keyID) || t.verifyRS256(&f.key.PublicKey) != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if iss, _ := t.stringClaim("iss"); iss != f.clientEmail {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	}
	if aud, _ := t.stringClaim("aud"); aud != s.origin(r)+s.opts.FCMTokenPath {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check.")
		return
	}
	iat, okIat := t.timeClaim("iat")
	exp, okExp := t.timeClaim("exp")
	if !okIat || !okExp || exp <= iat || time.Duration(exp-iat)*time.Second > maxAssertionLifetime ||
		time.Unix(iat, 0).After(now.Add(s.opts.ClockSkew)) || !time.Unix(exp, 0).After(now) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	scope, _ := t.stringClaim("scope")
	if strings.TrimSpace(scope) == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	grantsFCM := false
	for _, sc := range strings.Fields(scope) {
		if sc == ScopeFirebaseMessaging || sc == ScopeCloudPlatform {
			grantsFCM = true
		}
	}
	token := f.issueAccessToken(issuedToken{expires: now.Add(s.opts.FCMTokenLifetime), fcm: grantsFCM, email: f.clientEmail})
	data, _ := json.Marshal(map[string]any{
		"access_token": token,
		"expires_in":   int(s.opts.FCMTokenLifetime / time.Second),
		"token_type":   "Bearer",
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// FCM error codes (google.firebase.fcm.v1.FcmError.errorCode).
const (
	FCMUnregistered      = "UNREGISTERED"
	FCMInvalidArgument   = "INVALID_ARGUMENT"
	FCMQuotaExceeded     = "QUOTA_EXCEEDED"
	FCMSenderIDMismatch  = "SENDER_ID_MISMATCH"
	FCMUnavailable       = "UNAVAILABLE"
	FCMInternal          = "INTERNAL"
	FCMThirdPartyAuth    = "THIRD_PARTY_AUTH_ERROR"
	FCMUnspecifiedError  = "UNSPECIFIED_ERROR"
	fcmErrorDetailType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestDetailType = "type.googleapis.com/google.rpc.BadRequest"
)

// fieldViolation is a google.rpc.BadRequest.FieldViolation.
type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

// googleStatusFor maps an HTTP status to Google's canonical status and
// FCM's error code.
func googleStatusFor(httpStatus int) (string, string) {
	switch httpStatus {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT", FCMInvalidArgument
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED", FCMThirdPartyAuth
	case http.StatusForbidden:
		return "PERMISSION_DENIED", FCMSenderIDMismatch
	case http.StatusNotFound:
		return "NOT_FOUND", FCMUnregistered
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED", FCMQuotaExceeded
	case http.StatusInternalServerError:
		return "INTERNAL", FCMInternal
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE", FCMUnavailable
	default:
		return "UNKNOWN", FCMUnspecifiedError
	}
}

// writeGoogleError writes a google.rpc.Status error; fcmCode adds an
// FcmError detail, violations a BadRequest detail.
func writeGoogleError(w http.ResponseWriter, httpStatus int, status, message, fcmCode string, violations []fieldViolation) {
	details := []any{}
	if fcmCode != "" {
		details = append(details, map[string]string{"@type": fcmErrorDetailType, "errorCode": fcmCode})
	}
	if len(violations) > 0 {
		details = append(details, map[string]any{"@type": badRequestDetailType, "fieldViolations": violations})
	}
	e := map[string]any{"code": httpStatus, "message": message, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	data, _ := json.Marshal(map[string]any{"error": e})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(data)
}

// fcmError is a refusal of messages:send.
type fcmError struct {
	httpStatus int
	status     string
	message    string
	fcmCode    string
	violations []fieldViolation
}

func invalidArgument(field, description string) *fcmError {
	return &fcmError{httpStatus: http.StatusBadRequest, status: "INVALID_ARGUMENT", message: description,
		fcmCode: FCMInvalidArgument, violations: []fieldViolation{{Field: field, Description: description}}}
}

// serveFCMSend answers POST /v1/projects/{project}/messages:send.
func (s *Server) serveFCMSend(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	rec := Push{Service: ServiceFCM, Proto: r.Proto, Host: r.Host, Time: now}
	fail := func(e *fcmError) {
		if e.httpStatus == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		}
		writeGoogleError(w, e.httpStatus, e.status, e.message, e.fcmCode, e.violations)
		rec.Status, rec.Reason = e.httpStatus, e.fcmCode
		if rec.Reason == "" {
			rec.Reason = e.status
		}
		s.record.add(rec)
	}
	project, tail, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/projects/"), "/")
	if !strings.HasPrefix(r.URL.EscapedPath(), "/v1/projects/") || (tail != "messages:send" && tail != "messages%3Asend" && tail != "messages%3asend") {
		fail(&fcmError{httpStatus: http.StatusNotFound, status: "NOT_FOUND", message: "Requested entity was not found."})
		return
	}
	if r.Method != http.MethodPost {
		fail(&fcmError{httpStatus: http.StatusMethodNotAllowed, status: "INVALID_ARGUMENT", message: "Method not allowed; use POST."})
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	issued, known := s.fcm.openAccessToken(strings.TrimSpace(token))
	if !strings.EqualFold(scheme, "bearer") || !known || !issued.expires.After(now) {
		fail(&fcmError{httpStatus: http.StatusUnauthorized, status: "UNAUTHENTICATED",
			message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."})
		return
	}
	rec.Auth = map[string]string{"client_email": issued.email}
	if !issued.fcm {
		fail(&fcmError{httpStatus: http.StatusForbidden, status: "PERMISSION_DENIED", message: "Request had insufficient authentication scopes."})
		return
	}
	if project != s.opts.FCMProject {
		fail(&fcmError{httpStatus: http.StatusForbidden, status: "PERMISSION_DENIED",
			message: "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/" + project + "' (or it may not exist)."})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		rec.Problems = append(rec.Problems, "Content-Type is not application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFCMRequestBody+1))
	if err != nil || len(body) > maxFCMRequestBody {
		fail(&fcmError{httpStatus: http.StatusRequestEntityTooLarge, status: "INVALID_ARGUMENT", message: "Request payload too large.", fcmCode: FCMInvalidArgument})
		return
	}
	msg, validateOnly, ferr := s.parseSendRequest(body, &rec)
	if ferr != nil {
		fail(ferr)
		return
	}
	rec.Payload = msg
	rec.ValidateOnly = validateOnly
	if rec.TargetKind == "token" || rec.TargetKind == "fid" {
		if _, gone := s.unregisteredAt(ServiceFCM, rec.Target); gone {
			fail(&fcmError{httpStatus: http.StatusNotFound, status: "NOT_FOUND", message: "Requested entity was not found.", fcmCode: FCMUnregistered})
			return
		}
	}
	name := "projects/" + s.opts.FCMProject + "/messages/"
	if validateOnly {
		name += "fake_message_id"
	} else {
		name += "0:" + strconv.FormatInt(now.UnixMicro(), 10) + "%" + randomID(8)
	}
	rec.Status, rec.ID = http.StatusOK, name
	data, _ := json.Marshal(map[string]string{"name": name})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	s.record.add(rec)
}

// Known fields (proto JSON accepts the snake_case and the lowerCamel name).
var (
	sendRequestFields = fieldSet("message", "validate_only")
	messageFields     = fieldSet("name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition", "fid")
	androidFields     = fieldSet("collapse_key", "priority", "ttl", "restricted_package_name", "data", "notification", "fcm_options", "direct_boot_ok", "bandwidth_constrained_ok", "restricted_satellite_ok")
)

// fieldSet maps each snake_case name and its lowerCamel form to the
// snake_case name.
func fieldSet(names ...string) map[string]string {
	m := make(map[string]string, 2*len(names))
	for _, n := range names {
		m[n] = n
		parts := strings.Split(n, "_")
		for i := 1; i < len(parts); i++ {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
		m[strings.Join(parts, "")] = n
	}
	return m
}

// decodeObject decodes a JSON object into its fields by their snake_case
// names; an unknown field is INVALID_ARGUMENT, as Google's JSON parser
// answers.
func decodeObject(raw json.RawMessage, known map[string]string, path string) (map[string]json.RawMessage, *fcmError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, invalidArgument(path, fmt.Sprintf("Invalid JSON payload received. Invalid value at '%s': expected an object.", path))
	}
	out := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		name, ok := known[k]
		if !ok {
			return nil, invalidArgument(path, fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, path))
		}
		if _, dup := out[name]; dup {
			return nil, invalidArgument(path, fmt.Sprintf("Invalid JSON payload received. Field %q at '%s' set twice.", name, path))
		}
		out[name] = v
	}
	return out, nil
}

// parseSendRequest checks a messages:send body; it returns the message
// object and validate_only, and fills rec's target.
func (s *Server) parseSendRequest(body []byte, rec *Push) (json.RawMessage, bool, *fcmError) {
	req, ferr := decodeObject(body, sendRequestFields, "")
	if ferr != nil {
		return nil, false, ferr
	}
	validateOnly := false
	if raw, ok := req["validate_only"]; ok && json.Unmarshal(raw, &validateOnly) != nil {
		return nil, false, invalidArgument("validate_only", "Invalid value at 'validate_only' (TYPE_BOOL), "+string(raw))
	}
	rawMsg, ok := req["message"]
	if !ok {
		return nil, false, invalidArgument("message", "Message must be set.")
	}
	msg, ferr := decodeObject(rawMsg, messageFields, "message")
	if ferr != nil {
		return nil, false, ferr
	}
	for _, kind := range []string{"token", "fid", "topic", "condition"} {
		raw, ok := msg[kind]
		if !ok {
			continue
		}
		if rec.TargetKind != "" {
			return nil, false, invalidArgument("message", fmt.Sprintf("Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '%s'", kind))
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, false, invalidArgument("message."+kind, fmt.Sprintf("Invalid value at 'message.%s' (TYPE_STRING), %s", kind, raw))
		}
		rec.TargetKind, rec.Target = kind, v
	}
	switch rec.TargetKind {
	case "":
		return nil, false, invalidArgument("message", "Recipient of the message is not set.")
	case "token":
		if !validRegistrationToken(rec.Target) {
			return nil, false, invalidArgument("message.token", "The registration token is not a valid FCM registration token")
		}
	case "fid":
		if !validFID(rec.Target) {
			return nil, false, invalidArgument("message.fid", "The fid is not a valid Firebase installation ID")
		}
	case "topic", "condition":
		if rec.Target == "" {
			return nil, false, invalidArgument("message."+rec.TargetKind, "Recipient of the message is not set.")
		}
		rec.Problems = append(rec.Problems, "message sent to a "+rec.TargetKind+", not to one device")
	}
	size := 0
	if raw, ok := msg["data"]; ok {
		n, ferr := checkData(raw, "message.data")
		if ferr != nil {
			return nil, false, ferr
		}
		size += n
	}
	if _, ok := msg["notification"]; ok {
		rec.Problems = append(rec.Problems, "not a data-only message (message.notification is set)")
	}
	if raw, ok := msg["android"]; ok {
		android, ferr := decodeObject(raw, androidFields, "message.android")
		if ferr != nil {
			return nil, false, ferr
		}
		if raw, ok := android["data"]; ok {
			n, ferr := checkData(raw, "message.android.data")
			if ferr != nil {
				return nil, false, ferr
			}
			size += n
		}
		if raw, ok := android["priority"]; ok {
			var p string
			if json.Unmarshal(raw, &p) != nil || (!strings.EqualFold(p, "normal") && !strings.EqualFold(p, "high")) {
				return nil, false, invalidArgument("message.android.priority", fmt.Sprintf("Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %s", raw))
			}
		}
		if raw, ok := android["ttl"]; ok {
			var ttl string
			if json.Unmarshal(raw, &ttl) != nil || !validDuration(ttl) {
				return nil, false, invalidArgument("message.android.ttl", fmt.Sprintf("Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), %s", raw))
			}
			if secs, _ := strconv.ParseFloat(strings.TrimSuffix(ttl, "s"), 64); secs > maxFCMTTLSeconds {
				return nil, false, invalidArgument("message.android.ttl", "TTL exceeds the maximum of 4 weeks (2419200s).")
			}
		}
		if raw, ok := android["collapse_key"]; ok {
			var ck string
			if json.Unmarshal(raw, &ck) != nil {
				return nil, false, invalidArgument("message.android.collapse_key", fmt.Sprintf("Invalid value at 'message.android.collapse_key' (TYPE_STRING), %s", raw))
			}
		}
	}
	if size > s.opts.FCMMaxPayload {
		return nil, false, invalidArgument("message", fmt.Sprintf("Message is too big: the data payload is %d bytes, the limit is %d.", size, s.opts.FCMMaxPayload))
	}
	return rawMsg, validateOnly, nil
}

// checkData checks a map<string,string> of data and returns its size.
func checkData(raw json.RawMessage, path string) (int, *fcmError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return 0, invalidArgument(path, fmt.Sprintf("Invalid value at '%s': expected a map of strings.", path))
	}
	size := 0
	for k, v := range obj {
		var str string
		if json.Unmarshal(v, &str) != nil {
			return 0, invalidArgument(path, fmt.Sprintf("Invalid value at '%s[%s].value' (TYPE_STRING), %s", path, k, v))
		}
		lk := strings.ToLower(k)
		if k == "from" || k == "notification" || k == "message_type" || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm") {
			return 0, invalidArgument(path, "Invalid data payload key: "+k)
		}
		size += len(k) + len(str)
	}
	return size, nil
}

// validRegistrationToken reports whether s can be an FCM registration
// token: 1 to 4096 of [A-Za-z0-9_:-].
func validRegistrationToken(s string) bool {
	if len(s) == 0 || len(s) > 4096 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// validFID reports whether s is a Firebase installation id:
// ^[cdef][A-Za-z0-9_-]{21}$.
func validFID(s string) bool {
	if len(s) != 22 || !strings.ContainsRune("cdef", rune(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validDuration reports whether s is a protobuf Duration in JSON: seconds
// with up to nine fraction digits and an "s".
func validDuration(s string) bool {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return false
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || len(whole) > 12 || (hasFrac && (frac == "" || len(frac) > 9)) {
		return false
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}
