package translate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/devicebridge/caddy-devicebridge/push"
	"github.com/tidwall/gjson"
)

// This file holds the push commands (DEVICE_API.md §7; their rows are in
// table.go) and mail.get's ref:
//
//	push.subscribe    POST  {base}/subscriptions          (no state: create)
//	                  PATCH {base}/subscriptions/{id}     (state: renew, expirationDateTime only)
//	push.list         GET   {base}/subscriptions
//	push.unsubscribe  DELETE {base}/subscriptions/{id}
//
// push.subscribe seals the routing blob R (push.Keys.SealRouting) into the
// subscription's notificationUrl and lifecycleNotificationUrl, with
// clientState = MAC(R), and answers {"state","id","expires","renewAfter"}.
// The push state is a state sealed by sealState for push.subscribe's wire
// id and the scope "push"; its link is the subscription's own path with the
// renewal facts in the query:
//
//	/subscriptions/{id}?e={expiry}&k={R's key id}&i={R's issue time}&h={digest}
//
// (times in Unix seconds, the key id in hex, the digest base64url). The
// digest is a hash of everything R and the subscription were made from
// (target, watch, folder, alert, account, device, principal), so that a
// renewal can tell, without R, whether R would differ: then, or when R's
// key is no longer the first, or when R is older than push_reseal_after,
// the renewal answers resync_required, since Graph cannot change a
// subscription's clientState or lifecycleNotificationUrl and R never
// changes for a subscription's life.
//
// push.unsubscribe deletes the subscription of a push state, or those of
// 1–20 ids: a command that fans out, one DELETE per id (command.more), all
// in the envelope's one $batch, which holds at most MaxBatchItems requests
// in all. Its result is {} when every DELETE answered 2xx or 404 (already
// gone), else the error of the first that failed; deleting again is
// harmless, so the device retries the whole command.

// opPushSubscribe is push.subscribe's wire id (its row's): push states are
// sealed and opened for it, by push.subscribe and push.unsubscribe alike.
const opPushSubscribe opKind = 22

// pushStateScope is the scope of every push state.
const pushStateScope = "push"

const (
	maxDeviceLen  = 64
	maxAccountLen = 16
	// maxPushIDs is how many subscription ids one push.unsubscribe takes.
	maxPushIDs = 20
	// pushDigestLen is the length of the parameters' digest in a push state.
	pushDigestLen = 16
	// pushChangeTypes are the change types of every subscription.
	pushChangeTypes = "created,updated,deleted"
)

// Fixed messages of the push commands.
const (
	msgPushNotConfigured  = "push is not configured"
	msgPushAPNsOff        = "push platform apns is not configured"
	msgPushFCMOff         = "push platform fcm is not configured"
	msgPushWebPushOff     = "push platform webpush is not configured"
	msgPushMailbox        = "push covers only the signed-in user's own mailbox; mailbox is not accepted"
	msgBadPlatform        = "platform must be apns, fcm or webpush"
	msgBadWatch           = "watch must be mail, calendar or contacts"
	msgPushFolderMailOnly = "folder is accepted only with watch mail"
	msgBadDevice          = "device must be 1-64 characters of [A-Za-z0-9_-]"
	msgBadAccount         = "account must be at most 16 characters of [A-Za-z0-9_-]"
	msgBadAlert           = "alert must be a boolean"
	msgBadEnv             = "env must be production or sandbox, and only with platform apns"
	msgBadAPNsToken       = "token must be a hex APNs device token of even length 16-400"
	msgBadFCMTarget       = "fcm needs exactly one of token or fid, 1-4096 characters of [A-Za-z0-9_:-]"
	msgBadEndpoint        = "endpoint must be an https URL of at most 2048 bytes"
	msgBadWebPushKeys     = "p256dh must be a base64url 65-byte P-256 point and auth base64url 16 bytes"
	msgEndpointRefused    = "endpoint is not on the operator's web push allow list"
	msgForeignTarget      = "a target argument of another platform is given"
	msgURLTooLong         = "the notification URL would exceed 2048 bytes"
	msgPushStateOrIDs     = "give either state or ids"
	msgBadPushIDs         = "ids must be an array of 1-20 distinct subscription ids"
	msgPushResync         = "the subscription must be created again: subscribe without state, then unsubscribe the old one"
	msgPushValidation     = "upstream could not validate the notification URLs"
	msgBadRef             = "ref cannot be opened"
	msgIDAndRef           = "give either id or ref"
	msgRefMailbox         = "ref names a message of the signed-in user's own mailbox; mailbox is not accepted"
	msgPushSealFailed     = "the routing blob could not be sealed"
)

// pushCommand holds a push command's arguments and what prepare derives.
type pushCommand struct {
	target  push.Target
	watch   push.Kind
	device  string
	account string
	alert   bool
	state   string // the push state given, "" for none

	subID   string // subscription id (escaped: pathSegmentSafe or %XX)
	issued  time.Time
	expires time.Time // the expiry asked of Graph
	keyID   uint32    // the id of the key R was sealed with
	rIssued int64     // R's issue time, Unix seconds
	digest  [pushDigestLen]byte
}

// pushResync is the answer of a renewal that cannot keep R.
func pushResync() *Error { return NewError(http.StatusGone, CodeResyncRequired, msgPushResync) }

// isPushStateFields: a push state carries no field set.
func isPushStateFields(f fieldSet) bool { return f == 0 }

// parsePushSubscribeArgs checks push.subscribe's arguments (their form;
// what depends on the configuration is preparePushSubscribe's).
func parsePushSubscribeArgs(c *command, a *argValues) *Error {
	if c.mailbox != "" {
		return invalidArgs(msgPushMailbox)
	}
	pc := &pushCommand{watch: push.KindMail}
	c.push = pc
	if a.platform.Type != gjson.String {
		return invalidArgs(msgBadPlatform)
	}
	platform, ok := push.ParsePlatform(a.platform.Str)
	if !ok {
		return invalidArgs(msgBadPlatform)
	}
	if err := parsePushTarget(&pc.target, platform, a); err != nil {
		return err
	}
	if a.watch.Exists() {
		switch {
		case a.watch.Type != gjson.String:
			return invalidArgs(msgBadWatch)
		case a.watch.Str == "mail":
		case a.watch.Str == "calendar":
			pc.watch = push.KindCalendar
		case a.watch.Str == "contacts":
			pc.watch = push.KindContacts
		default:
			return invalidArgs(msgBadWatch)
		}
	}
	switch {
	case pc.watch != push.KindMail && c.folder != "":
		return invalidArgs(msgPushFolderMailOnly)
	case pc.watch == push.KindMail && c.folder == "":
		c.folder = "inbox"
	}
	if a.device.Type != gjson.String || !isPushTag(a.device.Str, maxDeviceLen) {
		return invalidArgs(msgBadDevice)
	}
	pc.device = a.device.Str
	if a.account.Exists() {
		if a.account.Type != gjson.String || a.account.Str != "" && !isPushTag(a.account.Str, maxAccountLen) {
			return invalidArgs(msgBadAccount)
		}
		pc.account = a.account.Str
	}
	if a.alert.Exists() {
		if a.alert.Type != gjson.True && a.alert.Type != gjson.False {
			return invalidArgs(msgBadAlert)
		}
		pc.alert = a.alert.Type == gjson.True
	}
	if a.state.Exists() {
		if a.state.Type != gjson.String {
			return invalidArgs(msgBadStateArg)
		}
		pc.state = a.state.Str
	}
	return nil
}

// parsePushTarget reads the target of platform: apns token (and env), fcm
// token or fid, webpush endpoint, p256dh and auth. Target arguments of
// another platform are refused.
func parsePushTarget(t *push.Target, platform push.Platform, a *argValues) *Error {
	t.Platform = platform
	str := func(v gjson.Result) (string, bool) { return v.Str, v.Type == gjson.String }
	if a.env.Exists() && platform != push.PlatformAPNs {
		return invalidArgs(msgBadEnv)
	}
	switch platform {
	case push.PlatformAPNs:
		if a.fid.Exists() || a.endpoint.Exists() || a.p256dh.Exists() || a.auth.Exists() {
			return invalidArgs(msgForeignTarget)
		}
		if a.env.Exists() {
			switch {
			case a.env.Type != gjson.String:
				return invalidArgs(msgBadEnv)
			case a.env.Str == "production":
			case a.env.Str == "sandbox":
				t.Env = push.EnvSandbox
			default:
				return invalidArgs(msgBadEnv)
			}
		}
		tok, ok := str(a.token)
		if !ok {
			return invalidArgs(msgBadAPNsToken)
		}
		t.Token = strings.ToLower(tok)
		if t.Validate() != nil {
			return invalidArgs(msgBadAPNsToken)
		}
	case push.PlatformFCM:
		if a.endpoint.Exists() || a.p256dh.Exists() || a.auth.Exists() {
			return invalidArgs(msgForeignTarget)
		}
		if a.token.Exists() {
			if t.Token, _ = str(a.token); a.token.Type != gjson.String {
				return invalidArgs(msgBadFCMTarget)
			}
		}
		if a.fid.Exists() {
			if t.FID, _ = str(a.fid); a.fid.Type != gjson.String {
				return invalidArgs(msgBadFCMTarget)
			}
		}
		if t.Validate() != nil {
			return invalidArgs(msgBadFCMTarget)
		}
	case push.PlatformWebPush:
		if a.token.Exists() || a.fid.Exists() {
			return invalidArgs(msgForeignTarget)
		}
		ep, ok := str(a.endpoint)
		if !ok || !validEndpoint(ep) {
			return invalidArgs(msgBadEndpoint)
		}
		t.Endpoint = ep
		p256dh, ok1 := str(a.p256dh)
		auth, ok2 := str(a.auth)
		if !ok1 || !ok2 {
			return invalidArgs(msgBadWebPushKeys)
		}
		key, secret, err := push.DecodeWebPushKeys(p256dh, auth)
		if err != nil {
			return invalidArgs(msgBadWebPushKeys)
		}
		t.P256dh, t.Auth = key, secret
		if err := t.Validate(); err != nil {
			return invalidArgs(msgBadEndpoint)
		}
	}
	return nil
}

// validEndpoint checks a web push endpoint's form: an https URL with a
// host, no user info or fragment, at most 2048 bytes. The allow list is
// the operator's check (PushOptions.CheckWebPushEndpoint).
func validEndpoint(s string) bool {
	if len(s) > 2048 || !strings.HasPrefix(s, "https://") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && u.Hostname() != "" && u.User == nil && u.Fragment == ""
}

// isPushTag reports whether s is 1..max characters of [A-Za-z0-9_-].
func isPushTag(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// pushConfigured returns the push configuration, or the error of a
// translator without it.
func (t *Translator) pushConfigured() (*pushConfig, *Error) {
	if t.push == nil {
		return nil, invalidArgs(msgPushNotConfigured)
	}
	return t.push, nil
}

// preparePushSubscribe creates (no state) or renews (state) the
// subscription: the configured platform and endpoint, then R, the URLs and
// the body of the POST; or the checks of a renewal and its PATCH.
func (p *Plan) preparePushSubscribe(c *command) *Error {
	cfg, err := p.t.pushConfigured()
	if err != nil {
		return err
	}
	pc := c.push
	switch pl := pc.target.Platform; {
	case !cfg.platforms[pl] && pl == push.PlatformAPNs:
		return invalidArgs(msgPushAPNsOff)
	case !cfg.platforms[pl] && pl == push.PlatformFCM:
		return invalidArgs(msgPushFCMOff)
	case !cfg.platforms[pl]:
		return invalidArgs(msgPushWebPushOff)
	case pl == push.PlatformWebPush && cfg.checkEndpoint(pc.target.Endpoint) != nil:
		return invalidArgs(msgEndpointRefused)
	}
	now := p.t.now()
	pc.issued = now
	pc.expires = now.Add(cfg.ttl).Truncate(time.Second)
	pc.digest = pushDigest(c, p.tenantID, p.userID)
	if pc.state != "" {
		return p.preparePushRenewal(c, cfg, now)
	}

	r := &push.Routing{Target: pc.target, Watch: pc.watch, Alert: pc.alert, Account: pc.account,
		Issued: now, NotAfter: now.Add(cfg.resealAfter + cfg.ttl)}
	blob, serr := cfg.keys.SealRouting(r, pc.device, p.tenantID, p.userID)
	if serr != nil {
		return invalidArgs(msgPushSealFailed)
	}
	clientState, serr := cfg.keys.ClientState(blob)
	if serr != nil {
		return invalidArgs(msgPushSealFailed)
	}
	if len(cfg.notifyBase)+len(blob) >= MaxNotificationURLLen || len(cfg.lifecycleBase)+len(blob) >= MaxNotificationURLLen {
		return invalidArgs(msgURLTooLong)
	}
	pc.keyID = cfg.keys.FirstKeyID()
	pc.rIssued = now.Unix()

	b := make([]byte, 0, 256+2*len(blob)+len(cfg.notifyBase)+len(cfg.lifecycleBase))
	b = append(b, `{"changeType":"`+pushChangeTypes+`","notificationUrl":`...)
	b = appendJSONString(b, cfg.notifyBase+blob)
	b = append(b, `,"lifecycleNotificationUrl":`...)
	b = appendJSONString(b, cfg.lifecycleBase+blob)
	b = append(b, `,"resource":`...)
	b = appendJSONString(b, pushResource(pc.watch, c.folder))
	b = append(b, `,"expirationDateTime":"`...)
	b = pc.expires.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","clientState":`...)
	b = appendJSONString(b, clientState)
	c.payload = append(b, '}')
	return nil
}

// preparePushRenewal opens the push state and, when R may stay, makes the
// command the PATCH of the expiry alone.
func (p *Plan) preparePushRenewal(c *command, cfg *pushConfig, now time.Time) *Error {
	pc := c.push
	st, err := p.t.openPushState(pc.state)
	if err != nil {
		return err
	}
	switch {
	case st.digest != pc.digest, // another target, watch, alert, account, device or principal
		st.keyID != cfg.keys.FirstKeyID(),                   // R's key is no longer the one that seals
		now.Sub(time.Unix(st.rIssued, 0)) > cfg.resealAfter, // R is too old
		now.After(st.expires):                               // Graph has dropped the subscription
		return pushResync()
	}
	pc.subID, pc.keyID, pc.rIssued = st.subID, st.keyID, st.rIssued
	c.method = http.MethodPatch
	b := make([]byte, 0, 48)
	b = append(b, `{"expirationDateTime":"`...)
	b = pc.expires.UTC().AppendFormat(b, time.RFC3339)
	c.payload = append(b, `"}`...)
	return nil
}

// pushResource is the Graph resource of a watched kind.
func pushResource(watch push.Kind, folder string) string {
	switch watch {
	case push.KindCalendar:
		return "me/events"
	case push.KindContacts:
		return "me/contacts"
	}
	return "me/mailFolders('" + folder + "')/messages" // folder: well-known name or [A-Za-z0-9_=+-]
}

// pushDigest hashes everything R and the subscription are made from, for a
// renewal to compare (the state is sealed: the digest is never seen).
func pushDigest(c *command, tenantID, userID string) [pushDigestLen]byte {
	pc := c.push
	h := sha256.New()
	var n [4]byte
	part := func(s string) {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	t := &pc.target
	part(t.Platform.String())
	part(t.Env.String())
	part(strings.ToLower(t.Token))
	part(t.FID)
	part(t.Endpoint)
	part(string(t.P256dh))
	part(string(t.Auth))
	part(string(pc.watch))
	part(c.folder)
	part(strconv.FormatBool(pc.alert))
	part(pc.account)
	part(pc.device)
	part(strings.ToLower(tenantID))
	part(strings.ToLower(userID))
	var d [pushDigestLen]byte
	copy(d[:], h.Sum(nil))
	return d
}

// pushState is an opened push state.
type pushState struct {
	subID   string // escaped
	expires time.Time
	keyID   uint32
	rIssued int64
	digest  [pushDigestLen]byte
}

// openPushState opens a push state. Unlike a sync state it is not bound to
// the token's identity in its additional data: the digest in its link
// covers the tenant and user R was bound to, and a mismatch is
// resync_required (subscribe again), not invalid_state. An expired one answers
// resync_required: it is older than the state TTL, which is at least the
// subscription's lifetime, so its subscription has expired.
func (t *Translator) openPushState(token string) (pushState, *Error) {
	var st pushState
	rec, err := t.openState(token, opPushSubscribe, nil, pushStateScope)
	if err != nil {
		if err.Message == msgStateExpired {
			return st, pushResync()
		}
		return st, err
	}
	if !parsePushLink(rec.link, &st) {
		return st, stateInvalid()
	}
	return st, nil
}

// appendPushLink writes a push state's link (see the file comment).
func appendPushLink(b []byte, subID string, expires time.Time, keyID uint32, rIssued int64, digest [pushDigestLen]byte) []byte {
	b = append(b, "/subscriptions/"...)
	b = append(b, subID...)
	b = append(b, "?e="...)
	b = strconv.AppendInt(b, expires.Unix(), 10)
	b = append(b, "&k="...)
	b = hex.AppendEncode(b, binary.BigEndian.AppendUint32(nil, keyID))
	b = append(b, "&i="...)
	b = strconv.AppendInt(b, rIssued, 10)
	b = append(b, "&h="...)
	return base64.RawURLEncoding.AppendEncode(b, digest[:])
}

// parsePushLink reads a push state's link; false when it is not one.
func parsePushLink(link string, st *pushState) bool {
	rest, ok := strings.CutPrefix(link, "/subscriptions/")
	if !ok {
		return false
	}
	id, q, ok := strings.Cut(rest, "?e=")
	if !ok || !validEscapedID(id) {
		return false
	}
	e, q, ok1 := strings.Cut(q, "&k=")
	k, q, ok2 := strings.Cut(q, "&i=")
	i, h, ok3 := strings.Cut(q, "&h=")
	if !ok1 || !ok2 || !ok3 || len(k) != 8 {
		return false
	}
	exp, err1 := strconv.ParseInt(e, 10, 64)
	issued, err2 := strconv.ParseInt(i, 10, 64)
	kb, err3 := hex.DecodeString(k)
	d, err4 := base64.RawURLEncoding.DecodeString(h)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(d) != pushDigestLen || exp < 0 || issued < 0 {
		return false
	}
	st.subID, st.expires, st.keyID, st.rIssued = id, time.Unix(exp, 0), binary.BigEndian.Uint32(kb), issued
	copy(st.digest[:], d)
	return true
}

// validEscapedID reports whether s is a subscription id as appendPathSegment
// writes a valid Graph id: path-safe bytes and %XX escapes only.
func validEscapedID(s string) bool {
	raw, err := url.PathUnescape(s)
	return err == nil && validGraphID(raw) && string(appendPathSegment(nil, raw)) == s
}

// pushSubscribePath is /subscriptions (create) or /subscriptions/{id} (renew).
func pushSubscribePath(b []byte, c *command) []byte {
	if c.push.subID != "" {
		return pushSubscriptionPath(b, c)
	}
	return pushSubscriptionsPath(b, c)
}

func pushSubscriptionsPath(b []byte, _ *command) []byte { return append(b, "/subscriptions"...) }

// pushSubscriptionPath is /subscriptions/{id}; subID is already escaped.
func pushSubscriptionPath(b []byte, c *command) []byte {
	return pushSubscriptionPathOf(b, c.push.subID)
}

// pushSubscriptionPathOf appends /subscriptions/{id} for an escaped id.
func pushSubscriptionPathOf(b []byte, escapedID string) []byte {
	b = append(b, "/subscriptions/"...)
	return append(b, escapedID...)
}

// appendPushSubscribeData writes {"state","id","expires","renewAfter"} from
// Graph's subscription: expires is Graph's expirationDateTime when it
// reads as a time (Graph may raise a short expiry), else the one asked
// for; renewAfter lies at two thirds of the lifetime.
func (p *Plan) appendPushSubscribeData(b []byte, c *command, body gjson.Result) ([]byte, *Error) {
	pc := c.push
	subID := pc.subID
	if subID == "" {
		id := body.Get("id")
		if id.Type != gjson.String || !validGraphID(id.Str) {
			return b, upstreamMalformed()
		}
		subID = string(appendPathSegment(nil, id.Str))
	}
	expires := pc.expires
	if e := body.Get("expirationDateTime"); e.Type == gjson.String {
		if ts, err := time.Parse(time.RFC3339Nano, e.Str); err == nil && ts.After(pc.issued) {
			expires = ts.Truncate(time.Second)
		}
	}
	renewAfter := pc.issued.Add(expires.Sub(pc.issued) * 2 / 3).Truncate(time.Second)

	if p.scratch == nil {
		p.scratch = getBuf()
	}
	var linkBuf [160]byte
	link := appendPushLink(linkBuf[:0], subID, expires, pc.keyID, pc.rIssued, pc.digest)
	b = append(b, `{"state":"`...)
	b = p.t.sealState(b, p.scratch, opPushSubscribe, nil, pushStateScope, 1, 0, string(link))
	b = append(b, `","id":`...)
	raw, _ := url.PathUnescape(subID) // checked above or when the state opened
	b = appendJSONString(b, raw)
	b = append(b, `,"expires":"`...)
	b = expires.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","renewAfter":"`...)
	b = renewAfter.UTC().AppendFormat(b, time.RFC3339)
	return append(b, `"}`...), nil
}

// pushSubscribeFailure maps a failed create or renewal: Graph's 400 about
// the validation of the notification URLs is the bridge's or Graph's
// problem, not the device's (502 upstream_error); a renewal whose
// subscription Graph no longer knows answers resync_required.
func pushSubscribeFailure(c *command, status int, code string, body gjson.Result) *Error {
	switch {
	case status == http.StatusNotFound && c.push != nil && c.push.subID != "":
		return pushResync()
	case status == http.StatusBadRequest && isValidationFailure(code, body):
		return upstreamFailed(msgPushValidation)
	}
	return nil
}

// isValidationFailure reports whether Graph's 400 is about the validation
// request to the notification URLs: code ValidationError, or a message
// about the validation request (Graph also answers InvalidRequest
// "Subscription validation request timed out.").
func isValidationFailure(code string, body gjson.Result) bool {
	if equalFoldASCII(code, "ValidationError") {
		return true
	}
	msg := body.Get("error.message")
	return msg.Type == gjson.String && strings.Contains(strings.ToLower(msg.Str), "validation request")
}

// parsePushListArgs checks push.list's arguments: device, optional.
func parsePushListArgs(c *command, a *argValues) *Error {
	if c.mailbox != "" {
		return invalidArgs(msgPushMailbox)
	}
	c.push = &pushCommand{}
	if a.device.Exists() {
		if a.device.Type != gjson.String || !isPushTag(a.device.Str, maxDeviceLen) {
			return invalidArgs(msgBadDevice)
		}
		c.push.device = a.device.Str
	}
	return nil
}

func (p *Plan) preparePushList(*command) *Error {
	_, err := p.t.pushConfigured()
	return err
}

// appendPushListData writes {"subscriptions":[{"id","watch","platform",
// "expires","mine"}]}: watch and platform from R, present only when the
// notificationUrl is this bridge's and R opens; mine when R's device hash
// is the device argument's. Items without a string id are skipped.
func (p *Plan) appendPushListData(b []byte, c *command, body gjson.Result) ([]byte, *Error) {
	value := body.Get("value")
	if value.Exists() && !value.IsArray() {
		return b, upstreamMalformed()
	}
	cfg := p.t.push
	b = append(b, `{"subscriptions":[`...)
	n := 0
	eachElement(value.Raw, func(item gjson.Result) bool {
		if !item.IsObject() {
			return true
		}
		var id, notify, expires gjson.Result
		eachMember(item.Raw, func(k string, v gjson.Result) bool {
			switch k {
			case "id":
				id = v
			case "notificationUrl":
				notify = v
			case "expirationDateTime":
				expires = v
			}
			return true
		})
		if id.Type != gjson.String {
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"id":`...)
		b = appendStringToken(b, id)
		var r *push.Routing
		if notify.Type == gjson.String {
			if blob, ok := strings.CutPrefix(notify.Str, cfg.notifyBase); ok {
				r, _ = cfg.keys.OpenRouting(blob)
			}
		}
		if r != nil {
			b = append(b, `,"watch":"`...)
			b = append(b, r.Watch...)
			b = append(b, `","platform":"`...)
			b = append(b, r.Target.Platform.String()...)
			b = append(b, '"')
		}
		if expires.Type == gjson.String {
			if ts, err := time.Parse(time.RFC3339Nano, expires.Str); err == nil {
				b = append(b, `,"expires":"`...)
				b = ts.UTC().Truncate(time.Second).AppendFormat(b, time.RFC3339)
				b = append(b, '"')
			}
		}
		b = append(b, `,"mine":`...)
		b = appendBool(b, r != nil && c.push.device != "" && cfg.keys.SameDevice(r, c.push.device))
		b = append(b, '}')
		return true
	})
	return append(b, "]}"...), nil
}

// parsePushUnsubscribeArgs checks push.unsubscribe's arguments: a push
// state, or ids holding 1–20 subscription ids. The first id's DELETE is
// the command's url (pushSubscriptionPath); each further id's is in c.more.
func parsePushUnsubscribeArgs(c *command, a *argValues) *Error {
	if c.mailbox != "" {
		return invalidArgs(msgPushMailbox)
	}
	pc := &pushCommand{}
	c.push = pc
	if a.state.Exists() == a.ids.Exists() {
		return invalidArgs(msgPushStateOrIDs)
	}
	if a.state.Exists() {
		if a.state.Type != gjson.String {
			return invalidArgs(msgBadStateArg)
		}
		pc.state = a.state.Str
		return nil
	}
	var ids [maxPushIDs]string
	n, ok := parsePushIDs(a.ids, &ids)
	if !ok {
		return invalidArgs(msgBadPushIDs)
	}
	pc.subID = string(appendPathSegment(nil, ids[0]))
	if n > 1 {
		c.more = make([]string, n-1)
		for j, id := range ids[1:n] {
			c.more[j] = string(pushSubscriptionPathOf(nil, string(appendPathSegment(nil, id))))
		}
	}
	return nil
}

// parsePushIDs reads ids, an array of 1 to maxPushIDs distinct Graph ids,
// into dst and reports how many it holds.
func parsePushIDs(v gjson.Result, dst *[maxPushIDs]string) (int, bool) {
	if !v.IsArray() {
		return 0, false
	}
	n, ok := 0, true
	eachElement(v.Raw, func(e gjson.Result) bool {
		if n == maxPushIDs || e.Type != gjson.String || !validGraphID(e.Str) {
			ok = false
			return false
		}
		for _, seen := range dst[:n] {
			if seen == e.Str {
				ok = false // the same subscription twice: two DELETEs, one 404
				return false
			}
		}
		dst[n] = e.Str
		n++
		return true
	})
	return n, ok && n >= 1
}

// preparePushUnsubscribe opens the push state, if given, for its
// subscription id.
func (p *Plan) preparePushUnsubscribe(c *command) *Error {
	if _, err := p.t.pushConfigured(); err != nil {
		return err
	}
	if c.push.state == "" {
		return nil
	}
	st, err := p.t.openPushState(c.push.state)
	if err != nil {
		return err
	}
	c.push.subID = st.subID
	return nil
}

// openRef opens mail.get's ref: a message id sealed into an alert push.
func (t *Translator) openRef(c *command, ref gjson.Result) (string, *Error) {
	if t.push == nil {
		return "", invalidArgs(msgPushNotConfigured)
	}
	if c.mailbox != "" {
		return "", invalidArgs(msgRefMailbox)
	}
	if ref.Type != gjson.String {
		return "", invalidArgs(msgBadRef)
	}
	id, err := t.push.keys.OpenRef(ref.Str)
	if err != nil || !validGraphID(id) {
		return "", invalidArgs(msgBadRef)
	}
	return id, nil
}
