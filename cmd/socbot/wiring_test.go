package main

import (
	"context"
	"testing"

	socbot "github.com/socbot/socbot"
)

// TestConsoleWiredToBots checks that a default node gives the console the containment bot's approval
// queue and the intel bot's indicator search, rather than "not enabled on this node".
func TestConsoleWiredToBots(t *testing.T) {
	ctx := context.Background()
	n, err := startNode(ctx, Config{Data: t.TempDir(), Listen: "127.0.0.1:0", Bots: knownBots(), Partitions: 1}, quietLog, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if consoleApprovals(n) == nil {
		t.Error("the console has no approval queue on a node running containment")
	}
	search := consoleIndicators(n)
	if search == nil {
		t.Fatal("the console has no indicator search on a node running intel")
	}
	tn := socbot.Tenant{Name: "wired"}
	if err := n.store.CreateTenant(ctx, &tn, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	admin := socbot.Principal{Role: socbot.RoleAdmin, Name: "test"}
	if _, err := n.api.Intel.AddIndicators(ctx, admin, tn.ID, socbot.IntelAdd{Indicators: []socbot.IntelNewIndicator{{Type: "domain", Value: "evil-c2.example.net"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := search.SearchIndicators(ctx, admin, tn.ID, "evil-c2.example.net", 10)
	if err != nil || len(got) != 1 || got[0].Value != "evil-c2.example.net" || len(got[0].Sources) == 0 {
		t.Fatalf("console search: %+v %v", got, err)
	}
	if got, err := search.SearchIndicators(ctx, admin, tn.ID, "evil-c2", 10); err != nil || len(got) != 1 {
		t.Fatalf("prefix search: %+v %v", got, err)
	}
}
