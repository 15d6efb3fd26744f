package sigma

import (
	"sort"

	socbot "github.com/socbot/socbot"
)

// Options configure NewEngine.
type Options struct {
	// Pipeline maps logsources to event sources; nil means DefaultPipeline().
	Pipeline *Pipeline
	// ExtraFields are field names the caller wants to read back with Matcher.Value (for observables,
	// correlation group-by, ...), even when no rule tests them.
	ExtraFields []string
}

// Engine is a compiled, immutable rule set. It is safe for concurrent use; each goroutine matches
// through its own Matcher.
type Engine struct {
	fields      map[string]int32
	fieldNames  []string
	buckets     map[bucketKey]*bucket
	rules       []*compiledRule
	byID        map[string]*compiledRule
	maxLits     int
	maxRules    int
	hasKeywords bool
}

// bucket is the compiled form of every rule that applies to one set of events.
type bucket struct {
	key   bucketKey
	rules []*brule
	autos []fieldAuto
	// With keyword rules in the bucket, every value of an event is scanned exactly once: by its
	// field's scanner (which then also holds the keyword patterns) or by the keyword scanner.
	kwAuto   *scanner
	autoFor  []*scanner // by field id (len = fields at build time); nil: keyword scanner
	litRules [][]int32  // literal -> rules (indexes) for which it is a trigger
	always   []int32    // rules without a trigger literal: evaluated for every event
	nlits    int
	// Literals of fields that hold a trigger literal go into the automata (isTrig: "scanned").
	// The others are checked directly, once per event, when a candidate rule needs them.
	lits   []litInfo
	isTrig []bool
}

type litInfo struct {
	fid  int32
	kind acKind
	text string // folded
}

type fieldAuto struct {
	fid int32 // -1: keyword search over every value
	a   *scanner
}

type brule struct {
	cr     *compiledRule
	root   *node
	idents []identNode
}

type identNode struct {
	name string
	n    *node
}

// node is a condition tree node placed in a bucket: fields resolved to ids, literals to bucket literal ids.
type node struct {
	op      nodeOp
	kids    []*node
	atLeast int
	fid     int32
	all     bool
	groups  [][]cval
}

type cval struct {
	irVal
	lit int32 // literal id (vLit) or trigger literal id (-1 none)
	ref int32 // field id for vFieldRef
}

const kwFid = -1

// NewEngine compiles the detection rules. Rules that fail are returned as LoadErrors and skipped;
// correlation rules are ignored here (see NewCorrelator).
func NewEngine(rules []*Rule, opts Options) (*Engine, []LoadError) {
	pl := opts.Pipeline
	if pl == nil {
		pl = DefaultPipeline()
	}
	e := &Engine{fields: map[string]int32{}, buckets: map[bucketKey]*bucket{}, byID: map[string]*compiledRule{}}
	var errs []LoadError
	for _, r := range rules {
		if r.Correlation != nil {
			continue
		}
		cr, err := compileRule(r, pl)
		if err != nil {
			errs = append(errs, LoadError{Path: r.Path, Doc: r.Doc, RuleID: r.ID, Title: r.Title, Err: err, Reason: err.Error()})
			continue
		}
		e.rules = append(e.rules, cr)
		if r.ID != "" {
			e.byID[r.ID] = cr
		}
		if r.Name != "" {
			e.byID[r.Name] = cr
		}
	}
	for _, f := range []string{"Channel", "EventID"} {
		e.fid(f)
	}
	for _, f := range opts.ExtraFields {
		e.fid(f)
	}
	// Rules per key, then merged buckets.
	own := map[bucketKey][]int{}
	type member struct {
		rule   int
		fields map[string]string
	}
	ownT := map[bucketKey][]member{}
	for i, cr := range e.rules {
		for _, t := range cr.targets {
			own[t.key] = append(own[t.key], i)
			ownT[t.key] = append(ownT[t.key], member{i, t.fields})
		}
	}
	keys := make([]bucketKey, 0, len(ownT))
	for k := range ownT {
		keys = append(keys, k)
	}
	// every product with concrete sources gets a product-wide bucket and every channel a channel-wide one
	for _, k := range keys {
		if k.product != "" {
			if k.channel != "*" {
				ck := bucketKey{k.product, k.channel, "*"}
				if _, ok := ownT[ck]; !ok {
					ownT[ck] = nil
				}
			}
			pk := bucketKey{k.product, "*", "*"}
			if _, ok := ownT[pk]; !ok {
				ownT[pk] = nil
			}
		}
	}
	for k := range ownT {
		var ms []member
		ms = append(ms, ownT[k]...)
		if k.product != "" && k.id != "*" {
			ms = append(ms, ownT[bucketKey{k.product, k.channel, "*"}]...)
		}
		if k.product != "" && k.channel != "*" {
			ms = append(ms, ownT[bucketKey{k.product, "*", "*"}]...)
		}
		if len(ms) == 0 {
			continue
		}
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].rule < ms[j].rule })
		b := &bucket{key: k}
		bb := newBucketBuilder(e, b)
		seen := map[int]bool{}
		for _, m := range ms {
			if seen[m.rule] {
				continue
			}
			seen[m.rule] = true
			bb.add(e.rules[m.rule], m.fields)
		}
		bb.finish()
		e.buckets[k] = b
		if b.nlits > e.maxLits {
			e.maxLits = b.nlits
		}
		if len(b.rules) > e.maxRules {
			e.maxRules = len(b.rules)
		}
	}
	return e, errs
}

func (e *Engine) fid(name string) int32 {
	if id, ok := e.fields[name]; ok {
		return id
	}
	id := int32(len(e.fieldNames))
	e.fields[name] = id
	e.fieldNames = append(e.fieldNames, name)
	return id
}

// RuleCount is the number of detection rules compiled.
func (e *Engine) RuleCount() int { return len(e.rules) }

// Rules returns the compiled rules' metadata in load order.
func (e *Engine) Rules() []*RuleInfo {
	out := make([]*RuleInfo, len(e.rules))
	for i, r := range e.rules {
		out[i] = r.info
	}
	return out
}

// Rule returns the metadata of a rule by id or name.
func (e *Engine) Rule(idOrName string) (*RuleInfo, bool) {
	cr, ok := e.byID[idOrName]
	if !ok {
		return nil, false
	}
	return cr.info, true
}

// Buckets reports how many event-source buckets the rules were compiled into.
func (e *Engine) Buckets() int { return len(e.buckets) }

// bucketFor returns the bucket for an event's source, falling back from the exact event id to the
// channel and then to the product; events without a product get the generic bucket.
func (e *Engine) bucketFor(product, channel, id string) *bucket {
	if product == "" {
		return e.buckets[bucketKey{}]
	}
	if b := e.buckets[bucketKey{product, channel, id}]; b != nil {
		return b
	}
	if b := e.buckets[bucketKey{product, channel, "*"}]; b != nil {
		return b
	}
	return e.buckets[bucketKey{product, "*", "*"}]
}

type litKey struct {
	fid  int32
	kind acKind
	text string
}

type bucketBuilder struct {
	e      *Engine
	b      *bucket
	lits   map[litKey]int32
	litLen []int
	pats   map[int32][]pattern
}

func newBucketBuilder(e *Engine, b *bucket) *bucketBuilder {
	return &bucketBuilder{e: e, b: b, lits: map[litKey]int32{}, pats: map[int32][]pattern{}}
}

func (bb *bucketBuilder) lit(fid int32, kind acKind, text string) int32 {
	k := litKey{fid, kind, text}
	if id, ok := bb.lits[k]; ok {
		return id
	}
	id := int32(len(bb.litLen))
	bb.lits[k] = id
	bb.litLen = append(bb.litLen, len(text))
	bb.b.lits = append(bb.b.lits, litInfo{fid: fid, kind: kind, text: text})
	return id
}

func (bb *bucketBuilder) add(cr *compiledRule, rename map[string]string) {
	memo := map[*irNode]*node{}
	br := &brule{cr: cr}
	br.root = bb.inst(cr.root, rename, memo)
	names := make([]string, 0, len(cr.idents))
	for n := range cr.idents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		br.idents = append(br.idents, identNode{n, bb.inst(cr.idents[n], rename, memo)})
	}
	idx := int32(len(bb.b.rules))
	bb.b.rules = append(bb.b.rules, br)
	if lits, ok := bb.trig(br.root); ok {
		for _, l := range lits {
			for len(bb.b.litRules) <= int(l) {
				bb.b.litRules = append(bb.b.litRules, nil)
			}
			rs := bb.b.litRules[l]
			if len(rs) == 0 || rs[len(rs)-1] != idx {
				bb.b.litRules[l] = append(rs, idx)
			}
		}
	} else {
		bb.b.always = append(bb.b.always, idx)
	}
}

func (bb *bucketBuilder) fieldID(name string, rename map[string]string) int32 {
	if name == "" {
		return kwFid
	}
	if r, ok := rename[name]; ok {
		name = r
	}
	return bb.e.fid(name)
}

func (bb *bucketBuilder) inst(n *irNode, rename map[string]string, memo map[*irNode]*node) *node {
	if x, ok := memo[n]; ok {
		return x
	}
	out := &node{op: n.op, atLeast: n.atLeast}
	memo[n] = out
	for _, k := range n.kids {
		out.kids = append(out.kids, bb.inst(k, rename, memo))
	}
	if n.op == opAnd || n.op == opOr {
		// and/or have no side effects: evaluate the cheap children first so that a failing bit
		// test saves a regular expression
		sort.SliceStable(out.kids, func(i, j int) bool { return nodeCost(out.kids[i]) < nodeCost(out.kids[j]) })
	}
	if n.test != nil {
		t := n.test
		out.fid = bb.fieldID(t.field, rename)
		if out.fid == kwFid {
			bb.e.hasKeywords = true
		}
		out.all = t.all
		for _, g := range t.groups {
			cg := make([]cval, 0, len(g))
			for _, v := range g {
				c := cval{irVal: v, lit: -1, ref: -1}
				switch v.kind {
				case vLit:
					c.lit = bb.lit(out.fid, v.lkind, v.s)
				case vCased, vGlob, vRegex:
					if v.trigger != "" {
						c.lit = bb.lit(out.fid, litContains, v.trigger)
					}
				case vFieldRef:
					c.ref = bb.fieldID(v.s, rename)
				}
				cg = append(cg, c)
			}
			out.groups = append(out.groups, cg)
		}
	}
	return out
}

// trig returns literals at least one of which must fire for n to be true.
func (bb *bucketBuilder) trig(n *node) ([]int32, bool) {
	switch n.op {
	case opFalse:
		return nil, true
	case opTrue, opNot:
		return nil, false
	case opOr:
		var out []int32
		for _, k := range n.kids {
			l, ok := bb.trig(k)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case opAnd:
		var best []int32
		bestScore, found := -1, false
		for _, k := range n.kids {
			l, ok := bb.trig(k)
			if !ok {
				continue
			}
			s := bb.score(l)
			if !found || s > bestScore || (s == bestScore && len(l) < len(best)) {
				best, bestScore, found = l, s, true
			}
		}
		return best, found
	case opTest:
		var vals []cval
		for _, g := range n.groups {
			vals = append(vals, g...)
		}
		if n.all {
			best := int32(-1)
			for _, v := range vals {
				if v.lit >= 0 && !v.negate && (best < 0 || bb.litLen[v.lit] > bb.litLen[best]) {
					best = v.lit
				}
			}
			if best < 0 {
				return nil, false
			}
			return []int32{best}, true
		}
		out := make([]int32, 0, len(vals))
		for _, v := range vals {
			if v.lit < 0 || v.negate {
				return nil, false
			}
			out = append(out, v.lit)
		}
		return out, true
	}
	return nil, false
}

// score rates how selective a trigger set is: its shortest literal, minus a little per literal.
func (bb *bucketBuilder) score(l []int32) int {
	if len(l) == 0 {
		return 1 << 20
	}
	m := 1 << 20
	for _, x := range l {
		if bb.litLen[x] < m {
			m = bb.litLen[x]
		}
	}
	return m*16 - len(l)/8
}

func (bb *bucketBuilder) finish() {
	b := bb.b
	b.nlits = len(bb.litLen)
	for len(b.litRules) < b.nlits {
		b.litRules = append(b.litRules, nil)
	}
	// A field is scanned when one of its literals is a trigger; then all its literals ride along
	// in its scanner (one pass answers them all). Fields with no trigger literal are not scanned:
	// their literals are checked directly when a candidate rule asks.
	eager := map[int32]bool{}
	for l, rs := range b.litRules {
		if len(rs) > 0 {
			eager[b.lits[l].fid] = true
		}
	}
	b.isTrig = make([]bool, b.nlits)
	for l, li := range b.lits {
		if eager[li.fid] {
			b.isTrig[l] = true
			bb.pats[li.fid] = append(bb.pats[li.fid], pattern{text: li.text, kind: li.kind, lit: int32(l)})
		}
	}
	fids := make([]int32, 0, len(bb.pats))
	for f := range bb.pats {
		fids = append(fids, f)
	}
	sort.Slice(fids, func(i, j int) bool { return fids[i] < fids[j] })
	kw := bb.pats[kwFid]
	for _, f := range fids {
		pats := bb.pats[f]
		if f != kwFid && len(kw) > 0 {
			pats = append(append([]pattern(nil), pats...), kw...)
		}
		b.autos = append(b.autos, fieldAuto{fid: f, a: buildScanner(pats)})
	}
	if len(kw) > 0 {
		b.autoFor = make([]*scanner, len(bb.e.fieldNames))
		for _, fa := range b.autos {
			if fa.fid == kwFid {
				b.kwAuto = fa.a
			} else {
				b.autoFor[fa.fid] = fa.a
			}
		}
	}
}

// EngineStats describes a compiled engine.
type EngineStats struct {
	Rules        int `json:"rules"`
	Buckets      int `json:"buckets"`
	Fields       int `json:"fields"`
	Literals     int `json:"literals"`
	ScanBytes    int `json:"scanner_bytes"`
	AlwaysRules  int `json:"always_evaluated"`
	TriggerRules int `json:"trigger_indexed"`
}

// Stats counts the compiled structures (for benchmarks and the hunt summary).
func (e *Engine) Stats() EngineStats {
	s := EngineStats{Rules: len(e.rules), Buckets: len(e.buckets), Fields: len(e.fieldNames)}
	for _, b := range e.buckets {
		s.Literals += b.nlits
		s.AlwaysRules += len(b.always)
		s.TriggerRules += len(b.rules) - len(b.always)
		for _, a := range b.autos {
			s.ScanBytes += a.a.size()
		}
	}
	return s
}

var _ = socbot.SeverityInfo

// nodeCost estimates the evaluation cost of a node (relative units).
func nodeCost(n *node) int {
	switch n.op {
	case opAnd, opOr, opNot:
		c := 0
		for _, k := range n.kids {
			c += nodeCost(k)
		}
		return c
	case opTest:
		c := 0
		for _, g := range n.groups {
			for _, v := range g {
				switch v.kind {
				case vLit, vExists, vNull:
					c++
				case vRegex:
					c += 50
				case vGlob, vCIDR:
					c += 5
				default:
					c += 3
				}
			}
		}
		return c
	}
	return 0
}
