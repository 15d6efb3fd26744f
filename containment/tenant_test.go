package containment

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/fakeconn"
	"github.com/socbot/socbot/secrets"
)

// Tenant A's connectors and credentials are unreachable from tenant B's requests and approvals, and
// credentials are stored sealed.
func TestTenantIsolationAndSealedCredentials(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	keys, err := secrets.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	conns := NewConnectors(store, keys, clock)
	err = conns.Configure(ctx, socbot.ConnectorConfig{ID: "fw", Type: fakeconn.Type, TenantID: "tenant-a",
		Credentials: map[string]string{"api_key": "A-SECRET-KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := store.GetConnector(ctx, "tenant-a", "fw")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(inst)
	if strings.Contains(string(inst.SealedCredentials), "A-SECRET-KEY") || strings.Contains(string(js), "A-SECRET-KEY") || strings.Contains(string(js), "sealed") {
		t.Fatalf("credentials visible: %s", js)
	}
	opened, err := keys.Open("tenant-a", inst.SealedCredentials)
	if err != nil || !strings.Contains(string(opened), "A-SECRET-KEY") {
		t.Fatalf("sealed credentials do not open for their tenant: %v", err)
	}
	if _, err := conns.Connector(ctx, "tenant-a", "fw"); err != nil {
		t.Fatal(err)
	}
	// Tenant B names tenant A's connector: not found.
	if _, err := conns.Connector(ctx, "tenant-b", "fw"); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("tenant-b reached tenant-a's connector: %v", err)
	}
	bot := New(Config{Store: store, Resolver: conns, Clock: clock})
	if _, err := bot.Request(ctx, Request{TenantID: "tenant-b", ConnectorID: "fw", Kind: socbot.ActBlockIP, Value: "203.0.113.5", RequestedBy: "user:b", Confidence: 99}); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("tenant-b request on tenant-a's connector: %v", err)
	}
	if _, err := bot.Request(ctx, Request{TenantID: "tenant-b", Kind: socbot.ActBlockIP, Value: "203.0.113.5", RequestedBy: "user:b", Confidence: 99}); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("tenant-b request found a connector: %v", err)
	}
	as, err := bot.Request(ctx, Request{TenantID: "tenant-a", Kind: socbot.ActBlockIP, Value: "203.0.113.5", RequestedBy: "user:a1", Confidence: 10})
	if err != nil || len(as) != 1 {
		t.Fatal(as, err)
	}
	b := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: "tenant-b", Name: "user:b"}
	if _, err := bot.Approve(ctx, b, "tenant-a", as[0].ID, ""); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("tenant-b approved tenant-a's action: %v", err)
	}
	if _, err := bot.Approve(ctx, b, "tenant-b", as[0].ID, ""); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("tenant-b approved tenant-a's action through its own tenant: %v", err)
	}
	if got, _ := bot.Actions(ctx, b, ActionFilter{TenantID: "tenant-a"}); len(got) != 0 {
		t.Fatal("tenant-b listed tenant-a's actions")
	}
	// A keyring directory without tenant A's key cannot open its credentials.
	other, _ := secrets.OpenKeyring(t.TempDir())
	if _, err := NewConnectors(store, other, clock).Connector(ctx, "tenant-a", "fw"); err == nil {
		t.Fatal("credentials opened without the tenant's key")
	}
}
