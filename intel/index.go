package intel

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/google/uuid"
	"github.com/socbot/socbot/ioc"
)

// The match index. Every exact-match indicator (IP, domain, URL, e-mail, hash, CVE, technique) is one
// 32-byte record in a flat slice, its value stored once in a byte arena, and found through one
// open-addressing table of 8-byte slots (32 bits of the 64-bit xxhash as a tag, 32 bits of record
// number) with linear probing at a load factor of at most 2/3. CIDRs are flattened into sorted,
// non-overlapping segments (IPv4 and IPv6 separately) that point at the innermost covering prefix;
// enclosing prefixes are reached through a parent link, which works because CIDRs nest or are
// disjoint. Domains match their subdomains: an observed name is looked up label by label from the
// registrable suffix towards the full name. Records of several tenants with the same value are
// chained, so a lookup costs one probe whatever the number of tenants.

// IndexEntry is what the index needs of an indicator.
type IndexEntry struct {
	TenantID string
	Type     ioc.Type
	Value    string // canonical
	Base     int    // base score before ageing
	Ref      time.Time
	Until    time.Time // source expiry, zero for none
	TLP      TLP
	Sources  []string
	Tags     []string
	Dead     bool // a tombstone: in a delta index it hides the base record
}

type rec struct {
	off    uint32 // value in the arena
	vlen   uint16
	typ    uint8 // index in ioc.Types
	tlp    uint8
	tenant uint16
	base   uint8
	dead   uint8
	ref    uint32 // seconds since epoch2000
	until  uint32
	meta   uint32 // index into metas
	next   int32  // next record with the same key (another tenant), -1
	parent int32  // CIDR: the enclosing prefix's first record, -1
	hlo    uint32 // low 32 bits of the key hash (the slot holds the high 32)
	id     [16]byte
}

const recSize = 56

const epoch2000 = 946684800

func toSec(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix() - epoch2000
	if s < 1 {
		return 1
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

// key classes: the same string under two classes are two keys.
const (
	kIP uint64 = iota + 1
	kDomain
	kURL
	kEmail
	kHash
	kCVE
	kTechnique
)

func classOf(t ioc.Type) uint64 {
	switch t {
	case ioc.IPv4, ioc.IPv6:
		return kIP
	case ioc.Domain:
		return kDomain
	case ioc.URL:
		return kURL
	case ioc.Email:
		return kEmail
	case ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		return kHash
	case ioc.CVE:
		return kCVE
	case ioc.AttackTechnique:
		return kTechnique
	}
	return 0
}

func keyHash(class uint64, b []byte) uint64 {
	return xxhash.Sum64(b) ^ (class * 0x9E3779B97F4A7C15)
}

func keyHashString(class uint64, s string) uint64 {
	return xxhash.Sum64String(s) ^ (class * 0x9E3779B97F4A7C15)
}

// ipKey is the hashed form of an address: 4 bytes for IPv4, 16 for IPv6.
func ipKey(a netip.Addr, buf *[16]byte) []byte {
	if a.Is4() {
		b := a.As4()
		copy(buf[:4], b[:])
		return buf[:4]
	}
	*buf = a.As16()
	return buf[:16]
}

type meta struct {
	sources []string
	tags    []string
}

// Index is an immutable match index. Build it with BuildIndex.
type Index struct {
	recs    []rec
	arena   []byte
	slots   []uint64
	mask    uint64
	filter  []uint64 // one-word blocked Bloom filter of every exact key: most absent keys stop here, in cache
	fmask   uint64
	metas   []meta
	tenants map[string]uint16
	tnames  []string

	seg4     []uint32 // segment starts (IPv4)
	seg4rec  []int32
	seg4dir  []uint32 // seg4dir[b] = first segment whose start is >= b<<16 (65537 entries when seg4 is not empty)
	seg6hi   []uint64
	seg6lo   []uint64
	seg6rec  []int32
	prefixes int
}

// BuildIndex builds an index from entries. Entries with the same tenant, type class and value are
// expected to be unique (the engine dedupes); a later duplicate replaces an earlier one.
func BuildIndex(entries []IndexEntry) *Index {
	ix := &Index{tenants: map[string]uint16{"": 0}, tnames: []string{""}}
	metaIdx := map[string]uint32{}
	exact := 0
	for i := range entries {
		if entries[i].Type != ioc.CIDR {
			exact++
		}
	}
	size := uint64(1) << bits.Len64(uint64(exact+exact/2+16))
	ix.slots = hugeSlice[uint64](ix, int(size))
	ix.mask = size - 1
	fsize := uint64(1) << bits.Len64(uint64(exact/4+1)) // 16 to 32 bits per key
	ix.filter = hugeSlice[uint64](ix, int(fsize))
	ix.fmask = fsize - 1
	ix.recs = hugeSlice[rec](ix, len(entries))[:0]
	arenaSize := 0
	for i := range entries {
		arenaSize += len(entries[i].Value)
	}
	ix.arena = make([]byte, 0, arenaSize)
	var cidrs []cidrItem
	var kb [16]byte
	lastMeta := -1
	var lastSources, lastTags []string
	for i := range entries {
		e := &entries[i]
		ti, ok := ix.tenants[e.TenantID]
		if !ok {
			ti = uint16(len(ix.tnames))
			ix.tenants[e.TenantID] = ti
			ix.tnames = append(ix.tnames, e.TenantID)
		}
		var mi uint32
		if lastMeta >= 0 && sameStrings(e.Sources, lastSources) && sameStrings(e.Tags, lastTags) {
			mi = uint32(lastMeta) // feeds give long runs of entries with the same sources and tags
		} else {
			mk := strings.Join(e.Sources, "\x00") + "\x01" + strings.Join(e.Tags, "\x00")
			var ok bool
			mi, ok = metaIdx[mk]
			if !ok {
				mi = uint32(len(ix.metas))
				metaIdx[mk] = mi
				ix.metas = append(ix.metas, meta{sources: e.Sources, tags: e.Tags})
			}
			lastMeta, lastSources, lastTags = int(mi), e.Sources, e.Tags
		}
		base := e.Base
		if base < 0 {
			base = 0
		}
		if base > 100 {
			base = 100
		}
		r := rec{off: uint32(len(ix.arena)), vlen: uint16(min(len(e.Value), math.MaxUint16)), typ: uint8(typeIdx(e.Type)),
			tlp: uint8(e.TLP), tenant: ti, base: uint8(base), ref: toSec(e.Ref), until: toSec(e.Until), meta: mi,
			next: -1, parent: -1}
		if e.Dead {
			r.dead = 1
		}
		r.id = uuid.NewSHA1(indicatorNamespace, []byte(string(e.Type)+":"+e.Value))
		ix.arena = append(ix.arena, e.Value[:r.vlen]...)
		idx := int32(len(ix.recs))
		ix.recs = append(ix.recs, r)
		if e.Type == ioc.CIDR {
			p, err := netip.ParsePrefix(e.Value)
			if err != nil {
				continue
			}
			cidrs = append(cidrs, cidrItem{p: p.Masked(), rec: idx})
			continue
		}
		class := classOf(e.Type)
		var key []byte
		if class == kIP {
			a, err := netip.ParseAddr(e.Value)
			if err != nil {
				continue
			}
			key = ipKey(a.Unmap(), &kb)
		} else {
			key = ix.arena[r.off : r.off+uint32(r.vlen)]
		}
		h := keyHash(class, key)
		ix.recs[idx].hlo = uint32(h)
		ix.filter[(h>>20)&ix.fmask] |= filterBits(h)
		ix.insert(h, idx, class)
	}
	ix.buildCIDR(cidrs)
	return ix
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) > 0 && &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type cidrItem struct {
	p   netip.Prefix
	rec int32
}

func typeIdx(t ioc.Type) int {
	for i, k := range ioc.Types {
		if k == t {
			return i
		}
	}
	return 0
}

// insert adds record idx under hash h; a record with the same key and tenant is replaced, another
// tenant's is chained.
func (ix *Index) insert(h uint64, idx int32, class uint64) {
	tag := h >> 32
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			ix.slots[i] = tag<<32 | uint64(idx+1)
			return
		}
		if s>>32 != tag {
			continue
		}
		head := int32(uint32(s)) - 1
		if ix.recs[head].hlo != uint32(h) {
			continue
		}
		// same key: replace the record of the same tenant, else chain
		prev := int32(-1)
		for r := head; r >= 0; prev, r = r, ix.recs[r].next {
			if ix.recs[r].tenant == ix.recs[idx].tenant {
				ix.recs[idx].next = ix.recs[r].next
				if prev < 0 {
					ix.slots[i] = tag<<32 | uint64(idx+1)
				} else {
					ix.recs[prev].next = idx
				}
				return
			}
		}
		ix.recs[idx].next = head
		ix.slots[i] = tag<<32 | uint64(idx+1)
		return
	}
}

func (ix *Index) value(r int32) []byte {
	x := &ix.recs[r]
	return ix.arena[x.off : x.off+uint32(x.vlen)]
}

// buildCIDR flattens the prefixes into segments. Prefixes are laminar (nested or disjoint), so a
// sweep in (start, shorter first) order with a stack of open prefixes yields, for every address
// range, the innermost covering prefix.
func (ix *Index) buildCIDR(items []cidrItem) {
	ix.prefixes = len(items)
	var v4, v6 []cidrItem
	for _, it := range items {
		if it.p.Addr().Is4() {
			v4 = append(v4, it)
		} else {
			v6 = append(v6, it)
		}
	}
	ix.seg4, ix.seg4rec = ix.sweep4(v4)
	if len(ix.seg4) > 0 {
		ix.seg4dir = make([]uint32, 1<<16+1)
		j := 0
		for b := 0; b <= 1<<16; b++ {
			for j < len(ix.seg4) && uint64(ix.seg4[j]) < uint64(b)<<16 {
				j++
			}
			ix.seg4dir[b] = uint32(j)
		}
	}
	ix.seg6hi, ix.seg6lo, ix.seg6rec = ix.sweep6(v6)
}

// dedupe chains same-prefix records of different tenants and returns one item per prefix.
func (ix *Index) dedupePrefixes(items []cidrItem) []cidrItem {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].p, items[j].p
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	out := items[:0]
	for _, it := range items {
		if n := len(out); n > 0 && out[n-1].p == it.p {
			head := out[n-1].rec
			// replace same tenant, else chain in front
			replaced := false
			for r := head; r >= 0; r = ix.recs[r].next {
				if ix.recs[r].tenant == ix.recs[it.rec].tenant {
					next := ix.recs[r].next
					ix.recs[r] = ix.recs[it.rec]
					ix.recs[r].next = next
					replaced = true
					break
				}
			}
			if !replaced {
				ix.recs[it.rec].next = head
				out[n-1].rec = it.rec
			}
			continue
		}
		out = append(out, it)
	}
	return out
}

func (ix *Index) setParent(head, parent int32) {
	for r := head; r >= 0; r = ix.recs[r].next {
		ix.recs[r].parent = parent
	}
}

func (ix *Index) sweep4(items []cidrItem) ([]uint32, []int32) {
	items = ix.dedupePrefixes(items)
	type open struct {
		end uint64 // exclusive
		rec int32
	}
	var starts []uint32
	var recs []int32
	emit := func(at uint64, r int32) {
		if at > math.MaxUint32 {
			return
		}
		if n := len(starts); n > 0 && uint64(starts[n-1]) == at {
			recs[n-1] = r
			return
		}
		if n := len(recs); n > 0 && recs[n-1] == r {
			return
		}
		starts = append(starts, uint32(at))
		recs = append(recs, r)
	}
	var stack []open
	cur := func() int32 {
		if len(stack) == 0 {
			return -1
		}
		return stack[len(stack)-1].rec
	}
	for _, it := range items {
		b := it.p.Addr().As4()
		start := uint64(binary.BigEndian.Uint32(b[:]))
		end := start + 1<<(32-it.p.Bits())
		for len(stack) > 0 && stack[len(stack)-1].end <= start {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			emit(top.end, cur())
		}
		if len(stack) > 0 {
			ix.setParent(it.rec, stack[len(stack)-1].rec)
		}
		stack = append(stack, open{end: end, rec: it.rec})
		emit(start, it.rec)
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		emit(top.end, cur())
	}
	return starts, recs
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) addPow(n int) (u128, bool) { // a + 2^n, overflow flag
	if n >= 64 {
		hi, c := bits.Add64(a.hi, 1<<(n-64), 0)
		return u128{hi, a.lo}, c != 0
	}
	lo, c := bits.Add64(a.lo, 1<<n, 0)
	hi, c2 := bits.Add64(a.hi, 0, c)
	return u128{hi, lo}, c2 != 0
}

func (ix *Index) sweep6(items []cidrItem) ([]uint64, []uint64, []int32) {
	items = ix.dedupePrefixes(items)
	type open struct {
		end u128
		ovf bool // end is 2^128
		rec int32
	}
	var hi, lo []uint64
	var recs []int32
	emit := func(at u128, ovf bool, r int32) {
		if ovf {
			return
		}
		if n := len(hi); n > 0 && hi[n-1] == at.hi && lo[n-1] == at.lo {
			recs[n-1] = r
			return
		}
		if n := len(recs); n > 0 && recs[n-1] == r {
			return
		}
		hi, lo, recs = append(hi, at.hi), append(lo, at.lo), append(recs, r)
	}
	var stack []open
	cur := func() int32 {
		if len(stack) == 0 {
			return -1
		}
		return stack[len(stack)-1].rec
	}
	le := func(o open, x u128) bool { return !o.ovf && !x.less(o.end) }
	for _, it := range items {
		b := it.p.Addr().As16()
		start := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
		end, ovf := start.addPow(128 - it.p.Bits())
		for len(stack) > 0 && le(stack[len(stack)-1], start) {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			emit(top.end, top.ovf, cur())
		}
		if len(stack) > 0 {
			ix.setParent(it.rec, stack[len(stack)-1].rec)
		}
		stack = append(stack, open{end: end, ovf: ovf, rec: it.rec})
		emit(start, false, it.rec)
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		emit(top.end, top.ovf, cur())
	}
	return hi, lo, recs
}

// Len is the number of records (including tombstones).
func (ix *Index) Len() int { return len(ix.recs) }

// MemoryBytes reports the index's own memory (tables, records, segments, tenant and meta tables)
// and, separately, the arena that holds the values themselves.
func (ix *Index) MemoryBytes() (structure, values int) {
	structure = len(ix.slots)*8 + len(ix.filter)*8 + cap(ix.recs)*recSize + len(ix.seg4)*4 + len(ix.seg4rec)*4 + len(ix.seg4dir)*4 +
		len(ix.seg6hi)*8 + len(ix.seg6lo)*8 + len(ix.seg6rec)*4
	for _, m := range ix.metas {
		structure += 48
		for _, s := range m.sources {
			structure += 16 + len(s)
		}
		for _, s := range m.tags {
			structure += 16 + len(s)
		}
	}
	structure += len(ix.tnames) * 48
	return structure, cap(ix.arena)
}

// probe returns the first record whose key hash equals h, or -1. Keys are identified by their full
// 64-bit xxhash (32 bits in the slot, 32 in the record): with n indicators a lookup meets a false match
// with probability about n/2^64 (one in 3.7 trillion lookups at 5 million indicators), which saves
// reading the value from the arena on every probe.
func (ix *Index) probe(h uint64) int32 {
	if ix == nil || len(ix.slots) == 0 {
		return -1
	}
	if fb := filterBits(h); ix.filter[(h>>20)&ix.fmask]&fb != fb {
		return -1
	}
	tag := h >> 32
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			return -1
		}
		if s>>32 != tag {
			continue
		}
		r := int32(uint32(s)) - 1
		if ix.recs[r].hlo == uint32(h) {
			return r
		}
	}
}

func filterBits(h uint64) uint64 {
	return 1<<(h&63) | 1<<((h>>6)&63) | 1<<((h>>12)&63)
}

// recHash recomputes the key hash of record r (of key class class).
func (ix *Index) recHash(r int32, class uint64) uint64 {
	v := ix.value(r)
	if class == kIP {
		a, err := netip.ParseAddr(string(v))
		if err != nil {
			return 0
		}
		var kb [16]byte
		return keyHash(kIP, ipKey(a.Unmap(), &kb))
	}
	return keyHash(class, v)
}

// cidr4 returns the innermost prefix record covering a, or -1.
func (ix *Index) cidr4(a uint32) int32 {
	if len(ix.seg4) == 0 {
		return -1
	}
	// the /16 directory narrows the search to the segments starting in a's /16
	lo, hi := int(ix.seg4dir[a>>16]), int(ix.seg4dir[a>>16+1])
	for lo < hi { // first start > a
		mid := int(uint(lo+hi) >> 1)
		if ix.seg4[mid] > a {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == 0 {
		return -1
	}
	return ix.seg4rec[lo-1]
}

func (ix *Index) cidr6(a u128) int32 {
	hi, lo := ix.seg6hi, ix.seg6lo
	i := sort.Search(len(hi), func(i int) bool { return a.less(u128{hi[i], lo[i]}) }) - 1
	if i < 0 {
		return -1
	}
	return ix.seg6rec[i]
}
