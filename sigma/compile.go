package sigma

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
)

type nodeOp uint8

const (
	opAnd nodeOp = iota
	opOr
	opNot
	opTest
	opTrue
	opFalse
)

// irNode is a rule's condition tree with field names, before placement into a bucket.
type irNode struct {
	op      nodeOp
	kids    []*irNode
	test    *irTest
	ident   string // search identifier this node stands for, if any
	atLeast int    // for "N of" with N > 1: at least this many kids must be true
}

// compiledRule is a detection rule compiled to its field-name form.
type compiledRule struct {
	rule    *Rule
	root    *irNode
	idents  map[string]*irNode
	targets []target
	info    *RuleInfo
}

// RuleInfo is the part of a rule every detection carries.
type RuleInfo struct {
	ID          string          `json:"rule_id"`
	Name        string          `json:"rule_name,omitempty"`
	Title       string          `json:"rule_title"`
	Level       string          `json:"level"`
	Author      string          `json:"author"`
	Status      string          `json:"status,omitempty"`
	Description string          `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	References  []string        `json:"references,omitempty"`
	Path        string          `json:"path,omitempty"`
	LogSource   string          `json:"logsource,omitempty"`
	Severity    socbot.Severity `json:"-"`
}

type target struct {
	key    bucketKey
	fields map[string]string
}

// bucketKey identifies a set of events: product, channel ("*" any) and event id ("*" any). The zero
// key (all empty) is the generic bucket for events of no known product.
type bucketKey struct {
	product, channel, id string
}

// compileRule builds the field-name form of a detection rule and resolves its log sources.
func compileRule(r *Rule, pl *Pipeline) (*compiledRule, error) {
	const op = "sigma.compile"
	if r.Detection == nil {
		return nil, socbot.E(op, socbot.KindInvalid, "no detection block")
	}
	if r.Detection.Timeframe != "" && len(r.Detection.Conditions) > 0 && strings.Contains(strings.Join(r.Detection.Conditions, " "), "|") {
		return nil, socbot.E(op, socbot.KindUnsupported, "legacy aggregation with timeframe")
	}
	cr := &compiledRule{rule: r, idents: map[string]*irNode{}}
	names := make([]string, 0, len(r.Detection.Searches))
	for name, s := range r.Detection.Searches {
		n, err := compileSearch(s, pl.Placeholders)
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, "search "+name, err)
		}
		n.ident = name
		cr.idents[name] = n
		names = append(names, name)
	}
	sort.Strings(names)
	var roots []*irNode
	for _, c := range r.Detection.Conditions {
		cond, err := ParseCondition(c)
		if err != nil {
			return nil, err
		}
		n, err := condToIR(cond, cr.idents, names)
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, "condition", err)
		}
		roots = append(roots, n)
	}
	if len(roots) == 1 {
		cr.root = roots[0]
	} else {
		cr.root = &irNode{op: opOr, kids: roots}
	}
	specs, known, productWide := pl.resolve(r.LogSource)
	switch {
	case !known:
		cr.targets = []target{{key: bucketKey{}}}
	case productWide:
		cr.targets = []target{{key: bucketKey{product: r.LogSource.Product, channel: "*", id: "*"}}}
	default:
		for _, s := range specs {
			if len(s.EventIDs) == 0 {
				cr.targets = append(cr.targets, target{key: bucketKey{r.LogSource.Product, s.Channel, "*"}, fields: s.Fields})
			}
			for _, id := range s.EventIDs {
				cr.targets = append(cr.targets, target{key: bucketKey{r.LogSource.Product, s.Channel, strconv.Itoa(id)}, fields: s.Fields})
			}
		}
	}
	cr.info = &RuleInfo{ID: r.ID, Name: r.Name, Title: r.Title, Level: r.Level, Author: r.Author, Status: r.Status,
		Description: r.Description, Tags: r.Tags, References: r.References, Path: r.Path, LogSource: r.LogSource.String()}
	cr.info.Severity, _ = socbot.ParseSeverity(r.Level)
	return cr, nil
}

func compileSearch(s *Search, ph map[string][]string) (*irNode, error) {
	if s.Keywords != nil {
		t, err := compileSpec(*s.Keywords, ph)
		if err != nil {
			return nil, err
		}
		t.field = ""
		return &irNode{op: opTest, test: t}, nil
	}
	or := &irNode{op: opOr}
	for _, m := range s.Maps {
		and := &irNode{op: opAnd}
		for _, fs := range m {
			t, err := compileSpec(fs, ph)
			if err != nil {
				return nil, err
			}
			and.kids = append(and.kids, &irNode{op: opTest, test: t})
		}
		if len(and.kids) == 1 {
			or.kids = append(or.kids, and.kids[0])
		} else {
			or.kids = append(or.kids, and)
		}
	}
	if len(or.kids) == 1 {
		return or.kids[0], nil
	}
	return or, nil
}

func condToIR(c Cond, idents map[string]*irNode, names []string) (*irNode, error) {
	switch c := c.(type) {
	case *CondAnd:
		l, err := condToIR(c.L, idents, names)
		if err != nil {
			return nil, err
		}
		r, err := condToIR(c.R, idents, names)
		if err != nil {
			return nil, err
		}
		return &irNode{op: opAnd, kids: []*irNode{l, r}}, nil
	case *CondOr:
		l, err := condToIR(c.L, idents, names)
		if err != nil {
			return nil, err
		}
		r, err := condToIR(c.R, idents, names)
		if err != nil {
			return nil, err
		}
		return &irNode{op: opOr, kids: []*irNode{l, r}}, nil
	case *CondNot:
		x, err := condToIR(c.X, idents, names)
		if err != nil {
			return nil, err
		}
		return &irNode{op: opNot, kids: []*irNode{x}}, nil
	case *CondIdent:
		n, ok := idents[c.Name]
		if !ok {
			return nil, fmt.Errorf("unknown search identifier %q", c.Name)
		}
		return n, nil
	case *CondOf:
		matched := expandOf(c.Pattern, names)
		if len(matched) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", c.Pattern)
		}
		kids := make([]*irNode, len(matched))
		for i, m := range matched {
			kids[i] = idents[m]
		}
		switch {
		case c.Count == 0:
			return &irNode{op: opAnd, kids: kids}, nil
		case c.Count == 1:
			return &irNode{op: opOr, kids: kids}, nil
		default:
			if c.Count > len(kids) {
				return &irNode{op: opFalse}, nil
			}
			// N of: OR over combinations would explode; build it as a threshold node.
			return &irNode{op: opOr, kids: kids, atLeast: c.Count}, nil
		}
	}
	return nil, fmt.Errorf("unknown condition node %T", c)
}
