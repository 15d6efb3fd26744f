package sigma

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Detection is one rule matching one event.
type Detection struct {
	Rule    *RuleInfo
	Matched []string // search identifiers that were true for the event
}

// Matcher evaluates events against an Engine. It reuses its memory from event to event and does not
// allocate on the hot path; it is not safe for concurrent use (make one per goroutine).
//
// Feed one event with Reset, SetSource, Add (once per field value) and then Match. Values handed to
// Add must stay unchanged until Match returns.
type Matcher struct {
	e *Engine

	evGen  uint32
	fidGen []uint32
	first  []int32
	vals   []string
	fids   []int32
	next   []int32

	gen     uint32
	fired   []uint32
	tested  []uint32 // gen when a non-trigger literal was checked directly
	candGen []uint32
	cand    []int32
	cur     *bucket
	onFire  func(int32)
	product string
	channel string
	id      string
	time    time.Time
	dets    []Detection
	matched []string // backing store of the detections' Matched

	// Value cache: the literals a scanner finds in a value, so that values repeated from event to
	// event (host names, image paths, users) are scanned once. Bounded; emptied when full.
	cache   valueCache
	names   [256]nameMemo
	seen    []uint32
	stamp   uint32
	scratch []int32
}

// Cache bounds.
const (
	cacheMinValue   = 24    // shorter values are scanned every time (cheaper than the lookup)
	cacheMaxValue   = 256   // longer values (command lines, scripts) are scanned every time
	cacheMaxEntries = 16384 // per matcher
	cacheMaxText    = 1 << 20
)

// valueCache maps (scanner, value) to the literals found, in open addressing over flat arenas:
// nothing is allocated once it has grown.
type valueCache struct {
	seed  maphash.Seed
	slots []cacheSlot
	text  []byte
	lits  []int32
	n     int
}

type cacheSlot struct {
	hash       uint64 // 0: empty
	scan       *scanner
	toff, tlen uint32
	loff, lnum uint32
}

func (c *valueCache) reset() {
	if c.slots == nil {
		c.seed = maphash.MakeSeed()
		c.slots = make([]cacheSlot, 2*cacheMaxEntries)
	} else {
		clear(c.slots)
	}
	c.text, c.lits, c.n = c.text[:0], c.lits[:0], 0
}

// get returns the cached literals of v for scanner a, and the slot to fill on a miss.
func (c *valueCache) get(a *scanner, v string) ([]int32, bool, *cacheSlot, uint64) {
	h := maphash.String(c.seed, v) ^ uint64(uintptr(unsafe.Pointer(a)))*gramHash | 1
	mask := uint64(len(c.slots) - 1)
	for i := h; ; i++ {
		sl := &c.slots[i&mask]
		if sl.hash == 0 {
			return nil, false, sl, h
		}
		if sl.hash == h && sl.scan == a && string(c.text[sl.toff:sl.toff+sl.tlen]) == v {
			return c.lits[sl.loff : sl.loff+sl.lnum], true, nil, h
		}
	}
}

// ResetCache empties the value cache (benchmarks call it between passes over the same events).
func (m *Matcher) ResetCache() { m.cache.reset() }

// scan runs scanner a over v, through the value cache for values of middling length, and fires
// the literals it finds.
func (m *Matcher) scan(a *scanner, v string) {
	if len(v) < a.minLen || a.minLen == 0 {
		return
	}
	if len(v) > cacheMaxValue || len(v) < cacheMinValue {
		// fired doubles as the per-value deduplication: a literal fires once per event
		start := len(m.scratch)
		m.scratch = a.scan(v, m.scratch, m.fired, m.gen)
		for _, l := range m.scratch[start:] {
			m.fire(l)
		}
		m.scratch = m.scratch[:start]
		return
	}
	c := &m.cache
	lits, ok, slot, h := c.get(a, v)
	if !ok {
		m.stamp++
		if m.stamp == 0 {
			clear(m.seen)
			m.stamp = 1
		}
		m.scratch = a.scan(v, m.scratch[:0], m.seen, m.stamp)
		lits = m.scratch
		if c.n >= cacheMaxEntries || len(c.text)+len(v) > cacheMaxText {
			c.reset()
			_, _, slot, h = c.get(a, v)
		}
		*slot = cacheSlot{hash: h, scan: a, toff: uint32(len(c.text)), tlen: uint32(len(v)), loff: uint32(len(c.lits)), lnum: uint32(len(lits))}
		c.text = append(c.text, v...)
		c.lits = append(c.lits, lits...)
		c.n++
	}
	for _, l := range lits {
		if m.fired[l] != m.gen {
			m.fired[l] = m.gen
			m.fire(l)
		}
	}
	m.scratch = m.scratch[:0]
}

// NewMatcher returns a matcher for the engine.
func (e *Engine) NewMatcher() *Matcher {
	m := &Matcher{e: e, fidGen: make([]uint32, len(e.fieldNames)), first: make([]int32, len(e.fieldNames)),
		fired: make([]uint32, e.maxLits), tested: make([]uint32, e.maxLits), seen: make([]uint32, e.maxLits),
		candGen: make([]uint32, e.maxRules)}
	m.cache.reset()
	m.onFire = m.fire
	m.evGen = 1
	return m
}

// Reset starts a new event.
func (m *Matcher) Reset() {
	m.evGen++
	if m.evGen == 0 {
		clear(m.fidGen)
		m.evGen = 1
	}
	m.vals, m.fids, m.next = m.vals[:0], m.fids[:0], m.next[:0]
	m.product, m.channel, m.id = "", "", ""
	m.time = time.Time{}
}

// SetSource says where the event comes from: product (windows, linux, zeek, suricata, or "" for
// unknown), channel (Windows channel, Zeek path, Suricata event type, ...) and event id.
func (m *Matcher) SetSource(product, channel, eventID string) {
	m.product, m.channel, m.id = product, channel, eventID
}

// Source returns what SetSource set.
func (m *Matcher) Source() (product, channel, eventID string) { return m.product, m.channel, m.id }

// SetTime records the event time (used by correlation rules and detections).
func (m *Matcher) SetTime(t time.Time) { m.time = t }

// Time returns the event time set with SetTime.
func (m *Matcher) Time() time.Time { return m.time }

// Wants reports whether any rule (or ExtraFields) reads the field, or keyword rules need every value.
func (m *Matcher) Wants(name string) bool {
	_, ok := m.e.fields[name]
	return ok || m.e.hasKeywords
}

// Add records one value of a field of the current event.
func (m *Matcher) Add(name, value string) {
	fid := m.fieldID(name)
	if fid == noField {
		return
	}
	m.push(fid, value)
}

// AddBytesName is Add with the name given as bytes (no allocation for the lookup).
func (m *Matcher) AddBytesName(name []byte, value string) {
	fid := m.fieldID(unsafe.String(unsafe.SliceData(name), len(name)))
	if fid == noField {
		return
	}
	m.push(fid, value)
}

// noField: no rule reads the field and there are no keyword rules.
const noField = -2

// nameMemo remembers the field id of one recently seen name (names up to 27 bytes).
type nameMemo struct {
	n   uint8
	fid int32
	buf [27]byte
}

// fieldID resolves a field name: through a small direct-mapped memo of recent names (an event
// source's names recur from event to event), else through the engine's map. Unknown names are
// kwFid when keyword rules need every value, else noField.
func (m *Matcher) fieldID(name string) int32 {
	n := len(name)
	if n == 0 || n > 27 {
		return m.lookupField(name)
	}
	x := uint64(n) | uint64(name[0])<<8 | uint64(name[n-1])<<16 | uint64(name[n/2])<<24 | uint64(name[n/4])<<32
	e := &m.names[(x*gramHash)>>(64-8)]
	if int(e.n) == n && string(e.buf[:n]) == name {
		return e.fid
	}
	fid := m.lookupField(name)
	e.n, e.fid = uint8(n), fid
	copy(e.buf[:], name)
	return fid
}

func (m *Matcher) lookupField(name string) int32 {
	if fid, ok := m.e.fields[name]; ok {
		return fid
	}
	if m.e.hasKeywords {
		return kwFid
	}
	return noField
}

func (m *Matcher) push(fid int32, value string) {
	i := int32(len(m.vals))
	m.vals = append(m.vals, value)
	m.fids = append(m.fids, fid)
	if fid < 0 {
		m.next = append(m.next, -1)
		return
	}
	prev := int32(-1)
	if m.fidGen[fid] == m.evGen {
		prev = m.first[fid]
	}
	m.next = append(m.next, prev)
	m.first[fid] = i
	m.fidGen[fid] = m.evGen
}

func (m *Matcher) head(fid int32) int32 {
	if fid < 0 {
		if len(m.vals) == 0 {
			return -1
		}
		return 0
	}
	if m.fidGen[fid] != m.evGen {
		return -1
	}
	return m.first[fid]
}

// step returns the next value index for the field (keyword searches walk every value).
func (m *Matcher) step(fid, i int32) int32 {
	if fid < 0 {
		if int(i)+1 < len(m.vals) {
			return i + 1
		}
		return -1
	}
	return m.next[i]
}

// FieldRef names a field the engine keeps, resolved once (Engine.Field) so that reading it back
// costs no lookup.
type FieldRef int32

// Field resolves a field name the engine keeps (a rule tests it, or Options.ExtraFields named it).
func (e *Engine) Field(name string) (FieldRef, bool) {
	fid, ok := e.fields[name]
	return FieldRef(fid), ok
}

// FieldValue returns the first value of a resolved field of the current event ("" if absent).
func (m *Matcher) FieldValue(f FieldRef) string {
	if i := m.head(int32(f)); i >= 0 {
		return m.vals[i]
	}
	return ""
}

// Value returns the first value of a field of the current event ("" if absent). Only fields that a
// rule tests or that were named in Options.ExtraFields are kept.
func (m *Matcher) Value(name string) string {
	fid, ok := m.e.fields[name]
	if !ok {
		return ""
	}
	if i := m.head(fid); i >= 0 {
		return m.vals[i]
	}
	return ""
}

func (m *Matcher) fire(lit int32) {
	for _, r := range m.cur.litRules[lit] {
		if m.candGen[r] != m.gen {
			m.candGen[r] = m.gen
			m.cand = append(m.cand, r)
		}
	}
}

// Match evaluates the current event against the rules of its source and returns the detections.
// The returned slice and the detections' Matched slices are reused by the next call.
func (m *Matcher) Match() []Detection {
	m.dets = m.dets[:0]
	m.matched = m.matched[:0]
	b := m.e.bucketFor(m.product, m.channel, m.id)
	if b == nil {
		return nil
	}
	m.cur = b
	m.gen++
	if m.gen == 0 {
		clear(m.fired)
		clear(m.tested)
		clear(m.candGen)
		m.gen = 1
	}
	m.cand = m.cand[:0]
	if b.kwAuto != nil {
		for i, v := range m.vals {
			a := b.kwAuto
			if f := m.fids[i]; f >= 0 && int(f) < len(b.autoFor) && b.autoFor[f] != nil {
				a = b.autoFor[f]
			}
			m.scan(a, v)
		}
	} else {
		m.scanFields(b)
	}
	if len(m.cand) > 1 {
		sortInt32(m.cand)
	}
	for _, r := range b.always {
		m.try(b.rules[r])
	}
	for _, r := range m.cand {
		m.try(b.rules[r])
	}
	return m.dets
}

func (m *Matcher) try(r *brule) {
	if !m.eval(r.root) {
		return
	}
	d := Detection{Rule: r.cr.info}
	start := len(m.matched)
	for _, id := range r.idents {
		if m.eval(id.n) {
			m.matched = append(m.matched, id.name)
		}
	}
	d.Matched = m.matched[start:len(m.matched):len(m.matched)]
	m.dets = append(m.dets, d)
}

func sortInt32(a []int32) {
	if len(a) < 12 {
		for i := 1; i < len(a); i++ {
			for j := i; j > 0 && a[j] < a[j-1]; j-- {
				a[j], a[j-1] = a[j-1], a[j]
			}
		}
		return
	}
	slices.Sort(a)
}

func (m *Matcher) eval(n *node) bool {
	switch n.op {
	case opAnd:
		for _, k := range n.kids {
			if !m.eval(k) {
				return false
			}
		}
		return true
	case opOr:
		if n.atLeast > 1 {
			c := 0
			for _, k := range n.kids {
				if m.eval(k) {
					c++
					if c >= n.atLeast {
						return true
					}
				}
			}
			return false
		}
		for _, k := range n.kids {
			if m.eval(k) {
				return true
			}
		}
		return false
	case opNot:
		return !m.eval(n.kids[0])
	case opTrue:
		return true
	case opFalse:
		return false
	}
	// opTest
	if n.all {
		for _, g := range n.groups {
			if !m.anyVal(n.fid, g) {
				return false
			}
		}
		return true
	}
	for _, g := range n.groups {
		if m.anyVal(n.fid, g) {
			return true
		}
	}
	return false
}

func (m *Matcher) anyVal(fid int32, g []cval) bool {
	for i := range g {
		if m.val(fid, &g[i]) {
			return true
		}
	}
	return false
}

func (m *Matcher) val(fid int32, c *cval) bool {
	switch c.kind {
	case vLit:
		return m.litHit(fid, c.lit) != c.negate
	case vExists:
		return (m.head(fid) >= 0) == c.exists
	case vNull:
		for i := m.head(fid); i >= 0; i = m.step(fid, i) {
			if m.vals[i] != "" {
				return false
			}
		}
		return true
	}
	if c.lit >= 0 && !m.litHit(fid, c.lit) {
		return c.negate
	}
	res := false
	for i := m.head(fid); i >= 0 && !res; i = m.step(fid, i) {
		v := m.vals[i]
		switch c.kind {
		case vEmpty:
			res = v == ""
		case vAny:
			res = true
		case vCased:
			switch c.lkind {
			case litExact:
				res = v == c.s
			case litPrefix:
				res = strings.HasPrefix(v, c.s)
			case litSuffix:
				res = strings.HasSuffix(v, c.s)
			default:
				res = strings.Contains(v, c.s)
			}
		case vGlob:
			res = globMatch(c.glob, v, c.lkind == 0)
		case vRegex:
			if c.runOnly {
				res = c.run.has(v)
			} else {
				res = len(v) >= c.minLen && containsAll(v, c.needs) && (c.run == nil || c.run.has(v)) && c.re.MatchString(v)
			}
		case vCIDR:
			if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
				a = a.Unmap()
				for _, p := range c.nets {
					if p.Contains(a) {
						res = true
						break
					}
				}
			}
		case vNum:
			if f, ok := parseNum(v); ok {
				switch c.cmp {
				case "lt":
					res = f < c.num
				case "lte":
					res = f <= c.num
				case "gt":
					res = f > c.num
				case "gte":
					res = f >= c.num
				}
			}
		case vFieldRef:
			for j := m.head(c.ref); j >= 0; j = m.step(c.ref, j) {
				if strings.EqualFold(v, m.vals[j]) {
					res = true
					break
				}
			}
		}
	}
	return res != c.negate
}

func parseNum(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), true
	}
	return 0, false
}

// scanFields runs each field scanner over the values of its field.
func (m *Matcher) scanFields(b *bucket) {
	for i := range b.autos {
		fa := &b.autos[i]

		for v := m.head(fa.fid); v >= 0; v = m.step(fa.fid, v) {
			m.scan(fa.a, m.vals[v])
		}
	}
}

// litHit reports whether a literal occurs (with its position constraint) in the field's values.
// Trigger literals were found by the scan; the others are checked here on first use.
func (m *Matcher) litHit(fid, lit int32) bool {
	if m.fired[lit] == m.gen {
		return true
	}
	b := m.cur
	if b.isTrig[lit] || m.tested[lit] == m.gen {
		return false
	}
	m.tested[lit] = m.gen
	li := &b.lits[lit]
	for i := m.head(li.fid); i >= 0; i = m.step(li.fid, i) {
		if litMatch(m.vals[i], li.text, li.kind) {
			m.fired[lit] = m.gen
			return true
		}
	}
	return false
}

// litMatch compares an event value with a folded literal, ASCII case-insensitively.
func litMatch(v, lit string, kind acKind) bool {
	switch kind {
	case litExact:
		return len(v) == len(lit) && hasPrefixFold(v, lit, true)
	case litPrefix:
		return hasPrefixFold(v, lit, true)
	case litSuffix:
		return len(v) >= len(lit) && hasPrefixFold(v[len(v)-len(lit):], lit, true)
	}
	return indexFold(v, lit) >= 0
}

// indexFold finds a folded (lowercase ASCII) literal in v ignoring ASCII case.
func indexFold(v, lit string) int {
	if len(lit) == 0 {
		return 0
	}
	c0 := lit[0]
	up := c0
	if c0 >= 'a' && c0 <= 'z' {
		up = c0 - 32
	}
	for i := 0; i+len(lit) <= len(v); {
		// jump to the next byte that can start the literal
		j := strings.IndexByte(v[i:len(v)-len(lit)+1], c0)
		if up != c0 {
			if k := strings.IndexByte(v[i:len(v)-len(lit)+1], up); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return -1
		}
		i += j
		if hasPrefixFold(v[i:], lit, true) {
			return i
		}
		i++
	}
	return -1
}

// containsAll checks the literals a regex match needs; a literal listed k times must occur k times.
func containsAll(v string, needs []string) bool {
	for i, n := range needs {
		k := 1
		for _, m := range needs[i+1:] {
			if m == n {
				k++
			}
		}
		if k == 1 {
			if !strings.Contains(v, n) {
				return false
			}
		} else if strings.Count(v, n) < k {
			return false
		}
	}
	return true
}
