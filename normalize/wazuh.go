package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// wazuh reads Wazuh (and OSSEC-style) alerts as written to alerts.json or stored in the indexer.
type wazuh struct{}

var (
	_ Normalizer  = wazuh{}
	_ Prioritized = wazuh{}
)

func init() { Register("wazuh", wazuh{}) }

func (wazuh) Name() string { return "wazuh" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (wazuh) Priority() int { return 20 }

// Match: a rule object with a level, and the agent or manager that raised it.
func (wazuh) Match(v *fastjson.Value) bool {
	return isType(v.Get("rule"), fastjson.TypeObject) && v.Get("rule", "level") != nil &&
		(isType(v.Get("agent"), fastjson.TypeObject) || isType(v.Get("manager"), fastjson.TypeObject))
}

// wazuhLevel maps a rule level (0-16) onto the scale: 0-3 info, 4-6 low, 7-11 medium, 12-14 high,
// 15-16 critical (the Wazuh classification: 12 "high importance event", 15 "severe attack").
func wazuhLevel(level int) socbot.Severity {
	switch {
	case level <= 3:
		return socbot.SeverityInfo
	case level <= 6:
		return socbot.SeverityLow
	case level <= 11:
		return socbot.SeverityMedium
	case level <= 14:
		return socbot.SeverityHigh
	}
	return socbot.SeverityCritical
}

func (wazuh) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("wazuh")
	if r.object(v, "rule") == nil {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("wazuh", "rule", "required field is missing")
	}
	a := newAlert("Wazuh", "Wazuh")
	a.Title = r.str(v, "rule.description")
	a.RuleName = a.Title
	a.RuleID = r.str(v, "rule.id")
	if groups := r.array(v, "rule.groups"); len(groups) > 0 {
		a.Category = text(r.scalar(groups[len(groups)-1], "rule.groups"))
	}
	a.Description = r.first(v, "full_log", "data.title")
	if id := r.str(v, "id"); id != "" {
		if m := r.first(v, "manager.name", "cluster.node"); m != "" {
			a.SourceID = m + ":" + id
		} else {
			a.SourceID = id
		}
	}

	level, ok := r.num(v, "rule.level")
	switch {
	case !ok && r.err == nil:
		r.missing("rule.level")
	case ok && (level < 0 || level > 16 || level != float64(int(level))):
		r.fail("rule.level", "rule level %s out of range 0-16", numText(level))
	case ok:
		setSeverity(&a, wazuhLevel(int(level)), numText(level))
	}

	t, ok := r.when(v, "timestamp", "@timestamp")
	setTime(&a, t, ok, now)

	r.eachStr(v, "rule.mitre.id", func(s string) { addTechnique(&a, s) })
	r.eachStr(v, "rule.mitre.tactic", func(s string) { addTactic(&a, s) })

	// The agent is the host the event happened on.
	addHost(&a, r.str(v, "agent.name"), socbot.AsTarget)
	addIP(&a, r.str(v, "agent.ip"), socbot.AsTarget)
	addIP(&a, r.str(v, "data.srcip"), socbot.AsSource)
	addIP(&a, r.str(v, "data.dstip"), socbot.AsDestination)
	addUser(&a, r.str(v, "data.srcuser"), socbot.AsActor)
	addUser(&a, r.str(v, "data.dstuser"), socbot.AsTarget)
	addDomainUser(&a, r.str(v, "data.win.eventdata.subjectDomainName"), r.str(v, "data.win.eventdata.subjectUserName"), socbot.AsActor)
	addDomainUser(&a, r.str(v, "data.win.eventdata.targetDomainName"), r.str(v, "data.win.eventdata.targetUserName"), socbot.AsTarget)
	addIP(&a, r.str(v, "data.win.eventdata.ipAddress"), socbot.AsSource)
	addProcess(&a, r.str(v, "data.win.eventdata.image"), socbot.AsActor)
	addProcess(&a, r.str(v, "data.win.eventdata.parentImage"), socbot.AsRelated)
	addHashList(&a, r.str(v, "data.win.eventdata.hashes"), socbot.AsActor)
	addProcess(&a, r.str(v, "data.audit.exe"), socbot.AsActor)
	if u := r.str(v, "data.url"); strings.Contains(u, "://") {
		addURL(&a, u, socbot.AsDestination)
	}
	addDomain(&a, r.str(v, "data.http.hostname"), socbot.AsDestination)
	if h := r.str(v, "data.hostname"); strings.IndexByte(h, '.') > 0 {
		addDomain(&a, h, socbot.AsDestination)
	}
	// File integrity monitoring and VirusTotal integration.
	addFile(&a, r.first(v, "syscheck.path", "data.file"), socbot.AsTarget)
	for _, h := range [...]string{"syscheck.sha256_after", "syscheck.sha1_after", "syscheck.md5_after"} {
		addHash(&a, r.str(v, h), socbot.AsTarget)
	}
	addHash(&a, r.str(v, "data.virustotal.sha1"), socbot.AsRelated)
	addFile(&a, r.str(v, "data.virustotal.source.file"), socbot.AsTarget)

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}
