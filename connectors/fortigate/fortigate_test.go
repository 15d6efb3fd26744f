package fortigate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/fortigate/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const testToken = "fgt-token-4d9f0c1e2b3a"

func suite(mode string) conntest.Suite {
	s := conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{Token: testToken, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: func(base string) socbot.ConnectorConfig {
			return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"api_token": testToken},
				Options: map[string]string{"ip_mode": mode}}
		},
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_token": "fgt-token-wrong-000000"}
		},
		RetryAfter: 5 * time.Second,
	}
	if mode == "banned" {
		s.Cases = []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7", TTL: time.Hour}}
	} else {
		s.Cases = []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockIP, Value: "198.51.100.0/24", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockDomain, Value: "evil.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockIP, Value: "2001:db8::7", Reference: "soc:CASE-1"},
		}
	}
	return s
}

func TestConformanceAddress(t *testing.T) { conntest.Run(t, suite("address")) }
func TestConformanceBanned(t *testing.T)  { conntest.Run(t, suite("banned")) }

func env(t *testing.T, opt fake.Options, options map[string]string) (*fake.Server, *httptest.Server, *conntest.Clock) {
	t.Helper()
	clock := conntest.NewClock()
	opt.Token, opt.Clock = testToken, clock
	f := fake.New(opt)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv, clock
}

func connector(t *testing.T, base, token string, clock socbot.Clock, options map[string]string) *Connector {
	t.Helper()
	c, err := New(socbot.ConnectorConfig{BaseURL: base, Credentials: map[string]string{"api_token": token}, Options: options}, vendorhttp.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBannedExpiryIsNative(t *testing.T) {
	f, srv, clock := env(t, fake.Options{}, nil)
	c := connector(t, srv.URL, testToken, clock, map[string]string{"ip_mode": "banned"})
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7", TTL: 30 * time.Minute}})
	if err != nil || res[0].Outcome != socbot.OutcomeApplied {
		t.Fatalf("%+v %v", res, err)
	}
	_, exp := f.Banned("203.0.113.7")
	if want := clock.Now().Add(30 * time.Minute); !exp.Equal(want) || res[0].ExpiresAt == nil || !res[0].ExpiresAt.Equal(want) {
		t.Fatalf("expiry fake %v result %v, want %v", exp, res[0].ExpiresAt, want)
	}
	clock.Advance(31 * time.Minute)
	if ok, _ := f.Banned("203.0.113.7"); ok {
		t.Fatalf("ban outlived its expiry")
	}
}

func TestLockoutAfterThreeBadTokens(t *testing.T) {
	f, srv, clock := env(t, fake.Options{}, nil)
	bad := connector(t, srv.URL, "fgt-token-wrong-000000", clock, nil)
	good := connector(t, srv.URL, testToken, clock, nil)
	req := []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7"}}
	for i := 0; i < 3; i++ {
		res, _ := bad.Apply(context.Background(), req)
		if ve := conntest.VendorError(res, nil); ve == nil || !ve.Auth || ve.Retryable {
			t.Fatalf("bad token %d: %+v", i, res[0])
		}
	}
	if f.Stats().Lockouts != 1 {
		t.Fatalf("3 bad tokens: %d lockouts, want 1", f.Stats().Lockouts)
	}
	res, _ := good.Apply(context.Background(), req)
	if ve := conntest.VendorError(res, nil); ve == nil || !ve.Auth {
		t.Fatalf("during lockout a good token must be refused too: %+v", res[0])
	}
	clock.Advance(61 * time.Second)
	res, _ = good.Apply(context.Background(), req)
	if res[0].Outcome != socbot.OutcomeApplied {
		t.Fatalf("after lockout: %+v", res[0])
	}
}

func TestExistingObjectWithOtherAddressIsNotTaken(t *testing.T) {
	f, srv, clock := env(t, fake.Options{}, nil)
	// Someone created soc-blk-203.0.113.7 pointing elsewhere.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/cmdb/firewall/address?vdom=root",
		strings.NewReader(`{"name":"soc-blk-203.0.113.7","type":"ipmask","subnet":"192.0.2.1 255.255.255.255"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("seeding: %v %v", r, err)
	}
	c := connector(t, srv.URL, testToken, clock, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7"}})
	if res[0].Outcome != socbot.OutcomeFailed || !strings.Contains(res[0].Detail, "different address") {
		t.Fatalf("want a refusal, got %+v", res[0])
	}
	if f.Blocked(socbot.ActBlockIP, "192.0.2.1") {
		t.Fatalf("the foreign object was put in the block group")
	}
}

func TestEmptyGroupGuardAndPlaceholder(t *testing.T) {
	f, srv, clock := env(t, fake.Options{Groups: []string{"soc-blocklist"}}, nil)
	c := connector(t, srv.URL, testToken, clock, nil)
	res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7"}})
	if res[0].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[0])
	}
	res, _ = c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActUnblockIP, Value: "203.0.113.7"}})
	if res[0].Outcome != socbot.OutcomeRemoved {
		t.Fatalf("the placeholder keeps the group non-empty, unblock must work: %+v", res[0])
	}
	if _, ok := f.Object("address", fake.Placeholder); !ok {
		t.Fatal("placeholder gone")
	}
	// Removing the placeholder itself is refused by the guard.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v2/cmdb/firewall/addrgrp/soc-blocklist/member/"+fake.Placeholder, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != 500 {
		t.Fatalf("empty-group guard: %v %v", r, err)
	}
}

func TestMask(t *testing.T) {
	for bits, want := range map[int]string{32: "255.255.255.255", 24: "255.255.255.0", 0: "0.0.0.0", 17: "255.255.128.0"} {
		if got := netipMask(bits); got != want {
			t.Errorf("mask /%d = %s, want %s", bits, got, want)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"http_method":"POST","revision":"8f","revision_changed":true,"old_revision":"7a","mkey":"soc-blk-203.0.113.7","status":"success","http_status":200,"vdom":"root","path":"firewall","name":"address","serial":"FGVM","version":"v7.2.5","build":1517}`,
		`{"status":"error","http_status":500,"error":-5}`,
		`{"status":"error","http_status":404,"error":-3}`,
		`{"http_method":"GET","size":1,"matched_count":1,"next_idx":0,"results":[{"name":"soc-blk-203.0.113.7","q_origin_key":"soc-blk-203.0.113.7","subnet":"203.0.113.7 255.255.255.255","type":"ipmask"}],"status":"success","http_status":200}`,
		`{"results":[{"ip_address":"203.0.113.7","expires":1779195600}],"status":"success","http_status":200}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEnvelope(b)
		if err != nil {
			return
		}
		_, _ = e.Error.Int64()
		_, _ = parseObjects(e.Results)
		_, _ = parseBanned(e.Results)
	})
}
