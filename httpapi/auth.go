package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// Role is what a token may do.
type Role string

// Roles, from least to most trusted. report and operate are siblings:
// the training pipeline reports results but cannot steer the loop.
const (
	RoleRead    Role = "read"    // read everything
	RoleReport  Role = "report"  // read, and post runs, observations and deployments
	RoleOperate Role = "operate" // read, and steer the loop (pins, approvals, rollbacks)
	RoleAdmin   Role = "admin"   // everything
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleRead, RoleReport, RoleOperate, RoleAdmin:
		return true
	}
	return false
}

// Allows reports whether a token with role r may use a route that needs
// role need. Unknown roles allow nothing.
func (r Role) Allows(need Role) bool {
	if !r.Valid() || !need.Valid() {
		return false
	}
	switch r {
	case RoleAdmin:
		return true
	case RoleReport, RoleOperate:
		return need == r || need == RoleRead
	}
	return need == RoleRead
}

// Token is a bearer secret with a name (for logs) and a role.
type Token struct {
	Name   string
	Secret string
	Role   Role
}

// authenticator matches bearer secrets to tokens.
type authenticator struct {
	// open is true when no tokens are configured: everything is allowed.
	open bool
	// Digests of the secrets: comparing fixed-length digests in constant
	// time hides both the content and the length of the secrets.
	tokens []hashedToken
}

type hashedToken struct {
	name   string
	role   Role
	digest [sha256.Size]byte
}

func newAuthenticator(tokens []Token, logger *slog.Logger) *authenticator {
	a := &authenticator{open: len(tokens) == 0}
	for _, t := range tokens {
		// An empty secret would match "Authorization: Bearer "; such a
		// token is dropped, but it still counts as configured so that a
		// config mistake closes the API rather than opening it.
		if t.Secret == "" {
			logger.Warn("ignoring API token with an empty secret", keyToken, t.Name)
			continue
		}
		if !t.Role.Valid() {
			logger.Warn("API token has an unknown role and may do nothing", keyToken, t.Name, keyRole, string(t.Role))
		}
		a.tokens = append(a.tokens, hashedToken{name: t.Name, role: t.Role, digest: sha256.Sum256([]byte(t.Secret))})
	}
	return a
}

// lookup returns the token whose secret is given, checking every token so
// that the time taken does not depend on which one matched.
func (a *authenticator) lookup(secret string) (hashedToken, bool) {
	d := sha256.Sum256([]byte(secret))
	var found hashedToken
	ok := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			found = t
			ok = 1
		}
	}
	return found, ok == 1
}

// require returns middleware that lets a request through only with a
// bearer token whose role allows need.
func (a *authenticator) require(need Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a.open {
				next.ServeHTTP(w, r)
				return
			}
			secret, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flywheel"`)
				writeError(w, r, flywheel.Errorf(flywheel.EUnauthorized, "an Authorization: Bearer <token> header is required"))
				return
			}
			t, ok := a.lookup(secret)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flywheel", error="invalid_token"`)
				writeError(w, r, flywheel.Errorf(flywheel.EUnauthorized, "the bearer token is not valid"))
				return
			}
			setTokenName(r, t.name)
			if !t.role.Allows(need) {
				writeError(w, r, flywheel.Errorf(flywheel.EForbidden, "token %q has role %q; this needs role %q", t.name, t.role, need))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearer extracts the secret from an Authorization header; the scheme is
// case-insensitive (RFC 9110).
func bearer(h string) (string, bool) {
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}
