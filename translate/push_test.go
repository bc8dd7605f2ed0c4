package translate

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicebridge/caddy-devicebridge/push"
	"github.com/tidwall/gjson"
)

const (
	testPublicURL   = "https://bridge.example.com"
	testNotifyBase  = "https://bridge.example.com/dbx/push/n/"
	testLifeBase    = "https://bridge.example.com/dbx/push/l/"
	testAPNsToken   = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	testFID         = "cXkR2b7bS0uV4lWqZ1y9Qe"
	testEndpoint    = "https://push.example.net/wp/abc123"
	testTenant      = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
	testUser        = "5f1d7c2e-0b8a-4c3f-9e61-2d4b7a9c8e10"
	testSubID       = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	testPushDevice  = "install-1"
	testSubscribed  = `{"id":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","resource":"me/mailFolders('inbox')/messages","changeType":"created,updated,deleted","expirationDateTime":"2026-03-07T12:00:00Z"}`
	testWebPushAuth = "AAECAwQFBgcICQoLDA0ODw"
)

// testP256dh is a fixed subscription key (base64url of an uncompressed P-256 point).
var testP256dh = func() string {
	k, err := ecdh.P256().NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
}()

var errNotAllowed = errors.New("not on the allow list")

// testPushOptions configures every platform, with push.example.net the one
// allowed web push host.
func testPushOptions() *PushOptions {
	return &PushOptions{PublicURL: testPublicURL, Prefix: "/dbx", APNs: true, FCM: true, WebPush: true,
		CheckWebPushEndpoint: func(ep string) error {
			if u, err := url.Parse(ep); err != nil || u.Host != "push.example.net" {
				return errNotAllowed
			}
			return nil
		}}
}

func newPushTranslator(t testing.TB, mod ...func(*Options)) (*Translator, *clock) {
	t.Helper()
	return newTestTranslator(t, append([]func(*Options){func(o *Options) { o.Push = testPushOptions() }}, mod...)...)
}

func apnsArgs(extra string) string {
	return `{"platform":"apns","token":"` + testAPNsToken + `","device":"` + testPushDevice + `"` + extra + `}`
}

// subscribeBlob returns R of a planned create, checking both URLs carry it.
func subscribeBlob(t *testing.T, p *Plan) (blob string, body gjson.Result) {
	t.Helper()
	if p.Upstream == nil {
		out, _ := respond(t, p, 0, nil, "")
		t.Fatalf("no upstream call: %s", out)
	}
	body = gjson.ParseBytes(p.Upstream.Body)
	n, l := body.Get("notificationUrl").Str, body.Get("lifecycleNotificationUrl").Str
	blob, ok := strings.CutPrefix(n, testNotifyBase)
	if !ok || l != testLifeBase+blob || blob == "" || strings.ContainsAny(blob, "/?#%") {
		t.Fatalf("notification URLs %q, %q", n, l)
	}
	return blob, body
}

func TestPushSubscribeCreate(t *testing.T) {
	cases := []struct {
		name     string
		args     string
		resource string
		target   push.Target
		watch    push.Kind
		alert    bool
		account  string
	}{
		{"apns mail default", apnsArgs(""), "me/mailFolders('inbox')/messages",
			push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken}, push.KindMail, false, ""},
		{"apns upper-case token sandbox alert account", `{"platform":"apns","token":"` + strings.ToUpper(testAPNsToken) +
			`","env":"sandbox","device":"install-1","alert":true,"account":"work_2"}`, "me/mailFolders('inbox')/messages",
			push.Target{Platform: push.PlatformAPNs, Env: push.EnvSandbox, Token: testAPNsToken}, push.KindMail, true, "work_2"},
		{"mail folder well-known", apnsArgs(`,"watch":"mail","folder":"SentItems"`), "me/mailFolders('sentitems')/messages",
			push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken}, push.KindMail, false, ""},
		{"mail folder id", apnsArgs(`,"folder":"AQMkAD-_=+"`), "me/mailFolders('AQMkAD-_=+')/messages",
			push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken}, push.KindMail, false, ""},
		{"calendar", apnsArgs(`,"watch":"calendar"`), "me/events",
			push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken}, push.KindCalendar, false, ""},
		{"contacts env production", apnsArgs(`,"watch":"contacts","env":"production"`), "me/contacts",
			push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken}, push.KindContacts, false, ""},
		{"fcm token", `{"platform":"fcm","token":"abc:DEF_12-x","device":"install-1"}`, "me/mailFolders('inbox')/messages",
			push.Target{Platform: push.PlatformFCM, Token: "abc:DEF_12-x"}, push.KindMail, false, ""},
		{"fcm fid", `{"platform":"fcm","fid":"` + testFID + `","device":"install-1","alert":false}`, "me/mailFolders('inbox')/messages",
			push.Target{Platform: push.PlatformFCM, FID: testFID}, push.KindMail, false, ""},
		{"webpush", `{"platform":"webpush","endpoint":"` + testEndpoint + `","p256dh":"` + testP256dh + `","auth":"` + testWebPushAuth +
			`","device":"install-1","alert":true}`, "me/mailFolders('inbox')/messages",
			push.Target{Platform: push.PlatformWebPush, Endpoint: testEndpoint}, push.KindMail, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newPushTranslator(t)
			p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", tc.args)), testTenant, testUser)
			if e != nil {
				t.Fatal(e)
			}
			defer p.Release()
			u := p.Upstream
			blob, _ := subscribeBlob(t, p)
			if u.Method != "POST" || u.Path != "/v1.0/subscriptions" || u.RawQuery != "" || u.ContentType != "application/json" {
				t.Fatalf("call %s %s?%s (%s)", u.Method, u.Path, u.RawQuery, u.ContentType)
			}
			if got := p.MinUpstreamTimeout(); got != PushUpstreamTimeout {
				t.Errorf("MinUpstreamTimeout %v", got)
			}
			keys := tr.PushKeys()
			cs, err := keys.ClientState(blob)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"changeType":"created,updated,deleted","notificationUrl":"` + testNotifyBase + blob +
				`","lifecycleNotificationUrl":"` + testLifeBase + blob + `","resource":"` + tc.resource +
				`","expirationDateTime":"2026-03-07T12:00:00Z","clientState":"` + cs + `"}`
			if string(u.Body) != want {
				t.Fatalf("body\n got %s\nwant %s", u.Body, want)
			}
			r, err := keys.OpenRouting(blob)
			if err != nil {
				t.Fatal(err)
			}
			if tc.target.Platform == push.PlatformWebPush {
				tc.target.P256dh, tc.target.Auth, _ = push.DecodeWebPushKeys(testP256dh, testWebPushAuth)
			}
			if !push.SameTarget(&r.Target, &tc.target) || r.Target.Token != tc.target.Token {
				t.Errorf("R's target %+v, want %+v", r.Target, tc.target)
			}
			if r.Watch != tc.watch || r.Alert != tc.alert || r.Account != tc.account {
				t.Errorf("R watch %s alert %v account %q", r.Watch, r.Alert, r.Account)
			}
			if !r.Issued.Equal(testNow) || !r.NotAfter.Equal(testNow.Add(DefaultResealAfter+DefaultSubscriptionTTL)) {
				t.Errorf("R times %v %v", r.Issued, r.NotAfter)
			}
			if r.KeyID() != keys.FirstKeyID() || !r.Bound() || !keys.SameUser(r, strings.ToLower(testTenant), testUser) ||
				keys.SameUser(r, testTenant, "00000000-0000-0000-0000-000000000000") {
				t.Error("R is not bound to the principal")
			}
			if !keys.SameDevice(r, testPushDevice) || keys.SameDevice(r, "install-2") {
				t.Error("R's device hash")
			}

			out, o := respond(t, p, 201, hdr("Request-Id", "r1"), testSubscribed)
			if o.Status != 200 || o.Results[0].Status != 200 {
				t.Fatalf("%+v %s", o, out)
			}
			if got, want := maskState(out), `{"results":[{"id":"c1","status":200,"data":{"state":"S","id":"`+testSubID+
				`","expires":"2026-03-07T12:00:00Z","renewAfter":"2026-03-05T12:00:00Z"}}]}`; got != want {
				t.Errorf("answer\n got %s\nwant %s", got, want)
			}
		})
	}
}

// A token without tenant and user claims gives an unbound R.
func TestPushSubscribeUnbound(t *testing.T) {
	tr, _ := newPushTranslator(t)
	for _, who := range [][2]string{{"", ""}, {testTenant, ""}, {"", testUser}} {
		p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", apnsArgs(""))), who[0], who[1])
		if e != nil {
			t.Fatal(e)
		}
		blob, _ := subscribeBlob(t, p)
		r, err := tr.PushKeys().OpenRouting(blob)
		if err != nil || r.Bound() {
			t.Errorf("%v: R bound=%v err=%v", who, r != nil && r.Bound(), err)
		}
		p.Release()
	}
}

// The answer takes Graph's expiry (Graph raises a short one) and falls
// back to the one asked for; a created subscription needs an id.
func TestPushSubscribeAnswer(t *testing.T) {
	tr, _ := newPushTranslator(t)
	cases := []struct{ name, graph, want string }{
		{"graph's expiry", `{"id":"S1","expirationDateTime":"2026-03-04T12:00:00.1234567Z"}`,
			`{"state":"S","id":"S1","expires":"2026-03-04T12:00:00Z","renewAfter":"2026-03-03T12:00:00Z"}`},
		{"no expiry", `{"id":"S1"}`,
			`{"state":"S","id":"S1","expires":"2026-03-07T12:00:00Z","renewAfter":"2026-03-05T12:00:00Z"}`},
		{"expiry in the past", `{"id":"S1","expirationDateTime":"2020-01-01T00:00:00Z"}`,
			`{"state":"S","id":"S1","expires":"2026-03-07T12:00:00Z","renewAfter":"2026-03-05T12:00:00Z"}`},
		{"no id", `{"expirationDateTime":"2026-03-07T12:00:00Z"}`, ""},
		{"bad id", `{"id":"a/b"}`, ""},
	}
	for _, tc := range cases {
		p := mustPlan(t, tr, cmd("push.subscribe", apnsArgs("")))
		out, _ := respond(t, p, 201, nil, tc.graph)
		p.Release()
		res := gjson.Get(out, "results.0")
		if tc.want == "" {
			if res.Get("error.code").Str != CodeUpstreamError {
				t.Errorf("%s: %s", tc.name, out)
			}
			continue
		}
		if got := maskState(res.Get("data").Raw); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestPushInvalidArgs(t *testing.T) {
	apnsOnly := func(o *Options) {
		o.Push = &PushOptions{PublicURL: testPublicURL, APNs: true}
	}
	fcmOnly := func(o *Options) {
		o.Push = &PushOptions{PublicURL: testPublicURL, FCM: true}
	}
	noPush := func(o *Options) { o.Push = nil }
	wp := func(endpoint, p256dh, auth string) string {
		return `{"platform":"webpush","endpoint":"` + endpoint + `","p256dh":"` + p256dh + `","auth":"` + auth + `","device":"d"}`
	}
	longEndpoint := "https://push.example.net/" + strings.Repeat("x", 1900)
	cases := []struct {
		name, op, args string
		mod            func(*Options)
		msg            string
	}{
		{"subscribe not configured", "push.subscribe", apnsArgs(""), noPush, msgPushNotConfigured},
		{"list not configured", "push.list", `{}`, noPush, msgPushNotConfigured},
		{"unsubscribe not configured", "push.unsubscribe", `{"ids":["S1"]}`, noPush, msgPushNotConfigured},
		{"ref not configured", "mail.get", `{"ref":"AAAA"}`, noPush, msgPushNotConfigured},
		{"fcm not configured", "push.subscribe", `{"platform":"fcm","fid":"x","device":"d"}`, apnsOnly, msgPushFCMOff},
		{"webpush not configured", "push.subscribe", wp(testEndpoint, testP256dh, testWebPushAuth), apnsOnly, msgPushWebPushOff},
		{"apns not configured", "push.subscribe", apnsArgs(""), fcmOnly, msgPushAPNsOff},
		{"mailbox", "push.subscribe", apnsArgs(`,"mailbox":"shared@contoso.example"`), nil, msgPushMailbox},
		{"bad mailbox", "push.subscribe", apnsArgs(`,"mailbox":"x"`), nil, msgBadMailbox},
		{"list mailbox", "push.list", `{"mailbox":"shared@contoso.example"}`, nil, msgPushMailbox},
		{"unsubscribe mailbox", "push.unsubscribe", `{"ids":["S1"],"mailbox":"shared@contoso.example"}`, nil, msgPushMailbox},
		{"no platform", "push.subscribe", `{"token":"` + testAPNsToken + `","device":"d"}`, nil, msgBadPlatform},
		{"unknown platform", "push.subscribe", `{"platform":"gcm","token":"x","device":"d"}`, nil, msgBadPlatform},
		{"platform not a string", "push.subscribe", `{"platform":1,"device":"d"}`, nil, msgBadPlatform},
		{"apns no token", "push.subscribe", `{"platform":"apns","device":"d"}`, nil, msgBadAPNsToken},
		{"apns odd token", "push.subscribe", `{"platform":"apns","token":"` + testAPNsToken[:33] + `","device":"d"}`, nil, msgBadAPNsToken},
		{"apns short token", "push.subscribe", `{"platform":"apns","token":"a1b2c3d4","device":"d"}`, nil, msgBadAPNsToken},
		{"apns non-hex token", "push.subscribe", `{"platform":"apns","token":"` + strings.Repeat("zz", 16) + `","device":"d"}`, nil, msgBadAPNsToken},
		{"apns token not a string", "push.subscribe", `{"platform":"apns","token":12,"device":"d"}`, nil, msgBadAPNsToken},
		{"apns bad env", "push.subscribe", apnsArgs(`,"env":"staging"`), nil, msgBadEnv},
		{"apns env not a string", "push.subscribe", apnsArgs(`,"env":true`), nil, msgBadEnv},
		{"apns with fid", "push.subscribe", apnsArgs(`,"fid":"x"`), nil, msgForeignTarget},
		{"fcm with env", "push.subscribe", `{"platform":"fcm","fid":"x","env":"sandbox","device":"d"}`, nil, msgBadEnv},
		{"fcm token and fid", "push.subscribe", `{"platform":"fcm","token":"a","fid":"b","device":"d"}`, nil, msgBadFCMTarget},
		{"fcm neither", "push.subscribe", `{"platform":"fcm","device":"d"}`, nil, msgBadFCMTarget},
		{"fcm bad char", "push.subscribe", `{"platform":"fcm","token":"a/b","device":"d"}`, nil, msgBadFCMTarget},
		{"fcm too long", "push.subscribe", `{"platform":"fcm","token":"` + strings.Repeat("a", 4097) + `","device":"d"}`, nil, msgBadFCMTarget},
		{"fcm fid not a string", "push.subscribe", `{"platform":"fcm","fid":["x"],"device":"d"}`, nil, msgBadFCMTarget},
		{"fcm with endpoint", "push.subscribe", `{"platform":"fcm","fid":"x","endpoint":"https://a","device":"d"}`, nil, msgForeignTarget},
		{"webpush with token", "push.subscribe", `{"platform":"webpush","token":"x","device":"d"}`, nil, msgForeignTarget},
		{"webpush http", "push.subscribe", wp("http://push.example.net/x", testP256dh, testWebPushAuth), nil, msgBadEndpoint},
		{"webpush no host", "push.subscribe", wp("https:///x", testP256dh, testWebPushAuth), nil, msgBadEndpoint},
		{"webpush user info", "push.subscribe", wp("https://u@push.example.net/x", testP256dh, testWebPushAuth), nil, msgBadEndpoint},
		{"webpush space", "push.subscribe", wp("https://push.example.net/a b", testP256dh, testWebPushAuth), nil, msgBadEndpoint},
		{"webpush too long", "push.subscribe", wp("https://push.example.net/"+strings.Repeat("x", 2048), testP256dh, testWebPushAuth), nil, msgBadEndpoint},
		{"webpush bad key", "push.subscribe", wp(testEndpoint, testWebPushAuth, testWebPushAuth), nil, msgBadWebPushKeys},
		{"webpush bad auth", "push.subscribe", wp(testEndpoint, testP256dh, testP256dh), nil, msgBadWebPushKeys},
		{"webpush no auth", "push.subscribe", `{"platform":"webpush","endpoint":"` + testEndpoint + `","p256dh":"` + testP256dh + `","device":"d"}`, nil, msgBadWebPushKeys},
		{"webpush off the allow list", "push.subscribe", wp("https://evil.example/x", testP256dh, testWebPushAuth), nil, msgEndpointRefused},
		{"notification URL too long", "push.subscribe", wp(longEndpoint, testP256dh, testWebPushAuth), nil, msgURLTooLong},
		{"bad watch", "push.subscribe", apnsArgs(`,"watch":"tasks"`), nil, msgBadWatch},
		{"watch not a string", "push.subscribe", apnsArgs(`,"watch":["mail"]`), nil, msgBadWatch},
		{"folder with calendar", "push.subscribe", apnsArgs(`,"watch":"calendar","folder":"inbox"`), nil, msgPushFolderMailOnly},
		{"bad folder", "push.subscribe", apnsArgs(`,"folder":"a/b"`), nil, msgBadFolder},
		{"folder with quote", "push.subscribe", apnsArgs(`,"folder":"a')/x"`), nil, msgBadFolder},
		{"no device", "push.subscribe", `{"platform":"apns","token":"` + testAPNsToken + `"}`, nil, msgBadDevice},
		{"device bad char", "push.subscribe", `{"platform":"apns","token":"` + testAPNsToken + `","device":"a.b"}`, nil, msgBadDevice},
		{"device too long", "push.subscribe", `{"platform":"apns","token":"` + testAPNsToken + `","device":"` + strings.Repeat("d", 65) + `"}`, nil, msgBadDevice},
		{"device empty", "push.subscribe", `{"platform":"apns","token":"` + testAPNsToken + `","device":""}`, nil, msgBadDevice},
		{"account too long", "push.subscribe", apnsArgs(`,"account":"` + strings.Repeat("a", 17) + `"`), nil, msgBadAccount},
		{"account bad char", "push.subscribe", apnsArgs(`,"account":"a b"`), nil, msgBadAccount},
		{"account not a string", "push.subscribe", apnsArgs(`,"account":1`), nil, msgBadAccount},
		{"alert not a bool", "push.subscribe", apnsArgs(`,"alert":"yes"`), nil, msgBadAlert},
		{"state not a string", "push.subscribe", apnsArgs(`,"state":1`), nil, msgBadStateArg},
		{"list bad device", "push.list", `{"device":"a b"}`, nil, msgBadDevice},
		{"unsubscribe nothing", "push.unsubscribe", `{}`, nil, msgPushStateOrIDs},
		{"unsubscribe both", "push.unsubscribe", `{"ids":["S1"],"state":"AAAA"}`, nil, msgPushStateOrIDs},
		{"unsubscribe state not a string", "push.unsubscribe", `{"state":1}`, nil, msgBadStateArg},
		{"unsubscribe empty ids", "push.unsubscribe", `{"ids":[]}`, nil, msgBadPushIDs},
		{"unsubscribe 21 ids", "push.unsubscribe", `{"ids":["S1","S2","S3","S4","S5","S6","S7","S8","S9","S10","S11","S12","S13","S14","S15","S16","S17","S18","S19","S20","S21"]}`, nil, msgBadPushIDs},
		{"unsubscribe an id twice", "push.unsubscribe", `{"ids":["S1","S2","S1"]}`, nil, msgBadPushIDs},
		{"unsubscribe bad id", "push.unsubscribe", `{"ids":["../x"]}`, nil, msgBadPushIDs},
		{"unsubscribe id not a string", "push.unsubscribe", `{"ids":[1]}`, nil, msgBadPushIDs},
		{"unsubscribe ids not an array", "push.unsubscribe", `{"ids":"S1"}`, nil, msgBadPushIDs},
		{"ref does not open", "mail.get", `{"ref":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, nil, msgBadRef},
		{"ref not a string", "mail.get", `{"ref":1}`, nil, msgBadRef},
		{"ref and id", "mail.get", `{"ref":"AAAA","id":"AAk="}`, nil, msgIDAndRef},
		{"ref and mailbox", "mail.get", `{"ref":"AAAA","mailbox":"a@b.example"}`, nil, msgRefMailbox},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods := []func(*Options){}
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			tr, _ := newPushTranslator(t, mods...)
			p := mustPlan(t, tr, cmd(tc.op, tc.args))
			defer p.Release()
			if p.Upstream != nil {
				t.Fatalf("upstream call %s %s", p.Upstream.Method, p.Upstream.Path)
			}
			out, _ := respond(t, p, 0, nil, "")
			want := `{"results":[{"id":"c1","status":400,"error":{"code":"invalid_args","message":` + string(appendJSONString(nil, tc.msg)) + `}}]}`
			if out != want {
				t.Errorf("\n got %s\nwant %s", out, want)
			}
		})
	}
}

// subscribeState creates a subscription with args at the clock's time and
// returns its push state.
func subscribeState(t *testing.T, tr *Translator, args, tenant, user string) string {
	t.Helper()
	p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", args)), tenant, user)
	if e != nil || p.Upstream == nil || p.Upstream.Method != "POST" {
		t.Fatalf("create not planned: %v", e)
	}
	defer p.Release()
	out, _ := respond(t, p, 201, nil, `{"id":"`+testSubID+`"}`)
	return firstState(t, out)
}

func withState(args, state string) string {
	return args[:len(args)-1] + `,"state":"` + state + `"}`
}

func TestPushRenewal(t *testing.T) {
	tr, clk := newPushTranslator(t, func(o *Options) { o.Push.ResealAfter = 10 * 24 * time.Hour })
	state := subscribeState(t, tr, apnsArgs(`,"alert":true,"account":"w"`), testTenant, testUser)
	args := apnsArgs(`,"account":"w","alert":true`) // same arguments, other order
	for day, want := range []string{"2026-03-11T12:00:00Z", "2026-03-15T12:00:00Z"} {
		clk.t = testNow.Add(time.Duration(4*(day+1)) * 24 * time.Hour)
		p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", withState(args, state))), strings.ToLower(testTenant), testUser)
		if e != nil || p.Upstream == nil {
			out, _ := respond(t, p, 0, nil, "")
			t.Fatalf("renewal %d not planned: %v %s", day, e, out)
		}
		u := p.Upstream
		if u.Method != "PATCH" || u.Path != "/v1.0/subscriptions/"+testSubID || string(u.Body) != `{"expirationDateTime":"`+want+`"}` {
			t.Fatalf("renewal %d: %s %s %s", day, u.Method, u.Path, u.Body)
		}
		if p.MinUpstreamTimeout() != PushUpstreamTimeout {
			t.Error("a renewal re-validates: it needs the push timeout")
		}
		out, _ := respond(t, p, 200, nil, `{"id":"`+testSubID+`","expirationDateTime":"`+want+`"}`)
		p.Release()
		renew := clk.t.Add(4 * 24 * time.Hour).Format(time.RFC3339)
		if got := maskState(out); got != `{"results":[{"id":"c1","status":200,"data":{"state":"S","id":"`+testSubID+
			`","expires":"`+want+`","renewAfter":"`+renew+`"}}]}` {
			t.Fatalf("renewal %d: %s", day, got)
		}
		state = firstState(t, out)
	}
	// Day 12: R, sealed on day 0, is older than push_reseal_after (10 days).
	clk.t = testNow.Add(12 * 24 * time.Hour)
	p := mustPlan(t, tr, cmd("push.subscribe", withState(args, state)))
	assertResync(t, p)
}

func assertResync(t *testing.T, p *Plan) {
	t.Helper()
	defer p.Release()
	if p.Upstream != nil {
		t.Fatalf("upstream call %s %s", p.Upstream.Method, p.Upstream.Path)
	}
	out, _ := respond(t, p, 0, nil, "")
	if want := `{"results":[{"id":"c1","status":410,"error":{"code":"resync_required","message":"` + msgPushResync + `"}}]}`; out != want {
		t.Errorf("\n got %s\nwant %s", out, want)
	}
}

// A renewal whose R would differ answers resync_required without calling Graph.
func TestPushRenewalResync(t *testing.T) {
	base := apnsArgs(`,"alert":true,"account":"w"`)
	cases := []struct {
		name         string
		args         string
		tenant, user string
		after        time.Duration
		rotate       bool
	}{
		{"other token", `{"platform":"apns","token":"` + strings.Repeat("ab", 32) + `","device":"install-1","alert":true,"account":"w"}`, testTenant, testUser, 0, false},
		{"other env", apnsArgs(`,"alert":true,"account":"w","env":"sandbox"`), testTenant, testUser, 0, false},
		{"other platform", `{"platform":"fcm","fid":"` + testFID + `","device":"install-1","alert":true,"account":"w"}`, testTenant, testUser, 0, false},
		{"alert off", apnsArgs(`,"account":"w"`), testTenant, testUser, 0, false},
		{"other account", apnsArgs(`,"alert":true,"account":"x"`), testTenant, testUser, 0, false},
		{"no account", apnsArgs(`,"alert":true`), testTenant, testUser, 0, false},
		{"other device", `{"platform":"apns","token":"` + testAPNsToken + `","device":"install-2","alert":true,"account":"w"}`, testTenant, testUser, 0, false},
		{"other watch", apnsArgs(`,"alert":true,"account":"w","watch":"calendar"`), testTenant, testUser, 0, false},
		{"other folder", apnsArgs(`,"alert":true,"account":"w","folder":"archive"`), testTenant, testUser, 0, false},
		{"other user", base, testTenant, "00000000-0000-0000-0000-000000000001", 0, false},
		{"unbound now", base, "", "", 0, false},
		{"key rotated", base, testTenant, testUser, 0, true},
		{"subscription expired", base, testTenant, testUser, DefaultSubscriptionTTL + time.Second, false},
		{"state expired", base, testTenant, testUser, DefaultStateTTL + time.Hour, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, clk := newPushTranslator(t)
			state := subscribeState(t, tr, base, testTenant, testUser)
			if tc.rotate {
				tr, clk = newPushTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2, testKey1} })
			}
			clk.t = testNow.Add(time.Hour + tc.after)
			p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", withState(tc.args, state))), tc.tenant, tc.user)
			if e != nil {
				t.Fatal(e)
			}
			assertResync(t, p)
		})
	}
	// The same arguments renew.
	tr, _ := newPushTranslator(t)
	state := subscribeState(t, tr, base, testTenant, testUser)
	p, _ := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", withState(base, state))), testTenant, testUser)
	if p.Upstream == nil || p.Upstream.Method != "PATCH" {
		t.Error("unchanged arguments do not renew")
	}
	p.Release()
}

func TestPushStateRefused(t *testing.T) {
	tr, _ := newPushTranslator(t)
	state := subscribeState(t, tr, apnsArgs(""), "", "")
	// A mail.sync state is no push state, and a push state no mail.sync state.
	p := mustPlan(t, tr, cmd("mail.sync", `{"folder":"inbox"}`))
	out, _ := respond(t, p, 200, nil, `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=x"}`)
	p.Release()
	syncState := firstState(t, out)
	tampered := []byte(state)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
		tampered[len(tampered)/2] = 'A'
	}
	for name, body := range map[string]string{
		"sync state as push state":    cmd("push.subscribe", withState(apnsArgs(""), syncState)),
		"tampered push state":         cmd("push.subscribe", withState(apnsArgs(""), string(tampered))),
		"sync state to unsubscribe":   cmd("push.unsubscribe", `{"state":"`+syncState+`"}`),
		"push state as mail.sync":     cmd("mail.sync", `{"folder":"inbox","state":"`+state+`"}`),
		"other key opens no state":    "",
		"push state for folders.sync": cmd("folders.sync", `{"state":"`+state+`"}`),
	} {
		if body == "" {
			tr2, _ := newPushTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2} })
			p = mustPlan(t, tr2, cmd("push.unsubscribe", `{"state":"`+state+`"}`))
		} else {
			p = mustPlan(t, tr, body)
		}
		out, _ := respond(t, p, 0, nil, "")
		p.Release()
		if gjson.Get(out, "results.0.error.code").Str != CodeInvalidState {
			t.Errorf("%s: %s", name, out)
		}
	}
}

func TestPushSubscribeFailures(t *testing.T) {
	cases := []struct {
		name   string
		renew  bool
		status int
		graph  string
		want   string
	}{
		{"validation error", false, 400,
			`{"error":{"code":"ValidationError","message":"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."}}`,
			`{"code":"upstream_error","message":"` + msgPushValidation + `","upstreamCode":"ValidationError","requestId":"q1"}`},
		{"validation timeout", false, 400,
			`{"error":{"code":"InvalidRequest","message":"Subscription validation request timed out."}}`,
			`{"code":"upstream_error","message":"` + msgPushValidation + `","upstreamCode":"InvalidRequest","requestId":"q1"}`},
		{"other 400", false, 400, `{"error":{"code":"InvalidRequest","message":"expirationDateTime is too far"}}`,
			`{"code":"invalid_args","message":"` + msgUpstreamRejected + `","upstreamCode":"InvalidRequest","requestId":"q1"}`},
		{"create 404", false, 404, `{"error":{"code":"ResourceNotFound"}}`,
			`{"code":"not_found","message":"` + msgNotFound + `","upstreamCode":"ResourceNotFound","requestId":"q1"}`},
		{"renewal 404", true, 404, `{"error":{"code":"ResourceNotFound","message":"The object was not found."}}`,
			`{"code":"resync_required","message":"` + msgPushResync + `","upstreamCode":"ResourceNotFound","requestId":"q1"}`},
		{"renewal validation", true, 400, `{"error":{"code":"ValidationError"}}`,
			`{"code":"upstream_error","message":"` + msgPushValidation + `","upstreamCode":"ValidationError","requestId":"q1"}`},
		{"renewal 403", true, 403, `{"error":{"code":"ExtensionError"}}`,
			`{"code":"forbidden","message":"` + msgForbidden + `","upstreamCode":"ExtensionError","requestId":"q1"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newPushTranslator(t)
			args := apnsArgs("")
			if tc.renew {
				args = withState(args, subscribeState(t, tr, args, "", ""))
			}
			p := mustPlan(t, tr, cmd("push.subscribe", args))
			defer p.Release()
			out, o := respond(t, p, tc.status, hdr("Request-Id", "q1"), tc.graph)
			if o.Status != 200 {
				t.Fatalf("envelope %d: %s", o.Status, out)
			}
			if got := gjson.Get(out, "results.0.error").Raw; got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Two subscriptions in one envelope are one $batch, each with its own
// state and error.
func TestPushSubscribeBatch(t *testing.T) {
	tr, _ := newPushTranslator(t)
	body := `{"commands":[{"id":"m","op":"push.subscribe","args":` + apnsArgs("") + `},` +
		`{"id":"c","op":"push.subscribe","args":` + apnsArgs(`,"watch":"calendar"`) + `},` +
		`{"id":"x","op":"push.subscribe","args":` + apnsArgs(`,"watch":"notes"`) + `}]}`
	p := mustPlan(t, tr, body)
	defer p.Release()
	u := p.Upstream
	if u == nil || u.Method != "POST" || u.Path != "/v1.0/$batch" {
		t.Fatalf("call %+v", u)
	}
	reqs := gjson.GetBytes(u.Body, "requests").Array()
	if len(reqs) != 2 {
		t.Fatalf("batch %s", u.Body)
	}
	blobs := map[string]bool{}
	for i, want := range []struct{ id, resource string }{{"0", "me/mailFolders('inbox')/messages"}, {"1", "me/events"}} {
		r := reqs[i]
		if r.Get("id").Str != want.id || r.Get("method").Str != "POST" || r.Get("url").Str != "/subscriptions" ||
			r.Get("headers.Content-Type").Str != "application/json" || r.Get("body.resource").Str != want.resource {
			t.Errorf("item %d: %s", i, r.Raw)
		}
		blob := strings.TrimPrefix(r.Get("body.notificationUrl").Str, testNotifyBase)
		if cs, _ := tr.PushKeys().ClientState(blob); r.Get("body.clientState").Str != cs || blobs[blob] {
			t.Errorf("item %d: clientState or R", i)
		}
		blobs[blob] = true
	}
	if p.MinUpstreamTimeout() != PushUpstreamTimeout {
		t.Error("batch of creates without the push timeout")
	}
	out, _ := respond(t, p, 200, nil, `{"responses":[`+
		`{"id":"1","status":400,"body":{"error":{"code":"ValidationError"}}},`+
		`{"id":"0","status":201,"body":`+testSubscribed+`}]}`)
	want := `{"results":[` +
		`{"id":"m","status":200,"data":{"state":"S","id":"` + testSubID + `","expires":"2026-03-07T12:00:00Z","renewAfter":"2026-03-05T12:00:00Z"}},` +
		`{"id":"c","status":502,"error":{"code":"upstream_error","message":"` + msgPushValidation + `","upstreamCode":"ValidationError"}},` +
		`{"id":"x","status":400,"error":{"code":"invalid_args","message":"` + msgBadWatch + `"}}]}`
	if got := maskState(out); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// A renewal and a create (resubscribe) mix in one $batch: PATCH and POST.
func TestPushRenewalInBatch(t *testing.T) {
	tr, _ := newPushTranslator(t)
	state := subscribeState(t, tr, apnsArgs(""), "", "")
	body := `{"commands":[{"id":"r","op":"push.subscribe","args":` + withState(apnsArgs(""), state) + `},` +
		`{"id":"u","op":"push.unsubscribe","args":{"state":"` + state + `"}}]}`
	p := mustPlan(t, tr, body)
	defer p.Release()
	reqs := gjson.GetBytes(p.Upstream.Body, "requests").Array()
	if len(reqs) != 2 || reqs[0].Get("method").Str != "PATCH" || reqs[0].Get("url").Str != "/subscriptions/"+testSubID ||
		reqs[0].Get("body").Raw != `{"expirationDateTime":"2026-03-07T12:00:00Z"}` ||
		reqs[1].Get("method").Str != "DELETE" || reqs[1].Get("url").Str != "/subscriptions/"+testSubID || reqs[1].Get("body").Exists() {
		t.Fatalf("batch %s", p.Upstream.Body)
	}
}

func TestPushList(t *testing.T) {
	tr, _ := newPushTranslator(t)
	keys := tr.PushKeys()
	seal := func(device string, watch push.Kind, tgt push.Target) string {
		r := &push.Routing{Target: tgt, Watch: watch, Issued: testNow, NotAfter: testNow.Add(time.Hour)}
		blob, err := keys.SealRouting(r, device, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return blob
	}
	mine := seal(testPushDevice, push.KindMail, push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken})
	other := seal("install-2", push.KindCalendar, push.Target{Platform: push.PlatformFCM, FID: testFID})
	foreignKeys, _ := push.NewKeys([][]byte{testKey2})
	foreign, _ := foreignKeys.SealRouting(&push.Routing{Target: push.Target{Platform: push.PlatformAPNs, Token: testAPNsToken},
		Watch: push.KindMail, Issued: testNow, NotAfter: testNow.Add(time.Hour)}, testPushDevice, "", "")
	graph := `{"value":[` +
		`{"id":"S1","resource":"me/mailFolders('inbox')/messages","expirationDateTime":"2026-03-07T12:00:00.1234567Z","notificationUrl":"` + testNotifyBase + mine + `"},` +
		`{"id":"S2","expirationDateTime":"2026-03-05T00:00:00Z","notificationUrl":"` + testNotifyBase + other + `"},` +
		`{"id":"S3","expirationDateTime":"bad","notificationUrl":"` + testNotifyBase + foreign + `"},` +
		`{"id":"S4","notificationUrl":"https://elsewhere.example/push/n/` + mine + `"},` +
		`{"id":"S5","notificationUrl":"` + testNotifyBase + mine[:len(mine)-2] + `"},` +
		`{"notificationUrl":"` + testNotifyBase + mine + `"},1]}`
	for _, tc := range []struct{ args, mine1, mine2 string }{
		{`{"device":"` + testPushDevice + `"}`, "true", "false"},
		{`{"device":"install-2"}`, "false", "true"},
		{`{}`, "false", "false"},
	} {
		p := mustPlan(t, tr, cmd("push.list", tc.args))
		u := p.Upstream
		if u == nil || u.Method != "GET" || u.Path != "/v1.0/subscriptions" || u.RawQuery != "" || u.Body != nil {
			t.Fatalf("call %+v", u)
		}
		if p.MinUpstreamTimeout() != 0 {
			t.Error("push.list asks for the push timeout")
		}
		out, _ := respond(t, p, 200, nil, graph)
		p.Release()
		want := `{"results":[{"id":"c1","status":200,"data":{"subscriptions":[` +
			`{"id":"S1","watch":"mail","platform":"apns","expires":"2026-03-07T12:00:00Z","mine":` + tc.mine1 + `},` +
			`{"id":"S2","watch":"calendar","platform":"fcm","expires":"2026-03-05T00:00:00Z","mine":` + tc.mine2 + `},` +
			`{"id":"S3","mine":false},{"id":"S4","mine":false},{"id":"S5","mine":false}]}}]}`
		if out != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.args, out, want)
		}
	}
	p := mustPlan(t, tr, cmd("push.list", `{}`))
	out, _ := respond(t, p, 200, nil, `{"value":{}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").Str != CodeUpstreamError {
		t.Errorf("malformed list: %s", out)
	}
}

func TestPushUnsubscribe(t *testing.T) {
	tr, _ := newPushTranslator(t)
	state := subscribeState(t, tr, apnsArgs(""), "", "")
	for _, tc := range []struct{ args, path string }{
		{`{"ids":["` + testSubID + `"]}`, "/v1.0/subscriptions/" + testSubID},
		{`{"ids":["AB+c="]}`, "/v1.0/subscriptions/AB%2Bc="},
		{`{"state":"` + state + `"}`, "/v1.0/subscriptions/" + testSubID},
	} {
		p := mustPlan(t, tr, cmd("push.unsubscribe", tc.args))
		u := p.Upstream
		if u == nil || u.Method != "DELETE" || u.Path != tc.path || u.Body != nil || u.RawQuery != "" {
			t.Fatalf("%s: call %+v", tc.args, u)
		}
		if p.MinUpstreamTimeout() != 0 {
			t.Error("push.unsubscribe asks for the push timeout")
		}
		out, _ := respond(t, p, 204, nil, "")
		p.Release()
		if out != `{"results":[{"id":"c1","status":200,"data":{}}]}` {
			t.Errorf("%s: %s", tc.args, out)
		}
	}
	// A subscription already gone is what the device asked for: deleting
	// is idempotent, so a retry after a partial failure succeeds.
	p := mustPlan(t, tr, cmd("push.unsubscribe", `{"ids":["S1"]}`))
	out, _ := respond(t, p, 404, nil, `{"error":{"code":"ResourceNotFound"}}`)
	p.Release()
	if out != `{"results":[{"id":"c1","status":200,"data":{}}]}` {
		t.Errorf("404: %s", out)
	}
	// Any other failure is the command's error.
	p = mustPlan(t, tr, cmd("push.unsubscribe", `{"ids":["S1"]}`))
	out, _ = respond(t, p, 403, nil, `{"error":{"code":"ExtensionError"}}`)
	p.Release()
	if gjson.Get(out, "results.0.error.code").Str != CodeForbidden {
		t.Errorf("403: %s", out)
	}
	// An expired push state: its subscription expired with it.
	tr2, clk := newPushTranslator(t)
	state = subscribeState(t, tr2, apnsArgs(""), "", "")
	clk.t = testNow.Add(DefaultStateTTL + time.Hour)
	assertResync(t, mustPlan(t, tr2, cmd("push.unsubscribe", `{"state":"`+state+`"}`)))
}

func TestMailGetRef(t *testing.T) {
	tr, _ := newPushTranslator(t)
	const msgID = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ARd3fmp3l1CtrLkQ0AAAABAAAJ1xAAA="
	ref, err := tr.PushKeys().SealRef(msgID)
	if err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, tr, cmd("mail.get", `{"ref":"`+ref+`","fields":["subject","from"]}`))
	defer p.Release()
	u := p.Upstream
	if u == nil || u.Method != "GET" || u.Path != "/v1.0/me/messages/"+msgID || u.RawQuery != "$select=id,subject,from" {
		t.Fatalf("call %+v", u)
	}
	// A ref sealed for something that is no message id does not open as one.
	bad, _ := tr.PushKeys().SealRef("a/../b")
	p2 := mustPlan(t, tr, cmd("mail.get", `{"ref":"`+bad+`"}`))
	defer p2.Release()
	if out, _ := respond(t, p2, 0, nil, ""); gjson.Get(out, "results.0.error.message").Str != msgBadRef {
		t.Errorf("bad ref: %s", out)
	}
	// The ref opens with a retired key too.
	tr2, _ := newPushTranslator(t, func(o *Options) { o.StateKeys = [][]byte{testKey2, testKey1} })
	p3 := mustPlan(t, tr2, cmd("mail.get", `{"ref":"`+ref+`"}`))
	defer p3.Release()
	if p3.Upstream == nil || p3.Upstream.Path != "/v1.0/me/messages/"+msgID {
		t.Error("ref of a retired key")
	}
}

func TestPushOptions(t *testing.T) {
	ok := func(o *PushOptions) {}
	cases := []struct {
		name string
		mod  func(*PushOptions)
		err  string // "" = valid
	}{
		{"defaults", ok, ""},
		{"public URL with path", func(o *PushOptions) { o.PublicURL = "https://Bridge.example.com:8443/mail/" }, ""},
		{"no public URL", func(o *PushOptions) { o.PublicURL = "" }, "public_url is required"},
		{"http public URL", func(o *PushOptions) { o.PublicURL = "http://bridge.example.com" }, "must be https"},
		{"public URL query", func(o *PushOptions) { o.PublicURL = "https://bridge.example.com/?a=1" }, "without user info"},
		{"public URL user", func(o *PushOptions) { o.PublicURL = "https://u@bridge.example.com" }, "without user info"},
		{"public URL dot segment", func(o *PushOptions) { o.PublicURL = "https://bridge.example.com/a/../b" }, "plain segments"},
		{"prefix without slash", func(o *PushOptions) { o.Prefix = "dbx" }, "start with '/'"},
		{"prefix trailing slash", func(o *PushOptions) { o.Prefix = "/dbx/" }, "empty or dot"},
		{"prefix odd char", func(o *PushOptions) { o.Prefix = "/d?x" }, "plain segments"},
		{"ttl too long", func(o *PushOptions) { o.SubscriptionTTL = MaxSubscriptionTTL + time.Minute }, "subscription_ttl"},
		{"ttl max", func(o *PushOptions) { o.SubscriptionTTL = MaxSubscriptionTTL }, ""},
		{"ttl too short", func(o *PushOptions) { o.SubscriptionTTL = time.Minute }, "subscription_ttl"},
		{"reseal negative", func(o *PushOptions) { o.ResealAfter = -time.Hour }, "push_reseal_after"},
		{"reseal too long", func(o *PushOptions) { o.ResealAfter = 2 * MaxResealAfter }, "push_reseal_after"},
		{"no platform", func(o *PushOptions) { o.APNs, o.FCM, o.WebPush = false, false, false }, "at least one platform"},
		{"webpush without check", func(o *PushOptions) { o.CheckWebPushEndpoint = nil }, "CheckWebPushEndpoint"},
	}
	for _, tc := range cases {
		po := testPushOptions()
		tc.mod(po)
		o := Options{Upstream: testUpstream, StateKeys: [][]byte{testKey1}, Push: po}
		err := o.Validate()
		_, nerr := New(o)
		if (err == nil) != (nerr == nil) {
			t.Errorf("%s: Validate %v, New %v", tc.name, err, nerr)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.err)
		}
	}
	// The state TTL bounds the subscription lifetime.
	o := Options{Upstream: testUpstream, StateTTL: 24 * time.Hour, Push: testPushOptions()}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "state TTL") {
		t.Errorf("state TTL below subscription_ttl: %v", err)
	}
	// A generated state key derives push keys too.
	tr, err := New(Options{Upstream: testUpstream, Push: testPushOptions()})
	if err != nil || tr.PushKeys() == nil || !tr.GeneratedKey() {
		t.Errorf("generated key: %v", err)
	}
	if tr, _ := newTestTranslator(t); tr.PushKeys() != nil {
		t.Error("push keys without push")
	}
	// The public URL's path and the prefix make the notification URLs.
	tr, _ = newPushTranslator(t, func(o *Options) { o.Push.PublicURL = "https://Bridge.example.com:8443/mail/" })
	p := mustPlan(t, tr, cmd("push.subscribe", apnsArgs("")))
	defer p.Release()
	if n := gjson.GetBytes(p.Upstream.Body, "notificationUrl").Str; !strings.HasPrefix(n, "https://bridge.example.com:8443/mail/dbx/push/n/") {
		t.Errorf("notificationUrl %s", n)
	}
}

// The push keys are the webhook's: R sealed by a translator opens with the
// keys another instance derives from the same state keys.
func TestPushKeysShared(t *testing.T) {
	tr, _ := newPushTranslator(t)
	p := mustPlan(t, tr, cmd("push.subscribe", apnsArgs("")))
	defer p.Release()
	blob, body := subscribeBlob(t, p)
	keys, err := push.NewKeys([][]byte{testKey1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.OpenRouting(blob); err != nil || !keys.CheckClientState(blob, body.Get("clientState").Str) {
		t.Errorf("R or clientState do not check with independently derived keys: %v", err)
	}
}

// BenchmarkPushSubscribe plans a create (sealing R and clientState) and
// translates Graph's answer (sealing the push state).
func BenchmarkPushSubscribe(b *testing.B) {
	tr, _ := newPushTranslator(b)
	body := []byte(cmd("push.subscribe", apnsArgs(`,"alert":true,"account":"work"`)))
	answer := []byte(testSubscribed)
	var dst bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		p, e := tr.PlanWithPrincipal(body, testTenant, testUser)
		if e != nil || p.Upstream == nil {
			b.Fatal(e)
		}
		dst.Reset()
		p.Respond(&dst, 201, nil, answer)
		p.Release()
	}
}

// The table check knows the parts push rows use.
func TestOwnStateRows(t *testing.T) {
	bad := []opSpec{
		{wire: 99, name: "x.own", args: argMailbox, flags: opOwnState, method: "POST",
			parse: parseNoArgs, path: pushSubscriptionsPath, answer: appendEmptyData},
		{wire: 99, name: "x.both", args: argMailbox | argState, flags: opOwnState | opDelta, method: "GET",
			parse: parseNoArgs, path: pushSubscriptionsPath, answer: appendEmptyData, changes: appendContactChanges,
			scope: mailboxScope, stateFields: isPushStateFields},
	}
	for _, s := range bad {
		if s.problems() == nil {
			t.Errorf("row %q passes the table check", s.name)
		}
	}
	good := opSpec{wire: 99, name: "x.good", args: argMailbox | argState, flags: opOwnState, method: "POST",
		parse: parseNoArgs, path: pushSubscriptionsPath, answer: appendEmptyData, stateFields: isPushStateFields}
	if p := good.problems(); p != nil {
		t.Errorf("own-state row refused: %v", p)
	}
}

// TestPushUnsubscribeMany: several ids fan out into one DELETE each, in one
// $batch with the envelope's other commands; the result is {} when every
// DELETE answered 2xx or 404, else the first failure.
func TestPushUnsubscribeMany(t *testing.T) {
	tr, _ := newPushTranslator(t)
	const envelope = `{"commands":[` +
		`{"id":"u","op":"push.unsubscribe","args":{"ids":["S1","AB+c=","S3"]}},` +
		`{"id":"f","op":"folder.get","args":{"folder":"inbox"}}]}`
	p := mustPlan(t, tr, envelope)
	u := p.Upstream
	if u == nil || u.Method != "POST" || u.Path != "/v1.0/$batch" {
		t.Fatalf("call %+v", u)
	}
	var got []string
	for _, r := range gjson.GetBytes(u.Body, "requests").Array() {
		got = append(got, r.Get("id").Str+" "+r.Get("method").Str+" "+r.Get("url").Str)
	}
	want := []string{
		"0 DELETE /subscriptions/S1",
		"0.0 DELETE /subscriptions/AB%2Bc=",
		"0.1 DELETE /subscriptions/S3",
		"1 GET /me/mailFolders/inbox?$select=id,displayName,parentFolderId,childFolderCount,unreadItemCount,totalItemCount,isHidden",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p.Release()

	folder := `{"id":"1","status":200,"body":{"id":"AAMk","displayName":"Inbox"}}`
	for _, tc := range []struct {
		name  string
		items string // the unsubscribe's answers
		code  string // "" for {}
		retry int64
	}{
		{"all deleted", `{"id":"0","status":204},{"id":"0.0","status":204},{"id":"0.1","status":204}`, "", 0},
		{"one already gone", `{"id":"0.1","status":404,"body":{"error":{"code":"ResourceNotFound"}}},{"id":"0","status":204},{"id":"0.0","status":204}`, "", 0},
		{"one throttled", `{"id":"0","status":204},{"id":"0.0","status":429,"headers":{"Retry-After":"7"}},{"id":"0.1","status":204}`, CodeThrottled, 7},
		{"one failed, first failure wins", `{"id":"0","status":204},{"id":"0.0","status":403},{"id":"0.1","status":500}`, CodeForbidden, 0},
		{"one missing", `{"id":"0","status":204},{"id":"0.1","status":204}`, CodeUpstreamError, 0},
		{"ids not written exactly so are ignored", `{"id":"0","status":204},{"id":"0.00","status":204},{"id":"00.1","status":204},{"id":"0.2","status":204},{"id":"0.1","status":204}`, CodeUpstreamError, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tr, envelope)
			defer p.Release()
			out, o := respond(t, p, 200, nil, `{"responses":[`+tc.items+`,`+folder+`]}`)
			if o.Status != 200 {
				t.Fatalf("envelope %d: %s", o.Status, out)
			}
			res := gjson.Get(out, "results.0")
			if tc.code == "" {
				if res.Get("status").Int() != 200 || res.Get("data").Raw != "{}" {
					t.Errorf("%s", out)
				}
			} else if res.Get("error.code").Str != tc.code || res.Get("error.retryAfter").Int() != tc.retry {
				t.Errorf("want %s/%d: %s", tc.code, tc.retry, out)
			}
			if gjson.Get(out, "results.1.data.folder.id").Str != "AAMk" {
				t.Errorf("the other command: %s", out)
			}
		})
	}

	// Graph takes 20 requests in one $batch: 20 ids fill it, so a command
	// after them fails alone, before anything is sent; 19 leave room for one.
	ids := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"S%d"`, i)
		}
		return "[" + b.String() + "]"
	}
	for _, tc := range []struct {
		n         int
		items     int
		foldersOK bool
	}{{20, 20, false}, {19, 20, true}} {
		p := mustPlan(t, tr, `{"commands":[{"id":"u","op":"push.unsubscribe","args":{"ids":`+ids(tc.n)+`}},{"id":"f","op":"folders.sync"}]}`)
		if n := len(gjson.GetBytes(p.Upstream.Body, "requests").Array()); n != tc.items {
			t.Errorf("%d ids: %d requests", tc.n, n)
		}
		if ok := p.cmds[1].err == nil; ok != tc.foldersOK {
			t.Errorf("%d ids: folders.sync planned %v, want %v (%+v)", tc.n, ok, tc.foldersOK, p.cmds[1].err)
		} else if !ok && p.cmds[1].err.Message != msgTooManyUpstreamItems {
			t.Errorf("%d ids: %+v", tc.n, p.cmds[1].err)
		}
		p.Release()
	}
	// One command with 20 ids alone goes as a $batch of 20; one id alone is a direct call.
	p = mustPlan(t, tr, cmd("push.unsubscribe", `{"ids":`+ids(20)+`}`))
	if p.Upstream.Path != "/v1.0/$batch" {
		t.Errorf("20 ids: %+v", p.Upstream)
	}
	p.Release()
}
