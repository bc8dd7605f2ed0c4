package deviceclient

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// sentCommand is one command of an envelope as it crossed the wire; Args
// keeps the exact bytes.
type sentCommand struct {
	ID   string          `json:"id"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args"`
}

// sentCommands decodes the commands of a recorded batch request.
func sentCommands(t *testing.T, r recordedRequest) []sentCommand {
	t.Helper()
	var env struct {
		Commands []sentCommand `json:"commands"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("envelope %s: %v", r.body, err)
	}
	return env.Commands
}

// answerData is a batch answer whose one command succeeded with data.
func answerData(data string) fakeAnswer {
	return fakeAnswer{body: `{"results":[{"id":"c1","status":200,"data":` + data + `}]}`}
}

// answerError is a batch answer whose one command failed with status and
// the error object e.
func answerError(status, e string) fakeAnswer {
	return fakeAnswer{body: `{"results":[{"id":"c1","status":` + status + `,"error":` + e + `}]}`}
}

func TestCommandsSendTheirArgsAndDecodeTheirData(t *testing.T) {
	const (
		apnsToken = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
		p256dh    = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
		auth      = "tBHItJI5svbpez7KI4CCXg"
	)
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, c *Client) (any, error)
		op   string
		args string // the args exactly as sent: unset fields left out
		data string
		want any
	}{{
		name: "push.subscribe apns",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "apns", Token: apnsToken, Env: "sandbox",
				Device: "install-1", Account: "work", Alert: true})
		},
		op:   "push.subscribe",
		args: `{"platform":"apns","token":"` + apnsToken + `","env":"sandbox","device":"install-1","account":"work","alert":true}`,
		data: `{"state":"PS1","id":"sub-1","expires":"2026-12-03T04:00:00Z","renewAfter":"2026-12-01T20:00:00Z"}`,
		want: PushSubscription{State: "PS1", ID: "sub-1", Expires: "2026-12-03T04:00:00Z", RenewAfter: "2026-12-01T20:00:00Z"},
	}, {
		name: "push.subscribe fcm installation id, calendar, renewal",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "fcm", FID: "fid:abc_1", Watch: "calendar",
				Device: "install-1", State: "PS1"})
		},
		op:   "push.subscribe",
		args: `{"platform":"fcm","fid":"fid:abc_1","watch":"calendar","device":"install-1","state":"PS1"}`,
		data: `{"state":"PS2","id":"sub-1","expires":"2026-12-06T04:00:00Z","renewAfter":"2026-12-04T20:00:00Z"}`,
		want: PushSubscription{State: "PS2", ID: "sub-1", Expires: "2026-12-06T04:00:00Z", RenewAfter: "2026-12-04T20:00:00Z"},
	}, {
		name: "push.subscribe webpush on a mail folder",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "webpush", Endpoint: "https://push.example/s/1",
				P256DH: p256dh, Auth: auth, Watch: "mail", Folder: "archive", Device: "browser-7"})
		},
		op: "push.subscribe",
		args: `{"platform":"webpush","endpoint":"https://push.example/s/1","p256dh":"` + p256dh + `","auth":"` + auth +
			`","watch":"mail","folder":"archive","device":"browser-7"}`,
		data: `{"state":"PS3","id":"sub-3","expires":"2026-12-03T04:00:00Z","renewAfter":"2026-12-01T20:00:00Z"}`,
		want: PushSubscription{State: "PS3", ID: "sub-3", Expires: "2026-12-03T04:00:00Z", RenewAfter: "2026-12-01T20:00:00Z"},
	}, {
		name: "push.list with device",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.PushList(ctx, PushListArgs{Device: "install-1"})
		},
		op:   "push.list",
		args: `{"device":"install-1"}`,
		data: `{"subscriptions":[{"id":"sub-1","watch":"mail","platform":"apns","expires":"2026-12-03T04:00:00Z","mine":true},` +
			`{"id":"sub-9","mine":false}]}`,
		want: []ListedSubscription{
			{ID: "sub-1", Watch: "mail", Platform: "apns", Expires: "2026-12-03T04:00:00Z", Mine: true},
			{ID: "sub-9"},
		},
	}, {
		name: "push.list without device, none",
		call: func(ctx context.Context, c *Client) (any, error) { return c.PushList(ctx, PushListArgs{}) },
		op:   "push.list",
		args: `{}`,
		data: `{"subscriptions":[]}`,
		want: []ListedSubscription{},
	}, {
		name: "push.unsubscribe by state",
		call: func(ctx context.Context, c *Client) (any, error) {
			return Empty{}, c.PushUnsubscribe(ctx, PushUnsubscribeArgs{State: "PS1"})
		},
		op:   "push.unsubscribe",
		args: `{"state":"PS1"}`,
		data: `{}`,
		want: Empty{},
	}, {
		name: "push.unsubscribe by ids",
		call: func(ctx context.Context, c *Client) (any, error) {
			return Empty{}, c.PushUnsubscribe(ctx, PushUnsubscribeArgs{IDs: []string{"sub-1", "sub-9"}})
		},
		op:   "push.unsubscribe",
		args: `{"ids":["sub-1","sub-9"]}`,
		data: `{}`,
		want: Empty{},
	}, {
		name: "mail.get by an alert push's ref",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.MailGet(ctx, MailGetArgs{Ref: "AAAAAbQ1x0mR4vJc2p8UuV4mRz1Gg3k9", Fields: []string{"subject", "from"}})
		},
		op:   "mail.get",
		args: `{"ref":"AAAAAbQ1x0mR4vJc2p8UuV4mRz1Gg3k9","fields":["subject","from"]}`,
		data: `{"message":{"id":"M7","subject":"lunch?","from":{"name":"Ann","addr":"ann@x.example"}}}`,
		want: Message{ID: "M7", Subject: "lunch?", From: &Person{Name: "Ann", Addr: "ann@x.example"}},
	}, {
		name: "attachments.recent first page",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.AttachmentsRecent(ctx, AttachmentsRecentArgs{Mailbox: "shared@x.example",
				Since: "2026-11-01T00:00:00Z", Folder: "inbox", Window: 10})
		},
		op:   "attachments.recent",
		args: `{"mailbox":"shared@x.example","since":"2026-11-01T00:00:00Z","folder":"inbox","window":10}`,
		data: `{"items":[` +
			`{"message":{"id":"M2","subject":"plans","from":{"name":"Ann","addr":"ann@x.example"},"received":"2026-11-29T10:00:00Z","folder":"F1"},` +
			`"attachments":[{"id":"A1","name":"plan.pdf","size":2048,"type":"application/pdf","kind":"file"},` +
			`{"id":"A2","name":"logo.png","size":90,"type":"image/png","inline":true,"kind":"file"},{"id":"A3","name":"spec","kind":"link"}]},` +
			`{"message":{"id":"M1"},"attachments":[]}],"state":"RS1","more":true}`,
		want: AttachmentsRecentPage{
			Items: []MessageAttachments{{
				Message: RecentMessage{ID: "M2", Subject: "plans", From: &Person{Name: "Ann", Addr: "ann@x.example"},
					Received: "2026-11-29T10:00:00Z", Folder: "F1"},
				Attachments: []RecentAttachment{
					{ID: "A1", Name: "plan.pdf", Size: 2048, Type: "application/pdf", Kind: "file"},
					{ID: "A2", Name: "logo.png", Size: 90, Type: "image/png", Inline: true, Kind: "file"},
					{ID: "A3", Name: "spec", Kind: "link"},
				},
			}, {
				Message:     RecentMessage{ID: "M1"},
				Attachments: []RecentAttachment{},
			}},
			State: "RS1",
			More:  true,
		},
	}, {
		name: "attachments.recent next page",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.AttachmentsRecent(ctx, AttachmentsRecentArgs{State: "RS1"})
		},
		op:   "attachments.recent",
		args: `{"state":"RS1"}`,
		data: `{"items":[],"more":false}`,
		want: AttachmentsRecentPage{Items: []MessageAttachments{}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, f, _ := newTestClient(t, answerData(tc.data))
			got, err := tc.call(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("data\n got %#v\nwant %#v", got, tc.want)
			}
			if len(f.requests) != 1 {
				t.Fatalf("%d requests, want 1", len(f.requests))
			}
			cmds := sentCommands(t, f.requests[0])
			if len(cmds) != 1 || cmds[0].Op != tc.op || string(cmds[0].Args) != tc.args {
				t.Fatalf("commands %s\nwant op %s args %s", f.requests[0].body, tc.op, tc.args)
			}
		})
	}
}

func TestCommandErrorsSurfaceAsTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		call       func(ctx context.Context, c *Client) error
		status     string
		errObj     string
		wantCode   string
		wantStatus int
		upstream   string
	}{{
		name: "push.subscribe renewal that cannot be renewed",
		call: func(ctx context.Context, c *Client) error {
			_, err := c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "apns", Token: "0a1b2c3d4e5f6071", Device: "d", State: "PS1"})
			return err
		},
		status: "410", errObj: `{"code":"resync_required","message":"subscribe again"}`,
		wantCode: CodeResyncRequired, wantStatus: 410,
	}, {
		name: "push.subscribe throttled is the caller's: creating is not retried",
		call: func(ctx context.Context, c *Client) error {
			_, err := c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "fcm", Token: "t", Device: "d"})
			return err
		},
		status: "429", errObj: `{"code":"throttled","message":"slow down","retryAfter":3}`,
		wantCode: CodeThrottled, wantStatus: 429,
	}, {
		name: "push.subscribe whose notification URL Graph could not validate",
		call: func(ctx context.Context, c *Client) error {
			_, err := c.PushSubscribe(ctx, PushSubscribeArgs{Platform: "fcm", Token: "t", Device: "d"})
			return err
		},
		status: "502", errObj: `{"code":"upstream_error","message":"validation failed","upstreamCode":"ValidationError"}`,
		wantCode: CodeUpstreamError, wantStatus: 502, upstream: "ValidationError",
	}, {
		name: "push.list without push configured",
		call: func(ctx context.Context, c *Client) error {
			_, err := c.PushList(ctx, PushListArgs{})
			return err
		},
		status: "400", errObj: `{"code":"invalid_args","message":"push is not configured"}`,
		wantCode: CodeInvalidArgs, wantStatus: 400,
	}, {
		name: "push.unsubscribe with an expired state",
		call: func(ctx context.Context, c *Client) error {
			return c.PushUnsubscribe(ctx, PushUnsubscribeArgs{State: "PS0"})
		},
		status: "410", errObj: `{"code":"resync_required","message":"the subscription has expired"}`,
		wantCode: CodeResyncRequired, wantStatus: 410,
	}, {
		name: "push.unsubscribe a DELETE failed",
		call: func(ctx context.Context, c *Client) error {
			return c.PushUnsubscribe(ctx, PushUnsubscribeArgs{IDs: []string{"sub-1"}})
		},
		status: "503", errObj: `{"code":"upstream_unavailable","message":"Graph is unavailable"}`,
		wantCode: CodeUpstreamUnavailable, wantStatus: 503,
	}, {
		name: "attachments.recent refused by Graph",
		call: func(ctx context.Context, c *Client) error {
			_, err := c.AttachmentsRecent(ctx, AttachmentsRecentArgs{Folder: "inbox"})
			return err
		},
		status: "400", errObj: `{"code":"invalid_args","message":"Graph refused the filter","upstreamCode":"InefficientFilter"}`,
		wantCode: CodeInvalidArgs, wantStatus: 400, upstream: "InefficientFilter",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, f, slept := newTestClient(t, answerError(tc.status, tc.errObj))
			err := tc.call(context.Background(), c)
			var e *Error
			if !asError(err, &e) || e.Code != tc.wantCode || e.Status != tc.wantStatus || e.UpstreamCode != tc.upstream {
				t.Fatalf("err = %#v, want *Error %d %s (upstream %q)", err, tc.wantStatus, tc.wantCode, tc.upstream)
			}
			if len(f.requests) != 1 || len(*slept) != 0 {
				t.Fatalf("%d requests, slept %v: want one request and no retry", len(f.requests), *slept)
			}
		})
	}
}

func TestPushUnsubscribeThrottledIsSentAgainWhole(t *testing.T) {
	throttled := answerError("429", `{"code":"throttled","message":"slow down","retryAfter":3}`)
	c, f, slept := newTestClient(t, throttled, answerData(`{}`))
	a := PushUnsubscribeArgs{IDs: []string{"sub-1", "sub-2", "sub-3"}}
	if err := c.PushUnsubscribe(context.Background(), a); err != nil {
		t.Fatalf("PushUnsubscribe after one throttled answer: %v", err)
	}
	if len(*slept) != 1 || (*slept)[0] < 3*time.Second || (*slept)[0] > 3*time.Second*12/10 {
		t.Fatalf("slept %v, want one wait of the command's retryAfter plus at most 20%% jitter", *slept)
	}
	if len(f.requests) != 2 {
		t.Fatalf("%d requests, want 2", len(f.requests))
	}
	for i, r := range f.requests {
		cmds := sentCommands(t, r)
		if len(cmds) != 1 || cmds[0].Op != "push.unsubscribe" || string(cmds[0].Args) != `{"ids":["sub-1","sub-2","sub-3"]}` {
			t.Fatalf("request %d carries %s, want every id again", i, r.body)
		}
	}
}

func TestPushUnsubscribeThrottledGivesUpAfterMaxAttempts(t *testing.T) {
	throttled := answerError("429", `{"code":"throttled","message":"slow down","retryAfter":1}`)
	c, f, _ := newTestClient(t, throttled, throttled, throttled, throttled)
	err := c.PushUnsubscribe(context.Background(), PushUnsubscribeArgs{State: "PS1"})
	if !IsCode(err, CodeThrottled) {
		t.Fatalf("err = %v, want throttled", err)
	}
	if len(f.requests) != DefaultMaxAttempts {
		t.Fatalf("%d requests, want %d", len(f.requests), DefaultMaxAttempts)
	}
}

func TestPushRenewalFallbackInOneBatch(t *testing.T) {
	// The pattern PushSubscribe documents for resync_required: subscribe
	// anew and delete the old subscription in one envelope, each command
	// with its own result.
	c, f, _ := newTestClient(t, fakeAnswer{body: `{"results":[
		{"id":"c2","status":200,"data":{}},
		{"id":"c1","status":200,"data":{"state":"PS9","id":"sub-9","expires":"2026-12-03T04:00:00Z","renewAfter":"2026-12-01T20:00:00Z"}}]}`})
	b := c.NewBatch()
	sub := b.PushSubscribe(PushSubscribeArgs{Platform: "apns", Token: "0a1b2c3d4e5f6071", Device: "d"})
	del := b.PushUnsubscribe(PushUnsubscribeArgs{IDs: []string{"sub-1"}})
	if err := c.Do(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got, err := sub.Result(); err != nil || got.ID != "sub-9" || got.State != "PS9" {
		t.Fatalf("push.subscribe = %+v, %v", got, err)
	}
	if _, err := del.Result(); err != nil {
		t.Fatalf("push.unsubscribe: %v", err)
	}
	cmds := sentCommands(t, f.requests[0])
	if len(cmds) != 2 || cmds[0].Op != "push.subscribe" || cmds[1].Op != "push.unsubscribe" || cmds[1].ID != "c2" {
		t.Fatalf("envelope %s", f.requests[0].body)
	}
}
