package containment

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/fakeconn"
)

// Outcome is the tally of a finished burst: what ended where, and whether the ledger and the vendors
// agree.
type burstTally struct {
	applied, failed, other, doubleApplied, lost int
}

func tally(t *testing.T, st Store, fakes map[string]*fakeconn.Conn) burstTally {
	t.Helper()
	as, err := st.ListActions(context.Background(), ActionFilter{AllTenants: true})
	if err != nil {
		t.Fatal(err)
	}
	var b burstTally
	for _, a := range as {
		present := fakes[a.ConnectorID].Present(a.Kind, a.Value)
		switch {
		case a.State == StateApplied:
			b.applied++
			if !present {
				b.lost++
				t.Errorf("action %d applied in the ledger but not at the vendor", a.ID)
			}
		case a.State == StateFailed:
			b.failed++
			if a.Detail == "" {
				t.Errorf("action %d failed without a reason", a.ID)
			}
			if present && !strings.Contains(a.Detail, "outcome unknown") {
				b.lost++
				t.Errorf("action %d failed in the ledger but in effect at the vendor: %s", a.ID, a.Detail)
			}
		default:
			b.other++
			b.lost++
			t.Errorf("action %d ended %s", a.ID, a.State)
		}
	}
	for _, f := range fakes {
		b.doubleApplied += f.Stats().DoubleApplied
	}
	return b
}

func TestBurstUnderFaults(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := NewMemStore()
	conns := NewConnectors(store, nil, clock)
	fakes := map[string]*fakeconn.Conn{}
	for i, id := range []string{"panos", "zscaler", "mde", "aws"} {
		f := fakeconn.New(id)
		// 30% of calls fault: 429 with a delay, 5xx, or a hang past the call timeout (half of them after
		// the vendor made the change).
		f.SetFaults(fakeconn.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, HangApplies: 0.5, RetryAfter: 2 * time.Second, Seed: int64(i + 1)})
		f.SetNonIdempotent(i%2 == 0) // half the vendors double an add they are sent twice
		fakes[id] = f
		conns.Add(tenant, id, f)
	}
	rails := DefaultRails()
	rails.MaxPerHour = 10000
	bot := New(Config{Store: store, Resolver: conns, Clock: clock, Rails: rails,
		Executor: ExecutorConfig{Owner: "burst", BaseBackoff: 200 * time.Millisecond, CallTimeout: 10 * time.Millisecond, BatchSize: 10, Seed: 3}})
	const n = 1000
	ids := []string{"panos", "zscaler", "mde", "aws"}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		if _, err := bot.Request(ctx, Request{TenantID: tenant, ConnectorID: ids[i%4], Kind: socbot.ActBlockIP, Value: v,
			RequestedBy: "bot:playbook", Confidence: 95}); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, clock: clock, store: store}
	e.drain(bot.Executor())
	b := tally(t, store, fakes)
	faults := 0
	for _, f := range fakes {
		for _, c := range f.Stats().Faults {
			faults += c
		}
	}
	t.Logf("actions=%d applied=%d failed=%d double_applied=%d lost=%d injected_faults=%d", n, b.applied, b.failed, b.doubleApplied, b.lost, faults)
	if b.applied+b.failed != n || b.doubleApplied != 0 || b.lost != 0 {
		t.Fatalf("burst: %+v", b)
	}
	if faults == 0 {
		t.Fatal("no faults were injected")
	}
}

// TestBurstCrashRestart is "kill -9 during a burst of 1,000 actions": the process dies after a
// number of steps (store writes and vendor calls) under vendor faults, and a restarted one over the
// same store finishes the work: every action once.
func TestBurstCrashRestart(t *testing.T) {
	for _, crashAt := range []int{1, 400, 1001, 1004, 1030, 1077, 1150} {
		t.Run(fmt.Sprint(crashAt), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			store := NewMemStore()
			fakes := map[string]*fakeconn.Conn{}
			ids := []string{"panos", "zscaler", "mde", "aws"}
			for i, id := range ids {
				f := fakeconn.New(id)
				f.SetFaults(fakeconn.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, HangApplies: 0.5, RetryAfter: time.Second, Seed: int64(i + 7)})
				f.SetNonIdempotent(i%2 == 0)
				fakes[id] = f
			}
			start := func(p *process, owner string) *Bot {
				conns := NewConnectors(nil, nil, clock)
				for _, id := range ids {
					conns.Add(tenant, id, crashCheckConn{crashConn{Connector: fakes[id], p: p}})
				}
				rails := DefaultRails()
				rails.MaxPerHour = 10000
				return New(Config{Store: crashStore{MemStore: store, p: p}, Resolver: conns, Clock: clock, Rails: rails,
					Executor: ExecutorConfig{Owner: owner, BaseBackoff: 200 * time.Millisecond, CallTimeout: 10 * time.Millisecond, BatchSize: 10, Seed: 5}})
			}
			p := &process{crashAt: crashAt}
			bot := start(p, "first")
			// The requests are one bus message: acknowledged only once all are stored.
			acked := true
			for i := 0; i < 1000 && !p.isDead(); i++ {
				v := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
				if _, err := bot.Request(ctx, Request{TenantID: tenant, ConnectorID: ids[i%4], Kind: socbot.ActBlockIP, Value: v, RequestedBy: "bot:playbook", Confidence: 95}); err != nil {
					acked = false
					break
				}
			}
			if p.isDead() {
				acked = false
			}
			for i := 0; i < 10000 && !p.isDead(); i++ {
				if n, _ := bot.Executor().RunOnce(ctx); n == 0 {
					clock.Advance(time.Second)
				}
			}
			clock.Advance(3 * time.Minute) // the dead process's leases lapse
			bot = start(&process{}, "second")
			if !acked {
				for i := 0; i < 1000; i++ { // redelivery of the message
					v := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
					if _, err := bot.Request(ctx, Request{TenantID: tenant, ConnectorID: ids[i%4], Kind: socbot.ActBlockIP, Value: v, RequestedBy: "bot:playbook", Confidence: 95}); err != nil {
						t.Fatal(err)
					}
				}
			}
			e := &env{t: t, clock: clock, store: store}
			e.drain(bot.Executor())
			b := tally(t, store, fakes)
			if b.applied+b.failed != 1000 || b.doubleApplied != 0 || b.lost != 0 {
				t.Fatalf("after crash at step %d: %+v", crashAt, b)
			}
		})
	}
}
