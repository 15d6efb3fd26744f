package intel

import (
	"context"
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Matcher is the live match index: an immutable base index plus a few small immutable delta levels
// holding the changes since the base was built (new, changed and removed indicators), newest last.
// Lookups are lock-free (one atomic load) and probe every level, a newer level's record hiding an
// older level's record of the same tenant and value. Apply adds one level per batch and merges the
// deltas when there are too many (size-tiered, so a bulk load costs O(n log n), not O(n²)); Reset
// swaps in a new base. It implements socbot.IndicatorMatcher.
//
// Lookup and LookupBatch are the allocation-free forms: they write compact Hits into the caller's
// buffer; Hit.Match turns one into a socbot.IndicatorMatch when the details are wanted.
type Matcher struct {
	state  atomic.Pointer[layers]
	clock  socbot.Clock
	coarse atomic.Uint32 // the time lookups age scores at, kept by RunClock; 0: read the clock
	decay  [16]decayParams

	mu     sync.Mutex // serialises writers
	deltas [][]IndexEntry
}

// maxLevels is the number of delta levels at which Apply merges them.
const maxLevels = 6

type layers struct {
	base   *Index
	deltas []*Index // oldest first
}

type decayParams struct {
	life float64 // seconds; 0 = never decays
	inv  float64 // 1/speed
	thr  int
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
		m.decay[i] = decayParams{life: md.Lifetime.Seconds(), inv: 1 / sp, thr: md.Threshold}
	}
	m.state.Store(&layers{base: BuildIndex(nil)})
	return m
}

// RunClock keeps the time that lookups age scores at, reading the clock every interval until ctx
// ends: a lookup then costs no clock read (one costs about 50 ns on a virtual machine, a third of a
// batched lookup). Scores count in seconds and lifetimes in days, so an interval of a fraction of a
// second changes nothing a person could see. Without it, every lookup that hits reads the clock.
func (m *Matcher) RunClock(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer m.coarse.Store(0)
	for {
		m.coarse.Store(toSec(m.clock.Now()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// Why a hit matched.
const (
	whyExact uint8 = iota
	whyCIDR
	whySubdomain
	whyURLHost
	whyURLHostCIDR
	whyEmailDomain
)

var whyNames = [...]string{"exact", "cidr", "subdomain", "url_host", "url_host_cidr", "email_domain"}

// Hit is one match of a lookup: the indicator's record, its current score and why it matched. It
// stays valid (and cheap) after the index has been replaced.
type Hit struct {
	ix    *Index
	rec   int32
	Obs   int32 // the observable's position in a LookupBatch
	Score uint8 // current (decayed) score
	why   uint8
}

// Why is how the hit matched: exact, cidr, subdomain, url_host, url_host_cidr or email_domain.
func (h Hit) Why() string { return whyNames[h.why] }

// Value is the indicator's canonical value.
func (h Hit) Value() string { return string(h.ix.value(h.rec)) }

// Type is the indicator's type.
func (h Hit) Type() ioc.Type { return ioc.Types[h.ix.recs[h.rec].typ] }

// TenantID is the indicator's owner ("" for the MSSP-wide set).
func (h Hit) TenantID() string { return h.ix.tnames[h.ix.recs[h.rec].tenant] }

// TLP is the indicator's marking.
func (h Hit) TLP() TLP { return h.ix.recs[h.rec].tlp() }

// Match is the hit's details (observed is the looked-up value): this allocates, and computes the
// indicator's id.
func (h Hit) Match(observed string) socbot.IndicatorMatch {
	x := &h.ix.recs[h.rec]
	v := h.Value()
	t := ioc.Types[x.typ]
	md := h.ix.metas[x.meta]
	return socbot.IndicatorMatch{IndicatorID: IndicatorID(t, v), Type: string(t), Value: v, Matched: observed, Why: whyNames[h.why],
		Score: int(h.Score), Sources: md.sources, TLP: x.tlp().String(), Tags: md.tags, TenantID: h.ix.tnames[x.tenant]}
}

// query carries one lookup (or one batch). It lives on the caller's stack.
type query struct {
	m      *Matcher
	lvs    [maxLevels + 2]*Index // newest first; the base is last
	nlv    int
	tenant string
	now    uint32 // read from the clock at the first candidate hit
	obs    int32
	out    []Hit
}

// initQuery points q at the current levels, newest first.
func (m *Matcher) initQuery(q *query, tenantID string, dst []Hit) {
	l := m.state.Load()
	q.m, q.tenant, q.out = m, tenantID, dst
	n := 0
	for i := len(l.deltas) - 1; i >= 0 && n < len(q.lvs)-1; i-- {
		q.lvs[n] = l.deltas[i]
		n++
	}
	q.lvs[n] = l.base
	q.nlv = n + 1
}

// Match looks value (an observable of type typ) up for tenantID: the tenant's own indicators and
// the MSSP-wide ones, active (not expired, revoked or filtered) only. IPs also match covering CIDRs,
// domains match their parent domains' indicators, URLs match exactly and through their host, e-mail
// addresses exactly and through their domain. Sources and Tags of the results are shared: do not
// modify them.
func (m *Matcher) Match(tenantID string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	var buf [4]Hit
	hits := m.Lookup(buf[:0], tenantID, typ, value)
	if len(hits) == 0 {
		return nil
	}
	out := make([]socbot.IndicatorMatch, len(hits))
	for i, h := range hits {
		out[i] = h.Match(value)
	}
	return out
}

// Lookup is Match without allocating: the hits are appended to dst.
func (m *Matcher) Lookup(dst []Hit, tenantID string, typ socbot.ObservableType, value string) []Hit {
	var q query
	m.initQuery(&q, tenantID, dst)
	q.dispatch(typ, value)
	return q.out
}

func (q *query) dispatch(typ socbot.ObservableType, value string) {
	switch typ {
	case socbot.ObsIP, "ipv4", "ipv6":
		q.ip(value, whyExact, whyCIDR)
	case socbot.ObsDomain, socbot.ObsHost:
		q.domain(lowerHost(value), whyExact, whySubdomain)
	case socbot.ObsURL:
		q.url(value)
	case socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256, "sha512":
		q.key(keyHashString(kHash, lowerTrim(value)), whyExact)
	case socbot.ObsEmail:
		q.email(lowerTrim(value))
	case "cve":
		q.key(keyHashString(kCVE, strings.ToUpper(strings.TrimSpace(value))), whyExact)
	case "attack_technique":
		q.key(keyHashString(kTechnique, strings.ToUpper(strings.TrimSpace(value))), whyExact)
	}
}

func lowerHost(v string) string {
	v = lowerTrim(v)
	if len(v) > 0 && v[len(v)-1] == '.' {
		v = v[:len(v)-1]
	}
	return v
}

// parseIPv4 reads a dotted quad (the common case, without netip's generality).
func parseIPv4(s string) (uint32, bool) {
	var a uint32
	parts, n, digits := 0, uint32(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && n == 0 { // no leading zeros
				return 0, false
			}
			n = n*10 + uint32(c-'0')
			digits++
			if n > 255 {
				return 0, false
			}
		case c == '.' && digits > 0 && parts < 3:
			a = a<<8 | n
			parts++
			n, digits = 0, 0
		default:
			return 0, false
		}
	}
	if parts != 3 || digits == 0 {
		return 0, false
	}
	return a<<8 | n, true
}

// ip looks an address up exactly and in the CIDRs; it returns the flags of its key.
func (q *query) ip(v string, why, whyCIDR uint8) uint64 {
	a4, ok := parseIPv4(v)
	if !ok {
		v = strings.TrimSpace(v)
		if a4, ok = parseIPv4(v); !ok {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return 0
			}
			a = a.Unmap()
			if !a.Is4() {
				b := a.As16()
				hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
				flags := q.key(ip6Hash(hi, lo), why)
				for li := 0; li < q.nlv; li++ {
					if ix := q.lvs[li]; ix.prefixes > 0 {
						q.cidrChain(li, ix.cidr6(u128{hi, lo}), whyCIDR)
					}
				}
				return flags
			}
			b := a.As4()
			a4 = binary.BigEndian.Uint32(b[:])
		}
	}
	// the address's bucket is requested first, so that it arrives while the CIDR segments are read
	h := ip4Hash(a4)
	q.lvs[q.nlv-1].prefetchKey(h)
	for li := 0; li < q.nlv; li++ {
		if ix := q.lvs[li]; len(ix.dir4) > 0 {
			q.cidrChain(li, ix.cidr4(a4), whyCIDR)
		}
	}
	return q.key(h, why)
}

// walkable reports whether host has the two labels a domain walk starts from.
func walkable(host string) bool {
	i := strings.LastIndexByte(host, '.')
	return i > 0 && i < len(host)-1
}

// domain walks host's suffixes from the last two labels, further only where an indicator lies
// below; it returns the flags of the first suffix (url, email).
func (q *query) domain(host string, why, whySub uint8) uint64 {
	if !walkable(host) {
		return 0
	}
	i := strings.LastIndexByte(host, '.')
	j := strings.LastIndexByte(host[:i], '.')
	var first uint64
	for n := 0; ; n++ {
		w := whySub
		if j < 0 {
			w = why
		}
		flags := q.key(keyHashString(kDomain, host[j+1:]), w)
		if n == 0 {
			first = flags
		}
		if j < 0 || flags&slotChild == 0 {
			return first
		}
		j = strings.LastIndexByte(host[:j], '.')
	}
}

func (q *query) url(v string) {
	n, host := urlParts(v)
	hu := keyHashString(kURL, n)
	if host == "" {
		q.key(hu, whyExact)
		return
	}
	// the URL's own bucket is requested with the host's: it is needed whenever the host has URL
	// indicators, and arrives meanwhile
	q.lvs[q.nlv-1].prefetchKey(hu)
	var flags uint64
	if c := host[0]; c >= '0' && c <= '9' || strings.IndexByte(host, ':') >= 0 {
		if _, ok := parseIPv4(host); ok {
			flags = q.ip(host, whyURLHost, whyURLHostCIDR)
		} else if _, err := netip.ParseAddr(host); err == nil {
			flags = q.ip(host, whyURLHost, whyURLHostCIDR)
		} else {
			flags = q.domain(host, whyURLHost, whyURLHost)
		}
	} else if walkable(host) {
		flags = q.domain(host, whyURLHost, whyURLHost)
	} else {
		flags = slotURL // nothing to walk: look the URL up
	}
	if flags&slotURL != 0 {
		q.key(hu, whyExact)
	}
}

func (q *query) email(v string) {
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		q.key(keyHashString(kEmail, v), whyExact)
		return
	}
	he := keyHashString(kEmail, v)
	q.lvs[q.nlv-1].prefetchKey(he)
	if !walkable(v[at+1:]) || q.domain(v[at+1:], whyEmailDomain, whyEmailDomain)&slotEmail != 0 {
		q.key(he, whyExact)
	}
}

// key probes every level for one key and reports its acceptable records; it returns the flags the
// levels hold for the key.
func (q *query) key(h uint64, why uint8) uint64 {
	if q.nlv == 1 { // no deltas: the common case
		r, hot, flags := q.lvs[0].find(h)
		if r >= 0 {
			q.head(0, r, hot, nil, why)
		}
		return flags
	}
	var heads [maxLevels + 2]int32
	var hots [maxLevels + 2]uint64
	var flags uint64
	for li := 0; li < q.nlv; li++ {
		r, hot, f := q.lvs[li].find(h)
		heads[li], hots[li] = r, hot
		flags |= f
	}
	for li := 0; li < q.nlv; li++ {
		if heads[li] >= 0 {
			q.head(li, heads[li], hots[li], heads[:li], why)
		}
	}
	return flags
}

// head reports the records of one key in level li from its slot: from the hot word alone when the
// head record is the only one, has no expiry and no newer level holds the key (the common case: no
// record is read), else by reading the chain.
func (q *query) head(li int, r int32, hot uint64, newer []int32, why uint8) {
	slow := hot&(hotChained|hotUntil) != 0
	for _, n := range newer {
		slow = slow || n >= 0
	}
	if slow {
		q.chain(li, r, newer, why)
		return
	}
	ix := q.lvs[li]
	if hot&hotDead != 0 || !q.visible(ix, uint16(hot>>hotTenantShift)) {
		return
	}
	q.score(ix, r, uint8(hot>>hotTypShift&0x0f), int(hot>>hotBaseShift&0x7f), uint32(hot&hotRefMask)*60, why)
}

// visible reports whether a record of tenant number t of ix may be reported to the query's tenant:
// an MSSP-wide record, or one of the tenant's own, compared by name (cheaper than a map lookup,
// whose buckets are seldom in the cache).
func (q *query) visible(ix *Index, t uint16) bool {
	return t == 0 || ix.tnames[t] == q.tenant
}

// chain reports the acceptable records of one key's tenant chain in level li; newer holds the chain
// heads of the same key in the newer levels, whose records hide this level's.
func (q *query) chain(li int, head int32, newer []int32, why uint8) {
	ix := q.lvs[li]
	for r := head; r >= 0; r = ix.recs[r].next {
		x := &ix.recs[r]
		if !q.visible(ix, x.tenant) {
			continue
		}
		if len(newer) > 0 && q.hiddenExact(li, x, newer) {
			continue
		}
		if x.dead() {
			continue
		}
		q.hit(ix, r, why)
	}
}

// hiddenExact reports whether a newer level holds a version (of the same tenant) of record x.
func (q *query) hiddenExact(li int, x *rec, newer []int32) bool {
	tn := q.lvs[li].tnames[x.tenant]
	for lj, head := range newer {
		d := q.lvs[lj]
		for r := head; r >= 0; r = d.recs[r].next {
			if d.tnames[d.recs[r].tenant] == tn {
				return true
			}
		}
	}
	return false
}

// cidrChain reports the covering prefixes from the innermost outwards.
func (q *query) cidrChain(li int, r int32, why uint8) {
	ix := q.lvs[li]
	for ; r >= 0; r = ix.recs[r].parent() {
		for c := r; c >= 0; c = ix.recs[c].next {
			x := &ix.recs[c]
			if !q.visible(ix, x.tenant) {
				continue
			}
			if li > 0 && q.hiddenCIDR(li, c) {
				continue
			}
			if x.dead() {
				continue
			}
			q.hit(ix, c, why)
		}
	}
}

// hiddenCIDR reports whether a level newer than li holds a version of prefix record r of level li.
func (q *query) hiddenCIDR(li int, r int32) bool {
	base := q.lvs[li]
	tn := base.tnames[base.recs[r].tenant]
	v := base.value(r)
	p, err := netip.ParsePrefix(string(v))
	if err != nil {
		return false
	}
	for _, d := range q.lvs[:li] {
		dt, ok := d.tenants[tn]
		if !ok {
			continue
		}
		var c int32
		if p.Addr().Is4() {
			b := p.Addr().As4()
			c = d.cidr4(binary.BigEndian.Uint32(b[:]))
		} else {
			b := p.Addr().As16()
			c = d.cidr6(u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])})
		}
		for ; c >= 0; c = d.recs[c].parent() {
			if string(d.value(c)) != string(v) {
				continue
			}
			for dr := c; dr >= 0; dr = d.recs[dr].next {
				if d.recs[dr].tenant == dt {
					return true
				}
			}
		}
	}
	return false
}

// hit ages record r and reports it when it is still active.
func (q *query) hit(ix *Index, r int32, why uint8) {
	x := &ix.recs[r]
	if x.until != 0 {
		q.clock()
		if q.now > x.until {
			return
		}
	}
	q.score(ix, r, x.typ, int(x.base), x.ref, why)
}

func (q *query) clock() {
	if q.now == 0 {
		if q.now = q.m.coarse.Load(); q.now == 0 {
			q.now = toSec(q.m.clock.Now())
		}
	}
}

// score ages a record of type typ, base score base, last reported or sighted at ref, and reports it
// when it is still active.
func (q *query) score(ix *Index, r int32, typ uint8, base int, ref uint32, why uint8) {
	q.clock()
	p := &q.m.decay[typ]
	score := base
	if p.life > 0 {
		age := float64(int64(q.now) - int64(ref))
		if age >= p.life {
			return
		}
		if age > 0 {
			f := age / p.life
			switch p.inv { // the built-in speeds without math.Pow
			case 1:
			case 0.5:
				f = math.Sqrt(f)
			case 2:
				f *= f
			default:
				f = math.Pow(f, p.inv)
			}
			score = int(math.Round(float64(base) * (1 - f)))
		}
		if score < p.thr || score <= 0 {
			return
		}
	}
	q.out = append(q.out, Hit{ix: ix, rec: r, Obs: q.obs, Score: uint8(score), why: why})
}

// MatchBatch looks up many observables of one tenant at once; the result's i-th element holds the hits
// of obs[i] (nil for none). It finds exactly what Match finds, with the lookups' memory accesses
// overlapped (see LookupBatch). Triage (an alert's observables) and monitor (a batch of log events)
// should use it.
func (m *Matcher) MatchBatch(tenantID string, obs []socbot.Observable) [][]socbot.IndicatorMatch {
	b := batchers.Get().(*Batcher)
	defer batchers.Put(b)
	out := make([][]socbot.IndicatorMatch, len(obs))
	for _, h := range m.LookupBatch(b, tenantID, obs) {
		out[h.Obs] = append(out[h.Obs], h.Match(obs[h.Obs].Value))
	}
	return out
}

var batchers = sync.Pool{New: func() any { return new(Batcher) }}
