package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func displayName(c OIDCConfig) string {
	if c.Name != "" {
		return c.Name
	}
	return "single sign-on"
}

// oidcClient discovers the provider on first use, so a console starts even
// while the identity provider is unreachable, and retries discovery on the
// next login after a failure.
type oidcClient struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
}

func newOIDCClient(cfg OIDCConfig) *oidcClient { return &oidcClient{cfg: cfg} }

func (o *oidcClient) ready(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("OIDC discovery at %s: %w", o.cfg.Issuer, err)
		}
		o.provider = p
		o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID})
		o.oauth = &oauth2.Config{
			ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		}
	}
	return o.oauth, o.verifier, nil
}

// oidcFlow is what the browser carries between login and callback, in a
// short-lived strict cookie: state against CSRF, nonce against replayed ID
// tokens, the PKCE verifier against stolen codes.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

const oidcCookie = "custos_oidc"

func (c *Console) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	oc, _, err := c.oidc.ready(r.Context())
	if err != nil {
		c.log.Error("console: OIDC", "err", err)
		c.renderLogin(w, r, http.StatusBadGateway, "The identity provider is not reachable. Try again later.", "", "")
		return
	}
	f := oidcFlow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(r.URL.Query().Get("next"))}
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{
		Name: oidcCookie, Value: b64(b), Path: "/auth/oidc/", MaxAge: 600,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode, // Lax: the IdP redirects back with a top-level GET
	})
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	refuse := func(status int, why string, err error) {
		c.log.Warn("console: OIDC login refused", "why", why, "err", err)
		c.auditAs(ctx, r, User{Name: "(oidc)"}, AuditLoginFailed, "oidc", why)
		c.renderLogin(w, r, status, "Single sign-on failed: "+why+".", "", "")
	}
	ck, err := r.Cookie(oidcCookie)
	if err != nil {
		refuse(http.StatusBadRequest, "the sign-in took too long or cookies are blocked", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: c.secure(r)})
	var f oidcFlow
	raw, err := unb64(ck.Value)
	if err == nil {
		err = json.Unmarshal(raw, &f)
	}
	if err != nil || f.State == "" {
		refuse(http.StatusBadRequest, "the sign-in state is invalid", err)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		refuse(http.StatusBadRequest, "the sign-in state does not match", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		refuse(http.StatusUnauthorized, "the identity provider said "+e, nil)
		return
	}
	oc, verifier, err := c.oidc.ready(ctx)
	if err != nil {
		refuse(http.StatusBadGateway, "the identity provider is not reachable", err)
		return
	}
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		refuse(http.StatusUnauthorized, "the authorization code was not accepted", err)
		return
	}
	rawID, ok := tok.Extra("id_token").(string)
	if !ok {
		refuse(http.StatusUnauthorized, "the identity provider sent no ID token", nil)
		return
	}
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		refuse(http.StatusUnauthorized, "the ID token is not valid", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		refuse(http.StatusUnauthorized, "the ID token's nonce does not match", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		refuse(http.StatusUnauthorized, "the ID token's claims are unreadable", err)
		return
	}
	u, why := c.oidcUser(claims)
	if why != "" {
		refuse(http.StatusForbidden, why, nil)
		return
	}
	if old, err := c.state.User(ctx, u.Name); err == nil {
		if old.Via != "oidc" {
			refuse(http.StatusForbidden, "a local user of that name exists", nil)
			return
		}
		if old.Disabled {
			refuse(http.StatusForbidden, "the user is disabled", nil)
			return
		}
		u.Created = old.Created
	}
	// The identity provider is the source of truth for role and vendor:
	// they are refreshed on every login.
	if err := c.state.PutUser(ctx, u); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.startSession(w, r, u); err != nil {
		c.fail(w, r, err)
		return
	}
	c.auditAs(ctx, r, u, AuditLogin, "user:"+u.Name, "oidc")
	http.Redirect(w, r, safeNext(f.Next), http.StatusSeeOther)
}

// oidcUser maps ID token claims to a console user, or says why not.
func (c *Console) oidcUser(claims map[string]any) (User, string) {
	cfg := c.cfg.OIDC
	name, _ := claims[cfg.UsernameClaim].(string)
	if name == "" {
		return User{}, fmt.Sprintf("the ID token has no %q claim", cfg.UsernameClaim)
	}
	if cfg.UsernameClaim == "email" {
		if v, ok := claims["email_verified"].(bool); ok && !v {
			return User{}, "the email address is not verified"
		}
	}
	var values []string
	switch v := claims[cfg.RoleClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	var role Role
	for _, v := range values {
		if m, ok := cfg.Roles[v]; ok {
			v = m
		}
		if r, err := ParseRole(v); err == nil {
			role = r
			break
		}
	}
	if role == "" {
		return User{}, "your account has no console role"
	}
	u := User{Name: name, Role: role, Via: "oidc", Created: c.now()}
	if d, ok := claims["name"].(string); ok {
		u.Display = d
	}
	if role == VendorSupervisor {
		u.Vendor, _ = claims[cfg.VendorClaim].(string)
		if u.Vendor == "" {
			return User{}, fmt.Sprintf("a vendor supervisor needs a %q claim", cfg.VendorClaim)
		}
	}
	return u, ""
}
