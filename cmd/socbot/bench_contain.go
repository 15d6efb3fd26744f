package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/nftables"
	"github.com/socbot/socbot/containment/containbench"
)

type benchContainCmd struct {
	JSON       bool   `help:"Print the result as JSON (fields mttc_p50_ms, mttc_p99_ms, actions, double_applied, lost, ...)."`
	Faults     bool   `help:"Fault mode: every vendor fake (PAN-OS, FortiGate, Zscaler, Netskope, Umbrella, Graph, Defender, CrowdStrike, SentinelOne, Mimecast, AWS Network Firewall, AWS WAF) configured as a tenant's connectors through the API of a real node, with 30% of vendor calls answering 429, 5xx or hanging past the timeout."`
	Actions    int    `help:"Actions to request (default 200, or 1000 in fault mode)."`
	Interval   string `default:"10ms" help:"Spacing between alerts on the MTTC path."`
	NetNS      string `name:"netns" help:"Use this existing network namespace for the nftables target instead of a throw-away one." placeholder:"NAME"`
	NoNftables bool   `name:"no-nftables" help:"Without root: the MTTC path ends in an external dynamic list file instead of an nftables set."`
	Direct     bool   `help:"Drive the containment bot directly (request -> nftables, no HTTP, no triage): the bot's own share of the time."`
	DB         string `help:"Database of the benchmark node (default SQLite in a temporary directory; postgres://... for PostgreSQL)." placeholder:"URL"`
}

func (c *benchContainCmd) Run(g *Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var progress func(done, total int)
	if isatty.IsTerminal(os.Stderr.Fd()) {
		var bar *progressbar.ProgressBar
		progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("containment actions"))
			}
			_ = bar.Set(done)
		}
	}
	log := g.Logger()
	var res containbench.Result
	var err error
	switch {
	case c.Direct:
		res, err = containbench.Run(ctx, containbench.Config{Actions: c.Actions, Faults: c.Faults, NetNS: c.NetNS, NoNftables: c.NoNftables, Log: log, Progress: progress})
	case c.Faults:
		res, err = c.faults(ctx, log, progress)
	default:
		res, err = c.mttc(ctx, log, progress)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("mode %s (%s): %d requests, %d actions on %v\n", res.Mode, res.Path, res.Requests, res.Actions, res.Connectors)
	fmt.Printf("  mean time to contain: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.MTTCP50ms, res.MTTCP99ms, res.MTTCMaxms)
	fmt.Printf("  applied %d, failed %d, double_applied %d, lost %d in %.1fs\n", res.Applied, res.Failed, res.DoubleApplied, res.Lost, res.Seconds)
	if len(res.FaultsInjected) > 0 {
		fmt.Printf("  faults injected: %v\n", res.FaultsInjected)
	}
	if len(res.FailReasons) > 0 {
		fmt.Printf("  failure reasons: %v\n", res.FailReasons)
	}
	return nil
}

// benchNode is a node started for a benchmark, with one tenant and its tokens.
type benchNode struct {
	n                       *node
	dir                     string
	tenant                  socbot.Tenant
	admin, analyst, ingestT string
}

func (b *benchNode) Close() {
	b.n.Stop()
	os.RemoveAll(b.dir)
}

// startBenchNode starts a node in a temporary directory with a tenant "bench" that exists before the
// containment bot starts (so that the configuration can name it).
func startBenchNode(ctx context.Context, log *slog.Logger, db string, cc ContainmentConfig) (*benchNode, error) {
	dir, err := os.MkdirTemp("", "socbot-bench-contain-")
	if err != nil {
		return nil, err
	}
	cfg := Config{Data: dir, Listen: "127.0.0.1:0", DB: db, Bots: knownBots(), Partitions: 1, Containment: cc}
	st, err := openStore(ctx, cfg, log, socbot.SystemClock{})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &benchNode{dir: dir, tenant: socbot.Tenant{Name: fmt.Sprintf("bench-%d", time.Now().UnixNano())}}
	err = st.CreateTenant(ctx, &b.tenant, cliPrincipal())
	st.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cfg.Containment.Tenants == nil {
		cfg.Containment.Tenants = map[string]ContainmentTenantSettings{}
	}
	ts := cfg.Containment.Tenants["bench"]
	delete(cfg.Containment.Tenants, "bench")
	cfg.Containment.Tenants[b.tenant.ID] = ts
	if b.n, err = startNode(ctx, cfg, log, nil); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, t := range []struct {
		dst    *string
		tenant string
		role   socbot.Role
	}{{&b.admin, "", socbot.RoleAdmin}, {&b.analyst, b.tenant.ID, socbot.RoleAnalyst}, {&b.ingestT, b.tenant.ID, socbot.RoleIngest}} {
		secret, hash := socbot.NewTokenSecret()
		tok := socbot.Token{Role: t.role, TenantID: t.tenant, Hash: hash, Prefix: secret[:12], Name: "bench-" + string(t.role)}
		if err := b.n.store.CreateToken(ctx, &tok, cliPrincipal()); err != nil {
			b.Close()
			return nil, err
		}
		*t.dst = secret
	}
	return b, nil
}

func (b *benchNode) url() string { return b.n.URL() }

func (b *benchNode) post(ctx context.Context, path, token string, body any, want int) ([]byte, error) {
	code, raw, err := apiCall(ctx, "POST", b.url()+path, token, body, nil)
	if err == nil && code != want {
		err = fmt.Errorf("POST %s: HTTP %d: %s", path, code, raw)
	}
	return raw, err
}

func percentiles(res *containbench.Result, ds []float64) {
	sort.Float64s(ds)
	if len(ds) > 0 {
		res.MTTCP50ms = ds[len(ds)/2]
		res.MTTCP99ms = ds[min(len(ds)-1, len(ds)*99/100)]
		res.MTTCMaxms = ds[len(ds)-1]
	}
}

// benchIP is the i-th address of the benchmark range (RFC 2544's 198.18.0.0/15).
func benchIP(i int) string { return fmt.Sprintf("198.18.%d.%d", 100+i/250, i%250+1) }

// mttc measures the automatic path on a real node: each alert is posted to the HTTP ingest API, the
// bus and triage make it an incident (the address is on the tenant's block list, so it is a confident
// C2 detection), the containment bot hears of the incident from the store, the default c2-address
// playbook asks for the block, the policy approves it (confidence 100), the executor adds it to the
// nftables set of a throw-away network namespace; the clock stops when the set holds the address.
func (c *benchContainCmd) mttc(ctx context.Context, log *slog.Logger, progress func(int, int)) (containbench.Result, error) {
	total := c.Actions
	if total <= 0 {
		total = 200
	}
	interval, err := socbot.ParseDuration(c.Interval)
	if err != nil {
		return containbench.Result{}, socbot.FieldError("bench contain", "interval", "bad duration %q", c.Interval)
	}
	res := containbench.Result{Mode: "mttc", Path: "http ingest -> bus -> triage -> incident -> playbook -> ledger -> nftables set", Requests: total,
		FaultsInjected: map[string]int{}, FailReasons: map[string]int{}}
	b, err := startBenchNode(ctx, log, c.DB, ContainmentConfig{MaxPerHour: 1 << 30, BaseBackoff: "50ms", CallTimeout: "5s"})
	if err != nil {
		return res, err
	}
	defer b.Close()

	// The target and a way to see what it holds.
	var connector map[string]any
	var present func(ctx context.Context, values []string) ([]bool, error)
	if c.NoNftables {
		res.Path = strings.Replace(res.Path, "nftables set", "external dynamic list file", 1)
		connector = map[string]any{"id": "lists", "type": "edl", "credentials": map[string]string{"username": "fw", "password": "bench-pass"}}
		file := filepath.Join(b.dir, "edl", b.tenant.ID, "lists", "soc-block-ip.txt")
		present = func(_ context.Context, values []string) ([]bool, error) {
			raw, err := os.ReadFile(file)
			if err != nil && !os.IsNotExist(err) {
				return nil, err
			}
			held := map[string]bool{}
			for _, line := range strings.Split(string(raw), "\n") {
				if f := strings.Fields(line); len(f) > 0 {
					held[strings.TrimSuffix(f[0], "/32")] = true
				}
			}
			out := make([]bool, len(values))
			for i, v := range values {
				out[i] = held[v]
			}
			return out, nil
		}
		res.Connectors = []string{"edl"}
	} else {
		ns := c.NetNS
		if ns == "" {
			ns = fmt.Sprintf("socbot-bench-%d", os.Getpid())
			if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
				return res, socbot.E("bench contain", socbot.KindUnavailable, fmt.Sprintf("creating network namespace %s (needs root and iproute2; or use --no-nftables): %v: %s", ns, err, strings.TrimSpace(string(out))))
			}
			defer exec.Command("ip", "netns", "del", ns).Run()
		}
		const table = "socbot_bench"
		connector = map[string]any{"id": "host-fw", "type": "nftables", "options": map[string]string{"netns": ns, "table": table}, "timeout": "5s"}
		nc, err := nftables.New(socbot.ConnectorConfig{ID: "bench-reader", Type: nftables.Type, Options: map[string]string{"netns": ns, "table": table}})
		if err != nil {
			return res, err
		}
		defer nc.Teardown()
		present = func(ctx context.Context, values []string) ([]bool, error) {
			reqs := make([]socbot.ContainmentRequest, len(values))
			for i, v := range values {
				reqs[i] = socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: v}
			}
			held, err := nc.Check(ctx, reqs)
			if err != nil && strings.Contains(err.Error(), "no such file or directory") {
				return make([]bool, len(values)), nil // the connector has not made its table yet
			}
			return held, err
		}
		res.Connectors = []string{"nftables"}
	}
	if _, err := b.post(ctx, "/api/v1/connectors?tenant="+b.tenant.ID, b.admin, connector, http.StatusCreated); err != nil {
		return res, err
	}
	if _, err := b.post(ctx, "/api/v1/indicators", b.analyst, map[string]any{"type": "cidr", "value": "198.18.0.0/15", "list": "bad",
		"description": "benchmark C2 range"}, http.StatusCreated); err != nil {
		return res, err
	}

	// Warm up (triage loads the tenant's lists, the connector creates its table): one alert, not timed.
	warm := "198.18.99.1"
	if _, err := b.post(ctx, "/api/v1/alerts", b.ingestT, c2Alert(1_000_000, warm, time.Now()), http.StatusAccepted); err != nil {
		return res, err
	}
	if err := waitPresent(ctx, present, []string{warm}, time.Minute); err != nil {
		return res, fmt.Errorf("warm-up alert never contained: %w", err)
	}

	values := make([]string, total)
	for i := range values {
		values[i] = benchIP(i)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	seen := map[string]time.Duration{}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // watch the target: the clock of each address stops when it is held
		defer wg.Done()
		for pctx.Err() == nil {
			mu.Lock()
			var pend []string
			for v := range sent {
				if _, ok := seen[v]; !ok {
					pend = append(pend, v)
				}
			}
			mu.Unlock()
			if len(pend) > 0 {
				held, err := present(pctx, pend)
				now := time.Now()
				if err == nil {
					mu.Lock()
					for i, v := range pend {
						if held[i] {
							seen[v] = now.Sub(sent[v])
						}
					}
					n := len(seen)
					mu.Unlock()
					if progress != nil {
						progress(n, total)
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t0 := time.Now()
	for i, v := range values {
		body := c2Alert(i, v, time.Now())
		mu.Lock()
		sent[v] = time.Now()
		mu.Unlock()
		if _, err := b.post(ctx, "/api/v1/alerts", b.ingestT, body, http.StatusAccepted); err != nil {
			return res, err
		}
		time.Sleep(interval)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == total {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()

	actions, err := ledger(ctx, b.url(), b.analyst)
	if err != nil {
		return res, err
	}
	per := map[string]int{}
	for _, a := range actions {
		if a.Value == warm {
			continue
		}
		res.Actions++
		per[a.Value]++
		switch a.State {
		case "applied":
			res.Applied++
		case "failed":
			res.Failed++
			res.FailReasons[a.Detail]++
		}
	}
	var ds []float64
	for _, v := range values {
		if per[v] > 1 {
			res.DoubleApplied += per[v] - 1
		}
		d, ok := seen[v]
		if !ok || per[v] == 0 {
			res.Lost++
			continue
		}
		ds = append(ds, float64(d.Microseconds())/1000)
	}
	percentiles(&res, ds)
	if err := stages(ctx, b, &res, actions, sent, seen); err != nil {
		return res, err
	}
	return res, nil
}

// stages splits each address's time to contain by where it was spent (server and client share the
// machine's clock).
func stages(ctx context.Context, b *benchNode, res *containbench.Result, actions []socbot.ContainmentAction, sent map[string]time.Time, seen map[string]time.Duration) error {
	var list struct {
		Incidents []socbot.Incident `json:"incidents"`
	}
	code, raw, err := apiCall(ctx, "GET", b.url()+"/api/v1/incidents?limit=1000", b.analyst, nil, &list)
	if err != nil || code != 200 {
		return fmt.Errorf("listing incidents: %v %d %s", err, code, raw)
	}
	created := map[int64]time.Time{}
	for _, inc := range list.Incidents {
		created[inc.ID] = inc.CreatedAt
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	by := map[string][]float64{}
	for _, a := range actions {
		t0, ok := sent[a.Value]
		ic, ok2 := created[a.IncidentID]
		d, ok3 := seen[a.Value]
		if !ok || !ok2 || !ok3 || a.AppliedAt == nil {
			continue
		}
		by["ingest"] = append(by["ingest"], ms(ic.Sub(t0)))
		by["playbook"] = append(by["playbook"], ms(a.CreatedAt.Sub(ic)))
		by["executor"] = append(by["executor"], ms(a.AppliedAt.Sub(a.CreatedAt)))
		by["observed"] = append(by["observed"], ms(t0.Add(d).Sub(*a.AppliedAt)))
	}
	res.StagesP50ms, res.StagesP99ms = map[string]float64{}, map[string]float64{}
	for k, v := range by {
		var r containbench.Result
		percentiles(&r, v)
		res.StagesP50ms[k], res.StagesP99ms[k] = r.MTTCP50ms, r.MTTCP99ms
	}
	return nil
}

// c2Alert is a CrowdStrike detection of host i talking to remote. Host, user and local address are
// distinct for each i (below 2^24), so that every i is its own incident.
func c2Alert(i int, remote string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"metadata":{"eventType":"DetectionSummaryEvent","eventCreationTime":%d},"event":{"ComputerName":"WS-%04d","UserName":"user%d",`+
		`"DetectName":"Command and control beacon","DetectId":"ldt:c2:%d-%d","Severity":4,"SeverityName":"High","LocalIP":"10.%d.%d.%d",`+
		`"NetworkAccesses":[{"RemoteAddress":"%s","RemotePort":443,"ConnectionDirection":0}]}}`,
		at.UnixMilli(), i, i, i, at.UnixNano(), i>>16&255, i>>8&255, i&255, remote))
}

// waitPresent waits until the target holds every value.
func waitPresent(ctx context.Context, present func(context.Context, []string) ([]bool, error), values []string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		held, err := present(ctx, values)
		if err != nil {
			return err
		}
		all := true
		for _, h := range held {
			all = all && h
		}
		if all {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%v not held after %s", values, d)
}

// faults runs a burst of actions across every vendor fake with 30% injected faults, through the API
// of a real node, and checks the ledger against what the fakes hold.
func (c *benchContainCmd) faults(ctx context.Context, log *slog.Logger, progress func(int, int)) (containbench.Result, error) {
	total := c.Actions
	if total <= 0 {
		total = 1000
	}
	res := containbench.Result{Mode: "faults", Path: "http request -> ledger -> vendor fakes (30% 429/5xx/hang)", FaultsInjected: map[string]int{}, FailReasons: map[string]int{}}
	cc := ContainmentConfig{MaxPerHour: 1 << 30, BaseBackoff: "50ms", MaxBackoff: "2s", CallTimeout: "5s", BreakerCooldown: "2s", MaxAttempts: 10, BatchSize: 10,
		Tenants: map[string]ContainmentTenantSettings{"bench": {Policy: autoPolicy()}}}
	b, err := startBenchNode(ctx, log, c.DB, cc)
	if err != nil {
		return res, err
	}
	defer b.Close()
	f, err := newFleet((total+11)/12, 100*time.Millisecond, 0)
	if err != nil {
		return res, err
	}
	defer f.Close()
	if err := f.Configure(ctx, b.url(), b.admin, b.tenant.ID, 300*time.Millisecond); err != nil {
		return res, err
	}
	res.Connectors = f.Types()
	f.SetFaults(0.3, 42)
	want := f.Requests()[:total]
	res.Requests = len(want)
	t0 := time.Now()
	if err := sendFleet(ctx, b.url(), b.analyst, want, 4); err != nil {
		return res, err
	}
	settled := waitSettled(ctx, b.url(), b.analyst, len(want), 3*time.Minute, progress)
	res.Seconds = time.Since(t0).Seconds()
	f.SetFaults(0, 0)
	actions, err := ledger(ctx, b.url(), b.analyst)
	if err != nil {
		return res, err
	}
	_ = settled
	t := f.Tally(want, actions)
	res.Actions, res.Applied, res.Failed, res.Lost, res.DoubleApplied, res.FailReasons = t.Actions, t.Applied, t.Failed, t.Lost, t.DoubleApplied, t.FailReasons
	res.LostBy = t.LostBy
	res.FaultsInjected = f.Injected()
	var ds []float64
	for _, a := range actions {
		if a.State == "applied" && a.AppliedAt != nil {
			ds = append(ds, float64(a.AppliedAt.Sub(a.CreatedAt).Microseconds())/1000)
		}
	}
	percentiles(&res, ds)
	return res, nil
}

// autoPolicy approves every action of the benchmark tenant at once (identity and host actions
// included), so that the burst measures the executor, not people.
func autoPolicy() *ContainmentPolicy {
	p := &ContainmentPolicy{}
	p.Rules = append(p.Rules, struct {
		Name      string `koanf:"name"`
		When      string `koanf:"when"`
		Approvals int    `koanf:"approvals"`
	}{Name: "benchmark-auto", When: "true", Approvals: 0})
	return p
}

// sendFleet posts every request to POST /actions with a few concurrent clients.
func sendFleet(ctx context.Context, url, token string, want []fleetRequest, workers int) error {
	next := make(chan fleetRequest)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				code, raw, err := apiCall(ctx, "POST", url+"/api/v1/actions", token, map[string]any{"kind": r.Kind, "value": r.Value,
					"connector_id": r.Connector, "confidence": 99, "reason": "benchmark burst"}, nil)
				if err == nil && code != http.StatusCreated {
					err = fmt.Errorf("requesting %s %s on %s: HTTP %d: %s", r.Kind, r.Value, r.Connector, code, raw)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for _, r := range want {
		select {
		case next <- r:
		case err = <-errs:
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// waitSettled polls the ledger until n actions rest (applied or failed), or d passes.
func waitSettled(ctx context.Context, url, token string, n int, d time.Duration, progress func(int, int)) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		actions, err := ledger(ctx, url, token)
		if err == nil {
			done := 0
			for _, a := range actions {
				if a.State == "applied" || a.State == "failed" {
					done++
				}
			}
			if progress != nil {
				progress(done, n)
			}
			if done >= n {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}
