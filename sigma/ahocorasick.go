package sigma

import "sort"

// acKind says where in the value a pattern must sit.
type acKind uint8

const (
	litContains acKind = iota
	litPrefix
	litSuffix
	litExact
)

// automaton is an Aho-Corasick matcher over ASCII-case-folded byte classes. Every pattern of every
// rule on one field of one bucket is folded into one automaton, so a value is scanned once.
//
// The root and its children keep full transition rows (resolved through failure links); deeper
// states keep only their own edges, sorted, and fall back through failure links. This keeps the
// memory of automata with tens of thousands of states (command lines) in the cache: a full table
// would need states x classes x 4 bytes, tens of megabytes.
type automaton struct {
	cls    [256]uint8
	nclass int
	states []acState
	dense  []int32 // rows of nclass transitions for states 0..nDense-1 (the root and its children)
	nDense int32
	edgeC  []uint8 // edges of deep states: class ...
	edgeT  []int32 // ... and target
	// Targets in dense and edgeT are encoded as state<<1 | 1 when the state has outputs.
	outs   []acOut
	minLen int // shortest pattern; values shorter than it cannot hit anything
	// allDense: every state has a full row, so a scan costs a few instructions per byte and is
	// cheaper than a value-cache lookup.
	allDense bool
}

// denseBudget bounds the bytes of full transition rows per automaton.
const denseBudget = 192 << 10

type acState struct {
	edgeStart int32
	edgeEnd   int32
	fail      int32
	outStart  int32
	outEnd    int32
}

type acOut struct {
	lit  int32 // bucket literal id
	n    int32 // pattern length in bytes
	kind acKind
}

type acPattern struct {
	text string // already ASCII-lowercased
	kind acKind
	lit  int32
}

func foldByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// foldASCII lowercases ASCII letters only; other bytes are kept as they are.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = foldByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

func buildAutomaton(pats []acPattern) *automaton {
	a := &automaton{}
	// byte classes: class 0 is "no pattern uses this byte".
	used := [256]bool{}
	for _, p := range pats {
		for i := 0; i < len(p.text); i++ {
			used[p.text[i]] = true
		}
	}
	n := 1
	for c := 0; c < 256; c++ {
		if used[c] {
			a.cls[c] = uint8(n)
			n++
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.cls[c] = a.cls[c+32]
	}
	a.nclass = n
	// trie with sorted edge lists
	type tnode struct {
		edges []tedge
		outs  []acOut
		depth int
	}
	nodes := []tnode{{}}
	child := func(s int, c uint8) int {
		for _, e := range nodes[s].edges {
			if e.c == c {
				return int(e.to)
			}
		}
		return -1
	}
	a.minLen = 1 << 30
	for _, p := range pats {
		if len(p.text) < a.minLen {
			a.minLen = len(p.text)
		}
		s := 0
		for i := 0; i < len(p.text); i++ {
			c := a.cls[p.text[i]]
			nx := child(s, c)
			if nx < 0 {
				nx = len(nodes)
				nodes = append(nodes, tnode{depth: nodes[s].depth + 1})
				nodes[s].edges = append(nodes[s].edges, tedge{c, int32(nx)})
			}
			s = nx
		}
		nodes[s].outs = append(nodes[s].outs, acOut{lit: p.lit, n: int32(len(p.text)), kind: p.kind})
	}
	if len(pats) == 0 {
		a.minLen = 0
	}
	ns := len(nodes)
	fail := make([]int32, ns)
	outs := make([][]acOut, ns)
	// BFS order, computing failure links and merged outputs
	order := make([]int, 0, ns)
	order = append(order, 0)
	outs[0] = nodes[0].outs
	for qi := 0; qi < len(order); qi++ {
		s := order[qi]
		for _, e := range nodes[s].edges {
			t := int(e.to)
			if s != 0 {
				f := int(fail[s])
				for {
					if nx := child(f, e.c); nx >= 0 {
						fail[t] = int32(nx)
						break
					}
					if f == 0 {
						fail[t] = 0
						break
					}
					f = int(fail[f])
				}
			}
			if len(nodes[t].outs) == 0 {
				outs[t] = outs[fail[t]]
			} else {
				outs[t] = append(append([]acOut(nil), nodes[t].outs...), outs[fail[t]]...)
			}
			order = append(order, t)
		}
	}
	a.states = make([]acState, ns)
	var perm []int32               // old id -> new id, set below
	enc := func(old int32) int32 { // encoded new id of an old state
		if len(outs[old]) > 0 {
			return perm[old]<<1 | 1
		}
		return perm[old] << 1
	}
	// transition resolving failure links (used for the dense rows)
	delta := func(s int, c uint8) int32 {
		for {
			if nx := child(s, c); nx >= 0 {
				return int32(nx)
			}
			if s == 0 {
				return 0
			}
			s = int(fail[s])
		}
	}
	// BFS order puts the root and its children first: they get the dense rows.
	perm = make([]int32, ns)
	for i, s := range order {
		perm[s] = int32(i)
	}
	// The root and its children always get full rows; then more states in BFS order (the ones the
	// scan visits most) while the rows fit in denseBudget bytes.
	a.nDense = int32(1 + len(nodes[0].edges))
	if fit := int32(denseBudget / (4 * n)); fit > a.nDense {
		a.nDense = min(fit, int32(ns))
	}
	a.dense = make([]int32, int(a.nDense)*n)
	a.allDense = int(a.nDense) == ns
	for ni, s := range order {
		st := &a.states[ni]
		st.fail = perm[fail[s]]
		st.outStart = int32(len(a.outs))
		a.outs = append(a.outs, outs[s]...)
		st.outEnd = int32(len(a.outs))
		if int32(ni) < a.nDense {
			for c := 0; c < n; c++ {
				a.dense[ni*n+c] = enc(delta(s, uint8(c)))
			}
			continue
		}
		edges := nodes[s].edges
		sort.Slice(edges, func(i, j int) bool { return edges[i].c < edges[j].c })
		st.edgeStart = int32(len(a.edgeC))
		for _, e := range edges {
			a.edgeC = append(a.edgeC, e.c)
			a.edgeT = append(a.edgeT, enc(e.to))
		}
		st.edgeEnd = int32(len(a.edgeC))
	}
	return a
}

type tedge struct {
	c  uint8
	to int32
}

// next returns the encoded target of state s on class c: own edges, else the failure chain down
// to a dense row.
func (a *automaton) next(s int32, c uint8) int32 {
	for s >= a.nDense {
		st := &a.states[s]
		for j := st.edgeStart; j < st.edgeEnd; j++ {
			x := a.edgeC[j]
			if x == c {
				return a.edgeT[j]
			}
			if x > c {
				break
			}
		}
		s = st.fail
	}
	return a.dense[int(s)*a.nclass+int(c)]
}

// scan runs the automaton over v and calls onFire for every literal whose position constraint
// holds (once per event, tracked by fired/gen).
func (a *automaton) scan(v string, fired []uint32, gen uint32, onFire func(lit int32)) {
	if len(v) < a.minLen {
		return
	}
	cls, outs, dense, n, nd := &a.cls, a.outs, a.dense, a.nclass, a.nDense
	e := int32(0)
	last := len(v) - 1
	for i := 0; i < len(v); i++ {
		c := cls[v[i]]
		if s := e >> 1; s < nd {
			e = dense[int(s)*n+int(c)]
		} else {
			e = a.next(s, c)
		}
		if e&1 == 0 {
			continue
		}
		st := &a.states[e>>1]
		for lo := st.outStart; lo < st.outEnd; lo++ {
			o := &outs[lo]
			switch o.kind {
			case litPrefix:
				if int(o.n) != i+1 {
					continue
				}
			case litSuffix:
				if i != last {
					continue
				}
			case litExact:
				if i != last || int(o.n) != len(v) {
					continue
				}
			}
			if fired[o.lit] != gen {
				fired[o.lit] = gen
				onFire(o.lit)
			}
		}
	}
}

// collect appends to out every literal of v that satisfies its position constraint, once per value
// (seen/stamp deduplicate within the value).
func (a *automaton) collect(v string, out []int32, seen []uint32, stamp uint32) []int32 {
	if len(v) < a.minLen {
		return out
	}
	cls, outs, dense, n, nd := &a.cls, a.outs, a.dense, a.nclass, a.nDense
	e := int32(0)
	last := len(v) - 1
	for i := 0; i < len(v); i++ {
		c := cls[v[i]]
		if s := e >> 1; s < nd {
			e = dense[int(s)*n+int(c)]
		} else {
			e = a.next(s, c)
		}
		if e&1 == 0 {
			continue
		}
		st := &a.states[e>>1]
		for lo := st.outStart; lo < st.outEnd; lo++ {
			o := &outs[lo]
			switch o.kind {
			case litPrefix:
				if int(o.n) != i+1 {
					continue
				}
			case litSuffix:
				if i != last {
					continue
				}
			case litExact:
				if i != last || int(o.n) != len(v) {
					continue
				}
			}
			if seen[o.lit] != stamp {
				seen[o.lit] = stamp
				out = append(out, o.lit)
			}
		}
	}
	return out
}
