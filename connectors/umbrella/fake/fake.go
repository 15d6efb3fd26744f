// Package fake is an in-memory Cisco Umbrella Policies v2 API built from socbot's containment spec
// §5: the OAuth2 client-credentials token endpoint (HTTP Basic key:secret), Bearer calls, destination
// lists with paged destinations, POST of at most 500 destinations (deduplicated [U]), removal by
// destination ids through DELETE …/destinations/remove, the type rules (url only in block lists,
// ipv4 only in allow lists), and the [U] error body {"status":{"code","text"},"error":…}.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	Key, Secret string
	// Lists to seed as block lists (name -> id). Default none.
	Lists      map[string]int
	TokenTTL   time.Duration // default 1 h
	RetryAfter string        // Retry-After of an injected 429 (default "4") [U]
	Clock      socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Tokens, Posts, Removes int }

type dest struct {
	ID                   int
	Destination, Comment string
	Type                 string
}

type dlist struct {
	ID     int
	Name   string
	Access string
	Bundle int
	Dests  []dest
}

// Server is the fake Umbrella API.
type Server struct {
	opt    Options
	faults faults.Injector

	mu     sync.Mutex
	tokens map[string]time.Time
	lists  map[int]*dlist
	nextID int
	stats  Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = time.Hour
	}
	if opt.RetryAfter == "" {
		opt.RetryAfter = "4"
	}
	s := &Server{opt: opt, tokens: map[string]time.Time{}, lists: map[int]*dlist{}, nextID: 100}
	for name, id := range opt.Lists {
		s.lists[id] = &dlist{ID: id, Name: name, Access: "block", Bundle: 1}
	}
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused credentials and tokens.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls.
func (s *Server) Writes() int { return s.Stats().Writes }

// ExpireTokens invalidates every issued token.
func (s *Server) ExpireTokens() { s.mu.Lock(); s.tokens = map[string]time.Time{}; s.mu.Unlock() }

// Blocked reports whether value (scheme stripped) is in a block list.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range []string{"https://", "http://"} {
		value = strings.TrimPrefix(value, p)
	}
	for _, l := range s.lists {
		for _, d := range l.Dests {
			if l.Access == "block" && strings.EqualFold(d.Destination, value) {
				return true
			}
		}
	}
	return false
}

// Count returns how many destinations equal value across lists (duplicates show here).
func (s *Server) Count(value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lists {
		for _, d := range l.Dests {
			if d.Destination == value {
				n++
			}
		}
	}
	return n
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, status int, msg string) {
	send(w, status, map[string]any{"status": map[string]any{"code": status, "text": http.StatusText(status)}, "error": msg})
}

func (s *Server) render(l *dlist) map[string]any {
	return map[string]any{"status": map[string]any{"code": 200, "text": "OK"}, "data": s.listData(l)}
}

func (s *Server) listData(l *dlist) map[string]any {
	return map[string]any{"id": l.ID, "organizationId": 12345, "access": l.Access, "isGlobal": false, "name": l.Name,
		"thirdpartyCategoryId": nil, "createdAt": 1688617913, "modifiedAt": 1688618575, "isMspDefault": false,
		"markedForDeletion": false, "bundleTypeId": l.Bundle, "meta": map[string]any{"destinationCount": len(l.Dests)}}
}

func page(r *http.Request) (int, int) {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	l, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if p < 1 {
		p = 1
	}
	if l < 1 {
		l = 100
	}
	return p, l
}

// ServeHTTP serves /auth/v2/token and /policies/v2/destinationlists.
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
	now := s.opt.Clock.Now()
	if r.URL.Path == "/auth/v2/token" {
		_ = r.ParseForm()
		k, sec, ok := r.BasicAuth()
		gt := r.PostForm.Get("grant_type")
		if r.Method != http.MethodPost || !ok || k != s.opt.Key || sec != s.opt.Secret || (gt != "" && gt != "client_credentials") {
			s.stats.AuthFailures++
			send(w, 401, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
			return
		}
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		tok := "umb-" + hex.EncodeToString(buf)
		s.tokens[tok] = now.Add(s.opt.TokenTTL)
		s.stats.Tokens++
		send(w, 200, map[string]any{"token_type": "bearer", "access_token": tok, "expires_in": int(s.opt.TokenTTL / time.Second)})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := s.tokens[tok]; !ok || !now.Before(exp) {
		s.stats.AuthFailures++
		fail(w, 401, "invalid or expired token")
		return
	}
	const root = "/policies/v2/destinationlists"
	if !strings.HasPrefix(r.URL.Path, root) {
		fail(w, 404, "not found")
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, root), "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		ids := []int{}
		for id := range s.lists {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		p, lim := page(r)
		data := []any{}
		for i, id := range ids {
			if i >= (p-1)*lim && i < p*lim {
				data = append(data, s.listData(s.lists[id]))
			}
		}
		send(w, 200, map[string]any{"status": map[string]any{"code": 200, "text": "OK"}, "meta": map[string]any{"page": p, "limit": lim, "total": len(ids)}, "data": data})
	case len(parts) == 0 && r.Method == http.MethodPost:
		var b struct {
			Access       string `json:"access"`
			Name         string `json:"name"`
			BundleTypeID int    `json:"bundleTypeId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Name == "" || (b.Access != "block" && b.Access != "allow") {
			fail(w, 400, "invalid destination list")
			return
		}
		if b.BundleTypeID == 0 {
			b.BundleTypeID = 1
		}
		l := &dlist{ID: s.nextID, Name: b.Name, Access: b.Access, Bundle: b.BundleTypeID}
		s.nextID++
		s.lists[l.ID] = l
		s.stats.Writes++
		send(w, 200, s.render(l))
	default:
		id, err := strconv.Atoi(parts[0])
		l := s.lists[id]
		if err != nil || l == nil {
			fail(w, 404, "destination list not found")
			return
		}
		switch {
		case len(parts) == 1 && r.Method == http.MethodGet:
			send(w, 200, s.render(l))
		case len(parts) == 2 && parts[1] == "destinations" && r.Method == http.MethodGet:
			p, lim := page(r)
			data := []any{}
			for i, d := range l.Dests {
				if i >= (p-1)*lim && i < p*lim {
					data = append(data, map[string]any{"id": strconv.Itoa(d.ID), "destination": d.Destination, "type": d.Type, "comment": d.Comment, "createdAt": "2023-07-06 04:42:55"})
				}
			}
			send(w, 200, map[string]any{"status": map[string]any{"code": 200, "text": "OK"}, "meta": map[string]any{"page": p, "limit": lim, "total": len(l.Dests)}, "data": data})
		case len(parts) == 2 && parts[1] == "destinations" && r.Method == http.MethodPost:
			var in []struct{ Destination, Comment string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in) == 0 || len(in) > 500 {
				fail(w, 400, "between 1 and 500 destinations per request")
				return
			}
			var add []dest
			for _, d := range in {
				typ := "domain"
				if _, err := netip.ParseAddr(d.Destination); err == nil {
					typ = "ipv4"
				} else if strings.Contains(d.Destination, "/") {
					typ = "url"
				}
				if (typ == "ipv4" && l.Access == "block") || (typ == "url" && l.Access == "allow") || d.Destination == "" {
					fail(w, 400, "destination "+d.Destination+" of type "+typ+" not allowed in an "+l.Access+" list")
					return
				}
				add = append(add, dest{Destination: d.Destination, Comment: d.Comment, Type: typ})
			}
			for _, d := range add {
				dup := false
				for _, e := range l.Dests {
					dup = dup || strings.EqualFold(e.Destination, d.Destination)
				}
				if !dup {
					d.ID = s.nextID
					s.nextID++
					l.Dests = append(l.Dests, d)
				}
			}
			s.stats.Writes++
			s.stats.Posts++
			send(w, 200, s.render(l))
		case len(parts) == 3 && parts[1] == "destinations" && parts[2] == "remove" && r.Method == http.MethodDelete:
			var ids []int
			if err := json.NewDecoder(r.Body).Decode(&ids); err != nil || len(ids) == 0 || len(ids) > 500 {
				fail(w, 400, "between 1 and 500 destination ids per request")
				return
			}
			drop := map[int]bool{}
			for _, id := range ids {
				drop[id] = true
			}
			keep := l.Dests[:0]
			for _, d := range l.Dests {
				if !drop[d.ID] {
					keep = append(keep, d)
				}
			}
			l.Dests = keep
			s.stats.Writes++
			s.stats.Removes++
			send(w, 200, s.render(l))
		default:
			fail(w, 405, "method not allowed")
		}
	}
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
