// Package fake is an in-memory Zscaler Internet Access (ZIA) API built from socbot's containment
// spec §3: legacy session auth with the obfuscated API key checked against the timestamp (±5 min),
// JSESSIONID sessions with an idle timeout, the Advanced Threat Protection denylist and custom URL
// categories (ADD_TO_LIST / REMOVE_FROM_LIST), saved changes that only take effect on
// POST /status/activate, 409 EDIT_LOCK_NOT_AVAILABLE, and 429 answers carrying the delay in the body
// or the Retry-After header, with optional per-weight rate buckets.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
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
	APIKey, Username, Password string
	Clock                      socbot.Clock
	// Categories to seed: id -> configured name (default CUSTOM_01 -> SOC-Block).
	Categories map[string]string
	// RemoveAbsent400 answers a REMOVE_FROM_LIST of an absent entry with 400 (default: no-op). [U]
	RemoveAbsent400 bool
	// RateLimits turns on the per-weight buckets: 1 POST/PUT per second and 400 per hour, 2 GET/s.
	RateLimits bool
	// SessionIdle is the JSESSIONID idle timeout (default 30 min).
	SessionIdle time.Duration
	// RetryAfterBody is the delay an injected 429 states in its body (default "3 seconds").
	RetryAfterBody string
}

// Stats are the fake's counters.
type Stats struct {
	AuthFailures, Logins, Writes, Activations, EditLocks int
}

type list struct{ saved, active map[string]bool }

// Server is the fake ZIA API.
type Server struct {
	opt    Options
	faults faults.Injector

	mu        sync.Mutex
	sessions  map[string]time.Time // id -> last use
	lists     map[string]*list     // "advanced" or a category id
	names     map[string]string
	status    string
	editLocks int
	buckets   map[string][]time.Time
	stats     Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.Categories == nil {
		opt.Categories = map[string]string{"CUSTOM_01": "SOC-Block"}
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = 30 * time.Minute
	}
	if opt.RetryAfterBody == "" {
		opt.RetryAfterBody = "3 seconds"
	}
	s := &Server{opt: opt, sessions: map[string]time.Time{}, lists: map[string]*list{"advanced": newList()},
		names: map[string]string{}, status: "ACTIVE", buckets: map[string][]time.Time{}}
	for id, name := range opt.Categories {
		s.lists[id] = newList()
		s.names[id] = name
	}
	return s
}

func newList() *list { return &list{saved: map[string]bool{}, active: map[string]bool{}} }

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused logins and calls without a valid session.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts saved changes and activations.
func (s *Server) Writes() int { return s.Stats().Writes }

// QueueEditLock makes the next n writes answer 409 EDIT_LOCK_NOT_AVAILABLE.
func (s *Server) QueueEditLock(n int) { s.mu.Lock(); s.editLocks += n; s.mu.Unlock() }

// Status is the activation status.
func (s *Server) Status() string { s.mu.Lock(); defer s.mu.Unlock(); return s.status }

// Saved reports whether entry is in the saved (not necessarily active) list.
func (s *Server) Saved(listID, entry string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists[listID] != nil && s.lists[listID].saved[entry]
}

// Blocked reports whether value (a URL may carry its scheme) is in an active list.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range []string{"https://", "http://"} {
		value = strings.TrimPrefix(value, p)
	}
	if host, rest, ok := strings.Cut(value, "/"); ok {
		value = strings.ToLower(host) + "/" + rest
	} else {
		value = strings.ToLower(value)
	}
	for _, l := range s.lists {
		if l.active[value] {
			return true
		}
	}
	return false
}

// ExpireSessions drops every session, as an idle timeout would.
func (s *Server) ExpireSessions() { s.mu.Lock(); s.sessions = map[string]time.Time{}; s.mu.Unlock() }

// Obfuscate is the ZIA API key obfuscation (§3.1): ts is milliseconds as a decimal string.
func Obfuscate(apiKey, ts string) string {
	if len(ts) < 6 || len(apiKey) < 12 {
		return ""
	}
	n := ts[len(ts)-6:]
	v, err := strconv.Atoi(n)
	if err != nil {
		return ""
	}
	r := fmt.Sprintf("%06d", v>>1)
	var b strings.Builder
	for _, d := range n {
		b.WriteByte(apiKey[d-'0'])
	}
	for _, d := range r {
		b.WriteByte(apiKey[d-'0'+2])
	}
	return b.String()
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	send(w, status, map[string]string{"code": code, "message": msg})
}

// rate applies the per-weight buckets; it reports false (and answers 429) when over.
func (s *Server) rate(w http.ResponseWriter, r *http.Request) bool {
	if !s.opt.RateLimits || r.URL.Path == "/api/v1/authenticatedSession" {
		return true
	}
	now := s.opt.Clock.Now()
	weight := "light"
	perSec, perHour := 2, 1000
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		weight, perSec, perHour = "medium", 1, 400
	case http.MethodDelete:
		weight, perSec, perHour = "heavy", 0, 4
	}
	var keep []time.Time
	sec := 0
	for _, t := range s.buckets[weight] {
		if now.Sub(t) < time.Hour {
			keep = append(keep, t)
			if now.Sub(t) < time.Second {
				sec++
			}
		}
	}
	s.buckets[weight] = keep
	if (perSec > 0 && sec >= perSec) || len(keep) >= perHour {
		unit, limit := "SECOND", perSec
		wait := "1"
		if len(keep) >= perHour {
			unit, limit = "HOUR", perHour
			wait = strconv.Itoa(int(time.Hour-now.Sub(keep[0])) / int(time.Second))
		}
		w.Header().Set("Retry-After", wait)
		send(w, 429, map[string]string{"message": fmt.Sprintf("Rate Limit (%d/%s) exceeded", limit, unit), "Retry-After": wait + " seconds"})
		return false
	}
	s.buckets[weight] = append(keep, now)
	return true
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		send(w, 429, map[string]string{"message": "Rate Limit (1/SECOND) exceeded", "Retry-After": s.opt.RetryAfterBody})
		return
	case faults.Server:
		fail(w, 503, "SERVICE_UNAVAILABLE", "service unavailable")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rate(w, r) {
		return
	}
	if r.URL.Path == "/api/v1/authenticatedSession" {
		s.session(w, r)
		return
	}
	ck, err := r.Cookie("JSESSIONID")
	now := s.opt.Clock.Now()
	if err != nil || s.sessions[ck.Value].IsZero() || now.Sub(s.sessions[ck.Value]) > s.opt.SessionIdle {
		s.stats.AuthFailures++
		fail(w, 401, "SESSION_NOT_VALID", "Session is not valid")
		return
	}
	s.sessions[ck.Value] = now
	write := r.Method != http.MethodGet
	if write && s.editLocks > 0 {
		s.editLocks--
		s.stats.EditLocks++
		fail(w, 409, "EDIT_LOCK_NOT_AVAILABLE", "Another admin is saving changes; edit lock not available")
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/v1/security/advanced":
		send(w, 200, map[string]any{"blacklistUrls": sorted(s.lists["advanced"].saved)})
	case r.Method == http.MethodPost && p == "/api/v1/security/advanced/blacklistUrls":
		var b struct {
			URLs []string `json:"blacklistUrls"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			fail(w, 400, "INVALID_INPUT_ARGUMENT", "malformed body")
			return
		}
		s.edit(w, "advanced", r.URL.Query().Get("action"), b.URLs)
	case r.Method == http.MethodGet && p == "/api/v1/urlCategories":
		var out []any
		for _, id := range sortedKeys(s.names) {
			out = append(out, s.category(id))
		}
		send(w, 200, out)
	case strings.HasPrefix(p, "/api/v1/urlCategories/"):
		id := strings.TrimPrefix(p, "/api/v1/urlCategories/")
		if s.names[id] == "" {
			fail(w, 404, "RESOURCE_NOT_FOUND", "category "+id+" not found")
			return
		}
		if r.Method == http.MethodGet {
			send(w, 200, s.category(id))
			return
		}
		if r.Method != http.MethodPut {
			fail(w, 405, "METHOD_NOT_ALLOWED", "method not allowed")
			return
		}
		var b struct {
			ID             string   `json:"id"`
			CustomCategory bool     `json:"customCategory"`
			ConfiguredName string   `json:"configuredName"`
			URLs           []string `json:"urls"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.ID != id || b.ConfiguredName != s.names[id] {
			fail(w, 400, "INVALID_INPUT_ARGUMENT", "body must repeat the category id and configuredName")
			return
		}
		s.edit(w, id, r.URL.Query().Get("action"), b.URLs)
	case r.Method == http.MethodGet && p == "/api/v1/status":
		send(w, 200, map[string]string{"status": s.status})
	case r.Method == http.MethodPost && p == "/api/v1/status/activate":
		s.stats.Activations++
		s.stats.Writes++
		for _, l := range s.lists {
			l.active = map[string]bool{}
			for k := range l.saved {
				l.active[k] = true
			}
		}
		s.status = "ACTIVE"
		send(w, 200, map[string]string{"status": "ACTIVE"})
	default:
		fail(w, 404, "RESOURCE_NOT_FOUND", "no such resource")
	}
}

func (s *Server) category(id string) map[string]any {
	return map[string]any{"id": id, "configuredName": s.names[id], "customCategory": true, "urls": sorted(s.lists[id].saved), "dbCategorizedUrls": []string{}}
}

func (s *Server) edit(w http.ResponseWriter, id, action string, urls []string) {
	l := s.lists[id]
	for _, u := range urls {
		if u == "" || strings.HasPrefix(strings.ToLower(u), "http://") || strings.HasPrefix(strings.ToLower(u), "https://") {
			fail(w, 400, "INVALID_INPUT_ARGUMENT", "invalid URL "+u)
			return
		}
	}
	switch action {
	case "ADD_TO_LIST":
		if len(l.saved)+len(urls) > 25000 {
			fail(w, 400, "INVALID_INPUT_ARGUMENT", "URL quota exceeded")
			return
		}
		for _, u := range urls {
			l.saved[u] = true
		}
	case "REMOVE_FROM_LIST":
		for _, u := range urls {
			if !l.saved[u] && s.opt.RemoveAbsent400 {
				fail(w, 400, "INVALID_INPUT_ARGUMENT", u+" is not in the list")
				return
			}
		}
		for _, u := range urls {
			delete(l.saved, u)
		}
	default:
		fail(w, 400, "INVALID_INPUT_ARGUMENT", "unknown action "+action)
		return
	}
	s.status = "PENDING"
	s.stats.Writes++
	send(w, 204, nil)
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete {
		if ck, err := r.Cookie("JSESSIONID"); err == nil {
			delete(s.sessions, ck.Value)
		}
		send(w, 200, nil)
		return
	}
	var b struct{ APIKey, Username, Password, Timestamp string }
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		fail(w, 400, "INVALID_INPUT_ARGUMENT", "malformed body")
		return
	}
	ms, err := strconv.ParseInt(b.Timestamp, 10, 64)
	skew := s.opt.Clock.Now().Sub(time.UnixMilli(ms))
	if err != nil || skew > 5*time.Minute || skew < -5*time.Minute || b.Username != s.opt.Username ||
		b.Password != s.opt.Password || b.APIKey == "" || b.APIKey != Obfuscate(s.opt.APIKey, b.Timestamp) {
		s.stats.AuthFailures++
		fail(w, 401, "AUTHENTICATION_FAILED", "Authentication failed")
		return
	}
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	id := hex.EncodeToString(buf)
	s.sessions[id] = s.opt.Clock.Now()
	s.stats.Logins++
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: id, Path: "/", HttpOnly: true})
	send(w, 200, map[string]any{"authType": "ADMIN_LOGIN", "obfuscateApiKey": true, "passwordExpiryTime": 0, "passwordExpiryDays": 0, "source": "API"})
}

func sorted(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
