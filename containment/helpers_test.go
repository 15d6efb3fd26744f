package containment

import (
	"context"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/fakeconn"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recTimeline struct {
	mu      sync.Mutex
	entries []socbot.TimelineEntry
}

func (r *recTimeline) AddTimelineEntry(_ context.Context, e socbot.TimelineEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}

type recNotifier struct {
	mu      sync.Mutex
	notices []Notice
}

func (r *recNotifier) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func (r *recNotifier) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notices {
		out = append(out, n.Event)
	}
	return out
}

type env struct {
	t     *testing.T
	clock *fakeClock
	store *MemStore
	conns *Connectors
	bot   *Bot
	tl    *recTimeline
	nt    *recNotifier
	fakes map[string]*fakeconn.Conn
}

const tenant = "acme"

var analyst1 = socbot.Principal{Role: socbot.RoleAnalyst, TenantID: tenant, Name: "user:ana"}
var analyst2 = socbot.Principal{Role: socbot.RoleAnalyst, TenantID: tenant, Name: "user:bo"}

func newEnv(t *testing.T, connIDs ...string) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), store: NewMemStore(), tl: &recTimeline{}, nt: &recNotifier{}, fakes: map[string]*fakeconn.Conn{}}
	e.conns = NewConnectors(e.store, nil, e.clock)
	for _, id := range connIDs {
		f := fakeconn.New(id)
		e.fakes[id] = f
		e.conns.Add(tenant, id, f)
	}
	e.bot = New(Config{Store: e.store, Resolver: e.conns, Clock: e.clock, Timeline: e.tl, Notifier: e.nt,
		Executor: ExecutorConfig{Owner: "exec-1", BaseBackoff: 100 * time.Millisecond, CallTimeout: 200 * time.Millisecond, Seed: 1}})
	return e
}

// drain runs executor rounds, advancing the fake clock past every backoff, until nothing is left to do.
func (e *env) drain(ex *Executor) {
	e.t.Helper()
	for i := 0; i < 10000; i++ {
		n, err := ex.RunOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			open, _ := e.store.ListActions(context.Background(), ActionFilter{AllTenants: true, States: []State{StateApproved, StateApplying, StateExpiring}})
			if len(open) == 0 {
				return
			}
			e.clock.Advance(time.Second)
		}
	}
	e.t.Fatal("executor did not drain")
}

func (e *env) get(id int64) Action {
	a, err := e.store.GetAction(context.Background(), tenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func Faults429() fakeconn.Faults {
	return fakeconn.Faults{Rate429: 1, RetryAfter: 7 * time.Second, Seed: 1}
}

func Faults0() fakeconn.Faults { return fakeconn.Faults{} }
