package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// TriageTx runs fn in one write transaction with the operations triage needs.
func (s *Store) TriageTx(ctx context.Context, fn func(socbot.TriageTx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := &triageTx{s: s, ctx: ctx, tx: tx, chans: map[string][]socbot.Channel{}, tenantNames: map[string]string{}}
		defer t.close()
		return fn(t)
	})
}

type triageTx struct {
	s           *Store
	ctx         context.Context
	tx          *sql.Tx
	insertFull  *sql.Stmt // alertInsertBatch rows at once
	chans       map[string][]socbot.Channel
	tenantNames map[string]string
}

var _ socbot.TriageTx = (*triageTx)(nil)

// alertInsertBatch is how many alerts one INSERT statement carries.
const alertInsertBatch = 32

func (t *triageTx) close() {
	if t.insertFull != nil {
		t.insertFull.Close()
	}
}

func (t *triageTx) greatest() string {
	if t.s.engine == Postgres {
		return "GREATEST"
	}
	return "MAX"
}

func (t *triageTx) least() string {
	if t.s.engine == Postgres {
		return "LEAST"
	}
	return "MIN"
}

func (t *triageTx) exec(op, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(t.ctx, t.s.q(query), args...)
	return res, dbErr(op, err)
}

func (t *triageTx) Processed(stream string, seq uint64) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT 1 FROM processed_messages WHERE stream = ? AND seq = ?`), stream, int64(seq)).Scan(&n)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, dbErr("sqlstore.Processed", err)
}

func (t *triageTx) MarkProcessed(stream string, seq uint64) error {
	_, err := t.exec("sqlstore.MarkProcessed", `INSERT INTO processed_messages (stream, seq, processed_at) VALUES (?, ?, ?)`, stream, int64(seq), us(t.s.clock.Now()))
	return err
}

func (t *triageTx) CreateIncident(inc *socbot.Incident) error {
	const op = "sqlstore.CreateIncident"
	if err := t.tx.QueryRowContext(t.ctx, t.s.q(`UPDATE tenant_counters SET next_incident = next_incident + 1 WHERE tenant_id = ? RETURNING next_incident - 1`),
		inc.TenantID).Scan(&inc.Number); err != nil {
		return dbErr(op, err)
	}
	if inc.Status == "" {
		inc.Status = socbot.StatusNew
	}
	return dbErr(op, t.tx.QueryRowContext(t.ctx, t.s.q(`INSERT INTO incidents (tenant_id, number, title, priority, status, queue, assignee, category, confidence,
		reasons, alert_count, tactics, techniques, first_seen, last_seen, created_at, updated_at, ack_due, resolve_due, escalation_level)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id`),
		inc.TenantID, inc.Number, inc.Title, int(inc.Priority), inc.Status, inc.Queue, inc.Assignee, inc.Category, inc.Confidence,
		jsStrings(inc.Reasons), inc.AlertCount, jsStrings(inc.Tactics), jsStrings(inc.Techniques), us(inc.FirstSeen), us(inc.LastSeen),
		us(inc.CreatedAt), us(inc.UpdatedAt), nullUS(inc.AckDue), nullUS(inc.ResolveDue)).Scan(&inc.ID))
}

func (t *triageTx) TouchIncident(d socbot.IncidentDelta) error {
	const op = "sqlstore.TouchIncident"
	res, err := t.exec(op, `UPDATE incidents SET alert_count = alert_count + ?, last_seen = `+t.greatest()+`(last_seen, ?),
		priority = `+t.least()+`(priority, ?), confidence = ?, reasons = ?, tactics = ?, techniques = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND status IN ('new', 'acknowledged', 'contained')`,
		d.AddAlerts, us(d.LastSeen), int(d.Priority), d.Confidence, jsStrings(d.Reasons), jsStrings(d.Tactics), jsStrings(d.Techniques),
		us(t.s.clock.Now()), d.TenantID, d.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return socbot.E(op, socbot.KindConflict, fmt.Sprintf("incident %d is closed or gone", d.ID))
	}
	return nil
}

func (t *triageTx) CreateGroup(g *socbot.AlertGroup) error {
	return dbErr("sqlstore.CreateGroup", t.tx.QueryRowContext(t.ctx, t.s.q(`INSERT INTO alert_groups (tenant_id, fingerprint, incident_id, count, first_seen, last_seen, open)
		VALUES (?, ?, ?, ?, ?, ?, TRUE) RETURNING id`),
		g.TenantID, g.Fingerprint, nullID(g.IncidentID), g.Count, us(g.FirstSeen), us(g.LastSeen)).Scan(&g.ID))
}

func (t *triageTx) TouchGroup(id int64, add int64, lastSeen time.Time) error {
	_, err := t.exec("sqlstore.TouchGroup", `UPDATE alert_groups SET count = count + ?, last_seen = `+t.greatest()+`(last_seen, ?) WHERE id = ?`, add, us(lastSeen), id)
	return err
}

func (t *triageTx) CloseGroup(id int64) error {
	_, err := t.exec("sqlstore.CloseGroup", `UPDATE alert_groups SET open = FALSE WHERE id = ?`, id)
	return err
}

func (t *triageTx) InsertAlerts(alerts []*socbot.Alert) error {
	const op = "sqlstore.InsertAlerts"
	if len(alerts) == 0 {
		return nil
	}
	row := "(" + placeholders(alertInsertN) + ")"
	full := len(alerts) / alertInsertBatch * alertInsertBatch
	if full > 0 && t.insertFull == nil {
		rows := strings.TrimSuffix(strings.Repeat(row+", ", alertInsertBatch), ", ")
		stmt, err := t.tx.PrepareContext(t.ctx, t.s.q(`INSERT INTO alerts (`+alertInsertCols+`) VALUES `+rows))
		if err != nil {
			return dbErr(op, err)
		}
		t.insertFull = stmt
	}
	args := make([]any, 0, alertInsertN*alertInsertBatch)
	for i := 0; i < full; i += alertInsertBatch {
		args = args[:0]
		for _, a := range alerts[i : i+alertInsertBatch] {
			args = alertArgs(args, a)
		}
		if _, err := t.insertFull.ExecContext(t.ctx, args...); err != nil {
			return dbErr(op, err)
		}
	}
	if rest := alerts[full:]; len(rest) > 0 {
		args = args[:0]
		for _, a := range rest {
			args = alertArgs(args, a)
		}
		rows := strings.TrimSuffix(strings.Repeat(row+", ", len(rest)), ", ")
		if _, err := t.exec(op, `INSERT INTO alerts (`+alertInsertCols+`) VALUES `+rows, args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *triageTx) AddEntities(tenantID string, incidentID int64, entities []string, at time.Time) error {
	const op = "sqlstore.AddEntities"
	for len(entities) > 0 {
		n := min(len(entities), 64)
		args := make([]any, 0, 4*n)
		for _, e := range entities[:n] {
			args = append(args, tenantID, incidentID, e, us(at))
		}
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
		if _, err := t.exec(op, `INSERT INTO incident_entities (tenant_id, incident_id, entity, last_seen) VALUES `+rows+`
			ON CONFLICT (incident_id, entity) DO UPDATE SET last_seen = `+t.greatest()+`(incident_entities.last_seen, excluded.last_seen)`, args...); err != nil {
			return err
		}
		entities = entities[n:]
	}
	return nil
}

func (t *triageTx) Merge(tenantID string, into int64, from []int64, at time.Time, by socbot.Principal) error {
	const op = "sqlstore.Merge"
	if len(from) == 0 {
		return nil
	}
	in := placeholders(len(from))
	ids := make([]any, len(from))
	for i, id := range from {
		ids[i] = id
	}
	withIDs := func(first ...any) []any { return append(first, ids...) }
	var count int64
	var first sql.NullInt64
	var prio sql.NullInt64
	if err := t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT COALESCE(SUM(alert_count), 0), MIN(first_seen), MIN(priority) FROM incidents
		WHERE tenant_id = ? AND status IN ('new', 'acknowledged', 'contained') AND id IN (`+in+`)`), withIDs(tenantID)...).Scan(&count, &first, &prio); err != nil {
		return dbErr(op, err)
	}
	res, err := t.exec(op, `UPDATE incidents SET status = 'merged', merged_into = ?, updated_at = ? WHERE tenant_id = ? AND status IN ('new', 'acknowledged', 'contained') AND id IN (`+in+`)`,
		withIDs(into, us(at), tenantID)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != int64(len(from)) {
		return socbot.E(op, socbot.KindConflict, "an incident to merge is closed or gone")
	}
	q := `UPDATE incidents SET alert_count = alert_count + ?, updated_at = ?`
	args := []any{count, us(at)}
	if first.Valid {
		q += `, first_seen = ` + t.least() + `(first_seen, ?), priority = ` + t.least() + `(priority, ?)`
		args = append(args, first.Int64, prio.Int64)
	}
	res, err = t.exec(op, q+` WHERE tenant_id = ? AND id = ? AND status IN ('new', 'acknowledged', 'contained')`, append(args, tenantID, into)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return socbot.E(op, socbot.KindConflict, fmt.Sprintf("incident %d is closed or gone", into))
	}
	for _, stmt := range []string{
		`UPDATE alerts SET incident_id = ? WHERE incident_id IN (` + in + `)`,
		`UPDATE alert_groups SET incident_id = ? WHERE incident_id IN (` + in + `)`,
	} {
		if _, err := t.exec(op, stmt, withIDs(into)...); err != nil {
			return err
		}
	}
	if _, err := t.exec(op, `INSERT INTO incident_entities (tenant_id, incident_id, entity, last_seen)
		SELECT tenant_id, ?, entity, MAX(last_seen) FROM incident_entities WHERE incident_id IN (`+in+`) GROUP BY tenant_id, entity
		ON CONFLICT (incident_id, entity) DO UPDATE SET last_seen = `+t.greatest()+`(incident_entities.last_seen, excluded.last_seen)`, withIDs(into)...); err != nil {
		return err
	}
	if _, err := t.exec(op, `DELETE FROM incident_entities WHERE incident_id IN (`+in+`)`, ids...); err != nil {
		return err
	}
	return t.s.appendAudit(t.ctx, t.tx, auditRec(by, tenantID, "incident.merge", fmt.Sprintf("incident:%d", into), "incidents came to share an entity", map[string]any{"merged": from}))
}

func (t *triageTx) AddTimeline(entries ...socbot.TimelineEntry) error {
	return t.s.addTimeline(t.ctx, t.tx, entries...)
}

func (t *triageTx) Notify(tenantID, event string, inc socbot.Incident, detail string) error {
	chans, ok := t.chans[tenantID]
	if !ok {
		var err error
		if chans, err = t.s.channels(t.ctx, t.tx, tenantID, true); err != nil {
			return err
		}
		t.chans[tenantID] = chans
	}
	if len(chans) == 0 {
		return nil
	}
	return t.s.enqueue(t.ctx, t.tx, tenantID, event, inc, detail)
}

func (t *triageTx) Audit(rec socbot.AuditRecord) error {
	return t.s.appendAudit(t.ctx, t.tx, rec)
}

func (t *triageTx) SuppressionHits(tenantID string, hits map[int64]int64, at time.Time) error {
	for id, n := range hits {
		if _, err := t.exec("sqlstore.SuppressionHits", `UPDATE suppression_rules SET hits = hits + ?, last_hit_at = ? WHERE tenant_id = ? AND id = ?`, n, us(at), tenantID, id); err != nil {
			return err
		}
	}
	return nil
}

// TriageState loads the tenant's open incidents last seen at or after since, with their entities, and
// their open alert groups.
func (s *Store) TriageState(ctx context.Context, tenantID string, since time.Time) (socbot.TriageState, error) {
	const op = "sqlstore.TriageState"
	var st socbot.TriageState
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE tenant_id = ? AND status IN ('new', 'acknowledged', 'contained') AND last_seen >= ? ORDER BY id`),
		tenantID, us(since))
	if err != nil {
		return st, dbErr(op, err)
	}
	byID := map[int64]int{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return st, dbErr(op, err)
		}
		byID[inc.ID] = len(st.Incidents)
		st.Incidents = append(st.Incidents, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, dbErr(op, err)
	}
	if len(st.Incidents) == 0 {
		return st, nil
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT e.incident_id, e.entity FROM incident_entities e JOIN incidents i ON i.id = e.incident_id
		WHERE e.tenant_id = ? AND i.status IN ('new', 'acknowledged', 'contained') AND i.last_seen >= ?`), tenantID, us(since))
	if err != nil {
		return st, dbErr(op, err)
	}
	for rows.Next() {
		var id int64
		var e string
		if err := rows.Scan(&id, &e); err != nil {
			rows.Close()
			return st, dbErr(op, err)
		}
		if i, ok := byID[id]; ok {
			st.Incidents[i].Entities = append(st.Incidents[i].Entities, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, dbErr(op, err)
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT id, tenant_id, fingerprint, COALESCE(incident_id, 0), count, first_seen, last_seen FROM alert_groups WHERE tenant_id = ? AND open`), tenantID)
	if err != nil {
		return st, dbErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var g socbot.AlertGroup
		var first, last int64
		if err := rows.Scan(&g.ID, &g.TenantID, &g.Fingerprint, &g.IncidentID, &g.Count, &first, &last); err != nil {
			return st, dbErr(op, err)
		}
		if _, ok := byID[g.IncidentID]; !ok {
			continue
		}
		g.FirstSeen, g.LastSeen, g.Open = fromUS(first), fromUS(last), true
		st.Groups = append(st.Groups, g)
	}
	return st, dbErr(op, rows.Err())
}

// DeadLetter keeps a bus message that could not be processed, with the reason.
func (s *Store) DeadLetter(ctx context.Context, subject string, data []byte, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO dead_letters (subject, data, error, at) VALUES (?, ?, ?, ?)`), subject, data, reason, us(s.clock.Now()))
		return dbErr("sqlstore.DeadLetter", err)
	})
}
