package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// suricata reads Suricata eve.json records of event_type "alert".
type suricata struct{}

var (
	_ Normalizer  = suricata{}
	_ Prioritized = suricata{}
)

func init() { Register("suricata", suricata{}) }

func (suricata) Name() string { return "suricata" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (suricata) Priority() int { return 10 }

// eveTypes are the event types Suricata's eve output writes.
var eveTypes = map[string]bool{
	"alert": true, "anomaly": true, "drop": true, "flow": true, "netflow": true, "stats": true, "http": true, "http2": true,
	"dns": true, "tls": true, "fileinfo": true, "smtp": true, "ssh": true, "smb": true, "nfs": true, "tftp": true, "ftp": true,
	"ftp_data": true, "dhcp": true, "krb5": true, "ikev2": true, "ike": true, "snmp": true, "sip": true, "rfb": true, "mqtt": true,
	"rdp": true, "dnp3": true, "modbus": true, "enip": true, "dcerpc": true, "pgsql": true, "quic": true, "bittorrent-dht": true,
	"websocket": true, "ldap": true, "pop3": true, "doh2": true, "mdns": true, "arp": true, "frame": true, "template": true,
}

// Match: an eve record has a timestamp and one of eve's event types.
func (suricata) Match(v *fastjson.Value) bool {
	return v.Get("timestamp") != nil && eveTypes[string(v.GetStringBytes("event_type"))]
}

func (suricata) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("suricata")
	et := r.str(v, "event_type")
	if et == "" {
		return nil, errorf("suricata", "event_type", "required field is missing")
	}
	if et != "alert" {
		return nil, errorf("suricata", "event_type", "event_type %q is not an alert (only eve alert records are accepted)", truncate(et, 40))
	}
	al := r.object(v, "alert")
	if al == nil {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("suricata", "alert", "required field is missing")
	}
	a := newAlert("OISF", "Suricata")
	a.Title = r.str(v, "alert.signature")
	a.RuleName = a.Title
	a.RuleID = r.str(v, "alert.signature_id")
	a.Category = r.str(v, "alert.category")
	if a.Title == "" && a.RuleID == "" {
		return nil, errorf("suricata", "alert.signature", "required field is missing (neither alert.signature nor alert.signature_id)")
	}
	if a.Title == "" {
		a.Title = "Suricata signature " + r.str(v, "alert.gid") + ":" + a.RuleID
	}

	// Severity: the ET signature_severity metadata when present, else alert.severity (1 = highest).
	if sev := r.str(v, "alert.metadata.signature_severity"); sev != "" {
		switch lowerTrim(sev) {
		case "critical":
			setSeverity(&a, socbot.SeverityCritical, sev)
		case "major":
			setSeverity(&a, socbot.SeverityHigh, sev)
		case "minor":
			setSeverity(&a, socbot.SeverityLow, sev)
		case "informational", "info":
			setSeverity(&a, socbot.SeverityInfo, sev)
		default:
			r.namedSeverity(&a, sev, "alert.metadata.signature_severity")
		}
	} else if n, ok := r.num(v, "alert.severity"); ok {
		raw := numText(n)
		switch {
		case n < 1 || n > 255 || n != float64(int(n)):
			r.fail("alert.severity", "severity %s out of range 1-255", raw)
		case n == 1:
			setSeverity(&a, socbot.SeverityHigh, raw)
		case n == 2:
			setSeverity(&a, socbot.SeverityMedium, raw)
		case n == 3:
			setSeverity(&a, socbot.SeverityLow, raw)
		default:
			setSeverity(&a, socbot.SeverityInfo, raw)
		}
	}

	t, ok := r.time(v, "timestamp")
	setTime(&a, t, ok, now)

	// Identity: suricata has no alert id; flow, signature, transaction and packet count make one.
	var buf [128]byte
	id := r.appendRaw(buf[:0], v, "flow_id")
	id = append(append(id, ':'), a.RuleID...)
	id = r.appendRaw(append(id, ':'), v, "tx_id")
	id = r.appendRaw(append(id, ':'), v, "pcap_cnt")
	id = r.appendRaw(append(id, ':'), v, "timestamp")
	a.SourceID = string(id)

	// MITRE ATT&CK from rule metadata: ET keys mitre_tactic_id, mitre_technique_id, ...; other rulesets
	// use free-form keys such as mitre_attack.
	if md := al.GetObject("metadata"); md != nil {
		md.Visit(func(k []byte, x *fastjson.Value) {
			key := string(k)
			if !strings.HasPrefix(key, "tactic") && !strings.HasPrefix(key, "technique") && !strings.Contains(key, "mitre") {
				return
			}
			r.eachStr(x, "", func(s string) {
				switch {
				case strings.Contains(key, "tactic"):
					addTactic(&a, s)
				case strings.Contains(key, "technique"):
					addTechnique(&a, s)
				default:
					addMitre(&a, s)
				}
			})
		})
	}

	// Endpoints: alert.source/target (the "target:" keyword) say who attacked whom; otherwise the
	// packet direction.
	if src := r.str(v, "alert.source.ip"); src != "" {
		addIP(&a, src, socbot.AsSource)
		addIP(&a, r.str(v, "alert.target.ip"), socbot.AsTarget)
	} else {
		addIP(&a, r.str(v, "src_ip"), socbot.AsSource)
		addIP(&a, r.str(v, "dest_ip"), socbot.AsDestination)
	}

	host := r.str(v, "http.hostname")
	addDomain(&a, host, socbot.AsDestination)
	if u := r.str(v, "http.url"); u != "" {
		switch {
		case strings.Contains(u, "://"):
			addURL(&a, u, socbot.AsDestination)
		case host != "" && strings.HasPrefix(u, "/"):
			scheme := "http://"
			if p, _ := r.num(v, "dest_port"); p == 443 {
				scheme = "https://"
			}
			addURL(&a, scheme+host+u, socbot.AsDestination)
		}
	}
	addDomain(&a, r.str(v, "tls.sni"), socbot.AsDestination)
	addDomain(&a, r.str(v, "dns.rrname"), socbot.AsDestination)
	each(v, "dns.query", func(q *fastjson.Value) { addDomain(&a, r.str(q, "rrname"), socbot.AsDestination) })
	each(v, "dns.queries", func(q *fastjson.Value) { addDomain(&a, r.str(q, "rrname"), socbot.AsDestination) })
	addDomain(&a, r.str(v, "smtp.helo"), socbot.AsSource)
	r.eachStr(v, "email.from", func(s string) { addEmail(&a, s, socbot.AsSource) })
	r.eachStr(v, "email.to", func(s string) { addEmail(&a, s, socbot.AsTarget) })
	for _, h := range [...]string{"fileinfo.sha256", "fileinfo.sha1", "fileinfo.md5"} {
		addHash(&a, r.str(v, h), socbot.AsRelated)
	}
	addFile(&a, r.str(v, "fileinfo.filename"), socbot.AsRelated)

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}
