package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// The intel bot's system of record (migration 0101_intel_store): indicators with their sources,
// sightings, feeds (credentials only sealed) and feed status, implementing intel.Store on both
// engines. An indicator is one row keyed by (tenant, STIX id), with the columns filters and the match
// index read and everything else in one JSON document, so a bulk import costs one random B-tree
// insert and 13 bound parameters per indicator; imports are written as multi-row upserts of
// prepared statements, one transaction per Store call. Feed changes are audited in the same transaction,
// indicator and sighting writes when the context carries an intel.AuditNote (a person acting).
var (
	_ intel.Store        = (*Store)(nil)
	_ intel.IndexScanner = (*Store)(nil)
	_ intel.FeedLeaser   = (*Store)(nil)
)

const intelCols = `tenant_id, id, type, value, modified, tlp, dead, base, ref, valid_until, source_names, tags, doc`

const intelNCols = 13

// intelRowsPerStmt is how many indicators one upsert statement writes.
const intelRowsPerStmt = 100

// intelPageSize is the keyset page of ScanIndicators: no read transaction stays open across pages.
const intelPageSize = 2000

// nameSep separates source names in source_names (X'1f', the ASCII unit separator).
const nameSep = "\x1f"

// cleanText makes s storable as TEXT on PostgreSQL (valid UTF-8, no NUL), leaving clean text as is.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) { // both vectorised: the common case is cheap
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// usOrZero stores a time as microseconds, the zero time as 0.
func usOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func timeOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromUS(v)
}

// The doc column: an indicator's fields that no query filters on, as JSON with short keys, written
// without reflection (times are microseconds, absent when zero):
//
//	fs first seen, ls last seen, c confidence, s sources, kc kill-chain phases, d description,
//	p pattern, n sightings, lsg last sighting, fp false positives, r revoked, f filtered by,
//	cr created
//
// and each source: n name, r reliability, c confidence, f first seen, l last seen, ref, d disabled,
// v valid until.
type docWriter struct{ b []byte }

func (w *docWriter) key(k string, first bool) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *docWriter) int(k string, v int64, first bool) {
	w.key(k, first)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *docWriter) str(k, v string) {
	w.key(k, false)
	w.b = appendJSONString(w.b, cleanText(v))
}

// appendJSONString appends s as a JSON string (escaping as writeJSONString does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (w *docWriter) doc(in *intel.Indicator) string {
	w.b = append(w.b[:0], '{')
	w.int("fs", usOrZero(in.FirstSeen), true)
	w.int("ls", usOrZero(in.LastSeen), false)
	w.int("c", int64(in.Confidence), false)
	w.int("cr", usOrZero(in.Created), false)
	w.key("s", false)
	w.b = append(w.b, '[')
	for i := range in.Sources {
		x := &in.Sources[i]
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, '{')
		w.key("n", true)
		w.b = appendJSONString(w.b, cleanText(x.Name))
		w.int("r", int64(x.Reliability), false)
		w.int("c", int64(x.Confidence), false)
		w.int("f", usOrZero(x.FirstSeen), false)
		w.int("l", usOrZero(x.LastSeen), false)
		if x.Ref != "" {
			w.str("ref", x.Ref)
		}
		if x.Disabled {
			w.b = append(w.b, `,"d":true`...)
		}
		if !x.ValidUntil.IsZero() {
			w.int("v", usOrZero(x.ValidUntil), false)
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
	if len(in.KillChain) > 0 {
		w.key("kc", false)
		w.b = append(w.b, '[')
		for i, k := range in.KillChain {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, `{"kill_chain_name":`...)
			w.b = appendJSONString(w.b, cleanText(k.KillChain))
			w.b = append(w.b, `,"phase_name":`...)
			w.b = appendJSONString(w.b, cleanText(k.Phase))
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	if in.Description != "" {
		w.str("d", in.Description)
	}
	if in.Pattern != "" {
		w.str("p", in.Pattern)
	}
	if in.Sightings != 0 {
		w.int("n", int64(in.Sightings), false)
	}
	if !in.LastSighting.IsZero() {
		w.int("lsg", usOrZero(in.LastSighting), false)
	}
	if in.FalsePos != 0 {
		w.int("fp", int64(in.FalsePos), false)
	}
	if in.Revoked {
		w.b = append(w.b, `,"r":true`...)
	}
	if in.FilteredBy != "" {
		w.str("f", in.FilteredBy)
	}
	w.b = append(w.b, '}')
	return string(w.b)
}

func cleanStrings(v []string) []string {
	for i, s := range v {
		if c := cleanText(s); c != s {
			out := append([]string(nil), v...)
			for j := i; j < len(out); j++ {
				out[j] = cleanText(out[j])
			}
			return out
		}
	}
	return v
}

// sourceNames is the source_names column: the sorted names, each between separators.
func sourceNames(in *intel.Indicator) string {
	if len(in.Sources) == 0 {
		return ""
	}
	if len(in.Sources) == 1 {
		return nameSep + strings.ReplaceAll(cleanText(in.Sources[0].Name), nameSep, "") + nameSep
	}
	names := in.SourceNames()
	var b strings.Builder
	b.WriteString(nameSep)
	for _, n := range names {
		b.WriteString(strings.ReplaceAll(cleanText(n), nameSep, ""))
		b.WriteString(nameSep)
	}
	return b.String()
}

// indicatorArgs appends the column values of in.
func indicatorArgs(args []any, in *intel.Indicator, w *docWriter) []any {
	dead := in.Revoked || in.FilteredBy != ""
	return append(args, in.TenantID, in.ID, string(in.Type), cleanText(in.Value), usOrZero(in.Modified), int(in.TLP), dead,
		in.BaseScore(), usOrZero(in.Reference()), usOrZero(in.ValidUntil()), sourceNames(in), jsStrings(cleanStrings(in.Tags)), w.doc(in))
}

func upsertIndicatorsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO intel_indicators (` + intelCols + `) VALUES `)
	row := "(" + strings.Repeat("?,", intelNCols-1) + "?)"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(` ON CONFLICT (tenant_id, id) DO UPDATE SET type = excluded.type, value = excluded.value,
		modified = excluded.modified, tlp = excluded.tlp, dead = excluded.dead, base = excluded.base, ref = excluded.ref,
		valid_until = excluded.valid_until, source_names = excluded.source_names, tags = excluded.tags, doc = excluded.doc`)
	return b.String()
}

var upsertIndicatorsFull = upsertIndicatorsSQL(intelRowsPerStmt)

// PutIndicators implements intel.Store: every indicator in one transaction, intelRowsPerStmt per
// statement.
func (s *Store) PutIndicators(ctx context.Context, ins []intel.Indicator) error {
	const op = "sqlstore.PutIndicators"
	if err := intel.CheckIndicators(ins); err != nil {
		return err
	}
	if len(ins) == 0 {
		return nil
	}
	// in key order, the B-tree inserts of a batch walk the tree left to right
	order := make([]int32, len(ins))
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := &ins[order[a]], &ins[order[b]]
		if x.TenantID != y.TenantID {
			return x.TenantID < y.TenantID
		}
		return x.ID < y.ID
	})
	return s.tx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, intelNCols*intelRowsPerStmt)
		var w docWriter
		for start := 0; start < len(ins); start += intelRowsPerStmt {
			chunk := order[start:min(start+intelRowsPerStmt, len(ins))]
			args = args[:0]
			for _, i := range chunk {
				args = indicatorArgs(args, &ins[i], &w)
			}
			query := upsertIndicatorsFull
			if len(chunk) != intelRowsPerStmt {
				query = upsertIndicatorsSQL(len(chunk))
			}
			st, err := s.prepared(ctx, tx, query)
			if err != nil {
				return dbErr(op, err)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return dbErr(op, err)
			}
		}
		note, ok := intel.AuditFrom(ctx)
		if !ok {
			return nil
		}
		return s.appendAudits(ctx, tx, intelWriteAudits(note, "intel.indicators.put", len(ins), func(i int) (string, string) {
			return ins[i].TenantID, ins[i].Key()
		}))
	})
}

// intelWriteAudits summarises a write per tenant: the count and the first few keys.
func intelWriteAudits(note intel.AuditNote, action string, n int, at func(int) (tenant, key string)) []socbot.AuditRecord {
	type sum struct {
		count  int
		sample []string
	}
	by := map[string]*sum{}
	var order []string
	for i := 0; i < n; i++ {
		t, k := at(i)
		x := by[t]
		if x == nil {
			x = &sum{}
			by[t] = x
			order = append(order, t)
		}
		x.count++
		if len(x.sample) < 10 {
			x.sample = append(x.sample, k)
		}
	}
	var out []socbot.AuditRecord
	for _, t := range order {
		x := by[t]
		out = append(out, auditRec(note.By, t, action, "intel", note.Reason, map[string]any{"count": x.count, "sample": x.sample}))
	}
	return out
}

var intelParsers fastjson.ParserPool

// scanIndicator reads one row of intelCols.
func scanIndicator(r scanner, p *fastjson.Parser) (intel.Indicator, error) {
	var in intel.Indicator
	var typ, names, tags, doc string
	var modified, base, ref, until int64
	var tlp int
	var dead bool
	if err := r.Scan(&in.TenantID, &in.ID, &typ, &in.Value, &modified, &tlp, &dead, &base, &ref, &until, &names, &tags, &doc); err != nil {
		return in, err
	}
	in.Type = ioc.Type(typ)
	in.Modified = timeOrZero(modified)
	in.TLP = intel.TLP(tlp)
	in.Tags = decodeStrings(p, tags)
	v, err := p.Parse(doc)
	if err != nil {
		return in, socbot.E("sqlstore.intel", socbot.KindOther, "indicator "+in.ID+": stored document is damaged", err)
	}
	in.FirstSeen, in.LastSeen = timeOrZero(v.GetInt64("fs")), timeOrZero(v.GetInt64("ls"))
	in.Confidence, in.Created = v.GetInt("c"), timeOrZero(v.GetInt64("cr"))
	arr := v.GetArray("s")
	in.Sources = make([]intel.Source, 0, len(arr))
	for _, x := range arr {
		in.Sources = append(in.Sources, intel.Source{
			Name: string(x.GetStringBytes("n")), Reliability: x.GetInt("r"), Confidence: x.GetInt("c"),
			FirstSeen: timeOrZero(x.GetInt64("f")), LastSeen: timeOrZero(x.GetInt64("l")), Ref: string(x.GetStringBytes("ref")),
			Disabled: x.GetBool("d"), ValidUntil: timeOrZero(x.GetInt64("v")),
		})
	}
	for _, x := range v.GetArray("kc") {
		in.KillChain = append(in.KillChain, intel.KillChainPhase{KillChain: string(x.GetStringBytes("kill_chain_name")), Phase: string(x.GetStringBytes("phase_name"))})
	}
	in.Description, in.Pattern = string(v.GetStringBytes("d")), string(v.GetStringBytes("p"))
	in.Sightings, in.LastSighting, in.FalsePos = v.GetInt("n"), timeOrZero(v.GetInt64("lsg")), v.GetInt("fp")
	in.Revoked, in.FilteredBy = v.GetBool("r"), string(v.GetStringBytes("f"))
	return in, nil
}

func decodeStrings(p *fastjson.Parser, s string) []string {
	if s == "" || s == "[]" {
		return nil
	}
	v, err := p.Parse(s)
	if err != nil {
		return nil
	}
	arr, _ := v.Array()
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if b, err := x.StringBytes(); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// GetIndicators implements intel.Store: primary-key lookups of every id in one prepared statement
// (PostgreSQL: an array parameter; SQLite: a JSON array read by json_each).
func (s *Store) GetIndicators(ctx context.Context, tenantID string, ids []string) ([]intel.Indicator, error) {
	const op = "sqlstore.GetIndicators"
	if len(ids) == 0 {
		return nil, nil
	}
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	out := make([]intel.Indicator, 0, min(len(ids), 1024))
	read := func(st *sql.Stmt, args ...any) error {
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return dbErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			in, err := scanIndicator(rows, p)
			if err != nil {
				return dbErr(op, err)
			}
			out = append(out, in)
		}
		return dbErr(op, rows.Err())
	}
	if s.engine == Postgres {
		st, err := s.readStmt(ctx, `SELECT `+intelCols+` FROM intel_indicators WHERE tenant_id = ? AND id = ANY(?)`)
		if err != nil {
			return nil, dbErr(op, err)
		}
		return out, read(st, tenantID, ids)
	}
	st, err := s.readStmt(ctx, `SELECT `+intelCols+` FROM intel_indicators WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, read(st, tenantID, jsStrings(ids))
}

// readStmt returns query prepared on the database (outside any transaction), cached.
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	query = s.q(query)
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, ok := s.stmts.LoadOrStore(query, st); ok {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// prefixUpper returns the smallest string above every string that starts with p (p with its last
// rune incremented), or false when there is none.
func prefixUpper(p string) (string, bool) {
	for len(p) > 0 {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.RuneError && size <= 1 {
			continue
		}
		for r++; r <= utf8.MaxRune; r++ {
			if utf8.ValidRune(r) {
				return p + string(r), true
			}
		}
	}
	return "", false
}

// intelWhere builds the WHERE clause (without the keyword) of a filter.
func (s *Store) intelWhere(f intel.Filter) (string, []any) {
	var conds []string
	var args []any
	switch {
	case f.TenantID == "*":
	case f.WithMSSP && f.TenantID != "":
		conds = append(conds, `tenant_id IN (?, '')`)
		args = append(args, f.TenantID)
	default:
		conds = append(conds, `tenant_id = ?`)
		args = append(args, f.TenantID)
	}
	in := func(col string, vals []string) {
		conds = append(conds, col+` IN (`+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+`)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	if len(f.Types) > 0 {
		ts := make([]string, len(f.Types))
		for i, t := range f.Types {
			ts[i] = string(t)
		}
		in("type", ts)
	}
	if len(f.IDs) > 0 {
		in("id", f.IDs)
	}
	if f.ValuePrefix != "" {
		var ors []string
		for _, p := range dedupe(cleanText(f.ValuePrefix), strings.ToLower(cleanText(f.ValuePrefix))) {
			if up, ok := prefixUpper(p); ok {
				ors = append(ors, `(value >= ? AND value < ?)`)
				args = append(args, p, up)
			} else {
				ors = append(ors, `value >= ?`)
				args = append(args, p)
			}
		}
		conds = append(conds, `(`+strings.Join(ors, ` OR `)+`)`)
	}
	find := `instr`
	if s.engine == Postgres {
		find = `strpos`
	}
	if f.Source != "" {
		conds = append(conds, find+`(source_names, ?) > 0`)
		args = append(args, nameSep+cleanText(f.Source)+nameSep)
	}
	if f.Tag != "" {
		var b strings.Builder
		writeJSONString(&b, cleanText(f.Tag))
		tag := b.String()
		conds = append(conds, `(`+find+`(tags, ?) > 0 OR `+find+`(tags, ?) > 0)`)
		args = append(args, "["+tag, ","+tag)
	}
	if f.MaxTLP != nil {
		conds = append(conds, `tlp <= ?`)
		args = append(args, int(*f.MaxTLP))
	}
	if !f.ModifiedSince.IsZero() {
		conds = append(conds, `modified > ?`)
		args = append(args, f.ModifiedSince.UnixMicro())
	}
	if !f.IncludeDead {
		conds = append(conds, `dead = FALSE`)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

func dedupe(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// ScanIndicators implements intel.Store with keyset pages in (tenant, id) order.
func (s *Store) ScanIndicators(ctx context.Context, f intel.Filter, fn func(*intel.Indicator) error) error {
	const op = "sqlstore.ScanIndicators"
	where, args := s.intelWhere(f)
	var last *intel.Indicator
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	page := make([]intel.Indicator, 0, intelPageSize)
	for {
		query := `SELECT ` + intelCols + ` FROM intel_indicators WHERE ` + where
		qargs := args
		if last != nil {
			query += ` AND (tenant_id, id) > (?, ?)`
			qargs = append(append([]any(nil), args...), last.TenantID, last.ID)
		}
		query += ` ORDER BY tenant_id, id LIMIT ` + strconv.Itoa(intelPageSize)
		rows, err := s.db.QueryContext(ctx, s.q(query), qargs...)
		if err != nil {
			return dbErr(op, err)
		}
		page = page[:0]
		for rows.Next() {
			in, err := scanIndicator(rows, p)
			if err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			page = append(page, in)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return dbErr(op, err)
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < intelPageSize {
			return nil
		}
		l := page[len(page)-1]
		last = &l
	}
}

// SearchIndicators implements intel.Store.
func (s *Store) SearchIndicators(ctx context.Context, f intel.Filter) ([]intel.Indicator, error) {
	const op = "sqlstore.SearchIndicators"
	where, args := s.intelWhere(f)
	query := `SELECT ` + intelCols + ` FROM intel_indicators WHERE ` + where
	if f.Ascending {
		if !f.AfterModified.IsZero() {
			m := f.AfterModified.UnixMicro()
			query += ` AND (modified > ? OR (modified = ? AND id > ?))`
			args = append(args, m, m, f.AfterID)
		}
		query += ` ORDER BY modified, id`
	} else {
		query += ` ORDER BY modified DESC, tenant_id, id`
	}
	if f.Limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(f.Limit)
	} else if f.Offset > 0 {
		query += ` LIMIT -1`
		if s.engine == Postgres {
			query = strings.TrimSuffix(query, ` LIMIT -1`) + ` LIMIT ALL`
		}
	}
	if f.Offset > 0 {
		query += ` OFFSET ` + strconv.Itoa(f.Offset)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	var out []intel.Indicator
	for rows.Next() {
		in, err := scanIndicator(rows, p)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, in)
	}
	return out, dbErr(op, rows.Err())
}

// ScanIndexEntries implements intel.IndexScanner: the match index's view of every live indicator of
// every tenant, from the columns kept for it (no document is decoded).
func (s *Store) ScanIndexEntries(ctx context.Context, tenants []string, fn func(*intel.IndexEntry) error) error {
	const op = "sqlstore.ScanIndexEntries"
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	names := map[string][]string{} // interned: entries with the same sources share one slice
	tagSets := map[string][]string{}
	var lt, lid string
	const page = 20000
	batch := make([]intel.IndexEntry, 0, page)
	for first := true; ; first = false {
		query := `SELECT tenant_id, id, type, value, tlp, base, ref, valid_until, source_names, tags FROM intel_indicators WHERE dead = FALSE`
		var args []any
		if tenants != nil {
			query += ` AND tenant_id IN (` + strings.TrimSuffix(strings.Repeat("?,", len(tenants)), ",") + `)`
			for _, t := range tenants {
				args = append(args, t)
			}
		}
		if !first {
			query += ` AND (tenant_id, id) > (?, ?)`
			args = append(args, lt, lid)
		}
		query += ` ORDER BY tenant_id, id LIMIT ` + strconv.Itoa(page)
		rows, err := s.db.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return dbErr(op, err)
		}
		batch = batch[:0]
		for rows.Next() {
			var e intel.IndexEntry
			var typ, srcs, tags string
			var tlp int
			var ref, until int64
			if err := rows.Scan(&e.TenantID, &lid, &typ, &e.Value, &tlp, &e.Base, &ref, &until, &srcs, &tags); err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			e.Type, e.TLP = ioc.Type(typ), intel.TLP(tlp)
			e.Ref, e.Until = timeOrZero(ref), timeOrZero(until)
			if tags != "" && tags != "[]" {
				t, ok := tagSets[tags]
				if !ok {
					t = decodeStrings(p, tags)
					tagSets[tags] = t
				}
				e.Tags = t
			}
			if srcs != "" {
				l, ok := names[srcs]
				if !ok {
					l = strings.Split(strings.Trim(srcs, nameSep), nameSep)
					names[srcs] = l
				}
				e.Sources = l
			}
			batch = append(batch, e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return dbErr(op, err)
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		if len(batch) < page {
			return nil
		}
		lt = batch[len(batch)-1].TenantID
	}
}

// ---- sightings

const sightingCols = `tenant_id, seen_by, indicator_id, type, value, observed, source, ref, kind, at`

// AddSightings implements intel.Store: inserted many per statement, duplicates skipped by the unique
// index, the new ones read back with RETURNING.
func (s *Store) AddSightings(ctx context.Context, ss []intel.Sighting) ([]intel.Sighting, error) {
	const op = "sqlstore.AddSightings"
	for i := range ss {
		if ss[i].IndicatorID == "" || ss[i].Source == "" {
			return nil, socbot.FieldError(op, "indicator_id", "sighting %d lacks an indicator id or a source", i)
		}
	}
	if len(ss) == 0 {
		return nil, nil
	}
	var fresh []intel.Sighting
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fresh = fresh[:0]
		const per = 50
		inserted := map[string]int{}
		for start := 0; start < len(ss); start += per {
			chunk := ss[start:min(start+per, len(ss))]
			var b strings.Builder
			b.WriteString(`INSERT INTO intel_sightings (` + sightingCols + `) VALUES `)
			args := make([]any, 0, 10*len(chunk))
			for i := range chunk {
				x := &chunk[i]
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`(?,?,?,?,?,?,?,?,?,?)`)
				args = append(args, x.TenantID, x.SeenBy, x.IndicatorID, string(x.Type), cleanText(x.Value), cleanText(x.Observed),
					cleanText(x.Source), cleanText(x.Ref), x.Kind, usOrZero(x.At))
			}
			b.WriteString(` ON CONFLICT DO NOTHING RETURNING tenant_id, seen_by, indicator_id, source, ref, kind`)
			st, err := s.prepared(ctx, tx, b.String())
			if err != nil {
				return dbErr(op, err)
			}
			rows, err := st.QueryContext(ctx, args...)
			if err != nil {
				return dbErr(op, err)
			}
			for rows.Next() {
				var x intel.Sighting
				if err := rows.Scan(&x.TenantID, &x.SeenBy, &x.IndicatorID, &x.Source, &x.Ref, &x.Kind); err != nil {
					rows.Close()
					return dbErr(op, err)
				}
				inserted[x.SightingKey()]++
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return dbErr(op, err)
			}
		}
		for _, x := range ss {
			c := x
			c.Value, c.Observed, c.Source, c.Ref = cleanText(c.Value), cleanText(c.Observed), cleanText(c.Source), cleanText(c.Ref)
			k := c.SightingKey()
			if inserted[k] > 0 {
				inserted[k]--
				fresh = append(fresh, x)
			}
		}
		note, ok := intel.AuditFrom(ctx)
		if !ok || len(fresh) == 0 {
			return nil
		}
		return s.appendAudits(ctx, tx, intelWriteAudits(note, "intel.sightings.add", len(fresh), func(i int) (string, string) {
			return fresh[i].TenantID, fresh[i].IndicatorID + " kind " + strconv.Itoa(fresh[i].Kind)
		}))
	})
	if err != nil {
		return nil, err
	}
	return fresh, nil
}

// Sightings implements intel.Store.
func (s *Store) Sightings(ctx context.Context, tenantID, indicatorID, seenBy string, limit int) ([]intel.Sighting, error) {
	const op = "sqlstore.Sightings"
	query := `SELECT ` + sightingCols + ` FROM intel_sightings WHERE tenant_id = ? AND indicator_id = ?`
	args := []any{tenantID, indicatorID}
	if seenBy != "*" {
		query += ` AND seen_by = ?`
		args = append(args, seenBy)
	}
	query += ` ORDER BY at DESC, id DESC`
	if limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []intel.Sighting{}
	for rows.Next() {
		var x intel.Sighting
		var typ string
		var at int64
		if err := rows.Scan(&x.TenantID, &x.SeenBy, &x.IndicatorID, &typ, &x.Value, &x.Observed, &x.Source, &x.Ref, &x.Kind, &at); err != nil {
			return nil, dbErr(op, err)
		}
		x.Type, x.At = ioc.Type(typ), timeOrZero(at)
		out = append(out, x)
	}
	return out, dbErr(op, rows.Err())
}

// ---- feeds

// PutFeed implements intel.Store: the configuration as JSON, the credentials only as sealed.
func (s *Store) PutFeed(ctx context.Context, f intel.Feed) error {
	const op = "sqlstore.PutFeed"
	if strings.TrimSpace(f.Name) == "" {
		return socbot.FieldError(op, "name", "feed name is empty")
	}
	if f.Auth.HasSecret() {
		return socbot.FieldError(op, "auth", "feed %s: credentials must be sealed (intel.SealFeedAuth) before they are stored", f.Name)
	}
	cfg, err := json.Marshal(f)
	if err != nil {
		return socbot.E(op, err)
	}
	var sealed any
	if len(f.SealedAuth) > 0 {
		sealed = f.SealedAuth
	}
	now := us(s.clock.Now())
	note, _ := intel.AuditFrom(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var had int
		err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM intel_feeds WHERE tenant_id = ? AND name = ?`), f.TenantID, f.Name).Scan(&had)
		if err != nil {
			return dbErr(op, err)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO intel_feeds (tenant_id, name, enabled, config, auth_sealed, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, name) DO UPDATE SET enabled = excluded.enabled,
			config = excluded.config, auth_sealed = excluded.auth_sealed, updated_at = excluded.updated_at`),
			f.TenantID, f.Name, f.Enabled, string(cfg), sealed, now, now)
		if err != nil {
			return dbErr(op, err)
		}
		action := "intel.feed.create"
		if had > 0 {
			action = "intel.feed.update"
		}
		details := map[string]any{"url": f.URL, "format": f.Format, "enabled": f.Enabled, "interval": f.Interval.String(),
			"reliability": f.Reliability, "tlp": f.TLP, "credentials_sealed": len(f.SealedAuth) > 0}
		return s.appendAudit(ctx, tx, auditRec(note.By, f.TenantID, action, "feed:"+f.Name, note.Reason, details))
	})
}

func scanFeed(r scanner) (intel.Feed, error) {
	var f intel.Feed
	var tenant, name, cfg string
	var enabled bool
	var sealed []byte
	if err := r.Scan(&tenant, &name, &enabled, &cfg, &sealed); err != nil {
		return f, err
	}
	if err := json.Unmarshal([]byte(cfg), &f); err != nil {
		return f, socbot.E("sqlstore.Feeds", socbot.KindOther, "feed "+name+": configuration is damaged", err)
	}
	f.TenantID, f.Name, f.Enabled = tenant, name, enabled
	if len(sealed) > 0 {
		f.SealedAuth = sealed
	}
	return f, nil
}

// Feeds implements intel.Store.
func (s *Store) Feeds(ctx context.Context, tenantID string) ([]intel.Feed, error) {
	const op = "sqlstore.Feeds"
	query := `SELECT tenant_id, name, enabled, config, auth_sealed FROM intel_feeds`
	var args []any
	if tenantID != "*" {
		query += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	query += ` ORDER BY tenant_id, name`
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []intel.Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, f)
	}
	return out, dbErr(op, rows.Err())
}

// DeleteFeed implements intel.Store.
func (s *Store) DeleteFeed(ctx context.Context, tenantID, name string) error {
	const op = "sqlstore.DeleteFeed"
	note, _ := intel.AuditFrom(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM intel_feeds WHERE tenant_id = ? AND name = ?`), tenantID, name)
		if err != nil {
			return dbErr(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return socbot.E(op, socbot.KindNotFound, "no feed "+name)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM intel_feed_status WHERE tenant_id = ? AND name = ?`), tenantID, name); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(note.By, tenantID, "intel.feed.delete", "feed:"+name, note.Reason,
			map[string]any{"indicators": "kept, attributed to the feed, ageing"}))
	})
}

// PutFeedStatus implements intel.Store (operational state: not audited).
func (s *Store) PutFeedStatus(ctx context.Context, st intel.FeedStatus) error {
	const op = "sqlstore.PutFeedStatus"
	stats, err := json.Marshal(st.LastStats)
	if err != nil {
		return socbot.E(op, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO intel_feed_status (tenant_id, name, etag, last_modified, cursor, last_attempt,
			last_success, healthy, failures, last_error, last_status, not_modified, last_stats, lease_owner, lease_until)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'',0)
			ON CONFLICT (tenant_id, name) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
			cursor = excluded.cursor, last_attempt = excluded.last_attempt, last_success = excluded.last_success,
			healthy = excluded.healthy, failures = excluded.failures, last_error = excluded.last_error,
			last_status = excluded.last_status, not_modified = excluded.not_modified, last_stats = excluded.last_stats`),
			st.TenantID, st.Name, cleanText(st.ETag), cleanText(st.LastModified), cleanText(st.Cursor), usOrZero(st.LastAttempt),
			usOrZero(st.LastSuccess), st.Healthy, st.Failures, cleanText(st.LastError), st.LastStatus, st.NotModified, string(stats))
		return dbErr(op, err)
	})
}

// ClaimFeedRun implements intel.FeedLeaser: the lease is taken when it is free, expired or already
// the owner's.
func (s *Store) ClaimFeedRun(ctx context.Context, tenantID, name, owner string, now, until time.Time) (bool, error) {
	const op = "sqlstore.ClaimFeedRun"
	var claimed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO intel_feed_status (tenant_id, name, etag, last_modified, cursor, last_attempt,
			last_success, healthy, failures, last_error, last_status, not_modified, last_stats, lease_owner, lease_until)
			VALUES (?, ?, '', '', '', 0, 0, FALSE, 0, '', 0, FALSE, '{}', ?, ?)
			ON CONFLICT (tenant_id, name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE intel_feed_status.lease_until < ? OR intel_feed_status.lease_owner = excluded.lease_owner`),
			tenantID, name, owner, us(until), us(now))
		if err != nil {
			return dbErr(op, err)
		}
		n, err := res.RowsAffected()
		claimed = n > 0
		return dbErr(op, err)
	})
	return claimed, err
}

// FeedStatus implements intel.Store.
func (s *Store) FeedStatus(ctx context.Context, tenantID, name string) (intel.FeedStatus, error) {
	const op = "sqlstore.FeedStatus"
	st := intel.FeedStatus{TenantID: tenantID, Name: name}
	var attempt, success int64
	var stats string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT etag, last_modified, cursor, last_attempt, last_success, healthy, failures,
		last_error, last_status, not_modified, last_stats FROM intel_feed_status WHERE tenant_id = ? AND name = ?`), tenantID, name).
		Scan(&st.ETag, &st.LastModified, &st.Cursor, &attempt, &success, &st.Healthy, &st.Failures, &st.LastError, &st.LastStatus,
			&st.NotModified, &stats)
	if err == sql.ErrNoRows {
		return st, socbot.E(op, socbot.KindNotFound, "no status for feed "+name)
	}
	if err != nil {
		return st, dbErr(op, err)
	}
	st.LastAttempt, st.LastSuccess = timeOrZero(attempt), timeOrZero(success)
	unjs(stats, &st.LastStats)
	return st, nil
}
