package containment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/fakeconn"
)

var errCrashed = errors.New("process crashed")

// process stands for one run of socbot: every store write and every vendor call is a step, and the
// process dies right after step crashAt (the write or the vendor's change has happened, nothing after
// it does). Dead processes make no more writes and no more vendor calls.
type process struct {
	mu      sync.Mutex
	steps   int
	crashAt int // 0: never
	dead    bool
}

func (p *process) before() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return errCrashed
	}
	return nil
}

func (p *process) after() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps++
	if p.crashAt > 0 && p.steps == p.crashAt {
		p.dead = true
	}
}

func (p *process) isDead() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.dead }

type crashStore struct {
	*MemStore
	p *process
}

func (s crashStore) CreateAction(ctx context.Context, a Action) (Action, bool, error) {
	if err := s.p.before(); err != nil {
		return Action{}, false, err
	}
	defer s.p.after()
	return s.MemStore.CreateAction(ctx, a)
}

func (s crashStore) UpdateActions(ctx context.Context, as []Action) ([]Action, error) {
	if err := s.p.before(); err != nil {
		return nil, err
	}
	defer s.p.after()
	return s.MemStore.UpdateActions(ctx, as)
}

func (s crashStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Action, error) {
	if err := s.p.before(); err != nil {
		return nil, err
	}
	defer s.p.after()
	return s.MemStore.Claim(ctx, owner, now, lease, limit)
}

// crashConn is a connector seen from a process: calls after its death never reach the vendor, and a
// crash right after a call loses the answer.
type crashConn struct {
	socbot.Connector
	p *process
}

func (c crashConn) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	if err := c.p.before(); err != nil {
		return nil, err
	}
	res, err := c.Connector.Apply(ctx, reqs)
	c.p.after()
	if c.p.isDead() {
		return nil, errCrashed
	}
	return res, err
}

type crashCheckConn struct{ crashConn }

func (c crashCheckConn) Check(ctx context.Context, reqs []socbot.ContainmentRequest) ([]bool, error) {
	if err := c.p.before(); err != nil {
		return nil, err
	}
	res, err := c.Connector.(socbot.ConnectorChecker).Check(ctx, reqs)
	c.p.after()
	if c.p.isDead() {
		return nil, errCrashed
	}
	return res, err
}

// world is what outlives a process: the database, the vendors, and the bus's acknowledgements.
type world struct {
	clock  *fakeClock
	store  *MemStore
	idem   *fakeconn.Conn // idempotent vendor without read-back
	nonIdm *fakeconn.Conn // non-idempotent vendor with read-back
	acked  int            // messages of the scenario acknowledged on the bus
}

var crashValues = []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}

// runProcess runs the scenario from the first unacknowledged message: block three addresses on two
// vendors for incident 5, let the executor apply them, then close the incident as a false positive
// and let the executor remove them. It returns errCrashed if the process died.
func runProcess(w *world, p *process, n int) error {
	ctx := context.Background()
	st := crashStore{MemStore: w.store, p: p}
	conns := NewConnectors(nil, nil, w.clock)
	conns.Add(tenant, "idem", crashConn{Connector: w.idem, p: p})
	conns.Add(tenant, "nonidem", crashCheckConn{crashConn{Connector: w.nonIdm, p: p}})
	bot := New(Config{Store: st, Resolver: conns, Clock: w.clock,
		Executor: ExecutorConfig{Owner: fmt.Sprintf("exec-%d", n), BaseBackoff: 100 * time.Millisecond, BatchSize: 2, Seed: int64(n)}})
	ex := bot.Executor()
	drain := func() error {
		for i := 0; i < 1000; i++ {
			k, err := ex.RunOnce(ctx)
			if p.isDead() {
				return errCrashed
			}
			if err != nil {
				return err
			}
			if k == 0 {
				open, _ := w.store.ListActions(ctx, ActionFilter{AllTenants: true, States: []State{StateApproved, StateApplying, StateExpiring}})
				if len(open) == 0 {
					return nil
				}
				w.clock.Advance(time.Second)
			}
		}
		return errors.New("did not drain")
	}
	// A restarted process first lets the dead one's leases lapse.
	w.clock.Advance(3 * time.Minute)
	if err := drain(); err != nil {
		return err
	}
	if w.acked < 1 { // message 1: incident 5 opened
		for _, v := range crashValues {
			if _, err := bot.Request(ctx, Request{TenantID: tenant, Kind: socbot.ActBlockIP, Value: v, RequestedBy: "bot:playbook", IncidentID: 5, Confidence: 95}); err != nil {
				return err
			}
		}
		w.acked = 1
	}
	if err := drain(); err != nil {
		return err
	}
	if w.acked < 2 { // message 2: incident 5 closed as false positive
		if err := bot.OnIncident(ctx, socbot.Incident{ID: 5, TenantID: tenant, Status: socbot.StatusFalsePositive}, nil); err != nil {
			return err
		}
		w.acked = 2
	}
	return drain()
}

func TestCrashAtEveryStepResumesExactlyOnce(t *testing.T) {
	// One clean run counts the steps.
	clean := &world{clock: newClock(), store: NewMemStore(), idem: fakeconn.New("idem"), nonIdm: fakeconn.New("nonidem")}
	clean.nonIdm.SetNonIdempotent(true)
	cp := &process{}
	if err := runProcess(clean, cp, 0); err != nil {
		t.Fatal(err)
	}
	total := cp.steps
	if total < 20 {
		t.Fatalf("suspiciously few steps: %d", total)
	}
	for crashAt := 1; crashAt <= total+2; crashAt++ {
		w := &world{clock: newClock(), store: NewMemStore(), idem: fakeconn.New("idem"), nonIdm: fakeconn.New("nonidem")}
		w.nonIdm.SetNonIdempotent(true)
		p := &process{crashAt: crashAt}
		err := runProcess(w, p, 1)
		if err != nil && !errors.Is(err, errCrashed) && !p.isDead() {
			t.Fatalf("crash at %d: first run: %v", crashAt, err)
		}
		// Restart with the same store and vendors; a second process that does not crash.
		if err := runProcess(w, &process{}, 2); err != nil {
			t.Fatalf("crash at %d: restart: %v", crashAt, err)
		}
		as, _ := w.store.ListActions(context.Background(), ActionFilter{TenantID: tenant})
		if len(as) != 2*len(crashValues) {
			t.Fatalf("crash at %d: %d actions, want %d (lost or duplicated)", crashAt, len(as), 2*len(crashValues))
		}
		for _, a := range as {
			if a.State != StateRemoved {
				t.Errorf("crash at %d: action %d (%s on %s) ended %s: %s", crashAt, a.ID, a.Value, a.ConnectorID, a.State, a.Detail)
			}
		}
		for _, v := range crashValues {
			for _, f := range []*fakeconn.Conn{w.idem, w.nonIdm} {
				if n := f.Creations(socbot.ActBlockIP, v); n != 1 {
					t.Errorf("crash at %d: %s created %d times on %s", crashAt, v, n, f.Type())
				}
				if f.Present(socbot.ActBlockIP, v) {
					t.Errorf("crash at %d: %s still blocked after rollback", crashAt, v)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("crashed at each of %d steps; every run ended with each block applied once and rolled back", total+2)
}
