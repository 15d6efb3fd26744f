package intel

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"unsafe"

	socbot "github.com/socbot/socbot"
)

// Batched lookups. A single lookup spends most of its time waiting for the one or two cache lines
// it needs (a bucket of the slot table, then a record) to come from memory. LookupBatch runs the
// lookups of a batch in rounds: it first computes every key of the round, then touches every bucket
// line the round needs, then every record those buckets point at, and only then resolves them, so
// that the processor has many independent loads in flight instead of one. Lookups that need a
// further key (the next label of a domain walk, a URL or address after its host) queue it for the
// next round.

// Batcher is the scratch space of LookupBatch. Reuse one per goroutine; it is not safe for
// concurrent use.
type Batcher struct {
	cur  []probe
	hits []Hit
}

type probeKind uint8

const (
	probeKey    probeKind = iota // one key
	probeIP4                     // an IPv4 address: its key and the CIDRs
	probeDomain                  // one step of a domain walk
	probeIP6                     // an IPv6 address: its key and the CIDRs
)

// then says what the first probe of a URL or e-mail lookup leads to.
const (
	thenNone uint8 = iota
	thenURL
	thenEmail
)

type probe struct {
	h           uint64
	str         string // domain walk: the host
	exact       string // thenURL: the normalised URL; thenEmail: the address
	a6          u128   // probeIP6: the address
	obs         int32
	j           int32 // domain walk: the dot before the current suffix (-1: the whole host)
	a4          uint32
	cidr        int32 // probeIP4: the innermost covering prefix in the base level, once known
	cand        int32 // the base level's record of the key (chain head), -1 none, -2 not looked up yet
	hot, flags  uint64
	kind        probeKind
	why, whySub uint8
	then        uint8
}

// batchChunk is how many observables a round covers.
const batchChunk = 256

// How far ahead of its resolution a probe's bucket line and record line are requested: far enough
// for memory to answer (a few hundred nanoseconds), near enough for the lines to stay in the cache.
const (
	aheadRec     = 8
	aheadCIDR    = 16
	aheadResolve = 24
)

// LookupBatch looks up many observables of one tenant at once and returns their hits (Hit.Obs is
// the observable's position), in b's buffer: valid until b is used again. It finds exactly what
// Lookup finds for each observable, overlapping the memory accesses of the whole batch.
func (m *Matcher) LookupBatch(b *Batcher, tenantID string, obs []socbot.Observable) []Hit {
	var q query
	m.initQuery(&q, tenantID, b.hits[:0])
	base := q.lvs[q.nlv-1]
	for start := 0; start < len(obs); start += batchChunk {
		end := min(start+batchChunk, len(obs))
		b.cur = b.cur[:0]
		for i := start; i < end; i++ {
			q.obs = int32(i)
			b.cur = q.plan(b.cur, obs[i].Type, obs[i].Value)
		}
		if len(base.slots) == 0 {
			for k := 0; k < len(b.cur); k++ {
				b.cur = q.resolve(b.cur, k)
			}
			continue
		}
		// software pipeline over a queue that grows: before probe r is resolved, its bucket line
		// was requested aheadResolve probes earlier, its record (found in the arrived bucket) and
		// its /16 segments aheadRec probes after that, and its covering prefix's record
		// aheadCIDR probes after that; resolving may queue the next probe of a lookup at the end,
		// which goes through the same stages
		sa, sb, sc := 0, 0, 0
		for r := 0; r < len(b.cur); r++ {
			for ; sa < len(b.cur) && sa <= r+aheadResolve; sa++ {
				p := &b.cur[sa]
				base.prefetchKey(p.h)
				if p.kind == probeIP4 && len(base.dir4) > 0 {
					prefetch(uintptr(unsafe.Pointer(&base.dir4[p.a4>>16])))
				}
			}
			for ; sb < sa && sb <= r+aheadResolve-aheadRec; sb++ {
				p := &b.cur[sb]
				p.cand, p.hot, p.flags = base.find(p.h)
				if p.cand >= 0 && p.hot&(hotChained|hotUntil) != 0 {
					prefetch(uintptr(unsafe.Pointer(&base.recs[p.cand]))) // the records will be read
				}
				if p.kind == probeIP4 && len(base.dir4) > 0 {
					if d := base.dir4[p.a4>>16]; d&dirCarry == 0 {
						prefetch(uintptr(unsafe.Pointer(&base.seg4[d])))
					}
				}
			}
			for ; sc < sb && sc <= r+aheadResolve-aheadCIDR; sc++ {
				if p := &b.cur[sc]; p.kind == probeIP4 && len(base.dir4) > 0 {
					p.cidr = base.cidr4(p.a4)
					if p.cidr >= 0 {
						prefetch(uintptr(unsafe.Pointer(&base.recs[p.cidr])))
					}
				}
			}
			b.cur = q.resolve(b.cur, r)
		}
	}
	b.hits = q.out
	return q.out
}

// plan computes the first probe of an observable.
func (q *query) plan(ps []probe, typ socbot.ObservableType, value string) []probe {
	switch typ {
	case socbot.ObsIP, "ipv4", "ipv6":
		return q.planIP(ps, value, whyExact, whyCIDR, thenNone, "")
	case socbot.ObsDomain, socbot.ObsHost:
		return q.planDomain(ps, lowerHost(value), whyExact, whySubdomain, thenNone, "")
	case socbot.ObsURL:
		n, host := urlParts(value)
		switch {
		case host == "":
			return append(ps, probe{kind: probeKey, h: keyHashString(kURL, n), cand: -2, obs: q.obs, why: whyExact})
		case host[0] >= '0' && host[0] <= '9' || strings.IndexByte(host, ':') >= 0:
			if _, ok := parseIPv4(host); ok {
				return q.planIP(ps, host, whyURLHost, whyURLHostCIDR, thenURL, n)
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return q.planIP(ps, host, whyURLHost, whyURLHostCIDR, thenURL, n)
			}
		}
		return q.planDomain(ps, host, whyURLHost, whyURLHost, thenURL, n)
	case socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256, "sha512":
		return append(ps, probe{kind: probeKey, h: keyHashString(kHash, lowerTrim(value)), cand: -2, obs: q.obs, why: whyExact})
	case socbot.ObsEmail:
		v := lowerTrim(value)
		at := strings.LastIndexByte(v, '@')
		if at < 0 {
			return append(ps, probe{kind: probeKey, h: keyHashString(kEmail, v), cand: -2, obs: q.obs, why: whyExact})
		}
		return q.planDomain(ps, v[at+1:], whyEmailDomain, whyEmailDomain, thenEmail, v)
	case "cve":
		return append(ps, probe{kind: probeKey, h: keyHashString(kCVE, strings.ToUpper(strings.TrimSpace(value))), cand: -2, obs: q.obs, why: whyExact})
	case "attack_technique":
		return append(ps, probe{kind: probeKey, h: keyHashString(kTechnique, strings.ToUpper(strings.TrimSpace(value))), cand: -2, obs: q.obs, why: whyExact})
	}
	return ps
}

// planIP is the probe of an address (IPv4 or IPv6).
func (q *query) planIP(ps []probe, v string, why, whyCIDR, then uint8, exact string) []probe {
	a4, ok := parseIPv4(v)
	if !ok {
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return ps
		}
		if a = a.Unmap(); !a.Is4() {
			b := a.As16()
			a6 := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
			return append(ps, probe{kind: probeIP6, h: ip6Hash(a6.hi, a6.lo), a6: a6, cand: -2, obs: q.obs, why: why, whySub: whyCIDR, then: then, exact: exact})
		}
		b := a.As4()
		a4 = binary.BigEndian.Uint32(b[:])
	}
	return append(ps, probe{kind: probeIP4, h: ip4Hash(a4), a4: a4, cidr: -1, cand: -2, obs: q.obs, why: why, whySub: whyCIDR, then: then, exact: exact})
}

// planDomain is the first step of a domain walk: the last two labels.
func (q *query) planDomain(ps []probe, host string, why, whySub, then uint8, exact string) []probe {
	_, j, ok := lastTwoDots(host)
	if !ok {
		if then == thenURL || then == thenEmail {
			// no walk, but the URL or address itself may be an indicator
			return append(ps, probe{kind: probeKey, h: exactHash(then, exact), cand: -2, obs: q.obs, why: whyExact})
		}
		return ps
	}
	return append(ps, probe{kind: probeDomain, h: keyHashString(kDomain, host[j+1:]), str: host, j: int32(j), cand: -2, obs: q.obs,
		why: why, whySub: whySub, then: then, exact: exact})
}

func exactHash(then uint8, v string) uint64 {
	if then == thenEmail {
		return keyHashString(kEmail, v)
	}
	return keyHashString(kURL, v)
}

// probeKey is key for a probe whose base-level bucket the pipeline has already examined.
func (q *query) probeKey(p *probe, why uint8) uint64 {
	if q.nlv > 1 || p.cand == -2 {
		return q.key(p.h, why)
	}
	if p.cand >= 0 {
		q.head(0, p.cand, p.hot, nil, why)
	}
	return p.flags
}

// resolve finishes probe k of the queue (its lines are in the caches now) and queues what it leads
// to at the end.
func (q *query) resolve(queue []probe, k int) []probe {
	p := &queue[k]
	q.obs = p.obs
	var flags uint64
	switch p.kind { // the pipeline has scanned the probe's bucket (cand, flags) and found its CIDR
	case probeKey:
		q.probeKey(p, p.why)
		return queue
	case probeIP4:
		flags = q.probeKey(p, p.why)
		for li := 0; li < q.nlv; li++ {
			ix := q.lvs[li]
			if len(ix.dir4) == 0 {
				continue
			}
			c := p.cidr
			if li < q.nlv-1 || c < 0 {
				c = ix.cidr4(p.a4) // the deltas', and the base's when the pipeline did not compute it
			}
			q.cidrChain(li, c, p.whySub)
		}
	case probeIP6:
		flags = q.probeKey(p, p.why)
		for li := 0; li < q.nlv; li++ {
			if ix := q.lvs[li]; ix.prefixes > 0 {
				q.cidrChain(li, ix.cidr6(p.a6), p.whySub)
			}
		}
	case probeDomain:
		w := p.whySub
		if p.j < 0 {
			w = p.why
		}
		flags = q.probeKey(p, w)
		if p.j >= 0 && flags&slotChild != 0 {
			str, j, why, whySub, obs := p.str, int(p.j), p.why, p.whySub, p.obs
			j = strings.LastIndexByte(str[:j], '.')
			queue = append(queue, probe{kind: probeDomain, h: keyHashString(kDomain, str[j+1:]), str: str, j: int32(j), cand: -2, obs: obs,
				why: why, whySub: whySub})
			p = &queue[k]
		}
	}
	if p.then == thenURL && flags&slotURL != 0 || p.then == thenEmail && flags&slotEmail != 0 {
		queue = append(queue, probe{kind: probeKey, h: exactHash(p.then, p.exact), cand: -2, obs: p.obs, why: whyExact})
	}
	return queue
}
