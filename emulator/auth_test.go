package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name    string
		auth    string
		message string
	}{
		{"missing", "", "Access token is empty."},
		{"unknown token", "Bearer nope", "validation failed"},
		{"wrong scheme", "Basic ZGVtbzpkZW1v", "Access token is empty."},
		{"empty bearer", "Bearer ", "Access token is empty."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			h.Set("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
			res := e.do(req{path: "/v1.0/me/mailFolders", headers: h})
			require.Equal(t, http.StatusUnauthorized, res.status)
			assert.Equal(t, wwwAuthenticateBearer, res.header.Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", res.header.Get("Content-Type"))
			assert.Len(t, res.header.Get("request-id"), 36)
			assert.Equal(t, "c0ffee00-0000-4000-8000-000000000001", res.header.Get("client-request-id"))
			v := res.json(t)
			ge := v["error"].(map[string]any)
			assert.Equal(t, "InvalidAuthenticationToken", ge["code"])
			assert.Contains(t, ge["message"], tt.message)
			inner := ge["innerError"].(map[string]any)
			assert.Equal(t, res.header.Get("request-id"), inner["request-id"])
			assert.Equal(t, "c0ffee00-0000-4000-8000-000000000001", inner["client-request-id"])
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`, inner["date"])
		})
	}
}

func TestSuccessHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	res := e.do(req{path: "/v1.0/me", token: "demo"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, contentTypeGraphJSON, res.header.Get("Content-Type"))
	assert.Equal(t, "4.0", res.header.Get("OData-Version"))
	assert.Len(t, res.header.Get("request-id"), 36)
	assert.Empty(t, res.header.Get("client-request-id"))
	v := res.json(t)
	assert.Equal(t, DemoUPN, v["userPrincipalName"])
	assert.Equal(t, DemoObjectID, v["id"])
}

func TestUsersAccessRules(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name   string
		token  string
		user   string
		status int
		code   string
	}{
		{"own upn", "demo", DemoUPN, 200, ""},
		{"own upn other case", "demo", strings.ToUpper(DemoUPN), 200, ""},
		{"own object id", "demo", DemoObjectID, 200, ""},
		{"object id upper case", "demo", strings.ToUpper(DemoObjectID), 200, ""},
		{"delegate to shared", "demo", SharedUPN, 200, ""},
		{"delegate by key form", "demo", "('" + SharedUPN + "')", 200, ""},
		{"not a delegate", "demo2", SharedUPN, 403, "ErrorAccessDenied"},
		{"other user's mailbox", "demo", Demo2UPN, 403, "ErrorAccessDenied"},
		{"unknown user", "demo", "nobody@contoso.example", 404, "ErrorInvalidUser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1.0/users/" + tt.user + "/mailFolders/inbox"
			if strings.HasPrefix(tt.user, "(") {
				path = "/v1.0/users" + tt.user + "/mailFolders/inbox"
			}
			res := e.do(req{path: path, token: tt.token})
			require.Equal(t, tt.status, res.status, "%s", res.body)
			if tt.code != "" {
				assert.Equal(t, tt.code, graphErrorCode(t, res))
			} else {
				assert.Equal(t, "Inbox", res.json(t)["displayName"])
			}
		})
	}
	// The delegate sees the shared mailbox's messages and delta links keep
	// the /users/{upn} form.
	p := e.page(req{path: "/v1.0/users/" + SharedUPN + "/mailFolders/inbox/messages/delta", token: "demo", headers: prefer("odata.maxpagesize=50")})
	assert.Len(t, p.Value, 20)
	assert.Contains(t, p.DeltaLink, "/v1.0/users/"+SharedUPN+"/mailfolders('")
}

func TestEscapedIDsAreNotPathSeparators(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.page(req{path: "/v1.0/me/mailFolders/inbox/messages/delta?$select=subject", token: "demo", headers: prefer("odata.maxpagesize=50")})
	var plusID string
	for _, id := range ids(p.Value) {
		if strings.Contains(id, "+") {
			plusID = id
			break
		}
	}
	require.NotEmpty(t, plusID, "some ids contain '+'")
	for _, id := range ids(p.Value) {
		require.Regexp(t, `^[A-Za-z0-9_=+\-]+$`, id)
	}
	tests := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"escaped slash inside id", "/v1.0/me/messages/AAMkADabc%2Fdefghijklmnop", 400, "ErrorInvalidIdMalformed"},
		{"escaped slash joining segments", "/v1.0/me/mailFolders/inbox%2Fmessages", 400, "ErrorInvalidIdMalformed"},
		{"well-formed unknown id", "/v1.0/me/messages/AAMkADunknownunknownunknown=", 404, "ErrorItemNotFound"},
		{"too short", "/v1.0/me/messages/abc", 400, "ErrorInvalidIdMalformed"},
		{"quote in id", "/v1.0/me/messages/AAMkAD'abcdefghijklmnop", 400, "ErrorInvalidIdMalformed"},
		{"space in id", "/v1.0/me/messages/AAMkAD%20abcdefghijklmnop", 400, "ErrorInvalidIdMalformed"},
		{"plus id raw", "/v1.0/me/messages/" + plusID, 200, ""},
		{"plus id escaped", "/v1.0/me/messages/" + strings.ReplaceAll(plusID, "+", "%2B"), 200, ""},
		{"key form", "/v1.0/me/messages('" + plusID + "')", 200, ""},
		{"unknown segment", "/v1.0/me/mailboxSettings", 400, "BadRequest"},
		{"mailbox-wide delta", "/v1.0/me/messages/delta", 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{path: tt.path, token: "demo"})
			require.Equal(t, tt.status, res.status, "%s", res.body)
			if tt.code != "" {
				assert.Equal(t, tt.code, graphErrorCode(t, res))
			} else {
				assert.Equal(t, plusID, res.json(t)["id"])
			}
		})
	}
}
