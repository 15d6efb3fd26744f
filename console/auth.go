package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	socbot "github.com/socbot/socbot"
)

// session is a signed-in request: the stored session, the user as they are now, and who they act as.
type session struct {
	cs   socbot.ConsoleSession
	user socbot.User
	p    socbot.Principal
}

// scope is the tenant the request works in: a tenant-bound user's own; for MSSP-wide users the one
// they switched to, or "" for every tenant.
func (s *session) scope() string {
	if s.p.MSSPWide() {
		return s.cs.Tenant
	}
	return s.p.TenantID
}

const (
	cookieSession = "socbot_session"
	cookieLogin   = "socbot_login"
	cookieSSO     = "socbot_sso"
)

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Console) secure(r *http.Request) bool {
	return c.cfg.SecureCookies || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// cookieName adds the __Host- prefix on secure connections: the browser then refuses the cookie
// unless it is Secure, host-only and for path /.
func (c *Console) cookieName(r *http.Request, base string) string {
	if c.secure(r) {
		return "__Host-" + base
	}
	return base
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r, name), Value: value, Path: "/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r, name), Value: "", Path: "/", HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func (c *Console) cookie(r *http.Request, name string) string {
	if ck, err := r.Cookie(c.cookieName(r, name)); err == nil {
		return ck.Value
	}
	return ""
}

// loadSession finds the request's session and checks it is still valid: not expired, not idle too
// long, and its user still exists, is enabled and is the same person.
func (c *Console) loadSession(r *http.Request) (*session, error) {
	const op = "console.session"
	secret := c.cookie(r, cookieSession)
	if secret == "" {
		return nil, socbot.E(op, socbot.KindUnauthenticated, "no session")
	}
	hash := socbot.HashToken(secret)
	cs, err := c.Console.Session(r.Context(), hash)
	if err != nil {
		return nil, socbot.E(op, socbot.KindUnauthenticated, "session not found")
	}
	now := c.now()
	if now.After(cs.ExpiresAt) || now.Sub(cs.SeenAt) > c.cfg.IdleTimeout {
		_ = c.Console.DeleteSession(r.Context(), hash)
		return nil, socbot.E(op, socbot.KindUnauthenticated, "session expired")
	}
	u, _, err := c.Store.UserByEmail(r.Context(), cs.Email)
	if err != nil || u.ID != cs.UserID || u.Disabled {
		_ = c.Console.DeleteSession(r.Context(), hash)
		return nil, socbot.E(op, socbot.KindUnauthenticated, "user no longer allowed")
	}
	if u.Role != socbot.RoleAdmin {
		cs.Tenant = ""
	}
	if now.Sub(cs.SeenAt) > time.Minute {
		_ = c.Console.UpdateSession(r.Context(), hash, cs.Tenant, now)
	}
	return &session{cs: cs, user: u, p: principalOf(u)}, nil
}

// principalOf is who a console user acts as.
func principalOf(u socbot.User) socbot.Principal {
	return socbot.Principal{Role: u.Role, TenantID: u.TenantID, Name: "user:" + u.Email, UserID: u.ID}
}

func (c *Console) checkCSRF(r *http.Request, s *session) error {
	const op = "console.csrf"
	if s == nil {
		return socbot.E(op, socbot.KindUnauthenticated, "sign in first")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return socbot.E(op, socbot.KindForbidden, "cross-site request refused")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return socbot.E(op, socbot.KindForbidden, "request from another origin refused")
		}
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		if err := r.ParseForm(); err != nil {
			return socbot.E(op, socbot.KindInvalid, "bad form")
		}
		token = r.PostForm.Get("csrf")
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.cs.CSRF)) != 1 {
		return socbot.E(op, socbot.KindForbidden, "the form's security token is missing or stale; reload the page and try again")
	}
	return nil
}

// dummyHash makes an unknown e-mail cost as much as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("socbot-no-such-user"), bcrypt.DefaultCost)

// safeNext keeps redirects on the console: a local path, never //host or a scheme.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, s *session) {
	if s != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, "", "", false)
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, code int, email, msg string, needCode bool) {
	token := randomToken()
	c.setCookie(w, r, cookieLogin, token, 30*time.Minute)
	sso := ""
	if c.oidc != nil {
		sso = c.cfg.OIDC.Name
		if sso == "" {
			sso = "single sign-on"
		}
	}
	c.render(w, r, code, "login", nil, page{Title: "Sign in", CSRF: token, Flash: msg, Body: map[string]any{
		"Email": email, "Next": safeNext(r.FormValue("next")), "NeedCode": needCode, "SSO": sso}})
}

// login checks a password (and the TOTP code of users who enrolled one). Failed attempts count
// towards a lockout; every failure gives the same answer, whatever was wrong.
func (c *Console) login(w http.ResponseWriter, r *http.Request, _ *session) {
	const op = "console.login"
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, socbot.E(op, socbot.KindInvalid, "bad form"))
		return
	}
	token := c.cookie(r, cookieLogin)
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(r.PostForm.Get("csrf"))) != 1 {
		c.showLogin(w, r, http.StatusForbidden, "", "The sign-in form expired; please try again.", false)
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	password := r.PostForm.Get("password")
	code := strings.TrimSpace(r.PostForm.Get("code"))
	const wrong = "Wrong e-mail, password or code."
	u, hash, err := c.Store.UserByEmail(r.Context(), email)
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		c.showLogin(w, r, http.StatusUnauthorized, email, wrong, false)
		return
	}
	now := c.now()
	st, err := c.Console.LoginState(r.Context(), u.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if st.LockedUntil != nil && now.Before(*st.LockedUntil) {
		c.showLogin(w, r, http.StatusTooManyRequests, email, "Too many failed sign-ins: this account is locked for a while. Try again later or ask an administrator.", false)
		return
	}
	ok := !u.Disabled && hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	method := "password"
	if ok && st.TOTPSecret != "" {
		if code == "" {
			c.showLogin(w, r, http.StatusOK, email, "Enter the code from your authenticator app.", true)
			return
		}
		ok = totp.Validate(code, st.TOTPSecret)
		method = "password+totp"
	}
	if !ok {
		st, err = c.Console.RecordLogin(r.Context(), u.ID, false, now, c.cfg.MaxFailures, c.cfg.LockFor)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.showLogin(w, r, http.StatusUnauthorized, email, wrong, st.TOTPSecret != "" && code != "")
		return
	}
	if _, err := c.Console.RecordLogin(r.Context(), u.ID, true, now, c.cfg.MaxFailures, c.cfg.LockFor); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.startSession(w, r, u, method); err != nil {
		c.fail(w, r, err)
		return
	}
	c.clearCookie(w, r, cookieLogin)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u socbot.User, method string) error {
	secret := randomToken()
	now := c.now()
	cs := socbot.ConsoleSession{IDHash: socbot.HashToken(secret), UserID: u.ID, Email: u.Email, CSRF: randomToken(), Method: method,
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL)}
	if err := c.Console.CreateSession(r.Context(), cs); err != nil {
		return err
	}
	c.setCookie(w, r, cookieSession, secret, c.cfg.SessionTTL)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	_ = c.Console.DeleteSession(r.Context(), s.cs.IDHash)
	c.clearCookie(w, r, cookieSession)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ---- TOTP enrolment

func (c *Console) account(w http.ResponseWriter, r *http.Request, s *session) {
	st, err := c.Console.LoginState(r.Context(), s.user.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, 200, "account", s, page{Title: "Account", Body: map[string]any{"User": s.user, "TOTP": st.TOTPSecret != "", "Method": s.cs.Method}})
}

func (c *Console) totpStart(w http.ResponseWriter, r *http.Request, s *session) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "socbot", AccountName: s.user.Email})
	if err != nil {
		c.fail(w, r, socbot.E("console.totp", err))
		return
	}
	img, err := key.Image(200, 200)
	var qr string
	if err == nil {
		var b bytes.Buffer
		if png.Encode(&b, img) == nil {
			qr = "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
		}
	}
	c.render(w, r, 200, "totp", s, page{Title: "Two-factor sign-in", Body: map[string]any{"Secret": key.Secret(), "URL": key.URL(), "QR": template.URL(qr)}})
}

func (c *Console) totpConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	secret := strings.TrimSpace(r.PostForm.Get("secret"))
	if secret == "" || !totp.Validate(strings.TrimSpace(r.PostForm.Get("code")), secret) {
		c.fail(w, r, socbot.FieldError("console.totp", "code", "the code does not match; enrolment not changed"))
		return
	}
	if err := c.Console.SetTOTPSecret(r.Context(), s.user.ID, secret, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (c *Console) totpRemove(w http.ResponseWriter, r *http.Request, s *session) {
	st, err := c.Console.LoginState(r.Context(), s.user.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if st.TOTPSecret == "" || !totp.Validate(strings.TrimSpace(r.PostForm.Get("code")), st.TOTPSecret) {
		c.fail(w, r, socbot.FieldError("console.totp", "code", "the code does not match; two-factor sign-in stays on"))
		return
	}
	if err := c.Console.SetTOTPSecret(r.Context(), s.user.ID, "", s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// ---- OpenID Connect

// oidcClient signs people in with an OpenID Connect provider (authorization code flow with PKCE,
// state and nonce). The provider's metadata is fetched on first use and kept.
type oidcClient struct {
	cfg OIDCConfig
	mu  sync.Mutex
	p   *oidc.Provider
	log interface{ Warn(string, ...any) }
}

func newOIDC(cfg OIDCConfig, log interface{ Warn(string, ...any) }) *oidcClient {
	return &oidcClient{cfg: cfg, log: log}
}

func (o *oidcClient) provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p != nil {
		return o.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, socbot.E("console.oidc", socbot.KindUnavailable, "the single sign-on provider "+o.cfg.Issuer+" cannot be reached", err)
	}
	o.p = p
	return p, nil
}

func (o *oidcClient) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

func (c *Console) ssoStart(w http.ResponseWriter, r *http.Request, _ *session) {
	if c.oidc == nil {
		c.fail(w, r, socbot.E("console.sso", socbot.KindNotFound, "single sign-on is not configured"))
		return
	}
	p, err := c.oidc.provider(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	c.setCookie(w, r, cookieSSO, strings.Join([]string{state, nonce, verifier, hex.EncodeToString([]byte(next))}, "."), 10*time.Minute)
	http.Redirect(w, r, c.oidc.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (c *Console) ssoCallback(w http.ResponseWriter, r *http.Request, _ *session) {
	const op = "console.sso"
	if c.oidc == nil {
		c.fail(w, r, socbot.E(op, socbot.KindNotFound, "single sign-on is not configured"))
		return
	}
	parts := strings.Split(c.cookie(r, cookieSSO), ".")
	c.clearCookie(w, r, cookieSSO)
	q := r.URL.Query()
	if len(parts) != 4 || q.Get("state") == "" || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the sign-in did not start here or took too long; try again"))
		return
	}
	if e := q.Get("error"); e != "" {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the provider refused: "+e))
		return
	}
	p, err := c.oidc.provider(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	tok, err := c.oidc.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the provider did not accept the sign-in code", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: c.oidc.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the ID token is not valid", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the ID token was not issued for this sign-in"))
		return
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email == "" || (claims.Verified != nil && !*claims.Verified) {
		c.fail(w, r, socbot.E(op, socbot.KindUnauthenticated, "the provider gave no verified e-mail address"))
		return
	}
	u, _, err := c.Store.UserByEmail(r.Context(), claims.Email)
	if err != nil || u.Disabled {
		c.fail(w, r, socbot.E(op, socbot.KindForbidden, claims.Email+" has no socbot account; ask an administrator to create one"))
		return
	}
	if err := c.startSession(w, r, u, "oidc"); err != nil {
		c.fail(w, r, err)
		return
	}
	next, _ := hex.DecodeString(parts[3])
	http.Redirect(w, r, safeNext(string(next)), http.StatusSeeOther)
}
