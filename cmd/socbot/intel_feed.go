package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/feeds/misp"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/intel/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/taxii"
)

// socbot intel feed: the collected feeds in the database, managed from the command line as the API
// does (credentials sealed with the data directory's keyring, changes audited under your user name).

type intelFeedCmd struct {
	Add    intelFeedAddCmd    `cmd:"" help:"Create or replace feeds from YAML or JSON files (credentials are sealed, never stored in clear)."`
	List   intelFeedListCmd   `cmd:"" help:"List feeds with their health as JSON lines (never their credentials)."`
	Delete intelFeedDeleteCmd `cmd:"" help:"Delete a feed; its indicators stay attributed to it and age out."`
	Run    intelFeedRunCmd    `cmd:"" help:"Collect a feed now and print its new status."`
}

// intelService opens the database and the keyring and builds the intel service over them.
func intelService(ctx context.Context, g *Globals, sf storeFlags, tenantRef string) (*service.Service, *sqlstore.Store, string, error) {
	store, cfg, tenant, err := intelStore(ctx, g, sf, tenantRef)
	if err != nil {
		return nil, nil, "", err
	}
	keys, err := secrets.OpenKeyring(cfg.Data)
	if err != nil {
		store.Close()
		return nil, nil, "", err
	}
	decay, err := loadDecay(cfg.Intel.DecayModels)
	if err != nil {
		store.Close()
		return nil, nil, "", err
	}
	wl, err := loadWarninglists(cfg.Intel.Warninglists)
	if err != nil {
		store.Close()
		return nil, nil, "", err
	}
	eng := intel.NewEngine(intel.EngineConfig{Store: store, Warninglists: wl, Decay: decay, Logger: g.Logger(), NoIndex: true})
	sched := intel.NewScheduler(intel.SchedulerConfig{Engine: eng, Store: store, HTTPClient: &http.Client{}, Parse: feeds.Parse,
		Collectors: map[string]intel.Collector{"taxii": &taxii.Collector{}, "misp-feed": &misp.Collector{}}, Secrets: keys,
		Logger: g.Logger(), SpoolDir: cfg.Data})
	return service.New(service.Config{Engine: eng, Scheduler: sched, Sealer: keys, Log: g.Logger()}), store, tenant, nil
}

type intelFeedAddCmd struct {
	storeFlags
	Tenant string   `help:"Tenant (id or name) of feeds whose file names none (default: the MSSP-wide set)." placeholder:"TENANT"`
	Files  []string `arg:"" name:"FILE" help:"Feed files: one feed per file, or a list under feeds:." type:"existingfile"`
}

func (c *intelFeedAddCmd) Help() string {
	return `Each file holds one feed, or a list of them under "feeds:", in YAML or JSON:

  name: threatfox
  tenant_id: acme            # id or name; none: --tenant, or the MSSP-wide set
  url: https://threatfox-api.abuse.ch/api/v1/
  format: threatfox-json     # or auto, stix, misp, urlhaus, feodo, plain, csv, rss, text, taxii, misp-feed
  interval: 1h
  enabled: true
  reliability: 80
  default_confidence: 70
  tlp: green
  options: {days: "1"}
  auth: {header: Auth-Key, header_value: "..."}

Credentials (password, bearer_token, header_value) are sealed with the tenant's key in the data
directory and never stored or shown in clear; a feed replaced without auth keeps its credentials.`
}

func (c *intelFeedAddCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, store, defTenant, err := intelService(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	out := json.NewEncoder(os.Stdout)
	for _, path := range c.Files {
		b, err := os.ReadFile(path)
		if err != nil {
			return socbot.E("intel feed add", socbot.KindNotFound, err)
		}
		list, err := readFeedFile(b)
		if err != nil {
			return socbot.E("intel feed add", socbot.KindInvalid, filepath.Base(path), err)
		}
		for _, f := range list {
			tenant := defTenant
			if f.TenantID != "" {
				t, err := store.Tenant(ctx, f.TenantID)
				if err != nil {
					if t, err = store.TenantByName(ctx, f.TenantID); err != nil {
						return socbot.FieldError("intel feed add", "tenant_id", "%s: no tenant %q", path, f.TenantID)
					}
				}
				tenant = t.ID
			}
			saved, created, err := svc.PutFeed(ctx, cliPrincipal(), tenant, f, "socbot intel feed add "+filepath.Base(path))
			if err != nil {
				return err
			}
			out.Encode(map[string]any{"feed": saved, "created": created})
		}
	}
	return nil
}

// readFeedFile reads one feed or a list under "feeds:" from YAML (JSON is YAML too).
func readFeedFile(b []byte) ([]socbot.IntelFeed, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); ok {
		if l, ok := m["feeds"]; ok {
			doc = l
		}
	}
	items, ok := doc.([]any)
	if !ok {
		items = []any{doc}
	}
	var out []socbot.IntelFeed
	for _, it := range items {
		j, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		var f socbot.IntelFeed
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

type intelFeedListCmd struct {
	storeFlags
	Tenant string `help:"Tenant (id or name) whose feeds are listed (default: every tenant's and the MSSP-wide ones)." placeholder:"TENANT"`
}

func (c *intelFeedListCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, store, tenant, err := intelService(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := svc.Feeds(ctx, cliPrincipal(), tenant)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, f := range list {
		enc.Encode(f)
	}
	return nil
}

type intelFeedDeleteCmd struct {
	storeFlags
	Tenant string `help:"Tenant (id or name) of the feed (default: the MSSP-wide set)." placeholder:"TENANT"`
	Reason string `help:"Why, for the audit log."`
	Name   string `arg:"" help:"Feed name."`
}

func (c *intelFeedDeleteCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, store, tenant, err := intelService(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	return svc.DeleteFeed(ctx, cliPrincipal(), tenant, c.Name, c.Reason)
}

type intelFeedRunCmd struct {
	storeFlags
	Tenant string `help:"Tenant (id or name) of the feed (default: the MSSP-wide set)." placeholder:"TENANT"`
	Name   string `arg:"" help:"Feed name."`
}

func (c *intelFeedRunCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, store, tenant, err := intelService(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	f, err := svc.RunFeed(ctx, cliPrincipal(), tenant, c.Name)
	if err != nil {
		return err
	}
	json.NewEncoder(os.Stdout).Encode(f)
	if f.Status != nil && !f.Status.Healthy {
		return fmt.Errorf("feed %s: %s", c.Name, f.Status.LastError)
	}
	return nil
}
