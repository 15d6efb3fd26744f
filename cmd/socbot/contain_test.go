package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

func TestLoadConnectorConfigs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("- id: fw\n  type: nftables\n  options: {netns: lab, table: t}\n  timeout: 5s\n- id: m\n  type: memory\n  credentials: {api_key: k}\n"), 0o600)
	cfgs, err := loadConnectorConfigs(good)
	if err != nil || len(cfgs) != 2 || cfgs[0].Options["netns"] != "lab" || cfgs[0].Timeout != 5*time.Second || cfgs[1].Credentials["api_key"] != "k" {
		t.Fatalf("%+v %v", cfgs, err)
	}
	for name, doc := range map[string]string{"[0].type": "- id: x\n", "[0].id": "- type: nftables\n"} {
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(doc), 0o600)
		if _, err := loadConnectorConfigs(p); socbot.ErrorField(err) != name {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestContainTargetConfigs(t *testing.T) {
	c := containTarget{NetNS: "lab", Table: "edge", Set: "deny6", Value: "2001:db8::1", Timeout: "3s", Tenant: "cli"}
	cfgs, err := c.configs(socbot.ActBlockIP)
	if err != nil || len(cfgs) != 1 || cfgs[0].Type != "nftables" || cfgs[0].Options["set6"] != "deny6" || cfgs[0].Options["table"] != "edge" || cfgs[0].Timeout != 3*time.Second {
		t.Fatalf("%+v %v", cfgs, err)
	}
}

func TestReadIncident(t *testing.T) {
	inc, alerts, err := readIncident(`{"id": 3, "tenant_id": "acme", "priority": "P1", "confidence": 90, "alerts": [{"uid": "a", "severity": "high", "observables": [{"type": "ip", "value": "203.0.113.1", "role": "destination"}]}]}`)
	if err != nil || inc.Priority != socbot.P1 || len(alerts) != 1 || alerts[0].Severity != socbot.SeverityHigh || alerts[0].Observables[0].Value != "203.0.113.1" {
		t.Fatalf("%+v %+v %v", inc, alerts, err)
	}
	if _, _, err := readIncident(`{"priority": "P9"}`); socbot.ErrorField(err) != "incident.priority" {
		t.Fatalf("bad priority: %v", err)
	}
	if _, _, err := readIncident(`{not json`); err == nil {
		t.Fatal("bad JSON accepted")
	}
}
