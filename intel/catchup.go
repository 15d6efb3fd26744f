package intel

import (
	"context"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// CatchUp keeps an engine's match index in step with what other processes write to the store (other
// nodes, the command line): each Poll reads, tenant by tenant through the store's (tenant, modified)
// index, every indicator modified since the previous poll and applies it. Change events on the bus
// make other nodes' writes visible within milliseconds; CatchUp makes them visible whatever happens
// to the events. Indicators this engine wrote itself, and versions already applied, are skipped.
type CatchUp struct {
	e       *Engine
	tenants func(ctx context.Context) ([]string, error)
	// lag is how far back each poll looks again, for writers whose clock or commit lags behind.
	lag time.Duration

	mu    sync.Mutex
	start time.Time
	since map[string]time.Time // per tenant: the newest modification applied
	seen  map[string]time.Time // tenant + "\x00" + id -> modification applied
}

// NewCatchUp starts catching up with changes made after start (the time Load began). tenants lists
// the tenant ids to poll (the MSSP-wide set is always polled); lag defaults to 30 seconds.
func (e *Engine) NewCatchUp(tenants func(ctx context.Context) ([]string, error), start time.Time, lag time.Duration) *CatchUp {
	if lag <= 0 {
		lag = 30 * time.Second
	}
	c := &CatchUp{e: e, tenants: tenants, lag: lag, start: start, since: map[string]time.Time{}, seen: map[string]time.Time{}}
	e.catch.Store(c)
	return c
}

func (c *CatchUp) applied(ins []*Indicator) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, in := range ins {
		c.seen[in.TenantID+"\x00"+in.ID] = in.Modified
	}
}

// Poll applies the changes since the last poll and returns how many indicators it applied.
func (c *CatchUp) Poll(ctx context.Context) (int, error) {
	const op = "intel.CatchUp"
	ts, err := c.tenants(ctx)
	if err != nil {
		return 0, socbot.E(op, err)
	}
	ts = append([]string{""}, ts...)
	var fresh []Indicator
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range ts {
		since, ok := c.since[t]
		if !ok {
			since = c.start
		}
		newest := since
		f := Filter{TenantID: t, Ascending: true, ModifiedSince: since.Add(-c.lag), IncludeDead: true, Limit: 5000}
		for {
			page, err := c.e.store.SearchIndicators(ctx, f)
			if err != nil {
				return 0, socbot.E(op, err)
			}
			for i := range page {
				in := &page[i]
				k := t + "\x00" + in.ID
				if m, ok := c.seen[k]; !ok || !m.Equal(in.Modified) {
					c.seen[k] = in.Modified
					fresh = append(fresh, *in)
				}
				if in.Modified.After(newest) {
					newest = in.Modified
				}
			}
			if len(page) < f.Limit {
				break
			}
			l := page[len(page)-1]
			f.AfterModified, f.AfterID = l.Modified, l.ID
		}
		c.since[t] = newest
	}
	// forget versions older than every window
	oldest := time.Time{}
	for _, t := range ts {
		s := c.since[t]
		if oldest.IsZero() || s.Before(oldest) {
			oldest = s
		}
	}
	for k, m := range c.seen {
		if m.Before(oldest.Add(-2 * c.lag)) {
			delete(c.seen, k)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	c.mu.Unlock()
	c.e.ingestMu.Lock()
	c.e.updateIndex(ctx, fresh, false)
	c.e.ingestMu.Unlock()
	c.mu.Lock()
	return len(fresh), nil
}

// Run polls every interval until ctx ends.
func (c *CatchUp) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := c.Poll(ctx); err != nil && ctx.Err() == nil {
				c.e.log.Warn("intel: catching up with the store failed", "err", err)
			}
		}
	}
}
