// Package fake is an in-memory Microsoft Defender for Endpoint API built from socbot's containment
// spec §6.6, §6.7 and §9.1: client-credentials tokens (the Microsoft identity platform endpoint),
// machines found by computerDnsName, isolate/unisolate machine actions (201 MachineAction, Pending
// until read, then Succeeded), 400 "Action is already in progress" for a repeated open action,
// machine-action listing, indicators (submit-or-update by value and type, case-sensitive body
// names, no CIDR, expirationTime honoured), the MDE error envelope and 429 with Retry-After.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
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
	Tenant, ClientID, ClientSecret string
	Machines                       []string // computerDnsName of the seeded machines
	// ActionReads is how many reads a machine action stays Pending before it succeeds (default 1).
	ActionReads int
	RetryAfter  string // Retry-After of an injected 429 (default "8")
	Clock       socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Tokens, Isolations, Releases, Indicators int }

type machine struct{ id, dns string }

type action struct {
	ID, Type, Scope, Status, MachineID, Comment string
	Created                                     time.Time
	reads                                       int
}

type indicator struct {
	ID                                               int
	Value, Type, Action, Title, Description, Expires string
}

// Server is the fake MDE API.
type Server struct {
	opt    Options
	faults faults.Injector

	mu         sync.Mutex
	tokens     map[string]time.Time
	machines   map[string]*machine
	actions    []*action
	indicators map[int]*indicator
	nextInd    int
	stats      Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.ActionReads <= 0 {
		opt.ActionReads = 1
	}
	if opt.RetryAfter == "" {
		opt.RetryAfter = "8"
	}
	s := &Server{opt: opt, tokens: map[string]time.Time{}, machines: map[string]*machine{}, indicators: map[int]*indicator{}, nextInd: 995}
	for i, d := range opt.Machines {
		id := fmt.Sprintf("%040x", i+0x1e5bc9d7)
		s.machines[id] = &machine{id: id, dns: strings.ToLower(d)}
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

// MachineID returns the id of a seeded machine.
func (s *Server) MachineID(dns string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.machines {
		if m.dns == strings.ToLower(dns) {
			return m.id
		}
	}
	return ""
}

// Isolated reports whether the latest isolation action of the machine is a live Isolate.
func (s *Server) isolated(id string) bool {
	var last *action
	for _, a := range s.actions {
		if a.MachineID == id && (a.Type == "Isolate" || a.Type == "Unisolate") && a.Status != "Failed" && a.Status != "Cancelled" {
			last = a
		}
	}
	return last != nil && last.Type == "Isolate"
}

// IndicatorExpiry returns the expirationTime of the indicator for value ("" if none or none set).
func (s *Server) IndicatorExpiry(value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.indicators {
		if in.Value == value {
			return in.Expires
		}
	}
	return ""
}

// Blocked reports isolation for isolate_host (value: dns name or id) and a live Block indicator
// otherwise.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == socbot.ActIsolateHost || kind == socbot.ActReleaseHost {
		for _, m := range s.machines {
			if m.id == value || m.dns == strings.ToLower(value) {
				return s.isolated(m.id)
			}
		}
		return false
	}
	now := s.opt.Clock.Now()
	for _, in := range s.indicators {
		if in.Value == value && in.Action == "Block" {
			if t, err := time.Parse(time.RFC3339, in.Expires); err == nil && !now.Before(t) {
				return false
			}
			return true
		}
	}
	return false
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func mdeError(w http.ResponseWriter, status int, code, msg string) {
	send(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "target": "6f0c4e8a-0000-4000-8000-000000000001"}})
}

func (s *Server) render(a *action) map[string]any {
	dns := ""
	if m := s.machines[a.MachineID]; m != nil {
		dns = m.dns
	}
	ts := a.Created.UTC().Format("2006-01-02T15:04:05.0000000Z")
	return map[string]any{"id": a.ID, "type": a.Type, "scope": a.Scope, "requestor": "socbot-app", "requestorComment": a.Comment,
		"status": a.Status, "machineId": a.MachineID, "computerDnsName": dns, "creationDateTimeUtc": ts, "lastUpdateDateTimeUtc": ts, "relatedFileInfo": nil}
}

// read advances an action the way MDE does once the device picks it up.
func (s *Server) read(a *action) {
	a.reads++
	if a.Status == "Pending" && a.reads >= s.opt.ActionReads {
		a.Status = "Succeeded"
	}
}

func (s *Server) renderIndicator(in *indicator) map[string]any {
	m := map[string]any{"id": strconv.Itoa(in.ID), "indicatorValue": in.Value, "indicatorType": in.Type, "action": in.Action,
		"title": in.Title, "description": in.Description, "severity": "High", "createdBySource": "PublicApi"}
	if in.Expires != "" {
		m["expirationTime"] = in.Expires
	}
	return m
}

var (
	reToken     = regexp.MustCompile(`^/([^/]+)/oauth2/v2\.0/token$`)
	reMachineOp = regexp.MustCompile(`^/api/machines/([^/]+)/(isolate|unisolate)$`)
	reAction    = regexp.MustCompile(`^/api/machineactions/([^/]+)$`)
	reIndicator = regexp.MustCompile(`^/api/indicators/([^/]+)$`)
	reDNS       = regexp.MustCompile(`^computerDnsName eq '([^']*)'$`)
	reActFilter = regexp.MustCompile(`^machineId eq '([^']*)'(?: and type eq '([^']*)')?$`)
	reIndFilter = regexp.MustCompile(`^indicatorValue eq '([^']*)'$`)
)

var indicatorTypes = map[string]bool{"FileSha1": true, "FileMd5": true, "CertificateThumbprint": true, "FileSha256": true, "IpAddress": true, "DomainName": true, "Url": true}
var indicatorActions = map[string]bool{"Alert": true, "Warn": true, "Block": true, "Audit": true, "BlockAndRemediate": true, "AlertAndBlock": true, "Allowed": true}

// ServeHTTP serves the token endpoint and the MDE API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		mdeError(w, 429, "TooManyRequests", "API calls quota exceeded")
		return
	case faults.Server:
		mdeError(w, 500, "InternalServerError", "Internal server error")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Clock.Now()
	if m := reToken.FindStringSubmatch(r.URL.Path); m != nil {
		_ = r.ParseForm()
		f := r.PostForm
		if m[1] != s.opt.Tenant || f.Get("client_id") != s.opt.ClientID || f.Get("client_secret") != s.opt.ClientSecret ||
			f.Get("grant_type") != "client_credentials" || f.Get("scope") != "https://api.securitycenter.microsoft.com/.default" {
			s.stats.AuthFailures++
			send(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
		buf := make([]byte, 18)
		_, _ = rand.Read(buf)
		tok := "eyJhbGciOi." + hex.EncodeToString(buf)
		s.tokens[tok] = now.Add(time.Hour)
		s.stats.Tokens++
		send(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := s.tokens[tok]; !ok || !now.Before(exp) {
		s.stats.AuthFailures++
		mdeError(w, 401, "Unauthorized", "Authorization has been denied for this request.")
		return
	}
	p := r.URL.Path
	q := r.URL.Query()
	switch {
	case p == "/api/machines" && r.Method == http.MethodGet:
		fm := reDNS.FindStringSubmatch(q.Get("$filter"))
		if fm == nil {
			mdeError(w, 400, "InvalidInput", "unsupported $filter")
			return
		}
		out := []any{}
		for _, m := range s.machines {
			if m.dns == strings.ToLower(fm[1]) {
				out = append(out, map[string]any{"id": m.id, "computerDnsName": m.dns, "osPlatform": "Windows11", "healthStatus": "Active"})
			}
		}
		send(w, 200, map[string]any{"value": out})
	case reMachineOp.MatchString(p) && r.Method == http.MethodPost:
		m := reMachineOp.FindStringSubmatch(p)
		mach := s.machines[m[1]]
		if mach == nil {
			mdeError(w, 404, "ResourceNotFound", "Machine "+m[1]+" was not found")
			return
		}
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			mdeError(w, 400, "InvalidRequestBody", "malformed body")
			return
		}
		comment, _ := b["Comment"].(string)
		if comment == "" {
			mdeError(w, 400, "MissingRequiredParameter", "Comment is required (names are case-sensitive)")
			return
		}
		typ, scope := "Isolate", "Full"
		if m[2] == "unisolate" {
			typ, scope = "Unisolate", ""
		} else if it, _ := b["IsolationType"].(string); it != "" {
			if it != "Full" && it != "Selective" && it != "UnManagedDevice" {
				mdeError(w, 400, "InvalidInput", "IsolationType "+it)
				return
			}
			scope = it
		}
		for _, a := range s.actions {
			if a.MachineID == mach.id && (a.Type == "Isolate" || a.Type == "Unisolate") && (a.Status == "Pending" || a.Status == "InProgress") {
				mdeError(w, 400, "BadRequest", "Action is already in progress")
				return
			}
		}
		buf := make([]byte, 16)
		_, _ = rand.Read(buf)
		h := hex.EncodeToString(buf)
		a := &action{ID: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], Type: typ, Scope: scope, Status: "Pending", MachineID: mach.id, Comment: comment, Created: now}
		s.actions = append(s.actions, a)
		s.stats.Writes++
		if typ == "Isolate" {
			s.stats.Isolations++
		} else {
			s.stats.Releases++
		}
		send(w, 201, s.render(a))
	case p == "/api/machineactions" && r.Method == http.MethodGet:
		fm := reActFilter.FindStringSubmatch(q.Get("$filter"))
		if fm == nil {
			mdeError(w, 400, "InvalidInput", "unsupported $filter")
			return
		}
		out := []any{}
		for _, a := range s.actions {
			if a.MachineID == fm[1] && (fm[2] == "" || fm[2] == a.Type) {
				s.read(a)
				out = append(out, s.render(a))
			}
		}
		send(w, 200, map[string]any{"value": out})
	case reAction.MatchString(p) && r.Method == http.MethodGet:
		id := reAction.FindStringSubmatch(p)[1]
		for _, a := range s.actions {
			if a.ID == id {
				s.read(a)
				send(w, 200, s.render(a))
				return
			}
		}
		mdeError(w, 404, "ResourceNotFound", "Machine action "+id+" was not found")
	case p == "/api/indicators" && r.Method == http.MethodGet:
		fm := reIndFilter.FindStringSubmatch(q.Get("$filter"))
		out := []any{}
		ids := []int{}
		for id := range s.indicators {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			in := s.indicators[id]
			if fm == nil || in.Value == fm[1] {
				out = append(out, s.renderIndicator(in))
			}
		}
		send(w, 200, map[string]any{"value": out})
	case p == "/api/indicators" && r.Method == http.MethodPost:
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			mdeError(w, 400, "InvalidRequestBody", "malformed body")
			return
		}
		str := func(k string) string { v, _ := b[k].(string); return v }
		in := &indicator{Value: str("indicatorValue"), Type: str("indicatorType"), Action: str("action"), Title: str("title"), Description: str("description"), Expires: str("expirationTime")}
		switch {
		case in.Value == "" || in.Title == "" || in.Description == "":
			mdeError(w, 400, "MissingRequiredParameter", "indicatorValue, title and description are required (names are case-sensitive)")
			return
		case !indicatorTypes[in.Type] || !indicatorActions[in.Action]:
			mdeError(w, 400, "InvalidInput", "indicatorType or action not valid")
			return
		case in.Type == "IpAddress" && !validIP(in.Value):
			mdeError(w, 400, "InvalidIpAddress", "Invalid IP address "+in.Value+" (CIDR is not supported)")
			return
		}
		if in.Expires != "" {
			if _, err := time.Parse(time.RFC3339, in.Expires); err != nil {
				mdeError(w, 400, "InvalidInput", "expirationTime")
				return
			}
		}
		for _, old := range s.indicators { // submit or update
			if old.Value == in.Value && old.Type == in.Type {
				in.ID = old.ID
			}
		}
		if in.ID == 0 {
			in.ID = s.nextInd
			s.nextInd++
		}
		s.indicators[in.ID] = in
		s.stats.Writes++
		s.stats.Indicators++
		send(w, 200, s.renderIndicator(in))
	case reIndicator.MatchString(p) && r.Method == http.MethodDelete:
		id, _ := strconv.Atoi(reIndicator.FindStringSubmatch(p)[1])
		if s.indicators[id] == nil {
			mdeError(w, 404, "NotFound", "Indicator was not found")
			return
		}
		delete(s.indicators, id)
		s.stats.Writes++
		send(w, 204, nil)
	default:
		mdeError(w, 404, "NotFound", "no such resource")
	}
}

func validIP(v string) bool { _, err := netip.ParseAddr(v); return err == nil }

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
