package caddymodule_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	_ "github.com/devicebridge/caddy-devicebridge/pushemulator"
)

// The push tests run the bridge with a push block against a fourth site,
// the push service double (push_emulator: APNs, FCM and Web Push), on
// pushPort. Every leg is TLS signed by Caddy's internal CA: device →
// bridge, bridge → Graph emulator, Graph emulator → the bridge's webhook
// (the emulator trusts the local CA by default), bridge → push services
// (the push block's trust_pool pki_root local).
var (
	pushPort   = 7447 + portOffset()
	pushOrigin = fmt.Sprintf("https://localhost:%d", pushPort)
)

const (
	emuAPNsKeyID  = "EMUKEY0001"
	emuAPNsTeamID = "EMUTEAM001"
	emuAPNsTopic  = "com.example.devicebridge"
	emuFCMProject = "devicebridge-emulator"
	emuFCMEmail   = "firebase-adminsdk@devicebridge-emulator.iam.gserviceaccount.com"
)

// pushKeys are the key files both the bridge and the push emulator read:
// written once per test process, before either is provisioned.
var pushKeys struct {
	once             sync.Once
	apns, fcm, vapid string
	err              error
}

func pushKeyFiles(t *testing.T) (apnsKey, fcmCredentials, vapidKey string) {
	t.Helper()
	pushKeys.once.Do(func() {
		dir := filepath.Join(os.Getenv("XDG_DATA_HOME"), "push-keys")
		if pushKeys.err = os.MkdirAll(dir, 0o700); pushKeys.err != nil {
			return
		}
		write := func(name string, data []byte) string {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o600); err != nil && pushKeys.err == nil {
				pushKeys.err = err
			}
			return path
		}
		ec := func() []byte {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, _ := x509.MarshalPKCS8PrivateKey(key)
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
		pushKeys.apns = write("AuthKey_"+emuAPNsKeyID+".p8", ec())
		pushKeys.vapid = write("vapid.pem", ec())
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			pushKeys.err = err
			return
		}
		der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
		sa, _ := json.Marshal(map[string]string{
			"type":           "service_account",
			"project_id":     emuFCMProject,
			"private_key_id": randomHex(20),
			"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			"client_email":   emuFCMEmail,
			"client_id":      "1",
			"token_uri":      pushOrigin + "/token",
		})
		pushKeys.fcm = write("fcm.json", sa)
	})
	require.NoError(t, pushKeys.err)
	return pushKeys.apns, pushKeys.fcm, pushKeys.vapid
}

// pushServer is the test server with push on, and the push emulator.
func pushServer(t *testing.T) testServer {
	apnsKey, fcmCredentials, vapidKey := pushKeyFiles(t)
	return testServer{
		bridge: fmt.Sprintf(`push {
public_url https://localhost:%d
trust_pool pki_root local
apns {
key_file %s
key_id %s
team_id %s
topic %s
endpoint %s
sandbox_endpoint %s
}
fcm {
credentials_file %s
endpoint %s
}
webpush {
vapid_key_file %s
subject mailto:ops@example.com
allow_hosts localhost:%d
}
}`, devicePort, apnsKey, emuAPNsKeyID, emuAPNsTeamID, emuAPNsTopic, pushOrigin, pushOrigin,
			fcmCredentials, pushOrigin, vapidKey, pushPort),
		sites: fmt.Sprintf(`https://localhost:%d {
push_emulator {
origin %s
apns_key_id %s
apns_team_id %s
apns_topic %s
apns_key_file %s
fcm_project %s
fcm_credentials_file %s
}
}`, pushPort, pushOrigin, emuAPNsKeyID, emuAPNsTeamID, emuAPNsTopic, apnsKey, emuFCMProject, fcmCredentials),
	}
}

// startPushBridge starts the push test server with deterministic Graph
// notifications: no duplicated POSTs, quick retries.
func startPushBridge(t *testing.T) *env {
	t.Helper()
	e := startBridgeWith(t, pushServer(t).caddyfile())
	e.control("PATCH", "/_emulator/notifications/settings", map[string]any{
		"duplicateEvery": -1, "retryInitial": "500ms", "retryMaxInterval": "1s", "tokenExpiry": "continue",
	}, http.StatusOK)
	e.pushControl("DELETE", "/faults", nil, http.StatusNoContent)
	// The bridge's FCM sender fetches its first access token in the
	// background, and its first try may come before the push emulator
	// listens: wait until the token endpoint has been asked.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		stats := gjson.ParseBytes(e.pushControl("GET", "/stats", nil, http.StatusOK))
		if stats.Get("oauth.requests").Int() > 0 {
			time.Sleep(200 * time.Millisecond)
			break
		}
	}
	return e
}

// pushControl calls the push emulator's control API.
func (e *env) pushControl(method, path string, body any, wantStatus int) []byte {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(e.t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, pushOrigin+"/_push"+path, reader)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, wantStatus, resp.StatusCode, "push control %s %s: %s", method, path, out)
	return out
}

// pushSeq is the sequence number of the push emulator's latest record.
func (e *env) pushSeq() int64 {
	e.t.Helper()
	var last int64
	for _, p := range gjson.ParseBytes(e.pushControl("GET", "/sent", nil, http.StatusOK)).Array() {
		last = max(last, p.Get("seq").Int())
	}
	return last
}

// waitPushes waits for count pushes of service to target after seq.
func (e *env) waitPushes(service, target string, after int64, count int) []gjson.Result {
	e.t.Helper()
	q := url.Values{"service": {service}, "after": {strconv.FormatInt(after, 10)},
		"wait": {"20s"}, "count": {strconv.Itoa(count)}}
	if target != "" {
		q.Set("target", target)
	}
	pushes := gjson.ParseBytes(e.pushControl("GET", "/sent?"+q.Encode(), nil, http.StatusOK)).Array()
	require.GreaterOrEqual(e.t, len(pushes), count, "pushes to %s after %d", service, after)
	return pushes
}

// pushesSince lists, without waiting, the pushes of service to target
// after seq.
func (e *env) pushesSince(service, target string, after int64) []gjson.Result {
	e.t.Helper()
	q := url.Values{"service": {service}, "after": {strconv.FormatInt(after, 10)}}
	if target != "" {
		q.Set("target", target)
	}
	return gjson.ParseBytes(e.pushControl("GET", "/sent?"+q.Encode(), nil, http.StatusOK)).Array()
}

// emuSubscriptions lists the Graph emulator's subscriptions of a mailbox.
func (e *env) emuSubscriptions(token string) []gjson.Result {
	e.t.Helper()
	return gjson.ParseBytes(e.control("GET", "/_emulator/mailboxes/"+token+"/subscriptions", nil, http.StatusOK)).Array()
}

// deliver makes a message arrive in the mailbox's Inbox.
func (e *env) deliver(token, subject string) {
	e.t.Helper()
	e.control("POST", "/_emulator/mailboxes/"+token+"/deliver", map[string]any{
		"subject": subject, "from": map[string]any{"name": "Sender", "address": "sender@fabrikam.example"}, "body": map[string]any{"contentType": "text", "content": "the body of " + subject},
	}, http.StatusCreated)
}

// routingBlob returns R of a subscription's notification URL and checks the
// URL is the bridge's own.
func routingBlob(t *testing.T, notificationURL string) string {
	t.Helper()
	base := fmt.Sprintf("https://localhost:%d/device/v1/push/n/", devicePort)
	require.True(t, strings.HasPrefix(notificationURL, base), notificationURL)
	return strings.TrimPrefix(notificationURL, base)
}

// payloadKeys returns a JSON object's member names, sorted.
func payloadKeys(obj gjson.Result) []string {
	var keys []string
	obj.ForEach(func(k, _ gjson.Result) bool {
		keys = append(keys, k.String())
		return true
	})
	sort.Strings(keys)
	return keys
}

// subscribeAPNs subscribes the mailbox's Inbox for an APNs device token.
func (e *env) subscribeAPNs(token, deviceToken, device string, alert bool) gjson.Result {
	e.t.Helper()
	return ok(e.t, e.command(token, "push.subscribe", map[string]any{
		"platform": "apns", "token": deviceToken, "device": device, "account": "work", "alert": alert,
	}))
}

// End to end through APNs: subscribe (the Graph emulator validates both
// notification URLs), new mail → one alert push with sealed refs only, the
// notification service extension's mail.get with the ref finds the
// message, reading it → a background push.
func TestPushAPNsEndToEnd(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)

	data := e.subscribeAPNs(token, deviceToken, "phone-1", true)
	assert.NotEmpty(t, data.Get("state").String())
	assert.NotEmpty(t, data.Get("id").String())
	subs := e.emuSubscriptions(token)
	require.Len(t, subs, 1)
	sub := subs[0]
	assert.Equal(t, data.Get("id").String(), sub.Get("id").String())
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	assert.Equal(t, fmt.Sprintf("https://localhost:%d/device/v1/push/l/%s", devicePort, blob), sub.Get("lifecycleNotificationUrl").String())
	assert.NotContains(t, blob, deviceToken, "R is sealed")

	seq := e.pushSeq()
	e.deliver(token, "Quarterly numbers")
	alert := e.waitPushes("apns", deviceToken, seq, 1)[0]
	assert.Equal(t, int64(200), alert.Get("status").Int(), alert.Raw)
	assert.False(t, alert.Get("problems").Exists(), alert.Raw)
	assert.Equal(t, "alert", alert.Get("headers.Apns-Push-Type").String())
	assert.Equal(t, "10", alert.Get("headers.Apns-Priority").String())
	assert.Equal(t, emuAPNsTopic, alert.Get("headers.Apns-Topic").String())
	assert.Len(t, alert.Get("headers.Apns-Collapse-Id").String(), 22)
	assert.Equal(t, emuAPNsKeyID, alert.Get("auth.kid").String(), "the provider JWT verified")
	assert.Equal(t, emuAPNsTeamID, alert.Get("auth.iss").String())
	payload := alert.Get("payload")
	assert.Equal(t, []string{"a", "aps", "k", "m"}, payloadKeys(payload), payload.Raw)
	assert.Equal(t, "mail", payload.Get("k").String())
	assert.Equal(t, "work", payload.Get("a").String())
	assert.Equal(t, "NEW_MAIL", payload.Get("aps.alert.loc-key").String())
	assert.Equal(t, int64(1), payload.Get("aps.mutable-content").Int())
	refs := payload.Get("m").Array()
	require.Len(t, refs, 1)
	assert.NotContains(t, payload.Raw, "Quarterly")
	assert.NotContains(t, payload.Raw, "fabrikam")

	// The notification service extension resolves the ref.
	msg := ok(t, e.command(token, "mail.get", map[string]any{"ref": refs[0].String(), "fields": []string{"subject", "from"}}))
	assert.Equal(t, "Quarterly numbers", msg.Get("message.subject").String(), msg.Raw)
	messageID := msg.Get("message.id").String()
	require.NotEmpty(t, messageID)

	// Reading the message (on this or another device) must not ring.
	seq = e.pushSeq()
	ok(t, e.command(token, "mail.update", map[string]any{"id": messageID, "read": true}))
	background := e.waitPushes("apns", deviceToken, seq, 1)[0]
	assert.Equal(t, int64(200), background.Get("status").Int(), background.Raw)
	assert.Equal(t, "background", background.Get("headers.Apns-Push-Type").String())
	assert.Equal(t, "5", background.Get("headers.Apns-Priority").String())
	assert.JSONEq(t, `{"aps":{"content-available":1},"k":"mail","a":"work"}`, background.Get("payload").Raw)
	time.Sleep(300 * time.Millisecond)
	for _, p := range e.pushesSince("apns", deviceToken, seq) {
		assert.NotEqual(t, "alert", p.Get("headers.Apns-Push-Type").String(), "an update never rings: %s", p.Raw)
	}
}

// FCM: the OAuth token comes from the credentials' token_uri, the message
// is data-only with string values.
func TestPushFCMEndToEnd(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	registration := "fcm-" + randomHex(24)
	ok(t, e.command(token, "push.subscribe", map[string]any{
		"platform": "fcm", "token": registration, "device": "android-1", "alert": true,
	}))
	seq := e.pushSeq()
	e.deliver(token, "Lunch?")
	p := e.waitPushes("fcm", registration, seq, 1)[0]
	assert.Equal(t, int64(200), p.Get("status").Int(), p.Raw)
	assert.False(t, p.Get("problems").Exists(), p.Raw)
	assert.Equal(t, emuFCMEmail, p.Get("auth.client_email").String(), "the bearer token the emulator issued")
	assert.Equal(t, "token", p.Get("targetKind").String())
	msg := p.Get("payload")
	data := msg.Get("data")
	require.True(t, data.Exists(), msg.Raw)
	assert.Equal(t, "mail", data.Get("k").String())
	assert.False(t, msg.Get("notification").Exists(), "data-only")
	assert.Equal(t, "HIGH", strings.ToUpper(msg.Get("android.priority").String()), "alert class is high priority")
	for _, k := range payloadKeys(data) {
		assert.Contains(t, []string{"k", "a", "m"}, k, data.Raw)
	}
	assert.NotContains(t, msg.Raw, "Lunch")
	refs := data.Get("m").String()
	require.NotEmpty(t, refs, data.Raw)
	list := strings.Split(refs, ",") // FCM data values are strings: the refs joined by commas
	got := ok(t, e.command(token, "mail.get", map[string]any{"ref": list[0], "fields": []string{"subject"}}))
	assert.Equal(t, "Lunch?", got.Get("message.subject").String())

	// Deleting the message: a background push, at the configured (normal)
	// priority, without refs.
	seq = e.pushSeq()
	ok(t, e.command(token, "mail.delete", map[string]any{"id": got.Get("message.id").String()}))
	deleted := e.waitPushes("fcm", registration, seq, 1)[0]
	assert.JSONEq(t, `{"k":"mail"}`, deleted.Get("payload.data").Raw, deleted.Raw)
	assert.Equal(t, "NORMAL", strings.ToUpper(deleted.Get("payload.android.priority").String()))
	assert.Equal(t, "sync", deleted.Get("payload.android.collapse_key").String())
}

// Web push: the endpoint the push emulator issued, the payload encrypted
// to the subscription's keys (the emulator decrypts it), VAPID verified.
func TestPushWebPushEndToEnd(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	sub := gjson.ParseBytes(e.pushControl("POST", "/webpush/subscriptions", nil, http.StatusCreated))
	ok(t, e.command(token, "push.subscribe", map[string]any{
		"platform": "webpush", "endpoint": sub.Get("endpoint").String(),
		"p256dh": sub.Get("p256dh").String(), "auth": sub.Get("auth").String(), "device": "browser-1",
	}))
	seq := e.pushSeq()
	e.deliver(token, "Invoice 42")
	p := e.waitPushes("webpush", sub.Get("id").String(), seq, 1)[0]
	assert.Equal(t, int64(201), p.Get("status").Int(), p.Raw)
	assert.False(t, p.Get("problems").Exists(), p.Raw)
	assert.Equal(t, "mailto:ops@example.com", p.Get("auth.sub").String(), "VAPID verified")
	assert.Equal(t, pushOrigin, p.Get("auth.aud").String())
	assert.Equal(t, "aes128gcm", p.Get("headers.Content-Encoding").String())
	payload := p.Get("payload")
	assert.Equal(t, "mail", payload.Get("k").String(), p.Raw)
	assert.Len(t, payload.Get("m").Array(), 1, "web push is always alert class")
	assert.NotContains(t, payload.Raw, "Invoice")
	got := ok(t, e.command(token, "mail.get", map[string]any{"ref": payload.Get("m.0").String(), "fields": []string{"subject"}}))
	assert.Equal(t, "Invoice 42", got.Get("message.subject").String())

	// Reading a mail is no alert: web push sends nothing for it.
	seq = e.pushSeq()
	ok(t, e.command(token, "mail.update", map[string]any{"id": got.Get("message.id").String(), "read": true}))
	e.waitNotificationsSettled()
	assert.Empty(t, e.pushesSince("webpush", sub.Get("id").String(), seq))
}

// waitNotificationsSettled gives the Graph emulator's asynchronous
// notification POSTs time to arrive and be answered.
func (e *env) waitNotificationsSettled() {
	e.t.Helper()
	time.Sleep(1500 * time.Millisecond)
}

// A renewal PATCHes the expiry only and keeps R; a changed target answers
// resync_required; push.list finds the orphan of an earlier install and
// push.unsubscribe removes it.
func TestPushRenewalListAndUnsubscribe(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	first := e.subscribeAPNs(token, deviceToken, "phone-1", false)
	before := e.emuSubscriptions(token)
	require.Len(t, before, 1)

	renewArgs := map[string]any{"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work",
		"alert": false, "state": first.Get("state").String()}
	renewed := ok(t, e.command(token, "push.subscribe", renewArgs))
	assert.Equal(t, first.Get("id").String(), renewed.Get("id").String())
	after := e.emuSubscriptions(token)
	require.Len(t, after, 1)
	assert.Equal(t, before[0].Get("notificationUrl").String(), after[0].Get("notificationUrl").String(), "R never changes")
	assert.Equal(t, before[0].Get("clientState").String(), after[0].Get("clientState").String())

	// Another device token: the subscription would need a new R.
	renewArgs["token"] = randomHex(32)
	res := e.command(token, "push.subscribe", renewArgs)
	assert.Equal(t, int64(410), res.Get("status").Int(), res.Raw)
	assert.Equal(t, "resync_required", res.Get("error.code").String())

	// The app is reinstalled (its state lost) and subscribes again with the
	// same per-install id: the old subscription is an orphan.
	second := e.subscribeAPNs(token, deviceToken, "phone-1", false)
	e.subscribeAPNs(token, randomHex(32), "tablet-7", false)
	listed := ok(t, e.command(token, "push.list", map[string]any{"device": "phone-1"}))
	subs := listed.Get("subscriptions").Array()
	require.Len(t, subs, 3, listed.Raw)
	var mine []string
	for _, s := range subs {
		assert.Equal(t, "mail", s.Get("watch").String())
		assert.Equal(t, "apns", s.Get("platform").String())
		if s.Get("mine").Bool() {
			mine = append(mine, s.Get("id").String())
		}
	}
	assert.ElementsMatch(t, []string{first.Get("id").String(), second.Get("id").String()}, mine)

	ok(t, e.command(token, "push.unsubscribe", map[string]any{"ids": []string{first.Get("id").String()}}))
	left := e.emuSubscriptions(token)
	require.Len(t, left, 2)
	for _, s := range left {
		assert.NotEqual(t, first.Get("id").String(), s.Get("id").String())
	}
}

// webhookPost posts a body to the bridge's webhook and returns the answer.
func (e *env) webhookPost(kind, blob, query string, body string) (*http.Response, []byte) {
	e.t.Helper()
	u := deviceBase + "/push/" + kind + "/" + blob
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	require.NoError(e.t, err)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/plain")
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, out
}

// notification is one change notification item as Graph sends it.
func notification(sub gjson.Result, changeType, resource, messageID string, expires time.Time) map[string]any {
	return map[string]any{
		"subscriptionId":                 sub.Get("id").String(),
		"subscriptionExpirationDateTime": expires.UTC().Format(time.RFC3339Nano),
		"changeType":                     changeType,
		"resource":                       resource,
		"resourceData": map[string]any{
			"@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource, "id": messageID,
		},
		"clientState": sub.Get("clientState").String(),
		"tenantId":    "7a3c5e1f-2b4d-4f6a-8c9e-0d1b3a5c7e9f",
	}
}

func notificationBody(t *testing.T, items ...map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"value": items})
	require.NoError(t, err)
	return string(raw)
}

// The webhook's own checks: the validation echo only for an R that opens;
// forged notifications (no R, a tampered R, a wrong clientState, an
// expiry outside the window) push nothing and are answered 202; a
// duplicated POST pushes once.
func TestPushWebhookRefusesForgeries(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	e.subscribeAPNs(token, deviceToken, "phone-1", false)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	tampered := blob[:len(blob)-3] + map[bool]string{true: "AAA", false: "BBB"}[!strings.HasSuffix(blob, "AAA")]

	// The validation echo, decoded, as text/plain.
	const graphToken = "Validation: Testing client application reachability for subscription Request-Id: 3b7f"
	resp, body := e.webhookPost("n", blob, "validationToken="+url.QueryEscape(graphToken), "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, graphToken, string(body))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	for _, bad := range []string{tampered, "AAAA", "not-a-blob"} {
		resp, body = e.webhookPost("l", bad, "validationToken=echo-me", "")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.NotContains(t, string(body), "echo-me", "nothing echoed for an R that does not open")
	}
	resource := "Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/AAMkAGI1"
	expires := time.Now().Add(24 * time.Hour)
	seq := e.pushSeq()
	wrongState := notification(sub, "created", resource, "AAMkAGI1", expires)
	wrongState["clientState"] = "x" + sub.Get("clientState").String()[1:]
	noState := notification(sub, "created", resource, "AAMkAGI1", expires)
	delete(noState, "clientState")
	for name, b := range map[string]string{
		"wrong clientState":   notificationBody(t, wrongState),
		"no clientState":      notificationBody(t, noState),
		"expired":             notificationBody(t, notification(sub, "created", resource, "AAMkAGI1", time.Now().Add(-time.Minute))),
		"expiry too far":      notificationBody(t, notification(sub, "created", resource, "AAMkAGI1", time.Now().Add(8*24*time.Hour))),
		"unknown change type": notificationBody(t, notification(sub, "moved", resource, "AAMkAGI1", expires)),
	} {
		resp, body := e.webhookPost("n", blob, "", b)
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "%s: %s", name, body)
	}
	resp, _ = e.webhookPost("n", tampered, "", notificationBody(t, notification(sub, "created", resource, "AAMkAGI1", expires)))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a tampered R")
	e.waitNotificationsSettled()
	assert.Empty(t, e.pushesSince("apns", deviceToken, seq), "forged notifications push nothing")

	// A genuine notification, posted twice (Graph sometimes does): one push.
	genuine := notificationBody(t, notification(sub, "updated", resource, "AAMkAGI1", expires))
	for i := 0; i < 2; i++ {
		resp, body := e.webhookPost("n", blob, "", genuine)
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	}
	e.waitPushes("apns", deviceToken, seq, 1)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, e.pushesSince("apns", deviceToken, seq), 1, "duplicates push once")

	// Requests outside the webhook's description: no R, a body that is
	// no notification list.
	e.sendsInvalidRequests()
	resp, body = e.webhookPost("n", "", "validationToken=echo-me", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no R")
	assert.NotContains(t, string(body), "echo-me")
	seq = e.pushSeq()
	resp, _ = e.webhookPost("n", blob, "", `{"value":"nope"}`)
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	e.waitNotificationsSettled()
	assert.Empty(t, e.pushesSince("apns", deviceToken, seq))
}

// A target the push service no longer knows is that target's problem:
// 202, nothing retried, no breaker. Repeated 5xx of the service open its
// breaker: 503 at once, nothing sent; Graph retries and the push arrives
// once the service is back.
func TestPushServiceFailures(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	gone := randomHex(32)
	e.subscribeAPNs(token, gone, "phone-1", false)
	e.pushControl("POST", "/unregister", map[string]any{"service": "apns", "target": gone}, http.StatusNoContent)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	resource := "Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/AAMkAGI1"
	expires := time.Now().Add(24 * time.Hour)
	seq := e.pushSeq()
	resp, body := e.webhookPost("n", blob, "", notificationBody(t, notification(sub, "updated", resource, "AAMkAGI1", expires)))
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	sent := e.waitPushes("apns", gone, seq, 1)
	assert.Equal(t, int64(410), sent[0].Get("status").Int(), sent[0].Raw)

	// The service fails for everyone: after the breaker's threshold of
	// provider failures the webhook answers 503 without sending.
	other := randomHex(32)
	token2 := e.newMailbox("empty")
	e.subscribeAPNs(token2, other, "phone-2", false)
	sub2 := e.emuSubscriptions(token2)[0]
	blob2 := routingBlob(t, sub2.Get("notificationUrl").String())
	e.pushControl("POST", "/faults", map[string]any{"service": "apns", "status": 500, "count": 0}, http.StatusCreated)
	defer e.pushControl("DELETE", "/faults", nil, http.StatusNoContent)
	post := func() int {
		resp, body := e.webhookPost("n", blob2, "", notificationBody(t, notification(sub2, "updated", resource, "AAMkAGI1", expires)))
		require.Contains(t, []int{http.StatusAccepted, http.StatusServiceUnavailable}, resp.StatusCode, "%s", body)
		return resp.StatusCode
	}
	status := 0
	for i := 0; i < 10 && status != http.StatusServiceUnavailable; i++ {
		status = post()
	}
	require.Equal(t, http.StatusServiceUnavailable, status, "the breaker opened")
	before := len(e.pushesSince("apns", "", 0))
	resp, body = e.webhookPost("n", blob2, "", notificationBody(t, notification(sub2, "updated", resource, "AAMkAGI1", expires)))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "upstream_unavailable", gjson.GetBytes(body, "error.code").String())
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Equal(t, before, len(e.pushesSince("apns", "", 0)), "nothing sent while the breaker is open")

	// Graph's own notification meets the open breaker, gets 503 and
	// retries; once the service is back and the breaker closes, the push
	// arrives.
	e.pushControl("DELETE", "/faults", nil, http.StatusNoContent)
	seq = e.pushSeq()
	e.deliver(token2, "Back again")
	var arrived []gjson.Result
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); {
		for _, p := range e.pushesSince("apns", other, seq) {
			if p.Get("status").Int() == 200 {
				arrived = append(arrived, p)
			}
		}
		if len(arrived) > 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.NotEmpty(t, arrived, "the push arrived after the breaker closed")
	metrics := scrapeMetrics(t)
	assert.Contains(t, metrics, `caddy_devicebridge_push_sends_total{outcome="target_gone",platform="apns"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_push_sends_total{outcome="provider_failure",platform="apns"}`)
	assert.Contains(t, metrics, `caddy_devicebridge_push_webhook_duration_seconds_count{outcome="breaker_open"}`)
}

// emuTenantID is the Graph emulator's default tenantId.
const emuTenantID = "7a3c5e1f-2b4d-4f6a-8c9e-0d1b3a5c7e9f"

// newBoundMailbox creates a mailbox whose token is a JWT carrying tid and
// oid claims (unsigned: the emulator compares tokens as strings and the
// bridge reads claims without verifying them), so the bridge binds R to
// that user. It returns the token and the user's object id.
func (e *env) newBoundMailbox() (token, objectID string) {
	e.t.Helper()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	objectID = fmt.Sprintf("%s-%s-4%s-8%s-%s", randomHex(4), randomHex(2), randomHex(2)[1:], randomHex(2)[1:], randomHex(6))
	claims := fmt.Sprintf(`{"tid":%q,"oid":%q,"aud":"https://graph.microsoft.com"}`, emuTenantID, objectID)
	token = b64(`{"alg":"RS256","typ":"JWT"}`) + "." + b64(claims) + "." + b64(randomHex(16))
	upn := "b-" + randomHex(6) + "@contoso.example"
	e.control("POST", "/_emulator/mailboxes", map[string]any{
		"token": token, "upn": upn, "objectId": objectID, "seed": "empty",
	}, http.StatusCreated)
	return token, objectID
}

// A subscription made with a token naming a user is bound to that user:
// Graph's notifications for that user push, a notification naming another
// user or tenant (with the right clientState) does not.
func TestPushBoundToUser(t *testing.T) {
	e := startPushBridge(t)
	token, objectID := e.newBoundMailbox()
	deviceToken := randomHex(32)
	e.subscribeAPNs(token, deviceToken, "phone-1", true)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())

	seq := e.pushSeq()
	e.deliver(token, "For the bound user")
	alert := e.waitPushes("apns", deviceToken, seq, 1)[0]
	assert.Equal(t, "alert", alert.Get("headers.Apns-Push-Type").String(), alert.Raw)

	time.Sleep(PushAlertIntervalForTests)
	seq = e.pushSeq()
	expires := time.Now().Add(time.Hour)
	otherUser := notification(sub, "created", "Users/"+strings.Replace(objectID, objectID[:4], "ffff", 1)+"/Messages/AAMk1", "AAMk1", expires)
	otherTenant := notification(sub, "created", "Users/"+objectID+"/Messages/AAMk1", "AAMk1", expires)
	otherTenant["tenantId"] = "00000000-0000-4000-8000-000000000000"
	atOtherTenant := notification(sub, "created", "users/"+objectID+"@00000000-0000-4000-8000-000000000000/messages/AAMk1", "AAMk1", expires)
	for name, item := range map[string]map[string]any{"other user": otherUser, "other tenant": otherTenant, "other tenant in resource": atOtherTenant} {
		resp, body := e.webhookPost("n", blob, "", notificationBody(t, item))
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "%s: %s", name, body)
	}
	e.waitNotificationsSettled()
	assert.Empty(t, e.pushesSince("apns", deviceToken, seq), "notifications about another user push nothing")

	// The same user in the resource's other forms is accepted.
	resp, _ := e.webhookPost("n", blob, "", notificationBody(t, notification(sub, "created", "Users('"+objectID+"')/Messages('AAMk2')", "AAMk2", expires)))
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	e.waitPushes("apns", deviceToken, seq, 1)
}

// PushAlertIntervalForTests is the wait after an alert before the next
// alert of the same subscription may go (the bridge's one per 10 s).
const PushAlertIntervalForTests = 10 * time.Second

// Lifecycle events from Graph: reauthorizationRequired → one renew push
// (however often Graph repeats it), subscriptionRemoved → resubscribe,
// missed → a hint of the subscription's kind.
func TestPushLifecycleEvents(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	registration := "fcm-" + randomHex(24)
	ok(t, e.command(token, "push.subscribe", map[string]any{"platform": "fcm", "token": registration, "device": "android-1", "account": "home"}))
	sub := e.emuSubscriptions(token)[0]
	lifecycle := func(event string) {
		out := e.control("POST", "/_emulator/subscriptions/"+sub.Get("id").String()+"/lifecycle", map[string]any{"event": event}, http.StatusOK)
		require.True(t, gjson.GetBytes(out, "sent").Bool(), "%s", out)
	}

	seq := e.pushSeq()
	lifecycle("reauthorizationRequired")
	renew := e.waitPushes("fcm", registration, seq, 1)[0]
	assert.Equal(t, "renew", renew.Get("payload.data.k").String(), renew.Raw)
	assert.Equal(t, "home", renew.Get("payload.data.a").String())
	assert.Equal(t, "ctl", renew.Get("payload.android.collapse_key").String(), renew.Raw)
	// Graph repeats reauthorizationRequired as the token nears expiry: one
	// renew per 6 h is enough.
	for i := 0; i < 3; i++ {
		lifecycle("reauthorizationRequired")
	}
	e.waitNotificationsSettled()
	assert.Len(t, e.pushesSince("fcm", registration, seq), 1, "one renew push")

	seq = e.pushSeq()
	lifecycle("missed")
	missed := e.waitPushes("fcm", registration, seq, 1)[0]
	assert.Equal(t, "mail", missed.Get("payload.data.k").String(), missed.Raw)

	seq = e.pushSeq()
	// A hint per minute at most: the resubscribe of a removed subscription
	// goes to a fresh subscription's R.
	token2 := e.newMailbox("empty")
	registration2 := "fcm-" + randomHex(24)
	ok(t, e.command(token2, "push.subscribe", map[string]any{"platform": "fcm", "token": registration2, "device": "android-2"}))
	sub = e.emuSubscriptions(token2)[0]
	lifecycle("subscriptionRemoved")
	removed := e.waitPushes("fcm", registration2, seq, 1)[0]
	assert.Equal(t, "resubscribe", removed.Get("payload.data.k").String(), removed.Raw)
	assert.Empty(t, e.emuSubscriptions(token2), "Graph removed the subscription")
}

// A burst of 50 items in one POST, and 100 concurrent POSTs of them, are
// one push within the per-R limits; the webhook answers every POST 202.
func TestPushWebhookBurst(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	e.subscribeAPNs(token, deviceToken, "phone-1", true)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	expires := time.Now().Add(time.Hour)
	var items []map[string]any
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("AAMk%03d", i)
		items = append(items, notification(sub, "created", "Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/"+id, id, expires))
	}
	burst := notificationBody(t, items...)

	seq := e.pushSeq()
	var wg sync.WaitGroup
	statuses := make([]int, 100)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, err := http.NewRequest("POST", deviceBase+"/push/n/"+blob, strings.NewReader(burst))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, http.StatusAccepted, s, "POST %d", i)
	}
	pushes := e.waitPushes("apns", deviceToken, seq, 1)
	time.Sleep(300 * time.Millisecond)
	pushes = e.pushesSince("apns", deviceToken, seq)
	require.Len(t, pushes, 1, "one alert per 10 s")
	assert.Len(t, pushes[0].Get("payload.m").Array(), 5, "at most five refs")
}

// pushLogFilter is docs/push.md's access-log recipe: R replaced in the
// webhook's paths, and the mailbox query parameter of the streaming
// endpoints (docs/security.md) with it, in one filter of the uri.
const pushLogFilter = `log {
output devicebridge_test_memory
format filter {
wrap json
request>uri regexp "(/push/[nl]/)[A-Za-z0-9_-]+|([?&]mailbox=)[^&]*" "${1}${2}REDACTED"
}
}`

// Nothing in the logs — the bridge's own at DEBUG level, or the access
// log with the documented filter — holds R, the clientState, the push
// target or the message's content.
func TestPushLogsHoldNoSecrets(t *testing.T) {
	s := pushServer(t)
	s.global = "log {\noutput devicebridge_test_memory\nformat json\nlevel DEBUG\n}"
	s.deviceSite = pushLogFilter
	e := startBridgeWith(t, s.caddyfile())
	e.control("PATCH", "/_emulator/notifications/settings", map[string]any{"duplicateEvery": -1}, http.StatusOK)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	capturedLogs.Reset()
	e.subscribeAPNs(token, deviceToken, "phone-1", true)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())
	seq := e.pushSeq()
	e.deliver(token, "Secret subject 7d1e")
	alert := e.waitPushes("apns", deviceToken, seq, 1)[0]
	ok(t, e.command(token, "mail.get", map[string]any{"ref": alert.Get("payload.m.0").String(), "fields": []string{"subject"}}))
	// A forged notification and a validation request for a bad R, too.
	e.webhookPost("n", blob, "", `{"value":[{"clientState":"forged"}]}`)
	e.webhookPost("n", blob[:len(blob)-4]+"AAAA", "validationToken=x", "")
	e.waitNotificationsSettled()

	logs := capturedLogs.String()
	assert.Contains(t, logs, "/device/v1/push/n/REDACTED", "the access log shows webhook requests without R")
	for name, secret := range map[string]string{
		"R":            blob,
		"R's prefix":   blob[:24],
		"clientState":  sub.Get("clientState").String(),
		"device token": deviceToken,
		"subject":      "Secret subject 7d1e",
		"ref":          alert.Get("payload.m.0").String(),
	} {
		assert.NotContains(t, logs, secret, "%s in the logs", name)
	}
}

// When the token that made a subscription expires, Graph sends
// reauthorizationRequired; what it does next is not documented, so the
// emulator offers both variants and the bridge must work with each: a
// renew push reaches the device, the device renews with its state (R
// unchanged), and new mail pushes again.
func TestPushTokenExpiryVariants(t *testing.T) {
	for _, variant := range []string{"continue", "pause"} {
		t.Run(variant, func(t *testing.T) {
			e := startPushBridge(t)
			e.control("PATCH", "/_emulator/notifications/settings", map[string]any{"tokenExpiry": variant}, http.StatusOK)
			defer e.control("PATCH", "/_emulator/notifications/settings", map[string]any{"tokenExpiry": "continue"}, http.StatusOK)
			token := e.newMailbox("empty")
			deviceToken := randomHex(32)
			first := e.subscribeAPNs(token, deviceToken, "phone-1", true)
			before := e.emuSubscriptions(token)[0]

			seq := e.pushSeq()
			e.control("POST", "/_emulator/mailboxes/"+token+"/expire-token", nil, http.StatusOK)
			renew := e.waitPushes("apns", deviceToken, seq, 1)[0]
			assert.Equal(t, "renew", renew.Get("payload.k").String(), renew.Raw)
			assert.Equal(t, "background", renew.Get("headers.Apns-Push-Type").String())
			assert.Equal(t, variant == "pause", e.emuSubscriptions(token)[0].Get("paused").Bool(), "the emulator's variant")

			// The device renews: a PATCH of the expiry only, R unchanged.
			renewed := ok(t, e.command(token, "push.subscribe", map[string]any{
				"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work", "alert": true,
				"state": first.Get("state").String(),
			}))
			assert.Equal(t, first.Get("id").String(), renewed.Get("id").String())
			after := e.emuSubscriptions(token)[0]
			assert.Equal(t, before.Get("notificationUrl").String(), after.Get("notificationUrl").String())
			assert.False(t, after.Get("paused").Bool(), "the renewal resumed the subscription")

			seq = e.pushSeq()
			e.deliver(token, "After renewal")
			alert := e.waitPushes("apns", deviceToken, seq, 1)[0]
			assert.Equal(t, "alert", alert.Get("headers.Apns-Push-Type").String(), alert.Raw)
		})
	}
}

// A web push endpoint off the operator's allow list is refused at
// subscribe time: the bridge would otherwise call any URL a device names.
func TestPushWebPushEndpointOffAllowList(t *testing.T) {
	e := startPushBridge(t)
	token := e.newMailbox("empty")
	sub := gjson.ParseBytes(e.pushControl("POST", "/webpush/subscriptions", nil, http.StatusCreated))
	for _, endpoint := range []string{
		"https://push.attacker.example/wp/1",
		fmt.Sprintf("https://127.0.0.1:%d/wp/1", pushPort), // the same service by address: not on the list
		fmt.Sprintf("https://localhost:%d/wp/1", emulatorPort),
	} {
		res := e.command(token, "push.subscribe", map[string]any{
			"platform": "webpush", "endpoint": endpoint,
			"p256dh": sub.Get("p256dh").String(), "auth": sub.Get("auth").String(), "device": "browser-1",
		})
		assert.Equal(t, int64(400), res.Get("status").Int(), "%s: %s", endpoint, res.Raw)
		assert.Equal(t, "invalid_args", res.Get("error.code").String())
	}
	assert.Empty(t, e.emuSubscriptions(token), "nothing reached Graph")
}

// rotatedStateKey is the new first key of the rotation test; the old one
// (testStateKey) stays configured second.
const rotatedStateKey = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"

// Key rotation with a live subscription: a second instance of the bridge
// (on retryPort) has a new key first and the old one second. The
// subscription made under the old key keeps pushing through it, and its
// renewal there answers resync_required, after which the device
// subscribes again under the new key.
func TestPushKeyRotation(t *testing.T) {
	s := pushServer(t)
	// The rotated instance is where Graph posts from now on.
	rotated := strings.Replace(s.bridge, fmt.Sprintf("public_url https://localhost:%d", devicePort),
		fmt.Sprintf("public_url https://localhost:%d", retryPort), 1)
	require.NotEqual(t, s.bridge, rotated)
	s.sites += fmt.Sprintf(`
https://localhost:%d {
devicebridge https://localhost:%d/v1.0 {
state_key %s %s
transport http {
tls_trust_pool pki_root local
}
%s
}
}`, retryPort, emulatorPort, rotatedStateKey, testStateKey, rotated)
	e := startBridgeWith(t, s.caddyfile())
	e.control("PATCH", "/_emulator/notifications/settings", map[string]any{"duplicateEvery": -1}, http.StatusOK)
	token := e.newMailbox("empty")
	deviceToken := randomHex(32)
	first := e.subscribeAPNs(token, deviceToken, "phone-1", false)
	sub := e.emuSubscriptions(token)[0]
	blob := routingBlob(t, sub.Get("notificationUrl").String())

	// The rotated instance still opens R and pushes.
	seq := e.pushSeq()
	rotatedHook := strings.Replace(deviceBase, strconv.Itoa(devicePort), strconv.Itoa(retryPort), 1) + "/push/n/" + blob
	req, err := http.NewRequest("POST", rotatedHook, strings.NewReader(notificationBody(t, notification(sub, "deleted",
		"Users/5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10/Messages/AAMk2", "AAMk2", time.Now().Add(time.Hour)))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	rotatedResp, err := e.client.Do(req)
	require.NoError(t, err)
	rotatedResp.Body.Close()
	assert.Equal(t, http.StatusAccepted, rotatedResp.StatusCode)
	assert.Len(t, e.waitPushes("apns", deviceToken, seq, 1), 1)

	// Renewing through the rotated instance: R's key is no longer the
	// first, so resync_required, and no upstream call.
	args := map[string]any{"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work",
		"alert": false, "state": first.Get("state").String()}
	raw, err := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": "push.subscribe", "args": args}}})
	require.NoError(t, err)
	rotatedURL := strings.Replace(deviceURL, strconv.Itoa(devicePort), strconv.Itoa(retryPort), 1)
	_, out := e.batch(rotatedURL, token, string(raw))
	assert.Equal(t, "resync_required", gjson.GetBytes(out, "results.0.error.code").String(), "%s", out)

	// The device subscribes again there (new key) and unsubscribes the old
	// subscription, in one envelope.
	raw, err = json.Marshal(map[string]any{"commands": []any{
		map[string]any{"id": "new", "op": "push.subscribe", "args": map[string]any{"platform": "apns", "token": deviceToken, "device": "phone-1", "account": "work"}},
		map[string]any{"id": "old", "op": "push.unsubscribe", "args": map[string]any{"state": first.Get("state").String()}},
	}})
	require.NoError(t, err)
	_, out = e.batch(rotatedURL, token, string(raw))
	assert.Equal(t, int64(200), gjson.GetBytes(out, "results.0.status").Int(), "%s", out)
	assert.Equal(t, int64(200), gjson.GetBytes(out, "results.1.status").Int(), "%s", out)
	subs := e.emuSubscriptions(token)
	require.Len(t, subs, 1)
	rotatedBase := fmt.Sprintf("https://localhost:%d/device/v1/push/n/", retryPort)
	assert.True(t, strings.HasPrefix(subs[0].Get("notificationUrl").String(), rotatedBase), subs[0].Raw)
	assert.NotContains(t, subs[0].Get("notificationUrl").String(), blob, "a new R under the new key")
}
