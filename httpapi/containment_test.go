package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	_ "github.com/socbot/socbot/containment/fakeconn" // connector type "memory"
	"github.com/socbot/socbot/containment/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/sqlstore"
)

var _ service.Store = (*sqlstore.Store)(nil)

// withContainment gives the API a containment service over the test store (credentials sealed with a
// keyring in a temporary directory) and returns it.
func withContainment(t *testing.T, e *env) *service.Service {
	t.Helper()
	if svc, ok := e.api.Containment.(*service.Service); ok {
		return svc
	}
	keys, err := secrets.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(context.Background(), service.Config{Store: e.store, Sealer: keys, Log: quiet, EDLRoot: filepath.Join(t.TempDir(), "edl"),
		Executor: containment.ExecutorConfig{BaseBackoff: 10 * time.Millisecond, CallTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	e.api.Containment = svc
	return svc
}

const secretKey = "GLOBEX-SECRET-API-KEY-0001"

// containmentVictim gives tenant B a connector (with credentials), an action waiting for approval, a
// playbook and a never-block entry, each carrying the matrix marker.
func containmentVictim(t *testing.T, e *env) map[string]string {
	t.Helper()
	svc := withContainment(t, e)
	ctx := context.Background()
	b := e.tenant["globex"].ID
	admin := socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}
	bAnalyst := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: b, Name: "test:globex-analyst"}
	// Ids used in paths carry no marker (a "not found" may echo the id the caller sent); the objects do.
	if _, _, err := svc.PutConnector(ctx, admin, b, socbot.ConnectorConfig{ID: "b-fw", Type: "memory", BaseURL: "https://" + marker + ".example",
		Options: map[string]string{"fault_rate": "0"}, Credentials: map[string]string{"api_key": secretKey}}, marker); err != nil {
		t.Fatal(err)
	}
	ans, err := svc.RequestAction(ctx, bAnalyst, b, socbot.ContainmentAsk{Kind: socbot.ActBlockDomain, Value: marker + ".example", Reason: marker, Confidence: 10})
	if err != nil || len(ans.Actions) != 1 || ans.Actions[0].State != "awaiting_approval" {
		t.Fatalf("seeding B's action: %+v %v", ans, err)
	}
	pb := "name: b-pb\nversion: 1\ndescription: " + marker + "\ntrigger: 'false'\nsteps:\n  - id: n\n    notify: {message: " + marker + "}\n"
	if _, err := svc.PutPlaybook(ctx, admin, b, []byte(pb), marker); err != nil {
		t.Fatal(err)
	}
	nb, err := svc.AddNeverBlock(ctx, bAnalyst, b, []socbot.NeverBlockEntry{{Value: marker + "-vip.example", Comment: marker}}, marker)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"actions": fmt.Sprint(ans.Actions[0].ID), "connectors": "b-fw", "playbooks": "b-pb",
		"never-block": fmt.Sprint(nb[0].ID)}
}

func init() { victimSeeders = append(victimSeeders, containmentVictim) }

// bodyForContainment gives the containment routes valid bodies, so that a refusal is about the tenant.
func bodyForContainment(method, path string) []byte {
	switch {
	case method == "POST" && path == "/actions":
		return []byte(`{"kind":"block_ip","value":"198.51.100.77","confidence":99,"reason":"pwned"}`)
	case path == "/actions/{id}/approve", path == "/actions/{id}/deny", path == "/actions/{id}/remove", path == "/incidents/{id}/rollback":
		return []byte(`{"comment":"pwned"}`)
	case method == "POST" && path == "/connectors", method == "PUT" && path == "/connectors/{id}":
		return []byte(`{"id":"pwned","type":"memory","credentials":{"api_key":"pwned"}}`)
	case path == "/connectors/{id}/plan":
		return []byte(`{"kind":"block_ip","value":"198.51.100.77"}`)
	case method == "POST" && path == "/playbooks":
		return []byte(`{"source":"name: pwned\nversion: 9\ntrigger: 'true'\nsteps:\n  - id: n\n    notify: {message: pwned}\n"}`)
	case method == "POST" && path == "/never-block":
		return []byte(`{"value":"pwned.example"}`)
	}
	return nil
}

// containmentState is everything of tenant B's containment that a route could change or leak.
func containmentState(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	b := e.tenant["globex"].ID
	as, err1 := e.store.ListActions(ctx, containment.ActionFilter{TenantID: b})
	cs, err2 := e.store.ListConnectors(ctx, b)
	pbs, err3 := e.store.Playbooks(ctx, b)
	nb, err4 := e.store.NeverBlock(ctx, b)
	mssp, err5 := e.store.NeverBlock(ctx, "")
	lib, err6 := e.store.Playbooks(ctx, "")
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			t.Fatal(err)
		}
	}
	out, _ := json.Marshal([]any{as, cs, pbs, nb, mssp, lib})
	return string(out)
}

func isContainmentRoute(path string) bool {
	for _, p := range []string{"/actions", "/approvals", "/connectors", "/playbooks", "/never-block", "/incidents/{id}/rollback"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// TestContainmentIsolation: tenant A's roles cannot reach tenant B's connectors, credentials,
// actions, approvals, playbooks or never-block lists through any containment route, naming B or
// using B's ids in A's own scope, and nothing of B's changes. B's own analyst does see them, so the
// test can fail.
func TestContainmentIsolation(t *testing.T) {
	e := newEnv(t)
	ids := seedVictim(t, e)
	before := containmentState(t, e)
	victim := e.tenant["globex"]
	n := 0
	for _, rt := range e.api.Routes() {
		if !isContainmentRoute(rt.Path) {
			continue
		}
		path := rt.Path
		if strings.Contains(path, "{id}") {
			path = strings.Replace(path, "{id}", ids[strings.Split(strings.TrimPrefix(path, "/"), "/")[0]], 1)
		}
		for _, role := range []string{"analyst", "viewer", "ingest"} {
			for _, scope := range []string{"?tenant=" + victim.ID, "?tenant=" + victim.Name, ""} {
				r := e.do(rt.Method, "/api/v1"+path+scope, e.tokens["acme/"+role], bodyFor(rt.Method, rt.Path))
				n++
				low := bytes.ToLower(r.body)
				if bytes.Contains(low, []byte(marker)) || bytes.Contains(r.body, []byte(secretKey)) {
					t.Errorf("%s %s%s as acme/%s revealed tenant B's data: %d %s", rt.Method, path, scope, role, r.code, r.body)
				}
				if scope != "" && r.code < 400 {
					t.Errorf("%s %s%s as acme/%s: status %d, want a refusal", rt.Method, path, scope, role, r.code)
				}
				if scope == "" && strings.Contains(rt.Path, "{id}") && r.code < 400 {
					t.Errorf("%s %s as acme/%s reached B's object: %d %s", rt.Method, path, role, r.code, r.body)
				}
			}
		}
	}
	if after := containmentState(t, e); after != before {
		t.Errorf("tenant B's containment changed under tenant A's requests:\nbefore %s\nafter  %s", before, after)
	}
	if n < 100 {
		t.Fatalf("only %d requests: routes missing?", n)
	}
	// The same routes do work for B's own analyst.
	bt := e.tokens["globex/analyst"]
	for _, c := range []struct{ path, want string }{
		{"/api/v1/connectors/" + ids["connectors"], marker + ".example"},
		{"/api/v1/actions/" + ids["actions"], marker + ".example"},
		{"/api/v1/approvals", marker + ".example"},
		{"/api/v1/playbooks/" + ids["playbooks"], marker},
		{"/api/v1/never-block", marker + "-vip.example"},
	} {
		r := e.do("GET", c.path, bt, nil)
		if r.code != 200 || !strings.Contains(string(r.body), c.want) {
			t.Fatalf("B's analyst GET %s: %d %s", c.path, r.code, r.body)
		}
		if strings.Contains(string(r.body), secretKey) {
			t.Fatalf("GET %s shows a credential: %s", c.path, r.body)
		}
	}
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	r.json(t, &v)
	return v
}

// TestContainmentOverHTTP walks the whole flow through the API: an admin configures a connector
// (credentials accepted, never returned), an analyst requests, a second analyst approves, the
// executor applies, the action is removed; dry runs change nothing; denials carry their comment;
// never-block lists refuse; playbooks are uploaded in versions; roles are enforced.
func TestContainmentOverHTTP(t *testing.T) {
	e := newEnv(t)
	svc := withContainment(t, e)
	admin, an, viewer, ingest := e.tokens["admin"], e.tokens["acme/analyst"], e.tokens["acme/viewer"], e.tokens["acme/ingest"]
	an2 := e.token("acme", socbot.RoleAnalyst) // a second analyst (replaces the map entry, not an)
	drain := func() {
		t.Helper()
		for i := 0; i < 50; i++ {
			n, err := svc.Bot().Executor().RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}

	// Connectors: admin only; credentials never come back.
	body := `{"id":"edge","type":"memory","credentials":{"api_key":"ACME-KEY-123"},"timeout":"5s","reason":"onboarding"}`
	if r := e.do("POST", "/api/v1/connectors", an, []byte(body)); r.code != 403 {
		t.Fatalf("analyst created a connector: %d", r.code)
	}
	r := e.do("POST", "/api/v1/connectors?tenant=acme", admin, []byte(body))
	if r.code != 201 || strings.Contains(string(r.body), "ACME-KEY-123") || !strings.Contains(string(r.body), `"credential_keys":["api_key"]`) {
		t.Fatalf("create connector: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/connectors?tenant=acme", admin, []byte(body)); r.code != 409 {
		t.Fatalf("second create: %d", r.code)
	}
	for _, tok := range []string{an, viewer} {
		r := e.do("GET", "/api/v1/connectors", tok, nil)
		if r.code != 200 || !strings.Contains(string(r.body), `"id":"edge"`) || strings.Contains(string(r.body), "ACME-KEY") {
			t.Fatalf("list connectors: %d %s", r.code, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/connectors", ingest, nil); r.code != 403 {
		t.Fatalf("ingest listed connectors: %d", r.code)
	}
	// Update without credentials keeps them (the connector still builds), and the audit log has no secret.
	if r := e.do("PUT", "/api/v1/connectors/edge?tenant=acme", admin, []byte(`{"type":"memory","timeout":"3s"}`)); r.code != 200 || !strings.Contains(string(r.body), `"credential_keys":["api_key"]`) {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	aud := e.do("GET", "/api/v1/audit?tenant=acme", admin, nil)
	if !strings.Contains(string(aud.body), "containment.connector.create") || strings.Contains(string(aud.body), "ACME-KEY-123") {
		t.Fatalf("audit: %s", aud.body)
	}

	// Dry run: planned changes, nothing stored.
	r = e.do("POST", "/api/v1/actions", an, []byte(`{"kind":"block_ip","value":"203.0.113.7","ttl":"1h","dry_run":true}`))
	if r.code != 200 || !strings.Contains(string(r.body), `"change":"add block_ip:203.0.113.7 ttl=1h0m0s"`) {
		t.Fatalf("dry run: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/actions", an, nil); !strings.Contains(string(r.body), `"actions":[]`) {
		t.Fatalf("a dry run stored something: %s", r.body)
	}
	if r := e.do("POST", "/api/v1/connectors/edge/plan", an, []byte(`{"kind":"block_ip","value":"203.0.113.7"}`)); r.code != 200 || !strings.Contains(string(r.body), "add block_ip") {
		t.Fatalf("plan: %d %s", r.code, r.body)
	}

	// Request -> approval by another analyst -> applied -> removed.
	if r := e.do("POST", "/api/v1/actions", viewer, []byte(`{"kind":"block_ip","value":"203.0.113.7"}`)); r.code != 403 {
		t.Fatalf("viewer requested: %d", r.code)
	}
	r = e.do("POST", "/api/v1/actions", an, []byte(`{"kind":"block_ip","value":"203.0.113.7","ttl":"1h","reason":"c2","confidence":40}`))
	ans := decode[socbot.ContainmentAnswer](t, r)
	if r.code != 201 || len(ans.Actions) != 1 || ans.Actions[0].State != "awaiting_approval" || ans.Actions[0].RequiredApprovals != 1 {
		t.Fatalf("request: %d %s", r.code, r.body)
	}
	id := ans.Actions[0].ID
	if r := e.do("GET", "/api/v1/approvals", viewer, nil); r.code != 200 || !strings.Contains(string(r.body), "203.0.113.7") {
		t.Fatalf("pending: %d %s", r.code, r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/actions/%d/approve", id), an, nil); r.code != 403 {
		t.Fatalf("requester approved own request: %d %s", r.code, r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/actions/%d/approve", id), viewer, nil); r.code != 403 {
		t.Fatalf("viewer approved: %d", r.code)
	}
	r = e.do("POST", fmt.Sprintf("/api/v1/actions/%d/approve", id), an2, []byte(`{"comment":"confirmed with the client"}`))
	if a := decode[socbot.ContainmentAction](t, r); r.code != 200 || a.State != "approved" || a.Approvals[0].Comment != "confirmed with the client" {
		t.Fatalf("approve: %d %s", r.code, r.body)
	}
	drain()
	r = e.do("GET", fmt.Sprintf("/api/v1/actions/%d", id), viewer, nil)
	a := decode[socbot.ContainmentAction](t, r)
	if a.State != "applied" || len(a.Attempts) != 1 || a.Attempts[0].Outcome != socbot.OutcomeApplied || a.ExpiresAt == nil {
		t.Fatalf("after the executor: %s", r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/actions/%d/remove", id), an, []byte(`{"reason":"client asked"}`)); r.code != 200 {
		t.Fatalf("remove: %d %s", r.code, r.body)
	}
	drain()
	if a := decode[socbot.ContainmentAction](t, e.do("GET", fmt.Sprintf("/api/v1/actions/%d", id), an, nil)); a.State != "removed" {
		t.Fatalf("after removal: %+v", a)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/actions/%d/remove", id), an, nil); r.code != 409 {
		t.Fatalf("removing twice: %d", r.code)
	}

	// Deny with a comment.
	r = e.do("POST", "/api/v1/actions", an, []byte(`{"kind":"block_domain","value":"evil.example","confidence":10}`))
	did := decode[socbot.ContainmentAnswer](t, r).Actions[0].ID
	r = e.do("POST", fmt.Sprintf("/api/v1/actions/%d/deny", did), an2, []byte(`{"comment":"it is the client's CDN"}`))
	if a := decode[socbot.ContainmentAction](t, r); a.State != "denied" || !strings.Contains(a.Detail, "client's CDN") {
		t.Fatalf("deny: %s", r.body)
	}

	// Never-block: the tenant's list refuses a block; the MSSP-wide list is for admins.
	if r := e.do("POST", "/api/v1/never-block", viewer, []byte(`{"value":"198.51.100.10"}`)); r.code != 403 {
		t.Fatalf("viewer changed the never-block list: %d", r.code)
	}
	r = e.do("POST", "/api/v1/never-block", an, []byte(`{"entries":[{"value":"198.51.100.10","comment":"our NAT"}],"reason":"egress"}`))
	if r.code != 201 {
		t.Fatalf("never-block add: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/api/v1/actions", an, []byte(`{"kind":"block_ip","value":"198.51.100.10","confidence":99}`))
	if a := decode[socbot.ContainmentAnswer](t, r).Actions[0]; a.State != "denied" || !strings.Contains(a.Detail, "never-block") {
		t.Fatalf("block of a never-block value: %s", r.body)
	}
	if r := e.do("POST", "/api/v1/never-block", admin, []byte(`{"value":"192.0.2.0/24"}`)); r.code != 201 {
		t.Fatalf("admin MSSP-wide add: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/never-block", an, nil); strings.Contains(string(r.body), "192.0.2.0/24") {
		t.Fatalf("a tenant sees the MSSP-wide list: %s", r.body)
	}
	list := decode[struct{ Entries []socbot.NeverBlockEntry }](t, e.do("GET", "/api/v1/never-block", an, nil))
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/never-block/%d", list.Entries[0].ID), an, nil); r.code != 204 {
		t.Fatalf("never-block delete: %d", r.code)
	}

	// A connector with live actions cannot be deleted.
	r = e.do("POST", "/api/v1/actions", an, []byte(`{"kind":"block_ip","value":"203.0.113.99","confidence":99}`))
	if a := decode[socbot.ContainmentAnswer](t, r).Actions[0]; a.State != "approved" {
		t.Fatalf("high confidence: %s", r.body)
	}
	drain()
	if r := e.do("DELETE", "/api/v1/connectors/edge?tenant=acme", admin, nil); r.code != 409 {
		t.Fatalf("deleting a connector with a live block: %d %s", r.code, r.body)
	}

	// Playbooks: versions, YAML upload, admin only.
	yaml := "name: acme-c2\nversion: 1\ntrigger: 'incident.confidence > 50'\nsteps:\n  - id: tell\n    notify: {message: hi}\n"
	if r := e.do("POST", "/api/v1/playbooks", an, []byte(`{"source":"x"}`)); r.code != 403 {
		t.Fatalf("analyst uploaded a playbook: %d", r.code)
	}
	if r := e.do("POST", "/api/v1/playbooks?tenant=acme&reason=first", admin, []byte(yaml), "Content-Type", "application/yaml"); r.code != 201 {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/playbooks?tenant=acme", admin, []byte(yaml), "Content-Type", "application/yaml"); r.code != 409 {
		t.Fatalf("same version again: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/playbooks?tenant=acme", admin, []byte("name: bad\nversion: 1\ntrigger: 'nope('\nsteps: []\n"), "Content-Type", "application/yaml"); r.code != 400 {
		t.Fatalf("invalid playbook: %d %s", r.code, r.body)
	}
	v2 := strings.Replace(yaml, "version: 1", "version: 2", 1)
	b, _ := json.Marshal(PlaybookUpload{Source: v2, Reason: "tuned"})
	if r := e.do("POST", "/api/v1/playbooks?tenant=acme", admin, b); r.code != 201 {
		t.Fatalf("v2: %d %s", r.code, r.body)
	}
	pl := decode[struct{ Playbooks []socbot.PlaybookInfo }](t, e.do("GET", "/api/v1/playbooks", viewer, nil))
	names := map[string]socbot.PlaybookInfo{}
	for _, p := range pl.Playbooks {
		names[p.Name] = p
	}
	if p := names["acme-c2"]; p.Version != 2 || fmt.Sprint(p.Versions) != "[1 2]" || p.TenantID == "" {
		t.Fatalf("tenant playbook: %+v", p)
	}
	if p := names["c2-address"]; !p.Builtin || p.TenantID != "" {
		t.Fatalf("default library missing: %+v", pl.Playbooks)
	}
	r = e.do("GET", "/api/v1/playbooks/acme-c2?version=1", an, nil, "Accept", "application/yaml")
	if r.code != 200 || string(r.body) != yaml {
		t.Fatalf("get v1 as YAML: %d %q", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/playbooks/acme-c2?version=7", an, nil); r.code != 404 {
		t.Fatalf("missing version: %d", r.code)
	}
	if r := e.do("GET", "/api/v1/actions", ingest, nil); r.code != 403 {
		t.Fatalf("ingest read the ledger: %d", r.code)
	}
}

func TestContainmentUnavailable(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/actions", "/api/v1/approvals", "/api/v1/connectors", "/api/v1/playbooks", "/api/v1/never-block"} {
		if r := e.do("GET", p, e.tokens["acme/analyst"], nil); r.code != 503 {
			t.Errorf("GET %s without the bot: %d %s", p, r.code, r.body)
		}
	}
}
