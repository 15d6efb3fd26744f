package sigma

import (
	"math/bits"
	"sort"
)

// acKind says where in the value a literal must sit.
type acKind uint8

const (
	litContains acKind = iota
	litPrefix
	litSuffix
	litExact
)

// pattern is one literal a scanner looks for: already ASCII-lowercased, with its position
// constraint and its bucket literal id.
type pattern struct {
	text string
	kind acKind
	lit  int32
}

// scanner finds, in one pass over a value, every literal of one field of one bucket (and the
// keyword literals folded into it). It replaces an Aho-Corasick automaton, whose state walk is one
// long chain of dependent loads through tables far larger than the processor's caches, with a
// filter that stays in the first-level cache and checks each position on its own:
//
//   - every literal is indexed by one anchor: for literals of 4 bytes or more, one of their 4-byte
//     grams (the one the fewest other literals share); shorter literals are their own anchor;
//   - the scan keeps the last 4 folded bytes of the value in a word and, at each position, tests a
//     hashed bitset of the 4-byte anchors (at most 16 KiB) and, when there are shorter literals, a
//     bitset of their last two bytes (8 KiB);
//   - only where a bitset says yes is the anchor looked up in a hash table, and each literal that
//     has that anchor is verified: its position constraint first (prefix, suffix, exact: two
//     comparisons), then its bytes.
//
// Bytes are compared ASCII-case-insensitively; other bytes exactly.
type scanner struct {
	minLen int
	// filt4 is the bitset of the 4-byte anchors' hashes (nil: none); shift4 maps a hash to a bit.
	filt4  []uint64
	shift4 uint8
	// short has a bit for every 2-byte tail of a 1-, 2- or 3-byte anchor (nil: none): for a 1-byte
	// anchor c, every "?c".
	short []uint64
	has   [4]bool // anchors of 1, 2, 3 bytes exist
	// the anchor table: open addressing, keyed by q<<32 | gram, each slot a run of anchored
	// literals in anch
	slots []anchorSlot
	mask  uint64
	anch  []anchored
	arena string // the literals' text, concatenated
}

type anchorSlot struct {
	key      uint64 // ^0: empty
	start, n uint32
}

type anchored struct {
	lit  int32
	off  uint32 // offset of the anchor in the literal
	n    uint32 // literal length
	text uint32 // offset of the literal in arena
	kind acKind
}

// foldTab lowercases ASCII letters.
var foldTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 32
		}
	}
	return t
}()

func foldByte(c byte) byte { return foldTab[c] }

// foldASCII lowercases ASCII letters only; other bytes are kept as they are.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = foldTab[b[j]]
			}
			return string(b)
		}
	}
	return s
}

const gramHash = 0x9E3779B97F4A7C15

func gramKey(q int, g uint32) uint64 { return uint64(q)<<32 | uint64(g) }

// gramOf reads the q bytes of s at i as a word, first byte highest.
func gramOf(s string, i, q int) uint32 {
	var g uint32
	for j := 0; j < q; j++ {
		g = g<<8 | uint32(s[i+j])
	}
	return g
}

func buildScanner(pats []pattern) *scanner {
	s := &scanner{minLen: 1 << 30}
	if len(pats) == 0 {
		s.minLen = 0
		return s
	}
	// how many literals contain each 4-gram: anchors avoid the common ones
	freq := map[uint32]int{}
	for _, p := range pats {
		seen := map[uint32]bool{}
		t := foldASCII(p.text)
		for i := 0; i+4 <= len(t); i++ {
			g := gramOf(t, i, 4)
			if !seen[g] {
				seen[g] = true
				freq[g]++
			}
		}
	}
	type pick struct {
		key uint64
		a   anchored
	}
	used := map[uint64]int{}
	picks := make([]pick, 0, len(pats))
	// short literals first (they have no choice), then the rest in a stable order
	order := make([]int, len(pats))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return len(pats[order[i]].text) < len(pats[order[j]].text) })
	var arena []byte
	texts := map[string]uint32{}
	for _, pi := range order {
		p := pats[pi]
		p.text = foldASCII(p.text)
		n := len(p.text)
		if n < s.minLen {
			s.minLen = n
		}
		if n == 0 {
			continue
		}
		off, q := 0, min(n, 4)
		if n > 4 {
			best := -1
			for i := 0; i+4 <= n; i++ {
				g := gramOf(p.text, i, 4)
				score := freq[g]*16 + used[gramKey(4, g)]
				if best < 0 || score < best {
					best, off = score, i
				}
			}
		}
		key := gramKey(q, gramOf(p.text, off, q))
		used[key]++
		to, ok := texts[p.text]
		if !ok {
			to = uint32(len(arena))
			arena = append(arena, p.text...)
			texts[p.text] = to
		}
		picks = append(picks, pick{key, anchored{lit: p.lit, off: uint32(off), n: uint32(n), text: to, kind: p.kind}})
	}
	if s.minLen == 1<<30 {
		s.minLen = 0
	}
	s.arena = string(arena)
	// runs of literals by anchor
	sort.SliceStable(picks, func(i, j int) bool { return picks[i].key < picks[j].key })
	nkeys := 0
	for i := range picks {
		if i == 0 || picks[i].key != picks[i-1].key {
			nkeys++
		}
	}
	size := 1 << bits.Len(uint(nkeys*2))
	s.slots = make([]anchorSlot, size)
	s.mask = uint64(size - 1)
	for i := range s.slots {
		s.slots[i].key = ^uint64(0)
	}
	count := [5]int{}
	for i := 0; i < len(picks); {
		j := i
		for j < len(picks) && picks[j].key == picks[i].key {
			s.anch = append(s.anch, picks[j].a)
			j++
		}
		k := picks[i].key
		h := (k * gramHash) >> 32
		for {
			slot := &s.slots[h&s.mask]
			if slot.key == ^uint64(0) {
				*slot = anchorSlot{k, uint32(len(s.anch) - (j - i)), uint32(j - i)}
				break
			}
			h++
		}
		count[k>>32]++
		i = j
	}
	// the 4-byte anchors' bitset: about 16 bits per anchor (false hits ~6%), 512 bits to 128 Kbit
	if count[4] > 0 {
		nbits := 1 << bits.Len(uint(count[4]*16))
		nbits = max(512, min(nbits, 1<<17))
		s.filt4 = make([]uint64, nbits/64)
		s.shift4 = uint8(64 - bits.TrailingZeros(uint(nbits)))
	}
	if count[1]+count[2]+count[3] > 0 {
		s.short = make([]uint64, 1<<16/64)
	}
	for _, sl := range s.slots {
		k := sl.key
		if k == ^uint64(0) {
			continue
		}
		q, g := int(k>>32), uint32(k)
		switch q {
		case 4:
			h := (uint64(g) * gramHash) >> s.shift4
			s.filt4[h>>6] |= 1 << (h & 63)
		case 1:
			for c := uint32(0); c < 256; c++ {
				t := c<<8 | g
				s.short[t>>6] |= 1 << (t & 63)
			}
			s.has[1] = true
		default:
			t := g & 0xFFFF
			s.short[t>>6] |= 1 << (t & 63)
			s.has[q] = true
		}
	}
	return s
}

// scan appends to out every literal found in v whose position constraint holds, once per value
// (seen and stamp deduplicate).
func (s *scanner) scan(v string, out []int32, seen []uint32, stamp uint32) []int32 {
	if len(v) < s.minLen || s.minLen == 0 {
		return out
	}
	f4, sh := s.filt4, s.shift4
	var w uint32
	switch {
	case s.short == nil:
		for i := 0; i < len(v); i++ {
			w = w<<8 | uint32(foldTab[v[i]])
			if h := (uint64(w) * gramHash) >> sh; f4[h>>6]&(1<<(h&63)) != 0 && i >= 3 {
				out = s.verify(4, w, i, v, out, seen, stamp)
			}
		}
	case f4 == nil:
		short := s.short
		for i := 0; i < len(v); i++ {
			w = w<<8 | uint32(foldTab[v[i]])
			if t := w & 0xFFFF; short[t>>6]&(1<<(t&63)) != 0 {
				out = s.verifyShort(w, i, v, out, seen, stamp)
			}
		}
	default:
		short := s.short
		for i := 0; i < len(v); i++ {
			w = w<<8 | uint32(foldTab[v[i]])
			if h := (uint64(w) * gramHash) >> sh; f4[h>>6]&(1<<(h&63)) != 0 && i >= 3 {
				out = s.verify(4, w, i, v, out, seen, stamp)
			}
			if t := w & 0xFFFF; short[t>>6]&(1<<(t&63)) != 0 {
				out = s.verifyShort(w, i, v, out, seen, stamp)
			}
		}
	}
	return out
}

// verifyShort checks the 1-, 2- and 3-byte anchors that end at v[i].
func (s *scanner) verifyShort(w uint32, i int, v string, out []int32, seen []uint32, stamp uint32) []int32 {
	if s.has[1] {
		out = s.verify(1, w&0xFF, i, v, out, seen, stamp)
	}
	if s.has[2] && i >= 1 {
		out = s.verify(2, w&0xFFFF, i, v, out, seen, stamp)
	}
	if s.has[3] && i >= 2 {
		out = s.verify(3, w&0xFFFFFF, i, v, out, seen, stamp)
	}
	return out
}

// verify checks the literals anchored at the q-gram g that ends at v[i].
func (s *scanner) verify(q int, g uint32, i int, v string, out []int32, seen []uint32, stamp uint32) []int32 {
	k := gramKey(q, g)
	h := (k * gramHash) >> 32
	for {
		r := &s.slots[h&s.mask]
		sk := r.key
		if sk == k {
			for _, a := range s.anch[r.start : r.start+r.n] {
				if seen[a.lit] == stamp {
					continue
				}
				start := i + 1 - q - int(a.off)
				end := start + int(a.n)
				if start < 0 || end > len(v) {
					continue
				}
				switch a.kind {
				case litPrefix:
					if start != 0 {
						continue
					}
				case litSuffix:
					if end != len(v) {
						continue
					}
				case litExact:
					if start != 0 || end != len(v) {
						continue
					}
				}
				if int(a.n) > q && !equalFold(v[start:end], s.arena[a.text:a.text+uint32(a.n)]) {
					continue
				}
				seen[a.lit] = stamp
				out = append(out, a.lit)
			}
			return out
		}
		if sk == ^uint64(0) {
			return out
		}
		h++
	}
}

// equalFold compares v with a folded literal of the same length, ASCII-case-insensitively.
func equalFold(v, lit string) bool {
	for i := 0; i < len(lit); i++ {
		if foldTab[v[i]] != lit[i] {
			return false
		}
	}
	return true
}

// size is the scanner's memory in bytes (for EngineStats).
func (s *scanner) size() int {
	return len(s.slots)*16 + len(s.anch)*20 + len(s.arena) + len(s.filt4)*8 + len(s.short)*8
}
