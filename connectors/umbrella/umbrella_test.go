package umbrella

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/umbrella/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testKey    = "umb-key-11aa22bb"
	testSecret = "umb-secret-33cc44dd"
)

func suite(seed map[string]int) conntest.Suite {
	return conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{Key: testKey, Secret: testSecret, Lists: seed, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: func(base string) socbot.ConnectorConfig {
			return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"api_key": testKey, "api_secret": testSecret}}
		},
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_key": testKey, "api_secret": "umb-secret-wrong-00"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockDomain, Value: "evil.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockURL, Value: "https://bad.example/login", Reference: "soc:CASE-1"},
		},
		RetryAfter: 4 * time.Second,
	}
}

func TestConformanceCreatesList(t *testing.T) { conntest.Run(t, suite(nil)) }
func TestConformanceSeeded(t *testing.T)      { conntest.Run(t, suite(map[string]int{"soc-block": 12345})) }

func env(t *testing.T) (*fake.Server, *Connector, *conntest.Clock) {
	t.Helper()
	clock := conntest.NewClock()
	f := fake.New(fake.Options{Key: testKey, Secret: testSecret, Lists: map[string]int{"soc-block": 12345}, Clock: clock})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(socbot.ConnectorConfig{BaseURL: srv.URL, Credentials: map[string]string{"api_key": testKey, "api_secret": testSecret}}, vendorhttp.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f, c, clock
}

func TestChunksOf500AndRemovalByID(t *testing.T) {
	f, c, _ := env(t)
	var reqs []socbot.ContainmentRequest
	for i := 0; i < 1201; i++ {
		reqs = append(reqs, socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: fmt.Sprintf("h%d.evil.example", i)})
	}
	res, err := c.Apply(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatal(r)
		}
	}
	if st := f.Stats(); st.Posts != 3 {
		t.Fatalf("1201 adds: %d POSTs, want 3 (500 per call)", st.Posts)
	}
	for i := range reqs {
		reqs[i].Kind = socbot.ActUnblockDomain
	}
	res, _ = c.Apply(context.Background(), reqs)
	for _, r := range res {
		if r.Outcome != socbot.OutcomeRemoved {
			t.Fatal(r)
		}
	}
	if st := f.Stats(); st.Removes != 3 || f.Blocked(socbot.ActBlockDomain, "h7.evil.example") {
		t.Fatalf("1201 removals: %+v", st)
	}
}

func TestTokenCachedAndRefreshedOn401(t *testing.T) {
	f, c, _ := env(t)
	for i := 0; i < 3; i++ {
		if res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockDomain, Value: fmt.Sprintf("t%d.example", i)}}); res[0].Outcome != socbot.OutcomeApplied {
			t.Fatal(res[0])
		}
	}
	if st := f.Stats(); st.Tokens != 1 {
		t.Fatalf("%d tokens for 3 batches, want the cached one", st.Tokens)
	}
	f.ExpireTokens()
	if res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockDomain, Value: "t9.example"}}); res[0].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[0])
	}
	if st := f.Stats(); st.Tokens != 2 {
		t.Fatalf("after a 401: %d tokens, want one refresh", st.Tokens)
	}
}

func TestIPRefused(t *testing.T) {
	_, c, _ := env(t)
	if c.Supports(socbot.ActBlockIP) {
		t.Fatal("Umbrella cannot block IPs")
	}
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockURL, Value: "203.0.113.7"}})
	if res[0].Outcome != socbot.OutcomeFailed {
		t.Fatal(res[0])
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"status":{"code":200,"text":"OK"},"data":{"id":12345,"organizationId":12345,"access":"block","isGlobal":false,"name":"soc-block","thirdpartyCategoryId":null,"createdAt":1688617913,"modifiedAt":1688618575,"isMspDefault":false,"markedForDeletion":false,"bundleTypeId":1,"meta":{"destinationCount":4}}}`,
		`{"status":{"code":200,"text":"OK"},"meta":{"page":1,"limit":100,"total":4},"data":[{"id":"111","destination":"evil.example","type":"domain","comment":"soc:CASE-1","createdAt":"2023-07-06 04:42:55"}]}`,
		`{"status":{"code":400,"text":"Bad Request"},"error":"bad"}`,
		`{"token_type":"bearer","access_token":"abc","expires_in":3600}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseDestinations(b)
		_, _ = parseLists(b)
		_, _ = parseList(b)
		_, _, _, _ = vendorhttp.ParseToken(b)
	})
}
