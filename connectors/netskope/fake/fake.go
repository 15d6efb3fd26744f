// Package fake is an in-memory Netskope REST API v2 URL-list service built from socbot's containment
// spec §4: the Netskope-Api-Token header, URL lists with separate pending and applied copies,
// create (answering an array), PATCH append (deduplicating) and replace, PUT, DELETE, and
// POST /policy/urllist/deploy that promotes every pending list. Errors use the [U] body
// {"status":"error","message":…}; an injected 429 carries Retry-After [U].
package fake

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	Token string
	// Lists to seed (applied and pending, empty): names. Default: none (the client creates its list).
	Lists      []string
	RetryAfter string // Retry-After of an injected 429 (default "2") [U]
	Clock      socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Deploys, Appends, Puts, Creates int }

type urlList struct {
	id       int
	name     string
	typ      string
	pending  []string
	applied  []string
	dirty    bool
	applied0 bool // exists in the applied state
}

// Server is the fake Netskope tenant.
type Server struct {
	opt    Options
	faults faults.Injector

	mu     sync.Mutex
	lists  map[int]*urlList
	nextID int
	stats  Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.RetryAfter == "" {
		opt.RetryAfter = "2"
	}
	s := &Server{opt: opt, lists: map[int]*urlList{}, nextID: 1}
	for _, n := range opt.Lists {
		s.lists[s.nextID] = &urlList{id: s.nextID, name: n, typ: "exact", pending: []string{}, applied: []string{}, applied0: true}
		s.nextID++
	}
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused tokens.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls.
func (s *Server) Writes() int { return s.Stats().Writes }

func strip(v string) string {
	for _, p := range []string{"https://", "http://"} {
		v = strings.TrimPrefix(v, p)
	}
	return strings.ToLower(v)
}

// Blocked reports whether value is in an applied (deployed) list.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in(value, false)
}

// Pending reports whether value is in a list's pending copy.
func (s *Server) Pending(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in(value, true)
}

func (s *Server) in(value string, pending bool) bool {
	v := strip(value)
	for _, l := range s.lists {
		urls := l.applied
		if pending {
			urls = l.pending
		}
		for _, u := range urls {
			if strings.ToLower(u) == v {
				return true
			}
		}
	}
	return false
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, status int, msg string) {
	send(w, status, map[string]string{"status": "error", "message": msg})
}

func (s *Server) render(l *urlList, applied bool) map[string]any {
	urls := l.pending
	if applied {
		urls = l.applied
	}
	m := map[string]any{"id": l.id, "name": l.name, "data": map[string]any{"urls": urls, "type": l.typ, "json_version": 2},
		"modify_by": "socbot", "modify_time": "2026-05-19T13:03:32.000Z", "modify_type": "Edited", "pending": 0}
	if l.dirty && !applied {
		m["pending"] = 1
	}
	return m
}

type body struct {
	Name string `json:"name"`
	Data struct {
		Type string   `json:"type"`
		URLs []string `json:"urls"`
	} `json:"data"`
}

// ServeHTTP serves /api/v2/policy/urllist.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		fail(w, 429, "Too Many Requests")
		return
	case faults.Server:
		fail(w, 503, "Service Unavailable")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok := r.Header.Get("Netskope-Api-Token"); tok == "" || tok != s.opt.Token {
		s.stats.AuthFailures++
		fail(w, 401, "Unauthorized: invalid or missing token")
		return
	}
	const root = "/api/v2/policy/urllist"
	if !strings.HasPrefix(r.URL.Path, root) {
		fail(w, 404, "Not Found")
		return
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, root), "/")
	parts := strings.Split(rest, "/")
	switch {
	case rest == "" && r.Method == http.MethodGet:
		applied := r.URL.Query().Get("pending") == "0"
		out := []any{}
		ids := make([]int, 0, len(s.lists))
		for id := range s.lists {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			if applied && !s.lists[id].applied0 {
				continue
			}
			out = append(out, s.render(s.lists[id], applied))
		}
		send(w, 200, out)
	case rest == "" && r.Method == http.MethodPost:
		var b body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Name == "" || strings.ContainsAny(b.Name, `<>/!@#$%^&*(){};+=,?.|:'"`) {
			fail(w, 400, "invalid list name or body")
			return
		}
		for _, l := range s.lists {
			if l.name == b.Name {
				fail(w, 400, "a URL list named "+b.Name+" already exists")
				return
			}
		}
		l := &urlList{id: s.nextID, name: b.Name, typ: orExact(b.Data.Type), pending: dedupe(nil, b.Data.URLs), applied: []string{}, dirty: true}
		s.lists[l.id] = l
		s.nextID++
		s.stats.Creates++
		s.stats.Writes++
		send(w, 201, []any{s.render(l, false)})
	case rest == "deploy" && r.Method == http.MethodPost:
		out := []any{}
		for _, l := range s.lists {
			if l.dirty {
				l.applied = append([]string{}, l.pending...)
				l.applied0, l.dirty = true, false
			}
			out = append(out, s.render(l, true))
		}
		s.stats.Deploys++
		s.stats.Writes++
		send(w, 200, out)
	default:
		id, err := strconv.Atoi(parts[0])
		l := s.lists[id]
		if err != nil || l == nil {
			fail(w, 404, "URL list not found")
			return
		}
		op := ""
		if len(parts) == 2 {
			op = parts[1]
		}
		switch {
		case r.Method == http.MethodGet && op == "":
			send(w, 200, s.render(l, false))
		case r.Method == http.MethodPatch && (op == "append" || op == "replace"), r.Method == http.MethodPut && op == "":
			var b body
			if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
				fail(w, 400, "malformed body")
				return
			}
			for _, u := range b.Data.URLs {
				if u == "" || strings.ContainsAny(u, " \t") {
					fail(w, 400, "invalid URL "+u)
					return
				}
			}
			if op == "append" {
				l.pending = dedupe(l.pending, b.Data.URLs)
				s.stats.Appends++
			} else {
				l.pending = dedupe(nil, b.Data.URLs)
				if b.Name != "" {
					l.name = b.Name
				}
				s.stats.Puts++
			}
			if b.Data.Type != "" {
				l.typ = b.Data.Type
			}
			l.dirty = true
			s.stats.Writes++
			send(w, 200, s.render(l, false))
		case r.Method == http.MethodDelete && op == "":
			m := s.render(l, false)
			m["modify_type"] = "Deleted"
			delete(s.lists, id)
			s.stats.Writes++
			send(w, 200, m)
		default:
			fail(w, 405, "Method Not Allowed")
		}
	}
}

func orExact(t string) string {
	if t == "" {
		return "exact"
	}
	return t
}

func dedupe(have, add []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, u := range append(append([]string{}, have...), add...) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
