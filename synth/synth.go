// Package synth generates realistic synthetic alerts in the vendors' own formats (CrowdStrike,
// Defender, SentinelOne, Suricata, Wazuh, Elastic, GuardDuty, OCSF) for the demo, the benchmarks and
// the reliability tests. Alerts come from "stories": a victim host, its user and sometimes an external
// address, so that repeats, correlation and the occasional merge happen the way they do in a SOC,
// instead of one giant incident or none at all. Every record carries a unique vendor id, so that a
// test can count what arrived exactly once.
package synth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Formats are the vendor formats the generator writes.
var Formats = []string{"crowdstrike", "defender", "sentinelone", "suricata", "wazuh", "elastic", "guardduty", "ocsf"}

// Rule is one detection a vendor might raise.
type Rule struct {
	ID, Name, Tactic, TacticID, Technique, TechniqueID string
	Severity                                           string // info, low, medium, high, critical
}

var rules = []Rule{
	{"cs-001", "Credential dumping with Mimikatz", "Credential Access", "TA0006", "OS Credential Dumping: LSASS Memory", "T1003.001", "critical"},
	{"cs-002", "Suspicious PowerShell download cradle", "Execution", "TA0002", "PowerShell", "T1059.001", "high"},
	{"cs-003", "Office application spawned a command shell", "Initial Access", "TA0001", "Spearphishing Attachment", "T1566.001", "high"},
	{"cs-004", "Ransomware file encryption behaviour", "Impact", "TA0040", "Data Encrypted for Impact", "T1486", "critical"},
	{"cs-005", "Scheduled task created for persistence", "Persistence", "TA0003", "Scheduled Task", "T1053.005", "medium"},
	{"cs-006", "Remote service creation via PsExec", "Lateral Movement", "TA0008", "SMB/Windows Admin Shares", "T1021.002", "high"},
	{"cs-007", "Network connection to known C2 infrastructure", "Command and Control", "TA0011", "Web Protocols", "T1071.001", "high"},
	{"cs-008", "Adware or potentially unwanted program", "Execution", "TA0002", "User Execution", "T1204", "low"},
	{"cs-009", "Discovery commands run in quick succession", "Discovery", "TA0007", "System Information Discovery", "T1082", "medium"},
	{"cs-010", "EICAR test file detected", "Execution", "TA0002", "User Execution", "T1204", "info"},
}

var suricataSigs = []struct {
	SID      int
	Sig, Cat string
	Sev      int
	Tech     string
}{
	{2027865, "ET MALWARE Cobalt Strike Beacon Observed", "A Network Trojan was detected", 1, "T1071.001"},
	{2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2, ""},
	{2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2, "T1046"},
	{2024897, "ET WEB_SERVER Apache Struts RCE attempt", "Attempted Administrator Privilege Gain", 1, "T1190"},
	{2010935, "ET SCAN Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 3, "T1046"},
}

var wazuhRules = []struct {
	ID, Desc string
	Level    int
	Tech     string
}{
	{"5712", "sshd: brute force trying to get access to the system", 10, "T1110"},
	{"5503", "PAM: User login failed", 5, "T1110"},
	{"550", "Integrity checksum changed", 7, "T1565.001"},
	{"100100", "Suspicious sudo to root by service account", 12, "T1548.003"},
	{"31151", "Multiple web server 400 error codes from same source", 10, "T1595"},
}

var guardDutyTypes = []struct {
	Type  string
	Sev   float64
	Title string
}{
	{"UnauthorizedAccess:EC2/SSHBruteForce", 2.0, "SSH brute force attacks against i-0abc"},
	{"Backdoor:EC2/C&CActivity.B!DNS", 8.0, "EC2 instance querying a command and control domain"},
	{"CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0, "EC2 instance querying a Bitcoin-related domain"},
	{"Recon:EC2/PortProbeUnprotectedPort", 2.0, "Unprotected port on an EC2 instance is being probed"},
}

// Story is one thing happening at a client: a victim host, its user, and maybe an outside address.
type Story struct {
	Host, User, InternalIP, ExternalIP, Domain, Hash string
}

// Generator writes alerts for one tenant.
type Generator struct {
	rng     *rand.Rand
	stories []Story
	zipf    *rand.Zipf
	formats []string
	tenant  string
	egress  string
	seq     uint64
	base    time.Time
}

// Config shapes a generator.
type Config struct {
	Tenant  string   // used in host names and ids
	Stories int      // how many distinct stories (default 2,000)
	Formats []string // default all
	Seed    uint64
	Shared  float64 // fraction of stories whose external address another story also uses (default 0.02)
	Egress  string  // the client's NAT address, which EDR agents report for every host (default 198.51.100.10)
}

// New returns a generator.
func New(cfg Config) *Generator {
	if cfg.Stories <= 0 {
		cfg.Stories = 2000
	}
	if len(cfg.Formats) == 0 {
		cfg.Formats = Formats
	}
	if cfg.Shared == 0 {
		cfg.Shared = 0.02
	}
	if cfg.Egress == "" {
		cfg.Egress = "198.51.100.10"
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(len(cfg.Tenant))+0x5eed))
	g := &Generator{rng: rng, formats: cfg.Formats, tenant: cfg.Tenant, egress: cfg.Egress, base: time.Now().UTC()}
	for i := 0; i < cfg.Stories; i++ {
		s := Story{
			Host:       fmt.Sprintf("%s-ws-%04d", cfg.Tenant, i),
			User:       fmt.Sprintf("user%04d", i),
			InternalIP: fmt.Sprintf("10.%d.%d.%d", 1+i/65000%200, i/250%250, 1+i%250),
			Hash:       fmt.Sprintf("%064x", rng.Uint64()^uint64(i)),
		}
		// Every story has its own outside party (attacker, C2, scanner); a few share one.
		s.ExternalIP = fmt.Sprintf("%d.%d.%d.%d", []int{203, 198, 192}[i%3], rng.IntN(200)+1, rng.IntN(250), rng.IntN(250)+1)
		if rng.Float64() < 0.4 {
			s.Domain = fmt.Sprintf("cdn%d.%s-bad.example", i, cfg.Tenant)
		}
		if i > 0 && rng.Float64() < cfg.Shared && g.stories[i-1].ExternalIP != "" {
			s.ExternalIP = g.stories[i-1].ExternalIP
		}
		g.stories = append(g.stories, s)
	}
	g.zipf = rand.NewZipf(rng, 1.1, 4, uint64(cfg.Stories-1))
	return g
}

// Egress is the client's NAT address the generator puts in EDR alerts: exclude it from correlation.
func (g *Generator) Egress() string { return g.egress }

// Stories returns the generator's stories (for asset inventories and indicator lists in demos).
func (g *Generator) Stories() []Story { return g.stories }

// Next returns the next alert: its format, a unique vendor id and the record.
func (g *Generator) Next(now time.Time) (format, id string, record []byte) {
	g.seq++
	s := g.stories[g.zipf.Uint64()]
	format = g.formats[g.rng.IntN(len(g.formats))]
	id = fmt.Sprintf("%s-%d-%d", g.tenant, g.seq, g.rng.Uint32())
	return format, id, g.Record(format, id, s, now)
}

// Record writes one alert about story s in the given format.
func (g *Generator) Record(format, id string, s Story, now time.Time) []byte {
	r := g.rule()
	ts := now.Format(time.RFC3339Nano)
	var v any
	switch format {
	case "crowdstrike":
		v = map[string]any{"composite_id": "cid:ind:" + id, "product": "epp", "name": r.ID, "display_name": r.Name,
			"description": r.Name + " was observed.", "severity": sevScore(r.Severity), "severity_name": title(r.Severity),
			"created_timestamp": ts, "tactic": r.Tactic, "tactic_id": r.TacticID, "technique": r.Technique, "technique_id": r.TechniqueID,
			"device":    map[string]any{"hostname": s.Host, "local_ip": s.InternalIP, "external_ip": g.egress, "platform_name": "Windows"},
			"user_name": s.User, "logon_domain": "CORP", "sha256": s.Hash, "filepath": `C:\Users\` + s.User + `\AppData\Local\Temp\payload.exe`,
			"cmdline": "powershell.exe -nop -w hidden -enc SQBFAFgA"}
		if s.Domain != "" {
			v.(map[string]any)["ioc_context"] = []any{map[string]any{"ioc_type": "domain", "ioc_value": s.Domain}}
		}
	case "defender":
		ev := []any{
			map[string]any{"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": s.Host + ".corp.example", "mdeDeviceId": "dev-" + s.Host,
				"ipInterfaces": []string{s.InternalIP}, "roles": []string{}, "verdict": "suspicious"},
			map[string]any{"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": map[string]any{"accountName": s.User, "domainName": "CORP"}},
		}
		ev = append(ev, map[string]any{"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": s.ExternalIP})
		v = map[string]any{"id": "da" + id, "providerAlertId": id, "incidentId": "1", "status": "new", "severity": r.Severity,
			"classification": nil, "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "edr", "category": r.Tactic,
			"title": r.Name, "description": r.Name + " on " + s.Host, "detectorId": r.ID, "createdDateTime": ts, "lastUpdateDateTime": ts,
			"firstActivityDateTime": ts, "mitreTechniques": []string{r.TechniqueID}, "evidence": ev}
	case "sentinelone":
		conf := "suspicious"
		if r.Severity == "critical" || r.Severity == "high" {
			conf = "malicious"
		}
		v = map[string]any{"id": id, "threatInfo": map[string]any{"threatId": id, "threatName": r.Name, "classification": "Malware",
			"confidenceLevel": conf, "createdAt": ts, "identifiedAt": ts, "sha256": s.Hash, "filePath": `C:\Temp\` + r.ID + ".exe",
			"processUser": `CORP\` + s.User, "mitigationStatus": "not_mitigated", "incidentStatus": "unresolved", "analystVerdict": "undefined"},
			"agentRealtimeInfo":  map[string]any{"agentComputerName": s.Host, "agentOsName": "Windows 11", "agentId": "a-" + s.Host},
			"agentDetectionInfo": map[string]any{"agentIpV4": s.InternalIP, "agentLastLoggedInUserName": s.User},
			"indicators":         []any{map[string]any{"tactics": []any{map[string]any{"name": r.Tactic, "techniques": []any{map[string]any{"name": r.TechniqueID}}}}}}}
	case "suricata":
		sig := suricataSigs[g.rng.IntN(len(suricataSigs))]
		ext := s.ExternalIP
		alert := map[string]any{"action": "allowed", "gid": 1, "signature_id": sig.SID, "rev": 3, "signature": sig.Sig, "category": sig.Cat, "severity": sig.Sev}
		if sig.Tech != "" {
			alert["metadata"] = map[string]any{"mitre_technique_id": []string{sig.Tech}}
		}
		v = map[string]any{"timestamp": now.Format("2006-01-02T15:04:05.000000-0700"), "flow_id": g.seq*1000 + uint64(g.rng.IntN(1000)),
			"in_iface": "eth0", "event_type": "alert", "src_ip": s.InternalIP, "src_port": 49152 + g.rng.IntN(10000), "dest_ip": ext,
			"dest_port": 443, "proto": "TCP", "host": "sensor-" + g.tenant, "alert": alert,
			"tls": map[string]any{"sni": s.Domain}, "community_id": "1:" + id}
	case "wazuh":
		rule := wazuhRules[g.rng.IntN(len(wazuhRules))]
		src := s.ExternalIP
		v = map[string]any{"timestamp": now.Format("2006-01-02T15:04:05.000-0700"), "id": id, "manager": map[string]any{"name": "wazuh-" + g.tenant},
			"rule": map[string]any{"level": rule.Level, "description": rule.Desc, "id": rule.ID, "groups": []string{"syslog", "sshd"},
				"mitre": map[string]any{"id": []string{rule.Tech}, "tactic": []string{"Credential Access"}}},
			"agent": map[string]any{"id": "0" + id[len(id)-2:], "name": s.Host, "ip": s.InternalIP},
			"data":  map[string]any{"srcip": src, "dstuser": s.User}, "location": "/var/log/auth.log"}
	case "elastic":
		v = map[string]any{"@timestamp": ts, "kibana.alert.uuid": id, "kibana.alert.rule.name": r.Name, "kibana.alert.rule.rule_id": r.ID,
			"kibana.alert.rule.description": r.Name, "kibana.alert.severity": r.Severity, "kibana.alert.risk_score": sevScore(r.Severity),
			"kibana.alert.workflow_status": "open", "kibana.alert.reason": r.Name + " on " + s.Host,
			"kibana.alert.rule.threat": []any{map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": r.TacticID, "name": r.Tactic},
				"technique": []any{map[string]any{"id": r.TechniqueID, "name": r.Technique}}}},
			"host": map[string]any{"name": s.Host, "ip": []string{s.InternalIP}}, "user": map[string]any{"name": s.User},
			"process": map[string]any{"name": "rundll32.exe", "command_line": "rundll32.exe payload.dll,Start"},
			"event":   map[string]any{"module": "endpoint", "dataset": "endpoint.alerts"}}
		v.(map[string]any)["destination"] = map[string]any{"ip": s.ExternalIP, "domain": s.Domain}
	case "guardduty":
		t := guardDutyTypes[g.rng.IntN(len(guardDutyTypes))]
		remote := s.ExternalIP
		v = map[string]any{"schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1", "partition": "aws",
			"id": id, "arn": "arn:aws:guardduty:eu-west-1:111122223333:detector/d/finding/" + id, "type": t.Type,
			"resource": map[string]any{"resourceType": "Instance", "instanceDetails": map[string]any{"instanceId": "i-" + id[len(id)-8:],
				"privateDnsName": s.Host + ".eu-west-1.compute.internal", "networkInterfaces": []any{map[string]any{"privateIpAddress": s.InternalIP}}}},
			"service": map[string]any{"serviceName": "guardduty", "count": 1, "archived": false, "eventFirstSeen": ts, "eventLastSeen": ts,
				"action": map[string]any{"actionType": "NETWORK_CONNECTION", "networkConnectionAction": map[string]any{
					"connectionDirection": "INBOUND", "remoteIpDetails": map[string]any{"ipAddressV4": remote}}}},
			"severity": t.Sev, "createdAt": ts, "updatedAt": ts, "title": t.Title, "description": t.Title + "."}
	case "ocsf":
		v = map[string]any{"class_uid": 2004, "class_name": "Detection Finding", "activity_id": 1, "type_uid": 200401, "category_uid": 2,
			"severity_id": map[string]int{"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}[r.Severity], "time": now.UnixMilli(),
			"metadata": map[string]any{"uid": id, "version": "1.4.0", "product": map[string]any{"vendor_name": "Acme EDR", "name": "Acme XDR"}},
			"finding_info": map[string]any{"uid": id, "title": r.Name, "desc": r.Name, "analytic": map[string]any{"uid": r.ID, "name": r.Name, "type_id": 1},
				"attacks": []any{map[string]any{"tactic": map[string]any{"uid": r.TacticID, "name": r.Tactic}, "technique": map[string]any{"uid": r.TechniqueID, "name": r.Technique}}}},
			"device": map[string]any{"hostname": s.Host, "ip": s.InternalIP}, "actor": map[string]any{"user": map[string]any{"name": s.User}}}
	default:
		panic("synth: unknown format " + format)
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// severityWeight makes the mix look like a SOC's: mostly medium and low, few criticals.
var severityWeight = map[string]int{"info": 6, "low": 22, "medium": 40, "high": 26, "critical": 6}

// rule picks a rule with its severity's weight, each rule of a severity equally likely.
func (g *Generator) rule() Rule {
	total := 0
	for _, r := range rules {
		total += severityWeight[r.Severity] * 100 / countSeverity(r.Severity)
	}
	x := g.rng.IntN(total)
	for _, r := range rules {
		x -= severityWeight[r.Severity] * 100 / countSeverity(r.Severity)
		if x < 0 {
			return r
		}
	}
	return rules[len(rules)-1]
}

func countSeverity(sev string) int {
	n := 0
	for _, r := range rules {
		if r.Severity == sev {
			n++
		}
	}
	return n
}

func sevScore(s string) int {
	return map[string]int{"info": 10, "low": 30, "medium": 50, "high": 70, "critical": 90}[s]
}

func title(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-32) + s[1:]
}
