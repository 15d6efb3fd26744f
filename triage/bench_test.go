package triage

import (
	"context"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/normalize"
	"github.com/socbot/socbot/synth"
)

// BenchmarkHandle measures triage itself -- suppression, enrichment, verdicts, dedupe, correlation and
// the SQLite transaction -- per alert, in batches of 500 normalised synthetic alerts.
func BenchmarkHandle(b *testing.B) {
	h := newHarness(&testing.T{})
	ctx := context.Background()
	gen := synth.New(synth.Config{Tenant: "bench", Stories: 2000, Seed: 9})
	tn, _ := h.store.Tenant(ctx, h.tenant.ID)
	tn.Settings.CorrelationExclude = []string{gen.Egress()}
	if err := h.store.UpdateTenant(ctx, tn, admin); err != nil {
		b.Fatal(err)
	}
	const batch = 500
	mk := func() []socbot.Alert {
		out := make([]socbot.Alert, 0, batch)
		now := h.clock.Now()
		for len(out) < batch {
			_, _, rec := gen.Next(now)
			alerts, err := normalize.Normalize("", rec, now)
			if err != nil {
				b.Fatal(err)
			}
			for _, a := range alerts {
				a.UID, a.TenantID, a.ReceivedAt = socbot.NewID(), h.tenant.ID, now
				out = append(out, a)
			}
		}
		return out
	}
	batches := make([][]socbot.Alert, b.N/batch+1)
	for i := range batches {
		batches[i] = mk()
	}
	b.ResetTimer()
	for i := 0; i*batch < b.N; i++ {
		h.seq++
		if err := h.bot.Handle(ctx, []socbot.AlertBatch{{Stream: "S", Seq: h.seq, TenantID: h.tenant.ID, Alerts: batches[i]}}); err != nil {
			b.Fatal(err)
		}
		h.clock.Advance(time.Second)
	}
}

// BenchmarkCorrelate measures placing alerts in incidents from the cache, without the database.
func BenchmarkCorrelate(b *testing.B) {
	gen := synth.New(synth.Config{Tenant: "bench", Stories: 2000, Seed: 9})
	now := time.Now()
	alerts := make([]socbot.Alert, 0, 10000)
	for len(alerts) < cap(alerts) {
		_, _, rec := gen.Next(now)
		out, _ := normalize.Normalize("", rec, now)
		alerts = append(alerts, out...)
	}
	ex := newExclusions([]string{gen.Egress()})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := &alerts[i%len(alerts)]
		_ = fingerprint(a)
		_ = entities(a, ex)
	}
}
