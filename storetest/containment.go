package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/ledgertest"
	"github.com/socbot/socbot/playbook"
)

// The containment bot's tables (migrations 0200 and 0201) on both engines: the ledger conformance
// suite every containment.Store passes (with the bot's behaviour over it), and what only the SQL
// store does: audit entries for every decision, database-enforced distinct approvers, playbook
// versions and runs, never-block lists, the incident feed, bot timeline entries and notices.
func init() {
	for _, tc := range ledgertest.Tests() {
		Add("Containment/"+tc.Name, func(t *testing.T, in Instance) { tc.Fn(t, ledgerEnv(t, in)) })
	}
	Add("ContainmentAudit", testContainmentAudit)
	Add("ContainmentDistinctApprovers", testContainmentDistinctApprovers)
	Add("ContainmentNeverBlock", testContainmentNeverBlock)
	Add("PlaybookVersions", testPlaybookVersions)
	Add("PlaybookRuns", testPlaybookRuns)
	Add("ContainmentIncidentFeed", testContainmentFeed)
	Add("ContainmentTimelineAndNotices", testContainmentTimeline)
}

// containmentStore is what the SQL store offers the containment bot beyond socbot.Store.
type containmentStore interface {
	containment.Store
	containment.NeverBlockStore
	containment.IncidentFeedStore
	containment.Timeline
	playbook.RunStore
	playbook.VersionStore
	NotifyContainment(ctx context.Context, tenantID string, incidentID int64, event, channel, subject, text string) (int, error)
}

func cstore(t *testing.T, in Instance) containmentStore {
	t.Helper()
	cs, ok := in.Store.(containmentStore)
	if !ok {
		t.Fatalf("%T does not implement the containment stores", in.Store)
	}
	return cs
}

func ledgerEnv(t *testing.T, in Instance) ledgertest.Env {
	return ledgertest.Env{Store: cstore(t, in), Clock: in.Clock,
		Tenant: func(t *testing.T, name string) string { return tenant(t, in.Store, name).ID }}
}

// audits returns the tenant's audit entries with the given action prefix.
func audits(t *testing.T, in Instance, tenantID, prefix string) []socbot.AuditEntry {
	t.Helper()
	es, err := in.Store.AuditEntries(ctx(), tenantID, 0, 10000)
	must(t, err)
	var out []socbot.AuditEntry
	for _, e := range es {
		if strings.HasPrefix(e.Action, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func testContainmentAudit(t *testing.T, in Instance) {
	cs := cstore(t, in)
	ten := tenant(t, in.Store, "acme").ID
	now := in.Clock.Now()
	ana := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: ten, Name: "user:ana"}
	bo := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: ten, Name: "user:bo"}
	c := containment.ConnectorInstance{TenantID: ten, ID: "fw", Type: "panos", SealedCredentials: []byte("sealed"), CreatedAt: now, UpdatedAt: now}
	must(t, cs.PutConnector(containment.WithAudit(ctx(), ana, "new firewall"), c))
	c.UpdatedAt = now.Add(time.Second)
	must(t, cs.PutConnector(containment.WithAudit(ctx(), ana, "moved"), c))

	a := containment.Action{TenantID: ten, Kind: socbot.ActBlockIP, Value: "203.0.113.7", ConnectorID: "fw", State: containment.StateAwaitingApproval,
		RequestedBy: "user:ana", Reason: "c2 address", RequiredApprovals: 1, CreatedAt: now, UpdatedAt: now}
	a, _, err := cs.CreateAction(ctx(), a)
	must(t, err)
	a.Approvals = append(a.Approvals, containment.Approval{By: "user:bo", At: now, Approved: true, Comment: "looks right"})
	a.State = containment.StateApproved
	saved, err := cs.UpdateActions(containment.WithAudit(ctx(), bo, "looks right"), []containment.Action{a})
	must(t, err)
	a = saved[0]
	a.State = containment.StateApplied
	saved, err = cs.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	a = saved[0]
	a.State, a.Detail = containment.StateExpiring, "removal asked by user:bo: false positive"
	_, err = cs.UpdateActions(containment.WithAudit(ctx(), bo, "false positive"), []containment.Action{a})
	must(t, err)
	d := containment.Action{TenantID: ten, Kind: socbot.ActBlockDomain, Value: "evil.example", ConnectorID: "fw", State: containment.StateAwaitingApproval,
		RequestedBy: "user:ana", RequiredApprovals: 1, CreatedAt: now, UpdatedAt: now}
	d, _, err = cs.CreateAction(ctx(), d)
	must(t, err)
	d.Approvals = append(d.Approvals, containment.Approval{By: "user:bo", At: now, Approved: false, Comment: "not malicious"})
	d.State = containment.StateDenied
	_, err = cs.UpdateActions(containment.WithAudit(ctx(), bo, "not malicious"), []containment.Action{d})
	must(t, err)
	must(t, cs.DeleteConnector(containment.WithAudit(ctx(), ana, "decommissioned"), ten, "fw"))

	es := audits(t, in, ten, "containment.")
	type row struct{ action, actor, reason string }
	var got []row
	for _, e := range es {
		got = append(got, row{e.Action, e.Actor, e.Reason})
		if strings.Contains(e.Details, "sealed") {
			t.Fatalf("audit entry shows credentials: %+v", e)
		}
	}
	want := []row{
		{"containment.connector.create", "user:ana", "new firewall"},
		{"containment.connector.update", "user:ana", "moved"},
		{"containment.request", "user:ana", "c2 address"},
		{"containment.approve", "user:bo", "looks right"},
		{"containment.applied", "bot:containment", ""},
		{"containment.remove", "user:bo", "false positive"},
		{"containment.request", "user:ana", ""},
		{"containment.deny", "user:bo", "not malicious"},
		{"containment.connector.delete", "user:ana", "decommissioned"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit entries:\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit entry %d: %+v, want %+v\nall: %v", i, got[i], want[i], got)
		}
	}
	var det map[string]any
	must(t, json.Unmarshal([]byte(es[5].Details), &det))
	if det["value"] != "203.0.113.7" || det["from"] != "applied" || det["state"] != "expiring" {
		t.Fatalf("removal details %v", det)
	}
	_, problems, err := in.Store.VerifyAudit(ctx())
	must(t, err)
	if len(problems) > 0 {
		t.Fatalf("audit chain broken: %v", problems)
	}
}

func testContainmentDistinctApprovers(t *testing.T, in Instance) {
	cs := cstore(t, in)
	ten := tenant(t, in.Store, "acme").ID
	now := in.Clock.Now()
	a, _, err := cs.CreateAction(ctx(), containment.Action{TenantID: ten, Kind: socbot.ActDisableUser, Value: "jdoe", ConnectorID: "idp",
		State: containment.StateAwaitingApproval, RequestedBy: "user:ana", RequiredApprovals: 2, CreatedAt: now, UpdatedAt: now})
	must(t, err)
	a.Approvals = append(a.Approvals, containment.Approval{By: "user:bo", At: now, Approved: true})
	saved, err := cs.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	// The bot refuses a second approval by the same person; the database refuses it too.
	a = saved[0]
	a.Approvals = append(a.Approvals, containment.Approval{By: "user:bo", At: now, Approved: true})
	a.State = containment.StateApproved
	_, err = cs.UpdateActions(ctx(), []containment.Action{a})
	wantKind(t, err, socbot.KindConflict)
	got, err := cs.GetAction(ctx(), ten, a.ID)
	must(t, err)
	if got.State != containment.StateAwaitingApproval || len(got.Approvals) != 1 {
		t.Fatalf("a duplicate approver moved the action: %+v", got)
	}
}

func testContainmentNeverBlock(t *testing.T, in Instance) {
	cs := cstore(t, in)
	a, b := tenant(t, in.Store, "acme").ID, tenant(t, in.Store, "globex").ID
	ana := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: a, Name: "user:ana"}
	got, err := cs.AddNeverBlock(containment.WithAudit(ctx(), ana, "our egress"), []socbot.NeverBlockEntry{
		{TenantID: a, Value: " 198.51.100.10 ", Comment: "NAT"}, {TenantID: a, Value: "Login.Acme.Example"}})
	must(t, err)
	if len(got) != 2 || got[0].ID == 0 || got[0].Value != "198.51.100.10" || got[1].Value != "login.acme.example" || got[0].CreatedBy != "user:ana" {
		t.Fatalf("%+v", got)
	}
	again, err := cs.AddNeverBlock(ctx(), []socbot.NeverBlockEntry{{TenantID: a, Value: "198.51.100.10"}})
	must(t, err)
	if len(again) != 1 || again[0].ID != got[0].ID {
		t.Fatalf("duplicate entry: %+v", again)
	}
	_, err = cs.AddNeverBlock(ctx(), []socbot.NeverBlockEntry{{TenantID: "", Value: "9.9.9.9"}, {TenantID: b, Value: "10.1.1.1"}})
	must(t, err)
	list, err := cs.NeverBlock(ctx(), a)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("tenant list %+v", list)
	}
	all, err := cs.AllNeverBlock(ctx())
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("all lists %+v", all)
	}
	_, err = cs.DeleteNeverBlock(ctx(), b, got[0].ID)
	wantKind(t, err, socbot.KindNotFound)
	del, err := cs.DeleteNeverBlock(containment.WithAudit(ctx(), ana, "moved NAT"), a, got[0].ID)
	must(t, err)
	if del.Value != "198.51.100.10" {
		t.Fatalf("deleted %+v", del)
	}
	if es := audits(t, in, a, "containment.never_block."); len(es) != 3 || es[2].Reason != "moved NAT" || es[0].Actor != "user:ana" {
		t.Fatalf("never-block audit %+v", es)
	}
}

func testPlaybookVersions(t *testing.T, in Instance) {
	cs := cstore(t, in)
	ten := tenant(t, in.Store, "acme").ID
	adm := socbot.Principal{Role: socbot.RoleAdmin, Name: "user:root"}
	src := func(v int) []byte {
		return []byte("name: c2\nversion: " + string(rune('0'+v)) + "\ntrigger: 'true'\nsteps:\n  - id: n\n    notify: {message: hi}\n")
	}
	c := containment.WithAudit(ctx(), adm, "tuned")
	must(t, cs.PutPlaybook(c, playbook.Stored{TenantID: ten, Name: "c2", Version: 1, Source: src(1)}))
	in.Clock.Advance(time.Second)
	mark := in.Clock.Now()
	in.Clock.Advance(time.Second)
	must(t, cs.PutPlaybook(c, playbook.Stored{TenantID: ten, Name: "c2", Version: 2, Source: src(2)}))
	wantKind(t, cs.PutPlaybook(c, playbook.Stored{TenantID: ten, Name: "c2", Version: 2, Source: src(2)}), socbot.KindConflict)
	wantKind(t, cs.PutPlaybook(c, playbook.Stored{TenantID: ten, Name: "c2", Version: 1, Source: src(1)}), socbot.KindConflict)
	in.Clock.Advance(time.Second)
	must(t, cs.PutPlaybook(c, playbook.Stored{TenantID: "", Name: "c2", Version: 1, Source: src(1)}))
	vs, err := cs.Playbooks(ctx(), ten)
	must(t, err)
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || string(vs[1].Source) != string(src(2)) || vs[0].CreatedBy != "user:root" {
		t.Fatalf("%+v", vs)
	}
	since, err := cs.PlaybooksSince(ctx(), mark)
	must(t, err)
	if len(since) != 2 || since[0].Version != 2 || since[1].TenantID != "" {
		t.Fatalf("since: %+v", since)
	}
	lib := playbook.NewLibrary()
	all, err := cs.PlaybooksSince(ctx(), time.Time{})
	must(t, err)
	if _, errs := lib.Load(all); len(errs) != 0 {
		t.Fatal(errs)
	}
	if p, ok := lib.Version(ten, "c2", 0); !ok || p.Version != 2 {
		t.Fatalf("library latest: %+v", p)
	}
	if es := audits(t, in, ten, "playbook.upload"); len(es) != 2 || es[1].Reason != "tuned" {
		t.Fatalf("playbook audit %+v", es)
	}
}

func testPlaybookRuns(t *testing.T, in Instance) {
	cs := cstore(t, in)
	ten := tenant(t, in.Store, "acme").ID
	now := in.Clock.Now()
	inc := socbot.Incident{ID: 5, TenantID: ten, Number: 5, Title: "c2", Priority: socbot.P1, Status: socbot.StatusNew, Confidence: 90}
	alert := socbot.Alert{UID: "a1", TenantID: ten, Title: "beacon", Severity: socbot.SeverityHigh, Priority: socbot.P2,
		Observables: []socbot.Observable{{Type: socbot.ObsIP, Value: "203.0.113.7", Role: socbot.AsDestination}}}
	r := playbook.Run{ID: "run-1", TenantID: ten, Playbook: "c2", Version: 1, IncidentID: 5, State: playbook.RunRunning, Incident: inc,
		Alerts: []socbot.Alert{alert}, StartedAt: now, UpdatedAt: now}
	created, err := cs.CreateRun(ctx(), r)
	must(t, err)
	dup := r
	dup.ID = "run-2"
	again, err := cs.CreateRun(ctx(), dup)
	must(t, err)
	if !created || again {
		t.Fatalf("create %v, again %v", created, again)
	}
	r.State, r.Cursor, r.ResumeAt, r.MinApprovals = playbook.RunWaiting, 3, now.Add(time.Minute), 1
	r.Outcomes = []playbook.Outcome{{Step: "enrich", Kind: "enrich", Status: "done", At: now}}
	must(t, cs.PutRun(ctx(), r))
	if due, _ := cs.DueRuns(ctx(), now); len(due) != 0 {
		t.Fatalf("run due before its time: %+v", due)
	}
	due, err := cs.DueRuns(ctx(), now.Add(2*time.Minute))
	must(t, err)
	if len(due) != 1 {
		t.Fatalf("due %+v", due)
	}
	d := due[0]
	if d.Cursor != 3 || d.MinApprovals != 1 || len(d.Outcomes) != 1 || d.Incident.Priority != socbot.P1 || d.Incident.Confidence != 90 ||
		len(d.Alerts) != 1 || d.Alerts[0].Severity != socbot.SeverityHigh || d.Alerts[0].Priority != socbot.P2 || d.Alerts[0].Observables[0].Role != socbot.AsDestination {
		t.Fatalf("run read back %+v", d)
	}
	// Handed out once: a second poll right after does not get it again.
	if again, _ := cs.DueRuns(ctx(), now.Add(2*time.Minute)); len(again) != 0 {
		t.Fatalf("run handed out twice: %+v", again)
	}
	// A run whose node stopped mid-way (running, not saved for a while) is handed out again.
	r2 := playbook.Run{ID: "run-3", TenantID: ten, Playbook: "other", Version: 1, IncidentID: 5, State: playbook.RunRunning, StartedAt: now, UpdatedAt: now}
	_, err = cs.CreateRun(ctx(), r2)
	must(t, err)
	stale, err := cs.DueRuns(ctx(), now.Add(time.Minute))
	must(t, err)
	if len(stale) != 0 {
		t.Fatalf("a fresh running run was taken over: %+v", stale)
	}
	stale, err = cs.DueRuns(ctx(), now.Add(10*time.Minute))
	must(t, err)
	found := false
	for _, s := range stale {
		found = found || s.ID == "run-3"
	}
	if !found {
		t.Fatalf("abandoned run not resumed: %+v", stale)
	}
}

func testContainmentFeed(t *testing.T, in Instance) {
	cs := cstore(t, in)
	a := tenant(t, in.Store, "acme").ID
	start := in.Clock.Now()
	i1 := newIncident(t, in, a, "one", socbot.P2)
	in.Clock.Advance(time.Second)
	i2 := newIncident(t, in, a, "two", socbot.P2)
	ch, err := cs.IncidentChanges(ctx(), start, 10)
	must(t, err)
	if len(ch) != 2 || ch[0].ID != i1.ID || ch[1].ID != i2.ID || ch[0].TenantID != a {
		t.Fatalf("changes %+v", ch)
	}
	in.Clock.Advance(time.Second)
	_, err = in.Store.UpdateIncident(ctx(), a, i1.ID, socbot.IncidentUpdate{Status: ptrTo(socbot.StatusFalsePositive)}, admin)
	must(t, err)
	ch, err = cs.IncidentChanges(ctx(), start.Add(1500*time.Millisecond), 10)
	must(t, err)
	if len(ch) != 1 || ch[0].ID != i1.ID || !ch[0].UpdatedAt.After(start) {
		t.Fatalf("after the update: %+v", ch)
	}
	cur, err := cs.Cursor(ctx(), "containment")
	must(t, err)
	if !cur.IsZero() {
		t.Fatalf("unset cursor %v", cur)
	}
	must(t, cs.SetCursor(ctx(), "containment", ch[0].UpdatedAt))
	must(t, cs.SetCursor(ctx(), "containment", ch[0].UpdatedAt.Add(time.Millisecond)))
	cur, err = cs.Cursor(ctx(), "containment")
	must(t, err)
	if !cur.Equal(ch[0].UpdatedAt.Add(time.Millisecond)) {
		t.Fatalf("cursor %v", cur)
	}
}

func testContainmentTimeline(t *testing.T, in Instance) {
	cs := cstore(t, in)
	a, b := tenant(t, in.Store, "acme").ID, tenant(t, in.Store, "globex").ID
	inc := newIncident(t, in, a, "one", socbot.P2)
	before, err := in.Store.Incident(ctx(), a, inc.ID)
	must(t, err)
	in.Clock.Advance(time.Minute)
	must(t, cs.AddTimelineEntry(ctx(), socbot.TimelineEntry{TenantID: a, IncidentID: inc.ID, Actor: "bot:containment", Kind: "containment_applied",
		Text: "block_ip 203.0.113.7 applied", Data: json.RawMessage(`{"action_id":1}`)}))
	wantKind(t, cs.AddTimelineEntry(ctx(), socbot.TimelineEntry{TenantID: b, IncidentID: inc.ID, Actor: "bot:containment", Kind: "x", Text: "y"}), socbot.KindNotFound)
	tl, err := in.Store.Timeline(ctx(), a, inc.ID)
	must(t, err)
	last := tl[len(tl)-1]
	if last.Kind != "containment_applied" || last.Actor != "bot:containment" || string(last.Data) != `{"action_id":1}` {
		t.Fatalf("timeline %+v", tl)
	}
	after, err := in.Store.Incident(ctx(), a, inc.ID)
	must(t, err)
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("a bot timeline entry moved the incident's updated_at (the feed would loop)")
	}
	ana := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: a, Name: "user:ana"}
	soc := socbot.Channel{TenantID: a, Name: "soc", Kind: socbot.ChannelSlack, Target: "https://hooks.example/soc", Enabled: true,
		Events: []string{socbot.EventIncidentUpdated}}
	must(t, in.Store.CreateChannel(ctx(), &soc, ana))
	quiet := socbot.Channel{TenantID: a, Name: "mgmt", Kind: socbot.ChannelSlack, Target: "https://hooks.example/mgmt", Enabled: true,
		Events: []string{socbot.EventIncidentCreated}}
	must(t, in.Store.CreateChannel(ctx(), &quiet, ana))
	n, err := cs.NotifyContainment(ctx(), a, inc.ID, containment.EventApprovalRequested, "", "Approval needed: block_ip 203.0.113.7", "one approver needed")
	must(t, err)
	if n != 1 {
		t.Fatalf("%d notices queued, want 1 (the channel subscribed to incident updates)", n)
	}
	n, err = cs.NotifyContainment(ctx(), a, inc.ID, "playbook.notify", "mgmt", "C2 blocked", "see timeline")
	must(t, err)
	if n != 1 {
		t.Fatalf("named channel: %d", n)
	}
	_, err = cs.NotifyContainment(ctx(), a, inc.ID, "playbook.notify", "nope", "x", "y")
	wantKind(t, err, socbot.KindNotFound)
	ns, err := in.Store.Notifications(ctx(), a, 100)
	must(t, err)
	found := 0
	for _, x := range ns {
		if x.Event == containment.EventApprovalRequested && x.ChannelID == soc.ID && strings.Contains(x.Subject, "Approval needed") {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("notifications %+v", ns)
	}
}

func ptrTo[T any](v T) *T { return &v }
