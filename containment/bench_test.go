package containment

import (
	"context"
	"fmt"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/fakeconn"
)

// BenchmarkRequestToApplied measures the framework's own cost per action: request (rails, policy,
// ledger write) through executor claim, batch call and ledger write, on an in-memory connector.
func BenchmarkRequestToApplied(b *testing.B) {
	ctx := context.Background()
	store := NewMemStore()
	conns := NewConnectors(store, nil, socbot.SystemClock{})
	conns.Add(tenant, "fw", fakeconn.New("fw"))
	rails := DefaultRails()
	rails.MaxPerHour = 1 << 30
	bot := New(Config{Store: store, Resolver: conns, Rails: rails, Executor: ExecutorConfig{BatchSize: 100, ClaimLimit: 100}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := fmt.Sprintf("198.%d.%d.%d", 18+i>>16&1, i>>8&255, i&255)
		if _, err := bot.Request(ctx, Request{TenantID: tenant, Kind: socbot.ActBlockIP, Value: v, RequestedBy: "bot:bench", Confidence: 99, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 || i == b.N-1 {
			if _, err := bot.Executor().RunOnce(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func FuzzRailsCheck(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "10.0.0.0/8", "::/0", "evil.example", "*.com", "https://google.com/", "a@b.c", "*@*", "", "1.2.3.4/33", "[::1]", "xn--80ak6aa92e.com"} {
		f.Add(s)
	}
	r := DefaultRails("198.51.100.10")
	kinds := []socbot.ActionKind{socbot.ActBlockIP, socbot.ActBlockDomain, socbot.ActBlockURL, socbot.ActBlockSender, socbot.ActDisableUser, socbot.ActIsolateHost, socbot.ActUnblockIP}
	f.Fuzz(func(t *testing.T, v string) {
		for _, k := range kinds {
			err := r.Check("t", k, v, 0)
			if err == nil {
				if k.IsForward() && everything(v) {
					t.Fatalf("%s %q allowed", k, v)
				}
				continue
			}
			if _, ok := RefusalOf(err); !ok {
				t.Fatalf("%s %q: not a refusal: %v", k, v, err)
			}
		}
	})
}
