package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/httpapi"
	"github.com/socbot/socbot/synth"
)

type benchTriageCmd struct {
	Alerts  int     `help:"Alerts to send." default:"200000"`
	Tenants int     `help:"Client tenants the alerts spread over." default:"4"`
	Rate    float64 `help:"Offered load in alerts/s; 0 sends as fast as the server takes them." default:"0"`
	Batch   int     `help:"Alerts per HTTP request (NDJSON)." default:"500"`
	Clients int     `help:"Concurrent HTTP clients." default:"4"`
	Stories int     `help:"Distinct stories (victim host + user) per tenant." default:"2000"`
	DB      string  `help:"Run against this database instead of embedded SQLite (postgres://...)." placeholder:"URL"`
	NATS    string  `help:"Run against this NATS instead of embedded JetStream." placeholder:"URL"`
	Keep    string  `help:"Keep the data in this directory instead of a temporary one." placeholder:"DIR"`
	JSON    bool    `help:"Print only the JSON result."`
	Profile string  `help:"Write a CPU profile of the timed part to this file." placeholder:"FILE"`
}

// BenchTriageResult is what socbot bench triage prints.
type BenchTriageResult struct {
	Alerts       int     `json:"alerts"`
	Accepted     int64   `json:"accepted"`
	Tenants      int     `json:"tenants"`
	Batch        int     `json:"batch"`
	Clients      int     `json:"clients"`
	OfferedRate  float64 `json:"offered_rate"`
	ElapsedSec   float64 `json:"elapsed_sec"`
	AlertsPerSec float64 `json:"alerts_per_sec"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	P99ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Lost         int64   `json:"lost"`
	Duplicated   int64   `json:"duplicated"`
	Incidents    int64   `json:"incidents"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	CPUus        float64 `json:"cpu_us_per_alert"` // process CPU time (user+system, all threads) per alert: steadier than wall time on a shared machine
	DB           string  `json:"db"`
	Bus          string  `json:"bus"`
	CPUs         int     `json:"cpus"`
	GoVersion    string  `json:"go"`
}

// latencies collects ingest-to-commit latencies from the triage observer.
type latencies struct {
	mu   sync.Mutex
	ms   []float32
	done atomic.Int64
	last atomic.Int64 // unix nanos of the latest commit
}

func (l *latencies) Triaged(alerts []*socbot.Alert, at time.Time) {
	l.mu.Lock()
	for _, a := range alerts {
		l.ms = append(l.ms, float32(at.Sub(a.ReceivedAt).Seconds()*1000))
	}
	l.mu.Unlock()
	l.done.Add(int64(len(alerts)))
	l.last.Store(at.UnixNano())
}

func (c *benchTriageCmd) Run(g *Globals) error {
	ctx := context.Background()
	if c.Alerts <= 0 || c.Tenants <= 0 || c.Batch <= 0 || c.Clients <= 0 {
		return socbot.FieldError("bench triage", "alerts", "--alerts, --tenants, --batch and --clients must be positive")
	}
	dir := c.Keep
	if dir == "" {
		d, err := os.MkdirTemp("", "socbot-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	say := func(format string, args ...any) {
		if !c.JSON {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lat := &latencies{ms: make([]float32, 0, c.Alerts)}
	cfg := Config{Data: dir, Listen: "127.0.0.1:0", DB: c.DB, NATS: c.NATS, Bots: []string{"triage"}, Partitions: 4}
	n, err := startNode(ctx, cfg, logger, lat)
	if err != nil {
		return err
	}
	defer n.Stop()

	// Tenants, ingest tokens, and the egress address excluded from correlation as an MSSP would.
	type tenantLoad struct {
		token string
		gen   *synth.Generator
	}
	var loads []tenantLoad
	for i := 0; i < c.Tenants; i++ {
		gen := synth.New(synth.Config{Tenant: fmt.Sprintf("bench%d", i), Stories: c.Stories, Seed: uint64(i + 1)})
		t := socbot.Tenant{Name: fmt.Sprintf("bench-%d", i)}
		t.Settings = socbot.DefaultSettings()
		t.Settings.CorrelationExclude = []string{gen.Egress()}
		if err := n.store.CreateTenant(ctx, &t, cliPrincipal()); err != nil {
			return err
		}
		secret, hash := socbot.NewTokenSecret()
		if err := n.store.CreateToken(ctx, &socbot.Token{Role: socbot.RoleIngest, TenantID: t.ID, Hash: hash, Prefix: secret[:12]}, cliPrincipal()); err != nil {
			return err
		}
		loads = append(loads, tenantLoad{token: secret, gen: gen})
	}

	// Build every request before the clock starts, so that generating load costs the server nothing.
	type request struct {
		token string
		body  []byte
		count int
	}
	say("generating %d alerts for %d tenants in %d formats…", c.Alerts, c.Tenants, len(synth.Formats))
	var reqs []request
	now := time.Now().UTC()
	for sent := 0; sent < c.Alerts; {
		l := loads[len(reqs)%len(loads)]
		var buf bytes.Buffer
		k := min(c.Batch, c.Alerts-sent)
		for j := 0; j < k; j++ {
			_, _, rec := l.gen.Next(now)
			buf.Write(rec)
			buf.WriteByte('\n')
		}
		reqs = append(reqs, request{token: l.token, body: buf.Bytes(), count: k})
		sent += k
	}

	var bar *progressbar.ProgressBar
	if !c.JSON && isatty.IsTerminal(os.Stderr.Fd()) {
		bar = progressbar.NewOptions(c.Alerts, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("triage"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(200*time.Millisecond))
	}
	say("sending through %s with %d clients…", n.URL(), c.Clients)
	var accepted atomic.Int64
	var sendErr atomic.Value
	queue := make(chan request, len(reqs))
	for _, r := range reqs {
		queue <- r
	}
	close(queue)
	var pace <-chan time.Time
	if c.Rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) * float64(c.Batch) / c.Rate))
		defer tick.Stop()
		pace = tick.C
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.Clients * 2}, Timeout: 2 * time.Minute}
	if c.Profile != "" {
		f, err := os.Create(c.Profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	cpuStart := cpuTime()
	var wg sync.WaitGroup
	for i := 0; i < c.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range queue {
				if pace != nil {
					<-pace
				}
				got, err := benchPost(client, n.URL(), r.token, r.body)
				if err != nil {
					sendErr.Store(err)
					continue
				}
				accepted.Add(int64(got))
				if bar != nil {
					_ = bar.Add(got)
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	deadline := time.Now().Add(5*time.Minute + sent)
	for lat.done.Load() < accepted.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err, _ := sendErr.Load().(error); err != nil {
		say("some requests failed: %v", err)
	}
	elapsed := time.Unix(0, lat.last.Load()).Sub(start)
	cpuUsed := cpuTime() - cpuStart

	res := BenchTriageResult{Alerts: c.Alerts, Accepted: accepted.Load(), Tenants: c.Tenants, Batch: c.Batch, Clients: c.Clients,
		OfferedRate: c.Rate, ElapsedSec: round(elapsed.Seconds(), 3), DB: n.store.Engine(), Bus: busName(n.bus), CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	res.AlertsPerSec = round(float64(res.Accepted)/elapsed.Seconds(), 0)
	lat.mu.Lock()
	sort.Slice(lat.ms, func(i, j int) bool { return lat.ms[i] < lat.ms[j] })
	q := func(p float64) float64 {
		if len(lat.ms) == 0 {
			return 0
		}
		return round(float64(lat.ms[min(len(lat.ms)-1, int(p*float64(len(lat.ms))))]), 1)
	}
	res.P50ms, res.P90ms, res.P99ms, res.MaxMs = q(0.50), q(0.90), q(0.99), q(1)
	lat.mu.Unlock()
	var rows, distinct int64
	if err := n.store.DB().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT tenant_id || ':' || source_id) FROM alerts`).Scan(&rows, &distinct); err != nil {
		return err
	}
	res.Duplicated = rows - distinct
	res.Lost = max(0, res.Accepted-distinct)
	if err := n.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&res.Incidents); err != nil {
		return err
	}
	res.PeakRSSMB = peakRSSMB()
	res.CPUus = round(float64(cpuUsed.Microseconds())/float64(max(res.Accepted, 1)), 1)
	out, _ := json.MarshalIndent(res, "", "  ")
	if c.JSON {
		out, _ = json.Marshal(res)
	}
	fmt.Println(string(out))
	if res.Accepted != int64(c.Alerts) {
		return fmt.Errorf("only %d of %d alerts were accepted", res.Accepted, c.Alerts)
	}
	return nil
}

func benchPost(client *http.Client, base, token string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("ingest answered %s: %s", resp.Status, b)
	}
	var r httpapi.IngestResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	return r.Accepted, nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB reads the process's peak resident set size (Linux).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return round(kb/1024, 1)
		}
	}
	return 0
}

func round(v float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func httpClient() *http.Client { return &http.Client{Timeout: time.Minute} }
