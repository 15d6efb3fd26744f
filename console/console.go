// Package console is socbot's web console: the MSSP analysts' screens (queues with live counts and SLA
// countdowns, incidents with filters and full-text search, the incident page, suppression rules,
// assets, containment approvals, indicators, reports) and the client portal for a tenant's viewers.
// It is rendered on the server with html/template; its one script and one style sheet are embedded,
// nothing is loaded from elsewhere, and a strict Content-Security-Policy forbids inline script.
// People sign in with a local password (bcrypt, lockout, optional TOTP) or OpenID Connect; sessions
// live in the database behind an HttpOnly cookie and every change carries a CSRF token.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	socbot "github.com/socbot/socbot"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config tunes the console.
type Config struct {
	SecureCookies bool          `koanf:"secure_cookies"` // always mark cookies Secure (set it behind a TLS proxy); TLS requests get it anyway
	SessionTTL    time.Duration `koanf:"session_ttl"`    // absolute session lifetime (default 12 h)
	IdleTimeout   time.Duration `koanf:"idle_timeout"`   // sign out after this long without a request (default 30 min)
	MaxFailures   int           `koanf:"max_failures"`   // failed sign-ins in a row before a lockout (default 5)
	LockFor       time.Duration `koanf:"lock_for"`       // how long a lockout lasts (default 15 min)
	LivePoll      time.Duration `koanf:"live_poll"`      // how often live queues are recomputed (default 2 s)
	OIDC          OIDCConfig    `koanf:"oidc"`
}

// OIDCConfig configures single sign-on with an OpenID Connect provider. The ID token's verified e-mail
// must belong to an existing socbot user: SSO signs people in, it does not create them.
type OIDCConfig struct {
	Issuer       string `koanf:"issuer"` // e.g. https://login.example.com/realms/mssp
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	RedirectURL  string `koanf:"redirect_url"` // https://soc.example.com/sso/callback
	Name         string `koanf:"name"`         // the button's label (default "single sign-on")
}

// Deps are what the console needs. Reports, Approvals and Indicators are asked at each request, so
// that a bot started after the console can provide them; when one returns nil (or is nil) the page
// says the feature is not enabled on this node.
type Deps struct {
	Store      socbot.Store
	Console    socbot.ConsoleStore
	Reports    func() socbot.ReportService
	Approvals  func() socbot.ApprovalQueue
	Indicators func() socbot.IndicatorSearch
	Clock      socbot.Clock
	Logger     *slog.Logger
}

// Perm is who may open a console route.
type Perm int

// Permissions.
const (
	Public Perm = iota // no session
	Read               // any signed-in user: admin, analyst, viewer
	Staff              // MSSP staff and tenant analysts: admin, analyst
	Work               // admin, analyst: changes
	Admin              // admin only
)

func (p Perm) allows(r socbot.Role) bool {
	switch p {
	case Public:
		return true
	case Read:
		return r == socbot.RoleAdmin || r == socbot.RoleAnalyst || r == socbot.RoleViewer
	case Staff, Work:
		return r == socbot.RoleAdmin || r == socbot.RoleAnalyst
	case Admin:
		return r == socbot.RoleAdmin
	}
	return false
}

// Route is one console route, for the authorisation matrix test.
type Route struct {
	Method, Path string
	Perm         Perm
}

// Console is the web console's handler.
type Console struct {
	Deps
	cfg    Config
	router chi.Router
	routes []Route
	pages  map[string]*template.Template
	names  *tenantNames
	oidc   *oidcClient
}

// New builds the console. An OIDC issuer that cannot be reached is not fatal: the SSO button reports
// the problem when used, and local sign-in keeps working.
func New(d Deps, cfg Config) (*Console, error) {
	if d.Clock == nil {
		d.Clock = socbot.SystemClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Store == nil || d.Console == nil {
		return nil, socbot.E("console.New", socbot.KindInvalid, "the console needs the store")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 15 * time.Minute
	}
	if cfg.LivePoll <= 0 {
		cfg.LivePoll = 2 * time.Second
	}
	c := &Console{Deps: d, cfg: cfg}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	if cfg.OIDC.Issuer != "" {
		c.oidc = newOIDC(cfg.OIDC, d.Logger)
	}
	r := chi.NewRouter()
	r.Use(c.headers)
	static, _ := fs.Sub(assetFS, "assets")
	r.Handle("/static/*", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.FileServer(http.FS(static)).ServeHTTP(w, r)
	})))
	c.router = r
	c.registerRoutes()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, socbot.E("console", socbot.KindNotFound, "no such page"))
	})
	return c, nil
}

// Handler returns the console's root handler, to mount at /.
func (c *Console) Handler() http.Handler { return c.router }

// Routes lists the console's routes.
func (c *Console) Routes() []Route { return append([]Route(nil), c.routes...) }

// handle registers a route: the session is loaded (and required unless Public), the role checked, and
// for every POST the CSRF token verified, before h runs.
func (c *Console) handle(method, path string, perm Perm, h func(w http.ResponseWriter, r *http.Request, s *session)) {
	c.routes = append(c.routes, Route{Method: method, Path: path, Perm: perm})
	c.router.Method(method, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.loadSession(r)
		if err != nil && perm != Public {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/events/") && r.Header.Get("X-Requested-With") == "" {
				http.Redirect(w, r, "/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, socbot.E("console", socbot.KindUnauthenticated, "sign in first"))
			return
		}
		if s != nil && !perm.allows(s.p.Role) {
			c.fail(w, r, socbot.E("console", socbot.KindForbidden, "your role ("+string(s.p.Role)+") may not open this page"))
			return
		}
		if method == http.MethodPost {
			_ = r.ParseForm()
		}
		if method == http.MethodPost && perm != Public {
			if err := c.checkCSRF(r, s); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		h(w, r, s)
	}))
}

// headers sets the console's security headers: a strict CSP (scripts and styles only from the
// console itself, no inline script, no framing), no caching of pages, no sniffing, no referrer.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// status is where an error kind becomes an HTTP status in the console.
func status(k socbot.Kind) int {
	switch k {
	case socbot.KindInvalid:
		return http.StatusBadRequest
	case socbot.KindNotFound:
		return http.StatusNotFound
	case socbot.KindConflict:
		return http.StatusConflict
	case socbot.KindUnauthenticated:
		return http.StatusUnauthorized
	case socbot.KindForbidden:
		return http.StatusForbidden
	case socbot.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case socbot.KindUnavailable:
		return http.StatusServiceUnavailable
	case socbot.KindRateLimited:
		return http.StatusTooManyRequests
	case socbot.KindUnsupported:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// fail renders an error page (or a short text for fragment and event requests).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	k := socbot.ErrorKind(err)
	code := status(k)
	msg := userMessage(err)
	if code >= 500 {
		c.Logger.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if k == socbot.KindOther {
			msg = "Something went wrong on our side; it has been logged."
		}
	}
	if strings.HasPrefix(r.URL.Path, "/events/") || r.Header.Get("X-Requested-With") != "" {
		http.Error(w, msg, code)
		return
	}
	s, _ := c.loadSession(r)
	c.render(w, r, code, "error", s, page{Title: "Error", Body: map[string]any{"Code": code, "Message": msg}})
}

// userMessage renders an error without socbot's operation names.
func userMessage(err error) string {
	var se *socbot.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	out := ""
	if se.Field != "" {
		out = se.Field + ": "
	}
	out += se.Msg
	if se.Err != nil {
		if se.Msg != "" {
			out += ": "
		}
		out += userMessage(se.Err)
	}
	if out == "" {
		out = se.Kind.String()
	}
	return out
}

// now is the console's clock.
func (c *Console) now() time.Time { return c.Clock.Now() }

func (c *Console) approvals() socbot.ApprovalQueue {
	if c.Approvals == nil {
		return nil
	}
	return c.Approvals()
}

func (c *Console) reportsSvc() socbot.ReportService {
	if c.Reports == nil {
		return nil
	}
	return c.Reports()
}

func (c *Console) indicators() socbot.IndicatorSearch {
	if c.Indicators == nil {
		return nil
	}
	return c.Indicators()
}

// ctx is the request's context with the principal, for the store's audit log.
func ctxOf(r *http.Request, s *session) context.Context {
	if s == nil {
		return r.Context()
	}
	return socbot.WithPrincipal(r.Context(), s.p)
}

func itoa(n int64) string { return fmt.Sprint(n) }
