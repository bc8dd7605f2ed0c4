package translate

import (
	"strings"
	"testing"
	"time"
)

// goldenNonce fills a nonce with 1, 2, 3, … so that sealing is repeatable.
func goldenNonce(b []byte) {
	for i := range b {
		b[i] = byte(i + 1)
	}
}

// goldenStates lock the sealed state's wire format, with testKey1, the
// clock at testNow and goldenNonce. state was sealed by a deployed build
// before states were bound to an identity (version 1): it must still open,
// for any identity. bound and unbound are what this build seals (version 2)
// for goldenIdentity and for a token without one: sealing the same page
// again must give the same token, so a changed wire id, additional data,
// scope or field set fails here before it invalidates every state devices
// hold. A new stateful op adds its own, generated once.
var goldenStates = []struct {
	op    string
	args  string // first call
	page  string // upstream answer to the first call
	state string // the version 1 state of that answer, sealed by an earlier build; "" for an op added since
	bound string // the state sealed now for goldenIdentity
	// unbound is the state sealed now for a token without an identity.
	unbound string
	next    string // the continuation call the state opens to: path?query
}{
	{
		op:      "folders.sync",
		args:    `{"mailbox":"Alice@Contoso.example","window":20}`,
		page:    `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/delta?$deltatoken=F1"}`,
		state:   "AQECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZLcZQ_blNzYjPR5Uo5JBJdHfsxvrhXIZvjQgyr7aPrrRs33Ow",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZLcZQ_blNzYjPR5Uo5JBJdHfsxvTLdJ5TboqQJQbOkFpXMAWQ",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZLcZQ_blNzYjPR5Uo5JBJdHfsxv3U5DiI_uRqPSYiuQqm1PRw",
		next:    "/v1.0/users/alice@contoso.example/mailFolders/delta?$deltatoken=F1",
	},
	{
		op:      "mail.sync",
		args:    `{"mailbox":"alice@contoso.example","folder":"inbox","window":25,"fields":["subject","read"]}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$skiptoken=M1"}`,
		state:   "AQECAwQFBgcICQoLDOfmSJk1fMgjlV3F122rvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZ_XaxTChJXZmutsVJ9VQJZML_4_w8Jeg_oI_T4eHvmJ_d3oQOtFqajAtVZV4-V0450l",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjlV3F122rvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZ_XaxTChJXZmutsVJ9VQJZML_4_w8Jeg_oI_T4eHvmJ_d1ugUtAz_7L93fm0aBKF_sn",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjlV3F122rvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbWCMZ5P8nUynRwwQZ_XaxTChJXZmutsVJ9VQJZML_4_w8Jeg_oI_T4eHvmJ_d3U1r6mQz5V49rtpp4SYf_t",
		next:    "/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$skiptoken=M1",
	},
	{
		op:      "mail.search",
		args:    `{"query":"budget 2026","window":10,"fields":["subject"]}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/messages?$search=%22budget%202026%22&$top=10&$select=id,subject&$skip=10"}`,
		state:   "AQECAwQFBgcICQoLDOfmSJk1fMgjhl3F322rpbd6dtx0NU_DCq-7zzHSxukMNSxvwzHk3tAax6zGasI7rStg3VxxSNLNZguHmsiazetoX59FG89AJ6YtiYRHjfAMr3UGEP7Ejd3D8GjYk1kJLJmwf14fJwai_Q",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjhl3F322rpbd6dtx0NU_DCq-7zzHSxukMNSxvwzHk3tAax6zGasI7rStg3VxxSNLNZguHmsiazetoX59FG89AJ6YtiYRHjfAMr3UGEP7Ejd3DAio3oaTwWpF7eweHAtIpUQ",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjhl3F322rpbd6dtx0NU_DCq-7zzHSxukMNSxvwzHk3tAax6zGasI7rStg3VxxSNLNZguHmsiazetoX59FG89AJ6YtiYRHjfAMr3UGEP7Ejd3DSXEfL3NxbtlQl4nbsZRCUw",
		next:    "/v1.0/me/messages?$search=%22budget%202026%22&$top=10&$select=id,subject&$skip=10",
	},
	{
		op:      "calendar.sync",
		args:    `{"start":"2026-03-01T00:00:00Z","end":"2026-04-01T00:00:00Z","window":30}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=C1"}`,
		state:   "AQECAwQFBgcICQoLDOfmSJk1fMgjkl3F32Wrpbd6eNhrI0DADq7SgifAiP8KMWUrzif1wN0N1reIPZw03ijhTeZvrt8PU6gP2AZ1Ti_W",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjkl3F32Wrpbd6eNhrI0DADq7SgifAiP8KMWUrzif1wN0N1reIPZw03ijDDwr9tqD58dv5NnHac_fn",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjkl3F32Wrpbd6eNhrI0DADq7SgifAiP8KMWUrzif1wN0N1reIPZw03ij_EJJNDg6yNhJvIOvCvupR",
		next:    "/v1.0/me/calendarView/delta?$skiptoken=C1",
	},
	{
		op:      "contacts.sync",
		args:    `{"mailbox":"bob@contoso.example"}`,
		page:    `{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/bob@contoso.example/contacts/delta?$deltatoken=K1"}`,
		state:   "AQECAwQFBgcICQoLDOfmSJk1fMgjvl3F32WrvaEwacooJEHGL7_rhTbY1PRBOGkrnHPqzpsezbaXOZF97jYynQI3D8mdbR7W35nIhvNoXcdtXuKIM0dgnKEhZpZZ5t83ngA",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjvl3F32WrvaEwacooJEHGL7_rhTbY1PRBOGkrnHPqzpsezbaXOZF97jYynQI3D8mdbR7W35nIhvNoXcdtXkhrNUDhDfGfTZoWCZw1b_k",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjvl3F32WrvaEwacooJEHGL7_rhTbY1PRBOGkrnHPqzpsezbaXOZF97jYynQI3D8mdbR7W35nIhvNoXcdtXmmInOQ86X0orXxPB_W0Qcw",
		next:    "/v1.0/users/bob@contoso.example/contacts/delta?$deltatoken=K1",
	},
	{
		op:      "files.sync",
		args:    `{"drive":"92F785471BCBB510","window":40}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/drives/92F785471BCBB510/root/delta(token='Y1')?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=40"}`,
		state:   "",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjpF3F32WrrKA8bdx0aReWKeu83naAltksH1N_wDOp2dsS1veHPZ59_DEilwUmAMueUEqdgseYmv1hVplSUptNb-Q_kYMBm_oC7H0QL_bTnICSonCg-kJlhuEXVb6CsgKxcl1hQp1PyU7LVF07mJzOYVF6NakRGmWHjXUU9s6Oor2PTzD6OpkG6bJyeyt5IaoH1WmmaSkpl43SQxuRrNVjtaD7Vn9BUbrYTzuxA8xkdyHJs_nbV_3_vXZ5jvdGmQ",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjpF3F32WrrKA8bdx0aReWKeu83naAltksH1N_wDOp2dsS1veHPZ59_DEilwUmAMueUEqdgseYmv1hVplSUptNb-Q_kYMBm_oC7H0QL_bTnICSonCg-kJlhuEXVb6CsgKxcl1hQp1PyU7LVF07mJzOYVF6NakRGmWHjXUU9s6Oor2PTzD6OpkG6bJyeyt5IaoH1WmmaSkpl43SQxuRrNVjtaD7Vn9BUbrYTzuxA8xkXsislg4Dw_6GK0e6wn6VNg",
		next:    "/v1.0/drives/92F785471BCBB510/root/delta(token='Y1')?$select=id,name,size,eTag,lastModifiedDateTime,parentReference,file,folder,package,root,remoteItem,deleted,webUrl&$top=40",
	},
	{
		op:      "files.list",
		args:    `{"mailbox":"alice@contoso.example","folder":"01WV4DI7ROWS6FF4NX7PH35AMYDCSZANKW","window":20}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/drive/items/01WV4DI7ROWS6FF4NX7PH35AMYDCSZANKW/children?$top=20&$orderby=name&$skiptoken=L1"}`,
		state:   "",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbyRMYRssnAinQMwQcaIXi2O77GLu9daYMxgKcZnG70OtNUYqd4hzRImIdb6-7vcsmyE-UJ-heZNFY6MtlrXKxYgAZ9K3lnHWTIwn5TZIhtqO-wHB2aJxH1G1pvgQgM5cNwxKjLHwE2g9qwK",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjmF3F32WrvaEwacooJ0LNDLnEiC3Z0_QcMj8viWLr29gYjbyRMYRssnAinQMwQcaIXi2O77GLu9daYMxgKcZnG70OtNUYqd4hzRImIdb6-7vcsmyE-UJ-heZNFY6MtlrXKxYgAZ9K3lnHWTIwn5TZIhtqO-wHB2aJxH1G1pt-Skh4xL8jvmF3MEV031T1",
		next:    "/v1.0/users/alice@contoso.example/drive/items/01WV4DI7ROWS6FF4NX7PH35AMYDCSZANKW/children?$top=20&$orderby=name&$skiptoken=L1",
	},
	{
		op:      "files.search",
		args:    `{"query":"O'Brien","scope":"all","window":10}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/drive/search(q='O''Brien')?$top=10&$skiptoken=S1"}`,
		state:   "",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjhl3F32Wrpbd6f8tuMEuLHLnlmSHfj-pSel5t1kH0wtEThfHcfIZm7SRnyEhnHZ3QeQ_VwJ3S1Ms8No7-lTuCOAmuqTXJTVOdMQ",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjhl3F32Wrpbd6f8tuMEuLHLnlmSHfj-pSel5t1kH0wtEThfHcfIZm7SRnyEhnHZ3QeQ_VwJ3S1Ms8whhdDYlOOjx8cZlZB6ze4Q",
		next:    "/v1.0/me/drive/search(q='O''Brien')?$top=10&$skiptoken=S1",
	},
	{
		op:      "attachments.recent",
		args:    `{"folder":"inbox","window":25}`,
		page:    `{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages?$top=25&$skip=25"}`,
		state:   "",
		bound:   "AgECAwQFBgcICQoLDOfmSJk1fMgjlV3F32Wrpbd6dthuKmjLA7jhmTGYzvUNMmllnGb12NUax6vcfIZm7SRkzUhnHZ3QeUaInstczVWME6EWMA0eVvpUi8k",
		unbound: "AgECAwQFBgcICQoLDOfmSJk1fMgjlV3F32Wrpbd6dthuKmjLA7jhmTGYzvUNMmllnGb12NUax6vcfIZm7SRkzUhnHZ3QeUaInhGGxejesZZ85keDcdX3nk4",
		next:    "/v1.0/me/mailFolders/inbox/messages?$top=25&$skip=25",
	},
}

// goldenIdentity is the identity of a token with tid "t1" and oid "u1".
var goldenIdentity = IdentityFromAuthorization("Bearer " + testJWT(`{"tid":"t1","oid":"u1"}`))

func TestGoldenStates(t *testing.T) {
	tr, _ := newTestTranslator(t)
	tr.nonce = goldenNonce
	other := IdentityFromAuthorization("Bearer " + testJWT(`{"tid":"t1","oid":"u2"}`))
	for _, g := range goldenStates {
		for _, sealed := range []struct {
			identity Identity
			want     string
		}{{goldenIdentity, g.bound}, {Identity{}, g.unbound}} {
			p := mustPlanFor(t, tr, cmd(g.op, g.args), sealed.identity)
			out, _ := respond(t, p, 200, nil, g.page)
			p.Release()
			if got := firstState(t, out); got != sealed.want {
				t.Errorf("%s (bound %v): sealed state changed:\n got %s\nwant %s", g.op, sealed.identity.Bound(), got, sealed.want)
			}
		}
		// Each opens to its continuation call where it should, and only there.
		for _, open := range []struct {
			what     string
			state    string
			identity Identity
			opens    bool
		}{
			{"earlier build's, same user", g.state, goldenIdentity, true},
			{"earlier build's, other user", g.state, other, true},
			{"earlier build's, no identity", g.state, Identity{}, true},
			{"bound, same user", g.bound, goldenIdentity, true},
			{"bound, other user", g.bound, other, false},
			{"bound, no identity", g.bound, Identity{}, false},
			{"unbound, no identity", g.unbound, Identity{}, true},
			{"unbound, a user", g.unbound, goldenIdentity, false},
		} {
			if open.state == "" {
				continue // the op is newer than version 1 states
			}
			args := g.args[:len(g.args)-1] + `,"state":"` + open.state + `"}`
			p := mustPlanFor(t, tr, cmd(g.op, args), open.identity)
			switch {
			case p.Upstream == nil && open.opens:
				out, _ := respond(t, p, 0, nil, "")
				t.Errorf("%s, %s: state refused: %s", g.op, open.what, out)
			case p.Upstream != nil && !open.opens:
				t.Errorf("%s, %s: state opened", g.op, open.what)
			case p.Upstream != nil:
				if got := p.Upstream.Path + "?" + p.Upstream.RawQuery; got != g.next {
					t.Errorf("%s, %s: state opens to %s, want %s", g.op, open.what, got, g.next)
				}
			default:
				out, _ := respond(t, p, 0, nil, "")
				if !strings.Contains(out, `"invalid_state"`) {
					t.Errorf("%s, %s: refused with %s, want invalid_state", g.op, open.what, out)
				}
			}
			p.Release()
		}
	}
}

// goldenPushState is a push state sealed with testKey1, the clock at
// testNow and goldenNonce, for the subscription testSubID created by
// goldenPushArgs. It must still open to the renewal of that subscription:
// a changed wire id, scope, link layout or digest fails here before it
// makes every device resubscribe.
const (
	goldenPushArgs  = `{"platform":"apns","token":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","device":"install-1","alert":true,"account":"work"}`
	goldenPushState = "AgECAwQFBgcICQoLDOfmSJk1fMgjjV3F32Sru6c3aNp1L17QBrPqmG2AwapfaHJ9lS60z9dIj-zWa8IkpC41nEN3C8HYbE2PmMzf2a8yVscXWMUbe7JqxNYdzvhF7zdCHaWD1dnVuDncohE-075EBcrT4A_YKQBnAYJfi1nobGkmhI3GbFB0CNAPBO0Pabl5hOusrRhnKqK7Um0"
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
