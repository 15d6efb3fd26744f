package main

import (
	"context"
	"testing"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/fakeconn"
)

// TestApprovalsOf: the console's approval interface over the real containment bot (in-memory ledger
// and a fake connector): pending actions come with their dry run, approval moves them on, and another
// tenant's analyst sees and decides nothing.
func TestApprovalsOf(t *testing.T) {
	ctx := context.Background()
	store := containment.NewMemStore()
	conns := containment.NewConnectors(store, nil, socbot.SystemClock{})
	conns.Add("acme", "fw-1", fakeconn.New("fw-1"))
	bot := containment.New(containment.Config{Store: store, Resolver: conns})
	acts, err := bot.Request(ctx, containment.Request{TenantID: "acme", Kind: socbot.ActBlockIP, Value: "203.0.113.7", ConnectorID: "fw-1",
		RequestedBy: "bot:containment", Reason: "brute force source", MinApprovals: 1})
	if err != nil || len(acts) != 1 {
		t.Fatalf("request: %v %+v", err, acts)
	}
	aq := ApprovalsOf(bot)
	ana := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: "acme", Name: "user:ana@acme.example"}
	mallory := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: "globex", Name: "user:mallory@globex.example"}
	pending, err := aq.Pending(ctx, ana, "acme")
	if err != nil || len(pending) != 1 || len(pending[0].DryRun) == 0 || pending[0].DryRun[0].Change == "" {
		t.Fatalf("pending: %v %+v", err, pending)
	}
	if _, err := aq.Pending(ctx, mallory, "acme"); err == nil {
		t.Fatal("another tenant's analyst listed acme's actions")
	}
	if _, err := aq.Approve(ctx, mallory, "acme", pending[0].ID, "pwned"); err == nil {
		t.Fatal("another tenant's analyst approved")
	}
	got, err := aq.Approve(ctx, ana, "acme", pending[0].ID, "ok")
	if err != nil || got.State != string(containment.StateApproved) {
		t.Fatalf("approve: %v %+v", err, got)
	}
	if left, _ := aq.Pending(ctx, ana, "acme"); len(left) != 0 {
		t.Fatalf("still pending: %+v", left)
	}
}
