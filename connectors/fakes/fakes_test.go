package fakes

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"

	_ "github.com/socbot/socbot/connectors/awsnfw"
	_ "github.com/socbot/socbot/connectors/awswaf"
	_ "github.com/socbot/socbot/connectors/crowdstrike"
	_ "github.com/socbot/socbot/connectors/fortigate"
	_ "github.com/socbot/socbot/connectors/mde"
	_ "github.com/socbot/socbot/connectors/mimecast"
	_ "github.com/socbot/socbot/connectors/msgraph"
	_ "github.com/socbot/socbot/connectors/netskope"
	_ "github.com/socbot/socbot/connectors/panos"
	_ "github.com/socbot/socbot/connectors/sentinelone"
	_ "github.com/socbot/socbot/connectors/umbrella"
	_ "github.com/socbot/socbot/connectors/zscaler"
)

// TestEveryVendorUnderFaults drives every fake with 30% injected faults through its registered
// connector, retrying failed requests the way the framework would (retryable only), and checks that
// every request ends applied with nothing lost.
func TestEveryVendorUnderFaults(t *testing.T) {
	const n = 24
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			tg, err := New(typ, nil, n)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(tg.Fake)
			defer srv.Close()
			cfg := tg.Config(srv.URL)
			cfg.Timeout = 300 * time.Millisecond
			c, err := socbot.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tg.Fake.Faults().Set(faults.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 7, HangFor: 2 * time.Second})
			pending := make([]socbot.ContainmentRequest, n)
			for i := range pending {
				pending[i] = tg.Request(i)
			}
			for round := 0; len(pending) > 0; round++ {
				if round > 60 {
					t.Fatalf("%d requests still failing after 60 rounds", len(pending))
				}
				res, err := c.Apply(context.Background(), pending)
				if err != nil {
					continue // batch failure: retry the whole batch
				}
				var again []socbot.ContainmentRequest
				for i, r := range res {
					if r.Outcome != socbot.OutcomeFailed {
						continue
					}
					if ve, ok := r.Err.(*socbot.VendorError); !ok || !ve.Retryable {
						t.Fatalf("%s %s: non-retryable failure under injected faults: %v", pending[i].Kind, pending[i].Value, r.Err)
					}
					again = append(again, pending[i])
				}
				pending = again
			}
			tg.Fake.Faults().Set(faults.Faults{})
			for i := 0; i < n; i++ {
				r := tg.Request(i)
				if !tg.Fake.Blocked(r.Kind, r.Value) {
					t.Fatalf("%s %s lost: not in force at the vendor", r.Kind, r.Value)
				}
			}
		})
	}
}

// BenchmarkBlockUnblock measures one block plus one unblock through each connector against its
// fake on loopback (no faults): the connector's own overhead and round trips, not a vendor's speed.
func BenchmarkBlockUnblock(b *testing.B) {
	for _, typ := range Types() {
		b.Run(typ, func(b *testing.B) {
			tg, err := New(typ, nil, 64)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(tg.Fake)
			defer srv.Close()
			c, err := socbot.NewConnector(tg.Config(srv.URL))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := tg.Request(i % 64)
				res, err := c.Apply(ctx, []socbot.ContainmentRequest{r})
				if err != nil || res[0].Outcome == socbot.OutcomeFailed {
					b.Fatalf("block: %v %+v", err, res)
				}
				r.Kind = r.Kind.Inverse()
				res, err = c.Apply(ctx, []socbot.ContainmentRequest{r})
				if err != nil || res[0].Outcome == socbot.OutcomeFailed {
					b.Fatalf("unblock: %v %+v", err, res)
				}
			}
		})
	}
}

func TestBenchmarkDelay(t *testing.T) {
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			tg, err := Build(typ, Options{N: 4, RetryAfter: 250 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(tg.Fake)
			defer srv.Close()
			c, err := socbot.NewConnector(tg.Config(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			tg.Fake.Faults().Queue(faults.TooMany, 1)
			res, _ := c.Apply(context.Background(), []socbot.ContainmentRequest{tg.Request(0)})
			ve, ok := res[0].Err.(*socbot.VendorError)
			if !ok || !ve.Retryable {
				t.Fatalf("%+v", res[0])
			}
			switch typ {
			case "awsnfw", "awswaf": // ThrottlingException has no delay
				if ve.RetryAfter != 0 {
					t.Fatalf("RetryAfter %v", ve.RetryAfter)
				}
			case "crowdstrike": // epoch seconds: the delay rounds to the second
				if ve.RetryAfter > time.Second {
					t.Fatalf("RetryAfter %v", ve.RetryAfter)
				}
			default:
				if ve.RetryAfter != 250*time.Millisecond {
					t.Fatalf("RetryAfter %v, want 250ms", ve.RetryAfter)
				}
			}
		})
	}
}
