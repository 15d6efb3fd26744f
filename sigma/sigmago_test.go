package sigma

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/valyala/fastjson"
)

// flatEvent is one regression event flattened the same way for both engines.
type flatEvent struct {
	channel, id string
	names       []string
	values      []string
	m           map[string]interface{}
}

func flattenForBoth(raw []byte) (flatEvent, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return flatEvent{}, false
	}
	fe := flatEvent{m: map[string]interface{}{}}
	add := func(k, val string) {
		fe.names = append(fe.names, k)
		fe.values = append(fe.values, val)
		if _, ok := fe.m[k]; !ok {
			fe.m[k] = val
		}
	}
	text := func(x *fastjson.Value) string {
		if x.Type() == fastjson.TypeString {
			return string(x.GetStringBytes())
		}
		return x.String()
	}
	sys := v.Get("Event", "System")
	if sys == nil {
		return fe, false
	}
	so, _ := sys.Object()
	so.Visit(func(k []byte, c *fastjson.Value) {
		if c.Type() == fastjson.TypeObject {
			if a := c.Get("#attributes"); a != nil {
				ao, _ := a.Object()
				ao.Visit(func(ak []byte, av *fastjson.Value) { add(string(k)+"_"+string(ak), text(av)) })
			}
			return
		}
		if c.Type() != fastjson.TypeNull {
			add(string(k), text(c))
		}
	})
	fe.channel = string(sys.GetStringBytes("Channel"))
	fe.id = text(sys.Get("EventID"))
	if ed := v.Get("Event", "EventData"); ed != nil && ed.Type() == fastjson.TypeObject {
		eo, _ := ed.Object()
		eo.Visit(func(k []byte, c *fastjson.Value) {
			if c.Type() != fastjson.TypeObject && c.Type() != fastjson.TypeNull && c.Type() != fastjson.TypeArray {
				add(strings.ReplaceAll(string(k), " ", ""), text(c))
			}
		})
	}
	return fe, true
}

type sideBySide struct {
	ours        *Engine
	theirs      []sigmago.Rule
	bundle      evaluator.RuleEvaluatorBundle
	perKey      map[bucketKey]evaluator.RuleEvaluatorBundle // sigma-go given our log source index
	events      []flatEvent
	total       int
	unsupported int
}

// loadSideBySide parses every corpus rule with sigma-go, keeps those it parses and evaluates
// without error, and compiles exactly those with our engine.
func loadSideBySide(tb testing.TB) *sideBySide {
	c := corpusDir(tb)
	s := &sideBySide{perKey: map[bucketKey]evaluator.RuleEvaluatorBundle{}}
	var files []string
	for _, d := range corpusRuleDirs(c) {
		filepath.WalkDir(d, func(p string, de os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".yml") {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	var oursRules []*Rule
	probe := map[string]interface{}{"Image": `C:\x.exe`, "CommandLine": "a b", "EventID": "1"}
	pl := DefaultPipeline()
	keyed := map[bucketKey][]sigmago.Rule{}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		s.total++
		r, err := sigmago.ParseRule(data)
		if err != nil {
			s.unsupported++
			continue
		}
		if _, err := evaluator.ForRule(r).Matches(context.Background(), probe); err != nil {
			s.unsupported++
			continue
		}
		ours, errs := ParseRules(data, f)
		if len(errs) > 0 || len(ours) != 1 {
			s.unsupported++
			continue
		}
		s.theirs = append(s.theirs, r)
		oursRules = append(oursRules, ours[0])
		specs, known, wide := pl.resolve(ours[0].LogSource)
		switch {
		case !known:
			keyed[bucketKey{}] = append(keyed[bucketKey{}], r)
		case wide:
			keyed[bucketKey{ours[0].LogSource.Product, "*", "*"}] = append(keyed[bucketKey{ours[0].LogSource.Product, "*", "*"}], r)
		default:
			for _, sp := range specs {
				if len(sp.EventIDs) == 0 {
					keyed[bucketKey{ours[0].LogSource.Product, sp.Channel, "*"}] = append(keyed[bucketKey{ours[0].LogSource.Product, sp.Channel, "*"}], r)
				}
				for _, id := range sp.EventIDs {
					k := bucketKey{ours[0].LogSource.Product, sp.Channel, strconv.Itoa(id)}
					keyed[k] = append(keyed[k], r)
				}
			}
		}
	}
	var errs []LoadError
	s.ours, errs = NewEngine(oursRules, Options{})
	if len(errs) > 0 {
		tb.Logf("%d of the sigma-go-supported rules failed in our engine", len(errs))
	}
	s.bundle = evaluator.ForRules(s.theirs)
	for k, rs := range keyed {
		s.perKey[k] = evaluator.ForRules(rs)
	}
	for _, raw := range corpusEvents(tb, c) {
		if fe, ok := flattenForBoth(raw); ok {
			s.events = append(s.events, fe)
		}
	}
	return s
}

func (s *sideBySide) matchOurs(m *Matcher, ev *flatEvent) int {
	m.Reset()
	m.SetSource("windows", ev.channel, ev.id)
	for i := range ev.names {
		m.Add(ev.names[i], ev.values[i])
	}
	return len(m.Match())
}

func (s *sideBySide) matchTheirsIndexed(ev *flatEvent) int {
	n := 0
	for _, k := range []bucketKey{{"windows", ev.channel, ev.id}, {"windows", ev.channel, "*"}, {"windows", "*", "*"}} {
		if b, ok := s.perKey[k]; ok {
			res, _ := b.Matches(context.Background(), ev.m)
			for _, r := range res {
				if r.Match {
					n++
				}
			}
		}
	}
	return n
}

// TestSideBySideAgreement reports how both engines do on the regression events with the rules
// sigma-go supports.
func TestSideBySideAgreement(t *testing.T) {
	s := loadSideBySide(t)
	m := s.ours.NewMatcher()
	ours, theirs := 0, 0
	for i := range s.events {
		ours += s.matchOurs(m, &s.events[i])
		theirs += s.matchTheirsIndexed(&s.events[i])
	}
	t.Logf("rules: %d in corpus, %d parsed and evaluated by sigma-go v0.6.6 (%d unsupported); events: %d",
		s.total, len(s.theirs), s.unsupported, len(s.events))
	t.Logf("detections on the regression events: socbot %d, sigma-go (with our log source index) %d", ours, theirs)
	if ours == 0 || theirs == 0 {
		t.Error("an engine found nothing")
	}
}

// BenchmarkSideBySide compares matching throughput on the same rules and the same pre-flattened
// events: socbot's engine, sigma-go's bundle given our log source index (the generous setup), and
// sigma-go's bundle with every rule on every event (how the library is used as shipped).
func BenchmarkSideBySide(b *testing.B) {
	s := loadSideBySide(b)
	b.Run("socbot", func(b *testing.B) {
		m := s.ours.NewMatcher()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s.matchOurs(m, &s.events[i%len(s.events)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("sigma-go-indexed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s.matchTheirsIndexed(&s.events[i%len(s.events)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("sigma-go-all-rules", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s.bundle.Matches(context.Background(), s.events[i%len(s.events)].m)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
