package sigma

// acKind says where in the value a pattern must sit.
type acKind uint8

const (
	litContains acKind = iota
	litPrefix
	litSuffix
	litExact
)

// automaton is a dense Aho-Corasick DFA over ASCII-case-folded byte classes. Every pattern of every
// rule on one field of one bucket is folded into one automaton, so a value is scanned once.
type automaton struct {
	cls      [256]uint8
	nclass   int
	trans    []int32 // state*nclass + class -> state
	outStart []int32 // per state, range into outs (len states+1)
	outs     []acOut
	minLen   int // shortest pattern; values shorter than it cannot hit anything
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
	// trie
	type tnode struct {
		next map[uint8]int32
		outs []acOut
	}
	nodes := []tnode{{}}
	a.minLen = 1 << 30
	for _, p := range pats {
		if len(p.text) < a.minLen {
			a.minLen = len(p.text)
		}
		s := int32(0)
		for i := 0; i < len(p.text); i++ {
			c := a.cls[p.text[i]]
			if nodes[s].next == nil {
				nodes[s].next = map[uint8]int32{}
			}
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, tnode{})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].outs = append(nodes[s].outs, acOut{lit: p.lit, n: int32(len(p.text)), kind: p.kind})
	}
	if len(pats) == 0 {
		a.minLen = 0
	}
	ns := len(nodes)
	a.trans = make([]int32, ns*n)
	fail := make([]int32, ns)
	outs := make([][]acOut, ns)
	// BFS
	queue := make([]int32, 0, ns)
	for c := 0; c < n; c++ {
		if nx, ok := nodes[0].next[uint8(c)]; ok {
			a.trans[c] = nx
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	outs[0] = nodes[0].outs
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		outs[s] = append(append([]acOut(nil), nodes[s].outs...), outs[fail[s]]...)
		for c := 0; c < n; c++ {
			if nx, ok := nodes[s].next[uint8(c)]; ok {
				a.trans[int(s)*n+c] = nx
				fail[nx] = a.trans[int(fail[s])*n+c]
				queue = append(queue, nx)
			} else {
				a.trans[int(s)*n+c] = a.trans[int(fail[s])*n+c]
			}
		}
	}
	a.outStart = make([]int32, ns+1)
	for s := 0; s < ns; s++ {
		a.outStart[s] = int32(len(a.outs))
		a.outs = append(a.outs, outs[s]...)
	}
	a.outStart[ns] = int32(len(a.outs))
	return a
}

// scan runs the automaton over v and calls hit for every literal whose position constraint holds.
func (a *automaton) scan(v string, fired []uint32, gen uint32, onFire func(lit int32)) {
	if len(v) < a.minLen {
		return
	}
	n := a.nclass
	trans, cls, starts, outs := a.trans, &a.cls, a.outStart, a.outs
	s := int32(0)
	last := len(v) - 1
	for i := 0; i < len(v); i++ {
		s = trans[int(s)*n+int(cls[v[i]])]
		lo, hi := starts[s], starts[s+1]
		for ; lo < hi; lo++ {
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
