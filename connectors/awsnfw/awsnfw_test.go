package awsnfw

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/awsnfw/fake"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const (
	testAK = "AKIAIOSFODNN7EXAMPLE"
	testSK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func fakeOptions() fake.Options {
	return fake.Options{AccessKey: testAK, SecretKey: testSK, Region: "eu-west-1",
		Groups: map[string]string{"soc-deny-domains": "domains", "soc-deny-ips": "rules"}}
}

func config(base string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{Type: Type, BaseURL: base, Options: map[string]string{"region": "eu-west-1"},
		Credentials: map[string]string{"access_key_id": testAK, "secret_access_key": testSK}}
}

func TestConformance(t *testing.T) {
	conntest.Run(t, conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake { o := fakeOptions(); o.Clock = clock; return fake.New(o) },
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: config,
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"access_key_id": testAK, "secret_access_key": "wrongSecretKeyValue0000000000000000000000"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockDomain, Value: "evil.example"},
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7"},
			{Kind: socbot.ActBlockIP, Value: "198.51.100.0/24"},
		},
		RetryAfter: 0, // ThrottlingException carries no delay; the framework backs off
	})
}

func env(t *testing.T) (*fake.Server, *Connector) {
	t.Helper()
	f := fake.New(fakeOptions())
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(config(srv.URL), vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func domains(kind socbot.ActionKind, vals ...string) []socbot.ContainmentRequest {
	var out []socbot.ContainmentRequest
	for _, v := range vals {
		out = append(out, socbot.ContainmentRequest{Kind: kind, Value: v})
	}
	return out
}

func TestUpdateTokenConflictsReRead(t *testing.T) {
	f, c := env(t)
	f.Conflicts(2)
	res, _ := c.Apply(context.Background(), domains(socbot.ActBlockDomain, "a.example", "b.example"))
	for _, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatal(r)
		}
	}
	st := f.Stats()
	if st.TokenConflicts != 2 || st.Writes != 1 || st.Describes != 3 {
		t.Fatalf("%+v: want 2 stale tokens, 3 describes and one write", st)
	}
	if got := f.Targets("soc-deny-domains"); strings.Join(got, ",") != ".a.example,.b.example" {
		t.Fatalf("targets %v", got)
	}
	// A race that never ends: give up after maxTokenTries, retryable for the framework.
	f.Conflicts(maxTokenTries)
	res, _ = c.Apply(context.Background(), domains(socbot.ActBlockDomain, "c.example"))
	ve := conntest.VendorError(res, nil)
	if ve == nil || ve.Code != "InvalidTokenException" || !ve.Retryable {
		t.Fatalf("endless race: %+v", ve)
	}
}

func TestOneUpdatePerBatchAndSentinel(t *testing.T) {
	f, c := env(t)
	var vals []string
	for i := 0; i < 20; i++ {
		vals = append(vals, fmt.Sprintf("h%d.example", i))
	}
	_, _ = c.Apply(context.Background(), domains(socbot.ActBlockDomain, vals...))
	if st := f.Stats(); st.Updates != 1 {
		t.Fatalf("20 adds: %d updates", st.Updates)
	}
	if got := f.Targets("soc-deny-domains"); len(got) != 20 || got[0] == Sentinel {
		t.Fatalf("sentinel kept next to real targets: %v", got)
	}
	_, _ = c.Apply(context.Background(), domains(socbot.ActUnblockDomain, vals...))
	if got := f.Targets("soc-deny-domains"); len(got) != 1 || got[0] != Sentinel {
		t.Fatalf("empty list must keep the sentinel: %v", got)
	}
}

func TestForeignRulesKept(t *testing.T) {
	f, c := env(t)
	d, err := c.describe(context.Background(), "soc-deny-ips")
	if err != nil {
		t.Fatal(err)
	}
	foreign := `alert tcp any any -> any 22 (msg:"ssh watch"; sid:100; rev:1;)`
	_, err = c.api.UpdateRuleGroup(context.Background(), &networkfirewall.UpdateRuleGroupInput{RuleGroupName: aws.String("soc-deny-ips"),
		Type: types.RuleGroupTypeStateful, UpdateToken: d.UpdateToken, RuleGroup: &types.RuleGroup{RulesSource: &types.RulesSource{RulesString: aws.String(foreign)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Apply(context.Background(), domains(socbot.ActBlockIP, "203.0.113.7", "2001:db8::/32"))
	rules := f.Rules("soc-deny-ips")
	if !strings.HasPrefix(rules, foreign+"\n") || strings.Count(rules, "drop ip") != 4 {
		t.Fatalf("rules:\n%s", rules)
	}
	_, _ = c.Apply(context.Background(), domains(socbot.ActUnblockIP, "203.0.113.7", "2001:db8::/32"))
	if got := f.Rules("soc-deny-ips"); got != foreign {
		t.Fatalf("after unblock:\n%s", got)
	}
}

func TestRenderParseRoundTrip(t *testing.T) {
	set := map[string]bool{"203.0.113.7": true, "198.51.100.0/24": true}
	got, keep := ipSet(renderRules(set, []string{"pass ip any any -> any any (sid:1;)"}))
	if len(got) != 2 || !got["198.51.100.0/24"] || len(keep) != 1 {
		t.Fatalf("%v %v", got, keep)
	}
}

func TestCallsTimeOut(t *testing.T) {
	f, _ := env(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := config(srv.URL)
	cfg.Timeout = 100 * time.Millisecond
	c, _ := New(cfg, vendorhttp.Deps{})
	f.Faults().Queue(2, 0) // none
	f.Faults().Queue(3, 1) // faults.Hang
	res, _ := c.Apply(context.Background(), domains(socbot.ActBlockDomain, "slow.example"))
	if ve := conntest.VendorError(res, nil); ve == nil || !ve.Retryable {
		t.Fatalf("hang: %+v", res[0])
	}
}

func FuzzIPSet(f *testing.F) {
	f.Add(`drop ip any any -> [203.0.113.7,198.51.100.0/24] any (msg:"soc block"; sid:1000001; rev:1;)`)
	f.Add(`drop ip any any -> 203.0.113.7 any (msg:"soc-blk-203.0.113.7"; sid:9000001; rev:1;)` + "\n" + `alert tcp any any -> any 22 (sid:5;)`)
	f.Fuzz(func(t *testing.T, rules string) {
		set, keep := ipSet(rules)
		// Re-rendering keeps every foreign line and every socbot address.
		again, keep2 := ipSet(renderRules(set, keep))
		if len(again) != len(set) || len(keep2) != len(keep) {
			t.Fatalf("round trip changed the sets: %v/%v vs %v/%v", set, keep, again, keep2)
		}
	})
}
