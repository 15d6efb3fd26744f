package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// ocsf reads OCSF Detection Finding (class 2004, OCSF 1.1+) and Security Finding (class 2001, OCSF 1.0
// and earlier) events.
type ocsf struct{}

var (
	_ Normalizer  = ocsf{}
	_ Prioritized = ocsf{}
)

func init() { Register("ocsf", ocsf{}) }

func (ocsf) Name() string { return "ocsf" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (ocsf) Priority() int { return 70 }

// Match: an OCSF event carries a numeric class_uid next to its metadata (or a finding object).
func (ocsf) Match(v *fastjson.Value) bool {
	if !isType(v.Get("class_uid"), fastjson.TypeNumber) {
		return false
	}
	return isType(v.Get("metadata"), fastjson.TypeObject) || isType(v.Get("finding_info"), fastjson.TypeObject) ||
		isType(v.Get("finding"), fastjson.TypeObject)
}

// ocsfObservableTypes maps observables[].type_id to observable types.
var ocsfObservableTypes = map[int]string{1: "host", 2: "ip", 4: "user", 5: "email", 6: "url", 7: "file", 8: "hash", 9: "process"}

func (ocsf) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("ocsf")
	class, ok := r.num(v, "class_uid")
	if !ok {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("ocsf", "class_uid", "required field is missing")
	}
	fi := "finding_info"
	switch class {
	case 2004:
	case 2001:
		fi = "finding"
	default:
		return nil, errorf("ocsf", "class_uid", "OCSF class %s is not a finding this normaliser reads (2004 Detection Finding, 2001 Security Finding)", numText(class))
	}
	// A compliance check that passed (Prowler's status_code PASS) is no detection.
	if strings.EqualFold(r.str(v, "status_code"), "PASS") {
		return nil, r.err
	}

	a := newAlert(r.str(v, "metadata.product.vendor_name"), r.str(v, "metadata.product.name"))
	if a.Product == "" {
		a.Product = "OCSF"
	}
	a.SourceID = r.first(v, fi+".uid", "metadata.uid")
	a.Title = r.first(v, fi+".title", "message")
	a.Description = r.first(v, fi+".desc", "status_detail")
	a.RuleID = r.first(v, fi+".analytic.uid", "metadata.event_code")
	a.RuleName = r.first(v, fi+".analytic.name", "metadata.event_code")
	a.Category = r.first(v, fi+".types", "category_name", "class_name")

	raw := r.str(v, "severity")
	if id, ok := r.num(v, "severity_id"); ok {
		if raw == "" {
			raw = numText(id)
		}
		switch id {
		case 0, 99:
			setSeverity(&a, socbot.SeverityUnknown, raw)
		case 1:
			setSeverity(&a, socbot.SeverityInfo, raw)
		case 2:
			setSeverity(&a, socbot.SeverityLow, raw)
		case 3:
			setSeverity(&a, socbot.SeverityMedium, raw)
		case 4:
			setSeverity(&a, socbot.SeverityHigh, raw)
		case 5:
			setSeverity(&a, socbot.SeverityCritical, raw)
		case 6: // Fatal
			setSeverity(&a, socbot.SeverityCritical, raw)
			a.SeverityScore = 100
		default:
			r.fail("severity_id", "unknown OCSF severity_id %s", numText(id))
		}
	} else if raw != "" {
		if strings.EqualFold(raw, "fatal") {
			setSeverity(&a, socbot.SeverityCritical, raw)
			a.SeverityScore = 100
		} else {
			r.namedSeverity(&a, raw, "severity")
		}
	}

	t, ok := r.when(v, "time", "time_dt", fi+".created_time", fi+".created_time_dt", fi+".first_seen_time", fi+".last_seen_time")
	setTime(&a, t, ok && usable(t, ok), now)

	// ATT&CK: finding_info.attacks[] (1.1+), attacks[] at the top (2001).
	for _, path := range [...]string{fi + ".attacks", "attacks"} {
		for _, at := range r.array(v, path) {
			addTactic(&a, r.str(at, "tactic.uid"))
			addTactic(&a, r.str(at, "tactic.name"))
			each(at, "tactics", func(x *fastjson.Value) { addTactic(&a, r.str(x, "uid")); addTactic(&a, r.str(x, "name")) })
			addTechnique(&a, r.str(at, "technique.uid"))
			addTechnique(&a, r.str(at, "sub_technique.uid"))
		}
	}

	// Entities.
	addHost(&a, r.first(v, "device.hostname", "device.name"), socbot.AsTarget)
	r.eachStr(v, "device.ip", func(s string) { addIP(&a, s, socbot.AsTarget) })
	addUser(&a, r.first(v, "actor.user.name", "actor.user.uid"), socbot.AsActor)
	addEmail(&a, r.str(v, "actor.user.email_addr"), socbot.AsActor)
	addProcess(&a, r.first(v, "actor.process.file.path", "actor.process.name"), socbot.AsActor)
	ocsfEndpoint(r, &a, v, "src_endpoint", socbot.AsSource)
	ocsfEndpoint(r, &a, v, "dst_endpoint", socbot.AsDestination)
	for _, ev := range r.array(v, "evidences") {
		ocsfEndpoint(r, &a, ev, "src_endpoint", socbot.AsSource)
		ocsfEndpoint(r, &a, ev, "dst_endpoint", socbot.AsDestination)
		addDomain(&a, r.str(ev, "query.hostname"), socbot.AsRelated)
		addURL(&a, r.str(ev, "url.url_string"), socbot.AsRelated)
		addUser(&a, r.str(ev, "actor.user.name"), socbot.AsActor)
		addProcess(&a, r.first(ev, "process.file.path", "process.name"), socbot.AsActor)
		addProcess(&a, r.first(ev, "actor.process.file.path", "actor.process.name"), socbot.AsActor)
		each(ev, "process.file.hashes", func(h *fastjson.Value) { addHash(&a, r.str(h, "value"), socbot.AsActor) })
		addFile(&a, r.first(ev, "file.path", "file.name"), socbot.AsTarget)
		each(ev, "file.hashes", func(h *fastjson.Value) { addHash(&a, r.str(h, "value"), socbot.AsTarget) })
	}
	for _, m := range r.array(v, "malware") { // 2001
		addFile(&a, r.str(m, "path"), socbot.AsTarget)
	}
	for _, o := range r.array(v, "observables") {
		id, _ := r.num(o, "type_id")
		if typ, ok := ocsfObservableTypes[int(id)]; ok {
			addTyped(&a, typ, r.str(o, "value"), socbot.AsRelated)
		}
	}

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

func ocsfEndpoint(r *reader, a *socbot.Alert, v *fastjson.Value, path string, role socbot.ObsRole) {
	ep := get(v, path)
	if ep == nil {
		return
	}
	addIP(a, r.str(ep, "ip"), role)
	addHost(a, r.str(ep, "hostname"), role)
	addDomain(a, r.str(ep, "domain"), role)
}
