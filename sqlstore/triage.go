package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// TriageTx runs fn in one write transaction with the operations triage needs.
func (s *Store) TriageTx(ctx context.Context, fn func(socbot.TriageTx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := &triageTx{s: s, ctx: ctx, tx: tx, chans: map[string][]socbot.Channel{}, counters: map[string]*counter{},
			buffered: map[int64]*socbot.Incident{}, ids: map[string]*idBlock{}, incAt: map[int64]int{}, grpAt: map[int64]int{}}
		if err := fn(t); err != nil {
			return err
		}
		return t.flushAll()
	})
}

// triageTx gathers what one triage transaction writes. New incidents, groups, entities, timeline
// entries and audit records are kept in memory and written many rows per statement: before anything
// reads or changes their tables, and before the commit. Ids and incident numbers are reserved as they
// are handed out, so callers see them at once.
type triageTx struct {
	s          *Store
	ctx        context.Context
	tx         *sql.Tx
	insertFull *sql.Stmt // alertInsertBatch rows at once
	chans      map[string][]socbot.Channel

	ids      map[string]*idBlock // table -> reserved ids
	counters map[string]*counter // tenant -> incident numbers handed out in this transaction
	newIncs  []*socbot.Incident
	buffered map[int64]*socbot.Incident
	groups   []*socbot.AlertGroup
	incTouch []socbot.IncidentDelta // stored incidents' changes, one per incident, written many per statement
	incAt    map[int64]int          // incident id -> index in incTouch
	grpTouch []groupTouch
	grpAt    map[int64]int
	ents     []entityRow
	timeline []socbot.TimelineEntry
	audits   []socbot.AuditRecord
}

var _ socbot.TriageTx = (*triageTx)(nil)

type idBlock struct {
	free []int64
	max  int64 // SQLite: the largest id handed out so far
}

type counter struct {
	next  int64
	moved bool
}

type groupTouch struct {
	id, add  int64
	lastSeen time.Time
}

type entityRow struct {
	tenant   string
	incident int64
	entity   string
	at       time.Time
}

// alertInsertBatch is how many alerts one INSERT statement carries.
const alertInsertBatch = 32

// rowsPerStmt is how many rows the other multi-row inserts carry.
const rowsPerStmt = 64

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

// exec runs a cached prepared statement in the transaction.
func (t *triageTx) exec(op, query string, args ...any) (sql.Result, error) {
	st, err := t.s.prepared(t.ctx, t.tx, query)
	if err != nil {
		return nil, dbErr(op, err)
	}
	res, err := st.ExecContext(t.ctx, args...)
	return res, dbErr(op, err)
}

// queryRow runs a cached prepared query in the transaction.
func (t *triageTx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.s.prepared(t.ctx, t.tx, query)
	if err != nil {
		return t.tx.QueryRowContext(t.ctx, t.s.q(query), args...) // reports the same error on Scan
	}
	return st.QueryRowContext(t.ctx, args...)
}

func (t *triageTx) Processed(stream string, seq uint64) (bool, error) {
	var n int
	err := t.queryRow(`SELECT 1 FROM processed_messages WHERE stream = ? AND seq = ?`, stream, int64(seq)).Scan(&n)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, dbErr("sqlstore.Processed", err)
}

func (t *triageTx) MarkProcessed(stream string, seq uint64) error {
	_, err := t.exec("sqlstore.MarkProcessed", `INSERT INTO processed_messages (stream, seq, processed_at) VALUES (?, ?, ?)`, stream, int64(seq), us(t.s.clock.Now()))
	return err
}

// CreateIncident assigns the incident an id and the next number of its tenant; the row is written
// with the other new incidents.
func (t *triageTx) CreateIncident(inc *socbot.Incident) error {
	const op = "sqlstore.CreateIncident"
	c := t.counters[inc.TenantID]
	if c == nil {
		lock := ""
		if t.s.engine == Postgres {
			lock = " FOR UPDATE"
		}
		c = &counter{}
		if err := t.queryRow(`SELECT next_incident FROM tenant_counters WHERE tenant_id = ?`+lock, inc.TenantID).Scan(&c.next); err != nil {
			return dbErr(op, err)
		}
		t.counters[inc.TenantID] = c
	}
	id, err := t.nextID("incidents")
	if err != nil {
		return dbErr(op, err)
	}
	inc.ID, inc.Number = id, c.next
	c.next++
	c.moved = true
	if inc.Status == "" {
		inc.Status = socbot.StatusNew
	}
	row := *inc
	t.newIncs = append(t.newIncs, &row)
	t.buffered[row.ID] = &row
	return nil
}

func (t *triageTx) TouchIncident(d socbot.IncidentDelta) error {
	const op = "sqlstore.TouchIncident"
	if inc := t.buffered[d.ID]; inc != nil && inc.TenantID == d.TenantID {
		inc.AlertCount += d.AddAlerts
		if d.LastSeen.After(inc.LastSeen) {
			inc.LastSeen = d.LastSeen
		}
		if d.Priority != socbot.PriorityNone && d.Priority < inc.Priority {
			inc.Priority = d.Priority
		}
		inc.Confidence, inc.Reasons, inc.Tactics, inc.Techniques = d.Confidence, d.Reasons, d.Tactics, d.Techniques
		inc.UpdatedAt = t.s.clock.Now()
		return nil
	}
	if i, ok := t.incAt[d.ID]; ok { // touched before in this transaction: one row change of the two
		p := &t.incTouch[i]
		if p.TenantID != d.TenantID {
			return socbot.E(op, socbot.KindConflict, fmt.Sprintf("incident %d is closed or gone", d.ID))
		}
		p.AddAlerts += d.AddAlerts
		if d.LastSeen.After(p.LastSeen) {
			p.LastSeen = d.LastSeen
		}
		if p.Priority == socbot.PriorityNone || d.Priority != socbot.PriorityNone && d.Priority < p.Priority {
			p.Priority = d.Priority
		}
		p.Confidence, p.Reasons, p.Tactics, p.Techniques = d.Confidence, d.Reasons, d.Tactics, d.Techniques
		return nil
	}
	t.incAt[d.ID] = len(t.incTouch)
	t.incTouch = append(t.incTouch, d)
	return nil
}

// flushTouches writes the buffered changes of stored incidents and groups, many rows per UPDATE ...
// FROM (VALUES ...). An incident that is closed or gone (or of another tenant) fails the transaction.
func (t *triageTx) flushTouches() error {
	const op = "sqlstore.TouchIncident"
	cast := func(typ string) string { // PostgreSQL cannot infer the types of VALUES parameters
		if t.s.engine == Postgres {
			return "?::" + typ
		}
		return "?"
	}
	for len(t.incTouch) > 0 {
		n := min(len(t.incTouch), rowsPerStmt/2)
		row := "(" + strings.Join([]string{cast("bigint"), cast("text"), cast("bigint"), cast("bigint"), cast("bigint"), cast("bigint"),
			cast("text"), cast("text"), cast("text")}, ", ") + ")"
		args := make([]any, 0, 1+9*n)
		args = append(args, us(t.s.clock.Now()))
		for _, d := range t.incTouch[:n] {
			prio := int(d.Priority)
			if d.Priority == socbot.PriorityNone {
				prio = math.MaxInt32 // the least of it and the stored one is the stored one
			}
			args = append(args, d.ID, d.TenantID, d.AddAlerts, us(d.LastSeen), prio, d.Confidence,
				jsStrings(d.Reasons), jsStrings(d.Tactics), jsStrings(d.Techniques))
		}
		rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		res, err := t.exec(op, `UPDATE incidents SET alert_count = alert_count + v.column3, last_seen = `+t.greatest()+`(last_seen, v.column4),
			priority = `+t.least()+`(priority, v.column5), confidence = v.column6, reasons = v.column7, tactics = v.column8,
			techniques = v.column9, updated_at = ?
			FROM (VALUES `+rows+`) AS v
			WHERE incidents.id = v.column1 AND incidents.tenant_id = v.column2 AND incidents.status IN ('new', 'acknowledged', 'contained')`, args...)
		if err != nil {
			return err
		}
		if got, _ := res.RowsAffected(); got != int64(n) {
			return socbot.E(op, socbot.KindConflict, fmt.Sprintf("%d of %d incidents to update are closed or gone", int64(n)-got, n))
		}
		for _, d := range t.incTouch[:n] {
			delete(t.incAt, d.ID)
		}
		t.incTouch = t.incTouch[n:]
	}
	for len(t.grpTouch) > 0 {
		n := min(len(t.grpTouch), rowsPerStmt)
		row := "(" + cast("bigint") + ", " + cast("bigint") + ", " + cast("bigint") + ")"
		args := make([]any, 0, 3*n)
		for _, g := range t.grpTouch[:n] {
			args = append(args, g.id, g.add, us(g.lastSeen))
			delete(t.grpAt, g.id)
		}
		rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		if _, err := t.exec("sqlstore.TouchGroup", `UPDATE alert_groups SET count = count + v.column2, last_seen = `+t.greatest()+`(last_seen, v.column3)
			FROM (VALUES `+rows+`) AS v WHERE alert_groups.id = v.column1`, args...); err != nil {
			return err
		}
		t.grpTouch = t.grpTouch[n:]
	}
	return nil
}

// nextID hands out the next reserved id of table. On SQLite the transaction holds the only write lock,
// so the ids after the largest one are free; PostgreSQL takes them from the table's identity sequence.
func (t *triageTx) nextID(table string) (int64, error) {
	b := t.ids[table]
	if b == nil {
		b = &idBlock{}
		t.ids[table] = b
	}
	if len(b.free) == 0 {
		const n = 256
		if t.s.engine == Postgres {
			st, err := t.s.prepared(t.ctx, t.tx, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, ?)`)
			if err != nil {
				return 0, err
			}
			rows, err := st.QueryContext(t.ctx, n)
			if err != nil {
				return 0, err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return 0, err
				}
				b.free = append(b.free, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return 0, err
			}
		} else {
			if b.max == 0 {
				if err := t.queryRow(`SELECT COALESCE(MAX(id), 0) FROM ` + table).Scan(&b.max); err != nil {
					return 0, err
				}
			}
			for i := 0; i < n; i++ {
				b.max++
				b.free = append(b.free, b.max)
			}
		}
	}
	id := b.free[0]
	b.free = b.free[1:]
	return id, nil
}

// flushAll writes everything buffered, in an order that keeps every reference valid.
func (t *triageTx) flushAll() error {
	if err := t.flushIncidents(); err != nil {
		return err
	}
	if err := t.flushGroups(); err != nil {
		return err
	}
	if err := t.flushTouches(); err != nil {
		return err
	}
	if err := t.flushEntities(); err != nil {
		return err
	}
	if err := t.s.addTimeline(t.ctx, t.tx, t.timeline...); err != nil {
		return err
	}
	t.timeline = t.timeline[:0]
	if err := t.s.appendAudits(t.ctx, t.tx, t.audits); err != nil {
		return err
	}
	t.audits = t.audits[:0]
	return nil
}

func (t *triageTx) flushIncidents() error {
	const op = "sqlstore.CreateIncident"
	const cols = 21
	for len(t.newIncs) > 0 {
		n := min(len(t.newIncs), 32)
		args := make([]any, 0, cols*n)
		for _, inc := range t.newIncs[:n] {
			args = append(args, inc.ID, inc.TenantID, inc.Number, inc.Title, int(inc.Priority), inc.Status, inc.Queue, inc.Assignee, inc.Category,
				inc.Confidence, jsStrings(inc.Reasons), inc.AlertCount, jsStrings(inc.Tactics), jsStrings(inc.Techniques), us(inc.FirstSeen),
				us(inc.LastSeen), us(inc.CreatedAt), us(inc.UpdatedAt), nullUS(inc.AckDue), nullUS(inc.ResolveDue), 0)
			delete(t.buffered, inc.ID)
		}
		rows := strings.TrimSuffix(strings.Repeat("("+placeholders(cols)+"), ", n), ", ")
		if _, err := t.exec(op, `INSERT INTO incidents (id, tenant_id, number, title, priority, status, queue, assignee, category, confidence,
			reasons, alert_count, tactics, techniques, first_seen, last_seen, created_at, updated_at, ack_due, resolve_due, escalation_level)
			VALUES `+rows, args...); err != nil {
			return err
		}
		t.newIncs = t.newIncs[n:]
	}
	for tenant, c := range t.counters {
		if !c.moved {
			continue
		}
		if _, err := t.exec(op, `UPDATE tenant_counters SET next_incident = ? WHERE tenant_id = ?`, c.next, tenant); err != nil {
			return err
		}
		c.moved = false
	}
	return nil
}

// CreateGroup assigns the group its id; the row is written with the other new groups.
func (t *triageTx) CreateGroup(g *socbot.AlertGroup) error {
	id, err := t.nextID("alert_groups")
	if err != nil {
		return dbErr("sqlstore.CreateGroup", err)
	}
	g.ID = id
	t.groups = append(t.groups, g)
	return nil
}

func (t *triageTx) flushGroups() error {
	const op = "sqlstore.CreateGroup"
	for len(t.groups) > 0 {
		n := min(len(t.groups), rowsPerStmt)
		args := make([]any, 0, 7*n)
		for _, g := range t.groups[:n] {
			args = append(args, g.ID, g.TenantID, g.Fingerprint, nullID(g.IncidentID), g.Count, us(g.FirstSeen), us(g.LastSeen))
		}
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, TRUE), ", n), ", ")
		if _, err := t.exec(op, `INSERT INTO alert_groups (id, tenant_id, fingerprint, incident_id, count, first_seen, last_seen, open) VALUES `+rows, args...); err != nil {
			return err
		}
		t.groups = t.groups[n:]
	}
	return nil
}

func (t *triageTx) TouchGroup(id int64, add int64, lastSeen time.Time) error {
	if i, ok := t.grpAt[id]; ok {
		g := &t.grpTouch[i]
		g.add += add
		if lastSeen.After(g.lastSeen) {
			g.lastSeen = lastSeen
		}
		return nil
	}
	t.grpAt[id] = len(t.grpTouch)
	t.grpTouch = append(t.grpTouch, groupTouch{id: id, add: add, lastSeen: lastSeen})
	return nil
}

// CloseGroup closes a group at once (a new open group of its fingerprint may follow in this
// transaction). Only new groups need writing first; buffered count changes commute with it.
func (t *triageTx) CloseGroup(id int64) error {
	if err := t.flushGroups(); err != nil {
		return err
	}
	_, err := t.exec("sqlstore.CloseGroup", `UPDATE alert_groups SET open = FALSE WHERE id = ?`, id)
	return err
}

func (t *triageTx) InsertAlerts(alerts []*socbot.Alert) error {
	const op = "sqlstore.InsertAlerts"
	if err := t.flushGroups(); err != nil {
		return err
	}
	if len(alerts) == 0 {
		return nil
	}
	row := "(" + placeholders(alertInsertN) + ")"
	full := len(alerts) / alertInsertBatch * alertInsertBatch
	if full > 0 && t.insertFull == nil {
		rows := strings.TrimSuffix(strings.Repeat(row+", ", alertInsertBatch), ", ")
		stmt, err := t.s.prepared(t.ctx, t.tx, `INSERT INTO alerts (`+alertInsertCols+`) VALUES `+rows)
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
	for _, e := range entities {
		t.ents = append(t.ents, entityRow{tenant: tenantID, incident: incidentID, entity: e, at: at})
	}
	return nil
}

func (t *triageTx) flushEntities() error {
	const op = "sqlstore.AddEntities"
	for len(t.ents) > 0 {
		n := min(len(t.ents), rowsPerStmt)
		args := make([]any, 0, 4*n)
		for _, r := range t.ents[:n] {
			args = append(args, r.tenant, r.incident, r.entity, us(r.at))
		}
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
		if _, err := t.exec(op, `INSERT INTO incident_entities (tenant_id, incident_id, entity, last_seen) VALUES `+rows+`
			ON CONFLICT (incident_id, entity) DO UPDATE SET last_seen = `+t.greatest()+`(incident_entities.last_seen, excluded.last_seen)`, args...); err != nil {
			return err
		}
		t.ents = t.ents[n:]
	}
	return nil
}

func (t *triageTx) Merge(tenantID string, into int64, from []int64, at time.Time, by socbot.Principal) error {
	const op = "sqlstore.Merge"
	if len(from) == 0 {
		return nil
	}
	if err := t.flushAll(); err != nil {
		return err
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
	t.audits = append(t.audits, auditRec(by, tenantID, "incident.merge", fmt.Sprintf("incident:%d", into), "incidents came to share an entity", map[string]any{"merged": from}))
	return nil
}

func (t *triageTx) AddTimeline(entries ...socbot.TimelineEntry) error {
	t.timeline = append(t.timeline, entries...)
	return nil
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
	t.audits = append(t.audits, rec)
	return nil
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

// PruneProcessed forgets processed bus messages older than before. The bus redelivers only messages
// it still holds (the alert stream is a work queue and keeps nothing acknowledged), so records older
// than any possible redelivery are dead weight.
func (s *Store) PruneProcessed(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM processed_messages WHERE processed_at < ?`), us(before))
		if err != nil {
			return dbErr("sqlstore.PruneProcessed", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
