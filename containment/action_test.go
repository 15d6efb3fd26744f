package containment

import (
	"context"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestStateMachine(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{StateRequested, StateAwaitingApproval, true},
		{StateRequested, StateApproved, true},
		{StateRequested, StateDenied, true},
		{StateRequested, StateApplied, false},
		{StateAwaitingApproval, StateApproved, true},
		{StateAwaitingApproval, StateDenied, true},
		{StateAwaitingApproval, StateApplying, false},
		{StateApproved, StateApplying, true},
		{StateApproved, StateApplied, false},
		{StateApplying, StateApplied, true},
		{StateApplying, StateApproved, true}, // retry later
		{StateApplying, StateFailed, true},
		{StateApplying, StateRemoved, false},
		{StateApplied, StateExpiring, true},
		{StateApplied, StateRemoved, true}, // native expiry
		{StateApplied, StateApplying, false},
		{StateExpiring, StateRemoved, true},
		{StateExpiring, StateFailed, true},
		{StateExpiring, StateApplied, false},
		{StateRemoved, StateApplied, false},
		{StateFailed, StateApproved, false},
		{StateDenied, StateApproved, false},
	}
	for _, tc := range tests {
		if got := CanTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s -> %s: got %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if s.Terminal() && len(transitions[s]) > 0 {
			t.Errorf("terminal state %s has transitions", s)
		}
	}
	a := Action{ID: 1, State: StateApplied}
	if err := a.transition("t", StateApplying, newClock().Now()); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("illegal transition: %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	now := newClock().Now()
	a := Action{TenantID: "t1", Kind: socbot.ActBlockIP, Value: "203.0.113.7", ConnectorID: "fw", State: StateApproved, CreatedAt: now}
	first, created, err := s.CreateAction(ctx, a)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	again, created, _ := s.CreateAction(ctx, a)
	if created || again.ID != first.ID {
		t.Fatalf("duplicate request created a second action: %+v", again)
	}
	for _, other := range []Action{
		{TenantID: "t2", Kind: a.Kind, Value: a.Value, ConnectorID: a.ConnectorID},
		{TenantID: "t1", Kind: socbot.ActBlockDomain, Value: a.Value, ConnectorID: a.ConnectorID},
		{TenantID: "t1", Kind: a.Kind, Value: "203.0.113.8", ConnectorID: a.ConnectorID},
		{TenantID: "t1", Kind: a.Kind, Value: a.Value, ConnectorID: "fw2"},
	} {
		other.State, other.CreatedAt = StateApproved, now
		if _, created, _ := s.CreateAction(ctx, other); !created {
			t.Errorf("%v should be a new action", other.Key())
		}
	}
	// Once the first ends, the same key may start again.
	first.State = StateRemoved
	if _, err := s.UpdateActions(ctx, []Action{first}); err != nil {
		t.Fatal(err)
	}
	if _, created, _ := s.CreateAction(ctx, a); !created {
		t.Fatal("a new block after removal must be a new action")
	}
	// Stale versions are refused.
	if _, err := s.UpdateActions(ctx, []Action{first}); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("stale write: %v", err)
	}
	// Tenants do not see each other's actions.
	if _, err := s.GetAction(ctx, "t2", first.ID); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("cross-tenant read: %v", err)
	}
}
