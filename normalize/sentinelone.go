package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// sentinelone reads SentinelOne threats (Management API v2.1 /threats, items of data[]) and Unified
// Alert Management alerts (data.alert of the GraphQL API).
type sentinelone struct{}

var (
	_ Normalizer  = sentinelone{}
	_ Prioritized = sentinelone{}
)

func init() { Register("sentinelone", sentinelone{}) }

func (sentinelone) Name() string { return "sentinelone" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (sentinelone) Priority() int { return 60 }

func s1Threat(v *fastjson.Value) bool { return isType(v.Get("threatInfo"), fastjson.TypeObject) }

func s1UAM(v *fastjson.Value) bool {
	if vendor := v.GetStringBytes("detectionSource", "vendor"); len(vendor) > 0 {
		return equalFoldB(vendor, "SentinelOne")
	}
	return isType(v.Get("analytics"), fastjson.TypeObject) && v.Get("asset", "agentUuid") != nil
}

func (sentinelone) Match(v *fastjson.Value) bool { return s1Threat(v) || s1UAM(v) }

func (sentinelone) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("sentinelone")
	a := newAlert("SentinelOne", "Singularity")
	if s1Threat(v) || !s1UAM(v) {
		if r.object(v, "threatInfo") == nil {
			if r.err != nil {
				return nil, r.err
			}
			return nil, errorf("sentinelone", "threatInfo", "required field is missing")
		}
		s1ThreatAlert(r, &a, v, now)
	} else {
		s1UAMAlert(r, &a, v, now)
	}
	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

func s1ThreatAlert(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	ti := get(v, "threatInfo")
	a.SourceID = r.first(v, "id", "threatInfo.threatId")
	a.Title = r.first(ti, "threatName", "classification")
	a.Category = r.str(ti, "classification")
	a.RuleName = r.first(ti, "detectionType", "engines")
	if engines := r.array(ti, "engines"); len(engines) > 0 {
		a.RuleName = text(r.scalar(engines[0], "threatInfo.engines"))
	}
	var desc []string
	for _, ind := range r.array(v, "indicators") {
		if d := r.str(ind, "description"); d != "" && len(desc) < 20 {
			desc = append(desc, d)
		}
		for _, tac := range r.array(ind, "tactics") {
			addTactic(a, r.str(tac, "name"))
			for _, te := range r.array(tac, "techniques") {
				addTechnique(a, r.first(te, "name", "link"))
				addTechnique(a, r.str(te, "link"))
			}
		}
	}
	a.Description = strings.Join(desc, "; ")

	// No severity field: the confidence level stands in (malicious high, ransomware critical,
	// suspicious medium).
	switch conf := r.str(ti, "confidenceLevel"); lowerASCII(conf) {
	case "malicious":
		if strings.EqualFold(a.Category, "ransomware") {
			setSeverity(a, socbot.SeverityCritical, conf)
		} else {
			setSeverity(a, socbot.SeverityHigh, conf)
		}
	case "suspicious":
		setSeverity(a, socbot.SeverityMedium, conf)
	case "":
	default:
		if _, ok := severityName(conf); !ok {
			r.fail("threatInfo.confidenceLevel", "unknown confidence level %q", truncate(conf, 40))
		} else {
			setSeverity(a, socbot.SeverityUnknown, conf)
		}
	}
	t, ok := r.when(ti, "identifiedAt", "createdAt", "updatedAt")
	setTime(a, t, ok, now)

	addHost(a, r.first(v, "agentRealtimeInfo.agentComputerName", "agentDetectionInfo.agentComputerName"), socbot.AsTarget)
	addIPs(a, r.str(v, "agentDetectionInfo.agentIpV4"), socbot.AsTarget)
	addIP(a, r.str(v, "agentDetectionInfo.externalIp"), socbot.AsTarget)
	for _, nic := range r.array(v, "agentRealtimeInfo.networkInterfaces") {
		r.eachStr(nic, "inet", func(s string) { addIP(a, s, socbot.AsTarget) })
	}
	addUser(a, r.str(ti, "processUser"), socbot.AsActor)
	addUser(a, r.str(v, "agentDetectionInfo.agentLastLoggedInUserName"), socbot.AsRelated)
	addFile(a, r.str(ti, "filePath"), socbot.AsTarget)
	for _, h := range [...]string{"sha256", "sha1", "md5"} {
		addHash(a, r.str(ti, h), socbot.AsTarget)
	}
	addProcess(a, r.str(ti, "originatorProcess"), socbot.AsActor)
}

func s1UAMAlert(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	a.SourceID = r.first(v, "id", "externalId")
	if a.SourceID == "" {
		r.missing("id")
	}
	if p := r.str(v, "detectionSource.product"); p != "" {
		a.Product = "Singularity " + p
	}
	a.Title = r.str(v, "name")
	a.Description = r.str(v, "description")
	a.Category = r.first(v, "classification", "analytics.category")
	a.RuleName = r.str(v, "analytics.name")
	a.RuleID = r.str(v, "analytics.uid")
	if s := r.str(v, "severity"); s != "" {
		r.namedSeverity(a, s, "severity")
	}
	t, ok := r.when(v, "detectedAt", "firstSeenAt", "createdAt")
	setTime(a, t, ok, now)

	addHost(a, r.str(v, "asset.name"), socbot.AsTarget)
	addIP(a, r.str(v, "detectionTime.asset.ipV4"), socbot.AsTarget)
	addIP(a, r.str(v, "detectionTime.asset.ipV6"), socbot.AsTarget)
	addUser(a, r.first(v, "detectionTime.asset.lastLoggedInUser", "asset.lastLoggedInUser"), socbot.AsActor)
	addFile(a, r.str(v, "fileName"), socbot.AsTarget)
	addHash(a, r.str(v, "fileHash"), socbot.AsTarget)
}
