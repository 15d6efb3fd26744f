package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/klauspost/compress/s2"

	socbot "github.com/socbot/socbot"
)

const alertCols = `id, uid, tenant_id, format, vendor, product, source_id, rule_id, rule_name, title, description, category,
	severity, severity_score, severity_raw, tactics, techniques, observables, detected_at, received_at, flags, raw, fingerprint,
	group_id, incident_id, priority, confidence, reasons, status, suppressed_by, enrichment`

// alertInsertCols are the columns written by InsertAlerts, in order (every column but id).
const alertInsertCols = `uid, tenant_id, format, vendor, product, source_id, rule_id, rule_name, title, description, category,
	severity, severity_score, severity_raw, tactics, techniques, observables, detected_at, received_at, flags, raw, fingerprint,
	group_id, incident_id, priority, confidence, reasons, status, suppressed_by, enrichment`

const alertInsertN = 30

func scanAlert(r scanner) (socbot.Alert, error) {
	var a socbot.Alert
	var sev, prio int
	var tactics, techniques, observables, flags, reasons, enrichment string
	var detected, received int64
	var group, incident sql.NullInt64
	if err := r.Scan(&a.ID, &a.UID, &a.TenantID, &a.Format, &a.Vendor, &a.Product, &a.SourceID, &a.RuleID, &a.RuleName, &a.Title,
		&a.Description, &a.Category, &sev, &a.SeverityScore, &a.SeverityRaw, &tactics, &techniques, &observables, &detected, &received,
		&flags, &a.Raw, &a.Fingerprint, &group, &incident, &prio, &a.Confidence, &reasons, &a.Status, &a.SuppressedBy, &enrichment); err != nil {
		return a, err
	}
	a.Severity, a.Priority = socbot.Severity(sev), socbot.Priority(prio)
	if raw, err := unpackRaw(a.Raw); err == nil {
		a.Raw = raw
	} else {
		return a, err
	}
	unjs(tactics, &a.Tactics)
	unjs(techniques, &a.Techniques)
	unjs(observables, &a.Observables)
	unjs(flags, &a.Flags)
	unjs(reasons, &a.Reasons)
	unjs(enrichment, &a.Enrichment)
	a.DetectedAt, a.ReceivedAt = fromUS(detected), fromUS(received)
	a.GroupID, a.IncidentID = group.Int64, incident.Int64
	return a, nil
}

// preparedAlert is an alert's encoded columns: JSON lists and the compressed record.
type preparedAlert struct {
	tactics, techniques, observables, flags, reasons, enrichment string
	raw                                                          []byte
}

func prepare(a *socbot.Alert) *preparedAlert {
	return &preparedAlert{tactics: jsStrings(a.Tactics), techniques: jsStrings(a.Techniques), observables: jsObservables(a.Observables),
		flags: jsStrings(a.Flags), reasons: jsStrings(a.Reasons), enrichment: jsEnrichment(a.Enrichment), raw: packRaw(a.Raw)}
}

// PrepareAlerts encodes the alerts' JSON columns and compresses their records, outside any transaction.
func (s *Store) PrepareAlerts(alerts []*socbot.Alert) {
	for _, a := range alerts {
		a.Prepared = prepare(a)
	}
}

// alertArgs appends the insert arguments of a in alertInsertCols order.
func alertArgs(args []any, a *socbot.Alert) []any {
	p, ok := a.Prepared.(*preparedAlert)
	if !ok {
		p = prepare(a)
	}
	return append(args, a.UID, a.TenantID, a.Format, a.Vendor, a.Product, a.SourceID, a.RuleID, a.RuleName, a.Title, a.Description,
		a.Category, int(a.Severity), a.SeverityScore, a.SeverityRaw, p.tactics, p.techniques, p.observables,
		us(a.DetectedAt), us(a.ReceivedAt), p.flags, p.raw, a.Fingerprint, nullID(a.GroupID), nullID(a.IncidentID),
		int(a.Priority), a.Confidence, p.reasons, a.Status, a.SuppressedBy, p.enrichment)
}

// rawMark starts a raw record stored S2-compressed; a JSON record never starts with a NUL byte.
const rawMark = "\x00S2"

// packRaw compresses a raw record with S2 when that saves at least a fifth: alert records are
// repetitive JSON, and every byte saved is a byte less through the write-ahead log and the checkpoint.
func packRaw(raw []byte) []byte {
	if len(raw) < 256 {
		return raw
	}
	buf := make([]byte, len(rawMark)+s2.MaxEncodedLen(len(raw)))
	copy(buf, rawMark)
	enc := buf[:len(rawMark)+len(s2.Encode(buf[len(rawMark):], raw))]
	if len(enc) > len(raw)*4/5 {
		return raw
	}
	return enc
}

// unpackRaw undoes packRaw.
func unpackRaw(stored []byte) ([]byte, error) {
	if len(stored) < len(rawMark) || string(stored[:len(rawMark)]) != rawMark {
		return stored, nil
	}
	raw, err := s2.Decode(nil, stored[len(rawMark):])
	if err != nil {
		return nil, socbot.E("sqlstore.alert", "stored raw record is corrupt", err)
	}
	return raw, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// jsObservables writes observables as JSON without reflection: this runs once per alert on the hot path.
func jsObservables(obs []socbot.Observable) string {
	if len(obs) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.Grow(len(obs) * 48)
	b.WriteByte('[')
	for i, o := range obs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":`)
		writeJSONString(&b, string(o.Type))
		b.WriteString(`,"value":`)
		writeJSONString(&b, o.Value)
		if o.Role != "" {
			b.WriteString(`,"role":`)
			writeJSONString(&b, string(o.Role))
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}

func jsEnrichment(e []socbot.Enrichment) string {
	if len(e) == 0 {
		return "[]"
	}
	return js(e)
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string literal.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// Alerts lists alerts newest first.
func (s *Store) Alerts(ctx context.Context, f socbot.AlertFilter) ([]socbot.Alert, error) {
	const op = "sqlstore.Alerts"
	var where []string
	var args []any
	if f.TenantID != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, f.TenantID)
	}
	if f.IncidentID != 0 {
		where = append(where, "incident_id = ?")
		args = append(args, f.IncidentID)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Format != "" {
		where = append(where, "format = ?")
		args = append(args, f.Format)
	}
	if f.AfterID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.AfterID)
	}
	query := `SELECT ` + alertCols + ` FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
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
	out := []socbot.Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, a)
	}
	return out, dbErr(op, rows.Err())
}

// Alert returns one alert of the tenant; tenantID "" finds it in any tenant (MSSP staff).
func (s *Store) Alert(ctx context.Context, tenantID string, id int64) (socbot.Alert, error) {
	query, args := `SELECT `+alertCols+` FROM alerts WHERE id = ?`, []any{id}
	if tenantID != "" {
		query += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.q(query), args...))
	return a, dbErr("sqlstore.Alert", err)
}

// CountAlerts counts the tenant's stored alerts ("" counts all).
func (s *Store) CountAlerts(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	var err error
	if tenantID == "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts`).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM alerts WHERE tenant_id = ?`), tenantID).Scan(&n)
	}
	return n, dbErr("sqlstore.CountAlerts", err)
}
