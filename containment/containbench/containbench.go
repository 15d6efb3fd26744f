// Package containbench measures the containment bot end to end: the time from a containment request
// to the block being effective in a real nftables set (mean time to contain on the automatic path),
// and, under injected vendor faults (429 with a delay, 5xx, hangs past the call timeout), that every
// action ends applied or failed with a reason, with nothing applied twice and nothing lost.
// `socbot bench contain` prints its Result; the lead's end-to-end benchmark (alert ingest -> triage ->
// containment) calls Run with its own Submit hook.
package containbench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/nftables"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/fakeconn"
)

// Target is one connector the benchmark drives, with a way to see what it holds.
type Target struct {
	ID        string
	Conn      socbot.Connector
	Present   func(ctx context.Context, value string) (bool, error) // is the block in effect at the vendor
	DoubleApp func() int                                            // effects created more than once (0 if the vendor cannot tell)
	Faulty    bool                                                  // the target injects faults (fault mode)
}

// Config says what to run.
type Config struct {
	Actions     int           // actions to request (default 200; fault mode 1000)
	Faults      bool          // fault mode: 30% of vendor calls fail (429, 5xx, hang past timeout)
	Interval    time.Duration // spacing between requests on the MTTC path (default 2ms)
	CallTimeout time.Duration // per vendor call (default 100ms in fault mode, 5s otherwise)
	Deadline    time.Duration // give up waiting for the work to settle (default 2m)
	BatchSize   int           // requests per connector call (default 50; 10 in fault mode, so that more calls meet faults)
	NetNS       string        // network namespace for the nftables target; empty: the benchmark makes one
	NoNftables  bool          // leave out the nftables target (machines without root)
	Extra       []Target      // more targets (the vendor fakes)
	Log         *slog.Logger
	Progress    func(done, total int) // optional progress callback
	// Submit, if set, replaces the direct containment request: it must cause the bot to request a
	// block of value (e.g. by posting an alert through HTTP ingest). t0 is taken before Submit.
	Submit func(ctx context.Context, bot *containment.Bot, value string) error
}

// Result is what `socbot bench contain --json` prints.
type Result struct {
	Mode           string         `json:"mode"`           // mttc or faults
	Path           string         `json:"path,omitempty"` // what the clock covers
	Requests       int            `json:"requests"`       // values requested (each on every connector)
	Actions        int            `json:"actions"`        // ledger actions: requests x connectors
	Applied        int            `json:"applied"`
	Failed         int            `json:"failed"`
	MTTCP50ms      float64        `json:"mttc_p50_ms"`
	MTTCP99ms      float64        `json:"mttc_p99_ms"`
	MTTCMaxms      float64        `json:"mttc_max_ms"`
	DoubleApplied  int            `json:"double_applied"`
	Lost           int            `json:"lost"`
	Connectors     []string       `json:"connectors"`
	FaultsInjected map[string]int `json:"faults_injected,omitempty"`
	FailReasons    map[string]int `json:"fail_reasons,omitempty"`
	LostBy         map[string]int `json:"lost_by,omitempty"` // connector and why, for each lost action
	// Where the time goes on the HTTP path, p50 and p99 per stage in ms: ingest (alert posted to
	// triage's incident), playbook (incident to ledger action: commit, feed, playbook, rails,
	// policy), executor (action to applied at the vendor) and observed (applied to seen in the set).
	StagesP50ms map[string]float64 `json:"stages_p50_ms,omitempty"`
	StagesP99ms map[string]float64 `json:"stages_p99_ms,omitempty"`
	Seconds     float64            `json:"seconds"`
}

const tenant = "bench"

// makeNetNS creates a throw-away network namespace for the nftables target.
func makeNetNS() (string, func(), error) {
	name := fmt.Sprintf("socbot-bench-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("creating network namespace %s (needs root and iproute2): %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return name, func() { _ = exec.Command("ip", "netns", "del", name).Run() }, nil
}

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Actions <= 0 {
		cfg.Actions = 200
		if cfg.Faults {
			cfg.Actions = 1000
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Millisecond
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Second
		if cfg.Faults {
			cfg.CallTimeout = 100 * time.Millisecond
		}
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 50
		if cfg.Faults {
			cfg.BatchSize = 10
		}
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 2 * time.Minute
	}
	res := Result{Mode: "mttc", Path: "containment request -> ledger -> connectors (no HTTP, no triage)", Requests: cfg.Actions, FaultsInjected: map[string]int{}, FailReasons: map[string]int{}}
	if cfg.Faults {
		res.Mode = "faults"
	}
	var targets []Target
	if !cfg.NoNftables {
		ns := cfg.NetNS
		if ns == "" {
			name, cleanup, err := makeNetNS()
			if err != nil {
				return res, socbot.E("containbench.Run", socbot.KindUnavailable, err)
			}
			defer cleanup()
			ns = name
		}
		c, err := socbot.NewConnector(socbot.ConnectorConfig{ID: "nftables", Type: nftables.Type, TenantID: tenant,
			Options: map[string]string{"netns": ns, "table": "socbot_bench"}, Timeout: cfg.CallTimeout})
		if err != nil {
			return res, err
		}
		nc := c.(*nftables.Conn)
		defer func() { _ = nc.Teardown() }()
		targets = append(targets, Target{ID: "nftables", Conn: nc, Present: func(ctx context.Context, v string) (bool, error) {
			p, err := nc.Check(ctx, []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: v}})
			if err != nil {
				return false, err
			}
			return p[0], nil
		}, DoubleApp: func() int { return 0 }})
	}
	if cfg.Faults {
		for i := 0; i < 3; i++ {
			id := fmt.Sprintf("memory-%d", i+1)
			c, err := socbot.NewConnector(socbot.ConnectorConfig{ID: id, Type: fakeconn.Type, TenantID: tenant, Timeout: cfg.CallTimeout})
			if err != nil {
				return res, err
			}
			f := c.(*fakeconn.Conn)
			f.SetFaults(fakeconn.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, HangApplies: 0.5, RetryAfter: 100 * time.Millisecond, Seed: int64(i + 1)})
			f.SetNonIdempotent(i%2 == 0)
			targets = append(targets, Target{ID: id, Conn: f, Faulty: true,
				Present:   func(_ context.Context, v string) (bool, error) { return f.Present(socbot.ActBlockIP, v), nil },
				DoubleApp: func() int { return f.Stats().DoubleApplied }})
		}
	}
	targets = append(targets, cfg.Extra...)
	if len(targets) == 0 {
		return res, socbot.E("containbench.Run", socbot.KindInvalid, "no connector to drive (nftables left out and no extra targets)")
	}

	store := containment.NewMemStore()
	conns := containment.NewConnectors(store, nil, socbot.SystemClock{})
	for _, t := range targets {
		conns.Add(tenant, t.ID, t.Conn)
		res.Connectors = append(res.Connectors, t.ID)
	}
	rails := containment.DefaultRails()
	rails.MaxPerHour = 1 << 30
	rails.SetTenant(tenant, containment.TenantRails{MaxPerHour: 1 << 30})

	var mu sync.Mutex
	start := map[string]time.Time{} // value -> request time
	took := map[string]time.Duration{}
	settled := 0
	done := make(chan struct{})
	total := cfg.Actions
	onSettled := func(_ context.Context, a containment.Action) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if a.State == containment.StateApplied || a.State == containment.StateFailed {
			if t0, ok := start[a.Value]; ok && a.State == containment.StateApplied {
				if d := now.Sub(t0); d > took[a.Value] {
					took[a.Value] = d // slowest connector of the value: contained everywhere
				}
			}
			settled++
			if cfg.Progress != nil {
				cfg.Progress(settled, total*len(targets))
			}
			if settled == total*len(targets) {
				close(done)
			}
		}
	}
	bot := containment.New(containment.Config{Store: store, Resolver: conns, Rails: rails, Log: cfg.Log,
		Executor: containment.ExecutorConfig{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, CallTimeout: cfg.CallTimeout,
			Poll: 50 * time.Millisecond, BatchSize: cfg.BatchSize, BreakerCooldown: 2 * time.Second, MaxAttempts: 10, OnSettled: onSettled}})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = bot.Run(rctx) }()

	t0 := time.Now()
	values := make([]string, total)
	for i := range values {
		values[i] = fmt.Sprintf("198.51.%d.%d", 100+i/250, i%250+1)
	}
	for i, v := range values {
		mu.Lock()
		start[v] = time.Now()
		mu.Unlock()
		var err error
		if cfg.Submit != nil {
			err = cfg.Submit(ctx, bot, v)
		} else {
			_, err = bot.Request(ctx, containment.Request{TenantID: tenant, Kind: socbot.ActBlockIP, Value: v, TTL: time.Hour,
				RequestedBy: "bot:bench", Reason: "benchmark", Confidence: 99, IncidentID: int64(i + 1)})
		}
		if err != nil {
			return res, err
		}
		if !cfg.Faults {
			time.Sleep(cfg.Interval)
		}
	}
	select {
	case <-done:
	case <-time.After(cfg.Deadline):
		cfg.Log.Warn("containment benchmark deadline passed before every action settled")
	case <-ctx.Done():
		return res, ctx.Err()
	}
	cancel()
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()

	// Tally: the ledger against what each vendor holds.
	as, err := store.ListActions(ctx, containment.ActionFilter{TenantID: tenant})
	if err != nil {
		return res, err
	}
	res.Actions = len(as)
	byID := map[string]Target{}
	for _, t := range targets {
		byID[t.ID] = t
	}
	for _, a := range as {
		t := byID[a.ConnectorID]
		present, err := t.Present(ctx, a.Value)
		if err != nil {
			return res, err
		}
		switch a.State {
		case containment.StateApplied:
			res.Applied++
			if !present {
				res.Lost++
			}
		case containment.StateFailed:
			res.Failed++
			reason := a.Detail
			if i := strings.IndexByte(reason, ':'); i > 0 {
				reason = reason[:i]
			}
			res.FailReasons[reason]++
			if present && !strings.Contains(a.Detail, "outcome unknown") {
				res.Lost++
			}
		default:
			res.Lost++ // never settled
		}
	}
	if missing := total*len(targets) - len(as); missing > 0 {
		res.Lost += missing
	}
	for _, t := range targets {
		res.DoubleApplied += t.DoubleApp()
		if f, ok := t.Conn.(*fakeconn.Conn); ok {
			for k, v := range f.Stats().Faults {
				res.FaultsInjected[k] += v
			}
		}
	}
	var ds []float64
	for _, d := range took {
		ds = append(ds, float64(d.Microseconds())/1000)
	}
	sort.Float64s(ds)
	if len(ds) > 0 {
		res.MTTCP50ms = ds[len(ds)/2]
		res.MTTCP99ms = ds[min(len(ds)-1, len(ds)*99/100)]
		res.MTTCMaxms = ds[len(ds)-1]
	}
	return res, nil
}
