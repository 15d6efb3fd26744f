package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
	_ "github.com/socbot/socbot/containment/fakeconn" // connector type "memory"
	"github.com/socbot/socbot/intel"
)

// apiClient talks to a node's API with one token.
type apiClient struct {
	t     *testing.T
	url   string
	token string
}

func (c apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 400 && out == nil {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// newTestToken creates a token directly in the node's store.
func newTestToken(t *testing.T, n *node, tenantID string, role socbot.Role, name string) string {
	t.Helper()
	secret, hash := socbot.NewTokenSecret()
	tok := socbot.Token{Role: role, TenantID: tenantID, Hash: hash, Prefix: secret[:12], Name: name}
	if err := n.store.CreateToken(context.Background(), &tok, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestServeContainsEndToEnd runs a real node: an alert posted to the ingest API becomes an incident,
// the incident reaches the containment bot through the store feed, the default c2-address playbook
// blocks the address on the tenant's connector (configured through the API), the steps land on the
// incident's timeline, and closing the incident as a false positive removes the block.
func TestServeContainsEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { serveContains(t, "") })
	t.Run("postgres", func(t *testing.T) { serveContains(t, postgresURL(t)) })
}

func serveContains(t *testing.T, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", DB: db, Bots: knownBots(), Partitions: 1,
		Containment: ContainmentConfig{BaseBackoff: "50ms", CallTimeout: "2s"}}
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ten := socbot.Tenant{Name: "acme"}
	if err := n.store.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	admin := apiClient{t, n.URL(), newTestToken(t, n, "", socbot.RoleAdmin, "admin")}
	analyst := apiClient{t, n.URL(), newTestToken(t, n, ten.ID, socbot.RoleAnalyst, "ana")}
	ingest := apiClient{t, n.URL(), newTestToken(t, n, ten.ID, socbot.RoleIngest, "edr")}

	if code := admin.do("POST", "/api/v1/connectors?tenant=acme", map[string]any{"id": "edge", "type": "memory"}, nil); code != 201 {
		t.Fatalf("connector: %d", code)
	}
	if code := analyst.do("POST", "/api/v1/indicators", map[string]any{"type": "cidr", "value": "203.0.113.0/24", "list": "bad", "description": "C2 range"}, nil); code >= 300 {
		t.Fatalf("indicator: %d", code)
	}
	time.Sleep(300 * time.Millisecond) // triage reloads tenant configuration on its version bump
	if code := ingest.do("POST", "/api/v1/alerts", c2Alert(1, "203.0.113.66", time.Now()), nil); code != 202 {
		t.Fatalf("ingest: %d", code)
	}
	var action socbot.ContainmentAction
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var list struct{ Actions []socbot.ContainmentAction }
		analyst.do("GET", "/api/v1/actions", nil, &list)
		if len(list.Actions) > 0 && list.Actions[0].State == "applied" {
			action = list.Actions[0]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if action.ID == 0 {
		var list any
		analyst.do("GET", "/api/v1/actions", nil, &list)
		t.Fatalf("no applied action: %v", list)
	}
	if action.Value != "203.0.113.66" || action.ConnectorID != "edge" || !strings.HasPrefix(action.PlaybookStep, "c2-address@v1/") || action.IncidentID == 0 {
		t.Fatalf("action %+v", action)
	}
	var tl struct{ Timeline []socbot.TimelineEntry }
	analyst.do("GET", fmt.Sprintf("/api/v1/incidents/%d/timeline", action.IncidentID), nil, &tl)
	kinds := map[string]bool{}
	for _, e := range tl.Timeline {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"playbook_started", "playbook_step", "containment_requested", "containment_applied"} {
		if !kinds[k] {
			t.Fatalf("timeline lacks %s: %+v", k, tl.Timeline)
		}
	}
	// False positive: the block is rolled back.
	if code := analyst.do("PATCH", fmt.Sprintf("/api/v1/incidents/%d", action.IncidentID), map[string]any{"status": "false_positive", "reason": "pentest"}, nil); code != 200 {
		t.Fatalf("close: %d", code)
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		analyst.do("GET", fmt.Sprintf("/api/v1/actions/%d", action.ID), nil, &action)
		if action.State == "removed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if action.State != "removed" || !strings.Contains(action.Detail, "false positive") {
		t.Fatalf("after false positive: %+v", action)
	}
	var audit struct{ Entries []socbot.AuditEntry }
	admin.do("GET", "/api/v1/audit?tenant=acme", nil, &audit)
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[e.Action] = true
	}
	for _, a := range []string{"containment.connector.create", "containment.request", "containment.applied", "containment.expire", "containment.removed"} {
		if !seen[a] && !(a == "containment.expire" && seen["containment.remove"]) {
			t.Errorf("audit log lacks %s: %v", a, seen)
		}
	}
}

// TestServeEDLLists: an external dynamic list connector configured through the API keeps its list
// under the data directory, and the node serves it at /edl/<tenant>/<connector>/<file> to firewalls
// with the connector's Basic-auth credentials, and to nobody else.
func TestServeEDLLists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Bots: []string{"containment"}, Partitions: 1}
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ten := socbot.Tenant{Name: "acme"}
	if err := n.store.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	admin := apiClient{t, n.URL(), newTestToken(t, n, "", socbot.RoleAdmin, "admin")}
	analyst := apiClient{t, n.URL(), newTestToken(t, n, ten.ID, socbot.RoleAnalyst, "ana")}
	body := map[string]any{"id": "lists", "type": "edl", "options": map[string]string{"dir": "/etc"}, "credentials": map[string]string{"username": "pa", "password": "edl-pass"}}
	if code := admin.do("POST", "/api/v1/connectors?tenant=acme", body, nil); code != 400 {
		t.Fatalf("an edl connector writing outside the data directory: %d", code)
	}
	delete(body, "options")
	if code := admin.do("POST", "/api/v1/connectors?tenant=acme", body, nil); code != 201 {
		t.Fatalf("edl connector: %d", code)
	}
	var ans socbot.ContainmentAnswer
	if code := analyst.do("POST", "/api/v1/actions", map[string]any{"kind": "block_ip", "value": "203.0.113.44", "confidence": 95}, &ans); code != 201 {
		t.Fatalf("request: %d", code)
	}
	url := n.URL() + "/edl/" + ten.ID + "/lists/soc-block-ip.txt"
	get := func(user, pass string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, list := get("pa", "edl-pass"); code == 200 && strings.Contains(list, "203.0.113.44") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, list := get("pa", "edl-pass"); code != 200 || !strings.Contains(list, "203.0.113.44") {
		t.Fatalf("list: %d %q", code, list)
	}
	if code, _ := get("", ""); code != 401 {
		t.Fatalf("without credentials: %d", code)
	}
	if code, _ := get("pa", "wrong"); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	other := socbot.Tenant{Name: "globex"}
	if err := n.store.CreateTenant(ctx, &other, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	url = n.URL() + "/edl/" + other.ID + "/lists/soc-block-ip.txt"
	if code, list := get("pa", "edl-pass"); code != 401 || strings.Contains(list, "203.0.113.44") {
		t.Fatalf("another tenant's path: %d %q", code, list)
	}
}

// TestServeIntelHandOff: an indicator the intel bot hands to containment (on JetStream) becomes a
// block on the tenant's connector, requested by bot:intel through the rails and the approval policy;
// a hand-off for a tenant without a connector for it is acknowledged and dropped.
func TestServeIntelHandOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Bots: []string{"containment"}, Partitions: 1}
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	js := n.bus.JetStream()
	// The intel bot's stream (it creates it when it runs; this node does not run intel).
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: intel.ContainmentStream, Subjects: []string{intel.ContainmentSubject + ".>"},
		Storage: jetstream.FileStorage, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ten := socbot.Tenant{Name: "acme"}
	if err := n.store.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	admin := apiClient{t, n.URL(), newTestToken(t, n, "", socbot.RoleAdmin, "admin")}
	analyst := apiClient{t, n.URL(), newTestToken(t, n, ten.ID, socbot.RoleAnalyst, "ana")}
	if code := admin.do("POST", "/api/v1/connectors?tenant=acme", map[string]any{"id": "edge", "type": "memory"}, nil); code != 201 {
		t.Fatalf("connector: %d", code)
	}
	publish := func(ev intel.ContainmentEvent) {
		b, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, ev.Subject(), b, jetstream.WithMsgID(ev.DedupeKey)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	publish(intel.ContainmentEvent{TenantID: ten.ID, Type: "domain", Value: "nowhere.example", Action: socbot.ActBlockSender, Score: 95, Threshold: 80,
		Confidence: 95, At: now, DedupeKey: "k0"}) // the memory connector blocks any kind; a sender is fine
	publish(intel.ContainmentEvent{TenantID: "no-such-tenant", Type: "ipv4", Value: "203.0.113.8", Action: socbot.ActBlockIP, Score: 95, Threshold: 80,
		Confidence: 95, At: now, DedupeKey: "k1"})
	publish(intel.ContainmentEvent{TenantID: ten.ID, Type: "ipv4", Value: "203.0.113.7", Action: socbot.ActBlockIP, Score: 92, Threshold: 80,
		Confidence: 95, Sources: []string{"abuse.ch"}, ValidUntil: now.Add(6 * time.Hour), At: now, DedupeKey: "k2"})
	var got socbot.ContainmentAction
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var list struct{ Actions []socbot.ContainmentAction }
		analyst.do("GET", "/api/v1/actions", nil, &list)
		for _, a := range list.Actions {
			if a.Value == "203.0.113.7" && a.State == "applied" {
				got = a
			}
		}
		if got.ID != 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.ID == 0 || got.RequestedBy != "bot:intel" || !strings.Contains(got.Reason, "abuse.ch") || got.ExpiresAt == nil ||
		got.ExpiresAt.Sub(now) < 5*time.Hour || got.ExpiresAt.Sub(now) > 7*time.Hour {
		t.Fatalf("intel hand-off: %+v", got)
	}
}

// TestServeIntelFanOut: an MSSP-wide indicator handed to containment becomes a block for every tenant
// whose own threshold its score reaches and whose client TLP allows its marking, and for no other.
func TestServeIntelFanOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	zero, high := 0, 99
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Bots: []string{"containment"}, Partitions: 1}
	cfg.Intel = IntelConfig{ContainmentThreshold: 80, Tenants: map[string]IntelTenantSettings{
		"optout": {ContainmentThreshold: &zero}, "strict": {ContainmentThreshold: &high}, "greenonly": {ClientTLP: "green"}}}
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	for _, name := range []string{"acme", "globex", "optout", "strict", "greenonly"} {
		ten := socbot.Tenant{Name: name}
		if err := n.store.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
			t.Fatal(err)
		}
	}
	js := n.bus.JetStream()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: intel.ContainmentStream, Subjects: []string{intel.ContainmentSubject + ".>"},
		Storage: jetstream.FileStorage, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	admin := apiClient{t, n.URL(), newTestToken(t, n, "", socbot.RoleAdmin, "admin")}
	for _, name := range []string{"acme", "globex", "optout", "strict", "greenonly"} {
		if code := admin.do("POST", "/api/v1/connectors?tenant="+name, map[string]any{"id": "edge", "type": "memory"}, nil); code != 201 {
			t.Fatalf("connector of %s: %d", name, code)
		}
	}
	now := time.Now().UTC()
	ev := intel.ContainmentEvent{Type: "ipv4", Value: "203.0.113.66", Action: socbot.ActBlockIP, Score: 90, Threshold: 80, Confidence: 95,
		TLP: intel.TLPAmber, Sources: []string{"mssp-c2"}, ValidUntil: now.Add(6 * time.Hour), At: now, DedupeKey: "mssp-1"}
	b, _ := json.Marshal(ev)
	if _, err := js.Publish(ctx, ev.Subject(), b, jetstream.WithMsgID(ev.DedupeKey)); err != nil {
		t.Fatal(err)
	}
	blocked := func() map[string]bool {
		var list struct{ Actions []socbot.ContainmentAction }
		admin.do("GET", "/api/v1/actions", nil, &list)
		got := map[string]bool{}
		for _, a := range list.Actions {
			if a.Value == "203.0.113.66" && a.State == "applied" && a.RequestedBy == "bot:intel" && strings.Contains(a.Reason, "MSSP-wide") {
				ten, err := n.store.Tenant(ctx, a.TenantID)
				if err != nil {
					t.Fatal(err)
				}
				got[ten.Name] = true
			}
		}
		return got
	}
	want := map[string]bool{"acme": true, "globex": true}
	deadline := time.Now().Add(30 * time.Second)
	var got map[string]bool
	for time.Now().Before(deadline) {
		if got = blocked(); len(got) >= len(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // give a wrong fan-out the time to show
	if got = blocked(); !maps.Equal(got, want) {
		t.Fatalf("fanned out to %v, want %v", got, want)
	}
}
