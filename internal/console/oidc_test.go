package console

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// idp is a tiny OpenID provider on loopback: discovery and keys from
// oidctest, plus an authorization endpoint that signs in whoever the test
// says and a token endpoint that checks the code and the PKCE verifier.
type idp struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	claims map[string]any // the next user's claims

	mu    sync.Mutex
	codes map[string]grant
	// tamper changes the next ID token's claims (a wrong nonce, audience).
	tamper func(map[string]any)
}

type grant struct {
	nonce, challenge string
	claims           map[string]any
}

func newIDP(t *testing.T) *idp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key, codes: map[string]grant{}}
	base := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.Handle("/", base)
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "custos" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		code := randomToken()
		p.mu.Lock()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), claims: p.claims}
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		g, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		tamper := p.tamper
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		claims := map[string]any{"iss": p.srv.URL, "aud": "custos", "sub": "u1", "nonce": g.nonce,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
		for k, v := range g.claims {
			claims[k] = v
		}
		if tamper != nil {
			tamper(claims)
		}
		raw, _ := json.Marshal(claims)
		tok := oidctest.SignIDToken(p.key, "k1", oidc.RS256, string(raw))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	p.srv = httptest.NewServer(mux)
	base.SetIssuer(p.srv.URL)
	t.Cleanup(p.srv.Close)
	return p
}

// follow runs the browser through redirects across the console and the
// IdP, returning the last response.
func (b *browser) follow(t *testing.T, start string) (*http.Response, string) {
	t.Helper()
	u := start
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequest("GET", u, nil)
		res, body := b.do(req)
		loc := res.Header.Get("Location")
		if res.StatusCode < 300 || res.StatusCode >= 400 || loc == "" {
			return res, body
		}
		next, _ := res.Request.URL.Parse(loc)
		u = next.String()
		if strings.HasPrefix(u, b.h.srv.URL+"/cases") {
			req, _ := http.NewRequest("GET", u, nil)
			return b.do(req)
		}
	}
	t.Fatal("too many redirects")
	return nil, ""
}

func TestOIDCLogin(t *testing.T) {
	p := newIDP(t)
	var h *harness
	h = newHarness(t, func(o *Options) {
		o.Config.OIDC = OIDCConfig{
			Issuer: p.srv.URL, ClientID: "custos", ClientSecret: "s", Name: "Test IdP",
			RedirectURL: "http://placeholder/auth/oidc/callback", UsernameClaim: "email", RoleClaim: "groups", VendorClaim: "vendor",
			Roles: map[string]string{"sec-analysts": "analyst", "bpo-supervisors": "vendor_supervisor"},
		}
	})
	// The redirect URL names the console, which only now has an address.
	h.c.oidc.cfg.RedirectURL = h.srv.URL + "/auth/oidc/callback"

	_, body := h.anon().get("/login")
	if !strings.Contains(body, "Sign in with Test IdP") {
		t.Fatal("the login page offers no single sign-on")
	}

	p.claims = map[string]any{"email": "sam@example.com", "email_verified": true, "name": "Sam", "groups": []string{"everyone", "sec-analysts"}}
	b := h.anon()
	res, body := b.follow(t, h.srv.URL+"/auth/oidc/login?next=/rules")
	if res.StatusCode != 200 || !strings.Contains(body, "sam@example.com · Analyst") {
		t.Fatalf("OIDC login: %d; signed-in banner missing", res.StatusCode)
	}
	u, err := h.state.User(t.Context(), "sam@example.com")
	if err != nil || u.Role != Analyst || u.Via != "oidc" || u.Display != "Sam" {
		t.Errorf("OIDC user %+v, %v", u, err)
	}
	if recs := h.auditOf(AuditLogin); len(recs) != 1 || recs[0].Detail != "oidc" {
		t.Errorf("login audit %+v", recs)
	}

	// A vendor supervisor gets the vendor from the token.
	p.claims = map[string]any{"email": "vic@example.com", "groups": "bpo-supervisors", "vendor": "bpo-south"}
	b = h.anon()
	res, _ = b.follow(t, h.srv.URL+"/auth/oidc/login")
	u, _ = h.state.User(t.Context(), "vic@example.com")
	if res.StatusCode != 200 || u.Role != VendorSupervisor || u.Vendor != "bpo-south" {
		t.Errorf("OIDC vendor supervisor: %d %+v", res.StatusCode, u)
	}

	refused := func(name string, claims map[string]any, tamper func(map[string]any), want int) {
		t.Helper()
		p.claims, p.tamper = claims, tamper
		res, body := h.anon().follow(t, h.srv.URL+"/auth/oidc/login")
		p.tamper = nil
		if res.StatusCode != want || !strings.Contains(body, "Single sign-on failed") {
			t.Errorf("%s: %d, want %d and a refusal", name, res.StatusCode, want)
		}
	}
	refused("no role", map[string]any{"email": "x@example.com", "groups": []string{"everyone"}}, nil, http.StatusForbidden)
	refused("unverified email", map[string]any{"email": "y@example.com", "email_verified": false, "groups": "sec-analysts"}, nil, http.StatusForbidden)
	refused("supervisor without vendor", map[string]any{"email": "z@example.com", "groups": "bpo-supervisors"}, nil, http.StatusForbidden)
	refused("wrong nonce", map[string]any{"email": "n@example.com", "groups": "sec-analysts"}, func(c map[string]any) { c["nonce"] = "other" }, http.StatusUnauthorized)
	refused("wrong audience", map[string]any{"email": "a@example.com", "groups": "sec-analysts"}, func(c map[string]any) { c["aud"] = "someone-else" }, http.StatusUnauthorized)
	refused("expired token", map[string]any{"email": "e@example.com", "groups": "sec-analysts"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, http.StatusUnauthorized)
	// A name that is a local user cannot be taken over through the IdP.
	refused("local name", map[string]any{"email": "admin", "groups": "sec-analysts"}, nil, http.StatusForbidden)

	// A callback without the flow cookie (a forged or replayed redirect).
	res, _ = h.anon().get("/auth/oidc/callback?code=x&state=y")
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without the flow cookie: %d, want 400", res.StatusCode)
	}
}

func TestOIDCConfigValidation(t *testing.T) {
	c := DefaultConfig()
	c.OIDC.Issuer = "https://idp.example"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "client_id") {
		t.Errorf("missing client_id: %v", err)
	}
	c.OIDC.ClientID = "custos"
	c.OIDC.RedirectURL = "https://custos.example/callback"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "redirect_url") {
		t.Errorf("bad redirect_url: %v", err)
	}
	c.OIDC.RedirectURL = "https://custos.example/auth/oidc/callback"
	c.OIDC.Roles = map[string]string{"g": "superuser"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Errorf("unknown role in the map: %v", err)
	}
	c.OIDC.Roles = nil
	if err := c.Validate(); err != nil {
		t.Errorf("valid OIDC config: %v", err)
	}
}
