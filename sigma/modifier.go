package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// valKind is the kind of a compiled value test.
type valKind uint8

const (
	vLit      valKind = iota // case-insensitive literal, answered by the scanner
	vCased                   // case-sensitive literal (cased modifier)
	vGlob                    // wildcard pattern (* and ?), case-insensitive
	vRegex                   // RE2 regular expression
	vCIDR                    // IP in network
	vNum                     // numeric comparison lt/lte/gt/gte
	vExists                  // field (non-)existence
	vNull                    // field missing or empty
	vEmpty                   // field present and empty
	vFieldRef                // value equals another field's value
	vAny                     // field present with any value (contains '')
)

// irVal is one value test before it is placed into a bucket.
type irVal struct {
	kind    valKind
	lkind   acKind
	s       string    // literal text (folded for vLit), raw for vCased, field name for vFieldRef
	trigger string    // folded literal that must occur for the test to be true ("" none)
	needs   []string  // literals (exact case) every regex match contains (repeated: that many times)
	minLen  int       // shortest value (bytes) a regex can match
	run     *classRun // a run of bytes from one class every match contains
	runOnly bool      // the whole expression is that run: the run check is the answer
	glob    []globTok
	re      *regexp.Regexp
	nets    []netip.Prefix
	cmp     string
	num     float64
	exists  bool
	negate  bool // neq
}

// irTest is one field spec: field (empty for keywords), values as groups (AND of groups when all,
// OR otherwise; OR inside a group: the variants one value expands to).
type irTest struct {
	field  string
	all    bool
	groups [][]irVal
}

type globTok struct {
	lit  string // folded literal; empty with star/one
	star bool
	one  bool
}

// sigmaString is a rule string split into literal runs and wildcards.
type sigmaString []globTok

// parseSigmaString applies Sigma's escaping: \* \? \\ are literal, a lone backslash is literal.
func parseSigmaString(s string, wildcards bool) sigmaString {
	var out sigmaString
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, globTok{lit: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case wildcards && c == '*':
			flush()
			if len(out) == 0 || !out[len(out)-1].star {
				out = append(out, globTok{star: true})
			}
		case wildcards && c == '?':
			flush()
			out = append(out, globTok{one: true})
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// plain returns the string with escapes removed and wildcards kept as literal characters.
func unescapePlain(s string) string {
	var b strings.Builder
	for _, t := range parseSigmaString(s, false) {
		b.WriteString(t.lit)
	}
	return b.String()
}

// known modifiers.
var typeModifiers = map[string]bool{"contains": true, "startswith": true, "endswith": true, "re": true, "cidr": true,
	"lt": true, "lte": true, "gt": true, "gte": true, "exists": true, "fieldref": true, "neq": true}
var transformModifiers = map[string]bool{"base64": true, "base64offset": true, "utf16le": true, "utf16be": true,
	"utf16": true, "wide": true, "windash": true, "expand": true}
var flagModifiers = map[string]bool{"all": true, "cased": true, "i": true, "m": true, "s": true, "ignorecase": true,
	"multiline": true, "dotall": true}

// compileSpec turns one field spec into an irTest.
func compileSpec(fs FieldSpec, placeholders map[string][]string) (*irTest, error) {
	t := &irTest{field: fs.Field}
	var typ string
	var transforms []string
	cased, reI, reM, reS := false, false, false, false
	for _, m := range fs.Modifiers {
		switch {
		case typeModifiers[m]:
			if typ != "" && !(typ == "contains" && m == "neq") {
				return nil, fmt.Errorf("modifiers %q and %q cannot be combined", typ, m)
			}
			typ = m
		case transformModifiers[m]:
			transforms = append(transforms, m)
		case flagModifiers[m]:
			switch m {
			case "all":
				t.all = true
			case "cased":
				cased = true
			case "i", "ignorecase":
				reI = true
			case "m", "multiline":
				reM = true
			case "s", "dotall":
				reS = true
			}
		default:
			return nil, fmt.Errorf("unknown modifier %q", m)
		}
	}
	if len(fs.Values) == 0 {
		return nil, fmt.Errorf("field %q has no values", fs.Field)
	}
	if fs.Field == "" && typ == "" {
		typ = "contains" // keywords match anywhere in any field
	}
	for _, v := range fs.Values {
		group, err := compileValue(v, typ, transforms, cased, reI, reM, reS, placeholders)
		if err != nil {
			return nil, fmt.Errorf("field %q: %v", fs.Field, err)
		}
		t.groups = append(t.groups, group)
	}
	if t.all && len(t.groups) == 1 {
		t.all = false
	}
	return t, nil
}

func compileValue(v Value, typ string, transforms []string, cased, reI, reM, reS bool, placeholders map[string][]string) ([]irVal, error) {
	switch typ {
	case "exists":
		b, err := strconv.ParseBool(v.S)
		if err != nil {
			return nil, fmt.Errorf("exists needs true or false, got %q", v.S)
		}
		return []irVal{{kind: vExists, exists: b}}, nil
	case "fieldref":
		if v.S == "" {
			return nil, fmt.Errorf("fieldref needs a field name")
		}
		return []irVal{{kind: vFieldRef, s: v.S}}, nil
	case "lt", "lte", "gt", "gte":
		f, err := strconv.ParseFloat(v.S, 64)
		if err != nil {
			return nil, fmt.Errorf("%s needs a number, got %q", typ, v.S)
		}
		return []irVal{{kind: vNum, cmp: typ, num: f}}, nil
	case "cidr":
		p, err := netip.ParsePrefix(strings.TrimSpace(v.S))
		if err != nil {
			a, err2 := netip.ParseAddr(strings.TrimSpace(v.S))
			if err2 != nil {
				return nil, fmt.Errorf("bad CIDR %q", v.S)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return []irVal{{kind: vCIDR, nets: []netip.Prefix{p.Masked()}}}, nil
	case "re":
		if len(transforms) > 0 {
			return nil, fmt.Errorf("re cannot be combined with %v", transforms)
		}
		return compileRegex(v.S, reI, reM, reS)
	}
	if v.Kind == KindNull {
		if typ != "" || len(transforms) > 0 {
			return nil, fmt.Errorf("null value with modifiers")
		}
		return []irVal{{kind: vNull}}, nil
	}
	// String-like values, through the transformation chain.
	strs := []string{v.S}
	wildcards := true
	for _, tr := range transforms {
		var next []string
		switch tr {
		case "expand":
			for _, s := range strs {
				next = append(next, expandPlaceholders(s, placeholders)...)
			}
		case "windash":
			for _, s := range strs {
				next = append(next, windashVariants(s)...)
			}
		case "wide", "utf16le":
			for _, s := range strs {
				next = append(next, encodeUTF16(unescapePlain(s), false, false))
			}
			wildcards = false
		case "utf16be":
			for _, s := range strs {
				next = append(next, encodeUTF16(unescapePlain(s), true, false))
			}
			wildcards = false
		case "utf16":
			for _, s := range strs {
				next = append(next, encodeUTF16(unescapePlain(s), false, true))
			}
			wildcards = false
		case "base64":
			for _, s := range strs {
				if wildcards {
					s = unescapePlain(s)
				}
				next = append(next, escapeWild(base64.StdEncoding.EncodeToString([]byte(s))))
			}
			wildcards = true
		case "base64offset":
			for _, s := range strs {
				if wildcards {
					s = unescapePlain(s)
				}
				for _, o := range base64Offsets(s) {
					next = append(next, escapeWild(o))
				}
			}
			wildcards = true
			if typ == "" {
				typ = "contains" // base64offset only makes sense as a substring
			}
		}
		strs = next
		if len(strs) > 4096 {
			return nil, fmt.Errorf("value %q expands to too many variants", v.S)
		}
	}
	if !wildcards {
		for i, s := range strs {
			strs[i] = escapeWild(s)
		}
	}
	var out []irVal
	for _, s := range strs {
		toks := parseSigmaString(s, true)
		switch typ {
		case "contains":
			toks = append(append(sigmaString{{star: true}}, toks...), globTok{star: true})
		case "startswith":
			toks = append(toks, globTok{star: true})
		case "endswith":
			toks = append(sigmaString{{star: true}}, toks...)
		}
		toks = squashStars(toks)
		iv := stringTest(toks, cased)
		if typ == "neq" {
			iv.negate = true
		}
		out = append(out, iv)
	}
	return out, nil
}

func escapeWild(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
	return r.Replace(s)
}

func squashStars(t sigmaString) sigmaString {
	out := t[:0:0]
	for _, x := range t {
		if x.star && len(out) > 0 && out[len(out)-1].star {
			continue
		}
		if !x.star && !x.one && len(out) > 0 && !out[len(out)-1].star && !out[len(out)-1].one {
			out[len(out)-1].lit += x.lit
			continue
		}
		out = append(out, x)
	}
	return out
}

// stringTest picks the cheapest test for a wildcard pattern: literal (exact, prefix, suffix, contains)
// when the only wildcards are leading/trailing stars, a glob otherwise.
func stringTest(t sigmaString, cased bool) irVal {
	hasOne := false
	for _, x := range t {
		if x.one {
			hasOne = true
		}
	}
	lead := len(t) > 0 && t[0].star
	trail := len(t) > 0 && t[len(t)-1].star
	inner := t
	if lead {
		inner = inner[1:]
	}
	if trail && len(inner) > 0 {
		inner = inner[:len(inner)-1]
	}
	if !hasOne && len(inner) <= 1 {
		lit := ""
		if len(inner) == 1 {
			lit = inner[0].lit
		}
		if lit == "" {
			if lead || trail {
				return irVal{kind: vAny}
			}
			return irVal{kind: vEmpty}
		}
		k := litExact
		switch {
		case lead && trail:
			k = litContains
		case lead:
			k = litSuffix
		case trail:
			k = litPrefix
		}
		if cased {
			return irVal{kind: vCased, lkind: k, s: lit, trigger: foldASCII(lit)}
		}
		return irVal{kind: vLit, lkind: k, s: foldASCII(lit)}
	}
	g := make([]globTok, len(t))
	best := ""
	for i, x := range t {
		g[i] = x
		if !cased {
			g[i].lit = foldASCII(x.lit)
		}
		if len(x.lit) > len(best) {
			best = x.lit
		}
	}
	iv := irVal{kind: vGlob, glob: g, trigger: foldASCII(best)}
	if cased {
		iv.lkind = 1 // marks case-sensitive glob
	}
	return iv
}

func compileRegex(expr string, i, m, s bool) ([]irVal, error) {
	flags := ""
	if i {
		flags += "i"
	}
	if m {
		flags += "m"
	}
	if s {
		flags += "s"
	}
	full := expr
	if flags != "" {
		full = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(full)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", expr, err)
	}
	trig, needs := regexLiteral(full)
	minLen := 0
	var run *classRun
	if p, err := syntax.Parse(full, syntax.Perl); err == nil {
		run = regexRun(p) // before Simplify, which unrolls x{n}
		minLen = regexMinLen(p.Simplify())
		if run != nil {
			q := p
			if q.Op == syntax.OpCapture {
				q = q.Sub[0]
			}
			// x{n,} or x{n,m} alone, unanchored: a match exists iff a run of n exists; only ASCII
			// classes qualify (the run check counts bytes, the regex counts runes)
			runOnly := q.Op == syntax.OpRepeat && (asciiOnly(q.Sub[0]) || run.runes)
			if runOnly {
				return []irVal{{kind: vRegex, re: re, run: run, runOnly: true, minLen: run.n}}, nil
			}
		}
	}
	return []irVal{{kind: vRegex, re: re, trigger: trig, needs: needs, minLen: minLen, run: run}}, nil
}

// regexLiteral returns a folded literal of at least 3 bytes that every match of the expression must
// contain (a trigger for the scanner), and the literals not subject to case folding that every
// match contains, for quick strings.Contains checks before the regular expression runs.
func regexLiteral(expr string) (trigger string, needs []string) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", nil
	}
	re = re.Simplify()
	best := ""
	consider := func(r *syntax.Regexp) {
		if r.Op != syntax.OpLiteral {
			return
		}
		s := string(r.Rune)
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return // the scanner folds ASCII only
			}
		}
		if len(s) > len(best) {
			best = s
		}
		if r.Flags&syntax.FoldCase == 0 || !hasLetter(s) {
			needs = append(needs, s)
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		consider(re)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			consider(sub)
		}
	}
	if len(best) >= 3 {
		return foldASCII(best), nil
	}
	return "", needs
}

// regexMinLen is a lower bound on the bytes any match of re needs (every rune counts as one byte).
func regexMinLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		if re.Flags&syntax.FoldCase != 0 {
			n = len(re.Rune) // folded forms may be shorter in UTF-8
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture:
		return regexMinLen(re.Sub[0])
	case syntax.OpPlus:
		return regexMinLen(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * regexMinLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += regexMinLen(s)
		}
		return n
	case syntax.OpAlternate:
		m := -1
		for _, s := range re.Sub {
			if x := regexMinLen(s); m < 0 || x < m {
				m = x
			}
		}
		return max(m, 0)
	}
	return 0 // star, quest, empty, anchors, boundaries
}

// classRun says: a run of at least n consecutive bytes, each in set.
type classRun struct {
	set   [256]bool
	n     int
	runes bool // count runes (UTF-8 lead bytes), not bytes: for . and (?s).
}

// has reports whether v contains the run.
func (c *classRun) has(v string) bool {
	k := 0
	for i := 0; i < len(v); i++ {
		if c.set[v[i]] {
			if c.runes && v[i]&0xC0 == 0x80 {
				continue // UTF-8 continuation byte: part of the rune already counted
			}
			k++
			if k >= c.n {
				return true
			}
		} else {
			k = 0
		}
	}
	return false
}

// regexRun finds, among the top-level parts of a regex, a repetition of a character class of at
// least 4 (x{n,} with n >= 4); every match contains such a run.
func regexRun(re *syntax.Regexp) *classRun {
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	var best *classRun
	for _, p := range parts {
		if p.Op == syntax.OpCapture {
			p = p.Sub[0]
		}
		if p.Op != syntax.OpRepeat || p.Min < 4 {
			continue
		}
		sub := p.Sub[0]
		var c classRun
		switch sub.Op {
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			for b := 0; b < 256; b++ {
				c.set[b] = sub.Op == syntax.OpAnyChar || b != '\n'
			}
			c.runes = true
		case syntax.OpCharClass:
			for i := 0; i+1 < len(sub.Rune); i += 2 {
				lo, hi := sub.Rune[i], sub.Rune[i+1]
				for r := lo; r <= hi && r < 0x80; r++ {
					c.set[r] = true
				}
				if hi >= 0x80 {
					for b := 0x80; b < 256; b++ {
						c.set[b] = true // any UTF-8 byte may belong to a non-ASCII member
					}
				}
			}
		default:
			continue
		}
		c.n = p.Min
		if best == nil || c.n > best.n {
			cc := c
			best = &cc
		}
	}
	return best
}

// asciiOnly reports whether a character class (or any-char) admits only ASCII.
func asciiOnly(re *syntax.Regexp) bool {
	if re.Op != syntax.OpCharClass {
		return false
	}
	for i := 1; i < len(re.Rune); i += 2 {
		if re.Rune[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// windashVariants replaces every dash or slash that starts a command-line flag with each of the
// characters Windows accepts there (pySigma's windash).
func windashVariants(s string) []string {
	dashes := []string{"-", "/", "\u2013", "\u2014", "\u2015"}
	var pos []int
	for i := 0; i < len(s); i++ {
		if s[i] != '-' && s[i] != '/' {
			continue
		}
		prevWord := i > 0 && isWordByte(s[i-1])
		nextWord := i+1 < len(s) && isWordByte(s[i+1])
		if !prevWord && nextWord {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return []string{s}
	}
	if len(pos) > 4 {
		pos = pos[:4]
	}
	out := []string{""}
	last := 0
	for _, p := range pos {
		var next []string
		for _, o := range out {
			for _, d := range dashes {
				next = append(next, o+s[last:p]+d)
			}
		}
		out = next
		last = p + 1
	}
	for i := range out {
		out[i] += s[last:]
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func expandPlaceholders(s string, ph map[string][]string) []string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return []string{s}
	}
	j := strings.IndexByte(s[i+1:], '%')
	if j < 0 {
		return []string{s}
	}
	name := s[i+1 : i+1+j]
	vals, ok := ph[name]
	if !ok || len(vals) == 0 {
		vals = []string{"*"}
	}
	var out []string
	for _, v := range vals {
		for _, rest := range expandPlaceholders(s[i+j+2:], ph) {
			out = append(out, s[:i]+v+rest)
		}
	}
	return out
}

func encodeUTF16(s string, bigEndian, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three base64 encodings of s at offsets 0, 1 and 2 inside a longer
// string, trimmed to the characters that do not depend on the surrounding bytes.
func base64Offsets(s string) []string {
	start := []int{0, 2, 3}
	end := []int{0, -3, -2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), s...))
		n := (len(s) + i) % 3
		e := len(enc) + end[n]
		if n == 0 {
			e = len(enc)
		}
		if start[i] > e {
			continue
		}
		out = append(out, enc[start[i]:e])
	}
	return out
}

// globMatch reports whether v matches the pattern; when fold, ASCII letters compare case-insensitively.
func globMatch(p []globTok, v string, fold bool) bool {
	// iterative matcher with backtracking to the last star
	pi, vi := 0, 0
	starP, starV := -1, 0
	for {
		if pi < len(p) {
			t := p[pi]
			switch {
			case t.star:
				starP, starV = pi, vi
				pi++
				continue
			case t.one:
				if vi < len(v) {
					_, n := utf8.DecodeRuneInString(v[vi:])
					vi += n
					pi++
					continue
				}
			default:
				if hasPrefixFold(v[vi:], t.lit, fold) {
					vi += len(t.lit)
					pi++
					continue
				}
			}
		} else if vi == len(v) {
			return true
		}
		if starP < 0 || starV >= len(v) {
			return false
		}
		starV++
		pi, vi = starP+1, starV
	}
}

func hasPrefixFold(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		if foldByte(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}
