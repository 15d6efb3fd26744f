package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSink is an in-memory AlertSink that can be told to fail.
type memSink struct {
	mu     sync.Mutex
	alerts []socbot.Alert
	fail   error
}

func (m *memSink) Submit(_ context.Context, tenantID string, alerts []socbot.Alert) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, a := range alerts {
		if a.TenantID != tenantID {
			panic("alert tenant differs from submission tenant")
		}
	}
	m.alerts = append(m.alerts, alerts...)
	return nil
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	api    *Server
	store  *sqlstore.Store
	sink   *memSink
	tokens map[string]string // "acme/analyst" -> secret
	tenant map[string]socbot.Tenant
}

var rootP = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:root"}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db, sqlstore.SQLite, socbot.SystemClock{}, quiet)
	sink := &memSink{}
	api, err := New(Deps{Store: store, Sink: sink, Logger: quiet}, Config{MaxBodyBytes: 1 << 20, MaxDecodedBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { srv.Close(); store.Close() })
	e := &env{t: t, srv: srv, api: api, store: store, sink: sink, tokens: map[string]string{}, tenant: map[string]socbot.Tenant{}}
	e.token("", socbot.RoleAdmin)
	for _, name := range []string{"acme", "globex"} {
		tn := socbot.Tenant{Name: name}
		if err := store.CreateTenant(context.Background(), &tn, rootP); err != nil {
			t.Fatal(err)
		}
		e.tenant[name] = tn
		for _, r := range []socbot.Role{socbot.RoleAnalyst, socbot.RoleViewer, socbot.RoleIngest} {
			e.token(name, r)
		}
	}
	return e
}

func (e *env) token(tenant string, role socbot.Role) string {
	secret, hash := socbot.NewTokenSecret()
	tok := socbot.Token{Role: role, TenantID: e.tenant[tenant].ID, Hash: hash, Prefix: secret[:12]}
	if err := e.store.CreateToken(context.Background(), &tok, rootP); err != nil {
		e.t.Fatal(err)
	}
	key := string(role)
	if tenant != "" {
		key = tenant + "/" + key
	}
	e.tokens[key] = secret
	return secret
}

type result struct {
	code int
	body []byte
}

func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.code, r.body)
	}
}

func (e *env) do(method, path, token string, body []byte, hdr ...string) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, b}
}

const wazuhAlert = `{"timestamp":"2026-11-02T10:00:00.000+0000","rule":{"level":12,"description":"Brute force","id":"5712","mitre":{"id":["T1110"],"tactic":["Credential Access"]}},"agent":{"id":"001","name":"web-01","ip":"10.0.0.7"},"data":{"srcip":"203.0.113.50"},"id":"1.2"}`

func TestIngestShapes(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["acme/ingest"]
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(wazuhAlert + "\n" + wazuhAlert + "\n"))
	zw.Close()
	tests := []struct {
		name   string
		body   []byte
		hdr    []string
		path   string
		code   int
		accept int
	}{
		{"object", []byte(wazuhAlert), nil, "", 202, 1},
		{"array", []byte("[" + wazuhAlert + "," + wazuhAlert + "]"), nil, "", 202, 2},
		{"ndjson", []byte(wazuhAlert + "\n\n" + wazuhAlert + "\r\n" + wazuhAlert), nil, "", 202, 3},
		{"gzip", gz.Bytes(), []string{"Content-Encoding", "gzip"}, "", 202, 2},
		{"named format", []byte(wazuhAlert), nil, "?format=wazuh", 202, 1},
	}
	for _, tc := range tests {
		r := e.do("POST", "/api/v1/alerts"+tc.path, tok, tc.body, tc.hdr...)
		if r.code != tc.code {
			t.Fatalf("%s: status %d: %s", tc.name, r.code, r.body)
		}
		var resp IngestResponse
		r.json(t, &resp)
		if resp.Accepted != tc.accept || len(resp.Rejected) != 0 {
			t.Fatalf("%s: %+v", tc.name, resp)
		}
	}
	if len(e.sink.alerts) != 9 {
		t.Fatalf("sink got %d alerts, want 9", len(e.sink.alerts))
	}
	a := e.sink.alerts[0]
	if a.TenantID != e.tenant["acme"].ID || a.UID == "" || a.ReceivedAt.IsZero() || a.Format != "wazuh" || a.Title != "Brute force" {
		t.Fatalf("alert not stamped: %+v", a)
	}
}

func TestIngestPartialAndErrors(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["acme/ingest"]
	// One good, one malformed, one with a wrong type: the good one is accepted, the others named.
	body := wazuhAlert + "\n{\"rule\": \n" + strings.Replace(wazuhAlert, `"level":12`, `"level":"very"`, 1) + "\n"
	r := e.do("POST", "/api/v1/alerts?format=wazuh", tok, []byte(body))
	if r.code != 202 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var resp IngestResponse
	r.json(t, &resp)
	if resp.Accepted != 1 || len(resp.Rejected) != 2 || resp.Rejected[0].Index != 1 || resp.Rejected[1].Index != 2 {
		t.Fatalf("%+v", resp)
	}
	if resp.Rejected[1].Field != "rule.level" || !strings.Contains(resp.Rejected[1].Error, "rule.level") {
		t.Fatalf("wrong-type error does not name the field: %+v", resp.Rejected[1])
	}
	if len(e.sink.alerts) != 1 {
		t.Fatalf("sink has %d alerts", len(e.sink.alerts))
	}

	cases := []struct {
		name, method, path, token string
		body                      []byte
		hdr                       []string
		code                      int
		kind                      string
	}{
		{"all bad", "POST", "/api/v1/alerts", tok, []byte("{nope"), nil, 400, ""},
		{"empty page", "POST", "/api/v1/alerts", tok, []byte(`{"value": []}`), nil, 202, ""},
		{"empty", "POST", "/api/v1/alerts", tok, nil, nil, 400, "invalid"},
		{"unknown format", "POST", "/api/v1/alerts?format=splunk", tok, []byte(wazuhAlert), nil, 400, "invalid"},
		{"oversized", "POST", "/api/v1/alerts", tok, bytes.Repeat([]byte(" "), 2<<20), nil, 413, "too_large"},
		{"gzip bomb", "POST", "/api/v1/alerts", tok, gzipped(bytes.Repeat([]byte(" "), 3<<20)), []string{"Content-Encoding", "gzip"}, 413, "too_large"},
		{"not gzip", "POST", "/api/v1/alerts", tok, []byte(wazuhAlert), []string{"Content-Encoding", "gzip"}, 400, "invalid"},
		{"brotli", "POST", "/api/v1/alerts", tok, []byte(wazuhAlert), []string{"Content-Encoding", "br"}, 415, "unsupported"},
		{"no token", "POST", "/api/v1/alerts", "", []byte(wazuhAlert), nil, 401, "unauthenticated"},
		{"bad token", "POST", "/api/v1/alerts", "sbt_nope", []byte(wazuhAlert), nil, 401, "unauthenticated"},
		{"viewer cannot ingest", "POST", "/api/v1/alerts", e.tokens["acme/viewer"], []byte(wazuhAlert), nil, 403, "forbidden"},
		{"ingest cannot read", "GET", "/api/v1/incidents", tok, nil, nil, 403, "forbidden"},
		{"admin must name tenant", "POST", "/api/v1/alerts", e.tokens["admin"], []byte(wazuhAlert), nil, 400, "invalid"},
		{"other tenant", "POST", "/api/v1/alerts?tenant=globex", tok, []byte(wazuhAlert), nil, 403, "forbidden"},
		{"unknown route", "GET", "/api/v1/nope", tok, nil, nil, 404, "not_found"},
		{"bad id", "GET", "/api/v1/incidents/abc", e.tokens["acme/analyst"], nil, nil, 400, "invalid"},
		{"malformed patch", "PATCH", "/api/v1/incidents/1", e.tokens["acme/analyst"], []byte(`{"status": 3}`), nil, 400, "invalid"},
		{"unknown field", "POST", "/api/v1/suppressions", e.tokens["acme/analyst"], []byte(`{"expr": "true"}`), nil, 400, "invalid"},
		{"bad CEL", "POST", "/api/v1/suppressions", e.tokens["acme/analyst"], []byte(`{"name":"x","reason":"y","expression":"alert.title +"}`), nil, 400, "invalid"},
	}
	for _, tc := range cases {
		r := e.do(tc.method, tc.path, tc.token, tc.body, tc.hdr...)
		if r.code != tc.code {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.code, tc.code, r.body)
			continue
		}
		if tc.kind != "" {
			var eb errorBody
			r.json(t, &eb)
			if eb.Error.Kind != tc.kind || eb.Error.Message == "" {
				t.Errorf("%s: error %+v, want kind %s", tc.name, eb, tc.kind)
			}
		}
	}
	// The bus refusing: 503 with Retry-After, nothing claimed accepted.
	e.sink.fail = socbot.E("bus", socbot.KindUnavailable, "stream full")
	r = e.do("POST", "/api/v1/alerts", tok, []byte(wazuhAlert))
	if r.code != 503 {
		t.Fatalf("bus failure: status %d", r.code)
	}
	// Still serving.
	if r := e.do("GET", "/healthz", "", nil); r.code != 200 {
		t.Fatal("server stopped serving")
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	if r.code != 200 {
		t.Fatalf("openapi.json: %d", r.code)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Roles []string `json:"x-socbot-roles"`
		} `json:"paths"`
	}
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	rolesOf := map[Perm][]string{PermRead: {"admin", "analyst", "viewer"}, PermStaff: {"admin", "analyst"}, PermWork: {"admin", "analyst"},
		PermAdmin: {"admin"}, PermIngest: {"admin", "ingest"}, PermAny: {"admin", "analyst", "viewer", "ingest"}}
	for _, rt := range e.api.Routes() {
		key := rt.Method + " " + rt.Path
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json", key)
			continue
		}
		delete(documented, key)
		got := doc.Paths[rt.Path][strings.ToLower(rt.Method)].Roles
		if fmt.Sprint(got) != fmt.Sprint(rolesOf[rt.Perm]) {
			t.Errorf("%s: openapi says roles %v, the route allows %v", key, got, rolesOf[rt.Perm])
		}
	}
	for key := range documented {
		t.Errorf("openapi.json documents %s, which is not a route", key)
	}
}

func TestTokensShownOnceAndRevoked(t *testing.T) {
	e := newEnv(t)
	admin := e.tokens["admin"]
	r := e.do("POST", "/api/v1/tokens", admin, []byte(`{"role":"analyst","tenant":"acme","name":"ann"}`))
	if r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var created CreatedToken
	r.json(t, &created)
	if !strings.HasPrefix(created.Secret, socbot.TokenPrefix) {
		t.Fatalf("no secret in %s", r.body)
	}
	if r := e.do("GET", "/api/v1/whoami", created.Secret, nil); r.code != 200 || !strings.Contains(string(r.body), e.tenant["acme"].ID) {
		t.Fatalf("new token does not work: %d %s", r.code, r.body)
	}
	list := e.do("GET", "/api/v1/tokens?tenant=acme", admin, nil)
	if strings.Contains(string(list.body), created.Secret) || strings.Contains(string(list.body), socbot.HashToken(created.Secret)) {
		t.Fatal("token listing shows the secret or its hash")
	}
	if r := e.do("POST", "/api/v1/tokens", admin, []byte(`{"role":"ingest"}`)); r.code != 400 {
		t.Fatalf("ingest token without tenant: %d", r.code)
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+created.ID, admin, nil); r.code != 204 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/whoami", created.Secret, nil); r.code != 401 {
		t.Fatalf("revoked token still works: %d", r.code)
	}
	exp := e.do("POST", "/api/v1/tokens", admin, []byte(`{"role":"viewer","tenant":"acme","expires_in":"1s"}`))
	var short CreatedToken
	exp.json(t, &short)
	time.Sleep(1100 * time.Millisecond)
	if r := e.do("GET", "/api/v1/whoami", short.Secret, nil); r.code != 401 {
		t.Fatalf("expired token still works: %d", r.code)
	}
}

func TestIncidentWorkflowOverHTTP(t *testing.T) {
	e := newEnv(t)
	inc := seedIncident(t, e.store, e.tenant["acme"].ID)
	an := e.tokens["acme/analyst"]
	r := e.do("GET", "/api/v1/incidents", an, nil)
	var list struct{ Incidents []map[string]any }
	r.json(t, &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("%s", r.body)
	}
	for _, f := range []string{"id", "number", "title", "priority", "status", "alert_count"} {
		if _, ok := list.Incidents[0][f]; !ok {
			t.Errorf("incident listing lacks %q", f)
		}
	}
	if list.Incidents[0]["priority"] != "P2" {
		t.Errorf("priority %v", list.Incidents[0]["priority"])
	}
	path := fmt.Sprintf("/api/v1/incidents/%d", inc.ID)
	if r := e.do("PATCH", path, an, []byte(`{"status":"acknowledged","assignee":"ann","reason":"on it"}`)); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := e.do("PATCH", path, an, []byte(`{"status":"new"}`)); r.code != 409 {
		t.Fatalf("backwards status: %d", r.code)
	}
	if r := e.do("POST", path+"/notes", an, []byte(`{"text":"called the client"}`)); r.code != 201 {
		t.Fatalf("note: %d %s", r.code, r.body)
	}
	if r := e.do("PATCH", path, e.tokens["acme/viewer"], []byte(`{"status":"resolved"}`)); r.code != 403 {
		t.Fatalf("viewer changed an incident: %d", r.code)
	}
	r = e.do("GET", path+"/timeline", e.tokens["acme/viewer"], nil)
	if r.code != 200 || !strings.Contains(string(r.body), "called the client") {
		t.Fatalf("timeline: %d %s", r.code, r.body)
	}
	r = e.do("GET", path+"/alerts", an, nil)
	if r.code != 200 || !strings.Contains(string(r.body), `"raw"`) && !strings.Contains(string(r.body), "Brute") {
		t.Fatalf("incident alerts: %d %s", r.code, r.body)
	}
	// Admins see every tenant's incidents without naming one.
	r = e.do("GET", "/api/v1/incidents", e.tokens["admin"], nil)
	r.json(t, &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("admin all-tenants view: %s", r.body)
	}
}

// seedIncident puts one incident with one alert into the tenant.
func seedIncident(t *testing.T, s *sqlstore.Store, tenantID string) socbot.Incident {
	t.Helper()
	now := time.Now().UTC()
	inc := socbot.Incident{TenantID: tenantID, Title: "Brute force on web-01", Priority: socbot.P2, Queue: socbot.DefaultQueue,
		AlertCount: 1, FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now}
	err := s.TriageTx(context.Background(), func(tx socbot.TriageTx) error {
		if err := tx.CreateIncident(&inc); err != nil {
			return err
		}
		a := &socbot.Alert{UID: socbot.NewID(), TenantID: tenantID, Format: "wazuh", Title: "Brute force", Severity: socbot.SeverityHigh,
			DetectedAt: now, ReceivedAt: now, Raw: []byte(wazuhAlert), Status: socbot.AlertOpen, IncidentID: inc.ID}
		return tx.InsertAlerts([]*socbot.Alert{a})
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}
