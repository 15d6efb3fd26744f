package intel

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/warninglist"
)

// Item is one indicator as one feed reports it, before merging. Feed parsers produce Items.
type Item struct {
	Type        ioc.Type         `json:"type"`
	Value       string           `json:"value"`
	Confidence  int              `json:"confidence,omitempty"` // 0: the feed's default
	FirstSeen   time.Time        `json:"first_seen,omitempty"`
	LastSeen    time.Time        `json:"last_seen,omitempty"`
	ValidUntil  time.Time        `json:"valid_until,omitempty"`
	TLP         string           `json:"tlp,omitempty"` // "": the feed's default
	Tags        []string         `json:"tags,omitempty"`
	KillChain   []KillChainPhase `json:"kill_chain_phases,omitempty"`
	Description string           `json:"description,omitempty"`
	Ref         string           `json:"ref,omitempty"` // the feed's own id or link for it
	Pattern     string           `json:"pattern,omitempty"`
	Revoked     bool             `json:"revoked,omitempty"` // the feed withdrew it
}

// SourceInfo describes where a batch of Items came from.
type SourceInfo struct {
	Name              string // feed name
	Reliability       int    // 0-100: how far the feed is trusted (admiralty A=100 ... E=20)
	DefaultConfidence int    // confidence of items that carry none
	TLP               TLP    // marking of items that carry none
	Tags              []string
}

// IngestBatch is the number of items feed readers hand to one Ingest call: one store transaction
// each, large enough that a bulk import into a SQL store writes each touched page for many rows.
const IngestBatch = 20000

// IngestStats counts what one Ingest call did.
type IngestStats struct {
	Items    int `json:"items"`
	Invalid  int `json:"invalid"`
	Filtered int `json:"filtered"` // matched a warninglist
	New      int `json:"new"`
	Updated  int `json:"updated"`
	Revoked  int `json:"revoked"`
}

// Add sums counts.
func (s *IngestStats) Add(o IngestStats) {
	s.Items += o.Items
	s.Invalid += o.Invalid
	s.Filtered += o.Filtered
	s.New += o.New
	s.Updated += o.Updated
	s.Revoked += o.Revoked
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Store        Store
	Warninglists *warninglist.Set // may be nil
	Decay        Decay            // nil: DefaultDecay
	Clock        socbot.Clock     // nil: SystemClock
	Logger       *slog.Logger
	// Containment receives indicators whose score reaches a tenant's threshold; nil disables the hook.
	Containment ContainmentSink
	// ContainmentThreshold returns a tenant's threshold (0-100; 0 disables it for that tenant).
	ContainmentThreshold func(tenantID string) int
	// CompactAt is the delta size at which the match index is rebuilt from the store (default 50,000,
	// or half the base index when that is larger, so that rebuilds stay proportional to growth).
	CompactAt int
	// OnChange, when set, is called after every write with the keys that changed, so that the lead can
	// publish a ChangeEvent on the bus and other nodes' engines Refresh their match index.
	OnChange func(ChangeEvent)
	// NoIndex turns the live match index off, for processes that only import or export (the CLI's
	// import, benchmarks). Match then finds nothing until Load is called.
	NoIndex bool
}

// Engine is the intel bot's core: it merges feed items into indicators, keeps the match index current
// and records sightings. It is safe for concurrent use.
type Engine struct {
	cfg     EngineConfig
	store   Store
	decay   Decay
	clock   socbot.Clock
	log     *slog.Logger
	matcher *Matcher

	ingestMu sync.Mutex // one merge at a time: read-merge-write of the same keys must not interleave

	sightMu sync.Mutex
	pending []Sighting
	dropped int

	catch atomic.Pointer[CatchUp]
}

var _ socbot.IndicatorMatcher = (*Engine)(nil)

// NewEngine builds an engine. Call Load to fill the match index from the store.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.Decay == nil {
		cfg.Decay = DefaultDecay()
	}
	if cfg.Clock == nil {
		cfg.Clock = socbot.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CompactAt <= 0 {
		cfg.CompactAt = 50000
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Warninglists != nil {
		cfg.Warninglists.Freeze()
	}
	return &Engine{cfg: cfg, store: cfg.Store, decay: cfg.Decay, clock: cfg.Clock, log: cfg.Logger,
		matcher: NewMatcher(cfg.Decay, cfg.Clock)}
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Decay returns the decay models.
func (e *Engine) Decay() Decay { return e.decay }

// Matcher returns the live match index.
func (e *Engine) Matcher() *Matcher { return e.matcher }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Match implements socbot.IndicatorMatcher.
func (e *Engine) Match(tenantID string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	return e.matcher.Match(tenantID, typ, value)
}

// EntryOf is the match index's view of an indicator (what Load and IndexScanner produce).
func EntryOf(in *Indicator) IndexEntry { return indexEntry(in) }

// indexEntry maps an indicator to its index entry; inactive ones become tombstones.
func indexEntry(in *Indicator) IndexEntry {
	e := IndexEntry{TenantID: in.TenantID, Type: in.Type, Value: in.Value, Base: in.BaseScore(), Ref: in.Reference(),
		Until: in.ValidUntil(), TLP: in.TLP, Sources: in.SourceNames(), Tags: in.Tags}
	if in.Revoked || in.FilteredBy != "" {
		e.Dead = true
	}
	return e
}

// IndexScanner is an optional Store method: the match index's view (EntryOf) of every live
// indicator of every tenant (not revoked or filtered), read without decoding whole indicators. Load
// uses it when the store has it.
type IndexScanner interface {
	// ScanIndexEntries calls fn for the live indicators of the listed tenants ("" the MSSP-wide set;
	// nil: every tenant).
	ScanIndexEntries(ctx context.Context, tenants []string, fn func(*IndexEntry) error) error
}

// Load rebuilds the match index from every stored indicator that is not revoked or filtered
// (expired ones are included: they may be restored by a sighting, and the index ages them itself).
func (e *Engine) Load(ctx context.Context) (int, error) {
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	return e.load(ctx, nil)
}

// LoadTenants builds the match index from one tenant's indicators and the MSSP-wide set only (the
// command line's match, which looks up one tenant's values).
func (e *Engine) LoadTenants(ctx context.Context, tenantID string) (int, error) {
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	return e.load(ctx, []string{"", tenantID})
}

// load is Load with ingestMu held: no write or index update interleaves with the rebuild.
func (e *Engine) load(ctx context.Context, tenants []string) (int, error) {
	var entries []IndexEntry
	var err error
	if sc, ok := e.store.(IndexScanner); ok {
		err = sc.ScanIndexEntries(ctx, tenants, func(x *IndexEntry) error {
			if !x.Dead {
				entries = append(entries, *x)
			}
			return nil
		})
	} else {
		scopes := []Filter{{TenantID: "*"}}
		if tenants != nil {
			scopes = scopes[:0]
			for _, t := range tenants {
				scopes = append(scopes, Filter{TenantID: t})
			}
		}
		for _, f := range scopes {
			if err = e.store.ScanIndicators(ctx, f, func(in *Indicator) error {
				entries = append(entries, indexEntry(in))
				return nil
			}); err != nil {
				break
			}
		}
	}
	if err != nil {
		return 0, socbot.E("intel.Engine.Load", err)
	}
	e.matcher.Reset(entries)
	return len(entries), nil
}

// Ingest merges one batch of items from one source into tenantID's indicators ("" = MSSP-wide):
// values are normalised, checked against the warninglists, deduplicated with what is stored, their
// confidence recombined over all sources, and the match index updated. The batch is written in one
// Store call, so a failure changes nothing.
func (e *Engine) Ingest(ctx context.Context, tenantID string, src SourceInfo, items []Item) (IngestStats, error) {
	b, err := e.prepare(nil, tenantID, src, items)
	if err != nil {
		return b.stats, err
	}
	return e.write(ctx, b)
}

// preparedBatch is a batch of one source's items made ready for the store without the store: values
// normalised, items merged within the batch (the id, a UUIDv5 of type and value, is the key), and
// each indicator as it will be stored when it is new. IngestStream prepares the next batch while the
// previous one is written.
type preparedBatch struct {
	tenantID  string
	src       SourceInfo
	now       time.Time
	stats     IngestStats // Items and Invalid so far
	items     []Item      // one per distinct indicator, merged within the batch
	tlps      []TLP
	fresh     []Indicator // items[i] as a new indicator (Revoked: nothing to store unless it exists)
	threshold int         // the tenant's containment threshold (0: none)

	ids []string // scratch, kept when the batch is reused
	pos map[string]int32

	merge PreparedMerge // the store's part done ahead (MergePreparer), or nil
}

// prepare normalises and merges a batch: everything of Ingest that needs neither the store nor
// ingestMu. b, when not nil, is a batch written before whose memory is reused.
func (e *Engine) prepare(b *preparedBatch, tenantID string, src SourceInfo, items []Item) (*preparedBatch, error) {
	const op = "intel.Engine.Ingest"
	if b == nil {
		b = &preparedBatch{pos: make(map[string]int32, len(items))}
	}
	b.tenantID, b.src, b.stats, b.threshold, b.merge = tenantID, src, IngestStats{Items: len(items)}, 0, nil
	if cap(b.items) < len(items) {
		b.items, b.tlps, b.ids = make([]Item, 0, len(items)), make([]TLP, 0, len(items)), make([]string, 0, len(items))
	}
	b.items, b.tlps, b.fresh, b.ids = b.items[:0], b.tlps[:0], b.fresh[:0], b.ids[:0]
	clear(b.pos)
	if src.Name == "" {
		return b, socbot.FieldError(op, "source", "source name is empty")
	}
	b.now = e.clock.Now().Truncate(time.Microsecond) // the stores keep microseconds
	if e.cfg.Containment != nil && e.cfg.ContainmentThreshold != nil {
		b.threshold = e.cfg.ContainmentThreshold(tenantID)
	}
	ids, pos := b.ids, b.pos
	for _, it := range items {
		v, ok := ioc.Normalize(it.Type, it.Value)
		if !ok {
			b.stats.Invalid++
			continue
		}
		it.Value = v
		tlp := src.TLP
		if it.TLP != "" {
			if t, ok := ParseTLP(it.TLP); ok {
				tlp = t
			} else {
				tlp = TLPRed // unknown marking: the most restrictive
			}
		}
		id := IndicatorID(it.Type, v)
		if i, ok := pos[id]; ok {
			mergeItem(&b.items[i], &it)
			if tlp > b.tlps[i] {
				b.tlps[i] = tlp
			}
			continue
		}
		pos[id] = int32(len(b.items))
		b.items = append(b.items, it)
		b.tlps = append(b.tlps, tlp)
		ids = append(ids, id)
	}
	b.ids = ids
	b.fresh = slices.Grow(b.fresh, len(b.items))[:len(b.items)]
	for i := range b.items {
		it := &b.items[i]
		in := &b.fresh[i]
		*in = Indicator{ID: ids[i], TenantID: tenantID, Type: it.Type, Value: it.Value, Created: b.now, TLP: b.tlps[i]}
		if !e.apply(in, it, b.tlps[i], src, b.now) {
			in.Revoked = true // a revocation: nothing to store unless the indicator exists
			continue
		}
		if e.cfg.Warninglists != nil {
			if h, ok := e.cfg.Warninglists.Check(in.Type, in.Value); ok {
				in.FilteredBy = h.List
			}
		}
		in.Modified = b.now
	}
	if mp, ok := e.store.(MergePreparer); ok && len(b.fresh) > 0 {
		var err error
		if b.merge, err = mp.PrepareMerge(tenantID, b.fresh); err != nil {
			return b, socbot.E(op, err)
		}
	}
	return b, nil
}

// write merges a prepared batch with the stored indicators and writes it in one store transaction,
// then updates the match index and hands off what crossed the containment threshold.
func (e *Engine) write(ctx context.Context, b *preparedBatch) (IngestStats, error) {
	const op = "intel.Engine.Ingest"
	st := b.stats
	if len(b.fresh) == 0 {
		return st, nil
	}
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	// what merging into a stored indicator made of it (the store may call merge again for an index
	// after a retry: the last call counts)
	type merged struct {
		before    int
		wasActive bool
		in        Indicator
	}
	var mstate []merged
	merge := func(i int, in *Indicator) bool {
		if mstate == nil {
			mstate = make([]merged, len(b.fresh))
		}
		m := &mstate[i]
		m.before, m.wasActive = in.Score(e.decay, b.now), in.Active(e.decay, b.now)
		if !e.apply(in, &b.items[i], b.tlps[i], b.src, b.now) {
			return false // nothing new
		}
		if e.cfg.Warninglists != nil && in.FilteredBy == "" {
			if h, ok := e.cfg.Warninglists.Check(in.Type, in.Value); ok {
				in.FilteredBy = h.List
			}
		}
		in.Modified = b.now
		m.in = *in
		return true
	}
	var out []MergeOutcome
	var err error
	if b.merge != nil {
		out, err = b.merge.Merge(ctx, merge)
		b.merge = nil
	} else if m, ok := e.store.(IndicatorMerger); ok {
		out, err = m.MergeIndicators(ctx, b.tenantID, b.fresh, merge)
	} else {
		out, err = mergeByPut(ctx, e.store, b.tenantID, b.fresh, merge)
	}
	if err != nil {
		return st, socbot.E(op, err)
	}
	changed := make([]*Indicator, 0, len(b.fresh))
	var crossed []Indicator
	for i, o := range out {
		var in *Indicator
		before, wasActive := 0, false
		switch o {
		case MergeInserted:
			in = &b.fresh[i]
			st.New++
		case MergeUpdated:
			m := &mstate[i]
			in, before, wasActive = &m.in, m.before, m.wasActive
			st.Updated++
			if b.items[i].Revoked {
				st.Revoked++
			}
		default:
			continue
		}
		if in.FilteredBy != "" {
			st.Filtered++
		}
		changed = append(changed, in)
		if b.threshold > 0 && in.Active(e.decay, b.now) {
			if s := in.Score(e.decay, b.now); s >= b.threshold && (!wasActive || before < b.threshold) {
				crossed = append(crossed, *in)
			}
		}
	}
	if len(changed) == 0 {
		return st, nil
	}
	e.updateIndexOf(ctx, changed, true)
	if len(crossed) > 0 {
		e.handOff(ctx, crossed, "score reached the tenant's containment threshold")
	}
	return st, nil
}

// mergeItem folds b into a (two reports of the same value in one batch).
func mergeItem(a, b *Item) {
	if b.Confidence > a.Confidence {
		a.Confidence = b.Confidence
	}
	if !b.FirstSeen.IsZero() && (a.FirstSeen.IsZero() || b.FirstSeen.Before(a.FirstSeen)) {
		a.FirstSeen = b.FirstSeen
	}
	if b.LastSeen.After(a.LastSeen) {
		a.LastSeen = b.LastSeen
	}
	if b.ValidUntil.After(a.ValidUntil) {
		a.ValidUntil = b.ValidUntil
	}
	a.Tags = addUnique(a.Tags, b.Tags...)
	for _, k := range b.KillChain {
		if !slices.Contains(a.KillChain, k) {
			a.KillChain = append(a.KillChain, k)
		}
	}
	if a.Description == "" {
		a.Description = b.Description
	}
	if a.Ref == "" {
		a.Ref = b.Ref
	}
	a.Revoked = a.Revoked && b.Revoked
}

// apply merges one item of source src into in. It reports whether anything changed.
func (e *Engine) apply(in *Indicator, it *Item, tlp TLP, src SourceInfo, now time.Time) bool {
	seen := it.LastSeen
	if seen.IsZero() {
		seen = now
	}
	first := it.FirstSeen
	if first.IsZero() || first.After(seen) {
		first = seen
	}
	conf := it.Confidence
	if conf <= 0 {
		conf = src.DefaultConfidence
	}
	if conf <= 0 {
		conf = 50
	}
	if conf > 100 {
		conf = 100
	}
	idx := -1
	for i := range in.Sources {
		if in.Sources[i].Name == src.Name {
			idx = i
			break
		}
	}
	if it.Revoked {
		if idx < 0 {
			return false
		}
		in.Sources = slices.Delete(in.Sources, idx, idx+1)
		if len(in.Sources) == 0 {
			in.Revoked = true
		}
		e.recombine(in)
		return true
	}
	ns := Source{Name: src.Name, Reliability: src.Reliability, Confidence: conf, FirstSeen: first, LastSeen: seen,
		Ref: it.Ref, ValidUntil: it.ValidUntil}
	changed := false
	if idx < 0 {
		in.Sources = append(in.Sources, ns)
		changed = true
	} else {
		old := in.Sources[idx]
		if old.FirstSeen.Before(ns.FirstSeen) && !old.FirstSeen.IsZero() {
			ns.FirstSeen = old.FirstSeen
		}
		if old.LastSeen.After(ns.LastSeen) {
			ns.LastSeen = old.LastSeen
		}
		if ns.Ref == "" {
			ns.Ref = old.Ref
		}
		ns.Disabled = false
		if ns != old {
			in.Sources[idx] = ns
			changed = true
		}
	}
	if in.Revoked {
		in.Revoked = false
		changed = true
	}
	if tlp > in.TLP {
		in.TLP = tlp
		changed = true
	}
	n := len(in.Tags)
	in.Tags = addUnique(in.Tags, it.Tags...)
	in.Tags = addUnique(in.Tags, src.Tags...)
	if len(in.Tags) != n {
		changed = true
	}
	for _, k := range it.KillChain {
		if !slices.Contains(in.KillChain, k) {
			in.KillChain = append(in.KillChain, k)
			changed = true
		}
	}
	if in.Description == "" && it.Description != "" {
		in.Description = it.Description
		changed = true
	}
	if in.Pattern == "" && it.Pattern != "" {
		in.Pattern = it.Pattern
		changed = true
	}
	e.recombine(in)
	return changed
}

// recombine recomputes the derived fields from the sources.
func (e *Engine) recombine(in *Indicator) {
	in.FirstSeen, in.LastSeen = time.Time{}, time.Time{}
	p := 1.0
	for _, s := range in.Sources {
		r := s.Reliability
		if r <= 0 {
			r = 50
		}
		p *= 1 - clamp01(float64(s.Confidence)/100)*clamp01(float64(r)/100) // CombineConfidence, inline
		if in.FirstSeen.IsZero() || s.FirstSeen.Before(in.FirstSeen) {
			in.FirstSeen = s.FirstSeen
		}
		if s.LastSeen.After(in.LastSeen) {
			in.LastSeen = s.LastSeen
		}
	}
	in.Confidence = int(math.Round((1 - p) * 100))
	if !sort.StringsAreSorted(in.Tags) {
		sort.Strings(in.Tags)
	}
}

// ChangeSubject is the bus subject of ChangeEvents ("socbot.intel.changed.<tenant>", "_mssp" for
// the MSSP-wide set): plain NATS, every node receives them; a node that misses one catches up from
// the store (CatchUp).
const ChangeSubject = "socbot.intel.changed"

// ChangeEvent says which indicators of a tenant changed in the store.
type ChangeEvent struct {
	Origin   string   `json:"origin,omitempty"` // the node that wrote them (it skips its own events)
	TenantID string   `json:"tenant_id"`
	IDs      []string `json:"ids"` // STIX ids
}

// Subject is the bus subject of the event.
func (ev ChangeEvent) Subject() string {
	t := ev.TenantID
	if t == "" {
		t = "_mssp"
	}
	return ChangeSubject + "." + t
}

// Refresh re-reads the given indicators of a tenant from the store and updates the match index (a
// node applying another node's ChangeEvent).
func (e *Engine) Refresh(ctx context.Context, ev ChangeEvent) error {
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	got, err := e.store.GetIndicators(ctx, ev.TenantID, ev.IDs)
	if err != nil {
		return socbot.E("intel.Engine.Refresh", err)
	}
	e.updateIndex(ctx, got, false)
	return nil
}

// updateIndex applies changed indicators to the match index (ingestMu held) and, when publish is
// set (this process wrote them), tells OnChange.
func (e *Engine) updateIndex(ctx context.Context, changed []Indicator, publish bool) {
	ptrs := make([]*Indicator, len(changed))
	for i := range changed {
		ptrs[i] = &changed[i]
	}
	e.updateIndexOf(ctx, ptrs, publish)
}

// updateIndexOf is updateIndex of indicators held elsewhere.
func (e *Engine) updateIndexOf(ctx context.Context, changed []*Indicator, publish bool) {
	if c := e.catch.Load(); c != nil {
		c.applied(changed)
	}
	if publish && e.cfg.OnChange != nil && len(changed) > 0 {
		byTenant := map[string][]string{}
		for i := range changed {
			byTenant[changed[i].TenantID] = append(byTenant[changed[i].TenantID], changed[i].ID)
		}
		for t, ids := range byTenant {
			e.cfg.OnChange(ChangeEvent{TenantID: t, IDs: ids})
		}
	}
	if e.cfg.NoIndex {
		return
	}
	entries := make([]IndexEntry, len(changed))
	for i, in := range changed {
		entries[i] = indexEntry(in)
	}
	if n := e.matcher.Apply(entries); n >= max(e.cfg.CompactAt, e.matcher.Stats().Indicators/2) {
		if _, err := e.load(ctx, nil); err != nil {
			e.log.Error("intel: rebuilding the match index failed; the delta keeps serving", "err", err)
		}
	}
}

// Get returns one indicator of a tenant by type and value (normalised first).
func (e *Engine) Get(ctx context.Context, tenantID string, t ioc.Type, value string) (Indicator, error) {
	v, ok := ioc.Normalize(t, value)
	if !ok {
		return Indicator{}, socbot.FieldError("intel.Engine.Get", "value", "%q is not a valid %s", value, t)
	}
	got, err := e.store.GetIndicators(ctx, tenantID, []string{IndicatorID(t, v)})
	if err != nil {
		return Indicator{}, err
	}
	if len(got) == 0 {
		return Indicator{}, socbot.E("intel.Engine.Get", socbot.KindNotFound, "no indicator "+string(t)+" "+v)
	}
	return got[0], nil
}

// RecordSightings stores sightings (duplicates by tenant, indicator, source, ref and kind are dropped),
// updates the indicators' sighting counts, restores the score of sighted indicators (ageing restarts
// from the sighting) and lowers that of indicators reported as false positives.
func (e *Engine) RecordSightings(ctx context.Context, ss []Sighting) error {
	const op = "intel.Engine.RecordSightings"
	fresh, err := e.store.AddSightings(ctx, ss)
	if err != nil {
		return socbot.E(op, err)
	}
	if len(fresh) == 0 {
		return nil
	}
	byTenant := map[string][]Sighting{}
	for _, s := range fresh {
		byTenant[s.TenantID] = append(byTenant[s.TenantID], s)
	}
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	var changed []Indicator
	for tenant, list := range byTenant {
		var ids []string
		for _, s := range list {
			ids = append(ids, s.IndicatorID)
		}
		got, err := e.store.GetIndicators(ctx, tenant, ids)
		if err != nil {
			return socbot.E(op, err)
		}
		idx := map[string]*Indicator{}
		for i := range got {
			idx[got[i].ID] = &got[i]
		}
		for _, s := range list {
			in := idx[s.IndicatorID]
			if in == nil {
				continue
			}
			switch s.Kind {
			case SightingFalsePositive:
				in.FalsePos++
			case SightingExpiration:
				in.Revoked = true
			default:
				in.Sightings++
				if s.At.After(in.LastSighting) {
					in.LastSighting = s.At
				}
			}
			in.Modified = e.clock.Now().Truncate(time.Microsecond)
		}
		for _, in := range idx {
			changed = append(changed, *in)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := e.store.PutIndicators(ctx, changed); err != nil {
		return socbot.E(op, err)
	}
	e.updateIndex(ctx, changed, true)
	return nil
}

// queueSightings buffers sightings from the enricher; Flush (or Run) writes them. The buffer is
// bounded: beyond 100,000 pending sightings new ones are dropped and counted.
func (e *Engine) queueSightings(ss []Sighting) {
	e.sightMu.Lock()
	defer e.sightMu.Unlock()
	if len(e.pending)+len(ss) > 100000 {
		e.dropped += len(ss)
		return
	}
	e.pending = append(e.pending, ss...)
}

// Flush writes the buffered sightings.
func (e *Engine) Flush(ctx context.Context) error {
	e.sightMu.Lock()
	p := e.pending
	e.pending = nil
	dropped := e.dropped
	e.dropped = 0
	e.sightMu.Unlock()
	if dropped > 0 {
		e.log.Warn("intel: sighting buffer was full; sightings dropped", "dropped", dropped)
	}
	if len(p) == 0 {
		return nil
	}
	return e.RecordSightings(ctx, p)
}

// Run flushes buffered sightings every interval until ctx ends (then flushes once more), and keeps
// the match index's clock (Matcher.RunClock, four times a second).
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	clockDone := make(chan struct{})
	go func() {
		defer close(clockDone)
		e.matcher.RunClock(ctx, 250*time.Millisecond)
	}()
	defer func() { <-clockDone }()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return e.Flush(context.WithoutCancel(ctx))
		case <-t.C:
			if err := e.Flush(ctx); err != nil {
				e.log.Error("intel: writing sightings failed", "err", err)
			}
		}
	}
}
