// Package triage is the triage bot: it takes normalised alerts off the bus, enriches them, gives each a
// verdict with its reasons, suppresses the known-benign, folds repeats into alert groups, correlates
// alerts that share an entity into incidents (merging incidents that come to share one), routes new
// incidents to queues with SLAs, and queues notices to the client, all in one transaction per batch.
// A separate loop escalates incidents whose SLA is breached.
package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/celexpr"
)

// Config tunes the bot.
type Config struct {
	EnrichDeadline time.Duration // how long pluggable enrichers may take per batch (default 2 s)
	SLAInterval    time.Duration // how often SLA deadlines are checked (default 15 s)
}

// Observer hears about alerts once their batch is committed (metrics, benchmarks).
type Observer interface {
	Triaged(alerts []*socbot.Alert, committedAt time.Time)
}

// Bot is the triage bot.
type Bot struct {
	store     socbot.Store
	enrichers []socbot.Enricher
	clock     socbot.Clock
	log       *slog.Logger
	cfg       Config
	configs   *configs
	observer  Observer

	mu     sync.Mutex
	states map[string]*tenantState
}

// New returns a triage bot. enrichers are the pluggable ones (the intel bot's index, for instance);
// the tenant's asset inventory and indicator lists are always consulted.
func New(store socbot.Store, enrichers []socbot.Enricher, clock socbot.Clock, logger *slog.Logger, cfg Config, obs Observer) *Bot {
	if cfg.EnrichDeadline <= 0 {
		cfg.EnrichDeadline = 2 * time.Second
	}
	if cfg.SLAInterval <= 0 {
		cfg.SLAInterval = 15 * time.Second
	}
	return &Bot{store: store, enrichers: enrichers, clock: clock, log: logger, cfg: cfg, observer: obs,
		configs: &configs{store: store, log: logger, m: map[string]*tenantConfig{}}, states: map[string]*tenantState{}}
}

// Principal is who the bot acts as in timelines and the audit log.
var Principal = socbot.Bot("triage")

// tenantState is the bot's cache of a tenant's open correlation state. The database is the truth:
// the cache is loaded from it, changed only inside a triage transaction, and dropped when a
// transaction fails, so the retry starts from what was committed.
type tenantState struct {
	loadedAt  time.Time
	groups    map[string]*groupState // fingerprint -> open group
	entities  map[string]entityRef   // entity key -> incident
	incidents map[int64]*incState    // open incidents within the window
}

type groupState struct {
	id, incidentID int64
	lastSeen       time.Time
}

type entityRef struct {
	incidentID int64
	lastSeen   time.Time
}

type incState struct {
	inc    socbot.Incident
	ents   map[string]struct{} // entity keys that point at this incident
	groups map[string]struct{} // fingerprints of its open groups
}

func newIncState(inc socbot.Incident) *incState {
	return &incState{inc: inc, ents: map[string]struct{}{}, groups: map[string]struct{}{}}
}

// Handle triages batches of alerts taken off the bus, committing all of them or none. If the cached
// state turns out stale (a person closed an incident meanwhile) it reloads it and tries once more.
func (b *Bot) Handle(ctx context.Context, batches []socbot.AlertBatch) error {
	err := b.handle(ctx, batches)
	if socbot.IsKind(err, socbot.KindConflict) {
		b.log.Debug("triage state was stale; reloaded", "err", err)
		err = b.handle(ctx, batches)
	}
	return err
}

func (b *Bot) handle(ctx context.Context, batches []socbot.AlertBatch) error {
	now := b.clock.Now()
	// Alerts may be handled a second time after a failed commit: start from what ingest gave.
	var all []*socbot.Alert
	tenants := map[string]bool{}
	for bi := range batches {
		tenants[batches[bi].TenantID] = true
		for i := range batches[bi].Alerts {
			a := &batches[bi].Alerts[i]
			a.Enrichment, a.Reasons, a.Status, a.SuppressedBy, a.Prepared = nil, nil, "", "", nil
			a.GroupID, a.IncidentID, a.Priority, a.Confidence = 0, 0, socbot.PriorityNone, 0
			all = append(all, a)
		}
	}
	cfgs := map[string]*tenantConfig{}
	for t := range tenants {
		cfg, err := b.configs.get(ctx, t)
		if err != nil {
			return err
		}
		cfgs[t] = cfg
		if err := b.ensureState(ctx, t, cfg, now); err != nil {
			return err
		}
	}
	// Suppress, enrich and judge every alert outside the transaction.
	byTenant := map[string][]*socbot.Alert{}
	for _, a := range all {
		cfg := cfgs[a.TenantID]
		a.Fingerprint = fingerprint(a)
		if b.suppress(cfg, a, now) {
			continue
		}
		enrichBuiltin(cfg, a, now)
		byTenant[a.TenantID] = append(byTenant[a.TenantID], a)
	}
	// Entities too are a function of the alert alone: work them out before taking the write lock.
	ents := make(map[*socbot.Alert][]string, len(all))
	for t, alerts := range byTenant {
		enrichExternal(ctx, b.enrichers, b.cfg.EnrichDeadline, t, alerts)
		for _, a := range alerts {
			verdict(cfgs[t], a)
			ents[a] = entities(a, cfgs[t].exclude)
		}
	}

	b.store.PrepareAlerts(all) // encode rows now, while another partition may hold the write lock

	var committed []*socbot.Alert
	err := b.store.TriageTx(ctx, func(tx socbot.TriageTx) error {
		committed = committed[:0]
		w := newWork(b, tx, now)
		for bi := range batches {
			batch := &batches[bi]
			seen, err := tx.Processed(batch.Stream, batch.Seq)
			if err != nil {
				return err
			}
			if seen {
				continue // a redelivery of a committed message: nothing to do twice
			}
			cfg := cfgs[batch.TenantID]
			st := b.state(batch.TenantID)
			for i := range batch.Alerts {
				a := &batch.Alerts[i]
				if a.Status != socbot.AlertSuppressed {
					if err := w.correlate(cfg, st, a, ents[a]); err != nil {
						return err
					}
				}
				committed = append(committed, a)
			}
			if err := tx.MarkProcessed(batch.Stream, batch.Seq); err != nil {
				return err
			}
		}
		return w.flush(cfgs, committed)
	})
	if err != nil {
		b.mu.Lock()
		for t := range tenants {
			delete(b.states, t)
		}
		b.mu.Unlock()
		return err
	}
	if b.observer != nil && len(committed) > 0 {
		b.observer.Triaged(committed, b.clock.Now())
	}
	return nil
}

func (b *Bot) state(tenantID string) *tenantState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states[tenantID]
}

// ensureState loads the tenant's correlation state if it is not cached, and prunes what fell out of
// the window from a cached one now and then.
func (b *Bot) ensureState(ctx context.Context, tenantID string, cfg *tenantConfig, now time.Time) error {
	window := cfg.tenant.Settings.Window()
	if st := b.state(tenantID); st != nil {
		if now.Sub(st.loadedAt) > time.Minute {
			st.prune(now, window)
			st.loadedAt = now
		}
		return nil
	}
	db, err := b.store.TriageState(ctx, tenantID, now.Add(-window))
	if err != nil {
		return err
	}
	st := &tenantState{loadedAt: now, groups: map[string]*groupState{}, entities: map[string]entityRef{}, incidents: map[int64]*incState{}}
	for _, inc := range db.Incidents {
		st.incidents[inc.ID] = newIncState(inc)
	}
	for _, inc := range db.Incidents {
		for _, e := range inc.Entities {
			// Entities keep the incident's last-seen time: the window counts from the latest alert.
			if ref, ok := st.entities[e]; !ok || ref.incidentID > inc.ID {
				st.entities[e] = entityRef{incidentID: inc.ID, lastSeen: inc.LastSeen}
				st.incidents[inc.ID].ents[e] = struct{}{}
			}
		}
	}
	for _, g := range db.Groups {
		st.groups[g.Fingerprint] = &groupState{id: g.ID, incidentID: g.IncidentID, lastSeen: g.LastSeen}
		st.incidents[g.IncidentID].groups[g.Fingerprint] = struct{}{}
	}
	b.mu.Lock()
	b.states[tenantID] = st
	b.mu.Unlock()
	return nil
}

func (st *tenantState) prune(now time.Time, window time.Duration) {
	for k, ref := range st.entities {
		if now.Sub(ref.lastSeen) > window {
			delete(st.entities, k)
		}
	}
	for id, is := range st.incidents {
		if now.Sub(is.inc.LastSeen) > window {
			delete(st.incidents, id)
		}
	}
}

// suppress closes the alert if an active suppression rule of its tenant matches it.
func (b *Bot) suppress(cfg *tenantConfig, a *socbot.Alert, now time.Time) bool {
	if len(cfg.suppressions) == 0 {
		return false
	}
	vars := celexpr.AlertVars(a)
	for _, s := range cfg.suppressions {
		if !s.rule.Active(now) {
			continue
		}
		ok, err := s.prg.Match(vars)
		if err != nil {
			b.log.Debug("suppression rule failed on an alert", "rule", s.rule.ID, "err", err)
			continue
		}
		if ok {
			a.Status = socbot.AlertSuppressed
			a.SuppressedBy = fmt.Sprintf("%d", s.rule.ID)
			a.Reasons = []string{fmt.Sprintf("suppressed by rule %q (by %s): %s", s.rule.Name, s.rule.Author, s.rule.Reason)}
			return true
		}
	}
	return false
}

// work is what one triage transaction changes, gathered so that each incident and group is written
// once per transaction.
type work struct {
	b       *Bot
	tx      socbot.TriageTx
	now     time.Time
	deltas  map[int64]*socbot.IncidentDelta
	groups  map[int64]*groupTouch
	ents    map[int64]map[string]time.Time
	created []int64
	merged  map[int64]int64 // merged incident -> the one it went into
	added   map[int64][]string
	hits    map[string]map[int64]int64
	tenant  map[int64]string // incident -> tenant
	cfgOf   map[int64]*tenantConfig
}

type groupTouch struct {
	add      int64
	lastSeen time.Time
}

func newWork(b *Bot, tx socbot.TriageTx, now time.Time) *work {
	return &work{b: b, tx: tx, now: now, deltas: map[int64]*socbot.IncidentDelta{}, groups: map[int64]*groupTouch{},
		ents: map[int64]map[string]time.Time{}, merged: map[int64]int64{}, added: map[int64][]string{},
		hits: map[string]map[int64]int64{}, tenant: map[int64]string{}, cfgOf: map[int64]*tenantConfig{}}
}

// correlate places one judged alert: as a repeat in its open group, or into the incident that shares
// one of its entities (merging several such incidents into the oldest), or into a new incident.
// ents are the alert's entities (see entities).
func (w *work) correlate(cfg *tenantConfig, st *tenantState, a *socbot.Alert, ents []string) error {
	t := a.ReceivedAt
	window := cfg.tenant.Settings.Window()
	a.Status = socbot.AlertOpen
	if g := st.groups[a.Fingerprint]; g != nil {
		if st.incidents[g.incidentID] != nil && t.Sub(g.lastSeen) <= window {
			a.Status = socbot.AlertDuplicate
			a.GroupID, a.IncidentID = g.id, g.incidentID
			if t.After(g.lastSeen) {
				g.lastSeen = t
			}
			w.touchGroup(g.id, t)
			w.join(cfg, st, g.incidentID, a, ents)
			return nil
		}
		if err := w.tx.CloseGroup(g.id); err != nil {
			return err
		}
		delete(st.groups, a.Fingerprint)
	}
	var cands []int64
	for _, e := range ents {
		ref, ok := st.entities[e]
		if !ok || st.incidents[ref.incidentID] == nil || t.Sub(ref.lastSeen) > window {
			continue
		}
		if !containsID(cands, ref.incidentID) {
			cands = append(cands, ref.incidentID)
		}
	}
	var target int64
	switch len(cands) {
	case 0:
		id, err := w.create(cfg, st, a, ents)
		if err != nil {
			return err
		}
		target = id
	case 1:
		target = cands[0]
	default:
		sort.Slice(cands, func(i, j int) bool { return cands[i] < cands[j] })
		target = cands[0]
		if err := w.merge(cfg, st, target, cands[1:], a); err != nil {
			return err
		}
	}
	g := &socbot.AlertGroup{TenantID: a.TenantID, Fingerprint: a.Fingerprint, IncidentID: target, Count: 1, FirstSeen: t, LastSeen: t}
	if err := w.tx.CreateGroup(g); err != nil {
		return err
	}
	st.groups[a.Fingerprint] = &groupState{id: g.ID, incidentID: target, lastSeen: t}
	st.incidents[target].groups[a.Fingerprint] = struct{}{}
	a.GroupID, a.IncidentID = g.ID, target
	w.join(cfg, st, target, a, ents)
	return nil
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (w *work) touchGroup(id int64, t time.Time) {
	gt := w.groups[id]
	if gt == nil {
		gt = &groupTouch{}
		w.groups[id] = gt
	}
	gt.add++
	if t.After(gt.lastSeen) {
		gt.lastSeen = t
	}
}

// join adds the alert to incident id: counts, last-seen, priority, confidence, reasons and ATT&CK.
func (w *work) join(cfg *tenantConfig, st *tenantState, id int64, a *socbot.Alert, ents []string) {
	is := st.incidents[id]
	inc := &is.inc
	inc.AlertCount++
	if a.ReceivedAt.After(inc.LastSeen) {
		inc.LastSeen = a.ReceivedAt
	}
	if a.Priority != socbot.PriorityNone && a.Priority < inc.Priority {
		inc.Priority = a.Priority
	}
	inc.Confidence = max(inc.Confidence, a.Confidence)
	if a.Status != socbot.AlertDuplicate {
		inc.Reasons = unionCap(inc.Reasons, incidentReasons(a.Reasons), 20)
	}
	inc.Tactics = unionCap(inc.Tactics, a.Tactics, 50)
	inc.Techniques = unionCap(inc.Techniques, a.Techniques, 100)
	d := w.deltas[id]
	if d == nil {
		d = &socbot.IncidentDelta{ID: id, TenantID: a.TenantID}
		w.deltas[id] = d
		w.tenant[id] = a.TenantID
		w.cfgOf[id] = cfg
	}
	d.AddAlerts++
	if a.ReceivedAt.After(d.LastSeen) {
		d.LastSeen = a.ReceivedAt
	}
	m := w.ents[id]
	if m == nil {
		m = map[string]time.Time{}
		w.ents[id] = m
	}
	for _, e := range ents {
		st.entities[e] = entityRef{incidentID: id, lastSeen: maxTime(st.entities[e].lastSeen, a.ReceivedAt)}
		if _, known := is.ents[e]; known {
			continue // the incident already has it: its rows need no rewrite (the window runs on the incident's last-seen)
		}
		is.ents[e] = struct{}{}
		m[e] = maxTime(m[e], a.ReceivedAt)
	}
	if len(w.added[id]) < 3 {
		w.added[id] = append(w.added[id], a.Title)
	}
}

// incidentReasons are the alert reasons worth repeating on its incident: the facts found (assets,
// indicator hits, severity), not each alert's own arithmetic (its score and source reliability).
func incidentReasons(reasons []string) []string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		if strings.HasPrefix(r, "risk score ") || strings.HasPrefix(r, "source reliability ") {
			continue
		}
		out = append(out, r)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func unionCap(have, add []string, limit int) []string {
	for _, s := range add {
		if len(have) >= limit {
			break
		}
		found := false
		for _, h := range have {
			if h == s {
				found = true
				break
			}
		}
		if !found {
			have = append(have, s)
		}
	}
	return have
}

// create opens a new incident for the alert, routed to its queue with its SLA deadlines.
func (w *work) create(cfg *tenantConfig, st *tenantState, a *socbot.Alert, ents []string) (int64, error) {
	t := a.ReceivedAt
	title := a.Title
	if e := primaryEntity(a); e != "" && !strings.Contains(strings.ToLower(title), strings.ToLower(e)) {
		title += " on " + e
	}
	category := a.Category
	if category == "" && len(a.Tactics) > 0 {
		category = a.Tactics[0]
	}
	inc := socbot.Incident{
		TenantID: a.TenantID, Title: title, Priority: a.Priority, Status: socbot.StatusNew, Category: category,
		Confidence: a.Confidence, FirstSeen: t, LastSeen: t, CreatedAt: w.now, UpdatedAt: w.now,
		Tactics: append([]string(nil), a.Tactics...), Techniques: append([]string(nil), a.Techniques...),
		Reasons: incidentReasons(a.Reasons), Entities: ents,
	}
	sla := cfg.tenant.Settings.SLAFor(inc.Priority)
	ack, res := w.now.Add(time.Duration(sla.Acknowledge)), w.now.Add(time.Duration(sla.Resolve))
	inc.AckDue, inc.ResolveDue = &ack, &res
	inc.Queue = w.route(cfg, &inc, a.Format)
	if err := w.tx.CreateIncident(&inc); err != nil {
		return 0, err
	}
	inc.AlertCount = 0 // join counts the first alert
	st.incidents[inc.ID] = newIncState(inc)
	w.created = append(w.created, inc.ID)
	data, _ := json.Marshal(map[string]any{"alert_uid": a.UID, "format": a.Format, "reasons": a.Reasons})
	text := fmt.Sprintf("opened by triage from %q (%s) as %s, queue %s", a.Title, sourceName(a), inc.Priority, inc.Queue)
	if err := w.tx.AddTimeline(socbot.TimelineEntry{TenantID: a.TenantID, IncidentID: inc.ID, At: w.now, Actor: Principal.Name, Kind: "created", Text: text, Data: data}); err != nil {
		return 0, err
	}
	return inc.ID, w.tx.Audit(socbot.AuditRecord{TenantID: a.TenantID, Actor: Principal.Name, Action: "incident.create",
		Target: fmt.Sprintf("incident:%d", inc.ID), Reason: strings.Join(a.Reasons, "; "),
		Details: map[string]any{"number": inc.Number, "priority": inc.Priority.String(), "queue": inc.Queue, "alert_uid": a.UID}})
}

// route picks the queue of a new incident: the first routing rule (the tenant's, then MSSP-wide) whose
// expression matches, else the default queue.
func (w *work) route(cfg *tenantConfig, inc *socbot.Incident, format string) string {
	if len(cfg.routes) == 0 {
		return socbot.DefaultQueue
	}
	vars := celexpr.IncidentVars(inc, cfg.tenant.Name, []string{format})
	for _, r := range cfg.routes {
		ok, err := r.prg.Match(vars)
		if err != nil {
			w.b.log.Debug("routing rule failed", "rule", r.rule.ID, "err", err)
			continue
		}
		if ok {
			return r.rule.Queue
		}
	}
	return socbot.DefaultQueue
}

// merge folds the incidents `from` into `into` because alert a shares entities with all of them.
func (w *work) merge(cfg *tenantConfig, st *tenantState, into int64, from []int64, a *socbot.Alert) error {
	// Pending changes of the merged incidents move to the surviving one before the database merge,
	// which only sees what is already written.
	target := st.incidents[into]
	for _, id := range from {
		is := st.incidents[id]
		if d := w.deltas[id]; d != nil {
			td := w.deltas[into]
			if td == nil {
				td = &socbot.IncidentDelta{ID: into, TenantID: a.TenantID}
				w.deltas[into] = td
				w.tenant[into] = a.TenantID
				w.cfgOf[into] = cfg
			}
			td.AddAlerts += d.AddAlerts
			td.LastSeen = maxTime(td.LastSeen, d.LastSeen)
			delete(w.deltas, id) // the database merge adds only what was committed; the rest goes here
		}
		if m := w.ents[id]; m != nil {
			tm := w.ents[into]
			if tm == nil {
				tm = map[string]time.Time{}
				w.ents[into] = tm
			}
			for e, ts := range m {
				tm[e] = maxTime(tm[e], ts)
			}
			delete(w.ents, id)
		}
		w.added[into] = append(w.added[into], w.added[id]...)
		delete(w.added, id)
		inc := &target.inc
		inc.AlertCount += is.inc.AlertCount
		if is.inc.Priority < inc.Priority {
			inc.Priority = is.inc.Priority
		}
		inc.Confidence = max(inc.Confidence, is.inc.Confidence)
		inc.Reasons = unionCap(inc.Reasons, is.inc.Reasons, 20)
		inc.Tactics = unionCap(inc.Tactics, is.inc.Tactics, 50)
		inc.Techniques = unionCap(inc.Techniques, is.inc.Techniques, 100)
		if is.inc.FirstSeen.Before(inc.FirstSeen) {
			inc.FirstSeen = is.inc.FirstSeen
		}
		for e := range is.ents {
			if ref, ok := st.entities[e]; ok && ref.incidentID == id {
				st.entities[e] = entityRef{incidentID: into, lastSeen: ref.lastSeen}
				target.ents[e] = struct{}{}
			}
		}
		for fp := range is.groups {
			if g := st.groups[fp]; g != nil && g.incidentID == id {
				g.incidentID = into
				target.groups[fp] = struct{}{}
			}
		}
		delete(st.incidents, id)
		w.merged[id] = into
	}
	if err := w.tx.Merge(a.TenantID, into, from, w.now, Principal); err != nil {
		return err
	}
	shared := strings.Join(entities(a, cfg.exclude), ", ")
	var entries []socbot.TimelineEntry
	for _, id := range from {
		entries = append(entries,
			socbot.TimelineEntry{TenantID: a.TenantID, IncidentID: into, At: w.now, Actor: Principal.Name, Kind: "merged",
				Text: fmt.Sprintf("incident %d merged into this one: alert %q ties them by %s", id, a.Title, shared)},
			socbot.TimelineEntry{TenantID: a.TenantID, IncidentID: id, At: w.now, Actor: Principal.Name, Kind: "merged",
				Text: fmt.Sprintf("merged into incident %d: alert %q ties them by %s", into, a.Title, shared)})
	}
	return w.tx.AddTimeline(entries...)
}

// flush writes the gathered incident, group and entity changes, the alerts themselves, the timeline,
// notices and suppression counts.
func (w *work) flush(cfgs map[string]*tenantConfig, alerts []*socbot.Alert) error {
	ids := make([]int64, 0, len(w.deltas))
	for id := range w.deltas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	isCreated := map[int64]bool{}
	for _, id := range w.created {
		isCreated[id] = true
	}
	for _, id := range ids {
		d := w.deltas[id]
		st := w.b.state(d.TenantID)
		is := st.incidents[id]
		d.Priority, d.Confidence = is.inc.Priority, is.inc.Confidence
		d.Reasons, d.Tactics, d.Techniques = is.inc.Reasons, is.inc.Tactics, is.inc.Techniques
		if err := w.tx.TouchIncident(*d); err != nil {
			return err
		}
		if m := w.ents[id]; len(m) > 0 {
			keys := make([]string, 0, len(m))
			latest := time.Time{}
			for e, ts := range m {
				keys = append(keys, e)
				latest = maxTime(latest, ts)
			}
			sort.Strings(keys)
			if err := w.tx.AddEntities(d.TenantID, id, keys, latest); err != nil {
				return err
			}
		}
		if !isCreated[id] {
			text := fmt.Sprintf("%d alert(s) added: %s", d.AddAlerts, strings.Join(w.added[id], "; "))
			if d.AddAlerts > len(w.added[id]) {
				text += " …"
			}
			if err := w.tx.AddTimeline(socbot.TimelineEntry{TenantID: d.TenantID, IncidentID: id, At: w.now, Actor: Principal.Name, Kind: "alerts_added", Text: text}); err != nil {
				return err
			}
		}
	}
	gids := make([]int64, 0, len(w.groups))
	for id := range w.groups {
		gids = append(gids, id)
	}
	sort.Slice(gids, func(i, j int) bool { return gids[i] < gids[j] })
	for _, id := range gids {
		g := w.groups[id]
		if err := w.tx.TouchGroup(id, g.add, g.lastSeen); err != nil {
			return err
		}
	}
	for _, id := range w.created {
		if _, gone := w.merged[id]; gone {
			continue
		}
		tenant := w.tenant[id]
		is := w.b.state(tenant).incidents[id]
		if is == nil {
			continue
		}
		if err := w.tx.Notify(tenant, socbot.EventIncidentCreated, is.inc, strings.Join(is.inc.Reasons, "; ")); err != nil {
			return err
		}
	}
	suppressed := map[string]map[string]int{}
	for _, a := range alerts {
		for {
			into, ok := w.merged[a.IncidentID]
			if !ok {
				break
			}
			a.IncidentID = into
		}
		if a.Status == socbot.AlertSuppressed {
			var id int64
			fmt.Sscan(a.SuppressedBy, &id)
			if w.hits[a.TenantID] == nil {
				w.hits[a.TenantID] = map[int64]int64{}
				suppressed[a.TenantID] = map[string]int{}
			}
			w.hits[a.TenantID][id]++
			suppressed[a.TenantID][a.SuppressedBy]++
		}
	}
	if err := w.tx.InsertAlerts(alerts); err != nil {
		return err
	}
	tenants := make([]string, 0, len(w.hits))
	for t := range w.hits {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	for _, t := range tenants {
		if err := w.tx.SuppressionHits(t, w.hits[t], w.now); err != nil {
			return err
		}
		if err := w.tx.Audit(socbot.AuditRecord{TenantID: t, Actor: Principal.Name, Action: "alert.suppress", Target: "alerts",
			Reason: "matched suppression rules", Details: map[string]any{"alerts_by_rule": suppressed[t]}}); err != nil {
			return err
		}
	}
	return nil
}
