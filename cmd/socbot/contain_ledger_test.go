package main

import (
	"context"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
)

// TestContainLedgerCommands: an action waiting for approval is listed, approved and then removed from
// the command line, on the server's database, and the decisions carry the CLI user.
func TestContainLedgerCommands(t *testing.T) {
	ctx := context.Background()
	g := &Globals{LogLevel: "error", LogFormat: "text"}
	sf := storeFlags{Data: t.TempDir()}
	cfg, err := loadConfig(g, sf, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	ten := socbot.Tenant{Name: "acme"}
	if err := st.CreateTenant(ctx, &ten, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	// A pending action on a connector the CLI never needs to reach.
	a, _, err := st.CreateAction(ctx, containment.Action{TenantID: ten.ID, Kind: socbot.ActBlockIP, Value: "203.0.113.9", ConnectorID: "fw",
		State: containment.StateAwaitingApproval, RequestedBy: "token:x (ana)", RequiredApprovals: 1, CreatedAt: time.Now()})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	lf := ledgerFlags{storeFlags: sf, Tenant: "acme"}
	if err := (&containPendingCmd{ledgerFlags: lf}).Run(g); err != nil {
		t.Fatal(err)
	}
	if err := (&containDecideCmd{ledgerFlags: lf, ID: a.ID, Comment: "seen it"}).Run(g); err != nil {
		t.Fatal(err)
	}
	if err := (&containDecideCmd{ledgerFlags: lf, ID: a.ID}).Run(g); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("second approval: %v", err)
	}
	if err := (&containDenyCmd{ledgerFlags: ledgerFlags{storeFlags: sf, Tenant: "nope"}, ID: a.ID, Comment: "x"}).Run(g); err == nil {
		t.Fatal("unknown tenant accepted")
	}
	st, err = openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetAction(ctx, ten.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != containment.StateApproved || len(got.Approvals) != 1 || got.Approvals[0].By != cliPrincipal().Name || got.Approvals[0].Comment != "seen it" {
		t.Fatalf("after approve: %+v", got)
	}
}
