package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/httpapi"
	"github.com/socbot/socbot/report"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/storetest"
	"github.com/socbot/socbot/triage"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const password = "correct horse battery staple"

// marker is in every object of tenant B (globex); no response to tenant A's users may contain it.
const marker = "globex-secret"

var rootP = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:root"}

// triageSink is the real ingest path without the bus: alerts accepted by the API go straight to the
// triage bot, one batch per request.
type triageSink struct {
	bot *triage.Bot
	seq atomic.Uint64
}

func (s *triageSink) Submit(ctx context.Context, tenantID string, alerts []socbot.Alert) error {
	return s.bot.Handle(ctx, []socbot.AlertBatch{{Stream: "console-test", Seq: s.seq.Add(1), TenantID: tenantID, Alerts: alerts}})
}

// fakeApprovals is an in-memory approval gate with the containment bot's rules: tenant scope, analysts
// and admins decide, the requester cannot approve, one approval per person.
type fakeApprovals struct {
	mu      sync.Mutex
	actions map[int64]*socbot.PendingAction
}

func (f *fakeApprovals) Pending(_ context.Context, p socbot.Principal, tenantID string) ([]socbot.PendingAction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tenantID != "" && !p.CanAccessTenant(tenantID) {
		return nil, socbot.E("fake", socbot.KindNotFound, "tenant not found")
	}
	var out []socbot.PendingAction
	for id := int64(1); id <= int64(len(f.actions)); id++ {
		a := f.actions[id]
		if a == nil || a.State != "awaiting_approval" || !p.CanAccessTenant(a.TenantID) || (tenantID != "" && a.TenantID != tenantID) {
			continue
		}
		out = append(out, *a)
	}
	return out, nil
}

func (f *fakeApprovals) decide(p socbot.Principal, tenantID string, id int64, approve bool) (socbot.PendingAction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.actions[id]
	if a == nil || !p.CanAccessTenant(a.TenantID) || (tenantID != "" && a.TenantID != tenantID) {
		return socbot.PendingAction{}, socbot.E("fake", socbot.KindNotFound, "action not found")
	}
	if p.Role != socbot.RoleAdmin && p.Role != socbot.RoleAnalyst {
		return *a, socbot.E("fake", socbot.KindForbidden, "cannot decide")
	}
	if a.State != "awaiting_approval" {
		return *a, socbot.E("fake", socbot.KindConflict, "not awaiting approval")
	}
	if p.Name == a.RequestedBy {
		return *a, socbot.E("fake", socbot.KindForbidden, "the requester cannot approve")
	}
	if !approve {
		a.State = "denied"
		return *a, nil
	}
	a.Approvers = append(a.Approvers, p.Name)
	if len(a.Approvers) >= a.Required {
		a.State = "approved"
	}
	return *a, nil
}

func (f *fakeApprovals) Approve(_ context.Context, p socbot.Principal, tenantID string, id int64, _ string) (socbot.PendingAction, error) {
	return f.decide(p, tenantID, id, true)
}

func (f *fakeApprovals) Deny(_ context.Context, p socbot.Principal, tenantID string, id int64, _ string) (socbot.PendingAction, error) {
	return f.decide(p, tenantID, id, false)
}

func (f *fakeApprovals) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for id := int64(1); id <= int64(len(f.actions)); id++ {
		a := f.actions[id]
		fmt.Fprintf(&b, "%d:%s:%s:%v;", id, a.TenantID, a.State, a.Approvers)
	}
	return b.String()
}

var _ socbot.ApprovalQueue = (*fakeApprovals)(nil)

// fakePDF stands in for Chromium where a test does not need a real PDF.
type fakePDF struct{}

func (fakePDF) PDF(_ context.Context, html []byte) ([]byte, error) {
	return append([]byte("%PDF-1.7 fake\n"), html...), nil
}

type env struct {
	t         testing.TB
	srv       *httptest.Server
	store     *sqlstore.Store
	con       *Console
	api       *httpapi.Server
	clock     *storetest.Clock
	tenant    map[string]socbot.Tenant
	ingest    map[string]string // tenant name -> ingest token
	approvals *fakeApprovals
	reports   *report.Service
	ids       map[string]string // globex's object ids by resource
}

type envOpts struct {
	printer  report.Printer
	noIntel  bool
	clockNow time.Time
}

// users of the test: every role of both tenants and an MSSP admin.
var users = []struct {
	email, tenant string
	role          socbot.Role
}{
	{"admin@mssp.example", "", socbot.RoleAdmin},
	{"ana@acme.example", "acme", socbot.RoleAnalyst},
	{"bo@acme.example", "acme", socbot.RoleAnalyst},
	{"vic@acme.example", "acme", socbot.RoleViewer},
	{"gus@globex.example", "globex", socbot.RoleAnalyst},
	{"val@globex.example", "globex", socbot.RoleViewer},
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "console.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	now := o.clockNow
	if now.IsZero() {
		now = time.Now().UTC()
	}
	clock := storetest.NewClock(now)
	store := sqlstore.New(db, sqlstore.SQLite, clock, quiet)
	e := &env{t: t, store: store, clock: clock, tenant: map[string]socbot.Tenant{}, ingest: map[string]string{}, ids: map[string]string{},
		approvals: &fakeApprovals{actions: map[int64]*socbot.PendingAction{}}}
	bot := triage.New(store, nil, clock, quiet, triage.Config{}, nil)
	e.api, err = httpapi.New(httpapi.Deps{Store: store, Sink: &triageSink{bot: bot}, Clock: clock, Logger: quiet}, httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	printer := o.printer
	if printer == nil {
		printer = fakePDF{}
	}
	e.reports = report.New(store, printer, nil, clock, quiet, report.Config{})
	e.api.Reports = e.reports
	e.con, err = New(Deps{Store: store, Console: store, Reports: func() socbot.ReportService { return e.reports },
		Approvals: func() socbot.ApprovalQueue { return e.approvals }, Clock: clock, Logger: quiet}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.api.Mount("/", e.con.Handler())
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(func() { e.srv.Close(); store.Close() })
	for _, name := range []string{"acme", "globex"} {
		tn := socbot.Tenant{Name: name, TimeZone: "Europe/Berlin"}
		if err := store.CreateTenant(ctx, &tn, rootP); err != nil {
			t.Fatal(err)
		}
		e.tenant[name] = tn
		secret, hash := socbot.NewTokenSecret()
		if err := store.CreateToken(ctx, &socbot.Token{Role: socbot.RoleIngest, TenantID: tn.ID, Hash: hash, Prefix: secret[:12]}, rootP); err != nil {
			t.Fatal(err)
		}
		e.ingest[name] = secret
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	for _, u := range users {
		user := socbot.User{Email: u.email, Role: u.role, TenantID: e.tenant[u.tenant].ID}
		if err := store.CreateUser(ctx, &user, string(hash), rootP); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// wazuh returns a Wazuh alert for host with title; extra is spliced into the record's data object.
func wazuh(id int, title, host, srcip, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"timestamp":"%s","rule":{"level":12,"description":%q,"id":"5712","mitre":{"id":["T1110"],"tactic":["Credential Access"]}},"agent":{"id":"%03d","name":%q,"ip":"10.0.0.%d"},"data":{"srcip":%q%s},"id":"%d.1"}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000-0700"), title, id, host, id%250, srcip, extra, id)
}

// post ingests NDJSON through the real API.
func (e *env) post(tenant string, records ...string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/alerts", strings.NewReader(strings.Join(records, "\n")))
	req.Header.Set("Authorization", "Bearer "+e.ingest[tenant])
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || !bytes.Contains(body, []byte(`"rejected":[]`)) && bytes.Contains(body, []byte(`"error"`)) {
		e.t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
}

// seed gives both tenants incidents through the real ingest path, and globex one of everything the
// console shows, each carrying the marker.
func (e *env) seed() {
	e.t.Helper()
	ctx := context.Background()
	e.post("acme", wazuh(1, "Brute force against acme-web", "acme-web-01", "203.0.113.50", ""),
		wazuh(2, "Malware on acme laptop", "acme-lt-07", "198.51.100.23", ""))
	e.post("globex", wazuh(3, marker+" ransomware staging", marker+"-db", "192.0.2.77", ""))
	b := e.tenant["globex"].ID
	incs, err := e.store.Incidents(ctx, socbot.IncidentFilter{TenantID: b})
	if err != nil || len(incs) == 0 {
		e.t.Fatalf("globex has no incident: %v", err)
	}
	e.ids["incidents"] = fmt.Sprint(incs[0].ID)
	if _, err := e.store.AddNote(ctx, b, incs[0].ID, marker+" note", rootP); err != nil {
		e.t.Fatal(err)
	}
	rule := socbot.SuppressionRule{TenantID: b, Name: marker, Expression: "false", Reason: marker, Enabled: true}
	if err := e.store.CreateSuppression(ctx, &rule, rootP); err != nil {
		e.t.Fatal(err)
	}
	e.ids["suppressions"] = fmt.Sprint(rule.ID)
	if _, err := e.store.UpsertAssets(ctx, b, []socbot.Asset{{Hostname: marker + "-db", Criticality: "high"}}, rootP); err != nil {
		e.t.Fatal(err)
	}
	if err := e.reports.SetBranding(ctx, socbot.ReportBranding{TenantID: b, DisplayName: marker + " Inc"}, rootP); err != nil {
		e.t.Fatal(err)
	}
	run, err := e.reports.Generate(ctx, socbot.ReportRequest{TenantID: b, Period: e.clock.Now().Format("2006-01"), Audience: "technical"}, rootP)
	if err != nil {
		e.t.Fatal(err)
	}
	e.ids["reports"] = fmt.Sprint(run.ID)
	sc := socbot.ReportSchedule{TenantID: b, Cadence: "monthly", Recipients: []string{marker + "@globex.example"}}
	if err := e.reports.CreateSchedule(ctx, &sc, rootP); err != nil {
		e.t.Fatal(err)
	}
	e.ids["schedules"] = fmt.Sprint(sc.ID)
	a := e.tenant["acme"].ID
	acmeIncs, _ := e.store.Incidents(ctx, socbot.IncidentFilter{TenantID: a})
	e.approvals.actions[1] = &socbot.PendingAction{ID: 1, TenantID: a, IncidentID: acmeIncs[len(acmeIncs)-1].ID, Kind: socbot.ActBlockIP, Value: "203.0.113.50",
		ConnectorID: "acme-panos", State: "awaiting_approval", RequestedBy: "bot:containment", Reason: "brute force source", Required: 1,
		DryRun:    []socbot.PlannedChange{{Connector: "acme-panos", Kind: socbot.ActBlockIP, Value: "203.0.113.50", Change: "POST /api/ type=user-id register 203.0.113.50 tag soc-block timeout=86400"}},
		CreatedAt: e.clock.Now()}
	e.approvals.actions[2] = &socbot.PendingAction{ID: 2, TenantID: b, Kind: socbot.ActBlockIP, Value: "192.0.2.77", ConnectorID: marker + "-fw",
		State: "awaiting_approval", RequestedBy: "bot:containment", Reason: marker, Required: 1, CreatedAt: e.clock.Now()}
	e.ids["approvals"] = "2"
}

// client is a signed-in browser-like HTTP client.
type client struct {
	e    *env
	http *http.Client
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

func (c *client) do(method, path string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	return resp{r.StatusCode, string(b), r.Header}
}

// login signs in and returns the client; it fails the test if sign-in does not succeed.
func (e *env) login(email string) *client {
	e.t.Helper()
	c := e.client()
	c.do("GET", "/login", nil)
	r := c.do("POST", "/login", url.Values{"csrf": {c.csrf}, "email": {email}, "password": {password}})
	if r.code != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", email, r.code, r.body)
	}
	c.do("GET", "/account", nil) // picks up the session's CSRF token
	return c
}

// post sends a form with the session's CSRF token.
func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", c.csrf)
	}
	return c.do("POST", path, form)
}
