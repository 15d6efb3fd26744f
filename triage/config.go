package triage

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/celexpr"
)

// tenantConfig is what triage caches of one tenant's configuration, rebuilt whenever the tenant's
// config version moves.
type tenantConfig struct {
	version      int64
	tenant       socbot.Tenant
	suppressions []suppression
	routes       []route
	assets       *assetIndex
	lists        *listIndex
	exclude      exclusions
}

// exclusions are the values and networks a tenant does not want alerts correlated on.
type exclusions struct {
	values map[string]bool
	nets   []netip.Prefix
}

func newExclusions(list []string) exclusions {
	ex := exclusions{values: map[string]bool{}}
	for _, v := range list {
		v = strings.ToLower(strings.TrimSpace(v))
		if p, err := netip.ParsePrefix(v); err == nil {
			ex.nets = append(ex.nets, p.Masked())
			continue
		}
		ex.values[v] = true
	}
	return ex
}

// has reports whether an observable value is excluded from correlation.
func (ex exclusions) has(o socbot.Observable) bool {
	if len(ex.values) == 0 && len(ex.nets) == 0 {
		return false
	}
	if ex.values[strings.ToLower(o.Value)] {
		return true
	}
	if o.Type == socbot.ObsIP {
		if a, err := netip.ParseAddr(o.Value); err == nil {
			for _, p := range ex.nets {
				if p.Contains(a.Unmap()) {
					return true
				}
			}
		}
	}
	return false
}

type suppression struct {
	rule socbot.SuppressionRule
	prg  *celexpr.Program
}

type route struct {
	rule socbot.RoutingRule
	prg  *celexpr.Program
}

// configs caches tenant configurations.
type configs struct {
	store socbot.Store
	log   *slog.Logger
	mu    sync.Mutex
	m     map[string]*tenantConfig
}

// get returns the tenant's current configuration, reloading it if its version moved.
func (c *configs) get(ctx context.Context, tenantID string) (*tenantConfig, error) {
	v, err := c.store.ConfigVersion(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cfg := c.m[tenantID]
	c.mu.Unlock()
	if cfg != nil && cfg.version == v {
		return cfg, nil
	}
	cfg, err = c.load(ctx, tenantID, v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[tenantID] = cfg
	c.mu.Unlock()
	return cfg, nil
}

func (c *configs) load(ctx context.Context, tenantID string, version int64) (*tenantConfig, error) {
	t, err := c.store.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	cfg := &tenantConfig{version: version, tenant: t, exclude: newExclusions(t.Settings.CorrelationExclude)}
	supps, err := c.store.Suppressions(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, r := range supps {
		if !r.Enabled {
			continue
		}
		prg, err := celexpr.CompileAlert(r.Expression)
		if err != nil {
			c.log.Warn("suppression rule does not compile; skipped", "tenant", tenantID, "rule", r.ID, "err", err)
			continue
		}
		cfg.suppressions = append(cfg.suppressions, suppression{rule: r, prg: prg})
	}
	routes, err := c.store.RoutingRules(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		prg, err := celexpr.CompileIncident(r.Expression)
		if err != nil {
			c.log.Warn("routing rule does not compile; skipped", "tenant", tenantID, "rule", r.ID, "err", err)
			continue
		}
		cfg.routes = append(cfg.routes, route{rule: r, prg: prg})
	}
	assets, err := c.store.Assets(ctx, tenantID, 0, 0)
	if err != nil {
		return nil, err
	}
	cfg.assets = newAssetIndex(assets)
	items, err := c.store.ListIndicators(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	cfg.lists = newListIndex(items)
	return cfg, nil
}

// assetIndex finds a tenant's assets by host name (full or short) and by IP.
type assetIndex struct {
	byHost map[string]*socbot.Asset
	byIP   map[netip.Addr]*socbot.Asset
}

func newAssetIndex(assets []socbot.Asset) *assetIndex {
	ix := &assetIndex{byHost: map[string]*socbot.Asset{}, byIP: map[netip.Addr]*socbot.Asset{}}
	for i := range assets {
		a := &assets[i]
		ix.byHost[a.Hostname] = a
		if short, _, ok := strings.Cut(a.Hostname, "."); ok {
			if _, taken := ix.byHost[short]; !taken {
				ix.byHost[short] = a
			}
		}
		for _, ip := range a.IPs {
			if addr, err := netip.ParseAddr(ip); err == nil {
				ix.byIP[addr] = a
			}
		}
	}
	return ix
}

func (ix *assetIndex) host(name string) *socbot.Asset {
	name = strings.ToLower(name)
	if a := ix.byHost[name]; a != nil {
		return a
	}
	if short, _, ok := strings.Cut(name, "."); ok {
		return ix.byHost[short]
	}
	if _, user, ok := strings.Cut(name, `\`); ok { // DOMAIN\HOST$
		return ix.byHost[strings.TrimSuffix(user, "$")]
	}
	return nil
}

func (ix *assetIndex) ip(s string) *socbot.Asset {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return nil
	}
	return ix.byIP[addr.Unmap()]
}

// listIndex holds a tenant's known-bad and known-good values.
type listIndex struct {
	exact map[string]*socbot.ListIndicator // "type:value"
	cidrs []*socbot.ListIndicator
	nets  []netip.Prefix
}

func newListIndex(items []socbot.ListIndicator) *listIndex {
	ix := &listIndex{exact: map[string]*socbot.ListIndicator{}}
	for i := range items {
		it := &items[i]
		if it.Type == "cidr" {
			if p, err := netip.ParsePrefix(it.Value); err == nil {
				ix.cidrs = append(ix.cidrs, it)
				ix.nets = append(ix.nets, p)
			}
			continue
		}
		typ := it.Type
		if typ == "md5" || typ == "sha1" || typ == "sha256" {
			typ = "hash"
		}
		ix.exact[typ+":"+it.Value] = it
	}
	return ix
}

// lookup finds the list entry for an observable, if any, ignoring expired entries.
func (ix *listIndex) lookup(o socbot.Observable, now time.Time) *socbot.ListIndicator {
	live := func(it *socbot.ListIndicator) *socbot.ListIndicator {
		if it == nil || (it.ExpiresAt != nil && now.After(*it.ExpiresAt)) {
			return nil
		}
		return it
	}
	v := strings.ToLower(o.Value)
	switch o.Type {
	case socbot.ObsIP:
		if it := live(ix.exact["ip:"+v]); it != nil {
			return it
		}
		if addr, err := netip.ParseAddr(v); err == nil {
			for i, p := range ix.nets {
				if p.Contains(addr.Unmap()) {
					if it := live(ix.cidrs[i]); it != nil {
						return it
					}
				}
			}
		}
	case socbot.ObsDomain:
		for d := v; d != ""; {
			if it := live(ix.exact["domain:"+d]); it != nil {
				return it
			}
			_, rest, ok := strings.Cut(d, ".")
			if !ok {
				break
			}
			d = rest
		}
	case socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256:
		return live(ix.exact["hash:"+v])
	case socbot.ObsURL:
		return live(ix.exact["url:"+o.Value])
	case socbot.ObsEmail, socbot.ObsUser, socbot.ObsHost:
		return live(ix.exact[string(o.Type)+":"+v])
	}
	return nil
}
