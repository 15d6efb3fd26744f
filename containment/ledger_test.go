package containment_test

import (
	"sync"
	"testing"
	"time"

	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/ledgertest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestMemStoreConformance holds the in-memory ledger to the same contract as the SQL stores.
func TestMemStoreConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Env {
		return ledgertest.Env{Store: containment.NewMemStore(), Clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
			Tenant: func(_ *testing.T, name string) string { return "tenant-" + name }}
	})
}
