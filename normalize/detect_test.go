package normalize

import (
	"os"
	"slices"
	"testing"

	"github.com/valyala/fastjson"
)

// unwrap returns the records inside v's envelopes (v itself when it is none).
func unwrap(v *fastjson.Value, depth int) []*fastjson.Value {
	env, ok := matchEnvelope(v)
	if !ok || depth >= maxEnvelopeDepth {
		return []*fastjson.Value{v}
	}
	keys, _ := env.locate(v)
	c := v.Get(keys...)
	var elems []*fastjson.Value
	if c.Type() == fastjson.TypeArray {
		elems = c.GetArray()
	} else {
		elems = []*fastjson.Value{c}
	}
	var out []*fastjson.Value
	for _, e := range elems {
		if env.inner != "" {
			e = e.Get(env.inner)
		}
		out = append(out, unwrap(e, depth+1)...)
	}
	return out
}

// matching lists the specific (non-generic) normalisers whose Match accepts v.
func matching(v *fastjson.Value) []string {
	var names []string
	for _, name := range DetectionOrder() {
		n, _ := Lookup(name)
		if name != "generic" && n.Match(v) {
			names = append(names, name)
		}
	}
	return names
}

// TestDetectFixtures checks that every fixture record is claimed by exactly one specific normaliser,
// its own, so detection does not depend on the order the normalisers are tried in.
func TestDetectFixtures(t *testing.T) {
	var p fastjson.Parser
	for format, files := range fixtures(t) {
		for _, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_ = Records(body, func(i int, rec []byte, err error) error {
				if got := Detect(rec); got != format {
					t.Errorf("%s record %d: Detect = %q, want %q", file, i, got, format)
				}
				v, err := p.ParseBytes(rec)
				if err != nil {
					t.Fatalf("%s record %d: %v", file, i, err)
				}
				for j, inner := range unwrap(v, 0) {
					got := matching(inner)
					if format == "generic" {
						if len(got) != 0 {
							t.Errorf("%s record %d.%d: generic record also matched by %v", file, i, j, got)
						}
						continue
					}
					if !slices.Equal(got, []string{format}) {
						t.Errorf("%s record %d.%d: matched by %v, want only %s", file, i, j, got, format)
					}
				}
				return nil
			})
		}
	}
}

// TestDetectCorpus checks the same for every sample of the shared corpus (when present).
func TestDetectCorpus(t *testing.T) {
	root := corpusDir(t)
	if root == "" {
		t.Skip("shared corpus not found at ../shared/corpus; skipping")
	}
	var p fastjson.Parser
	for _, path := range corpusFiles(t, root) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_ = corpusRecords(t, path, body, func(i int, rec []byte, err error) error {
			if err != nil {
				return nil
			}
			v, err := p.ParseBytes(rec)
			if err != nil {
				t.Fatalf("%s record %d: %v", path, i, err)
			}
			for j, inner := range unwrap(v, 0) {
				if got := matching(inner); len(got) != 1 {
					t.Errorf("%s record %d.%d: matched by %v, want exactly one format", path, i, j, got)
				}
			}
			return nil
		})
	}
}

func TestDetectOthers(t *testing.T) {
	tests := []struct{ name, rec, want string }{
		{"nothing recognisable", `{"foo":"bar","n":1}`, ""},
		{"title without anything else", `{"title":"hello"}`, ""},
		{"generic webhook", `{"title":"Disk full","severity":"low","host":"db-1"}`, "generic"},
		{"suricata dns event", `{"timestamp":"2024-01-01T00:00:00Z","event_type":"dns","src_ip":"10.0.0.1"}`, "suricata"},
		{"not suricata: unknown event type", `{"timestamp":"2024-01-01T00:00:00Z","event_type":"login","title":"x","user":"u"}`, "generic"},
		{"ocsf authentication event", `{"class_uid":3002,"metadata":{"version":"1.1.0"},"message":"login"}`, "ocsf"},
		{"wazuh passthrough of a suricata alert", `{"rule":{"level":3,"description":"Suricata alert"},"agent":{"id":"001","name":"ids"},"data":{"event_type":"alert","alert":{"signature":"x"}},"timestamp":"2024-01-01T00:00:00.000+0000"}`, "wazuh"},
		{"graph incident", `{"@odata.type":"#microsoft.graph.security.incident","id":"1","displayName":"x"}`, "defender"},
		{"crowdstrike other stream event", `{"metadata":{"eventType":"AuthActivityAuditEvent"},"event":{"UserId":"x"}}`, ""},
		{"eventbridge guardduty", `{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"id":"1","arn":"arn:aws:guardduty:us-east-1:1:detector/d/finding/1","type":"Recon:EC2/X","severity":2}}`, "guardduty"},
		{"es hit around wazuh", `{"_index":"wazuh-alerts-4.x-2024.01.01","_id":"x","_source":{"rule":{"level":5},"agent":{"id":"000"}}}`, "wazuh"},
		{"empty page", `{"value":[]}`, ""},
		{"broken json", `{"a":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.rec)); got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatsAndOrder(t *testing.T) {
	want := []string{"cortex_xdr", "crowdstrike", "defender", "elastic", "gcp_scc", "generic", "graph", "guardduty", "ocsf",
		"securityhub", "sentinelone", "suricata", "wazuh", "zeek_notice"}
	if got := Formats(); !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	order := DetectionOrder()
	if order[len(order)-1] != "generic" {
		t.Errorf("generic is not tried last: %v", order)
	}
	if !slices.Equal(order, DetectionOrder()) {
		t.Error("detection order is not stable")
	}
	for _, name := range want {
		n, ok := Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) failed", name)
			continue
		}
		if name == "graph" {
			if n.Name() != "defender" {
				t.Errorf("graph is an alias of %q, want defender", n.Name())
			}
		} else if n.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, n.Name())
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
}
