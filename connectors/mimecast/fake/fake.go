// Package fake is an in-memory Mimecast API 2.0 built from socbot's containment spec §7: the OAuth2
// client-credentials token (client_secret_post or Basic), Bearer calls, the
// {"meta","data","fail"} envelope where HTTP 200 can still carry failures, Blocked Senders policies
// (create, get, and the [U] delete-policy endpoint), TTP managed URLs (create, get-all, delete, with
// the [U] err_managed_url_exists failure on a duplicate), X-RateLimit-* headers on every answer and
// 429 whose X-RateLimit-Reset is in milliseconds.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	ClientID, ClientSecret string
	// NoDeletePolicy answers 404 on /api/policy/blockedsenders/delete-policy, for the case where the
	// [U] endpoint does not exist.
	NoDeletePolicy bool
	ResetMillis    string // X-RateLimit-Reset of an injected 429 (default "4500")
	Clock          socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Tokens, Policies, URLs int }

type policy struct {
	ID, Option, Description, FromPart, FromType, FromValue, ToType string
}

type managedURL struct {
	ID, Scheme, Domain, Path, Query, Action, MatchType, Comment string
}

// Server is the fake Mimecast API.
type Server struct {
	opt    Options
	faults faults.Injector

	mu       sync.Mutex
	tokens   map[string]time.Time
	policies map[string]*policy
	urls     map[string]*managedURL
	seq      int
	stats    Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.ResetMillis == "" {
		opt.ResetMillis = "4500"
	}
	return &Server{opt: opt, tokens: map[string]time.Time{}, policies: map[string]*policy{}, urls: map[string]*managedURL{}}
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused credentials and tokens.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls.
func (s *Server) Writes() int { return s.Stats().Writes }

// PolicyCount counts blocked-sender policies for a sender.
func (s *Server) PolicyCount(sender string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.policies {
		if strings.EqualFold(p.FromValue, sender) {
			n++
		}
	}
	return n
}

// Blocked reports a blocked sender (block_sender) or a blocked managed URL (block_url).
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == socbot.ActBlockSender || kind == socbot.ActUnblockSender {
		for _, p := range s.policies {
			if p.Option == "block_sender" && strings.EqualFold(p.FromValue, value) {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(value)
	if err != nil {
		return false
	}
	for _, m := range s.urls {
		if m.Action == "block" && strings.EqualFold(m.Domain, u.Hostname()) && m.Path == u.Path {
			return true
		}
	}
	return false
}

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("eNo1jk%04dsocbotfake", s.seq)
}

func (s *Server) headers(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Limit", "100")
	w.Header().Set("X-RateLimit-Remaining", "99")
	w.Header().Set("X-RateLimit-Reset", "600")
}

func (s *Server) envelope(w http.ResponseWriter, status int, data []any, fail []any) {
	s.headers(w)
	if data == nil {
		data = []any{}
	}
	if fail == nil {
		fail = []any{}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"meta": map[string]any{"status": status}, "data": data, "fail": fail})
}

func failEntry(key any, code, msg string, retryable bool) map[string]any {
	return map[string]any{"key": key, "errors": []any{map[string]any{"code": code, "message": msg, "retryable": retryable}}}
}

// ServeHTTP serves /oauth/token and /api/….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		s.headers(w)
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", s.opt.ResetMillis)
		w.WriteHeader(429)
		_ = json.NewEncoder(w).Encode(map[string]any{"meta": map[string]any{"status": 429}, "data": []any{},
			"fail": []any{failEntry(nil, "err_quota_exceeded", "Quota Exceeded", true)}})
		return
	case faults.Server:
		s.envelope(w, 500, nil, []any{failEntry(nil, "err_internal", "Internal Server Error", true)})
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Clock.Now()
	if r.URL.Path == "/oauth/token" {
		_ = r.ParseForm()
		id, sec := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok {
			id, sec = u, p
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || id != s.opt.ClientID || sec != s.opt.ClientSecret {
			s.stats.AuthFailures++
			s.headers(w)
			w.WriteHeader(401)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "client authentication failed"})
			return
		}
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		tok := hex.EncodeToString(buf)
		s.tokens[tok] = now.Add(30 * time.Minute)
		s.stats.Tokens++
		s.headers(w)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 1800})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := s.tokens[tok]; !ok || !now.Before(exp) {
		s.stats.AuthFailures++
		s.envelope(w, 401, nil, []any{failEntry(nil, "err_authentication_failed", "Unauthorized", false)})
		return
	}
	var body struct {
		Data []map[string]any `json:"data"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
		s.envelope(w, 400, nil, []any{failEntry(nil, "err_request_malformed", "POST with a JSON body", false)})
		return
	}
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	var data, fail []any
	switch r.URL.Path {
	case "/api/policy/blockedsenders/create-policy":
		for _, d := range body.Data {
			pm, _ := d["policy"].(map[string]any)
			if str(d, "option") == "" || pm == nil || str(pm, "fromValue") == "" {
				fail = append(fail, failEntry(d, "err_validation_missing", "option and policy.fromValue required", false))
				continue
			}
			p := &policy{ID: s.id(), Option: str(d, "option"), Description: str(pm, "description"), FromPart: str(pm, "fromPart"),
				FromType: str(pm, "fromType"), FromValue: str(pm, "fromValue"), ToType: str(pm, "toType")}
			s.policies[p.ID] = p
			s.stats.Policies++
			data = append(data, renderPolicy(p))
		}
		s.stats.Writes++
	case "/api/policy/blockedsenders/get-policy":
		if len(body.Data) == 0 {
			ids := make([]string, 0, len(s.policies))
			for id := range s.policies {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				data = append(data, renderPolicy(s.policies[id]))
			}
		}
		for _, d := range body.Data {
			if p := s.policies[str(d, "id")]; p != nil {
				data = append(data, renderPolicy(p))
			} else {
				fail = append(fail, failEntry(d, "err_policy_not_found", "policy not found", false))
			}
		}
	case "/api/policy/blockedsenders/delete-policy":
		if s.opt.NoDeletePolicy {
			s.envelope(w, 404, nil, []any{failEntry(nil, "err_resource_not_found", "no such endpoint", false)})
			return
		}
		for _, d := range body.Data {
			if s.policies[str(d, "id")] == nil {
				fail = append(fail, failEntry(d, "err_policy_not_found", "policy not found", false))
				continue
			}
			delete(s.policies, str(d, "id"))
		}
		s.stats.Writes++
	case "/api/ttp/url/create-managed-url":
		for _, d := range body.Data {
			u, err := url.Parse(str(d, "url"))
			if err != nil || u.Host == "" || u.Fragment != "" || (str(d, "action") != "block" && str(d, "action") != "permit") {
				fail = append(fail, failEntry(d, "err_validation_invalid_url", "invalid url or action", false))
				continue
			}
			dup := false
			for _, m := range s.urls {
				dup = dup || (strings.EqualFold(m.Domain, u.Hostname()) && m.Path == u.Path && m.Query == u.RawQuery)
			}
			if dup {
				fail = append(fail, failEntry(d, "err_managed_url_exists", "managed URL already exists", false))
				continue
			}
			mt := str(d, "matchType")
			if mt == "" {
				mt = "explicit"
			}
			m := &managedURL{ID: s.id(), Scheme: u.Scheme, Domain: strings.ToLower(u.Hostname()), Path: u.Path, Query: u.RawQuery, Action: str(d, "action"), MatchType: mt, Comment: str(d, "comment")}
			s.urls[m.ID] = m
			s.stats.URLs++
			data = append(data, renderURL(m))
		}
		s.stats.Writes++
	case "/api/ttp/url/get-all-managed-urls":
		filter := ""
		if len(body.Data) > 0 {
			filter = strings.ToLower(str(body.Data[0], "domainOrUrl"))
		}
		ids := make([]string, 0, len(s.urls))
		for id := range s.urls {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			m := s.urls[id]
			if filter == "" || strings.Contains(filter, m.Domain) {
				data = append(data, renderURL(m))
			}
		}
	case "/api/ttp/url/delete-managed-url":
		for _, d := range body.Data {
			if s.urls[str(d, "id")] == nil {
				fail = append(fail, failEntry(d, "err_managed_url_not_found", "managed URL not found", false))
				continue
			}
			delete(s.urls, str(d, "id"))
		}
		s.stats.Writes++
	default:
		s.envelope(w, 404, nil, []any{failEntry(nil, "err_resource_not_found", "no such endpoint", false)})
		return
	}
	s.envelope(w, 200, data, fail)
}

func renderPolicy(p *policy) map[string]any {
	return map[string]any{"id": p.ID, "option": p.Option, "policy": map[string]any{"description": p.Description, "fromPart": p.FromPart,
		"fromType": p.FromType, "fromValue": p.FromValue, "toType": p.ToType}}
}

func renderURL(m *managedURL) map[string]any {
	return map[string]any{"id": m.ID, "scheme": m.Scheme, "domain": m.Domain, "path": m.Path, "queryString": m.Query, "port": -1,
		"action": m.Action, "matchType": m.MatchType, "comment": m.Comment, "disableRewrite": false, "disableUserAwareness": false, "disableLogClick": false}
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
