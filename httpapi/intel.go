package httpapi

import (
	_ "embed"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
)

// The intel API: indicators (search with filters, detail with sources and sightings, additions,
// file imports, analysts' sightings and verdicts, matching), feeds (credentials accepted, never
// returned; health in every listing; run now), firewall lists (PAN-OS EDL text), and STIX 2.1 and
// MISP exports. TLP is enforced by Deps.Intel against the calling principal on every answer; without
// the service every route answers 503. The TAXII 2.1 server is mounted next to the API with the same
// token authentication (MountTAXII).

//go:embed openapi_intel.json
var openapiIntel []byte

func init() {
	routeGroups = append(routeGroups, (*Server).intelRoutes)
	addOpenAPI(openapiIntel)
}

func (s *Server) intelRoutes() {
	s.handle("GET", "/intel/indicators", PermRead, "Search threat-intel indicators", s.searchIntel)
	s.handle("POST", "/intel/indicators", PermWork, "Add threat-intel indicators (an analyst's report)", s.addIntel)
	s.handle("GET", "/intel/indicators/{id}", PermRead, "Get an indicator with its sources and sightings", s.getIntel)
	s.handle("POST", "/intel/indicators/{id}/sightings", PermWork, "Record a sighting or a verdict (false positive, expired) on an indicator", s.sightIntel)
	s.handle("POST", "/intel/import", PermWork, "Import a feed file (STIX, MISP, abuse.ch, CSV, plain list, RSS, text)", s.importIntel)
	s.handle("POST", "/intel/match", PermRead, "Look values up in the match index, as triage does", s.matchIntel)
	s.handle("GET", "/intel/export/stix", PermRead, "Export active indicators as a STIX 2.1 bundle", s.exportIntel("stix"))
	s.handle("GET", "/intel/export/misp", PermRead, "Export active indicators as a MISP event", s.exportIntel("misp"))

	s.handle("GET", "/feeds", PermStaff, "List threat-intel feeds with their health", s.listFeeds)
	s.handle("POST", "/feeds", PermWork, "Create (or replace) a feed; credentials are sealed and never returned", s.createFeed)
	s.handle("GET", "/feeds/{id}", PermStaff, "Get a feed with its health", s.getFeed)
	s.handle("PUT", "/feeds/{id}", PermWork, "Replace a feed (without auth: keep the stored credentials)", s.putFeed)
	s.handle("DELETE", "/feeds/{id}", PermWork, "Delete a feed; its indicators stay attributed and age out", s.deleteFeed)
	s.handle("POST", "/feeds/{id}/run", PermWork, "Collect a feed now", s.runFeed)

	s.handle("GET", "/edl/{list}", PermRead, "A firewall external dynamic list (PAN-OS EDL text)", s.edl)
}

// intel returns the service and the request's tenant scope, or answers.
func (s *Server) intel(w http.ResponseWriter, r *http.Request) (socbot.IntelService, string, bool) {
	if s.Intel == nil {
		writeError(w, r, s.Logger, socbot.E("httpapi.intel", socbot.KindUnavailable, "the intel bot does not run on this node"))
		return nil, "", false
	}
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return nil, "", false
	}
	return s.Intel, tenant, true
}

func splitComma(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func boolParam(v, field string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, socbot.FieldError("httpapi", field, "%q is not true or false", v)
	}
	return b, nil
}

// ---- indicators

func (s *Server) searchIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	q := socbot.IntelQuery{Types: splitComma(qv.Get("type")), Value: qv.Get("value"), Prefix: qv.Get("prefix"), Source: qv.Get("source"), Tag: qv.Get("tag")}
	var err error
	if q.MinScore, err = optIntN(qv.Get("min_score"), "min_score"); err == nil {
		if q.Limit, err = optIntN(qv.Get("limit"), "limit"); err == nil {
			if q.Offset, err = optIntN(qv.Get("offset"), "offset"); err == nil {
				if q.ActiveOnly, err = boolParam(qv.Get("active"), "active"); err == nil {
					q.IncludeDead, err = boolParam(qv.Get("include_dead"), "include_dead")
				}
			}
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := svc.SearchIndicators(r.Context(), principal(r), tenant, q)
	writeList(s, w, r, "indicators", list, err)
}

func (s *Server) getIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	in, err := svc.GetIndicator(r.Context(), principal(r), tenant, chiParam(r, "id"))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, in)
}

func (s *Server) addIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	var body socbot.IntelAdd
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	res, err := svc.AddIndicators(r.Context(), principal(r), tenant, body)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, res)
}

func (s *Server) sightIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	var body socbot.IntelSightingInput
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	in, err := svc.RecordSighting(r.Context(), principal(r), tenant, chiParam(r, "id"), body)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, in)
}

func (s *Server) importIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	opt := socbot.IntelImportOptions{Format: qv.Get("format"), Source: qv.Get("source"), TLP: qv.Get("tlp"), Reason: qv.Get("reason")}
	var err error
	if opt.Reliability, err = optIntN(qv.Get("reliability"), "reliability"); err == nil {
		opt.Confidence, err = optIntN(qv.Get("confidence"), "confidence")
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	for _, o := range qv["option"] {
		k, v, found := strings.Cut(o, "=")
		if !found {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi", "option", "%q is not key=value", o))
			return
		}
		if opt.Options == nil {
			opt.Options = map[string]string{}
		}
		opt.Options[k] = v
	}
	res, err := svc.Import(r.Context(), principal(r), tenant, opt, http.MaxBytesReader(w, r.Body, s.cfg.MaxDecodedBytes))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, res)
}

// MatchRequest is the body of POST /intel/match: observables, or bare values whose type is
// recognised.
type MatchRequest struct {
	Observables []socbot.Observable `json:"observables,omitempty"`
	Values      []string            `json:"values,omitempty"`
}

func (s *Server) matchIntel(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	var body MatchRequest
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	obs := body.Observables
	for _, v := range body.Values {
		obs = append(obs, socbot.Observable{Value: v}) // the service recognises the type
	}
	hits, err := svc.Match(r.Context(), principal(r), tenant, obs)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, map[string]any{"matches": hits})
}

func (s *Server) exportIntel(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc, tenant, ok := s.intel(w, r)
		if !ok {
			return
		}
		qv := r.URL.Query()
		q := socbot.IntelExport{Format: format, TLP: qv.Get("tlp")}
		var err error
		if q.Observables, err = boolParam(qv.Get("observables"), "observables"); err == nil {
			q.OwnOnly, err = boolParam(qv.Get("own_only"), "own_only")
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		ct := "application/stix+json;version=2.1"
		if format == "misp" {
			ct = "application/json"
		}
		lw := &lazyWriter{w: w, contentType: ct}
		if _, err := svc.Export(r.Context(), principal(r), tenant, q, lw); err != nil {
			if !lw.started {
				writeError(w, r, s.Logger, err)
				return
			}
			s.Logger.Error("intel export failed part-way", "format", format, "err", err)
			panic(http.ErrAbortHandler) // the client sees a broken response, not a truncated document
		}
		if !lw.started {
			lw.start()
		}
	}
}

// lazyWriter sends the success header only when the first byte is written, so that an error found
// before any output still becomes a proper error answer.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyWriter) start() {
	l.started = true
	l.w.Header().Set("Content-Type", l.contentType)
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}

// ---- feeds

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	list, err := svc.Feeds(r.Context(), principal(r), tenant)
	writeList(s, w, r, "feeds", list, err)
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	f, err := svc.GetFeed(r.Context(), principal(r), tenant, chiParam(r, "id"))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, f)
}

// FeedRequest is the body of POST /feeds and PUT /feeds/{id}.
type FeedRequest struct {
	socbot.IntelFeed
	Reason string `json:"reason,omitempty"`
}

func (s *Server) saveFeed(w http.ResponseWriter, r *http.Request, name string) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	var body FeedRequest
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if name != "" {
		if body.Name != "" && body.Name != name {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi", "name", "the body names feed %q, the path %q", body.Name, name))
			return
		}
		if _, err := svc.GetFeed(r.Context(), principal(r), tenant, name); err != nil {
			writeError(w, r, s.Logger, err) // PUT replaces an existing feed of the caller's tenant
			return
		}
		body.Name = name
	}
	body.CredentialsSet, body.Status = false, nil
	f, created, err := svc.PutFeed(r.Context(), principal(r), tenant, body.IntelFeed, body.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, f)
}

func (s *Server) createFeed(w http.ResponseWriter, r *http.Request) { s.saveFeed(w, r, "") }

func (s *Server) putFeed(w http.ResponseWriter, r *http.Request) { s.saveFeed(w, r, chiParam(r, "id")) }

func (s *Server) deleteFeed(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	if err := svc.DeleteFeed(r.Context(), principal(r), tenant, chiParam(r, "id"), r.URL.Query().Get("reason")); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) runFeed(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	f, err := svc.RunFeed(r.Context(), principal(r), tenant, chiParam(r, "id"))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, f)
}

// ---- firewall lists

func (s *Server) edl(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.intel(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	q := socbot.IntelEDLQuery{TLP: qv.Get("tlp")}
	var err error
	if q.MinScore, err = optIntN(qv.Get("min_score"), "min_score"); err == nil {
		if q.Limit, err = optIntN(qv.Get("limit"), "limit"); err == nil {
			q.MaxAge, err = optDuration(qv.Get("max_age"), "max_age")
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	lw := &lazyWriter{w: w, contentType: "text/plain; charset=utf-8"}
	if _, err := svc.EDL(r.Context(), principal(r), tenant, chiParam(r, "list"), q, lw); err != nil {
		if !lw.started {
			writeError(w, r, s.Logger, err)
			return
		}
		panic(http.ErrAbortHandler)
	}
	if !lw.started {
		lw.start() // an empty list is a valid list
	}
}

// ---- TAXII

// MountTAXII mounts the TAXII 2.1 server h at /taxii2/ behind the API's token authentication. TAXII
// clients send HTTP Basic credentials: the token goes in the password (or the user name when the
// password is empty), and becomes a Bearer token for the API's authentication.
func (s *Server) MountTAXII(h http.Handler) {
	s.router.Mount("/taxii2", basicAsBearer(s.authenticate(h)))
}

func basicAsBearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Basic ") {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic ")); err == nil {
				user, pass, _ := strings.Cut(string(b), ":")
				tok := pass
				if tok == "" {
					tok = user
				}
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		next.ServeHTTP(w, r)
	})
}

var _ io.Writer = (*lazyWriter)(nil)
