package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// crowdstrike reads CrowdStrike Falcon detections: Event Streams DetectionSummaryEvent (legacy, severity
// 1-5) and EppDetectionSummaryEvent (severity 0-100), and Alerts API v2 resources (/alerts/entities/alerts/v2).
type crowdstrike struct{}

var (
	_ Normalizer  = crowdstrike{}
	_ Prioritized = crowdstrike{}
)

func init() { Register("crowdstrike", crowdstrike{}) }

func (crowdstrike) Name() string { return "crowdstrike" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (crowdstrike) Priority() int { return 40 }

func csStream(v *fastjson.Value) bool {
	et := v.GetStringBytes("metadata", "eventType")
	return len(et) > 0 && isType(v.Get("event"), fastjson.TypeObject)
}

func (crowdstrike) Match(v *fastjson.Value) bool {
	if csStream(v) {
		et := lowerASCII(string(v.GetStringBytes("metadata", "eventType")))
		return strings.HasSuffix(et, "detectionsummaryevent")
	}
	return v.Get("composite_id") != nil && (v.Get("cid") != nil || v.Get("falcon_host_link") != nil || v.Get("product") != nil)
}

// csLegacySeverity maps DetectionSummaryEvent's 1-5 scale.
var csLegacySeverity = [...]socbot.Severity{socbot.SeverityUnknown, socbot.SeverityInfo, socbot.SeverityLow, socbot.SeverityMedium, socbot.SeverityHigh, socbot.SeverityCritical}

func (crowdstrike) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("crowdstrike")
	a := newAlert("CrowdStrike", "Falcon")
	if csStream(v) {
		et := r.str(v, "metadata.eventType")
		if !strings.HasSuffix(lowerASCII(et), "detectionsummaryevent") {
			return nil, errorf("crowdstrike", "metadata.eventType", "event type %q is not a detection summary (DetectionSummaryEvent or EppDetectionSummaryEvent)", truncate(et, 60))
		}
		csStreamEvent(r, &a, v, strings.EqualFold(et, "DetectionSummaryEvent"), now)
	} else {
		csAlertV2(r, &a, v, now)
	}
	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

// csSeverity sets the severity from a number (legacy: 1-5, else 0-100) and its name.
func csSeverity(r *reader, a *socbot.Alert, v *fastjson.Value, numPath, namePath string, legacy bool) {
	name := r.str(v, namePath)
	n, ok := r.num(v, numPath)
	switch {
	case ok && legacy:
		if n < 0 || n > 5 || n != float64(int(n)) {
			r.fail(numPath, "severity %s out of range 1-5", numText(n))
			return
		}
		setSeverity(a, csLegacySeverity[int(n)], numText(n))
		if name != "" {
			a.SeverityRaw = name
		}
	case ok:
		if n < 0 || n > 100 {
			r.fail(numPath, "severity %s out of range 0-100", numText(n))
			return
		}
		setScore(a, n, numText(n))
		if name != "" {
			if sev, ok := severityName(name); ok && sev != socbot.SeverityUnknown {
				a.Severity = sev // the vendor's own label wins over the bucket (79 is "High")
			}
			a.SeverityRaw = name
		}
	case name != "":
		r.namedSeverity(a, name, namePath)
	}
}

func csStreamEvent(r *reader, a *socbot.Alert, v *fastjson.Value, legacy bool, now time.Time) {
	e := get(v, "event")
	a.SourceID = r.first(e, "CompositeId", "DetectId", "AggregateId")
	a.Title = r.first(e, "Name", "DetectName")
	a.RuleName = a.Title
	a.RuleID = r.str(e, "PatternId")
	a.Description = r.first(e, "Description", "DetectDescription")
	a.Category = r.first(e, "Objective", "Tactic")
	if a.Title == "" && a.SourceID == "" {
		r.fail("event.DetectName", "required field is missing (no detection name or id)")
	}
	csSeverity(r, a, v, "event.Severity", "event.SeverityName", legacy)
	t, ok := r.when(v, "metadata.eventCreationTime", "event.ProcessStartTime")
	setTime(a, t, ok, now)

	csMitre(r, a, e, "Tactic", "TacticId", "Technique", "TechniqueId")
	for _, m := range r.array(e, "MitreAttack") {
		csMitre(r, a, m, "Tactic", "TacticID", "Technique", "TechniqueID")
	}

	addHost(a, r.first(e, "Hostname", "ComputerName"), socbot.AsTarget)
	addIP(a, r.str(e, "LocalIP"), socbot.AsTarget)
	addIP(a, r.str(e, "LocalIPv6"), socbot.AsTarget)
	addDomainUser(a, r.first(e, "LogonDomain", "MachineDomain"), r.str(e, "UserName"), socbot.AsActor)
	addProcess(a, joinFile(r.str(e, "FilePath"), r.str(e, "FileName")), socbot.AsActor)
	for _, h := range [...]string{"SHA256String", "SHA1String", "MD5String"} {
		addHash(a, r.str(e, h), socbot.AsActor)
	}
	addProcess(a, r.first(e, "ParentImageFilePath", "ParentImageFileName"), socbot.AsRelated)
	addProcess(a, r.first(e, "GrandParentImageFilePath", "GrandparentImageFileName", "GrandParentImageFileName"), socbot.AsRelated)
	csIOC(a, r.str(e, "IOCType"), r.str(e, "IOCValue"))
	for _, na := range r.array(e, "NetworkAccesses") {
		role := socbot.AsDestination
		if d, _ := r.num(na, "ConnectionDirection"); d == 1 { // inbound
			role = socbot.AsSource
		}
		addIP(a, r.str(na, "RemoteAddress"), role)
	}
	for _, d := range r.array(e, "DnsRequests") {
		addDomain(a, r.str(d, "DomainName"), socbot.AsDestination)
	}
}

// csMitre reads a tactic/technique pair given by name and, in newer events, by id. CrowdStrike's own
// pseudo-tactics ("Malware", "Machine Learning", CSTA ids) are not ATT&CK and are ignored.
func csMitre(r *reader, a *socbot.Alert, v *fastjson.Value, tactic, tacticID, technique, techniqueID string) {
	addTactic(a, r.str(v, tacticID))
	addTactic(a, r.str(v, tactic))
	addTechnique(a, r.str(v, techniqueID))
}

// csIOC adds the detection's indicator by its declared type.
func csIOC(a *socbot.Alert, typ, value string) {
	if value == "" {
		return
	}
	t := lowerASCII(typ)
	switch {
	case strings.HasPrefix(t, "hash"):
		addHash(a, value, socbot.AsRelated)
	case strings.Contains(t, "domain"):
		addDomain(a, value, socbot.AsRelated)
	case strings.Contains(t, "ip"):
		addIP(a, value, socbot.AsRelated)
	case strings.Contains(t, "url"):
		addURL(a, value, socbot.AsRelated)
	case strings.Contains(t, "filename"), strings.Contains(t, "path"):
		addFile(a, value, socbot.AsRelated)
	}
}

func csAlertV2(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	a.SourceID = r.first(v, "composite_id", "id")
	if a.SourceID == "" {
		r.missing("composite_id")
	}
	if p := r.str(v, "source_products"); p != "" {
		a.Product = p
	} else if p := r.str(v, "product"); p != "" {
		a.Product = "Falcon (" + p + ")"
	}
	a.Title = r.first(v, "display_name", "name")
	a.RuleName = r.first(v, "name", "display_name")
	a.RuleID = r.first(v, "pattern_id", "idp_policy_rule_id")
	a.Description = r.str(v, "description")
	a.Category = r.first(v, "scenario", "objective", "type")
	csSeverity(r, a, v, "severity", "severity_name", false)
	t, ok := r.when(v, "timestamp", "created_timestamp", "context_timestamp")
	setTime(a, t, ok, now)
	csMitre(r, a, v, "tactic", "tactic_id", "technique", "technique_id")

	// Endpoint detections.
	addHost(a, r.str(v, "device.hostname"), socbot.AsTarget)
	addIP(a, r.str(v, "device.local_ip"), socbot.AsTarget)
	addIP(a, r.str(v, "device.external_ip"), socbot.AsTarget)
	if get(v, "source_account_name") == nil {
		addDomainUser(a, r.str(v, "logon_domain"), r.str(v, "user_name"), socbot.AsActor)
	}
	addProcess(a, r.first(v, "filepath", "filename"), socbot.AsActor)
	for _, h := range [...]string{"sha256", "sha1", "md5"} {
		addHash(a, r.str(v, h), socbot.AsActor)
	}
	for _, rel := range [...]string{"parent_details", "grandparent_details"} {
		addProcess(a, r.first(v, rel+".filepath", rel+".filename"), socbot.AsRelated)
		addHash(a, r.str(v, rel+".sha256"), socbot.AsRelated)
	}
	for _, ioc := range r.array(v, "ioc_context") {
		csIOC(a, r.str(ioc, "ioc_type"), r.str(ioc, "ioc_value"))
	}
	for _, q := range r.array(v, "quarantined_files") {
		addHash(a, r.str(q, "sha256"), socbot.AsActor)
	}
	// Identity Protection detections: who, from where, against what.
	addUser(a, r.first(v, "source_account_upn", "source_account_name"), socbot.AsActor)
	addIP(a, r.first(v, "source_endpoint_ip_address", "source_endpoint_address_ip4"), socbot.AsSource)
	addHost(a, r.str(v, "source_endpoint_host_name"), socbot.AsSource)
	addUser(a, r.str(v, "target_account_name"), socbot.AsTarget)
	addHost(a, r.str(v, "target_endpoint_host_name"), socbot.AsTarget)
}
