package translate

import (
	"testing"
	"time"
)

// goldenNonce fills a nonce with 1, 2, 3, … so that sealing is repeatable.
func goldenNonce(b []byte) {
	for i := range b {
		b[i] = byte(i + 1)
	}
}

// goldenStates are states sealed by a deployed build (before the command
// table), with testKey1, the clock at testNow and goldenNonce. Each must
// still open, and sealing the same page again must give the same token: a
// changed wire id, AAD, scope or field set fails here before it invalidates
// every state devices hold. A new stateful op adds its own, generated once.
var goldenStates = []struct {
	op    string
	args  string // first call
	page  string // upstream answer to the first call
	state string // the sealed state of that answer
	next  string // the continuation call the state opens to: path?query
}{
	{
		op:    "folders.sync",
		args:  `{"mailbox":"Alice@Contoso.example","window":20}`,
		page:  `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/delta?$deltatoken=F1"}`,
		state: "AQECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZLcZQ_blNzYjPR5Uo5JBJdHfsxvrhXIZvjQgyr7aPrrRs33Ow",
		next:  "/v1.0/users/alice@contoso.example/mailFolders/delta?$deltatoken=F1",
	},
	{
		op:    "mail.sync",
		args:  `{"mailbox":"alice@contoso.example","folder":"inbox","window":25,"fields":["subject","read"]}`,
		page:  `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$skiptoken=M1"}`,
		state: "AQECAwQFBgcICQoLDOfmSJk1fMgjlV3F122rvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZ_XaxTChJXZmutsVJ9VQJZML_4_w8Jeg_oI_T4eHvmJ_d3oQOtFqajAtVZV4-V0450l",
		next:  "/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$skiptoken=M1",
	},
	{
		op:    "mail.search",
		args:  `{"query":"budget 2026","window":10,"fields":["subject"]}`,
		page:  `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/messages?$search=%22budget%202026%22&$top=10&$select=id,subject&$skip=10"}`,
		state: "AQECAwQFBgcICQoLDOfmSJk1fMgjhl3F322rpbd6dtx0NU_DCq-7zzHSxukMNSxvwzHk3tAax6zGasI7rStg3VxxSNLNZguHmsiazetoX59FG89AJ6YtiYRHjfAMr3UGEP7Ejd3D8GjYk1kJLJmwf14fJwai_Q",
		next:  "/v1.0/me/messages?$search=%22budget%202026%22&$top=10&$select=id,subject&$skip=10",
	},
	{
		op:    "calendar.sync",
		args:  `{"start":"2026-03-01T00:00:00Z","end":"2026-04-01T00:00:00Z","window":30}`,
		page:  `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=C1"}`,
		state: "AQECAwQFBgcICQoLDOfmSJk1fMgjkl3F32Wrpbd6eNhrI0DADq7SgifAiP8KMWUrzif1wN0N1reIPZw03ijhTeZvrt8PU6gP2AZ1Ti_W",
		next:  "/v1.0/me/calendarView/delta?$skiptoken=C1",
	},
	{
		op:    "contacts.sync",
		args:  `{"mailbox":"bob@contoso.example"}`,
		page:  `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/bob@contoso.example/contacts/delta?$deltatoken=K1"}`,
		state: "AQECAwQFBgcICQoLDOfmSJk1fMgjvl3F32WrvaEwacooJEHGL7_rhTbY1PRBOGkrnHPqzpsezbaXOZF97jYynQI3D8mdbR7W35nIhvNoXcdtXuKIM0dgnKEhZpZZ5t83ngA",
		next:  "/v1.0/users/bob@contoso.example/contacts/delta?$deltatoken=K1",
	},
}

func TestGoldenStates(t *testing.T) {
	tr, _ := newTestTranslator(t)
	tr.nonce = goldenNonce
	for _, g := range goldenStates {
		p := mustPlan(t, tr, cmd(g.op, g.args))
		out, _ := respond(t, p, 200, nil, g.page)
		p.Release()
		if got := firstState(t, out); got != g.state {
			t.Errorf("%s: sealed state changed:\n got %s\nwant %s", g.op, got, g.state)
		}
		// The state in production opens to its continuation call.
		args := g.args[:len(g.args)-1] + `,"state":"` + g.state + `"}`
		p = mustPlan(t, tr, cmd(g.op, args))
		if p.Upstream == nil {
			out, _ := respond(t, p, 0, nil, "")
			t.Errorf("%s: golden state refused: %s", g.op, out)
		} else if got := p.Upstream.Path + "?" + p.Upstream.RawQuery; got != g.next {
			t.Errorf("%s: golden state opens to %s, want %s", g.op, got, g.next)
		}
		p.Release()
	}
}

// goldenPushState is a push state sealed with testKey1, the clock at
// testNow and goldenNonce, for the subscription testSubID created by
// goldenPushArgs. It must still open to the renewal of that subscription:
// a changed wire id, scope, link layout or digest fails here before it
// makes every device resubscribe.
const (
	goldenPushArgs  = `{"platform":"apns","token":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","device":"install-1","alert":true,"account":"work"}`
	goldenPushState = "AQECAwQFBgcICQoLDOfmSJk1fMgjjV3F32Sru6c3aNp1L17QBrPqmG2AwapfaHJ9lS60z9dIj-zWa8IkpC41nEN3C8HYbE2PmMzf2a8yVscXWMUbe7JqxNYdzvhF7zdCHaWD1dnVuDncohE-075EBcrT4A_YKQBnAYJfi1nobGkmhI3GbFB0CNAPBHXP7PZ2-P_rruZ6rs7JTV0"
)

func TestGoldenPushState(t *testing.T) {
	tr, clk := newPushTranslator(t)
	tr.nonce = goldenNonce
	p, e := tr.PlanWithPrincipal([]byte(cmd("push.subscribe", goldenPushArgs)), testTenant, testUser)
	if e != nil {
		t.Fatal(e)
	}
	out, _ := respond(t, p, 201, nil, testSubscribed)
	p.Release()
	if got := firstState(t, out); got != goldenPushState {
		t.Errorf("sealed push state changed:\n got %s\nwant %s", got, goldenPushState)
	}
	clk.t = testNow.Add(4 * 24 * time.Hour)
	p, e = tr.PlanWithPrincipal([]byte(cmd("push.subscribe", withState(goldenPushArgs, goldenPushState))), testTenant, testUser)
	if e != nil {
		t.Fatal(e)
	}
	defer p.Release()
	if u := p.Upstream; u == nil || u.Method != "PATCH" || u.Path != "/v1.0/subscriptions/"+testSubID ||
		string(u.Body) != `{"expirationDateTime":"2026-03-11T12:00:00Z"}` {
		out, _ := respond(t, p, 0, nil, "")
		t.Errorf("golden push state does not renew: %+v %s", u, out)
	}
}
