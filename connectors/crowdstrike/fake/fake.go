// Package fake is an in-memory CrowdStrike Falcon API built from socbot's containment spec §9.2:
// POST /oauth2/token (201), Bearer calls, the device query by hostname, device actions contain and
// lift_containment (202, per-id errors inside a 2xx envelope), device status moving through
// containment_pending → contained and lift_containment_pending → normal, X-RateLimit-Limit and
// -Remaining on every answer, and 429 with X-RateLimit-RetryAfter as an epoch-seconds timestamp.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	ClientID, ClientSecret string
	Hosts                  []string // hostnames to seed (status normal)
	// DuplicateConflict answers 409 to a contain of an already contained host (default 202). [U]
	DuplicateConflict bool
	// RetryIn is how far in the future an injected 429's X-RateLimit-RetryAfter points (default 9 s).
	RetryIn time.Duration
	Clock   socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Tokens, Contains, Lifts int }

type device struct{ aid, hostname, status string }

// Server is the fake Falcon cloud.
type Server struct {
	opt    Options
	faults faults.Injector

	mu      sync.Mutex
	tokens  map[string]time.Time
	devices map[string]*device
	stats   Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.RetryIn <= 0 {
		opt.RetryIn = 9 * time.Second
	}
	s := &Server{opt: opt, tokens: map[string]time.Time{}, devices: map[string]*device{}}
	for i, h := range opt.Hosts {
		aid := fmt.Sprintf("%032x", i+0xa1b2c3)
		s.devices[aid] = &device{aid: aid, hostname: strings.ToLower(h), status: "normal"}
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

// Status returns a host's containment status.
func (s *Server) Status(host string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.hostname == strings.ToLower(host) || d.aid == host {
			return d.status
		}
	}
	return ""
}

// Blocked reports whether the host is contained or containment is pending.
func (s *Server) Blocked(kind socbot.ActionKind, host string) bool {
	st := s.Status(host)
	return st == "contained" || st == "containment_pending"
}

func (s *Server) envelope(w http.ResponseWriter, status int, resources any, errs []map[string]any) {
	if resources == nil {
		resources = []any{}
	}
	if errs == nil {
		errs = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Limit", "6000")
	w.Header().Set("X-RateLimit-Remaining", "5999")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"meta": map[string]any{"query_time": 0.01, "powered_by": "device-api", "trace_id": "0b1c2d3e-0000-4000-8000-000000000001"},
		"resources": resources, "errors": errs})
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.envelope(w, status, nil, []map[string]any{{"code": status, "message": msg}})
}

var reHostFilter = regexp.MustCompile(`^hostname:'([^']*)'$`)

// ServeHTTP serves the Falcon API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("X-RateLimit-RetryAfter", strconv.FormatInt(s.opt.Clock.Now().Add(s.opt.RetryIn).Unix(), 10))
		w.Header().Set("X-RateLimit-Remaining", "0")
		s.fail(w, 429, "API rate limit exceeded.")
		return
	case faults.Server:
		s.fail(w, 503, "Service Unavailable")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Clock.Now()
	if r.URL.Path == "/oauth2/token" && r.Method == http.MethodPost {
		_ = r.ParseForm()
		if r.PostForm.Get("client_id") != s.opt.ClientID || r.PostForm.Get("client_secret") != s.opt.ClientSecret {
			s.stats.AuthFailures++
			s.fail(w, 401, "access denied, authorization failed")
			return
		}
		buf := make([]byte, 24)
		_, _ = rand.Read(buf)
		tok := hex.EncodeToString(buf)
		s.tokens[tok] = now.Add(1799 * time.Second)
		s.stats.Tokens++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 1799})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := s.tokens[tok]; !ok || !now.Before(exp) {
		s.stats.AuthFailures++
		s.fail(w, 401, "access denied, invalid bearer token")
		return
	}
	switch {
	case r.URL.Path == "/devices/queries/devices/v1" && r.Method == http.MethodGet:
		m := reHostFilter.FindStringSubmatch(r.URL.Query().Get("filter"))
		if m == nil {
			s.fail(w, 400, "invalid filter")
			return
		}
		var ids []any
		for _, d := range s.devices {
			if d.hostname == strings.ToLower(m[1]) {
				ids = append(ids, d.aid)
			}
		}
		s.envelope(w, 200, ids, nil)
	case r.URL.Path == "/devices/entities/devices/v2" && r.Method == http.MethodPost:
		var b struct{ IDs []string }
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.IDs) == 0 {
			s.fail(w, 400, "ids required")
			return
		}
		var res []any
		var errs []map[string]any
		for _, id := range b.IDs {
			d := s.devices[id]
			if d == nil {
				errs = append(errs, map[string]any{"code": 404, "message": "Device not found: " + id})
				continue
			}
			res = append(res, map[string]any{"device_id": d.aid, "hostname": d.hostname, "status": d.status})
			// The sensor acknowledges a pending change by the time anyone looks again.
			switch d.status {
			case "containment_pending":
				d.status = "contained"
			case "lift_containment_pending":
				d.status = "normal"
			}
		}
		s.envelope(w, 200, res, errs)
	case r.URL.Path == "/devices/entities/devices-actions/v2" && r.Method == http.MethodPost:
		action := r.URL.Query().Get("action_name")
		if action != "contain" && action != "lift_containment" {
			s.fail(w, 400, "invalid action_name")
			return
		}
		var b struct{ IDs []string }
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.IDs) == 0 {
			s.fail(w, 400, "ids required")
			return
		}
		var res []any
		var errs []map[string]any
		for _, id := range b.IDs {
			d := s.devices[id]
			switch {
			case d == nil:
				errs = append(errs, map[string]any{"code": 404, "message": "Device not found: " + id})
				continue
			case action == "contain" && (d.status == "contained" || d.status == "containment_pending"):
				if s.opt.DuplicateConflict {
					errs = append(errs, map[string]any{"code": 409, "message": "Host " + id + " is already contained"})
					continue
				}
			case action == "contain":
				d.status = "containment_pending"
				s.stats.Contains++
			case d.status == "contained" || d.status == "containment_pending":
				d.status = "lift_containment_pending"
				s.stats.Lifts++
			}
			res = append(res, map[string]any{"id": id, "path": ""})
		}
		s.stats.Writes++
		status := 202
		if len(res) == 0 && len(errs) > 0 {
			status = errs[0]["code"].(int)
		}
		s.envelope(w, status, res, errs)
	default:
		s.fail(w, 404, "Not Found")
	}
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
