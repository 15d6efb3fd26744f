package sigma

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveFind is the scanner's specification: every literal whose text occurs in v (ASCII case
// folded) at the place its kind asks for.
func naiveFind(pats []pattern, v string) []int32 {
	var out []int32
	for _, p := range pats {
		if litMatch(v, foldASCII(p.text), p.kind) && p.text != "" {
			out = append(out, p.lit)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func scanFind(s *scanner, n int, v string) []int32 {
	seen := make([]uint32, n)
	out := s.scan(v, nil, seen, 1)
	slices.Sort(out)
	return out
}

func TestScannerTable(t *testing.T) {
	pats := []pattern{
		{"cmd.exe", litSuffix, 0}, {"\\cmd.exe", litSuffix, 1}, {"c:\\windows\\", litPrefix, 2}, {"whoami.exe", litExact, 3},
		{" -e", litContains, 4}, {"-", litContains, 5}, {"/c", litContains, 6}, {"powershell", litContains, 7},
		{"c\x00m\x00d\x00", litContains, 8}, {"é", litContains, 9}, {"abcd", litContains, 10}, {"bcde", litContains, 11},
		{"ab", litPrefix, 12}, {"de", litSuffix, 13}, {"x", litExact, 14}, {"Mixed", litContains, 15},
	}
	s := buildScanner(pats)
	for _, tc := range []struct {
		v    string
		want []int32
	}{
		{`C:\Windows\System32\cmd.exe`, []int32{0, 1, 2}},
		{`WHOAMI.EXE`, []int32{3}},
		{`x\whoami.exe`, nil},
		{`POWERSHELL -E abc /C`, []int32{4, 5, 7, 6}},
		{"c\x00m\x00d\x00", []int32{8}},
		{"café", []int32{9}},
		{"abcde", []int32{10, 11, 12, 13}},
		{"x", []int32{14}},
		{"xx", nil},
		{"some mixed case", []int32{15}},
		{"", nil},
		{"ab", []int32{12}},
	} {
		got := scanFind(s, 16, tc.v)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %v want %v", tc.v, got, want)
		}
		if naive := naiveFind(pats, tc.v); !slices.Equal(got, naive) {
			t.Errorf("%q: scanner %v, naive %v", tc.v, got, naive)
		}
	}
}

// TestScannerRandom compares the scanner with the naive search on random literal sets and values
// drawn from a small alphabet (so that partial matches, shared anchors and overlaps abound).
func TestScannerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const alpha = "abAB\\. -\x00é"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return string(b)
	}
	for round := 0; round < 300; round++ {
		var pats []pattern
		for i := 0; i < 1+r.IntN(60); i++ {
			pats = append(pats, pattern{text: foldASCII(word(1 + r.IntN(9))), kind: acKind(r.IntN(4)), lit: int32(i)})
		}
		s := buildScanner(pats)
		for k := 0; k < 50; k++ {
			v := word(r.IntN(40))
			if got, want := scanFind(s, len(pats), v), naiveFind(pats, v); !slices.Equal(got, want) {
				t.Fatalf("patterns %q\nvalue %q: scanner %v, naive %v", pats, v, got, want)
			}
		}
	}
}

func FuzzScanner(f *testing.F) {
	f.Add("cmd.exe|\\windows\\|-e|a", `C:\Windows\cmd.exe -E`)
	f.Add("abcd|bc|d", "xxABCDxx")
	f.Fuzz(func(t *testing.T, lits, v string) {
		var pats []pattern
		start := 0
		for i := 0; i <= len(lits) && len(pats) < 64; i++ {
			if i == len(lits) || lits[i] == '|' {
				if i > start {
					pats = append(pats, pattern{text: foldASCII(lits[start:i]), kind: acKind(len(pats) % 4), lit: int32(len(pats))})
				}
				start = i + 1
			}
		}
		s := buildScanner(pats)
		if got, want := scanFind(s, len(pats), v), naiveFind(pats, v); !slices.Equal(got, want) {
			t.Fatalf("patterns %q value %q: scanner %v, naive %v", pats, v, got, want)
		}
	})
}
