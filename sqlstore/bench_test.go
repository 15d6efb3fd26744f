package sqlstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/normalize"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/synth"
)

// cpuNow is the process's user plus system CPU time in nanoseconds: on a shared machine it varies
// less than wall time.
func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkInsertAlerts measures writing triaged alerts to SQLite, 500 per transaction: the floor
// under triage's cost per alert.
func BenchmarkInsertAlerts(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), quiet)
	if err != nil {
		b.Fatal(err)
	}
	s := sqlstore.New(db, sqlstore.SQLite, socbot.SystemClock{}, quiet)
	defer s.Close()
	tn := socbot.Tenant{Name: "bench"}
	if err := s.CreateTenant(context.Background(), &tn, socbot.Bot("bench")); err != nil {
		b.Fatal(err)
	}
	gen := synth.New(synth.Config{Tenant: "bench", Seed: 1})
	now := time.Now()
	var pool []*socbot.Alert
	for len(pool) < 5000 {
		_, _, rec := gen.Next(now)
		out, _ := normalize.Normalize("", rec, now)
		for i := range out {
			a := &out[i]
			a.UID, a.TenantID, a.ReceivedAt, a.Status, a.IncidentID, a.GroupID = socbot.NewID(), tn.ID, now, socbot.AlertOpen, 1, 1
			a.Reasons = []string{"CrowdStrike reports severity high", "source reliability 85/100", "risk score 70 → P2"}
			pool = append(pool, a)
		}
	}
	b.ResetTimer()
	cpu0 := cpuNow()
	defer func() { b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i += 500 {
		batch := make([]*socbot.Alert, 0, 500)
		for j := i; j < i+500; j++ {
			batch = append(batch, pool[j%len(pool)])
		}
		if err := s.TriageTx(context.Background(), func(tx socbot.TriageTx) error { return tx.InsertAlerts(batch) }); err != nil {
			b.Fatal(fmt.Errorf("insert: %w", err))
		}
	}
}
