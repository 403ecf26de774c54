package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/flywheel-ml/flywheel/httpapi"
)

// Session cookie and lifetime.
const (
	cookieName = "flywheel_session"
	sessionTTL = 12 * time.Hour
	// maxSessions bounds memory when something keeps opening sessions
	// (every visitor of an open dashboard gets one).
	maxSessions = 10000
	// openActor is the actor of actions taken on a dashboard without
	// tokens, where nobody logs in.
	openActor = "dashboard"
)

// session is a logged-in user. csrf is the token every form of the
// session carries: another site can make the browser post, but it cannot
// read the token from our pages.
type session struct {
	id      string
	Name    string
	Role    httpapi.Role
	CSRF    string
	expires time.Time
}

// canOperate reports whether the session may press the config buttons.
func (s *session) canOperate() bool { return s.Role.Allows(httpapi.RoleOperate) }

// auth checks tokens and keeps sessions in memory: a restart logs
// everybody out, which is a small price for not signing cookies.
type auth struct {
	open   bool
	tokens []hashed
	now    func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
}

type hashed struct {
	name   string
	role   httpapi.Role
	digest [sha256.Size]byte
}

func newAuth(tokens []httpapi.Token, now func() time.Time) *auth {
	a := &auth{open: len(tokens) == 0, now: now, sessions: map[string]*session{}}
	for _, t := range tokens {
		// An empty secret would let an empty form log in; the token still
		// counts as configured so that the dashboard stays closed.
		if t.Secret == "" {
			continue
		}
		a.tokens = append(a.tokens, hashed{name: t.Name, role: t.Role, digest: sha256.Sum256([]byte(t.Secret))})
	}
	return a
}

// check returns the token whose secret is given, comparing digests in
// constant time and checking every token so that timing says nothing.
func (a *auth) check(secret string) (hashed, bool) {
	d := sha256.Sum256([]byte(secret))
	var found hashed
	ok := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			found, ok = t, 1
		}
	}
	return found, ok == 1 && found.role.Valid()
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *auth) newSession(name string, role httpapi.Role) *session {
	s := &session{id: randomID(), Name: name, Role: role, CSRF: randomID(), expires: a.now().Add(sessionTTL)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		a.evictLocked()
	}
	a.sessions[s.id] = s
	return s
}

// evictLocked drops expired sessions, and the oldest if none expired.
func (a *auth) evictLocked() {
	now := a.now()
	var oldest *session
	for id, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, id)
		} else if oldest == nil || s.expires.Before(oldest.expires) {
			oldest = s
		}
	}
	if len(a.sessions) >= maxSessions && oldest != nil {
		delete(a.sessions, oldest.id)
	}
}

// lookup returns the request's live session, if any.
func (a *auth) lookup(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil || a.now().After(s.expires) {
		return nil
	}
	return s
}

func (a *auth) drop(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

func setSessionCookie(w http.ResponseWriter, s *session) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
}

// sessionFor returns the request's session. An open dashboard gives every
// visitor one, because its forms need a CSRF token all the same: any page
// on the web can post to a daemon on loopback.
func (s *server) sessionFor(w http.ResponseWriter, r *http.Request) *session {
	if ss := s.auth.lookup(r); ss != nil {
		return ss
	}
	if !s.auth.open {
		return nil
	}
	ss := s.auth.newSession(openActor, httpapi.RoleAdmin)
	setSessionCookie(w, ss)
	return ss
}

// requireSession lets through only requests with a session, a POST only
// with the session's CSRF token and from our own origin.
func (s *server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := s.auth.lookup(r)
		if ss == nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) != 1 {
				http.Error(w, "the form is stale or comes from another site; reload the page", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(withSession(r.Context(), ss)))
	})
}

// sameOrigin rejects a POST whose Origin header names another host; a
// browser always sends Origin on a cross-site POST.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (s *server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if s.auth.open {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, "", http.StatusOK)
}

func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site login refused", http.StatusForbidden)
		return
	}
	t, ok := s.auth.check(r.PostFormValue("token"))
	if s.auth.open || !ok {
		s.renderLogin(w, r, "That token is not valid.", http.StatusUnauthorized)
		return
	}
	setSessionCookie(w, s.auth.newSession(t.name, t.role))
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	ss := s.auth.lookup(r)
	if ss != nil && sameOrigin(r) && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) == 1 {
		s.auth.drop(ss.id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps the redirect after login on this site: only a local
// absolute path is followed.
func safeNext(next string) string {
	if len(next) > 0 && next[0] == '/' && (len(next) == 1 || (next[1] != '/' && next[1] != '\\')) {
		return next
	}
	return "/"
}
