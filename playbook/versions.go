package playbook

import (
	"context"
	"sort"
	"time"

	socbot "github.com/socbot/socbot"
)

// Stored is one playbook version as kept in a VersionStore: its YAML source and who uploaded it.
type Stored struct {
	TenantID  string // "" for the MSSP-wide library
	Name      string
	Version   int
	Source    []byte
	Disabled  bool
	CreatedBy string
	CreatedAt time.Time
}

// VersionStore keeps the playbook versions uploaded through the API (the SQL store implements it).
// Every version is kept; a version is never changed once stored.
type VersionStore interface {
	// PutPlaybook stores a new version. It fails with socbot.KindConflict unless the version is above
	// every stored version of the same tenant and name. The change is audited with the
	// containment.AuditNote of the context.
	PutPlaybook(ctx context.Context, v Stored) error
	// Playbooks lists one tenant's versions ("" for the MSSP-wide ones), by name and version.
	Playbooks(ctx context.Context, tenantID string) ([]Stored, error)
	// PlaybooksSince lists every tenant's versions stored after since, oldest first.
	PlaybooksSince(ctx context.Context, since time.Time) ([]Stored, error)
}

// Load adds stored versions to the library, parsing each; versions the library already holds are
// skipped. It returns the newest CreatedAt seen (for the next PlaybooksSince) and the versions that
// did not parse (they are reported, not fatal: one bad upload must not stop the others).
func (l *Library) Load(vs []Stored) (time.Time, []error) {
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].TenantID != vs[j].TenantID {
			return vs[i].TenantID < vs[j].TenantID
		}
		if vs[i].Name != vs[j].Name {
			return vs[i].Name < vs[j].Name
		}
		return vs[i].Version < vs[j].Version
	})
	var last time.Time
	var errs []error
	for _, v := range vs {
		if v.CreatedAt.After(last) {
			last = v.CreatedAt
		}
		if _, ok := l.exact(v.TenantID, v.Name, v.Version); ok {
			continue
		}
		p, err := Parse(v.Source)
		if err != nil {
			errs = append(errs, socbot.E("playbook.Library.Load", "tenant "+v.TenantID+" playbook "+v.Name, err))
			continue
		}
		p.Disabled = p.Disabled || v.Disabled
		if err := l.Add(v.TenantID, p); err != nil {
			errs = append(errs, err)
		}
	}
	return last, errs
}

// exact returns the version a tenant itself holds (no fallback to the MSSP-wide library).
func (l *Library) exact(tenantID, name string, version int) (*Playbook, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, p := range l.versions[tenantID][name] {
		if p.Version == version {
			return p, true
		}
	}
	return nil, false
}

// Own lists the versions a tenant itself holds ("" for the MSSP-wide library), by name, each name's
// versions ascending.
func (l *Library) Own(tenantID string) map[string][]*Playbook {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := map[string][]*Playbook{}
	for name, vs := range l.versions[tenantID] {
		out[name] = append([]*Playbook(nil), vs...)
	}
	return out
}
