package sigma

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	socbot "github.com/socbot/socbot"
)

// Rule is one parsed Sigma document: a detection rule, or a correlation rule when Correlation is set.
type Rule struct {
	ID             string
	Name           string // the rule's "name", used by correlation rules to refer to it
	Title          string
	Status         string
	Description    string
	Author         string
	Level          string
	Date           string
	Modified       string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	LogSource      LogSource
	Detection      *DetectionBlock
	Correlation    *Correlation
	Path           string // file the rule came from, if any
	Doc            int    // 0-based document index inside the file
}

// LogSource is the rule's logsource block.
type LogSource struct {
	Product  string
	Category string
	Service  string
}

func (l LogSource) String() string {
	p := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return p(l.Product) + "/" + p(l.Category) + "/" + p(l.Service)
}

// DetectionBlock is a rule's detection block before compilation: named search identifiers and the
// condition expression(s) over them.
type DetectionBlock struct {
	Searches   map[string]*Search
	Conditions []string // several conditions are OR-ed
	Timeframe  string   // legacy aggregation timeframe, unsupported when used with aggregations
}

// Search is one search identifier: either a list of keywords or an OR of maps of field tests.
type Search struct {
	Name     string
	Keywords *FieldSpec    // set for keyword searches (list of values matched against every field)
	Maps     [][]FieldSpec // OR of maps; each map is an AND of field specs
}

// FieldSpec is one "Field|mod|mod: values" entry.
type FieldSpec struct {
	Field     string
	Modifiers []string
	Values    []Value
}

// Value is one scalar of a rule: its text and YAML kind.
type Value struct {
	S    string
	Kind ValueKind
}

// ValueKind is the YAML type of a rule value.
type ValueKind uint8

// Value kinds.
const (
	KindString ValueKind = iota
	KindNumber
	KindBool
	KindNull
)

// ParseRules reads every YAML document of a Sigma rule file. Each document becomes a Rule or an error;
// a bad document never stops the others.
func ParseRules(data []byte, path string) ([]*Rule, []error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	var errs []error
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, socbot.E("sigma.ParseRules", socbot.KindInvalid, fmt.Sprintf("%s: document %d: bad YAML", path, i), err))
			break
		}
		r, err := parseRuleNode(&n)
		if err != nil {
			errs = append(errs, socbot.E("sigma.ParseRules", socbot.KindInvalid, fmt.Sprintf("%s: document %d", path, i), err))
			continue
		}
		if r == nil {
			continue
		}
		r.Path, r.Doc = path, i
		rules = append(rules, r)
	}
	return rules, errs
}

// ParseRule reads a single-document rule.
func ParseRule(data []byte) (*Rule, error) {
	rules, errs := ParseRules(data, "")
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(rules) != 1 {
		return nil, socbot.E("sigma.ParseRule", socbot.KindInvalid, fmt.Sprintf("want one rule document, got %d", len(rules)))
	}
	return rules[0], nil
}

func parseRuleNode(doc *yaml.Node) (*Rule, error) {
	const op = "sigma.parseRule"
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, socbot.FieldError(op, "", "rule document is not a mapping")
	}
	r := &Rule{}
	var det, corr *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "id":
			r.ID = scalar(v)
		case "name":
			r.Name = scalar(v)
		case "title":
			r.Title = scalar(v)
		case "status":
			r.Status = scalar(v)
		case "description":
			r.Description = scalar(v)
		case "author":
			r.Author = scalar(v)
		case "level":
			r.Level = strings.ToLower(scalar(v))
		case "date":
			r.Date = scalar(v)
		case "modified":
			r.Modified = scalar(v)
		case "references":
			r.References = scalars(v)
		case "tags":
			r.Tags = scalars(v)
		case "falsepositives":
			r.FalsePositives = scalars(v)
		case "fields":
			r.Fields = scalars(v)
		case "logsource":
			if v.Kind != yaml.MappingNode {
				return nil, socbot.FieldError(op, "logsource", "not a mapping")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				switch v.Content[j].Value {
				case "product":
					r.LogSource.Product = strings.ToLower(scalar(v.Content[j+1]))
				case "category":
					r.LogSource.Category = strings.ToLower(scalar(v.Content[j+1]))
				case "service":
					r.LogSource.Service = strings.ToLower(scalar(v.Content[j+1]))
				}
			}
		case "detection":
			det = v
		case "correlation":
			corr = v
		case "action":
			a := scalar(v)
			if a == "global" || a == "reset" || a == "repeat" {
				return nil, socbot.FieldError(op, "action", "legacy rule collections (action: %s) are not supported", a)
			}
		}
	}
	switch {
	case corr != nil:
		c, err := parseCorrelation(corr)
		if err != nil {
			return nil, err
		}
		r.Correlation = c
	case det != nil:
		d, err := parseDetection(det)
		if err != nil {
			return nil, err
		}
		r.Detection = d
	default:
		return nil, socbot.FieldError(op, "detection", "rule has neither detection nor correlation")
	}
	if r.Title == "" {
		return nil, socbot.FieldError(op, "title", "missing")
	}
	return r, nil
}

func scalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	if n.Kind == yaml.SequenceNode {
		return strings.Join(scalars(n), ", ")
	}
	return ""
}

func scalars(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

func valueOf(n *yaml.Node) (Value, error) {
	if n.Kind != yaml.ScalarNode {
		return Value{}, fmt.Errorf("value at line %d is not a scalar", n.Line)
	}
	switch n.ShortTag() {
	case "!!null":
		return Value{Kind: KindNull}, nil
	case "!!int", "!!float":
		return Value{S: n.Value, Kind: KindNumber}, nil
	case "!!bool":
		return Value{S: strings.ToLower(n.Value), Kind: KindBool}, nil
	}
	return Value{S: n.Value}, nil
}

func valuesOf(n *yaml.Node) ([]Value, error) {
	if n.Kind == yaml.SequenceNode {
		out := make([]Value, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := valueOf(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := valueOf(n)
	if err != nil {
		return nil, err
	}
	return []Value{v}, nil
}

func parseDetection(n *yaml.Node) (*DetectionBlock, error) {
	const op = "sigma.parseDetection"
	if n.Kind != yaml.MappingNode {
		return nil, socbot.FieldError(op, "detection", "not a mapping")
	}
	d := &DetectionBlock{Searches: map[string]*Search{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "condition":
			d.Conditions = scalars(v)
			continue
		case "timeframe":
			d.Timeframe = scalar(v)
			continue
		}
		s, err := parseSearch(k, v)
		if err != nil {
			return nil, socbot.FieldError(op, "detection."+k, "%v", err)
		}
		d.Searches[k] = s
	}
	if len(d.Conditions) == 0 {
		return nil, socbot.FieldError(op, "detection.condition", "missing")
	}
	return d, nil
}

func parseSearch(name string, n *yaml.Node) (*Search, error) {
	s := &Search{Name: name}
	switch n.Kind {
	case yaml.MappingNode:
		m, kw, err := parseMap(n)
		if err != nil {
			return nil, err
		}
		if kw != nil {
			s.Keywords = kw
			return s, nil
		}
		s.Maps = [][]FieldSpec{m}
	case yaml.SequenceNode:
		allMaps, allScalars := true, true
		for _, c := range n.Content {
			if c.Kind != yaml.MappingNode {
				allMaps = false
			}
			if c.Kind != yaml.ScalarNode {
				allScalars = false
			}
		}
		switch {
		case len(n.Content) == 0:
			return nil, fmt.Errorf("empty list")
		case allScalars:
			vals, err := valuesOf(n)
			if err != nil {
				return nil, err
			}
			s.Keywords = &FieldSpec{Values: vals}
		case allMaps:
			for _, c := range n.Content {
				m, kw, err := parseMap(c)
				if err != nil {
					return nil, err
				}
				if kw != nil {
					return nil, fmt.Errorf("keyword modifiers inside a list of maps")
				}
				s.Maps = append(s.Maps, m)
			}
		default:
			return nil, fmt.Errorf("list mixes maps and values")
		}
	case yaml.ScalarNode:
		v, err := valueOf(n)
		if err != nil {
			return nil, err
		}
		s.Keywords = &FieldSpec{Values: []Value{v}}
	default:
		return nil, fmt.Errorf("unsupported YAML node")
	}
	return s, nil
}

// parseMap reads one map of field specs. A map whose only key has an empty field name ("|all") is a
// keyword search with modifiers.
func parseMap(n *yaml.Node) ([]FieldSpec, *FieldSpec, error) {
	var out []FieldSpec
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		parts := strings.Split(key, "|")
		fs := FieldSpec{Field: parts[0]}
		for _, m := range parts[1:] {
			fs.Modifiers = append(fs.Modifiers, strings.ToLower(strings.TrimSpace(m)))
		}
		vals, err := valuesOf(n.Content[i+1])
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %v", key, err)
		}
		fs.Values = vals
		if fs.Field == "" {
			if len(n.Content) != 2 {
				return nil, nil, fmt.Errorf("keyword modifiers mixed with fields")
			}
			return nil, &fs, nil
		}
		out = append(out, fs)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("empty map")
	}
	return out, nil, nil
}

// LoadError names a rule file (and document) that could not be loaded or compiled, and why.
type LoadError struct {
	Path   string `json:"path"`
	Doc    int    `json:"doc"`
	RuleID string `json:"rule_id,omitempty"`
	Title  string `json:"title,omitempty"`
	Err    error  `json:"-"`
	Reason string `json:"reason"`
}

func (e LoadError) Error() string {
	return fmt.Sprintf("%s#%d %s: %s", e.Path, e.Doc, e.RuleID, e.Reason)
}

// LoadFiles reads every .yml/.yaml file under the given files and directories (recursively) and parses
// the rules in them. Files that fail are reported and skipped. The rules come back in path order.
func LoadFiles(paths ...string) ([]*Rule, []LoadError) {
	var files []string
	var errs []LoadError
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, LoadError{Path: p, Err: err, Reason: err.Error()})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, LoadError{Path: path, Err: err, Reason: err.Error()})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(path)); ext == ".yml" || ext == ".yaml" {
				files = append(files, path)
			}
			return nil
		})
	}
	sort.Strings(files)
	var rules []*Rule
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, LoadError{Path: f, Err: err, Reason: err.Error()})
			continue
		}
		rs, perrs := ParseRules(data, f)
		for _, e := range perrs {
			errs = append(errs, LoadError{Path: f, Err: e, Reason: e.Error()})
		}
		rules = append(rules, rs...)
	}
	return rules, errs
}
