package taxii

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/stix"
)

// SharedRoot is the API root of the MSSP-wide indicators.
const SharedRoot = "shared"

var collNamespace = uuid.MustParse("3c0f6a4e-1d2b-5c7e-8f90-a1b2c3d4e5f6")

// IndicatorCollectionID is the id of the indicator collection of a tenant ("" = MSSP-wide).
func IndicatorCollectionID(tenant string) string {
	return uuid.NewSHA1(collNamespace, []byte("indicators:"+tenant)).String()
}

// IntelBackend publishes the intel bot's indicators over TAXII: one API root per tenant (named by the
// tenant id) and the root "shared" for the MSSP-wide set, each with one collection (alias
// "indicators"). A principal sees the shared root and its own tenant's; MSSP staff see every tenant
// that Tenants lists. Only active indicators are served, as STIX indicator objects, never above the
// principal's TLP ceiling. POSTed indicator objects are ingested into the tenant's set.
type IntelBackend struct {
	Engine *intel.Engine
	// Tenants lists the tenant ids MSSP staff can browse (nil: staff see only the shared root and
	// their own).
	Tenants func(ctx context.Context) ([]string, error)
	// MaxTLP is the most restrictive marking p may receive. Default: MSSP staff RED, tenant users AMBER.
	MaxTLP func(p socbot.Principal) intel.TLP
	// Reliability of indicators posted by clients (default 60).
	Reliability int

	mu     sync.Mutex
	status map[string]Status
}

var _ Backend = (*IntelBackend)(nil)

func (b *IntelBackend) maxTLP(p socbot.Principal) intel.TLP {
	if b.MaxTLP != nil {
		return b.MaxTLP(p)
	}
	if p.MSSPWide() {
		return intel.TLPRed
	}
	return intel.TLPAmber
}

func (b *IntelBackend) tenantOf(p socbot.Principal, root string) (string, error) {
	if root == SharedRoot {
		return "", nil
	}
	if !p.CanAccessTenant(root) {
		return "", socbot.E("taxii", socbot.KindNotFound, "no API root "+root)
	}
	return root, nil
}

// Roots implements Backend.
func (b *IntelBackend) Roots(ctx context.Context, p socbot.Principal) ([]APIRoot, error) {
	mk := func(name, title string) APIRoot {
		return APIRoot{Name: name, Title: title, Versions: []string{MediaType}, MaxContentLength: 10 << 20}
	}
	out := []APIRoot{mk(SharedRoot, "MSSP-wide indicators")}
	seen := map[string]bool{}
	if p.TenantID != "" {
		out = append(out, mk(p.TenantID, "Indicators of tenant "+p.TenantID))
		seen[p.TenantID] = true
	}
	if p.MSSPWide() && b.Tenants != nil {
		ts, err := b.Tenants(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if !seen[t] && t != "" {
				out = append(out, mk(t, "Indicators of tenant "+t))
			}
		}
	}
	return out, nil
}

func (b *IntelBackend) mayWrite(p socbot.Principal, tenant string) bool {
	if p.Role == socbot.RoleViewer || p.Role == socbot.RoleIngest {
		return false
	}
	if tenant == "" {
		return p.MSSPWide()
	}
	return p.CanAccessTenant(tenant)
}

// Collections implements Backend.
func (b *IntelBackend) Collections(ctx context.Context, p socbot.Principal, root string) ([]Collection, error) {
	t, err := b.tenantOf(p, root)
	if err != nil {
		return nil, err
	}
	return []Collection{{ID: IndicatorCollectionID(t), Alias: "indicators", Title: "Indicators",
		Description: "Active indicators, scored and aged by socbot", CanRead: true, CanWrite: b.mayWrite(p, t),
		MediaTypes: []string{STIXMediaType}}}, nil
}

func (b *IntelBackend) coll(p socbot.Principal, root, coll string) (string, error) {
	t, err := b.tenantOf(p, root)
	if err != nil {
		return "", err
	}
	if coll != IndicatorCollectionID(t) && coll != "indicators" {
		return "", socbot.E("taxii", socbot.KindNotFound, "no collection "+coll)
	}
	return t, nil
}

// Objects implements Backend: one page of the collection read from the store in (date added, id)
// order through its (tenant, modified) index, never the whole set, skipping inactive indicators and
// those above the principal's TLP ceiling.
func (b *IntelBackend) Objects(ctx context.Context, p socbot.Principal, root, coll string, f Filter) ([]Object, bool, error) {
	t, err := b.coll(p, root, coll)
	if err != nil {
		return nil, false, err
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, "indicator") || len(f.SpecVersions) > 0 && !slices.Contains(f.SpecVersions, "2.1") {
		return nil, false, nil
	}
	ceiling := b.maxTLP(p)
	sf := intel.Filter{TenantID: t, IDs: f.IDs, MaxTLP: &ceiling, ModifiedSince: f.AddedAfter, Ascending: true}
	if f.Next != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Next)
		parts := strings.SplitN(string(raw), "|", 3)
		if err != nil || len(parts) != 3 {
			return nil, false, socbot.FieldError("taxii.Objects", "next", "invalid next token")
		}
		if sf.AfterModified, err = ParseTime(parts[0]); err != nil {
			return nil, false, socbot.FieldError("taxii.Objects", "next", "invalid next token")
		}
		sf.AfterID = parts[1]
	}
	// specific version timestamps narrow the answer; first, last and all are the one version kept
	stamps := map[string]bool{}
	for _, v := range f.Versions {
		if v != "first" && v != "last" && v != "all" {
			stamps[v] = true
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	now := b.Engine.Now()
	decay := b.Engine.Decay()
	var objs []Object
	for len(objs) <= limit {
		sf.Limit = max(2*limit, 100)
		page, err := b.Engine.Store().SearchIndicators(ctx, sf)
		if err != nil {
			return nil, false, err
		}
		for i := range page {
			in := &page[i]
			sf.AfterModified, sf.AfterID = in.Modified, in.ID
			if !in.TLP.MayShare(ceiling) || !in.Active(decay, now) {
				continue
			}
			sdo := stix.FromIndicator(in, in.Score(decay, now))
			if sdo.Pattern == "" || len(stamps) > 0 && !matchesTimestamp(stamps, sdo.Modified) {
				continue
			}
			raw, err := json.Marshal(sdo)
			if err != nil {
				return nil, false, err
			}
			objs = append(objs, Object{ID: sdo.ID, Type: "indicator", Version: sdo.Modified, SpecVersion: "2.1", DateAdded: in.Modified, Raw: raw})
			if len(objs) > limit {
				break
			}
		}
		if len(page) < sf.Limit {
			break
		}
	}
	more := len(objs) > limit
	if more {
		objs = objs[:limit]
	}
	return objs, more, nil
}

// AddObjects implements Backend: indicator objects are ingested (source "taxii:<principal>").
func (b *IntelBackend) AddObjects(ctx context.Context, p socbot.Principal, root, coll string, objs []Object) (Status, error) {
	t, err := b.coll(p, root, coll)
	if err != nil {
		return Status{}, err
	}
	if !b.mayWrite(p, t) {
		return Status{}, socbot.E("taxii", socbot.KindForbidden, "collection is not writable")
	}
	rel := b.Reliability
	if rel <= 0 {
		rel = 60
	}
	src := intel.SourceInfo{Name: "taxii:" + p.Name, Reliability: rel, TLP: intel.TLPAmber}
	st := Status{ID: uuid.NewString(), Status: "complete", RequestTimestamp: FormatTime(time.Now()), TotalCount: len(objs)}
	var items []intel.Item
	for _, o := range objs {
		var got []intel.Item
		_, err := stix.Import(bytes.NewReader(append(append([]byte("["), o.Raw...), ']')), func(it intel.Item) error {
			got = append(got, it)
			return nil
		})
		if err != nil || len(got) == 0 {
			st.Failures = append(st.Failures, StatusDetail{ID: o.ID, Version: o.Version, Message: "not an indicator with an indexable STIX pattern"})
			continue
		}
		items = append(items, got...)
		st.Successes = append(st.Successes, StatusDetail{ID: o.ID, Version: o.Version})
	}
	if len(items) > 0 {
		if _, err := b.Engine.Ingest(ctx, t, src, items); err != nil {
			return Status{}, err
		}
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	b.mu.Lock()
	if b.status == nil {
		b.status = map[string]Status{}
	}
	b.status[root+"/"+st.ID] = st
	b.mu.Unlock()
	return st, nil
}

// DeleteObject implements Backend: indicators are revoked through their source, not deleted.
func (b *IntelBackend) DeleteObject(ctx context.Context, p socbot.Principal, root, coll, id string, f Filter) error {
	return socbot.E("taxii", socbot.KindForbidden, "indicators are revoked by their sources, not deleted over TAXII")
}

// Status implements Backend.
func (b *IntelBackend) Status(ctx context.Context, p socbot.Principal, root, id string) (Status, error) {
	if _, err := b.tenantOf(p, root); err != nil {
		return Status{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.status[root+"/"+id]
	if !ok {
		return Status{}, socbot.E("taxii", socbot.KindNotFound, "no status "+id)
	}
	return st, nil
}
