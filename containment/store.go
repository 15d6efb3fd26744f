package containment

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// ActionFilter selects actions in a listing. TenantID is required unless AllTenants is set (MSSP
// staff and the bot's own timers only).
type ActionFilter struct {
	TenantID       string
	AllTenants     bool
	States         []State
	IncidentID     int64
	ConnectorID    string
	DeadlineBefore time.Time // awaiting approval with a deadline before this
	ExpiresBefore  time.Time // applied with an expiry before this
	AfterID        int64     // only ids above this (paging: pass the last id of the previous page)
	Limit          int
}

// ConnectorInstance is one tenant's configured connector. Credentials are sealed (age) and are
// never returned by the API or written to logs; Connectors opens them only to build the connector.
type ConnectorInstance struct {
	TenantID          string            `json:"tenant_id"`
	ID                string            `json:"id"`
	Type              string            `json:"type"`
	BaseURL           string            `json:"base_url,omitempty"`
	Options           map[string]string `json:"options,omitempty"`
	Timeout           time.Duration     `json:"timeout,omitempty"`
	SealedCredentials []byte            `json:"-"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
}

// Store is the ledger's system of record. Implementations: MemStore here (tests, the CLI), and the
// SQL stores (sqlite/, postgres/) over the tables of migration 0200_containment.sql.
//
// Every write is atomic: UpdateActions writes all its actions in one transaction or none, and each
// action must carry the Version it was read at (a mismatch fails the whole write with
// socbot.KindConflict), so two executors can never both move the same action.
type Store interface {
	// CreateAction stores a new action, assigning ID, Version and times, unless a live (non-terminal)
	// action with the same Key exists: then it returns that one and created=false.
	CreateAction(ctx context.Context, a Action) (saved Action, created bool, err error)
	GetAction(ctx context.Context, tenantID string, id int64) (Action, error)
	ListActions(ctx context.Context, f ActionFilter) ([]Action, error)
	// UpdateActions writes the actions in one transaction and returns them with their new versions.
	UpdateActions(ctx context.Context, as []Action) ([]Action, error)
	// Claim leases up to limit actions with vendor work due at now, oldest due first: approved ones
	// (moved to applying), expiring ones, and in-flight ones whose lease has lapsed (a crashed
	// executor's; returned with InDoubt set). The lease is held by owner until now+lease.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Action, error)
	// CountSince counts a tenant's forward actions created at or after since that were not denied:
	// the blast radius.
	CountSince(ctx context.Context, tenantID string, since time.Time) (int, error)

	PutConnector(ctx context.Context, c ConnectorInstance) error
	GetConnector(ctx context.Context, tenantID, id string) (ConnectorInstance, error)
	ListConnectors(ctx context.Context, tenantID string) ([]ConnectorInstance, error)
	DeleteConnector(ctx context.Context, tenantID, id string) error
}

// MemStore is an in-memory Store. It is safe for concurrent use and survives an executor "crash"
// (a test builds a new executor over the same MemStore).
type MemStore struct {
	mu      sync.Mutex
	nextID  int64
	actions map[int64]*Action
	live    map[Key]int64
	work    map[int64]*Action            // approved, applying, expiring: what Claim looks at
	created map[string][]createdRef      // tenant -> forward actions in creation order (blast radius)
	conns   map[string]ConnectorInstance // tenant|id
}

type createdRef struct {
	at time.Time
	a  *Action
}

func hasWork(s State) bool { return s == StateApproved || s == StateApplying || s == StateExpiring }

// track keeps the work index in step with an action's state; m.mu is held.
func (m *MemStore) track(a *Action) {
	if hasWork(a.State) {
		m.work[a.ID] = a
	} else {
		delete(m.work, a.ID)
	}
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory ledger.
func NewMemStore() *MemStore {
	return &MemStore{actions: map[int64]*Action{}, live: map[Key]int64{}, work: map[int64]*Action{},
		created: map[string][]createdRef{}, conns: map[string]ConnectorInstance{}}
}

func cloneAction(a Action) Action {
	a.Approvals = append([]Approval(nil), a.Approvals...)
	a.Attempts = append([]Attempt(nil), a.Attempts...)
	return a
}

// CreateAction implements Store.
func (m *MemStore) CreateAction(_ context.Context, a Action) (Action, bool, error) {
	const op = "containment.MemStore.CreateAction"
	if a.TenantID == "" {
		return Action{}, false, socbot.FieldError(op, "tenant_id", "required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.live[a.Key()]; ok {
		return cloneAction(*m.actions[id]), false, nil
	}
	m.nextID++
	a.ID = m.nextID
	a.Version = 1
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	c := cloneAction(a)
	m.actions[a.ID] = &c
	if !a.State.Terminal() {
		m.live[a.Key()] = a.ID
	}
	m.track(&c)
	if a.Kind.IsForward() {
		refs := m.created[a.TenantID]
		if n := len(refs); n > 0 && refs[n-1].at.After(a.CreatedAt) {
			// Out of order (clock went back): keep the slice sorted.
			i := sort.Search(n, func(i int) bool { return refs[i].at.After(a.CreatedAt) })
			refs = append(refs, createdRef{})
			copy(refs[i+1:], refs[i:])
			refs[i] = createdRef{a.CreatedAt, &c}
		} else {
			refs = append(refs, createdRef{a.CreatedAt, &c})
		}
		m.created[a.TenantID] = refs
	}
	return cloneAction(c), true, nil
}

// GetAction implements Store.
func (m *MemStore) GetAction(_ context.Context, tenantID string, id int64) (Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.actions[id]
	if !ok || (tenantID != "" && a.TenantID != tenantID) {
		return Action{}, socbot.E("containment.MemStore.GetAction", socbot.KindNotFound, "action not found")
	}
	return cloneAction(*a), nil
}

func (f ActionFilter) match(a *Action) bool {
	if !f.AllTenants && a.TenantID != f.TenantID {
		return false
	}
	if len(f.States) > 0 {
		ok := false
		for _, s := range f.States {
			if a.State == s {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.IncidentID != 0 && a.IncidentID != f.IncidentID {
		return false
	}
	if f.ConnectorID != "" && a.ConnectorID != f.ConnectorID {
		return false
	}
	if !f.DeadlineBefore.IsZero() && (a.ApprovalDeadline == nil || !a.ApprovalDeadline.Before(f.DeadlineBefore)) {
		return false
	}
	if !f.ExpiresBefore.IsZero() && (a.ExpiresAt == nil || !a.ExpiresAt.Before(f.ExpiresBefore)) {
		return false
	}
	if f.AfterID > 0 && a.ID <= f.AfterID {
		return false
	}
	return true
}

// ListActions implements Store. Results are in id order.
func (m *MemStore) ListActions(_ context.Context, f ActionFilter) ([]Action, error) {
	if f.TenantID == "" && !f.AllTenants {
		return nil, socbot.FieldError("containment.MemStore.ListActions", "tenant_id", "required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]int64, 0, len(m.actions))
	for id, a := range m.actions {
		if f.match(a) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if f.Limit > 0 && len(ids) > f.Limit {
		ids = ids[:f.Limit]
	}
	out := make([]Action, len(ids))
	for i, id := range ids {
		out[i] = cloneAction(*m.actions[id])
	}
	return out, nil
}

// UpdateActions implements Store.
func (m *MemStore) UpdateActions(_ context.Context, as []Action) ([]Action, error) {
	const op = "containment.MemStore.UpdateActions"
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range as {
		cur, ok := m.actions[a.ID]
		if !ok {
			return nil, socbot.E(op, socbot.KindNotFound, "action "+itoa(a.ID)+" not found")
		}
		if cur.Version != a.Version {
			return nil, socbot.E(op, socbot.KindConflict, "action "+itoa(a.ID)+" changed since it was read")
		}
		if cur.Key() != a.Key() {
			return nil, socbot.E(op, socbot.KindInvalid, "action "+itoa(a.ID)+": key fields cannot change")
		}
	}
	out := make([]Action, len(as))
	for i, a := range as {
		a.Version++
		cur := m.actions[a.ID]
		*cur = cloneAction(a) // in place: the created index points at it
		c := *cur
		m.track(cur)
		if a.State.Terminal() {
			if m.live[a.Key()] == a.ID {
				delete(m.live, a.Key())
			}
		}
		out[i] = cloneAction(c)
	}
	return out, nil
}

// Claim implements Store.
func (m *MemStore) Claim(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []*Action
	for _, a := range m.work {
		if a.LeaseOwner != "" && now.Before(a.LeaseUntil) {
			continue
		}
		if a.State == StateApplying && a.LeaseOwner == "" {
			continue // cannot happen: applying is always leased
		}
		if a.LeaseOwner == "" && now.Before(a.NextAttemptAt) {
			continue
		}
		due = append(due, a)
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAttemptAt.Equal(due[j].NextAttemptAt) {
			return due[i].NextAttemptAt.Before(due[j].NextAttemptAt)
		}
		return due[i].ID < due[j].ID
	})
	if limit > 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]Action, len(due))
	for i, a := range due {
		a.InDoubt = a.InDoubt || a.LeaseOwner != "" // a lapsed lease: the previous holder may have called the vendor
		if a.State == StateApproved {
			a.State = StateApplying
		}
		a.LeaseOwner = owner
		a.LeaseUntil = now.Add(lease)
		a.UpdatedAt = now
		a.Version++
		out[i] = cloneAction(*a)
	}
	return out, nil
}

// CountSince implements Store.
func (m *MemStore) CountSince(_ context.Context, tenantID string, since time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	refs := m.created[tenantID]
	i := sort.Search(len(refs), func(i int) bool { return !refs[i].at.Before(since) })
	n := 0
	for _, r := range refs[i:] {
		if r.a.State != StateDenied {
			n++
		}
	}
	return n, nil
}

// PutConnector implements Store.
func (m *MemStore) PutConnector(_ context.Context, c ConnectorInstance) error {
	if c.TenantID == "" || c.ID == "" {
		return socbot.FieldError("containment.MemStore.PutConnector", "id", "tenant and id required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c.SealedCredentials = append([]byte(nil), c.SealedCredentials...)
	m.conns[c.TenantID+"|"+c.ID] = c
	return nil
}

// GetConnector implements Store.
func (m *MemStore) GetConnector(_ context.Context, tenantID, id string) (ConnectorInstance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[tenantID+"|"+id]
	if !ok {
		return ConnectorInstance{}, socbot.E("containment.MemStore.GetConnector", socbot.KindNotFound, "connector "+id+" not found")
	}
	return c, nil
}

// ListConnectors implements Store.
func (m *MemStore) ListConnectors(_ context.Context, tenantID string) ([]ConnectorInstance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ConnectorInstance
	for _, c := range m.conns {
		if c.TenantID == tenantID {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteConnector implements Store.
func (m *MemStore) DeleteConnector(_ context.Context, tenantID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenantID + "|" + id
	if _, ok := m.conns[k]; !ok {
		return socbot.E("containment.MemStore.DeleteConnector", socbot.KindNotFound, "connector "+id+" not found")
	}
	delete(m.conns, k)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
