package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// elastic reads Elastic Security detection alerts: Kibana 8.x documents (.alerts-security.alerts-*,
// kibana.alert.* fields) and legacy 7.x signals (.siem-signals-*, signal.* fields), with literal dotted
// keys, nested objects or a mix of both.
type elastic struct{}

var _ Normalizer = elastic{}

func init() { Register("elastic", elastic{}) }

func (elastic) Name() string { return "elastic" }

func (elastic) Match(v *fastjson.Value) bool {
	return get(v, "kibana.alert.rule.name") != nil || get(v, "kibana.alert.uuid") != nil ||
		get(v, "signal.rule.name") != nil || get(v, "signal.rule.id") != nil
}

func (elastic) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("elastic")
	// 8.x puts the alert fields under kibana.alert, 7.x under signal.
	p := "kibana.alert."
	if get(v, "kibana.alert.rule.name") == nil && get(v, "kibana.alert.uuid") == nil {
		p = "signal."
	}
	// Building-block alerts are hidden from analysts by design; they feed other rules.
	if p == "kibana.alert." && r.str(v, "kibana.alert.building_block_type") != "" {
		return nil, r.err
	}

	a := newAlert("Elastic", "Elastic Security")
	a.SourceID = r.str(v, p+"uuid")
	a.RuleName = r.str(v, p+"rule.name")
	if a.RuleName == "" {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("elastic", p+"rule.name", "required field is missing")
	}
	a.Title = a.RuleName
	a.RuleID = r.first(v, p+"rule.rule_id", p+"rule.uuid", p+"rule.id", p+"rule.parameters.rule_id")
	a.Description = r.first(v, p+"reason", p+"rule.description", p+"rule.parameters.description")
	a.Category = r.first(v, p+"rule.type", p+"rule.parameters.type", "event.category")
	if m := r.first(v, "event.module", p+"original_event.module"); m != "" {
		a.Product = "Elastic Security (" + m + ")"
	}

	sev := r.first(v, p+"severity", p+"rule.severity", p+"rule.parameters.severity")
	score, hasScore := r.num(v, p+"risk_score")
	if !hasScore {
		score, hasScore = r.num(v, p+"rule.risk_score")
	}
	switch {
	case sev != "" && r.namedSeverity(&a, sev, p+"severity"):
		if hasScore && score >= 0 && score <= 100 {
			a.SeverityScore = int(score + 0.5)
		}
	case sev == "" && hasScore:
		if score < 0 || score > 100 {
			r.fail(p+"risk_score", "risk score %s out of range 0-100", numText(score))
		}
		setScore(&a, score, numText(score))
	}

	t, ok := r.when(v, "@timestamp", p+"start", p+"original_time")
	setTime(&a, t, ok, now)

	// ATT&CK: rule.threat[] = {framework, tactic{id,name}, technique[]{id, subtechnique[]{id}}}.
	for _, path := range [...]string{p + "rule.threat", p + "rule.parameters.threat"} {
		for _, th := range r.array(v, path) {
			addTactic(&a, r.str(th, "tactic.id"))
			addTactic(&a, r.str(th, "tactic.name"))
			for _, te := range r.array(th, "technique") {
				addTechnique(&a, r.str(te, "id"))
				for _, st := range r.array(te, "subtechnique") {
					addTechnique(&a, r.str(st, "id"))
				}
			}
		}
	}

	// Entities (ECS).
	addHost(&a, r.first(v, "host.name", "host.hostname"), socbot.AsTarget)
	r.eachStr(v, "host.ip", func(s string) { addIP(&a, s, socbot.AsTarget) })
	addUser(&a, ecsUser(r, v, "user"), socbot.AsActor)
	addUser(&a, ecsUser(r, v, "user.target"), socbot.AsTarget)
	addEmail(&a, r.str(v, "user.email"), socbot.AsActor)
	addIP(&a, r.str(v, "source.ip"), socbot.AsSource)
	addDomain(&a, r.str(v, "source.domain"), socbot.AsSource)
	addIP(&a, r.str(v, "destination.ip"), socbot.AsDestination)
	addDomain(&a, r.str(v, "destination.domain"), socbot.AsDestination)
	addDomain(&a, r.str(v, "dns.question.name"), socbot.AsDestination)
	addURL(&a, r.first(v, "url.full", "url.original"), socbot.AsDestination)
	addDomain(&a, r.str(v, "url.domain"), socbot.AsDestination)
	addProcess(&a, r.first(v, "process.executable", "process.name"), socbot.AsActor)
	addProcess(&a, r.first(v, "process.parent.executable", "process.parent.name"), socbot.AsRelated)
	for _, h := range [...]string{"process.hash.sha256", "process.hash.sha1", "process.hash.md5"} {
		addHash(&a, r.str(v, h), socbot.AsActor)
	}
	addFile(&a, r.first(v, "file.path", "file.name"), socbot.AsTarget)
	for _, h := range [...]string{"file.hash.sha256", "file.hash.sha1", "file.hash.md5"} {
		addHash(&a, r.str(v, h), socbot.AsTarget)
	}
	r.eachStr(v, "email.from.address", func(s string) { addEmail(&a, s, socbot.AsSource) })
	r.eachStr(v, "email.to.address", func(s string) { addEmail(&a, s, socbot.AsTarget) })
	r.eachStr(v, "related.ip", func(s string) { addIP(&a, s, socbot.AsRelated) })
	r.eachStr(v, "related.hash", func(s string) { addHash(&a, s, socbot.AsRelated) })
	r.eachStr(v, "related.user", func(s string) { addUser(&a, s, socbot.AsRelated) })
	r.eachStr(v, "related.hosts", func(s string) { addHost(&a, s, socbot.AsRelated) })
	// Indicator-match rules record what matched.
	for _, en := range r.array(v, "threat.enrichments") {
		atomic := r.str(en, "matched.atomic")
		field := r.str(en, "matched.field")
		elasticMatched(&a, field, atomic)
	}

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

// ecsUser reads <prefix>.name, qualified by <prefix>.domain.
func ecsUser(r *reader, v *fastjson.Value, prefix string) string {
	name := r.str(v, prefix+".name")
	if name == "" {
		return ""
	}
	if d := r.str(v, prefix+".domain"); d != "" && !strings.ContainsAny(name, "\\@") {
		return d + "\\" + name
	}
	return name
}

// elasticMatched adds the value an indicator-match rule matched, typed by the ECS field it matched on.
func elasticMatched(a *socbot.Alert, field, value string) {
	if value == "" {
		return
	}
	switch {
	case strings.HasSuffix(field, ".ip") || field == "ip":
		addIP(a, value, socbot.AsRelated)
	case strings.HasPrefix(field, "host."):
		addHost(a, value, socbot.AsRelated)
	case strings.Contains(field, "hash"):
		addHash(a, value, socbot.AsRelated)
	case strings.HasPrefix(field, "url."):
		if strings.HasSuffix(field, "domain") {
			addDomain(a, value, socbot.AsRelated)
		} else {
			addURL(a, value, socbot.AsRelated)
		}
	case strings.HasSuffix(field, "domain") || strings.HasSuffix(field, "question.name"):
		addDomain(a, value, socbot.AsRelated)
	case strings.HasPrefix(field, "user."):
		addUser(a, value, socbot.AsRelated)
	case strings.Contains(field, "email"):
		addEmail(a, value, socbot.AsRelated)
	case strings.HasPrefix(field, "file."):
		addFile(a, value, socbot.AsRelated)
	}
}
