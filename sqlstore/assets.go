package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"

	socbot "github.com/socbot/socbot"
)

const assetCols = `id, tenant_id, hostname, ips, owner, criticality, internet_facing, crown_jewel, tags, os, updated_at`

func scanAsset(r scanner) (socbot.Asset, error) {
	var a socbot.Asset
	var ips, tags string
	var updated int64
	if err := r.Scan(&a.ID, &a.TenantID, &a.Hostname, &ips, &a.Owner, &a.Criticality, &a.InternetFacing, &a.CrownJewel, &tags, &a.OS, &updated); err != nil {
		return a, err
	}
	unjs(ips, &a.IPs)
	unjs(tags, &a.Tags)
	a.UpdatedAt = fromUS(updated)
	return a, nil
}

// ValidateAsset normalises an asset and reports the first bad field, named with the asset's position.
func ValidateAsset(i int, a *socbot.Asset) error {
	const op = "asset"
	a.Hostname = strings.ToLower(strings.TrimSpace(a.Hostname))
	if a.Hostname == "" {
		return socbot.FieldError(op, fmt.Sprintf("[%d].hostname", i), "hostname is required")
	}
	for j, ip := range a.IPs {
		addr, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return socbot.FieldError(op, fmt.Sprintf("[%d].ips[%d]", i, j), "not an IP address: %q", ip)
		}
		a.IPs[j] = addr.Unmap().String()
	}
	a.Criticality = strings.ToLower(strings.TrimSpace(a.Criticality))
	if !socbot.ValidCriticality(a.Criticality) {
		return socbot.FieldError(op, fmt.Sprintf("[%d].criticality", i), "criticality must be low, medium, high or critical, not %q", a.Criticality)
	}
	for _, t := range a.Tags {
		if strings.EqualFold(t, "crown_jewel") || strings.EqualFold(t, "crown-jewel") {
			a.CrownJewel = true
		}
	}
	return nil
}

// UpsertAssets inserts or replaces assets by hostname, all in one transaction.
func (s *Store) UpsertAssets(ctx context.Context, tenantID string, assets []socbot.Asset, by socbot.Principal) (int, error) {
	const op = "sqlstore.UpsertAssets"
	for i := range assets {
		if err := ValidateAsset(i, &assets[i]); err != nil {
			return 0, err
		}
	}
	now := us(s.clock.Now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO assets (tenant_id, hostname, ips, owner, criticality, internet_facing, crown_jewel, tags, os, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, hostname) DO UPDATE SET ips = excluded.ips, owner = excluded.owner, criticality = excluded.criticality,
			internet_facing = excluded.internet_facing, crown_jewel = excluded.crown_jewel, tags = excluded.tags, os = excluded.os, updated_at = excluded.updated_at`))
		if err != nil {
			return dbErr(op, err)
		}
		defer stmt.Close()
		for _, a := range assets {
			if _, err := stmt.ExecContext(ctx, tenantID, a.Hostname, jsStrings(a.IPs), a.Owner, a.Criticality, a.InternetFacing, a.CrownJewel, jsStrings(a.Tags), a.OS, now); err != nil {
				return dbErr(op, err)
			}
		}
		if err := s.bumpConfig(ctx, tx, tenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "asset.import", "assets", "", map[string]int{"count": len(assets)}))
	})
	if err != nil {
		return 0, err
	}
	return len(assets), nil
}

// Assets lists a tenant's assets by hostname; limit <= 0 lists them all.
func (s *Store) Assets(ctx context.Context, tenantID string, limit, offset int) ([]socbot.Asset, error) {
	query := `SELECT ` + assetCols + ` FROM assets WHERE tenant_id = ? ORDER BY hostname`
	args := []any{tenantID}
	if limit > 0 {
		query += ` LIMIT ? OFFSET ?`
		args = append(args, limit, offset)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr("sqlstore.Assets", err)
	}
	defer rows.Close()
	var out []socbot.Asset
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Assets", err)
		}
		out = append(out, a)
	}
	return out, dbErr("sqlstore.Assets", rows.Err())
}

// Asset returns one asset of the tenant.
func (s *Store) Asset(ctx context.Context, tenantID string, id int64) (socbot.Asset, error) {
	a, err := scanAsset(s.db.QueryRowContext(ctx, s.q(`SELECT `+assetCols+` FROM assets WHERE tenant_id = ? AND id = ?`), tenantID, id))
	return a, dbErr("sqlstore.Asset", err)
}

// DeleteAsset removes one asset of the tenant.
func (s *Store) DeleteAsset(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	return s.deleteRow(ctx, "sqlstore.DeleteAsset", "assets", tenantID, id, by, "asset.delete", "asset")
}

// deleteRow deletes one tenant-scoped row by id, bumps the tenant's config version and audits it.
func (s *Store) deleteRow(ctx context.Context, op, table, tenantID string, id int64, by socbot.Principal, action, kind string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE tenant_id = ? AND id = ?`), tenantID, id)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, fmt.Sprintf("no %s %d", kind, id))
		}
		if err := s.bumpConfig(ctx, tx, tenantID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, action, fmt.Sprintf("%s:%d", kind, id), "", nil))
	})
}

// ListTypes are the value types a tenant's indicator lists accept.
var ListTypes = map[string]bool{"ip": true, "cidr": true, "domain": true, "url": true, "md5": true, "sha1": true, "sha256": true, "email": true, "user": true, "host": true}

// ValidateListIndicator normalises a list entry and reports the first bad field.
func ValidateListIndicator(i int, li *socbot.ListIndicator) error {
	const op = "indicator"
	f := func(name string) string { return fmt.Sprintf("[%d].%s", i, name) }
	li.Type = strings.ToLower(strings.TrimSpace(li.Type))
	li.Value = strings.TrimSpace(li.Value)
	if li.List == "" {
		li.List = socbot.ListBad
	}
	if li.List != socbot.ListBad && li.List != socbot.ListGood {
		return socbot.FieldError(op, f("list"), "list must be %q or %q", socbot.ListBad, socbot.ListGood)
	}
	if !ListTypes[li.Type] {
		return socbot.FieldError(op, f("type"), "unknown indicator type %q", li.Type)
	}
	if li.Value == "" {
		return socbot.FieldError(op, f("value"), "value is required")
	}
	switch li.Type {
	case "ip":
		a, err := netip.ParseAddr(li.Value)
		if err != nil {
			return socbot.FieldError(op, f("value"), "not an IP address: %q", li.Value)
		}
		li.Value = a.Unmap().String()
	case "cidr":
		p, err := netip.ParsePrefix(li.Value)
		if err != nil {
			return socbot.FieldError(op, f("value"), "not a CIDR: %q", li.Value)
		}
		li.Value = p.Masked().String()
	case "md5", "sha1", "sha256":
		want := map[string]int{"md5": 32, "sha1": 40, "sha256": 64}[li.Type]
		v := strings.ToLower(li.Value)
		if len(v) != want || strings.Trim(v, "0123456789abcdef") != "" {
			return socbot.FieldError(op, f("value"), "not a %s hash: %q", li.Type, li.Value)
		}
		li.Value = v
	case "domain", "host", "email":
		li.Value = strings.TrimSuffix(strings.ToLower(li.Value), ".")
	}
	return nil
}

const listCols = `id, tenant_id, type, value, list, description, created_by, created_at, expires_at`

// AddListIndicators adds entries to the tenant's indicator lists (an existing type+value is replaced).
func (s *Store) AddListIndicators(ctx context.Context, tenantID string, items []socbot.ListIndicator, by socbot.Principal) (int, error) {
	const op = "sqlstore.AddListIndicators"
	for i := range items {
		if err := ValidateListIndicator(i, &items[i]); err != nil {
			return 0, err
		}
	}
	now := s.clock.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range items {
			it := &items[i]
			it.TenantID = tenantID
			it.CreatedBy = by.Name
			it.CreatedAt = fromUS(us(now))
			if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO list_indicators (tenant_id, type, value, list, description, created_by, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, type, value) DO UPDATE SET list = excluded.list, description = excluded.description,
				created_by = excluded.created_by, created_at = excluded.created_at, expires_at = excluded.expires_at RETURNING id`),
				tenantID, it.Type, it.Value, it.List, it.Description, it.CreatedBy, us(it.CreatedAt), nullUS(it.ExpiresAt)).Scan(&it.ID); err != nil {
				return dbErr(op, err)
			}
		}
		if err := s.bumpConfig(ctx, tx, tenantID); err != nil {
			return dbErr(op, err)
		}
		details := make([]string, 0, len(items))
		for _, it := range items {
			details = append(details, it.List+":"+it.Type+":"+it.Value)
		}
		return s.appendAudit(ctx, tx, auditRec(by, tenantID, "indicator.add", "indicators", "", details))
	})
	if err != nil {
		return 0, err
	}
	return len(items), nil
}

// ListIndicators returns the tenant's whole indicator lists.
func (s *Store) ListIndicators(ctx context.Context, tenantID string) ([]socbot.ListIndicator, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+listCols+` FROM list_indicators WHERE tenant_id = ? ORDER BY id`), tenantID)
	if err != nil {
		return nil, dbErr("sqlstore.ListIndicators", err)
	}
	defer rows.Close()
	var out []socbot.ListIndicator
	for rows.Next() {
		var li socbot.ListIndicator
		var created int64
		var exp sql.NullInt64
		if err := rows.Scan(&li.ID, &li.TenantID, &li.Type, &li.Value, &li.List, &li.Description, &li.CreatedBy, &created, &exp); err != nil {
			return nil, dbErr("sqlstore.ListIndicators", err)
		}
		li.CreatedAt, li.ExpiresAt = fromUS(created), optTime(exp)
		out = append(out, li)
	}
	return out, dbErr("sqlstore.ListIndicators", rows.Err())
}

// DeleteListIndicator removes one entry of the tenant's lists.
func (s *Store) DeleteListIndicator(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	return s.deleteRow(ctx, "sqlstore.DeleteListIndicator", "list_indicators", tenantID, id, by, "indicator.delete", "indicator")
}
