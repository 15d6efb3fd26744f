package sqlstore

import (
	"context"
	"database/sql"
	"time"

	socbot "github.com/socbot/socbot"
)

const tenantCols = `id, name, time_zone, settings, created_at`

func scanTenant(r scanner) (socbot.Tenant, error) {
	var t socbot.Tenant
	var settings string
	var created int64
	if err := r.Scan(&t.ID, &t.Name, &t.TimeZone, &settings, &created); err != nil {
		return t, err
	}
	t.Settings = socbot.DefaultSettings()
	unjs(settings, &t.Settings)
	t.CreatedAt = fromUS(created)
	return t, nil
}

// CreateTenant stores a new tenant; it assigns the id if empty and fills default settings.
func (s *Store) CreateTenant(ctx context.Context, t *socbot.Tenant, by socbot.Principal) error {
	const op = "sqlstore.CreateTenant"
	if !socbot.ValidTenantName(t.Name) {
		return socbot.FieldError(op, "name", "tenant name %q must be 1-64 letters, digits, '-', '_' or '.'", t.Name)
	}
	if t.ID == "" {
		t.ID = socbot.NewID()
	}
	if t.TimeZone == "" {
		t.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil {
		return socbot.FieldError(op, "time_zone", "unknown time zone %q", t.TimeZone)
	}
	if t.Settings.CorrelationWindow == 0 && t.Settings.SLA == nil {
		t.Settings = socbot.DefaultSettings()
	}
	t.CreatedAt = fromUS(us(s.clock.Now()))
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?)`),
			t.ID, t.Name, t.TimeZone, js(t.Settings), us(t.CreatedAt)); err != nil {
			err = dbErr(op, err)
			if socbot.IsKind(err, socbot.KindConflict) {
				return socbot.FieldError(op, "name", "a tenant named %q already exists", t.Name)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tenant_counters (tenant_id, next_incident) VALUES (?, 1)`), t.ID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, t.ID, "tenant.create", "tenant:"+t.ID, "", map[string]string{"name": t.Name}))
	})
}

// Tenant returns one tenant.
func (s *Store) Tenant(ctx context.Context, id string) (socbot.Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, s.q(`SELECT `+tenantCols+` FROM tenants WHERE id = ?`), id))
	return t, dbErr("sqlstore.Tenant", err)
}

// TenantByName returns the tenant with that name.
func (s *Store) TenantByName(ctx context.Context, name string) (socbot.Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, s.q(`SELECT `+tenantCols+` FROM tenants WHERE name = ?`), name))
	return t, dbErr("sqlstore.TenantByName", err)
}

// Tenants lists every tenant by name.
func (s *Store) Tenants(ctx context.Context) ([]socbot.Tenant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY name`)
	if err != nil {
		return nil, dbErr("sqlstore.Tenants", err)
	}
	defer rows.Close()
	var out []socbot.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Tenants", err)
		}
		out = append(out, t)
	}
	return out, dbErr("sqlstore.Tenants", rows.Err())
}

// UpdateTenant changes a tenant's name, time zone and settings.
func (s *Store) UpdateTenant(ctx context.Context, t socbot.Tenant, by socbot.Principal) error {
	const op = "sqlstore.UpdateTenant"
	if !socbot.ValidTenantName(t.Name) {
		return socbot.FieldError(op, "name", "tenant name %q must be 1-64 letters, digits, '-', '_' or '.'", t.Name)
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil {
		return socbot.FieldError(op, "time_zone", "unknown time zone %q", t.TimeZone)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE tenants SET name = ?, time_zone = ?, settings = ?, config_version = config_version + 1 WHERE id = ?`),
			t.Name, t.TimeZone, js(t.Settings), t.ID)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, "no tenant "+t.ID)
		}
		return s.appendAudit(ctx, tx, auditRec(by, t.ID, "tenant.update", "tenant:"+t.ID, "", t))
	})
}

// ConfigVersion returns the tenant's configuration version.
func (s *Store) ConfigVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT config_version FROM tenants WHERE id = ?`), tenantID).Scan(&v)
	return v, dbErr("sqlstore.ConfigVersion", err)
}
