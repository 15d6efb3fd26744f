package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

const incidentCols = `id, tenant_id, number, title, priority, status, queue, assignee, category, confidence, reasons, alert_count,
	tactics, techniques, first_seen, last_seen, created_at, updated_at, ack_due, resolve_due, acknowledged_at, contained_at,
	resolved_at, escalation_level, merged_into`

func scanIncident(r scanner) (socbot.Incident, error) {
	var i socbot.Incident
	var prio int
	var reasons, tactics, techniques string
	var first, last, created, updated int64
	var ackDue, resDue, acked, contained, resolved, merged sql.NullInt64
	if err := r.Scan(&i.ID, &i.TenantID, &i.Number, &i.Title, &prio, &i.Status, &i.Queue, &i.Assignee, &i.Category, &i.Confidence,
		&reasons, &i.AlertCount, &tactics, &techniques, &first, &last, &created, &updated, &ackDue, &resDue, &acked, &contained,
		&resolved, &i.EscalationLevel, &merged); err != nil {
		return i, err
	}
	i.Priority = socbot.Priority(prio)
	unjs(reasons, &i.Reasons)
	unjs(tactics, &i.Tactics)
	unjs(techniques, &i.Techniques)
	i.FirstSeen, i.LastSeen, i.CreatedAt, i.UpdatedAt = fromUS(first), fromUS(last), fromUS(created), fromUS(updated)
	i.AckDue, i.ResolveDue, i.AcknowledgedAt, i.ContainedAt, i.ResolvedAt = optTime(ackDue), optTime(resDue), optTime(acked), optTime(contained), optTime(resolved)
	i.MergedInto = merged.Int64
	return i, nil
}

// Incidents lists incidents newest first.
func (s *Store) Incidents(ctx context.Context, f socbot.IncidentFilter) ([]socbot.Incident, error) {
	const op = "sqlstore.Incidents"
	var where []string
	var args []any
	if f.TenantID != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, f.TenantID)
	}
	if len(f.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Status))+")")
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if f.Open {
		where = append(where, "status IN ('new', 'acknowledged', 'contained')")
	}
	if len(f.Priority) > 0 {
		where = append(where, "priority IN ("+placeholders(len(f.Priority))+")")
		for _, p := range f.Priority {
			args = append(args, int(p))
		}
	}
	if f.Queue != "" {
		where = append(where, "queue = ?")
		args = append(args, f.Queue)
	}
	if f.Assignee != "" {
		where = append(where, "assignee = ?")
		args = append(args, f.Assignee)
	}
	if f.Search != "" {
		term := strings.TrimPrefix(strings.TrimSpace(f.Search), "#")
		if n, err := strconv.ParseInt(term, 10, 64); err == nil {
			where = append(where, "number = ?")
			args = append(args, n)
		} else {
			where = append(where, "LOWER(title) LIKE ?")
			args = append(args, "%"+strings.ToLower(likeEscape(f.Search))+"%")
		}
	}
	if f.AfterID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.AfterID)
	}
	query := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []socbot.Incident{}
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, i)
	}
	return out, dbErr(op, rows.Err())
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func likeEscape(s string) string {
	return strings.NewReplacer("%", "", "_", "").Replace(s)
}

// Incident returns one incident of the tenant, with its entities. tenantID "" finds it in any tenant
// (MSSP staff); every other tenant id yields not-found for another tenant's incident.
func (s *Store) Incident(ctx context.Context, tenantID string, id int64) (socbot.Incident, error) {
	return s.incident(ctx, s.db, tenantID, id, false)
}

func (s *Store) incident(ctx context.Context, ex execer, tenantID string, id int64, lock bool) (socbot.Incident, error) {
	const op = "sqlstore.Incident"
	query := `SELECT ` + incidentCols + ` FROM incidents WHERE id = ?`
	args := []any{id}
	if tenantID != "" {
		query += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	if lock && s.engine == Postgres {
		query += ` FOR UPDATE`
	}
	inc, err := scanIncident(ex.QueryRowContext(ctx, s.q(query), args...))
	if err != nil {
		return inc, dbErr(op, err)
	}
	rows, err := ex.QueryContext(ctx, s.q(`SELECT entity FROM incident_entities WHERE incident_id = ? ORDER BY entity`), id)
	if err != nil {
		return inc, dbErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return inc, dbErr(op, err)
		}
		inc.Entities = append(inc.Entities, e)
	}
	return inc, dbErr(op, rows.Err())
}

// UpdateIncident applies a person's change: status (along the allowed flow), assignee, priority, queue
// or title. Each change goes on the timeline, into the audit log, and to the tenant's channels.
func (s *Store) UpdateIncident(ctx context.Context, tenantID string, id int64, u socbot.IncidentUpdate, by socbot.Principal) (socbot.Incident, error) {
	const op = "sqlstore.UpdateIncident"
	var out socbot.Incident
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := s.incident(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		tenantID := inc.TenantID
		now := fromUS(us(s.clock.Now()))
		var changes []string
		var entries []socbot.TimelineEntry
		add := func(kind, text string) {
			changes = append(changes, text)
			entries = append(entries, socbot.TimelineEntry{TenantID: tenantID, IncidentID: id, At: now, Actor: by.Name, Kind: kind, Text: text})
		}
		event := socbot.EventIncidentUpdated
		if u.Status != nil && *u.Status != inc.Status {
			to := *u.Status
			if !socbot.ValidStatus(to) {
				return socbot.FieldError(op, "status", "unknown status %q", to)
			}
			if !socbot.CanTransition(inc.Status, to) {
				return socbot.E(op, socbot.KindConflict, fmt.Sprintf("incident #%d cannot go from %s to %s", inc.Number, inc.Status, to))
			}
			switch to {
			case socbot.StatusAcknowledged:
				if inc.AcknowledgedAt == nil {
					inc.AcknowledgedAt = &now
				}
				inc.ResolvedAt = nil
			case socbot.StatusContained:
				inc.ContainedAt = &now
				if inc.AcknowledgedAt == nil {
					inc.AcknowledgedAt = &now
				}
			case socbot.StatusResolved, socbot.StatusFalsePositive:
				inc.ResolvedAt = &now
				if inc.AcknowledgedAt == nil {
					inc.AcknowledgedAt = &now
				}
				event = socbot.EventIncidentClosed
			}
			add("status", fmt.Sprintf("status %s → %s", inc.Status, to))
			inc.Status = to
		}
		if u.Assignee != nil && *u.Assignee != inc.Assignee {
			add("assigned", fmt.Sprintf("assigned to %q (was %q)", *u.Assignee, inc.Assignee))
			inc.Assignee = *u.Assignee
		}
		if u.Priority != nil && *u.Priority != inc.Priority {
			if *u.Priority < socbot.P1 || *u.Priority > socbot.P4 {
				return socbot.FieldError(op, "priority", "priority must be P1-P4")
			}
			add("priority", fmt.Sprintf("priority %s → %s", inc.Priority, *u.Priority))
			inc.Priority = *u.Priority
		}
		if u.Queue != nil && *u.Queue != inc.Queue {
			if strings.TrimSpace(*u.Queue) == "" {
				return socbot.FieldError(op, "queue", "queue must not be empty")
			}
			add("queue", fmt.Sprintf("moved to queue %q (was %q)", *u.Queue, inc.Queue))
			inc.Queue = *u.Queue
		}
		if u.Title != nil && *u.Title != inc.Title {
			if strings.TrimSpace(*u.Title) == "" {
				return socbot.FieldError(op, "title", "title must not be empty")
			}
			add("title", fmt.Sprintf("title changed to %q", *u.Title))
			inc.Title = *u.Title
		}
		if len(changes) == 0 {
			out = inc
			return nil
		}
		if u.Reason != "" {
			for i := range entries {
				entries[i].Text += " — " + u.Reason
			}
		}
		inc.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET status = ?, assignee = ?, priority = ?, queue = ?, title = ?, updated_at = ?,
			acknowledged_at = ?, contained_at = ?, resolved_at = ? WHERE tenant_id = ? AND id = ?`),
			inc.Status, inc.Assignee, int(inc.Priority), inc.Queue, inc.Title, us(now),
			nullUS(inc.AcknowledgedAt), nullUS(inc.ContainedAt), nullUS(inc.ResolvedAt), tenantID, id); err != nil {
			return dbErr(op, err)
		}
		if socbot.Closed(inc.Status) {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE alert_groups SET open = FALSE WHERE incident_id = ? AND open`), id); err != nil {
				return dbErr(op, err)
			}
		}
		if err := s.addTimeline(ctx, tx, entries...); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, tenantID, event, inc, strings.Join(changes, "; ")); err != nil {
			return err
		}
		out = inc
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "incident.update", fmt.Sprintf("incident:%d", id), u.Reason, changes))
	})
	return out, err
}

// AddNote adds an analyst's note to the incident's timeline.
func (s *Store) AddNote(ctx context.Context, tenantID string, id int64, text string, by socbot.Principal) (socbot.TimelineEntry, error) {
	const op = "sqlstore.AddNote"
	text = strings.TrimSpace(text)
	if text == "" {
		return socbot.TimelineEntry{}, socbot.FieldError(op, "text", "note text is required")
	}
	if len(text) > 64<<10 {
		return socbot.TimelineEntry{}, socbot.FieldError(op, "text", "note is longer than 64 KiB")
	}
	e := socbot.TimelineEntry{IncidentID: id, At: fromUS(us(s.clock.Now())), Actor: by.Name, Kind: "note", Text: text}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := s.incident(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		tenantID := inc.TenantID
		e.TenantID = tenantID
		if err := s.addTimeline(ctx, tx, e); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET updated_at = ? WHERE id = ?`), us(e.At), id); err != nil {
			return dbErr(op, err)
		}
		if err := s.enqueue(ctx, tx, tenantID, socbot.EventIncidentNote, inc, text); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "incident.note", fmt.Sprintf("incident:%d", id), "", nil))
	})
	return e, err
}

func (s *Store) addTimeline(ctx context.Context, tx *sql.Tx, entries ...socbot.TimelineEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), rowsPerStmt)
		args := make([]any, 0, 7*n)
		for _, e := range entries[:n] {
			data := ""
			if len(e.Data) > 0 {
				data = string(e.Data)
			}
			args = append(args, e.TenantID, e.IncidentID, us(e.At), e.Actor, e.Kind, e.Text, data)
		}
		st, err := s.prepared(ctx, tx, `INSERT INTO timeline (tenant_id, incident_id, at, actor, kind, text, data) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n), ", "))
		if err != nil {
			return dbErr("sqlstore.timeline", err)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return dbErr("sqlstore.timeline", err)
		}
		entries = entries[n:]
	}
	return nil
}

// Timeline returns everything that happened to the incident, oldest first.
func (s *Store) Timeline(ctx context.Context, tenantID string, id int64) ([]socbot.TimelineEntry, error) {
	const op = "sqlstore.Timeline"
	inc, err := s.incident(ctx, s.db, tenantID, id, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, tenant_id, incident_id, at, actor, kind, text, data FROM timeline WHERE tenant_id = ? AND incident_id = ? ORDER BY id`), inc.TenantID, id)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []socbot.TimelineEntry{}
	for rows.Next() {
		var e socbot.TimelineEntry
		var at int64
		var data string
		if err := rows.Scan(&e.ID, &e.TenantID, &e.IncidentID, &at, &e.Actor, &e.Kind, &e.Text, &data); err != nil {
			return nil, dbErr(op, err)
		}
		e.At = fromUS(at)
		if data != "" {
			e.Data = json.RawMessage(data)
		}
		out = append(out, e)
	}
	return out, dbErr(op, rows.Err())
}

// Breached lists open incidents past a deadline they have not been escalated for: level 0 and the
// acknowledge deadline passed unacknowledged, or level < 2 and the resolve deadline passed.
func (s *Store) Breached(ctx context.Context, now time.Time, limit int) ([]socbot.Incident, error) {
	const op = "sqlstore.Breached"
	n := us(now)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE status IN ('new', 'acknowledged', 'contained')
		AND ((escalation_level = 0 AND acknowledged_at IS NULL AND ack_due < ?) OR (escalation_level < 2 AND resolve_due < ?))
		ORDER BY id LIMIT ?`), n, n, limit)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []socbot.Incident
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, i)
	}
	return out, dbErr(op, rows.Err())
}

// Escalate moves an open incident from escalation level `from` to from+1, raising its priority if asked,
// with a timeline entry, an audit entry and an incident.escalated notification.
func (s *Store) Escalate(ctx context.Context, tenantID string, id int64, from int, raise bool, reason string, by socbot.Principal) (bool, error) {
	const op = "sqlstore.Escalate"
	done := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := s.incident(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if inc.EscalationLevel != from || socbot.Closed(inc.Status) {
			return nil
		}
		now := fromUS(us(s.clock.Now()))
		text := fmt.Sprintf("escalated to level %d: %s", from+1, reason)
		if raise && inc.Priority > socbot.P1 {
			text += fmt.Sprintf("; priority %s → %s", inc.Priority, inc.Priority.Raise())
			inc.Priority = inc.Priority.Raise()
		}
		inc.EscalationLevel = from + 1
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET escalation_level = ?, priority = ?, updated_at = ? WHERE id = ? AND escalation_level = ?`),
			inc.EscalationLevel, int(inc.Priority), us(now), id, from); err != nil {
			return dbErr(op, err)
		}
		if err := s.addTimeline(ctx, tx, socbot.TimelineEntry{TenantID: tenantID, IncidentID: id, At: now, Actor: by.Name, Kind: "escalated", Text: text}); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, tenantID, socbot.EventIncidentEscalated, inc, text); err != nil {
			return err
		}
		done = true
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "incident.escalate", fmt.Sprintf("incident:%d", id), reason, map[string]any{"level": inc.EscalationLevel, "priority": inc.Priority.String()}))
	})
	return done, err
}
