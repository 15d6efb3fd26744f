package warninglist

// A small Aho-Corasick automaton over bytes for the substring lists: every substring entry of every
// list is folded into one machine, so a value is scanned once whatever the number of entries.

type acPattern struct {
	s     string
	lists []int32
}

type acBuilder struct {
	patterns []acPattern
	index    map[string]int
}

func (b *acBuilder) add(s string, list int32) {
	if s == "" {
		return
	}
	if b.index == nil {
		b.index = map[string]int{}
	}
	if i, ok := b.index[s]; ok {
		b.patterns[i].lists = append(b.patterns[i].lists, list)
		return
	}
	b.index[s] = len(b.patterns)
	b.patterns = append(b.patterns, acPattern{s: s, lists: []int32{list}})
}

type acNode struct {
	next map[byte]int32
	fail int32
	out  []int32 // pattern indexes ending here (including via fail links)
}

type automaton struct{ nodes []acNode }

func (b *acBuilder) build() *automaton {
	m := &automaton{nodes: []acNode{{next: map[byte]int32{}}}}
	for pi, p := range b.patterns {
		cur := int32(0)
		for i := 0; i < len(p.s); i++ {
			c := p.s[i]
			nx, ok := m.nodes[cur].next[c]
			if !ok {
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, acNode{next: map[byte]int32{}})
				m.nodes[cur].next[c] = nx
			}
			cur = nx
		}
		m.nodes[cur].out = append(m.nodes[cur].out, int32(pi))
	}
	// breadth-first fail links
	queue := []int32{}
	for _, nx := range m.nodes[0].next {
		m.nodes[nx].fail = 0
		queue = append(queue, nx)
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for c, v := range m.nodes[u].next {
			queue = append(queue, v)
			f := m.nodes[u].fail
			for {
				if nx, ok := m.nodes[f].next[c]; ok && nx != v {
					m.nodes[v].fail = nx
					break
				}
				if f == 0 {
					m.nodes[v].fail = 0
					break
				}
				f = m.nodes[f].fail
			}
			m.nodes[v].out = append(m.nodes[v].out, m.nodes[m.nodes[v].fail].out...)
		}
	}
	return m
}

// each calls fn for every pattern occurring in s.
func (m *automaton) each(s string, fn func(pattern int)) {
	cur := int32(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		for {
			if nx, ok := m.nodes[cur].next[c]; ok {
				cur = nx
				break
			}
			if cur == 0 {
				break
			}
			cur = m.nodes[cur].fail
		}
		for _, p := range m.nodes[cur].out {
			fn(int(p))
		}
	}
}
