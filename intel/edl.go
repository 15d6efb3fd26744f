package intel

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// EDL list kinds: PAN-OS allows one type per external dynamic list.
const (
	EDLIP     = "ip"
	EDLDomain = "domain"
	EDLURL    = "url"
)

// EDLSpec selects the entries of one external dynamic list.
type EDLSpec struct {
	Name     string        `json:"name" yaml:"name"`
	Kind     string        `json:"kind" yaml:"kind"`                     // ip, domain or url
	MinScore int           `json:"min_score,omitempty" yaml:"min_score"` // current (decayed) score
	MaxAge   time.Duration `json:"max_age,omitempty" yaml:"max_age"`     // last seen or sighted within
	MaxTLP   TLP           `json:"max_tlp" yaml:"max_tlp"`               // the most restrictive marking published
	Limit    int           `json:"limit,omitempty" yaml:"limit"`         // size cap; highest scores kept (default 50,000)
	// Subdomains writes each domain twice: "example.com" and "*.example.com", matching socbot's own
	// subdomain semantics on the firewall.
	Subdomains bool `json:"subdomains,omitempty" yaml:"subdomains"`
}

// DefaultEDLs are the lists served when none are configured.
func DefaultEDLs() []EDLSpec {
	return []EDLSpec{
		{Name: "ip", Kind: EDLIP, MinScore: 50, MaxTLP: TLPGreen, Limit: 50000},
		{Name: "domain", Kind: EDLDomain, MinScore: 50, MaxTLP: TLPGreen, Limit: 50000, Subdomains: true},
		{Name: "url", Kind: EDLURL, MinScore: 50, MaxTLP: TLPGreen, Limit: 50000},
	}
}

// Narrow returns the spec narrowed by a request: a higher minimum score, a shorter age, a smaller
// cap or a more restrictive TLP apply; anything that would widen the list is ignored.
func (s EDLSpec) Narrow(minScore int, maxAge time.Duration, limit int, tlp TLP, hasTLP bool) EDLSpec {
	if minScore > s.MinScore {
		s.MinScore = minScore
	}
	if maxAge > 0 && (s.MaxAge == 0 || maxAge < s.MaxAge) {
		s.MaxAge = maxAge
	}
	if limit > 0 && (s.Limit == 0 || limit < s.Limit) {
		s.Limit = limit
	}
	if hasTLP && tlp < s.MaxTLP {
		s.MaxTLP = tlp
	}
	return s
}

func (s EDLSpec) types() []ioc.Type {
	switch s.Kind {
	case EDLIP:
		return []ioc.Type{ioc.IPv4, ioc.IPv6, ioc.CIDR}
	case EDLDomain:
		return []ioc.Type{ioc.Domain}
	case EDLURL:
		return []ioc.Type{ioc.URL}
	}
	return nil
}

// edlEntry formats an indicator value as a PAN-OS EDL entry, or "" when it cannot be one.
func edlEntry(kind string, t ioc.Type, v string) string {
	switch kind {
	case EDLIP:
		if t == ioc.CIDR {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return ""
			}
			if p.Bits() == p.Addr().BitLen() {
				return p.Addr().String()
			}
			return p.String()
		}
		return v
	case EDLDomain:
		if len(v) > 255 {
			return ""
		}
		return v
	case EDLURL:
		// no scheme; PAN-OS appends "/" to entries without a trailing "/" or "*"
		u := v
		if i := strings.Index(u, "://"); i >= 0 {
			u = u[i+3:]
		}
		if len(u) > 255 || strings.ContainsAny(u, " \t") {
			return ""
		}
		return u
	}
	return ""
}

// RenderEDL writes the list for tenantID (its own and the MSSP-wide indicators, active only, within
// spec): one entry per line, sorted, deduplicated, capped at spec.Limit keeping the highest scores.
// It returns the number of entries written.
func (e *Engine) RenderEDL(ctx context.Context, tenantID string, spec EDLSpec, w io.Writer) (int, error) {
	const op = "intel.RenderEDL"
	types := spec.types()
	if types == nil {
		return 0, socbot.FieldError(op, "kind", "EDL kind must be ip, domain or url, not %q", spec.Kind)
	}
	limit := spec.Limit
	if limit <= 0 {
		limit = 50000
	}
	now := e.clock.Now()
	type cand struct {
		entry string
		score int
	}
	best := map[string]int{}
	ceiling := spec.MaxTLP
	err := e.store.ScanIndicators(ctx, Filter{TenantID: tenantID, WithMSSP: true, Types: types, MaxTLP: &ceiling}, func(in *Indicator) error {
		if !in.TLP.MayShare(spec.MaxTLP) || !in.Active(e.decay, now) {
			return nil
		}
		if spec.MaxAge > 0 && now.Sub(in.Reference()) > spec.MaxAge {
			return nil
		}
		sc := in.Score(e.decay, now)
		if sc < spec.MinScore {
			return nil
		}
		ent := edlEntry(spec.Kind, in.Type, in.Value)
		if ent == "" {
			return nil
		}
		if sc > best[ent] {
			best[ent] = sc
		}
		if spec.Kind == EDLDomain && spec.Subdomains {
			if sc > best["*."+ent] {
				best["*."+ent] = sc
			}
		}
		return nil
	})
	if err != nil {
		return 0, socbot.E(op, err)
	}
	list := make([]cand, 0, len(best))
	for k, v := range best {
		list = append(list, cand{k, v})
	}
	if len(list) > limit {
		sort.Slice(list, func(i, j int) bool {
			if list[i].score != list[j].score {
				return list[i].score > list[j].score
			}
			return list[i].entry < list[j].entry
		})
		list = list[:limit]
	}
	sort.Slice(list, func(i, j int) bool { return list[i].entry < list[j].entry })
	bw := bufio.NewWriter(w)
	for _, c := range list {
		bw.WriteString(c.entry)
		bw.WriteByte('\n')
	}
	return len(list), bw.Flush()
}

// EDLHandler serves the lists at a path ending in /{list} (the lead mounts it at
// /api/v1/edl/{list}). The tenant is the principal's (socbot.PrincipalFrom); MSSP staff pass
// ?tenant=ID. The query may narrow a list (min_score, max_age such as 7d, limit, tlp) but never widen
// its TLP beyond the configured MaxTLP. Rendered lists are cached for cacheFor (firewalls poll often).
func (e *Engine) EDLHandler(specs []EDLSpec, cacheFor time.Duration) http.Handler {
	if len(specs) == 0 {
		specs = DefaultEDLs()
	}
	byName := map[string]EDLSpec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	type cached struct {
		at   time.Time
		body []byte
	}
	var mu sync.Mutex
	cache := map[string]cached{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("list")
		if name == "" {
			name = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		}
		spec, ok := byName[name]
		if !ok {
			http.Error(w, "no such list", http.StatusNotFound)
			return
		}
		p, ok := socbot.PrincipalFrom(r.Context())
		if !ok {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		tenant := p.TenantID
		if t := r.URL.Query().Get("tenant"); t != "" {
			if !p.CanAccessTenant(t) {
				http.Error(w, "no such list", http.StatusNotFound)
				return
			}
			tenant = t
		}
		q := r.URL.Query()
		minScore, _ := strconv.Atoi(q.Get("min_score"))
		maxAge, _ := socbot.ParseDuration(q.Get("max_age"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		tlp, hasTLP := ParseTLP(q.Get("tlp"))
		spec = spec.Narrow(minScore, maxAge, limit, tlp, hasTLP)
		key := tenant + "\x00" + r.URL.RawQuery + "\x00" + name
		mu.Lock()
		c, hit := cache[key]
		mu.Unlock()
		if !hit || e.clock.Now().Sub(c.at) > cacheFor {
			var b strings.Builder
			if _, err := e.RenderEDL(r.Context(), tenant, spec, &b); err != nil {
				http.Error(w, "list unavailable", http.StatusServiceUnavailable)
				return
			}
			c = cached{at: e.clock.Now(), body: []byte(b.String())}
			mu.Lock()
			cache[key] = c
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(c.body)
	})
}
