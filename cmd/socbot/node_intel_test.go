package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
)

// TestServeIntelEndToEnd runs two nodes on one database and one external JetStream server, as a
// scaled-out deployment does: an analyst's indicators added on node A match on node B (change event),
// an alert carrying one is triaged with the intel hit in its reasons and recorded as a sighting, an
// indicator above the tenant's threshold is handed to containment durably on the bus, the firewall
// list and the TAXII server serve it, and a command-line import into the same database reaches the
// running nodes.
func TestServeIntelEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { serveIntel(t, "") })
	t.Run("postgres", func(t *testing.T) { serveIntel(t, postgresURL(t)) })
}

func serveIntel(t *testing.T, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := t.TempDir()
	if db == "" {
		db = "sqlite:" + filepath.Join(data, "shared.db")
	}
	nats := externalNATS(t)
	threshold := 80
	cfgA := Config{Data: data, Listen: "127.0.0.1:0", DB: db, NATS: nats, Bots: []string{"triage", "intel"}, Partitions: 1,
		Intel: IntelConfig{Refresh: "200ms", Tenants: map[string]IntelTenantSettings{}}}
	// the tenant must exist before the nodes resolve their configuration
	st, err := openStore(ctx, cfgA, slog.New(slog.DiscardHandler), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	ten := socbot.Tenant{Name: "acme"}
	if err := st.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfgA.Intel.Tenants["acme"] = IntelTenantSettings{ContainmentThreshold: &threshold}
	a, err := startNode(ctx, cfgA, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	cfgB := cfgA
	cfgB.Data = t.TempDir()
	cfgB.Intel.Collect = new(bool) // one collecting node is enough here
	b, err := startNode(ctx, cfgB, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	analystA := apiClient{t, a.URL(), newTestToken(t, a, ten.ID, socbot.RoleAnalyst, "ana")}
	analystB := apiClient{t, b.URL(), analystA.token}
	viewerB := apiClient{t, b.URL(), newTestToken(t, a, ten.ID, socbot.RoleViewer, "client")}
	ingest := apiClient{t, a.URL(), newTestToken(t, a, ten.ID, socbot.RoleIngest, "edr")}

	// hand-offs are kept by JetStream: a durable consumer created now reads the one that comes
	js := a.bus.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, intel.ContainmentStream, jetstream.ConsumerConfig{Durable: "test-containment",
		FilterSubject: intel.ContainmentSubject + ".>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}

	var res socbot.IntelIngest
	if code := analystA.do("POST", "/api/v1/intel/indicators", map[string]any{"reliability": 100, "reason": "IR case 7",
		"indicators": []map[string]any{{"type": "ipv4", "value": "203.0.113.66", "confidence": 95, "tlp": "green", "tags": []string{"c2"}},
			{"type": "domain", "value": "weak-signal.net", "confidence": 30, "tlp": "green"}}}, &res); code != 200 || res.New != 2 {
		t.Fatalf("add indicators on node A: %d %+v", code, res)
	}
	// node B matches them once the change event arrived (well before its store poll would)
	var hits struct{ Matches []socbot.IndicatorMatch }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		analystB.do("POST", "/api/v1/intel/match", map[string]any{"values": []string{"203.0.113.66"}}, &hits)
		if len(hits.Matches) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(hits.Matches) != 1 || hits.Matches[0].Why != "exact" || hits.Matches[0].Score < 80 {
		t.Fatalf("node B does not match node A's indicator: %+v", hits)
	}
	// the containment hand-off, once, for the indicator above the threshold only
	batch, err := cons.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var evs []intel.ContainmentEvent
	for m := range batch.Messages() {
		var ev intel.ContainmentEvent
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if m.Subject() != intel.ContainmentSubject+"."+ten.ID || m.Headers().Get(jetstream.MsgIDHeader) != ev.DedupeKey {
			t.Fatalf("hand-off on %s with id %q: %+v", m.Subject(), m.Headers().Get(jetstream.MsgIDHeader), ev)
		}
		m.Ack()
		evs = append(evs, ev)
	}
	if len(evs) != 1 || evs[0].Value != "203.0.113.66" || evs[0].Action != socbot.ActBlockIP || evs[0].Threshold != 80 || evs[0].TenantID != ten.ID {
		t.Fatalf("containment events: %+v", evs)
	}
	// an alert with the address: the intel hit is in the reasons and becomes a sighting
	alert := fmt.Sprintf(`{"metadata":{"eventType":"DetectionSummaryEvent","eventCreationTime":%d},"event":{"ComputerName":"WS-0001",`+
		`"UserName":"user1","DetectName":"Command and control beacon","DetectId":"ldt:intel:1","Severity":3,"SeverityName":"Medium",`+
		`"LocalIP":"10.0.0.5","NetworkAccesses":[{"RemoteAddress":"203.0.113.66","RemotePort":443,"ConnectionDirection":0}]}}`, time.Now().UnixMilli())
	if code := ingest.do("POST", "/api/v1/alerts", alert, nil); code != 202 {
		t.Fatalf("ingest: %d", code)
	}
	id := intel.IndicatorID("ipv4", "203.0.113.66")
	var in socbot.IntelIndicator
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && in.SightingCount == 0 {
		time.Sleep(100 * time.Millisecond)
		analystB.do("GET", "/api/v1/intel/indicators/"+id, nil, &in)
	}
	if in.SightingCount != 1 || len(in.Sightings) != 1 || in.Sightings[0].Source != "triage" || in.Sightings[0].SeenBy != ten.ID {
		t.Fatalf("sighting from triage: %+v", in)
	}
	var incs struct{ Incidents []socbot.Incident }
	analystA.do("GET", "/api/v1/incidents", nil, &incs)
	if len(incs.Incidents) == 0 || !strings.Contains(strings.Join(incs.Incidents[0].Reasons, "\n"), "threat-intel indicator ipv4 203.0.113.66") {
		t.Fatalf("incident reasons lack the intel hit: %+v", incs.Incidents)
	}
	// firewall list and TAXII on node B, for the client's viewer
	body := viewerB.raw("GET", "/api/v1/edl/ip")
	if !strings.Contains(body, "203.0.113.66\n") {
		t.Fatalf("EDL: %q", body)
	}
	body = viewerB.raw("GET", "/taxii2/"+ten.ID+"/collections/indicators/objects/", "Accept", "application/taxii+json;version=2.1")
	if !strings.Contains(body, "203.0.113.66") {
		t.Fatalf("TAXII: %s", body)
	}
	// the command line imports into the same database; both running nodes catch up
	list := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(list, []byte("# partner list\ncli-imported-c2.net\n"), 0o600)
	imp := &intelImportCmd{storeFlags: storeFlags{Data: data, DB: db}, Tenant: "acme", Source: "partner", Format: "auto", Reliability: 90,
		Confidence: 90, TLP: "green", NoProgress: true, Inputs: []string{list}}
	if err := imp.Run(&Globals{LogLevel: "error"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []apiClient{analystA, analystB} {
		deadline = time.Now().Add(15 * time.Second)
		hits.Matches = nil
		for time.Now().Before(deadline) && len(hits.Matches) == 0 {
			time.Sleep(50 * time.Millisecond)
			c.do("POST", "/api/v1/intel/match", map[string]any{"values": []string{"www.cli-imported-c2.net"}}, &hits)
		}
		if len(hits.Matches) != 1 || hits.Matches[0].Why != "subdomain" {
			t.Fatalf("%s does not match the command line's import: %+v", c.url, hits)
		}
	}
}

// raw sends a request with the client's token and returns the body as text (non-JSON answers).
func (c apiClient) raw(method, path string, hdr ...string) string {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}
