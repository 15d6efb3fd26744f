package console

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeIdP is an in-process OpenID Connect provider: discovery, JWKS, an authorize endpoint that signs
// the user in at once, and a token endpoint that checks the client secret and the PKCE verifier and
// issues an RS256 ID token.
type fakeIdP struct {
	srv       *httptest.Server
	key       *rsa.PrivateKey
	mu        sync.Mutex
	codes     map[string]grant
	email     string // who signs in
	badNonce  bool
	verified  bool
	clientID  string
	secret    string
	exchanges int
}

type grant struct{ nonce, challenge string }

func newIdP(t *testing.T) *fakeIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeIdP{key: key, codes: map[string]grant{}, clientID: "socbot-console", secret: "s3cret", verified: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		code := randomToken()
		p.mu.Lock()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		g, found := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.exchanges++
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if id != p.clientID || secret != p.secret || !found || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		nonce := g.nonce
		if p.badNonce {
			nonce = "replayed"
		}
		claims, _ := json.Marshal(map[string]any{"iss": p.srv.URL, "sub": "u-1", "aud": p.clientID, "exp": time.Now().Add(time.Hour).Unix(),
			"iat": time.Now().Unix(), "nonce": nonce, "email": p.email, "email_verified": p.verified})
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
		jws, _ := signer.Sign(claims)
		tok, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func TestOIDCSignIn(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	idp := newIdP(t)
	cfg := OIDCConfig{Issuer: idp.srv.URL, ClientID: idp.clientID, ClientSecret: idp.secret, RedirectURL: e.srv.URL + "/sso/callback", Name: "Example IdP"}
	e.con.cfg.OIDC = cfg
	e.con.oidc = newOIDC(cfg, quiet)
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	get := func(c *http.Client, path string) (*http.Response, string) {
		r, err := c.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	// The button is on the sign-in page.
	if _, body := get(browser(), "/login"); !strings.Contains(body, "Sign in with Example IdP") {
		t.Fatal("no SSO button")
	}
	idp.email = "ana@acme.example"
	c := browser()
	r, body := get(c, "/sso/start?next=/incidents")
	if r.StatusCode != 200 || r.Request.URL.Path != "/incidents" || !strings.Contains(body, "Brute force against acme-web") {
		t.Fatalf("SSO sign-in ended at %s with %d: %.300s", r.Request.URL, r.StatusCode, body)
	}
	if _, body := get(c, "/account"); !strings.Contains(body, "signed in with oidc") {
		t.Fatal("session method is not oidc")
	}
	// An e-mail socbot does not know is refused; so is an unverified one and a replayed nonce.
	for _, tc := range []struct {
		name     string
		setup    func()
		wantCode int
		want     string
	}{
		{"unknown user", func() { idp.email = "mallory@evil.example" }, 403, "has no socbot account"},
		{"unverified e-mail", func() { idp.email, idp.verified = "ana@acme.example", false }, 401, "no verified e-mail"},
		{"replayed nonce", func() { idp.verified, idp.badNonce = true, true }, 401, "not issued for this sign-in"},
	} {
		tc.setup()
		r, body := get(browser(), "/sso/start")
		if r.StatusCode != tc.wantCode || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %.300s", tc.name, r.StatusCode, body)
		}
	}
	idp.badNonce = false
	// A callback that did not start here (no state cookie) is refused.
	if r, _ := get(browser(), "/sso/callback?code=x&state=y"); r.StatusCode != 401 {
		t.Fatalf("forged callback: %d", r.StatusCode)
	}
}
