package main

import (
	"context"
	"fmt"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/monitor"
)

// The monitor bot in socbot serve: the Sigma rules of the configured directories compiled once, a
// pool of processors, syslog listeners (UDP and TCP) and file tailers each bound to one tenant, and
// the API's POST /api/v1/logs for JSON log batches (tenant from the ingest token). Every detection
// is submitted to the node's bus as an alert, so it reaches triage durably like any other alert.
// Network events are matched against the intel bot's index when the intel bot runs on the node.

func init() { registerBot("monitor", startMonitor) }

// monitorBot is the type of node.monitor.
type monitorBot = monitor.Bot

// MonitorConfig is the monitor bot's configuration (the monitor: block of socbot.yaml).
type MonitorConfig struct {
	// Rules are Sigma rule files or directories, loaded once at start; rules that fail are logged and
	// skipped. None: only Suricata alerts and intel matches raise alerts.
	Rules    []string        `koanf:"rules"`
	Workers  int             `koanf:"workers"`   // processors (one Sigma matcher each); default GOMAXPROCS
	MinLevel string          `koanf:"min_level"` // drop Sigma detections below informational, low, medium, high or critical
	Syslog   []MonitorSyslog `koanf:"syslog"`
	Tail     []MonitorTail   `koanf:"tail"`
	// TailInterval is how often tailed files are polled (default 1s).
	TailInterval string `koanf:"tail_interval"`
	// Wait is how long a log batch posted to the API waits for a free processor before a 503
	// (default 10s).
	Wait        string `koanf:"wait"`
	BatchSize   int    `koanf:"batch_size"`   // alerts per bus submission (default 500)
	IntelDedupe string `koanf:"intel_dedupe"` // one alert per indicator and source within this window (default 1h)
	// Intel matches network events against the intel bot's index when the intel bot runs on this
	// node (default true).
	Intel *bool `koanf:"intel"`
}

// MonitorSyslog is one syslog listener; its messages belong to Tenant (id or name).
type MonitorSyslog struct {
	Network string `koanf:"network"` // udp or tcp
	Addr    string `koanf:"addr"`    // e.g. ":5514"
	Tenant  string `koanf:"tenant"`
}

// MonitorTail follows files matching Path (a glob) for Tenant (id or name).
type MonitorTail struct {
	Path      string `koanf:"path"`
	Tenant    string `koanf:"tenant"`
	Format    string `koanf:"format"`     // default: detected per file
	Logsource string `koanf:"logsource"`  // product[/channel[/event-id]] for JSON events whose shape does not say
	FromStart bool   `koanf:"from_start"` // read files present at start from the beginning
}

// monitorConfig resolves the configuration: durations parsed, tenants named by id or name turned
// into ids (the tenants must exist when the node starts).
func (c MonitorConfig) monitorConfig(ctx context.Context, st interface {
	Tenant(context.Context, string) (socbot.Tenant, error)
	TenantByName(context.Context, string) (socbot.Tenant, error)
}) (monitor.Config, error) {
	out := monitor.Config{Rules: c.Rules, Workers: c.Workers, MinLevel: c.MinLevel, BatchSize: c.BatchSize}
	for _, d := range []struct {
		field, v string
		dst      *socbot.Duration
	}{{"tail_interval", c.TailInterval, &out.TailInterval}, {"wait", c.Wait, &out.HTTPWait}, {"intel_dedupe", c.IntelDedupe, &out.IntelDedupe}} {
		if d.v == "" {
			continue
		}
		v, err := socbot.ParseDuration(d.v)
		if err != nil || v <= 0 {
			return out, socbot.FieldError("config", "monitor."+d.field, "bad duration %q", d.v)
		}
		*d.dst = socbot.Duration(v)
	}
	tenant := func(field, ref string) (string, error) {
		if ref == "" {
			return "", socbot.FieldError("config", field, "every input is bound to one tenant: name it (id or name)")
		}
		t, err := st.Tenant(ctx, ref)
		if err != nil {
			if t, err = st.TenantByName(ctx, ref); err != nil {
				return "", socbot.FieldError("config", field, "no tenant %q", ref)
			}
		}
		return t.ID, nil
	}
	for i, s := range c.Syslog {
		id, err := tenant(fmt.Sprintf("monitor.syslog[%d].tenant", i), s.Tenant)
		if err != nil {
			return out, err
		}
		out.Syslog = append(out.Syslog, monitor.SyslogInput{Network: s.Network, Addr: s.Addr, Tenant: id})
	}
	for i, t := range c.Tail {
		id, err := tenant(fmt.Sprintf("monitor.tail[%d].tenant", i), t.Tenant)
		if err != nil {
			return out, err
		}
		out.Tail = append(out.Tail, monitor.TailInput{Path: t.Path, Tenant: id, Format: t.Format, Logsource: t.Logsource, FromStart: t.FromStart})
	}
	return out, nil
}

func startMonitor(ctx context.Context, n *node) error {
	log := n.log.With("bot", "monitor")
	cfg, err := n.cfg.Monitor.monitorConfig(ctx, n.store)
	if err != nil {
		return err
	}
	// the intel bot's module starts before this one (modules start in the order of their files'
	// names) and leaves its service on the API when it runs on this node
	var matcher socbot.IndicatorMatcher
	if use := n.cfg.Monitor.Intel; n.api.Intel != nil && (use == nil || *use) {
		matcher = &intelMatcher{svc: n.api.Intel, ctx: n.bctx}
	}
	start := time.Now()
	bot, err := monitor.New(cfg, n.bus, matcher, log, n.clock)
	if err != nil {
		return err
	}
	st := bot.Rules().Engine.Stats()
	log.Info("monitor: rules compiled", "rules", bot.Rules().Loaded(), "skipped", len(bot.Rules().Failed), "buckets", st.Buckets,
		"seconds", time.Since(start).Seconds(), "intel", matcher != nil, "syslog", len(cfg.Syslog), "tail", len(cfg.Tail))
	n.monitor = bot
	n.api.Logs = bot
	n.run("monitor", func() error { return bot.Run(n.bctx) })
	// a listener that cannot bind (an address in use) stops the node's start
	if _, err := bot.Listening(ctx); err != nil {
		return err
	}
	return nil
}

// intelMatcher looks network events' values up through the intel bot's service, as the monitor's
// socbot.IndicatorMatcher. It asks as the monitor bot (every indicator the tenant's traffic can hit:
// its own and the MSSP-wide ones); a hit on an indicator marked above what the tenant's own people
// may receive still raises the alert, but its value, sources and tags are left out, because the
// alert is the tenant's to read.
type intelMatcher struct {
	svc socbot.IntelService
	ctx context.Context
}

var _ socbot.IndicatorMatcher = (*intelMatcher)(nil)

func (m *intelMatcher) Match(tenantID string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	obs := []socbot.Observable{{Type: typ, Value: value}}
	all, err := m.svc.Match(m.ctx, socbot.Bot("monitor"), tenantID, obs)
	if err != nil || len(all) == 0 {
		return nil
	}
	shown, err := m.svc.Match(m.ctx, socbot.Principal{Role: socbot.RoleViewer, TenantID: tenantID, Name: "bot:monitor"}, tenantID, obs)
	if err != nil {
		shown = nil
	}
	may := map[string]bool{}
	for _, x := range shown {
		may[x.IndicatorID] = true
	}
	for i := range all {
		if !may[all[i].IndicatorID] {
			all[i].Value, all[i].Sources, all[i].Tags = "(restricted: TLP "+all[i].TLP+")", nil, nil
		}
	}
	return all
}
