package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/playbook"
)

// The containment bot's system of record (tables of migrations 0200 and 0201): the action ledger with
// its approvals and vendor attempts, each tenant's connector instances (credentials sealed by the
// caller, stored as they come), never-block lists, playbook versions and runs, and the incident feed
// the bot polls. Every change a person or the bot makes to the ledger, the connectors, the lists and
// the playbooks is appended to the audit log in the same transaction; who acts and why come from the
// containment.AuditNote of the context.
var (
	_ containment.Store             = (*Store)(nil)
	_ containment.NeverBlockStore   = (*Store)(nil)
	_ containment.IncidentFeedStore = (*Store)(nil)
	_ containment.Timeline          = (*Store)(nil)
	_ playbook.RunStore             = (*Store)(nil)
	_ playbook.VersionStore         = (*Store)(nil)
	_ playbook.Timeline             = (*Store)(nil)
)

const ctActionCols = `id, tenant_id, kind, value, connector_id, state, requested_by, reason, COALESCE(incident_id, 0), playbook_step,
	confidence, crown_jewel, ttl_ms, required_approvals, approval_deadline, escalations, policy_rule, next_attempt_at, lease_owner,
	lease_until, vendor_ref, applied_at, expires_at, native_expiry, removed_at, rollback_requested, in_doubt, detail, created_at,
	updated_at, version`

func scanCTAction(r scanner) (containment.Action, error) {
	var a containment.Action
	var ttl, next, leaseUntil, created, updated int64
	var deadline, applied, expires, removed sql.NullInt64
	if err := r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Value, &a.ConnectorID, &a.State, &a.RequestedBy, &a.Reason, &a.IncidentID,
		&a.PlaybookStep, &a.Confidence, &a.CrownJewel, &ttl, &a.RequiredApprovals, &deadline, &a.Escalations, &a.PolicyRule, &next,
		&a.LeaseOwner, &leaseUntil, &a.VendorRef, &applied, &expires, &a.NativeExpiry, &removed, &a.Rollback, &a.InDoubt, &a.Detail,
		&created, &updated, &a.Version); err != nil {
		return a, err
	}
	a.TTL = time.Duration(ttl) * time.Millisecond
	a.ApprovalDeadline, a.AppliedAt, a.ExpiresAt, a.RemovedAt = optTime(deadline), optTime(applied), optTime(expires), optTime(removed)
	a.NextAttemptAt, a.CreatedAt, a.UpdatedAt = ctTime(next), fromUS(created), fromUS(updated)
	a.LeaseUntil = ctTime(leaseUntil)
	return a, nil
}

// ctTime reads a NOT NULL time column where 0 stands for the zero time.
func ctTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromUS(v)
}

// ctUS writes a time where the zero time is stored as 0.
func ctUS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return us(t)
}

func ctMS(d time.Duration) int64 { return d.Milliseconds() }

// liveStates are the states a live (idempotency-keyed) action can be in.
const ctTerminalStates = `('removed', 'failed', 'denied')`

func (s *Store) queryActions(ctx context.Context, ex execer, op, where string, args ...any) ([]containment.Action, error) {
	rows, err := ex.QueryContext(ctx, s.q(`SELECT `+ctActionCols+` FROM containment_actions `+where), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	var out []containment.Action
	for rows.Next() {
		a, err := scanCTAction(rows)
		if err != nil {
			rows.Close()
			return nil, dbErr(op, err)
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	if err := s.loadChildren(ctx, ex, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadChildren fills the approvals and attempts of actions.
func (s *Store) loadChildren(ctx context.Context, ex execer, as []containment.Action) error {
	const op = "sqlstore.containment.children"
	if len(as) == 0 {
		return nil
	}
	idx := make(map[int64]int, len(as))
	for i := range as {
		idx[as[i].ID] = i
		as[i].Approvals, as[i].Attempts = nil, nil
	}
	for start := 0; start < len(as); start += 500 {
		chunk := as[start:min(start+500, len(as))]
		args := make([]any, len(chunk))
		for i, a := range chunk {
			args[i] = a.ID
		}
		in := placeholders(len(chunk))
		rows, err := ex.QueryContext(ctx, s.q(`SELECT action_id, principal, approved, comment, at FROM containment_approvals
			WHERE action_id IN (`+in+`) ORDER BY action_id, n`), args...)
		if err != nil {
			return dbErr(op, err)
		}
		for rows.Next() {
			var id, at int64
			var ap containment.Approval
			if err := rows.Scan(&id, &ap.By, &ap.Approved, &ap.Comment, &at); err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			ap.At = fromUS(at)
			a := &as[idx[id]]
			a.Approvals = append(a.Approvals, ap)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(op, err)
		}
		rows, err = ex.QueryContext(ctx, s.q(`SELECT action_id, n, op, at, took_ms, outcome, error, status, code, retryable, retry_after_ms
			FROM containment_attempts WHERE action_id IN (`+in+`) ORDER BY action_id, n`), args...)
		if err != nil {
			return dbErr(op, err)
		}
		for rows.Next() {
			var id, at, took, ra int64
			var t containment.Attempt
			if err := rows.Scan(&id, &t.N, &t.Op, &at, &took, &t.Outcome, &t.Error, &t.Status, &t.Code, &t.Retryable, &ra); err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			t.At, t.Took, t.RetryAfter = fromUS(at), time.Duration(took)*time.Millisecond, time.Duration(ra)*time.Millisecond
			a := &as[idx[id]]
			a.Attempts = append(a.Attempts, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(op, err)
		}
	}
	return nil
}

// insertChildren appends approvals and attempts of a from the given positions on.
func (s *Store) insertChildren(ctx context.Context, tx *sql.Tx, a containment.Action, fromApproval, fromAttempt int) error {
	const op = "sqlstore.containment.children"
	for i := fromApproval; i < len(a.Approvals); i++ {
		ap := a.Approvals[i]
		st, err := s.prepared(ctx, tx, `INSERT INTO containment_approvals (action_id, tenant_id, n, principal, approved, comment, at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return dbErr(op, err)
		}
		if _, err := st.ExecContext(ctx, a.ID, a.TenantID, i+1, ap.By, ap.Approved, ap.Comment, us(ap.At)); err != nil {
			err = dbErr(op, err)
			if socbot.IsKind(err, socbot.KindConflict) {
				return socbot.E(op, socbot.KindConflict, ap.By+" already approved action "+strconv.FormatInt(a.ID, 10))
			}
			return err
		}
	}
	for i := fromAttempt; i < len(a.Attempts); i++ {
		t := a.Attempts[i]
		st, err := s.prepared(ctx, tx, `INSERT INTO containment_attempts (action_id, tenant_id, n, op, at, took_ms, outcome, error, status, code, retryable, retry_after_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return dbErr(op, err)
		}
		if _, err := st.ExecContext(ctx, a.ID, a.TenantID, i+1, t.Op, us(t.At), ctMS(t.Took), string(t.Outcome), t.Error, t.Status, t.Code, t.Retryable, ctMS(t.RetryAfter)); err != nil {
			return dbErr(op, err)
		}
	}
	return nil
}

func ctTarget(id int64) string { return "containment_action:" + strconv.FormatInt(id, 10) }

func ctDetails(a containment.Action, from containment.State) map[string]any {
	d := map[string]any{"kind": a.Kind, "value": a.Value, "connector": a.ConnectorID, "state": a.State}
	if from != "" && from != a.State {
		d["from"] = from
	}
	if a.IncidentID != 0 {
		d["incident_id"] = a.IncidentID
	}
	if a.PlaybookStep != "" {
		d["playbook_step"] = a.PlaybookStep
	}
	return d
}

// CreateAction implements containment.Store: one row, audited, unless a live action with the same
// key exists (then that one is returned and created is false).
func (s *Store) CreateAction(ctx context.Context, a containment.Action) (containment.Action, bool, error) {
	const op = "sqlstore.CreateAction"
	if a.TenantID == "" {
		return containment.Action{}, false, socbot.FieldError(op, "tenant_id", "required")
	}
	if !a.State.Valid() {
		return containment.Action{}, false, socbot.FieldError(op, "state", "unknown state %q", a.State)
	}
	for try := 0; ; try++ {
		var out containment.Action
		created := false
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if !a.State.Terminal() {
				live, err := s.queryActions(ctx, tx, op, `WHERE tenant_id = ? AND kind = ? AND value = ? AND connector_id = ? AND state NOT IN `+ctTerminalStates,
					a.TenantID, a.Kind, a.Value, a.ConnectorID)
				if err != nil {
					return err
				}
				if len(live) > 0 {
					out = live[0]
					return nil
				}
			}
			n := a
			n.Version = 1
			if n.UpdatedAt.IsZero() {
				n.UpdatedAt = n.CreatedAt
			}
			n.CreatedAt, n.UpdatedAt = fromUS(us(n.CreatedAt)), fromUS(us(n.UpdatedAt))
			err := tx.QueryRowContext(ctx, s.q(`INSERT INTO containment_actions (tenant_id, kind, value, connector_id, state, requested_by, reason,
				incident_id, playbook_step, confidence, crown_jewel, ttl_ms, required_approvals, approval_deadline, escalations, policy_rule,
				next_attempt_at, lease_owner, lease_until, vendor_ref, applied_at, expires_at, native_expiry, removed_at, rollback_requested,
				in_doubt, detail, created_at, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`),
				n.TenantID, n.Kind, n.Value, n.ConnectorID, n.State, n.RequestedBy, n.Reason, nullID(n.IncidentID), n.PlaybookStep,
				n.Confidence, n.CrownJewel, ctMS(n.TTL), n.RequiredApprovals, nullUS(n.ApprovalDeadline), n.Escalations, n.PolicyRule,
				ctUS(n.NextAttemptAt), n.LeaseOwner, ctUS(n.LeaseUntil), n.VendorRef, nullUS(n.AppliedAt), nullUS(n.ExpiresAt),
				n.NativeExpiry, nullUS(n.RemovedAt), n.Rollback, n.InDoubt, n.Detail, us(n.CreatedAt), us(n.UpdatedAt)).Scan(&n.ID)
			if err != nil {
				return dbErr(op, err)
			}
			if err := s.insertChildren(ctx, tx, n, 0, 0); err != nil {
				return err
			}
			d := ctDetails(n, "")
			d["required_approvals"], d["policy_rule"] = n.RequiredApprovals, n.PolicyRule
			if n.TTL > 0 {
				d["ttl"] = n.TTL.String()
			}
			if n.State == containment.StateDenied {
				d["refused"] = n.Detail
			}
			rec := socbot.AuditRecord{TenantID: n.TenantID, Actor: n.RequestedBy, Action: "containment.request", Target: ctTarget(n.ID),
				Reason: n.Reason, Details: d}
			if err := s.appendAudit(ctx, tx, rec); err != nil {
				return err
			}
			out, created = n, true
			return nil
		})
		if err == nil {
			return out, created, nil
		}
		if try == 0 && socbot.IsKind(err, socbot.KindConflict) {
			continue // another node created the same live key meanwhile: return theirs
		}
		return containment.Action{}, false, err
	}
}

// GetAction implements containment.Store. tenantID "" finds the action in any tenant.
func (s *Store) GetAction(ctx context.Context, tenantID string, id int64) (containment.Action, error) {
	const op = "sqlstore.GetAction"
	where, args := `WHERE id = ?`, []any{id}
	if tenantID != "" {
		where += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	as, err := s.queryActions(ctx, s.db, op, where, args...)
	if err != nil {
		return containment.Action{}, err
	}
	if len(as) == 0 {
		return containment.Action{}, socbot.E(op, socbot.KindNotFound, "action "+strconv.FormatInt(id, 10)+" not found")
	}
	return as[0], nil
}

// ListActions implements containment.Store; results are in id order.
func (s *Store) ListActions(ctx context.Context, f containment.ActionFilter) ([]containment.Action, error) {
	const op = "sqlstore.ListActions"
	var where []string
	var args []any
	switch {
	case f.TenantID != "" && !f.AllTenants:
		where = append(where, "tenant_id = ?")
		args = append(args, f.TenantID)
	case !f.AllTenants:
		return nil, socbot.FieldError(op, "tenant_id", "required")
	}
	if len(f.States) > 0 {
		// Literals, not parameters: the timers' queries (awaiting approval past a deadline, applied
		// past an expiry) then use the partial indexes of migration 0200.
		lits := make([]string, len(f.States))
		for i, st := range f.States {
			if !st.Valid() {
				return nil, socbot.FieldError(op, "states", "unknown state %q", st)
			}
			lits[i] = "'" + string(st) + "'"
		}
		if len(lits) == 1 {
			where = append(where, "state = "+lits[0]) // the form SQLite matches against a partial index
		} else {
			where = append(where, "state IN ("+strings.Join(lits, ", ")+")")
		}
	}
	if f.IncidentID != 0 {
		where = append(where, "incident_id = ?")
		args = append(args, f.IncidentID)
	}
	if f.ConnectorID != "" {
		where = append(where, "connector_id = ?")
		args = append(args, f.ConnectorID)
	}
	if !f.DeadlineBefore.IsZero() {
		where = append(where, "approval_deadline < ?")
		args = append(args, us(f.DeadlineBefore))
	}
	if !f.ExpiresBefore.IsZero() {
		where = append(where, "expires_at < ?")
		args = append(args, us(f.ExpiresBefore))
	}
	if f.AfterID > 0 {
		where = append(where, "id > ?")
		args = append(args, f.AfterID)
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	return s.queryActions(ctx, s.db, op, q, args...)
}

type ctActionHead struct {
	tenant, value, connector string
	kind                     socbot.ActionKind
	state                    containment.State
	version                  int64
	rollback                 bool
	escalations              int
	approvals, attempts      int
}

// UpdateActions implements containment.Store: every action is written in one transaction, each at
// the version it was read at, with its new approvals and attempts appended and its transitions
// audited.
func (s *Store) UpdateActions(ctx context.Context, as []containment.Action) ([]containment.Action, error) {
	const op = "sqlstore.UpdateActions"
	if len(as) == 0 {
		return nil, nil
	}
	note, personal := containment.AuditFrom(ctx)
	out := make([]containment.Action, len(as))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		heads, err := s.actionHeads(ctx, tx, as)
		if err != nil {
			return err
		}
		for _, a := range as {
			h, ok := heads[a.ID]
			if !ok {
				return socbot.E(op, socbot.KindNotFound, "action "+strconv.FormatInt(a.ID, 10)+" not found")
			}
			if h.version != a.Version {
				return socbot.E(op, socbot.KindConflict, "action "+strconv.FormatInt(a.ID, 10)+" changed since it was read")
			}
			if h.tenant != a.TenantID || h.kind != a.Kind || h.value != a.Value || h.connector != a.ConnectorID {
				return socbot.E(op, socbot.KindInvalid, "action "+strconv.FormatInt(a.ID, 10)+": key fields cannot change")
			}
			if len(a.Approvals) < h.approvals || len(a.Attempts) < h.attempts {
				return socbot.E(op, socbot.KindInvalid, "action "+strconv.FormatInt(a.ID, 10)+": approvals and attempts are append-only")
			}
		}
		var audits []socbot.AuditRecord
		for i, a := range as {
			h := heads[a.ID]
			st, err := s.prepared(ctx, tx, `UPDATE containment_actions SET state = ?, requested_by = ?, reason = ?, incident_id = ?, playbook_step = ?,
				confidence = ?, crown_jewel = ?, ttl_ms = ?, required_approvals = ?, approval_deadline = ?, escalations = ?, policy_rule = ?,
				next_attempt_at = ?, lease_owner = ?, lease_until = ?, vendor_ref = ?, applied_at = ?, expires_at = ?, native_expiry = ?,
				removed_at = ?, rollback_requested = ?, in_doubt = ?, detail = ?, updated_at = ?, version = version + 1
				WHERE id = ? AND version = ?`)
			if err != nil {
				return dbErr(op, err)
			}
			res, err := st.ExecContext(ctx, a.State, a.RequestedBy, a.Reason, nullID(a.IncidentID), a.PlaybookStep, a.Confidence, a.CrownJewel,
				ctMS(a.TTL), a.RequiredApprovals, nullUS(a.ApprovalDeadline), a.Escalations, a.PolicyRule, ctUS(a.NextAttemptAt), a.LeaseOwner,
				ctUS(a.LeaseUntil), a.VendorRef, nullUS(a.AppliedAt), nullUS(a.ExpiresAt), a.NativeExpiry, nullUS(a.RemovedAt), a.Rollback,
				a.InDoubt, a.Detail, us(a.UpdatedAt), a.ID, a.Version)
			if err != nil {
				return dbErr(op, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return socbot.E(op, socbot.KindConflict, "action "+strconv.FormatInt(a.ID, 10)+" changed since it was read")
			}
			if err := s.insertChildren(ctx, tx, a, h.approvals, h.attempts); err != nil {
				return err
			}
			audits = append(audits, ctTransitionAudits(a, h, note, personal)...)
			a.Version++
			out[i] = ctRoundTimes(a)
		}
		return s.appendAudits(ctx, tx, audits)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ctRoundTimes makes a written action's times what a read gives back (microseconds, UTC).
func ctRoundTimes(a containment.Action) containment.Action {
	r := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return fromUS(us(t))
	}
	rp := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := r(*t)
		return &v
	}
	a.NextAttemptAt, a.LeaseUntil, a.CreatedAt, a.UpdatedAt = r(a.NextAttemptAt), r(a.LeaseUntil), r(a.CreatedAt), r(a.UpdatedAt)
	a.ApprovalDeadline, a.AppliedAt, a.ExpiresAt, a.RemovedAt = rp(a.ApprovalDeadline), rp(a.AppliedAt), rp(a.ExpiresAt), rp(a.RemovedAt)
	a.TTL = a.TTL.Truncate(time.Millisecond)
	a.Approvals = append([]containment.Approval(nil), a.Approvals...)
	for i := range a.Approvals {
		a.Approvals[i].At = r(a.Approvals[i].At)
	}
	a.Attempts = append([]containment.Attempt(nil), a.Attempts...)
	for i := range a.Attempts {
		a.Attempts[i].At = r(a.Attempts[i].At)
		a.Attempts[i].Took = a.Attempts[i].Took.Truncate(time.Millisecond)
		a.Attempts[i].RetryAfter = a.Attempts[i].RetryAfter.Truncate(time.Millisecond)
		a.Attempts[i].N = i + 1
	}
	return a
}

// actionHeads reads (and on PostgreSQL locks) what UpdateActions checks and compares against.
func (s *Store) actionHeads(ctx context.Context, tx *sql.Tx, as []containment.Action) (map[int64]ctActionHead, error) {
	const op = "sqlstore.UpdateActions"
	heads := make(map[int64]ctActionHead, len(as))
	lock := ""
	if s.engine == Postgres {
		lock = " FOR UPDATE"
	}
	for start := 0; start < len(as); start += 500 {
		chunk := as[start:min(start+500, len(as))]
		args := make([]any, len(chunk))
		for i, a := range chunk {
			args[i] = a.ID
		}
		in := placeholders(len(chunk))
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, tenant_id, kind, value, connector_id, state, version, rollback_requested, escalations
			FROM containment_actions WHERE id IN (`+in+`) ORDER BY id`+lock), args...)
		if err != nil {
			return nil, dbErr(op, err)
		}
		for rows.Next() {
			var id int64
			var h ctActionHead
			if err := rows.Scan(&id, &h.tenant, &h.kind, &h.value, &h.connector, &h.state, &h.version, &h.rollback, &h.escalations); err != nil {
				rows.Close()
				return nil, dbErr(op, err)
			}
			heads[id] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr(op, err)
		}
		for _, table := range []string{"containment_approvals", "containment_attempts"} {
			rows, err := tx.QueryContext(ctx, s.q(`SELECT action_id, COUNT(*) FROM `+table+` WHERE action_id IN (`+in+`) GROUP BY action_id`), args...)
			if err != nil {
				return nil, dbErr(op, err)
			}
			for rows.Next() {
				var id int64
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					rows.Close()
					return nil, dbErr(op, err)
				}
				h := heads[id]
				if table == "containment_approvals" {
					h.approvals = n
				} else {
					h.attempts = n
				}
				heads[id] = h
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, dbErr(op, err)
			}
		}
	}
	return heads, nil
}

// ctTransitionAudits says, in audit records, what a ledger write changed: decisions by people,
// removals asked for, escalations, cancellations and vendor outcomes. Lease bookkeeping and retries
// are not audited (the attempts table records every vendor call).
func ctTransitionAudits(a containment.Action, h ctActionHead, note containment.AuditNote, personal bool) []socbot.AuditRecord {
	var out []socbot.AuditRecord
	rec := func(actor, action, reason string) {
		out = append(out, socbot.AuditRecord{TenantID: a.TenantID, Actor: actor, Action: action, Target: ctTarget(a.ID), Reason: reason,
			Details: ctDetails(a, h.state)})
	}
	decided := false
	for _, ap := range a.Approvals[h.approvals:] {
		action := "containment.approve"
		if !ap.Approved {
			action, decided = "containment.deny", true
		}
		rec(ap.By, action, ap.Comment)
	}
	actor := note.By.Name
	if a.Escalations > h.escalations {
		rec(actor, "containment.escalate", fmt.Sprintf("approval round %d timed out", a.Escalations))
	}
	if a.Rollback && !h.rollback {
		rec(actor, "containment.remove", note.Reason)
	}
	if a.State == h.state {
		return out
	}
	switch a.State {
	case containment.StateDenied:
		if !decided {
			rec(actor, "containment.cancel", a.Detail)
		}
	case containment.StateExpiring:
		if h.state == containment.StateApplied {
			if personal {
				rec(actor, "containment.remove", note.Reason)
			} else {
				rec(actor, "containment.expire", a.Detail)
			}
		}
	case containment.StateApplied:
		rec(actor, "containment.applied", a.Detail)
	case containment.StateRemoved:
		rec(actor, "containment.removed", a.Detail)
	case containment.StateFailed:
		rec(actor, "containment.failed", a.Detail)
	}
	return out
}

// Claim implements containment.Store: due work is leased in one statement, oldest due first. On
// PostgreSQL, rows another node is claiming are skipped (FOR UPDATE SKIP LOCKED).
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]containment.Action, error) {
	const op = "sqlstore.Claim"
	if limit <= 0 {
		limit = 1000
	}
	lock := ""
	if s.engine == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := us(now)
	var out []containment.Action
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE containment_actions SET
				state = CASE WHEN state = 'approved' THEN 'applying' ELSE state END,
				in_doubt = (in_doubt OR lease_owner <> ''),
				lease_owner = ?, lease_until = ?, updated_at = ?, version = version + 1
			WHERE id IN (SELECT id FROM containment_actions
				WHERE state IN ('approved', 'applying', 'expiring')
				AND ((lease_owner = '' AND next_attempt_at <= ?) OR (lease_owner <> '' AND lease_until <= ?))
				ORDER BY next_attempt_at, id LIMIT ?`+lock+`)
			RETURNING `+ctActionCols), owner, us(now.Add(lease)), n, n, n, limit)
		if err != nil {
			return dbErr(op, err)
		}
		for rows.Next() {
			a, err := scanCTAction(rows)
			if err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			out = append(out, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(op, err)
		}
		return s.loadChildren(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttemptAt.Equal(out[j].NextAttemptAt) {
			return out[i].NextAttemptAt.Before(out[j].NextAttemptAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

var ctForwardKinds = func() []any {
	var out []any
	for _, k := range []socbot.ActionKind{socbot.ActBlockIP, socbot.ActBlockDomain, socbot.ActBlockURL, socbot.ActBlockSender,
		socbot.ActPurgeMessage, socbot.ActDisableUser, socbot.ActIsolateHost} {
		out = append(out, string(k))
	}
	return out
}()

// CountSince implements containment.Store: the tenant's forward actions created at or after since
// that were not denied.
func (s *Store) CountSince(ctx context.Context, tenantID string, since time.Time) (int, error) {
	var n int
	args := append([]any{tenantID, us(since)}, ctForwardKinds...)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM containment_actions WHERE tenant_id = ? AND created_at >= ?
		AND state <> 'denied' AND kind IN (`+placeholders(len(ctForwardKinds))+`)`), args...).Scan(&n)
	return n, dbErr("sqlstore.CountSince", err)
}

// ---- connector instances

const ctConnectorCols = `tenant_id, id, type, base_url, options, timeout_ms, sealed_credentials, created_at, updated_at`

func scanCTConnector(r scanner) (containment.ConnectorInstance, error) {
	var c containment.ConnectorInstance
	var opts string
	var timeout, created, updated int64
	if err := r.Scan(&c.TenantID, &c.ID, &c.Type, &c.BaseURL, &opts, &timeout, &c.SealedCredentials, &created, &updated); err != nil {
		return c, err
	}
	unjs(opts, &c.Options)
	c.Timeout = time.Duration(timeout) * time.Millisecond
	c.CreatedAt, c.UpdatedAt = fromUS(created), fromUS(updated)
	return c, nil
}

// PutConnector implements containment.Store: creates or replaces an instance, audited (what changed,
// never the credentials).
func (s *Store) PutConnector(ctx context.Context, c containment.ConnectorInstance) error {
	const op = "sqlstore.PutConnector"
	if c.TenantID == "" || c.ID == "" {
		return socbot.FieldError(op, "id", "tenant and id required")
	}
	note, _ := containment.AuditFrom(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanCTConnector(tx.QueryRowContext(ctx, s.q(`SELECT `+ctConnectorCols+` FROM connector_instances WHERE tenant_id = ? AND id = ?`), c.TenantID, c.ID))
		exists := err == nil
		if err != nil && err != sql.ErrNoRows {
			return dbErr(op, err)
		}
		opts := "{}"
		if len(c.Options) > 0 {
			opts = js(c.Options)
		}
		var sealed any
		if len(c.SealedCredentials) > 0 {
			sealed = c.SealedCredentials
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO connector_instances (`+ctConnectorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, id) DO UPDATE SET type = excluded.type, base_url = excluded.base_url, options = excluded.options,
			timeout_ms = excluded.timeout_ms, sealed_credentials = excluded.sealed_credentials, updated_at = excluded.updated_at`),
			c.TenantID, c.ID, c.Type, c.BaseURL, opts, ctMS(c.Timeout), sealed, us(c.CreatedAt), us(c.UpdatedAt)); err != nil {
			return dbErr(op, err)
		}
		action, creds := "containment.connector.create", "none"
		switch {
		case exists && string(old.SealedCredentials) == string(c.SealedCredentials):
			creds = "kept"
		case len(c.SealedCredentials) > 0:
			creds = "set"
		}
		if exists {
			action = "containment.connector.update"
		}
		d := map[string]any{"type": c.Type, "base_url": c.BaseURL, "options": c.Options, "timeout": c.Timeout.String(), "credentials": creds}
		return s.appendAudit(ctx, tx, auditRec(note.By, c.TenantID, action, "connector:"+c.ID, note.Reason, d))
	})
}

// GetConnector implements containment.Store.
func (s *Store) GetConnector(ctx context.Context, tenantID, id string) (containment.ConnectorInstance, error) {
	c, err := scanCTConnector(s.db.QueryRowContext(ctx, s.q(`SELECT `+ctConnectorCols+` FROM connector_instances WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if err == sql.ErrNoRows {
		return c, socbot.E("sqlstore.GetConnector", socbot.KindNotFound, "connector "+id+" not found")
	}
	return c, dbErr("sqlstore.GetConnector", err)
}

// ListConnectors implements containment.Store.
func (s *Store) ListConnectors(ctx context.Context, tenantID string) ([]containment.ConnectorInstance, error) {
	const op = "sqlstore.ListConnectors"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+ctConnectorCols+` FROM connector_instances WHERE tenant_id = ? ORDER BY id`), tenantID)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []containment.ConnectorInstance
	for rows.Next() {
		c, err := scanCTConnector(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, c)
	}
	return out, dbErr(op, rows.Err())
}

// ConnectorTenants lists the tenants that have at least one connector instance.
func (s *Store) ConnectorTenants(ctx context.Context) ([]string, error) {
	const op = "sqlstore.ConnectorTenants"
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT tenant_id FROM connector_instances ORDER BY tenant_id`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, t)
	}
	return out, dbErr(op, rows.Err())
}

// DeleteConnector implements containment.Store, audited.
func (s *Store) DeleteConnector(ctx context.Context, tenantID, id string) error {
	const op = "sqlstore.DeleteConnector"
	note, _ := containment.AuditFrom(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM connector_instances WHERE tenant_id = ? AND id = ?`), tenantID, id)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, "connector "+id+" not found")
		}
		return s.appendAudit(ctx, tx, auditRec(note.By, tenantID, "containment.connector.delete", "connector:"+id, note.Reason, nil))
	})
}

// ---- never-block lists

const ctNeverCols = `id, tenant_id, value, comment, created_by, created_at`

func scanCTNever(r scanner) (socbot.NeverBlockEntry, error) {
	var e socbot.NeverBlockEntry
	var at int64
	err := r.Scan(&e.ID, &e.TenantID, &e.Value, &e.Comment, &e.CreatedBy, &at)
	e.CreatedAt = fromUS(at)
	return e, err
}

func (s *Store) neverRows(ctx context.Context, where string, args ...any) ([]socbot.NeverBlockEntry, error) {
	const op = "sqlstore.NeverBlock"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+ctNeverCols+` FROM containment_never_block `+where+` ORDER BY tenant_id, id`), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []socbot.NeverBlockEntry{}
	for rows.Next() {
		e, err := scanCTNever(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, e)
	}
	return out, dbErr(op, rows.Err())
}

// NeverBlock implements containment.NeverBlockStore: one tenant's entries ("" for the MSSP-wide list).
func (s *Store) NeverBlock(ctx context.Context, tenantID string) ([]socbot.NeverBlockEntry, error) {
	return s.neverRows(ctx, `WHERE tenant_id = ?`, tenantID)
}

// AllNeverBlock implements containment.NeverBlockStore.
func (s *Store) AllNeverBlock(ctx context.Context) ([]socbot.NeverBlockEntry, error) {
	return s.neverRows(ctx, ``)
}

// AddNeverBlock implements containment.NeverBlockStore: entries already on the list are returned as
// they are; new ones are stored and audited.
func (s *Store) AddNeverBlock(ctx context.Context, entries []socbot.NeverBlockEntry) ([]socbot.NeverBlockEntry, error) {
	const op = "sqlstore.AddNeverBlock"
	note, _ := containment.AuditFrom(ctx)
	now := fromUS(us(s.clock.Now()))
	out := make([]socbot.NeverBlockEntry, 0, len(entries))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var audits []socbot.AuditRecord
		for i, e := range entries {
			e.Value = strings.ToLower(strings.TrimSpace(e.Value))
			if e.Value == "" {
				return socbot.FieldError(op, fmt.Sprintf("entries[%d].value", i), "required")
			}
			old, err := scanCTNever(tx.QueryRowContext(ctx, s.q(`SELECT `+ctNeverCols+` FROM containment_never_block WHERE tenant_id = ? AND value = ?`), e.TenantID, e.Value))
			if err == nil {
				out = append(out, old)
				continue
			}
			if err != sql.ErrNoRows {
				return dbErr(op, err)
			}
			e.CreatedBy, e.CreatedAt = note.By.Name, now
			if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO containment_never_block (tenant_id, value, comment, created_by, created_at)
				VALUES (?, ?, ?, ?, ?) RETURNING id`), e.TenantID, e.Value, e.Comment, e.CreatedBy, us(e.CreatedAt)).Scan(&e.ID); err != nil {
				return dbErr(op, err)
			}
			out = append(out, e)
			audits = append(audits, auditRec(note.By, e.TenantID, "containment.never_block.add", "never_block:"+strconv.FormatInt(e.ID, 10), note.Reason,
				map[string]any{"value": e.Value, "comment": e.Comment}))
		}
		return s.appendAudits(ctx, tx, audits)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteNeverBlock implements containment.NeverBlockStore, audited.
func (s *Store) DeleteNeverBlock(ctx context.Context, tenantID string, id int64) (socbot.NeverBlockEntry, error) {
	const op = "sqlstore.DeleteNeverBlock"
	note, _ := containment.AuditFrom(ctx)
	var out socbot.NeverBlockEntry
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := scanCTNever(tx.QueryRowContext(ctx, s.q(`SELECT `+ctNeverCols+` FROM containment_never_block WHERE tenant_id = ? AND id = ?`), tenantID, id))
		if err == sql.ErrNoRows {
			return socbot.E(op, socbot.KindNotFound, "never-block entry "+strconv.FormatInt(id, 10)+" not found")
		}
		if err != nil {
			return dbErr(op, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM containment_never_block WHERE id = ?`), id); err != nil {
			return dbErr(op, err)
		}
		out = e
		return s.appendAudit(ctx, tx, auditRec(note.By, tenantID, "containment.never_block.delete", "never_block:"+strconv.FormatInt(id, 10), note.Reason,
			map[string]any{"value": e.Value}))
	})
	return out, err
}

// ---- playbook versions

const pbCols = `tenant_id, name, version, source, disabled, created_by, created_at`

func (s *Store) playbookRows(ctx context.Context, op, where string, args ...any) ([]playbook.Stored, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+pbCols+` FROM playbooks `+where), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []playbook.Stored
	for rows.Next() {
		var v playbook.Stored
		var src string
		var at int64
		if err := rows.Scan(&v.TenantID, &v.Name, &v.Version, &src, &v.Disabled, &v.CreatedBy, &at); err != nil {
			return nil, dbErr(op, err)
		}
		v.Source, v.CreatedAt = []byte(src), fromUS(at)
		out = append(out, v)
	}
	return out, dbErr(op, rows.Err())
}

// PutPlaybook implements playbook.VersionStore.
func (s *Store) PutPlaybook(ctx context.Context, v playbook.Stored) error {
	const op = "sqlstore.PutPlaybook"
	note, _ := containment.AuditFrom(ctx)
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.clock.Now()
	}
	if v.CreatedBy == "" {
		v.CreatedBy = note.By.Name
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(version), 0) FROM playbooks WHERE tenant_id = ? AND name = ?`), v.TenantID, v.Name).Scan(&cur); err != nil {
			return dbErr(op, err)
		}
		if v.Version <= cur {
			return socbot.E(op, socbot.KindConflict, fmt.Sprintf("playbook %s: version %d is not above the stored version %d", v.Name, v.Version, cur))
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO playbooks (`+pbCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			v.TenantID, v.Name, v.Version, string(v.Source), v.Disabled, v.CreatedBy, us(v.CreatedAt)); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(note.By, v.TenantID, "playbook.upload", fmt.Sprintf("playbook:%s@v%d", v.Name, v.Version), note.Reason,
			map[string]any{"name": v.Name, "version": v.Version, "disabled": v.Disabled, "bytes": len(v.Source)}))
	})
}

// Playbooks implements playbook.VersionStore.
func (s *Store) Playbooks(ctx context.Context, tenantID string) ([]playbook.Stored, error) {
	return s.playbookRows(ctx, "sqlstore.Playbooks", `WHERE tenant_id = ? ORDER BY name, version`, tenantID)
}

// PlaybooksSince implements playbook.VersionStore.
func (s *Store) PlaybooksSince(ctx context.Context, since time.Time) ([]playbook.Stored, error) {
	return s.playbookRows(ctx, "sqlstore.PlaybooksSince", `WHERE created_at > ? ORDER BY created_at, tenant_id, name, version`, ctUS(since))
}

// ---- playbook runs

// RunLease is how long DueRuns holds a run it hands out before another node may take it over (the
// engine saves the run after every step, which ends the hold).
const RunLease = 2 * time.Minute

const pbRunCols = `id, tenant_id, playbook, version, incident_id, state, next_step, resume_at, min_approvals, outcomes, enrichment,
	incident, alerts, started_at, updated_at`

func scanPBRun(r scanner) (playbook.Run, error) {
	var run playbook.Run
	var outcomes, enrichment, incident, alerts string
	var resume, started, updated int64
	if err := r.Scan(&run.ID, &run.TenantID, &run.Playbook, &run.Version, &run.IncidentID, &run.State, &run.Cursor, &resume,
		&run.MinApprovals, &outcomes, &enrichment, &incident, &alerts, &started, &updated); err != nil {
		return run, err
	}
	unjs(outcomes, &run.Outcomes)
	unjs(enrichment, &run.Enrichment)
	var inc pbRunIncident
	unjs(incident, &inc)
	run.Incident = inc.Incident
	run.Incident.Priority = socbot.Priority(inc.Priority)
	var als []pbRunAlert
	unjs(alerts, &als)
	for _, a := range als {
		a.Alert.Severity, a.Alert.Priority = socbot.Severity(a.Severity), socbot.Priority(a.Priority)
		run.Alerts = append(run.Alerts, a.Alert)
	}
	run.ResumeAt, run.StartedAt, run.UpdatedAt = ctTime(resume), fromUS(started), fromUS(updated)
	return run, nil
}

// pbRunIncident and pbRunAlert are how a run's incident and alerts are stored: their JSON forms write
// priority and severity for people ("P2", "high") and do not read them back, so the numbers are kept
// beside them.
type pbRunIncident struct {
	Incident socbot.Incident `json:"incident"`
	Priority int             `json:"priority"`
}

type pbRunAlert struct {
	Alert    socbot.Alert `json:"alert"`
	Severity int          `json:"severity"`
	Priority int          `json:"priority"`
}

func runIncidentDoc(inc socbot.Incident) pbRunIncident {
	return pbRunIncident{Incident: inc, Priority: int(inc.Priority)}
}

func runAlertDocs(as []socbot.Alert) []pbRunAlert {
	out := make([]pbRunAlert, len(as))
	for i, a := range as {
		a.Raw = nil
		out[i] = pbRunAlert{Alert: a, Severity: int(a.Severity), Priority: int(a.Priority)}
	}
	return out
}

func pbRunArgs(r playbook.Run) (outcomes, enrichment, incident, alerts string) {
	outcomes, enrichment = js(r.Outcomes), js(r.Enrichment)
	if r.Outcomes == nil {
		outcomes = "[]"
	}
	if r.Enrichment == nil {
		enrichment = "[]"
	}
	b, _ := json.Marshal(runIncidentDoc(r.Incident))
	incident = string(b)
	alerts = js(runAlertDocs(r.Alerts))
	return
}

// CreateRun implements playbook.RunStore: one run per (tenant, playbook, version, incident).
func (s *Store) CreateRun(ctx context.Context, r playbook.Run) (bool, error) {
	const op = "sqlstore.CreateRun"
	o, e, inc, al := pbRunArgs(r)
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO playbook_runs (`+pbRunCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, playbook, version, incident_id) DO NOTHING`),
		r.ID, r.TenantID, r.Playbook, r.Version, r.IncidentID, r.State, r.Cursor, ctUS(r.ResumeAt), r.MinApprovals, o, e, inc, al,
		us(r.StartedAt), us(r.UpdatedAt))
	if err != nil {
		return false, dbErr(op, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// PutRun implements playbook.RunStore. A run's incident and alerts are written once, by CreateRun:
// they are the run's input and do not change, and re-encoding them after every step would cost more
// than the step.
func (s *Store) PutRun(ctx context.Context, r playbook.Run) error {
	const op = "sqlstore.PutRun"
	o, e := js(r.Outcomes), js(r.Enrichment)
	if r.Outcomes == nil {
		o = "[]"
	}
	if r.Enrichment == nil {
		e = "[]"
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE playbook_runs SET state = ?, next_step = ?, resume_at = ?, min_approvals = ?, outcomes = ?,
		enrichment = ?, updated_at = ? WHERE tenant_id = ? AND playbook = ? AND version = ? AND incident_id = ?`),
		r.State, r.Cursor, ctUS(r.ResumeAt), r.MinApprovals, o, e, us(r.UpdatedAt), r.TenantID, r.Playbook, r.Version, r.IncidentID)
	if err != nil {
		return dbErr(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := s.CreateRun(ctx, r)
		return err
	}
	return nil
}

// DueRuns implements playbook.RunStore. It also hands out runs whose node stopped in the middle of
// them (running, not saved for RunLease), and holds what it hands out for RunLease so that another
// node polling at the same time does not take the same runs.
func (s *Store) DueRuns(ctx context.Context, now time.Time) ([]playbook.Run, error) {
	const op = "sqlstore.DueRuns"
	lock := ""
	if s.engine == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := us(now)
	var out []playbook.Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Two index range scans (waiting runs by resume_at, running ones by updated_at), not one scan of
		// every run.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+pbRunCols+` FROM playbook_runs WHERE id IN (SELECT id FROM playbook_runs
			WHERE state = 'waiting' AND resume_at <= ? ORDER BY resume_at, id LIMIT 100`+lock+`)
			OR id IN (SELECT id FROM playbook_runs WHERE state = 'running' AND updated_at <= ? ORDER BY updated_at, id LIMIT 100`+lock+`)`),
			n, us(now.Add(-RunLease)))
		if err != nil {
			return dbErr(op, err)
		}
		for rows.Next() {
			r, err := scanPBRun(rows)
			if err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(op, err)
		}
		for _, r := range out {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE playbook_runs SET resume_at = ?, updated_at = ? WHERE id = ?`),
				us(now.Add(RunLease)), n, r.ID); err != nil {
				return dbErr(op, err)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ResumeAt.Before(out[j].ResumeAt) })
	return out, err
}

// Runs lists the playbook runs of one incident of a tenant (for the API and tests).
func (s *Store) Runs(ctx context.Context, tenantID string, incidentID int64) ([]playbook.Run, error) {
	const op = "sqlstore.Runs"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+pbRunCols+` FROM playbook_runs WHERE tenant_id = ? AND incident_id = ? ORDER BY started_at, id`), tenantID, incidentID)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []playbook.Run
	for rows.Next() {
		r, err := scanPBRun(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, r)
	}
	return out, dbErr(op, rows.Err())
}

// ---- incident feed, timeline and notices

// IncidentChanges implements containment.IncidentFeedStore.
func (s *Store) IncidentChanges(ctx context.Context, since time.Time, limit int) ([]containment.IncidentChange, error) {
	const op = "sqlstore.IncidentChanges"
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT tenant_id, id, status, updated_at FROM incidents WHERE updated_at >= ? ORDER BY updated_at, id LIMIT ?`), ctUS(since), limit)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []containment.IncidentChange
	for rows.Next() {
		var c containment.IncidentChange
		var at int64
		if err := rows.Scan(&c.TenantID, &c.ID, &c.Status, &at); err != nil {
			return nil, dbErr(op, err)
		}
		c.UpdatedAt = fromUS(at)
		out = append(out, c)
	}
	return out, dbErr(op, rows.Err())
}

// Cursor implements containment.IncidentFeedStore.
func (s *Store) Cursor(ctx context.Context, name string) (time.Time, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT at FROM containment_cursors WHERE name = ?`), name).Scan(&at)
	if err == sql.ErrNoRows {
		return time.Time{}, nil
	}
	return ctTime(at), dbErr("sqlstore.Cursor", err)
}

// SetCursor implements containment.IncidentFeedStore.
func (s *Store) SetCursor(ctx context.Context, name string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO containment_cursors (name, at, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET at = excluded.at, updated_at = excluded.updated_at`), name, ctUS(at), us(s.clock.Now()))
		return dbErr("sqlstore.SetCursor", err)
	})
}

// AddTimelineEntry implements containment.Timeline and playbook.Timeline: a bot's entry on an
// incident of the entry's tenant. Unlike AddNote it does not touch the incident's updated_at (the
// bots poll it), and the ledger's own audit entries record the change.
func (s *Store) AddTimelineEntry(ctx context.Context, e socbot.TimelineEntry) error {
	const op = "sqlstore.AddTimelineEntry"
	if e.TenantID == "" || e.IncidentID == 0 {
		return socbot.FieldError(op, "incident_id", "tenant and incident required")
	}
	if e.At.IsZero() {
		e.At = s.clock.Now()
	}
	data := ""
	if len(e.Data) > 0 {
		data = string(e.Data)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO timeline (tenant_id, incident_id, at, actor, kind, text, data)
			SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM incidents WHERE id = ? AND tenant_id = ?)`),
			e.TenantID, e.IncidentID, us(e.At), e.Actor, e.Kind, e.Text, data, e.IncidentID, e.TenantID)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, fmt.Sprintf("incident %d not found in tenant %s", e.IncidentID, e.TenantID))
		}
		return nil
	})
}

// NotifyContainment queues a containment notice in the notification outbox: to the tenant's channel
// named channel when one is given (a playbook's notify step), otherwise to every enabled channel that
// ctSubscribes to event or to incident.updated (containment events are updates of their incident). It
// returns how many notifications were queued.
func (s *Store) NotifyContainment(ctx context.Context, tenantID string, incidentID int64, event, channel, subject, text string) (int, error) {
	const op = "sqlstore.NotifyContainment"
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		chans, err := s.channels(ctx, tx, tenantID, true)
		if err != nil {
			return err
		}
		var tenantName string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT name FROM tenants WHERE id = ?`), tenantID).Scan(&tenantName); err != nil {
			return dbErr(op, err)
		}
		var inc socbot.Incident
		if incidentID != 0 {
			if inc, err = s.incident(ctx, tx, tenantID, incidentID, false); err != nil {
				return err
			}
		}
		now := fromUS(us(s.clock.Now()))
		body := js(socbot.NotificationBody{Event: event, Tenant: tenantName, TenantID: tenantID, Incident: inc, Detail: text, At: now})
		subject = fmt.Sprintf("[%s] %s", tenantName, subject)
		for _, c := range chans {
			if channel != "" {
				if c.Name != channel {
					continue
				}
			} else if !ctSubscribes(c, event) {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO notifications (tenant_id, channel_id, event, incident_id, subject, body, status, attempts, next_attempt_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`),
				tenantID, c.ID, event, nullID(incidentID), subject, body, socbot.DeliveryPending, us(now), us(now)); err != nil {
				return dbErr(op, err)
			}
			n++
		}
		if channel != "" && n == 0 {
			return socbot.E(op, socbot.KindNotFound, "tenant has no enabled channel named "+channel)
		}
		return nil
	})
	return n, err
}

func ctSubscribes(c socbot.Channel, event string) bool {
	for _, e := range c.Events {
		if e == event || e == socbot.EventIncidentUpdated {
			return true
		}
	}
	return false
}
