package netskope

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/faults"
	"github.com/socbot/socbot/connectors/netskope/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const testToken = "nsk-token-7f3e9a0b1c2d"

func suite(seed []string) conntest.Suite {
	return conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{Token: testToken, Lists: seed, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: func(base string) socbot.ConnectorConfig {
			return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"api_token": testToken}}
		},
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_token": "nsk-token-wrong-0000"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockDomain, Value: "evil.example"},
			{Kind: socbot.ActBlockURL, Value: "https://bad.example/path"},
		},
		RetryAfter: 2 * time.Second,
	}
}

func TestConformanceCreatesList(t *testing.T) { conntest.Run(t, suite(nil)) }
func TestConformanceSeededList(t *testing.T)  { conntest.Run(t, suite([]string{"other", "soc-block"})) }

func env(t *testing.T) (*fake.Server, *Connector) {
	t.Helper()
	f := fake.New(fake.Options{Token: testToken, Lists: []string{"soc-block"}})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(socbot.ConnectorConfig{BaseURL: srv.URL, Credentials: map[string]string{"api_token": testToken}}, vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func reqs(kind socbot.ActionKind, vals ...string) []socbot.ContainmentRequest {
	var out []socbot.ContainmentRequest
	for _, v := range vals {
		out = append(out, socbot.ContainmentRequest{Kind: kind, Value: v})
	}
	return out
}

func TestOneWriteOneDeployPerBatch(t *testing.T) {
	f, c := env(t)
	res, err := c.Apply(context.Background(), reqs(socbot.ActBlockDomain, "a.example", "b.example", "c.example", "d.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatal(r)
		}
	}
	if st := f.Stats(); st.Appends != 1 || st.Deploys != 1 || st.Writes != 2 {
		t.Fatalf("4 adds: %+v, want one append and one deploy", st)
	}
	res, _ = c.Apply(context.Background(), append(reqs(socbot.ActUnblockDomain, "a.example", "b.example"), reqs(socbot.ActBlockDomain, "e.example")...))
	for _, r := range res {
		if r.Outcome == socbot.OutcomeFailed {
			t.Fatal(r)
		}
	}
	if st := f.Stats(); st.Puts != 1 || st.Appends != 1 || st.Deploys != 2 {
		t.Fatalf("mixed batch: %+v, want one PUT (removes and adds together) and one more deploy", st)
	}
	for v, want := range map[string]bool{"a.example": false, "b.example": false, "c.example": true, "e.example": true} {
		if f.Blocked(socbot.ActBlockDomain, v) != want {
			t.Fatalf("%s blocked=%v, want %v", v, !want, want)
		}
	}
}

func TestPendingUntilDeployed(t *testing.T) {
	f, c := env(t)
	f.Faults().Queue(faults.None, 3) // index, list, append
	f.Faults().Queue(faults.Server, 1)
	res, _ := c.Apply(context.Background(), reqs(socbot.ActBlockDomain, "evil.example"))
	if ve := conntest.VendorError(res, nil); ve == nil || !ve.Retryable {
		t.Fatalf("failed deploy: %+v", res[0])
	}
	if !f.Pending("evil.example") || f.Blocked(socbot.ActBlockDomain, "evil.example") {
		t.Fatal("want the entry pending and not applied")
	}
	pl, _ := c.Plan(context.Background(), reqs(socbot.ActBlockDomain, "evil.example"))
	if pl[0].Change == "" || pl[0].Change[:4] != "POST" {
		t.Fatalf("plan with an undeployed change: %+v", pl)
	}
	res, _ = c.Apply(context.Background(), reqs(socbot.ActBlockDomain, "evil.example"))
	if res[0].Outcome != socbot.OutcomeAlreadyPresent || !f.Blocked(socbot.ActBlockDomain, "evil.example") {
		t.Fatalf("the retry must deploy: %+v", res[0])
	}
}

func TestConcurrentAppliesAreSerialized(t *testing.T) {
	f, c := env(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v := fmt.Sprintf("h%d.example", i)
			if _, err := c.Apply(context.Background(), reqs(socbot.ActBlockDomain, v)); err != nil {
				t.Error(err)
			}
			if i%2 == 0 {
				_, _ = c.Apply(context.Background(), reqs(socbot.ActUnblockDomain, v))
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < 8; i++ {
		want := i%2 == 1
		if got := f.Blocked(socbot.ActBlockDomain, fmt.Sprintf("h%d.example", i)); got != want {
			t.Fatalf("h%d: blocked=%v want %v (a lost update in the read-modify-write)", i, got, want)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"soc-block","data":{"urls":["www.evil.example"],"type":"exact","json_version":2},"modify_by":"socbot","modify_time":"2026-05-19T13:03:32.000Z","modify_type":"Edited","pending":1}`,
		`[{"id":1,"name":"soc-block","data":{"urls":[],"type":"exact"},"pending":0}]`,
		`{"status":"error","message":"Unauthorized"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseList(b)
		_, _ = parseLists(b)
		_ = parseError(b)
	})
}
