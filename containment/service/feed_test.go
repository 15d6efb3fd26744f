package service_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	_ "github.com/socbot/socbot/containment/fakeconn" // connector type "memory"
	"github.com/socbot/socbot/containment/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	admin = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}
)

type env struct {
	t     *testing.T
	store *sqlstore.Store
	clock *clock
	keys  *secrets.Keyring
}

func newEnv(t *testing.T) *env {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "feed.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}
	st := sqlstore.New(db, sqlstore.SQLite, c, quiet)
	t.Cleanup(func() { st.Close() })
	keys, err := secrets.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, clock: c, keys: keys}
}

func (e *env) service() *service.Service {
	e.t.Helper()
	s, err := service.New(context.Background(), service.Config{Store: e.store, Sealer: e.keys, Clock: e.clock, Log: quiet, Lag: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) tenant(name string) string {
	e.t.Helper()
	tn := socbot.Tenant{Name: name}
	if err := e.store.CreateTenant(context.Background(), &tn, admin); err != nil {
		e.t.Fatal(err)
	}
	return tn.ID
}

// incident writes a C2 incident about address the way triage does, updated at the clock's time
// plus skew.
func (e *env) incident(tenantID, address string, skew time.Duration) socbot.Incident {
	e.t.Helper()
	now := e.clock.Now().Add(skew)
	inc := socbot.Incident{TenantID: tenantID, Title: "c2", Category: address, Priority: socbot.P2, Queue: socbot.DefaultQueue, AlertCount: 1, Confidence: 90,
		FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now}
	if err := e.store.TriageTx(context.Background(), func(tx socbot.TriageTx) error { return tx.CreateIncident(&inc) }); err != nil {
		e.t.Fatal(err)
	}
	return inc
}

const blockPlaybook = `name: block-on-title
version: 1
trigger: 'incident.title == "c2"'
steps:
  - id: block
    contain:
      action: block_ip
      values: '[incident.category]'
`

func (e *env) actions(tenantID string) []containment.Action {
	e.t.Helper()
	as, err := e.store.ListActions(context.Background(), containment.ActionFilter{TenantID: tenantID})
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

func feed(t *testing.T, s *service.Service) int {
	t.Helper()
	n, err := s.FeedOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFeed: creations reach the playbooks once, a commit that lands late (inside the lag) is not
// missed, a tenant without connectors or playbooks is skipped, a false positive rolls back whatever
// the gate says, and a new service over the same store resumes at the saved cursor.
func TestFeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	acme, globex := e.tenant("acme"), e.tenant("globex")
	s := e.service()
	if _, _, err := s.PutConnector(ctx, admin, acme, socbot.ConnectorConfig{ID: "fw", Type: "memory"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPlaybook(ctx, admin, "", []byte(blockPlaybook), "test"); err != nil {
		t.Fatal(err)
	}
	i1 := e.incident(acme, "203.0.113.1", 0)
	e.incident(globex, "203.0.113.2", 0) // globex has no connector: skipped
	if n := feed(t, s); n != 2 {
		t.Fatalf("first poll handled %d changes, want 2", n)
	}
	if as := e.actions(acme); len(as) != 1 || as[0].Value != "203.0.113.1" || as[0].IncidentID != i1.ID || as[0].State != containment.StateApproved {
		t.Fatalf("acme actions %+v", as)
	}
	if as := e.actions(globex); len(as) != 0 {
		t.Fatalf("a tenant without connectors got actions: %+v", as)
	}
	if runs, _ := e.store.Runs(ctx, globex, 0); len(runs) != 0 {
		t.Fatal("runs for globex")
	}
	// Nothing new: nothing handled again.
	if n := feed(t, s); n != 0 {
		t.Fatalf("an unchanged incident was handled again (%d)", n)
	}
	// A transaction that began before the last handled change commits now: its updated_at is behind
	// the feed's high-water mark but inside the lag.
	e.clock.Advance(time.Second)
	late := e.incident(acme, "203.0.113.3", -1500*time.Millisecond)
	if n := feed(t, s); n != 1 {
		t.Fatalf("late commit: %d handled", n)
	}
	if as := e.actions(acme); len(as) != 2 || as[1].IncidentID != late.ID {
		t.Fatalf("late incident not contained: %+v", as)
	}
	// Run the executor: both applied.
	for i := 0; i < 5; i++ {
		if _, err := s.Bot().Executor().RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A false positive rolls back.
	e.clock.Advance(time.Second)
	if _, err := e.store.UpdateIncident(ctx, acme, i1.ID, socbot.IncidentUpdate{Status: ptr(socbot.StatusFalsePositive), Reason: "test"}, admin); err != nil {
		t.Fatal(err)
	}
	if n := feed(t, s); n != 1 {
		t.Fatalf("closing: %d handled", n)
	}
	a, err := e.store.GetAction(ctx, acme, e.actions(acme)[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != containment.StateExpiring || !a.Rollback && a.Detail == "" {
		t.Fatalf("after false positive: %+v", a)
	}
	if err := s.SaveCursor(ctx); err != nil {
		t.Fatal(err)
	}
	// A new service over the same store (a restart) starts at the cursor: old changes are not
	// handled again, new ones are.
	s2 := e.service()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = s2.Run(runCtx); close(done) }()
	e.clock.Advance(5 * time.Second)
	i4 := e.incident(acme, "203.0.113.4", 0)
	s2.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(e.actions(acme)) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	as := e.actions(acme)
	if len(as) != 3 || as[2].IncidentID != i4.ID {
		t.Fatalf("after restart: %+v", as)
	}
	for _, a := range as[:2] {
		if a.State == containment.StateApproved {
			t.Fatalf("an old incident was handled again after the restart: %+v", a)
		}
	}
}

func ptr[T any](v T) *T { return &v }
