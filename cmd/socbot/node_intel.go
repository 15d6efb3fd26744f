package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/feeds/misp"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/intel/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/taxii"
	"github.com/socbot/socbot/warninglist"
)

// The intel bot in socbot serve: the engine on the node's SQL store with the match index loaded
// from it, its enricher in triage (hits become reasons and sightings), the feed scheduler (one node
// collects each due feed, under a lease in the store), change events on the bus so that every
// node's match index follows every node's writes (and a poll of the store for what the events
// missed), containment hand-offs published durably on JetStream, the API's intel routes, the TAXII
// 2.1 server at /taxii2/ and the firewall lists at /api/v1/edl/{list}.

func init() { registerBot("intel", startIntel) }

// IntelConfig is the intel bot's configuration (the intel: block of socbot.yaml).
type IntelConfig struct {
	Warninglists string   `koanf:"warninglists"` // directory of MISP warninglists (list.json files); none: no filtering
	DecayModels  []string `koanf:"decay_models"` // MISP decaying-model files replacing the built-in ageing of their types
	// ContainmentThreshold hands indicators whose score reaches it to containment (0: never);
	// Tenants[...] override it per tenant.
	ContainmentThreshold int `koanf:"containment_threshold"`
	// ClientTLP is the most restrictive marking a tenant's viewers (the client's own people) may
	// receive, and the most restrictive whose details triage writes into alert reasons (default amber).
	ClientTLP   string                         `koanf:"client_tlp"`
	MaliciousAt int                            `koanf:"malicious_at"` // score from which a triage hit is "malicious" (default 70)
	Tenants     map[string]IntelTenantSettings `koanf:"tenants"`      // by tenant id or name
	EDL         []IntelEDL                     `koanf:"edl"`          // firewall lists (default: ip, domain, url)
	EDLCache    string                         `koanf:"edl_cache"`    // how long a rendered list is reused (default 1m)
	FeedTick    string                         `koanf:"feed_tick"`    // how often due feeds are looked for (default 15s)
	Refresh     string                         `koanf:"refresh"`      // how often the store is polled for other writers' changes (default 10s)
	Collect     *bool                          `koanf:"collect"`      // run the feed scheduler on this node (default true)
	SpoolDir    string                         `koanf:"spool_dir"`    // where feed runs are spooled (default the data directory)
	TAXIITitle  string                         `koanf:"taxii_title"`
}

// IntelTenantSettings are one tenant's intel settings.
type IntelTenantSettings struct {
	ContainmentThreshold *int   `koanf:"containment_threshold"`
	ClientTLP            string `koanf:"client_tlp"`
}

// IntelEDL configures one firewall list.
type IntelEDL struct {
	Name       string `koanf:"name"`
	Kind       string `koanf:"kind"` // ip, domain or url
	MinScore   int    `koanf:"min_score"`
	MaxAge     string `koanf:"max_age"`
	MaxTLP     string `koanf:"max_tlp"`
	Limit      int    `koanf:"limit"`
	Subdomains bool   `koanf:"subdomains"`
}

// intelPolicy is the configuration resolved against the tenants.
type intelPolicy struct {
	threshold map[string]int
	client    map[string]intel.TLP
	defThresh int
	defClient intel.TLP
}

func (p *intelPolicy) thresholdOf(tenant string) int {
	if v, ok := p.threshold[tenant]; ok {
		return v
	}
	return p.defThresh
}

func (p *intelPolicy) clientOf(tenant string) intel.TLP {
	if v, ok := p.client[tenant]; ok {
		return v
	}
	return p.defClient
}

func intelTLP(field, v string, def intel.TLP) (intel.TLP, error) {
	if v == "" {
		return def, nil
	}
	t, ok := intel.ParseTLP(v)
	if !ok {
		return 0, socbot.FieldError("config", field, "unknown TLP %q", v)
	}
	return t, nil
}

func intelDuration(field, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := socbot.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, socbot.FieldError("config", "intel."+field, "bad duration %q", v)
	}
	return d, nil
}

func (c IntelConfig) policy(ctx context.Context, st interface {
	Tenant(context.Context, string) (socbot.Tenant, error)
	TenantByName(context.Context, string) (socbot.Tenant, error)
}) (*intelPolicy, error) {
	p := &intelPolicy{threshold: map[string]int{}, client: map[string]intel.TLP{}, defThresh: c.ContainmentThreshold}
	var err error
	if p.defClient, err = intelTLP("intel.client_tlp", c.ClientTLP, intel.TLPAmber); err != nil {
		return nil, err
	}
	for ref, ts := range c.Tenants {
		t, err := st.Tenant(ctx, ref)
		if err != nil {
			if t, err = st.TenantByName(ctx, ref); err != nil {
				return nil, socbot.FieldError("config", "intel.tenants."+ref, "no such tenant")
			}
		}
		if ts.ContainmentThreshold != nil {
			p.threshold[t.ID] = *ts.ContainmentThreshold
		}
		if ts.ClientTLP != "" {
			if p.client[t.ID], err = intelTLP("intel.tenants."+ref+".client_tlp", ts.ClientTLP, intel.TLPAmber); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func (c IntelConfig) edls() ([]intel.EDLSpec, error) {
	var out []intel.EDLSpec
	for i, e := range c.EDL {
		field := fmt.Sprintf("intel.edl[%d]", i)
		if e.Name == "" || strings.ContainsAny(e.Name, "/?#") {
			return nil, socbot.FieldError("config", field+".name", "a list needs a name without / ? #")
		}
		if e.Kind != intel.EDLIP && e.Kind != intel.EDLDomain && e.Kind != intel.EDLURL {
			return nil, socbot.FieldError("config", field+".kind", "kind must be ip, domain or url, not %q", e.Kind)
		}
		spec := intel.EDLSpec{Name: e.Name, Kind: e.Kind, MinScore: e.MinScore, Limit: e.Limit, Subdomains: e.Subdomains}
		var err error
		if spec.MaxTLP, err = intelTLP(field+".max_tlp", e.MaxTLP, intel.TLPGreen); err != nil {
			return nil, err
		}
		if e.MaxAge != "" {
			if spec.MaxAge, err = intelDuration("edl.max_age", e.MaxAge, 0); err != nil {
				return nil, err
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// busHandOff publishes containment hand-offs on JetStream, durably, one message per event with its
// dedupe key as the message id.
type busHandOff struct{ js jetstream.JetStream }

var _ intel.ContainmentSink = busHandOff{}

func (b busHandOff) HandOff(ctx context.Context, evs []intel.ContainmentEvent) error {
	for _, ev := range evs {
		body, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := b.js.Publish(ctx, ev.Subject(), body, jetstream.WithMsgID(ev.DedupeKey)); err != nil {
			return socbot.E("intel.handoff", socbot.KindUnavailable, "publishing "+ev.Subject(), err)
		}
	}
	return nil
}

// ensureContainmentStream creates (or updates) the stream that keeps hand-offs.
func ensureContainmentStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        intel.ContainmentStream,
		Description: "intel bot: indicators handed to containment (intel.ContainmentEvent JSON)",
		Subjects:    []string{intel.ContainmentSubject + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    256 << 20,
		Duplicates:  time.Hour,
	})
	if err != nil {
		return socbot.E("intel", socbot.KindUnavailable, "create stream "+intel.ContainmentStream, err)
	}
	return nil
}

// loadWarninglists reads the configured MISP warninglists.
func loadWarninglists(dir string) (*warninglist.Set, error) {
	if dir == "" {
		return nil, nil
	}
	wl := warninglist.New()
	if _, err := wl.LoadDir(dir); err != nil {
		return nil, socbot.E("config", socbot.KindInvalid, "intel.warninglists", err)
	}
	return wl, nil
}

// loadDecay builds the ageing models from the built-in set and the configured MISP models.
func loadDecay(files []string) (intel.Decay, error) {
	d := intel.DefaultDecay()
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, socbot.E("config", socbot.KindInvalid, "intel.decay_models", err)
		}
		m, err := intel.ReadMISPDecayModel(f)
		f.Close()
		if err != nil {
			return nil, socbot.E("config", "intel.decay_models: "+path, err)
		}
		d.Apply(m)
	}
	return d, nil
}

func startIntel(ctx context.Context, n *node) error {
	c := n.cfg.Intel
	log := n.log.With("bot", "intel")
	keys, err := secrets.OpenKeyring(n.cfg.Data)
	if err != nil {
		return err
	}
	wl, err := loadWarninglists(c.Warninglists)
	if err != nil {
		return err
	}
	decay, err := loadDecay(c.DecayModels)
	if err != nil {
		return err
	}
	pol, err := c.policy(ctx, n.store)
	if err != nil {
		return err
	}
	edls, err := c.edls()
	if err != nil {
		return err
	}
	durs := map[string]time.Duration{}
	for _, d := range []struct {
		field, v string
		def      time.Duration
	}{{"edl_cache", c.EDLCache, time.Minute}, {"feed_tick", c.FeedTick, 15 * time.Second}, {"refresh", c.Refresh, 10 * time.Second}} {
		if durs[d.field], err = intelDuration(d.field, d.v, d.def); err != nil {
			return err
		}
	}
	js := n.bus.JetStream()
	if err := ensureContainmentStream(ctx, js); err != nil {
		return err
	}
	nodeID := socbot.NewID()
	nc := n.bus.Conn()
	eng := intel.NewEngine(intel.EngineConfig{Store: n.store, Warninglists: wl, Decay: decay, Clock: n.clock, Logger: log,
		Containment: busHandOff{js: js}, ContainmentThreshold: pol.thresholdOf,
		OnChange: func(ev intel.ChangeEvent) {
			ev.Origin = nodeID
			b, _ := json.Marshal(ev)
			if err := nc.Publish(ev.Subject(), b); err != nil {
				log.Warn("intel: publishing a change event failed; other nodes catch up from the store", "err", err)
			}
		}})
	// subscribe before loading: an event that arrives during the load is applied after it
	sub, err := nc.Subscribe(intel.ChangeSubject+".>", func(m *nats.Msg) {
		var ev intel.ChangeEvent
		if json.Unmarshal(m.Data, &ev) != nil || ev.Origin == nodeID {
			return
		}
		if err := eng.Refresh(n.bctx, ev); err != nil {
			log.Warn("intel: applying a change event failed; the store poll will catch up", "err", err)
		}
	})
	if err != nil {
		return socbot.E("intel", socbot.KindUnavailable, "subscribe to change events", err)
	}
	start := time.Now()
	count, err := eng.Load(ctx)
	if err != nil {
		sub.Unsubscribe()
		return err
	}
	st := eng.Matcher().Stats()
	log.Info("intel: match index loaded", "indicators", count, "seconds", time.Since(start).Seconds(), "bytes_per_indicator", st.BytesPerIndictr)
	tenantIDs := func(ctx context.Context) ([]string, error) {
		ts, err := n.store.Tenants(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out, nil
	}
	catch := eng.NewCatchUp(tenantIDs, start, 0)

	en := eng.Enricher()
	en.Shown = pol.clientOf
	if c.MaliciousAt > 0 {
		en.MaliciousAt = c.MaliciousAt
	}
	n.enrichers = append(n.enrichers, en)

	spool := c.SpoolDir
	if spool == "" {
		spool = n.cfg.Data
	}
	sched := intel.NewScheduler(intel.SchedulerConfig{Engine: eng, Store: n.store, HTTPClient: &http.Client{}, Parse: feeds.Parse,
		Collectors: map[string]intel.Collector{"taxii": &taxii.Collector{}, "misp-feed": &misp.Collector{}},
		Secrets:    keys, Owner: nodeID, Clock: n.clock, Logger: log, Tick: durs["feed_tick"], SpoolDir: spool})
	svc := service.New(service.Config{Engine: eng, Scheduler: sched, Sealer: keys, Tenants: tenantIDs,
		Ceiling: service.DefaultCeiling(pol.clientOf), EDLs: edls, EDLCache: durs["edl_cache"], Clock: n.clock, Log: log})
	n.api.Intel = svc
	title := c.TAXIITitle
	if title == "" {
		title = "socbot TAXII 2.1"
	}
	n.api.MountTAXII(&taxii.Server{Title: title, Description: "Scored, ageing indicators per tenant and the MSSP-wide set",
		Backend: &taxii.IntelBackend{Engine: eng, Tenants: tenantIDs, MaxTLP: svc.Ceiling}})

	n.run("intel-sightings", func() error { return eng.Run(n.bctx, time.Second) })
	n.run("intel-catchup", func() error {
		defer sub.Unsubscribe()
		return catch.Run(n.bctx, durs["refresh"])
	})
	if c.Collect == nil || *c.Collect {
		n.run("intel-feeds", func() error { return sched.Run(n.bctx) })
	}
	return nil
}
