package normalize

import (
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// Mapping tells the generic normaliser where the fields of an alert are in a record of any shape. A path
// is dotted ("alert.signature"); literal dotted keys ("kibana.alert.rule.name") and nested objects are
// both found, a numeric segment indexes an array, and a path that reaches an array takes its first
// element (observables take every element). Each list of paths is tried in order and the first non-empty
// value wins. A Mapping is plain JSON, so tenants can store their own.
type Mapping struct {
	Name    string `json:"name"`              // names the mapping in errors; the product when Product is empty
	Vendor  string `json:"vendor,omitempty"`  // constant vendor name
	Product string `json:"product,omitempty"` // constant product name

	SourceID    []string `json:"source_id,omitempty"`
	Title       []string `json:"title"` // required: at least one path
	Description []string `json:"description,omitempty"`
	Category    []string `json:"category,omitempty"`
	RuleID      []string `json:"rule_id,omitempty"`
	RuleName    []string `json:"rule_name,omitempty"`

	// Severity paths. A string value is looked up in SeverityMap (case-insensitive), then read as a
	// severity name (info, low, medium, high, critical and synonyms such as warning, error, emergency).
	// A number is looked up in SeverityMap by its text ("3"), then read as a score on 0..SeverityScale.
	Severity      []string          `json:"severity,omitempty"`
	SeverityMap   map[string]string `json:"severity_map,omitempty"`   // vendor value -> info|low|medium|high|critical|unknown
	SeverityScale float64           `json:"severity_scale,omitempty"` // the numeric value that means 100; default 100

	Time       []string `json:"time,omitempty"`       // RFC 3339 / ISO 8601 strings or epoch s/ms/µs/ns numbers
	Tactics    []string `json:"tactics,omitempty"`    // ATT&CK tactic ids or names (arrays read whole)
	Techniques []string `json:"techniques,omitempty"` // ATT&CK technique ids (arrays read whole)

	Observables []ObservableField `json:"observables,omitempty"`
}

// ObservableField maps one path onto observables: every value the path reaches, through arrays on the
// way and at the end ("files.sha256" takes the digest of each element of files).
type ObservableField struct {
	Path string `json:"path"`
	Type string `json:"type"`           // ip, domain, host, url, md5, sha1, sha256, hash (by length), email, user, process, file
	Role string `json:"role,omitempty"` // source, destination, actor, target, related (the default)
}

// generic is a normaliser driven by a Mapping.
type generic struct {
	m       Mapping
	sevMap  map[string]socbot.Severity
	scale   float64
	lenient bool // the default mapping skips values of the wrong type instead of failing on them
	obs     []obsField

	// Compiled paths. keys numbers every top-level key a path can start with (its first segment, or a
	// longer dotted prefix spelled as one key); a path whose keys are all absent from a record is skipped
	// without a lookup.
	keys                                                     map[string]uint16
	sourceID, title, description, category, ruleID, ruleName []gpath
	severity, times, tactics, techniques                     []gpath
}

// gpath is a mapped path with the numbers of the top-level keys it can start with.
type gpath struct {
	path string
	keys []uint16
}

type obsField struct {
	gpath
	typ  string
	role socbot.ObsRole
}

// maxKeys bounds the top-level key numbering (a stack array per record); mappings with more distinct
// first keys are looked up without the pre-filter.
const maxKeys = 512

// compile numbers the top-level keys path can start with.
func (g *generic) compile(path string) gpath {
	gp := gpath{path: path}
	for i := 0; ; {
		j := strings.IndexByte(path[i:], '.')
		prefix := path
		if j >= 0 {
			prefix = path[:i+j]
		}
		n, ok := g.keys[prefix]
		if !ok {
			n = uint16(len(g.keys))
			g.keys[prefix] = n
		}
		gp.keys = append(gp.keys, n)
		if j < 0 {
			return gp
		}
		i += j + 1
	}
}

func (g *generic) compileAll(paths []string) []gpath {
	out := make([]gpath, len(paths))
	for i, p := range paths {
		out[i] = g.compile(p)
	}
	return out
}

// topKeys marks which numbered keys v has at its top level; ok is false when the pre-filter is off.
func (g *generic) topKeys(v *fastjson.Value, present *[maxKeys]bool) bool {
	if len(g.keys) > maxKeys {
		return false
	}
	o, err := v.Object()
	if err != nil {
		return false
	}
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if n, ok := g.keys[string(k)]; ok {
			present[n] = true
		}
	})
	return true
}

// may reports whether p can be present given the record's top-level keys.
func (p *gpath) may(present *[maxKeys]bool, filtered bool) bool {
	if !filtered {
		return true
	}
	for _, k := range p.keys {
		if present[k] {
			return true
		}
	}
	return false
}

var (
	_ Normalizer  = (*generic)(nil)
	_ Prioritized = (*generic)(nil)
)

var obsTypes = map[string]bool{"ip": true, "domain": true, "host": true, "url": true, "md5": true, "sha1": true, "sha256": true,
	"hash": true, "email": true, "user": true, "process": true, "file": true}

var obsRoles = map[string]socbot.ObsRole{"": socbot.AsRelated, "source": socbot.AsSource, "destination": socbot.AsDestination,
	"actor": socbot.AsActor, "target": socbot.AsTarget, "related": socbot.AsRelated}

// NewGeneric checks a mapping and returns a normaliser that applies it. Errors are *socbot.Error of
// KindInvalid naming the offending part of the mapping (e.g. "observables[2].type").
func NewGeneric(m Mapping) (Normalizer, error) {
	const op = "normalize.NewGeneric"
	if len(m.Title) == 0 {
		return nil, socbot.FieldError(op, "title", "at least one title path is required")
	}
	lists := []struct {
		name  string
		paths []string
	}{
		{"source_id", m.SourceID}, {"title", m.Title}, {"description", m.Description}, {"category", m.Category},
		{"rule_id", m.RuleID}, {"rule_name", m.RuleName}, {"severity", m.Severity}, {"time", m.Time},
		{"tactics", m.Tactics}, {"techniques", m.Techniques},
	}
	for _, l := range lists {
		for i, p := range l.paths {
			if err := checkPath(p); err != nil {
				return nil, socbot.FieldError(op, fmt.Sprintf("%s[%d]", l.name, i), "%v", err)
			}
		}
	}
	g := &generic{m: m, scale: m.SeverityScale, sevMap: map[string]socbot.Severity{}, keys: map[string]uint16{}}
	if g.scale < 0 {
		return nil, socbot.FieldError(op, "severity_scale", "must not be negative")
	}
	if g.scale == 0 {
		g.scale = 100
	}
	for k, v := range m.SeverityMap {
		sev, ok := severityName(v)
		if !ok {
			return nil, socbot.FieldError(op, "severity_map."+k, "%q is not a severity (info, low, medium, high, critical, unknown)", v)
		}
		g.sevMap[strings.ToLower(strings.TrimSpace(k))] = sev
	}
	for i, o := range m.Observables {
		if err := checkPath(o.Path); err != nil {
			return nil, socbot.FieldError(op, fmt.Sprintf("observables[%d].path", i), "%v", err)
		}
		t := strings.ToLower(o.Type)
		if !obsTypes[t] {
			return nil, socbot.FieldError(op, fmt.Sprintf("observables[%d].type", i), "unknown observable type %q", o.Type)
		}
		role, ok := obsRoles[strings.ToLower(o.Role)]
		if !ok {
			return nil, socbot.FieldError(op, fmt.Sprintf("observables[%d].role", i), "unknown role %q (source, destination, actor, target, related)", o.Role)
		}
		g.obs = append(g.obs, obsField{gpath: g.compile(o.Path), typ: t, role: role})
	}
	g.sourceID, g.title, g.description = g.compileAll(m.SourceID), g.compileAll(m.Title), g.compileAll(m.Description)
	g.category, g.ruleID, g.ruleName = g.compileAll(m.Category), g.compileAll(m.RuleID), g.compileAll(m.RuleName)
	g.severity, g.times = g.compileAll(m.Severity), g.compileAll(m.Time)
	g.tactics, g.techniques = g.compileAll(m.Tactics), g.compileAll(m.Techniques)
	return g, nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case len(p) > 256:
		return fmt.Errorf("path longer than 256 characters")
	case p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, ".."):
		return fmt.Errorf("path %q has an empty segment", p)
	}
	return nil
}

func (g *generic) Name() string  { return "generic" }
func (g *generic) Priority() int { return 1000 }

// Match accepts a record with a title and at least one severity, time or observable field. Only the
// default mapping takes part in detection; a tenant's mapping is always named explicitly.
func (g *generic) Match(v *fastjson.Value) bool {
	if v.Type() != fastjson.TypeObject {
		return false
	}
	var present [maxKeys]bool
	f := g.topKeys(v, &present)
	title := false
	for i := range g.title {
		p := &g.title[i]
		if !p.may(&present, f) {
			continue
		}
		if x := getDotted(v, p.path); x != nil && x.Type() == fastjson.TypeString && len(strOf(x)) > 0 {
			title = true
			break
		}
	}
	if !title {
		return false
	}
	for _, list := range [...][]gpath{g.severity, g.times} {
		for i := range list {
			if list[i].may(&present, f) && hasDotted(v, list[i].path) {
				return true
			}
		}
	}
	for i := range g.obs {
		if g.obs[i].may(&present, f) && hasDotted(v, g.obs[i].path) {
			return true
		}
	}
	return false
}

// str reads the first non-empty string among paths; the default mapping skips values of the wrong type.
func (g *generic) str(r *reader, v *fastjson.Value, paths []gpath, present *[maxKeys]bool, f bool) string {
	for i := range paths {
		if !paths[i].may(present, f) {
			continue
		}
		p := paths[i].path
		x := getDotted(v, p)
		if x == nil {
			continue
		}
		if g.lenient && x.Type() == fastjson.TypeObject {
			continue
		}
		if s := text(r.scalar(x, p)); s != "" {
			return s
		}
	}
	return ""
}

// scalar returns the text of x; the default mapping skips objects where a custom one fails on them.
func (g *generic) scalar(r *reader, x *fastjson.Value, path string) string {
	if g.lenient && x.Type() == fastjson.TypeObject {
		return ""
	}
	return text(r.scalar(x, path))
}

// severityWords adds the words of syslog and application logs to the severity names.
var severityWords = map[string]socbot.Severity{
	"debug": socbot.SeverityInfo, "trace": socbot.SeverityInfo, "notice": socbot.SeverityLow,
	"warning": socbot.SeverityMedium, "warn": socbot.SeverityMedium, "error": socbot.SeverityHigh, "err": socbot.SeverityHigh,
	"crit": socbot.SeverityCritical, "alert": socbot.SeverityCritical, "emergency": socbot.SeverityCritical, "emerg": socbot.SeverityCritical,
	"urgent": socbot.SeverityCritical, "very high": socbot.SeverityCritical, "very low": socbot.SeverityInfo,
}

func (g *generic) readSeverity(r *reader, a *socbot.Alert, v *fastjson.Value, present *[maxKeys]bool, f bool) {
	for i := range g.severity {
		if !g.severity[i].may(present, f) {
			continue
		}
		p := g.severity[i].path
		x := getDotted(v, p)
		if x == nil || x.Type() == fastjson.TypeNull {
			continue
		}
		switch x.Type() {
		case fastjson.TypeNumber:
			raw := string(x.MarshalTo(nil))
			if sev, ok := g.sevMap[raw]; ok {
				setSeverity(a, sev, raw)
				return
			}
			n, _ := x.Float64()
			scale := g.scale
			if g.lenient && n <= 10 {
				scale = 10
			}
			if n < 0 || n > scale {
				r.fail(p, "severity %s out of range 0-%s", raw, numText(scale))
				return
			}
			setScore(a, n/scale*100, raw)
			return
		case fastjson.TypeString:
			raw := text(strOf(x))
			if raw == "" {
				continue
			}
			key := strings.ToLower(raw)
			if sev, ok := g.sevMap[key]; ok {
				setSeverity(a, sev, raw)
				return
			}
			if sev, ok := severityName(raw); ok {
				setSeverity(a, sev, raw)
				return
			}
			if sev, ok := severityWords[key]; ok {
				setSeverity(a, sev, raw)
				return
			}
			if isNumeric([]byte(raw)) {
				continue // a numeric string: let the next path (or nothing) decide
			}
			r.fail(p, "unknown severity %q (add it to the mapping's severity_map)", truncate(raw, 40))
			return
		default:
			if g.lenient {
				continue
			}
			r.fail(p, "expected a severity name or number, got %s", article(x.Type()))
			return
		}
	}
}

func (g *generic) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	op := "generic"
	if g.m.Name != "" && g.m.Name != "default" {
		op = "generic(" + g.m.Name + ")"
	}
	r := newReader(op)
	r.dotted = true
	product := g.m.Product
	if product == "" {
		product = g.m.Name
	}
	a := newAlert(g.m.Vendor, product)
	var present [maxKeys]bool
	f := g.topKeys(v, &present)
	a.SourceID = g.str(r, v, g.sourceID, &present, f)
	a.Title = g.str(r, v, g.title, &present, f)
	a.Description = g.str(r, v, g.description, &present, f)
	a.Category = g.str(r, v, g.category, &present, f)
	a.RuleID = g.str(r, v, g.ruleID, &present, f)
	a.RuleName = g.str(r, v, g.ruleName, &present, f)
	if a.Title == "" && a.RuleName == "" && a.Category == "" {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf(op, g.m.Title[0], "required field is missing (no title, rule name or category at the mapped paths)")
	}
	g.readSeverity(r, &a, v, &present, f)

	var t time.Time
	ok := false
	for i := range g.times {
		if !g.times[i].may(&present, f) {
			continue
		}
		p := g.times[i].path
		x := getDotted(v, p)
		if x == nil || g.lenient && (x.Type() == fastjson.TypeObject || x.Type() == fastjson.TypeTrue || x.Type() == fastjson.TypeFalse) {
			continue
		}
		if t, ok = r.time(v, p); ok {
			break
		}
	}
	setTime(&a, t, ok, now)

	for i := range g.tactics {
		if p := g.tactics[i].path; g.tactics[i].may(&present, f) {
			eachAll(v, p, func(x *fastjson.Value) { addTactic(&a, g.scalar(r, x, p)) })
		}
	}
	for i := range g.techniques {
		if p := g.techniques[i].path; g.techniques[i].may(&present, f) {
			eachAll(v, p, func(x *fastjson.Value) { addTechnique(&a, g.scalar(r, x, p)) })
		}
	}
	for i := range g.obs {
		o := &g.obs[i]
		if !o.may(&present, f) {
			continue
		}
		eachAll(v, o.path, func(x *fastjson.Value) {
			if x.Type() == fastjson.TypeObject || x.Type() == fastjson.TypeArray {
				if !g.lenient {
					r.fail(o.path, "expected a %s value, got %s", o.typ, article(x.Type()))
				}
				return
			}
			if s := text(r.scalar(x, o.path)); s != "" {
				addTyped(&a, o.typ, s, o.role)
			}
		})
	}

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

// DefaultMapping is the mapping ?format=generic uses when no mapping is named: the field names common in
// JSON alerts, logs and webhooks.
func DefaultMapping() Mapping {
	return Mapping{
		Name:        "default",
		Product:     "generic",
		SourceID:    []string{"id", "alert_id", "alertId", "uuid", "event_id", "eventId", "uid", "_id"},
		Title:       []string{"title", "name", "alert_name", "alertName", "alert.name", "rule_name", "rule.name", "rule", "signature", "alert.signature", "summary", "message", "msg", "event.action", "description"},
		Description: []string{"description", "details", "message", "msg", "summary", "reason"},
		Category:    []string{"category", "event.category", "alert.category", "classification", "type", "event_type"},
		RuleID:      []string{"rule_id", "ruleId", "rule.id", "signature_id", "alert.signature_id", "sid"},
		RuleName:    []string{"rule_name", "ruleName", "rule.name", "rule", "signature", "alert.signature"},
		Severity:    []string{"severity", "severity_name", "severity_label", "level", "priority", "risk", "alert.severity", "event.severity", "log.level"},
		Time:        []string{"@timestamp", "timestamp", "time", "datetime", "date", "event_time", "eventTime", "detected_at", "detectedAt", "created_at", "createdAt", "ts", "event.created"},
		Tactics:     []string{"tactic", "tactics", "mitre.tactic", "mitre_tactic", "threat.tactic.id", "threat.tactic.name"},
		Techniques:  []string{"technique", "techniques", "technique_id", "mitre.technique", "mitre_technique", "mitre.id", "threat.technique.id"},
		Observables: []ObservableField{
			{"src_ip", "ip", "source"}, {"source_ip", "ip", "source"}, {"srcip", "ip", "source"}, {"src", "ip", "source"},
			{"source.ip", "ip", "source"}, {"source_address", "ip", "source"}, {"client_ip", "ip", "source"}, {"client.ip", "ip", "source"},
			{"dst_ip", "ip", "destination"}, {"dest_ip", "ip", "destination"}, {"destination_ip", "ip", "destination"}, {"dstip", "ip", "destination"},
			{"dst", "ip", "destination"}, {"destination.ip", "ip", "destination"}, {"dest_address", "ip", "destination"},
			{"server_ip", "ip", "destination"}, {"server.ip", "ip", "destination"},
			{"ip", "ip", "related"}, {"ip_address", "ip", "related"}, {"host_ip", "ip", "target"}, {"host.ip", "ip", "target"},
			{"host", "host", "target"}, {"hostname", "host", "target"}, {"host_name", "host", "target"}, {"host.name", "host", "target"},
			{"host.hostname", "host", "target"}, {"computer", "host", "target"}, {"computer_name", "host", "target"},
			{"device", "host", "target"}, {"device_name", "host", "target"}, {"endpoint", "host", "target"},
			{"user", "user", "actor"}, {"username", "user", "actor"}, {"user_name", "user", "actor"}, {"user.name", "user", "actor"},
			{"account", "user", "actor"}, {"src_user", "user", "actor"}, {"dst_user", "user", "target"}, {"target_user", "user", "target"},
			{"user.target.name", "user", "target"},
			{"domain", "domain", "related"}, {"domain_name", "domain", "related"}, {"fqdn", "domain", "related"},
			{"dns.question.name", "domain", "destination"}, {"query", "domain", "destination"}, {"url.domain", "domain", "destination"},
			{"url", "url", "related"}, {"url.full", "url", "related"}, {"url.original", "url", "related"}, {"uri", "url", "related"},
			{"request_url", "url", "related"},
			{"md5", "hash", "related"}, {"sha1", "hash", "related"}, {"sha256", "hash", "related"}, {"hash", "hash", "related"},
			{"file_hash", "hash", "related"}, {"hashes", "hash", "related"},
			{"file.hash.md5", "hash", "target"}, {"file.hash.sha1", "hash", "target"}, {"file.hash.sha256", "hash", "target"},
			{"process.hash.md5", "hash", "actor"}, {"process.hash.sha1", "hash", "actor"}, {"process.hash.sha256", "hash", "actor"},
			{"email", "email", "related"}, {"sender", "email", "source"}, {"from", "email", "source"}, {"src_email", "email", "source"},
			{"email.from.address", "email", "source"}, {"recipient", "email", "target"}, {"to", "email", "target"},
			{"email.to.address", "email", "target"},
			{"process", "process", "actor"}, {"process_name", "process", "actor"}, {"process_path", "process", "actor"},
			{"process.executable", "process", "actor"}, {"process.name", "process", "actor"}, {"image", "process", "actor"},
			{"file", "file", "target"}, {"file_name", "file", "target"}, {"filename", "file", "target"}, {"file_path", "file", "target"},
			{"file.path", "file", "target"}, {"file.name", "file", "target"},
		},
	}
}

func init() {
	n, err := NewGeneric(DefaultMapping())
	if err != nil {
		panic("normalize: the default generic mapping is invalid: " + err.Error())
	}
	g := n.(*generic)
	g.lenient = true
	Register("generic", g)
}
