package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/httpapi"
	"github.com/socbot/socbot/metrics"
	"github.com/socbot/socbot/natsbus"
	"github.com/socbot/socbot/notify"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/triage"
)

// botModule is a bot a node can run. The core bots are started in startNode; other bots register a
// module from their own file (node_<bot>.go) with registerBot, so that wiring a bot does not mean
// editing this file. This is the command's second module registry.
type botModule struct {
	name string
	// start wires the bot into the node (API routes, enrichers, bus subscriptions) and launches its
	// loops with n.run. It is called after the store, bus and API exist and before serving starts.
	start func(ctx context.Context, n *node) error
}

var botModules []botModule

func registerBot(name string, start func(ctx context.Context, n *node) error) {
	botModules = append(botModules, botModule{name: name, start: start})
}

// knownBots are the values --bots accepts.
func knownBots() []string {
	out := []string{"triage", "sla", "notify"}
	for _, m := range botModules {
		out = append(out, m.name)
	}
	return out
}

// node is one running socbot: the store, the bus, the API and the bots this node runs, wired as a
// plain struct.
type node struct {
	cfg      Config
	log      *slog.Logger
	clock    socbot.Clock
	store    *sqlstore.Store
	bus      *natsbus.Bus
	metrics  *metrics.Metrics
	api      *httpapi.Server
	triage   *triage.Bot
	notifier *notify.Dispatcher
	http     *http.Server
	addr     net.Addr
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errs     chan error
	observer triage.Observer
	bctx     context.Context // ends when the node stops; bots run under it

	// Filled by bot modules before triage starts.
	enrichers []socbot.Enricher

	monitor *monitorBot // the monitor bot when this node runs it (node_monitor.go)
}

// startNode opens everything and starts serving. extra observes triaged alerts (benchmarks).
func startNode(ctx context.Context, cfg Config, logger *slog.Logger, extra triage.Observer) (*node, error) {
	for _, b := range cfg.Bots {
		if !slices.Contains(knownBots(), b) {
			return nil, socbot.FieldError("config", "bots", "unknown bot %q (known: %v)", b, knownBots())
		}
	}
	if err := tuneRuntime(cfg, logger); err != nil {
		return nil, err
	}
	n := &node{cfg: cfg, log: logger, clock: socbot.SystemClock{}, metrics: metrics.New(), errs: make(chan error, 8)}
	var err error
	// The server checkpoints SQLite's log in the background (below), off the triage writer's path.
	if n.store, err = openStore(ctx, cfg, logger, n.clock, sqlite.ManualCheckpoints()); err != nil {
		return nil, err
	}
	n.bus, err = natsbus.Open(ctx, natsbus.Config{URL: cfg.NATS, DataDir: cfg.Data, Partitions: cfg.Partitions, MaxBytes: cfg.BusMaxBytes, Logger: logger})
	if err != nil {
		n.store.Close()
		return nil, err
	}
	n.metrics.WatchBus(n.bus.Pending)
	n.metrics.WatchQueues(func(ctx context.Context, now time.Time) ([]socbot.QueueStats, error) {
		return n.store.QueueStats(ctx, "", now)
	})
	n.api, err = httpapi.New(httpapi.Deps{Store: n.store, Sink: n.bus, Clock: n.clock, Logger: logger, Metrics: n.metrics, Ready: n.ready},
		httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, Mappings: cfg.Mappings})
	if err != nil {
		n.close()
		return nil, err
	}
	n.observer = observers{n.metrics, extra}
	n.bctx, n.cancel = context.WithCancel(context.Background())
	for _, m := range botModules {
		if slices.Contains(cfg.Bots, m.name) {
			if err := m.start(ctx, n); err != nil {
				n.cancel()
				n.wg.Wait()
				n.close()
				return nil, fmt.Errorf("starting %s: %w", m.name, err)
			}
		}
	}
	n.triage = triage.New(n.store, n.enrichers, n.clock, logger, triage.Config{}, n.observer)
	n.notifier = notify.New(n.store, notify.Config{SMTP: cfg.SMTP, ConsoleURL: cfg.ConsoleURL}, n.clock, logger, func(kind, result string) {
		n.metrics.Notifications.WithLabelValues(kind, result).Inc()
		if result != "sent" {
			n.metrics.NotifyFailures.Inc()
		}
	})

	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		n.cancel()
		n.wg.Wait()
		n.close()
		return nil, socbot.E("serve", socbot.KindUnavailable, "listen on "+cfg.Listen, err)
	}
	n.addr = l.Addr()
	n.http = &http.Server{Handler: n.api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	bctx := n.bctx
	if n.store.Engine() == sqlstore.SQLite {
		n.run("checkpoint", func() error { sqlite.Checkpoint(bctx, n.store.DB(), time.Second, logger); return nil })
	}
	n.run("http", func() error {
		if err := n.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if slices.Contains(cfg.Bots, "triage") {
		n.run("triage", func() error {
			return n.bus.ConsumeAlerts(bctx, natsbus.ConsumeOptions{Name: "triage", DeadLetter: n.store.DeadLetter}, n.triage.Handle)
		})
	}
	n.run("maintenance", func() error { n.maintain(bctx); return nil })
	if slices.Contains(cfg.Bots, "sla") {
		n.run("sla", func() error { return n.triage.RunSLA(bctx) })
	}
	if slices.Contains(cfg.Bots, "notify") {
		n.run("notify", func() error { return n.notifier.Run(bctx) })
	}
	logger.Info("socbot serving", "url", n.URL(), "data", cfg.Data, "db", n.store.Engine(), "bus", busName(n.bus), "bots", cfg.Bots)
	return n, nil
}

type observers []triage.Observer

func (o observers) Triaged(alerts []*socbot.Alert, at time.Time) {
	for _, x := range o {
		if x != nil {
			x.Triaged(alerts, at)
		}
	}
}

func busName(b *natsbus.Bus) string {
	if b.Embedded() {
		return "embedded JetStream"
	}
	return "NATS " + b.Conn().ConnectedUrlRedacted()
}

func (n *node) run(name string, fn func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := fn(); err != nil {
			n.log.Error("component stopped", "component", name, "err", err)
			n.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// maintain prunes the record of processed bus messages once an hour, keeping a week.
func (n *node) maintain(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if k, err := n.store.PruneProcessed(ctx, n.clock.Now().Add(-7*24*time.Hour)); err != nil {
			n.log.Warn("pruning processed messages failed", "err", err)
		} else if k > 0 {
			n.log.Info("pruned processed bus messages", "rows", k)
		}
	}
}

// URL is where the API answers.
func (n *node) URL() string { return "http://" + n.addr.String() }

func (n *node) ready(ctx context.Context) error {
	if err := n.store.DB().PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if n.bus.Conn().Status() != nats.CONNECTED {
		return fmt.Errorf("bus: %s", n.bus.Conn().Status())
	}
	return nil
}

// Wait blocks until ctx ends or a component fails.
func (n *node) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.errs:
		return err
	}
}

// Stop shuts down in order: no new requests, then the bots, then the bus and the database.
func (n *node) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = n.http.Shutdown(ctx)
	n.cancel()
	n.wg.Wait()
	n.close()
}

func (n *node) close() {
	if n.bus != nil {
		n.bus.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}
