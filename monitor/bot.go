package monitor

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/syslog"
)

// Config configures the monitor bot.
type Config struct {
	// Rules are Sigma rule files or directories; ignored when RuleSet is given.
	Rules []string `json:"rules" yaml:"rules"`
	// RuleSet is an already compiled rule set (tests, or a caller that shares one).
	RuleSet *Rules `json:"-" yaml:"-"`
	// Workers is the number of processors (one Sigma matcher each); default GOMAXPROCS.
	Workers int `json:"workers" yaml:"workers"`
	// MinLevel drops Sigma detections below this level (informational, low, medium, high, critical).
	MinLevel string `json:"min_level" yaml:"min_level"`
	// Syslog listeners.
	Syslog []SyslogInput `json:"syslog" yaml:"syslog"`
	// Tail follows files (glob patterns) as they grow.
	Tail         []TailInput     `json:"tail" yaml:"tail"`
	TailInterval socbot.Duration `json:"tail_interval" yaml:"tail_interval"`
	// HTTP log batches.
	HTTPMaxBody  int64           `json:"http_max_body" yaml:"http_max_body"` // bytes, default 32 MiB
	HTTPWait     socbot.Duration `json:"http_wait" yaml:"http_wait"`         // wait for a free processor before 503, default 10s
	TenantHeader string          `json:"tenant_header" yaml:"tenant_header"` // default X-Socbot-Tenant
	// BatchSize is the number of alerts per AlertSink.Submit call (default 500).
	BatchSize int `json:"batch_size" yaml:"batch_size"`
	// IntelDedupe suppresses repeats of the same indicator hit from the same source (default 1h).
	IntelDedupe socbot.Duration `json:"intel_dedupe" yaml:"intel_dedupe"`
}

// SyslogInput is one syslog listener.
type SyslogInput struct {
	Network string `json:"network" yaml:"network"` // udp or tcp
	Addr    string `json:"addr" yaml:"addr"`       // e.g. ":5514"
	Tenant  string `json:"tenant" yaml:"tenant"`
}

// TailInput is one followed file pattern.
type TailInput struct {
	Path      string `json:"path" yaml:"path"` // file or glob
	Tenant    string `json:"tenant" yaml:"tenant"`
	Format    string `json:"format" yaml:"format"`         // default: detect
	Logsource string `json:"logsource" yaml:"logsource"`   // product/channel/event-id hint for JSON
	FromStart bool   `json:"from_start" yaml:"from_start"` // read files present at start from the beginning
}

// BotStats are the bot's counters.
type BotStats struct {
	Stats
	AlertsSubmitted int64 `json:"alerts_submitted"`
	SubmitErrors    int64 `json:"submit_errors"`
	HTTPBatches     int64 `json:"http_batches"`
	HTTPBusy        int64 `json:"http_busy"`
	SyslogDropped   int64 `json:"syslog_dropped"`
}

// Bot is the monitor bot.
type Bot struct {
	cfg     Config
	rules   *Rules
	sink    socbot.AlertSink
	intel   socbot.IndicatorMatcher
	log     *slog.Logger
	clock   socbot.Clock
	pool    chan *worker
	dedupe  *dedupe
	minRank int

	// TenantFunc, when set before the handler serves, reads the authenticated tenant of an HTTP
	// request (the API layer's middleware puts it in the request context).
	TenantFunc func(*http.Request) (string, error)

	mu         sync.Mutex
	stats      BotStats
	submitted  atomic.Int64
	submitErrs atomic.Int64
	servers    []*syslog.Server
	listening  chan struct{}
	addrs      []net.Addr
	listenErr  error
}

type worker struct {
	b       *Bot
	p       *Processor
	ctx     context.Context
	pending []socbot.Alert
	sent    int64 // alerts this worker has submitted (ever)
	err     error
}

// New builds the monitor bot. matcher may be nil (no intel matching). Rules that fail to load are
// logged and skipped; New fails only when rules were configured and none of them could be loaded.
// Without rules the bot still reports Suricata alerts and intel matches.
func New(cfg Config, sink socbot.AlertSink, matcher socbot.IndicatorMatcher, logger *slog.Logger, clock socbot.Clock) (*Bot, error) {
	const op = "monitor.New"
	if sink == nil {
		return nil, socbot.E(op, socbot.KindInvalid, "no alert sink")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = socbot.SystemClock{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.HTTPMaxBody <= 0 {
		cfg.HTTPMaxBody = 32 << 20
	}
	if cfg.HTTPWait <= 0 {
		cfg.HTTPWait = socbot.Duration(10 * time.Second)
	}
	if cfg.TenantHeader == "" {
		cfg.TenantHeader = "X-Socbot-Tenant"
	}
	if cfg.TailInterval <= 0 {
		cfg.TailInterval = socbot.Duration(time.Second)
	}
	if cfg.IntelDedupe <= 0 {
		cfg.IntelDedupe = socbot.Duration(time.Hour)
	}
	rank, ok := levelRanks[cfg.MinLevel]
	if !ok && cfg.MinLevel != "" {
		return nil, socbot.FieldError(op, "min_level", "unknown level %q", cfg.MinLevel)
	}
	for i, in := range cfg.Syslog {
		if in.Network != "udp" && in.Network != "tcp" {
			return nil, socbot.FieldError(op, "syslog["+itoa(i)+"].network", "must be udp or tcp")
		}
		if in.Tenant == "" {
			return nil, socbot.FieldError(op, "syslog["+itoa(i)+"].tenant", "missing")
		}
	}
	for i, in := range cfg.Tail {
		if in.Tenant == "" || in.Path == "" {
			return nil, socbot.FieldError(op, "tail["+itoa(i)+"]", "path and tenant are required")
		}
		if _, ok := ParseFormat(in.Format); !ok {
			return nil, socbot.FieldError(op, "tail["+itoa(i)+"].format", "unknown format %q", in.Format)
		}
	}
	rules := cfg.RuleSet
	if rules == nil {
		var err error
		rules, err = LoadRules(cfg.Rules...)
		if err != nil {
			return nil, err
		}
	}
	for _, f := range rules.Failed {
		logger.Warn("sigma rule skipped", "path", f.Path, "rule_id", f.RuleID, "reason", f.Reason)
	}
	if rules.Loaded() == 0 && (len(cfg.Rules) > 0 || len(rules.Failed) > 0) {
		return nil, socbot.E(op, socbot.KindInvalid, "no Sigma rule could be loaded")
	}
	if rules.Loaded() == 0 {
		// nothing configured: the bot still turns Suricata alerts and intel hits into alerts
		logger.Warn("monitor: no Sigma rules configured; only Suricata alerts and intel matches raise alerts")
	}
	b := &Bot{cfg: cfg, rules: rules, sink: sink, intel: matcher, log: logger, clock: clock, minRank: rank,
		pool: make(chan *worker, cfg.Workers), dedupe: newDedupe(time.Duration(cfg.IntelDedupe), 100000), listening: make(chan struct{})}
	b.stats.ByLevel = map[string]int64{}
	for i := 0; i < cfg.Workers; i++ {
		w := &worker{b: b}
		w.p = NewProcessor(rules, matcher, w.emit)
		w.p.dedupe = b.dedupe
		b.pool <- w
	}
	logger.Info("monitor bot ready", "rules", rules.Loaded(), "rules_skipped", len(rules.Failed), "workers", cfg.Workers)
	return b, nil
}

var levelRanks = map[string]int{"": 0, "informational": 0, "info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

func itoa(i int) string { return strconv.Itoa(i) }

// Rules returns the compiled rule set.
func (b *Bot) Rules() *Rules { return b.rules }

func (w *worker) emit(f *Finding) error {
	if (f.Kind == "sigma" || f.Kind == "correlation") && levelRanks[f.Rule.Level] < w.b.minRank {
		return nil
	}
	w.pending = append(w.pending, FindingToAlert(f, w.p.Tenant, w.b.clock.Now()))
	if len(w.pending) >= w.b.cfg.BatchSize {
		return w.flush()
	}
	return nil
}

// flush submits pending alerts; it blocks until the sink has them (back-pressure).
func (w *worker) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.b.sink.Submit(w.ctx, w.p.Tenant, w.pending)
	if err != nil {
		w.b.submitErrs.Add(1)
		w.b.log.Error("alert submit failed", "tenant", w.p.Tenant, "alerts", len(w.pending), "err", err)
		w.pending = w.pending[:0]
		return socbot.E("monitor.submit", socbot.KindUnavailable, err)
	}
	w.b.submitted.Add(int64(len(w.pending)))
	w.sent += int64(len(w.pending))
	w.pending = w.pending[:0]
	return nil
}

// acquire takes a processor from the pool, waiting at most wait (0: until ctx ends).
func (b *Bot) acquire(ctx context.Context, tenant string, wait time.Duration) (*worker, error) {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case w := <-b.pool:
		w.ctx, w.p.Tenant, w.err = ctx, tenant, nil
		return w, nil
	case <-timeout:
		return nil, socbot.E("monitor.acquire", socbot.KindUnavailable, "all processors busy")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release flushes the worker's alerts, folds its counters into the bot's and returns it to the pool.
func (b *Bot) release(w *worker) error {
	err := w.flush()
	b.mu.Lock()
	b.stats.Stats.add(w.p.Stats)
	b.mu.Unlock()
	w.p.Stats = Stats{ByLevel: map[string]int64{}}
	w.ctx = nil
	b.pool <- w
	return err
}

// Stats returns the bot's counters.
func (b *Bot) Stats() BotStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.ByLevel = map[string]int64{}
	for k, v := range b.stats.ByLevel {
		s.ByLevel[k] = v
	}
	s.AlertsSubmitted = b.submitted.Load()
	s.SubmitErrors = b.submitErrs.Load()
	for _, srv := range b.servers {
		s.SyslogDropped += srv.Stats.Dropped.Load()
	}
	return s
}

// Scan runs the rules over files and directories for a tenant and submits what it finds.
func (b *Bot) Scan(ctx context.Context, tenant string, paths []string, opts ScanOptions) ([]FileResult, error) {
	files, _, err := ListFiles(paths)
	if err != nil {
		return nil, err
	}
	w, err := b.acquire(ctx, tenant, 0)
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = b.clock
	}
	res, err := ScanFiles(ctx, w.p, files, opts)
	if rerr := b.release(w); err == nil {
		err = rerr
	}
	return res, err
}

// Run starts the syslog listeners and the file tailers and blocks until ctx ends. It returns the
// first listener error (an address in use, say), or nil after a clean shutdown.
func (b *Bot) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(b.cfg.Syslog)+len(b.cfg.Tail))
	var addrs []net.Addr
	for _, in := range b.cfg.Syslog {
		in := in
		srv := syslog.NewServer(syslog.ServerConfig{}, &syslog.Parser{Clock: b.clock}, b.syslogHandler(in.Tenant), b.log)
		b.mu.Lock()
		b.servers = append(b.servers, srv)
		b.mu.Unlock()
		switch in.Network {
		case "udp":
			pc, err := net.ListenPacket("udp", in.Addr)
			if err != nil {
				cancel()
				wg.Wait()
				return b.failListen(socbot.E("monitor.Run", socbot.KindUnavailable, "syslog udp "+in.Addr, err))
			}
			addrs = append(addrs, pc.LocalAddr())
			wg.Add(1)
			go func() { defer wg.Done(); errc <- srv.ServeUDP(ctx, pc) }()
		case "tcp":
			l, err := net.Listen("tcp", in.Addr)
			if err != nil {
				cancel()
				wg.Wait()
				return b.failListen(socbot.E("monitor.Run", socbot.KindUnavailable, "syslog tcp "+in.Addr, err))
			}
			addrs = append(addrs, l.Addr())
			wg.Add(1)
			go func() { defer wg.Done(); errc <- srv.ServeTCP(ctx, l) }()
		}
		b.log.Info("syslog listener started", "network", in.Network, "addr", addrs[len(addrs)-1].String(), "tenant", in.Tenant)
	}
	for _, in := range b.cfg.Tail {
		t := newTailer(b, in)
		wg.Add(1)
		go func() { defer wg.Done(); errc <- t.run(ctx) }()
	}
	b.mu.Lock()
	b.addrs = addrs
	b.mu.Unlock()
	close(b.listening)
	var first error
	go func() { wg.Wait(); close(errc) }()
	for err := range errc {
		if err != nil && !errors.Is(err, context.Canceled) && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// failListen records why the listeners could not start and wakes Listening.
func (b *Bot) failListen(err error) error {
	b.mu.Lock()
	b.listenErr = err
	b.mu.Unlock()
	close(b.listening)
	return err
}

// Listening waits until Run has bound every syslog listener and returns their addresses (tests use
// ":0" ports), or the error that stopped one from binding (an address in use, say).
func (b *Bot) Listening(ctx context.Context) ([]net.Addr, error) {
	select {
	case <-b.listening:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]net.Addr(nil), b.addrs...), b.listenErr
}

// ListenAddrs is Listening without the error.
func (b *Bot) ListenAddrs(ctx context.Context) []net.Addr {
	addrs, _ := b.Listening(ctx)
	return addrs
}

func (b *Bot) syslogHandler(tenant string) syslog.Handler {
	return func(ctx context.Context, m syslog.Message, from netip.Addr) {
		w, err := b.acquire(ctx, tenant, 0)
		if err != nil {
			return
		}
		source := "syslog:" + from.String()
		if perr := w.p.ProcessSyslog(&m, source); perr != nil {
			b.log.Warn("syslog message not processed", "err", perr)
		}
		b.release(w)
	}
}
