package containment

import (
	"context"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

func req(kind socbot.ActionKind, value string, conf int) Request {
	return Request{TenantID: tenant, Kind: kind, Value: value, RequestedBy: "bot:playbook", Reason: "test", IncidentID: 7, Confidence: conf}
}

func TestApprovalPolicy(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		r         Request
		approvals int
		rule      string
	}{
		{"auto when confident", req(socbot.ActBlockIP, "203.0.113.7", 95), 0, "high-confidence"},
		{"one approver otherwise", req(socbot.ActBlockIP, "203.0.113.8", 60), 1, "default"},
		{"two for crown jewels", func() Request { r := req(socbot.ActBlockIP, "203.0.113.9", 99); r.CrownJewel = true; return r }(), 2, "crown-jewel-or-identity"},
		{"two for users", req(socbot.ActDisableUser, "jdoe@acme.example", 99), 2, "crown-jewel-or-identity"},
		{"two for hosts", req(socbot.ActIsolateHost, "ws-042", 99), 2, "crown-jewel-or-identity"},
		{"undo is automatic", req(socbot.ActUnblockIP, "203.0.113.7", 0), 0, "undo"},
		{"playbook raises", func() Request { r := req(socbot.ActBlockDomain, "evil.example", 95); r.MinApprovals = 1; return r }(), 1, "high-confidence+playbook"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fw")
			as, err := e.bot.Request(ctx, tc.r)
			if err != nil || len(as) != 1 {
				t.Fatal(as, err)
			}
			a := as[0]
			if a.RequiredApprovals != tc.approvals || a.PolicyRule != tc.rule {
				t.Fatalf("approvals %d rule %s, want %d %s", a.RequiredApprovals, a.PolicyRule, tc.approvals, tc.rule)
			}
			want := StateAwaitingApproval
			if tc.approvals == 0 {
				want = StateApproved
			}
			if a.State != want {
				t.Fatalf("state %s, want %s", a.State, want)
			}
		})
	}
}

func TestTenantPolicyCEL(t *testing.T) {
	if _, err := CompilePolicy(Policy{Rules: []PolicyRule{{Name: "bad", When: "confidence >", Approvals: 1}}}); err == nil || socbot.ErrorField(err) != "rules[0](bad).when" {
		t.Fatalf("syntax error: %v (field %q)", err, socbot.ErrorField(err))
	}
	if _, err := CompilePolicy(Policy{Rules: []PolicyRule{{Name: "notbool", When: "confidence + 1", Approvals: 1}}}); err == nil {
		t.Fatal("non-bool rule accepted")
	}
	if _, err := CompilePolicy(Policy{Rules: []PolicyRule{{Name: "x", When: "true", Approvals: 9}}}); socbot.ErrorField(err) != "rules[0](x).approvals" {
		t.Fatalf("approvals bound: %v", err)
	}
	p, err := CompilePolicy(Policy{Rules: []PolicyRule{
		{Name: "p1-auto", When: `incident.priority == "P1" && action.kind == "block_ip"`, Approvals: 0},
		{Name: "rest", When: `true`, Approvals: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	inc := &socbot.Incident{ID: 1, Priority: socbot.P1}
	n, rule, err := p.Decide(PolicyInput{TenantID: tenant, Action: Action{Kind: socbot.ActBlockIP}, Incident: inc})
	if err != nil || n != 0 || rule != "p1-auto" {
		t.Fatal(n, rule, err)
	}
	n, _, _ = p.Decide(PolicyInput{TenantID: tenant, Action: Action{Kind: socbot.ActBlockIP}})
	if n != 1 {
		t.Fatalf("without incident: %d", n)
	}
}

func TestApproveDistinctPeople(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "edr")
	as, err := e.bot.Request(ctx, Request{TenantID: tenant, Kind: socbot.ActIsolateHost, Value: "ws-042", RequestedBy: "user:ana", Reason: "ransomware", IncidentID: 9, Confidence: 99})
	if err != nil {
		t.Fatal(err)
	}
	id := as[0].ID
	if _, err := e.bot.Approve(ctx, analyst1, tenant, id, ""); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Fatalf("requester approving own request: %v", err)
	}
	viewer := socbot.Principal{Role: socbot.RoleViewer, TenantID: tenant, Name: "user:client"}
	if _, err := e.bot.Approve(ctx, viewer, tenant, id, ""); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Fatalf("viewer approving: %v", err)
	}
	outsider := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: "globex", Name: "user:eve"}
	if _, err := e.bot.Approve(ctx, outsider, tenant, id, ""); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("other tenant approving: %v", err)
	}
	if pend, _ := e.bot.Pending(ctx, outsider, ""); len(pend) != 0 {
		t.Fatalf("other tenant sees pending: %v", pend)
	}
	a, err := e.bot.Approve(ctx, analyst2, tenant, id, "looks bad")
	if err != nil || a.State != StateAwaitingApproval {
		t.Fatal(a.State, err)
	}
	if _, err := e.bot.Approve(ctx, analyst2, tenant, id, "again"); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("same person twice: %v", err)
	}
	if pend, _ := e.bot.Pending(ctx, analyst2, tenant); len(pend) != 1 {
		t.Fatalf("pending: %v", pend)
	}
	admin := socbot.Principal{Role: socbot.RoleAdmin, Name: "user:soc-lead"}
	a, err = e.bot.Approve(ctx, admin, tenant, id, "")
	if err != nil || a.State != StateApproved {
		t.Fatal(a.State, err)
	}
	e.drain(e.bot.Executor())
	if got := e.get(id); got.State != StateApplied || !e.fakes["edr"].Present(socbot.ActIsolateHost, "ws-042") {
		t.Fatalf("after two approvals: %s", got.State)
	}
	if got := e.get(id).Approvers(); len(got) != 2 {
		t.Fatalf("approvers %v", got)
	}
}

func TestDeny(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw")
	as, _ := e.bot.Request(ctx, req(socbot.ActBlockIP, "203.0.113.50", 40))
	a, err := e.bot.Deny(ctx, analyst1, tenant, as[0].ID, "it's our partner")
	if err != nil || a.State != StateDenied || !strings.Contains(a.Detail, "partner") {
		t.Fatal(a, err)
	}
	e.drain(e.bot.Executor())
	if e.fakes["fw"].Present(socbot.ActBlockIP, "203.0.113.50") {
		t.Fatal("denied action applied")
	}
	if _, err := e.bot.Approve(ctx, analyst2, tenant, as[0].ID, ""); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("approve after deny: %v", err)
	}
}

func TestApprovalTimeoutEscalation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw")
	p, err := CompilePolicy(Policy{Rules: DefaultPolicyRules, Timeout: 10 * time.Minute, MaxEscalations: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.bot.Policies().Set(tenant, p)
	as, _ := e.bot.Request(ctx, req(socbot.ActBlockIP, "203.0.113.60", 50))
	id := as[0].ID
	e.clock.Advance(9 * time.Minute)
	_ = e.bot.Tick(ctx)
	if a := e.get(id); a.Escalations != 0 || a.State != StateAwaitingApproval {
		t.Fatalf("escalated early: %+v", a)
	}
	for round := 1; round <= 2; round++ {
		e.clock.Advance(10*time.Minute + time.Second)
		if err := e.bot.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if a := e.get(id); a.Escalations != round || a.State != StateAwaitingApproval {
			t.Fatalf("round %d: %+v", round, a)
		}
	}
	e.clock.Advance(11 * time.Minute)
	_ = e.bot.Tick(ctx)
	a := e.get(id)
	if a.State != StateDenied || !strings.Contains(a.Detail, "timed out") {
		t.Fatalf("after last escalation: %s %s", a.State, a.Detail)
	}
	ev := strings.Join(e.nt.events(), ",")
	if ev != "containment.approval_requested,containment.approval_escalated,containment.approval_escalated,containment.denied" {
		t.Fatalf("notices: %s", ev)
	}
	// An approval in time stops the clock.
	as, _ = e.bot.Request(ctx, req(socbot.ActBlockIP, "203.0.113.61", 50))
	e.clock.Advance(5 * time.Minute)
	if _, err := e.bot.Approve(ctx, analyst1, tenant, as[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_ = e.bot.Tick(ctx)
	if a := e.get(as[0].ID); a.State != StateApproved {
		t.Fatalf("approved action: %s", a.State)
	}
}

func TestRailsInBot(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw")
	e.bot.Rails().SetTenant(tenant, TenantRails{MaxPerHour: 3})
	for i, v := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		as, err := e.bot.Request(ctx, req(socbot.ActBlockIP, v, 95))
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 && as[0].State != StateApproved || i == 3 && as[0].State != StateDenied {
			t.Fatalf("%s: %s %s", v, as[0].State, as[0].Detail)
		}
	}
	e.clock.Advance(61 * time.Minute)
	as, _ := e.bot.Request(ctx, req(socbot.ActBlockIP, "203.0.113.5", 95))
	if as[0].State != StateApproved {
		t.Fatalf("after an hour: %s", as[0].Detail)
	}
	as, _ = e.bot.Request(ctx, req(socbot.ActBlockIP, "10.0.0.1", 95))
	if as[0].State != StateDenied || !strings.Contains(as[0].Detail, "private-range") {
		t.Fatalf("private: %+v", as[0])
	}
	// Refusals reach the incident timeline.
	found := false
	for _, en := range e.tl.entries {
		if en.Kind == "containment_refused" && strings.Contains(en.Text, "10.0.0.1") {
			found = true
		}
	}
	if !found {
		t.Fatal("refusal not on the timeline")
	}
}

func TestDryRunPlan(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw1", "fw2")
	ch, err := e.bot.Plan(ctx, Request{TenantID: tenant, Kind: socbot.ActBlockIP, Value: "203.0.113.70", TTL: time.Hour})
	if err != nil || len(ch) != 2 || ch[0].Connector != "fw1" || !strings.Contains(ch[0].Change, "add block_ip:203.0.113.70 ttl=1h0m0s") {
		t.Fatalf("%+v %v", ch, err)
	}
	if as, _ := e.store.ListActions(ctx, ActionFilter{TenantID: tenant}); len(as) != 0 {
		t.Fatal("dry run stored actions")
	}
	if _, err := e.bot.Plan(ctx, Request{TenantID: tenant, Kind: socbot.ActBlockIP, Value: "8.8.8.8"}); err == nil {
		t.Fatal("plan of a never-block value passed")
	}
}

func TestExpiryAndRollback(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw")
	r := req(socbot.ActBlockIP, "203.0.113.80", 95)
	r.TTL = time.Hour
	as, _ := e.bot.Request(ctx, r)
	e.drain(e.bot.Executor())
	a := e.get(as[0].ID)
	if a.State != StateApplied || a.ExpiresAt == nil || !a.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) && a.ExpiresAt.Sub(e.clock.Now()) > time.Hour {
		t.Fatalf("applied: %+v", a)
	}
	e.clock.Advance(61 * time.Minute)
	if err := e.bot.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.drain(e.bot.Executor())
	if a := e.get(as[0].ID); a.State != StateRemoved || e.fakes["fw"].Present(socbot.ActBlockIP, "203.0.113.80") {
		t.Fatalf("after expiry: %s", a.State)
	}

	// False positive: applied ones removed, pending ones cancelled.
	applied, _ := e.bot.Request(ctx, req(socbot.ActBlockDomain, "evil.example", 95))
	pending, _ := e.bot.Request(ctx, req(socbot.ActBlockDomain, "evil2.example", 50))
	e.drain(e.bot.Executor())
	inc := socbot.Incident{ID: 7, TenantID: tenant, Status: socbot.StatusFalsePositive}
	if err := e.bot.OnIncident(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	e.drain(e.bot.Executor())
	if a := e.get(applied[0].ID); a.State != StateRemoved || e.fakes["fw"].Present(socbot.ActBlockDomain, "evil.example") {
		t.Fatalf("rolled back: %s", a.State)
	}
	if a := e.get(pending[0].ID); a.State != StateDenied || !strings.Contains(a.Detail, "false positive") {
		t.Fatalf("pending after FP: %s %s", a.State, a.Detail)
	}
}

func TestRetryHonoursRetryAfterAndBreaker(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "fw")
	f := e.fakes["fw"]
	f.SetFaults(Faults429())
	as, _ := e.bot.Request(ctx, req(socbot.ActBlockIP, "203.0.113.90", 95))
	ex := e.bot.Executor()
	if _, err := ex.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a := e.get(as[0].ID)
	if a.State != StateApproved || len(a.Attempts) != 1 || a.Attempts[0].Status != 429 {
		t.Fatalf("after 429: %+v", a)
	}
	if wait := a.NextAttemptAt.Sub(e.clock.Now()); wait < 7*time.Second || wait > 8*time.Second {
		t.Fatalf("next attempt in %v, want the vendor's 7s plus jitter", wait)
	}
	// Nothing happens before the vendor's delay.
	e.clock.Advance(5 * time.Second)
	if n, _ := ex.RunOnce(ctx); n != 0 {
		t.Fatal("retried before Retry-After")
	}
	// A vendor that is down opens the breaker after 5 failed batches; calls then stop.
	f.SetFaults(Faults0())
	f.SetDown(true)
	for i := 0; i < 5; i++ {
		e.clock.Advance(2 * time.Minute)
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !ex.BreakerOpen(tenant, "fw") {
		t.Fatal("breaker not open after 5 failures")
	}
	calls := f.Stats().Calls
	e.clock.Advance(2 * time.Second)
	_, _ = ex.RunOnce(ctx)
	if f.Stats().Calls != calls {
		t.Fatal("called the vendor while the breaker was open")
	}
	f.SetDown(false)
	e.drain(ex)
	if a := e.get(as[0].ID); a.State != StateApplied {
		t.Fatalf("after recovery: %s %s", a.State, a.Detail)
	}
	if ex.BreakerOpen(tenant, "fw") {
		t.Fatal("breaker still open")
	}
}

func TestNonRetryableFailsWithReason(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "mail")
	e.fakes["mail"].Unsupport(socbot.ActBlockSender)
	as, err := e.bot.Request(ctx, Request{TenantID: tenant, ConnectorID: "mail", Kind: socbot.ActBlockSender, Value: "x@evil.example", RequestedBy: "user:ana", Confidence: 99})
	if !socbot.IsKind(err, socbot.KindUnsupported) || len(as) != 0 {
		t.Fatalf("unsupported kind: %v %v", as, err)
	}
}
