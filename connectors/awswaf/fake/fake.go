// Package fake is an in-memory AWS WAF v2 IPSet endpoint built from socbot's containment spec §8.2:
// SigV4 (signing name wafv2) checked against the known key, GetIPSet and UpdateIPSet on
// AWSWAF_20190729, UpdateIPSet replacing the whole address list under a LockToken that changes on
// every update (a stale one answers WAFOptimisticLockException), a Conflicts knob for concurrent
// writers, CIDR validation ("/0" and "" refused, address version enforced), the [U] 10,000-address
// limit, and the AWS JSON error shape.
package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"sync"

	"github.com/socbot/socbot"
	nfwfake "github.com/socbot/socbot/connectors/awsnfw/fake"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	AccessKey, SecretKey, Region string
	// IPSets to seed: name -> id, scope REGIONAL, IPV4 unless the name ends in "6".
	IPSets map[string]string
	Limit  int // addresses per set (default 10,000) [U]
	Clock  socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Gets, Updates, LockConflicts int }

type ipset struct {
	name, id, version string
	addrs             []string
	lock              int
}

// Server is the fake WAF endpoint.
type Server struct {
	opt    Options
	faults faults.Injector

	mu        sync.Mutex
	sets      map[string]*ipset // by id
	conflicts int
	stats     Stats
}

// Faults sets random fault rates on the fake.
type Faults = faults.Faults

// New builds the fake.
func New(opt Options) *Server {
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.Limit <= 0 {
		opt.Limit = 10000
	}
	s := &Server{opt: opt, sets: map[string]*ipset{}}
	for name, id := range opt.IPSets {
		v := "IPV4"
		if name[len(name)-1] == '6' {
			v = "IPV6"
		}
		s.sets[id] = &ipset{name: name, id: id, version: v, addrs: []string{}, lock: 1}
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

// Conflicts makes the next n updates find the lock token changed by someone else.
func (s *Server) Conflicts(n int) { s.mu.Lock(); s.conflicts += n; s.mu.Unlock() }

// Addresses returns a set's addresses.
func (s *Server) Addresses(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sets[id].addrs...)
}

// Blocked reports whether value (an address or CIDR) is in a set.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range s.sets {
		for _, a := range set.addrs {
			if a == value || a == value+"/32" || a == value+"/128" {
				return true
			}
		}
	}
	return false
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
}

func send(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(body)
}

func lockToken(n int) string { return fmt.Sprintf("tok-%08x-%04d", n*2654435761, n) }

// ServeHTTP serves the JSON-RPC endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		awsError(w, 400, "ThrottlingException", "Rate exceeded")
		return
	case faults.Server:
		awsError(w, 500, "WAFInternalErrorException", "internal error")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || r.Method != http.MethodPost {
		awsError(w, 400, "WAFInvalidParameterException", "POST a JSON body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ, msg := nfwfake.VerifySigV4(r, body, s.opt.AccessKey, s.opt.SecretKey, s.opt.Region, "wafv2"); typ != "" {
		s.stats.AuthFailures++
		awsError(w, 400, typ, msg)
		return
	}
	var in struct {
		Name, Scope, Id, LockToken string
		Addresses                  *[]string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awsError(w, 400, "WAFInvalidParameterException", "malformed JSON")
		return
	}
	set := s.sets[in.Id]
	if set == nil || set.name != in.Name || in.Scope != "REGIONAL" && in.Scope != "CLOUDFRONT" {
		awsError(w, 400, "WAFNonexistentItemException", "IPSet "+in.Name+"/"+in.Id+" not found")
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "AWSWAF_20190729.GetIPSet":
		s.stats.Gets++
		send(w, map[string]any{"IPSet": map[string]any{"Name": set.name, "Id": set.id, "ARN": "arn:aws:wafv2:" + s.opt.Region + ":123456789012:regional/ipset/" + set.name + "/" + set.id,
			"IPAddressVersion": set.version, "Addresses": set.addrs}, "LockToken": lockToken(set.lock)})
	case "AWSWAF_20190729.UpdateIPSet":
		s.stats.Updates++
		if s.conflicts > 0 {
			s.conflicts--
			set.lock++
		}
		if in.LockToken != lockToken(set.lock) {
			s.stats.LockConflicts++
			awsError(w, 400, "WAFOptimisticLockException", "AWS WAF couldn't save your changes because someone changed the resource after you started to edit it.")
			return
		}
		if in.Addresses == nil {
			awsError(w, 400, "WAFInvalidParameterException", "Addresses is required")
			return
		}
		if len(*in.Addresses) > s.opt.Limit {
			awsError(w, 400, "WAFLimitsExceededException", "too many addresses in the IPSet")
			return
		}
		for _, a := range *in.Addresses {
			p, err := netip.ParsePrefix(a)
			if err != nil || p.Bits() == 0 || (set.version == "IPV4") != p.Addr().Is4() {
				awsError(w, 400, "WAFInvalidParameterException", "invalid address "+a)
				return
			}
		}
		set.addrs = append([]string{}, *in.Addresses...)
		sort.Strings(set.addrs)
		set.lock++
		s.stats.Writes++
		send(w, map[string]any{"NextLockToken": lockToken(set.lock)})
	default:
		awsError(w, 400, "UnknownOperationException", "unknown operation")
	}
}
