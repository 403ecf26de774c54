package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func TestRoleAllows(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleRead, RoleReport, RoleOperate, RoleAdmin, "root", ""}
	want := map[Role][]Role{
		RoleRead:    {RoleRead},
		RoleReport:  {RoleRead, RoleReport},
		RoleOperate: {RoleRead, RoleOperate},
		RoleAdmin:   {RoleRead, RoleReport, RoleOperate, RoleAdmin},
	}
	for _, have := range roles {
		for _, need := range roles {
			allowed := false
			for _, r := range want[have] {
				allowed = allowed || r == need
			}
			if got := have.Allows(need); got != allowed {
				t.Errorf("Role(%q).Allows(%q) = %v, want %v", have, need, got, allowed)
			}
		}
		if got, want := have.Valid(), len(want[have]) > 0; got != want {
			t.Errorf("Role(%q).Valid() = %v, want %v", have, got, want)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{Tokens: []Token{
		{Name: "dashboard", Secret: "read-secret", Role: RoleRead},
		{Name: "pipeline", Secret: "report-secret", Role: RoleReport},
		{Name: "oncall", Secret: "operate-secret", Role: RoleOperate},
		{Name: "root", Secret: "admin-secret", Role: RoleAdmin},
		{Name: "broken", Secret: "", Role: RoleAdmin},
	}})
	obs := array(obsRec(0).String())
	post := func(token string) request {
		return request{method: http.MethodPost, path: "/api/v1/live", token: token, contentType: "application/json", body: obs}
	}
	get := func(path, token string) request { return request{method: http.MethodGet, path: path, token: token} }
	cases := []struct {
		name   string
		req    request
		header string // an Authorization header sent as is, instead of token
		status int
		code   flywheel.ErrorCode
	}{
		{"POST without token", post(""), "", 401, flywheel.EUnauthorized},
		{"POST with unknown token", post("guess"), "", 401, flywheel.EUnauthorized},
		{"POST with a token's prefix", post("report-secre"), "", 401, flywheel.EUnauthorized},
		{"POST with empty bearer", post(""), "Bearer ", 401, flywheel.EUnauthorized},
		{"POST with basic auth", post(""), "Basic cmVwb3J0LXNlY3JldA==", 401, flywheel.EUnauthorized},
		{"POST with read token", post("read-secret"), "", 403, flywheel.EForbidden},
		{"POST with operate token", post("operate-secret"), "", 403, flywheel.EForbidden},
		{"POST with report token", post("report-secret"), "", 200, ""},
		{"POST with admin token", post("admin-secret"), "", 200, ""},
		{"POST with lower-case scheme", post(""), "bearer report-secret", 200, ""},
		{"GET status without token", get("/api/v1/status", ""), "", 401, flywheel.EUnauthorized},
		{"GET status with read token", get("/api/v1/status", "read-secret"), "", 200, ""},
		{"GET runs with report token", get("/api/v1/runs", "report-secret"), "", 200, ""},
		{"GET models with operate token", get("/api/v1/models", "operate-secret"), "", 200, ""},
		{"GET deployments with admin token", get("/api/v1/deployments", "admin-secret"), "", 200, ""},
		{"healthz without token", get("/healthz", ""), "", 200, ""},
		{"readyz without token", get("/readyz", ""), "", 200, ""},
		{"openapi without token", get("/api/v1/openapi.json", ""), "", 200, ""},
		{"unknown route without token", get("/api/v1/nothing", ""), "", 404, flywheel.ENotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.req
			if c.header != "" {
				r.token = ""
			}
			w := f.doWithHeader(t, r, c.header)
			if c.status == 200 {
				if w.Code != 200 {
					t.Errorf("status = %d, want 200; body %s", w.Code, w.Body.String())
				}
				return
			}
			wantError(t, w, c.status, c.code, "", noIndex)
			if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
		})
	}
}

// TestNoTokensAllowsAll: with no tokens configured the API is open (the
// daemon then listens on loopback only).
func TestNoTokensAllowsAll(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{})
	w := f.post(t, "/api/v1/live", "application/json", array(obsRec(0).String()))
	if w.Code != 200 {
		t.Errorf("POST without tokens configured: status %d, want 200; body %s", w.Code, w.Body.String())
	}
	w = f.do(t, request{method: http.MethodGet, path: "/api/v1/status", token: "anything"})
	if w.Code != 200 {
		t.Errorf("GET with a token nobody configured: status %d, want 200", w.Code)
	}
}

// TestOnlyEmptySecretTokensCloseTheAPI: a config whose only token has no
// secret is a mistake that must not open the API.
func TestOnlyEmptySecretTokensCloseTheAPI(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{Tokens: []Token{{Name: "oops", Role: RoleAdmin}}})
	w := f.doWithHeader(t, request{method: http.MethodGet, path: "/api/v1/status"}, "Bearer ")
	wantError(t, w, 401, flywheel.EUnauthorized, "", noIndex)
}

// doWithHeader is do with a raw Authorization header when header is set.
func (f *fixture) doWithHeader(t testing.TB, req request, header string) *httptest.ResponseRecorder {
	t.Helper()
	if header == "" {
		return f.do(t, req)
	}
	return f.do(t, req, func(r *http.Request) { r.Header.Set("Authorization", header) })
}
