package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/stix"
)

type benchIntelCmd struct {
	Indicators int      `help:"Synthetic indicators in the match index." default:"5000000"`
	Lookups    int      `help:"Lookups to time (one goroutine)." default:"5000000"`
	Batch      int      `help:"Observables per batched lookup (one tenant's)." default:"64"`
	Present    float64  `help:"Share of looked-up values taken from the indicator set (the rest are random, nearly all absent)." default:"0.5"`
	FeedItems  int      `help:"Indicators per synthetic feed (STIX bundle and CSV) for the import figure." default:"300000"`
	TextMB     int      `help:"Megabytes of synthetic advisory text for the extraction figure." default:"64"`
	JSON       bool     `help:"Print the figures as one JSON object (the default prints them as JSON too, indented)."`
	Seed       uint64   `help:"Random seed of the synthetic data." default:"1"`
	Parts      []string `help:"Which figures to measure: index, feed, extract (comma list)." default:"index,feed,extract" enum:"index,feed,extract"`
	CPUProfile string   `help:"Write a CPU profile of the whole run to this file." placeholder:"FILE" type:"path"`
	MemProfile string   `help:"Write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)." placeholder:"FILE" type:"path"`
	Store      string   `help:"Store of the import figure: sql (SQLite in a temporary directory, or --db) or memory." enum:"sql,memory" default:"sql"`
	Feeds      []string `help:"Feed formats of the import figure (comma list); feed_indicators_per_sec is the slowest." enum:"stix,csv" default:"stix,csv"`
	Reimport   bool     `help:"Also import each feed a second time into the same store (every indicator stored already): <format>_reimport_indicators_per_sec."`
	DB         string   `help:"Measure the import into this database instead (postgres://... or sqlite:PATH): give it a database of its own, socbot's migrations are applied to it and the bench tenant's indicators deleted first." placeholder:"URL"`
}

func (c *benchIntelCmd) Help() string {
	return `Measures the intel bot's hot paths on this machine:
  load_sec, lookups_per_sec, bytes_per_indicator  the match index over --indicators mixed indicators
                                                   (IPs, CIDRs, domains, URLs, hashes, e-mails over 20 tenants);
                                                   half the lookups hit (subdomains, addresses inside CIDRs),
                                                   half miss; one goroutine. lookups_per_sec is the batched
                                                   lookup (--batch observables of one tenant per call, as
                                                   triage and monitor call it); single_lookups_per_sec one
                                                   value per call; both allocation-free. match_api_* is the
                                                   IndicatorMatcher interface with every hit materialised.
                                                   bytes_per_indicator excludes the values
  feed_indicators_per_sec                          parse + normalise + dedupe + store, the slowest of
                                                   a STIX 2.1 bundle and a CSV feed (--feeds) of
                                                   --feed-items indicators each, into a new store
                                                   (SQLite in a temporary directory, its log
                                                   checkpointed in the background as socbot serve
                                                   does, unless --db); *_per_cpu_sec divide by the
                                                   process's CPU time instead of the wall clock;
                                                   load_avg_* is the machine's load around it
  extract_mb_per_sec                               IOC extraction from advisory-like text, one core`
}

func (c *benchIntelCmd) Run(g *Globals) error {
	res := map[string]any{"indicators": c.Indicators, "present_ratio": c.Present, "gomaxprocs": runtime.GOMAXPROCS(0), "go": runtime.Version()}
	now := time.Now().UTC()

	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.MemProfile != "" {
		defer func() {
			if f, err := os.Create(c.MemProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if slices.Contains(c.Parts, "index") {
		if err := c.benchIndex(res, now); err != nil {
			return err
		}
	}
	if slices.Contains(c.Parts, "feed") {
		res["load_avg_start"] = loadAverage()
		var wall, cpu []float64
		for _, f := range c.Feeds {
			body := c.csvFeed()
			if f == "stix" {
				body = c.stixFeed(now)
			}
			r, err := c.feedRate(f, body)
			if err != nil {
				return err
			}
			res[f+"_indicators_per_sec"] = r.wall
			res[f+"_indicators_per_cpu_sec"] = r.cpu
			if c.Reimport {
				res[f+"_reimport_indicators_per_sec"] = r.reWall
				res[f+"_reimport_indicators_per_cpu_sec"] = r.reCPU
			}
			wall, cpu = append(wall, r.wall), append(cpu, r.cpu)
		}
		res["feed_indicators_per_sec"] = slices.Min(wall)
		res["feed_indicators_per_cpu_sec"] = slices.Min(cpu)
		res["feed_store"] = c.Store
		res["load_avg_end"] = loadAverage()
	}

	if slices.Contains(c.Parts, "extract") {
		c.benchExtract(res)
	}
	enc := json.NewEncoder(os.Stdout)
	if !c.JSON {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(res)
}

// benchIndex measures the match index: build time, memory and lookups.
func (c *benchIntelCmd) benchIndex(res map[string]any, now time.Time) error {
	fmt.Fprintf(os.Stderr, "generating %d synthetic indicators...\n", c.Indicators)
	entries := intel.SyntheticEntries(c.Indicators, c.Seed, now)
	queries := intel.SyntheticQueriesRatio(entries, 1<<20, c.Seed+1, c.Present)
	debug.FreeOSMemory()
	rss0 := rssBytes()
	m := intel.NewMatcher(intel.DefaultDecay(), socbot.SystemClock{})
	start := time.Now()
	m.Reset(entries)
	res["load_sec"] = time.Since(start).Seconds()
	debug.FreeOSMemory() // return the build's garbage, so that the difference is the index alone
	rss1 := rssBytes()   // entries are still alive: the difference is the index alone (tables live outside the Go heap)
	runtime.KeepAlive(entries)
	entries = nil
	st := m.Stats()
	res["bytes_per_indicator"] = float64(st.StructureBytes) / float64(c.Indicators)
	res["value_bytes_per_indicator"] = float64(st.ValueBytes) / float64(c.Indicators)
	if rss0 > 0 && rss1 > rss0 {
		res["rss_bytes_per_indicator_with_values"] = float64(rss1-rss0) / float64(c.Indicators)
	}
	fmt.Fprintf(os.Stderr, "index built in %.1fs; timing %d lookups...\n", res["load_sec"], c.Lookups)
	mask := len(queries) - 1
	// the batches triage and monitor make: observables of one tenant at a time
	batches := tenantBatches(queries, c.Batch)
	timed := func(fn func() int) (wall, cpu time.Duration, hits int) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := threadCPU()
		start := time.Now()
		hits = fn()
		return time.Since(start), threadCPU() - cpu0, hits
	}
	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	buf := make([]intel.Hit, 0, 16)
	single := func(n int) int {
		hits := 0
		for i := 0; i < n; i++ {
			q := &queries[i&mask]
			buf = m.Lookup(buf[:0], q.Tenant, q.Type, q.Value)
			hits += len(buf)
		}
		return hits
	}
	var b intel.Batcher
	batched := func(n int) int {
		hits := 0
		for i, done := 0, 0; done < n; i++ {
			bt := &batches[i%len(batches)]
			hits += len(m.LookupBatch(&b, bt.tenant, bt.obs))
			done += len(bt.obs)
		}
		return hits
	}
	// the clock the engine keeps for its match index (Engine.Run)
	clockCtx, stopClock := context.WithCancel(context.Background())
	defer stopClock()
	go m.RunClock(clockCtx, 250*time.Millisecond)
	single(200000) // warm-up
	batched(200000)
	el, cpu, hits := timed(func() int { return single(c.Lookups) })
	res["lookups"] = c.Lookups
	res["single_lookups_per_sec"] = rate(c.Lookups, el)
	res["single_lookups_per_cpu_sec"] = rate(c.Lookups, cpu) // on a shared machine the wall clock includes waiting for a core
	res["single_ns_per_lookup"] = float64(el.Nanoseconds()) / float64(c.Lookups)
	res["hit_ratio"] = float64(hits) / float64(c.Lookups)
	n := 0
	for i := 0; n < c.Lookups; i++ {
		n += len(batches[i%len(batches)].obs)
	}
	el, cpu, bhits := timed(func() int { return batched(c.Lookups) })
	res["batch_size"] = c.Batch
	res["batch_lookups_per_sec"] = rate(n, el)
	res["batch_lookups_per_cpu_sec"] = rate(n, cpu)
	res["batch_hit_ratio"] = float64(bhits) / float64(n)
	// the headline figure is the batched one: triage matches an alert's observables and monitor a
	// block of log events in one call
	res["lookups_per_sec"] = res["batch_lookups_per_sec"]
	res["lookups_per_cpu_sec"] = res["batch_lookups_per_cpu_sec"]
	// the socbot.IndicatorMatcher interface: every hit materialised (id computed, result allocated)
	apiN := c.Lookups / 5
	el, cpu, _ = timed(func() int {
		h := 0
		for i := 0; i < apiN; i++ {
			q := &queries[i&mask]
			h += len(m.Match(q.Tenant, q.Type, q.Value))
		}
		return h
	})
	res["match_api_lookups_per_sec"] = rate(apiN, el)
	res["match_api_lookups_per_cpu_sec"] = rate(apiN, cpu)
	queries = nil
	m = nil
	runtime.GC()
	debug.FreeOSMemory()
	return nil
}

type tenantBatch struct {
	tenant string
	obs    []socbot.Observable
}

// tenantBatches cuts the queries into batches of up to size observables of one tenant each, in the
// queries' order within each tenant; each batch's values lie in one buffer, as when an alert or a
// block of log lines has just been parsed.
func tenantBatches(queries []intel.Observation, size int) []tenantBatch {
	if size <= 0 {
		size = 64
	}
	open := map[string]int{}
	var out []tenantBatch
	for _, q := range queries {
		i, ok := open[q.Tenant]
		if !ok || len(out[i].obs) == size {
			i = len(out)
			open[q.Tenant] = i
			out = append(out, tenantBatch{tenant: q.Tenant, obs: make([]socbot.Observable, 0, size)})
		}
		out[i].obs = append(out[i].obs, socbot.Observable{Type: q.Type, Value: q.Value})
	}
	for i := range out {
		var b strings.Builder
		for _, o := range out[i].obs {
			b.WriteString(o.Value)
		}
		all, off := b.String(), 0
		for j := range out[i].obs {
			l := len(out[i].obs[j].Value)
			out[i].obs[j].Value = all[off : off+l]
			off += l
		}
	}
	return out
}

// benchExtract measures IOC extraction.
func (c *benchIntelCmd) benchExtract(res map[string]any) {
	text := benchText(c.TextMB << 20)
	ex := ioc.New(ioc.Options{})
	n := 0
	runtime.LockOSThread()
	cpu0 := threadCPU()
	start := time.Now()
	ex.Extract(text, func(ioc.IOC) { n++ })
	secs := time.Since(start).Seconds()
	cpu := threadCPU() - cpu0
	runtime.UnlockOSThread()
	res["extract_mb_per_sec"] = float64(len(text)) / (1 << 20) / secs
	if cpu > 0 {
		res["extract_mb_per_cpu_sec"] = float64(len(text)) / (1 << 20) / cpu.Seconds()
	}
	res["extract_iocs"] = n
}

// feedFigures are the import figures of one feed: indicators per second of the wall clock and of
// the process's CPU time, for the first import and (with --reimport) the second.
type feedFigures struct{ wall, cpu, reWall, reCPU float64 }

// feedRate parses and ingests a generated feed into a fresh store (SQLite in a temporary directory,
// --db, or memory) and measures it.
func (c *benchIntelCmd) feedRate(format string, body []byte) (feedFigures, error) {
	var fig feedFigures
	ctx := context.Background()
	store, done, err := c.benchStore(ctx)
	if err != nil {
		return fig, err
	}
	defer done()
	eng := intel.NewEngine(intel.EngineConfig{Store: store, NoIndex: true})
	src := intel.SourceInfo{Name: "bench-" + format, Reliability: 80, DefaultConfidence: 70}
	opts := map[string]string{}
	if format == "csv" {
		opts = map[string]string{"value": "value", "type_column": "type", "last_seen": "last_seen", "confidence": "confidence", "tags": "tags", "tags_separator": "|"}
	}
	run := func(what string) (wall, cpu float64, err error) {
		fmt.Fprintf(os.Stderr, "%s a %s feed of %d indicators (%d MB)...\n", what, format, c.FeedItems, len(body)>>20)
		runtime.GC()
		cpu0 := processCPU()
		start := time.Now()
		st, err := eng.IngestStream(ctx, "bench", src, func(emit func(intel.Item) error) error {
			return feeds.Parse(ctx, format, intel.Feed{Options: opts}, bytes.NewReader(body), emit)
		}, nil)
		if err != nil {
			return 0, 0, err
		}
		secs := time.Since(start).Seconds()
		used := processCPU() - cpu0
		total := st.New + st.Updated
		if what == "reimporting" {
			total = st.Items - st.Invalid
		}
		if total < c.FeedItems*9/10 {
			return 0, 0, fmt.Errorf("bench intel: only %d of %d %s items were stored", total, c.FeedItems, format)
		}
		return float64(total) / secs, float64(total) / used.Seconds(), nil
	}
	if fig.wall, fig.cpu, err = run("importing"); err != nil || !c.Reimport {
		return fig, err
	}
	fig.reWall, fig.reCPU, err = run("reimporting")
	return fig, err
}

// loadAverage is the one-minute load average of the machine (Linux /proc/loadavg), -1 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// benchStore opens the store the import figure is measured on.
func (c *benchIntelCmd) benchStore(ctx context.Context) (intel.Store, func(), error) {
	if c.Store == "memory" {
		return intel.NewMemStore(), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "socbot-bench-intel-")
	if err != nil {
		return nil, nil, err
	}
	cfg := Config{Data: dir, DB: c.DB}
	// as socbot serve runs SQLite: the log is checkpointed in the background, off the writer's path
	s, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), socbot.SystemClock{}, sqlite.ManualCheckpoints())
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cctx, stopCheckpoints := context.WithCancel(ctx)
	checkpointed := make(chan struct{})
	go func() {
		defer close(checkpointed)
		if s.Engine() == sqlstore.SQLite {
			sqlite.Checkpoint(cctx, s.DB(), time.Second, nil)
		}
	}()
	closeStore := func() {
		stopCheckpoints()
		<-checkpointed
		s.Close()
		os.RemoveAll(dir)
	}
	if c.DB != "" {
		// a shared server: start from empty intel tables
		if _, err := s.DB().ExecContext(ctx, `DELETE FROM intel_indicators WHERE tenant_id = 'bench'`); err != nil {
			closeStore()
			return nil, nil, err
		}
	}
	return s, closeStore, nil
}

func (c *benchIntelCmd) stixFeed(now time.Time) []byte {
	r := rand.New(rand.NewPCG(c.Seed+7, 3))
	var buf bytes.Buffer
	w := stix.NewWriter(&buf, "")
	ts := stix.Timestamp(now)
	for i := 0; i < c.FeedItems; i++ {
		t, v := intel.SyntheticValue(r)
		if t == ioc.CIDR || t == ioc.Email {
			t, v = ioc.Domain, fmt.Sprintf("bench-%d.example-feed.net", i)
		}
		conf := 50 + r.IntN(50)
		w.Write(stix.Indicator{Type: "indicator", SpecVersion: "2.1", ID: intel.IndicatorID(t, v), Created: ts, Modified: ts,
			Pattern: stix.PatternFor(t, v), PatternType: "stix", ValidFrom: ts, Confidence: &conf, Labels: []string{"malicious-activity"},
			ObjectMarkingRefs: []string{stix.TLPGreenID}})
	}
	w.Close()
	return buf.Bytes()
}

func (c *benchIntelCmd) csvFeed() []byte {
	r := rand.New(rand.NewPCG(c.Seed+9, 4))
	var buf bytes.Buffer
	buf.WriteString("# synthetic partner feed\nvalue,type,last_seen,confidence,tags\n")
	for i := 0; i < c.FeedItems; i++ {
		t, v := intel.SyntheticValue(r)
		fmt.Fprintf(&buf, "%s,%s,2026-01-05 10:00:00,%d,c2|botnet\n", v, t, 50+r.IntN(50))
	}
	return buf.Bytes()
}

// benchText is advisory-like prose with a few defanged indicators per paragraph.
func benchText(size int) []byte {
	r := rand.New(rand.NewPCG(11, 12))
	var b bytes.Buffer
	words := []string{"the", "actor", "deployed", "a", "loader", "which", "contacted", "its", "infrastructure", "after",
		"initial", "access", "was", "gained", "through", "phishing", "analysts", "observed", "lateral", "movement",
		"and", "credential", "theft", "before", "ransomware", "was", "executed", "on", "several", "hosts", "version", "2.4.1",
		"config.dat", "svchost.exe", "(see", "appendix)", "e.g.", "port", "443,"}
	for b.Len() < size {
		for i := 0; i < 120; i++ {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		t, v := intel.SyntheticValue(r)
		switch t {
		case ioc.IPv4:
			v = strings.Replace(v, ".", "[.]", 1)
		case ioc.Domain, ioc.URL:
			v = "hxxp://" + v
		}
		b.WriteString(v)
		b.WriteString(".\n")
	}
	return b.Bytes()
}

// processCPU is the CPU time (user + system) of the whole process, every thread (the parser, the
// store writer, the garbage collector).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the CPU time (user + system) of the calling OS thread (Linux RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes is the resident set size of the process (Linux /proc/self/statm), 0 if unknown.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
