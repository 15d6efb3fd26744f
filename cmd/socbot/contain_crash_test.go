package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// TestKill9DuringContainmentBurst kills socbot serve with SIGKILL in the middle of a burst of 1,000
// containment actions across every vendor connector (fakes served by this test process, configured
// as the tenant's connector instances through the API), restarts it, sends again every request
// whose answer was lost, and checks at the fakes that every action took effect exactly once: one
// ledger action per key, applied, held once by its vendor.
func TestKill9DuringContainmentBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds socbot and runs a 1,000-action burst through a crash")
	}
	bin := socbotBinary(t)
	data := t.TempDir()
	run(t, bin, "tenant", "create", "burst", "--data", data)
	admin := run(t, bin, "token", "create", "--role", "admin", "--data", data)
	analyst := run(t, bin, "token", "create", "--role", "analyst", "--tenant", "burst", "--data", data)
	// Short leases so that the restarted node takes over the dead one's in-flight actions quickly;
	// every action of the tenant is automatic (the burst has user and host actions too).
	cfg := `containment:
  lease: 2s
  base_backoff: 50ms
  max_backoff: 1s
  call_timeout: 5s
  breaker_cooldown: 1s
  max_attempts: 20
  batch_size: 20
  max_per_hour: 100000
  tenants:
    burst:
      policy:
        rules:
          - {name: burst-auto, when: 'true', approvals: 0}
`
	if err := os.WriteFile(filepath.Join(data, "socbot.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := newFleet(84, 50*time.Millisecond, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := f.Requests()[:1000]

	addr := freePort(t)
	srv := startServer(t, bin, data, addr)
	ctx := context.Background()
	if err := f.Configure(ctx, srv.url, admin, "burst", 2*time.Second); err != nil {
		srv.cmd.Process.Kill()
		t.Fatal(err)
	}

	type outcome int
	const (
		notSent outcome = iota
		accepted
		unknown // in flight when the server died
	)
	state := make([]outcome, len(want))
	var mu sync.Mutex
	next := 0
	killAt := len(want) * 2 / 5
	var killed sync.Once
	var wg sync.WaitGroup
	send := func(url string, r fleetRequest) error {
		code, raw, err := apiCall(ctx, "POST", url+"/api/v1/actions", analyst, map[string]any{"kind": r.Kind, "value": r.Value,
			"connector_id": r.Connector, "confidence": 99, "reason": "burst"}, nil)
		if err == nil && code != http.StatusCreated {
			t.Errorf("request %s %s on %s: HTTP %d: %s", r.Kind, r.Value, r.Connector, code, raw)
		}
		return err
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(want) {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if i == killAt {
					killed.Do(func() { srv.cmd.Process.Signal(syscall.SIGKILL) })
				}
				err := send(srv.url, want[i])
				mu.Lock()
				if err == nil {
					state[i] = accepted
				} else {
					state[i] = unknown
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		}()
	}
	wg.Wait()
	srv.cmd.Wait()
	before := 0
	for _, s := range state {
		if s == accepted {
			before++
		}
	}
	if before == 0 || before == len(want) {
		t.Fatalf("the kill did not land mid-burst (%d of %d requests answered)", before, len(want))
	}
	heldAtKill := 0
	for _, r := range want[:before] {
		if f.Blocked(r.Connector, r.Kind, r.Value) {
			heldAtKill++
		}
	}
	t.Logf("killed after %d of %d requests were answered; %d of those already held by their vendor", before, len(want), heldAtKill)

	// Restart on the same data and send every request whose answer never came (a repeat of a live
	// key returns the existing action).
	restarted := time.Now()
	srv = startServer(t, bin, data, addr)
	defer srv.cmd.Process.Kill()
	for i, s := range state {
		if s == accepted {
			continue
		}
		if err := send(srv.url, want[i]); err != nil {
			t.Fatalf("after restart, request %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	var actions []socbot.ContainmentAction
	for time.Now().Before(deadline) {
		actions, err = ledger(ctx, srv.url, analyst)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, a := range actions {
			if a.State == "applied" || a.State == "failed" {
				done++
			}
		}
		if done >= len(want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	tally := f.Tally(want, actions)
	// What the crash interrupted: actions asked for before the kill and applied after the restart,
	// among them those the dead node had already applied at the vendor without writing it down (the
	// restarted node found them "already present").
	resumed, foundApplied := 0, 0
	for _, a := range actions {
		if a.CreatedAt.Before(restarted) && a.AppliedAt != nil && a.AppliedAt.After(restarted) {
			resumed++
			for _, at := range a.Attempts {
				if at.Outcome == socbot.OutcomeAlreadyPresent {
					foundApplied++
					break
				}
			}
		}
	}
	if tally.Lost != 0 || tally.DoubleApplied != 0 || tally.Failed != 0 || tally.Applied != len(want) || len(actions) != len(want) {
		t.Fatalf("after kill -9: %d actions for %d requests, %d applied, %d failed %v, %d lost %v, %d applied twice", len(actions), len(want),
			tally.Applied, tally.Failed, tally.FailReasons, tally.Lost, tally.LostBy, tally.DoubleApplied)
	}
	if resumed == 0 {
		t.Fatalf("no action was left for the restarted node: the kill did not interrupt the work")
	}
	t.Logf("all %d actions applied exactly once across %d vendor fakes; %d were finished by the restarted node, %d of them found already applied at the vendor",
		len(want), len(f.Types()), resumed, foundApplied)
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
}
