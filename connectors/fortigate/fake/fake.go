// Package fake is an in-memory FortiGate FortiOS REST API v2 built from socbot's containment spec §2:
// Bearer token auth with trusted hosts and source-IP lockout after repeated bad tokens, CMDB address
// (and address6) objects, address groups edited through their member child table, the duplicate
// answer (HTTP 500, error -5), 404/-3 on a missing delete, the empty-group guard, and the runtime
// banned-IP (quarantine) list with expiry. CMDB writes apply at once (no commit); the revision changes.
package fake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
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
	Token string
	VDOM  string // default "root"
	// Groups to seed with a placeholder member (default soc-blocklist, soc-blocklist6).
	Groups []string
	// TrustedHosts are the source IPs allowed (default: any loopback address).
	TrustedHosts []string
	// AllowEmptyGroup lets the last member of a group go (default: refused). [U]
	AllowEmptyGroup bool
	// LockoutThreshold bad tokens within 60 s lock the source IP (default 3) for LockoutDuration
	// (default 60 s), doubling on each repeat.
	LockoutThreshold int
	LockoutDuration  time.Duration
	RetryAfter       string // Retry-After of an injected 429 (default "5") [U]
	Clock            socbot.Clock
}

type object struct {
	Name, Type, Subnet, FQDN, IP6, Comment string
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Lockouts int }

// Server is the fake FortiGate, an http.Handler serving /api/v2/.
type Server struct {
	opt    Options
	faults faults.Injector

	mu       sync.Mutex
	addrs    map[string]map[string]object // table (address|address6) -> name
	groups   map[string]map[string][]string
	banned   map[string]time.Time // ip -> expiry (zero = indefinite)
	revision int
	fails    map[string][]time.Time
	locked   map[string]time.Time
	lockN    map[string]int
	stats    Stats
}

// Placeholder is the seeded member that keeps groups non-empty.
const Placeholder = "soc-placeholder"

// New builds a fake with seeded groups.
func New(opt Options) *Server {
	if opt.VDOM == "" {
		opt.VDOM = "root"
	}
	if len(opt.Groups) == 0 {
		opt.Groups = []string{"soc-blocklist", "soc-blocklist6"}
	}
	if opt.LockoutThreshold <= 0 {
		opt.LockoutThreshold = 3
	}
	if opt.LockoutDuration <= 0 {
		opt.LockoutDuration = 60 * time.Second
	}
	if opt.RetryAfter == "" {
		opt.RetryAfter = "5"
	}
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	s := &Server{opt: opt, addrs: map[string]map[string]object{"address": {}, "address6": {}},
		groups: map[string]map[string][]string{"addrgrp": {}, "addrgrp6": {}}, banned: map[string]time.Time{},
		fails: map[string][]time.Time{}, locked: map[string]time.Time{}, lockN: map[string]int{}}
	s.addrs["address"][Placeholder] = object{Name: Placeholder, Type: "ipmask", Subnet: "192.0.2.255 255.255.255.255"}
	s.addrs["address6"][Placeholder] = object{Name: Placeholder, Type: "ipprefix", IP6: "2001:db8:ffff::1/128"}
	for _, g := range opt.Groups {
		if strings.HasSuffix(g, "6") {
			s.groups["addrgrp6"][g] = []string{Placeholder}
		} else {
			s.groups["addrgrp"][g] = []string{Placeholder}
		}
	}
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused tokens.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls that succeeded.
func (s *Server) Writes() int { return s.Stats().Writes }

// Object returns an address object.
func (s *Server) Object(table, name string) (object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.addrs[table][name]
	return o, ok
}

// Banned reports whether ip is in the quarantine list now, and its expiry.
func (s *Server) Banned(ip string) (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.bannedLocked(ip)
	return ok, exp
}

func (s *Server) bannedLocked(ip string) (time.Time, bool) {
	exp, ok := s.banned[ip]
	if ok && !exp.IsZero() && !s.opt.Clock.Now().Before(exp) {
		delete(s.banned, ip)
		return time.Time{}, false
	}
	return exp, ok
}

// Blocked reports whether value is blocked: banned, or an object for it in a seeded group.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.bannedLocked(value); ok {
		return true
	}
	for gt, groups := range s.groups {
		table := "address"
		if gt == "addrgrp6" {
			table = "address6"
		}
		for _, members := range groups {
			for _, m := range members {
				o := s.addrs[table][m]
				if o.FQDN == value || o.Subnet == value || strings.TrimSuffix(o.IP6, "/128") == value || o.IP6 == value || subnetIs(o.Subnet, value) {
					return true
				}
			}
		}
	}
	return false
}

func subnetIs(subnet, value string) bool {
	ip, mask, ok := strings.Cut(subnet, " ")
	if !ok {
		return false
	}
	ones, _ := net.IPMask(net.ParseIP(mask).To4()).Size()
	if ones == 32 {
		return ip == value
	}
	return fmt.Sprintf("%s/%d", ip, ones) == value
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	body := map[string]any{"http_method": r.Method, "status": "success", "http_status": status, "vdom": s.opt.VDOM,
		"serial": "FGVM00TEST000001", "version": "v7.2.5", "build": 1517}
	if status >= 300 {
		body["status"] = "error"
	}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) cliError(w http.ResponseWriter, r *http.Request, status, code int) {
	s.send(w, r, status, map[string]any{"error": code})
}

func (s *Server) written(w http.ResponseWriter, r *http.Request, mkey string) {
	old := s.revision
	s.revision++
	s.stats.Writes++
	s.send(w, r, 200, map[string]any{"revision": fmt.Sprintf("%x", s.revision), "old_revision": fmt.Sprintf("%x", old),
		"revision_changed": true, "mkey": mkey})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := s.opt.Clock.Now()
	if until, ok := s.locked[host]; ok && now.Before(until) {
		s.stats.AuthFailures++
		s.send(w, r, 401, nil) // locked out: rejected without looking at the token
		return false
	}
	if len(s.opt.TrustedHosts) > 0 {
		trusted := false
		for _, h := range s.opt.TrustedHosts {
			trusted = trusted || h == host
		}
		if !trusted {
			s.stats.AuthFailures++
			s.send(w, r, 403, nil)
			return false
		}
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		s.stats.AuthFailures++
		s.send(w, r, 403, nil)
		return false
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	if tok != "" && tok == s.opt.Token {
		return true
	}
	s.stats.AuthFailures++
	var recent []time.Time
	for _, t := range s.fails[host] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	s.fails[host] = recent
	if len(recent) >= s.opt.LockoutThreshold {
		d := s.opt.LockoutDuration << s.lockN[host]
		s.lockN[host]++
		s.locked[host] = now.Add(d)
		s.fails[host] = nil
		s.stats.Lockouts++
	}
	s.send(w, r, 401, nil)
	return false
}

// ServeHTTP serves the REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		s.send(w, r, 429, nil)
		return
	case faults.Server:
		s.send(w, r, 503, nil)
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r) {
		return
	}
	if v := r.URL.Query().Get("vdom"); v != "" && v != s.opt.VDOM {
		s.cliError(w, r, 404, -3)
		return
	}
	p := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v2/"), "/"), "/")
	for i := range p {
		if u, err := url.PathUnescape(p[i]); err == nil {
			p[i] = u
		}
	}
	switch {
	case len(p) >= 3 && p[0] == "cmdb" && p[1] == "firewall" && (p[2] == "address" || p[2] == "address6"):
		s.address(w, r, p[2], p[3:])
	case len(p) >= 4 && p[0] == "cmdb" && p[1] == "firewall" && (p[2] == "addrgrp" || p[2] == "addrgrp6"):
		s.group(w, r, p[2], p[3], p[4:])
	case len(p) >= 3 && p[0] == "monitor" && p[1] == "user" && p[2] == "banned":
		s.ban(w, r, p[3:])
	default:
		s.cliError(w, r, 404, -3)
	}
}

func (s *Server) address(w http.ResponseWriter, r *http.Request, table string, rest []string) {
	objs := s.addrs[table]
	switch {
	case r.Method == http.MethodPost && len(rest) == 0:
		var o struct{ Name, Type, Subnet, FQDN, IP6, Comment string }
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.Name == "" || len(o.Name) > 79 {
			s.cliError(w, r, 400, -1)
			return
		}
		if _, dup := objs[o.Name]; dup {
			s.cliError(w, r, 500, -5) // object already exists
			return
		}
		objs[o.Name] = object{Name: o.Name, Type: o.Type, Subnet: o.Subnet, FQDN: o.FQDN, IP6: o.IP6, Comment: o.Comment}
		s.written(w, r, o.Name)
	case r.Method == http.MethodGet && len(rest) == 1:
		o, ok := objs[rest[0]]
		if !ok {
			s.cliError(w, r, 404, -3)
			return
		}
		s.send(w, r, 200, map[string]any{"size": 1, "matched_count": 1, "results": []any{s.render(o)}})
	case r.Method == http.MethodGet && len(rest) == 0:
		q := r.URL.Query()
		prefix := strings.TrimPrefix(q.Get("filter"), "name=@")
		start, _ := strconv.Atoi(q.Get("start"))
		count, _ := strconv.Atoi(q.Get("count"))
		var names []string
		for n := range objs {
			if strings.Contains(n, prefix) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		matched := len(names)
		if start < len(names) {
			names = names[start:]
		} else {
			names = nil
		}
		if count > 0 && len(names) > count {
			names = names[:count]
		}
		res := []any{}
		for _, n := range names {
			res = append(res, s.render(objs[n]))
		}
		s.send(w, r, 200, map[string]any{"size": len(objs), "matched_count": matched, "next_idx": start + len(res) - 1, "results": res})
	case r.Method == http.MethodDelete && len(rest) == 1:
		if _, ok := objs[rest[0]]; !ok {
			s.cliError(w, r, 404, -3)
			return
		}
		for _, groups := range s.groups {
			for _, members := range groups {
				for _, m := range members {
					if m == rest[0] {
						s.cliError(w, r, 500, -23) // entry is in use [U code]
						return
					}
				}
			}
		}
		delete(objs, rest[0])
		s.written(w, r, rest[0])
	default:
		s.cliError(w, r, 405, -1)
	}
}

func (s *Server) render(o object) map[string]any {
	m := map[string]any{"name": o.Name, "q_origin_key": o.Name, "type": o.Type, "comment": o.Comment}
	if o.Subnet != "" {
		m["subnet"] = o.Subnet
	}
	if o.FQDN != "" {
		m["fqdn"] = o.FQDN
	}
	if o.IP6 != "" {
		m["ip6"] = o.IP6
	}
	return m
}

func (s *Server) group(w http.ResponseWriter, r *http.Request, table, name string, rest []string) {
	members, ok := s.groups[table][name]
	if !ok {
		s.cliError(w, r, 404, -3)
		return
	}
	addrTable := "address"
	if table == "addrgrp6" {
		addrTable = "address6"
	}
	idx := func(n string) int {
		for i, m := range members {
			if m == n {
				return i
			}
		}
		return -1
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 0:
		ms := []any{}
		for _, m := range members {
			ms = append(ms, map[string]any{"name": m, "q_origin_key": m})
		}
		s.send(w, r, 200, map[string]any{"size": 1, "matched_count": 1, "results": []any{map[string]any{"name": name, "member": ms}}})
	case r.Method == http.MethodGet && len(rest) == 2 && rest[0] == "member":
		if idx(rest[1]) < 0 {
			s.cliError(w, r, 404, -3)
			return
		}
		s.send(w, r, 200, map[string]any{"size": 1, "results": []any{map[string]any{"name": rest[1], "q_origin_key": rest[1]}}})
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "member":
		var m struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Name == "" {
			s.cliError(w, r, 400, -1)
			return
		}
		if _, ok := s.addrs[addrTable][m.Name]; !ok {
			s.cliError(w, r, 424, -3) // failed dependency: the referenced object is missing
			return
		}
		if idx(m.Name) >= 0 {
			s.cliError(w, r, 500, -5)
			return
		}
		s.groups[table][name] = append(members, m.Name)
		s.written(w, r, m.Name)
	case r.Method == http.MethodDelete && len(rest) == 2 && rest[0] == "member":
		i := idx(rest[1])
		if i < 0 {
			s.cliError(w, r, 404, -3)
			return
		}
		if len(members) == 1 && !s.opt.AllowEmptyGroup {
			s.cliError(w, r, 500, -651) // the group cannot be empty [U code]
			return
		}
		s.groups[table][name] = append(members[:i:i], members[i+1:]...)
		s.written(w, r, rest[1])
	default:
		s.cliError(w, r, 405, -1)
	}
}

func (s *Server) ban(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case r.Method == http.MethodGet && len(rest) == 0:
		var ips []string
		for ip := range s.banned {
			if _, ok := s.bannedLocked(ip); ok {
				ips = append(ips, ip)
			}
		}
		sort.Strings(ips)
		res := []any{}
		for _, ip := range ips {
			e := map[string]any{"ip_address": ip, "source": "rest_api", "created": s.opt.Clock.Now().Unix()}
			if exp := s.banned[ip]; !exp.IsZero() {
				e["expires"] = exp.Unix()
			}
			res = append(res, e)
		}
		s.send(w, r, 200, map[string]any{"results": res})
	case r.Method == http.MethodPost && len(rest) == 1 && (rest[0] == "add_users" || rest[0] == "clear_users"):
		var b struct {
			IPs    []string `json:"ip_addresses"`
			Expiry *int     `json:"expiry"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.IPs) == 0 {
			s.cliError(w, r, 400, -1)
			return
		}
		for _, ip := range b.IPs {
			if net.ParseIP(ip) == nil {
				s.cliError(w, r, 400, -1)
				return
			}
		}
		for _, ip := range b.IPs {
			if rest[0] == "clear_users" {
				delete(s.banned, ip)
				continue
			}
			var exp time.Time
			if b.Expiry != nil && *b.Expiry > 0 {
				exp = s.opt.Clock.Now().Add(time.Duration(*b.Expiry) * time.Second)
			}
			s.banned[ip] = exp
		}
		s.stats.Writes++
		s.send(w, r, 200, map[string]any{"results": map[string]any{}})
	default:
		s.cliError(w, r, 405, -1)
	}
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
