package stix

import (
	"fmt"
	"strconv"
	"strings"
)

// The STIX 2.1 patterning language (oasis-open cti-stix2-json-schemas pattern_grammar/STIXPattern.g4),
// parsed in full by a recursive-descent parser. Precedence, tightest first: AND, OR, FOLLOWEDBY between
// observation expressions; AND, OR between comparisons inside one [ ].

// ObsExpr is an observation expression: an *Observation or an *ObsBinary.
type ObsExpr interface{ obsExpr() }

// CompExpr is a comparison expression: a *Comparison or a *CompBinary.
type CompExpr interface{ compExpr() }

// ObsBinary joins two observation expressions with AND, OR or FOLLOWEDBY.
type ObsBinary struct {
	Op         string
	L, R       ObsExpr
	Qualifiers []Qualifier // on a parenthesised group
}

// Observation is one [ comparison ] with its qualifiers.
type Observation struct {
	Comp       CompExpr
	Qualifiers []Qualifier
}

// Qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t STOP t.
type Qualifier struct {
	Kind        string // WITHIN, REPEATS, START
	N           float64
	Start, Stop string
}

// CompBinary joins two comparisons with AND or OR.
type CompBinary struct {
	Op   string
	L, R CompExpr
}

// Comparison is one property test.
type Comparison struct {
	Path   Path
	Negate bool
	Op     string // =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS
	Value  Literal
	Set    []Literal // IN
}

// Path is an object path: type:prop(.prop|[i]|[*])*.
type Path struct {
	ObjectType string
	Steps      []string // property names; list steps as "[0]" or "[*]"
}

// String writes the path as "type:a.b".
func (p Path) String() string {
	var b strings.Builder
	b.WriteString(p.ObjectType)
	b.WriteByte(':')
	for i, s := range p.Steps {
		if strings.HasPrefix(s, "[") {
			b.WriteString(s)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Literal is a constant of a pattern.
type Literal struct {
	Kind string // string, int, float, bool, timestamp, hex, binary
	Text string // the decoded string value, or the literal as written for numbers
}

func (*ObsBinary) obsExpr()   {}
func (*Observation) obsExpr() {}
func (*CompBinary) compExpr() {}
func (*Comparison) compExpr() {}

// Pattern is a parsed STIX pattern.
type Pattern struct{ Root ObsExpr }

// ParsePattern parses a STIX 2.1 pattern.
func ParsePattern(s string) (*Pattern, error) {
	p := &parser{lx: lexer{s: s}}
	p.next()
	root, err := p.obsExprs()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf("unexpected %q after the pattern", p.tok.text)
	}
	return &Pattern{Root: root}, nil
}

// Comparisons calls fn for every comparison of the pattern, with whether it sits under a negation-free
// chain of ORs only (simple: the pattern is a disjunction of single equality tests).
func (p *Pattern) Comparisons(fn func(c *Comparison)) {
	var walkC func(CompExpr)
	walkC = func(c CompExpr) {
		switch v := c.(type) {
		case *Comparison:
			fn(v)
		case *CompBinary:
			walkC(v.L)
			walkC(v.R)
		}
	}
	var walkO func(ObsExpr)
	walkO = func(o ObsExpr) {
		switch v := o.(type) {
		case *Observation:
			walkC(v.Comp)
		case *ObsBinary:
			walkO(v.L)
			walkO(v.R)
		}
	}
	walkO(p.Root)
}

// Simple reports whether the pattern only ORs equality tests (the subset a match index can serve
// exactly): "[a:b = 'x'] OR [c:d = 'y' OR c:d = 'z']" with no qualifiers.
func (p *Pattern) Simple() bool {
	var okC func(CompExpr) bool
	okC = func(c CompExpr) bool {
		switch v := c.(type) {
		case *Comparison:
			return !v.Negate && (v.Op == "=" || v.Op == "IN")
		case *CompBinary:
			return v.Op == "OR" && okC(v.L) && okC(v.R)
		}
		return false
	}
	var okO func(ObsExpr) bool
	okO = func(o ObsExpr) bool {
		switch v := o.(type) {
		case *Observation:
			return len(v.Qualifiers) == 0 && okC(v.Comp)
		case *ObsBinary:
			return v.Op == "OR" && len(v.Qualifiers) == 0 && okO(v.L) && okO(v.R)
		}
		return false
	}
	return okO(p.Root)
}

// --- lexer

type tkind int

const (
	tEOF tkind = iota
	tIdent
	tString
	tInt
	tFloat
	tTimestamp
	tHex
	tBinary
	tBool
	tPunct
)

type token struct {
	kind tkind
	text string
	pos  int
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && strings.IndexByte(" \t\r\n", l.s[l.pos]) >= 0 {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: tEOF, pos: l.pos}, nil
	}
	start := l.pos
	c := l.s[l.pos]
	switch {
	case c == '\'':
		s, err := l.quoted()
		return token{kind: tString, text: s, pos: start}, err
	case (c == 't' || c == 'h' || c == 'b') && l.pos+1 < len(l.s) && l.s[l.pos+1] == '\'':
		l.pos++
		s, err := l.quoted()
		k := map[byte]tkind{'t': tTimestamp, 'h': tHex, 'b': tBinary}[c]
		return token{kind: k, text: s, pos: start}, err
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		if (c == '-' || c == '+') && (l.pos+1 >= len(l.s) || l.s[l.pos+1] < '0' || l.s[l.pos+1] > '9') {
			return token{}, fmt.Errorf("stray %q at %d", c, start)
		}
		l.pos++
		k := tInt
		for l.pos < len(l.s) && (l.s[l.pos] >= '0' && l.s[l.pos] <= '9' || l.s[l.pos] == '.') {
			if l.s[l.pos] == '.' {
				if k == tFloat {
					break
				}
				k = tFloat
			}
			l.pos++
		}
		return token{kind: k, text: l.s[start:l.pos], pos: start}, nil
	case isIdentStart(c):
		for l.pos < len(l.s) && isIdentChar(l.s[l.pos]) {
			l.pos++
		}
		t := l.s[start:l.pos]
		if t == "true" || t == "false" {
			return token{kind: tBool, text: t, pos: start}, nil
		}
		return token{kind: tIdent, text: t, pos: start}, nil
	}
	for _, p := range []string{"!=", "<=", ">=", "=", "<", ">", "[", "]", "(", ")", ",", ":", ".", "*"} {
		if strings.HasPrefix(l.s[l.pos:], p) {
			l.pos += len(p)
			return token{kind: tPunct, text: p, pos: start}, nil
		}
	}
	return token{}, fmt.Errorf("unexpected character %q at %d", c, start)
}

func (l *lexer) quoted() (string, error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch c {
		case '\\':
			if l.pos+1 >= len(l.s) || (l.s[l.pos+1] != '\'' && l.s[l.pos+1] != '\\') {
				return "", fmt.Errorf("bad escape in string at %d", l.pos)
			}
			b.WriteByte(l.s[l.pos+1])
			l.pos += 2
		case '\'':
			l.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", fmt.Errorf("unterminated string starting at %d", start)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' }

// --- parser

type parser struct {
	lx  lexer
	tok token
	err error
}

func (p *parser) next() {
	if p.err != nil {
		p.tok = token{kind: tEOF}
		return
	}
	t, err := p.lx.next()
	if err != nil {
		p.err = err
		t = token{kind: tEOF}
	}
	p.tok = t
}

func (p *parser) errf(format string, a ...any) error {
	if p.err != nil {
		return p.err
	}
	return fmt.Errorf("stix pattern: at %d: %s", p.tok.pos, fmt.Sprintf(format, a...))
}

func (p *parser) is(kind tkind, text string) bool { return p.tok.kind == kind && p.tok.text == text }
func (p *parser) kw(text string) bool             { return p.is(tIdent, text) }
func (p *parser) punct(text string) bool          { return p.is(tPunct, text) }

func (p *parser) expect(text string) error {
	if !p.punct(text) && !p.kw(text) {
		return p.errf("expected %q, got %q", text, p.tok.text)
	}
	p.next()
	return nil
}

func (p *parser) obsExprs() (ObsExpr, error) { return p.obsBinary(0) }

var obsOps = []string{"FOLLOWEDBY", "OR", "AND"}

func (p *parser) obsBinary(level int) (ObsExpr, error) {
	if level == len(obsOps) {
		return p.obsPrimary()
	}
	l, err := p.obsBinary(level + 1)
	if err != nil {
		return nil, err
	}
	for p.kw(obsOps[level]) {
		p.next()
		r, err := p.obsBinary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &ObsBinary{Op: obsOps[level], L: l, R: r}
	}
	return l, nil
}

func (p *parser) obsPrimary() (ObsExpr, error) {
	switch {
	case p.punct("["):
		p.next()
		c, err := p.compOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		q, err := p.qualifiers()
		if err != nil {
			return nil, err
		}
		return &Observation{Comp: c, Qualifiers: q}, nil
	case p.punct("("):
		p.next()
		e, err := p.obsExprs()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		q, err := p.qualifiers()
		if err != nil {
			return nil, err
		}
		if len(q) > 0 {
			switch v := e.(type) {
			case *Observation:
				v.Qualifiers = append(v.Qualifiers, q...)
			case *ObsBinary:
				v.Qualifiers = append(v.Qualifiers, q...)
			}
		}
		return e, nil
	}
	return nil, p.errf("expected [ or (, got %q", p.tok.text)
}

func (p *parser) qualifiers() ([]Qualifier, error) {
	var out []Qualifier
	for {
		switch {
		case p.kw("WITHIN"):
			p.next()
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if err := p.expect("SECONDS"); err != nil {
				return nil, err
			}
			out = append(out, Qualifier{Kind: "WITHIN", N: n})
		case p.kw("REPEATS"):
			p.next()
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if err := p.expect("TIMES"); err != nil {
				return nil, err
			}
			out = append(out, Qualifier{Kind: "REPEATS", N: n})
		case p.kw("START"):
			p.next()
			if p.tok.kind != tTimestamp {
				return nil, p.errf("START needs a t'...' timestamp")
			}
			start := p.tok.text
			p.next()
			if err := p.expect("STOP"); err != nil {
				return nil, err
			}
			if p.tok.kind != tTimestamp {
				return nil, p.errf("STOP needs a t'...' timestamp")
			}
			out = append(out, Qualifier{Kind: "START", Start: start, Stop: p.tok.text})
			p.next()
		default:
			return out, nil
		}
	}
}

func (p *parser) number() (float64, error) {
	if p.tok.kind != tInt && p.tok.kind != tFloat {
		return 0, p.errf("expected a number, got %q", p.tok.text)
	}
	f, err := strconv.ParseFloat(p.tok.text, 64)
	if err != nil {
		return 0, p.errf("bad number %q", p.tok.text)
	}
	p.next()
	return f, nil
}

func (p *parser) compOr() (CompExpr, error) {
	l, err := p.compAnd()
	if err != nil {
		return nil, err
	}
	for p.kw("OR") {
		p.next()
		r, err := p.compAnd()
		if err != nil {
			return nil, err
		}
		l = &CompBinary{Op: "OR", L: l, R: r}
	}
	return l, nil
}

func (p *parser) compAnd() (CompExpr, error) {
	l, err := p.propTest()
	if err != nil {
		return nil, err
	}
	for p.kw("AND") {
		p.next()
		r, err := p.propTest()
		if err != nil {
			return nil, err
		}
		l = &CompBinary{Op: "AND", L: l, R: r}
	}
	return l, nil
}

func (p *parser) propTest() (CompExpr, error) {
	if p.punct("(") {
		p.next()
		c, err := p.compOr()
		if err != nil {
			return nil, err
		}
		return c, p.expect(")")
	}
	neg := false
	if p.kw("NOT") {
		neg = true
		p.next()
	}
	if p.kw("EXISTS") {
		p.next()
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Negate: neg, Op: "EXISTS"}, nil
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Path: path}
	if p.kw("NOT") {
		c.Negate = true
		p.next()
	}
	switch {
	case p.punct("=") || p.punct("!=") || p.punct("<") || p.punct("<=") || p.punct(">") || p.punct(">="):
		c.Op = p.tok.text
		p.next()
		c.Value, err = p.literal()
		return c, err
	case p.kw("IN"):
		c.Op = "IN"
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			c.Set = append(c.Set, v)
			if p.punct(",") {
				p.next()
				continue
			}
			break
		}
		return c, p.expect(")")
	case p.kw("LIKE") || p.kw("MATCHES") || p.kw("ISSUBSET") || p.kw("ISSUPERSET"):
		c.Op = p.tok.text
		p.next()
		if p.tok.kind != tString {
			return nil, p.errf("%s needs a string", c.Op)
		}
		c.Value = Literal{Kind: "string", Text: p.tok.text}
		p.next()
		return c, nil
	}
	return nil, p.errf("expected a comparison operator, got %q", p.tok.text)
}

func (p *parser) literal() (Literal, error) {
	var l Literal
	switch p.tok.kind {
	case tString:
		l = Literal{Kind: "string", Text: p.tok.text}
	case tInt:
		l = Literal{Kind: "int", Text: p.tok.text}
	case tFloat:
		l = Literal{Kind: "float", Text: p.tok.text}
	case tBool:
		l = Literal{Kind: "bool", Text: p.tok.text}
	case tTimestamp:
		l = Literal{Kind: "timestamp", Text: p.tok.text}
	case tHex:
		l = Literal{Kind: "hex", Text: p.tok.text}
	case tBinary:
		l = Literal{Kind: "binary", Text: p.tok.text}
	default:
		return l, p.errf("expected a literal, got %q", p.tok.text)
	}
	p.next()
	return l, nil
}

func (p *parser) path() (Path, error) {
	if p.tok.kind != tIdent {
		return Path{}, p.errf("expected an object type, got %q", p.tok.text)
	}
	path := Path{ObjectType: p.tok.text}
	p.next()
	if err := p.expect(":"); err != nil {
		return Path{}, err
	}
	first := true
	for {
		if !first {
			if p.punct(".") {
				p.next()
			} else if p.punct("[") {
				// list index: [n] or [*]
				save := p.lx.pos
				saveTok := p.tok
				p.next()
				if p.tok.kind == tInt || p.punct("*") {
					idx := p.tok.text
					p.next()
					if p.punct("]") {
						p.next()
						path.Steps = append(path.Steps, "["+idx+"]")
						continue
					}
				}
				p.lx.pos, p.tok = save, saveTok
				return path, nil
			} else {
				return path, nil
			}
		}
		switch p.tok.kind {
		case tIdent, tString:
			path.Steps = append(path.Steps, p.tok.text)
			p.next()
		default:
			return Path{}, p.errf("expected a property name, got %q", p.tok.text)
		}
		first = false
	}
}
