package monitor

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/evtx"
	"github.com/socbot/socbot/netlog"
	"github.com/socbot/socbot/sigma"
	"github.com/socbot/socbot/syslog"
)

// Finding is one thing the monitor found in one event. The processor reuses a Finding, its Event,
// its Observables and its Matched from event to event, and Intel values may point into the
// event's buffers: use or copy them during Emit (FindingToAlert copies).
type Finding struct {
	Kind        string                  `json:"kind"` // sigma, correlation, suricata, intel
	Rule        *sigma.RuleInfo         `json:"rule,omitempty"`
	Matched     []string                `json:"matched,omitempty"` // search identifiers that were true
	Correlation *sigma.CorrelationMatch `json:"correlation,omitempty"`
	Suricata    *netlog.EveAlert        `json:"suricata,omitempty"`
	Intel       []socbot.IndicatorMatch `json:"intel,omitempty"`
	Event       json.RawMessage         `json:"event,omitempty"`
	Time        time.Time               `json:"time"`
	Source      string                  `json:"source,omitempty"` // file path or input name
	Product     string                  `json:"product,omitempty"`
	Channel     string                  `json:"channel,omitempty"`
	EventID     string                  `json:"event_id,omitempty"`
	Observables []socbot.Observable     `json:"observables,omitempty"`
}

// Stats counts what a processor saw.
type Stats struct {
	Events       int64            `json:"events"`
	Malformed    int64            `json:"malformed"`
	Detections   int64            `json:"detections"`
	ByLevel      map[string]int64 `json:"detections_by_level"`
	Correlations int64            `json:"correlations"`
	Suricata     int64            `json:"suricata_alerts"`
	IntelHits    int64            `json:"intel_hits"`
}

func (s *Stats) add(o Stats) {
	s.Events += o.Events
	s.Malformed += o.Malformed
	s.Detections += o.Detections
	s.Correlations += o.Correlations
	s.Suricata += o.Suricata
	s.IntelHits += o.IntelHits
	if s.ByLevel == nil {
		s.ByLevel = map[string]int64{}
	}
	for k, v := range o.ByLevel {
		s.ByLevel[k] += v
	}
}

// Rules is a compiled rule set shared by processors: the Sigma engine and the correlation rules.
type Rules struct {
	Engine     *sigma.Engine
	correlator *sigma.Correlator
	corrMu     sync.Mutex
	Failed     []sigma.LoadError
	Total      int // rule documents seen
	obs        *obsRefs
}

// LoadRules reads Sigma rules from files and directories and compiles them. Rules that fail are
// listed in Failed and skipped.
func LoadRules(paths ...string) (*Rules, error) {
	rules, lerrs := sigma.LoadFiles(paths...)
	return CompileRules(rules, lerrs)
}

// CompileRules compiles parsed rules (and records earlier load errors).
func CompileRules(rules []*sigma.Rule, lerrs []sigma.LoadError) (*Rules, error) {
	r := &Rules{Failed: lerrs, Total: len(rules)}
	for _, e := range lerrs {
		if e.RuleID == "" {
			r.Total++
		}
	}
	var pre []*sigma.Rule
	for _, x := range rules {
		if x.Correlation != nil {
			pre = append(pre, x)
		}
	}
	// correlation fields must be kept by the matcher: compile once to resolve rule names, then
	// with the correlator's fields as extra fields.
	extra := append([]string(nil), observableFields...)
	if len(pre) > 0 {
		tmp, _ := sigma.NewEngine(rules, sigma.Options{})
		c, _ := sigma.NewCorrelator(rules, tmp, sigma.CorrelatorOptions{})
		extra = append(extra, c.Fields()...)
	}
	eng, cerrs := sigma.NewEngine(rules, sigma.Options{ExtraFields: extra})
	r.Engine = eng
	r.obs = newObsRefs(eng)
	r.Failed = append(r.Failed, cerrs...)
	if len(pre) > 0 {
		c, errs := sigma.NewCorrelator(rules, eng, sigma.CorrelatorOptions{})
		r.correlator = c
		r.Failed = append(r.Failed, errs...)
	}
	return r, nil
}

// Loaded is the number of detection and correlation rules in use.
func (r *Rules) Loaded() int {
	n := r.Engine.RuleCount()
	if r.correlator != nil {
		n += r.correlator.Len()
	}
	return n
}

// Processor turns events into findings. It owns one Sigma matcher and is not safe for concurrent
// use; a Bot keeps a pool of them.
type Processor struct {
	rules  *Rules
	m      *sigma.Matcher
	dec    sigma.JSONDecoder
	intel  socbot.IndicatorMatcher
	dedupe *dedupe
	Tenant string
	Emit   func(*Finding) error
	Stats  Stats

	buf        []byte
	evtxReader *evtx.Reader

	// reused from finding to finding: a Finding and what it points to are valid during Emit only
	find, corr Finding
	obs        []socbot.Observable
	arena      []byte
	event      []byte
	rn         renderer
}

// NewProcessor returns a processor. intel may be nil (no indicator matching). emit receives every
// finding; an error from it stops the current input.
func NewProcessor(rules *Rules, intel socbot.IndicatorMatcher, emit func(*Finding) error) *Processor {
	return &Processor{rules: rules, m: rules.Engine.NewMatcher(), intel: intel, Emit: emit, dedupe: newDedupe(time.Hour, 100000),
		Stats: Stats{ByLevel: map[string]int64{}}}
}

// ResetCache empties the matcher's value cache (benchmarks call it between passes over the same
// events so that repeated passes do not look faster than a fresh stream).
func (p *Processor) ResetCache() { p.m.ResetCache() }

// ProcessEVTX matches one EVTX record.
func (p *Processor) ProcessEVTX(r *evtx.Record, source string) error {
	m := p.m
	m.Reset()
	m.SetSource("windows", r.Channel, r.EventID)
	m.SetTime(r.Time)
	for i := range r.Fields {
		f := &r.Fields[i]
		m.Add(f.Name, f.Value)
		if strings.IndexByte(f.Name, ' ') >= 0 {
			m.Add(strings.ReplaceAll(f.Name, " ", ""), f.Value)
		}
	}
	p.Stats.Events++
	return p.match(source, func(dst []byte) []byte { return p.rn.evtx(dst, r) })
}

// SourceHint says where JSON events come from when their shape does not tell (product, channel,
// event id as in the pipelines' logsource mapping).
type SourceHint struct {
	Product, Channel, EventID string
}

// ProcessJSON matches one JSON event.
func (p *Processor) ProcessJSON(raw []byte, source string, hint SourceHint) error {
	m := p.m
	m.Reset()
	if hint.Product != "" {
		m.SetSource(hint.Product, hint.Channel, hint.EventID)
	}
	if err := p.dec.Feed(m, raw); err != nil {
		p.Stats.Malformed++
		return nil
	}
	p.Stats.Events++
	prod, _, _ := m.Source()
	if err := p.match(source, func(dst []byte) []byte { return append(dst, raw...) }); err != nil {
		return err
	}
	if prod == "zeek" || prod == "suricata" {
		// network events in JSON get intel matching too
		return p.intelJSON(raw, source)
	}
	return nil
}

// ProcessZeek matches one Zeek record against the rules and the intel index.
func (p *Processor) ProcessZeek(r *netlog.ZeekRecord, source string) error {
	m := p.m
	m.Reset()
	m.SetSource("zeek", r.Path, "")
	m.SetTime(r.Time)
	for _, f := range r.Fields {
		m.Add(f.Name, f.Value)
	}
	p.Stats.Events++
	render := func(dst []byte) []byte { return p.rn.zeek(dst, r) }
	if err := p.match(source, render); err != nil {
		return err
	}
	if p.intel == nil {
		return nil
	}
	var lk []lookup
	switch r.Path {
	case "conn":
		lk = append(lk, lookup{socbot.ObsIP, r.Get("id.resp_h"), socbot.AsDestination}, lookup{socbot.ObsIP, r.Get("id.orig_h"), socbot.AsSource})
	case "dns":
		lk = append(lk, lookup{socbot.ObsDomain, r.Get("query"), socbot.AsDestination})
		for _, a := range strings.Split(r.Get("answers"), ",") {
			lk = append(lk, lookup{ipOrDomain(a), a, socbot.AsRelated})
		}
	case "http":
		host := r.Get("host")
		lk = append(lk, lookup{ipOrDomain(host), host, socbot.AsDestination}, lookup{socbot.ObsIP, r.Get("id.resp_h"), socbot.AsDestination})
		if host != "" {
			lk = append(lk, lookup{socbot.ObsURL, "http://" + host + r.Get("uri"), socbot.AsDestination})
		}
	case "ssl":
		// the SNI is looked up as a domain; JA3/JA3S hashes are not (see IntelTypes)
		lk = append(lk, lookup{socbot.ObsDomain, r.Get("server_name"), socbot.AsDestination}, lookup{socbot.ObsIP, r.Get("id.resp_h"), socbot.AsDestination})
	case "files":
		lk = append(lk, lookup{socbot.ObsMD5, r.Get("md5"), socbot.AsRelated}, lookup{socbot.ObsSHA1, r.Get("sha1"), socbot.AsRelated}, lookup{socbot.ObsSHA256, r.Get("sha256"), socbot.AsRelated})
	default:
		return nil
	}
	src := r.Get("id.orig_h")
	return p.intelLookups(lk, src, r.Time, source, "zeek", r.Path, render)
}

// ProcessEve handles one Suricata event: alerts become findings directly; every event goes through
// the rules; flow, dns, http, tls and fileinfo metadata is matched against the intel index.
func (p *Processor) ProcessEve(e *netlog.EveEvent, source string) error {
	m := p.m
	m.Reset()
	m.SetSource("suricata", e.EventType, "")
	if err := p.dec.Feed(m, e.Raw); err != nil {
		p.Stats.Malformed++
		return nil
	}
	m.SetTime(e.Time)
	p.Stats.Events++
	render := func(dst []byte) []byte { return append(dst, e.Raw...) }
	if e.Alert != nil {
		a := *e.Alert
		p.event = render(p.event[:0])
		f := &Finding{Kind: "suricata", Suricata: &a, Event: p.event, Time: e.Time, Source: source, Product: "suricata", Channel: e.EventType}
		addIP(f, e.SrcIP, socbot.AsSource)
		addIP(f, e.DestIP, socbot.AsDestination)
		if e.HTTPHost != "" {
			f.Observables = append(f.Observables, socbot.Observable{Type: ipOrDomain(e.HTTPHost), Value: e.HTTPHost, Role: socbot.AsDestination})
		}
		if e.TLSSNI != "" {
			f.Observables = append(f.Observables, socbot.Observable{Type: socbot.ObsDomain, Value: e.TLSSNI, Role: socbot.AsDestination})
		}
		p.Stats.Suricata++
		if err := p.Emit(f); err != nil {
			return err
		}
	}
	if err := p.match(source, render); err != nil {
		return err
	}
	if p.intel == nil {
		return nil
	}
	lk := []lookup{{socbot.ObsIP, e.DestIP, socbot.AsDestination}, {socbot.ObsIP, e.SrcIP, socbot.AsSource}}
	if e.DNSQuery != "" {
		lk = append(lk, lookup{socbot.ObsDomain, e.DNSQuery, socbot.AsDestination})
	}
	if e.HTTPHost != "" {
		lk = append(lk, lookup{ipOrDomain(e.HTTPHost), e.HTTPHost, socbot.AsDestination}, lookup{socbot.ObsURL, "http://" + e.HTTPHost + e.HTTPURL, socbot.AsDestination})
	}
	if e.TLSSNI != "" {
		lk = append(lk, lookup{socbot.ObsDomain, e.TLSSNI, socbot.AsDestination})
	}
	lk = append(lk, lookup{socbot.ObsMD5, e.FileMD5, socbot.AsRelated}, lookup{socbot.ObsSHA1, e.FileSHA1, socbot.AsRelated}, lookup{socbot.ObsSHA256, e.FileSHA256, socbot.AsRelated})
	return p.intelLookups(lk, e.SrcIP, e.Time, source, "suricata", e.EventType, render)
}

func (p *Processor) intelJSON(raw []byte, source string) error {
	if p.intel == nil {
		return nil
	}
	prod, ch, _ := p.m.Source()
	var lk []lookup
	v := p.m.Value
	switch prod {
	case "suricata":
		lk = append(lk, lookup{socbot.ObsIP, v("dest_ip"), socbot.AsDestination}, lookup{socbot.ObsIP, v("src_ip"), socbot.AsSource},
			lookup{socbot.ObsDomain, v("dns.rrname"), socbot.AsDestination}, lookup{socbot.ObsDomain, v("tls.sni"), socbot.AsDestination},
			lookup{ipOrDomain(v("http.hostname")), v("http.hostname"), socbot.AsDestination})
	case "zeek":
		lk = append(lk, lookup{socbot.ObsIP, v("id.resp_h"), socbot.AsDestination}, lookup{socbot.ObsIP, v("id.orig_h"), socbot.AsSource},
			lookup{socbot.ObsDomain, v("query"), socbot.AsDestination}, lookup{socbot.ObsDomain, v("server_name"), socbot.AsDestination},
			lookup{ipOrDomain(v("host")), v("host"), socbot.AsDestination})
	}
	src := v("src_ip")
	if src == "" {
		src = v("id.orig_h")
	}
	return p.intelLookups(lk, src, p.m.Time(), source, prod, ch, func(dst []byte) []byte { return append(dst, raw...) })
}

// ProcessSyslog matches one syslog message (product linux, channel syslog).
func (p *Processor) ProcessSyslog(msg *syslog.Message, source string) error {
	m := p.m
	m.Reset()
	m.SetSource("linux", "syslog", "")
	m.SetTime(msg.Time)
	msg.Fields(m.Add)
	p.Stats.Events++
	return p.match(source, func(dst []byte) []byte { return p.rn.syslog(dst, msg) })
}

// IntelTypes are the observable types the processor looks up in the intel index: addresses, domains
// (DNS queries and answers, HTTP hosts, TLS SNI), URLs and file hashes. TLS client and server
// fingerprints (JA3, JA3S) are not looked up: socbot's indicator index has no type for them, so a
// lookup could never hit. Sigma rules can still test the ja3 fields of Suricata and Zeek events.
var IntelTypes = []socbot.ObservableType{socbot.ObsIP, socbot.ObsDomain, socbot.ObsURL, socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256}

type lookup struct {
	typ   socbot.ObservableType
	value string
	role  socbot.ObsRole
}

func (p *Processor) intelLookups(lk []lookup, src string, t time.Time, source, product, channel string, render func([]byte) []byte) error {
	var hits []socbot.IndicatorMatch
	var obs []socbot.Observable
	for _, l := range lk {
		if l.value == "" || l.value == "-" {
			continue
		}
		ms := p.intel.Match(p.Tenant, l.typ, l.value)
		if len(ms) == 0 {
			continue
		}
		for _, x := range ms {
			if !p.dedupe.first(p.Tenant+"\x00"+x.IndicatorID+"\x00"+x.Matched+"\x00"+src, t) {
				continue
			}
			hits = append(hits, x)
		}
		obs = append(obs, socbot.Observable{Type: l.typ, Value: l.value, Role: l.role})
	}
	if len(hits) == 0 {
		return nil
	}
	p.event = render(p.event[:0])
	f := &Finding{Kind: "intel", Intel: hits, Event: p.event, Time: t, Source: source, Product: product, Channel: channel, Observables: obs}
	if src != "" {
		addIP(f, src, socbot.AsSource)
	}
	p.Stats.IntelHits += int64(len(hits))
	return p.Emit(f)
}

// match runs the rules over the current event and emits a finding per detection (and per
// correlation it completes). The findings, the event's JSON and the observables are reused from
// event to event: nothing is allocated per event.
func (p *Processor) match(source string, render func([]byte) []byte) error {
	dets := p.m.Match()
	if len(dets) == 0 {
		return nil
	}
	prod, ch, id := p.m.Source()
	p.arena = p.arena[:0]
	p.obs = p.rules.obs.extract(p.m, p.obs[:0], &p.arena)
	p.event = render(p.event[:0])
	for _, d := range dets {
		p.Stats.Detections++
		p.Stats.ByLevel[d.Rule.Level]++
		f := &p.find
		*f = Finding{Kind: "sigma", Rule: d.Rule, Matched: d.Matched, Event: p.event, Time: p.m.Time(), Source: source,
			Product: prod, Channel: ch, EventID: id, Observables: p.obs}
		if err := p.Emit(f); err != nil {
			return err
		}
		if c := p.rules.correlator; c != nil {
			p.rules.corrMu.Lock()
			cms := c.Observe(d, p.m)
			p.rules.corrMu.Unlock()
			for i := range cms {
				cm := cms[i]
				p.Stats.Correlations++
				p.Stats.ByLevel[cm.Rule.Level]++
				cf := &p.corr
				*cf = Finding{Kind: "correlation", Rule: cm.Rule, Correlation: &cm, Event: p.event, Time: p.m.Time(), Source: source,
					Product: prod, Channel: ch, EventID: id, Observables: p.obs}
				if err := p.Emit(cf); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func addIP(f *Finding, ip string, role socbot.ObsRole) {
	if ip != "" {
		f.Observables = append(f.Observables, socbot.Observable{Type: socbot.ObsIP, Value: ip, Role: role})
	}
}

func ipOrDomain(s string) socbot.ObservableType {
	if s == "" {
		return socbot.ObsDomain
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && c != '.' && c != ':' && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
			return socbot.ObsDomain
		}
	}
	if strings.Count(s, ".") == 3 || strings.Contains(s, ":") {
		return socbot.ObsIP
	}
	return socbot.ObsDomain
}

// dedupe remembers keys for a window so that the same intel hit from the same source alerts once.
type dedupe struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seen   map[string]time.Time
}

func newDedupe(window time.Duration, max int) *dedupe {
	return &dedupe{window: window, max: max, seen: map[string]time.Time{}}
}

func (d *dedupe) first(key string, t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last, ok := d.seen[key]; ok && t.Sub(last) < d.window && t.Sub(last) >= -d.window {
		return false
	}
	if len(d.seen) >= d.max {
		for k, v := range d.seen {
			if t.Sub(v) >= d.window {
				delete(d.seen, k)
			}
		}
		if len(d.seen) >= d.max {
			clear(d.seen)
		}
	}
	d.seen[key] = t
	return true
}

var _ = strconv.Itoa
