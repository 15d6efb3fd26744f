// Package httpapi is socbot's REST API under /api/v1, with /healthz, /readyz, /metrics and the
// OpenAPI document. It authenticates API tokens, enforces roles and tenant scope on every route, and is
// the only place where an error's kind becomes an HTTP status.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/metrics"
	"github.com/socbot/socbot/normalize"
)

// Config holds the API's limits and options.
type Config struct {
	MaxBodyBytes    int64                        // largest request body as sent (default 32 MiB)
	MaxDecodedBytes int64                        // largest body after gunzip (default 128 MiB)
	MaxAlerts       int                          // most alerts in one ingest request (default 100,000)
	Mappings        map[string]normalize.Mapping // named field mappings for ?format=generic&mapping=NAME
}

// Deps are what the API needs.
type Deps struct {
	Store   socbot.Store
	Sink    socbot.AlertSink
	Clock   socbot.Clock
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Ready   func(ctx context.Context) error // nil error when the database and bus answer
	Reports socbot.ReportService            // the report bot (reports.go); nil: report routes answer 503
	// Containment is the containment bot (containment.go): ledger, approvals, connectors, playbooks,
	// never-block lists; nil: its routes answer 503.
	Containment socbot.ContainmentService
	// Intel is the intel bot (intel.go): indicators, feeds, firewall lists, exports; nil: its routes
	// answer 503.
	Intel socbot.IntelService
	// Logs is the monitor bot (monitor.go): Sigma rules over posted log batches; nil: POST /logs
	// answers 503.
	Logs socbot.LogIngester
}

// Server is the HTTP API.
type Server struct {
	Deps
	cfg      Config
	router   chi.Router
	api      chi.Router
	routes   []Route
	touchMu  sync.Mutex
	touched  map[string]time.Time
	generics map[string]normalize.Normalizer
}

// Perm is who may call a route.
type Perm int

// Permissions, from widest to narrowest.
const (
	PermRead   Perm = iota // admin, analyst, viewer: read the tenant's data
	PermStaff              // admin, analyst: read operational data (audit, channels, notices)
	PermWork               // admin, analyst: change the tenant's data
	PermAdmin              // admin only: MSSP-wide administration
	PermIngest             // admin, ingest: post alerts
	PermAny                // any valid token
)

func (p Perm) allows(r socbot.Role) bool {
	switch p {
	case PermAny:
		return true
	case PermRead:
		return r == socbot.RoleAdmin || r == socbot.RoleAnalyst || r == socbot.RoleViewer
	case PermStaff, PermWork:
		return r == socbot.RoleAdmin || r == socbot.RoleAnalyst
	case PermAdmin:
		return r == socbot.RoleAdmin
	case PermIngest:
		return r == socbot.RoleAdmin || r == socbot.RoleIngest
	}
	return false
}

// Route describes one API route, for the OpenAPI check and the authorisation matrix test.
type Route struct {
	Method, Path string
	Perm         Perm
	Summary      string
}

// New builds the API.
func New(d Deps, cfg Config) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.MaxDecodedBytes <= 0 {
		cfg.MaxDecodedBytes = 128 << 20
	}
	if cfg.MaxAlerts <= 0 {
		cfg.MaxAlerts = 100000
	}
	if d.Clock == nil {
		d.Clock = socbot.SystemClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	s := &Server{Deps: d, cfg: cfg, touched: map[string]time.Time{}, generics: map[string]normalize.Normalizer{}}
	for name, m := range cfg.Mappings {
		n, err := normalize.NewGeneric(m)
		if err != nil {
			return nil, socbot.E("httpapi.New", socbot.KindInvalid, "mapping "+name, err)
		}
		s.generics[name] = n
	}
	r := chi.NewRouter()
	r.Use(s.recoverer, s.securityHeaders)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", d.Metrics.Handler())
	r.Get("/api/v1/openapi.json", serveOpenAPI)
	s.api = chi.NewRouter()
	s.api.Use(s.authenticate)
	s.registerRoutes()
	for _, g := range routeGroups {
		g(s)
	}
	s.api.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.Logger, socbot.E("httpapi", socbot.KindNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	s.api.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Kind: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path}})
	})
	r.Mount("/api/v1", s.api)
	s.router = r
	return s, nil
}

// routeGroups are the API's feature files: each registers its routes from init, so that a bot's
// endpoints live in their own file with their own OpenAPI fragment (see openapi.go). This is the
// package's module registry.
var routeGroups []func(*Server)

// Handle registers an /api/v1 route with its permission; feature files call it from their group.
func (s *Server) Handle(method, path string, perm Perm, summary string, h http.HandlerFunc) {
	s.handle(method, path, perm, summary, h)
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.router }

// Mount adds another bot's handler (for example the TAXII server at /taxii2/ or the console at /).
func (s *Server) Mount(pattern string, h http.Handler) { s.router.Mount(pattern, h) }

// Routes lists the API's routes under /api/v1.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers an /api/v1 route with its permission.
func (s *Server) handle(method, path string, perm Perm, summary string, h http.HandlerFunc) {
	s.routes = append(s.routes, Route{Method: method, Path: path, Perm: perm, Summary: summary})
	route := path
	s.api.Method(method, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		p, _ := socbot.PrincipalFrom(r.Context())
		if !perm.allows(p.Role) {
			writeError(w, r, s.Logger, socbot.E("httpapi", socbot.KindForbidden, "role "+string(p.Role)+" may not "+method+" "+path))
			return
		}
		h(w, r)
		s.Metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	}))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic in handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{Kind: "internal", Message: "internal error"}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if len(r.URL.Path) >= 8 && r.URL.Path[:8] == "/api/v1/" {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		next.ServeHTTP(w, r)
	})
}

// idParam reads a numeric path parameter.
func idParam(r *http.Request, name string) (int64, error) {
	v := chi.URLParam(r, name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, socbot.FieldError("httpapi", name, "%q is not an id", v)
	}
	return id, nil
}

func chiParam(r *http.Request, name string) string { return chi.URLParam(r, name) }
