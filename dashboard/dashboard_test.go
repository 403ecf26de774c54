package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

var tokens = []httpapi.Token{
	{Name: "alice", Secret: "operate-secret-0123456789", Role: httpapi.RoleOperate},
	{Name: "viewer", Secret: "read-secret-0123456789ab", Role: httpapi.RoleRead},
}

func TestPagesOpen(t *testing.T) {
	f := setup(t, nil)
	c := f.client(t)
	k := modelKey(0)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{"Top training priorities", `id="priorities"`, `id="budget-limit"`, "Feedback loop health", "cils_signal_accuracy", "<svg"}},
		{"/models/" + k.Target + "/" + k.ModelFamily, []string{`id="model-runs" data-value="8"`, `id="live-pnl"`, "Validation score over time", "<svg", `id="size-factor"`, "<td>training</td>"}},
		{"/insights", []string{`id="cils-version">1<`, `id="arpo-version">1<`, "Degrading targets", "Underperformers", "Risk limits"}},
		{"/config", []string{`id="change-c-applied"`, "top_n: 30", "Canary: fwd_ret_5d_A00000", "Roll back", "Approve"}},
		{"/plan", []string{`id="plan-candidates"`, `class="reason"`}},
		{"/static/style.css", []string{"font"}},
		{"/static/app.js", []string{"fragment"}},
	} {
		code, body := get(t, c, f.srv.URL+tc.path)
		if code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200\n%s", tc.path, code, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
	}
}

// The refresh fetches only the main element's content.
func TestFragment(t *testing.T) {
	f := setup(t, nil)
	code, body := get(t, f.client(t), f.srv.URL+"/?fragment=1")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if strings.Contains(body, "<html") || !strings.Contains(body, `id="priorities"`) {
		t.Errorf("fragment is not the main content:\n%.300s", body)
	}
}

func TestModelNotFound(t *testing.T) {
	f := setup(t, nil)
	c := f.client(t)
	for _, p := range []string{"/models/fwd_ret_5d_NOPE/ridge", "/models/..%2Fetc/ridge", "/nope"} {
		if code, _ := get(t, c, f.srv.URL+p); code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, code)
		}
	}
}

// The numbers on a model's page are the store's, in the one format.
func TestModelNumbers(t *testing.T) {
	f := setup(t, nil)
	k := modelKey(3)
	_, body := get(t, f.client(t), f.srv.URL+"/models/"+k.Target+"/"+k.ModelFamily)
	live, err := f.db.LiveSummary(t.Context(), k, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.db.Model(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`>` + fmtNum(live.PnL) + `</td>`,
		`id="live-observations" data-value="30">30<`,
		`>` + fmtNum(*m.LatestScore) + `</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("model page lacks %q", want)
		}
	}
}

func TestLogin(t *testing.T) {
	f := setup(t, tokens)
	c := f.client(t)
	resp, err := c.Get(f.srv.URL + "/plan")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != "/login?next=%2Fplan" {
		t.Fatalf("GET /plan without a session: %d to %q, want 303 to the login page", resp.StatusCode, got)
	}
	if resp := post(t, c, f.srv.URL+"/login", url.Values{"token": {"wrong-secret-0123456789"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: status %d, want 401", resp.StatusCode)
	}
	resp = post(t, c, f.srv.URL+"/login", url.Values{"token": {tokens[1].Secret}, "next": {"/plan"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/plan" {
		t.Fatalf("login: %d to %q, want 303 to /plan", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "flywheel_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Strict", cookie)
	}
	if code, body := get(t, c, f.srv.URL+"/plan"); code != http.StatusOK || !strings.Contains(body, "viewer (read)") {
		t.Errorf("GET /plan after login: %d", code)
	}
	// An open redirect after login would send a user to any site.
	resp = post(t, c, f.srv.URL+"/login", url.Values{"token": {tokens[1].Secret}, "next": {"//evil.example/"}})
	if got := resp.Header.Get("Location"); got != "/" {
		t.Errorf("next=//evil.example/ redirected to %q, want /", got)
	}
}

func login(t *testing.T, f *fixture, secret string) (*http.Client, string) {
	t.Helper()
	c := f.client(t)
	if resp := post(t, c, f.srv.URL+"/login", url.Values{"token": {secret}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	_, page := get(t, c, f.srv.URL+"/config")
	return c, page
}

func TestRollbackButton(t *testing.T) {
	f := setup(t, tokens)
	c, page := login(t, f, tokens[0].Secret)
	if !strings.Contains(page, `action="/config/c-applied/rollback"`) {
		t.Fatalf("no rollback button for an applied change:\n%s", page)
	}
	resp := post(t, c, f.srv.URL+"/config/c-applied/rollback", url.Values{"csrf": {csrfOf(t, page)}, "reason": {"bad canary"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback: status %d, want 303", resp.StatusCode)
	}
	if got, want := strings.Join(f.actions.calls, "; "), "rollback c-applied by alice"; got != want {
		t.Errorf("actions called: %q, want %q", got, want)
	}
	ch, err := f.db.ConfigChange(t.Context(), "c-applied")
	if err != nil {
		t.Fatal(err)
	}
	if ch.State != flywheel.ChangeRolledBack {
		t.Errorf("state after rollback %s, want rolled_back", ch.State)
	}
	_, page = get(t, c, f.srv.URL+resp.Header.Get("Location"))
	if !strings.Contains(page, `id="change-c-applied" data-state="rolled_back"`) || !strings.Contains(page, "rollback of c-applied done") {
		t.Errorf("config page after rollback does not show it")
	}
}

func TestCSRF(t *testing.T) {
	f := setup(t, tokens)
	c, page := login(t, f, tokens[0].Secret)
	token := csrfOf(t, page)
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", url.Values{}, ""},
		{"wrong token", url.Values{"csrf": {"x" + token}}, ""},
		{"other site", url.Values{"csrf": {token}}, "http://evil.example"},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/config/c-applied/rollback", strings.NewReader(tc.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, resp.StatusCode)
		}
	}
	if len(f.actions.calls) != 0 {
		t.Errorf("refused posts reached the actions: %v", f.actions.calls)
	}
}

// A read token sees the config but no buttons, and cannot press them.
func TestReadRoleCannotOperate(t *testing.T) {
	f := setup(t, tokens)
	c, page := login(t, f, tokens[1].Secret)
	if strings.Contains(page, "/rollback") || strings.Contains(page, "/approve") {
		t.Errorf("read role sees buttons")
	}
	// Its session's CSRF token is in the logout form.
	resp := post(t, c, f.srv.URL+"/config/c-proposed/approve", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("approve with a read token: status %d, want 403", resp.StatusCode)
	}
	if len(f.actions.calls) != 0 {
		t.Errorf("actions called: %v", f.actions.calls)
	}
}

// With no tokens the dashboard is open, and its buttons still need the
// CSRF token of the visitor's session.
func TestOpenDashboardApprove(t *testing.T) {
	f := setup(t, nil)
	c := f.client(t)
	_, page := get(t, c, f.srv.URL+"/config")
	resp := post(t, c, f.srv.URL+"/config/c-proposed/approve", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: status %d", resp.StatusCode)
	}
	if got, want := strings.Join(f.actions.calls, "; "), "approve c-proposed by dashboard"; got != want {
		t.Errorf("actions called: %q, want %q", got, want)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := setup(t, nil)
	resp, err := f.client(t).Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}
