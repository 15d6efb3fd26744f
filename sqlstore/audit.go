package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	socbot "github.com/socbot/socbot"
)

// appendAudit chains rec onto the audit log inside the caller's transaction.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, rec socbot.AuditRecord) error {
	return s.appendAudits(ctx, tx, []socbot.AuditRecord{rec})
}

// appendAudits chains recs onto the audit log inside the caller's transaction. The head row is locked
// (FOR UPDATE on PostgreSQL; SQLite has one writer), so concurrent appenders queue and the chain never
// forks; the entries are written many rows per statement.
func (s *Store) appendAudits(ctx context.Context, tx *sql.Tx, recs []socbot.AuditRecord) error {
	const op = "sqlstore.audit"
	if len(recs) == 0 {
		return nil
	}
	lock := ""
	if s.engine == Postgres {
		lock = " FOR UPDATE"
	}
	var seq int64
	var prev string
	head, err := s.prepared(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`+lock)
	if err != nil {
		return dbErr(op, err)
	}
	if err := head.QueryRowContext(ctx).Scan(&seq, &prev); err != nil {
		return dbErr(op, err)
	}
	at := fromUS(us(s.clock.Now()))
	const perStmt = 32
	args := make([]any, 0, 10*perStmt)
	for start := 0; start < len(recs); start += perStmt {
		chunk := recs[start:min(start+perStmt, len(recs))]
		args = args[:0]
		for _, rec := range chunk {
			seq++
			e := socbot.AuditEntry{Seq: seq, At: at, TenantID: rec.TenantID, Actor: rec.Actor, Action: rec.Action, Target: rec.Target, Reason: rec.Reason, PrevHash: prev}
			switch d := rec.Details.(type) {
			case nil:
			case string:
				e.Details = d
			case []byte:
				e.Details = string(d)
			default:
				b, err := json.Marshal(d)
				if err != nil {
					return socbot.E(op, err)
				}
				e.Details = string(b)
			}
			if e.Actor == "" {
				e.Actor = "unknown"
			}
			e.Hash = e.ComputeHash()
			prev = e.Hash
			args = append(args, e.Seq, us(e.At), e.TenantID, e.Actor, e.Action, e.Target, e.Reason, e.Details, e.PrevHash, e.Hash)
		}
		ins, err := s.prepared(ctx, tx, `INSERT INTO audit_log (seq, at, tenant_id, actor, action, target, reason, details, prev_hash, hash) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", "))
		if err != nil {
			return dbErr(op, err)
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return dbErr(op, err)
		}
	}
	upd, err := s.prepared(ctx, tx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`)
	if err != nil {
		return dbErr(op, err)
	}
	if _, err := upd.ExecContext(ctx, seq, prev); err != nil {
		return dbErr(op, err)
	}
	return nil
}

// auditRec builds an audit record for principal p.
func auditRec(p socbot.Principal, tenantID, action, target, reason string, details any) socbot.AuditRecord {
	return socbot.AuditRecord{TenantID: tenantID, Actor: p.Name, Action: action, Target: target, Reason: reason, Details: details}
}

// Audit appends one record on its own.
func (s *Store) Audit(ctx context.Context, rec socbot.AuditRecord) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, rec) })
}

// AuditEntries lists entries after afterSeq, oldest first; tenantID "" lists every tenant's and the MSSP's.
func (s *Store) AuditEntries(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]socbot.AuditEntry, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	query := `SELECT seq, at, tenant_id, actor, action, target, reason, details, prev_hash, hash FROM audit_log WHERE seq > ?`
	args := []any{afterSeq}
	if tenantID != "" {
		query += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr("sqlstore.AuditEntries", err)
	}
	defer rows.Close()
	var out []socbot.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, dbErr("sqlstore.AuditEntries", err)
		}
		out = append(out, e)
	}
	return out, dbErr("sqlstore.AuditEntries", rows.Err())
}

func scanAudit(r scanner) (socbot.AuditEntry, error) {
	var e socbot.AuditEntry
	var at int64
	err := r.Scan(&e.Seq, &at, &e.TenantID, &e.Actor, &e.Action, &e.Target, &e.Reason, &e.Details, &e.PrevHash, &e.Hash)
	e.At = fromUS(at)
	return e, err
}

// VerifyAudit walks the whole chain and reports every entry that was changed, removed or inserted out
// of order, and a head that does not match the last entry (entries removed from the end).
func (s *Store) VerifyAudit(ctx context.Context) (int64, []socbot.AuditProblem, error) {
	const op = "sqlstore.VerifyAudit"
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, tenant_id, actor, action, target, reason, details, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, nil, dbErr(op, err)
	}
	defer rows.Close()
	var problems []socbot.AuditProblem
	var checked, lastSeq int64
	lastHash := socbot.AuditGenesis
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return checked, problems, dbErr(op, err)
		}
		checked++
		if e.Seq != lastSeq+1 {
			problems = append(problems, socbot.AuditProblem{Seq: lastSeq + 1, Reason: fmt.Sprintf("entries %d to %d are missing (removed)", lastSeq+1, e.Seq-1)})
		}
		if e.PrevHash != lastHash {
			problems = append(problems, socbot.AuditProblem{Seq: e.Seq, Reason: "previous-hash link does not match the entry before it"})
		}
		if h := e.ComputeHash(); h != e.Hash {
			problems = append(problems, socbot.AuditProblem{Seq: e.Seq, Reason: "content does not match its hash (entry changed)"})
		}
		lastSeq, lastHash = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return checked, problems, dbErr(op, err)
	}
	var headSeq int64
	var headHash string
	if err := s.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return checked, problems, dbErr(op, err)
	}
	if headSeq != lastSeq || headHash != lastHash {
		problems = append(problems, socbot.AuditProblem{Seq: headSeq, Reason: fmt.Sprintf("the log ends at entry %d but its head records entry %d (entries removed from the end, or head changed)", lastSeq, headSeq)})
	}
	return checked, problems, nil
}
