package intel

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Matcher is the live match index: an immutable base index plus a small delta index of the changes
// since the base was built (new, changed and removed indicators). Lookups are lock-free (one atomic
// load); Apply rebuilds only the delta, and Reset swaps in a new base. It implements
// socbot.IndicatorMatcher.
type Matcher struct {
	state atomic.Pointer[layers]
	clock socbot.Clock
	decay [16]decayParams

	mu    sync.Mutex // serialises writers
	delta map[string]IndexEntry
}

type layers struct {
	base, delta *Index
}

type decayParams struct {
	life  float64 // seconds; 0 = never decays
	inv   float64 // 1/speed
	thr   int
	valid bool
}

var _ socbot.IndicatorMatcher = (*Matcher)(nil)

// NewMatcher returns an empty matcher that ages scores with decay d and reads the time from clock.
func NewMatcher(d Decay, clock socbot.Clock) *Matcher {
	m := &Matcher{clock: clock, delta: map[string]IndexEntry{}}
	for i, t := range ioc.Types {
		md := d.Model(t)
		sp := md.Speed
		if sp <= 0 {
			sp = 1
		}
		m.decay[i] = decayParams{life: md.Lifetime.Seconds(), inv: 1 / sp, thr: md.Threshold, valid: true}
	}
	m.state.Store(&layers{base: BuildIndex(nil), delta: BuildIndex(nil)})
	return m
}

// Reset replaces the whole index with one built from entries and clears the delta.
func (m *Matcher) Reset(entries []IndexEntry) {
	base := BuildIndex(entries)
	m.mu.Lock()
	m.delta = map[string]IndexEntry{}
	empty := BuildIndex(nil)
	m.state.Store(&layers{base: base, delta: empty})
	m.mu.Unlock()
}

func entryKey(e *IndexEntry) string {
	return e.TenantID + "\x00" + string(e.Type) + "\x00" + e.Value
}

// Apply records changed indicators (Dead ones are removed) in the delta. It returns the delta's size,
// so that the owner can Reset from its full set when the delta grows large.
func (m *Matcher) Apply(changes []IndexEntry) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		m.delta[entryKey(&c)] = c
	}
	list := make([]IndexEntry, 0, len(m.delta))
	for _, e := range m.delta {
		list = append(list, e)
	}
	d := BuildIndex(list)
	old := m.state.Load()
	m.state.Store(&layers{base: old.base, delta: d})
	return len(m.delta)
}

// Stats describes the index for benchmarks and metrics.
type Stats struct {
	Indicators      int `json:"indicators"`
	Delta           int `json:"delta"`
	Prefixes        int `json:"prefixes"`
	StructureBytes  int `json:"structure_bytes"` // everything but the values themselves
	ValueBytes      int `json:"value_bytes"`
	BytesPerIndictr int `json:"bytes_per_indicator"`
}

// Stats reports sizes.
func (m *Matcher) Stats() Stats {
	l := m.state.Load()
	s1, v1 := l.base.MemoryBytes()
	s2, v2 := l.delta.MemoryBytes()
	st := Stats{Indicators: l.base.Len(), Delta: l.delta.Len(), Prefixes: l.base.prefixes + l.delta.prefixes,
		StructureBytes: s1 + s2, ValueBytes: v1 + v2}
	if n := st.Indicators + st.Delta; n > 0 {
		st.BytesPerIndictr = st.StructureBytes / n
	}
	return st
}

// query carries one Match call.
type query struct {
	m      *Matcher
	l      *layers
	tenant string
	now    uint32
	out    []socbot.IndicatorMatch
}

// Match looks value (an observable of type typ) up for tenantID: the tenant's own indicators and
// the MSSP-wide ones, active (not expired, revoked or filtered) only. IPs also match covering CIDRs,
// domains match their parent domains' indicators, URLs match exactly and through their host, e-mail
// addresses exactly and through their domain. Sources and Tags of the results are shared: do not
// modify them.
func (m *Matcher) Match(tenantID string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	q := query{m: m, l: m.state.Load(), tenant: tenantID}
	switch typ {
	case socbot.ObsIP, "ipv4", "ipv6":
		q.ip(value, value, "exact", "cidr")
	case socbot.ObsDomain, socbot.ObsHost:
		q.domain(lowerHost(value), value, "exact", "subdomain")
	case socbot.ObsURL:
		q.url(value)
	case socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256, "sha512":
		q.exact(kHash, strings.ToLower(strings.TrimSpace(value)), value, "exact")
	case socbot.ObsEmail:
		v := strings.ToLower(strings.TrimSpace(value))
		q.exact(kEmail, v, value, "exact")
		if at := strings.LastIndexByte(v, '@'); at >= 0 {
			q.domain(v[at+1:], value, "email_domain", "email_domain")
		}
	case "cve":
		q.exact(kCVE, strings.ToUpper(strings.TrimSpace(value)), value, "exact")
	case "attack_technique":
		q.exact(kTechnique, strings.ToUpper(strings.TrimSpace(value)), value, "exact")
	}
	return q.out
}

func lowerHost(v string) string {
	v = strings.TrimSuffix(strings.TrimSpace(v), ".")
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}

func (q *query) tenantOf(ix *Index) uint16 {
	if q.tenant == "" {
		return 0
	}
	if t, ok := ix.tenants[q.tenant]; ok {
		return t
	}
	return math.MaxUint16
}

func (q *query) ip(v, observed, why, whyCIDR string) {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return
	}
	a = a.Unmap().WithZone("")
	var kb [16]byte
	key := ipKey(a, &kb)
	h := keyHash(kIP, key)
	q.lookup(h, "", observed, why)
	// CIDR containment, delta first
	for li, ix := range [2]*Index{q.l.delta, q.l.base} {
		if ix.prefixes == 0 {
			continue
		}
		var r int32
		if a.Is4() {
			b := a.As4()
			r = ix.cidr4(binary.BigEndian.Uint32(b[:]))
		} else {
			b := a.As16()
			r = ix.cidr6(u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])})
		}
		for ; r >= 0; r = ix.recs[r].parent {
			q.chain(ix, li == 0, r, "", observed, whyCIDR)
		}
	}
}

func (q *query) domain(v, observed, why, whySub string) {
	if len(v) < 3 || strings.IndexByte(v, '.') < 0 {
		return
	}
	// label by label from the right, skipping the bare top-level domain
	end := len(v)
	i := strings.LastIndexByte(v, '.')
	for i > 0 {
		j := strings.LastIndexByte(v[:i], '.')
		s := v[j+1 : end]
		w := whySub
		if j < 0 {
			w = why
		}
		q.exact(kDomain, s, observed, w)
		i = j
	}
}

func (q *query) url(v string) {
	v = strings.TrimSpace(v)
	n := ioc.NormalizeURL(v)
	q.exact(kURL, n, v, "exact")
	host := ioc.URLHost(n)
	if host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		q.ip(host, v, "url_host", "url_host_cidr")
		return
	}
	q.domain(host, v, "url_host", "url_host")
}

func (q *query) exact(class uint64, key, observed, why string) {
	q.lookup(keyHashString(class, key), key, observed, why)
}

// lookup probes both layers for one key; key is the canonical value when the caller has it as a
// string (it then becomes the hit's Value without copying from the arena).
func (q *query) lookup(h uint64, key, observed, why string) {
	if q.l.delta.Len() > 0 {
		if r := q.l.delta.probe(h); r >= 0 {
			q.chain(q.l.delta, true, r, key, observed, why)
		}
	}
	if r := q.l.base.probe(h); r >= 0 {
		q.chain(q.l.base, false, r, key, observed, why)
	}
}

// chain reports every acceptable record of one key's tenant chain.
func (q *query) chain(ix *Index, isDelta bool, head int32, key, observed, why string) {
	t := q.tenantOf(ix)
	for r := head; r >= 0; r = ix.recs[r].next {
		x := &ix.recs[r]
		if x.tenant != 0 && x.tenant != t {
			continue
		}
		if x.dead != 0 {
			continue
		}
		if !isDelta && q.l.delta.Len() > 0 && q.shadowed(ix, r) {
			continue
		}
		q.hit(ix, r, key, observed, why)
	}
}

// shadowed reports whether the delta holds a newer version of base record r.
func (q *query) shadowed(base *Index, r int32) bool {
	d := q.l.delta
	x := &base.recs[r]
	tn := base.tnames[x.tenant]
	dt, ok := d.tenants[tn]
	if !ok {
		return false
	}
	t := ioc.Types[x.typ]
	v := base.value(r)
	class := classOf(t)
	var dr int32 = -1
	if t == ioc.CIDR {
		p, err := netip.ParsePrefix(string(v))
		if err != nil {
			return false
		}
		// find the exact prefix among the delta's covering prefixes
		var c int32
		if p.Addr().Is4() {
			b := p.Addr().As4()
			c = d.cidr4(binary.BigEndian.Uint32(b[:]))
		} else {
			b := p.Addr().As16()
			c = d.cidr6(u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])})
		}
		for ; c >= 0; c = d.recs[c].parent {
			if string(d.value(c)) == string(v) {
				dr = c
				break
			}
		}
	} else {
		dr = d.probe(base.recHash(r, class))
	}
	for ; dr >= 0; dr = d.recs[dr].next {
		if d.recs[dr].tenant == dt {
			return true
		}
	}
	return false
}

func (q *query) hit(ix *Index, r int32, key, observed, why string) {
	x := &ix.recs[r]
	if q.now == 0 {
		q.now = toSec(q.m.clock.Now())
	}
	if x.until != 0 && q.now > x.until {
		return
	}
	p := q.m.decay[x.typ]
	score := int(x.base)
	if p.life > 0 {
		age := float64(int64(q.now) - int64(x.ref))
		if age >= p.life {
			return
		}
		if age > 0 {
			score = int(math.Round(float64(x.base) * (1 - math.Pow(age/p.life, p.inv))))
		}
		if score < p.thr || score <= 0 {
			return
		}
	}
	id := "indicator--" + uuid.UUID(x.id).String()
	if key == "" {
		key = string(ix.value(r))
	}
	md := ix.metas[x.meta]
	q.out = append(q.out, socbot.IndicatorMatch{
		IndicatorID: id, Type: string(ioc.Types[x.typ]), Value: key, Matched: observed,
		Why: why, Score: score, Sources: md.sources, TLP: TLP(x.tlp).String(), Tags: md.tags, TenantID: ix.tnames[x.tenant],
	})
}
