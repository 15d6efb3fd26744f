package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/monitor"
)

func init() {
	register("hunt", "Hunt through log files offline with Sigma rules (EVTX, JSON, eve.json, Zeek, syslog).", &huntCmd{})
}

type huntCmd struct {
	Rules       []string `help:"Sigma rule file or directory (repeatable; directories are read recursively)." required:"" placeholder:"DIR"`
	Format      string   `help:"Output: jsonl (one detection per line), csv or table." enum:"jsonl,csv,table" default:"jsonl"`
	MinLevel    string   `help:"Only report detections of at least this rule level: informational, low, medium, high, critical." default:"informational" enum:"informational,low,medium,high,critical"`
	InputFormat string   `help:"Force the input format instead of detecting it per file: evtx, json, eve, zeek-tsv, zeek-json, syslog." default:"auto" placeholder:"FORMAT"`
	Logsource   string   `help:"Log source of JSON events whose shape does not say, as product[/channel[/event-id]] (e.g. windows/Security/4688, zeek/conn, aws/cloudtrail)." placeholder:"SRC"`
	Output      string   `help:"Write detections to this file instead of standard output." short:"o" placeholder:"FILE" type:"path"`
	ShowSkipped bool     `help:"List every rule that failed to load in the summary (default: the first 20)."`
	NoProgress  bool     `help:"Do not show the progress bar."`
	Paths       []string `arg:"" name:"PATH" help:"Log files or directories to scan." type:"existingfile|existingdir"`
}

var levelRank = map[string]int{"informational": 0, "info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

func (c *huntCmd) Help() string {
	return `Scans files the way Chainsaw or Hayabusa do: every Sigma rule is compiled once, every file's format
is detected (EVTX, JSON/JSON Lines, Suricata eve.json, Zeek TSV/JSON, syslog), and each detection is
written with the rule's id, title, level and author (the Detection Rule License requires the author in
every match) and the matched event. A summary goes to standard error at the end (to standard output
with --format table).

Example:
  socbot hunt --rules ../sigma/rules --min-level high --format table ./evtx/`
}

func (c *huntCmd) Run(g *Globals) error {
	const op = "hunt"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	inFmt, ok := monitor.ParseFormat(c.InputFormat)
	if !ok {
		return socbot.FieldError(op, "input-format", "unknown format %q", c.InputFormat)
	}
	var hint monitor.SourceHint
	if c.Logsource != "" {
		parts := strings.SplitN(c.Logsource, "/", 3)
		hint.Product = strings.ToLower(parts[0])
		if len(parts) > 1 {
			hint.Channel = parts[1]
		}
		if len(parts) > 2 {
			hint.EventID = parts[2]
		}
		if hint.Channel == "" {
			hint.Channel = "*"
		}
	}
	started := time.Now()
	rules, err := monitor.LoadRules(c.Rules...)
	if err != nil {
		return err
	}
	if rules.Loaded() == 0 {
		return socbot.E(op, socbot.KindInvalid, fmt.Sprintf("no rule could be loaded from %s", strings.Join(c.Rules, ", ")))
	}
	files, total, err := monitor.ListFiles(c.Paths)
	if err != nil {
		return err
	}
	var out io.Writer = os.Stdout
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		defer f.Close()
		out = f
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	defer bw.Flush()
	w := newHuntWriter(c.Format, bw)
	min := levelRank[c.MinLevel]
	byLevel := map[string]int{}
	perRule := map[string]int{}
	var bar *progressbar.ProgressBar
	if !c.NoProgress && isatty.IsTerminal(os.Stderr.Fd()) {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("hunting"), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	p := monitor.NewProcessor(rules, nil, func(f *monitor.Finding) error {
		lvl := findingLevel(f)
		if levelRank[lvl] < min {
			return nil
		}
		byLevel[lvl]++
		perRule[findingTitle(f)]++
		return w.write(f, lvl)
	})
	opts := monitor.ScanOptions{Format: inFmt, Hint: hint, Clock: socbot.SystemClock{}}
	if bar != nil {
		opts.Progress = func(n int64) { bar.Add64(n) }
	}
	loadTook := time.Since(started)
	scanStart := time.Now()
	res, scanErr := monitor.ScanFiles(ctx, p, files, opts)
	scanTook := time.Since(scanStart)
	if bar != nil {
		bar.Finish()
	}
	if err := w.flush(); err != nil {
		return socbot.E(op, err)
	}
	bw.Flush()
	var sumOut io.Writer = os.Stderr
	if c.Format == "table" && c.Output == "" {
		sumOut = os.Stdout
	}
	c.summary(sumOut, rules, res, p.Stats, byLevel, perRule, loadTook, scanTook)
	if scanErr != nil {
		return socbot.E(op, scanErr)
	}
	return nil
}

func findingLevel(f *monitor.Finding) string {
	if f.Rule != nil {
		if f.Rule.Level == "" {
			return "informational"
		}
		return f.Rule.Level
	}
	if f.Suricata != nil {
		switch f.Suricata.Severity {
		case 1:
			return "high"
		case 2:
			return "medium"
		default:
			return "low"
		}
	}
	return "medium"
}

func findingTitle(f *monitor.Finding) string {
	switch {
	case f.Rule != nil:
		return f.Rule.Title
	case f.Suricata != nil:
		return "Suricata: " + f.Suricata.Signature
	}
	return f.Kind
}

type huntRecord struct {
	Kind      string            `json:"kind"`
	RuleID    string            `json:"rule_id"`
	RuleTitle string            `json:"rule_title"`
	Level     string            `json:"level"`
	Author    string            `json:"author"`
	Tags      []string          `json:"tags,omitempty"`
	Timestamp string            `json:"timestamp,omitempty"`
	Source    string            `json:"source"`
	Channel   string            `json:"channel,omitempty"`
	EventID   string            `json:"event_id,omitempty"`
	Matched   []string          `json:"matched,omitempty"`
	Group     map[string]string `json:"group,omitempty"`
	Event     json.RawMessage   `json:"event"`
}

func toRecord(f *monitor.Finding, lvl string) huntRecord {
	r := huntRecord{Kind: f.Kind, Level: lvl, Source: f.Source, Channel: f.Channel, EventID: f.EventID, Matched: f.Matched, Event: f.Event}
	if !f.Time.IsZero() {
		r.Timestamp = f.Time.UTC().Format(time.RFC3339Nano)
	}
	if f.Rule != nil {
		r.RuleID, r.RuleTitle, r.Author, r.Tags = f.Rule.ID, f.Rule.Title, f.Rule.Author, f.Rule.Tags
	}
	if f.Correlation != nil {
		r.Group = f.Correlation.Group
	}
	if f.Suricata != nil {
		r.RuleID = fmt.Sprintf("%d:%d:%d", f.Suricata.GID, f.Suricata.SignatureID, f.Suricata.Rev)
		r.RuleTitle = f.Suricata.Signature
		r.Author = "Suricata ruleset"
	}
	if len(r.Event) == 0 || !json.Valid(r.Event) {
		r.Event = json.RawMessage("null")
	}
	return r
}

type huntWriter struct {
	format string
	w      io.Writer
	enc    *json.Encoder
	csv    *csv.Writer
	rows   [][]string
}

func newHuntWriter(format string, w io.Writer) *huntWriter {
	h := &huntWriter{format: format, w: w}
	switch format {
	case "jsonl":
		h.enc = json.NewEncoder(w)
		h.enc.SetEscapeHTML(false)
	case "csv":
		h.csv = csv.NewWriter(w)
		h.csv.Write([]string{"timestamp", "level", "rule_title", "rule_id", "author", "computer", "channel", "event_id", "matched", "source", "event"})
	}
	return h
}

func computerOf(ev json.RawMessage) string {
	var probe struct {
		Event struct {
			System struct {
				Computer string `json:"Computer"`
			} `json:"System"`
		} `json:"Event"`
		Host     string `json:"host"`
		Hostname string `json:"hostname"`
	}
	json.Unmarshal(ev, &probe)
	switch {
	case probe.Event.System.Computer != "":
		return probe.Event.System.Computer
	case probe.Hostname != "":
		return probe.Hostname
	}
	return probe.Host
}

func (h *huntWriter) write(f *monitor.Finding, lvl string) error {
	r := toRecord(f, lvl)
	switch h.format {
	case "jsonl":
		return h.enc.Encode(r)
	case "csv":
		return h.csv.Write([]string{r.Timestamp, r.Level, r.RuleTitle, r.RuleID, r.Author, computerOf(r.Event), r.Channel, r.EventID, strings.Join(r.Matched, " "), r.Source, string(r.Event)})
	default:
		if len(h.rows) < 100000 {
			h.rows = append(h.rows, []string{r.Timestamp, r.Level, r.RuleTitle, computerOf(r.Event), r.Channel + " " + r.EventID, r.Author, r.Source})
		}
	}
	return nil
}

func (h *huntWriter) flush() error {
	switch h.format {
	case "csv":
		h.csv.Flush()
		return h.csv.Error()
	case "table":
		tw := tabwriter.NewWriter(h.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIMESTAMP\tLEVEL\tRULE\tCOMPUTER\tCHANNEL / EVENT\tAUTHOR\tFILE")
		for _, r := range h.rows {
			for i := range r {
				r[i] = truncate(r[i], 60)
			}
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func (c *huntCmd) summary(w io.Writer, rules *monitor.Rules, res []monitor.FileResult, st monitor.Stats, byLevel, perRule map[string]int, loadTook, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\n== socbot hunt summary ==")
	fmt.Fprintf(tw, "rules loaded\t%d\n", rules.Loaded())
	fmt.Fprintf(tw, "rules skipped\t%d\n", len(rules.Failed))
	formats := map[monitor.Format]int{}
	var bad []monitor.FileResult
	for _, r := range res {
		formats[r.Format]++
		if r.Err != "" {
			bad = append(bad, r)
		}
	}
	var fs []string
	for f, n := range formats {
		name := string(f)
		if name == "" {
			name = "unknown"
		}
		fs = append(fs, fmt.Sprintf("%s %d", name, n))
	}
	sort.Strings(fs)
	fmt.Fprintf(tw, "files\t%d (%s)\n", len(res), strings.Join(fs, ", "))
	fmt.Fprintf(tw, "files skipped\t%d\n", len(bad))
	fmt.Fprintf(tw, "events read\t%d\n", st.Events)
	fmt.Fprintf(tw, "malformed events skipped\t%d\n", st.Malformed)
	total := 0
	for _, lvl := range []string{"critical", "high", "medium", "low", "informational"} {
		total += byLevel[lvl]
	}
	fmt.Fprintf(tw, "detections\t%d\n", total)
	for _, lvl := range []string{"critical", "high", "medium", "low", "informational"} {
		fmt.Fprintf(tw, "  %s\t%d\n", lvl, byLevel[lvl])
	}
	secs := took.Seconds()
	fmt.Fprintf(tw, "rule load time\t%s\n", loadTook.Round(time.Millisecond))
	fmt.Fprintf(tw, "scan time\t%s (%s events/s)\n", took.Round(time.Millisecond), strconv.FormatFloat(float64(st.Events)/max(secs, 1e-9), 'f', 0, 64))
	tw.Flush()
	type rc struct {
		title string
		n     int
	}
	var top []rc
	for t, n := range perRule {
		top = append(top, rc{t, n})
	}
	sort.Slice(top, func(i, j int) bool {
		return top[i].n > top[j].n || (top[i].n == top[j].n && top[i].title < top[j].title)
	})
	if len(top) > 0 {
		fmt.Fprintln(w, "\ntop rules:")
		for i, r := range top {
			if i == 15 {
				break
			}
			fmt.Fprintf(w, "  %6d  %s\n", r.n, r.title)
		}
	}
	if len(rules.Failed) > 0 {
		fmt.Fprintln(w, "\nrules skipped (why):")
		for i, f := range rules.Failed {
			if i == 20 && !c.ShowSkipped {
				fmt.Fprintf(w, "  ... %d more (use --show-skipped)\n", len(rules.Failed)-20)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Reason)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintln(w, "\nfiles skipped (why):")
		for i, b := range bad {
			if i == 20 {
				fmt.Fprintf(w, "  ... %d more\n", len(bad)-20)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", b.Path, b.Err)
		}
	}
}
