package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

const suppCols = `id, tenant_id, name, expression, reason, author, enabled, created_at, expires_at, hits, last_hit_at`

func scanSupp(r scanner) (socbot.SuppressionRule, error) {
	var x socbot.SuppressionRule
	var created int64
	var exp, last sql.NullInt64
	if err := r.Scan(&x.ID, &x.TenantID, &x.Name, &x.Expression, &x.Reason, &x.Author, &x.Enabled, &created, &exp, &x.Hits, &last); err != nil {
		return x, err
	}
	x.CreatedAt, x.ExpiresAt, x.LastHitAt = fromUS(created), optTime(exp), optTime(last)
	return x, nil
}

func validateSupp(op string, r *socbot.SuppressionRule) error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return socbot.FieldError(op, "name", "name is required")
	}
	if strings.TrimSpace(r.Expression) == "" {
		return socbot.FieldError(op, "expression", "expression is required")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return socbot.FieldError(op, "reason", "reason is required: it is what closed alerts will say")
	}
	return nil
}

// CreateSuppression stores a suppression rule. The caller has checked that the expression compiles.
func (s *Store) CreateSuppression(ctx context.Context, r *socbot.SuppressionRule, by socbot.Principal) error {
	const op = "sqlstore.CreateSuppression"
	if err := validateSupp(op, r); err != nil {
		return err
	}
	if r.Author == "" {
		r.Author = by.Name
	}
	r.CreatedAt = fromUS(us(s.clock.Now()))
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO suppression_rules (tenant_id, name, expression, reason, author, enabled, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.TenantID, r.Name, r.Expression, r.Reason, r.Author, r.Enabled, us(r.CreatedAt), nullUS(r.ExpiresAt)).Scan(&r.ID); err != nil {
			return dbErr(op, err)
		}
		if err := s.bumpConfig(ctx, tx, r.TenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, r.TenantID, "suppression.create", fmt.Sprintf("suppression:%d", r.ID), r.Reason, r))
	})
}

// Suppressions lists the tenant's suppression rules.
func (s *Store) Suppressions(ctx context.Context, tenantID string) ([]socbot.SuppressionRule, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+suppCols+` FROM suppression_rules WHERE tenant_id = ? ORDER BY id`), tenantID)
	if err != nil {
		return nil, dbErr("sqlstore.Suppressions", err)
	}
	defer rows.Close()
	var out []socbot.SuppressionRule
	for rows.Next() {
		x, err := scanSupp(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Suppressions", err)
		}
		out = append(out, x)
	}
	return out, dbErr("sqlstore.Suppressions", rows.Err())
}

// Suppression returns one rule of the tenant.
func (s *Store) Suppression(ctx context.Context, tenantID string, id int64) (socbot.SuppressionRule, error) {
	x, err := scanSupp(s.db.QueryRowContext(ctx, s.q(`SELECT `+suppCols+` FROM suppression_rules WHERE tenant_id = ? AND id = ?`), tenantID, id))
	return x, dbErr("sqlstore.Suppression", err)
}

// UpdateSuppression changes a rule's name, expression, reason, enabled flag and expiry.
func (s *Store) UpdateSuppression(ctx context.Context, r socbot.SuppressionRule, by socbot.Principal) error {
	const op = "sqlstore.UpdateSuppression"
	if err := validateSupp(op, &r); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE suppression_rules SET name = ?, expression = ?, reason = ?, enabled = ?, expires_at = ? WHERE tenant_id = ? AND id = ?`),
			r.Name, r.Expression, r.Reason, r.Enabled, nullUS(r.ExpiresAt), r.TenantID, r.ID)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, fmt.Sprintf("no suppression rule %d", r.ID))
		}
		if err := s.bumpConfig(ctx, tx, r.TenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, r.TenantID, "suppression.update", fmt.Sprintf("suppression:%d", r.ID), r.Reason, r))
	})
}

// DeleteSuppression removes a rule.
func (s *Store) DeleteSuppression(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	return s.deleteRow(ctx, "sqlstore.DeleteSuppression", "suppression_rules", tenantID, id, by, "suppression.delete", "suppression")
}

// CreateRoutingRule stores a routing rule; TenantID "" makes it MSSP-wide.
func (s *Store) CreateRoutingRule(ctx context.Context, r *socbot.RoutingRule, by socbot.Principal) error {
	const op = "sqlstore.CreateRoutingRule"
	if strings.TrimSpace(r.Expression) == "" {
		return socbot.FieldError(op, "expression", "expression is required")
	}
	if strings.TrimSpace(r.Queue) == "" {
		return socbot.FieldError(op, "queue", "queue is required")
	}
	r.CreatedAt = fromUS(us(s.clock.Now()))
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO routing_rules (tenant_id, position, name, expression, queue, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			r.TenantID, r.Position, r.Name, r.Expression, r.Queue, us(r.CreatedAt)).Scan(&r.ID); err != nil {
			return dbErr(op, err)
		}
		if err := s.bumpRouting(ctx, tx, r.TenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, r.TenantID, "routing.create", fmt.Sprintf("routing:%d", r.ID), "", r))
	})
}

// bumpRouting bumps the config version of the tenant, or of every tenant for an MSSP-wide rule.
func (s *Store) bumpRouting(ctx context.Context, tx *sql.Tx, tenantID string) error {
	if tenantID == "" {
		_, err := tx.ExecContext(ctx, `UPDATE tenants SET config_version = config_version + 1`)
		return err
	}
	return s.bumpConfig(ctx, tx, tenantID)
}

// RoutingRules returns the tenant's rules by position, then the MSSP-wide ones by position.
func (s *Store) RoutingRules(ctx context.Context, tenantID string) ([]socbot.RoutingRule, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, tenant_id, position, name, expression, queue, created_at FROM routing_rules
		WHERE tenant_id = ? OR tenant_id = '' ORDER BY CASE WHEN tenant_id = '' THEN 1 ELSE 0 END, position, id`), tenantID)
	if err != nil {
		return nil, dbErr("sqlstore.RoutingRules", err)
	}
	defer rows.Close()
	var out []socbot.RoutingRule
	for rows.Next() {
		var r socbot.RoutingRule
		var created int64
		if err := rows.Scan(&r.ID, &r.TenantID, &r.Position, &r.Name, &r.Expression, &r.Queue, &created); err != nil {
			return nil, dbErr("sqlstore.RoutingRules", err)
		}
		r.CreatedAt = fromUS(created)
		out = append(out, r)
	}
	return out, dbErr("sqlstore.RoutingRules", rows.Err())
}

// DeleteRoutingRule removes a rule; tenantID "" removes an MSSP-wide rule (admin).
func (s *Store) DeleteRoutingRule(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	const op = "sqlstore.DeleteRoutingRule"
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM routing_rules WHERE tenant_id = ? AND id = ?`), tenantID, id)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, fmt.Sprintf("no routing rule %d", id))
		}
		if err := s.bumpRouting(ctx, tx, tenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "routing.delete", fmt.Sprintf("routing:%d", id), "", nil))
	})
}

// CreateQueue stores a queue; TenantID "" makes it MSSP-wide.
func (s *Store) CreateQueue(ctx context.Context, q *socbot.Queue, by socbot.Principal) error {
	const op = "sqlstore.CreateQueue"
	q.Name = strings.TrimSpace(q.Name)
	if q.Name == "" {
		return socbot.FieldError(op, "name", "name is required")
	}
	q.CreatedAt = fromUS(us(s.clock.Now()))
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO queues (tenant_id, name, description, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			q.TenantID, q.Name, q.Description, us(q.CreatedAt)).Scan(&q.ID); err != nil {
			err = dbErr(op, err)
			if socbot.IsKind(err, socbot.KindConflict) {
				return socbot.FieldError(op, "name", "queue %q already exists", q.Name)
			}
			return err
		}
		return s.appendAudit(ctx, tx, auditRec(by, q.TenantID, "queue.create", "queue:"+q.Name, "", q))
	})
}

// Queues lists the tenant's queues and the MSSP-wide ones ("" lists every queue).
func (s *Store) Queues(ctx context.Context, tenantID string) ([]socbot.Queue, error) {
	query := `SELECT id, tenant_id, name, description, created_at FROM queues`
	var args []any
	if tenantID != "" {
		query += ` WHERE tenant_id = ? OR tenant_id = ''`
		args = append(args, tenantID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY name`), args...)
	if err != nil {
		return nil, dbErr("sqlstore.Queues", err)
	}
	defer rows.Close()
	var out []socbot.Queue
	for rows.Next() {
		var q socbot.Queue
		var created int64
		if err := rows.Scan(&q.ID, &q.TenantID, &q.Name, &q.Description, &created); err != nil {
			return nil, dbErr("sqlstore.Queues", err)
		}
		q.CreatedAt = fromUS(created)
		out = append(out, q)
	}
	return out, dbErr("sqlstore.Queues", rows.Err())
}

// QueueStats counts open incidents per queue and priority, SLA breaches and the next deadline, for one
// tenant or (tenantID "") for all.
func (s *Store) QueueStats(ctx context.Context, tenantID string, now time.Time) ([]socbot.QueueStats, error) {
	const op = "sqlstore.QueueStats"
	n := us(now)
	query := `SELECT queue, priority, COUNT(*),
		SUM(CASE WHEN (acknowledged_at IS NULL AND ack_due < ?) OR resolve_due < ? THEN 1 ELSE 0 END),
		MIN(created_at),
		MIN(CASE WHEN acknowledged_at IS NULL THEN ack_due ELSE resolve_due END)
		FROM incidents WHERE status IN ('new', 'acknowledged', 'contained')`
	args := []any{n, n}
	if tenantID != "" {
		query += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` GROUP BY queue, priority`), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	byQueue := map[string]*socbot.QueueStats{}
	for rows.Next() {
		var queue string
		var prio, count, breached int
		var oldest, due sql.NullInt64
		if err := rows.Scan(&queue, &prio, &count, &breached, &oldest, &due); err != nil {
			return nil, dbErr(op, err)
		}
		qs := byQueue[queue]
		if qs == nil {
			qs = &socbot.QueueStats{Queue: queue, ByPriority: map[string]int{}}
			byQueue[queue] = qs
		}
		qs.Open += count
		qs.Breached += breached
		qs.ByPriority[socbot.Priority(prio).String()] += count
		if t := optTime(oldest); t != nil && (qs.OldestOpen == nil || t.Before(*qs.OldestOpen)) {
			qs.OldestOpen = t
		}
		if t := optTime(due); t != nil && (qs.NextDue == nil || t.Before(*qs.NextDue)) {
			qs.NextDue = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	out := make([]socbot.QueueStats, 0, len(byQueue))
	for _, qs := range byQueue {
		out = append(out, *qs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out, nil
}
