package normalize

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// TestNormalizeErrors checks that wrong types, bad values and missing required fields are rejected with
// a KindInvalid error naming the field, unknown formats with KindUnsupported, and that nothing is
// returned alongside an error.
func TestNormalizeErrors(t *testing.T) {
	const ts = `"timestamp":"2024-01-01T00:00:00Z"`
	tests := []struct {
		name, format, rec string
		kind              socbot.Kind
		field             string // "" when the error names no field
		msg               string // substring of the message
	}{
		// Framing.
		{"malformed json", "", `{"a":1,`, socbot.KindInvalid, "", "malformed JSON at byte 7"},
		{"empty record", "", ``, socbot.KindInvalid, "", "empty record"},
		{"string record", "", `"alert"`, socbot.KindInvalid, "", "must be a JSON object"},
		{"array of numbers", "", `[1,2]`, socbot.KindInvalid, "[0]", "expected an alert object"},
		{"unknown format", "splunk", `{}`, socbot.KindUnsupported, "", `unknown format "splunk"`},
		{"unrecognised record", "", `{"foo":1}`, socbot.KindUnsupported, "", "no normaliser recognises"},
		{"unrecognised record in envelope", "", `{"value":[{"foo":1}]}`, socbot.KindUnsupported, "", "record at value[0]"},

		// Suricata.
		{"suricata other event type", "", `{` + ts + `,"event_type":"dns","flow_id":1}`, socbot.KindInvalid, "event_type", `event_type "dns" is not an alert`},
		{"suricata no alert object", "suricata", `{` + ts + `,"event_type":"alert"}`, socbot.KindInvalid, "alert", "missing"},
		{"suricata alert not an object", "suricata", `{` + ts + `,"event_type":"alert","alert":"x"}`, socbot.KindInvalid, "alert", "expected an object"},
		{"suricata severity not a number", "", `{` + ts + `,"event_type":"alert","alert":{"signature":"s","severity":"high"}}`, socbot.KindInvalid, "alert.severity", "expected a number"},
		{"suricata severity out of range", "", `{` + ts + `,"event_type":"alert","alert":{"signature":"s","severity":0}}`, socbot.KindInvalid, "alert.severity", "out of range"},
		{"suricata signature an object", "", `{` + ts + `,"event_type":"alert","alert":{"signature":{"x":1},"signature_id":1}}`, socbot.KindInvalid, "alert.signature", "got an object"},
		{"suricata time an object", "", `{"timestamp":{"t":1},"event_type":"alert","alert":{"signature":"s"}}`, socbot.KindInvalid, "timestamp", "expected a time"},
		{"suricata no signature", "", `{` + ts + `,"event_type":"alert","alert":{"severity":1}}`, socbot.KindInvalid, "alert.signature", "missing"},

		// OCSF.
		{"ocsf other class", "", `{"class_uid":3002,"metadata":{"version":"1.1.0"}}`, socbot.KindInvalid, "class_uid", "OCSF class 3002"},
		{"ocsf class_uid not a number", "ocsf", `{"class_uid":"abc","metadata":{}}`, socbot.KindInvalid, "class_uid", `expected a number, got "abc"`},
		{"ocsf class_uid an object", "ocsf", `{"class_uid":{},"metadata":{}}`, socbot.KindInvalid, "class_uid", "expected a number"},
		{"ocsf bad severity_id", "", `{"class_uid":2004,"metadata":{},"severity_id":42}`, socbot.KindInvalid, "severity_id", "unknown OCSF severity_id 42"},
		{"ocsf time an object", "", `{"class_uid":2004,"metadata":{},"time":{}}`, socbot.KindInvalid, "time", "expected a time"},
		{"ocsf attacks not an array", "", `{"class_uid":2004,"metadata":{},"finding_info":{"attacks":{}}}`, socbot.KindInvalid, "finding_info.attacks", "expected an array"},

		// Elastic.
		{"elastic unknown severity", "", `{"kibana.alert.rule.name":"r","kibana.alert.severity":"extreme"}`, socbot.KindInvalid, "kibana.alert.severity", `unknown severity "extreme"`},
		{"elastic risk score text", "", `{"kibana.alert.rule.name":"r","kibana.alert.risk_score":"abc"}`, socbot.KindInvalid, "kibana.alert.risk_score", "expected a number"},
		{"elastic rule name an object", "", `{"kibana.alert.uuid":"u","kibana.alert.rule.name":{"a":1}}`, socbot.KindInvalid, "kibana.alert.rule.name", "got an object"},
		{"elastic no rule name", "elastic", `{"kibana.alert.uuid":"u"}`, socbot.KindInvalid, "kibana.alert.rule.name", "missing"},
		{"elastic signal risk score out of range", "", `{"signal":{"rule":{"name":"r","risk_score":101}}}`, socbot.KindInvalid, "signal.rule.risk_score", "out of range"},

		// Wazuh.
		{"wazuh level out of range", "", `{"rule":{"level":99,"description":"d"},"agent":{"id":"001"}}`, socbot.KindInvalid, "rule.level", "out of range 0-16"},
		{"wazuh level text", "", `{"rule":{"level":"high","description":"d"},"agent":{"id":"001"}}`, socbot.KindInvalid, "rule.level", "expected a number"},
		{"wazuh no level", "wazuh", `{"rule":{"description":"d"},"agent":{"id":"001"}}`, socbot.KindInvalid, "rule.level", "missing"},
		{"wazuh rule a string", "wazuh", `{"rule":"x","agent":{}}`, socbot.KindInvalid, "rule", "expected an object"},
		{"wazuh mitre id an object", "", `{"rule":{"level":3,"mitre":{"id":{"x":1}}},"agent":{}}`, socbot.KindInvalid, "rule.mitre.id", "got an object"},

		// Microsoft.
		{"defender unknown severity", "", `{"id":"da1","alertCreationTime":"2024-01-01T00:00:00Z","severity":"Extreme"}`, socbot.KindInvalid, "severity", `unknown severity "Extreme"`},
		{"defender evidence an object", "", `{"id":"da1","alertCreationTime":"2024-01-01T00:00:00Z","evidence":{}}`, socbot.KindInvalid, "evidence", "expected an array"},
		{"defender no id", "defender", `{"alertCreationTime":"2024-01-01T00:00:00Z","title":"t"}`, socbot.KindInvalid, "id", "missing"},
		{"graph incident no id", "", `{"@odata.type":"#microsoft.graph.security.incident","displayName":"x"}`, socbot.KindInvalid, "id", "missing"},
		{"envelope element error names its position", "", `{"value":[{"id":"a","alertCreationTime":"2024-01-01T00:00:00Z","severity":"low"},{"id":"b","alertCreationTime":"2024-01-01T00:00:00Z","severity":"bogus"}]}`,
			socbot.KindInvalid, "value[1].severity", "unknown severity"},

		// CrowdStrike.
		{"crowdstrike not a detection", "crowdstrike", `{"metadata":{"eventType":"AuthActivityAuditEvent"},"event":{}}`, socbot.KindInvalid, "metadata.eventType", "not a detection summary"},
		{"crowdstrike legacy severity out of range", "", `{"metadata":{"eventType":"DetectionSummaryEvent"},"event":{"DetectId":"d","Severity":7}}`, socbot.KindInvalid, "event.Severity", "out of range 1-5"},
		{"crowdstrike epp severity out of range", "", `{"metadata":{"eventType":"EppDetectionSummaryEvent"},"event":{"Name":"n","Severity":150}}`, socbot.KindInvalid, "event.Severity", "out of range 0-100"},
		{"crowdstrike no detection name", "", `{"metadata":{"eventType":"DetectionSummaryEvent"},"event":{"Severity":2}}`, socbot.KindInvalid, "event.DetectName", "missing"},
		{"crowdstrike alert no id", "crowdstrike", `{"name":"n","severity":50}`, socbot.KindInvalid, "composite_id", "missing"},
		{"crowdstrike alert severity text", "", `{"composite_id":"c","cid":"x","severity":"bad"}`, socbot.KindInvalid, "severity", "expected a number"},

		// SentinelOne.
		{"sentinelone threatInfo a string", "sentinelone", `{"threatInfo":"x"}`, socbot.KindInvalid, "threatInfo", "expected an object"},
		{"sentinelone bad confidence", "", `{"id":"1","threatInfo":{"confidenceLevel":"weird"}}`, socbot.KindInvalid, "threatInfo.confidenceLevel", "unknown confidence level"},
		{"sentinelone uam bad severity", "", `{"data":{"alert":{"id":"u","severity":"BAD","detectionSource":{"vendor":"SentinelOne"}}}}`, socbot.KindInvalid, "data.alert.severity", "unknown severity"},
		{"sentinelone neither shape", "sentinelone", `{"id":"1"}`, socbot.KindInvalid, "threatInfo", "missing"},

		// AWS.
		{"guardduty severity out of range", "", `{"id":"g","arn":"arn:aws:guardduty:x","type":"Recon:EC2/X","severity":11}`, socbot.KindInvalid, "severity", "out of range 0-10"},
		{"guardduty severity text", "", `{"id":"g","arn":"arn:aws:guardduty:x","type":"Recon:EC2/X","severity":"high"}`, socbot.KindInvalid, "severity", "expected a number"},
		{"guardduty no id", "guardduty", `{"type":"Recon:EC2/X","severity":5}`, socbot.KindInvalid, "id", "missing"},
		{"eventbridge guardduty error names detail", "", `{"detail-type":"GuardDuty Finding","detail":{"id":"g","arn":"arn:aws:guardduty:x","type":"T","severity":-1}}`, socbot.KindInvalid, "detail.severity", "out of range"},
		{"securityhub unknown label", "", `{"SchemaVersion":"2018-10-08","Id":"i","Severity":{"Label":"SUPER"}}`, socbot.KindInvalid, "Severity.Label", `unknown severity "SUPER"`},
		{"securityhub no id", "securityhub", `{"Title":"t"}`, socbot.KindInvalid, "Id", "missing"},
		{"securityhub resources an object", "", `{"SchemaVersion":"2018-10-08","Id":"i","Resources":{}}`, socbot.KindInvalid, "Resources", "expected an array"},

		// GCP, Cortex, Zeek.
		{"gcp unknown severity", "", `{"finding":{"name":"organizations/1/sources/2/findings/3","category":"c","severity":"EXTREME"}}`, socbot.KindInvalid, "finding.severity", "unknown severity"},
		{"gcp no name", "gcp_scc", `{"finding":{"category":"c"}}`, socbot.KindInvalid, "finding.name", "missing"},
		{"cortex unknown severity", "", `{"alert_id":"1","detection_timestamp":1,"severity":"SEV_999_WHAT"}`, socbot.KindInvalid, "severity", "unknown severity"},
		{"cortex no alert id", "cortex_xdr", `{"name":"n"}`, socbot.KindInvalid, "alert_id", "missing"},
		{"zeek no note", "zeek_notice", `{"ts":1.5,"msg":"m"}`, socbot.KindInvalid, "note", "missing"},
		{"zeek ts an object", "", `{"ts":{},"note":"Scan::Port_Scan","msg":"m"}`, socbot.KindInvalid, "ts", "expected a time"},

		// Generic.
		{"generic no title", "generic", `{"severity":"high"}`, socbot.KindInvalid, "title", "missing"},
		{"generic unknown severity", "generic", `{"title":"t","severity":"bogus"}`, socbot.KindInvalid, "severity", `unknown severity "bogus"`},
		{"generic severity out of range", "generic", `{"title":"t","severity":250}`, socbot.KindInvalid, "severity", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := Normalize(tt.format, []byte(tt.rec), testNow)
			if err == nil {
				t.Fatalf("no error; got %d alerts: %+v", len(alerts), alerts)
			}
			if alerts != nil {
				t.Errorf("alerts returned with an error: %+v", alerts)
			}
			if _, ok := err.(*socbot.Error); !ok {
				t.Errorf("error %T is not a *socbot.Error", err)
			}
			if k := socbot.ErrorKind(err); k != tt.kind {
				t.Errorf("kind %v, want %v (%v)", k, tt.kind, err)
			}
			if f := socbot.ErrorField(err); tt.field != "" && f != tt.field {
				t.Errorf("field %q, want %q (%v)", f, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

// TestNoAlertRecords checks the records that are understood but carry nothing to triage.
func TestNoAlertRecords(t *testing.T) {
	for name, rec := range map[string]string{
		"elastic building block": `{"kibana.alert.rule.name":"r","kibana.alert.building_block_type":"default","kibana.alert.severity":"low"}`,
		"prowler passed check":   `{"class_uid":2004,"metadata":{},"status_code":"PASS","severity_id":1}`,
		"asff archived":          `{"SchemaVersion":"2018-10-08","Id":"i","RecordState":"ARCHIVED"}`,
		"asff passed":            `{"SchemaVersion":"2018-10-08","Id":"i","Compliance":{"Status":"PASSED"}}`,
		"empty odata page":       `{"@odata.context":"x","value":[]}`,
		"empty cortex reply":     `{"reply":{"incidents":[],"result_count":0,"total_count":0}}`,
		"empty array":            `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			alerts, err := Normalize("", []byte(rec), testNow)
			if err != nil || len(alerts) != 0 {
				t.Fatalf("got %d alerts, error %v; want none and no error", len(alerts), err)
			}
		})
	}
}

// panicky is a broken normaliser.
type panicky struct{}

var _ Normalizer = panicky{}

func (panicky) Name() string               { return "panicky" }
func (panicky) Match(*fastjson.Value) bool { return true }
func (panicky) Normalize(*fastjson.Value, time.Time) ([]socbot.Alert, error) {
	var a []socbot.Alert
	return a[:1], nil // index out of range
}

func TestNormalizerPanicBecomesError(t *testing.T) {
	alerts, err := NormalizeWith(panicky{}, []byte(`{"a":1}`), testNow)
	if alerts != nil || !socbot.IsKind(err, socbot.KindOther) || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("got %v, %v; want an internal error", alerts, err)
	}
}
