package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/edl"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/service"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/secrets"
)

// The containment bot in socbot serve: the ledger on the node's store, connector credentials sealed
// with the keyring in the data directory, the playbook engine with the default library and the
// tenants' uploads, the incident feed (woken by triage commits on this node, polling the store for
// the others), the API's containment routes and the external dynamic lists at /edl/.

func init() { registerBot("containment", startContainment) }

// ContainmentConfig is the containment bot's configuration (the containment: block of socbot.yaml).
type ContainmentConfig struct {
	OwnEgress  []string `koanf:"own_egress"`   // the MSSP's own egress addresses: never blocked
	NeverBlock []string `koanf:"never_block"`  // more MSSP-wide never-block entries (the API manages the rest)
	MaxPerHour int      `koanf:"max_per_hour"` // blast radius: forward actions per tenant per hour (default 200)
	// Policy replaces the default approval policy of every tenant; Tenants[...].Policy one tenant's.
	Policy  *ContainmentPolicy                   `koanf:"policy"`
	Tenants map[string]ContainmentTenantSettings `koanf:"tenants"` // by tenant id or name

	Poll            string `koanf:"poll"`             // incident feed idle poll (default 100ms)
	Lag             string `koanf:"lag"`              // how far back each poll looks again (default 2s)
	Lease           string `koanf:"lease"`            // executor lease: how soon another node resumes a dead one's work (default 2m)
	CallTimeout     string `koanf:"call_timeout"`     // one vendor call when the connector sets none (default 30s)
	BaseBackoff     string `koanf:"base_backoff"`     // first retry delay (default 500ms)
	MaxBackoff      string `koanf:"max_backoff"`      // retry delay cap (default 60s)
	BreakerCooldown string `koanf:"breaker_cooldown"` // how long a failing connector is left alone (default 30s)
	BatchSize       int    `koanf:"batch_size"`       // requests per vendor call (default 100)
	MaxAttempts     int    `koanf:"max_attempts"`     // vendor attempts before an action fails (default 8)
}

// ContainmentPolicy is an approval policy in the configuration.
type ContainmentPolicy struct {
	Rules []struct {
		Name      string `koanf:"name"`
		When      string `koanf:"when"`
		Approvals int    `koanf:"approvals"`
	} `koanf:"rules"`
	Timeout        string `koanf:"timeout"`
	MaxEscalations int    `koanf:"max_escalations"`
}

// ContainmentTenantSettings are one tenant's rails and policy.
type ContainmentTenantSettings struct {
	AllowPrivate bool               `koanf:"allow_private"` // allow blocking private, CGNAT and link-local ranges
	MaxPerHour   int                `koanf:"max_per_hour"`
	Policy       *ContainmentPolicy `koanf:"policy"`
}

func (p *ContainmentPolicy) compile(field string) (*containment.Policy, error) {
	pol := containment.Policy{MaxEscalations: p.MaxEscalations}
	for _, r := range p.Rules {
		pol.Rules = append(pol.Rules, containment.PolicyRule{Name: r.Name, When: r.When, Approvals: r.Approvals})
	}
	if p.Timeout != "" {
		d, err := socbot.ParseDuration(p.Timeout)
		if err != nil {
			return nil, socbot.FieldError("config", field+".timeout", "bad duration %q", p.Timeout)
		}
		pol.Timeout = d
	}
	c, err := containment.CompilePolicy(pol)
	if err != nil {
		return nil, socbot.E("config", field, err)
	}
	return c, nil
}

func configDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := socbot.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, socbot.FieldError("config", "containment."+field, "bad duration %q", v)
	}
	return d, nil
}

// containmentService builds the service from the node's configuration, with the keyring that seals
// the tenants' connector credentials.
func containmentService(ctx context.Context, n *node) (*service.Service, *secrets.Keyring, error) {
	c := n.cfg.Containment
	keys, err := secrets.OpenKeyring(n.cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	rails := containment.DefaultRails(c.OwnEgress...)
	rails.MSSP.Add("mssp:config", c.NeverBlock...)
	if c.MaxPerHour > 0 {
		rails.MaxPerHour = c.MaxPerHour
	}
	var def *containment.Policy
	if c.Policy != nil {
		if def, err = c.Policy.compile("containment.policy"); err != nil {
			return nil, nil, err
		}
	}
	policies := containment.NewPolicies(def)
	for ref, ts := range c.Tenants {
		t, err := n.store.Tenant(ctx, ref)
		if err != nil {
			if t, err = n.store.TenantByName(ctx, ref); err != nil {
				return nil, nil, socbot.FieldError("config", "containment.tenants."+ref, "no such tenant")
			}
		}
		rails.SetTenant(t.ID, containment.TenantRails{AllowPrivate: ts.AllowPrivate, MaxPerHour: ts.MaxPerHour})
		if ts.Policy != nil {
			p, err := ts.Policy.compile("containment.tenants." + ref + ".policy")
			if err != nil {
				return nil, nil, err
			}
			policies.Set(t.ID, p)
		}
	}
	ex := containment.ExecutorConfig{BatchSize: c.BatchSize, MaxAttempts: c.MaxAttempts}
	var poll, lag time.Duration
	for _, d := range []struct {
		field, v string
		dst      *time.Duration
	}{{"lease", c.Lease, &ex.Lease}, {"call_timeout", c.CallTimeout, &ex.CallTimeout}, {"base_backoff", c.BaseBackoff, &ex.BaseBackoff},
		{"max_backoff", c.MaxBackoff, &ex.MaxBackoff}, {"breaker_cooldown", c.BreakerCooldown, &ex.BreakerCooldown},
		{"poll", c.Poll, &poll}, {"lag", c.Lag, &lag}} {
		if *d.dst, err = configDuration(d.field, d.v); err != nil {
			return nil, nil, err
		}
	}
	// Wakes are pushed by this node's triage; the executor also polls for work other nodes approved.
	ex.Poll = 250 * time.Millisecond
	svc, err := service.New(ctx, service.Config{Store: n.store, Sealer: keys, Clock: n.clock, Log: n.log.With("bot", "containment"),
		Rails: rails, Policies: policies, Executor: ex, Enrichers: func() []socbot.Enricher { return n.enrichers },
		EDLRoot: filepath.Join(n.cfg.Data, "edl"), Poll: poll, Lag: lag})
	return svc, keys, err
}

func startContainment(ctx context.Context, n *node) error {
	svc, keys, err := containmentService(ctx, n)
	if err != nil {
		return err
	}
	n.api.Containment = svc
	n.api.Mount("/edl", edlLists(n, svc, keys))
	n.observer = observers{n.observer, triageWake{svc}}
	n.run("containment-intel", func() error { return consumeIntelHandOffs(n.bctx, n, svc) })
	n.run("containment", func() error {
		err := svc.Run(n.bctx)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if serr := svc.SaveCursor(sctx); serr != nil {
			n.log.Warn("containment feed cursor not saved", "err", serr)
		}
		return err
	})
	return nil
}

// triageWake makes the containment feed poll as soon as triage committed alerts of incidents.
type triageWake struct{ svc *service.Service }

func (w triageWake) Triaged(alerts []*socbot.Alert, _ time.Time) {
	for _, a := range alerts {
		if a.IncidentID != 0 {
			w.svc.Wake()
			return
		}
	}
}

// edlLists serves the lists of the tenants' edl connectors at /edl/<tenant id>/<connector id>/<file>
// to firewalls, behind HTTP Basic auth with the connector's credentials "username" and "password".
func edlLists(n *node, svc *service.Service, keys *secrets.Keyring) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/edl"), "/"), "/")
		if len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		tenant, id := parts[0], parts[1]
		in, err := n.store.GetConnector(r.Context(), tenant, id)
		if err != nil || in.Type != edl.Type || len(in.SealedCredentials) == 0 {
			// Unknown lists and lists without serving credentials look alike to the caller.
			w.Header().Set("WWW-Authenticate", `Basic realm="socbot edl"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		conn, err := svc.Connectors().Connector(r.Context(), tenant, id)
		lists, ok := conn.(*edl.Connector)
		if err != nil || !ok {
			http.Error(w, "list unavailable", http.StatusServiceUnavailable)
			return
		}
		var creds map[string]string
		if err := keys.OpenJSON(tenant, in.SealedCredentials, &creds); err != nil {
			http.Error(w, "list unavailable", http.StatusServiceUnavailable)
			return
		}
		edl.Handler(in.Options["dir"], creds["username"], creds["password"], lists.Files()...).ServeHTTP(w, r)
	})
}

// consumeIntelHandOffs turns the intel bot's hand-offs (an indicator of a tenant crossed the tenant's
// containment threshold) into containment requests, through the same rails and approval policy as
// any other request: a durable JetStream consumer shared by every node that runs the containment
// bot. The stream is the intel bot's; until it exists (no node runs intel yet) this waits.
func consumeIntelHandOffs(ctx context.Context, n *node, svc *service.Service) error {
	js := n.bus.JetStream()
	var cons jetstream.Consumer
	wait := time.Second
	for cons == nil {
		c, err := js.CreateOrUpdateConsumer(ctx, intel.ContainmentStream, jetstream.ConsumerConfig{Durable: "containment",
			FilterSubject: intel.ContainmentSubject + ".>", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: -1})
		if err == nil {
			cons = c
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			n.log.Warn("containment: intel hand-off consumer not ready", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev intel.ContainmentEvent
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			n.log.Error("containment: malformed intel hand-off dropped", "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		var err error
		if ev.TenantID == "" {
			err = fanOutIntel(ctx, n, svc, ev, n.clock.Now())
		} else {
			err = intelRequest(ctx, svc, ev, n.clock.Now())
		}
		if err != nil {
			n.log.Warn("containment: intel hand-off will be retried", "tenant", ev.TenantID, "value", ev.Value, "err", err)
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return socbot.E("containment.intel", socbot.KindUnavailable, err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// fanOutIntel hands an MSSP-wide indicator (one of the MSSP's own feeds) to every client tenant
// whose containment threshold (intel.containment_threshold, or the tenant's own; 0 opts a tenant
// out) its score reaches and whose people may see its marking (intel.client_tlp): a TLP:RED
// indicator never ends up in a client's firewall. Each tenant's request goes through that tenant's
// rails and approval policy; a redelivery after a partial failure finds the done ones in the ledger.
//
// The intel configuration is the same socbot.yaml whether or not this node runs the intel bot; it is
// resolved against the tenants at each hand-off, so a tenant created since start counts.
func fanOutIntel(ctx context.Context, n *node, svc *service.Service, ev intel.ContainmentEvent, now time.Time) error {
	pol, err := n.cfg.Intel.policy(ctx, n.store)
	if err != nil {
		return err
	}
	tenants, err := n.store.Tenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tenants {
		th := pol.thresholdOf(t.ID)
		if th <= 0 || ev.Score < th || ev.TLP > pol.clientOf(t.ID) {
			continue
		}
		e := ev
		e.TenantID, e.Threshold = t.ID, th
		e.Reason = "MSSP-wide indicator"
		if ev.Reason != "" {
			e.Reason += "; " + ev.Reason
		}
		if err := intelRequest(ctx, svc, e, now); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// intelRequest asks for the block an intel hand-off of one tenant calls for: on every connector of
// the tenant that can, for as long as the indicator stays above the threshold (24 h when intel gives
// no end, at most 30 days).
func intelRequest(ctx context.Context, svc *service.Service, ev intel.ContainmentEvent, now time.Time) error {
	if ev.TenantID == "" || !ev.Action.Valid() || !ev.Action.IsForward() || strings.TrimSpace(ev.Value) == "" {
		return nil
	}
	ttl := 24 * time.Hour
	if !ev.ValidUntil.IsZero() {
		ttl = min(max(ev.ValidUntil.Sub(now), time.Hour), 30*24*time.Hour)
	}
	reason := fmt.Sprintf("intel: score %d reached the tenant's threshold %d", ev.Score, ev.Threshold)
	if ev.Reason != "" {
		reason += " (" + ev.Reason + ")"
	}
	if len(ev.Sources) > 0 {
		reason += "; sources " + strings.Join(ev.Sources, ", ")
	}
	_, err := svc.Bot().Request(ctx, containment.Request{TenantID: ev.TenantID, Kind: ev.Action, Value: ev.Value, TTL: ttl,
		RequestedBy: "bot:intel", Reason: reason, Confidence: ev.Confidence})
	if socbot.IsKind(err, socbot.KindNotFound) || socbot.IsKind(err, socbot.KindInvalid) {
		return nil // no connector of the tenant can do it, or nothing to act on: nothing to retry
	}
	return err
}
