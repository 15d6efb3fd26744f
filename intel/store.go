package intel

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Store is what the intel bot persists. sqlstore implements it on SQLite and PostgreSQL over the
// tables of migration 0101_intel_store; MemStore implements it in memory, the reference behaviour,
// held to the same suite (storetest.RunIntel). Every method is tenant-scoped: tenant "" is the
// MSSP-wide set, and no method reads another tenant's rows unless the filter says "*".
type Store interface {
	// GetIndicators returns the stored indicators of tenantID whose STIX ids are listed (an id is
	// IndicatorID of the type and canonical value, so it names one value). Missing ids are simply
	// absent from the result.
	GetIndicators(ctx context.Context, tenantID string, ids []string) ([]Indicator, error)
	// PutIndicators inserts or replaces the given indicators (keyed by tenant and id, which must be
	// IndicatorID(Type, Value)) in one transaction: all or nothing. When ctx carries a person's principal (socbot.WithPrincipal, not a
	// bot), the change is audited in the same transaction.
	PutIndicators(ctx context.Context, ins []Indicator) error
	// ScanIndicators calls fn for every indicator that the filter selects (ignoring Limit, Offset,
	// Ascending and the cursor), in (tenant, id) order, without loading them all at once.
	// fn may call the store.
	ScanIndicators(ctx context.Context, f Filter, fn func(*Indicator) error) error
	// SearchIndicators returns one page of the indicators the filter selects, newest Modified first
	// (or oldest first, after the cursor, with Ascending).
	SearchIndicators(ctx context.Context, f Filter) ([]Indicator, error)

	// AddSightings stores sightings; a sighting with the same (tenant, seen by, indicator, source,
	// ref, kind) as a stored one is ignored (redelivery), as is a repeat within the call; sightings
	// without a ref are never deduplicated. It returns the sightings that were new.
	AddSightings(ctx context.Context, s []Sighting) ([]Sighting, error)
	// Sightings lists the sightings of an indicator of tenantID (its owner, "" = MSSP-wide), newest
	// first. seenBy narrows them to those seen in one tenant's data ("*" = every tenant's): a tenant
	// never sees the sightings other tenants made of a shared indicator.
	Sightings(ctx context.Context, tenantID, indicatorID, seenBy string, limit int) ([]Sighting, error)

	// PutFeed creates or replaces a feed's configuration (audited); Feeds lists them ("*" = every
	// tenant). Credentials are stored only sealed (Feed.SealedAuth, see SealFeedAuth): a feed whose
	// Auth carries a password, token or header value is refused.
	PutFeed(ctx context.Context, f Feed) error
	Feeds(ctx context.Context, tenantID string) ([]Feed, error)
	// DeleteFeed removes a feed's configuration and status (audited). Its indicators stay, attributed
	// to it, and age out.
	DeleteFeed(ctx context.Context, tenantID, name string) error
	// PutFeedStatus records the collection state and health of a feed; FeedStatus reads it.
	PutFeedStatus(ctx context.Context, s FeedStatus) error
	FeedStatus(ctx context.Context, tenantID, name string) (FeedStatus, error)
}

// MergeOutcome says what MergeIndicators did with one indicator of a batch.
type MergeOutcome uint8

// Merge outcomes.
const (
	MergeInserted  MergeOutcome = iota + 1 // it was not stored: stored as given
	MergeUpdated                           // it was stored: merged, and the merged version stored
	MergeUnchanged                         // it was stored and the merge changed nothing: left as it was
	MergeSkipped                           // it was not stored and the batch's version is Revoked: nothing stored
)

// IndicatorMerger is an optional Store method, which the engine's imports use when the store has it
// (otherwise they read with GetIndicators and write with PutIndicators): an import batch read, merged
// and written in one transaction, so that the common case of indicators not stored yet costs no
// read at all.
type IndicatorMerger interface {
	// MergeIndicators stores one batch of tenantID's indicators, all or nothing. For each batch[i]
	// whose id is not stored, batch[i] is stored as it is (MergeInserted), except a Revoked one: a
	// revocation of something never stored stores nothing (MergeSkipped). For each id already stored,
	// merge(i, stored) is called with the stored indicator and turns it into the version to store,
	// returning false when it changed nothing (MergeUnchanged: the stored one stays as it is). It
	// returns the outcome of every batch[i].
	//
	// Ids must be distinct, every batch[i].TenantID must be tenantID, and CheckIndicators applies.
	// merge runs inside the store's transaction and must not call the store; it may be called again
	// for the same i, with a newly read stored indicator, when another writer got in between (only
	// the last call counts). Audited like PutIndicators.
	MergeIndicators(ctx context.Context, tenantID string, batch []Indicator, merge func(i int, stored *Indicator) bool) ([]MergeOutcome, error)
}

// MergePreparer is an optional IndicatorMerger method: the part of MergeIndicators that needs no
// database (checking the batch, ordering it, encoding its rows as new ones), done ahead, so that
// IngestStream prepares the next batch while the store writes the previous one.
type MergePreparer interface {
	// PrepareMerge prepares batch for MergeIndicators(ctx, tenantID, batch, merge); the batch must
	// not change until the prepared merge has run. It is safe to call concurrently with the
	// store's other methods.
	PrepareMerge(tenantID string, batch []Indicator) (PreparedMerge, error)
}

// PreparedMerge is a batch prepared by MergePreparer.
type PreparedMerge interface {
	// Merge does the rest of MergeIndicators, once.
	Merge(ctx context.Context, merge func(i int, stored *Indicator) bool) ([]MergeOutcome, error)
}

// mergeByPut is MergeIndicators for a store without it: read with GetIndicators, write what changed
// with PutIndicators (one transaction; the read is outside it).
func mergeByPut(ctx context.Context, s Store, tenantID string, batch []Indicator, merge func(i int, stored *Indicator) bool) ([]MergeOutcome, error) {
	if err := CheckMergeBatch(tenantID, batch); err != nil {
		return nil, err
	}
	ids := make([]string, len(batch))
	for i := range batch {
		ids[i] = batch[i].ID
	}
	stored, err := s.GetIndicators(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*Indicator, len(stored))
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	out := make([]MergeOutcome, len(batch))
	put := make([]Indicator, 0, len(batch))
	for i := range batch {
		switch old := byID[batch[i].ID]; {
		case old != nil && merge(i, old):
			out[i] = MergeUpdated
			put = append(put, *old)
		case old != nil:
			out[i] = MergeUnchanged
		case batch[i].Revoked:
			out[i] = MergeSkipped
		default:
			out[i] = MergeInserted
			put = append(put, batch[i])
		}
	}
	if len(put) > 0 {
		if err := s.PutIndicators(ctx, put); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CheckMergeBatch is the rule every MergeIndicators applies (stores call it): CheckIndicators, every
// indicator of tenantID, distinct ids.
func CheckMergeBatch(tenantID string, batch []Indicator) error {
	const op = "intel.Store.MergeIndicators"
	if err := CheckIndicators(batch); err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(batch))
	for i := range batch {
		if batch[i].TenantID != tenantID {
			return socbot.FieldError(op, "tenant_id", "indicator %s of tenant %q in a batch of tenant %q", batch[i].ID, batch[i].TenantID, tenantID)
		}
		if _, dup := seen[batch[i].ID]; dup {
			return socbot.FieldError(op, "id", "indicator %s twice in one batch", batch[i].ID)
		}
		seen[batch[i].ID] = struct{}{}
	}
	return nil
}

// Filter selects indicators.
type Filter struct {
	TenantID      string     // "" MSSP-wide only; "*" every tenant
	WithMSSP      bool       // also the MSSP-wide indicators when TenantID names a tenant
	Types         []ioc.Type // empty: all
	IDs           []string   // STIX ids; empty: all
	ValuePrefix   string     // value starts with (as given, or lower-cased)
	Source        string     // has a source of this name
	Tag           string     // has this tag
	MaxTLP        *TLP       // marked at most this (nil: any)
	ModifiedSince time.Time  // Modified after
	IncludeDead   bool       // include revoked and warninglist-filtered ones
	Limit, Offset int
	// Ascending orders a search oldest Modified first, ties by id, starting after the cursor
	// (AfterModified, AfterID) when AfterModified is set: keyset paging for TAXII.
	Ascending     bool
	AfterModified time.Time
	AfterID       string
}

func (f *Filter) matches(in *Indicator) bool {
	switch {
	case f.TenantID == "*":
	case in.TenantID == f.TenantID:
	case f.WithMSSP && in.TenantID == "":
	default:
		return false
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, in.ID) {
		return false
	}
	if f.MaxTLP != nil && !in.TLP.MayShare(*f.MaxTLP) {
		return false
	}
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			if t == in.Type {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.ValuePrefix != "" && !strings.HasPrefix(in.Value, strings.ToLower(f.ValuePrefix)) && !strings.HasPrefix(in.Value, f.ValuePrefix) {
		return false
	}
	if f.Source != "" {
		ok := false
		for _, s := range in.Sources {
			if s.Name == f.Source {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.Tag != "" {
		ok := false
		for _, t := range in.Tags {
			if t == f.Tag {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !f.ModifiedSince.IsZero() && !in.Modified.After(f.ModifiedSince) {
		return false
	}
	if f.Ascending && !f.AfterModified.IsZero() {
		m := in.Modified.Truncate(time.Microsecond)
		a := f.AfterModified.Truncate(time.Microsecond)
		if m.Before(a) || m.Equal(a) && in.ID <= f.AfterID {
			return false
		}
	}
	if !f.IncludeDead && (in.Revoked || in.FilteredBy != "") {
		return false
	}
	return true
}

// MemStore is an in-memory Store. It is safe for concurrent use.
type MemStore struct {
	mu        sync.RWMutex
	ind       map[string]map[string]*Indicator // tenant -> id -> indicator
	order     map[string][]string              // tenant -> ids in insertion order
	sightings map[string][]Sighting            // tenant+"\x00"+indicator id
	sightSeen map[string]bool
	feeds     map[string]Feed
	status    map[string]FeedStatus
	leases    map[string]lease
}

type lease struct {
	owner string
	until time.Time
}

var (
	_ Store           = (*MemStore)(nil)
	_ FeedLeaser      = (*MemStore)(nil)
	_ IndicatorMerger = (*MemStore)(nil)
)

// ClaimFeedRun implements FeedLeaser.
func (m *MemStore) ClaimFeedRun(ctx context.Context, tenantID, name, owner string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := feedKey(tenantID, name)
	if l, ok := m.leases[k]; ok && l.owner != owner && !l.until.Before(now) {
		return false, nil
	}
	m.leases[k] = lease{owner: owner, until: until}
	return true, nil
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{ind: map[string]map[string]*Indicator{}, order: map[string][]string{},
		sightings: map[string][]Sighting{}, sightSeen: map[string]bool{}, feeds: map[string]Feed{}, status: map[string]FeedStatus{}, leases: map[string]lease{}}
}

func cloneIndicator(in *Indicator) Indicator {
	c := *in
	c.Sources = append([]Source(nil), in.Sources...)
	c.Tags = append([]string(nil), in.Tags...)
	c.KillChain = append([]KillChainPhase(nil), in.KillChain...)
	return c
}

// GetIndicators implements Store.
func (m *MemStore) GetIndicators(ctx context.Context, tenantID string, ids []string) ([]Indicator, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t := m.ind[tenantID]
	var out []Indicator
	for _, k := range ids {
		if in, ok := t[k]; ok {
			out = append(out, cloneIndicator(in))
		}
	}
	return out, nil
}

// PutIndicators implements Store.
func (m *MemStore) PutIndicators(ctx context.Context, ins []Indicator) error {
	if err := CheckIndicators(ins); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ins {
		in := cloneIndicator(&ins[i])
		t := m.ind[in.TenantID]
		if t == nil {
			t = map[string]*Indicator{}
			m.ind[in.TenantID] = t
		}
		k := in.ID
		if _, ok := t[k]; !ok {
			m.order[in.TenantID] = append(m.order[in.TenantID], k)
		}
		t[k] = &in
	}
	return nil
}

// MergeIndicators implements IndicatorMerger.
func (m *MemStore) MergeIndicators(ctx context.Context, tenantID string, batch []Indicator, merge func(i int, stored *Indicator) bool) ([]MergeOutcome, error) {
	if err := CheckMergeBatch(tenantID, batch); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.ind[tenantID]
	out := make([]MergeOutcome, len(batch))
	put := make([]Indicator, 0, len(batch))
	for i := range batch {
		old, ok := t[batch[i].ID]
		switch {
		case ok:
			c := cloneIndicator(old)
			if merge(i, &c) {
				out[i] = MergeUpdated
				put = append(put, c)
			} else {
				out[i] = MergeUnchanged
			}
		case batch[i].Revoked:
			out[i] = MergeSkipped
		default:
			out[i] = MergeInserted
			put = append(put, cloneIndicator(&batch[i]))
		}
	}
	if err := ctx.Err(); err != nil { // as a SQL store's transaction would fail
		return nil, socbot.E("intel.MemStore.MergeIndicators", socbot.KindUnavailable, err)
	}
	if t == nil && len(put) > 0 {
		t = map[string]*Indicator{}
		m.ind[tenantID] = t
	}
	for i := range put {
		in := &put[i]
		if _, ok := t[in.ID]; !ok {
			m.order[tenantID] = append(m.order[tenantID], in.ID)
		}
		t[in.ID] = in
	}
	return out, nil
}

func (m *MemStore) tenantsFor(f Filter) []string {
	if f.TenantID == "*" {
		var ts []string
		for t := range m.ind {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		return ts
	}
	if f.WithMSSP && f.TenantID != "" {
		return []string{"", f.TenantID}
	}
	return []string{f.TenantID}
}

// ScanIndicators implements Store.
func (m *MemStore) ScanIndicators(ctx context.Context, f Filter, fn func(*Indicator) error) error {
	m.mu.RLock()
	var snap []Indicator
	for _, t := range m.tenantsFor(f) {
		start := len(snap)
		for _, k := range m.order[t] {
			in := m.ind[t][k]
			if f.matches(in) {
				snap = append(snap, cloneIndicator(in))
			}
		}
		part := snap[start:]
		sort.Slice(part, func(i, j int) bool { return part[i].ID < part[j].ID })
	}
	m.mu.RUnlock()
	for i := range snap {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&snap[i]); err != nil {
			return err
		}
	}
	return nil
}

// SearchIndicators implements Store.
func (m *MemStore) SearchIndicators(ctx context.Context, f Filter) ([]Indicator, error) {
	var all []Indicator
	err := m.ScanIndicators(ctx, f, func(in *Indicator) error { all = append(all, *in); return nil })
	if err != nil {
		return nil, err
	}
	if f.Ascending {
		sort.SliceStable(all, func(i, j int) bool {
			a, b := all[i].Modified.Truncate(time.Microsecond), all[j].Modified.Truncate(time.Microsecond)
			if !a.Equal(b) {
				return a.Before(b)
			}
			return all[i].ID < all[j].ID
		})
	} else {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Modified.After(all[j].Modified) })
	}
	if f.Offset > 0 {
		if f.Offset >= len(all) {
			return nil, nil
		}
		all = all[f.Offset:]
	}
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// SightingKey is the identity of a sighting for deduplication.
func (s *Sighting) SightingKey() string {
	return s.TenantID + "\x00" + s.SeenBy + "\x00" + s.IndicatorID + "\x00" + s.Source + "\x00" + s.Ref + "\x00" + strconv.Itoa(s.Kind)
}

// AddSightings implements Store.
func (m *MemStore) AddSightings(ctx context.Context, s []Sighting) ([]Sighting, error) {
	for i := range s {
		if s[i].IndicatorID == "" || s[i].Source == "" {
			return nil, socbot.FieldError("intel.MemStore.AddSightings", "indicator_id", "sighting %d lacks an indicator id or a source", i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var fresh []Sighting
	for _, x := range s {
		k := x.SightingKey()
		if x.Ref != "" && m.sightSeen[k] {
			continue
		}
		m.sightSeen[k] = true
		ik := x.TenantID + "\x00" + x.IndicatorID
		m.sightings[ik] = append(m.sightings[ik], x)
		fresh = append(fresh, x)
	}
	return fresh, nil
}

// Sightings implements Store.
func (m *MemStore) Sightings(ctx context.Context, tenantID, indicatorID, seenBy string, limit int) ([]Sighting, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	all := slices.Clone(m.sightings[tenantID+"\x00"+indicatorID])
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	out := make([]Sighting, 0, len(all))
	for i := len(all) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if seenBy != "*" && all[i].SeenBy != seenBy {
			continue
		}
		out = append(out, all[i])
	}
	return out, nil
}

func feedKey(tenant, name string) string { return tenant + "\x00" + name }

// PutFeed implements Store.
func (m *MemStore) PutFeed(ctx context.Context, f Feed) error {
	if err := checkFeedForStore(&f); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f.SealedAuth = slices.Clone(f.SealedAuth)
	m.feeds[feedKey(f.TenantID, f.Name)] = f
	return nil
}

// CheckIndicators is the rule every Store applies to PutIndicators: a known type, a value and an
// indicator id of IndicatorID's form (stores trust that it is IndicatorID(Type, Value), as the engine
// makes it).
func CheckIndicators(ins []Indicator) error {
	const op = "intel.Store.PutIndicators"
	for i := range ins {
		if !ins[i].Type.Valid() || ins[i].Value == "" {
			return socbot.FieldError(op, "type", "indicator %d has type %q value %q", i, ins[i].Type, ins[i].Value)
		}
		if !ValidIndicatorID(ins[i].ID) {
			return socbot.FieldError(op, "id", "indicator %s:%s has no indicator id (%q)", ins[i].Type, ins[i].Value, ins[i].ID)
		}
	}
	return nil
}

// ValidIndicatorID reports whether id has the form of IndicatorID's ids: "indicator--" and a UUID in
// canonical lower-case form.
func ValidIndicatorID(id string) bool {
	const prefix = "indicator--"
	if len(id) != len(prefix)+36 || !strings.HasPrefix(id, prefix) {
		return false
	}
	for j, c := range []byte(id[len(prefix):]) {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			if c != '-' {
				return false
			}
		} else if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkFeedForStore is the rule every Store applies to PutFeed: a name, and no plaintext secret.
func checkFeedForStore(f *Feed) error {
	const op = "intel.Store.PutFeed"
	if strings.TrimSpace(f.Name) == "" {
		return socbot.FieldError(op, "name", "feed name is empty")
	}
	if f.Auth.hasSecret() {
		return socbot.FieldError(op, "auth", "feed %s: credentials must be sealed (intel.SealFeedAuth) before they are stored", f.Name)
	}
	return nil
}

// Feeds implements Store.
func (m *MemStore) Feeds(ctx context.Context, tenantID string) ([]Feed, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Feed
	for _, f := range m.feeds {
		if tenantID == "*" || f.TenantID == tenantID {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TenantID != out[j].TenantID {
			return out[i].TenantID < out[j].TenantID
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// DeleteFeed implements Store.
func (m *MemStore) DeleteFeed(ctx context.Context, tenantID, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := feedKey(tenantID, name)
	if _, ok := m.feeds[k]; !ok {
		return socbot.E("intel.MemStore.DeleteFeed", socbot.KindNotFound, "no feed "+name)
	}
	delete(m.feeds, k)
	delete(m.status, k)
	return nil
}

// PutFeedStatus implements Store.
func (m *MemStore) PutFeedStatus(ctx context.Context, s FeedStatus) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status[feedKey(s.TenantID, s.Name)] = s
	return nil
}

// FeedStatus implements Store.
func (m *MemStore) FeedStatus(ctx context.Context, tenantID, name string) (FeedStatus, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.status[feedKey(tenantID, name)]
	if !ok {
		return FeedStatus{TenantID: tenantID, Name: name}, socbot.E("intel.MemStore.FeedStatus", socbot.KindNotFound, "no status for feed "+name)
	}
	return s, nil
}

// Count is the number of stored indicators (all tenants).
func (m *MemStore) Count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, t := range m.ind {
		n += len(t)
	}
	return n
}
