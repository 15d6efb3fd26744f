package msgraph

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/msgraph/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "app-client-id-0001"
	testSecret = "graph~client~secret~value"
	testIMID   = "<CAxyz@mail.evil.example>"
)

func fakeOptions(clock socbot.Clock) fake.Options {
	return fake.Options{Tenant: testTenant, ClientID: testClient, ClientSecret: testSecret, Clock: clock,
		Users: []string{"alice@corp.example", "bob@corp.example", "admin@corp.example"}, Privileged: []string{"admin@corp.example"},
		Messages: map[string]string{testIMID: "alice@corp.example"}}
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
			cfg.Credentials = map[string]string{"tenant_id": testTenant, "client_id": testClient, "client_secret": "graph~wrong~secret"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActDisableUser, Value: "alice@corp.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActPurgeMessage, Value: "alice@corp.example|" + testIMID, Reference: "soc:CASE-1"},
		},
		RetryAfter: 6 * time.Second,
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

func TestDisableRevokesSessions(t *testing.T) {
	for _, noContent := range []bool{false, true} {
		f, c, clock := env(t, func(o *fake.Options) { o.RevokeNoContent = noContent })
		res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActDisableUser, Value: "bob@corp.example"}})
		if res[0].Outcome != socbot.OutcomeApplied || !f.RevokedAt("bob@corp.example").Equal(clock.Now()) {
			t.Fatalf("204=%v: %+v revoked %v", noContent, res[0], f.RevokedAt("bob@corp.example"))
		}
		res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActEnableUser, Value: "bob@corp.example"}})
		if res[0].Outcome != socbot.OutcomeRemoved || f.Blocked(socbot.ActDisableUser, "bob@corp.example") {
			t.Fatal(res[0])
		}
	}
}

func TestPrivilegedAccountRefused(t *testing.T) {
	_, c, _ := env(t, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActDisableUser, Value: "admin@corp.example"}})
	ve := conntest.VendorError(res, nil)
	if ve == nil || ve.Status != 403 || ve.Retryable || ve.Code != "Authorization_RequestDenied" {
		t.Fatalf("privileged: %+v", ve)
	}
}

func TestUnknownTargetsFail(t *testing.T) {
	_, c, _ := env(t, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActDisableUser, Value: "nobody@corp.example"},
		{Kind: socbot.ActPurgeMessage, Value: "alice@corp.example|<nope@x>"},
		{Kind: socbot.ActPurgeMessage, Value: "no-separator"},
	})
	for i, r := range res {
		if r.Outcome != socbot.OutcomeFailed {
			t.Fatalf("%d: %+v", i, r)
		}
	}
	if ve := conntest.VendorError(res[:1], nil); ve == nil || ve.Status != 404 || ve.Retryable {
		t.Fatalf("unknown user: %+v", ve)
	}
}

func TestTokenCached(t *testing.T) {
	f, c, clock := env(t, nil)
	for i := 0; i < 3; i++ {
		_, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActDisableUser, Value: "bob@corp.example"}})
	}
	if f.Stats().Tokens != 1 {
		t.Fatalf("%d tokens, want 1", f.Stats().Tokens)
	}
	clock.Advance(2 * time.Hour) // token expired: a new one is fetched before the call
	_, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActEnableUser, Value: "bob@corp.example"}})
	if st := f.Stats(); st.Tokens != 2 || st.AuthFailures != 0 {
		t.Fatalf("after expiry: %+v", st)
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"Request_ResourceNotFound","message":"x","innerError":{"date":"2026","request-id":"a","client-request-id":"b"}}}`,
		`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean","value":true}`,
		`{"id":"1","userPrincipalName":"alice@corp.example","accountEnabled":false}`,
		`{"value":[{"id":"AAMk","subject":"s","receivedDateTime":"2026-05-19T12:00:00Z"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/next"}`,
		`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseError(b)
		_, _ = parseUser(b)
		_, _ = parseMessages(b)
		_, _, _, _ = vendorhttp.ParseToken(b)
	})
}
