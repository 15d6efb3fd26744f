package intel

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/socbot/socbot/ioc"
)

// The match index. Every exact-match indicator (IP, domain, URL, e-mail, hash, CVE, technique) is one
// 32-byte record in a flat slice, its value stored once in a byte arena, and found through one
// open-addressing table of 8-byte slots grouped in 64-byte buckets (one cache line): a lookup reads
// one line, and a hit one record more. A slot holds 29 bits of the key's 64-bit hash as a tag,
// three flags and the record number; the record keeps the low 32 bits of the hash, so a hit is
// verified on 61 bits without reading the value.
//
// The flags make lookups that walk several keys stop early. Domains match their subdomains and are
// looked up label by label from the right, starting at the last two labels; every proper suffix (of
// two labels or more) of a domain indicator carries a "child" flag, so the walk goes on only where
// there is something deeper: a random name costs one probe. The last-two-label suffix of every URL
// indicator's host (or the host address) carries a "url" flag and that of every e-mail indicator's
// domain an "email" flag, so that a URL or an address is looked up exactly only when its host or
// domain has such indicators: the common URL lookup is one probe too.
//
// CIDRs are flattened into sorted, non-overlapping segments (IPv4 and IPv6 separately) that point at
// the innermost covering prefix; enclosing prefixes are reached through a parent link, which works
// because CIDRs nest or are disjoint. IPv4 segments are found through a directory of the /16s that
// also knows the prefix covering each /16's first address, so a /16 where no segment starts needs no
// search. Records of several tenants with the same value are chained, so a lookup costs the same
// whatever the number of tenants.

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

// rec is one indicator of the index (32 bytes).
type rec struct {
	off    uint32 // value in the arena
	vlen   uint16
	typ    uint8 // index in ioc.Types
	flags  uint8 // TLP (low 3 bits) | recDead
	tenant uint16
	base   uint8
	_      uint8
	ref    uint32 // seconds since epoch2000, whole minutes (lookups age scores by the minute)
	until  uint32
	meta   uint32 // index into metas
	next   int32  // next record with the same key (another tenant), -1
	aux    uint32 // exact records: the low 32 bits of the key hash; CIDR records: the enclosing prefix's record + 1
}

const recSize = 32

const recDead = 0x08

func (x *rec) tlp() TLP      { return TLP(x.flags & 0x07) }
func (x *rec) dead() bool    { return x.flags&recDead != 0 }
func (x *rec) parent() int32 { return int32(x.aux) - 1 }

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

func keyHashString(class uint64, s string) uint64 {
	return xxhash.Sum64String(s) ^ (class * 0x9E3779B97F4A7C15)
}

// mix64 is the splitmix64 finaliser: cheap, and every output bit depends on every input bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// ip4Hash and ip6Hash are the keys of addresses (IPv4-mapped IPv6 addresses are unmapped first).
func ip4Hash(a uint32) uint64 { return mix64(uint64(a) | kIP<<40) }

func ip6Hash(hi, lo uint64) uint64 { return mix64(hi ^ mix64(lo^kIP*0x9E3779B97F4A7C15)) }

func ipHash(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return ip4Hash(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return ip6Hash(binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]))
}

// slot is one entry of the hash table (16 bytes; four make a 64-byte bucket). key holds the tag (29
// bits of the key's hash), three flags and the record number + 1 (0 for a flag-only slot); hot
// holds what a lookup needs of the record at the head of the key's chain (see hotOf), so that a hit
// is decided from the bucket line alone, without reading the record.
type slot struct {
	key uint64
	hot uint64
}

const (
	slotTagShift = 35
	slotChild    = uint64(1) << 32 // a domain indicator lies below this domain
	slotURL      = uint64(1) << 33 // a URL indicator has this host (or this last-two-label suffix)
	slotEmail    = uint64(1) << 34 // an e-mail indicator has this domain's last-two-label suffix
	slotFlags    = slotChild | slotURL | slotEmail
	bucketSlots  = 4
)

// The hot word of a record slot: the head record's reference time in minutes since 2000 (26 bits),
// 8 more bits of the key's hash (with the tag and the bucket they identify the key on about 58
// bits), its base score, whether it is dead, its type, whether it has an expiry or other tenants'
// records chained behind it (then the records are read), and its tenant number.
const (
	hotRefMask     = 1<<26 - 1
	hotCheckShift  = 26
	hotBaseShift   = 34
	hotDead        = uint64(1) << 41
	hotTypShift    = 42
	hotUntil       = uint64(1) << 46
	hotChained     = uint64(1) << 47
	hotTenantShift = 48
)

// hashCheck is the 8 bits of a key's hash kept in its hot word (bits the bucket and tag do not use).
func hashCheck(h uint64) uint64 { return h >> 22 & 0xff }

func hotOf(h uint64, x *rec) uint64 {
	v := uint64(min(x.ref/60, hotRefMask)) | hashCheck(h)<<hotCheckShift | uint64(x.base&0x7f)<<hotBaseShift |
		uint64(x.typ&0x0f)<<hotTypShift | uint64(x.tenant)<<hotTenantShift
	if x.dead() {
		v |= hotDead
	}
	if x.until != 0 {
		v |= hotUntil
	}
	if x.next >= 0 {
		v |= hotChained
	}
	return v
}

// suffix2 is the last two labels of a host name (the name itself when it has fewer).
func suffix2(host string) string {
	i := strings.LastIndexByte(host, '.')
	if i <= 0 {
		return host
	}
	j := strings.LastIndexByte(host[:i], '.')
	return host[j+1:]
}

type meta struct {
	sources []string
	tags    []string
}

// Index is an immutable match index. Build it with BuildIndex.
type Index struct {
	recs    []rec
	arena   []byte
	slots   []slot // buckets of bucketSlots
	bmask   uint64 // number of buckets - 1
	metas   []meta
	tenants map[string]uint16
	tnames  []string

	// IPv4 segments: start << 32 | innermost covering record + 1 (0: none). dir4 holds, per /16, the
	// index of its first segment (one starts at the first address of every /16 that has any), or
	// dirCarry | record + 1 of the prefix covering the whole /16 when no segment starts in it.
	seg4     []uint64
	dir4     []uint32
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
	keys, arenaSize := 0, 0
	for i := range entries {
		e := &entries[i]
		arenaSize += len(e.Value)
		switch e.Type {
		case ioc.CIDR:
		case ioc.Domain:
			keys += 1 + max(strings.Count(e.Value, ".")-1, 0)
		case ioc.URL, ioc.Email:
			keys += 2
		default:
			keys++
		}
	}
	// at most half the slots used: a bucket rarely overflows into the next line, and a missing key
	// meets an empty slot within its own bucket
	buckets := uint64(1) << bits.Len64(uint64(keys/(bucketSlots/2)))
	ix.slots = hugeSlice[slot](ix, int(buckets*bucketSlots))
	ix.bmask = buckets - 1
	ix.recs = hugeSlice[rec](ix, len(entries))[:0]
	ix.arena = make([]byte, 0, arenaSize)
	var cidrs []cidrItem
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
		base := min(max(e.Base, 0), 100)
		r := rec{off: uint32(len(ix.arena)), vlen: uint16(min(len(e.Value), math.MaxUint16)), typ: uint8(typeIdx(e.Type)),
			flags: uint8(e.TLP) & 0x07, tenant: ti, base: uint8(base), ref: toSec(e.Ref) / 60 * 60, until: toSec(e.Until), meta: mi, next: -1}
		if e.Dead {
			r.flags |= recDead
		}
		ix.arena = append(ix.arena, e.Value[:r.vlen]...)
		idx := int32(len(ix.recs))
		ix.recs = append(ix.recs, r)
		v := e.Value
		switch e.Type {
		case ioc.CIDR:
			p, err := netip.ParsePrefix(v)
			if err == nil {
				cidrs = append(cidrs, cidrItem{p: p.Masked(), rec: idx})
			}
			continue
		case ioc.IPv4, ioc.IPv6:
			a, err := netip.ParseAddr(v)
			if err != nil {
				continue
			}
			ix.insertRec(ipHash(a), idx)
		case ioc.Domain:
			ix.insertRec(keyHashString(kDomain, v), idx)
			// every proper suffix of two labels or more leads further down
			for j := strings.IndexByte(v, '.'); j >= 0; j = strings.IndexByte(v, '.') {
				v = v[j+1:]
				if strings.IndexByte(v, '.') < 0 {
					break
				}
				ix.insertFlags(keyHashString(kDomain, v), slotChild)
			}
		case ioc.URL:
			ix.insertRec(keyHashString(kURL, v), idx)
			if host := ioc.URLHost(v); host != "" {
				if a, err := netip.ParseAddr(host); err == nil {
					ix.insertFlags(ipHash(a), slotURL)
				} else {
					ix.insertFlags(keyHashString(kDomain, suffix2(host)), slotURL)
				}
			}
		case ioc.Email:
			ix.insertRec(keyHashString(kEmail, v), idx)
			if at := strings.LastIndexByte(v, '@'); at >= 0 {
				ix.insertFlags(keyHashString(kDomain, suffix2(v[at+1:])), slotEmail)
			}
		default:
			ix.insertRec(keyHashString(classOf(e.Type), v), idx)
		}
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

// insertRec adds record idx under hash h: a record of the same key and tenant is replaced, another
// tenant's is chained.
func (ix *Index) insertRec(h uint64, idx int32) {
	ix.recs[idx].aux = uint32(h)
	tag := h >> slotTagShift
	for b := h & ix.bmask; ; b = (b + 1) & ix.bmask {
		for i := b * bucketSlots; i < (b+1)*bucketSlots; i++ {
			sl := &ix.slots[i]
			s := sl.key
			if s == 0 {
				sl.key = tag<<slotTagShift | uint64(idx+1)
				sl.hot = hotOf(h, &ix.recs[idx])
				return
			}
			if s>>slotTagShift != tag {
				continue
			}
			cur := uint32(s)
			if cur == 0 { // a flag-only slot with the same tag: hold the record there
				sl.key = s | uint64(idx+1)
				sl.hot = hotOf(h, &ix.recs[idx])
				return
			}
			head := int32(cur - 1)
			if ix.recs[head].aux != uint32(h) {
				continue // another key with the same tag
			}
			// same key: replace the record of the same tenant, else chain in front
			prev := int32(-1)
			for r := head; r >= 0; prev, r = r, ix.recs[r].next {
				if ix.recs[r].tenant == ix.recs[idx].tenant {
					ix.recs[idx].next = ix.recs[r].next
					if prev < 0 {
						sl.key = s&^math.MaxUint32 | uint64(idx+1)
						sl.hot = hotOf(h, &ix.recs[idx])
					} else {
						ix.recs[prev].next = idx
					}
					return
				}
			}
			ix.recs[idx].next = head
			sl.key = s&^math.MaxUint32 | uint64(idx+1)
			sl.hot = hotOf(h, &ix.recs[idx])
			return
		}
	}
}

// insertFlags sets flags for hash h: on a slot with its tag, or a new flag-only slot. A flag set
// on another key's slot (a tag collision) costs a needless probe later, never a miss, because
// lookups gather the flags of every slot with their tag.
func (ix *Index) insertFlags(h uint64, flags uint64) {
	tag := h >> slotTagShift
	for b := h & ix.bmask; ; b = (b + 1) & ix.bmask {
		for i := b * bucketSlots; i < (b+1)*bucketSlots; i++ {
			sl := &ix.slots[i]
			if sl.key == 0 {
				sl.key = tag<<slotTagShift | flags
				return
			}
			if sl.key>>slotTagShift == tag {
				sl.key |= flags
				return
			}
		}
	}
}

// find returns the slot of hash h's record (its chain head: record number, or -1, and hot word) and
// the flags of every slot with its tag. It reads the slots up to the first empty one, usually one
// cache line, and reads no record. A bucket is examined without branches on the slots' contents:
// which slots hold the tag and which are empty become bit masks, and only the slots before the
// first empty one count (a key never lies beyond the first empty slot of its probe sequence).
func (ix *Index) find(h uint64) (r int32, hot, flags uint64) {
	tag := h >> slotTagShift
	check := hashCheck(h)
	r = -1
	for b := h & ix.bmask; ; b = (b + 1) & ix.bmask {
		bk := (*[bucketSlots]slot)(ix.slots[b*bucketSlots : (b+1)*bucketSlots])
		var match, empty uint
		for i := range bk {
			s := bk[i].key
			match |= b2u(s>>slotTagShift == tag) << i
			empty |= b2u(s == 0) << i
		}
		if empty != 0 {
			match &= empty&-empty - 1
		}
		for m := match; m != 0; m &= m - 1 {
			sl := &bk[bits.TrailingZeros(m)]
			flags |= sl.key & slotFlags
			if idx := uint32(sl.key); idx != 0 && r < 0 && sl.hot>>hotCheckShift&0xff == check {
				r, hot = int32(idx-1), sl.hot
			}
		}
		if empty != 0 {
			return r, hot, flags
		}
	}
}

// prefetchKey requests the bucket line of hash h.
func (ix *Index) prefetchKey(h uint64) {
	if len(ix.slots) > 0 {
		prefetch(uintptr(unsafe.Pointer(&ix.slots[(h&ix.bmask)*bucketSlots])))
	}
}

func b2u(b bool) uint {
	if b {
		return 1
	}
	return 0
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
	starts, recs := ix.sweep4(v4)
	if len(starts) > 0 {
		// every /16 where segments start gets one at its first address, so that a lookup never
		// looks before its /16; a /16 without any keeps the prefix covering it in the directory
		ix.dir4 = make([]uint32, 1<<16)
		ix.seg4 = make([]uint64, 0, len(starts)+len(starts)/2)
		j := 0
		cover := int32(-1)
		for b := 0; b < 1<<16; b++ {
			first := uint32(b) << 16
			if j == len(starts) || starts[j]>>16 != uint32(b) {
				ix.dir4[b] = dirCarry | uint32(cover+1)
				continue
			}
			ix.dir4[b] = uint32(len(ix.seg4))
			if starts[j] != first {
				ix.seg4 = append(ix.seg4, uint64(first)<<32|uint64(uint32(cover+1)))
			}
			for ; j < len(starts) && starts[j]>>16 == uint32(b); j++ {
				ix.seg4 = append(ix.seg4, uint64(starts[j])<<32|uint64(uint32(recs[j]+1)))
				cover = recs[j]
			}
		}
	}
	ix.seg6hi, ix.seg6lo, ix.seg6rec = ix.sweep6(v6)
}

// dedupePrefixes chains same-prefix records of different tenants and returns one item per prefix.
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
		ix.recs[r].aux = uint32(parent + 1)
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
	structure = len(ix.slots)*16 + cap(ix.recs)*recSize + len(ix.seg4)*8 + len(ix.dir4)*4 +
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

const dirCarry = 1 << 31

// cidr4 returns the innermost prefix record covering a, or -1.
func (ix *Index) cidr4(a uint32) int32 {
	if len(ix.dir4) == 0 {
		return -1
	}
	d := ix.dir4[a>>16]
	if d&dirCarry != 0 {
		return int32(d&^dirCarry) - 1 // no segment starts in this /16
	}
	// the /16's segments start at d (at the /16's first address): the last one starting at or before
	// a, found by galloping then bisecting, so that a dense /16 costs a logarithm of its own size
	lo, step := int(d), 1
	hi := lo + 1
	for hi < len(ix.seg4) && uint32(ix.seg4[hi]>>32) <= a {
		lo = hi
		step *= 2
		hi = lo + step
	}
	hi = min(hi, len(ix.seg4))
	for hi-lo > 1 { // seg4[lo].start <= a < seg4[hi].start
		mid := int(uint(lo+hi) >> 1)
		if uint32(ix.seg4[mid]>>32) <= a {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int32(uint32(ix.seg4[lo])) - 1
}

func (ix *Index) cidr6(a u128) int32 {
	hi, lo := ix.seg6hi, ix.seg6lo
	i := sort.Search(len(hi), func(i int) bool { return a.less(u128{hi[i], lo[i]}) }) - 1
	if i < 0 {
		return -1
	}
	return ix.seg6rec[i]
}
