package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
	"unicode"

	socbot "github.com/socbot/socbot"
)

var _ socbot.ConsoleStore = (*Store)(nil)

// LoginState returns a user's sign-in state (zero when the user never failed or enrolled).
func (s *Store) LoginState(ctx context.Context, userID string) (socbot.LoginState, error) {
	st := socbot.LoginState{UserID: userID}
	var locked sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT failures, locked_until, totp_secret FROM console_logins WHERE user_id = ?`), userID).
		Scan(&st.Failures, &locked, &st.TOTPSecret)
	if err == sql.ErrNoRows {
		return st, nil
	}
	st.LockedUntil = optTime(locked)
	return st, dbErr("sqlstore.LoginState", err)
}

// RecordLogin counts a failed sign-in, locking the user for lockFor after maxFailures failures in a
// row, or clears the count after a success. A lockout is audited.
func (s *Store) RecordLogin(ctx context.Context, userID string, ok bool, now time.Time, maxFailures int, lockFor time.Duration) (socbot.LoginState, error) {
	const op = "sqlstore.RecordLogin"
	var st socbot.LoginState
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO console_logins (user_id, updated_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING`), userID, us(now)); err != nil {
			return dbErr(op, err)
		}
		var locked sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT failures, locked_until, totp_secret FROM console_logins WHERE user_id = ?`), userID).
			Scan(&st.Failures, &locked, &st.TOTPSecret); err != nil {
			return dbErr(op, err)
		}
		st.UserID, st.LockedUntil = userID, optTime(locked)
		if ok {
			st.Failures, st.LockedUntil = 0, nil
		} else {
			st.Failures++
			if maxFailures > 0 && st.Failures >= maxFailures {
				until := now.Add(lockFor)
				st.LockedUntil = &until
				st.Failures = 0
				if err := s.appendAudit(ctx, tx, auditRec(socbot.Principal{Name: "console"}, "", "user.lockout", "user:"+userID,
					strconv.Itoa(maxFailures)+" failed sign-ins", map[string]any{"until": until})); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE console_logins SET failures = ?, locked_until = ?, updated_at = ? WHERE user_id = ?`),
			st.Failures, nullUS(st.LockedUntil), us(now), userID)
		return dbErr(op, err)
	})
	return st, err
}

// SetTOTPSecret enrols (or, with "", removes) a user's second factor.
func (s *Store) SetTOTPSecret(ctx context.Context, userID, secret string, by socbot.Principal) error {
	const op = "sqlstore.SetTOTPSecret"
	now := us(s.clock.Now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO console_logins (user_id, totp_secret, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET totp_secret = excluded.totp_secret, updated_at = excluded.updated_at`), userID, secret, now); err != nil {
			return dbErr(op, err)
		}
		action := "user.totp.enrol"
		if secret == "" {
			action = "user.totp.remove"
		}
		return s.appendAudit(ctx, tx, auditRec(by, "", action, "user:"+userID, "", nil))
	})
}

// CreateSession stores a signed-in session.
func (s *Store) CreateSession(ctx context.Context, cs socbot.ConsoleSession) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO console_sessions (id_hash, user_id, email, csrf, tenant, method, created_at, seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), cs.IDHash, cs.UserID, cs.Email, cs.CSRF, cs.Tenant, cs.Method, us(cs.CreatedAt), us(cs.SeenAt), us(cs.ExpiresAt))
		if err != nil {
			return dbErr("sqlstore.CreateSession", err)
		}
		return s.appendAudit(ctx, tx, auditRec(socbot.Principal{Name: "user:" + cs.Email, UserID: cs.UserID}, "", "console.signin", "user:"+cs.UserID, "",
			map[string]string{"method": cs.Method}))
	})
}

// Session returns a session by the hash of its secret.
func (s *Store) Session(ctx context.Context, idHash string) (socbot.ConsoleSession, error) {
	var cs socbot.ConsoleSession
	var created, seen, exp int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id_hash, user_id, email, csrf, tenant, method, created_at, seen_at, expires_at FROM console_sessions WHERE id_hash = ?`), idHash).
		Scan(&cs.IDHash, &cs.UserID, &cs.Email, &cs.CSRF, &cs.Tenant, &cs.Method, &created, &seen, &exp)
	cs.CreatedAt, cs.SeenAt, cs.ExpiresAt = fromUS(created), fromUS(seen), fromUS(exp)
	return cs, dbErr("sqlstore.Session", err)
}

// UpdateSession records the session's last activity and the tenant it works in.
func (s *Store) UpdateSession(ctx context.Context, idHash, tenant string, seen time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE console_sessions SET tenant = ?, seen_at = ? WHERE id_hash = ?`), tenant, us(seen), idHash)
		return dbErr("sqlstore.UpdateSession", err)
	})
}

// DeleteSession ends a session (sign-out).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE id_hash = ?`), idHash)
		return dbErr("sqlstore.DeleteSession", err)
	})
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE expires_at < ?`), us(now))
		if err != nil {
			return dbErr("sqlstore.DeleteExpiredSessions", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// searchTerms splits a search into words of letters and digits (at most 8), the only characters the
// full-text queries are built from.
func searchTerms(q string) []string {
	f := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(f) > 8 {
		f = f[:8]
	}
	return f
}

// entityTypes are the observable types an exact entity search tries.
var entityTypes = []string{"ip", "domain", "url", "host", "user", "email", "md5", "sha1", "sha256", "file", "process"}

// SearchIncidents lists incidents newest first with the console's filters; the total is counted up to
// socbot.TotalCap. The search is full text
// (SQLite FTS5, PostgreSQL tsvector; every word must match, as a prefix) over title, category and
// assignee, or an incident number ("#12"), or an exact observable value (host name, IP, hash, ...).
func (s *Store) SearchIncidents(ctx context.Context, q socbot.IncidentQuery) (socbot.IncidentPage, error) {
	const op = "sqlstore.SearchIncidents"
	var where []string
	var args []any
	if q.TenantID != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, q.TenantID)
	}
	if len(q.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(q.Status))+")")
		for _, st := range q.Status {
			args = append(args, st)
		}
	}
	if q.Open {
		where = append(where, "status IN ('new', 'acknowledged', 'contained')")
	}
	if len(q.Priority) > 0 {
		where = append(where, "priority IN ("+placeholders(len(q.Priority))+")")
		for _, p := range q.Priority {
			args = append(args, int(p))
		}
	}
	if q.Queue != "" {
		where = append(where, "queue = ?")
		args = append(args, q.Queue)
	}
	if q.Assignee != "" {
		where = append(where, "assignee = ?")
		args = append(args, q.Assignee)
	}
	if q.MinAge > 0 {
		where = append(where, "created_at <= ?")
		args = append(args, us(q.Now.Add(-q.MinAge)))
	}
	if q.MaxAge > 0 {
		where = append(where, "created_at >= ?")
		args = append(args, us(q.Now.Add(-q.MaxAge)))
	}
	if search := strings.TrimSpace(q.Search); search != "" {
		if n, err := strconv.ParseInt(strings.TrimPrefix(search, "#"), 10, 64); err == nil && strings.HasPrefix(search, "#") {
			where = append(where, "number = ?")
			args = append(args, n)
		} else {
			var alts []string
			if terms := searchTerms(search); len(terms) > 0 {
				if s.engine == Postgres {
					for i := range terms {
						terms[i] = strings.ToLower(terms[i]) + ":*"
					}
					alts = append(alts, "SELECT id FROM incidents WHERE search_tsv @@ to_tsquery('simple', ?)")
					args = append(args, strings.Join(terms, " & "))
				} else {
					for i := range terms {
						terms[i] = `"` + terms[i] + `"*`
					}
					alts = append(alts, "SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?")
					args = append(args, strings.Join(terms, " "))
				}
			}
			val := strings.ToLower(search)
			ents := make([]any, 0, len(entityTypes)+1)
			for _, t := range entityTypes {
				ents = append(ents, t+":"+val)
			}
			entWhere := "entity IN (" + placeholders(len(entityTypes)) + ")"
			if q.TenantID != "" {
				entWhere = "tenant_id = ? AND " + entWhere
				ents = append([]any{q.TenantID}, ents...)
			}
			alts = append(alts, "SELECT incident_id FROM incident_entities WHERE "+entWhere)
			args = append(args, ents...)
			where = append(where, "id IN ("+strings.Join(alts, " UNION ")+")")
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	page := socbot.IncidentPage{Total: -1, Incidents: []socbot.Incident{}}
	if q.WantTotal {
		// Count at most TotalCap+1 rows: an exact count of a large listing costs more than the page.
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM incidents`+cond+` LIMIT ?) capped`), append(args, socbot.TotalCap+1)...).Scan(&page.Total); err != nil {
			return page, dbErr(op, err)
		}
		if page.Total > socbot.TotalCap {
			page.Total, page.More = socbot.TotalCap, true
		}
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents`+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`), append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return page, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		inc, err := scanIncident(r)
		page.Incidents = append(page.Incidents, inc)
		return err
	})
	return page, dbErr(op, err)
}

// TenantSummaries gives the MSSP's all-tenants view: each tenant's open incidents by priority, SLA
// breaches and alerts in the last 24 hours.
func (s *Store) TenantSummaries(ctx context.Context, now time.Time) ([]socbot.TenantSummary, error) {
	const op = "sqlstore.TenantSummaries"
	tenants, err := s.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]socbot.TenantSummary, len(tenants))
	idx := map[string]int{}
	for i, t := range tenants {
		out[i] = socbot.TenantSummary{Tenant: t, ByPrio: map[string]int{}}
		idx[t.ID] = i
	}
	n := us(now)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT tenant_id, priority, COUNT(*),
		SUM(CASE WHEN (acknowledged_at IS NULL AND ack_due < ?) OR resolve_due < ? THEN 1 ELSE 0 END)
		FROM incidents WHERE status IN ('new', 'acknowledged', 'contained') GROUP BY tenant_id, priority`), n, n)
	if err != nil {
		return nil, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		var tid string
		var prio int
		var c, b int64
		if err := r.Scan(&tid, &prio, &c, &b); err != nil {
			return err
		}
		if i, ok := idx[tid]; ok {
			out[i].Open += c
			out[i].Breached += b
			out[i].ByPrio[socbot.Priority(prio).String()] += int(c)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(op, err)
	}
	for i := range out {
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM alerts WHERE tenant_id = ? AND received_at >= ?`), out[i].Tenant.ID, us(now.Add(-24*time.Hour))).
			Scan(&out[i].Alerts24); err != nil {
			return nil, dbErr(op, err)
		}
	}
	return out, nil
}

// Activity returns the timeline entries of the given kinds for the tenant's incidents ids, oldest first.
func (s *Store) Activity(ctx context.Context, tenantID string, incidentIDs []int64, kinds []string) (map[int64][]socbot.TimelineEntry, error) {
	const op = "sqlstore.Activity"
	out := map[int64][]socbot.TimelineEntry{}
	if len(incidentIDs) == 0 || len(kinds) == 0 {
		return out, nil
	}
	args := []any{tenantID}
	for _, id := range incidentIDs {
		args = append(args, id)
	}
	for _, k := range kinds {
		args = append(args, k)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, incident_id, at, actor, kind, text FROM timeline WHERE tenant_id = ? AND incident_id IN (`+
		placeholders(len(incidentIDs))+`) AND kind IN (`+placeholders(len(kinds))+`) ORDER BY incident_id, id`), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	err = eachRow(rows, func(r *sql.Rows) error {
		e := socbot.TimelineEntry{TenantID: tenantID}
		var at int64
		if err := r.Scan(&e.ID, &e.IncidentID, &at, &e.Actor, &e.Kind, &e.Text); err != nil {
			return err
		}
		e.At = fromUS(at)
		out[e.IncidentID] = append(out[e.IncidentID], e)
		return nil
	})
	return out, dbErr(op, err)
}
