package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

func init() {
	Add("ReportMetrics", testReportMetrics)
	Add("ReportIncidents", testReportIncidents)
	Add("ReportSchedulesAndRuns", testReportSchedulesAndRuns)
	Add("ConsoleLoginsAndSessions", testConsoleSessions)
	Add("ConsoleSearch", testConsoleSearch)
}

// ReportTenantZone is the time zone of the seeded report tenant: October 2026 there has a 25-hour day
// (summer time ends on the 25th), which the daily series must get right.
const ReportTenantZone = "Europe/Berlin"

// ReportPeriodFrom is the start of the seeded month (2026-10 in ReportTenantZone).
func ReportPeriodFrom() (time.Time, time.Time, *time.Location) {
	loc, _ := time.LoadLocation(ReportTenantZone)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0), loc
}

var reportCats = []string{"malware", "credential-access", "phishing", "network", ""}
var reportTechs = []string{"T1059.001", "T1110", "T1566.001", "T1071.001", "T1003.001", "T1486"}

// SeedReportTenant gives a new tenant named name a realistic, deterministic month of work: alerts
// (some suppressed, some duplicates), incidents in September and October with acknowledgements,
// containment, resolutions, false positives, a merge, notes, and containment actions. The store's clock
// c is moved as the story goes. It returns the tenant.
func SeedReportTenant(t testing.TB, s socbot.Store, c *Clock, exec func(string, ...any) error, name string) socbot.Tenant {
	t.Helper()
	ctx := context.Background()
	from, to, _ := ReportPeriodFrom()
	set := func(at time.Time) { c.Advance(at.Sub(c.Now())) }
	set(from.AddDate(0, -2, 0))
	tn := socbot.Tenant{Name: name, TimeZone: ReportTenantZone}
	if err := s.CreateTenant(ctx, &tn, admin); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, uint64(len(name))))
	type story struct {
		inc     socbot.Incident
		created time.Time
	}
	var stories []story
	uid := 0
	alert := func(at time.Time, status string, incID int64, title string, sev socbot.Severity, techs []string) *socbot.Alert {
		uid++
		return &socbot.Alert{UID: fmt.Sprintf("%s-%05d", name, uid), TenantID: tn.ID, Format: "wazuh", Title: title, Severity: sev,
			SeverityScore: sev.Score(), DetectedAt: at.Add(-3 * time.Minute), ReceivedAt: at, Status: status, IncidentID: incID,
			Techniques: techs, Observables: []socbot.Observable{{Type: socbot.ObsHost, Value: fmt.Sprintf("host-%02d", uid%17)}}}
	}
	// 48 incidents: 6 in September (3 still open into October), 40 in October, 2 on the period's edges.
	var starts []time.Time
	for i := 0; i < 6; i++ {
		starts = append(starts, from.Add(-time.Duration(3+i*4)*24*time.Hour).Add(time.Duration(rng.IntN(600))*time.Minute))
	}
	for i := 0; i < 40; i++ {
		starts = append(starts, from.Add(time.Duration(rng.IntN(30*24*60))*time.Minute))
	}
	starts = append(starts, from, to.Add(-time.Microsecond))
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	for i, at := range starts {
		set(at)
		prio := socbot.Priority(1 + rng.IntN(4))
		cat := reportCats[rng.IntN(len(reportCats))]
		techs := []string{reportTechs[rng.IntN(len(reportTechs))]}
		if rng.IntN(3) == 0 {
			techs = append(techs, reportTechs[rng.IntN(len(reportTechs))])
		}
		techs = dedupe(techs)
		sla := tn.Settings.SLAFor(prio)
		ackDue, resDue := at.Add(time.Duration(sla.Acknowledge)), at.Add(time.Duration(sla.Resolve))
		title := fmt.Sprintf("%s activity on host-%02d", []string{"Brute force", "Malware", "Phishing link", "C2 beacon"}[i%4], i%17)
		inc := socbot.Incident{TenantID: tn.ID, Title: title, Priority: prio, Status: socbot.StatusNew, Queue: socbot.DefaultQueue, Category: cat,
			Confidence: 50 + rng.IntN(50), Reasons: []string{"seeded"}, Techniques: techs, FirstSeen: at.Add(-time.Duration(1+rng.IntN(90)) * time.Minute),
			LastSeen: at, CreatedAt: at, UpdatedAt: at, AckDue: &ackDue, ResolveDue: &resDue}
		n := 1 + rng.IntN(5)
		err := s.TriageTx(ctx, func(tx socbot.TriageTx) error {
			if err := tx.CreateIncident(&inc); err != nil {
				return err
			}
			var alerts []*socbot.Alert
			for k := 0; k < n; k++ {
				alerts = append(alerts, alert(at.Add(time.Duration(k)*time.Minute), socbot.AlertOpen, inc.ID, title, socbot.Severity(2+rng.IntN(4)), techs))
			}
			if rng.IntN(3) == 0 {
				alerts = append(alerts, alert(at.Add(time.Minute), socbot.AlertDuplicate, inc.ID, title, socbot.SeverityMedium, techs))
			}
			if err := tx.InsertAlerts(alerts); err != nil {
				return err
			}
			if err := tx.AddEntities(tn.ID, inc.ID, []string{fmt.Sprintf("host:host-%02d", i%17), fmt.Sprintf("ip:203.0.113.%d", i)}, at); err != nil {
				return err
			}
			return tx.AddTimeline(socbot.TimelineEntry{TenantID: tn.ID, IncidentID: inc.ID, At: at, Actor: "bot:triage", Kind: "created", Text: "opened: " + title})
		})
		if err != nil {
			t.Fatal(err)
		}
		inc.AlertCount = n
		stories = append(stories, story{inc, at})
	}
	// Suppressed alerts with no incident, spread over September and October.
	var supp []*socbot.Alert
	for k := 0; k < 60; k++ {
		at := from.Add(-20 * 24 * time.Hour).Add(time.Duration(rng.IntN(50*24*60)) * time.Minute)
		a := alert(at, socbot.AlertSuppressed, 0, "Known scanner", socbot.SeverityLow, nil)
		a.SuppressedBy = "rule:1"
		supp = append(supp, a)
	}
	set(to.Add(time.Hour))
	if err := s.TriageTx(ctx, func(tx socbot.TriageTx) error { return tx.InsertAlerts(supp) }); err != nil {
		t.Fatal(err)
	}
	// People work the incidents, in time order.
	type step struct {
		at     time.Time
		id     int64
		status string
		note   string
		assign string
	}
	var steps []step
	for i, st := range stories {
		if i == len(stories)-1 {
			continue // opened at the last moment: nobody has looked yet
		}
		ack := st.created.Add(time.Duration(5+rng.IntN(120)) * time.Minute)
		switch r := rng.IntN(10); {
		case r == 0: // never touched
		case r < 3:
			steps = append(steps, step{at: ack, id: st.inc.ID, status: socbot.StatusAcknowledged, assign: "ana@mssp.example"})
		case r < 5:
			steps = append(steps, step{at: ack, id: st.inc.ID, status: socbot.StatusAcknowledged, note: "looking"},
				step{at: ack.Add(time.Duration(10+rng.IntN(200)) * time.Minute), id: st.inc.ID, status: socbot.StatusContained},
				step{at: ack.Add(time.Duration(300+rng.IntN(3000)) * time.Minute), id: st.inc.ID, status: socbot.StatusResolved})
		case r < 7:
			steps = append(steps, step{at: ack.Add(time.Duration(rng.IntN(60*24)) * time.Minute), id: st.inc.ID, status: socbot.StatusFalsePositive})
		default:
			steps = append(steps, step{at: ack, id: st.inc.ID, status: socbot.StatusAcknowledged, assign: "bo@mssp.example"},
				step{at: ack.Add(time.Duration(60+rng.IntN(6000)) * time.Minute), id: st.inc.ID, status: socbot.StatusResolved})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	who := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: tn.ID, Name: "user:ana@mssp.example"}
	for _, st := range steps {
		set(st.at)
		u := socbot.IncidentUpdate{Status: &st.status}
		if st.assign != "" {
			u.Assignee = &st.assign
		}
		if _, err := s.UpdateIncident(ctx, tn.ID, st.id, u, who); err != nil {
			t.Fatal(err)
		}
		if st.note != "" {
			if _, err := s.AddNote(ctx, tn.ID, st.id, st.note, who); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One incident of October is merged into another: it must not count.
	var a, b int64
	for _, st := range stories {
		if st.created.After(from.Add(48*time.Hour)) && st.inc.Status == socbot.StatusNew {
			inc, _ := s.Incident(ctx, tn.ID, st.inc.ID)
			if socbot.Closed(inc.Status) {
				continue
			}
			if a == 0 {
				a = inc.ID
			} else if b == 0 {
				b = inc.ID
			}
		}
	}
	set(to.Add(2 * time.Hour))
	if a != 0 && b != 0 {
		if err := s.TriageTx(ctx, func(tx socbot.TriageTx) error { return tx.Merge(tn.ID, a, []int64{b}, c.Now(), socbot.Bot("triage")) }); err != nil {
			t.Fatal(err)
		}
	}
	// Containment actions: some automatic, some approved, one waiting, one denied.
	if exec != nil {
		states := []string{"applied", "applied", "removed", "awaiting_approval", "denied", "failed", "applied"}
		for k, st := range stories {
			if k%3 != 0 {
				continue
			}
			state := states[(k/3)%len(states)]
			req := (k / 3) % 2
			created := st.created.Add(20 * time.Minute)
			var applied any
			if state == "applied" || state == "removed" {
				applied = us(created.Add(time.Minute))
			}
			if err := exec(rebind(s, `INSERT INTO containment_actions (tenant_id, kind, value, connector_id, state, requested_by, reason, incident_id,
				required_approvals, applied_at, created_at, updated_at) VALUES (?, 'block_ip', ?, 'fw-1', ?, 'bot:containment', 'seeded', ?, ?, ?, ?, ?)`),
				tn.ID, fmt.Sprintf("203.0.113.%d", k), state, st.inc.ID, req, applied, us(created), us(created)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tn
}

func us(t time.Time) int64 { return t.UnixMicro() }

func dedupe(v []string) []string {
	seen := map[string]bool{}
	out := v[:0]
	for _, s := range v {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// dbOf returns the store's database for direct queries.
func dbOf(t *testing.T, s socbot.Store) *sql.DB {
	d, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Skip("store has no DB()")
	}
	return d.DB()
}

type rebinder interface{ Engine() string }

func rebind(s socbot.Store, q string) string {
	if e, ok := s.(rebinder); !ok || e.Engine() != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// testReportMetrics checks every number of ReportMetrics against the rows themselves, read with plain
// queries and counted here.
func testReportMetrics(t *testing.T, in Instance) {
	rs, ok := in.Store.(socbot.ReportStore)
	if !ok {
		t.Skip("store does not implement ReportStore")
	}
	tn := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "acme")
	SeedReportTenant(t, in.Store, in.Clock, in.Exec, "globex") // noise that must not count
	from, to, loc := ReportPeriodFrom()
	m, err := rs.ReportMetrics(ctx(), tn.ID, from, to, loc)
	must(t, err)
	db := dbOf(t, in.Store)
	q := func(query string, args ...any) *sql.Rows {
		rows, err := db.QueryContext(ctx(), rebind(in.Store, query), args...)
		must(t, err)
		return rows
	}

	// Alerts, row by row.
	type alertRow struct {
		received int64
		sev      int
		status   string
		incident sql.NullInt64
		title    string
	}
	var alerts []alertRow
	rows := q(`SELECT received_at, severity, status, incident_id, title FROM alerts WHERE tenant_id = ?`, tn.ID)
	for rows.Next() {
		var a alertRow
		must(t, rows.Scan(&a.received, &a.sev, &a.status, &a.incident, &a.title))
		alerts = append(alerts, a)
	}
	rows.Close()
	in2 := func(v int64, lo, hi time.Time) bool { return v >= lo.UnixMicro() && v < hi.UnixMicro() }
	var total, suppressed, dup, prev int64
	bySev := map[string]int64{}
	threats := map[string]int64{}
	incOf := map[int64]int64{}
	var inIncidents int64
	daily := make([]int64, 31)
	for _, a := range alerts {
		if in2(a.received, from.Add(-to.Sub(from)), from) {
			prev++
		}
		if !in2(a.received, from, to) {
			continue
		}
		total++
		bySev[socbot.Severity(a.sev).String()]++
		threats[a.title]++
		switch a.status {
		case "suppressed":
			suppressed++
		case "duplicate":
			dup++
		case "open":
			if a.incident.Valid {
				inIncidents++
				incOf[a.incident.Int64]++
			}
		}
		daily[time.UnixMicro(a.received).In(loc).Day()-1]++
	}
	if total == 0 || suppressed == 0 || dup == 0 {
		t.Fatalf("seed too thin: %d alerts, %d suppressed, %d duplicates", total, suppressed, dup)
	}
	eq(t, "alerts", m.Alerts, total)
	eq(t, "suppressed", m.AlertsSuppressed, suppressed)
	eq(t, "duplicate", m.AlertsDuplicate, dup)
	eq(t, "correlated", m.AlertsCorrelated, inIncidents-int64(len(incOf)))
	eq(t, "prev alerts", m.PrevAlerts, prev)
	eq(t, "alerts by severity", fmt.Sprint(m.AlertsBySeverity), fmt.Sprint(bySev))
	eq(t, "alerts daily", fmt.Sprint(m.AlertsDaily), fmt.Sprint(daily))
	wantThreats := sortedCounts(threats, 10)
	eq(t, "top threats", fmt.Sprint(m.TopThreats), fmt.Sprint(wantThreats))

	// Incidents, row by row.
	type incRow struct {
		prio                                int
		cat, status, techs                  string
		created, first                      int64
		ackDue, resDue, ack, cont, resolved sql.NullInt64
	}
	var incs []incRow
	rows = q(`SELECT priority, category, status, techniques, created_at, first_seen, ack_due, resolve_due, acknowledged_at, contained_at, resolved_at
		FROM incidents WHERE tenant_id = ?`, tn.ID)
	for rows.Next() {
		var r incRow
		must(t, rows.Scan(&r.prio, &r.cat, &r.status, &r.techs, &r.created, &r.first, &r.ackDue, &r.resDue, &r.ack, &r.cont, &r.resolved))
		incs = append(incs, r)
	}
	rows.Close()
	var n, prevN, fp, openEnd int64
	var merged int
	byPrio, byCat, byStatus, techs := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	incDaily := make([]int64, 31)
	var sums [4]int64
	var counts [4]int64
	var ack, res [3]int64
	T := to.UnixMicro()
	for _, r := range incs {
		if r.status == "merged" {
			merged++
			continue
		}
		if r.created < T && (!r.resolved.Valid || r.resolved.Int64 >= T) {
			openEnd++
		}
		if in2(r.created, from.Add(-to.Sub(from)), from) {
			prevN++
		}
		if !in2(r.created, from, to) {
			continue
		}
		n++
		byPrio[socbot.Priority(r.prio).String()]++
		cat := r.cat
		if cat == "" {
			cat = "uncategorised"
		}
		byCat[cat]++
		byStatus[r.status]++
		if r.status == "false_positive" {
			fp++
		}
		incDaily[time.UnixMicro(r.created).In(loc).Day()-1]++
		var ts []string
		unjson(r.techs, &ts)
		for _, x := range ts {
			techs[x]++
		}
		sums[0] += max(r.created-r.first, 0)
		counts[0]++
		for i, v := range []sql.NullInt64{r.ack, r.cont, r.resolved} {
			if v.Valid {
				sums[i+1] += v.Int64 - r.created
				counts[i+1]++
			}
		}
		slaOf := func(done, due sql.NullInt64, out *[3]int64) {
			switch {
			case !due.Valid:
			case done.Valid && done.Int64 <= due.Int64:
				out[0]++
			case done.Valid || due.Int64 < T:
				out[1]++
			default:
				out[2]++
			}
		}
		slaOf(r.ack, r.ackDue, &ack)
		slaOf(r.resolved, r.resDue, &res)
	}
	if merged == 0 || fp == 0 || counts[2] == 0 {
		t.Fatalf("seed too thin: %d merged, %d false positives, %d contained", merged, fp, counts[2])
	}
	eq(t, "incidents", m.Incidents, n)
	eq(t, "prev incidents", m.PrevIncidents, prevN)
	eq(t, "false positives", m.FalsePositives, fp)
	eq(t, "open at end", m.OpenAtEnd, openEnd)
	eq(t, "by priority", fmt.Sprint(m.IncidentsByPriority), fmt.Sprint(byPrio))
	eq(t, "by category", fmt.Sprint(m.IncidentsByCategory), fmt.Sprint(sortedCounts(byCat, 0)))
	eq(t, "by status", fmt.Sprint(m.IncidentsByStatus), fmt.Sprint(byStatus))
	eq(t, "incidents daily", fmt.Sprint(m.IncidentsDaily), fmt.Sprint(incDaily))
	eq(t, "top techniques", fmt.Sprint(m.TopTechniques), fmt.Sprint(sortedCounts(techs, 10)))
	mean := func(i int) float64 {
		if counts[i] == 0 {
			return 0
		}
		return float64(sums[i]) / float64(counts[i]) / 1e6
	}
	eq(t, "MTTD", fmt.Sprintf("%.6f/%d", m.MTTD, m.NMTTD), fmt.Sprintf("%.6f/%d", mean(0), counts[0]))
	eq(t, "MTTA", fmt.Sprintf("%.6f/%d", m.MTTA, m.NMTTA), fmt.Sprintf("%.6f/%d", mean(1), counts[1]))
	eq(t, "MTTC", fmt.Sprintf("%.6f/%d", m.MTTC, m.NMTTC), fmt.Sprintf("%.6f/%d", mean(2), counts[2]))
	eq(t, "MTTR", fmt.Sprintf("%.6f/%d", m.MTTR, m.NMTTR), fmt.Sprintf("%.6f/%d", mean(3), counts[3]))
	eq(t, "ack SLA", [3]int64{m.AckMet, m.AckBreached, m.AckPending}, ack)
	eq(t, "resolve SLA", [3]int64{m.ResolveMet, m.ResolveBreached, m.ResolvePending}, res)

	// Containment actions.
	var acts, auto int64
	byState := map[string]int64{}
	rows = q(`SELECT state, required_approvals, applied_at, created_at FROM containment_actions WHERE tenant_id = ?`, tn.ID)
	for rows.Next() {
		var state string
		var req int
		var applied sql.NullInt64
		var created int64
		must(t, rows.Scan(&state, &req, &applied, &created))
		if !in2(created, from, to) {
			continue
		}
		acts++
		byState[state]++
		if req == 0 && applied.Valid {
			auto++
		}
	}
	rows.Close()
	if acts == 0 || auto == 0 {
		t.Fatalf("seed too thin: %d actions, %d automatic", acts, auto)
	}
	eq(t, "actions", m.Actions, acts)
	eq(t, "auto actions", m.ActionsAutoApplied, auto)
	eq(t, "actions by state", fmt.Sprint(m.ActionsByState), fmt.Sprint(byState))

	// Weeks: Monday boundaries in the zone; the backlog at each week's end.
	var bounds []time.Time
	bounds = append(bounds, from)
	for d := from.AddDate(0, 0, 1); d.Before(to); d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Monday {
			bounds = append(bounds, d)
		}
	}
	bounds = append(bounds, to)
	if len(m.Weeks) != len(bounds)-1 {
		t.Fatalf("weeks: %d, want %d", len(m.Weeks), len(bounds)-1)
	}
	for i, w := range m.Weeks {
		lo, hi := bounds[i], bounds[i+1]
		var high, closed, backlog int64
		for _, r := range incs {
			if r.status == "merged" {
				continue
			}
			if r.prio <= 2 && in2(r.created, lo, hi) {
				high++
			}
			if r.resolved.Valid && in2(r.resolved.Int64, lo, hi) {
				closed++
			}
			if r.created < hi.UnixMicro() && (!r.resolved.Valid || r.resolved.Int64 >= hi.UnixMicro()) {
				backlog++
			}
		}
		eq(t, fmt.Sprintf("week %d", i), [3]int64{w.HighOpened, w.Closed, w.BacklogAtEnd}, [3]int64{high, closed, backlog})
		eq(t, fmt.Sprintf("week %d start", i), w.Start.Equal(lo), true)
	}
	// Same data, same numbers.
	again, err := rs.ReportMetrics(ctx(), tn.ID, from, to, loc)
	must(t, err)
	if !reflect.DeepEqual(m, again) {
		t.Fatal("the same data gave different metrics")
	}
	// The last day of the month is 25 hours long in Berlin: the series has 31 days, not 30 or 32.
	eq(t, "days", len(m.AlertsDaily), 31)
}

func sortedCounts(m map[string]int64, limit int) []socbot.Count {
	out := []socbot.Count{}
	for k, v := range m {
		out = append(out, socbot.Count{Name: k, N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func testReportIncidents(t *testing.T, in Instance) {
	rs, ok := in.Store.(socbot.ReportStore)
	if !ok {
		t.Skip("store does not implement ReportStore")
	}
	tn := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "acme")
	other := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "globex")
	from, to, _ := ReportPeriodFrom()
	list, err := rs.ReportIncidents(ctx(), tn.ID, from, to)
	must(t, err)
	if len(list) < 40 {
		t.Fatalf("%d incidents in the technical report", len(list))
	}
	var carried, withActions int
	for _, ri := range list {
		inc := ri.Incident
		if inc.TenantID != tn.ID {
			t.Fatalf("incident of tenant %s in %s's report", inc.TenantID, tn.ID)
		}
		if inc.Status == socbot.StatusMerged {
			t.Fatalf("merged incident #%d listed", inc.Number)
		}
		if inc.CreatedAt.Before(from) {
			carried++
			if inc.ResolvedAt != nil && inc.ResolvedAt.Before(from) {
				t.Fatalf("incident #%d closed before the period is listed", inc.Number)
			}
		}
		if len(ri.Timeline) == 0 || len(ri.Indicators) == 0 || len(ri.Alerts) == 0 {
			t.Fatalf("incident #%d lacks timeline, indicators or detections: %+v", inc.Number, ri)
		}
		for _, a := range ri.Actions {
			if a.IncidentID != inc.ID {
				t.Fatalf("action %d of incident %d under #%d", a.ID, a.IncidentID, inc.Number)
			}
		}
		if len(ri.Actions) > 0 {
			withActions++
		}
	}
	if carried == 0 || withActions == 0 {
		t.Fatalf("carried-over %d, with actions %d", carried, withActions)
	}
	open, err := rs.ReportOpenActions(ctx(), tn.ID)
	must(t, err)
	if len(open) == 0 {
		t.Fatal("no open containment action")
	}
	for _, a := range open {
		if a.State != "awaiting_approval" {
			t.Fatalf("open action in state %s", a.State)
		}
	}
	none, err := rs.ReportIncidents(ctx(), other.ID, from.AddDate(-1, 0, 0), from.AddDate(-1, 1, 0))
	must(t, err)
	eq(t, "empty period", len(none), 0)
}

func testReportSchedulesAndRuns(t *testing.T, in Instance) {
	rs, ok := in.Store.(socbot.ReportStore)
	if !ok {
		t.Skip("store does not implement ReportStore")
	}
	a := tenant(t, in.Store, "acme")
	b := tenant(t, in.Store, "globex")
	now := in.Clock.Now()
	sa := socbot.ReportSchedule{TenantID: a.ID, Cadence: "monthly", Audience: "management", Recipients: []string{"ciso@acme.example"}, Enabled: true, NextRunAt: now.Add(time.Hour)}
	must(t, rs.CreateReportSchedule(ctx(), &sa, admin))
	sb := socbot.ReportSchedule{TenantID: b.ID, Cadence: "quarterly", Audience: "technical", Enabled: true, NextRunAt: now.Add(-time.Minute)}
	must(t, rs.CreateReportSchedule(ctx(), &sb, admin))
	bad := socbot.ReportSchedule{TenantID: a.ID, Cadence: "weekly", Audience: "management", NextRunAt: now}
	wantField(t, rs.CreateReportSchedule(ctx(), &bad, admin), "cadence")

	list, err := rs.ReportSchedules(ctx(), a.ID)
	must(t, err)
	eq(t, "a's schedules", len(list), 1)
	eq(t, "recipients", fmt.Sprint(list[0].Recipients), "[ciso@acme.example]")
	wantKind(t, rs.DeleteReportSchedule(ctx(), a.ID, sb.ID, admin), socbot.KindNotFound)

	claimed, err := rs.ClaimReportSchedules(ctx(), now, time.Minute, 10)
	must(t, err)
	eq(t, "claimed", len(claimed), 1)
	eq(t, "claimed id", claimed[0].ID, sb.ID)
	again, err := rs.ClaimReportSchedules(ctx(), now, time.Minute, 10)
	must(t, err)
	eq(t, "leased", len(again), 0)
	sc := claimed[0]
	sc.LastStatus, sc.LastError, sc.Attempts, sc.NextRunAt = socbot.ReportFailed, "chromium missing", 1, now.Add(15*time.Minute)
	ran := now
	sc.LastRunAt = &ran
	must(t, rs.FinishReportSchedule(ctx(), sc))
	list, _ = rs.ReportSchedules(ctx(), b.ID)
	eq(t, "last error", list[0].LastError, "chromium missing")
	eq(t, "attempts", list[0].Attempts, 1)

	run := socbot.ReportRun{TenantID: a.ID, Period: "2026-10", From: now, To: now.Add(time.Hour), Audience: "management", Status: socbot.ReportOK,
		HTML: []byte("<html>acme</html>"), PDF: []byte("%PDF-1.4 acme"), SHA256: "x"}
	must(t, rs.SaveReportRun(ctx(), &run, admin))
	failed := socbot.ReportRun{TenantID: b.ID, ScheduleID: sb.ID, Period: "2026-Q3", From: now, To: now.Add(time.Hour), Audience: "technical", Status: socbot.ReportFailed, Error: "chromium missing"}
	must(t, rs.SaveReportRun(ctx(), &failed, admin))
	runs, err := rs.ReportRuns(ctx(), a.ID, 0, 10)
	must(t, err)
	eq(t, "a's runs", len(runs), 1)
	eq(t, "html size", runs[0].HTMLSize, len(run.HTML))
	if runs[0].HTML != nil {
		t.Fatal("listing carries content")
	}
	hist, err := rs.ReportRuns(ctx(), b.ID, sb.ID, 10)
	must(t, err)
	eq(t, "history", len(hist), 1)
	eq(t, "history error", hist[0].Error, "chromium missing")
	got, err := rs.ReportRun(ctx(), a.ID, run.ID, true)
	must(t, err)
	eq(t, "pdf", string(got.PDF), "%PDF-1.4 acme")
	_, err = rs.ReportRun(ctx(), b.ID, run.ID, true)
	wantKind(t, err, socbot.KindNotFound)
	must(t, rs.SetReportDelivery(ctx(), run.ID, "sent to 1 recipients"))
	got, _ = rs.ReportRun(ctx(), "", run.ID, false)
	eq(t, "delivery", got.Delivery, "sent to 1 recipients")

	br := socbot.ReportBranding{TenantID: a.ID, DisplayName: "ACME Corp", PrimaryColor: "#112233", Logo: "data:image/png;base64,iVBORw0KGgo="}
	must(t, rs.SetReportBranding(ctx(), br, admin))
	gotB, err := rs.ReportBranding(ctx(), a.ID)
	must(t, err)
	eq(t, "branding", gotB.DisplayName+gotB.PrimaryColor, "ACME Corp#112233")
	emptyB, err := rs.ReportBranding(ctx(), b.ID)
	must(t, err)
	eq(t, "no branding", emptyB.DisplayName, "")
	wantField(t, rs.SetReportBranding(ctx(), socbot.ReportBranding{TenantID: a.ID, PrimaryColor: "red; background:url(x)"}, admin), "primary_color")
	wantField(t, rs.SetReportBranding(ctx(), socbot.ReportBranding{TenantID: a.ID, Logo: "data:image/svg+xml;base64,PHN2Zz4="}, admin), "logo")
}

func testConsoleSessions(t *testing.T, in Instance) {
	cs, ok := in.Store.(socbot.ConsoleStore)
	if !ok {
		t.Skip("store does not implement ConsoleStore")
	}
	a := tenant(t, in.Store, "acme")
	u := socbot.User{Email: "ana@acme.example", Role: socbot.RoleAnalyst, TenantID: a.ID}
	must(t, in.Store.CreateUser(ctx(), &u, "hash", admin))
	now := in.Clock.Now()
	st, err := cs.LoginState(ctx(), u.ID)
	must(t, err)
	eq(t, "fresh failures", st.Failures, 0)
	for i := 1; i <= 4; i++ {
		st, err = cs.RecordLogin(ctx(), u.ID, false, now, 5, 15*time.Minute)
		must(t, err)
		eq(t, "failures", st.Failures, i)
		if st.LockedUntil != nil {
			t.Fatal("locked too early")
		}
	}
	st, err = cs.RecordLogin(ctx(), u.ID, false, now, 5, 15*time.Minute)
	must(t, err)
	if st.LockedUntil == nil || !st.LockedUntil.Equal(now.Add(15*time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("not locked after 5 failures: %+v", st)
	}
	st, _ = cs.LoginState(ctx(), u.ID)
	if st.LockedUntil == nil {
		t.Fatal("lock not stored")
	}
	st, err = cs.RecordLogin(ctx(), u.ID, true, now, 5, 15*time.Minute)
	must(t, err)
	if st.Failures != 0 || st.LockedUntil != nil {
		t.Fatalf("success did not clear: %+v", st)
	}
	must(t, cs.SetTOTPSecret(ctx(), u.ID, "JBSWY3DPEHPK3PXP", admin))
	st, _ = cs.LoginState(ctx(), u.ID)
	eq(t, "totp", st.TOTPSecret, "JBSWY3DPEHPK3PXP")

	sess := socbot.ConsoleSession{IDHash: "h1", UserID: u.ID, Email: u.Email, CSRF: "c1", Method: "password", CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, cs.CreateSession(ctx(), sess))
	got, err := cs.Session(ctx(), "h1")
	must(t, err)
	eq(t, "csrf", got.CSRF, "c1")
	must(t, cs.UpdateSession(ctx(), "h1", "t2", now.Add(time.Minute)))
	got, _ = cs.Session(ctx(), "h1")
	eq(t, "tenant", got.Tenant, "t2")
	_, err = cs.Session(ctx(), "nope")
	wantKind(t, err, socbot.KindNotFound)
	n, err := cs.DeleteExpiredSessions(ctx(), now.Add(2*time.Hour))
	must(t, err)
	eq(t, "expired", n, int64(1))
	must(t, cs.CreateSession(ctx(), socbot.ConsoleSession{IDHash: "h2", UserID: u.ID, Email: u.Email, CSRF: "c", CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, cs.DeleteSession(ctx(), "h2"))
	_, err = cs.Session(ctx(), "h2")
	wantKind(t, err, socbot.KindNotFound)
}

func testConsoleSearch(t *testing.T, in Instance) {
	cs, ok := in.Store.(socbot.ConsoleStore)
	if !ok {
		t.Skip("store does not implement ConsoleStore")
	}
	a := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "acme")
	b := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "globex")
	now := in.Clock.Now()
	all, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Limit: 500, WantTotal: true, Now: now})
	must(t, err)
	if all.Total < 40 || int(all.Total) != len(all.Incidents) || all.More {
		t.Fatalf("total %d, listed %d", all.Total, len(all.Incidents))
	}
	for _, inc := range all.Incidents {
		if inc.TenantID != a.ID {
			t.Fatal("another tenant's incident listed")
		}
	}
	// Full text: every word must match as a prefix.
	page, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Search: "brute forc", Limit: 500, WantTotal: true, Now: now})
	must(t, err)
	if page.Total == 0 {
		t.Fatal("full-text search found nothing")
	}
	for _, inc := range page.Incidents {
		if !strings.HasPrefix(inc.Title, "Brute force") {
			t.Fatalf("search 'brute forc' found %q", inc.Title)
		}
	}
	// Renamed titles are searchable at once.
	target := all.Incidents[len(all.Incidents)-1]
	title := "Zanzibar ransomware staging"
	_, err = in.Store.UpdateIncident(ctx(), a.ID, target.ID, socbot.IncidentUpdate{Title: &title}, admin)
	must(t, err)
	page, err = cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Search: "zanzibar", Now: now})
	must(t, err)
	if len(page.Incidents) != 1 || page.Incidents[0].ID != target.ID {
		t.Fatalf("renamed incident not found: %+v", page.Incidents)
	}
	page, err = cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: b.ID, Search: "zanzibar", Now: now})
	must(t, err)
	eq(t, "other tenant's search", len(page.Incidents), 0)
	// Number and exact entity.
	page, err = cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Search: "#3", Now: now})
	must(t, err)
	if len(page.Incidents) != 1 || page.Incidents[0].Number != 3 {
		t.Fatalf("#3: %+v", page.Incidents)
	}
	page, err = cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Search: "203.0.113.7", Now: now})
	must(t, err)
	if len(page.Incidents) != 1 {
		t.Fatalf("entity search: %d incidents", len(page.Incidents))
	}
	// Hostile input is only ever data.
	for _, s := range []string{`" OR 1=1 --`, `*`, `NEAR(a b)`, `title:x`, `')); DROP TABLE incidents; --`, `&|!:*`} {
		if _, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Search: s, Now: now}); err != nil {
			t.Fatalf("search %q: %v", s, err)
		}
	}
	// Filters: priority, status, age.
	p1, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, Priority: []socbot.Priority{socbot.P1}, Open: true, Limit: 500, Now: now})
	must(t, err)
	for _, inc := range p1.Incidents {
		if inc.Priority != socbot.P1 || socbot.Closed(inc.Status) {
			t.Fatalf("filter let through %s %s", inc.Priority, inc.Status)
		}
	}
	old, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, MinAge: 40 * 24 * time.Hour, Limit: 500, Now: now})
	must(t, err)
	young, err := cs.SearchIncidents(ctx(), socbot.IncidentQuery{TenantID: a.ID, MaxAge: 40 * 24 * time.Hour, Limit: 500, Now: now})
	must(t, err)
	if len(old.Incidents) == 0 || len(young.Incidents) == 0 || len(old.Incidents)+len(young.Incidents) != len(all.Incidents) {
		t.Fatalf("age split %d + %d != %d", len(old.Incidents), len(young.Incidents), len(all.Incidents))
	}
	sums, err := cs.TenantSummaries(ctx(), now)
	must(t, err)
	eq(t, "summaries", len(sums), 2)
	if sums[0].Open == 0 {
		t.Fatal("no open incidents in the summary")
	}
}

func unjson(s string, v any) { _ = json.Unmarshal([]byte(s), v) }

func init() { Add("ConsoleActivity", testConsoleActivity) }

func testConsoleActivity(t *testing.T, in Instance) {
	cs, ok := in.Store.(socbot.ConsoleStore)
	if !ok {
		t.Skip("store does not implement ConsoleStore")
	}
	a := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "acme")
	b := SeedReportTenant(t, in.Store, in.Clock, in.Exec, "globex")
	incs, err := in.Store.Incidents(ctx(), socbot.IncidentFilter{TenantID: a.ID, Limit: 1000})
	must(t, err)
	bIncs, err := in.Store.Incidents(ctx(), socbot.IncidentFilter{TenantID: b.ID, Limit: 1000})
	must(t, err)
	var ids []int64
	for _, inc := range incs {
		ids = append(ids, inc.ID)
	}
	ids = append(ids, bIncs[0].ID) // another tenant's: must yield nothing
	got, err := cs.Activity(ctx(), a.ID, ids, []string{"status", "note"})
	must(t, err)
	if len(got[bIncs[0].ID]) != 0 {
		t.Fatal("activity of another tenant's incident")
	}
	n := 0
	for _, inc := range incs {
		tl, err := in.Store.Timeline(ctx(), a.ID, inc.ID)
		must(t, err)
		var want []string
		for _, e := range tl {
			if e.Kind == "status" || e.Kind == "note" {
				want = append(want, e.Kind+":"+e.Text)
			}
		}
		var have []string
		for _, e := range got[inc.ID] {
			have = append(have, e.Kind+":"+e.Text)
		}
		sliceEq(t, fmt.Sprintf("incident %d", inc.ID), have, want)
		n += len(have)
	}
	if n == 0 {
		t.Fatal("no activity at all")
	}
}
