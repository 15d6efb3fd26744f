// Package service runs the containment bot inside socbot serve: it wires the bot, its executor, the
// playbook engine (the embedded default library plus the playbooks uploaded per tenant), the safety
// rails (with the never-block lists kept in the store) and the tenants' connector instances (sealed
// credentials) over one store, feeds the bot every incident change from the store (a poll of
// incidents by updated_at behind a persisted cursor, so that a restart resumes where it stopped), and
// answers the API as a socbot.ContainmentService.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/playbook"
)

// Store is everything the containment service keeps: the ledger, connector instances, never-block
// lists, playbook versions and runs, the incident feed, bot timeline entries and notices, and the
// core's incidents and alerts. sqlstore.Store implements it.
type Store interface {
	containment.Store
	containment.NeverBlockStore
	containment.IncidentFeedStore
	containment.Timeline
	playbook.RunStore
	playbook.VersionStore
	Incident(ctx context.Context, tenantID string, id int64) (socbot.Incident, error)
	Alerts(ctx context.Context, f socbot.AlertFilter) ([]socbot.Alert, error)
	// NotifyContainment queues a notice for the tenant's channels (one named channel, or every channel
	// subscribed to the event or to incident updates) and returns how many were queued.
	NotifyContainment(ctx context.Context, tenantID string, incidentID int64, event, channel, subject, text string) (int, error)
	// ConnectorTenants lists the tenants with at least one connector instance.
	ConnectorTenants(ctx context.Context) ([]string, error)
}

// Config wires a Service. Store is required.
type Config struct {
	Store    Store
	Sealer   containment.Sealer // opens and seals connector credentials (secrets.Keyring)
	Clock    socbot.Clock
	Log      *slog.Logger
	Rails    *containment.Rails    // default containment.DefaultRails()
	Policies *containment.Policies // default policy for every tenant
	Executor containment.ExecutorConfig
	// Enrichers returns what a playbook's enrich step asks (a func: other bots add theirs after the
	// service is built).
	Enrichers func() []socbot.Enricher
	// EDLRoot is where external dynamic list connectors configured through the API keep their
	// lists: <EDLRoot>/<tenant>/<connector>. Empty refuses edl connectors from the API.
	EDLRoot string
	// Poll is the incident feed's idle interval (default 100ms; Wake cuts it short). Lag is how far
	// back each poll looks again for changes committed late (default 2s).
	Poll, Lag time.Duration
	// TickEvery paces approval deadlines and expiry (default 1s); ReloadEvery the reload of playbooks
	// and never-block lists changed on other nodes (default 5s).
	TickEvery, ReloadEvery time.Duration
	// AlertsPerIncident bounds the alerts handed to playbooks with an incident (default 200, newest).
	AlertsPerIncident int
	// Workers handle incident changes concurrently (default 8; one incident is always handled by
	// the same worker, in order).
	Workers int
}

// FeedCursor is the name of the incident feed's persisted cursor.
const FeedCursor = "containment.incidents"

// Service is the containment bot as socbot serve runs it.
type Service struct {
	cfg    Config
	store  Store
	clock  socbot.Clock
	log    *slog.Logger
	bot    *containment.Bot
	conns  *containment.Connectors
	lib    *playbook.Library
	engine *playbook.Engine
	rails  *containment.Rails
	wake   chan struct{}

	mu         sync.Mutex
	high       time.Time           // newest incident change handled
	seen       map[int64]time.Time // incident -> updated_at handled, within the lag window
	failures   map[int64]int       // incident -> failed attempts at its current version
	saved      time.Time           // when the cursor was last written
	gate       map[string]bool     // tenants with connectors or their own playbooks
	gateAt     time.Time
	pbSince    time.Time // newest stored playbook version loaded
	neverSet   map[string]bool
	builtinMax map[string]int // default library: name -> version
}

var _ socbot.ContainmentService = (*Service)(nil)

// New builds the service: the bot with its executor and the playbook engine over the store. It loads
// the default library and every stored playbook version; call Run to start the work.
func New(ctx context.Context, cfg Config) (*Service, error) {
	const op = "containment/service.New"
	if cfg.Store == nil {
		return nil, socbot.E(op, socbot.KindInvalid, "a store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = socbot.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Rails == nil {
		cfg.Rails = containment.DefaultRails()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, 100*time.Millisecond)
	def(&cfg.Lag, 2*time.Second)
	def(&cfg.TickEvery, time.Second)
	def(&cfg.ReloadEvery, 5*time.Second)
	if cfg.AlertsPerIncident <= 0 {
		cfg.AlertsPerIncident = 200
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	s := &Service{cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Log, rails: cfg.Rails, wake: make(chan struct{}, 1),
		seen: map[int64]time.Time{}, failures: map[int64]int{}, gate: map[string]bool{}, neverSet: map[string]bool{}, builtinMax: map[string]int{}}
	s.conns = containment.NewConnectors(cfg.Store, cfg.Sealer, cfg.Clock)
	s.conns.SetLogger(cfg.Log)
	s.lib = playbook.NewLibrary()
	defs, err := playbook.Defaults()
	if err != nil {
		return nil, socbot.E(op, err)
	}
	for _, p := range defs {
		if err := s.lib.Add("", p); err != nil {
			return nil, socbot.E(op, err)
		}
		s.builtinMax[p.Name] = p.Version
	}
	s.bot = containment.New(containment.Config{Store: cfg.Store, Resolver: s.conns, Rails: cfg.Rails, Policies: cfg.Policies, Clock: cfg.Clock,
		Log: cfg.Log, Timeline: cfg.Store, Notifier: notifier{cfg.Store}, Executor: cfg.Executor, TickEvery: cfg.TickEvery})
	s.engine = playbook.NewEngine(playbook.Config{Library: s.lib, Containment: s.bot, Enricher: enricher{cfg.Enrichers}, Notifier: notifier{cfg.Store},
		Timeline: cfg.Store, Runs: cfg.Store, Clock: cfg.Clock, Log: cfg.Log})
	s.bot.UsePlaybooks(s.engine)
	if err := s.reload(ctx); err != nil {
		return nil, socbot.E(op, err)
	}
	return s, nil
}

// Bot returns the containment bot.
func (s *Service) Bot() *containment.Bot { return s.bot }

// Engine returns the playbook engine.
func (s *Service) Engine() *playbook.Engine { return s.engine }

// Connectors returns the tenants' connector resolver.
func (s *Service) Connectors() *containment.Connectors { return s.conns }

// Library returns the playbook library (defaults and uploaded versions).
func (s *Service) Library() *playbook.Library { return s.lib }

// Wake makes the incident feed poll now (triage committed a batch).
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs the bot (executor, approval deadlines, expiry), the playbook engine's waits, the incident
// feed and the reloads until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = s.bot.Run(ctx) }()
	go func() { defer wg.Done(); s.timers(ctx) }()
	defer wg.Wait()
	// The cursor: where the last run stopped, or now for a store that never ran the feed (old
	// incidents are history, not work).
	cur, err := s.store.Cursor(ctx, FeedCursor)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if cur.IsZero() {
		cur = s.clock.Now()
	}
	if cur.After(s.high) {
		s.high = cur
	}
	s.mu.Unlock()
	for {
		n, err := s.FeedOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Error("containment incident feed failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(s.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) timers(ctx context.Context) {
	tick := time.NewTicker(s.cfg.TickEvery)
	defer tick.Stop()
	reload := time.NewTicker(s.cfg.ReloadEvery)
	defer reload.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := s.engine.Tick(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("playbook tick failed", "err", err)
			}
		case <-reload.C:
			if err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("containment reload failed", "err", err)
			}
		}
	}
}

// reload brings in playbook versions and never-block lists changed by any node.
func (s *Service) reload(ctx context.Context) error {
	s.mu.Lock()
	since := s.pbSince
	s.mu.Unlock()
	vs, err := s.store.PlaybooksSince(ctx, since)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		last, errs := s.lib.Load(vs)
		for _, e := range errs {
			s.log.Warn("stored playbook not loaded", "err", e)
		}
		s.mu.Lock()
		if last.After(s.pbSince) {
			s.pbSince = last
		}
		for _, v := range vs {
			if v.TenantID != "" {
				s.gate[v.TenantID] = true
			}
		}
		s.mu.Unlock()
	}
	return s.reloadNeverBlock(ctx)
}

func (s *Service) reloadNeverBlock(ctx context.Context) error {
	all, err := s.store.AllNeverBlock(ctx)
	if err != nil {
		return err
	}
	by := map[string][]string{}
	for _, e := range all {
		by[e.TenantID] = append(by[e.TenantID], e.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rails.SetMSSPNeverBlock(by[""])
	for t := range s.neverSet {
		if _, ok := by[t]; !ok {
			s.rails.SetNeverBlock(t, nil)
			delete(s.neverSet, t)
		}
	}
	for t, vs := range by {
		if t == "" {
			continue
		}
		s.rails.SetNeverBlock(t, vs)
		s.neverSet[t] = true
	}
	return nil
}

// FeedOnce hands the bot every incident changed since the last poll (looking Lag further back for
// changes committed late) and returns how many it handled. Changes are handled by Workers goroutines
// (one incident always by the same one, in order). An incident that fails is tried again at the next
// poll, up to five times; the cursor does not pass it meanwhile.
func (s *Service) FeedOnce(ctx context.Context) (int, error) {
	s.mu.Lock()
	since := s.high.Add(-s.cfg.Lag)
	s.mu.Unlock()
	handled := 0
	const page = 500
	var failed error
	for {
		changes, err := s.store.IncidentChanges(ctx, since, page)
		if err != nil {
			return handled, err
		}
		var todo []containment.IncidentChange
		s.mu.Lock()
		for _, c := range changes {
			if !s.seen[c.ID].Equal(c.UpdatedAt) {
				todo = append(todo, c)
			}
		}
		s.mu.Unlock()
		errs := s.handleAll(ctx, todo)
		var firstFail *containment.IncidentChange
		s.mu.Lock()
		high := s.high
		for i, c := range todo {
			if err := errs[i]; err != nil {
				s.failures[c.ID]++
				if n := s.failures[c.ID]; n < 5 {
					if firstFail == nil || c.UpdatedAt.Before(firstFail.UpdatedAt) {
						firstFail = &todo[i]
						failed = socbot.E("containment/service.feed", fmt.Sprintf("incident %d (attempt %d)", c.ID, n), err)
					}
					continue
				}
				s.log.Error("containment gave up on an incident change", "tenant", c.TenantID, "incident", c.ID, "err", err)
			}
			handled++
			s.seen[c.ID] = c.UpdatedAt
			delete(s.failures, c.ID)
			if c.UpdatedAt.After(high) {
				high = c.UpdatedAt
			}
		}
		if firstFail != nil && high.After(firstFail.UpdatedAt) {
			high = firstFail.UpdatedAt // keep the failed change inside the next poll's window
		}
		if high.After(s.high) {
			s.high = high
		}
		s.mu.Unlock()
		if firstFail != nil || len(changes) < page || !changes[len(changes)-1].UpdatedAt.After(since) {
			break
		}
		since = changes[len(changes)-1].UpdatedAt
	}
	s.mu.Lock()
	floor := s.high.Add(-s.cfg.Lag)
	for id, at := range s.seen {
		if at.Before(floor) {
			delete(s.seen, id)
		}
	}
	high, save := s.high, handled > 0 && time.Since(s.saved) > time.Second
	if save {
		s.saved = time.Now()
	}
	s.mu.Unlock()
	if save {
		if err := s.store.SetCursor(ctx, FeedCursor, high); err != nil {
			return handled, err
		}
	}
	return handled, failed
}

// handleAll handles the changes with up to Workers goroutines, each incident on one of them in
// order, and returns each change's error.
func (s *Service) handleAll(ctx context.Context, todo []containment.IncidentChange) []error {
	errs := make([]error, len(todo))
	workers := min(s.cfg.Workers, len(todo))
	if workers <= 1 {
		for i, c := range todo {
			errs[i] = s.handleLogged(ctx, c)
		}
		return errs
	}
	lanes := make([][]int, workers)
	for i, c := range todo {
		w := int(uint64(c.ID) % uint64(workers))
		lanes[w] = append(lanes[w], i)
	}
	var wg sync.WaitGroup
	for _, lane := range lanes {
		wg.Add(1)
		go func(lane []int) {
			defer wg.Done()
			for _, i := range lane {
				errs[i] = s.handleLogged(ctx, todo[i])
			}
		}(lane)
	}
	wg.Wait()
	return errs
}

func (s *Service) handleLogged(ctx context.Context, c containment.IncidentChange) error {
	t0 := time.Now()
	err := s.handle(ctx, c)
	s.log.Debug("containment incident change handled", "tenant", c.TenantID, "incident", c.ID, "status", c.Status,
		"behind_ms", time.Since(c.UpdatedAt).Milliseconds(), "took_ms", time.Since(t0).Milliseconds(), "err", err)
	return err
}

// SaveCursor writes the feed's cursor now (on shutdown).
func (s *Service) SaveCursor(ctx context.Context) error {
	s.mu.Lock()
	high := s.high
	s.mu.Unlock()
	if high.IsZero() {
		return nil
	}
	return s.store.SetCursor(ctx, FeedCursor, high)
}

// gated reports whether the tenant has anything for containment to do: a connector instance or a
// playbook of its own. Incidents of other tenants are not handed to the playbooks (their contain
// steps could only fail), except that a false positive still rolls back what was done.
func (s *Service) gated(ctx context.Context, tenantID string) (bool, error) {
	s.mu.Lock()
	ok := s.gate[tenantID]
	fresh := s.clock.Now().Sub(s.gateAt) < time.Second
	s.mu.Unlock()
	if ok || fresh {
		return ok, nil
	}
	ts, err := s.store.ConnectorTenants(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		s.gate[t] = true
	}
	s.gateAt = s.clock.Now()
	return s.gate[tenantID], nil
}

func (s *Service) handle(ctx context.Context, c containment.IncidentChange) error {
	if c.Status == socbot.StatusFalsePositive {
		// Roll back whatever was done for it, whatever the gate says.
		return s.bot.OnIncident(ctx, socbot.Incident{ID: c.ID, TenantID: c.TenantID, Status: c.Status}, nil)
	}
	if socbot.Closed(c.Status) {
		return nil
	}
	ok, err := s.gated(ctx, c.TenantID)
	if err != nil || !ok {
		return err
	}
	inc, err := s.store.Incident(ctx, c.TenantID, c.ID)
	if err != nil {
		if socbot.IsKind(err, socbot.KindNotFound) {
			return nil
		}
		return err
	}
	alerts, err := s.store.Alerts(ctx, socbot.AlertFilter{TenantID: c.TenantID, IncidentID: c.ID, Limit: s.cfg.AlertsPerIncident})
	if err != nil {
		return err
	}
	return s.bot.OnIncident(ctx, inc, alerts)
}

// ---- adapters

// notifier delivers the bot's notices and the playbooks' notify steps through the notification outbox.
type notifier struct{ st Store }

var (
	_ containment.Notifier = notifier{}
	_ playbook.Notifier    = notifier{}
)

func (n notifier) Notify(ctx context.Context, x containment.Notice) error {
	_, err := n.st.NotifyContainment(ctx, x.TenantID, x.IncidentID, x.Event, "", x.Subject, x.Text)
	return err
}

// EventPlaybookNotify is the event of the notices playbooks send.
const EventPlaybookNotify = "playbook.notify"

func (n notifier) NotifyIncident(ctx context.Context, tenantID string, incidentID int64, channel, subject, body string) error {
	_, err := n.st.NotifyContainment(ctx, tenantID, incidentID, EventPlaybookNotify, channel, subject, body)
	return err
}

// enricher runs the node's pluggable enrichers over observables for a playbook's enrich step.
type enricher struct{ list func() []socbot.Enricher }

var _ playbook.Enricher = enricher{}

func (e enricher) EnrichObservables(ctx context.Context, tenantID string, obs []socbot.Observable) ([]socbot.Enrichment, error) {
	var es []socbot.Enricher
	if e.list != nil {
		es = e.list()
	}
	a := &socbot.Alert{TenantID: tenantID, Observables: obs}
	var out []socbot.Enrichment
	var errs []string
	for _, en := range es {
		got, err := en.Enrich(ctx, tenantID, a)
		if err != nil {
			errs = append(errs, en.Name()+": "+err.Error())
			continue
		}
		out = append(out, got...)
	}
	if len(errs) > 0 && len(out) == 0 && len(errs) == len(es) {
		return nil, socbot.E("containment/service.enrich", socbot.KindUnavailable, strings.Join(errs, "; "))
	}
	return out, nil
}

// edlDir is where an API-configured edl connector keeps its lists.
func (s *Service) edlDir(tenantID, id string) string {
	return filepath.Join(s.cfg.EDLRoot, tenantID, id)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
