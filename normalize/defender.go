package normalize

import (
	"bytes"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// defender reads Microsoft's alert shapes: Defender for Endpoint API alerts (/api/alerts, with or
// without $expand=evidence), Microsoft Graph security alerts (alerts_v2, microsoft.graph.security.alert)
// and Graph security incidents. It is registered as "defender" and, as an alias, "graph".
type defender struct{}

var (
	_ Normalizer  = defender{}
	_ Prioritized = defender{}
)

func init() {
	Register("defender", defender{})
	Register("graph", defender{})
}

func (defender) Name() string { return "defender" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (defender) Priority() int { return 50 }

const (
	msMDE = iota + 1
	msGraphAlert
	msGraphIncident
)

// hasSuffixFold reports whether b ends with the lower-case ASCII suffix, ignoring case.
func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && equalFoldB(b[len(b)-len(suffix):], suffix)
}

func msShape(v *fastjson.Value) int {
	t := v.GetStringBytes("@odata.type")
	switch {
	case hasSuffixFold(t, "security.alert"):
		return msGraphAlert
	case hasSuffixFold(t, "incident"):
		return msGraphIncident
	case v.Get("alertCreationTime") != nil:
		return msMDE
	case v.Get("createdDateTime") != nil && (v.Get("serviceSource") != nil || v.Get("alertWebUrl") != nil):
		return msGraphAlert
	case v.Get("incidentWebUrl") != nil && v.Get("displayName") != nil && v.Get("detectionSource") == nil:
		return msGraphIncident
	case v.Get("machineId") != nil && v.Get("detectionSource") != nil && v.Get("severity") != nil:
		return msMDE
	}
	return 0
}

func (defender) Match(v *fastjson.Value) bool { return msShape(v) != 0 }

// msSeverity maps Microsoft's severity enum (any case): informational, low, medium, high; unknown,
// UnSpecified and unknownFutureValue carry no severity.
func msSeverity(r *reader, a *socbot.Alert, v *fastjson.Value) {
	if s := r.str(v, "severity"); s != "" {
		r.namedSeverity(a, s, "severity")
	}
}

// msProducts names Graph serviceSource values.
var msProducts = map[string]string{
	"microsoftdefenderforendpoint":      "Defender for Endpoint",
	"microsoftdefenderforidentity":      "Defender for Identity",
	"microsoftdefenderforcloudapps":     "Defender for Cloud Apps",
	"microsoftdefenderforoffice365":     "Defender for Office 365",
	"microsoft365defender":              "Microsoft 365 Defender",
	"azureadidentityprotection":         "Entra ID Protection",
	"microsoftappgovernance":            "App Governance",
	"datalossprevention":                "Data Loss Prevention",
	"microsoftdefenderforcloud":         "Defender for Cloud",
	"microsoftsentinel":                 "Microsoft Sentinel",
	"microsoftinsiderriskmanagement":    "Insider Risk Management",
	"microsoftthreatintelligence":       "Microsoft Threat Intelligence",
	"microsoftdefenderxdr":              "Defender XDR",
	"microsoftdefenderforiot":           "Defender for IoT",
	"microsoftdefenderforcloudsecurity": "Defender for Cloud",
}

func (defender) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("defender")
	var a socbot.Alert
	switch msShape(v) {
	case msGraphIncident:
		a = newAlert("Microsoft", "Defender XDR")
		id := r.str(v, "id")
		if id == "" {
			return nil, errorf("defender", "id", "required field is missing")
		}
		a.SourceID = "incident:" + id
		a.Title = r.first(v, "displayName", "description")
		a.Description = r.str(v, "description")
		a.Category = r.first(v, "determination", "classification")
		msSeverity(r, &a, v)
		t, ok := r.when(v, "createdDateTime", "lastUpdateDateTime")
		setTime(&a, t, ok, now)
	case msGraphAlert:
		a = newAlert("Microsoft", "Defender XDR")
		if p := r.str(v, "productName"); p != "" {
			a.Product = p
		} else if s := r.str(v, "serviceSource"); s != "" {
			var buf [64]byte
			if name, ok := msProducts[string(foldKey(buf[:0], s))]; ok {
				a.Product = name
			} else {
				a.Product = s
			}
		}
		graphAlert(r, &a, v, now)
	default: // Defender for Endpoint API, also the fallback when the format is named explicitly
		a = newAlert("Microsoft", "Defender for Endpoint")
		mdeAlert(r, &a, v, now)
	}
	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

func msCommon(r *reader, a *socbot.Alert, v *fastjson.Value) {
	a.SourceID = r.first(v, "id", "providerAlertId")
	a.Title = r.first(v, "title", "threatDisplayName", "threatFamilyName", "threatName")
	a.Description = r.str(v, "description")
	a.Category = r.str(v, "category")
	a.RuleID = r.first(v, "detectorId", "alertPolicyId")
	a.RuleName = r.first(v, "title", "threatFamilyName")
	msSeverity(r, a, v)
	r.eachStr(v, "mitreTechniques", func(s string) { addTechnique(a, s) })
	addTactic(a, a.Category) // the category is often the ATT&CK tactic (DefenseEvasion, Execution...)
}

func mdeAlert(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	if !has(v, "id") {
		r.missing("id")
	}
	msCommon(r, a, v)
	t, ok := r.when(v, "alertCreationTime", "firstEventTime", "lastUpdateTime")
	setTime(a, t, ok, now)
	addHost(a, r.str(v, "computerDnsName"), socbot.AsTarget)
	addDomainUser(a, r.str(v, "relatedUser.domainName"), r.str(v, "relatedUser.userName"), socbot.AsActor)
	// Legacy lists.
	switch u := get(v, "alertUser"); {
	case isType(u, fastjson.TypeString):
		addUser(a, r.str(v, "alertUser"), socbot.AsActor)
	case isType(u, fastjson.TypeObject):
		addDomainUser(a, r.str(u, "domainName"), r.str(u, "accountName"), socbot.AsActor)
	}
	each(v, "alertIps", func(x *fastjson.Value) {
		if x.Type() == fastjson.TypeObject {
			addIP(a, r.str(x, "ipAddress"), socbot.AsRelated)
		} else {
			addIP(a, text(r.scalar(x, "alertIps")), socbot.AsRelated)
		}
	})
	each(v, "alertDomains", func(x *fastjson.Value) {
		if x.Type() == fastjson.TypeObject {
			addDomain(a, r.first(x, "host", "domain"), socbot.AsRelated)
		} else {
			addDomain(a, text(r.scalar(x, "alertDomains")), socbot.AsRelated)
		}
	})
	each(v, "alertFiles", func(x *fastjson.Value) {
		if x.Type() != fastjson.TypeObject {
			return
		}
		addFile(a, joinFile(r.str(x, "filePath"), r.str(x, "fileName")), socbot.AsRelated)
		addHash(a, r.str(x, "sha256"), socbot.AsRelated)
		addHash(a, r.str(x, "sha1"), socbot.AsRelated)
	})
	// Evidence ($expand=evidence).
	for _, ev := range r.array(v, "evidence") {
		switch lowerASCII(r.str(ev, "entityType")) {
		case "user":
			addDomainUser(a, r.str(ev, "domainName"), r.str(ev, "accountName"), socbot.AsActor)
			addUser(a, r.str(ev, "userPrincipalName"), socbot.AsActor)
		case "process":
			addProcess(a, joinFile(r.str(ev, "filePath"), r.str(ev, "fileName")), socbot.AsActor)
			addHash(a, r.str(ev, "sha256"), socbot.AsActor)
			addHash(a, r.str(ev, "sha1"), socbot.AsActor)
			addProcess(a, joinFile(r.str(ev, "parentProcessFilePath"), r.str(ev, "parentProcessFileName")), socbot.AsRelated)
		case "file":
			addFile(a, joinFile(r.str(ev, "filePath"), r.str(ev, "fileName")), socbot.AsTarget)
			addHash(a, r.str(ev, "sha256"), socbot.AsTarget)
			addHash(a, r.str(ev, "sha1"), socbot.AsTarget)
		case "ip":
			addIP(a, r.str(ev, "ipAddress"), socbot.AsRelated)
		case "url":
			addURL(a, r.str(ev, "url"), socbot.AsRelated)
			addDomain(a, r.str(ev, "url"), socbot.AsRelated)
		default:
			addIP(a, r.str(ev, "ipAddress"), socbot.AsRelated)
			addURL(a, r.str(ev, "url"), socbot.AsRelated)
		}
	}
}

// graphRole reads an evidence's roles: attacker and source are the source side, compromised and
// attacked the target, destination the destination; def applies otherwise.
func graphRole(r *reader, ev *fastjson.Value, def socbot.ObsRole) socbot.ObsRole {
	role := def
	r.eachStr(ev, "roles", func(s string) {
		switch lowerASCII(s) {
		case "attacker", "source":
			role = socbot.AsSource
		case "compromised", "attacked":
			role = socbot.AsTarget
		case "destination":
			role = socbot.AsDestination
		}
	})
	return role
}

func graphAlert(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	if !has(v, "id") {
		r.missing("id")
	}
	msCommon(r, a, v)
	if a.RuleID == "" {
		a.RuleID = r.str(v, "detectionSource")
	}
	t, ok := r.when(v, "createdDateTime", "firstActivityDateTime", "lastUpdateDateTime")
	setTime(a, t, ok, now)
	for _, ev := range r.array(v, "evidence") {
		typ := strOf(ev.Get("@odata.type")) // the key holds a dot, so no path lookup
		typ = typ[bytes.LastIndexByte(typ, '.')+1:]
		var buf [48]byte
		if len(typ) > len(buf) {
			continue
		}
		switch string(foldKey(buf[:0], string(typ))) {
		case "deviceevidence":
			role := graphRole(r, ev, socbot.AsTarget)
			addHost(a, r.first(ev, "deviceDnsName", "hostName"), role)
			r.eachStr(ev, "ipInterfaces", func(s string) { addIP(a, s, role) })
			for _, u := range r.array(ev, "loggedOnUsers") {
				addDomainUser(a, r.str(u, "domainName"), r.str(u, "accountName"), socbot.AsRelated)
			}
		case "userevidence":
			role := graphRole(r, ev, socbot.AsActor)
			graphUser(r, a, ev, "userAccount", role)
		case "processevidence":
			role := graphRole(r, ev, socbot.AsActor)
			addProcess(a, joinFile(r.str(ev, "imageFile.filePath"), r.str(ev, "imageFile.fileName")), role)
			addHash(a, r.str(ev, "imageFile.sha256"), role)
			addHash(a, r.str(ev, "imageFile.sha1"), role)
			addProcess(a, joinFile(r.str(ev, "parentProcessImageFile.filePath"), r.str(ev, "parentProcessImageFile.fileName")), socbot.AsRelated)
			graphUser(r, a, ev, "userAccount", socbot.AsActor)
		case "fileevidence":
			role := graphRole(r, ev, socbot.AsTarget)
			addFile(a, joinFile(r.str(ev, "fileDetails.filePath"), r.str(ev, "fileDetails.fileName")), role)
			addHash(a, r.str(ev, "fileDetails.sha256"), role)
			addHash(a, r.str(ev, "fileDetails.sha1"), role)
		case "ipevidence":
			addIP(a, r.str(ev, "ipAddress"), graphRole(r, ev, socbot.AsRelated))
		case "urlevidence":
			role := graphRole(r, ev, socbot.AsRelated)
			addURL(a, r.str(ev, "url"), role)
		case "analyzedmessageevidence":
			addEmail(a, r.first(ev, "p1Sender.emailAddress", "senderEmailAddress"), socbot.AsSource)
			addEmail(a, r.str(ev, "p2Sender.emailAddress"), socbot.AsSource)
			addEmail(a, r.str(ev, "recipientEmailAddress"), socbot.AsTarget)
			addIP(a, r.str(ev, "senderIp"), socbot.AsSource)
			r.eachStr(ev, "urls", func(s string) { addURL(a, s, socbot.AsRelated) })
		case "mailboxevidence":
			addEmail(a, r.str(ev, "primaryAddress"), graphRole(r, ev, socbot.AsTarget))
			graphUser(r, a, ev, "userAccount", socbot.AsTarget)
		case "cloudlogonsessionevidence", "cloudlogonrequestevidence":
			graphUser(r, a, ev, "account", socbot.AsActor)
		}
	}
}

func graphUser(r *reader, a *socbot.Alert, ev *fastjson.Value, key string, role socbot.ObsRole) {
	u := get(ev, key)
	if u == nil {
		return
	}
	if name := r.str(u, "accountName"); name != "" {
		addDomainUser(a, r.str(u, "domainName"), name, role)
	} else {
		addUser(a, r.str(u, "userPrincipalName"), role)
	}
}
