package crowdstrike

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/crowdstrike/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testID     = "falcon-client-id-0001"
	testSecret = "falcon-client-secret-abcdef"
)

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"client_id": testID, "client_secret": testSecret}}
}

func suite(dupConflict bool) conntest.Suite {
	return conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{ClientID: testID, ClientSecret: testSecret, Hosts: []string{"host01", "host02"}, Clock: clock, DuplicateConflict: dupConflict})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"client_id": testID, "client_secret": "falcon-wrong-secret"}
		},
		Cases:      []socbot.ContainmentRequest{{Kind: socbot.ActIsolateHost, Value: "host01", Reference: "soc:CASE-1"}},
		RetryAfter: 9 * time.Second, // the fake's epoch header points 9 s past the shared test clock
	}
}

func TestConformance(t *testing.T)            { conntest.Run(t, suite(false)) }
func TestConformanceDupConflict(t *testing.T) { conntest.Run(t, suite(true)) }

func TestRetryAfterEpoch(t *testing.T) {
	now := time.Unix(1_779_195_600, 0)
	h := http.Header{}
	h.Set("X-RateLimit-RetryAfter", "1779195612")
	if got := RetryAfter(h, now); got != 12*time.Second {
		t.Fatalf("epoch header: %v, want 12s", got)
	}
	h.Set("X-RateLimit-RetryAfter", "1779195500") // already passed
	if got := RetryAfter(h, now); got != 0 {
		t.Fatalf("past epoch: %v", got)
	}
	h = http.Header{}
	h.Set("Retry-After", "3")
	if got := RetryAfter(h, now); got != 3*time.Second {
		t.Fatalf("fallback: %v", got)
	}
}

func TestRaceWithPendingContainment(t *testing.T) {
	clock := conntest.NewClock()
	f := fake.New(fake.Options{ClientID: testID, ClientSecret: testSecret, Hosts: []string{"host01"}, Clock: clock})
	srv := httptest.NewServer(f)
	defer srv.Close()
	a, _ := New(config(srv.URL), vendorhttp.Deps{Clock: clock})
	b, _ := New(config(srv.URL), vendorhttp.Deps{Clock: clock})
	req := []socbot.ContainmentRequest{{Kind: socbot.ActIsolateHost, Value: "host01"}}
	r1, _ := a.Apply(context.Background(), req)
	r2, _ := b.Apply(context.Background(), req) // sees containment_pending / contained
	if r1[0].Outcome != socbot.OutcomeApplied || r2[0].Outcome != socbot.OutcomeAlreadyPresent || f.Stats().Contains != 1 {
		t.Fatalf("%+v %+v contains=%d", r1[0], r2[0], f.Stats().Contains)
	}
}

func TestUnknownHost(t *testing.T) {
	f := fake.New(fake.Options{ClientID: testID, ClientSecret: testSecret, Hosts: []string{"host01"}})
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, _ := New(config(srv.URL), vendorhttp.Deps{})
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActIsolateHost, Value: "nohost"},
		{Kind: socbot.ActIsolateHost, Value: "0123456789abcdef0123456789abcdef"},
		{Kind: socbot.ActBlockIP, Value: "203.0.113.7"},
	})
	for i, r := range res {
		if r.Outcome != socbot.OutcomeFailed {
			t.Fatalf("%d: %+v", i, r)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"meta":{"query_time":0.1,"powered_by":"device-api","trace_id":"x"},"resources":[{"id":"abc","path":""}],"errors":[]}`,
		`{"meta":{},"resources":["abc"],"errors":[]}`,
		`{"meta":{},"resources":[{"device_id":"abc","status":"contained"}],"errors":[]}`,
		`{"meta":{},"resources":[],"errors":[{"code":404,"message":"Device not found"}]}`,
		`{"access_token":"t","token_type":"bearer","expires_in":1799}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEnvelope(b)
		if err != nil {
			return
		}
		_ = e.message()
		_, _ = parseIDs(e.Resources)
		_, _ = parseStates(e.Resources)
		_, _, _, _ = vendorhttp.ParseToken(b)
	})
}
