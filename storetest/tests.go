package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

func testTenants(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	if a.ID == "" || a.TimeZone != "UTC" || a.Settings.Window() != 24*time.Hour {
		t.Fatalf("tenant defaults not filled: %+v", a)
	}
	got, err := s.Tenant(ctx(), a.ID)
	must(t, err)
	eq(t, "name", got.Name, "acme")
	byName, err := s.TenantByName(ctx(), "acme")
	must(t, err)
	eq(t, "id by name", byName.ID, a.ID)

	dup := socbot.Tenant{Name: "acme"}
	err = s.CreateTenant(ctx(), &dup, admin)
	wantField(t, err, "name")
	bad := socbot.Tenant{Name: "no spaces allowed"}
	wantField(t, s.CreateTenant(ctx(), &bad, admin), "name")
	badTZ := socbot.Tenant{Name: "tz", TimeZone: "Mars/Olympus"}
	wantField(t, s.CreateTenant(ctx(), &badTZ, admin), "time_zone")

	_, err = s.Tenant(ctx(), "nope")
	wantKind(t, err, socbot.KindNotFound)

	v0, err := s.ConfigVersion(ctx(), a.ID)
	must(t, err)
	got.Settings.CorrelationWindow = socbot.Duration(2 * time.Hour)
	got.TimeZone = "Europe/Berlin"
	must(t, s.UpdateTenant(ctx(), got, admin))
	v1, _ := s.ConfigVersion(ctx(), a.ID)
	if v1 <= v0 {
		t.Fatalf("config version did not move: %d -> %d", v0, v1)
	}
	got, _ = s.Tenant(ctx(), a.ID)
	eq(t, "window", got.Settings.Window(), 2*time.Hour)
	eq(t, "tz", got.TimeZone, "Europe/Berlin")

	tenant(t, s, "globex")
	all, err := s.Tenants(ctx())
	must(t, err)
	eq(t, "tenants", len(all), 2)
	eq(t, "order", all[0].Name, "acme")
}

func testTokens(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	secret, hash := socbot.NewTokenSecret()
	tok := socbot.Token{Role: socbot.RoleIngest, TenantID: a.ID, Hash: hash, Prefix: secret[:8], Name: "edr"}
	must(t, s.CreateToken(ctx(), &tok, admin))
	got, err := s.TokenByHash(ctx(), socbot.HashToken(secret))
	must(t, err)
	eq(t, "token id", got.ID, tok.ID)
	eq(t, "role", got.Role, socbot.RoleIngest)
	eq(t, "tenant", got.TenantID, a.ID)

	_, h2 := socbot.NewTokenSecret()
	wantField(t, s.CreateToken(ctx(), &socbot.Token{Role: socbot.RoleAdmin, TenantID: a.ID, Hash: h2}, admin), "tenant")
	wantField(t, s.CreateToken(ctx(), &socbot.Token{Role: socbot.RoleAnalyst, Hash: h2}, admin), "tenant")
	wantField(t, s.CreateToken(ctx(), &socbot.Token{Role: "root", TenantID: a.ID, Hash: h2}, admin), "role")
	adm := socbot.Token{Role: socbot.RoleAdmin, Hash: h2, Prefix: "x"}
	must(t, s.CreateToken(ctx(), &adm, admin))

	list, err := s.Tokens(ctx(), a.ID)
	must(t, err)
	eq(t, "tenant tokens", len(list), 1)
	all, _ := s.Tokens(ctx(), "")
	eq(t, "all tokens", len(all), 2)

	// Another tenant cannot revoke it.
	wantKind(t, s.RevokeToken(ctx(), b.ID, tok.ID, admin), socbot.KindNotFound)
	must(t, s.RevokeToken(ctx(), a.ID, tok.ID, admin))
	got, _ = s.TokenByHash(ctx(), hash)
	if got.RevokedAt == nil {
		t.Fatal("token not revoked")
	}
	wantKind(t, s.RevokeToken(ctx(), a.ID, tok.ID, admin), socbot.KindNotFound)
	must(t, s.TouchToken(ctx(), adm.ID, in.Clock.Now()))
	got, _ = s.TokenByHash(ctx(), h2)
	if got.LastUsedAt == nil {
		t.Fatal("last used not recorded")
	}
}

func testUsers(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	u := socbot.User{Email: "Ann@Example.com", Role: socbot.RoleAnalyst, TenantID: a.ID}
	must(t, s.CreateUser(ctx(), &u, "hash", admin))
	got, hash, err := s.UserByEmail(ctx(), "ann@example.com")
	must(t, err)
	eq(t, "hash", hash, "hash")
	eq(t, "email", got.Email, "ann@example.com")
	wantField(t, s.CreateUser(ctx(), &socbot.User{Email: "x@y.z", Role: socbot.RoleAdmin, TenantID: a.ID}, "", admin), "tenant")
	wantField(t, s.CreateUser(ctx(), &socbot.User{Email: "nope", Role: socbot.RoleViewer, TenantID: a.ID}, "", admin), "email")
	wantKind(t, s.CreateUser(ctx(), &socbot.User{Email: "ann@example.com", Role: socbot.RoleViewer, TenantID: a.ID}, "", admin), socbot.KindConflict)
	list, _ := s.Users(ctx(), a.ID)
	eq(t, "users", len(list), 1)
}

func testAssets(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	v0, _ := s.ConfigVersion(ctx(), a.ID)
	n, err := s.UpsertAssets(ctx(), a.ID, []socbot.Asset{
		{Hostname: "DB-01", IPs: []string{"10.0.0.5"}, Criticality: "Critical", Tags: []string{"crown_jewel"}, Owner: "dba"},
		{Hostname: "ws-17", IPs: []string{"::ffff:10.0.0.17"}, Criticality: "low"},
	}, admin)
	must(t, err)
	eq(t, "upserted", n, 2)
	v1, _ := s.ConfigVersion(ctx(), a.ID)
	if v1 == v0 {
		t.Fatal("asset import did not bump the config version")
	}
	list, err := s.Assets(ctx(), a.ID, 0, 0)
	must(t, err)
	eq(t, "assets", len(list), 2)
	eq(t, "hostname lowered", list[0].Hostname, "db-01")
	if !list[0].CrownJewel || list[0].Criticality != "critical" {
		t.Fatalf("crown jewel / criticality not kept: %+v", list[0])
	}
	eq(t, "mapped ip unwrapped", list[1].IPs[0], "10.0.0.17")

	// Upsert replaces by hostname.
	_, err = s.UpsertAssets(ctx(), a.ID, []socbot.Asset{{Hostname: "db-01", Criticality: "high"}}, admin)
	must(t, err)
	list, _ = s.Assets(ctx(), a.ID, 0, 0)
	eq(t, "still two", len(list), 2)
	eq(t, "replaced", list[0].Criticality, "high")

	_, err = s.UpsertAssets(ctx(), a.ID, []socbot.Asset{{Hostname: "ok"}, {Hostname: "x", IPs: []string{"300.1.1.1"}}}, admin)
	wantField(t, err, "[1].ips[0]")
	_, err = s.UpsertAssets(ctx(), a.ID, []socbot.Asset{{Hostname: "x", Criticality: "extreme"}}, admin)
	wantField(t, err, "[0].criticality")

	_, err = s.Asset(ctx(), b.ID, list[0].ID)
	wantKind(t, err, socbot.KindNotFound)
	wantKind(t, s.DeleteAsset(ctx(), b.ID, list[0].ID, admin), socbot.KindNotFound)
	must(t, s.DeleteAsset(ctx(), a.ID, list[0].ID, admin))
	list, _ = s.Assets(ctx(), a.ID, 0, 0)
	eq(t, "after delete", len(list), 1)
}

func testListIndicators(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	n, err := s.AddListIndicators(ctx(), a.ID, []socbot.ListIndicator{
		{Type: "ip", Value: "203.0.113.9", List: socbot.ListBad, Description: "C2"},
		{Type: "domain", Value: "Evil.Example.", List: socbot.ListBad},
		{Type: "cidr", Value: "198.51.100.7/24", List: socbot.ListGood},
		{Type: "sha256", Value: strings.Repeat("AB", 32)},
	}, admin)
	must(t, err)
	eq(t, "added", n, 4)
	list, err := s.ListIndicators(ctx(), a.ID)
	must(t, err)
	eq(t, "count", len(list), 4)
	eq(t, "domain normalised", list[1].Value, "evil.example")
	eq(t, "cidr masked", list[2].Value, "198.51.100.0/24")
	eq(t, "default list", list[3].List, socbot.ListBad)
	eq(t, "hash lowered", list[3].Value, strings.Repeat("ab", 32))

	_, err = s.AddListIndicators(ctx(), a.ID, []socbot.ListIndicator{{Type: "md5", Value: "ddd"}}, admin)
	wantField(t, err, "[0].value")
	_, err = s.AddListIndicators(ctx(), a.ID, []socbot.ListIndicator{{Type: "ip", Value: "1.2.3.4", List: "maybe"}}, admin)
	wantField(t, err, "[0].list")
	_, err = s.AddListIndicators(ctx(), a.ID, []socbot.ListIndicator{{Type: "ja3", Value: "x"}}, admin)
	wantField(t, err, "[0].type")

	other, _ := s.ListIndicators(ctx(), b.ID)
	eq(t, "other tenant sees none", len(other), 0)
	wantKind(t, s.DeleteListIndicator(ctx(), b.ID, list[0].ID, admin), socbot.KindNotFound)
	must(t, s.DeleteListIndicator(ctx(), a.ID, list[0].ID, admin))
}

func testRules(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	exp := in.Clock.Now().Add(24 * time.Hour)
	r := socbot.SuppressionRule{TenantID: a.ID, Name: "scanner", Expression: `"scanner-01" in alert.hosts`, Reason: "vuln scanner", Enabled: true, ExpiresAt: &exp}
	must(t, s.CreateSuppression(ctx(), &r, admin))
	eq(t, "author defaults to actor", r.Author, admin.Name)
	wantField(t, s.CreateSuppression(ctx(), &socbot.SuppressionRule{TenantID: a.ID, Name: "x", Expression: "true"}, admin), "reason")
	got, err := s.Suppression(ctx(), a.ID, r.ID)
	must(t, err)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) {
		t.Fatalf("expiry lost: %+v", got.ExpiresAt)
	}
	_, err = s.Suppression(ctx(), b.ID, r.ID)
	wantKind(t, err, socbot.KindNotFound)
	got.Enabled = false
	must(t, s.UpdateSuppression(ctx(), got, admin))
	got.TenantID = b.ID
	wantKind(t, s.UpdateSuppression(ctx(), got, admin), socbot.KindNotFound)
	list, _ := s.Suppressions(ctx(), a.ID)
	if len(list) != 1 || list[0].Enabled {
		t.Fatalf("suppression list: %+v", list)
	}
	wantKind(t, s.DeleteSuppression(ctx(), b.ID, r.ID, admin), socbot.KindNotFound)
	must(t, s.DeleteSuppression(ctx(), a.ID, r.ID, admin))

	must(t, s.CreateRoutingRule(ctx(), &socbot.RoutingRule{Position: 1, Expression: "true", Queue: "mssp-default"}, admin))
	must(t, s.CreateRoutingRule(ctx(), &socbot.RoutingRule{TenantID: a.ID, Position: 2, Expression: `incident.priority == "P1"`, Queue: "ir"}, admin))
	must(t, s.CreateRoutingRule(ctx(), &socbot.RoutingRule{TenantID: a.ID, Position: 1, Expression: `incident.category == "malware"`, Queue: "malware"}, admin))
	rr, err := s.RoutingRules(ctx(), a.ID)
	must(t, err)
	var queues []string
	for _, x := range rr {
		queues = append(queues, x.Queue)
	}
	sliceEq(t, "routing order", queues, []string{"malware", "ir", "mssp-default"})
	rb, _ := s.RoutingRules(ctx(), b.ID)
	eq(t, "other tenant sees only MSSP rules", len(rb), 1)
	wantKind(t, s.DeleteRoutingRule(ctx(), b.ID, rr[0].ID, admin), socbot.KindNotFound)

	must(t, s.CreateQueue(ctx(), &socbot.Queue{Name: "tier2"}, admin))
	must(t, s.CreateQueue(ctx(), &socbot.Queue{TenantID: a.ID, Name: "acme-vip"}, admin))
	wantField(t, s.CreateQueue(ctx(), &socbot.Queue{Name: "tier2"}, admin), "name")
	qa, _ := s.Queues(ctx(), a.ID)
	qb, _ := s.Queues(ctx(), b.ID)
	eq(t, "acme queues", len(qa), 2)
	eq(t, "globex queues", len(qb), 1)
}

func testTriageIncidents(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	i1 := newIncident(t, in, a.ID, "first", socbot.P3)
	i2 := newIncident(t, in, a.ID, "second", socbot.P2)
	j1 := newIncident(t, in, b.ID, "other tenant", socbot.P4)
	eq(t, "first number", i1.Number, int64(1))
	eq(t, "second number", i2.Number, int64(2))
	eq(t, "numbers are per tenant", j1.Number, int64(1))

	later := in.Clock.Now().Add(time.Minute)
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		return tx.TouchIncident(socbot.IncidentDelta{ID: i1.ID, TenantID: a.ID, AddAlerts: 3, LastSeen: later, Priority: socbot.P1,
			Confidence: 80, Reasons: []string{"r1"}, Tactics: []string{"TA0002"}, Techniques: []string{"T1059"}})
	}))
	got, err := s.Incident(ctx(), a.ID, i1.ID)
	must(t, err)
	eq(t, "alert count", got.AlertCount, 4)
	eq(t, "priority raised", got.Priority, socbot.P1)
	eq(t, "last seen", got.LastSeen, later.Truncate(time.Microsecond))
	sliceEq(t, "techniques", got.Techniques, []string{"T1059"})
	// A less urgent priority never lowers it.
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		return tx.TouchIncident(socbot.IncidentDelta{ID: i1.ID, TenantID: a.ID, AddAlerts: 1, LastSeen: in.Clock.Now(), Priority: socbot.P4})
	}))
	got, _ = s.Incident(ctx(), a.ID, i1.ID)
	eq(t, "priority kept", got.Priority, socbot.P1)
	eq(t, "last seen never goes back", got.LastSeen, later.Truncate(time.Microsecond))

	// Wrong tenant: nothing found, nothing touched.
	err = s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		return tx.TouchIncident(socbot.IncidentDelta{ID: i1.ID, TenantID: b.ID, AddAlerts: 1, LastSeen: later})
	})
	wantKind(t, err, socbot.KindConflict)
	_, err = s.Incident(ctx(), b.ID, i1.ID)
	wantKind(t, err, socbot.KindNotFound)

	// Closed incidents cannot be touched by triage.
	fp := socbot.StatusFalsePositive
	_, err = s.UpdateIncident(ctx(), a.ID, i2.ID, socbot.IncidentUpdate{Status: &fp}, admin)
	must(t, err)
	err = s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		return tx.TouchIncident(socbot.IncidentDelta{ID: i2.ID, TenantID: a.ID, AddAlerts: 1, LastSeen: later})
	})
	wantKind(t, err, socbot.KindConflict)

	list, err := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID})
	must(t, err)
	eq(t, "listed", len(list), 2)
	eq(t, "newest first", list[0].ID, i2.ID)
	open, _ := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Open: true})
	eq(t, "open", len(open), 1)
	search, _ := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Search: "FIRST"})
	eq(t, "search", len(search), 1)
	byNum, _ := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Search: "#2"})
	if len(byNum) != 1 || byNum[0].Number != 2 {
		t.Fatalf("search by number: %+v", byNum)
	}
	p1, _ := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Priority: []socbot.Priority{socbot.P1}})
	eq(t, "priority filter", len(p1), 1)

	// Many incidents in one transaction, one of them twice: written together, the repeat merged.
	i3 := newIncident(t, in, a.ID, "third", socbot.P4)
	i4 := newIncident(t, in, a.ID, "fourth", socbot.P3)
	latest := later.Add(time.Minute)
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		for _, d := range []socbot.IncidentDelta{
			{ID: i3.ID, TenantID: a.ID, AddAlerts: 2, LastSeen: later, Priority: socbot.P3, Confidence: 40},
			{ID: i4.ID, TenantID: a.ID, AddAlerts: 5, LastSeen: later, Priority: socbot.P3, Confidence: 50, Reasons: []string{"r4"}},
			{ID: i3.ID, TenantID: a.ID, AddAlerts: 1, LastSeen: latest, Priority: socbot.P2, Confidence: 60, Reasons: []string{"r3"}},
		} {
			if err := tx.TouchIncident(d); err != nil {
				return err
			}
		}
		return nil
	}))
	g3, _ := s.Incident(ctx(), a.ID, i3.ID)
	eq(t, "batched count", g3.AlertCount, 4)
	eq(t, "batched last seen", g3.LastSeen, latest.Truncate(time.Microsecond))
	eq(t, "batched priority", g3.Priority, socbot.P2)
	eq(t, "batched confidence is the last one", g3.Confidence, 60)
	sliceEq(t, "batched reasons", g3.Reasons, []string{"r3"})
	g4, _ := s.Incident(ctx(), a.ID, i4.ID)
	eq(t, "other batched count", g4.AlertCount, 6)
	// A closed incident among open ones fails the transaction: none of them changes.
	err = s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		for _, id := range []int64{i3.ID, i2.ID, i4.ID} {
			if err := tx.TouchIncident(socbot.IncidentDelta{ID: id, TenantID: a.ID, AddAlerts: 10, LastSeen: latest, Priority: socbot.P4}); err != nil {
				return err
			}
		}
		return nil
	})
	wantKind(t, err, socbot.KindConflict)
	g4, _ = s.Incident(ctx(), a.ID, i4.ID)
	eq(t, "count after a failed batch", g4.AlertCount, 6)
}

func testIncidentNumbersConcurrent(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				now := in.Clock.Now()
				inc := socbot.Incident{TenantID: a.ID, Title: "x", Priority: socbot.P3, Queue: "triage", FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now}
				if err := s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.CreateIncident(&inc) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Limit: 1000})
	must(t, err)
	eq(t, "incidents", len(list), workers*each)
	seen := map[int64]bool{}
	for _, i := range list {
		if seen[i.Number] {
			t.Fatalf("duplicate incident number %d", i.Number)
		}
		seen[i.Number] = true
	}
	for n := int64(1); n <= workers*each; n++ {
		if !seen[n] {
			t.Fatalf("incident number %d missing: numbers must be contiguous", n)
		}
	}
}

func sampleAlert(tenantID string, i int, now time.Time) *socbot.Alert {
	a := &socbot.Alert{
		UID: socbot.NewID(), TenantID: tenantID, Format: "crowdstrike", Vendor: "CrowdStrike", Product: "Falcon",
		SourceID: fmt.Sprintf("ldt:%d", i), RuleID: "r-1", RuleName: "Credential dumping", Title: fmt.Sprintf("Mimikatz <%d> \"quoted\"\n", i),
		Description: "d", Category: "credential-access", Severity: socbot.SeverityHigh, SeverityScore: 70, SeverityRaw: "High",
		Tactics: []string{"TA0006"}, Techniques: []string{"T1003.001"}, DetectedAt: now.Add(-time.Minute), ReceivedAt: now,
		Flags: []string{socbot.FlagTimeMissing}, Raw: []byte(fmt.Sprintf(`{"n":%d}`, i)), Fingerprint: "fp", Priority: socbot.P2,
		Confidence: 75, Reasons: []string{"host db-01 is a crown jewel"}, Status: socbot.AlertOpen,
		Enrichment: []socbot.Enrichment{{Enricher: "assets", Observable: "host:db-01", CrownJewel: true}},
	}
	a.AddObservable(socbot.ObsHost, "db-01", socbot.AsTarget)
	a.AddObservable(socbot.ObsIP, "203.0.113.9", socbot.AsDestination)
	a.AddObservable(socbot.ObsUser, `CORP\ann`, socbot.AsActor)
	return a
}

func testAlertsRoundTrip(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	inc := newIncident(t, in, a.ID, "inc", socbot.P2)
	now := in.Clock.Now()
	var alerts []*socbot.Alert
	for i := 0; i < 70; i++ { // two full insert batches and a remainder
		al := sampleAlert(a.ID, i, now)
		al.IncidentID = inc.ID
		alerts = append(alerts, al)
	}
	// Large records are stored compressed and must come back byte for byte.
	alerts[0].Raw = []byte(`{"big":"` + strings.Repeat("abcdefgh", 200) + `","n":0}`)
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.InsertAlerts(alerts) }))
	n, err := s.CountAlerts(ctx(), a.ID)
	must(t, err)
	eq(t, "stored", n, int64(70))
	nb, _ := s.CountAlerts(ctx(), b.ID)
	eq(t, "other tenant", nb, int64(0))

	list, err := s.Alerts(ctx(), socbot.AlertFilter{TenantID: a.ID, IncidentID: inc.ID, Limit: 1000})
	must(t, err)
	eq(t, "by incident", len(list), 70)
	got := list[len(list)-1] // oldest = alerts[0]
	want := alerts[0]
	eq(t, "title", got.Title, want.Title)
	eq(t, "uid", got.UID, want.UID)
	eq(t, "severity", got.Severity, socbot.SeverityHigh)
	eq(t, "priority", got.Priority, socbot.P2)
	eq(t, "raw", string(got.Raw), string(want.Raw))
	eq(t, "detected", got.DetectedAt, want.DetectedAt.Truncate(time.Microsecond))
	eq(t, "observables", len(got.Observables), 3)
	eq(t, "user kept", got.Observables[2].Value, `CORP\ann`)
	eq(t, "role", got.Observables[0].Role, socbot.AsTarget)
	sliceEq(t, "techniques", got.Techniques, want.Techniques)
	sliceEq(t, "flags", got.Flags, want.Flags)
	eq(t, "enrichment", len(got.Enrichment), 1)
	if !got.Enrichment[0].CrownJewel {
		t.Fatal("enrichment lost")
	}

	one, err := s.Alert(ctx(), a.ID, got.ID)
	must(t, err)
	eq(t, "by id", one.UID, got.UID)
	_, err = s.Alert(ctx(), b.ID, got.ID)
	wantKind(t, err, socbot.KindNotFound)

	page1, _ := s.Alerts(ctx(), socbot.AlertFilter{TenantID: a.ID, Limit: 50})
	page2, _ := s.Alerts(ctx(), socbot.AlertFilter{TenantID: a.ID, Limit: 50, AfterID: page1[len(page1)-1].ID})
	eq(t, "page 2", len(page2), 20)
}

func testProcessed(t *testing.T, in Instance) {
	s := in.Store
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.MarkProcessed("ALERTS", 7) }))
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		seen, err := tx.Processed("ALERTS", 7)
		if err != nil {
			return err
		}
		if !seen {
			return fmt.Errorf("message 7 not recorded")
		}
		seen, err = tx.Processed("ALERTS", 8)
		if seen {
			return fmt.Errorf("message 8 recorded but never processed")
		}
		return err
	}))
	// A rolled-back transaction records nothing.
	_ = s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		if err := tx.MarkProcessed("ALERTS", 9); err != nil {
			return err
		}
		return fmt.Errorf("abort")
	})
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		seen, err := tx.Processed("ALERTS", 9)
		if seen {
			return fmt.Errorf("rolled-back mark survived")
		}
		return err
	}))
}

func testPruneProcessed(t *testing.T, in Instance) {
	type pruner interface {
		PruneProcessed(ctx context.Context, before time.Time) (int64, error)
	}
	p, ok := in.Store.(pruner)
	if !ok {
		t.Skip("store cannot prune")
	}
	must(t, in.Store.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.MarkProcessed("S", 1) }))
	in.Clock.Advance(8 * 24 * time.Hour)
	must(t, in.Store.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.MarkProcessed("S", 2) }))
	n, err := p.PruneProcessed(ctx(), in.Clock.Now().Add(-7*24*time.Hour))
	must(t, err)
	eq(t, "pruned", n, int64(1))
	must(t, in.Store.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		if seen, _ := tx.Processed("S", 2); !seen {
			return fmt.Errorf("recent record pruned")
		}
		return nil
	}))
}

func testMerge(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	x := newIncident(t, in, a.ID, "x", socbot.P3, "host:ws-1")
	y := newIncident(t, in, a.ID, "y", socbot.P1, "user:bob", "host:ws-2")
	now := in.Clock.Now()
	al := sampleAlert(a.ID, 1, now)
	al.IncidentID = y.ID
	g := socbot.AlertGroup{TenantID: a.ID, Fingerprint: "f", IncidentID: y.ID, Count: 1, FirstSeen: now, LastSeen: now}
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		if err := tx.CreateGroup(&g); err != nil {
			return err
		}
		al.GroupID = g.ID
		return tx.InsertAlerts([]*socbot.Alert{al})
	}))
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.Merge(a.ID, x.ID, []int64{y.ID}, now, socbot.Bot("triage")) }))
	gx, _ := s.Incident(ctx(), a.ID, x.ID)
	gy, _ := s.Incident(ctx(), a.ID, y.ID)
	eq(t, "merged status", gy.Status, socbot.StatusMerged)
	eq(t, "merged into", gy.MergedInto, x.ID)
	eq(t, "alert count", gx.AlertCount, 2)
	eq(t, "priority from merged", gx.Priority, socbot.P1)
	sliceEq(t, "entities", gx.Entities, []string{"host:ws-1", "host:ws-2", "user:bob"})
	eq(t, "entities moved", len(gy.Entities), 0)
	list, _ := s.Alerts(ctx(), socbot.AlertFilter{TenantID: a.ID, IncidentID: x.ID})
	eq(t, "alert moved", len(list), 1)
	// Merging an incident that is no longer open fails and changes nothing.
	err := s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.Merge(a.ID, x.ID, []int64{y.ID}, now, socbot.Bot("triage")) })
	wantKind(t, err, socbot.KindConflict)
	gx2, _ := s.Incident(ctx(), a.ID, x.ID)
	eq(t, "count unchanged", gx2.AlertCount, 2)
}

func testUpdateIncident(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	inc := newIncident(t, in, a.ID, "inc", socbot.P3, "host:ws-1")
	now := in.Clock.Now()
	g := socbot.AlertGroup{TenantID: a.ID, Fingerprint: "f", IncidentID: inc.ID, Count: 1, FirstSeen: now, LastSeen: now}
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.CreateGroup(&g) }))

	ack, who, p2 := socbot.StatusAcknowledged, "ann", socbot.P2
	analyst := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: a.ID, Name: "token:ann"}
	got, err := s.UpdateIncident(ctx(), a.ID, inc.ID, socbot.IncidentUpdate{Status: &ack, Assignee: &who, Priority: &p2, Reason: "looking"}, analyst)
	must(t, err)
	eq(t, "status", got.Status, socbot.StatusAcknowledged)
	if got.AcknowledgedAt == nil {
		t.Fatal("acknowledged_at not set")
	}
	_, err = s.UpdateIncident(ctx(), b.ID, inc.ID, socbot.IncidentUpdate{Status: &ack}, analyst)
	wantKind(t, err, socbot.KindNotFound)
	bogus := "closed"
	_, err = s.UpdateIncident(ctx(), a.ID, inc.ID, socbot.IncidentUpdate{Status: &bogus}, analyst)
	wantField(t, err, "status")
	newS := socbot.StatusNew
	_, err = s.UpdateIncident(ctx(), a.ID, inc.ID, socbot.IncidentUpdate{Status: &newS}, analyst)
	wantKind(t, err, socbot.KindConflict)

	res := socbot.StatusResolved
	got, err = s.UpdateIncident(ctx(), a.ID, inc.ID, socbot.IncidentUpdate{Status: &res}, analyst)
	must(t, err)
	if got.ResolvedAt == nil {
		t.Fatal("resolved_at not set")
	}
	st, err := s.TriageState(ctx(), a.ID, now.Add(-time.Hour))
	must(t, err)
	eq(t, "closed incident leaves triage state", len(st.Incidents), 0)
	eq(t, "its groups are closed", len(st.Groups), 0)

	_, err = s.AddNote(ctx(), a.ID, inc.ID, "called the client", analyst)
	must(t, err)
	_, err = s.AddNote(ctx(), b.ID, inc.ID, "x", analyst)
	wantKind(t, err, socbot.KindNotFound)
	wantField(t, func() error { _, e := s.AddNote(ctx(), a.ID, inc.ID, "  ", analyst); return e }(), "text")

	tl, err := s.Timeline(ctx(), a.ID, inc.ID)
	must(t, err)
	var kinds []string
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
	}
	sliceEq(t, "timeline", kinds, []string{"status", "assigned", "priority", "status", "note"})
	if !strings.Contains(tl[0].Text, "looking") || tl[0].Actor != "token:ann" {
		t.Fatalf("timeline entry lacks reason or actor: %+v", tl[0])
	}
	_, err = s.Timeline(ctx(), b.ID, inc.ID)
	wantKind(t, err, socbot.KindNotFound)
}

func testNotifications(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	mail := socbot.Channel{TenantID: a.ID, Name: "soc mail", Kind: socbot.ChannelEmail, Target: "soc@acme.example, cio@acme.example",
		Events: []string{socbot.EventIncidentCreated, socbot.EventIncidentClosed}, MinPriority: socbot.P2, Enabled: true}
	must(t, s.CreateChannel(ctx(), &mail, admin))
	hook := socbot.Channel{TenantID: a.ID, Name: "siem", Kind: socbot.ChannelWebhook, Target: "https://hooks.acme.example/socbot", Secret: "k",
		Events: []string{socbot.EventIncidentCreated}, Enabled: true}
	must(t, s.CreateChannel(ctx(), &hook, admin))
	wantField(t, s.CreateChannel(ctx(), &socbot.Channel{TenantID: a.ID, Name: "x", Kind: socbot.ChannelWebhook, Target: "https://x.example"}, admin), "secret")
	wantField(t, s.CreateChannel(ctx(), &socbot.Channel{TenantID: a.ID, Name: "x", Kind: "pager", Target: "x"}, admin), "kind")
	wantField(t, s.CreateChannel(ctx(), &socbot.Channel{TenantID: a.ID, Name: "x", Kind: socbot.ChannelEmail, Target: "not-an-address"}, admin), "target")
	wantField(t, s.CreateChannel(ctx(), &socbot.Channel{TenantID: a.ID, Name: "x", Kind: socbot.ChannelSlack, Target: "https://x.example", Events: []string{"incident.exploded"}}, admin), "events")

	newIncident(t, in, a.ID, "P3 thing", socbot.P3) // webhook only (mail wants P2 or worse)
	newIncident(t, in, a.ID, "P1 thing", socbot.P1) // both
	newIncident(t, in, b.ID, "other", socbot.P1)    // none: globex has no channels

	log, err := s.Notifications(ctx(), a.ID, 0)
	must(t, err)
	eq(t, "queued", len(log), 3)
	lb, _ := s.Notifications(ctx(), b.ID, 0)
	eq(t, "other tenant", len(lb), 0)
	for _, n := range log {
		if n.Status != socbot.DeliveryPending || !strings.Contains(n.Body, `"event":"incident.created"`) {
			t.Fatalf("bad queued notification %+v", n)
		}
	}
	now := in.Clock.Now()
	claimed, err := s.ClaimNotifications(ctx(), now, time.Minute, 2)
	must(t, err)
	eq(t, "claimed", len(claimed), 2)
	more, err := s.ClaimNotifications(ctx(), now, time.Minute, 10)
	must(t, err)
	eq(t, "leased ones are not claimed twice", len(more), 1)
	none, _ := s.ClaimNotifications(ctx(), now, time.Minute, 10)
	eq(t, "nothing left", len(none), 0)
	// After the lease runs out, an unfinished one comes back.
	c := claimed[0]
	sent := now
	c.Status, c.Attempts, c.SentAt = socbot.DeliverySent, 1, &sent
	must(t, s.FinishNotification(ctx(), c, "sent by test"))
	again, _ := s.ClaimNotifications(ctx(), now.Add(2*time.Minute), time.Minute, 10)
	eq(t, "expired leases reclaimed, sent ones not", len(again), 2)
	ch, err := s.ChannelByID(ctx(), hook.ID)
	must(t, err)
	eq(t, "secret kept for signing", ch.Secret, "k")
	wantKind(t, s.DeleteChannel(ctx(), b.ID, hook.ID, admin), socbot.KindNotFound)
	must(t, s.DeleteChannel(ctx(), a.ID, hook.ID, admin))
}

func testEscalation(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	inc := newIncident(t, in, a.ID, "slow", socbot.P3)
	list, err := s.Breached(ctx(), in.Clock.Now(), 10)
	must(t, err)
	eq(t, "nothing breached yet", len(list), 0)
	later := in.Clock.Now().Add(2 * time.Hour) // ack due after 1 h
	list, _ = s.Breached(ctx(), later, 10)
	eq(t, "ack breached", len(list), 1)
	ok, err := s.Escalate(ctx(), a.ID, inc.ID, 0, true, "not acknowledged within 1h", socbot.Bot("sla"))
	must(t, err)
	if !ok {
		t.Fatal("escalation did not happen")
	}
	ok, _ = s.Escalate(ctx(), a.ID, inc.ID, 0, true, "again", socbot.Bot("sla"))
	if ok {
		t.Fatal("escalated twice from the same level")
	}
	got, _ := s.Incident(ctx(), a.ID, inc.ID)
	eq(t, "level", got.EscalationLevel, 1)
	eq(t, "raised", got.Priority, socbot.P2)
	list, _ = s.Breached(ctx(), later, 10)
	eq(t, "not breached again before the resolve deadline", len(list), 0)
	list, _ = s.Breached(ctx(), in.Clock.Now().Add(5*time.Hour), 10)
	eq(t, "resolve breached", len(list), 1)
}

func testQueueStats(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	newIncident(t, in, a.ID, "1", socbot.P1)
	newIncident(t, in, a.ID, "2", socbot.P3)
	newIncident(t, in, b.ID, "3", socbot.P3)
	stats, err := s.QueueStats(ctx(), a.ID, in.Clock.Now().Add(90*time.Minute))
	must(t, err)
	eq(t, "queues", len(stats), 1)
	eq(t, "open", stats[0].Open, 2)
	eq(t, "P1", stats[0].ByPriority["P1"], 1)
	eq(t, "breached", stats[0].Breached, 2)
	all, _ := s.QueueStats(ctx(), "", in.Clock.Now())
	eq(t, "all tenants open", all[0].Open, 3)
	eq(t, "none breached now", all[0].Breached, 0)
}

func testTriageState(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	old := newIncident(t, in, a.ID, "old", socbot.P3, "host:old")
	in.Clock.Advance(48 * time.Hour)
	fresh := newIncident(t, in, a.ID, "fresh", socbot.P3, "host:ws-1", "ip:203.0.113.9")
	now := in.Clock.Now()
	g := socbot.AlertGroup{TenantID: a.ID, Fingerprint: "fp1", IncidentID: fresh.ID, Count: 1, FirstSeen: now, LastSeen: now}
	must(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		if err := tx.CreateGroup(&g); err != nil {
			return err
		}
		return tx.TouchGroup(g.ID, 4, now.Add(time.Second))
	}))
	// A second open group with the same fingerprint is refused.
	dup := socbot.AlertGroup{TenantID: a.ID, Fingerprint: "fp1", IncidentID: fresh.ID, Count: 1, FirstSeen: now, LastSeen: now}
	wantKind(t, s.TriageTx(ctx(), func(tx socbot.TriageTx) error { return tx.CreateGroup(&dup) }), socbot.KindConflict)

	st, err := s.TriageState(ctx(), a.ID, now.Add(-24*time.Hour))
	must(t, err)
	eq(t, "only incidents in the window", len(st.Incidents), 1)
	eq(t, "fresh", st.Incidents[0].ID, fresh.ID)
	sliceEq(t, "entities", sortedCopy(st.Incidents[0].Entities), []string{"host:ws-1", "ip:203.0.113.9"})
	eq(t, "groups", len(st.Groups), 1)
	eq(t, "group count", st.Groups[0].Count, int64(5))
	_ = old
}

func testAudit(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	must(t, s.Audit(ctx(), socbot.AuditRecord{TenantID: a.ID, Actor: "cli:root", Action: "test.thing", Target: "x", Reason: "because", Details: map[string]int{"n": 1}}))
	entries, err := s.AuditEntries(ctx(), "", 0, 100)
	must(t, err)
	if len(entries) < 2 {
		t.Fatalf("want the tenant creation and the test entry, got %d", len(entries))
	}
	eq(t, "genesis", entries[0].PrevHash, socbot.AuditGenesis)
	for i := 1; i < len(entries); i++ {
		eq(t, "chained", entries[i].PrevHash, entries[i-1].Hash)
		eq(t, "sequence", entries[i].Seq, entries[i-1].Seq+1)
	}
	last := entries[len(entries)-1]
	eq(t, "details", last.Details, `{"n":1}`)
	eq(t, "reason", last.Reason, "because")
	mine, _ := s.AuditEntries(ctx(), a.ID, 0, 100)
	eq(t, "tenant filter", len(mine), len(entries))
	checked, problems, err := s.VerifyAudit(ctx())
	must(t, err)
	eq(t, "checked", checked, int64(len(entries)))
	eq(t, "no problems", len(problems), 0)
	// The database itself refuses to change or delete entries.
	if err := in.Exec(`UPDATE audit_log SET reason = 'x' WHERE seq = 1`); err == nil {
		t.Fatal("audit_log accepted an UPDATE")
	}
	if err := in.Exec(`DELETE FROM audit_log WHERE seq = 1`); err == nil {
		t.Fatal("audit_log accepted a DELETE")
	}
}

func testAuditTamper(t *testing.T, in Instance) {
	s := in.Store
	for i := 0; i < 6; i++ {
		must(t, s.Audit(ctx(), socbot.AuditRecord{Actor: "cli:root", Action: "test.entry", Target: fmt.Sprint(i)}))
	}
	_, problems, err := s.VerifyAudit(ctx())
	must(t, err)
	eq(t, "clean", len(problems), 0)
	disable, enable := `DROP TRIGGER audit_log_no_update`, ``
	if in.Engine == "postgres" {
		disable, enable = `ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_log ENABLE TRIGGER USER`
	}
	must(t, in.Exec(disable))
	if in.Engine == "sqlite" {
		must(t, in.Exec(`DROP TRIGGER audit_log_no_delete`))
	}
	// Change one entry's content.
	must(t, in.Exec(`UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`))
	_, problems, _ = s.VerifyAudit(ctx())
	if len(problems) != 1 || problems[0].Seq != 2 || !strings.Contains(problems[0].Reason, "changed") {
		t.Fatalf("changed entry not reported: %+v", problems)
	}
	must(t, in.Exec(`UPDATE audit_log SET actor = 'cli:root' WHERE seq = 2`))
	// Remove one from the middle.
	must(t, in.Exec(`DELETE FROM audit_log WHERE seq = 4`))
	_, problems, _ = s.VerifyAudit(ctx())
	if len(problems) == 0 || problems[0].Seq != 4 || !strings.Contains(problems[0].Reason, "missing") {
		t.Fatalf("removed entry not reported: %+v", problems)
	}
	// Remove the tail too: the head no longer matches.
	must(t, in.Exec(`DELETE FROM audit_log WHERE seq >= 6`))
	_, problems, _ = s.VerifyAudit(ctx())
	found := false
	for _, p := range problems {
		found = found || strings.Contains(p.Reason, "end")
	}
	if !found {
		t.Fatalf("removal from the end not reported: %+v", problems)
	}
	if enable != "" {
		must(t, in.Exec(enable))
	}
}

// testTenantIsolation checks at the store level that every tenant-scoped read and write refuses
// another tenant's ids. The HTTP matrix test checks the same through every endpoint and role.
func testTenantIsolation(t *testing.T, in Instance) {
	s := in.Store
	a := tenant(t, s, "acme")
	b := tenant(t, s, "globex")
	inc := newIncident(t, in, a.ID, "secret", socbot.P1, "host:db-01")
	_, err := s.UpsertAssets(ctx(), a.ID, []socbot.Asset{{Hostname: "db-01"}}, admin)
	must(t, err)
	assets, _ := s.Assets(ctx(), a.ID, 0, 0)
	list, _ := s.Incidents(ctx(), socbot.IncidentFilter{TenantID: b.ID})
	eq(t, "incidents of b", len(list), 0)
	ba, _ := s.Assets(ctx(), b.ID, 0, 0)
	eq(t, "assets of b", len(ba), 0)
	_, err = s.Asset(ctx(), b.ID, assets[0].ID)
	wantKind(t, err, socbot.KindNotFound)
	_, err = s.Incident(ctx(), b.ID, inc.ID)
	wantKind(t, err, socbot.KindNotFound)
	title := "pwned"
	_, err = s.UpdateIncident(ctx(), b.ID, inc.ID, socbot.IncidentUpdate{Title: &title}, admin)
	wantKind(t, err, socbot.KindNotFound)
	got, _ := s.Incident(ctx(), a.ID, inc.ID)
	eq(t, "unchanged", got.Title, "secret")
	st, _ := s.TriageState(ctx(), b.ID, time.Time{})
	eq(t, "triage state of b", len(st.Incidents), 0)
}
