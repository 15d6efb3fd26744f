package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/synth"
	"golang.org/x/crypto/bcrypt"
)

func init() {
	register("demo", "Start socbot on embedded defaults with two demo client tenants, replay a realistic mixed alert stream into them, and print the URLs, console sign-ins and API tokens to try.", &demoCmd{})
}

type demoCmd struct {
	Data   string  `help:"Data directory for the demo." default:"./socbot-demo-data" placeholder:"DIR"`
	Listen string  `help:"Address to serve on." default:"127.0.0.1:8080" placeholder:"ADDR"`
	Alerts int     `help:"Background alerts to replay per tenant after the scripted attack." default:"1500"`
	Rate   float64 `help:"Replay speed in alerts/s across both tenants." default:"500"`
	Fresh  bool    `help:"Delete the demo data directory first."`
	Once   bool    `help:"Exit after the replay instead of serving until Ctrl-C."`
}

// demoTenant is one demo client: its generator and its tokens.
type demoTenant struct {
	name    string
	tenant  socbot.Tenant
	gen     *synth.Generator
	tokens  map[socbot.Role]string
	jewel   synth.Story
	attack  synth.Story
	scanner string
}

func (c *demoCmd) Run(g *Globals) error {
	if c.Fresh {
		if err := os.RemoveAll(c.Data); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(g, storeFlags{Data: c.Data}, nil)
	if err != nil {
		return err
	}
	cfg.Listen = c.Listen
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := startNode(ctx, cfg, g.Logger(), nil)
	if err != nil {
		return err
	}
	defer n.Stop()

	admin, err := demoToken(ctx, n, socbot.RoleAdmin, "", "demo admin")
	if err != nil {
		return err
	}
	var tenants []*demoTenant
	for i, name := range []string{"acme-corp", "globex"} {
		dt, err := c.setupTenant(ctx, n, name, uint64(i+1))
		if err != nil {
			return err
		}
		tenants = append(tenants, dt)
	}
	fmt.Fprintf(os.Stderr, "replaying a scripted intrusion and %d background alerts per tenant at %.0f alerts/s…\n", c.Alerts, c.Rate)
	sent, err := c.replay(ctx, n, tenants)
	if err != nil {
		return err
	}
	// Wait for triage to catch up.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		got, err := n.store.CountAlerts(ctx, "")
		if err == nil && got >= int64(sent) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	logins, err := demoLogins(ctx, n, c.Data, tenants)
	if err != nil {
		return err
	}
	c.summary(ctx, n, tenants, admin)
	fmt.Printf("\nConsole at %s/ (sign in with an e-mail and password below):\n%s", n.URL(), logins)
	if c.Once {
		return nil
	}
	fmt.Println("\nsocbot is serving; press Ctrl-C to stop.")
	return n.Wait(ctx)
}

// demoLogins creates the console users of the demo on its first run (an MSSP analyst with every
// tenant, and a client viewer per tenant for the portal) with random passwords, keeps the sign-ins in
// demo-logins.txt in the data directory (0600: demo data only) and returns them for printing.
func demoLogins(ctx context.Context, n *node, data string, tenants []*demoTenant) (string, error) {
	path := filepath.Join(data, "demo-logins.txt")
	if b, err := os.ReadFile(path); err == nil {
		return string(b), nil
	}
	type login struct {
		user socbot.User
		what string
	}
	logins := []login{{socbot.User{Email: "soc@mssp.example", Name: "SOC analyst (MSSP)", Role: socbot.RoleAdmin}, "MSSP staff, every tenant"}}
	for _, dt := range tenants {
		logins = append(logins, login{socbot.User{Email: "viewer@" + dt.name + ".example", Name: dt.name + " security lead", Role: socbot.RoleViewer, TenantID: dt.tenant.ID},
			"client portal of " + dt.name})
	}
	var out strings.Builder
	for _, l := range logins {
		if _, _, err := n.store.UserByEmail(ctx, l.user.Email); err == nil {
			fmt.Fprintf(&out, "  %-30s (exists; its password was printed when it was made, --fresh starts over)\n", l.user.Email)
			continue
		}
		password := strings.ToLower(rand.Text())[:20]
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return "", err
		}
		u := l.user
		if err := n.store.CreateUser(ctx, &u, string(hash), socbot.Bot("demo")); err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "  %-30s password %s   %s\n", u.Email, password, l.what)
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		return "", err
	}
	return out.String(), nil
}

func demoToken(ctx context.Context, n *node, role socbot.Role, tenantID, name string) (string, error) {
	secret, hash := socbot.NewTokenSecret()
	tok := socbot.Token{Role: role, TenantID: tenantID, Name: name, Hash: hash, Prefix: secret[:12]}
	return secret, n.store.CreateToken(ctx, &tok, socbot.Bot("demo"))
}

// setupTenant creates the tenant (or reuses it) with an asset inventory, indicator lists, a suppression
// rule, a routing rule and tokens for every role.
func (c *demoCmd) setupTenant(ctx context.Context, n *node, name string, seed uint64) (*demoTenant, error) {
	by := socbot.Bot("demo")
	dt := &demoTenant{name: name, gen: synth.New(synth.Config{Tenant: strings.SplitN(name, "-", 2)[0], Stories: 300, Seed: seed}), tokens: map[socbot.Role]string{}}
	stories := dt.gen.Stories()
	dt.jewel, dt.attack, dt.scanner = stories[1], stories[2], stories[7].Host
	t, err := n.store.TenantByName(ctx, name)
	fresh := socbot.IsKind(err, socbot.KindNotFound)
	switch {
	case fresh:
		t = socbot.Tenant{Name: name, TimeZone: map[string]string{"acme-corp": "Europe/Berlin", "globex": "America/New_York"}[name]}
		t.Settings = socbot.DefaultSettings()
		t.Settings.CorrelationExclude = []string{dt.gen.Egress()}
		if err := n.store.CreateTenant(ctx, &t, by); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	dt.tenant = t
	if fresh {
		assets := []socbot.Asset{
			{Hostname: dt.jewel.Host, IPs: []string{dt.jewel.InternalIP}, Owner: "finance", Criticality: "critical", CrownJewel: true, Tags: []string{"erp", "pci"}},
			{Hostname: dt.attack.Host, IPs: []string{dt.attack.InternalIP}, Owner: dt.attack.User, Criticality: "medium"},
			{Hostname: dt.scanner, Owner: "secops", Criticality: "low", Tags: []string{"vulnerability-scanner"}},
		}
		for _, s := range stories[10:40] {
			assets = append(assets, socbot.Asset{Hostname: s.Host, IPs: []string{s.InternalIP}, Owner: s.User, Criticality: "medium"})
		}
		if _, err := n.store.UpsertAssets(ctx, t.ID, assets, by); err != nil {
			return nil, err
		}
		if _, err := n.store.AddListIndicators(ctx, t.ID, []socbot.ListIndicator{
			{Type: "ip", Value: dt.attack.ExternalIP, List: socbot.ListBad, Description: "C2 server from the MSSP's own investigation"},
			{Type: "ip", Value: dt.gen.Egress(), List: socbot.ListGood, Description: "client's NAT egress"},
		}, by); err != nil {
			return nil, err
		}
		rule := socbot.SuppressionRule{TenantID: t.ID, Name: "authorised vulnerability scanner", Enabled: true,
			Expression: fmt.Sprintf("%q in alert.hosts", dt.scanner), Reason: "weekly authenticated scan by the client's secops team"}
		if err := n.store.CreateSuppression(ctx, &rule, by); err != nil {
			return nil, err
		}
		if err := n.store.CreateRoutingRule(ctx, &socbot.RoutingRule{TenantID: t.ID, Name: "P1 to incident response", Expression: `incident.priority == "P1"`, Queue: "incident-response"}, by); err != nil {
			return nil, err
		}
		if err := n.store.CreateQueue(ctx, &socbot.Queue{TenantID: t.ID, Name: "incident-response", Description: "P1 incidents: page the on-call responder"}, by); err != nil {
			return nil, err
		}
	}
	for _, r := range []socbot.Role{socbot.RoleAnalyst, socbot.RoleViewer, socbot.RoleIngest} {
		tok, err := demoToken(ctx, n, r, t.ID, "demo "+string(r))
		if err != nil {
			return nil, err
		}
		dt.tokens[r] = tok
	}
	return dt, nil
}

// replay posts the scripted intrusion on each tenant's crown jewel, then background alerts from every
// format, through the real ingest API at the requested rate. It returns how many alerts were sent.
func (c *demoCmd) replay(ctx context.Context, n *node, tenants []*demoTenant) (int, error) {
	client := &http.Client{Timeout: time.Minute}
	sent := 0
	post := func(dt *demoTenant, records [][]byte) error {
		body := bytes.Join(records, []byte("\n"))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/api/v1/alerts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+dt.tokens[socbot.RoleIngest])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("ingest for %s answered %s: %s", dt.name, resp.Status, b)
		}
		sent += len(records)
		return nil
	}
	now := time.Now().UTC()
	for _, dt := range tenants {
		// The attack: phishing on a workstation, C2, then the same user on the crown jewel.
		bridge := synth.Story{Host: dt.jewel.Host, User: dt.attack.User, InternalIP: dt.jewel.InternalIP, ExternalIP: dt.attack.ExternalIP, Hash: dt.attack.Hash}
		var script [][]byte
		for i, step := range []struct {
			format string
			story  synth.Story
		}{
			{"defender", dt.attack}, {"crowdstrike", dt.attack}, {"suricata", dt.attack}, {"elastic", dt.attack},
			{"sentinelone", dt.jewel}, {"crowdstrike", bridge}, {"wazuh", dt.jewel},
		} {
			script = append(script, dt.gen.Record(step.format, fmt.Sprintf("%s-attack-%d-%d", dt.name, now.Unix(), i), step.story, now))
		}
		// Noise the suppression rule closes, and repeats that dedupe folds.
		scanner := synth.Story{Host: dt.scanner, User: "svc-scan", InternalIP: "10.99.0.5", ExternalIP: "10.99.0.5"}
		for i := 0; i < 5; i++ {
			script = append(script, dt.gen.Record("wazuh", fmt.Sprintf("%s-scan-%d-%d", dt.name, now.Unix(), i), scanner, now))
		}
		if err := post(dt, script); err != nil {
			return sent, err
		}
	}
	batch := 50
	interval := time.Duration(float64(time.Second) * float64(batch) / c.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for done := 0; done < c.Alerts; done += batch {
		for _, dt := range tenants {
			var recs [][]byte
			for j := 0; j < min(batch, c.Alerts-done); j++ {
				_, _, rec := dt.gen.Next(time.Now().UTC())
				recs = append(recs, rec)
			}
			if err := post(dt, recs); err != nil {
				return sent, err
			}
		}
		select {
		case <-ctx.Done():
			return sent, nil
		case <-tick.C:
		}
	}
	return sent, nil
}

func containsEntity(i socbot.Incident, e string) bool {
	for _, x := range i.Entities {
		if strings.HasPrefix(x, e) {
			return true
		}
	}
	return strings.Contains(i.Title, strings.TrimPrefix(e, "host:"))
}

func (c *demoCmd) summary(ctx context.Context, n *node, tenants []*demoTenant, admin string) {
	url := n.URL()
	fmt.Printf("\nsocbot demo is running at %s (data in %s)\n", url, c.Data)
	for _, dt := range tenants {
		alerts, _ := n.store.CountAlerts(ctx, dt.tenant.ID)
		incs, _ := n.store.Incidents(ctx, socbot.IncidentFilter{TenantID: dt.tenant.ID, Open: true, Limit: 1000})
		byPrio := map[string]int{}
		for _, i := range incs {
			byPrio[i.Priority.String()]++
		}
		fmt.Printf("\nTenant %s (%s): %d alerts triaged into %d open incidents (P1 %d, P2 %d, P3 %d, P4 %d)\n",
			dt.name, dt.tenant.ID, alerts, len(incs), byPrio["P1"], byPrio["P2"], byPrio["P3"], byPrio["P4"])
		for _, i := range incs {
			if full, err := n.store.Incident(ctx, dt.tenant.ID, i.ID); err == nil && containsEntity(full, "host:"+dt.jewel.Host) {
				i = full
				fmt.Printf("  the scripted intrusion: #%d %s [%s, queue %s, %d alerts]\n", i.Number, i.Title, i.Priority, i.Queue, i.AlertCount)
				for _, r := range i.Reasons[:min(len(i.Reasons), 4)] {
					fmt.Printf("      - %s\n", r)
				}
			}
		}
		fmt.Printf("  analyst token: %s\n  viewer token:  %s\n  ingest token:  %s\n", dt.tokens[socbot.RoleAnalyst], dt.tokens[socbot.RoleViewer], dt.tokens[socbot.RoleIngest])
	}
	a := tenants[0]
	fmt.Printf(`
MSSP admin token (every tenant): %s

Try:
  curl -s -H "Authorization: Bearer %s" %s/api/v1/incidents?priority=P1
  curl -s -H "Authorization: Bearer %s" %s/api/v1/queues
  curl -s -H "Authorization: Bearer %s" %s/api/v1/incidents          # all tenants
  curl -s %s/api/v1/openapi.json                                     # the API
  curl -s %s/metrics | grep socbot_
  go run ./cmd/socbot ingest FILE... --url %s --token %s           # your own alerts
`, admin, a.tokens[socbot.RoleAnalyst], url, a.tokens[socbot.RoleViewer], url, admin, url, url, url, url, a.tokens[socbot.RoleIngest])
}
