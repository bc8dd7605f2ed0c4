package emulator

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receivedPost is one POST a webhook receiver got.
type receivedPost struct {
	path, query     string
	contentType     string
	validationToken string
	body            []byte
}

// items decodes a notification POST's value array.
func (p receivedPost) items(t *testing.T) []map[string]any {
	t.Helper()
	var v struct {
		Value []map[string]any `json:"value"`
	}
	require.NoError(t, json.Unmarshal(p.body, &v), "%s", p.body)
	return v.Value
}

// receiver is a TLS webhook endpoint standing in for the bridge.
type receiver struct {
	t  *testing.T
	ts *httptest.Server

	mu sync.Mutex
	// validate answers a validation request: default echo.
	validate func(token string, w http.ResponseWriter)
	// answer answers the nth (from 1) notification POST: default 202.
	answer        func(n int, w http.ResponseWriter, r *http.Request)
	validations   []receivedPost
	notifications []receivedPost
	arrived       chan receivedPost
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, arrived: make(chan receivedPost, 1000)}
	rc.ts = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.ts.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := receivedPost{path: r.URL.Path, query: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"),
		validationToken: r.URL.Query().Get("validationToken"), body: body}
	rc.mu.Lock()
	if r.URL.Query().Has("validationToken") {
		rc.validations = append(rc.validations, p)
		validate := rc.validate
		rc.mu.Unlock()
		if validate != nil {
			validate(p.validationToken, w)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, p.validationToken)
		return
	}
	rc.notifications = append(rc.notifications, p)
	n := len(rc.notifications)
	answer := rc.answer
	rc.mu.Unlock()
	rc.arrived <- p
	if answer != nil {
		answer(n, w, r)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) setAnswer(fn func(n int, w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = fn
}

func (rc *receiver) validationRequests() []receivedPost {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedPost{}, rc.validations...)
}

func (rc *receiver) url(path string) string { return rc.ts.URL + path }

// next waits for the next notification POST.
func (rc *receiver) next() receivedPost {
	rc.t.Helper()
	select {
	case p := <-rc.arrived:
		return p
	case <-time.After(10 * time.Second):
		rc.t.Fatal("no notification arrived")
		return receivedPost{}
	}
}

// none checks that no notification POST arrives within d.
func (rc *receiver) none(d time.Duration) {
	rc.t.Helper()
	select {
	case p := <-rc.arrived:
		rc.t.Fatalf("unexpected notification: %s", p.body)
	case <-time.After(d):
	}
}

func (rc *receiver) validationCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.validations)
}

// newPushEnv is an emulator whose notifications trust the receivers.
func newPushEnv(t *testing.T, so SubscriptionOptions, receivers ...*receiver) *testEnv {
	t.Helper()
	pool := x509.NewCertPool()
	for _, rc := range receivers {
		pool.AddCert(rc.ts.Certificate())
	}
	so.TrustedRoots = pool
	if so.Runtime.DuplicateEvery == 0 {
		so.Runtime.DuplicateEvery = -1
	}
	if so.Runtime.RetryInitial == "" {
		so.Runtime.RetryInitial = "20ms"
	}
	e := newEnv(t, Options{Subscriptions: so})
	t.Cleanup(e.srv.Close)
	return e
}

// subscribeBody is a create body; fields override the defaults.
func subscribeBody(rc *receiver, fields map[string]any) string {
	b := map[string]any{
		"changeType":               "created,updated,deleted",
		"notificationUrl":          rc.url("/push/n/R1?x=1"),
		"lifecycleNotificationUrl": rc.url("/push/l/R1"),
		"resource":                 "me/mailFolders('inbox')/messages",
		"expirationDateTime":       time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"clientState":              "mac-of-R1",
	}
	for k, v := range fields {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}

func (e *testEnv) subscribe(token, body string) map[string]any {
	e.t.Helper()
	res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: token, body: body})
	require.Equal(e.t, http.StatusCreated, res.status, "%s", res.body)
	return res.json(e.t)
}

func TestSubscriptionCreate(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	sub := e.subscribe("demo", subscribeBody(rc, map[string]any{"expirationDateTime": exp.Format(time.RFC3339)}))

	assert.Equal(t, "me/mailFolders('inbox')/messages", sub["resource"])
	assert.Equal(t, "created,updated,deleted", sub["changeType"])
	assert.Equal(t, "mac-of-R1", sub["clientState"], "the create answer carries clientState")
	assert.Equal(t, rc.url("/push/n/R1?x=1"), sub["notificationUrl"])
	assert.Equal(t, rc.url("/push/l/R1"), sub["lifecycleNotificationUrl"])
	assert.Equal(t, DemoObjectID, sub["creatorId"])
	assert.Equal(t, DefaultApplicationID, sub["applicationId"])
	assert.Equal(t, "v1_2", sub["latestSupportedTlsVersion"])
	assert.Equal(t, graphTime(exp), sub["expirationDateTime"])
	assert.Contains(t, sub["@odata.context"], "/v1.0/$metadata#subscriptions/$entity")

	// Both URLs were validated: a text/plain POST whose token needs URL
	// decoding; the notificationUrl's own query is kept.
	validations := rc.validationRequests()
	require.Len(t, validations, 2)
	v := validations[0]
	assert.Equal(t, "/push/n/R1", v.path)
	assert.True(t, strings.HasPrefix(v.query, "x=1&validationToken="), v.query)
	assert.Contains(t, v.validationToken, "Validation: Testing client application reachability")
	assert.True(t, strings.HasPrefix(v.contentType, "text/plain"))
	assert.Equal(t, "/push/l/R1", validations[1].path)
	assert.EqualValues(t, 2, e.srv.NotificationLog().ValidationRequests)

	// GET and List show the subscription to its owner only, without
	// clientState.
	id := sub["id"].(string)
	got := e.do(req{path: "/v1.0/subscriptions/" + id, token: "demo"})
	require.Equal(t, http.StatusOK, got.status, "%s", got.body)
	assert.Nil(t, got.json(t)["clientState"])
	list := e.do(req{path: "/v1.0/subscriptions", token: "demo"}).json(t)["value"].([]any)
	require.Len(t, list, 1)
	assert.Equal(t, id, list[0].(map[string]any)["id"])
	assert.Nil(t, list[0].(map[string]any)["clientState"])
	assert.Empty(t, e.do(req{path: "/v1.0/subscriptions", token: "demo2"}).json(t)["value"])
	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/v1.0/subscriptions/" + id, token: "demo2"}).status)

	// The control API lists it with clientState.
	infos, err := e.srv.Subscriptions("demo")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "mac-of-R1", infos[0].ClientState)

	// An expiration less than 45 minutes ahead is raised to 45 minutes.
	soon := e.subscribe("demo", subscribeBody(rc, map[string]any{"expirationDateTime": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339), "lifecycleNotificationUrl": nil}))
	at, err := time.Parse(time.RFC3339Nano, soon["expirationDateTime"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(45*time.Minute), at, 5*time.Second)
	assert.Nil(t, soon["lifecycleNotificationUrl"])
}

func TestSubscriptionValidationFailures(t *testing.T) {
	rc := newReceiver(t)
	good := newReceiver(t)
	gone := newReceiver(t)
	goneURL := gone.url("/push/n/R")
	gone.ts.Close()
	e := newPushEnv(t, SubscriptionOptions{ValidationTimeout: 300 * time.Millisecond}, rc, good)
	tests := []struct {
		name     string
		validate func(token string, w http.ResponseWriter)
		url      string
		message  string
	}{
		{"wrong echo", func(token string, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token+"x")
		}, "", "Response must exactly match validationToken query parameter"},
		{"still encoded", func(token string, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, strings.ReplaceAll(token, " ", "+"))
		}, "", "Response must exactly match validationToken query parameter"},
		{"202", func(token string, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, token)
		}, "", "must respond with 200 OK"},
		{"json", func(token string, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, token)
		}, "", "content type 'text/plain'"},
		{"slow", func(token string, w http.ResponseWriter) {
			time.Sleep(600 * time.Millisecond)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
		}, "", "timed out"},
		{"unreachable", nil, goneURL, "must respond with 200 OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc.mu.Lock()
			rc.validate = tt.validate
			rc.mu.Unlock()
			u := tt.url
			if u == "" {
				u = rc.url("/push/n/R")
			}
			res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo",
				body: subscribeBody(good, map[string]any{"notificationUrl": u})})
			require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
			assert.Equal(t, "ValidationError", graphErrorCode(t, res))
			assert.Contains(t, string(res.body), tt.message)
		})
	}
	// A lifecycle URL that fails its validation fails the create too.
	rc.mu.Lock()
	rc.validate = func(token string, w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }
	rc.mu.Unlock()
	res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo",
		body: subscribeBody(good, map[string]any{"lifecycleNotificationUrl": rc.url("/push/l/R")})})
	require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
	infos, err := e.srv.Subscriptions("demo")
	require.NoError(t, err)
	assert.Empty(t, infos, "no subscription after a failed validation")

	// The other code Graph has been seen to use.
	e2 := newPushEnv(t, SubscriptionOptions{ValidationErrorCode: ValidationErrorCodeInvalid}, rc, good)
	res = e2.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo",
		body: subscribeBody(good, map[string]any{"lifecycleNotificationUrl": rc.url("/push/l/R")})})
	require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
	assert.Equal(t, "InvalidRequest", graphErrorCode(t, res))
}

func TestSubscriptionCreateRules(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	tests := []struct {
		name   string
		fields map[string]any
		status int
		code   string
	}{
		{"no changeType", map[string]any{"changeType": nil}, 400, "InvalidRequest"},
		{"bad changeType", map[string]any{"changeType": "created,moved"}, 400, "InvalidRequest"},
		{"no notificationUrl", map[string]any{"notificationUrl": nil}, 400, "InvalidRequest"},
		{"http notificationUrl", map[string]any{"notificationUrl": "http://bridge.example/push/n/R"}, 400, "InvalidRequest"},
		{"relative notificationUrl", map[string]any{"notificationUrl": "/push/n/R"}, 400, "InvalidRequest"},
		{"http lifecycle url", map[string]any{"lifecycleNotificationUrl": "http://bridge.example/push/l/R"}, 400, "InvalidRequest"},
		{"url too long", map[string]any{"notificationUrl": rc.url("/push/n/" + strings.Repeat("R", 2048))}, 400, "InvalidRequest"},
		{"clientState 129", map[string]any{"clientState": strings.Repeat("c", 129)}, 400, "InvalidRequest"},
		{"no expiration", map[string]any{"expirationDateTime": nil}, 400, "InvalidRequest"},
		{"expiration not a date", map[string]any{"expirationDateTime": "tomorrow"}, 400, "InvalidRequest"},
		{"expiration past", map[string]any{"expirationDateTime": in(-time.Minute)}, 400, "ExtensionError"},
		{"expiration over 10080 min", map[string]any{"expirationDateTime": in(10081 * time.Minute)}, 400, "ExtensionError"},
		{"no resource", map[string]any{"resource": nil}, 400, "InvalidRequest"},
		{"unsupported resource", map[string]any{"resource": "me/drive/root"}, 400, "InvalidRequest"},
		{"absolute resource", map[string]any{"resource": "https://graph.microsoft.com/v1.0/me/messages"}, 400, "InvalidRequest"},
		{"resource with filter", map[string]any{"resource": "me/messages?$filter=isRead eq false"}, 400, "InvalidRequest"},
		{"malformed folder id", map[string]any{"resource": "me/mailFolders('nope')/messages"}, 400, "ErrorInvalidIdMalformed"},
		{"other user's mailbox", map[string]any{"resource": "users/adele@contoso.example/messages"}, 403, "ExtensionError"},
		{"delegate's mailbox", map[string]any{"resource": "users/shared@contoso.example/messages"}, 403, "ExtensionError"},
		{"unknown user", map[string]any{"resource": "users/nobody@contoso.example/messages"}, 404, "ErrorInvalidUser"},
		{"rich notifications", map[string]any{"includeResourceData": true}, 400, "InvalidRequest"},
		{"bad tls version", map[string]any{"latestSupportedTlsVersion": "v2_0"}, 400, "InvalidRequest"},
		{"unknown property", map[string]any{"color": "blue"}, 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo", body: subscribeBody(rc, tt.fields)})
			require.Equal(t, tt.status, res.status, "%s", res.body)
			assert.Equal(t, tt.code, graphErrorCode(t, res))
		})
	}
	assert.Zero(t, rc.validationCount(), "a refused create validates nothing")

	accepted := []map[string]any{
		{"clientState": strings.Repeat("c", 128)},
		{"expirationDateTime": in(10079 * time.Minute)},
		{"resource": "/me/messages"},
		{"resource": "me/mailFolders/inbox/messages"},
		{"resource": "Me/MailFolders('Archive')/Messages"},
		{"resource": "me/events", "changeType": "updated"},
		{"resource": "me/contacts", "changeType": "deleted,created"},
		{"resource": "users/" + DemoObjectID + "/mailFolders('inbox')/messages"},
		{"resource": "users/demo@contoso.example/events"},
	}
	for _, f := range accepted {
		e.subscribe("demo", subscribeBody(rc, f))
	}

	// The other documented figures, as options.
	e2 := newPushEnv(t, SubscriptionOptions{MaxLifetime: 4230 * time.Minute, MaxClientState: 255, MaxURLLength: -1}, rc)
	res := e2.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo", body: subscribeBody(rc, map[string]any{"expirationDateTime": in(4231 * time.Minute)})})
	require.Equal(t, http.StatusBadRequest, res.status)
	assert.Contains(t, string(res.body), "4230 minutes")
	e2.subscribe("demo", subscribeBody(rc, map[string]any{"clientState": strings.Repeat("c", 255), "expirationDateTime": in(4229 * time.Minute), "notificationUrl": rc.url("/push/n/" + strings.Repeat("R", 3000))}))
}

func TestSubscriptionLimitPerMailbox(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{MaxPerMailbox: 2}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	e.subscribe("demo", subscribeBody(rc, nil))
	res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo", body: subscribeBody(rc, nil)})
	require.Equal(t, http.StatusForbidden, res.status, "%s", res.body)
	assert.Equal(t, "ExtensionError", graphErrorCode(t, res))
	e.subscribe("demo2", subscribeBody(rc, nil))
}

func TestSubscriptionPatchAndDelete(t *testing.T) {
	rc := newReceiver(t)
	other := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc, other)
	id := e.subscribe("demo", subscribeBody(rc, nil))["id"].(string)
	path := "/v1.0/subscriptions/" + id
	patch := func(token, body string) resp {
		return e.do(req{method: http.MethodPatch, path: path, token: token, body: body})
	}
	renew := `"expirationDateTime":"` + time.Now().Add(100*time.Hour).UTC().Format(time.RFC3339) + `"`
	for _, tt := range []struct{ body, message string }{
		{`{"clientState":"other",` + renew + `}`, "clientState can only be set when the subscription is created"},
		{`{"lifecycleNotificationUrl":"` + rc.url("/push/l/R2") + `",` + renew + `}`, "lifecycleNotificationUrl can only be set when the subscription is created"},
		{`{"changeType":"created",` + renew + `}`, "Only expirationDateTime and notificationUrl can be updated"},
		{`{"resource":"me/messages",` + renew + `}`, "Only expirationDateTime and notificationUrl can be updated"},
		{`{}`, "Only expirationDateTime and notificationUrl can be updated"},
	} {
		res := patch("demo", tt.body)
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", tt.body, res.body)
		assert.Equal(t, "InvalidRequest", graphErrorCode(t, res), tt.body)
		assert.Contains(t, string(res.body), tt.message)
	}
	assert.Equal(t, http.StatusBadRequest, patch("demo", `{"expirationDateTime":"`+time.Now().Add(10081*time.Minute).UTC().Format(time.RFC3339)+`"}`).status)

	// A renewal: 200 with the new expiry; the URL is unchanged, so it is
	// not validated again (renew_validation changed_url).
	validations := rc.validationCount()
	exp := time.Now().Add(100 * time.Hour).UTC().Truncate(time.Second)
	res := patch("demo", `{"expirationDateTime":"`+exp.Format(time.RFC3339)+`"}`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, graphTime(exp), res.json(t)["expirationDateTime"])
	assert.Nil(t, res.json(t)["clientState"])
	assert.Equal(t, validations, rc.validationCount())
	infos, _ := e.srv.Subscriptions("demo")
	require.Len(t, infos, 1)
	assert.Equal(t, "mac-of-R1", infos[0].ClientState, "a renewal keeps clientState")
	assert.Equal(t, rc.url("/push/l/R1"), infos[0].LifecycleNotificationURL)

	// With renew_validation always, every renewal validates.
	_, err := e.srv.SetNotificationSettings(NotificationSettings{RenewValidation: RenewValidationAlways})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, patch("demo", `{"expirationDateTime":"`+exp.Format(time.RFC3339)+`"}`).status)
	assert.Equal(t, validations+1, rc.validationCount())
	rc.mu.Lock()
	rc.validate = func(token string, w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) }
	rc.mu.Unlock()
	res = patch("demo", `{"expirationDateTime":"`+exp.Format(time.RFC3339)+`"}`)
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "ValidationError", graphErrorCode(t, res))

	// A new notificationUrl is validated (and kept only when it echoes).
	res = patch("demo", `{"notificationUrl":"`+other.url("/push/n/R9")+`"}`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, other.url("/push/n/R9"), res.json(t)["notificationUrl"])
	assert.Equal(t, 1, other.validationCount())
	res = patch("demo", `{"notificationUrl":"`+rc.url("/push/n/R10")+`"}`)
	require.Equal(t, http.StatusBadRequest, res.status)
	infos, _ = e.srv.Subscriptions("demo")
	assert.Equal(t, other.url("/push/n/R9"), infos[0].NotificationURL)

	// Another mailbox cannot see, renew or delete it.
	assert.Equal(t, http.StatusNotFound, patch("demo2", `{"expirationDateTime":"`+exp.Format(time.RFC3339)+`"}`).status)
	assert.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodDelete, path: path, token: "demo2"}).status)
	assert.Equal(t, http.StatusNoContent, e.do(req{method: http.MethodPost, path: path + "/reauthorize", token: "demo"}).status)

	res = e.do(req{method: http.MethodDelete, path: path, token: "demo"})
	require.Equal(t, http.StatusNoContent, res.status)
	res = e.do(req{path: path, token: "demo"})
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "ResourceNotFound", graphErrorCode(t, res))
	assert.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodDelete, path: path, token: "demo"}).status)
	assert.Equal(t, http.StatusNotFound, patch("demo", `{"expirationDateTime":"`+exp.Format(time.RFC3339)+`"}`).status)
}

// checkItem asserts the fields every change notification carries.
func checkItem(t *testing.T, it map[string]any, subID, changeType, odataType, coll, id string) {
	t.Helper()
	assert.Equal(t, subID, it["subscriptionId"])
	assert.Equal(t, changeType, it["changeType"])
	assert.Equal(t, "mac-of-R1", it["clientState"])
	assert.Equal(t, DefaultTenantID, it["tenantId"])
	assert.Equal(t, "Users/"+DemoObjectID+"/"+coll+"/"+id, it["resource"])
	exp, err := time.Parse(time.RFC3339Nano, it["subscriptionExpirationDateTime"].(string))
	require.NoError(t, err)
	assert.True(t, exp.After(time.Now()))
	rd := it["resourceData"].(map[string]any)
	assert.Equal(t, odataType, rd["@odata.type"])
	assert.Equal(t, "Users/"+DemoObjectID+"/"+coll+"/"+id, rd["@odata.id"])
	assert.Equal(t, id, rd["id"])
	assert.True(t, strings.HasPrefix(rd["@odata.etag"].(string), `W/"`), rd["@odata.etag"])
}

func TestNotificationsForMail(t *testing.T) {
	rc := newReceiver(t)
	all := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc, all)
	subID := e.subscribe("demo", subscribeBody(rc, nil))["id"].(string)
	allID := e.subscribe("demo", subscribeBody(all, map[string]any{"resource": "me/messages", "notificationUrl": all.url("/push/n/ALL")}))["id"].(string)
	// Another mailbox's changes and a created-only subscription elsewhere
	// must not reach rc.
	e.subscribe("demo2", subscribeBody(all, map[string]any{"changeType": "created", "notificationUrl": all.url("/push/n/D2")}))

	// A mail delivered through the control API.
	d := e.deliver("demo", `{"subject":"push me"}`)
	id := d["id"].(string)
	p := rc.next()
	assert.Equal(t, "/push/n/R1", p.path)
	assert.Equal(t, "x=1", p.query, "the notificationUrl's query comes back")
	assert.True(t, strings.HasPrefix(p.contentType, "application/json"))
	items := p.items(t)
	require.Len(t, items, 1)
	checkItem(t, items[0], subID, "created", "#Microsoft.Graph.Message", "Messages", id)
	items = all.next().items(t)
	require.Len(t, items, 1)
	checkItem(t, items[0], allID, "created", "#Microsoft.Graph.Message", "Messages", id)

	// Read on another device (a Graph PATCH): updated.
	res := e.do(req{method: http.MethodPatch, path: "/v1.0/me/messages/" + id, token: "demo", body: `{"isRead":true}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	checkItem(t, rc.next().items(t)[0], subID, "updated", "#Microsoft.Graph.Message", "Messages", id)
	all.next()

	// Moved out of the Inbox: deleted for the Inbox subscription; the
	// mailbox-wide one sees the old id deleted and the new id created.
	res = e.do(req{method: http.MethodPost, path: "/v1.0/me/messages/" + id + "/move", token: "demo", body: `{"destinationId":"archive"}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	newID := res.json(t)["id"].(string)
	checkItem(t, rc.next().items(t)[0], subID, "deleted", "#Microsoft.Graph.Message", "Messages", id)
	var seen []string
	for _, it := range all.next().items(t) {
		seen = append(seen, it["changeType"].(string)+" "+it["resourceData"].(map[string]any)["id"].(string))
	}
	assert.Equal(t, []string{"deleted " + id, "created " + newID}, seen, "one POST for the move's two changes")

	// A mail delivered to another folder does not reach the Inbox
	// subscription.
	e.deliver("demo", `{"subject":"archived","folder":"archive"}`)
	all.next()
	rc.none(200 * time.Millisecond)
}

func TestNotificationsForEventsAndContacts(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	evSub := e.subscribe("demo", subscribeBody(rc, map[string]any{"resource": "me/events", "notificationUrl": rc.url("/push/n/EV")}))["id"].(string)
	ctSub := e.subscribe("demo", subscribeBody(rc, map[string]any{"resource": "me/contacts", "notificationUrl": rc.url("/push/n/CT"), "changeType": "created,deleted"}))["id"].(string)

	res := e.do(req{method: http.MethodPost, path: "/v1.0/me/events", token: "demo", body: `{"subject":"Push review","start":{"dateTime":"2026-12-01T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-12-01T11:00:00","timeZone":"UTC"}}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	evID := res.json(t)["id"].(string)
	p := rc.next()
	assert.Equal(t, "/push/n/EV", p.path)
	checkItem(t, p.items(t)[0], evSub, "created", "#Microsoft.Graph.Event", "Events", evID)
	require.Equal(t, http.StatusOK, e.do(req{method: http.MethodPatch, path: "/v1.0/me/events/" + evID, token: "demo", body: `{"subject":"Push review (moved)"}`}).status)
	checkItem(t, rc.next().items(t)[0], evSub, "updated", "#Microsoft.Graph.Event", "Events", evID)
	require.Equal(t, http.StatusNoContent, e.do(req{method: http.MethodDelete, path: "/v1.0/me/events/" + evID, token: "demo"}).status)
	checkItem(t, rc.next().items(t)[0], evSub, "deleted", "#Microsoft.Graph.Event", "Events", evID)

	res = e.do(req{method: http.MethodPost, path: "/v1.0/me/contacts", token: "demo", body: `{"givenName":"Pat","surname":"Push"}`})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	ctID := res.json(t)["id"].(string)
	p = rc.next()
	assert.Equal(t, "/push/n/CT", p.path)
	checkItem(t, p.items(t)[0], ctSub, "created", "#Microsoft.Graph.Contact", "Contacts", ctID)
	// updated is not in this subscription's changeType.
	require.Equal(t, http.StatusOK, e.do(req{method: http.MethodPatch, path: "/v1.0/me/contacts/" + ctID, token: "demo", body: `{"surname":"Pusher"}`}).status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: http.MethodDelete, path: "/v1.0/me/contacts/" + ctID, token: "demo"}).status)
	checkItem(t, rc.next().items(t)[0], ctSub, "deleted", "#Microsoft.Graph.Contact", "Contacts", ctID)
	rc.none(200 * time.Millisecond)
}

func TestNotificationResourceForms(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	for form, want := range map[string]func(id string) string{
		ResourceFormUsers:        func(id string) string { return "Users/" + DemoObjectID + "/Messages/" + id },
		ResourceFormUserAtTenant: func(id string) string { return "users/" + DemoObjectID + "@" + DefaultTenantID + "/messages/" + id },
		ResourceFormODataKey:     func(id string) string { return "Users('" + DemoObjectID + "')/Messages('" + id + "')" },
	} {
		_, err := e.srv.SetNotificationSettings(NotificationSettings{ResourceForm: form})
		require.NoError(t, err)
		id := e.deliver("demo", `{"subject":"form"}`)["id"].(string)
		assert.Equal(t, want(id), rc.next().items(t)[0]["resource"], form)
	}
}

func TestNotificationImmutableIDs(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo", body: subscribeBody(rc, nil), headers: prefer(`IdType="ImmutableId"`)})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	d := e.deliver("demo", `{"subject":"immutable"}`)
	assert.Equal(t, d["immutableId"], rc.next().items(t)[0]["resourceData"].(map[string]any)["id"])
}

func TestNotificationDuplicates(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{Runtime: NotificationSettings{DuplicateEvery: 1, DuplicateCopies: 2}}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	e.deliver("demo", `{"subject":"thrice"}`)
	first := string(rc.next().body)
	assert.Equal(t, first, string(rc.next().body))
	assert.Equal(t, first, string(rc.next().body))
	rc.none(200 * time.Millisecond)

	// Every second POST: of the next two changes (POSTs 2 and 3) the
	// first arrives twice.
	_, err := e.srv.SetNotificationSettings(NotificationSettings{DuplicateEvery: 2, DuplicateCopies: 1})
	require.NoError(t, err)
	a := e.deliver("demo", `{"subject":"a"}`)["id"].(string)
	p1, p2 := rc.next(), rc.next()
	assert.Equal(t, string(p1.body), string(p2.body))
	assert.Equal(t, a, p1.items(t)[0]["resourceData"].(map[string]any)["id"])
	b := e.deliver("demo", `{"subject":"b"}`)["id"].(string)
	assert.Equal(t, b, rc.next().items(t)[0]["resourceData"].(map[string]any)["id"])
	rc.none(200 * time.Millisecond)
}

func TestNotificationBatchWindow(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{Runtime: NotificationSettings{BatchWindow: "300ms"}}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	var want []string
	for i := 0; i < 3; i++ {
		want = append(want, e.deliver("demo", `{"subject":"burst"}`)["id"].(string))
	}
	items := rc.next().items(t)
	assert.ElementsMatch(t, want, ids(itemsResourceData(items)))
	rc.none(400 * time.Millisecond)
}

func itemsResourceData(items []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, it["resourceData"].(map[string]any))
	}
	return out
}

func TestNotificationRetriedAfter500(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	e.srv.ClearNotificationLog()
	e.deliver("demo", `{"subject":"retry"}`)
	first, second := rc.next(), rc.next()
	assert.Equal(t, string(first.body), string(second.body))
	rc.none(200 * time.Millisecond)
	recs := e.srv.NotificationLog().Attempts
	require.Len(t, recs, 2)
	assert.Equal(t, 1, recs[0].Attempt)
	assert.Equal(t, http.StatusInternalServerError, recs[0].Status)
	assert.Equal(t, 2, recs[1].Attempt)
	assert.Equal(t, http.StatusAccepted, recs[1].Status)
	assert.Equal(t, "notification", recs[1].Kind)
	assert.Equal(t, rc.ts.Listener.Addr().String(), recs[1].Host)
}

func TestNotificationTimeoutRetried(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})
	e := newPushEnv(t, SubscriptionOptions{}, rc) // Graph's 3 s timeout
	e.subscribe("demo", subscribeBody(rc, nil))
	e.srv.ClearNotificationLog()
	e.deliver("demo", `{"subject":"slow"}`)
	rc.next()
	rc.next()
	require.Eventually(t, func() bool { return len(e.srv.NotificationLog().Attempts) == 2 }, 5*time.Second, 10*time.Millisecond)
	recs := e.srv.NotificationLog().Attempts
	assert.Equal(t, "timeout", recs[0].Error)
	assert.Zero(t, recs[0].Status)
	assert.GreaterOrEqual(t, recs[0].Millis, int64(2900))
	assert.Less(t, recs[0].Millis, int64(4500))
	assert.Equal(t, 2, recs[1].Attempt)
	assert.Equal(t, http.StatusAccepted, recs[1].Status)
}

func TestNotificationDroppedAfterRetryWindow(t *testing.T) {
	rc := newReceiver(t)
	rc.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	e := newPushEnv(t, SubscriptionOptions{Runtime: NotificationSettings{RetryInitial: "10ms", RetryMaxInterval: "40ms", RetryFor: "200ms"}}, rc)
	e.subscribe("demo", subscribeBody(rc, nil))
	e.srv.ClearNotificationLog()
	e.deliver("demo", `{"subject":"never"}`)
	require.Eventually(t, func() bool {
		recs := e.srv.NotificationLog().Attempts
		return len(recs) > 0 && recs[len(recs)-1].Dropped
	}, 5*time.Second, 10*time.Millisecond)
	recs := e.srv.NotificationLog().Attempts
	assert.Greater(t, len(recs), 2, "retried before dropping")
	for i, r := range recs {
		assert.Equal(t, i+1, r.Attempt)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	}
	n := len(recs)
	time.Sleep(150 * time.Millisecond)
	assert.Len(t, e.srv.NotificationLog().Attempts, n, "nothing after the drop")
}

func TestNotificationRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t)
	rc := newReceiver(t)
	rc.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			http.Redirect(w, r, target.url("/elsewhere"), http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	e := newPushEnv(t, SubscriptionOptions{}, rc, target)
	e.subscribe("demo", subscribeBody(rc, nil))
	e.srv.ClearNotificationLog()
	e.deliver("demo", `{"subject":"redirect"}`)
	rc.next()
	rc.next()
	target.none(100 * time.Millisecond)
	recs := e.srv.NotificationLog().Attempts
	require.Len(t, recs, 2)
	assert.Equal(t, http.StatusTemporaryRedirect, recs[0].Status)
}

func TestLifecycleEvents(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	id := e.subscribe("demo", subscribeBody(rc, nil))["id"].(string)
	bare := e.subscribe("demo", subscribeBody(rc, map[string]any{"lifecycleNotificationUrl": nil}))["id"].(string)
	for _, ev := range []string{LifecycleReauthorizationRequired, LifecycleMissed, LifecycleSubscriptionRemoved} {
		res := e.do(req{method: http.MethodPost, path: "/_emulator/subscriptions/" + id + "/lifecycle", body: `{"event":"` + ev + `"}`})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		assert.Equal(t, true, res.json(t)["sent"])
		p := rc.next()
		assert.Equal(t, "/push/l/R1", p.path)
		items := p.items(t)
		require.Len(t, items, 1)
		it := items[0]
		assert.Equal(t, ev, it["lifecycleEvent"])
		assert.Equal(t, id, it["subscriptionId"])
		assert.Equal(t, "mac-of-R1", it["clientState"])
		assert.Equal(t, DefaultTenantID, it["tenantId"])
		assert.NotEmpty(t, it["subscriptionExpirationDateTime"])
		assert.Nil(t, it["resource"])
	}
	// subscriptionRemoved removed it; the other one gets nothing without
	// a lifecycle URL.
	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/v1.0/subscriptions/" + id, token: "demo"}).status)
	res := e.do(req{method: http.MethodPost, path: "/_emulator/subscriptions/" + bare + "/lifecycle", body: `{"event":"missed"}`})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, false, res.json(t)["sent"])
	assert.Equal(t, http.StatusBadRequest, e.do(req{method: http.MethodPost, path: "/_emulator/subscriptions/" + bare + "/lifecycle", body: `{"event":"bored"}`}).status)
	assert.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodPost, path: "/_emulator/subscriptions/" + id + "/lifecycle", body: `{"event":"missed"}`}).status)

	// The control API's list and log.
	res = e.do(req{path: "/_emulator/mailboxes/demo/subscriptions"})
	require.Equal(t, http.StatusOK, res.status)
	var infos []SubscriptionInfo
	require.NoError(t, json.Unmarshal(res.body, &infos))
	require.Len(t, infos, 1)
	assert.Equal(t, bare, infos[0].ID)
	// An attempt is logged once its POST is answered, which may trail the
	// receiver's handler by a moment: read the log until the last one is in.
	var log NotificationLog
	kinds := map[string]int{}
	require.Eventually(t, func() bool {
		res := e.do(req{path: "/_emulator/notifications/log"})
		if res.status != http.StatusOK || json.Unmarshal(res.body, &log) != nil {
			return false
		}
		kinds = map[string]int{}
		for _, r := range log.Attempts {
			kinds[r.Kind]++
		}
		return kinds["lifecycle"] == 3
	}, 5*time.Second, 10*time.Millisecond, "the lifecycle POSTs are logged: %v", kinds)
	assert.EqualValues(t, 3, log.ValidationRequests)
	for _, r := range log.Attempts {
		assert.NotContains(t, r.Host, "/")
	}
	assert.Equal(t, map[string]int{"validation": 3, "lifecycle": 3}, kinds)
}

func TestTokenExpiryVariants(t *testing.T) {
	for _, variant := range []string{TokenExpiryContinue, TokenExpiryPause} {
		t.Run(variant, func(t *testing.T) {
			rc := newReceiver(t)
			e := newPushEnv(t, SubscriptionOptions{}, rc)
			res := e.do(req{method: http.MethodPatch, path: "/_emulator/notifications/settings", body: `{"tokenExpiry":"` + variant + `"}`})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			id := e.subscribe("demo", subscribeBody(rc, nil))["id"].(string)

			res = e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes/demo/expire-token"})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			assert.EqualValues(t, 1, res.json(t)["lifecycleSent"])
			p := rc.next()
			assert.Equal(t, "/push/l/R1", p.path)
			assert.Equal(t, LifecycleReauthorizationRequired, p.items(t)[0]["lifecycleEvent"])

			during := e.deliver("demo", `{"subject":"during"}`)["id"].(string)
			infos, _ := e.srv.Subscriptions("demo")
			if variant == TokenExpiryContinue {
				assert.False(t, infos[0].Paused)
				assert.Equal(t, during, rc.next().items(t)[0]["resourceData"].(map[string]any)["id"])
			} else {
				assert.True(t, infos[0].Paused)
			}
			// Renewal (a PATCH) resumes; in the pause variant the change
			// made during the pause is lost.
			exp := time.Now().Add(50 * time.Hour).UTC().Format(time.RFC3339)
			require.Equal(t, http.StatusOK, e.do(req{method: http.MethodPatch, path: "/v1.0/subscriptions/" + id, token: "demo", body: `{"expirationDateTime":"` + exp + `"}`}).status)
			after := e.deliver("demo", `{"subject":"after"}`)["id"].(string)
			assert.Equal(t, after, rc.next().items(t)[0]["resourceData"].(map[string]any)["id"])
			rc.none(200 * time.Millisecond)
		})
	}
}

func TestReauthorizeResumesPausedSubscription(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{Runtime: NotificationSettings{TokenExpiry: TokenExpiryPause}}, rc)
	id := e.subscribe("demo", subscribeBody(rc, nil))["id"].(string)
	_, err := e.srv.SendLifecycle(id, LifecycleReauthorizationRequired)
	require.NoError(t, err)
	rc.next()
	e.deliver("demo", `{"subject":"lost"}`)
	require.Equal(t, http.StatusNoContent, e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions/" + id + "/reauthorize", token: "demo"}).status)
	kept := e.deliver("demo", `{"subject":"kept"}`)["id"].(string)
	assert.Equal(t, kept, rc.next().items(t)[0]["resourceData"].(map[string]any)["id"])
}

func TestNotificationSettingsControl(t *testing.T) {
	e := newEnv(t, Options{})
	t.Cleanup(e.srv.Close)
	res := e.do(req{path: "/_emulator/notifications/settings"})
	require.Equal(t, http.StatusOK, res.status)
	var ns NotificationSettings
	require.NoError(t, json.Unmarshal(res.body, &ns))
	assert.Equal(t, NotificationSettings{TokenExpiry: "continue", RenewValidation: "changed_url", ResourceForm: "users",
		NotificationTimeout: "3s", RetryInitial: "1m0s", RetryMaxInterval: "30m0s", RetryFor: "4h0m0s",
		DuplicateEvery: 10, DuplicateCopies: 1, BatchWindow: "0s", MissedOnDrop: "off"}, ns)
	for _, bad := range []string{`{"tokenExpiry":"never"}`, `{"retryInitial":"soon"}`, `{"duplicateCopies":11}`, `{"resourceForm":"odata"}`, `{"colour":1}`} {
		assert.Equal(t, http.StatusBadRequest, e.do(req{method: http.MethodPatch, path: "/_emulator/notifications/settings", body: bad}).status, bad)
	}
	res = e.do(req{method: http.MethodPatch, path: "/_emulator/notifications/settings", body: `{"duplicateEvery":-1,"retryFor":"1s"}`})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	got := e.srv.NotificationSettings()
	assert.Equal(t, -1, got.DuplicateEvery)
	assert.Equal(t, "1s", got.RetryFor)
	assert.Equal(t, "continue", got.TokenExpiry, "unchanged fields stay")
	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/_emulator/mailboxes/nobody/subscriptions"}).status)
	assert.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodPost, path: "/_emulator/mailboxes/nobody/expire-token"}).status)
}

// TestSubscriptionsInBatch: several subscriptions are created in one
// $batch, each with its own answer, as the bridge's push.subscribe does.
func TestSubscriptionsInBatch(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	mail := subscribeBody(rc, nil)
	cal := subscribeBody(rc, map[string]any{"resource": "me/events"})
	bad := subscribeBody(rc, map[string]any{"clientState": strings.Repeat("c", 129)})
	res, a := e.batch("demo", `{"requests":[`+
		`{"id":"1","method":"POST","url":"/subscriptions","headers":{"Content-Type":"application/json"},"body":`+mail+`},`+
		`{"id":"2","method":"POST","url":"/subscriptions","headers":{"Content-Type":"application/json"},"body":`+cal+`},`+
		`{"id":"3","method":"POST","url":"/subscriptions","headers":{"Content-Type":"application/json"},"body":`+bad+`}]}`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	status := map[string]int{}
	for _, r := range a.Responses {
		status[r.ID] = r.Status
	}
	assert.Equal(t, map[string]int{"1": 201, "2": 201, "3": 400}, status)
	infos, err := e.srv.Subscriptions("demo")
	require.NoError(t, err)
	assert.Len(t, infos, 2)
	assert.Equal(t, 4, rc.validationCount())
}

// TestExpiredSubscription: once its expirationDateTime passed, a
// subscription delivers nothing and is gone from GET and List.
func TestExpiredSubscription(t *testing.T) {
	rc := newReceiver(t)
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	pool := x509.NewCertPool()
	pool.AddCert(rc.ts.Certificate())
	e := newEnv(t, Options{Now: now, Subscriptions: SubscriptionOptions{TrustedRoots: pool, Runtime: NotificationSettings{DuplicateEvery: -1}}})
	t.Cleanup(e.srv.Close)
	id := e.subscribe("demo", subscribeBody(rc, map[string]any{"expirationDateTime": now().Add(time.Hour).UTC().Format(time.RFC3339)}))["id"].(string)
	e.deliver("demo", `{"subject":"in time"}`)
	rc.next()

	mu.Lock()
	clock = clock.Add(61 * time.Minute)
	mu.Unlock()
	e.deliver("demo", `{"subject":"too late"}`)
	rc.none(200 * time.Millisecond)
	assert.Equal(t, http.StatusNotFound, e.do(req{path: "/v1.0/subscriptions/" + id, token: "demo"}).status)
	assert.Empty(t, e.do(req{path: "/v1.0/subscriptions", token: "demo"}).json(t)["value"])
	res := e.do(req{method: http.MethodPatch, path: "/v1.0/subscriptions/" + id, token: "demo", body: `{"expirationDateTime":"` + now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`})
	assert.Equal(t, http.StatusNotFound, res.status, "an expired subscription cannot be renewed")
}

// TestTLS13OnlyEndpoint: Graph speaks TLS up to the subscription's
// latestSupportedTlsVersion (default v1_2), so an endpoint that accepts
// only TLS 1.3 fails validation unless the subscription says v1_3.
func TestTLS13OnlyEndpoint(t *testing.T) {
	rc := &receiver{t: t, arrived: make(chan receivedPost, 1000)}
	rc.ts = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.ts.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	rc.ts.StartTLS()
	t.Cleanup(rc.ts.Close)
	e := newPushEnv(t, SubscriptionOptions{}, rc)

	res := e.do(req{method: http.MethodPost, path: "/v1.0/subscriptions", token: "demo", body: subscribeBody(rc, nil)})
	require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
	assert.Equal(t, "ValidationError", graphErrorCode(t, res))

	e.subscribe("demo", subscribeBody(rc, map[string]any{"latestSupportedTlsVersion": "v1_3"}))
	e.deliver("demo", `{"subject":"over TLS 1.3"}`)
	assert.Equal(t, "created", rc.next().items(t)[0]["changeType"])
}

// TestNotificationsUnderConcurrentChanges: changes made at the same time
// by many requests each reach the subscriber exactly once (duplicates
// off), however they are grouped into POSTs.
func TestNotificationsUnderConcurrentChanges(t *testing.T) {
	rc := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{}, rc)
	e.subscribe("demo", subscribeBody(rc, map[string]any{"resource": "me/messages", "changeType": "created"}))
	const n = 60
	var wg sync.WaitGroup
	want := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := e.srv.Deliver("demo", DeliverSpec{Subject: "concurrent"})
			if err == nil {
				want <- d.ID
			}
		}()
	}
	wg.Wait()
	close(want)
	var wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	require.Len(t, wantIDs, n)
	var got []string
	for len(got) < n {
		got = append(got, ids(itemsResourceData(rc.next().items(t)))...)
	}
	assert.ElementsMatch(t, wantIDs, got)
	rc.none(200 * time.Millisecond)
}

// TestMissedOnDrop: with missedOnDrop on, a dropped change notification
// is followed by a missed lifecycle notification; off (default), by none.
func TestMissedOnDrop(t *testing.T) {
	down := newReceiver(t)
	down.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	life := newReceiver(t)
	e := newPushEnv(t, SubscriptionOptions{Runtime: NotificationSettings{RetryInitial: "10ms", RetryFor: "50ms"}}, down, life)
	id := e.subscribe("demo", subscribeBody(down, map[string]any{"lifecycleNotificationUrl": life.url("/push/l/R1")}))["id"].(string)

	e.deliver("demo", `{"subject":"dropped quietly"}`)
	require.Eventually(t, func() bool {
		recs := e.srv.NotificationLog().Attempts
		return len(recs) > 0 && recs[len(recs)-1].Dropped
	}, 5*time.Second, 10*time.Millisecond)
	life.none(200 * time.Millisecond)

	_, err := e.srv.SetNotificationSettings(NotificationSettings{MissedOnDrop: "on"})
	require.NoError(t, err)
	e.deliver("demo", `{"subject":"dropped and missed"}`)
	it := life.next().items(t)[0]
	assert.Equal(t, LifecycleMissed, it["lifecycleEvent"])
	assert.Equal(t, id, it["subscriptionId"])
	life.none(200 * time.Millisecond)
}
