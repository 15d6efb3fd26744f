// Package fake is an in-memory PAN-OS XML API (firewall, one vsys) built from socbot's containment
// spec §1: API key auth and keygen, config set/get/show/delete on address objects and static address
// groups, a candidate config that only reaches the running config through a (partial) commit job
// polled with show jobs, User-ID tag registration with timeouts, the registered-ip listing, and the
// error codes of §1.6. Unverified ([U]) behaviours are switches in Options.
package fake

import (
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Root is the firewall vsys1 xpath root.
const Root = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"

// Placeholder is the permanent member that keeps the static group non-empty.
const Placeholder = "soc-placeholder"

// Options configures the fake.
type Options struct {
	Key            string // the valid API key
	User, Password string // keygen credentials
	Admin          string // the admin the key belongs to (default "socbot")
	Group          string // static group to seed (default "soc-blocklist")
	Clock          socbot.Clock
	// MissingDeleteCode7 answers a delete of a missing node with error code 7 instead of success. [U]
	MissingDeleteCode7 bool
	// AllowEmptyGroup lets the last member of a static group go (default: refused, code 14). [U]
	AllowEmptyGroup bool
	// CommitPolls is how many show-jobs polls a commit job stays ACT before FIN (default 1).
	CommitPolls int
	// FailCommit makes commit jobs finish with result FAIL.
	FailCommit bool
	// RetryAfter is the Retry-After header of an injected 429 (default "2"). PAN-OS documents no
	// throttling; this models a management proxy. [U]
	RetryAfter string
}

type address struct {
	Kind, Value, Desc string // Kind: ip-netmask, fqdn, ip-range
	Tags              []string
}

type config struct {
	addrs  map[string]address
	groups map[string]map[string]bool
}

func (c config) clone() config {
	n := config{addrs: map[string]address{}, groups: map[string]map[string]bool{}}
	for k, v := range c.addrs {
		n.addrs[k] = v
	}
	for g, m := range c.groups {
		n.groups[g] = map[string]bool{}
		for k := range m {
			n.groups[g][k] = true
		}
	}
	return n
}

type job struct {
	id, polls  int
	fin        bool
	result     string
	candidate  config
	dirtyAfter bool
}

// Stats are the fake's counters.
type Stats struct {
	AuthFailures, Writes, Commits, NoopCommits, JobPolls, UserIDCalls int
}

// Server is the fake firewall. It is an http.Handler serving /api/.
type Server struct {
	opt    Options
	faults faults.Injector

	mu        sync.Mutex
	candidate config
	running   config
	dirty     bool
	jobs      map[int]*job
	nextJob   int
	// registered: ip -> tag -> expiry (zero = persistent)
	registered map[string]map[string]time.Time
	stats      Stats
}

// New builds a fake with the placeholder member seeded and committed.
func New(opt Options) *Server {
	if opt.Admin == "" {
		opt.Admin = "socbot"
	}
	if opt.Group == "" {
		opt.Group = "soc-blocklist"
	}
	if opt.CommitPolls <= 0 {
		opt.CommitPolls = 1
	}
	if opt.RetryAfter == "" {
		opt.RetryAfter = "2"
	}
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	s := &Server{opt: opt, jobs: map[int]*job{}, nextJob: 1, registered: map[string]map[string]time.Time{}}
	s.candidate = config{addrs: map[string]address{Placeholder: {Kind: "ip-netmask", Value: "192.0.2.255/32", Desc: "socbot placeholder"}},
		groups: map[string]map[string]bool{opt.Group: {Placeholder: true}}}
	s.running = s.candidate.clone()
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused credentials.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls.
func (s *Server) Writes() int { return s.Stats().Writes }

// Registered reports whether ip carries tag in the User-ID table now.
func (s *Server) Registered(ip, tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registeredLocked(ip, tag)
}

func (s *Server) registeredLocked(ip, tag string) bool {
	exp, ok := s.registered[ip][tag]
	if ok && !exp.IsZero() && !s.opt.Clock.Now().Before(exp) {
		delete(s.registered[ip], tag)
		return false
	}
	return ok
}

// RegisteredExpiry returns when a registration times out (zero: persistent).
func (s *Server) RegisteredExpiry(ip, tag string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registered[ip][tag]
}

// Running reports whether the running config's group holds a member for object name.
func (s *Server) Running(group, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, obj := s.running.addrs[name]
	return obj && s.running.groups[group][name]
}

// Candidate reports the same for the candidate config.
func (s *Server) Candidate(group, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, obj := s.candidate.addrs[name]
	return obj && s.candidate.groups[group][name]
}

// RunningValue returns the address value of a running object, "" if absent.
func (s *Server) RunningValue(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running.addrs[name].Value
}

// Blocked reports whether a value is blocked: an IP registered with tag soc-block, or any running
// object of the group whose address is the value.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.registeredLocked(value, "soc-block") {
		return true
	}
	for name := range s.running.groups[s.opt.Group] {
		a := s.running.addrs[name]
		v := strings.TrimSuffix(a.Value, "/32")
		if v == value || a.Value == value {
			return true
		}
	}
	return false
}

// TouchCandidate makes an unrelated pending change, as another admin editing would.
func (s *Server) TouchCandidate(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.candidate.addrs[name] = address{Kind: "ip-netmask", Value: value}
	s.dirty = true
}

func reply(w http.ResponseWriter, httpStatus int, body string) {
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(httpStatus)
	fmt.Fprint(w, body)
}

func errReply(w http.ResponseWriter, code int, msg string) {
	reply(w, http.StatusOK, fmt.Sprintf(`<response status="error" code="%d"><msg><line>%s</line></msg></response>`, code, html.EscapeString(msg)))
}

const okSet = `<response status="success" code="20"><msg>command succeeded</msg></response>`

// ServeHTTP serves the XML API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		reply(w, http.StatusTooManyRequests, `<response status="error"><msg>Too many requests</msg></response>`)
		return
	case faults.Server:
		reply(w, http.StatusServiceUnavailable, `<response status="error" code="5"><msg>Internal error</msg></response>`)
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	if r.URL.Path != "/api/" && r.URL.Path != "/api" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		reply(w, http.StatusBadRequest, `<response status="error" code="400"><msg>Bad request</msg></response>`)
		return
	}
	typ := r.Form.Get("type")
	if typ == "keygen" {
		s.keygen(w, r)
		return
	}
	key := r.Header.Get("X-PAN-KEY")
	if key == "" {
		key = r.Form.Get("key")
	}
	if key == "" || key != s.opt.Key {
		s.mu.Lock()
		s.stats.AuthFailures++
		s.mu.Unlock()
		reply(w, http.StatusForbidden, `<response status="error" code="403"><result><msg>Invalid credentials.</msg></result></response>`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch typ {
	case "config":
		s.config(w, r.Form.Get("action"), r.Form.Get("xpath"), r.Form.Get("element"))
	case "commit":
		s.commit(w, r.Form.Get("action"), r.Form.Get("cmd"))
	case "op":
		s.op(w, r.Form.Get("cmd"))
	case "user-id":
		s.userID(w, r.Form.Get("cmd"))
	default:
		errReply(w, 1, "Unknown command")
	}
}

func (s *Server) keygen(w http.ResponseWriter, r *http.Request) {
	if s.opt.User == "" || r.Form.Get("user") != s.opt.User || r.Form.Get("password") != s.opt.Password {
		s.mu.Lock()
		s.stats.AuthFailures++
		s.mu.Unlock()
		reply(w, http.StatusForbidden, `<response status="error" code="403"><result><msg>Invalid Credential</msg></result></response>`)
		return
	}
	reply(w, http.StatusOK, `<response status="success"><result><key>`+html.EscapeString(s.opt.Key)+`</key></result></response>`)
}

var (
	reAddr   = regexp.MustCompile(`^/address/entry\[@name='([^']+)'\]$`)
	reStatic = regexp.MustCompile(`^/address-group/entry\[@name='([^']+)'\]/static$`)
	reMember = regexp.MustCompile(`^/address-group/entry\[@name='([^']+)'\]/static/member\[text\(\)='([^']+)'\]$`)
	reName   = regexp.MustCompile(`^[A-Za-z0-9._ -]{1,63}$`)
)

type element struct {
	IPNetmask string   `xml:"ip-netmask"`
	FQDN      string   `xml:"fqdn"`
	IPRange   string   `xml:"ip-range"`
	Desc      string   `xml:"description"`
	Tags      []string `xml:"tag>member"`
	Members   []string `xml:"member"`
}

func (s *Server) config(w http.ResponseWriter, action, xpath, elem string) {
	if !strings.HasPrefix(xpath, Root) {
		errReply(w, 6, "Bad Xpath")
		return
	}
	rest := strings.TrimPrefix(xpath, Root)
	switch action {
	case "get", "show":
		cfg := s.candidate
		if action == "show" {
			cfg = s.running
		}
		if m := reAddr.FindStringSubmatch(rest); m != nil {
			a, ok := cfg.addrs[m[1]]
			if !ok {
				reply(w, 200, `<response status="success"><result total-count="0" count="0"/></response>`)
				return
			}
			var tags string
			for _, t := range a.Tags {
				tags += "<member>" + html.EscapeString(t) + "</member>"
			}
			if tags != "" {
				tags = "<tag>" + tags + "</tag>"
			}
			reply(w, 200, fmt.Sprintf(`<response status="success"><result total-count="1" count="1"><entry name="%s"><%s>%s</%s><description>%s</description>%s</entry></result></response>`,
				html.EscapeString(m[1]), a.Kind, html.EscapeString(a.Value), a.Kind, html.EscapeString(a.Desc), tags))
			return
		}
		if m := reStatic.FindStringSubmatch(rest); m != nil {
			g, ok := cfg.groups[m[1]]
			if !ok {
				reply(w, 200, `<response status="success"><result total-count="0" count="0"/></response>`)
				return
			}
			names := make([]string, 0, len(g))
			for n := range g {
				names = append(names, n)
			}
			sort.Strings(names)
			var b strings.Builder
			for _, n := range names {
				b.WriteString("<member>" + html.EscapeString(n) + "</member>")
			}
			reply(w, 200, `<response status="success"><result total-count="1" count="1"><static>`+b.String()+`</static></result></response>`)
			return
		}
		errReply(w, 6, "Bad Xpath")
	case "set":
		var e element
		if err := xml.Unmarshal([]byte("<e>"+elem+"</e>"), &e); err != nil {
			errReply(w, 17, "Invalid command: malformed element")
			return
		}
		if m := reAddr.FindStringSubmatch(rest); m != nil {
			if !reName.MatchString(m[1]) {
				errReply(w, 12, "Invalid object: name "+m[1])
				return
			}
			a := s.candidate.addrs[m[1]]
			switch {
			case e.IPNetmask != "":
				a.Kind, a.Value = "ip-netmask", e.IPNetmask
			case e.FQDN != "":
				a.Kind, a.Value = "fqdn", e.FQDN
			case e.IPRange != "":
				a.Kind, a.Value = "ip-range", e.IPRange
			}
			if a.Kind == "" {
				errReply(w, 12, "Invalid object: address needs a type")
				return
			}
			if e.Desc != "" {
				a.Desc = e.Desc
			}
			for _, t := range e.Tags { // set merges
				if !contains(a.Tags, t) {
					a.Tags = append(a.Tags, t)
				}
			}
			s.candidate.addrs[m[1]] = a
		} else if m := reStatic.FindStringSubmatch(rest); m != nil {
			for _, mem := range e.Members {
				if _, ok := s.candidate.addrs[mem]; !ok {
					errReply(w, 12, "Invalid object: "+mem+" is not a valid reference")
					return
				}
			}
			g := s.candidate.groups[m[1]]
			if g == nil {
				g = map[string]bool{}
				s.candidate.groups[m[1]] = g
			}
			for _, mem := range e.Members {
				g[mem] = true
			}
		} else {
			errReply(w, 6, "Bad Xpath")
			return
		}
		s.dirty = true
		s.stats.Writes++
		reply(w, 200, okSet)
	case "delete":
		if m := reMember.FindStringSubmatch(rest); m != nil {
			g := s.candidate.groups[m[1]]
			if !g[m[2]] {
				s.missing(w)
				return
			}
			if len(g) == 1 && !s.opt.AllowEmptyGroup {
				errReply(w, 14, "Operation not possible: static group "+m[1]+" cannot be empty")
				return
			}
			delete(g, m[2])
		} else if m := reAddr.FindStringSubmatch(rest); m != nil {
			if _, ok := s.candidate.addrs[m[1]]; !ok {
				s.missing(w)
				return
			}
			for gname, g := range s.candidate.groups {
				if g[m[1]] {
					errReply(w, 10, "Reference count not zero: "+m[1]+" is used by address-group "+gname)
					return
				}
			}
			delete(s.candidate.addrs, m[1])
		} else {
			errReply(w, 6, "Bad Xpath")
			return
		}
		s.dirty = true
		s.stats.Writes++
		reply(w, 200, okSet)
	default:
		errReply(w, 400, "Bad request: action "+action)
	}
}

func (s *Server) missing(w http.ResponseWriter) {
	if s.opt.MissingDeleteCode7 {
		errReply(w, 7, "Object not present")
		return
	}
	reply(w, 200, okSet)
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) commit(w http.ResponseWriter, action, cmd string) {
	s.stats.Commits++
	s.stats.Writes++
	if action == "partial" && !strings.Contains(cmd, "<member>"+s.opt.Admin+"</member>") {
		errReply(w, 17, "Invalid command: partial commit for an unknown admin")
		return
	}
	if !s.dirty {
		s.stats.NoopCommits++
		reply(w, 200, `<response status="success" code="19"><msg>There are no changes to commit.</msg></response>`)
		return
	}
	id := s.nextJob
	s.nextJob++
	s.jobs[id] = &job{id: id, candidate: s.candidate.clone()}
	s.dirty = false
	reply(w, 200, fmt.Sprintf(`<response status="success" code="19"><result><msg><line>Commit job enqueued with jobid %d</line></msg><job>%d</job></result></response>`, id, id))
}

var (
	reJob  = regexp.MustCompile(`^<show><jobs><id>(\d+)</id></jobs></show>$`)
	reRIP  = regexp.MustCompile(`^<show><object><registered-ip><tag><entry name="([^"]+)"/></tag><limit>(\d+)</limit><start-point>(\d+)</start-point></registered-ip></object></show>$`)
	reRIP0 = regexp.MustCompile(`^<show><object><registered-ip><tag><entry name="([^"]+)"/></tag></registered-ip></object></show>$`)
)

func (s *Server) op(w http.ResponseWriter, cmd string) {
	if m := reJob.FindStringSubmatch(cmd); m != nil {
		id, _ := strconv.Atoi(m[1])
		j := s.jobs[id]
		if j == nil {
			errReply(w, 7, "job "+m[1]+" not found")
			return
		}
		s.stats.JobPolls++
		j.polls++
		status, result, progress := "ACT", "PEND", "50"
		if j.polls > s.opt.CommitPolls && !j.fin {
			j.fin = true
			j.result = "OK"
			if s.opt.FailCommit {
				j.result = "FAIL"
			} else {
				s.running = j.candidate
			}
		}
		if j.fin {
			status, result, progress = "FIN", j.result, "100"
		}
		reply(w, 200, fmt.Sprintf(`<response status="success"><result><job><tenq>2026/05/19 13:00:00</tenq><id>%d</id><type>Commit</type><status>%s</status><result>%s</result><progress>%s</progress><details><line>%s</line></details></job></result></response>`,
			id, status, result, progress, map[string]string{"OK": "Configuration committed successfully", "FAIL": "Validation Error: commit failed", "PEND": ""}[result]))
		return
	}
	tag, limit, start := "", 500, 1
	if m := reRIP.FindStringSubmatch(cmd); m != nil {
		tag = m[1]
		limit, _ = strconv.Atoi(m[2])
		start, _ = strconv.Atoi(m[3])
	} else if m := reRIP0.FindStringSubmatch(cmd); m != nil {
		tag = m[1]
	} else {
		errReply(w, 1, "Unknown command")
		return
	}
	var ips []string
	for ip := range s.registered {
		if s.registeredLocked(ip, tag) {
			ips = append(ips, ip)
		}
	}
	sort.Strings(ips)
	if start < 1 {
		start = 1
	}
	if start-1 < len(ips) {
		ips = ips[start-1:]
	} else {
		ips = nil
	}
	if limit > 0 && len(ips) > limit {
		ips = ips[:limit]
	}
	var b strings.Builder
	for _, ip := range ips {
		fmt.Fprintf(&b, `<entry ip="%s" from_agent="0" persistent="1"><tag><member>%s</member></tag></entry>`, ip, html.EscapeString(tag))
	}
	reply(w, 200, `<response status="success"><result>`+b.String()+`</result></response>`)
}

type uidMessage struct {
	Register   []uidEntry `xml:"payload>register>entry"`
	Unregister []uidEntry `xml:"payload>unregister>entry"`
}

type uidEntry struct {
	IP   string `xml:"ip,attr"`
	Tags []struct {
		Name    string `xml:",chardata"`
		Timeout string `xml:"timeout,attr"`
	} `xml:"tag>member"`
}

func (s *Server) userID(w http.ResponseWriter, cmd string) {
	var m uidMessage
	if err := xml.Unmarshal([]byte(cmd), &m); err != nil {
		errReply(w, 18, "Malformed command")
		return
	}
	s.stats.UserIDCalls++
	s.stats.Writes++
	var regErr, unregErr strings.Builder
	now := s.opt.Clock.Now()
	for _, e := range m.Register {
		for _, t := range e.Tags {
			if s.registeredLocked(e.IP, t.Name) {
				fmt.Fprintf(&regErr, `<entry ip="%s" message="tag %s already exists, ignore"/>`, e.IP, html.EscapeString(t.Name))
				continue
			}
			var exp time.Time
			if sec, _ := strconv.Atoi(t.Timeout); sec > 0 {
				if sec > 2592000 {
					sec = 2592000
				}
				exp = now.Add(time.Duration(sec) * time.Second)
			}
			if s.registered[e.IP] == nil {
				s.registered[e.IP] = map[string]time.Time{}
			}
			s.registered[e.IP][t.Name] = exp
		}
	}
	for _, e := range m.Unregister {
		for _, t := range e.Tags {
			if !s.registeredLocked(e.IP, t.Name) {
				fmt.Fprintf(&unregErr, `<entry ip="%s" message="tag %s does not exist, ignore unreg"/>`, e.IP, html.EscapeString(t.Name))
				continue
			}
			delete(s.registered[e.IP], t.Name)
		}
	}
	if regErr.Len() == 0 && unregErr.Len() == 0 {
		reply(w, 200, `<response status="success"><result><uid-response><version>2.0</version><payload/></uid-response></result></response>`)
		return
	}
	var p string
	if regErr.Len() > 0 {
		p += "<register>" + regErr.String() + "</register>"
	}
	if unregErr.Len() > 0 {
		p += "<unregister>" + unregErr.String() + "</unregister>"
	}
	reply(w, 200, `<response status="error"><msg><line><uid-response><version>2.0</version><payload>`+p+`</payload></uid-response></line></msg></response>`)
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
