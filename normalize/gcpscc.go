package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// gcpSCC reads Google Cloud Security Command Center findings: Pub/Sub notifications
// ({notificationConfigName, finding, resource}), ListFindings results ({finding, resource}) and bare
// finding objects.
type gcpSCC struct{}

var (
	_ Normalizer  = gcpSCC{}
	_ Prioritized = gcpSCC{}
)

func init() { Register("gcp_scc", gcpSCC{}) }

func (gcpSCC) Name() string { return "gcp_scc" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (gcpSCC) Priority() int { return 100 }

func isSCCFinding(v *fastjson.Value) bool {
	name := v.GetStringBytes("name")
	return strings.Contains(string(name), "/findings/") && (v.Get("category") != nil || v.Get("resourceName") != nil)
}

func (gcpSCC) Match(v *fastjson.Value) bool {
	if f := v.Get("finding"); isType(f, fastjson.TypeObject) {
		return isSCCFinding(f)
	}
	return isSCCFinding(v)
}

func (gcpSCC) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("gcp_scc")
	f, prefix := v, ""
	if x := r.object(v, "finding"); x != nil {
		f, prefix = x, "finding."
	}
	a := newAlert("Google", "Security Command Center")
	a.SourceID = r.first(f, "name", "canonicalName")
	if a.SourceID == "" {
		r.missing(prefix + "name")
	}
	a.Title = r.str(f, "category")
	a.RuleName = a.Title
	a.RuleID = r.first(f, "sourceProperties.detectionCategory.ruleName", "sourceProperties.ScannerName")
	a.Description = r.first(f, "description", "sourceProperties.Explanation", "sourceProperties.detectionCategory.subRuleName")
	a.Category = r.str(f, "findingClass")
	if a.Category == "" {
		if c, _, ok := strings.Cut(a.Title, ":"); ok {
			a.Category = c
		}
	}

	sevPath := "severity"
	sev := r.str(f, sevPath)
	if sev == "" || strings.EqualFold(sev, "SEVERITY_UNSPECIFIED") {
		for _, p := range [...]string{"sourceProperties.SeverityLevel", "sourceProperties.detectionPriority"} {
			if s := r.str(f, p); s != "" {
				sev, sevPath = s, p
				break
			}
		}
	}
	r.namedSeverity(&a, sev, prefix+sevPath)

	t, ok := r.time(f, "eventTime")
	if !usable(t, ok) {
		t, ok = r.time(f, "createTime")
	}
	setTime(&a, t, ok, now)

	addTactic(&a, r.first(f, "mitreAttack.primaryTactic", "mitreAttack.primary_tactic"))
	r.eachStr(f, "mitreAttack.additionalTactics", func(s string) { addTactic(&a, s) })
	addTactic(&a, r.str(f, "sourceProperties.detectionCategory.technique"))
	addTechnique(&a, r.str(f, "sourceProperties.contextUris.mitreUri.url"))

	// Who and what.
	for _, p := range [...]string{"access.principalEmail", "sourceProperties.properties.principalEmail"} {
		e := r.str(f, p)
		addEmail(&a, e, socbot.AsActor)
		addUser(&a, e, socbot.AsActor)
	}
	addIP(&a, r.str(f, "access.callerIp"), socbot.AsSource)
	for _, c := range r.array(f, "connections") {
		addIP(&a, r.str(c, "sourceIp"), socbot.AsSource)
		addIP(&a, r.str(c, "destinationIp"), socbot.AsDestination)
	}
	r.eachStr(f, "indicator.ipAddresses", func(s string) { addIP(&a, s, socbot.AsRelated) })
	r.eachStr(f, "indicator.domains", func(s string) { addDomain(&a, s, socbot.AsRelated) })
	for _, p := range r.array(f, "processes") {
		addProcess(&a, r.str(p, "binary.path"), socbot.AsActor)
		addHash(&a, r.str(p, "binary.sha256"), socbot.AsActor)
	}
	for _, fl := range r.array(f, "files") {
		addFile(&a, r.str(fl, "path"), socbot.AsTarget)
		addHash(&a, r.str(fl, "sha256"), socbot.AsTarget)
	}
	for _, at := range r.array(f, "sourceProperties.properties.attempts") {
		addIP(&a, r.str(at, "sourceIp"), socbot.AsSource)
		addUser(&a, r.str(at, "username"), socbot.AsActor)
		addHost(&a, r.str(at, "vmName"), socbot.AsTarget)
	}
	r.eachStr(f, "sourceProperties.properties.externalMembers", func(s string) { addEmail(&a, s, socbot.AsTarget) })
	for _, d := range r.array(f, "sourceProperties.properties.bindingDeltas") {
		addEmail(&a, r.str(d, "member"), socbot.AsTarget)
	}
	if inst := r.str(f, "sourceProperties.properties.instanceDetails"); inst != "" {
		addHost(&a, inst[strings.LastIndexByte(inst, '/')+1:], socbot.AsTarget)
	}

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}
