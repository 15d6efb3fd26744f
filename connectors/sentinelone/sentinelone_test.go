package sentinelone

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/sentinelone/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const testToken = "s1-api-token-eyJraWQiOiJ0b2tlbi1zaWduaW5n"

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"api_token": testToken}}
}

func TestConformance(t *testing.T) {
	conntest.Run(t, conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{Token: testToken, Agents: []string{"host01", "host02"}, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_token": "s1-api-token-wrong-000"}
		},
		Cases:      []socbot.ContainmentRequest{{Kind: socbot.ActIsolateHost, Value: "host01"}},
		RetryAfter: 10 * time.Second,
	})
}

func TestFilterRefusesEverything(t *testing.T) {
	for _, ids := range [][]string{nil, {}, {""}, {"123456789012345678", ""}, {"abc"}} {
		if _, err := Filter(ids); err == nil || !socbot.IsKind(err, socbot.KindInvalid) {
			t.Errorf("Filter(%q) = %v, want a refusal", ids, err)
		}
	}
	if f, err := Filter([]string{"123456789012340001"}); err != nil || len(f["ids"].([]string)) != 1 {
		t.Fatal(f, err)
	}
}

func TestNeverActsOnEveryAgent(t *testing.T) {
	f := fake.New(fake.Options{Token: testToken, Agents: []string{"host01", "dup", "dup", "host03"}})
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, _ := New(config(srv.URL), vendorhttp.Deps{})
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActIsolateHost, Value: ""},
		{Kind: socbot.ActIsolateHost, Value: "dup"},    // two agents: refused
		{Kind: socbot.ActIsolateHost, Value: "nohost"}, // none
		{Kind: socbot.ActIsolateHost, Value: "a, b"},   // a list smuggled in
		{Kind: socbot.ActIsolateHost, Value: "host01"}, // the one legitimate request
	})
	for i := 0; i < 4; i++ {
		if res[i].Outcome != socbot.OutcomeFailed {
			t.Fatalf("%d: %+v", i, res[i])
		}
	}
	if res[4].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[4])
	}
	st := f.Stats()
	if st.ActedOnEverything != 0 || st.Disconnects != 1 {
		t.Fatalf("%+v: want exactly one targeted disconnect", st)
	}
	for _, h := range []string{"dup", "host03"} {
		if f.Blocked(socbot.ActIsolateHost, h) {
			t.Fatalf("%s disconnected", h)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"id":"1234","networkStatus":"connected"}],"pagination":{"nextCursor":null,"totalItems":1}}`,
		`{"data":{"affected":1}}`,
		`{"errors":[{"code":4010010,"title":"Authentication Failed","detail":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseAgents(b)
		_, _ = parseAffected(b)
		_, _ = parseError(b)
	})
}
