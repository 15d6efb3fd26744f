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

var (
	_ Normalizer  = elastic{}
	_ Prioritized = elastic{}
)

func init() { Register("elastic", elastic{}) }

func (elastic) Name() string { return "elastic" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (elastic) Priority() int { return 30 }

func (elastic) Match(v *fastjson.Value) bool {
	if v.Get("kibana.alert.rule.name") != nil || v.Get("kibana.alert.uuid") != nil {
		return true // 8.x flattened, the usual form
	}
	if k := v.Get("kibana"); isType(k, fastjson.TypeObject) {
		return getDotted(k, "alert.rule.name") != nil || getDotted(k, "alert.uuid") != nil
	}
	if s := v.Get("signal"); isType(s, fastjson.TypeObject) {
		return getDotted(s, "rule.name") != nil || getDotted(s, "rule.id") != nil
	}
	return v.Get("signal.rule.name") != nil || v.Get("signal.rule.id") != nil
}

// elasticPaths are the alert fields of one schema generation.
type elasticPaths struct {
	uuid, ruleName, ruleID, ruleUUID, ruleIDOld, paramRuleID, reason, ruleDesc, paramDesc, ruleType, paramType,
	severity, ruleSeverity, paramSeverity, riskScore, ruleRiskScore, start, originalTime, threat, paramThreat,
	originalModule, buildingBlock string
}

var (
	elastic8 = elasticPaths{
		uuid: "kibana.alert.uuid", ruleName: "kibana.alert.rule.name", ruleID: "kibana.alert.rule.rule_id",
		ruleUUID: "kibana.alert.rule.uuid", ruleIDOld: "kibana.alert.rule.id", paramRuleID: "kibana.alert.rule.parameters.rule_id",
		reason: "kibana.alert.reason", ruleDesc: "kibana.alert.rule.description", paramDesc: "kibana.alert.rule.parameters.description",
		ruleType: "kibana.alert.rule.type", paramType: "kibana.alert.rule.parameters.type", severity: "kibana.alert.severity",
		ruleSeverity: "kibana.alert.rule.severity", paramSeverity: "kibana.alert.rule.parameters.severity",
		riskScore: "kibana.alert.risk_score", ruleRiskScore: "kibana.alert.rule.risk_score", start: "kibana.alert.start",
		originalTime: "kibana.alert.original_time", threat: "kibana.alert.rule.threat", paramThreat: "kibana.alert.rule.parameters.threat",
		originalModule: "kibana.alert.original_event.module", buildingBlock: "kibana.alert.building_block_type",
	}
	elastic7 = elasticPaths{
		uuid: "signal.uuid", ruleName: "signal.rule.name", ruleID: "signal.rule.rule_id", ruleUUID: "signal.rule.uuid",
		ruleIDOld: "signal.rule.id", paramRuleID: "signal.rule.parameters.rule_id", reason: "signal.reason",
		ruleDesc: "signal.rule.description", paramDesc: "signal.rule.parameters.description", ruleType: "signal.rule.type",
		paramType: "signal.rule.parameters.type", severity: "signal.severity", ruleSeverity: "signal.rule.severity",
		paramSeverity: "signal.rule.parameters.severity", riskScore: "signal.risk_score", ruleRiskScore: "signal.rule.risk_score",
		start: "signal.start", originalTime: "signal.original_time", threat: "signal.rule.threat",
		paramThreat: "signal.rule.parameters.threat", originalModule: "signal.original_event.module", buildingBlock: "signal.building_block_type",
	}
)

func (elastic) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("elastic")
	r.dotted = true
	// 8.x puts the alert fields under kibana.alert, 7.x under signal.
	p := &elastic8
	if getDotted(v, elastic8.ruleName) == nil && getDotted(v, elastic8.uuid) == nil {
		p = &elastic7
	}
	// Building-block alerts are hidden from analysts by design; they feed other rules.
	if r.str(v, p.buildingBlock) != "" {
		return nil, r.err
	}

	a := newAlert("Elastic", "Elastic Security")
	a.SourceID = r.str(v, p.uuid)
	a.RuleName = r.str(v, p.ruleName)
	if a.RuleName == "" {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("elastic", p.ruleName, "required field is missing")
	}
	a.Title = a.RuleName
	a.RuleID = r.first(v, p.ruleID, p.ruleUUID, p.ruleIDOld, p.paramRuleID)
	a.Description = r.first(v, p.reason, p.ruleDesc, p.paramDesc)
	a.Category = r.first(v, p.ruleType, p.paramType, "event.category")
	if m := r.first(v, "event.module", p.originalModule); m != "" {
		a.Product = "Elastic Security (" + m + ")"
	}

	sev := r.first(v, p.severity, p.ruleSeverity, p.paramSeverity)
	scorePath := p.riskScore
	score, hasScore := r.num(v, scorePath)
	if !hasScore {
		scorePath = p.ruleRiskScore
		score, hasScore = r.num(v, scorePath)
	}
	switch {
	case sev != "" && r.namedSeverity(&a, sev, p.severity):
		if hasScore && score >= 0 && score <= 100 {
			a.SeverityScore = int(score + 0.5)
		}
	case sev == "" && hasScore:
		if score < 0 || score > 100 {
			r.fail(scorePath, "risk score %s out of range 0-100", numText(score))
		}
		setScore(&a, score, numText(score))
	}

	t, ok := r.when(v, "@timestamp", p.start, p.originalTime)
	setTime(&a, t, ok, now)

	// ATT&CK: rule.threat[] = {framework, tactic{id,name}, technique[]{id, subtechnique[]{id}}}.
	for _, path := range [...]string{p.threat, p.paramThreat} {
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
