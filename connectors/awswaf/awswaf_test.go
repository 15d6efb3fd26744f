package awswaf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/awswaf/fake"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testAK = "AKIAWAFEXAMPLE000001"
	testSK = "wafSecretKeyExample/0000000000000000000001"
	testID = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
)

func fakeOptions(clock socbot.Clock) fake.Options {
	return fake.Options{AccessKey: testAK, SecretKey: testSK, Region: "eu-west-1", IPSets: map[string]string{"soc-block": testID}, Clock: clock}
}

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Options: map[string]string{"region": "eu-west-1", "ipset_name": "soc-block", "ipset_id": testID},
		Credentials: map[string]string{"access_key_id": testAK, "secret_access_key": testSK}}
}

func TestConformance(t *testing.T) {
	conntest.Run(t, conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake { return fake.New(fakeOptions(clock)) },
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"access_key_id": testAK, "secret_access_key": "wrongSecret0000000000000000000000000000001"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7"},
			{Kind: socbot.ActBlockIP, Value: "198.51.100.0/24"},
		},
	})
}

func env(t *testing.T) (*fake.Server, *Connector) {
	t.Helper()
	f := fake.New(fakeOptions(nil))
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(config(srv.URL), vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestLockTokenConflicts(t *testing.T) {
	f, c := env(t)
	f.Conflicts(3)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7"}, {Kind: socbot.ActBlockIP, Value: "203.0.113.8"}})
	for _, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatal(r)
		}
	}
	if st := f.Stats(); st.LockConflicts != 3 || st.Writes != 1 || st.Gets != 4 {
		t.Fatalf("%+v", st)
	}
	f.Conflicts(maxLockTries)
	res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.9"}})
	if ve := conntest.VendorError(res, nil); ve == nil || ve.Code != "WAFOptimisticLockException" || !ve.Retryable {
		t.Fatalf("%+v", ve)
	}
}

func TestValues(t *testing.T) {
	_, c := env(t)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActBlockIP, Value: "0.0.0.0/0"},
		{Kind: socbot.ActBlockIP, Value: "2001:db8::1"}, // IPV4 set
		{Kind: socbot.ActBlockDomain, Value: "evil.example"},
		{Kind: socbot.ActBlockIP, Value: "192.0.2.77/24"},
	})
	for i := 0; i < 3; i++ {
		if res[i].Outcome != socbot.OutcomeFailed {
			t.Fatalf("%d: %+v", i, res[i])
		}
	}
	if res[3].Outcome != socbot.OutcomeApplied || res[3].Detail != "192.0.2.0/24 added to soc-block" {
		t.Fatalf("%+v", res[3])
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte(`{"IPSet":{"Name":"soc-block","Id":"a1b2","ARN":"arn:aws:wafv2:x","IPAddressVersion":"IPV4","Addresses":["203.0.113.7/32"]},"LockToken":"tok1"}`))
	f.Add([]byte(`{"__type":"WAFOptimisticLockException","Message":"stale"}`))
	f.Add([]byte(`{"__type":"com.amazonaws.wafv2#WAFNonexistentItemException:http://internal","message":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseGet(b)
		_, _ = parseError(b, http.Header{})
	})
}
