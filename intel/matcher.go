package intel

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Matcher is the live match index: an immutable base index plus a few small immutable delta levels
// holding the changes since the base was built (new, changed and removed indicators), newest last.
// Lookups are lock-free (one atomic load) and probe every level, a newer level's record hiding an
// older level's record of the same tenant and value. Apply adds one level per batch and merges the
// deltas when there are too many (size-tiered, so a bulk load costs O(n log n), not O(n²)); Reset
// swaps in a new base. It implements socbot.IndicatorMatcher.
type Matcher struct {
	state atomic.Pointer[layers]
	clock socbot.Clock
	decay [16]decayParams

	mu     sync.Mutex // serialises writers
	deltas [][]IndexEntry
}

// maxLevels is the number of delta levels at which Apply merges them.
const maxLevels = 6

type layers struct {
	base   *Index
	deltas []*Index // oldest first
}

// levels returns every index, newest first.
func (l *layers) newestFirst() []*Index {
	out := make([]*Index, 0, len(l.deltas)+1)
	for i := len(l.deltas) - 1; i >= 0; i-- {
		out = append(out, l.deltas[i])
	}
	return append(out, l.base)
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
	m := &Matcher{clock: clock}
	for i, t := range ioc.Types {
		md := d.Model(t)
		sp := md.Speed
		if sp <= 0 {
			sp = 1
		}
		m.decay[i] = decayParams{life: md.Lifetime.Seconds(), inv: 1 / sp, thr: md.Threshold, valid: true}
	}
	m.state.Store(&layers{base: BuildIndex(nil)})
	return m
}

// Reset replaces the whole index with one built from entries and drops the deltas.
func (m *Matcher) Reset(entries []IndexEntry) {
	base := BuildIndex(entries)
	m.mu.Lock()
	m.deltas = nil
	m.state.Store(&layers{base: base})
	m.mu.Unlock()
}

// Apply records changed indicators (Dead ones are removed) as a new delta level. It returns the number
// of entries held in deltas, so that the owner can Reset from its full set when they grow large.
func (m *Matcher) Apply(changes []IndexEntry) int {
	if len(changes) == 0 {
		return m.DeltaSize()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.state.Load()
	m.deltas = append(m.deltas, append([]IndexEntry(nil), changes...))
	idx := append(append([]*Index(nil), old.deltas...), BuildIndex(changes))
	if len(m.deltas) > maxLevels {
		// merge the newest levels that are no bigger than twice the next one down, newest winning
		k := len(m.deltas) - 1
		size := len(m.deltas[k])
		for k > 0 && len(m.deltas[k-1]) <= 2*size {
			k--
			size += len(m.deltas[k])
		}
		if len(m.deltas)-k < 2 {
			k = len(m.deltas) - 2
		}
		merged := map[string]int{}
		var list []IndexEntry
		for _, lvl := range m.deltas[k:] {
			for _, e := range lvl {
				key := entryKey(&e)
				if i, ok := merged[key]; ok {
					list[i] = e
					continue
				}
				merged[key] = len(list)
				list = append(list, e)
			}
		}
		m.deltas = append(m.deltas[:k], list)
		idx = append(idx[:k], BuildIndex(list))
	}
	m.state.Store(&layers{base: old.base, deltas: idx})
	n := 0
	for _, d := range m.deltas {
		n += len(d)
	}
	return n
}

// DeltaSize is the number of entries held in delta levels.
func (m *Matcher) DeltaSize() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, d := range m.deltas {
		n += len(d)
	}
	return n
}

func entryKey(e *IndexEntry) string {
	return e.TenantID + "\x00" + string(e.Type) + "\x00" + e.Value
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
	st := Stats{Indicators: l.base.Len(), Prefixes: l.base.prefixes, StructureBytes: s1, ValueBytes: v1}
	for _, d := range l.deltas {
		s2, v2 := d.MemoryBytes()
		st.Delta += d.Len()
		st.Prefixes += d.prefixes
		st.StructureBytes += s2
		st.ValueBytes += v2
	}
	if n := st.Indicators + st.Delta; n > 0 {
		st.BytesPerIndictr = st.StructureBytes / n
	}
	return st
}

// query carries one Match call.
type query struct {
	m      *Matcher
	l      *layers
	lvs    [maxLevels + 2]*Index // newest first; the base is last
	nlv    int
	tenant string
	now    uint32
	out    []socbot.IndicatorMatch
	// sinkHole keeps the prefetching loads of MatchBatch from being optimised away
	sinkHole uint64
	// batch mode: exact-key lookups are queued and resolved together (see MatchBatch)
	batch   bool
	cur     int
	outs    [][]socbot.IndicatorMatch
	pending []pendingProbe
}

type pendingProbe struct {
	h                  uint64
	key, observed, why string
	obs                int
}

// Match looks value (an observable of type typ) up for tenantID: the tenant's own indicators and
// the MSSP-wide ones, active (not expired, revoked or filtered) only. IPs also match covering CIDRs,
// domains match their parent domains' indicators, URLs match exactly and through their host, e-mail
// addresses exactly and through their domain. Sources and Tags of the results are shared: do not
// modify them.
func (m *Matcher) Match(tenantID string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	var q query
	m.initQuery(&q, tenantID)
	q.dispatch(typ, value)
	return q.out
}

// initQuery points q at the current levels, newest first (held in an array inside q, no slice into
// itself, so that q stays on the caller's stack).
func (m *Matcher) initQuery(q *query, tenantID string) {
	l := m.state.Load()
	q.m, q.l, q.tenant = m, l, tenantID
	n := 0
	for i := len(l.deltas) - 1; i >= 0 && n < len(q.lvs)-1; i-- {
		q.lvs[n] = l.deltas[i]
		n++
	}
	q.lvs[n] = l.base
	q.nlv = n + 1
}

// MatchBatch looks up many observables of one tenant at once; the result's i-th element holds the hits
// of obs[i] (nil for none). It finds exactly what Match finds, but queues every hash-table probe of the
// batch first and resolves them in passes (Bloom filter words, then slots, then records), so that the
// processor overlaps the memory accesses of many lookups instead of waiting for each in turn. Triage
// (an alert's observables) and monitor (a batch of log events) should use it.
func (m *Matcher) MatchBatch(tenantID string, obs []socbot.Observable) [][]socbot.IndicatorMatch {
	var q query
	m.initQuery(&q, tenantID)
	q.batch = true
	q.outs = make([][]socbot.IndicatorMatch, len(obs))
	q.pending = make([]pendingProbe, 0, len(obs)*3)
	for i, o := range obs {
		q.cur = i
		q.dispatch(o.Type, o.Value)
	}
	base := q.l.base
	if len(base.slots) > 0 {
		// pass 1: filter words; pass 2: first slots of the survivors; then resolve
		keep := q.pending[:0]
		for _, p := range q.pending {
			fb := filterBits(p.h)
			if base.filter[(p.h>>20)&base.fmask]&fb == fb || q.nlv > 1 {
				keep = append(keep, p)
			}
		}
		var sink uint64
		slot := make([]uint64, len(keep))
		for i := range keep {
			slot[i] = base.slots[keep[i].h&base.mask]
		}
		// pass 3: the records of first slots whose tag matches
		for i, s := range slot {
			if s != 0 && s>>32 == keep[i].h>>32 {
				sink += uint64(base.recs[int32(uint32(s))-1].hlo)
			}
		}
		q.sinkHole = sink
		q.pending = keep
	}
	q.batch = false
	for _, p := range q.pending {
		q.cur = p.obs
		q.lookup(p.h, p.key, p.observed, p.why)
	}
	return q.outs
}

func (q *query) dispatch(typ socbot.ObservableType, value string) {
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
	// the canonical form is the hit's Value; an IPv4 address that parsed is already canonical, and
	// formatting an IPv6 one beats reading the arena
	canon := strings.TrimSpace(v)
	if !a.Is4() || strings.IndexByte(canon, ':') >= 0 {
		canon = a.String()
	}
	q.lookup(h, canon, observed, why)
	// CIDR containment, delta first
	for li := 0; li < q.nlv; li++ {
		ix := q.lvs[li]
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
			q.chain(li, r, "", observed, whyCIDR)
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
	n := v
	if !ioc.IsNormalURL(v) {
		n = ioc.NormalizeURL(v)
	}
	q.exact(kURL, n, v, "exact")
	host := ioc.URLHost(n)
	if host == "" {
		return
	}
	if c := host[0]; c >= '0' && c <= '9' || strings.IndexByte(host, ':') >= 0 {
		if _, err := netip.ParseAddr(host); err == nil {
			q.ip(host, v, "url_host", "url_host_cidr")
			return
		}
	}
	q.domain(host, v, "url_host", "url_host")
}

func (q *query) exact(class uint64, key, observed, why string) {
	q.lookup(keyHashString(class, key), key, observed, why)
}

// lookup probes every level for one key; key is the canonical value when the caller has it as a
// string (it then becomes the hit's Value without copying from the arena).
func (q *query) lookup(h uint64, key, observed, why string) {
	if q.batch {
		q.pending = append(q.pending, pendingProbe{h: h, key: key, observed: observed, why: why, obs: q.cur})
		return
	}
	for li := 0; li < q.nlv; li++ {
		if r := q.lvs[li].probe(h); r >= 0 {
			q.chain(li, r, key, observed, why)
		}
	}
}

// chain reports every acceptable record of one key's tenant chain in level li.
func (q *query) chain(li int, head int32, key, observed, why string) {
	ix := q.lvs[li]
	t := q.tenantOf(ix)
	for r := head; r >= 0; r = ix.recs[r].next {
		x := &ix.recs[r]
		if x.tenant != 0 && x.tenant != t {
			continue
		}
		if li > 0 && q.shadowed(li, r) {
			continue
		}
		if x.dead != 0 {
			continue
		}
		q.hit(ix, r, key, observed, why)
	}
}

// shadowed reports whether a level newer than li holds a version of record r of level li.
func (q *query) shadowed(li int, r int32) bool {
	base := q.lvs[li]
	x := &base.recs[r]
	tn := base.tnames[x.tenant]
	t := ioc.Types[x.typ]
	v := base.value(r)
	class := classOf(t)
	var h uint64
	var p netip.Prefix
	if t == ioc.CIDR {
		var err error
		if p, err = netip.ParsePrefix(string(v)); err != nil {
			return false
		}
	} else {
		h = base.recHash(r, class)
	}
	for _, d := range q.lvs[:li] {
		dt, ok := d.tenants[tn]
		if !ok {
			continue
		}
		dr := int32(-1)
		if t == ioc.CIDR {
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
			dr = d.probe(h)
		}
		for ; dr >= 0; dr = d.recs[dr].next {
			if d.recs[dr].tenant == dt {
				return true
			}
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
	var idb [47]byte
	copy(idb[:], "indicator--")
	hex.Encode(idb[11:19], x.id[0:4])
	idb[19] = '-'
	hex.Encode(idb[20:24], x.id[4:6])
	idb[24] = '-'
	hex.Encode(idb[25:29], x.id[6:8])
	idb[29] = '-'
	hex.Encode(idb[30:34], x.id[8:10])
	idb[34] = '-'
	hex.Encode(idb[35:47], x.id[10:16])
	id := string(idb[:])
	if key == "" {
		key = string(ix.value(r))
	}
	md := ix.metas[x.meta]
	hm := socbot.IndicatorMatch{
		IndicatorID: id, Type: string(ioc.Types[x.typ]), Value: key, Matched: observed,
		Why: why, Score: score, Sources: md.sources, TLP: TLP(x.tlp).String(), Tags: md.tags, TenantID: ix.tnames[x.tenant],
	}
	if q.outs != nil {
		q.outs[q.cur] = append(q.outs[q.cur], hm)
		return
	}
	q.out = append(q.out, hm)
}
