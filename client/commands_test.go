package deviceclient

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
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
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, c *Client) (any, error)
		op   string
		args string // the args exactly as sent: unset fields left out
		data string
		want any
	}{{
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
