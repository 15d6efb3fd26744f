package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
)

// MemBackend is an in-memory Backend: API roots owned by a tenant ("" = visible to everyone), each
// with collections and their object versions. It is safe for concurrent use.
type MemBackend struct {
	mu    sync.RWMutex
	roots []*memRoot
	now   func() time.Time
}

type memRoot struct {
	info   APIRoot
	tenant string
	colls  []*memColl
	status map[string]Status
}

type memColl struct {
	info Collection
	objs []Object // sorted by date added
}

var _ Backend = (*MemBackend)(nil)

// NewMemBackend returns an empty backend.
func NewMemBackend() *MemBackend {
	return &MemBackend{now: func() time.Time { return time.Now().UTC() }}
}

// AddRoot adds an API root owned by tenant ("" = every principal sees it).
func (m *MemBackend) AddRoot(name, tenant string, info APIRoot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info.Name = name
	if len(info.Versions) == 0 {
		info.Versions = []string{MediaType}
	}
	if info.MaxContentLength == 0 {
		info.MaxContentLength = 10 << 20
	}
	m.roots = append(m.roots, &memRoot{info: info, tenant: tenant, status: map[string]Status{}})
}

// AddCollection adds a collection to a root; CanRead/CanWrite say what principals of the root's
// tenant (and MSSP staff) may do; viewers never write.
func (m *MemBackend) AddCollection(root string, c Collection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.root(root)
	if r == nil {
		return socbot.E("taxii.MemBackend.AddCollection", socbot.KindNotFound, "no API root "+root)
	}
	if len(c.MediaTypes) == 0 {
		c.MediaTypes = []string{STIXMediaType}
	}
	r.colls = append(r.colls, &memColl{info: c})
	return nil
}

// Put stores object versions directly (for loading fixtures), keeping their DateAdded.
func (m *MemBackend) Put(root, coll string, objs ...Object) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.coll(root, coll)
	if c == nil {
		return socbot.E("taxii.MemBackend.Put", socbot.KindNotFound, "no collection "+coll)
	}
	c.objs = append(c.objs, objs...)
	SortObjects(c.objs)
	return nil
}

func (m *MemBackend) root(name string) *memRoot {
	for _, r := range m.roots {
		if r.info.Name == name {
			return r
		}
	}
	return nil
}

func (m *MemBackend) coll(root, id string) *memColl {
	r := m.root(root)
	if r == nil {
		return nil
	}
	for _, c := range r.colls {
		if c.info.ID == id || c.info.Alias != "" && c.info.Alias == id {
			return c
		}
	}
	return nil
}

func visible(p socbot.Principal, tenant string) bool {
	return tenant == "" || p.CanAccessTenant(tenant)
}

func mayWrite(p socbot.Principal) bool { return p.Role != socbot.RoleViewer }

func (m *MemBackend) visibleRoot(p socbot.Principal, name string) (*memRoot, error) {
	r := m.root(name)
	if r == nil || !visible(p, r.tenant) {
		return nil, socbot.E("taxii", socbot.KindNotFound, "no API root "+name)
	}
	return r, nil
}

// Roots implements Backend.
func (m *MemBackend) Roots(ctx context.Context, p socbot.Principal) ([]APIRoot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []APIRoot
	for _, r := range m.roots {
		if visible(p, r.tenant) {
			out = append(out, r.info)
		}
	}
	return out, nil
}

// Collections implements Backend.
func (m *MemBackend) Collections(ctx context.Context, p socbot.Principal, root string) ([]Collection, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, err := m.visibleRoot(p, root)
	if err != nil {
		return nil, err
	}
	out := []Collection{}
	for _, c := range r.colls {
		info := c.info
		info.CanWrite = info.CanWrite && mayWrite(p)
		out = append(out, info)
	}
	return out, nil
}

func (m *MemBackend) collFor(p socbot.Principal, root, coll string) (*memRoot, *memColl, error) {
	r, err := m.visibleRoot(p, root)
	if err != nil {
		return nil, nil, err
	}
	c := m.coll(root, coll)
	if c == nil {
		return nil, nil, socbot.E("taxii", socbot.KindNotFound, "no collection "+coll)
	}
	return r, c, nil
}

// Objects implements Backend.
func (m *MemBackend) Objects(ctx context.Context, p socbot.Principal, root, coll string, f Filter) ([]Object, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, c, err := m.collFor(p, root, coll)
	if err != nil {
		return nil, false, err
	}
	if !c.info.CanRead {
		return nil, false, socbot.E("taxii", socbot.KindForbidden, "collection is not readable")
	}
	return Select(c.objs, f)
}

// AddObjects implements Backend: each object version is stored unless the same id and version is
// already there (then it is reported as a failure).
func (m *MemBackend) AddObjects(ctx context.Context, p socbot.Principal, root, coll string, objs []Object) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, c, err := m.collFor(p, root, coll)
	if err != nil {
		return Status{}, err
	}
	if !c.info.CanWrite || !mayWrite(p) {
		return Status{}, socbot.E("taxii", socbot.KindForbidden, "collection is not writable")
	}
	now := m.now()
	st := Status{ID: uuid.NewString(), Status: "complete", RequestTimestamp: FormatTime(now), TotalCount: len(objs)}
	have := map[string]bool{}
	for _, o := range c.objs {
		have[o.ID+"|"+o.Version] = true
	}
	for i, o := range objs {
		// strictly increasing date_added within a request keeps paging stable
		o.DateAdded = now.Add(time.Duration(i) * time.Microsecond)
		if have[o.ID+"|"+o.Version] {
			st.Failures = append(st.Failures, StatusDetail{ID: o.ID, Version: o.Version, Message: "version already present"})
			continue
		}
		have[o.ID+"|"+o.Version] = true
		c.objs = append(c.objs, o)
		st.Successes = append(st.Successes, StatusDetail{ID: o.ID, Version: o.Version})
	}
	SortObjects(c.objs)
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	r.status[st.ID] = st
	return st, nil
}

// DeleteObject implements Backend.
func (m *MemBackend) DeleteObject(ctx context.Context, p socbot.Principal, root, coll, id string, f Filter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, c, err := m.collFor(p, root, coll)
	if err != nil {
		return err
	}
	if !c.info.CanWrite || !mayWrite(p) {
		return socbot.E("taxii", socbot.KindForbidden, "collection is not writable")
	}
	f.IDs, f.Limit, f.Next = []string{id}, 0, ""
	if len(f.Versions) == 0 {
		f.Versions = []string{"all"}
	}
	del, _, err := Select(c.objs, f)
	if err != nil {
		return err
	}
	if len(del) == 0 {
		return socbot.E("taxii", socbot.KindNotFound, "no object "+id)
	}
	gone := map[string]bool{}
	for _, o := range del {
		gone[o.ID+"|"+o.Version] = true
	}
	kept := c.objs[:0]
	for _, o := range c.objs {
		if !gone[o.ID+"|"+o.Version] {
			kept = append(kept, o)
		}
	}
	c.objs = kept
	return nil
}

// Status implements Backend.
func (m *MemBackend) Status(ctx context.Context, p socbot.Principal, root, id string) (Status, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, err := m.visibleRoot(p, root)
	if err != nil {
		return Status{}, err
	}
	st, ok := r.status[id]
	if !ok {
		return Status{}, socbot.E("taxii", socbot.KindNotFound, "no status "+id)
	}
	return st, nil
}

// LoadMedallion builds a backend from the data file of the OASIS reference server (medallion's
// default_data.json layout): {"/discovery": {...}, "<root>": {"information", "status", "collections":
// [{..., "objects": [...], "manifest": [{"id", "date_added", "version"}]}]}}. Every root is visible to
// everyone. It returns the discovery document too.
func LoadMedallion(r io.Reader) (*MemBackend, Discovery, error) {
	const op = "taxii.LoadMedallion"
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, Discovery{}, socbot.E(op, socbot.KindInvalid, err)
	}
	var disc Discovery
	if d, ok := doc["/discovery"]; ok {
		json.Unmarshal(d, &disc)
	}
	m := NewMemBackend()
	var names []string
	for k := range doc {
		if k != "/discovery" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var root struct {
			Information APIRoot  `json:"information"`
			Status      []Status `json:"status"`
			Collections []struct {
				Collection
				Objects  []json.RawMessage `json:"objects"`
				Manifest []ManifestRecord  `json:"manifest"`
			} `json:"collections"`
		}
		if err := json.Unmarshal(doc[name], &root); err != nil {
			return nil, disc, socbot.E(op, socbot.KindInvalid, err, "api root "+name)
		}
		m.AddRoot(name, "", root.Information)
		r := m.root(name)
		for _, st := range root.Status {
			r.status[st.ID] = st
		}
		for _, c := range root.Collections {
			m.AddCollection(name, c.Collection)
			added := map[string]time.Time{}
			for _, mr := range c.Manifest {
				t, err := ParseTime(mr.DateAdded)
				if err == nil {
					added[mr.ID+"|"+mr.Version] = t
				}
			}
			var objs []Object
			for _, raw := range c.Objects {
				o, err := ObjectFromRaw(raw, time.Time{})
				if err != nil {
					return nil, disc, socbot.E(op, err, fmt.Sprintf("collection %s", c.ID))
				}
				if t, ok := added[o.ID+"|"+o.Version]; ok {
					o.DateAdded = t
				} else if t, ok := addedByID(added, o.ID); ok {
					o.DateAdded = t
				}
				objs = append(objs, o)
			}
			m.Put(name, c.ID, objs...)
		}
	}
	return m, disc, nil
}

func addedByID(added map[string]time.Time, id string) (time.Time, bool) {
	for k, t := range added {
		if strings.HasPrefix(k, id+"|") {
			return t, true
		}
	}
	return time.Time{}, false
}
