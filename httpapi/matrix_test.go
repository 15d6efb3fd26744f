package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

const marker = "globex-secret"

// victimSeeders let feature test files seed tenant B with their own objects for the matrix: each
// returns resource name (the first path segment, e.g. "actions") -> id of B's object.
var victimSeeders []func(t *testing.T, e *env) map[string]string

// seedVictim gives tenant B one of everything, each carrying a marker no response to A may contain.
func seedVictim(t *testing.T, e *env) map[string]string {
	t.Helper()
	ctx := context.Background()
	b := e.tenant["globex"].ID
	ids := map[string]string{"tenants": b}
	inc := seedIncident(t, e.store, b)
	if _, err := e.store.UpdateIncident(ctx, b, inc.ID, socbot.IncidentUpdate{Title: ptr(marker + " incident")}, rootP); err != nil {
		t.Fatal(err)
	}
	ids["incidents"] = fmt.Sprint(inc.ID)
	alerts, _ := e.store.Alerts(ctx, socbot.AlertFilter{TenantID: b})
	ids["alerts"] = fmt.Sprint(alerts[0].ID)
	if _, err := e.store.UpsertAssets(ctx, b, []socbot.Asset{{Hostname: marker + "-db"}}, rootP); err != nil {
		t.Fatal(err)
	}
	assets, _ := e.store.Assets(ctx, b, 0, 0)
	ids["assets"] = fmt.Sprint(assets[0].ID)
	items := []socbot.ListIndicator{{Type: "domain", Value: "globex-secret.example", Description: marker}}
	if _, err := e.store.AddListIndicators(ctx, b, items, rootP); err != nil {
		t.Fatal(err)
	}
	ids["indicators"] = fmt.Sprint(items[0].ID)
	supp := socbot.SuppressionRule{TenantID: b, Name: marker, Expression: "false", Reason: marker, Enabled: true}
	if err := e.store.CreateSuppression(ctx, &supp, rootP); err != nil {
		t.Fatal(err)
	}
	ids["suppressions"] = fmt.Sprint(supp.ID)
	route := socbot.RoutingRule{TenantID: b, Name: marker, Expression: "false", Queue: marker}
	if err := e.store.CreateRoutingRule(ctx, &route, rootP); err != nil {
		t.Fatal(err)
	}
	ids["routing-rules"] = fmt.Sprint(route.ID)
	ch := socbot.Channel{TenantID: b, Name: marker, Kind: socbot.ChannelWebhook, Target: "https://globex-secret.example/hook", Secret: "s", Enabled: true}
	if err := e.store.CreateChannel(ctx, &ch, rootP); err != nil {
		t.Fatal(err)
	}
	ids["channels"] = fmt.Sprint(ch.ID)
	if err := e.store.CreateQueue(ctx, &socbot.Queue{TenantID: b, Name: marker}, rootP); err != nil {
		t.Fatal(err)
	}
	toks, _ := e.store.Tokens(ctx, b)
	ids["tokens"] = toks[0].ID
	for _, seed := range victimSeeders {
		for k, v := range seed(t, e) {
			ids[k] = v
		}
	}
	return ids
}

func ptr[T any](v T) *T { return &v }

// snapshot is everything of tenant B that any endpoint could change.
func snapshot(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	b := e.tenant["globex"].ID
	var parts []any
	add := func(v any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, v)
	}
	add(e.store.Tenant(ctx, b))
	add(e.store.Incidents(ctx, socbot.IncidentFilter{TenantID: b}))
	add(e.store.Alerts(ctx, socbot.AlertFilter{TenantID: b}))
	add(e.store.Assets(ctx, b, 0, 0))
	add(e.store.ListIndicators(ctx, b))
	add(e.store.Suppressions(ctx, b))
	add(e.store.RoutingRules(ctx, b))
	add(e.store.Channels(ctx, b))
	add(e.store.Queues(ctx, b))
	add(e.store.Notifications(ctx, b, 1000))
	toks, err := e.store.Tokens(ctx, b)
	for i := range toks {
		toks[i].LastUsedAt = nil
	}
	add(toks, err)
	incs, _ := e.store.Incidents(ctx, socbot.IncidentFilter{TenantID: b})
	for _, inc := range incs {
		add(e.store.Timeline(ctx, b, inc.ID))
	}
	out, _ := json.Marshal(parts)
	return string(out)
}

// bodyFor gives each writing route a valid body, so that a refusal is about the tenant, not the input.
func bodyFor(method, path string) []byte {
	switch {
	case method == "POST" && path == "/alerts":
		return []byte(wazuhAlert)
	case method == "PATCH" && path == "/incidents/{id}":
		return []byte(`{"status":"acknowledged","title":"pwned"}`)
	case path == "/incidents/{id}/notes":
		return []byte(`{"text":"pwned"}`)
	case method == "POST" && path == "/tenants", method == "PATCH" && path == "/tenants/{id}":
		return []byte(`{"name":"pwned"}`)
	case method == "POST" && path == "/tokens":
		return []byte(`{"role":"admin"}`)
	case method == "POST" && path == "/users":
		return []byte(`{"email":"x@pwned.example","role":"admin"}`)
	case method == "POST" && path == "/assets":
		return []byte("hostname\npwned-host\n")
	case method == "POST" && path == "/indicators":
		return []byte(`{"type":"ip","value":"198.51.100.1","list":"good"}`)
	case method == "POST" && path == "/suppressions", method == "PATCH" && path == "/suppressions/{id}":
		return []byte(`{"name":"pwned","expression":"true","reason":"pwned"}`)
	case method == "POST" && path == "/queues":
		return []byte(`{"name":"pwned"}`)
	case method == "POST" && path == "/routing-rules":
		return []byte(`{"expression":"true","queue":"pwned"}`)
	case method == "POST" && path == "/channels":
		return []byte(`{"name":"pwned","kind":"slack","target":"https://pwned.example"}`)
	case isContainmentRoute(path):
		return bodyForContainment(method, path)
	case isIntelRoute(path):
		return bodyForIntel(method, path)
	case method == "POST" && path == "/logs":
		return []byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\pwned.exe"}}}` + "\n")
	case method == "POST" && path == "/reports":
		return []byte(`{"period":"2026-10","audience":"management"}`)
	case method == "POST" && path == "/report-schedules":
		return []byte(`{"cadence":"monthly","recipients":["pwned@pwned.example"]}`)
	case method == "PUT" && path == "/report-branding":
		return []byte(`{"display_name":"pwned","primary_color":"#000000"}`)
	}
	return nil
}

// TestTenantIsolationMatrix sends every route, as every tenant-bound role of tenant A, at tenant B's
// objects: once naming B with ?tenant= and once in A's own scope with B's ids. None may reveal B's
// data or change anything of B's.
func TestTenantIsolationMatrix(t *testing.T) {
	e := newEnv(t)
	ids := seedVictim(t, e)
	seedIncident(t, e.store, e.tenant["acme"].ID)
	before := snapshot(t, e)
	victim := e.tenant["globex"]
	checked := 0
	for _, rt := range e.api.Routes() {
		path := rt.Path
		if strings.Contains(path, "{id}") {
			resource := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
			id, ok := ids[resource]
			if !ok {
				t.Fatalf("matrix has no victim object for %s: extend seedVictim", path)
			}
			path = strings.Replace(path, "{id}", id, 1)
		}
		for _, role := range []string{"analyst", "viewer", "ingest"} {
			tok := e.tokens["acme/"+role]
			for _, scope := range []string{"?tenant=" + victim.ID, "?tenant=" + victim.Name, ""} {
				r := e.do(rt.Method, "/api/v1"+path+scope, tok, bodyFor(rt.Method, rt.Path))
				checked++
				if strings.Contains(strings.ToLower(string(r.body)), marker) {
					t.Errorf("%s %s%s as acme/%s revealed tenant B's data: %d %s", rt.Method, path, scope, role, r.code, r.body)
				}
				if scope != "" && r.code < 400 && rt.Path != "/whoami" {
					t.Errorf("%s %s%s as acme/%s: status %d, want a refusal", rt.Method, path, scope, role, r.code)
				}
				if scope == "" && strings.Contains(rt.Path, "{id}") && r.code < 400 {
					t.Errorf("%s %s as acme/%s reached B's object: status %d", rt.Method, path, role, r.code)
				}
			}
		}
	}
	if after := snapshot(t, e); after != before {
		t.Errorf("tenant B changed under tenant A's requests:\nbefore %s\nafter  %s", before, after)
	}
	if len(e.sink.alerts) > 0 {
		for _, a := range e.sink.alerts {
			if a.TenantID == victim.ID {
				t.Errorf("an alert was ingested into tenant B")
			}
		}
	}
	t.Logf("%d requests across %d routes", checked, len(e.api.Routes()))

	// The matrix must be able to fail: B's own analyst does see B's data through the same routes.
	r := e.do("GET", "/api/v1/incidents/"+ids["incidents"], e.tokens["globex/analyst"], nil)
	if r.code != 200 || !strings.Contains(string(r.body), marker) {
		t.Fatalf("tenant B's analyst cannot read B's incident: %d %s", r.code, r.body)
	}
	// And A's own analyst can work A's data.
	if r := e.do("POST", "/api/v1/assets", e.tokens["acme/analyst"], []byte("hostname\nacme-web\n")); r.code != 200 {
		t.Fatalf("acme analyst cannot import assets: %d %s", r.code, r.body)
	}
	_ = time.Now
}
