package normalize

import (
	"encoding/json"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestNewGenericValidation(t *testing.T) {
	ok := Mapping{Name: "m", Title: []string{"t"}}
	tests := []struct {
		name  string
		edit  func(m *Mapping)
		field string
	}{
		{"no title", func(m *Mapping) { m.Title = nil }, "title"},
		{"empty path", func(m *Mapping) { m.Description = []string{""} }, "description[0]"},
		{"empty segment", func(m *Mapping) { m.Time = []string{"a..b"} }, "time[0]"},
		{"leading dot", func(m *Mapping) { m.RuleID = []string{"x", ".a"} }, "rule_id[1]"},
		{"bad severity map value", func(m *Mapping) { m.SeverityMap = map[string]string{"P1": "urgent!"} }, "severity_map.P1"},
		{"negative scale", func(m *Mapping) { m.SeverityScale = -1 }, "severity_scale"},
		{"bad observable type", func(m *Mapping) { m.Observables = []ObservableField{{Path: "a", Type: "ip"}, {Path: "b", Type: "mac"}} }, "observables[1].type"},
		{"bad observable role", func(m *Mapping) { m.Observables = []ObservableField{{Path: "a", Type: "ip", Role: "victim"}} }, "observables[0].role"},
		{"bad observable path", func(m *Mapping) { m.Observables = []ObservableField{{Path: "", Type: "ip"}} }, "observables[0].path"},
	}
	if _, err := NewGeneric(ok); err != nil {
		t.Fatalf("valid mapping rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			_, err := NewGeneric(m)
			if err == nil {
				t.Fatal("no error")
			}
			if !socbot.IsKind(err, socbot.KindInvalid) || socbot.ErrorField(err) != tt.field {
				t.Errorf("error %v (field %q), want invalid field %q", err, socbot.ErrorField(err), tt.field)
			}
		})
	}
}

// A tenant's mapping for a made-up firewall, stored as JSON.
const firewallMapping = `{
  "name": "acme-fw",
  "vendor": "Acme",
  "product": "Acme Firewall",
  "source_id": ["event.uuid"],
  "title": ["threat.name", "event.action"],
  "description": ["threat.details"],
  "category": ["threat.category"],
  "rule_id": ["policy.id"],
  "rule_name": ["policy.name"],
  "severity": ["threat.prio"],
  "severity_map": {"1": "critical", "2": "high", "3": "medium", "4": "low", "5": "info", "P0": "critical"},
  "time": ["event.epoch_ms"],
  "tactics": ["threat.attack.tactics"],
  "techniques": ["threat.attack.techniques"],
  "observables": [
    {"path": "net.src", "type": "ip", "role": "source"},
    {"path": "net.dst", "type": "ip", "role": "destination"},
    {"path": "net.sni", "type": "domain", "role": "destination"},
    {"path": "files.digest", "type": "hash", "role": "related"},
    {"path": "who", "type": "user", "role": "actor"}
  ]
}`

func TestGenericCustomMapping(t *testing.T) {
	var m Mapping
	if err := json.Unmarshal([]byte(firewallMapping), &m); err != nil {
		t.Fatal(err)
	}
	n, err := NewGeneric(m)
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"event":{"uuid":"e-1","epoch_ms":1718000000000,"action":"deny"},"threat":{"name":"Cobalt Strike beacon","prio":2,"category":"c2",
		"attack":{"tactics":["TA0011"],"techniques":["T1071.001","T1573"]}},"policy":{"id":"17","name":"block-c2"},
		"net":{"src":"10.0.0.7","dst":"198.51.100.3","sni":"beacon.example.net"},"files":[{"digest":"44d88612fea8a8f36de82e1278abb02f"},{"digest":"3395856ce81f2b7382dee72602f798b642f14140"}],"who":"CORP\\mallory"}`
	alerts, err := NormalizeWith(n, []byte(rec), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	a := alerts[0]
	checkAlert(t, "generic", []byte(rec), &a)
	if a.Vendor != "Acme" || a.Product != "Acme Firewall" || a.SourceID != "e-1" || a.Title != "Cobalt Strike beacon" || a.RuleID != "17" ||
		a.RuleName != "block-c2" || a.Category != "c2" || a.Severity != socbot.SeverityHigh || a.SeverityRaw != "2" {
		t.Errorf("fields: %+v", a)
	}
	if a.DetectedAt.UnixMilli() != 1718000000000 {
		t.Errorf("time %v", a.DetectedAt)
	}
	if strings.Join(a.Tactics, ",") != "TA0011" || strings.Join(a.Techniques, ",") != "T1071.001,T1573" {
		t.Errorf("mitre %v %v", a.Tactics, a.Techniques)
	}
	got := map[string]string{}
	for _, o := range a.Observables {
		got[o.Key()] = string(o.Role)
	}
	for key, role := range map[string]string{"ip:10.0.0.7": "source", "ip:198.51.100.3": "destination", "domain:beacon.example.net": "destination",
		"md5:44d88612fea8a8f36de82e1278abb02f": "related", "sha1:3395856ce81f2b7382dee72602f798b642f14140": "related", `user:CORP\mallory`: "actor"} {
		if got[key] != role {
			t.Errorf("observable %s: role %q, want %q (all: %v)", key, got[key], role, a.Observables)
		}
	}

	// Mapped fields of the wrong type are errors naming the path.
	_, err = NormalizeWith(n, []byte(`{"threat":{"name":"x","prio":2},"net":{"src":{"ip":"10.0.0.1"}}}`), testNow)
	if socbot.ErrorField(err) != "net.src" {
		t.Errorf("object where an ip was mapped: %v", err)
	}
	_, err = NormalizeWith(n, []byte(`{"threat":{"name":{"x":1}}}`), testNow)
	if socbot.ErrorField(err) != "threat.name" {
		t.Errorf("object where the title was mapped: %v", err)
	}
	// Numbers without a map entry are scores on the scale; an unknown name is an error.
	alerts, err = NormalizeWith(n, []byte(`{"threat":{"name":"x","prio":77}}`), testNow)
	if err != nil || alerts[0].Severity != socbot.SeverityHigh || alerts[0].SeverityScore != 77 {
		t.Errorf("score severity: %v %+v", err, alerts)
	}
	alerts, err = NormalizeWith(n, []byte(`{"threat":{"name":"x","prio":"p0"}}`), testNow)
	if err != nil || alerts[0].Severity != socbot.SeverityCritical {
		t.Errorf("case-insensitive severity map: %v %+v", err, alerts)
	}
	if _, err = NormalizeWith(n, []byte(`{"threat":{"name":"x","prio":"sev-a"}}`), testNow); socbot.ErrorField(err) != "threat.prio" {
		t.Errorf("unknown severity: %v", err)
	}
}

func TestMappingJSONRoundTrip(t *testing.T) {
	m := DefaultMapping()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Mapping
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGeneric(back); err != nil {
		t.Fatalf("default mapping after a JSON round trip: %v", err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Error("mapping JSON changed in a round trip")
	}
}

func TestZeekTSV(t *testing.T) {
	body := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tnotice\n" +
		"#fields\tts\tuid\tid.orig_h\tnote\tmsg\tactions\temail_dest\tsuppress_for\tdropped\n" +
		"#types\ttime\tstring\taddr\tenum\tstring\tset[enum]\tset[string]\tinterval\tbool\n" +
		"1559764497.925850\t-\t10.0.0.1\tScan::Port_Scan\ta \"quoted\"\\x09msg\tNotice::ACTION_LOG,Notice::ACTION_ALARM\t(empty)\t3600.000000\tF\n" +
		"XXXXXXXXXX.XXXXXX\tC1\t-\tIntel::Notice\tm\t-\t(empty)\t-\tT\n" +
		"short\trow\n" +
		"#close\t2019-06-05-19-54-58\n"
	var recs []string
	var errs []string
	err := ZeekTSV([]byte(body), func(i int, rec []byte, err error) error {
		if err != nil {
			errs = append(errs, err.Error())
			return nil
		}
		if !json.Valid(rec) {
			t.Errorf("row %d is not JSON: %s", i, rec)
		}
		recs = append(recs, string(rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"ts":1559764497.925850,"id.orig_h":"10.0.0.1","note":"Scan::Port_Scan","msg":"a \"quoted\"\u0009msg","actions":["Notice::ACTION_LOG","Notice::ACTION_ALARM"],"email_dest":[],"suppress_for":3600.000000,"dropped":false}`,
		`{"ts":"XXXXXXXXXX.XXXXXX","uid":"C1","note":"Intel::Notice","msg":"m","email_dest":[],"dropped":true}`,
	}
	if len(recs) != len(want) {
		t.Fatalf("rows %v", recs)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("row %d:\n got  %s\n want %s", i, recs[i], want[i])
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "line 10: 2 columns, the #fields header names 9") {
		t.Errorf("errors %v", errs)
	}
	alerts, err := Normalize("", []byte(recs[0]), testNow)
	if err != nil || len(alerts) != 1 || alerts[0].Format != "zeek_notice" || alerts[0].Severity != socbot.SeverityHigh {
		t.Errorf("converted row: %v %+v", err, alerts)
	}
}
