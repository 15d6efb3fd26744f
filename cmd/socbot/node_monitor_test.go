package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// TestServeMonitorEndToEnd runs a real node with the triage, intel and monitor bots: syslog lines
// over UDP and over TCP (newline framing and octet counting, each on its own connection) and JSON
// and eve batches posted to /api/v1/logs with an ingest token hit the test rules and the intel
// index; the detections travel over the bus to triage and become incidents in the store, with the
// rule's author in every Sigma alert.
func TestServeMonitorEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { serveMonitor(t, "") })
	t.Run("postgres", func(t *testing.T) { serveMonitor(t, postgresURL(t)) })
}

func serveMonitor(t *testing.T, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := t.TempDir()
	cfg := Config{Data: data, Listen: "127.0.0.1:0", DB: db, Bots: []string{"triage", "intel", "monitor"}, Partitions: 1,
		Monitor: MonitorConfig{Rules: []string{filepath.Join("testdata", "monitor")}, Workers: 2, Wait: "5s",
			Syslog: []MonitorSyslog{{Network: "udp", Addr: "127.0.0.1:0", Tenant: "acme"}, {Network: "tcp", Addr: "127.0.0.1:0", Tenant: "acme"}}}}
	// the tenants must exist before the node resolves the inputs' tenants
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	acme, globex := socbot.Tenant{Name: "acme"}, socbot.Tenant{Name: "globex"}
	for _, tn := range []*socbot.Tenant{&acme, &globex} {
		if err := st.CreateTenant(ctx, tn, cliPrincipal()); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if n.monitor == nil || n.monitor.Rules().Loaded() != 3 {
		t.Fatalf("monitor bot not running with the 3 test rules")
	}
	addrs := n.monitor.ListenAddrs(ctx)
	if len(addrs) != 2 {
		t.Fatalf("syslog listeners: %v", addrs)
	}

	// syslog over UDP: sshd on web01
	uc, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(uc, "<38>Mar  9 08:01:02 web01 sshd[4321]: Failed password for root from 203.0.113.5 port 22 ssh2")
	uc.Close()
	// syslog over TCP, newline framing: sudo on db01; the second line starts with digits, a space and
	// '<' and must stay a line of this connection
	tc, err := net.Dial("tcp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(tc, "<86>Mar  9 08:02:03 db01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash\n")
	fmt.Fprint(tc, "12 <34> lines like this one are not octet counts\n")
	tc.Close()
	// syslog over TCP, octet counting (RFC 6587): sshd on web02
	oc, err := net.Dial("tcp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	msg := "<38>1 2026-11-26T10:00:00Z web02 sshd 99 - - Failed password for root from 198.51.100.7 port 22 ssh2"
	fmt.Fprintf(oc, "%d %s", len(msg), msg)
	oc.Close()

	// JSON log batch over the API with an ingest token of acme; the header naming globex is ignored
	ingest := apiClient{t, n.URL(), newTestToken(t, n, acme.ID, socbot.RoleIngest, "winlogbeat")}
	analyst := apiClient{t, n.URL(), newTestToken(t, n, acme.ID, socbot.RoleAnalyst, "ana")}
	batch := `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-07.acme.example","TimeCreated":{"#attributes":{"SystemTime":"2026-11-26T10:00:05Z"}}},` +
		`"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all","User":"ACME\\bob","ParentImage":"C:\\Windows\\System32\\cmd.exe"}}}` + "\n" +
		`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-08"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","User":"NT AUTHORITY\\SYSTEM"}}}` + "\n" +
		"not json\n"
	var res socbot.LogBatchResult
	if code := ingest.do("POST", "/api/v1/logs", batch, &res); code != 200 || res.Accepted != 2 || res.Malformed != 1 || res.Alerts != 1 {
		t.Fatalf("POST /logs: %d %+v", code, res)
	}
	// an eve batch whose DNS query is a known indicator: an intel alert
	if code := analyst.do("POST", "/api/v1/intel/indicators", map[string]any{"reliability": 100, "reason": "IR case 9",
		"indicators": []map[string]any{{"type": "domain", "value": "c2.evil-monitor.net", "confidence": 90, "tlp": "green"},
			{"type": "domain", "value": "exfil.evil-monitor.net", "confidence": 90, "tlp": "red", "tags": []string{"secret-op-name"}}}}, nil); code != 200 {
		t.Fatalf("add indicator: %d", code)
	}
	// the second is marked above what acme's own people may read: it alerts, without its details
	eve := `{"timestamp":"2026-11-26T10:00:07.000000+0000","flow_id":1,"event_type":"dns","src_ip":"10.1.2.3","src_port":53001,"dest_ip":"10.1.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":1,"rrname":"c2.evil-monitor.net","rrtype":"A"}}` + "\n" +
		`{"timestamp":"2026-11-26T10:00:08.000000+0000","flow_id":2,"event_type":"dns","src_ip":"10.1.2.4","src_port":53002,"dest_ip":"10.1.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":2,"rrname":"exfil.evil-monitor.net","rrtype":"A"}}` + "\n"
	if code := ingest.do("POST", "/api/v1/logs?format=eve", eve, &res); code != 200 || res.Accepted != 2 || res.Alerts != 2 {
		t.Fatalf("POST /logs?format=eve: %d %+v", code, res)
	}
	// admin tokens must name the tenant; viewers may not post
	if code := (apiClient{t, n.URL(), newTestToken(t, n, acme.ID, socbot.RoleViewer, "client")}).do("POST", "/api/v1/logs", batch, nil); code != 403 {
		t.Errorf("viewer posting logs: %d", code)
	}

	// every detection becomes an alert of acme, triaged into an incident
	want := map[string]string{ // what -> rule id (or format)
		"udp web01":             "0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a01",
		"tcp web02":             "0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a01",
		"tcp db01":              "0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a02",
		"http ws-07":            "0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a03",
		"http intel":            "intel-match",
		"http intel restricted": "intel-match",
	}
	authors := map[string]string{"0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a01": "Ada Example (socbot tests)",
		"0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a02": "Bo Example (socbot tests)", "0f3b5f0e-7c2a-4d8e-9a51-5e2e0c1d7a03": "Cy Example (socbot tests)"}
	var alerts []socbot.Alert
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		alerts, err = n.store.Alerts(ctx, socbot.AlertFilter{TenantID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		done := len(alerts) >= len(want)
		for _, a := range alerts {
			done = done && a.IncidentID != 0
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	found := map[string]bool{}
	for _, a := range alerts {
		host := ""
		for _, o := range a.Observables {
			if o.Type == socbot.ObsHost {
				host = o.Value
			}
		}
		key := ""
		switch {
		case a.Format == "monitor-intel" && strings.Contains(a.Title, "c2.evil-monitor.net"):
			key = "http intel"
			if !strings.Contains(a.Description, "domain c2.evil-monitor.net (exact, score 90, analyst:") {
				t.Errorf("intel alert: %q", a.Description)
			}
		case a.Format == "monitor-intel" && strings.Contains(a.Title, "exfil.evil-monitor.net"):
			key = "http intel restricted"
			if !strings.Contains(a.Description, "(restricted: TLP red)") || strings.Contains(a.Description, "analyst:") || strings.Contains(string(a.Description), "secret-op-name") {
				t.Errorf("restricted intel alert shows details: %q", a.Description)
			}
		case a.Format == "sigma" && host == "web01":
			key = "udp web01"
		case a.Format == "sigma" && host == "web02":
			key = "tcp web02"
		case a.Format == "sigma" && host == "db01":
			key = "tcp db01"
		case a.Format == "sigma" && host == "ws-07.acme.example":
			key = "http ws-07"
		default:
			t.Errorf("unexpected alert %s %q host %q: %s", a.Format, a.Title, host, a.Raw)
			continue
		}
		found[key] = true
		if a.RuleID != want[key] || a.IncidentID == 0 || a.TenantID != acme.ID {
			t.Errorf("%s: rule %q incident %d tenant %s", key, a.RuleID, a.IncidentID, a.TenantID)
		}
		if a.Format == "sigma" {
			author := authors[a.RuleID]
			if !slices.Contains(a.Flags, "sigma_author="+author) || !strings.Contains(a.Description, "by "+author) || !strings.Contains(a.Description, "Detection Rule License") {
				t.Errorf("%s: the rule's author is missing: flags %v, description %q", key, a.Flags, a.Description)
			}
		}
	}
	for k := range want {
		if !found[k] {
			t.Errorf("no alert for %s (alerts: %d)", k, len(alerts))
		}
	}
	incs, err := n.store.Incidents(ctx, socbot.IncidentFilter{TenantID: acme.ID})
	if err != nil || len(incs) == 0 {
		t.Fatalf("incidents of acme: %d %v", len(incs), err)
	}
	// nothing went to the other tenant
	if other, _ := n.store.Alerts(ctx, socbot.AlertFilter{TenantID: globex.ID}); len(other) != 0 {
		t.Errorf("globex got %d alerts", len(other))
	}
	s := n.monitor.Stats()
	if s.Detections != 4 || s.IntelHits != 2 || s.SubmitErrors != 0 || s.HTTPBatches != 2 {
		t.Errorf("monitor stats %+v", s)
	}
}

// TestMonitorConfig reads the monitor: block of socbot.yaml and resolves the inputs' tenants.
func TestMonitorConfig(t *testing.T) {
	dir := t.TempDir()
	yaml := `monitor:
  rules: [/etc/socbot/sigma]
  workers: 3
  min_level: low
  syslog:
    - {network: udp, addr: ":5514", tenant: acme}
    - {network: tcp, addr: ":5514", tenant: acme}
  tail:
    - {path: /var/log/suricata/eve.json, tenant: acme, format: eve}
    - {path: "/data/*.jsonl", tenant: acme, logsource: windows/Security, from_start: true}
  tail_interval: 2s
  wait: 3s
  intel_dedupe: 30m
  intel: false
`
	if err := os.WriteFile(filepath.Join(dir, "socbot.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(&Globals{}, storeFlags{Data: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Monitor
	if len(m.Rules) != 1 || m.Workers != 3 || m.MinLevel != "low" || len(m.Syslog) != 2 || m.Syslog[1].Network != "tcp" ||
		len(m.Tail) != 2 || !m.Tail[1].FromStart || m.Tail[1].Logsource != "windows/Security" || m.Intel == nil || *m.Intel {
		t.Fatalf("monitor config: %+v", m)
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := m.monitorConfig(ctx, st); socbot.ErrorField(err) != "monitor.syslog[0].tenant" {
		t.Fatalf("unknown tenant: %v", err)
	}
	acme := socbot.Tenant{Name: "acme"}
	if err := st.CreateTenant(ctx, &acme, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	mc, err := m.monitorConfig(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Syslog[0].Tenant != acme.ID || mc.Tail[0].Tenant != acme.ID || time.Duration(mc.TailInterval) != 2*time.Second ||
		time.Duration(mc.HTTPWait) != 3*time.Second || time.Duration(mc.IntelDedupe) != 30*time.Minute {
		t.Fatalf("resolved: %+v", mc)
	}
	m.Wait = "soon"
	if _, err := m.monitorConfig(ctx, st); socbot.ErrorField(err) != "monitor.wait" {
		t.Errorf("bad duration: %v", err)
	}
	m.Wait = ""
	m.Tail = append(m.Tail, MonitorTail{Path: "/x"})
	if _, err := m.monitorConfig(ctx, st); socbot.ErrorField(err) != "monitor.tail[2].tenant" {
		t.Errorf("tail without tenant: %v", err)
	}
}

// TestServeMonitorListenerInUse: a syslog address that cannot be bound stops the node's start
// (instead of a node that runs without its listener).
func TestServeMonitorListenerInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ctx := context.Background()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Bots: []string{"triage", "monitor"}, Partitions: 1,
		Monitor: MonitorConfig{Syslog: []MonitorSyslog{{Network: "tcp", Addr: busy.Addr().String(), Tenant: "acme"}}}}
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, &socbot.Tenant{Name: "acme"}, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil {
		n.Stop()
		t.Fatal("node started without its syslog listener")
	}
	if !strings.Contains(err.Error(), "syslog tcp "+busy.Addr().String()) {
		t.Errorf("error %v does not name the listener", err)
	}
}
