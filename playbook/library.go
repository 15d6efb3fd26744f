package playbook

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	socbot "github.com/socbot/socbot"
)

//go:embed library/*.yaml
var defaultFS embed.FS

// Defaults returns the embedded default playbooks (phishing sender, C2 address, compromised account,
// ransomware host).
func Defaults() ([]*Playbook, error) {
	names, err := fs.Glob(defaultFS, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Playbook
	for _, n := range names {
		b, err := defaultFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		p, err := Parse(b)
		if err != nil {
			return nil, socbot.E("playbook.Defaults", n, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// DefaultSource returns the YAML of an embedded default playbook, for `socbot playbook show`.
func DefaultSource(name string) ([]byte, error) {
	return defaultFS.ReadFile("library/" + name + ".yaml")
}

// Library holds playbooks: the MSSP-wide ones (tenant "") and each tenant's own, every version kept.
// A tenant runs the latest enabled version of each name, its own version of a name replacing the
// MSSP-wide one. Safe for concurrent use.
type Library struct {
	mu       sync.RWMutex
	versions map[string]map[string][]*Playbook // tenant -> name -> versions ascending
}

// NewLibrary returns an empty library.
func NewLibrary() *Library { return &Library{versions: map[string]map[string][]*Playbook{}} }

// Add stores a playbook version for a tenant ("" for every tenant). A version must be higher than
// the ones before it.
func (l *Library) Add(tenantID string, p *Playbook) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	byName := l.versions[tenantID]
	if byName == nil {
		byName = map[string][]*Playbook{}
		l.versions[tenantID] = byName
	}
	vs := byName[p.Name]
	if n := len(vs); n > 0 && vs[n-1].Version >= p.Version {
		return socbot.E("playbook.Library.Add", socbot.KindConflict, fmt.Sprintf("playbook %s: version %d is not above the current version %d", p.Name, p.Version, vs[n-1].Version))
	}
	byName[p.Name] = append(vs, p)
	return nil
}

// For returns the playbooks a tenant runs, by name.
func (l *Library) For(tenantID string) []*Playbook {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pick := map[string]*Playbook{}
	for _, t := range []string{"", tenantID} {
		for name, vs := range l.versions[t] {
			if len(vs) > 0 {
				pick[name] = vs[len(vs)-1]
			}
		}
	}
	var out []*Playbook
	for _, p := range pick {
		if !p.Disabled {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Version returns one version of a playbook as the tenant sees it (0: the latest).
func (l *Library) Version(tenantID, name string, version int) (*Playbook, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, t := range []string{tenantID, ""} {
		vs := l.versions[t][name]
		for i := len(vs) - 1; i >= 0; i-- {
			if version == 0 || vs[i].Version == version {
				return vs[i], true
			}
		}
	}
	return nil, false
}
