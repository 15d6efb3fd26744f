package sigma

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
)

// Cond is a parsed condition expression.
type Cond interface{ condString() string }

// CondAnd is "a and b".
type CondAnd struct{ L, R Cond }

// CondOr is "a or b".
type CondOr struct{ L, R Cond }

// CondNot is "not x".
type CondNot struct{ X Cond }

// CondIdent names one search identifier.
type CondIdent struct{ Name string }

// CondOf is "1 of pattern", "all of pattern", "1 of them", "all of them". Count 0 means all.
type CondOf struct {
	Count   int
	Pattern string // "them" for all identifiers
}

func (c *CondAnd) condString() string {
	return "(" + c.L.condString() + " and " + c.R.condString() + ")"
}
func (c *CondOr) condString() string    { return "(" + c.L.condString() + " or " + c.R.condString() + ")" }
func (c *CondNot) condString() string   { return "not " + c.X.condString() }
func (c *CondIdent) condString() string { return c.Name }
func (c *CondOf) condString() string {
	n := "all"
	if c.Count > 0 {
		n = strconv.Itoa(c.Count)
	}
	return n + " of " + c.Pattern
}

// CondString renders a parsed condition with full brackets (for tests and explanations).
func CondString(c Cond) string { return c.condString() }

type condToken struct {
	kind byte // 'i' ident, '(' ')', 'a' and, 'o' or, 'n' not, 'f' of, 'N' number/all, 't' them, '|' pipe
	text string
	pos  int
}

func lexCondition(s string) ([]condToken, error) {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{kind: c, text: string(c), pos: i})
			i++
		case c == '|':
			toks = append(toks, condToken{kind: '|', text: "|", pos: i})
			i++
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			w := s[i:j]
			t := condToken{kind: 'i', text: w, pos: i}
			switch strings.ToLower(w) {
			case "and":
				t.kind = 'a'
			case "or":
				t.kind = 'o'
			case "not":
				t.kind = 'n'
			case "of":
				t.kind = 'f'
			case "all", "any":
				t.kind = 'N'
			case "them":
				t.kind = 't'
			default:
				if _, err := strconv.Atoi(w); err == nil {
					t.kind = 'N'
				}
			}
			toks = append(toks, t)
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '*' || c == '-' || c == '.' || c == '?' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
}

type condParser struct {
	toks  []condToken
	i     int
	depth int
}

// ParseCondition parses one Sigma condition expression.
func ParseCondition(s string) (Cond, error) {
	const op = "sigma.ParseCondition"
	toks, err := lexCondition(s)
	if err != nil {
		return nil, socbot.FieldError(op, "condition", "%v", err)
	}
	for _, t := range toks {
		if t.kind == '|' {
			return nil, socbot.E(op, socbot.KindUnsupported, "legacy aggregation in condition ('| count() ...'); use a correlation rule")
		}
	}
	p := &condParser{toks: toks}
	c, err := p.or()
	if err != nil {
		return nil, socbot.FieldError(op, "condition", "%v", err)
	}
	if p.i != len(p.toks) {
		return nil, socbot.FieldError(op, "condition", "unexpected %q at %d", p.toks[p.i].text, p.toks[p.i].pos)
	}
	return c, nil
}

func (p *condParser) peek() byte {
	if p.i < len(p.toks) {
		return p.toks[p.i].kind
	}
	return 0
}

func (p *condParser) or() (Cond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == 'o' {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &CondOr{L: l, R: r}
	}
	return l, nil
}

func (p *condParser) and() (Cond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == 'a' {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &CondAnd{L: l, R: r}
	}
	return l, nil
}

func (p *condParser) not() (Cond, error) {
	if p.peek() == 'n' {
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > 200 {
			return nil, fmt.Errorf("condition nested too deeply")
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &CondNot{X: x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (Cond, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of condition")
	}
	t := p.toks[p.i]
	switch t.kind {
	case '(':
		p.i++
		p.depth++
		if p.depth > 200 {
			return nil, fmt.Errorf("condition nested too deeply")
		}
		x, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ')' for '(' at %d", t.pos)
		}
		p.i++
		return x, nil
	case 'N':
		if p.i+1 < len(p.toks) && p.toks[p.i+1].kind == 'f' {
			if p.i+2 >= len(p.toks) {
				return nil, fmt.Errorf("'%s of' needs a pattern or 'them'", t.text)
			}
			tt := p.toks[p.i+2]
			if tt.kind != 'i' && tt.kind != 't' {
				return nil, fmt.Errorf("'%s of' needs a pattern or 'them', got %q", t.text, tt.text)
			}
			n := 1
			switch strings.ToLower(t.text) {
			case "all":
				n = 0
			case "any":
				n = 1
			default:
				n, _ = strconv.Atoi(t.text)
				if n <= 0 {
					return nil, fmt.Errorf("bad count %q", t.text)
				}
			}
			pat := tt.text
			if tt.kind == 't' {
				pat = "them"
			}
			p.i += 3
			return &CondOf{Count: n, Pattern: pat}, nil
		}
		if t.text == "all" || t.text == "any" {
			return nil, fmt.Errorf("%q without 'of' at %d", t.text, t.pos)
		}
		p.i++
		return &CondIdent{Name: t.text}, nil // an identifier that happens to be a number
	case 'i':
		p.i++
		return &CondIdent{Name: t.text}, nil
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// expandOf returns the search identifiers a "x of pattern" refers to, sorted.
func expandOf(pattern string, names []string) []string {
	var out []string
	for _, n := range names {
		if pattern == "them" {
			if strings.HasPrefix(n, "_") {
				continue // identifiers starting with '_' are excluded from 'them'
			}
			out = append(out, n)
			continue
		}
		if ok, _ := path.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	return out
}
