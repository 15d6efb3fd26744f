package triage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t      *testing.T
	store  *sqlstore.Store
	bot    *Bot
	clock  *clock
	tenant socbot.Tenant
	seq    uint64
}

var admin = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}

func newHarness(t *testing.T, enrichers ...socbot.Enricher) *harness {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	s := sqlstore.New(db, sqlstore.SQLite, c, quiet)
	t.Cleanup(func() { s.Close() })
	tn := socbot.Tenant{Name: "acme"}
	if err := s.CreateTenant(context.Background(), &tn, admin); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, store: s, clock: c, tenant: tn, bot: New(s, enrichers, c, quiet, Config{EnrichDeadline: 200 * time.Millisecond}, nil)}
}

// alert builds an alert with the given rule and observables ("host:ws-1", "user:bob", "ip:1.2.3.4").
func (h *harness) alert(rule string, sev socbot.Severity, obs ...string) socbot.Alert {
	a := socbot.Alert{UID: socbot.NewID(), TenantID: h.tenant.ID, Format: "crowdstrike", Vendor: "CrowdStrike", RuleID: rule,
		Title: "Detection " + rule, Severity: sev, SeverityScore: sev.Score(), DetectedAt: h.clock.Now(), ReceivedAt: h.clock.Now()}
	for _, o := range obs {
		typ, val, _ := strings.Cut(o, ":")
		role := socbot.AsTarget
		if typ == "ip" {
			role = socbot.AsDestination
		}
		a.AddObservable(socbot.ObservableType(typ), val, role)
	}
	return a
}

// send triages one bus message of alerts and returns them as stored.
func (h *harness) send(alerts ...socbot.Alert) []socbot.Alert {
	h.t.Helper()
	h.seq++
	if err := h.bot.Handle(context.Background(), []socbot.AlertBatch{{Stream: "S", Seq: h.seq, TenantID: h.tenant.ID, Alerts: alerts}}); err != nil {
		h.t.Fatal(err)
	}
	return alerts
}

func (h *harness) incidents() []socbot.Incident {
	h.t.Helper()
	list, err := h.store.Incidents(context.Background(), socbot.IncidentFilter{TenantID: h.tenant.ID, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

func (h *harness) incident(id int64) socbot.Incident {
	h.t.Helper()
	inc, err := h.store.Incident(context.Background(), h.tenant.ID, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return inc
}

func TestNewIncidentWithReasons(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.store.UpsertAssets(ctx, h.tenant.ID, []socbot.Asset{{Hostname: "db-01.corp.local", Criticality: "critical", CrownJewel: true, Owner: "dba"}}, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.AddListIndicators(ctx, h.tenant.ID, []socbot.ListIndicator{{Type: "ip", Value: "203.0.113.9", List: socbot.ListBad, Description: "known C2"}}, admin); err != nil {
		t.Fatal(err)
	}
	got := h.send(h.alert("r1", socbot.SeverityMedium, "host:db-01", "ip:203.0.113.9"))[0]
	if got.IncidentID == 0 || got.Status != socbot.AlertOpen {
		t.Fatalf("alert not placed in an incident: %+v", got)
	}
	// medium 50 + crown jewel 20 + block list 25 = 95 -> P1
	if got.Priority != socbot.P1 {
		t.Errorf("priority %s, want P1; reasons: %v", got.Priority, got.Reasons)
	}
	joined := strings.Join(got.Reasons, "\n")
	for _, want := range []string{"db-01 is a crown jewel", "203.0.113.9 is on the tenant's block list: known C2", "severity medium", "risk score 95"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons lack %q:\n%s", want, joined)
		}
	}
	inc := h.incident(got.IncidentID)
	if inc.Number != 1 || inc.Priority != socbot.P1 || inc.AlertCount != 1 || inc.Queue != socbot.DefaultQueue || inc.Status != socbot.StatusNew {
		t.Fatalf("incident: %+v", inc)
	}
	if inc.Title != "Detection r1 on db-01" {
		t.Errorf("title %q", inc.Title)
	}
	if inc.AckDue == nil || !inc.AckDue.Equal(h.clock.Now().Add(15*time.Minute)) {
		t.Errorf("P1 acknowledge deadline: %v", inc.AckDue)
	}
	stored, err := h.store.Alerts(ctx, socbot.AlertFilter{TenantID: h.tenant.ID})
	if err != nil || len(stored) != 1 || len(stored[0].Enrichment) != 2 || stored[0].Priority != socbot.P1 {
		t.Fatalf("stored alert: %+v %v", stored, err)
	}
	tl, _ := h.store.Timeline(ctx, h.tenant.ID, inc.ID)
	if len(tl) != 1 || tl[0].Kind != "created" || tl[0].Actor != "bot:triage" {
		t.Fatalf("timeline %+v", tl)
	}
	entries, _ := h.store.AuditEntries(ctx, h.tenant.ID, 0, 100)
	last := entries[len(entries)-1]
	if last.Action != "incident.create" || last.Actor != "bot:triage" || !strings.Contains(last.Reason, "crown jewel") {
		t.Fatalf("audit %+v", last)
	}
}

func TestDedupeAndCorrelation(t *testing.T) {
	h := newHarness(t)
	first := h.send(h.alert("r1", socbot.SeverityHigh, "host:ws-1", "user:bob"))[0]
	h.clock.Advance(time.Minute)
	// The same detection again, twice in one message: one group, counted.
	dups := h.send(h.alert("r1", socbot.SeverityHigh, "host:ws-1", "user:bob"), h.alert("r1", socbot.SeverityHigh, "host:ws-1", "user:bob"))
	for _, d := range dups {
		if d.Status != socbot.AlertDuplicate || d.GroupID != first.GroupID || d.IncidentID != first.IncidentID {
			t.Fatalf("repeat not folded into the group: %+v", d)
		}
	}
	// A different rule on the same host joins the incident, in a group of its own.
	other := h.send(h.alert("r2", socbot.SeverityLow, "host:WS-1"))[0]
	if other.IncidentID != first.IncidentID || other.GroupID == first.GroupID || other.Status != socbot.AlertOpen {
		t.Fatalf("correlated alert: %+v", other)
	}
	// Nothing shared: a new incident.
	lone := h.send(h.alert("r3", socbot.SeverityLow, "host:ws-9"))[0]
	if lone.IncidentID == first.IncidentID {
		t.Fatal("unrelated alert joined the incident")
	}
	inc := h.incident(first.IncidentID)
	if inc.AlertCount != 4 {
		t.Fatalf("alert count %d, want 4", inc.AlertCount)
	}
	st, _ := h.store.TriageState(context.Background(), h.tenant.ID, time.Time{})
	for _, g := range st.Groups {
		if g.ID == first.GroupID && g.Count != 3 {
			t.Fatalf("group count %d, want 3", g.Count)
		}
	}
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents, want 2", n)
	}
}

func TestMergeWhenIncidentsShareAnEntity(t *testing.T) {
	h := newHarness(t)
	a := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0]
	b := h.send(h.alert("r2", socbot.SeverityCritical, "user:mallory"))[0]
	if a.IncidentID == b.IncidentID {
		t.Fatal("setup: expected two incidents")
	}
	c := h.send(h.alert("r3", socbot.SeverityLow, "host:ws-1", "user:mallory"))[0]
	if c.IncidentID != a.IncidentID {
		t.Fatalf("bridging alert went to %d, want the older incident %d", c.IncidentID, a.IncidentID)
	}
	into, gone := h.incident(a.IncidentID), h.incident(b.IncidentID)
	if gone.Status != socbot.StatusMerged || gone.MergedInto != into.ID {
		t.Fatalf("merged incident: %+v", gone)
	}
	if into.AlertCount != 3 || into.Priority > b.Priority {
		t.Fatalf("surviving incident: count %d priority %s", into.AlertCount, into.Priority)
	}
	alerts, _ := h.store.Alerts(context.Background(), socbot.AlertFilter{TenantID: h.tenant.ID, IncidentID: into.ID})
	if len(alerts) != 3 {
		t.Fatalf("%d alerts on the surviving incident, want 3", len(alerts))
	}
	// Later alerts on the merged incident's entities land in the survivor.
	d := h.send(h.alert("r4", socbot.SeverityLow, "user:mallory"))[0]
	if d.IncidentID != into.ID {
		t.Fatalf("alert after merge went to %d", d.IncidentID)
	}
}

func TestMergeWithinOneMessage(t *testing.T) {
	h := newHarness(t)
	out := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"), h.alert("r2", socbot.SeverityHigh, "user:eve"),
		h.alert("r3", socbot.SeverityLow, "host:ws-1", "user:eve"))
	list := h.incidents()
	open := 0
	for _, inc := range list {
		if inc.Status != socbot.StatusMerged {
			open++
			if inc.AlertCount != 3 {
				t.Fatalf("surviving incident has %d alerts, want 3", inc.AlertCount)
			}
		}
	}
	if open != 1 {
		t.Fatalf("%d open incidents, want 1", open)
	}
	for _, a := range out {
		if a.IncidentID != out[0].IncidentID {
			t.Fatalf("alert stored against merged incident %d", a.IncidentID)
		}
	}
}

func TestWindow(t *testing.T) {
	h := newHarness(t)
	a := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0]
	h.clock.Advance(25 * time.Hour)
	b := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0]
	if a.IncidentID == b.IncidentID || b.Status != socbot.AlertOpen || a.GroupID == b.GroupID {
		t.Fatalf("alert after the 24 h window joined the old incident or group: %+v", b)
	}
}

func TestClosedIncidentStartsANewOne(t *testing.T) {
	h := newHarness(t)
	a := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0]
	fp := socbot.StatusFalsePositive
	if _, err := h.store.UpdateIncident(context.Background(), h.tenant.ID, a.IncidentID, socbot.IncidentUpdate{Status: &fp}, admin); err != nil {
		t.Fatal(err)
	}
	b := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0]
	if b.IncidentID == a.IncidentID || b.Status != socbot.AlertOpen {
		t.Fatalf("alert joined a closed incident: %+v", b)
	}
	if got := h.incident(a.IncidentID); got.AlertCount != 1 {
		t.Fatalf("closed incident changed: %+v", got)
	}
}

func TestSuppression(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rule := socbot.SuppressionRule{TenantID: h.tenant.ID, Name: "vuln scanner", Expression: `"scanner-01" in alert.hosts`, Reason: "weekly scan", Enabled: true}
	if err := h.store.CreateSuppression(ctx, &rule, admin); err != nil {
		t.Fatal(err)
	}
	out := h.send(h.alert("r1", socbot.SeverityHigh, "host:scanner-01"), h.alert("r1", socbot.SeverityHigh, "host:ws-1"))
	if out[0].Status != socbot.AlertSuppressed || out[0].IncidentID != 0 || !strings.Contains(out[0].Reasons[0], "weekly scan") {
		t.Fatalf("not suppressed: %+v", out[0])
	}
	if out[1].Status != socbot.AlertOpen || out[1].IncidentID == 0 {
		t.Fatalf("other alert: %+v", out[1])
	}
	got, _ := h.store.Suppression(ctx, h.tenant.ID, rule.ID)
	if got.Hits != 1 || got.LastHitAt == nil {
		t.Fatalf("hits %d", got.Hits)
	}
	// Disabling the rule takes effect on the next batch.
	got.Enabled = false
	if err := h.store.UpdateSuppression(ctx, got, admin); err != nil {
		t.Fatal(err)
	}
	again := h.send(h.alert("r1", socbot.SeverityHigh, "host:scanner-01"))[0]
	if again.Status == socbot.AlertSuppressed {
		t.Fatal("disabled rule still suppresses")
	}
}

func TestRedeliveryCreatesNothingTwice(t *testing.T) {
	h := newHarness(t)
	batch := []socbot.AlertBatch{{Stream: "S", Seq: 42, TenantID: h.tenant.ID, Alerts: []socbot.Alert{
		h.alert("r1", socbot.SeverityHigh, "host:ws-1"), h.alert("r2", socbot.SeverityHigh, "host:ws-2")}}}
	for i := 0; i < 3; i++ {
		if err := h.bot.Handle(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		h.bot.states = map[string]*tenantState{} // as after a restart
	}
	if n, _ := h.store.CountAlerts(context.Background(), h.tenant.ID); n != 2 {
		t.Fatalf("%d alerts stored, want 2", n)
	}
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents, want 2", n)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.store.CreateRoutingRule(ctx, &socbot.RoutingRule{TenantID: h.tenant.ID, Expression: `incident.priority == "P1"`, Queue: "ir"}, admin); err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateRoutingRule(ctx, &socbot.RoutingRule{Expression: `"crowdstrike" in incident.formats`, Queue: "edr"}, admin); err != nil {
		t.Fatal(err)
	}
	hot := h.send(h.alert("r1", socbot.SeverityCritical, "host:ws-1"))[0]
	cold := h.send(h.alert("r2", socbot.SeverityLow, "host:ws-2"))[0]
	if q := h.incident(hot.IncidentID).Queue; q != "ir" {
		t.Errorf("P1 incident in queue %q, want ir", q)
	}
	if q := h.incident(cold.IncidentID).Queue; q != "edr" {
		t.Errorf("MSSP-wide rule: queue %q, want edr", q)
	}
}

func TestSLAEscalation(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ch := socbot.Channel{TenantID: h.tenant.ID, Name: "soc", Kind: socbot.ChannelEmail, Target: "soc@acme.example",
		Events: []string{socbot.EventIncidentCreated, socbot.EventIncidentEscalated}, Enabled: true}
	if err := h.store.CreateChannel(ctx, &ch, admin); err != nil {
		t.Fatal(err)
	}
	a := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1"))[0] // P3: acknowledge within 4 h
	if n, _ := h.bot.CheckSLA(ctx); n != 0 {
		t.Fatalf("escalated %d before any deadline", n)
	}
	h.clock.Advance(5 * time.Hour)
	if n, err := h.bot.CheckSLA(ctx); err != nil || n != 1 {
		t.Fatalf("escalated %d, %v; want 1", n, err)
	}
	if n, _ := h.bot.CheckSLA(ctx); n != 0 {
		t.Fatalf("escalated again at the same level")
	}
	inc := h.incident(a.IncidentID)
	if inc.EscalationLevel != 1 || inc.Priority != socbot.P2 {
		t.Fatalf("after escalation: level %d priority %s", inc.EscalationLevel, inc.Priority)
	}
	log, _ := h.store.Notifications(ctx, h.tenant.ID, 10)
	if len(log) != 2 || log[0].Event != socbot.EventIncidentEscalated || !strings.Contains(log[0].Body, "acknowledge") {
		t.Fatalf("notifications: %+v", log)
	}
}

type slowEnricher struct{}

func (slowEnricher) Name() string { return "slow" }
func (slowEnricher) Enrich(ctx context.Context, _ string, _ *socbot.Alert) ([]socbot.Enrichment, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return nil, nil
	}
}

type intelEnricher struct{}

func (intelEnricher) Name() string { return "intel" }
func (intelEnricher) Enrich(_ context.Context, _ string, a *socbot.Alert) ([]socbot.Enrichment, error) {
	for _, o := range a.Observables {
		if o.Value == "198.51.100.66" {
			return []socbot.Enrichment{{Enricher: "intel", Observable: o.Key(), Verdict: socbot.VerdictMalicious, Score: 80, Detail: "198.51.100.66 is Feodo C2 (abuse.ch)"}}, nil
		}
	}
	return nil, fmt.Errorf("no hit")
}

func TestPluggableEnrichersAndDeadline(t *testing.T) {
	h := newHarness(t, intelEnricher{}, slowEnricher{})
	start := time.Now()
	got := h.send(h.alert("r1", socbot.SeverityLow, "ip:198.51.100.66"))[0]
	if time.Since(start) > 3*time.Second {
		t.Fatal("slow enricher held triage past its deadline")
	}
	joined := strings.Join(got.Reasons, "\n")
	if !strings.Contains(joined, "Feodo C2") || !strings.Contains(joined, "enrichment by slow") {
		t.Fatalf("reasons: %s", joined)
	}
	if got.IncidentID == 0 {
		t.Fatal("alert not triaged")
	}
}

func TestNotificationOnCreate(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ch := socbot.Channel{TenantID: h.tenant.ID, Name: "p1 only", Kind: socbot.ChannelSlack, Target: "https://hooks.slack.example/x",
		Events: []string{socbot.EventIncidentCreated}, MinPriority: socbot.P2, Enabled: true}
	if err := h.store.CreateChannel(ctx, &ch, admin); err != nil {
		t.Fatal(err)
	}
	h.send(h.alert("r1", socbot.SeverityLow, "host:ws-1"), h.alert("r1", socbot.SeverityLow, "host:ws-1"))
	h.send(h.alert("r9", socbot.SeverityCritical, "host:ws-7"))
	log, _ := h.store.Notifications(ctx, h.tenant.ID, 10)
	if len(log) != 1 || !strings.Contains(log[0].Subject, "#2") {
		t.Fatalf("want one notice for the critical incident only: %+v", log)
	}
}

func TestCorrelationExclusions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// Two hosts behind the client's NAT: without the exclusion the shared egress address would tie them.
	a := h.send(h.alert("r1", socbot.SeverityMedium, "host:ws-1", "ip:198.51.100.10"))[0]
	b := h.send(h.alert("r2", socbot.SeverityMedium, "host:ws-2", "ip:198.51.100.10"))[0]
	if a.IncidentID != b.IncidentID {
		t.Fatal("setup: the shared address should correlate without an exclusion")
	}
	tn, _ := h.store.Tenant(ctx, h.tenant.ID)
	tn.Settings.CorrelationExclude = []string{"198.51.100.0/24"}
	if err := h.store.UpdateTenant(ctx, tn, admin); err != nil {
		t.Fatal(err)
	}
	c := h.send(h.alert("r3", socbot.SeverityMedium, "host:ws-3", "ip:198.51.100.10"))[0]
	if c.IncidentID == a.IncidentID {
		t.Fatal("an excluded address still correlates")
	}
	if inc := h.incident(c.IncidentID); len(inc.Entities) != 1 || inc.Entities[0] != "host:ws-3" {
		t.Fatalf("entities %v", inc.Entities)
	}
}
