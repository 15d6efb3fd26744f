package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// guardduty reads Amazon GuardDuty findings: native (GetFindings items) or the detail of an
// EventBridge "GuardDuty Finding" event (the envelope is unwrapped before).
type guardduty struct{}

// securityhub reads AWS Security Finding Format (ASFF) findings: native, from BatchImportFindings or
// GetFindings, or the detail.findings[] of an EventBridge "Security Hub Findings" event.
type securityhub struct{}

var (
	_ Normalizer  = guardduty{}
	_ Normalizer  = securityhub{}
	_ Prioritized = guardduty{}
	_ Prioritized = securityhub{}
)

func init() {
	Register("guardduty", guardduty{})
	Register("securityhub", securityhub{})
}

func (guardduty) Name() string { return "guardduty" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (guardduty) Priority() int { return 80 }

func (guardduty) Match(v *fastjson.Value) bool {
	if strings.Contains(string(v.GetStringBytes("arn")), ":guardduty:") {
		return true
	}
	return equalFoldB(v.GetStringBytes("service", "serviceName"), "guardduty") && v.Get("type") != nil
}

// guardDutyTactics maps GuardDuty threat purposes (the finding type's first part) onto ATT&CK tactics
// where they are the same idea.
var guardDutyTactics = map[string]string{
	"recon":               "TA0043",
	"initialaccess":       "TA0001",
	"execution":           "TA0002",
	"persistence":         "TA0003",
	"privilegeescalation": "TA0004",
	"defenseevasion":      "TA0005",
	"stealth":             "TA0005",
	"credentialaccess":    "TA0006",
	"discovery":           "TA0007",
	"exfiltration":        "TA0010",
	"impact":              "TA0040",
}

func (guardduty) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("guardduty")
	a := newAlert("AWS", "GuardDuty")
	a.SourceID = r.first(v, "id", "arn")
	if a.SourceID == "" {
		r.missing("id")
	}
	typ := r.str(v, "type")
	a.RuleID = typ
	a.RuleName = typ
	a.Title = r.first(v, "title", "type")
	a.Description = r.str(v, "description")
	if purpose, _, ok := strings.Cut(typ, ":"); ok {
		a.Category = purpose
		var buf [32]byte
		if id, ok := guardDutyTactics[string(foldKey(buf[:0], purpose))]; ok && len(purpose) < len(buf) {
			addTactic(&a, id)
		}
	}

	// Severity 1.0-10.0: 1-3.9 low, 4-6.9 medium, 7-8.9 high, 9-10 critical; score = severity × 10.
	if sev, ok := r.num(v, "severity"); ok {
		raw := numText(sev)
		switch {
		case sev < 0 || sev > 10:
			r.fail("severity", "severity %s out of range 0-10", raw)
		case sev >= 9:
			setSeverity(&a, socbot.SeverityCritical, raw)
		case sev >= 7:
			setSeverity(&a, socbot.SeverityHigh, raw)
		case sev >= 4:
			setSeverity(&a, socbot.SeverityMedium, raw)
		case sev > 0:
			setSeverity(&a, socbot.SeverityLow, raw)
		default:
			setSeverity(&a, socbot.SeverityInfo, raw)
		}
		if r.err == nil {
			a.SeverityScore = int(sev*10 + 0.5)
		}
	}
	t, ok := r.when(v, "createdAt", "service.eventFirstSeen", "updatedAt")
	setTime(&a, t, ok, now)

	// The resource GuardDuty is worried about.
	addHost(&a, r.str(v, "resource.instanceDetails.instanceId"), socbot.AsTarget)
	for _, ni := range r.array(v, "resource.instanceDetails.networkInterfaces") {
		addIP(&a, r.str(ni, "privateIpAddress"), socbot.AsTarget)
		addIP(&a, r.str(ni, "publicIp"), socbot.AsTarget)
	}
	addUser(&a, r.str(v, "resource.accessKeyDetails.userName"), socbot.AsActor)
	addHost(&a, r.str(v, "resource.eksClusterDetails.name"), socbot.AsTarget)
	addUser(&a, r.str(v, "resource.kubernetesDetails.kubernetesUserDetails.username"), socbot.AsActor)

	// The other side, by action type.
	act := get(v, "service.action")
	role := socbot.AsSource
	if strings.EqualFold(r.str(act, "networkConnectionAction.connectionDirection"), "OUTBOUND") {
		role = socbot.AsDestination
	}
	addIP(&a, r.str(act, "networkConnectionAction.remoteIpDetails.ipAddressV4"), role)
	addIP(&a, r.str(act, "awsApiCallAction.remoteIpDetails.ipAddressV4"), socbot.AsSource)
	addIP(&a, r.str(act, "kubernetesApiCallAction.remoteIpDetails.ipAddressV4"), socbot.AsSource)
	for _, p := range r.array(act, "portProbeAction.portProbeDetails") {
		addIP(&a, r.str(p, "remoteIpDetails.ipAddressV4"), socbot.AsSource)
	}
	addDomain(&a, r.str(act, "dnsRequestAction.domain"), socbot.AsDestination)
	for _, ev := range r.array(v, "service.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames") {
		for _, fp := range r.array(ev, "filePaths") {
			addFile(&a, r.str(fp, "filePath"), socbot.AsTarget)
			addHash(&a, r.str(fp, "hash"), socbot.AsTarget)
		}
	}
	addProcess(&a, r.first(v, "service.runtimeDetails.process.executablePath", "service.runtimeDetails.process.name"), socbot.AsActor)
	addHash(&a, r.str(v, "service.runtimeDetails.process.executableSha256"), socbot.AsActor)

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

func (securityhub) Name() string { return "securityhub" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (securityhub) Priority() int { return 90 }

func (securityhub) Match(v *fastjson.Value) bool {
	if string(v.GetStringBytes("SchemaVersion")) == "2018-10-08" {
		return true
	}
	return v.Get("ProductArn") != nil && v.Get("AwsAccountId") != nil && v.Get("Id") != nil
}

func (securityhub) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("securityhub")
	// Archived findings and passed controls carry nothing to triage.
	if strings.EqualFold(r.str(v, "RecordState"), "ARCHIVED") || strings.EqualFold(r.str(v, "Compliance.Status"), "PASSED") {
		return nil, r.err
	}
	a := newAlert(r.first(v, "CompanyName", "ProductFields.aws/securityhub/CompanyName"), r.first(v, "ProductName", "ProductFields.aws/securityhub/ProductName"))
	if a.Vendor == "" {
		a.Vendor = "AWS"
	}
	if a.Product == "" {
		a.Product = "Security Hub"
	}
	a.SourceID = r.str(v, "Id")
	if a.SourceID == "" {
		r.missing("Id")
	}
	a.Title = r.str(v, "Title")
	a.Description = r.str(v, "Description")
	a.RuleID = r.first(v, "GeneratorId", "ProductFields.ControlId", "ProductFields.RuleId")
	a.RuleName = r.first(v, "ProductFields.ControlId", "ProductFields.RuleId", "GeneratorId")
	a.Category = r.first(v, "Types", "FindingProviderFields.Types")

	label := r.first(v, "Severity.Label", "FindingProviderFields.Severity.Label")
	norm, hasNorm := r.num(v, "Severity.Normalized")
	switch {
	case label != "":
		if r.namedSeverity(&a, label, "Severity.Label") && hasNorm && norm >= 0 && norm <= 100 {
			a.SeverityScore = int(norm + 0.5)
		}
	case hasNorm:
		if norm < 0 || norm > 100 {
			r.fail("Severity.Normalized", "normalized severity %s out of range 0-100", numText(norm))
			break
		}
		// The deprecated scale: 0 informational, 1-39 low, 40-69 medium, 70-89 high, 90-100 critical.
		switch {
		case norm >= 90:
			setSeverity(&a, socbot.SeverityCritical, "")
		case norm >= 70:
			setSeverity(&a, socbot.SeverityHigh, "")
		case norm >= 40:
			setSeverity(&a, socbot.SeverityMedium, "")
		case norm >= 1:
			setSeverity(&a, socbot.SeverityLow, "")
		default:
			setSeverity(&a, socbot.SeverityInfo, "")
		}
		a.SeverityScore = int(norm + 0.5)
		a.SeverityRaw = numText(norm)
	}
	t, ok := r.when(v, "CreatedAt", "FirstObservedAt", "UpdatedAt")
	setTime(&a, t, ok, now)

	// "TTPs/<Tactic>/..." types are the only ATT&CK signal.
	for _, p := range [...]string{"Types", "FindingProviderFields.Types"} {
		r.eachStr(v, p, func(s string) {
			if rest, ok := strings.CutPrefix(s, "TTPs/"); ok {
				tac, _, _ := strings.Cut(rest, "/")
				addTactic(&a, tac)
			}
		})
	}

	for _, res := range r.array(v, "Resources") {
		switch r.str(res, "Type") {
		case "AwsEc2Instance":
			id := r.str(res, "Id")
			if i := strings.LastIndex(id, "instance/"); i >= 0 {
				id = id[i+len("instance/"):]
			}
			addHost(&a, id, socbot.AsTarget)
			r.eachStr(res, "Details.AwsEc2Instance.IpV4Addresses", func(s string) { addIP(&a, s, socbot.AsTarget) })
		case "AwsIamUser":
			addUser(&a, r.str(res, "Details.AwsIamUser.UserName"), socbot.AsTarget)
		case "AwsIamAccessKey":
			addUser(&a, r.first(res, "Details.AwsIamAccessKey.PrincipalName", "Details.AwsIamAccessKey.UserName"), socbot.AsActor)
		}
	}
	addIP(&a, r.first(v, "Network.SourceIpV4", "Network.SourceIpV6"), socbot.AsSource)
	addIP(&a, r.first(v, "Network.DestinationIpV4", "Network.DestinationIpV6"), socbot.AsDestination)
	addDomain(&a, r.str(v, "Network.SourceDomain"), socbot.AsSource)
	addDomain(&a, r.str(v, "Network.DestinationDomain"), socbot.AsDestination)
	role := socbot.AsSource
	if strings.EqualFold(r.str(v, "Action.NetworkConnectionAction.ConnectionDirection"), "OUTBOUND") {
		role = socbot.AsDestination
	}
	addIP(&a, r.str(v, "Action.NetworkConnectionAction.RemoteIpDetails.IpAddressV4"), role)
	addIP(&a, r.str(v, "Action.AwsApiCallAction.RemoteIpDetails.IpAddressV4"), socbot.AsSource)
	addDomain(&a, r.str(v, "Action.DnsRequestAction.Domain"), socbot.AsDestination)
	addProcess(&a, r.first(v, "Process.Path", "Process.Name"), socbot.AsActor)
	for _, th := range r.array(v, "Threats") {
		for _, fp := range r.array(th, "FilePaths") {
			addFile(&a, r.str(fp, "FilePath"), socbot.AsTarget)
			addHash(&a, r.str(fp, "Hash"), socbot.AsTarget)
		}
	}
	for _, m := range r.array(v, "Malware") {
		addFile(&a, r.str(m, "Path"), socbot.AsTarget)
	}
	for _, ti := range r.array(v, "ThreatIntelIndicators") {
		addTyped(&a, r.str(ti, "Type"), r.str(ti, "Value"), socbot.AsRelated)
	}

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}
