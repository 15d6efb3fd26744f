package mimecast

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/mimecast/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testID     = "mc-client-id-0001"
	testSecret = "mc-client-secret-xyz987"
)

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"client_id": testID, "client_secret": testSecret}}
}

func TestConformance(t *testing.T) {
	conntest.Run(t, conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{ClientID: testID, ClientSecret: testSecret, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"client_id": testID, "client_secret": "mc-wrong-secret-000"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockSender, Value: "bad@evil.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockSender, Value: "evil2.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockURL, Value: "https://evil.example/login", Reference: "soc:CASE-1"},
		},
		RetryAfter: 4500 * time.Millisecond,
	})
}

func env(t *testing.T, opt fake.Options, options map[string]string) (*fake.Server, *Connector) {
	t.Helper()
	opt.ClientID, opt.ClientSecret = testID, testSecret
	f := fake.New(opt)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := config(srv.URL)
	cfg.Options = options
	c, err := New(cfg, vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestNoDuplicatePolicies(t *testing.T) {
	// The fake, like (we assume) the real API, happily stores duplicate policies: the pre-check is
	// what keeps a re-block from creating a second one.
	f, c := env(t, fake.Options{}, nil)
	for i := 0; i < 3; i++ {
		_, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockSender, Value: "bad@evil.example"}})
	}
	if n := f.PolicyCount("bad@evil.example"); n != 1 {
		t.Fatalf("%d policies after 3 blocks", n)
	}
}

func TestFailArrayOnHTTP200(t *testing.T) {
	_, c := env(t, fake.Options{}, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockURL, Value: "https://evil.example/a#frag"}})
	if res[0].Outcome != socbot.OutcomeApplied { // the fragment is stripped before sending
		t.Fatal(res[0])
	}
	// A URL the API refuses: the refusal arrives in fail[] with HTTP 200.
	env, err := c.call(context.Background(), "/api/ttp/url/create-managed-url", []any{map[string]any{"url": "https://x.example/", "action": "quarantine"}})
	if err != nil || len(env.Fail) != 1 {
		t.Fatalf("want one fail[] entry with no HTTP error: %v %+v", err, env)
	}
	if ve := c.failError(env.Fail[0]); ve.Code != "err_validation_invalid_url" || ve.Retryable {
		t.Fatalf("%+v", ve)
	}
}

func TestSenderUnblockSwitch(t *testing.T) {
	_, c := env(t, fake.Options{NoDeletePolicy: true}, map[string]string{"sender_unblock": "false"})
	if c.Supports(socbot.ActUnblockSender) {
		t.Fatal("sender_unblock=false still supports unblock_sender")
	}
	_, c2 := env(t, fake.Options{NoDeletePolicy: true}, nil)
	_, _ = c2.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockSender, Value: "bad@evil.example"}})
	res, _ := c2.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActUnblockSender, Value: "bad@evil.example"}})
	if ve := conntest.VendorError(res, nil); ve == nil || ve.Status != 404 || ve.Retryable {
		t.Fatalf("missing delete-policy endpoint: %+v", res[0])
	}
}

func TestRetryAfterMillis(t *testing.T) {
	h := http.Header{}
	h.Set("X-RateLimit-Reset", "1250")
	if got := RetryAfter(h, time.Now()); got != 1250*time.Millisecond {
		t.Fatal(got)
	}
}

func TestSenderValues(t *testing.T) {
	for v, want := range map[string]string{"Bad@Evil.Example": "individual_email_address", "evil.example": "email_domain"} {
		if ft, _, err := senderOf(v); err != nil || ft != want {
			t.Errorf("%s: %s %v", v, ft, err)
		}
	}
	for _, v := range []string{"", "@evil.example", "a@b@c", "two words"} {
		if _, _, err := senderOf(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"fail":[],"meta":{"status":200},"data":[{"to":"alice@corp.example","type":"Block","id":"eNo","sender":"bad@evil.example"}]}`,
		`{"fail":[],"meta":{"status":200},"data":[{"id":"eNo","scheme":"https","domain":"evil.example","path":"/login","queryString":"","port":-1,"action":"block","matchType":"explicit","comment":"soc:CASE-1"}]}`,
		`{"meta":{"status":200,"pagination":{"next":"tok"}},"data":[{"id":"eNo","option":"block_sender","policy":{"description":"soc","fromValue":"bad@evil.example"}}],"fail":[{"key":{},"errors":[{"code":"err_x","message":"m","retryable":false}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEnvelope(b)
		if err != nil {
			return
		}
		_ = parseItems[policyItem](e.Data)
		_ = parseItems[urlItem](e.Data)
	})
}
