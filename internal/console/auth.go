package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes), so
// a login costs tens of milliseconds on a small machine and a stolen hash
// is expensive to attack.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id in the PHC string format.
func HashPassword(pw string) (string, error) {
	if len(pw) < 8 {
		return "", errors.New("password must be at least 8 characters")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches a hash made by HashPassword.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 16 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the user does not exist, so a login's
// duration does not tell whether a name is a user. It is made on the first
// login, not at start: argon2id costs ~50 ms and 19 MiB, which every command
// of the binary (replay, simulate, ...) would otherwise pay.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password of anyone")
	return h
})

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Cookie names. With the Secure attribute the __Host- prefix makes the
// browser refuse the cookie from a subdomain or an insecure page.
const (
	cookieSecure   = "__Host-custos"
	cookiePlain    = "custos_session"
	loginCookie    = "custos_login"
	csrfField      = "_csrf"
	csrfHeader     = "X-CSRF-Token"
	touchEvery     = time.Minute
	maxFormMemory  = 1 << 20
	loginFailLimit = 5
	loginLockout   = 15 * time.Minute
)

// secure reports whether cookies should carry the Secure attribute: always,
// unless the request is plain HTTP to a loopback address (a local console,
// which browsers treat as a secure context anyway) or configuration says the
// console sits behind a proxy that handles it.
func (c *Console) secure(r *http.Request) bool {
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		return true
	}
	if c.cfg.InsecureCookies {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	sec := c.secure(r)
	if name == cookiePlain && sec {
		name = cookieSecure
	}
	ck := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: sec,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	if name == loginCookie {
		ck.SameSite = http.SameSiteStrictMode
	}
	http.SetCookie(w, ck)
}

// reqInfo is what the authentication middleware learned about a request.
type reqInfo struct {
	user    User
	session Session
	// allowed is the set of actor ids a vendor supervisor may see; nil
	// means every actor.
	allowed map[string]bool
	reveals map[string]Reveal // actor id -> active reveal
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	ri, _ := r.Context().Value(ctxKey{}).(*reqInfo)
	return ri
}

// authed wraps h: the request must carry a live session of an enabled user
// whose role has perm (-1: any role), and a state-changing request must
// carry the session's CSRF token.
func (c *Console) authed(perm Perm, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri, ok := c.session(w, r)
		if !ok {
			if r.Method == http.MethodGet {
				next := r.URL.RequestURI()
				c.clearSession(w, r)
				http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in (or the session expired)", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get(csrfHeader)
			if tok == "" {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormMemory)
				tok = r.PostFormValue(csrfField)
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(ri.session.CSRF)) != 1 {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, ri)
		r = r.WithContext(ctx)
		if perm >= 0 && !ri.user.Role.Can(perm) {
			c.forbidden(w, r, "Your role does not allow this page.")
			return
		}
		if ri.user.Role == VendorSupervisor {
			if err := c.scope(ctx, ri); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		h(w, r)
	})
}

// session returns the request's live session and its user.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (*reqInfo, bool) {
	ck, err := r.Cookie(cookieSecure)
	if err != nil {
		ck, err = r.Cookie(cookiePlain)
	}
	if err != nil || ck.Value == "" {
		return nil, false
	}
	ctx := r.Context()
	id := sessionID(ck.Value)
	s, err := c.state.Session(ctx, id)
	if err != nil {
		return nil, false
	}
	now := c.now()
	if now.Sub(s.LastSeen) > c.cfg.SessionIdle || now.Sub(s.Created) > c.cfg.SessionMax {
		_ = c.state.DeleteSession(ctx, id)
		return nil, false
	}
	u, err := c.state.User(ctx, s.User)
	if err != nil || u.Disabled {
		_ = c.state.DeleteSession(ctx, id)
		return nil, false
	}
	if now.Sub(s.LastSeen) > touchEvery {
		if err := c.state.TouchSession(ctx, id, now); err != nil {
			c.log.Warn("console: touching session", "user", u.Name, "err", err)
		}
	}
	ri := &reqInfo{user: u, session: s, reveals: map[string]Reveal{}}
	rv, err := c.state.Reveals(ctx, u.Name, now)
	if err != nil {
		c.log.Warn("console: reading reveals", "user", u.Name, "err", err)
	}
	for _, x := range rv {
		ri.reveals[x.Actor] = x
	}
	return ri, true
}

// scope fills the set of actors a vendor supervisor may see: its vendor's
// roster entries. A supervisor without a vendor sees nobody.
func (c *Console) scope(ctx context.Context, ri *reqInfo) error {
	people, err := c.src.People(ctx)
	if err != nil {
		return err
	}
	ri.allowed = map[string]bool{}
	if ri.user.Vendor == "" {
		return nil
	}
	for _, p := range people {
		if p.Vendor == ri.user.Vendor {
			ri.allowed[p.ID] = true
		}
	}
	return nil
}

// maysee reports whether the request's user may see actor's data.
func (ri *reqInfo) maysee(actor string) bool {
	return ri.allowed == nil || ri.allowed[actor]
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	for _, n := range []string{cookieSecure, cookiePlain} {
		if _, err := r.Cookie(n); err == nil {
			http.SetCookie(w, &http.Cookie{Name: n, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: n == cookieSecure, SameSite: http.SameSiteLaxMode})
		}
	}
}

// startSession logs u in: a fresh session (a fixed session id cannot be
// planted before login) and its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u User) error {
	tok := randomToken()
	now := c.now()
	s := Session{ID: sessionID(tok), User: u.Name, CSRF: randomToken(), Created: now, LastSeen: now, Remote: remote(r)}
	if err := c.state.CreateSession(r.Context(), s); err != nil {
		return err
	}
	c.setCookie(w, r, cookiePlain, tok, 0)
	return nil
}

func remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/cases"
	}
	return next
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if ri, ok := c.session(w, r); ok && ri != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next, user string) {
	// Login CSRF: the form's token must equal a fresh strict cookie, so a
	// foreign site cannot log the browser into an attacker's account.
	tok := randomToken()
	c.setCookie(w, r, loginCookie, tok, 15*time.Minute)
	c.render(w, r, status, "login", map[string]any{
		"Title": "Sign in", "Error": msg, "Next": next, "Name": user, "Token": tok,
		"OIDC": c.oidc != nil, "OIDCName": displayName(c.cfg.OIDC), "Banner": c.banner,
	})
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormMemory)
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	next := r.PostFormValue("next")
	ck, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		c.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired. Please try again.", next, name)
		return
	}
	ctx := r.Context()
	now := c.now()
	if c.limiter.locked(name, now) {
		c.auditAs(ctx, r, User{Name: name}, AuditLoginFailed, "user:"+name, "locked out after repeated failures")
		c.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed attempts. Try again in a few minutes.", next, name)
		return
	}
	u, err := c.state.User(ctx, name)
	hash := u.PasswordHash
	if err != nil || hash == "" {
		hash = dummyHash()
	}
	ok := CheckPassword(hash, pw) && err == nil && u.PasswordHash != "" && !u.Disabled
	if !ok {
		c.limiter.fail(name, now)
		c.auditAs(ctx, r, User{Name: name}, AuditLoginFailed, "user:"+name, "wrong name or password")
		c.renderLogin(w, r, http.StatusUnauthorized, "Wrong name or password.", next, name)
		return
	}
	c.limiter.reset(name)
	if err := c.startSession(w, r, u); err != nil {
		c.fail(w, r, err)
		return
	}
	c.setCookie(w, r, loginCookie, "", -1)
	c.auditAs(ctx, r, u, AuditLogin, "user:"+u.Name, "password")
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	ri := info(r)
	if err := c.state.DeleteSession(r.Context(), ri.session.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.audit(r, AuditLogout, "user:"+ri.user.Name, "")
	c.clearSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// loginLimiter slows password guessing: after loginFailLimit failures for
// one name within loginLockout, that name is locked for loginLockout.
type loginLimiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{fails: map[string][]time.Time{}} }

func (l *loginLimiter) recent(name string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.fails[name] {
		if now.Sub(t) < loginLockout {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(l.fails, name)
	} else {
		l.fails[name] = keep
	}
	return keep
}

func (l *loginLimiter) locked(name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(name, now)) >= loginFailLimit
}

func (l *loginLimiter) fail(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[name] = append(l.recent(name, now), now)
	if len(l.fails) > 10000 { // bound memory under a spray of names
		for k := range l.fails {
			l.recent(k, now)
		}
	}
}

func (l *loginLimiter) reset(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, name)
}
