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
	// trie built directly in the dense table: trans[s*n+c] = child (0 = none yet)
	a.minLen = 1 << 30
	trans := make([]int32, n, n*64)
	var nodeOuts [][]acOut
	nodeOuts = append(nodeOuts, nil)
	for _, p := range pats {
		if len(p.text) < a.minLen {
			a.minLen = len(p.text)
		}
		s := int32(0)
		for i := 0; i < len(p.text); i++ {
			c := int(a.cls[p.text[i]])
			nx := trans[int(s)*n+c]
			if nx == 0 {
				nx = int32(len(nodeOuts))
				nodeOuts = append(nodeOuts, nil)
				trans = append(trans, make([]int32, n)...)
				trans[int(s)*n+c] = nx
			}
			s = nx
		}
		nodeOuts[s] = append(nodeOuts[s], acOut{lit: p.lit, n: int32(len(p.text)), kind: p.kind})
	}
	if len(pats) == 0 {
		a.minLen = 0
	}
	ns := len(nodeOuts)
	fail := make([]int32, ns)
	outs := make([][]acOut, ns)
	queue := make([]int32, 0, ns)
	outs[0] = nodeOuts[0]
	for c := 0; c < n; c++ {
		if nx := trans[c]; nx != 0 {
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		if len(nodeOuts[s]) == 0 {
			outs[s] = outs[fail[s]]
		} else {
			outs[s] = append(append([]acOut(nil), nodeOuts[s]...), outs[fail[s]]...)
		}
		row := int(s) * n
		frow := int(fail[s]) * n
		for c := 0; c < n; c++ {
			if nx := trans[row+c]; nx != 0 {
				fail[nx] = trans[frow+c]
				queue = append(queue, nx)
			} else {
				trans[row+c] = trans[frow+c]
			}
		}
	}
	a.trans = trans
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
