package mde

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/mde/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "mde-app-client-0001"
	testSecret = "mde~client~secret~value"
)

func fakeOptions(clock socbot.Clock) fake.Options {
	return fake.Options{Tenant: testTenant, ClientID: testClient, ClientSecret: testSecret, Clock: clock,
		Machines: []string{"host01.corp.example", "host02.corp.example"}}
}

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Options: map[string]string{"login_url": base},
		Credentials: map[string]string{"tenant_id": testTenant, "client_id": testClient, "client_secret": testSecret}}
}

func TestConformance(t *testing.T) {
	conntest.Run(t, conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake { return fake.New(fakeOptions(clock)) },
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"tenant_id": testTenant, "client_id": testClient, "client_secret": "mde~wrong~secret"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActIsolateHost, Value: "host01.corp.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7", TTL: 24 * time.Hour, Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockDomain, Value: "evil.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockURL, Value: "https://bad.example/login", Reference: "soc:CASE-1"},
		},
		RetryAfter: 8 * time.Second,
	})
}

func env(t *testing.T, mod func(*fake.Options)) (*fake.Server, *Connector, *conntest.Clock) {
	t.Helper()
	clock := conntest.NewClock()
	o := fakeOptions(clock)
	if mod != nil {
		mod(&o)
	}
	f := fake.New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(config(srv.URL), vendorhttp.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f, c, clock
}

func TestIsolateChecksOpenActionFirst(t *testing.T) {
	// Actions stay Pending for 5 reads: a second isolate must not post a duplicate action.
	f, c, _ := env(t, func(o *fake.Options) { o.ActionReads = 5 })
	req := []socbot.ContainmentRequest{{Kind: socbot.ActIsolateHost, Value: "host02.corp.example", Reference: "soc:CASE-7"}}
	res, _ := c.Apply(context.Background(), req)
	if res[0].Outcome != socbot.OutcomeApplied || res[0].VendorRef == "" {
		t.Fatal(res[0])
	}
	res, _ = c.Apply(context.Background(), req)
	if res[0].Outcome != socbot.OutcomeAlreadyPresent {
		t.Fatal(res[0])
	}
	if n := f.Stats().Isolations; n != 1 {
		t.Fatalf("%d isolate actions posted, want 1 (duplicates can leave a stuck action)", n)
	}
	// By machine id as well.
	res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActIsolateHost, Value: f.MachineID("host02.corp.example")}})
	if res[0].Outcome != socbot.OutcomeAlreadyPresent {
		t.Fatal(res[0])
	}
}

func TestIndicatorExpiryIsNativeAndExtended(t *testing.T) {
	f, c, clock := env(t, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.9", TTL: time.Hour}})
	want := clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if res[0].Outcome != socbot.OutcomeApplied || f.IndicatorExpiry("203.0.113.9") != want || res[0].ExpiresAt.Format(time.RFC3339) != want {
		t.Fatalf("%+v fake expiry %q want %q", res[0], f.IndicatorExpiry("203.0.113.9"), want)
	}
	// A longer TTL extends the expiry (submit-or-update), a shorter one leaves it.
	res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.9", TTL: 3 * time.Hour}})
	want3 := clock.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	if res[0].Outcome != socbot.OutcomeAlreadyPresent || f.IndicatorExpiry("203.0.113.9") != want3 {
		t.Fatalf("extend: %+v fake %q", res[0], f.IndicatorExpiry("203.0.113.9"))
	}
	_, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.9", TTL: time.Minute}})
	if f.IndicatorExpiry("203.0.113.9") != want3 {
		t.Fatal("a shorter TTL shortened the block")
	}
	clock.Advance(4 * time.Hour)
	if f.Blocked(socbot.ActBlockIP, "203.0.113.9") {
		t.Fatal("expired indicator still blocks")
	}
}

func TestCIDRAndUnknownHostRefused(t *testing.T) {
	_, c, _ := env(t, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActBlockIP, Value: "198.51.100.0/24"},
		{Kind: socbot.ActIsolateHost, Value: "nohost.corp.example"},
	})
	for i, r := range res {
		if r.Outcome != socbot.OutcomeFailed {
			t.Fatalf("%d: %+v", i, r)
		}
	}
}

func TestUnblockLeavesForeignIndicators(t *testing.T) {
	f, c, _ := env(t, nil)
	// An analyst's own indicator for the same value (not created by socbot).
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockDomain, Value: "evil.example"}})
	if res[0].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[0])
	}
	// Rewrite its description through the API as a foreign indicator would have.
	body := c.body(socbot.ContainmentRequest{}, "evil.example", "DomainName", nil)
	body["description"] = "analyst block"
	if _, err := c.call(context.Background(), "POST", "/api/indicators", body); err != nil {
		t.Fatal(err)
	}
	res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActUnblockDomain, Value: "evil.example"}})
	if res[0].Outcome != socbot.OutcomeAlreadyAbsent || !f.Blocked(socbot.ActBlockDomain, "evil.example") {
		t.Fatalf("foreign indicator: %+v", res[0])
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"id":"5382f7ea-7557-4ab7-9782-d50480024a4e","type":"Isolate","scope":"Full","requestor":"app","requestorComment":"soc:CASE-1","status":"Pending","machineId":"1e5bc9d7","computerDnsName":"host01","creationDateTimeUtc":"2026-05-19T13:00:00Z","lastUpdateDateTimeUtc":"2026-05-19T13:00:00Z","relatedFileInfo":null}`,
		`{"value":[{"id":"1e5bc9d7"}]}`,
		`{"id":"995","indicatorValue":"203.0.113.7","indicatorType":"IpAddress","action":"Block"}`,
		`{"error":{"code":"ResourceNotFound","message":"Machine 123 was not found","target":"abc"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseActions(b)
		_, _ = parseAction(b)
		_, _ = parseIndicators(b)
		_, _ = parseMachines(b)
		_, _ = parseError(b)
	})
}
