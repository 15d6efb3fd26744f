package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

const tokenCols = `id, name, role, COALESCE(tenant_id, ''), hash, prefix, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanToken(r scanner) (socbot.Token, error) {
	var t socbot.Token
	var role string
	var created int64
	var exp, used, rev sql.NullInt64
	if err := r.Scan(&t.ID, &t.Name, &role, &t.TenantID, &t.Hash, &t.Prefix, &t.CreatedBy, &created, &exp, &used, &rev); err != nil {
		return t, err
	}
	t.Role = socbot.Role(role)
	t.CreatedAt = fromUS(created)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = optTime(exp), optTime(used), optTime(rev)
	return t, nil
}

// CreateToken stores a token record. Hash must be set; the secret itself is never stored.
func (s *Store) CreateToken(ctx context.Context, t *socbot.Token, by socbot.Principal) error {
	const op = "sqlstore.CreateToken"
	if _, ok := socbot.ParseRole(string(t.Role)); !ok {
		return socbot.FieldError(op, "role", "role must be admin, analyst, viewer or ingest")
	}
	if t.Role == socbot.RoleAdmin && t.TenantID != "" {
		return socbot.FieldError(op, "tenant", "admin tokens are MSSP-wide and take no tenant")
	}
	if t.Role != socbot.RoleAdmin && t.TenantID == "" {
		return socbot.FieldError(op, "tenant", "%s tokens must be bound to a tenant (--tenant)", t.Role)
	}
	if t.Hash == "" {
		return socbot.E(op, socbot.KindInvalid, "token hash missing")
	}
	if t.ID == "" {
		t.ID = socbot.NewID()
	}
	t.CreatedAt = fromUS(us(s.clock.Now()))
	if t.CreatedBy == "" {
		t.CreatedBy = by.Name
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tokens (id, name, role, tenant_id, hash, prefix, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.ID, t.Name, string(t.Role), nullStr(t.TenantID), t.Hash, t.Prefix, t.CreatedBy, us(t.CreatedAt), nullUS(t.ExpiresAt)); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, t.TenantID, "token.create", "token:"+t.ID, "",
			map[string]string{"role": string(t.Role), "name": t.Name, "prefix": t.Prefix}))
	})
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (socbot.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM tokens WHERE hash = ?`), hash))
	return t, dbErr("sqlstore.TokenByHash", err)
}

// Tokens lists tokens of a tenant, or all tokens when tenantID is "".
func (s *Store) Tokens(ctx context.Context, tenantID string) ([]socbot.Token, error) {
	query := `SELECT ` + tokenCols + ` FROM tokens`
	var args []any
	if tenantID != "" {
		query += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	query += ` ORDER BY created_at`
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr("sqlstore.Tokens", err)
	}
	defer rows.Close()
	var out []socbot.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Tokens", err)
		}
		out = append(out, t)
	}
	return out, dbErr("sqlstore.Tokens", rows.Err())
}

// RevokeToken revokes a token; tenantID "" lets an admin revoke any token.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, by socbot.Principal) error {
	const op = "sqlstore.RevokeToken"
	return s.tx(ctx, func(tx *sql.Tx) error {
		query := `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`
		args := []any{us(s.clock.Now()), id}
		if tenantID != "" {
			query += ` AND tenant_id = ?`
			args = append(args, tenantID)
		}
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, "no active token "+id)
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "token.revoke", "token:"+id, "", nil))
	})
}

// TouchToken records when a token was last used (not audited: it is not a change by anyone).
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if s.engine == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET last_used_at = ? WHERE id = ?`), us(at), id)
	return dbErr("sqlstore.TouchToken", err)
}

const userCols = `id, email, name, role, COALESCE(tenant_id, ''), disabled, created_at`

func scanUser(r scanner, extra ...any) (socbot.User, error) {
	var u socbot.User
	var role string
	var created int64
	dest := append([]any{&u.ID, &u.Email, &u.Name, &role, &u.TenantID, &u.Disabled, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return u, err
	}
	u.Role = socbot.Role(role)
	u.CreatedAt = fromUS(created)
	return u, nil
}

// CreateUser stores a user with a password hash (may be empty for SSO-only users).
func (s *Store) CreateUser(ctx context.Context, u *socbot.User, passwordHash string, by socbot.Principal) error {
	const op = "sqlstore.CreateUser"
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	if !strings.Contains(u.Email, "@") {
		return socbot.FieldError(op, "email", "not an e-mail address: %q", u.Email)
	}
	if _, ok := socbot.ParseRole(string(u.Role)); !ok || u.Role == socbot.RoleIngest {
		return socbot.FieldError(op, "role", "a user's role must be admin, analyst or viewer")
	}
	if (u.Role == socbot.RoleAdmin) != (u.TenantID == "") {
		return socbot.FieldError(op, "tenant", "admins have no tenant; analysts and viewers must have one")
	}
	if u.ID == "" {
		u.ID = socbot.NewID()
	}
	u.CreatedAt = fromUS(us(s.clock.Now()))
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (id, email, name, role, tenant_id, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Email, u.Name, string(u.Role), nullStr(u.TenantID), passwordHash, u.Disabled, us(u.CreatedAt)); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, u.TenantID, "user.create", "user:"+u.ID, "", map[string]string{"email": u.Email, "role": string(u.Role)}))
	})
}

// UserByEmail returns a user and their password hash.
func (s *Store) UserByEmail(ctx context.Context, email string) (socbot.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+`, password_hash FROM users WHERE email = ?`), strings.ToLower(email)), &hash)
	return u, hash, dbErr("sqlstore.UserByEmail", err)
}

// Users lists a tenant's users, or every user when tenantID is "".
func (s *Store) Users(ctx context.Context, tenantID string) ([]socbot.User, error) {
	query := `SELECT ` + userCols + ` FROM users`
	var args []any
	if tenantID != "" {
		query += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY email`), args...)
	if err != nil {
		return nil, dbErr("sqlstore.Users", err)
	}
	defer rows.Close()
	var out []socbot.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Users", err)
		}
		out = append(out, u)
	}
	return out, dbErr("sqlstore.Users", rows.Err())
}
