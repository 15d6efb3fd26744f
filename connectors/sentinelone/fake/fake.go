// Package fake is an in-memory SentinelOne management API (v2.1) built from socbot's containment
// spec §9.3: "Authorization: ApiToken …", agents listed by computerName or ids with cursor
// pagination, agents/actions/disconnect and connect answering {"data":{"affected":n}}, networkStatus
// moving connected → disconnecting → disconnected (and back), and the [U] error body
// {"errors":[{"code","title","detail"}]}. Like the real API, an empty filter acts on EVERY agent:
// the fake counts such calls so tests can prove the client never sends one.
package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	Token      string
	Agents     []string // computer names to seed (connected)
	RetryAfter string   // Retry-After of an injected 429 (default "10") [U]
	Clock      socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Disconnects, Connects, ActedOnEverything int }

type agent struct{ id, name, status string }

// Server is the fake management console.
type Server struct {
	opt    Options
	faults faults.Injector

	mu     sync.Mutex
	agents map[string]*agent
	stats  Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.RetryAfter == "" {
		opt.RetryAfter = "10"
	}
	s := &Server{opt: opt, agents: map[string]*agent{}}
	for i, n := range opt.Agents {
		id := fmt.Sprintf("12345678901234%04d", i+1)
		s.agents[id] = &agent{id: id, name: n, status: "connected"}
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

// NetworkStatus returns an agent's network status by name or id.
func (s *Server) NetworkStatus(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		if a.id == v || strings.EqualFold(a.name, v) {
			return a.status
		}
	}
	return ""
}

// Blocked reports whether the agent is disconnected or disconnecting.
func (s *Server) Blocked(kind socbot.ActionKind, v string) bool {
	st := s.NetworkStatus(v)
	return st == "disconnected" || st == "disconnecting"
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, status, code int, title, detail string) {
	send(w, status, map[string]any{"errors": []any{map[string]any{"code": code, "title": title, "detail": detail}}})
}

// ServeHTTP serves /web/api/v2.1.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		fail(w, 429, 4290010, "Too Many Requests", "rate limit exceeded")
		return
	case faults.Server:
		fail(w, 503, 5030010, "Service Unavailable", "")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok := strings.TrimPrefix(r.Header.Get("Authorization"), "ApiToken "); tok == "" || tok != s.opt.Token {
		s.stats.AuthFailures++
		fail(w, 401, 4010010, "Authentication Failed", "Invalid or expired API token")
		return
	}
	switch {
	case r.URL.Path == "/web/api/v2.1/agents" && r.Method == http.MethodGet:
		q := r.URL.Query()
		names := q.Get("computerName")
		ids := q.Get("ids")
		var out []*agent
		for _, a := range s.agents {
			if (names == "" || strings.EqualFold(a.name, names)) && (ids == "" || contains(strings.Split(ids, ","), a.id)) {
				out = append(out, a)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
		data := []any{}
		for _, a := range out {
			data = append(data, map[string]any{"id": a.id, "computerName": a.name, "networkStatus": a.status, "isActive": true})
			// The agent acts on a pending command by the next look.
			switch a.status {
			case "disconnecting":
				a.status = "disconnected"
			case "connecting":
				a.status = "connected"
			}
		}
		send(w, 200, map[string]any{"data": data, "pagination": map[string]any{"nextCursor": nil, "totalItems": len(data)}})
	case (r.URL.Path == "/web/api/v2.1/agents/actions/disconnect" || r.URL.Path == "/web/api/v2.1/agents/actions/connect") && r.Method == http.MethodPost:
		var b struct {
			Filter map[string]any `json:"filter"`
			Data   map[string]any `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Filter == nil {
			fail(w, 400, 4000010, "Validation Error", "filter is required")
			return
		}
		var ids []string
		if raw, ok := b.Filter["ids"].([]any); ok {
			for _, x := range raw {
				if s, ok := x.(string); ok {
					ids = append(ids, s)
				}
			}
		}
		disconnect := strings.HasSuffix(r.URL.Path, "/disconnect")
		if len(b.Filter) == 0 {
			s.stats.ActedOnEverything++ // the real API acts on every agent here
			for _, a := range s.agents {
				ids = append(ids, a.id)
			}
		}
		affected := 0
		for _, id := range ids {
			a := s.agents[id]
			if a == nil {
				continue
			}
			switch {
			case disconnect && (a.status == "connected" || a.status == "connecting"):
				a.status = "disconnecting"
				affected++
			case !disconnect && (a.status == "disconnected" || a.status == "disconnecting"):
				a.status = "connecting"
				affected++
			}
		}
		s.stats.Writes++
		if disconnect {
			s.stats.Disconnects++
		} else {
			s.stats.Connects++
		}
		send(w, 200, map[string]any{"data": map[string]any{"affected": affected}})
	default:
		fail(w, 404, 4040010, "Not Found", r.URL.Path)
	}
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
