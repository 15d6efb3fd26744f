// Package fake is an in-memory AWS Network Firewall JSON-RPC endpoint built from socbot's
// containment spec §8.1, for aws-sdk-go-v2 pointed at it with BaseEndpoint: SigV4 signatures checked
// against the known access key and secret, DescribeRuleGroup and UpdateRuleGroup on stateful rule
// groups (a domain list, RulesSourceList, or Suricata rules, RulesString), an UpdateToken that
// changes on every update so that a stale token answers InvalidTokenException, a Conflicts knob that
// simulates concurrent writers, capacity limits, the [U] refusal of an empty Targets list, and the
// AWS JSON error shape {"__type":…,"message":…}.
package fake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	AccessKey, SecretKey, Region string
	// Groups to seed: name -> "domains" (RulesSourceList DENYLIST) or "rules" (Suricata RulesString).
	Groups map[string]string
	// Capacity of each seeded group (default 1000).
	Capacity int
	// AllowEmptyTargets accepts an empty Targets list (default: InvalidRequestException). [U]
	AllowEmptyTargets bool
	Clock             socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Describes, Updates, TokenConflicts int }

type group struct {
	name, kind  string
	targets     []string
	targetTypes []string
	rules       string
	token       int
	capacity    int
}

// Server is the fake Network Firewall endpoint.
type Server struct {
	opt    Options
	faults faults.Injector

	mu        sync.Mutex
	groups    map[string]*group
	conflicts int
	stats     Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.Capacity <= 0 {
		opt.Capacity = 1000
	}
	s := &Server{opt: opt, groups: map[string]*group{}}
	for name, kind := range opt.Groups {
		g := &group{name: name, kind: kind, token: 1, capacity: opt.Capacity}
		if kind == "domains" {
			g.targets, g.targetTypes = []string{".invalid"}, []string{"TLS_SNI", "HTTP_HOST"}
		}
		s.groups[name] = g
	}
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused signatures.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts successful updates.
func (s *Server) Writes() int { return s.Stats().Writes }

// Conflicts makes the next n updates find the token changed by someone else just before they land.
func (s *Server) Conflicts(n int) { s.mu.Lock(); s.conflicts += n; s.mu.Unlock() }

// Targets returns a domain group's targets.
func (s *Server) Targets(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.groups[name].targets...)
}

// Rules returns a rules group's Suricata text.
func (s *Server) Rules(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[name].rules
}

// Blocked reports a domain in a domain list (exact or leading-dot form) or an address in a drop rule.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		for _, t := range g.targets {
			if t == value || t == "."+value {
				return true
			}
		}
		for _, line := range strings.Split(g.rules, "\n") {
			if strings.HasPrefix(line, "drop ") && (strings.Contains(line, " -> "+value+" ") || strings.Contains(line, "drop ip "+value+" ")) {
				return true
			}
		}
	}
	return false
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.Header().Set("X-Amzn-RequestId", "0f8e3c1a-0000-4000-8000-000000000001")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func send(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "0f8e3c1a-0000-4000-8000-000000000002")
	_ = json.NewEncoder(w).Encode(body)
}

var reAuth = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$`)

func hmacSHA(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func (s *Server) verify(r *http.Request, body []byte) (string, string) {
	return VerifySigV4(r, body, s.opt.AccessKey, s.opt.SecretKey, s.opt.Region, "network-firewall")
}

// VerifySigV4 checks the AWS Signature Version 4 of r over body for one access key, secret, region
// and signing name. It returns "" or the AWS error type and message to answer with. Fakes of other
// AWS services use it too.
func VerifySigV4(r *http.Request, body []byte, accessKey, secretKey, region, service string) (string, string) {
	m := reAuth.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	if m[1] != accessKey {
		return "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if m[3] != region || m[4] != service {
		return "InvalidSignatureException", "Credential should be scoped to a valid region and service."
	}
	var ch strings.Builder
	for _, name := range strings.Split(m[5], ";") {
		var v string
		switch name {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(name), ",")
		}
		ch.WriteString(name + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, ch.String(), m[5], hex.EncodeToString(sum[:])}, "\n")
	creq := sha256.Sum256([]byte(canonical))
	scope := m[2] + "/" + m[3] + "/" + m[4] + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	key := hmacSHA(hmacSHA(hmacSHA(hmacSHA([]byte("AWS4"+secretKey), m[2]), m[3]), m[4]), "aws4_request")
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA(key, toSign))), []byte(m[6])) {
		return "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}

type rulesSourceList struct {
	Targets            []string `json:"Targets"`
	TargetTypes        []string `json:"TargetTypes"`
	GeneratedRulesType string   `json:"GeneratedRulesType"`
}

type ruleGroup struct {
	RulesSource struct {
		RulesSourceList *rulesSourceList `json:"RulesSourceList,omitempty"`
		RulesString     *string          `json:"RulesString,omitempty"`
	} `json:"RulesSource"`
}

func (s *Server) describe(g *group) map[string]any {
	var rg ruleGroup
	if g.kind == "domains" {
		rg.RulesSource.RulesSourceList = &rulesSourceList{Targets: g.targets, TargetTypes: g.targetTypes, GeneratedRulesType: "DENYLIST"}
	} else {
		r := g.rules
		rg.RulesSource.RulesString = &r
	}
	return map[string]any{"UpdateToken": tokenString(g.token), "RuleGroup": rg, "RuleGroupResponse": map[string]any{
		"RuleGroupArn":  "arn:aws:network-firewall:" + s.opt.Region + ":123456789012:stateful-rulegroup/" + g.name,
		"RuleGroupName": g.name, "RuleGroupId": fmt.Sprintf("%x", sha256.Sum256([]byte(g.name)))[:36], "Type": "STATEFUL",
		"Capacity": g.capacity, "RuleGroupStatus": "ACTIVE"}}
}

func tokenString(n int) string { return fmt.Sprintf("a1b2c3d4-%04x-4000-8000-%012x", n, n*7919) }

// ServeHTTP serves the JSON-RPC endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		awsError(w, 400, "ThrottlingException", "Rate exceeded")
		return
	case faults.Server:
		awsError(w, 500, "InternalServerError", "internal error")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || r.Method != http.MethodPost {
		awsError(w, 400, "InvalidRequestException", "POST a JSON body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ, msg := s.verify(r, body); typ != "" {
		s.stats.AuthFailures++
		awsError(w, 400, typ, msg)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	var in struct {
		RuleGroupName string     `json:"RuleGroupName"`
		Type          string     `json:"Type"`
		UpdateToken   string     `json:"UpdateToken"`
		RuleGroup     *ruleGroup `json:"RuleGroup"`
		Rules         *string    `json:"Rules"`
		DryRun        bool       `json:"DryRun"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
		awsError(w, 400, "InvalidRequestException", "malformed JSON")
		return
	}
	g := s.groups[in.RuleGroupName]
	if g == nil || (in.Type != "" && in.Type != "STATEFUL") {
		awsError(w, 400, "ResourceNotFoundException", "rule group "+in.RuleGroupName+" not found")
		return
	}
	switch target {
	case "NetworkFirewall_20201112.DescribeRuleGroup":
		s.stats.Describes++
		send(w, s.describe(g))
	case "NetworkFirewall_20201112.UpdateRuleGroup":
		s.stats.Updates++
		if s.conflicts > 0 {
			s.conflicts--
			g.token++ // another writer got there first
		}
		if in.UpdateToken != tokenString(g.token) {
			s.stats.TokenConflicts++
			awsError(w, 400, "InvalidTokenException", "Update token is stale; describe the rule group again")
			return
		}
		if (in.RuleGroup == nil) == (in.Rules == nil) {
			awsError(w, 400, "InvalidRequestException", "send either RuleGroup or Rules")
			return
		}
		var targets []string
		var rules string
		switch {
		case g.kind == "domains" && in.RuleGroup != nil && in.RuleGroup.RulesSource.RulesSourceList != nil:
			l := in.RuleGroup.RulesSource.RulesSourceList
			if len(l.Targets) == 0 && !s.opt.AllowEmptyTargets {
				awsError(w, 400, "InvalidRequestException", "Targets must not be empty")
				return
			}
			if len(l.Targets) > g.capacity {
				awsError(w, 400, "InvalidRequestException", "rule group capacity exceeded")
				return
			}
			targets = append([]string(nil), l.Targets...)
			sort.Strings(targets)
		case g.kind == "rules" && in.RuleGroup != nil && in.RuleGroup.RulesSource.RulesString != nil:
			rules = *in.RuleGroup.RulesSource.RulesString
		case g.kind == "rules" && in.Rules != nil:
			rules = *in.Rules
		default:
			awsError(w, 400, "InvalidRequestException", "rule source does not match the rule group")
			return
		}
		if g.kind == "rules" && strings.Count(rules, "\n")+1 > g.capacity {
			awsError(w, 400, "InvalidRequestException", "rule group capacity exceeded")
			return
		}
		if !in.DryRun {
			if g.kind == "domains" {
				g.targets = targets
			} else {
				g.rules = rules
			}
			g.token++
			s.stats.Writes++
		}
		d := s.describe(g)
		send(w, map[string]any{"UpdateToken": d["UpdateToken"], "RuleGroupResponse": d["RuleGroupResponse"]})
	default:
		awsError(w, 400, "UnknownOperationException", "unknown operation "+target)
	}
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
