// Package ledgertest is the conformance suite every containment.Store passes: the in-memory MemStore
// (run from the containment package's tests) and the SQL store on SQLite and PostgreSQL (run from
// storetest). It checks the ledger's contract (idempotency keys, optimistic versions, atomic batch
// writes, append-only approvals and attempts, leases and in-doubt claims, the blast-radius count,
// connector instances per tenant) and runs the bot's behaviour over the store: approvals, expiry,
// rollback and a crash mid-apply that resumes without applying anything twice.
package ledgertest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/fakeconn"
)

// Clock is a settable clock.
type Clock interface {
	Now() time.Time
	Advance(d time.Duration)
}

// Env is one fresh, empty store for a test.
type Env struct {
	Store containment.Store
	Clock Clock
	// Tenant makes a tenant the store accepts rows for and returns its id (SQL stores check tenants).
	Tenant func(t *testing.T, name string) string
}

// Test is one test of the suite; it needs a fresh, empty store.
type Test struct {
	Name string
	Fn   func(t *testing.T, e Env)
}

// Run runs every test of the suite; newEnv returns a fresh empty store for each.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	for _, tc := range Tests() {
		t.Run(tc.Name, func(t *testing.T) { tc.Fn(t, newEnv(t)) })
	}
}

// Tests lists the suite's tests, for runners that make the fresh store themselves (storetest).
func Tests() []Test {
	return []Test{
		{"CreateIdempotent", testCreateIdempotent},
		{"GetListScope", testGetListScope},
		{"UpdateVersions", testUpdateVersions},
		{"ChildrenAppendOnly", testChildren},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"CountSince", testCountSince},
		{"Connectors", testConnectors},
		{"BotApprovalsExpiry", testBotApprovalsExpiry},
		{"BotRollback", testBotRollback},
		{"BotCrashResumesOnce", testBotCrash},
	}
}

func ctx() context.Context { return context.Background() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, k socbot.Kind) {
	t.Helper()
	if socbot.ErrorKind(err) != k {
		t.Fatalf("want error of kind %v, got %v", k, err)
	}
}

func action(tenant, value string, now time.Time) containment.Action {
	return containment.Action{TenantID: tenant, Kind: socbot.ActBlockIP, Value: value, ConnectorID: "fw", State: containment.StateApproved,
		RequestedBy: "user:ana", Reason: "test", IncidentID: 7, Confidence: 90, TTL: time.Hour, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
}

func testCreateIdempotent(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	now := e.Clock.Now()
	a, created, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.1", now))
	must(t, err)
	if !created || a.ID == 0 || a.Version != 1 {
		t.Fatalf("first create: created=%v %+v", created, a)
	}
	b, created, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.1", now.Add(time.Second)))
	must(t, err)
	if created || b.ID != a.ID {
		t.Fatalf("second create of a live key made action %d (created=%v), want %d", b.ID, created, a.ID)
	}
	// A denied (terminal) action never holds the key, and a new live one may follow.
	d := action(ten, "203.0.113.2", now)
	d.State, d.Detail = containment.StateDenied, "refused by safety rail"
	d1, c1, err := e.Store.CreateAction(ctx(), d)
	must(t, err)
	d2, c2, err := e.Store.CreateAction(ctx(), d)
	must(t, err)
	if !c1 || !c2 || d1.ID == d2.ID {
		t.Fatalf("terminal actions are not keyed: %v %v %d %d", c1, c2, d1.ID, d2.ID)
	}
	live, created, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.2", now))
	must(t, err)
	if !created || live.ID == d1.ID {
		t.Fatal("a live action after denied ones was not created")
	}
	// Once the live one ends, the key is free again.
	live.State, live.Detail = containment.StateFailed, "gave up"
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{live})
	must(t, err)
	again, created, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.2", now))
	must(t, err)
	if !created || again.ID == live.ID {
		t.Fatal("the key stayed taken after its action failed")
	}
	// Same value on another connector, of another kind, of another tenant: distinct keys.
	other := e.Tenant(t, "globex")
	for _, mod := range []func(*containment.Action){
		func(a *containment.Action) { a.ConnectorID = "fw2" },
		func(a *containment.Action) { a.Kind = socbot.ActUnblockIP },
		func(a *containment.Action) { a.TenantID = other },
	} {
		x := action(ten, "203.0.113.1", now)
		mod(&x)
		if _, created, err := e.Store.CreateAction(ctx(), x); err != nil || !created {
			t.Fatalf("distinct key not created: %v %v", created, err)
		}
	}
	if _, _, err := e.Store.CreateAction(ctx(), containment.Action{Kind: socbot.ActBlockIP, Value: "x", State: containment.StateApproved}); err == nil {
		t.Fatal("action without tenant stored")
	}
}

func testGetListScope(t *testing.T, e Env) {
	a, b := e.Tenant(t, "acme"), e.Tenant(t, "globex")
	now := e.Clock.Now()
	x, _, err := e.Store.CreateAction(ctx(), action(a, "203.0.113.1", now))
	must(t, err)
	y := action(a, "203.0.113.2", now)
	y.State, y.IncidentID, y.ConnectorID = containment.StateAwaitingApproval, 9, "proxy"
	dl := now.Add(30 * time.Minute)
	y.ApprovalDeadline = &dl
	y, _, err = e.Store.CreateAction(ctx(), y)
	must(t, err)
	z := action(b, "203.0.113.3", now)
	z.State = containment.StateApplied
	exp := now.Add(time.Hour)
	z.ExpiresAt, z.AppliedAt = &exp, &now
	z, _, err = e.Store.CreateAction(ctx(), z)
	must(t, err)

	got, err := e.Store.GetAction(ctx(), a, x.ID)
	must(t, err)
	if got.Value != x.Value || got.TTL != time.Hour || got.IncidentID != 7 || got.RequestedBy != "user:ana" || !got.CreatedAt.Equal(x.CreatedAt) {
		t.Fatalf("read back %+v, wrote %+v", got, x)
	}
	_, err = e.Store.GetAction(ctx(), b, x.ID)
	wantKind(t, err, socbot.KindNotFound)
	if _, err := e.Store.GetAction(ctx(), "", z.ID); err != nil {
		t.Fatalf("tenant \"\" (staff) cannot read: %v", err)
	}
	if _, err := e.Store.ListActions(ctx(), containment.ActionFilter{}); err == nil {
		t.Fatal("listing without a tenant allowed")
	}
	ids := func(f containment.ActionFilter) string {
		t.Helper()
		as, err := e.Store.ListActions(ctx(), f)
		must(t, err)
		var out []int64
		for _, a := range as {
			out = append(out, a.ID)
		}
		return fmt.Sprint(out)
	}
	cases := []struct {
		name string
		f    containment.ActionFilter
		want []int64
	}{
		{"tenant", containment.ActionFilter{TenantID: a}, []int64{x.ID, y.ID}},
		{"other tenant", containment.ActionFilter{TenantID: b}, []int64{z.ID}},
		{"all", containment.ActionFilter{AllTenants: true}, []int64{x.ID, y.ID, z.ID}},
		{"state", containment.ActionFilter{TenantID: a, States: []containment.State{containment.StateAwaitingApproval}}, []int64{y.ID}},
		{"incident", containment.ActionFilter{TenantID: a, IncidentID: 9}, []int64{y.ID}},
		{"connector", containment.ActionFilter{TenantID: a, ConnectorID: "proxy"}, []int64{y.ID}},
		{"deadline", containment.ActionFilter{AllTenants: true, DeadlineBefore: now.Add(time.Hour)}, []int64{y.ID}},
		{"deadline not yet", containment.ActionFilter{AllTenants: true, DeadlineBefore: now.Add(time.Minute)}, nil},
		{"expiry", containment.ActionFilter{AllTenants: true, ExpiresBefore: now.Add(2 * time.Hour)}, []int64{z.ID}},
		{"limit", containment.ActionFilter{AllTenants: true, Limit: 2}, []int64{x.ID, y.ID}},
		{"after", containment.ActionFilter{AllTenants: true, AfterID: x.ID, Limit: 1}, []int64{y.ID}},
	}
	for _, tc := range cases {
		if got, want := ids(tc.f), fmt.Sprint(tc.want); got != want && !(tc.want == nil && got == "[]") {
			t.Errorf("%s: got %s, want %s", tc.name, got, want)
		}
	}
}

func testUpdateVersions(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	now := e.Clock.Now()
	a, _, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.1", now))
	must(t, err)
	b, _, err := e.Store.CreateAction(ctx(), action(ten, "203.0.113.2", now))
	must(t, err)
	a.State, a.Detail = containment.StateApplying, "x"
	saved, err := e.Store.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	if saved[0].Version != 2 {
		t.Fatalf("version %d after one write", saved[0].Version)
	}
	// a (stale) and b (fresh) together: the conflict fails the whole write.
	b.Detail = "changed"
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{b, a})
	wantKind(t, err, socbot.KindConflict)
	if got, _ := e.Store.GetAction(ctx(), ten, b.ID); got.Detail == "changed" || got.Version != 1 {
		t.Fatalf("a failed batch wrote part of itself: %+v", got)
	}
	k := saved[0]
	k.Value = "203.0.113.99"
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{k})
	wantKind(t, err, socbot.KindInvalid)
	ghost := saved[0]
	ghost.ID = 99999
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{ghost})
	wantKind(t, err, socbot.KindNotFound)
	// Every field round-trips.
	f := saved[0]
	d, ap, ex, rm := now.Add(time.Minute), now.Add(2*time.Minute), now.Add(3*time.Minute), now.Add(4*time.Minute)
	f.State, f.ApprovalDeadline, f.AppliedAt, f.ExpiresAt, f.RemovedAt = containment.StateApplied, &d, &ap, &ex, &rm
	f.Escalations, f.PolicyRule, f.VendorRef, f.NativeExpiry, f.Rollback, f.InDoubt, f.CrownJewel = 2, "rule", "ref-1", true, true, true, true
	f.LeaseOwner, f.LeaseUntil, f.NextAttemptAt, f.UpdatedAt = "exec-9", now.Add(5*time.Minute), now.Add(6*time.Minute), now.Add(7*time.Minute)
	f.RequiredApprovals, f.PlaybookStep, f.Reason = 2, "c2@v1/block", "because"
	out, err := e.Store.UpdateActions(ctx(), []containment.Action{f})
	must(t, err)
	got, err := e.Store.GetAction(ctx(), ten, f.ID)
	must(t, err)
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", out[0]) {
		t.Fatalf("read back\n%+v\nwrite returned\n%+v", got, out[0])
	}
	if got.State != containment.StateApplied || !got.ExpiresAt.Equal(ex) || got.LeaseOwner != "exec-9" || !got.NextAttemptAt.Equal(f.NextAttemptAt) ||
		!got.NativeExpiry || !got.Rollback || !got.InDoubt || got.VendorRef != "ref-1" || got.Escalations != 2 || got.PlaybookStep != "c2@v1/block" {
		t.Fatalf("fields lost: %+v", got)
	}
}

func testChildren(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	now := e.Clock.Now()
	a := action(ten, "203.0.113.1", now)
	a.State = containment.StateAwaitingApproval
	a, _, err := e.Store.CreateAction(ctx(), a)
	must(t, err)
	a.Approvals = append(a.Approvals, containment.Approval{By: "user:bo", At: now, Approved: true, Comment: "ok"})
	a.Attempts = append(a.Attempts, containment.Attempt{N: 1, Op: "apply", At: now, Took: 20 * time.Millisecond, Outcome: socbot.OutcomeFailed,
		Error: "HTTP 429", Status: 429, Code: "TooMany", Retryable: true, RetryAfter: 2 * time.Second})
	saved, err := e.Store.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	a = saved[0]
	a.Approvals = append(a.Approvals, containment.Approval{By: "user:cy", At: now.Add(time.Second), Approved: false, Comment: "no"})
	a.Attempts = append(a.Attempts, containment.Attempt{N: 2, Op: "apply", At: now.Add(time.Second), Outcome: socbot.OutcomeApplied})
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	got, err := e.Store.GetAction(ctx(), ten, a.ID)
	must(t, err)
	if len(got.Approvals) != 2 || got.Approvals[0].By != "user:bo" || !got.Approvals[0].Approved || got.Approvals[1].Approved || got.Approvals[1].Comment != "no" {
		t.Fatalf("approvals %+v", got.Approvals)
	}
	if len(got.Attempts) != 2 || got.Attempts[0].Status != 429 || got.Attempts[0].RetryAfter != 2*time.Second || got.Attempts[0].Took != 20*time.Millisecond ||
		got.Attempts[0].Code != "TooMany" || !got.Attempts[0].Retryable || got.Attempts[1].Outcome != socbot.OutcomeApplied || got.Attempts[1].N != 2 {
		t.Fatalf("attempts %+v", got.Attempts)
	}
}

func testClaim(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	now := e.Clock.Now()
	mk := func(v string, st containment.State, next time.Time) containment.Action {
		a := action(ten, v, now)
		a.State, a.NextAttemptAt = st, next
		a, _, err := e.Store.CreateAction(ctx(), a)
		must(t, err)
		return a
	}
	due2 := mk("203.0.113.2", containment.StateApproved, now.Add(-time.Minute))
	due1 := mk("203.0.113.1", containment.StateApproved, now.Add(-2*time.Minute))
	later := mk("203.0.113.3", containment.StateApproved, now.Add(time.Minute))
	exp := mk("203.0.113.4", containment.StateExpiring, now)
	mk("203.0.113.5", containment.StateAwaitingApproval, now)
	mk("203.0.113.6", containment.StateApplied, now)

	got, err := e.Store.Claim(ctx(), "ex-1", now, time.Minute, 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != due1.ID || got[1].ID != due2.ID {
		t.Fatalf("claim order/limit: %+v", got)
	}
	for _, a := range got {
		if a.State != containment.StateApplying || a.LeaseOwner != "ex-1" || !a.LeaseUntil.Equal(now.Add(time.Minute)) || a.InDoubt || a.Version != 2 {
			t.Fatalf("claimed action %+v", a)
		}
	}
	rest, err := e.Store.Claim(ctx(), "ex-2", now, time.Minute, 10)
	must(t, err)
	if len(rest) != 1 || rest[0].ID != exp.ID || rest[0].State != containment.StateExpiring {
		t.Fatalf("second claim: %+v", rest)
	}
	// Leased work is not handed out again before the lease lapses; then it comes back in doubt.
	if again, _ := e.Store.Claim(ctx(), "ex-2", now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("leased work claimed twice: %+v", again)
	}
	e.Clock.Advance(2 * time.Minute)
	now2 := e.Clock.Now()
	lapsed, err := e.Store.Claim(ctx(), "ex-3", now2, time.Minute, 10)
	must(t, err)
	ids := map[int64]containment.Action{}
	for _, a := range lapsed {
		ids[a.ID] = a
	}
	for _, id := range []int64{due1.ID, due2.ID, exp.ID, later.ID} {
		if _, ok := ids[id]; !ok {
			t.Fatalf("action %d not claimed after its lease lapsed (got %d actions)", id, len(lapsed))
		}
	}
	if !ids[due1.ID].InDoubt || !ids[exp.ID].InDoubt || ids[later.ID].InDoubt || ids[due1.ID].LeaseOwner != "ex-3" {
		t.Fatalf("in-doubt marks wrong: %+v", lapsed)
	}
	// A write by the lease holder clears the lease; stale versions are refused.
	a := ids[due1.ID]
	a.State, a.LeaseOwner, a.LeaseUntil, a.InDoubt = containment.StateApplied, "", time.Time{}, false
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{a})
	must(t, err)
	_, err = e.Store.UpdateActions(ctx(), []containment.Action{a})
	wantKind(t, err, socbot.KindConflict)
}

func testClaimConcurrent(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	now := e.Clock.Now()
	const n = 60
	for i := 0; i < n; i++ {
		_, _, err := e.Store.CreateAction(ctx(), action(ten, fmt.Sprintf("203.0.113.%d", i+1), now))
		must(t, err)
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				got, err := e.Store.Claim(ctx(), owner, now, time.Minute, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, a := range got {
					if prev, dup := seen[a.ID]; dup {
						errs <- fmt.Errorf("action %d claimed by %s and %s", a.ID, prev, owner)
					}
					seen[a.ID] = owner
				}
				mu.Unlock()
			}
		}(fmt.Sprintf("ex-%d", w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("%d of %d actions claimed", len(seen), n)
	}
}

func testCountSince(t *testing.T, e Env) {
	ten, other := e.Tenant(t, "acme"), e.Tenant(t, "globex")
	now := e.Clock.Now()
	old := action(ten, "203.0.113.1", now.Add(-2*time.Hour))
	_, _, err := e.Store.CreateAction(ctx(), old)
	must(t, err)
	for i, st := range []containment.State{containment.StateApproved, containment.StateAwaitingApproval, containment.StateFailed, containment.StateDenied} {
		a := action(ten, fmt.Sprintf("203.0.113.%d", i+10), now.Add(-time.Duration(i)*time.Minute))
		a.State = st
		_, _, err := e.Store.CreateAction(ctx(), a)
		must(t, err)
	}
	undo := action(ten, "203.0.113.50", now)
	undo.Kind = socbot.ActUnblockIP
	_, _, err = e.Store.CreateAction(ctx(), undo)
	must(t, err)
	_, _, err = e.Store.CreateAction(ctx(), action(other, "203.0.113.60", now))
	must(t, err)
	n, err := e.Store.CountSince(ctx(), ten, now.Add(-time.Hour))
	must(t, err)
	if n != 3 {
		t.Fatalf("blast radius %d, want 3 (forward, this hour, not denied, this tenant)", n)
	}
}

func testConnectors(t *testing.T, e Env) {
	a, b := e.Tenant(t, "acme"), e.Tenant(t, "globex")
	now := e.Clock.Now()
	c := containment.ConnectorInstance{TenantID: a, ID: "fw", Type: "panos", BaseURL: "https://fw.example", Options: map[string]string{"vsys": "vsys1"},
		Timeout: 5 * time.Second, SealedCredentials: []byte("age-sealed-bytes"), CreatedAt: now, UpdatedAt: now}
	must(t, e.Store.PutConnector(ctx(), c))
	got, err := e.Store.GetConnector(ctx(), a, "fw")
	must(t, err)
	if got.Type != "panos" || got.BaseURL != c.BaseURL || got.Options["vsys"] != "vsys1" || got.Timeout != 5*time.Second ||
		string(got.SealedCredentials) != "age-sealed-bytes" || !got.CreatedAt.Equal(now) {
		t.Fatalf("read back %+v", got)
	}
	_, err = e.Store.GetConnector(ctx(), b, "fw")
	wantKind(t, err, socbot.KindNotFound)
	c.BaseURL, c.UpdatedAt = "https://fw2.example", now.Add(time.Second)
	must(t, e.Store.PutConnector(ctx(), c))
	must(t, e.Store.PutConnector(ctx(), containment.ConnectorInstance{TenantID: a, ID: "edge", Type: "nftables", CreatedAt: now, UpdatedAt: now}))
	list, err := e.Store.ListConnectors(ctx(), a)
	must(t, err)
	if len(list) != 2 || list[0].ID != "edge" || list[1].BaseURL != "https://fw2.example" {
		t.Fatalf("list %+v", list)
	}
	if l, _ := e.Store.ListConnectors(ctx(), b); len(l) != 0 {
		t.Fatalf("tenant B lists A's connectors: %+v", l)
	}
	wantKind(t, e.Store.DeleteConnector(ctx(), b, "fw"), socbot.KindNotFound)
	must(t, e.Store.DeleteConnector(ctx(), a, "fw"))
	_, err = e.Store.GetConnector(ctx(), a, "fw")
	wantKind(t, err, socbot.KindNotFound)
}

// bot builds a containment bot over the store with a fake connector "fw" for tenant.
func bot(e Env, tenant string, owner string, f *fakeconn.Conn, tl containment.Timeline) (*containment.Bot, *containment.Connectors) {
	conns := containment.NewConnectors(e.Store, nil, e.Clock)
	conns.Add(tenant, "fw", f)
	b := containment.New(containment.Config{Store: e.Store, Resolver: conns, Clock: e.Clock, Timeline: tl,
		Executor: containment.ExecutorConfig{Owner: owner, BaseBackoff: 100 * time.Millisecond, CallTimeout: 200 * time.Millisecond, Lease: time.Minute, Seed: 1}})
	return b, conns
}

// drain runs executor rounds, moving the clock past backoffs, until nothing is due.
func drain(t *testing.T, e Env, ex *containment.Executor) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		n, err := ex.RunOnce(ctx())
		must(t, err)
		if n == 0 {
			open, err := e.Store.ListActions(ctx(), containment.ActionFilter{AllTenants: true, States: []containment.State{containment.StateApproved, containment.StateApplying, containment.StateExpiring}})
			must(t, err)
			if len(open) == 0 {
				return
			}
			e.Clock.Advance(time.Second)
		}
	}
	t.Fatal("executor did not drain")
}

type recTimeline struct {
	mu    sync.Mutex
	kinds []string
}

func (r *recTimeline) AddTimelineEntry(_ context.Context, en socbot.TimelineEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, en.Kind)
	return nil
}

func (r *recTimeline) has(kind string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.kinds {
		if k == kind {
			return true
		}
	}
	return false
}

var (
	ana = func(ten string) socbot.Principal {
		return socbot.Principal{Role: socbot.RoleAnalyst, TenantID: ten, Name: "user:ana"}
	}
	bo = func(ten string) socbot.Principal {
		return socbot.Principal{Role: socbot.RoleAnalyst, TenantID: ten, Name: "user:bo"}
	}
)

func testBotApprovalsExpiry(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	f := fakeconn.New("fw")
	tl := &recTimeline{}
	b, _ := bot(e, ten, "exec-1", f, tl)
	// A host isolation needs two distinct approvers; the requester cannot approve.
	as, err := b.Request(ctx(), containment.Request{TenantID: ten, Kind: socbot.ActIsolateHost, Value: "ws-042", RequestedBy: "user:ana",
		Reason: "ransomware", IncidentID: 3, Confidence: 99, TTL: time.Hour})
	must(t, err)
	a := as[0]
	if a.State != containment.StateAwaitingApproval || a.RequiredApprovals != 2 {
		t.Fatalf("%+v", a)
	}
	_, err = b.Approve(ctx(), ana(ten), ten, a.ID, "mine")
	wantKind(t, err, socbot.KindForbidden)
	a, err = b.Approve(ctx(), bo(ten), ten, a.ID, "yes")
	must(t, err)
	_, err = b.Approve(ctx(), bo(ten), ten, a.ID, "again")
	wantKind(t, err, socbot.KindConflict)
	cy := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: ten, Name: "user:cy"}
	a, err = b.Approve(ctx(), cy, ten, a.ID, "agreed")
	must(t, err)
	if a.State != containment.StateApproved || len(a.Approvers()) != 2 {
		t.Fatalf("after two approvals: %+v", a)
	}
	drain(t, e, b.Executor())
	a, err = e.Store.GetAction(ctx(), ten, a.ID)
	must(t, err)
	if a.State != containment.StateApplied || a.ExpiresAt == nil || !f.Present(socbot.ActIsolateHost, "ws-042") || len(a.Attempts) != 1 {
		t.Fatalf("not applied: %+v", a)
	}
	// Expiry sends the inverse once the TTL passes.
	e.Clock.Advance(61 * time.Minute)
	must(t, b.Tick(ctx()))
	drain(t, e, b.Executor())
	a, err = e.Store.GetAction(ctx(), ten, a.ID)
	must(t, err)
	if a.State != containment.StateRemoved || f.Present(socbot.ActIsolateHost, "ws-042") || a.RemovedAt == nil {
		t.Fatalf("not removed after expiry: %+v", a)
	}
	// Denial.
	as, err = b.Request(ctx(), containment.Request{TenantID: ten, Kind: socbot.ActBlockIP, Value: "203.0.113.9", RequestedBy: "user:ana", Confidence: 10, IncidentID: 3})
	must(t, err)
	d, err := b.Deny(ctx(), bo(ten), ten, as[0].ID, "false alarm")
	must(t, err)
	if d.State != containment.StateDenied || len(d.Approvals) != 1 || d.Approvals[0].Approved {
		t.Fatalf("deny: %+v", d)
	}
	for _, k := range []string{"containment_requested", "containment_approved", "containment_applied", "containment_denied"} {
		if !tl.has(k) {
			t.Errorf("timeline lacks %s: %v", k, tl.kinds)
		}
	}
}

func testBotRollback(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	f := fakeconn.New("fw")
	b, _ := bot(e, ten, "exec-1", f, nil)
	inc := socbot.Incident{ID: 42, TenantID: ten, Status: socbot.StatusNew, Confidence: 95}
	for _, v := range []string{"203.0.113.1", "203.0.113.2"} {
		_, err := b.RequestForIncident(ctx(), containment.Request{TenantID: ten, Kind: socbot.ActBlockIP, Value: v, RequestedBy: "playbook:c2"}, inc)
		must(t, err)
	}
	pending, err := b.RequestForIncident(ctx(), containment.Request{TenantID: ten, Kind: socbot.ActBlockDomain, Value: "evil.example",
		RequestedBy: "playbook:c2", Confidence: 10}, socbot.Incident{ID: 42, TenantID: ten, Status: socbot.StatusNew})
	must(t, err)
	drain(t, e, b.Executor())
	inc.Status = socbot.StatusFalsePositive
	must(t, b.OnIncident(ctx(), inc, nil))
	drain(t, e, b.Executor())
	as, err := e.Store.ListActions(ctx(), containment.ActionFilter{TenantID: ten, IncidentID: 42})
	must(t, err)
	for _, a := range as {
		want := containment.StateRemoved
		if a.ID == pending[0].ID {
			want = containment.StateDenied
		}
		if a.State != want {
			t.Fatalf("after false positive, action %d %s is %s, want %s", a.ID, a.Value, a.State, want)
		}
		if f.Present(a.Kind, a.Value) {
			t.Fatalf("%s still blocked", a.Value)
		}
	}
	if s := f.Stats(); s.DoubleApplied != 0 || s.Created != 2 {
		t.Fatalf("fake stats %+v", s)
	}
}

// testBotCrash: an executor claims a batch and the vendor applies it, but the process dies before the
// ledger is written. Another executor takes the work over once the lease lapses, reads back (the fake
// can), and applies nothing twice.
func testBotCrash(t *testing.T, e Env) {
	ten := e.Tenant(t, "acme")
	f := fakeconn.New("fw")
	var values []string
	b1, _ := bot(e, ten, "exec-dead", f, nil)
	for i := 0; i < 20; i++ {
		v := fmt.Sprintf("198.51.100.%d", i+1)
		values = append(values, v)
		_, err := b1.Request(ctx(), containment.Request{TenantID: ten, Kind: socbot.ActBlockIP, Value: v, RequestedBy: "user:ana", Confidence: 95})
		must(t, err)
	}
	// The dead executor: claims, calls the vendor, never writes the outcome.
	claimed, err := e.Store.Claim(ctx(), "exec-dead", e.Clock.Now(), time.Minute, 10)
	must(t, err)
	reqs := make([]socbot.ContainmentRequest, len(claimed))
	for i, a := range claimed {
		reqs[i] = socbot.ContainmentRequest{Kind: a.Kind, Value: a.Value}
	}
	if _, err := f.Apply(ctx(), reqs); err != nil {
		t.Fatal(err)
	}
	b2, _ := bot(e, ten, "exec-new", f, nil)
	// Before the lease lapses the new executor leaves the claimed ones alone.
	n, err := b2.Executor().RunOnce(ctx())
	must(t, err)
	if n != 10 {
		t.Fatalf("new executor handled %d actions before the lease lapsed, want the 10 unclaimed", n)
	}
	e.Clock.Advance(2 * time.Minute)
	drain(t, e, b2.Executor())
	as, err := e.Store.ListActions(ctx(), containment.ActionFilter{TenantID: ten})
	must(t, err)
	sort.Slice(as, func(i, j int) bool { return as[i].Value < as[j].Value })
	for _, a := range as {
		if a.State != containment.StateApplied || !f.Present(a.Kind, a.Value) {
			t.Fatalf("action %s ended %s (present %v): %s", a.Value, a.State, f.Present(a.Kind, a.Value), a.Detail)
		}
	}
	if len(as) != len(values) {
		t.Fatalf("%d actions, want %d", len(as), len(values))
	}
	if s := f.Stats(); s.DoubleApplied != 0 || s.Created != len(values) {
		t.Fatalf("applied twice or lost: %+v", s)
	}
}
