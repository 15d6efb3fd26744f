package sigma

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	socbot "github.com/socbot/socbot"
)

// Correlation is a Sigma correlation rule (specification v2).
type Correlation struct {
	Type      string // event_count, value_count, temporal, temporal_ordered
	Rules     []string
	GroupBy   []string
	Timespan  time.Duration
	Field     string // value_count: the field whose distinct values are counted
	Cmp       string // gt, gte, lt, lte, eq, neq
	Threshold int
	Generate  bool
}

func parseCorrelation(n *yaml.Node) (*Correlation, error) {
	const op = "sigma.parseCorrelation"
	if n.Kind != yaml.MappingNode {
		return nil, socbot.FieldError(op, "correlation", "not a mapping")
	}
	c := &Correlation{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "type":
			c.Type = scalar(v)
		case "rules":
			c.Rules = scalars(v)
		case "group-by":
			c.GroupBy = scalars(v)
		case "timespan", "timeframe":
			d, err := parseTimespan(scalar(v))
			if err != nil {
				return nil, socbot.FieldError(op, "correlation.timespan", "%v", err)
			}
			c.Timespan = d
		case "generate":
			c.Generate = strings.EqualFold(scalar(v), "true")
		case "condition":
			if v.Kind != yaml.MappingNode {
				return nil, socbot.FieldError(op, "correlation.condition", "not a mapping")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ck, cv := v.Content[j].Value, scalar(v.Content[j+1])
				switch ck {
				case "field":
					c.Field = cv
				case "gt", "gte", "lt", "lte", "eq", "neq":
					t, err := strconv.Atoi(cv)
					if err != nil {
						return nil, socbot.FieldError(op, "correlation.condition."+ck, "not an integer: %q", cv)
					}
					c.Cmp, c.Threshold = ck, t
				default:
					return nil, socbot.FieldError(op, "correlation.condition."+ck, "unknown condition operator")
				}
			}
		}
	}
	switch c.Type {
	case "event_count", "value_count":
		if c.Cmp == "" {
			return nil, socbot.FieldError(op, "correlation.condition", "%s needs a condition", c.Type)
		}
		if c.Type == "value_count" && c.Field == "" {
			return nil, socbot.FieldError(op, "correlation.condition.field", "value_count needs a field")
		}
	case "temporal", "temporal_ordered":
		if c.Cmp == "" {
			c.Cmp, c.Threshold = "gte", len(c.Rules)
		}
	default:
		return nil, socbot.FieldError(op, "correlation.type", "unknown correlation type %q", c.Type)
	}
	if len(c.Rules) == 0 {
		return nil, socbot.FieldError(op, "correlation.rules", "missing")
	}
	if c.Timespan <= 0 {
		return nil, socbot.FieldError(op, "correlation.timespan", "missing or not positive")
	}
	return c, nil
}

func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'M': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("bad timespan unit in %q", s)
	}
	return time.Duration(n) * unit, nil
}

// CorrelationMatch is one firing of a correlation rule.
type CorrelationMatch struct {
	Rule  *RuleInfo         `json:"rule"`
	Type  string            `json:"type"`
	Group map[string]string `json:"group,omitempty"`
	Count int               `json:"count"`
	First time.Time         `json:"first"`
	Last  time.Time         `json:"last"`
	Rules []string          `json:"rules"` // the rules whose detections built it
}

// CorrelatorOptions bound the correlator's memory.
type CorrelatorOptions struct {
	MaxGroups   int // per correlation rule; the oldest groups are dropped beyond it (default 100,000)
	MaxPerGroup int // events or values kept per group (default 10,000)
}

// Correlator evaluates correlation rules over a stream of detections with bounded memory.
// It is not safe for concurrent use.
type Correlator struct {
	corrs  []*corrState
	byRule map[string][]*corrState
	fields []string
	opts   CorrelatorOptions
}

type corrState struct {
	info   *RuleInfo
	c      *Correlation
	index  map[string]int // referenced rule id/name -> position
	groups map[string]*corrGroup
}

type corrGroup struct {
	key    string
	vals   map[string]string
	times  []time.Time
	values []string
	last   []time.Time // temporal: last time per referenced rule
	seen   time.Time
}

// NewCorrelator builds the correlation rules among rules. Referenced rules are looked up by name or
// id in the engine; a correlation referring to an unknown rule is reported and skipped.
func NewCorrelator(rules []*Rule, e *Engine, opts CorrelatorOptions) (*Correlator, []LoadError) {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 100000
	}
	if opts.MaxPerGroup <= 0 {
		opts.MaxPerGroup = 10000
	}
	c := &Correlator{byRule: map[string][]*corrState{}, opts: opts}
	var errs []LoadError
	fields := map[string]bool{}
	for _, r := range rules {
		if r.Correlation == nil {
			continue
		}
		cs := &corrState{c: r.Correlation, index: map[string]int{}, groups: map[string]*corrGroup{}}
		cs.info = &RuleInfo{ID: r.ID, Name: r.Name, Title: r.Title, Level: r.Level, Author: r.Author, Status: r.Status,
			Description: r.Description, Tags: r.Tags, References: r.References, Path: r.Path, LogSource: "correlation"}
		cs.info.Severity, _ = socbot.ParseSeverity(r.Level)
		var bad string
		for i, ref := range r.Correlation.Rules {
			ri, ok := e.Rule(ref)
			if !ok {
				bad = ref
				break
			}
			cs.index[ri.ID] = i
		}
		if bad != "" {
			err := socbot.FieldError("sigma.NewCorrelator", "correlation.rules", "unknown rule %q", bad)
			errs = append(errs, LoadError{Path: r.Path, Doc: r.Doc, RuleID: r.ID, Title: r.Title, Err: err, Reason: err.Error()})
			continue
		}
		c.corrs = append(c.corrs, cs)
		for id := range cs.index {
			c.byRule[id] = append(c.byRule[id], cs)
		}
		for _, f := range r.Correlation.GroupBy {
			fields[f] = true
		}
		if r.Correlation.Field != "" {
			fields[r.Correlation.Field] = true
		}
	}
	for f := range fields {
		c.fields = append(c.fields, f)
	}
	sort.Strings(c.fields)
	return c, errs
}

// Fields are the event fields the correlator reads; pass them as Options.ExtraFields to NewEngine.
func (c *Correlator) Fields() []string { return c.fields }

// Len is the number of correlation rules.
func (c *Correlator) Len() int { return len(c.corrs) }

// Observe feeds one detection (with the matcher still positioned on its event) and returns the
// correlations it completes.
func (c *Correlator) Observe(d Detection, m *Matcher) []CorrelationMatch {
	states := c.byRule[d.Rule.ID]
	if len(states) == 0 {
		return nil
	}
	t := m.Time()
	var out []CorrelationMatch
	for _, cs := range states {
		var kb strings.Builder
		for _, f := range cs.c.GroupBy {
			kb.WriteString(m.Value(f))
			kb.WriteByte(0)
		}
		key := kb.String()
		g := cs.groups[key]
		if g == nil {
			if len(cs.groups) >= c.opts.MaxGroups {
				cs.evict(t, c.opts.MaxGroups)
			}
			// the matcher's values point into the event's buffers: the group keeps copies
			vals := map[string]string{}
			for _, f := range cs.c.GroupBy {
				vals[f] = strings.Clone(m.Value(f))
			}
			g = &corrGroup{key: key, vals: vals, last: make([]time.Time, len(cs.c.Rules))}
			cs.groups[key] = g
		}
		g.seen = t
		if cm, ok := cs.observe(g, d, m, t, c.opts.MaxPerGroup); ok {
			out = append(out, cm)
		}
	}
	return out
}

func (cs *corrState) evict(now time.Time, max int) {
	cut := now.Add(-cs.c.Timespan)
	for k, g := range cs.groups {
		if g.seen.Before(cut) {
			delete(cs.groups, k)
		}
	}
	for k := range cs.groups { // still full: drop groups in map order until a quarter is free
		if len(cs.groups) < max*3/4 {
			break
		}
		delete(cs.groups, k)
	}
}

func compare(cmp string, n, t int) bool {
	switch cmp {
	case "gt":
		return n > t
	case "gte":
		return n >= t
	case "lt":
		return n < t
	case "lte":
		return n <= t
	case "eq":
		return n == t
	case "neq":
		return n != t
	}
	return false
}

func (cs *corrState) observe(g *corrGroup, d Detection, m *Matcher, t time.Time, maxPer int) (CorrelationMatch, bool) {
	cut := t.Add(-cs.c.Timespan)
	cm := CorrelationMatch{Rule: cs.info, Type: cs.c.Type, Group: g.vals, Last: t, Rules: cs.c.Rules}
	switch cs.c.Type {
	case "event_count", "value_count":
		// drop what fell out of the window
		i := 0
		for i < len(g.times) && g.times[i].Before(cut) {
			i++
		}
		g.times = g.times[i:]
		if cs.c.Type == "value_count" {
			g.values = g.values[i:]
		}
		g.times = append(g.times, t)
		if cs.c.Type == "value_count" {
			g.values = append(g.values, strings.Clone(m.Value(cs.c.Field)))
		}
		if len(g.times) > maxPer {
			g.times = g.times[len(g.times)-maxPer:]
			if cs.c.Type == "value_count" {
				g.values = g.values[len(g.values)-maxPer:]
			}
		}
		n := len(g.times)
		if cs.c.Type == "value_count" {
			set := map[string]struct{}{}
			for _, v := range g.values {
				set[v] = struct{}{}
			}
			n = len(set)
		}
		if !compare(cs.c.Cmp, n, cs.c.Threshold) {
			return cm, false
		}
		cm.Count, cm.First = n, g.times[0]
		g.times, g.values = g.times[:0], g.values[:0]
		return cm, true
	case "temporal", "temporal_ordered":
		pos := cs.index[d.Rule.ID]
		if cs.c.Type == "temporal_ordered" && pos > 0 {
			prev := g.last[pos-1]
			if prev.IsZero() || prev.Before(cut) {
				return cm, false // the earlier rule has not happened (in the window)
			}
		}
		g.last[pos] = t
		n := 0
		first := t
		for _, lt := range g.last {
			if !lt.IsZero() && !lt.Before(cut) {
				n++
				if lt.Before(first) {
					first = lt
				}
			}
		}
		if cs.c.Type == "temporal_ordered" && pos != len(g.last)-1 {
			return cm, false
		}
		if !compare(cs.c.Cmp, n, cs.c.Threshold) {
			return cm, false
		}
		cm.Count, cm.First = n, first
		for i := range g.last {
			g.last[i] = time.Time{}
		}
		return cm, true
	}
	return cm, false
}
