package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

var _ socbot.ReportStore = (*Store)(nil)

// notMerged excludes incidents folded into another: their alerts count in the survivor.
const notMerged = `status <> 'merged'`

// ReportMetrics computes every number of a report for one tenant and the period [from, to); days and
// weeks are cut in loc. This is the only place a report's numbers come from.
func (s *Store) ReportMetrics(ctx context.Context, tenantID string, from, to time.Time, loc *time.Location) (socbot.ReportMetrics, error) {
	const op = "sqlstore.ReportMetrics"
	m := socbot.ReportMetrics{TenantID: tenantID, From: from.UTC(), To: to.UTC(),
		AlertsBySeverity: map[string]int64{}, IncidentsByPriority: map[string]int64{}, IncidentsByStatus: map[string]int64{},
		ActionsByState: map[string]int64{}}
	if !to.After(from) {
		return m, socbot.FieldError(op, "period", "the period ends before it starts")
	}
	if loc == nil {
		loc = time.UTC
	}
	f, t := us(from), us(to)
	days := localDays(from, to, loc)
	m.AlertsDaily = make([]int64, len(days))
	m.IncidentsDaily = make([]int64, len(days))

	// The queries are independent; they run side by side (SQLite in WAL mode and PostgreSQL both serve
	// concurrent readers).
	var inIncidents, distinctInc int64
	alertPass := []func() error{
		func() error {
			// Alerts: volumes by severity and outcome, in one pass without sorting.
			cols := []string{`COUNT(*)`,
				`COALESCE(SUM(CASE WHEN status = 'suppressed' THEN 1 ELSE 0 END), 0)`,
				`COALESCE(SUM(CASE WHEN status = 'duplicate' THEN 1 ELSE 0 END), 0)`,
				`COALESCE(SUM(CASE WHEN status = 'open' AND incident_id IS NOT NULL THEN 1 ELSE 0 END), 0)`}
			for sev := socbot.SeverityUnknown; sev <= socbot.SeverityCritical; sev++ {
				cols = append(cols, fmt.Sprintf(`COALESCE(SUM(CASE WHEN severity = %d THEN 1 ELSE 0 END), 0)`, sev))
			}
			bySev := make([]int64, socbot.SeverityCritical+1)
			dest := []any{&m.Alerts, &m.AlertsSuppressed, &m.AlertsDuplicate, &inIncidents}
			for i := range bySev {
				dest = append(dest, &bySev[i])
			}
			if err := s.db.QueryRowContext(ctx, s.q(`SELECT `+strings.Join(cols, ", ")+` FROM alerts WHERE tenant_id = ? AND received_at >= ? AND received_at < ?`),
				tenantID, f, t).Scan(dest...); err != nil {
				return err
			}
			for sev, n := range bySev {
				if n > 0 {
					m.AlertsBySeverity[socbot.Severity(sev).String()] = n
				}
			}
			return nil
		},
		func() error {
			return s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(DISTINCT incident_id) FROM alerts WHERE tenant_id = ? AND received_at >= ? AND received_at < ?
				AND status = 'open' AND incident_id IS NOT NULL`), tenantID, f, t).Scan(&distinctInc)
		},
		func() (err error) {
			m.TopThreats, err = s.counts(ctx, `SELECT title, COUNT(*) FROM alerts WHERE tenant_id = ? AND received_at >= ? AND received_at < ?
				GROUP BY title ORDER BY 2 DESC, title`+s.bytewise()+` LIMIT 10`, tenantID, f, t)
			return err
		},
	}
	if s.engine == SQLite {
		// SQLite has no hash aggregation: GROUP BY title sorts every alert of the period, and the distinct
		// count looks every alert up again. Reading the period's alerts once and counting here costs a
		// third of those three queries together.
		alertPass = []func() error{func() error {
			rows, err := s.db.QueryContext(ctx, s.q(`SELECT title, severity, status, incident_id FROM alerts WHERE tenant_id = ? AND received_at >= ? AND received_at < ?`), tenantID, f, t)
			if err != nil {
				return err
			}
			byTitle := map[string]int64{}
			incs := map[int64]struct{}{}
			bySev := make([]int64, socbot.SeverityCritical+1)
			var title sql.RawBytes
			var status sql.RawBytes
			var sev int
			var inc sql.NullInt64
			err = eachRow(rows, func(r *sql.Rows) error {
				if err := r.Scan(&title, &sev, &status, &inc); err != nil {
					return err
				}
				m.Alerts++
				if n, ok := byTitle[string(title)]; ok {
					byTitle[string(title)] = n + 1
				} else {
					byTitle[string(title)] = 1
				}
				if sev >= 0 && sev < len(bySev) {
					bySev[sev]++
				}
				switch string(status) {
				case socbot.AlertSuppressed:
					m.AlertsSuppressed++
				case socbot.AlertDuplicate:
					m.AlertsDuplicate++
				case socbot.AlertOpen:
					if inc.Valid {
						inIncidents++
						incs[inc.Int64] = struct{}{}
					}
				}
				return nil
			})
			for sev, n := range bySev {
				if n > 0 {
					m.AlertsBySeverity[socbot.Severity(sev).String()] = n
				}
			}
			distinctInc = int64(len(incs))
			m.TopThreats = topCounts(byTitle, 10)
			return err
		}}
	}
	err := parallel(append(alertPass,
		func() error {
			// Daily series, and the same length of time just before the period for the trend.
			if err := s.daily(ctx, `alerts`, `received_at`, ``, tenantID, days, to, m.AlertsDaily); err != nil {
				return err
			}
			if err := s.daily(ctx, `incidents`, `created_at`, ` AND `+notMerged, tenantID, days, to, m.IncidentsDaily); err != nil {
				return err
			}
			pf := us(from.Add(-to.Sub(from)))
			if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM alerts WHERE tenant_id = ? AND received_at >= ? AND received_at < ?`), tenantID, pf, f).Scan(&m.PrevAlerts); err != nil {
				return err
			}
			return s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM incidents WHERE tenant_id = ? AND created_at >= ? AND created_at < ? AND `+notMerged), tenantID, pf, f).Scan(&m.PrevIncidents)
		})...)
	if err != nil {
		return m, dbErr(op, err)
	}
	m.AlertsCorrelated = inIncidents - distinctInc

	// Incidents by priority, category and status.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT priority, category, status, COUNT(*) FROM incidents
		WHERE tenant_id = ? AND created_at >= ? AND created_at < ? AND `+notMerged+` GROUP BY 1, 2, 3`), tenantID, f, t)
	if err != nil {
		return m, dbErr(op, err)
	}
	cats := map[string]int64{}
	err = eachRow(rows, func(r *sql.Rows) error {
		var prio int
		var cat, status string
		var n int64
		if err := r.Scan(&prio, &cat, &status, &n); err != nil {
			return err
		}
		m.Incidents += n
		m.IncidentsByPriority[socbot.Priority(prio).String()] += n
		if cat == "" {
			cat = "uncategorised"
		}
		cats[cat] += n
		m.IncidentsByStatus[status] += n
		if status == socbot.StatusFalsePositive {
			m.FalsePositives += n
		}
		return nil
	})
	if err != nil {
		return m, dbErr(op, err)
	}
	m.IncidentsByCategory = topCounts(cats, 0)

	// Mean times and SLA adherence, over the period's incidents.
	var sumD, sumA, sumC, sumR sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT
		CAST(SUM(CASE WHEN created_at > first_seen THEN created_at - first_seen ELSE 0 END) AS BIGINT), COUNT(*),
		CAST(SUM(acknowledged_at - created_at) AS BIGINT), COUNT(acknowledged_at),
		CAST(SUM(contained_at - created_at) AS BIGINT), COUNT(contained_at),
		CAST(SUM(resolved_at - created_at) AS BIGINT), COUNT(resolved_at),
		COALESCE(SUM(CASE WHEN ack_due IS NOT NULL AND acknowledged_at IS NOT NULL AND acknowledged_at <= ack_due THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ack_due IS NOT NULL AND ((acknowledged_at IS NOT NULL AND acknowledged_at > ack_due) OR (acknowledged_at IS NULL AND ack_due < ?)) THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ack_due IS NOT NULL AND acknowledged_at IS NULL AND ack_due >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN resolve_due IS NOT NULL AND resolved_at IS NOT NULL AND resolved_at <= resolve_due THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN resolve_due IS NOT NULL AND ((resolved_at IS NOT NULL AND resolved_at > resolve_due) OR (resolved_at IS NULL AND resolve_due < ?)) THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN resolve_due IS NOT NULL AND resolved_at IS NULL AND resolve_due >= ? THEN 1 ELSE 0 END), 0)
		FROM incidents WHERE tenant_id = ? AND created_at >= ? AND created_at < ? AND `+notMerged), t, t, t, t, tenantID, f, t).Scan(
		&sumD, &m.NMTTD, &sumA, &m.NMTTA, &sumC, &m.NMTTC, &sumR, &m.NMTTR,
		&m.AckMet, &m.AckBreached, &m.AckPending, &m.ResolveMet, &m.ResolveBreached, &m.ResolvePending); err != nil {
		return m, dbErr(op, err)
	}
	m.MTTD, m.MTTA, m.MTTC, m.MTTR = meanSeconds(sumD, m.NMTTD), meanSeconds(sumA, m.NMTTA), meanSeconds(sumC, m.NMTTC), meanSeconds(sumR, m.NMTTR)
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM incidents WHERE tenant_id = ? AND created_at < ? AND `+notMerged+`
		AND (resolved_at IS NULL OR resolved_at >= ?)`), tenantID, t, t).Scan(&m.OpenAtEnd); err != nil {
		return m, dbErr(op, err)
	}

	// Containment actions.
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT state, CASE WHEN required_approvals = 0 AND applied_at IS NOT NULL THEN 1 ELSE 0 END, COUNT(*)
		FROM containment_actions WHERE tenant_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1, 2`), tenantID, f, t)
	if err != nil {
		return m, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		var state string
		var auto int
		var n int64
		if err := r.Scan(&state, &auto, &n); err != nil {
			return err
		}
		m.Actions += n
		m.ActionsByState[state] += n
		if auto == 1 {
			m.ActionsAutoApplied += n
		}
		return nil
	})
	if err != nil {
		return m, dbErr(op, err)
	}

	// Top ATT&CK techniques (incidents carrying each) and top threats (alerts per detection title).
	techQ := `SELECT j.value, COUNT(*) FROM incidents i, json_each(i.techniques) j`
	if s.engine == Postgres {
		techQ = `SELECT j.value, COUNT(*) FROM incidents i CROSS JOIN LATERAL jsonb_array_elements_text(i.techniques::jsonb) AS j(value)`
	}
	if m.TopTechniques, err = s.counts(ctx, techQ+` WHERE i.tenant_id = ? AND i.created_at >= ? AND i.created_at < ? AND i.status <> 'merged'
		GROUP BY j.value ORDER BY 2 DESC, j.value`+s.bytewise()+` LIMIT 10`, tenantID, f, t); err != nil {
		return m, dbErr(op, err)
	}

	// Posture per week.
	if m.Weeks, err = s.weeks(ctx, tenantID, from, to, loc); err != nil {
		return m, dbErr(op, err)
	}
	return m, nil
}

// bytewise makes an ORDER BY on text compare bytes, as SQLite does and as the Go side sorts: ties in
// the top-N lists then break the same way on both engines, whatever PostgreSQL's collation.
func (s *Store) bytewise() string {
	if s.engine == Postgres {
		return ` COLLATE "C"`
	}
	return ""
}

// localDays returns the start of every local day of [from, to) (the first is from itself).
func localDays(from, to time.Time, loc *time.Location) []time.Time {
	var out []time.Time
	d := from.In(loc)
	for d.Before(to) {
		out = append(out, d)
		y, mo, day := d.Date()
		d = time.Date(y, mo, day+1, 0, 0, 0, 0, loc)
	}
	return out
}

// daily counts a table's rows per local day: one indexed range count per day, in one statement.
func (s *Store) daily(ctx context.Context, table, col, extra, tenantID string, days []time.Time, to time.Time, out []int64) error {
	if len(days) == 0 {
		return nil
	}
	var parts []string
	var args []any
	for i, d := range days {
		end := to
		if i+1 < len(days) {
			end = days[i+1]
		}
		parts = append(parts, fmt.Sprintf(`SELECT %d, COUNT(*) FROM `+table+` WHERE tenant_id = ? AND `+col+` >= ? AND `+col+` < ?`+extra, i))
		args = append(args, tenantID, us(d), us(end))
	}
	rows, err := s.db.QueryContext(ctx, s.q(strings.Join(parts, " UNION ALL ")), args...)
	if err != nil {
		return err
	}
	return eachRow(rows, func(r *sql.Rows) error {
		var i int
		var n int64
		if err := r.Scan(&i, &n); err != nil {
			return err
		}
		out[i] = n
		return nil
	})
}

// parallel runs fns at once and returns the first error.
func parallel(fns ...func() error) error {
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { errs <- fn() }()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// weeks computes the posture trend: weeks start on local Mondays; the first and last may be partial.
func (s *Store) weeks(ctx context.Context, tenantID string, from, to time.Time, loc *time.Location) ([]socbot.WeekPosture, error) {
	bounds := []time.Time{from}
	d := from.In(loc)
	for {
		y, mo, day := d.Date()
		d = time.Date(y, mo, day+1, 0, 0, 0, 0, loc)
		if !d.Before(to) {
			break
		}
		if d.Weekday() == time.Monday {
			bounds = append(bounds, d)
		}
	}
	bounds = append(bounds, to)
	var cols []string
	var args []any
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := us(bounds[i]), us(bounds[i+1])
		cols = append(cols,
			`COALESCE(SUM(CASE WHEN priority <= 2 AND created_at >= ? AND created_at < ? THEN 1 ELSE 0 END), 0)`,
			`COALESCE(SUM(CASE WHEN resolved_at >= ? AND resolved_at < ? THEN 1 ELSE 0 END), 0)`,
			`COALESCE(SUM(CASE WHEN created_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) THEN 1 ELSE 0 END), 0)`)
		args = append(args, lo, hi, lo, hi, hi, hi)
	}
	args = append(args, tenantID, us(to))
	out := make([]socbot.WeekPosture, len(bounds)-1)
	dest := make([]any, 0, 3*len(out))
	for i := range out {
		out[i].Start, out[i].End = bounds[i].UTC(), bounds[i+1].UTC()
		dest = append(dest, &out[i].HighOpened, &out[i].Closed, &out[i].BacklogAtEnd)
	}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT `+strings.Join(cols, ", ")+` FROM incidents WHERE tenant_id = ? AND created_at < ? AND `+notMerged), args...).Scan(dest...)
	return out, err
}

func (s *Store) counts(ctx context.Context, query string, args ...any) ([]socbot.Count, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	out := []socbot.Count{}
	err = eachRow(rows, func(r *sql.Rows) error {
		var c socbot.Count
		if err := r.Scan(&c.Name, &c.N); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func meanSeconds(sum sql.NullInt64, n int64) float64 {
	if n == 0 || !sum.Valid {
		return 0
	}
	return float64(sum.Int64) / float64(n) / 1e6
}

// topCounts sorts a map by count (then name) and keeps the first limit (0 = all).
func topCounts(m map[string]int64, limit int) []socbot.Count {
	out := make([]socbot.Count, 0, len(m))
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

// reportScope selects the incidents a technical report covers: opened in the period, or opened
// before it and still open at its start.
const reportScope = `tenant_id = ? AND status <> 'merged' AND created_at < ? AND (created_at >= ? OR resolved_at IS NULL OR resolved_at >= ?)`

// ReportIncidents returns every incident of a technical report with its timeline, indicators,
// detections and containment actions, oldest first.
func (s *Store) ReportIncidents(ctx context.Context, tenantID string, from, to time.Time) ([]socbot.ReportIncident, error) {
	const op = "sqlstore.ReportIncidents"
	f, t := us(from), us(to)
	scope := []any{tenantID, t, f, f}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE `+reportScope+` ORDER BY created_at, id`), scope...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	var out []socbot.ReportIncident
	idx := map[int64]int{}
	err = eachRow(rows, func(r *sql.Rows) error {
		inc, err := scanIncident(r)
		if err != nil {
			return err
		}
		idx[inc.ID] = len(out)
		out = append(out, socbot.ReportIncident{Incident: inc, Timeline: []socbot.TimelineEntry{}, Indicators: []socbot.Observable{},
			Actions: []socbot.ReportAction{}, Alerts: []socbot.ReportAlertLine{}})
		return nil
	})
	if err != nil || len(out) == 0 {
		return out, dbErr(op, err)
	}
	sub := `SELECT id FROM incidents WHERE ` + reportScope
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT incident_id, at, actor, kind, text FROM timeline WHERE tenant_id = ? AND incident_id IN (`+sub+`) ORDER BY incident_id, at, id`),
		append([]any{tenantID}, scope...)...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		e := socbot.TimelineEntry{TenantID: tenantID}
		var at int64
		if err := r.Scan(&e.IncidentID, &at, &e.Actor, &e.Kind, &e.Text); err != nil {
			return err
		}
		e.At = fromUS(at)
		if i, ok := idx[e.IncidentID]; ok {
			out[i].Timeline = append(out[i].Timeline, e)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(op, err)
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT incident_id, entity FROM incident_entities WHERE tenant_id = ? AND incident_id IN (`+sub+`) ORDER BY incident_id, entity`),
		append([]any{tenantID}, scope...)...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		var id int64
		var ent string
		if err := r.Scan(&id, &ent); err != nil {
			return err
		}
		typ, val, _ := strings.Cut(ent, ":")
		if i, ok := idx[id]; ok {
			out[i].Indicators = append(out[i].Indicators, socbot.Observable{Type: socbot.ObservableType(typ), Value: val})
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(op, err)
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT incident_id, title, COUNT(*), MIN(detected_at), MAX(detected_at) FROM alerts
		WHERE tenant_id = ? AND incident_id IN (`+sub+`) GROUP BY incident_id, title ORDER BY incident_id, 3 DESC, title`),
		append([]any{tenantID}, scope...)...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		var id, first, last int64
		var l socbot.ReportAlertLine
		if err := r.Scan(&id, &l.Title, &l.Count, &first, &last); err != nil {
			return err
		}
		l.First, l.Last = fromUS(first), fromUS(last)
		if i, ok := idx[id]; ok {
			out[i].Alerts = append(out[i].Alerts, l)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(op, err)
	}
	acts, err := s.reportActions(ctx, `tenant_id = ? AND incident_id IN (`+sub+`)`, append([]any{tenantID}, scope...)...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	for _, a := range acts {
		if i, ok := idx[a.IncidentID]; ok {
			out[i].Actions = append(out[i].Actions, a)
		}
	}
	return out, nil
}

// ReportOpenActions lists the tenant's containment actions that have not come to rest: open items.
func (s *Store) ReportOpenActions(ctx context.Context, tenantID string) ([]socbot.ReportAction, error) {
	out, err := s.reportActions(ctx, `tenant_id = ? AND state IN ('requested', 'awaiting_approval', 'approved', 'applying', 'expiring')`, tenantID)
	return out, dbErr("sqlstore.ReportOpenActions", err)
}

func (s *Store) reportActions(ctx context.Context, where string, args ...any) ([]socbot.ReportAction, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, COALESCE(incident_id, 0), kind, value, connector_id, state, requested_by, required_approvals,
		created_at, applied_at, removed_at, detail FROM containment_actions WHERE `+where+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, err
	}
	out := []socbot.ReportAction{}
	err = eachRow(rows, func(r *sql.Rows) error {
		var a socbot.ReportAction
		var created int64
		var applied, removed sql.NullInt64
		if err := r.Scan(&a.ID, &a.IncidentID, &a.Kind, &a.Value, &a.ConnectorID, &a.State, &a.RequestedBy, &a.Required, &created, &applied, &removed, &a.Detail); err != nil {
			return err
		}
		a.CreatedAt, a.AppliedAt, a.RemovedAt = fromUS(created), optTime(applied), optTime(removed)
		out = append(out, a)
		return nil
	})
	return out, err
}

// ---- branding

var colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidateBranding checks a tenant's report branding: colours as #rrggbb, the logo a PNG or JPEG data
// URI of at most 256 KiB.
func ValidateBranding(b socbot.ReportBranding) error {
	const op = "branding"
	for _, c := range []struct{ field, v string }{{"primary_color", b.PrimaryColor}, {"accent_color", b.AccentColor}} {
		if c.v != "" && !colorRe.MatchString(c.v) {
			return socbot.FieldError(op, c.field, "colour must be #rrggbb, not %q", c.v)
		}
	}
	if b.Logo != "" {
		if !strings.HasPrefix(b.Logo, "data:image/png;base64,") && !strings.HasPrefix(b.Logo, "data:image/jpeg;base64,") {
			return socbot.FieldError(op, "logo", "logo must be a data:image/png;base64 or data:image/jpeg;base64 URI")
		}
		if len(b.Logo) > 256<<10 {
			return socbot.FieldError(op, "logo", "logo is larger than 256 KiB")
		}
		for _, c := range b.Logo[strings.IndexByte(b.Logo, ',')+1:] {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return socbot.FieldError(op, "logo", "logo is not base64")
			}
		}
	}
	if len(b.DisplayName) > 200 {
		return socbot.FieldError(op, "display_name", "display name is longer than 200 characters")
	}
	return nil
}

// ReportBranding returns the tenant's branding (empty fields when none was set).
func (s *Store) ReportBranding(ctx context.Context, tenantID string) (socbot.ReportBranding, error) {
	b := socbot.ReportBranding{TenantID: tenantID}
	var updated int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT display_name, logo, primary_color, accent_color, updated_at FROM report_branding WHERE tenant_id = ?`), tenantID).
		Scan(&b.DisplayName, &b.Logo, &b.PrimaryColor, &b.AccentColor, &updated)
	if err == sql.ErrNoRows {
		return b, nil
	}
	b.UpdatedAt = fromUS(updated)
	return b, dbErr("sqlstore.ReportBranding", err)
}

// SetReportBranding replaces the tenant's branding.
func (s *Store) SetReportBranding(ctx context.Context, b socbot.ReportBranding, by socbot.Principal) error {
	const op = "sqlstore.SetReportBranding"
	if err := ValidateBranding(b); err != nil {
		return err
	}
	now := us(s.clock.Now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO report_branding (tenant_id, display_name, logo, primary_color, accent_color, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET display_name = excluded.display_name, logo = excluded.logo, primary_color = excluded.primary_color,
			accent_color = excluded.accent_color, updated_at = excluded.updated_at`), b.TenantID, b.DisplayName, b.Logo, b.PrimaryColor, b.AccentColor, now); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, b.TenantID, "report.branding", "tenant:"+b.TenantID, "",
			map[string]any{"display_name": b.DisplayName, "primary_color": b.PrimaryColor, "accent_color": b.AccentColor, "logo_bytes": len(b.Logo)}))
	})
}

// ---- schedules

const scheduleCols = `id, tenant_id, cadence, audience, recipients, enabled, next_run_at, last_run_at, last_status, last_error, attempts, created_by, created_at`

func scanSchedule(r scanner) (socbot.ReportSchedule, error) {
	var sc socbot.ReportSchedule
	var recips string
	var next, created int64
	var last sql.NullInt64
	if err := r.Scan(&sc.ID, &sc.TenantID, &sc.Cadence, &sc.Audience, &recips, &sc.Enabled, &next, &last, &sc.LastStatus, &sc.LastError,
		&sc.Attempts, &sc.CreatedBy, &created); err != nil {
		return sc, err
	}
	unjs(recips, &sc.Recipients)
	sc.NextRunAt, sc.LastRunAt, sc.CreatedAt = fromUS(next), optTime(last), fromUS(created)
	return sc, nil
}

// CreateReportSchedule stores a schedule; NextRunAt must be set by the caller (the report bot knows
// the tenant's calendar).
func (s *Store) CreateReportSchedule(ctx context.Context, sc *socbot.ReportSchedule, by socbot.Principal) error {
	const op = "sqlstore.CreateReportSchedule"
	if sc.Cadence != socbot.CadenceMonthly && sc.Cadence != socbot.CadenceQuarterly {
		return socbot.FieldError(op, "cadence", "cadence must be monthly or quarterly, not %q", sc.Cadence)
	}
	if sc.Audience != socbot.AudienceManagement && sc.Audience != socbot.AudienceTechnical {
		return socbot.FieldError(op, "audience", "audience must be management or technical, not %q", sc.Audience)
	}
	if sc.NextRunAt.IsZero() {
		return socbot.FieldError(op, "next_run_at", "next run time is required")
	}
	sc.CreatedAt = fromUS(us(s.clock.Now()))
	sc.CreatedBy = by.Name
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO report_schedules (tenant_id, cadence, audience, recipients, enabled, next_run_at, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), sc.TenantID, sc.Cadence, sc.Audience, jsStrings(sc.Recipients), sc.Enabled, us(sc.NextRunAt),
			sc.CreatedBy, us(sc.CreatedAt)).Scan(&sc.ID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, sc.TenantID, "report.schedule.create", fmt.Sprintf("report_schedule:%d", sc.ID), "",
			map[string]any{"cadence": sc.Cadence, "audience": sc.Audience, "recipients": sc.Recipients}))
	})
}

// ReportSchedules lists a tenant's schedules ("" lists every tenant's).
func (s *Store) ReportSchedules(ctx context.Context, tenantID string) ([]socbot.ReportSchedule, error) {
	query, args := `SELECT `+scheduleCols+` FROM report_schedules`, []any{}
	if tenantID != "" {
		query += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, dbErr("sqlstore.ReportSchedules", err)
	}
	out := []socbot.ReportSchedule{}
	err = eachRow(rows, func(r *sql.Rows) error {
		sc, err := scanSchedule(r)
		out = append(out, sc)
		return err
	})
	return out, dbErr("sqlstore.ReportSchedules", err)
}

// DeleteReportSchedule removes a schedule of the tenant ("" lets an admin remove any); its history stays.
func (s *Store) DeleteReportSchedule(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	const op = "sqlstore.DeleteReportSchedule"
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		query, args := `SELECT tenant_id FROM report_schedules WHERE id = ?`, []any{id}
		if tenantID != "" {
			query += ` AND tenant_id = ?`
			args = append(args, tenantID)
		}
		if err := tx.QueryRowContext(ctx, s.q(query), args...).Scan(&owner); err != nil {
			return dbErr(op, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM report_schedules WHERE id = ?`), id); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, owner, "report.schedule.delete", fmt.Sprintf("report_schedule:%d", id), "", nil))
	})
}

// ClaimReportSchedules leases due schedules to the caller for lease.
func (s *Store) ClaimReportSchedules(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]socbot.ReportSchedule, error) {
	const op = "sqlstore.ClaimReportSchedules"
	var out []socbot.ReportSchedule
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if s.engine == Postgres {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+scheduleCols+` FROM report_schedules WHERE enabled AND next_run_at <= ? AND lease_until <= ? ORDER BY next_run_at, id LIMIT ?`+lock),
			us(now), us(now), limit)
		if err != nil {
			return dbErr(op, err)
		}
		err = eachRow(rows, func(r *sql.Rows) error {
			sc, err := scanSchedule(r)
			out = append(out, sc)
			return err
		})
		if err != nil {
			return dbErr(op, err)
		}
		for _, sc := range out {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE report_schedules SET lease_until = ? WHERE id = ?`), us(now.Add(lease)), sc.ID); err != nil {
				return dbErr(op, err)
			}
		}
		return nil
	})
	return out, err
}

// FinishReportSchedule stores a schedule's outcome and next run, and releases its lease.
func (s *Store) FinishReportSchedule(ctx context.Context, sc socbot.ReportSchedule) error {
	const op = "sqlstore.FinishReportSchedule"
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE report_schedules SET next_run_at = ?, last_run_at = ?, last_status = ?, last_error = ?, attempts = ?, lease_until = 0 WHERE id = ?`),
			us(sc.NextRunAt), nullUS(sc.LastRunAt), sc.LastStatus, sc.LastError, sc.Attempts, sc.ID)
		if err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(socbot.Bot("report"), sc.TenantID, "report.schedule.run", fmt.Sprintf("report_schedule:%d", sc.ID), sc.LastError,
			map[string]any{"status": sc.LastStatus, "next_run_at": sc.NextRunAt, "attempts": sc.Attempts}))
	})
}

// ---- runs

const runCols = `id, tenant_id, COALESCE(schedule_id, 0), period, period_from, period_to, audience, status, error, sha256, delivery, requested_by, created_at`

func scanRun(r scanner, extra ...any) (socbot.ReportRun, error) {
	var run socbot.ReportRun
	var from, to, created int64
	dest := append([]any{&run.ID, &run.TenantID, &run.ScheduleID, &run.Period, &from, &to, &run.Audience, &run.Status, &run.Error, &run.SHA256,
		&run.Delivery, &run.RequestedBy, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return run, err
	}
	run.From, run.To, run.CreatedAt = fromUS(from), fromUS(to), fromUS(created)
	return run, nil
}

// SaveReportRun stores a generated or failed report.
func (s *Store) SaveReportRun(ctx context.Context, r *socbot.ReportRun, by socbot.Principal) error {
	const op = "sqlstore.SaveReportRun"
	if r.Status != socbot.ReportOK && r.Status != socbot.ReportFailed {
		return socbot.FieldError(op, "status", "status must be ok or failed")
	}
	r.CreatedAt = fromUS(us(s.clock.Now()))
	r.RequestedBy = by.Name
	r.HTMLSize, r.PDFSize = len(r.HTML), len(r.PDF)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO report_runs (tenant_id, schedule_id, period, period_from, period_to, audience, status, error, html, pdf,
			sha256, delivery, requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.TenantID, nullID(r.ScheduleID), r.Period, us(r.From), us(r.To), r.Audience, r.Status, r.Error, r.HTML, r.PDF, r.SHA256, r.Delivery,
			r.RequestedBy, us(r.CreatedAt)).Scan(&r.ID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, r.TenantID, "report.generate", fmt.Sprintf("report:%d", r.ID), r.Error,
			map[string]any{"period": r.Period, "audience": r.Audience, "status": r.Status, "sha256": r.SHA256}))
	})
}

// ReportRuns lists a tenant's reports newest first ("" lists all; scheduleID > 0 one schedule's history).
func (s *Store) ReportRuns(ctx context.Context, tenantID string, scheduleID int64, limit int) ([]socbot.ReportRun, error) {
	var where []string
	var args []any
	if tenantID != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, tenantID)
	}
	if scheduleID > 0 {
		where = append(where, "schedule_id = ?")
		args = append(args, scheduleID)
	}
	query := `SELECT ` + runCols + `, COALESCE(LENGTH(html), 0), COALESCE(LENGTH(pdf), 0) FROM report_runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, dbErr("sqlstore.ReportRuns", err)
	}
	out := []socbot.ReportRun{}
	err = eachRow(rows, func(r *sql.Rows) error {
		var hs, ps int
		run, err := scanRun(r, &hs, &ps)
		run.HTMLSize, run.PDFSize = hs, ps
		out = append(out, run)
		return err
	})
	return out, dbErr("sqlstore.ReportRuns", err)
}

// ReportRun returns one report of the tenant ("" any), with its HTML and PDF when content is true.
func (s *Store) ReportRun(ctx context.Context, tenantID string, id int64, content bool) (socbot.ReportRun, error) {
	cols := runCols + `, COALESCE(LENGTH(html), 0), COALESCE(LENGTH(pdf), 0)`
	if content {
		cols += `, html, pdf`
	}
	query, args := `SELECT `+cols+` FROM report_runs WHERE id = ?`, []any{id}
	if tenantID != "" {
		query += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	var hs, ps int
	extra := []any{&hs, &ps}
	var html, pdf []byte
	if content {
		extra = append(extra, &html, &pdf)
	}
	run, err := scanRun(s.db.QueryRowContext(ctx, s.q(query), args...), extra...)
	run.HTMLSize, run.PDFSize, run.HTML, run.PDF = hs, ps, html, pdf
	return run, dbErr("sqlstore.ReportRun", err)
}

// SetReportDelivery records how a report was delivered (e-mail outcome).
func (s *Store) SetReportDelivery(ctx context.Context, id int64, delivery string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE report_runs SET delivery = ? WHERE id = ?`), delivery, id)
		return dbErr("sqlstore.SetReportDelivery", err)
	})
}

// SeedBench fills a tenant with synthetic incidents and alerts spread evenly over [from, to), in
// bulk SQL inside the database (no round trip per row), for the report and console benchmarks. Alerts
// are spread over the incidents; one in ten is suppressed and one in ten a duplicate.
func (s *Store) SeedBench(ctx context.Context, tenantID string, from, to time.Time, incidents, alerts int) error {
	const op = "sqlstore.SeedBench"
	if s.engine != SQLite {
		return socbot.E(op, socbot.KindUnsupported, "the benchmark seeder writes SQLite only")
	}
	span := us(to) - us(from)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var first int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(id), 0) + 1 FROM incidents`)).Scan(&first); err != nil {
			return dbErr(op, err)
		}
		var next int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT next_incident FROM tenant_counters WHERE tenant_id = ?`), tenantID).Scan(&next); err != nil {
			return dbErr(op, err)
		}
		if incidents > 0 {
			step := span / int64(incidents)
			// The newest 1% (at least 20) are still open, the others closed: the backlog of a working SOC.
			openFrom := incidents - max(incidents/100, min(20, incidents))
			if _, err := tx.ExecContext(ctx, s.q(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
				INSERT INTO incidents (id, tenant_id, number, title, priority, status, queue, assignee, category, confidence, reasons, alert_count,
					tactics, techniques, first_seen, last_seen, created_at, updated_at, ack_due, resolve_due, acknowledged_at, contained_at, resolved_at)
				SELECT ? + i, ?, ? + i,
					CASE i % 5 WHEN 0 THEN 'Brute force against ' WHEN 1 THEN 'Malware on ' WHEN 2 THEN 'Phishing link clicked on ' WHEN 3 THEN 'C2 beacon from ' ELSE 'Suspicious PowerShell on ' END || 'host-' || (i % 997),
					1 + i % 4,
					CASE WHEN i >= ? THEN (CASE i % 3 WHEN 0 THEN 'new' WHEN 1 THEN 'acknowledged' ELSE 'contained' END)
						WHEN i % 10 = 3 THEN 'false_positive' ELSE 'resolved' END,
					CASE i % 7 WHEN 0 THEN 'tier2' ELSE 'triage' END, CASE i % 3 WHEN 0 THEN '' ELSE 'analyst' || (i % 9) || '@mssp.example' END,
					CASE i % 6 WHEN 0 THEN 'malware' WHEN 1 THEN 'credential-access' WHEN 2 THEN 'phishing' WHEN 3 THEN 'network' WHEN 4 THEN 'execution' ELSE 'impact' END,
					50 + i % 50, '["seeded"]', 1,
					'[]', CASE i % 6 WHEN 0 THEN '["T1059.001"]' WHEN 1 THEN '["T1110"]' WHEN 2 THEN '["T1566.001","T1204.001"]' WHEN 3 THEN '["T1071.001"]' WHEN 4 THEN '["T1003.001"]' ELSE '["T1486"]' END,
					? + i * ? - 60000000 * (1 + i % 30), ? + i * ?, ? + i * ?, ? + i * ?,
					? + i * ? + 900000000 * (1 + i % 4), ? + i * ? + 14400000000 * (1 + i % 4),
					CASE WHEN i >= ? AND i % 3 = 0 THEN NULL ELSE ? + i * ? + 60000000 * (1 + i % 120) END,
					CASE WHEN (i >= ? AND i % 3 = 2) OR (i < ? AND i % 10 <> 3 AND i % 4 = 0) THEN ? + i * ? + 60000000 * (30 + i % 300) ELSE NULL END,
					CASE WHEN i < ? THEN ? + i * ? + 60000000 * (60 + i % 3000) ELSE NULL END
				FROM n`), incidents, first, tenantID, next, openFrom, us(from), step, us(from), step, us(from), step, us(from), step,
				us(from), step, us(from), step, openFrom, us(from), step, openFrom, openFrom, us(from), step, openFrom, us(from), step); err != nil {
				return dbErr(op, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE tenant_counters SET next_incident = ? WHERE tenant_id = ?`), next+int64(incidents), tenantID); err != nil {
				return dbErr(op, err)
			}
		}
		if alerts > 0 {
			step := span / int64(alerts)
			if _, err := tx.ExecContext(ctx, s.q(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
				INSERT INTO alerts (uid, tenant_id, format, title, severity, severity_score, detected_at, received_at, status, incident_id, priority, confidence)
				SELECT ? || '-' || i, ?, 'bench',
					CASE i % 8 WHEN 0 THEN 'Brute force' WHEN 1 THEN 'Malware detected' WHEN 2 THEN 'Phishing link' WHEN 3 THEN 'C2 beacon' WHEN 4 THEN 'Port scan'
						WHEN 5 THEN 'Suspicious PowerShell' WHEN 6 THEN 'Credential dumping' ELSE 'Ransomware behaviour' END || ' ' || (i % 37),
					1 + i % 5, 10 + 20 * (i % 5), ? + i * ? - 30000000, ? + i * ?,
					CASE i % 10 WHEN 0 THEN 'suppressed' WHEN 1 THEN 'duplicate' ELSE 'open' END,
					CASE WHEN i % 10 = 0 OR ? = 0 THEN NULL ELSE ? + (i % ?) END, 1 + i % 4, 60
				FROM n`), alerts, tenantID, tenantID, us(from), step, us(from), step, incidents, first, max(incidents, 1)); err != nil {
				return dbErr(op, err)
			}
		}
		return nil
	})
}
