package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/evtx"
	"github.com/socbot/socbot/monitor"
)

type benchDetectCmd struct {
	Rules      []string      `help:"Sigma rule files or directories. Default: the SigmaHQ rules in ../shared/corpus/detection/sigma when present, else socbot's test rules." placeholder:"DIR"`
	Events     []string      `help:"JSON / JSON Lines event files or directories. Default: the corpus regression JSON samples plus every corpus EVTX record rendered as JSON." placeholder:"PATH"`
	EVTX       []string      `name:"evtx" help:"EVTX files or directories. Default: every EVTX file of the corpus." placeholder:"PATH"`
	Duration   time.Duration `help:"Minimum measuring time of each round." default:"2s"`
	Rounds     int           `help:"Measuring rounds; medians are reported." default:"5"`
	JSON       bool          `help:"Print the figures as JSON."`
	CPUProfile string        `help:"Write a CPU profile of the measuring rounds to this file." placeholder:"FILE" type:"path"`
	Only       string        `help:"Measure only the JSON events (json) or only the EVTX records (evtx)." enum:"json,evtx," default:""`
}

func (c *benchDetectCmd) Help() string {
	return `Loads every rule, then measures on one goroutine locked to one OS thread:
  - JSON events through the monitor's processor (decode, Sigma match, detections rendered);
  - EVTX records parsed and matched (and parsed only);
and reports the medians of --rounds rounds, per wall-clock second and per CPU second of the
measuring thread (the CPU figure is the per-core figure on a busy, shared machine).`
}

type detectFigures struct {
	RulesTotal            int     `json:"rules_total"`
	RulesLoaded           int     `json:"rules_loaded"`
	RulesFailed           int     `json:"rules_failed"`
	RulesLoadedRatio      float64 `json:"rules_loaded_ratio"`
	CompileSeconds        float64 `json:"compile_seconds"`
	HeapMiB               float64 `json:"heap_mib"`
	Events                int     `json:"events"`
	EventsPerSec          float64 `json:"events_per_sec"`
	EventsPerCPUSec       float64 `json:"events_per_cpu_sec"`
	DetectionsPerPass     int64   `json:"detections_per_pass"`
	EVTXFiles             int     `json:"evtx_files"`
	EVTXRecords           int     `json:"evtx_records"`
	EVTXRecordsPerSec     float64 `json:"evtx_records_per_sec"`
	EVTXRecordsPerCPUSec  float64 `json:"evtx_records_per_cpu_sec"`
	EVTXParseOnlyPerSec   float64 `json:"evtx_parse_only_records_per_sec"`
	EVTXDetectionsPerPass int64   `json:"evtx_detections_per_pass"`
	Rounds                int     `json:"rounds"`
	GoMaxProcs            int     `json:"gomaxprocs"`
	Source                string  `json:"source"`
	Note                  string  `json:"note,omitempty"`
}

// detectThreadCPU is the CPU time of the calling OS thread (Linux RUSAGE_THREAD; 0 elsewhere).
func detectThreadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// detectFindCorpus looks for shared/corpus/detection beside the working directory or one of its parents.
func detectFindCorpus() string {
	dir, _ := os.Getwd()
	for {
		for _, p := range []string{filepath.Join(dir, "..", "shared", "corpus", "detection"), filepath.Join(dir, "shared", "corpus", "detection")} {
			if st, err := os.Stat(filepath.Join(p, "sigma", "rules")); err == nil && st.IsDir() {
				return filepath.Clean(p)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// detectFindRepo returns the socbot source tree (for the test fixtures) or "".
func detectFindRepo() string {
	dir, _ := os.Getwd()
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/socbot/socbot")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func detectMedian(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func (c *benchDetectCmd) Run(g *Globals) error {
	const op = "bench detect"
	fig := detectFigures{Rounds: c.Rounds, GoMaxProcs: runtime.GOMAXPROCS(0)}
	if c.Rounds < 1 {
		return socbot.FieldError(op, "rounds", "must be at least 1")
	}
	corpus := detectFindCorpus()
	rules, eventsPaths, evtxPaths := c.Rules, c.Events, c.EVTX
	useCorpusEVTXAsJSON := false
	switch {
	case corpus != "":
		fig.Source = corpus
		if len(rules) == 0 {
			rules = []string{filepath.Join(corpus, "sigma", "rules"), filepath.Join(corpus, "sigma", "rules-emerging-threats"), filepath.Join(corpus, "sigma", "rules-threat-hunting")}
		}
		if len(eventsPaths) == 0 {
			eventsPaths = []string{filepath.Join(corpus, "sigma", "regression_data")}
			useCorpusEVTXAsJSON = true
		}
		if len(evtxPaths) == 0 {
			evtxPaths = []string{filepath.Join(corpus, "evtx"), filepath.Join(corpus, "sigma", "regression_data")}
		}
	default:
		repo := detectFindRepo()
		if (len(rules) == 0 || len(eventsPaths) == 0 || len(evtxPaths) == 0) && repo == "" {
			return socbot.E(op, socbot.KindNotFound, "the detection corpus (../shared/corpus/detection) and the socbot source tree are both absent: pass --rules, --events and --evtx")
		}
		fig.Source = repo
		fig.Note = "detection corpus not found: measured on socbot's own small test fixtures (monitor/testdata, evtx/testdata); these figures are not comparable with the corpus figures"
		if len(rules) == 0 {
			rules = []string{filepath.Join(repo, "monitor", "testdata", "rules")}
		}
		if len(eventsPaths) == 0 {
			eventsPaths = []string{filepath.Join(repo, "monitor", "testdata", "logs", "sysmon.json")}
		}
		if len(evtxPaths) == 0 {
			evtxPaths = []string{filepath.Join(repo, "evtx", "testdata", "synthetic.evtx")}
		}
	}

	// rules
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	rs, err := monitor.LoadRules(rules...)
	if err != nil {
		return err
	}
	fig.CompileSeconds = time.Since(t0).Seconds()
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	fig.HeapMiB = float64(ms1.HeapAlloc-min(ms0.HeapAlloc, ms1.HeapAlloc)) / (1 << 20)
	fig.RulesLoaded = rs.Loaded()
	fig.RulesFailed = len(rs.Failed)
	fig.RulesTotal = fig.RulesLoaded + fig.RulesFailed
	if fig.RulesTotal > 0 {
		fig.RulesLoadedRatio = float64(fig.RulesLoaded) / float64(fig.RulesTotal)
	}

	// inputs in memory
	evtxFiles, err := detectCollect(evtxPaths, ".evtx")
	if err != nil {
		return err
	}
	var evtxData [][]byte
	for _, f := range evtxFiles {
		d, err := os.ReadFile(f)
		if err != nil {
			return socbot.E(op, err)
		}
		if evtx.IsEVTX(d) {
			evtxData = append(evtxData, d)
		}
	}
	fig.EVTXFiles = len(evtxData)
	var events [][]byte
	jsonFiles, err := detectCollect(eventsPaths, ".json", ".jsonl", ".ndjson")
	if err != nil {
		return err
	}
	for _, f := range jsonFiles {
		fh, err := os.Open(f)
		if err != nil {
			return socbot.E(op, err)
		}
		monitor.SplitJSONStream(fh, monitor.MaxEvent, func(b []byte) error { events = append(events, append([]byte(nil), b...)); return nil }, func() {})
		fh.Close()
	}
	if useCorpusEVTXAsJSON {
		for _, d := range evtxData {
			rd, err := evtx.NewReader(bytes.NewReader(d), int64(len(d)))
			if err != nil {
				continue
			}
			rd.Records(func(r *evtx.Record) error { events = append(events, monitor.RenderEVTXJSON(r)); return nil })
		}
	}
	fig.Events = len(events)
	if len(events) == 0 && len(evtxData) == 0 {
		return socbot.E(op, socbot.KindInvalid, "no events to measure")
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return socbot.E(op, err)
		}
		defer pprof.StopCPUProfile()
	}
	var dets int64
	p := monitor.NewProcessor(rs, nil, func(*monitor.Finding) error { dets++; return nil })
	round := func(pass func()) (perSec, perCPU float64, n int) {
		pass() // warm up
		start, cpu0 := time.Now(), detectThreadCPU()
		passes := 0
		for time.Since(start) < c.Duration || passes == 0 {
			pass()
			passes++
		}
		wall, cpu := time.Since(start), detectThreadCPU()-cpu0
		return float64(passes) / wall.Seconds(), float64(passes) / max(cpu.Seconds(), 1e-9), passes
	}
	ctx := context.Background()
	_ = ctx
	if len(events) > 0 && c.Only != "evtx" {
		var ws, cs []float64
		for r := 0; r < c.Rounds; r++ {
			w, cp, _ := round(func() {
				p.ResetCache()
				for _, ev := range events {
					p.ProcessJSON(ev, "bench", monitor.SourceHint{})
				}
			})
			ws, cs = append(ws, w*float64(len(events))), append(cs, cp*float64(len(events)))
		}
		fig.EventsPerSec, fig.EventsPerCPUSec = detectMedian(ws), detectMedian(cs)
		dets = 0
		for _, ev := range events {
			p.ProcessJSON(ev, "bench", monitor.SourceHint{})
		}
		fig.DetectionsPerPass = dets
	}
	if len(evtxData) > 0 && c.Only != "json" {
		records := 0
		for _, d := range evtxData {
			rd, _ := evtx.NewReader(bytes.NewReader(d), int64(len(d)))
			rd.Records(func(*evtx.Record) error { records++; return nil })
		}
		fig.EVTXRecords = records
		rd := &evtx.Reader{}
		matchPass := func() {
			p.ResetCache()
			for _, d := range evtxData {
				if rd.ResetBytes(d) == nil {
					rd.Records(func(r *evtx.Record) error { return p.ProcessEVTX(r, "bench") })
				}
			}
		}
		var ws, cs, ps []float64
		for r := 0; r < c.Rounds; r++ {
			w, cp, _ := round(matchPass)
			ws, cs = append(ws, w*float64(records)), append(cs, cp*float64(records))
			pw, _, _ := round(func() {
				for _, d := range evtxData {
					if rd.ResetBytes(d) == nil {
						rd.Records(func(*evtx.Record) error { return nil })
					}
				}
			})
			ps = append(ps, pw*float64(records))
		}
		fig.EVTXRecordsPerSec, fig.EVTXRecordsPerCPUSec, fig.EVTXParseOnlyPerSec = detectMedian(ws), detectMedian(cs), detectMedian(ps)
		dets = 0
		matchPass()
		fig.EVTXDetectionsPerPass = dets
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(fig)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "source\t%s\n", fig.Source)
	if fig.Note != "" {
		fmt.Fprintf(tw, "note\t%s\n", fig.Note)
	}
	fmt.Fprintf(tw, "rules loaded\t%d of %d (%.2f%%), %d failed, compiled in %.2fs, %.0f MiB\n", fig.RulesLoaded, fig.RulesTotal, 100*fig.RulesLoadedRatio, fig.RulesFailed, fig.CompileSeconds, fig.HeapMiB)
	fmt.Fprintf(tw, "JSON events\t%d distinct, %.0f events/s, %.0f events/CPU-s, %d detections per pass\n", fig.Events, fig.EventsPerSec, fig.EventsPerCPUSec, fig.DetectionsPerPass)
	fmt.Fprintf(tw, "EVTX\t%d files, %d records, %.0f records/s parsed and matched (%.0f per CPU-s), %.0f records/s parsed only, %d detections per pass\n",
		fig.EVTXFiles, fig.EVTXRecords, fig.EVTXRecordsPerSec, fig.EVTXRecordsPerCPUSec, fig.EVTXParseOnlyPerSec, fig.EVTXDetectionsPerPass)
	fmt.Fprintf(tw, "rounds\t%d (medians), GOMAXPROCS %d, one measuring goroutine\n", fig.Rounds, fig.GoMaxProcs)
	return tw.Flush()
}

// collect expands files and directories into files with one of the extensions.
func detectCollect(paths []string, exts ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, socbot.E("bench detect", socbot.KindNotFound, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			for _, e := range exts {
				if strings.EqualFold(filepath.Ext(path), e) {
					out = append(out, path)
				}
			}
			return nil
		})
	}
	sort.Strings(out)
	return out, nil
}
