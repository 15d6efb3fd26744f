package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// The intel bot's system of record (migrations 0101_intel_store and 0102_intel_compact): indicators
// with their sources, sightings, feeds (credentials only sealed) and feed status, implementing
// intel.Store and intel.IndicatorMerger on both engines. An indicator is one row keyed by (tenant,
// the 16 bytes of its STIX id's UUID), with the columns filters and the match index read and
// everything else in one binary document (intel_doc.go). Imports go through MergeIndicators: rows
// are inserted as new in multi-row statements (ON CONFLICT DO NOTHING), and only where a statement
// finds rows already stored are they read, merged and written back, all in one transaction. Feed
// changes are audited in the same transaction, indicator and sighting writes when the context
// carries an intel.AuditNote (a person acting).
var (
	_ intel.Store           = (*Store)(nil)
	_ intel.IndicatorMerger = (*Store)(nil)
	_ intel.MergePreparer   = (*Store)(nil)
	_ intel.IndexScanner    = (*Store)(nil)
	_ intel.FeedLeaser      = (*Store)(nil)
)

const intelCols = `tenant_id, id, type, value, modified, tlp, dead, source_names, tags, doc`

const intelNCols = 10

// intelWidths are the row counts of the multi-row statements, widest first: n rows are written by
// the widest statements that fit, so a handful of prepared statements serve every batch size.
var intelWidths = [...]int{500, 100, 20, 5, 1}

// intelPageSize is the keyset page of ScanIndicators: no read transaction stays open across pages.
const intelPageSize = 2000

// nameSep separates source names in source_names (X'1f', the ASCII unit separator).
const nameSep = "\x1f"

// cleanText makes s storable as TEXT on PostgreSQL (valid UTF-8, no NUL), leaving clean text as is.
func cleanText(s string) string {
	if plainASCII(s) || strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// plainASCII reports whether s is ASCII without NUL bytes, eight bytes at a time (false may also
// mean "not sure": cleanText then looks closer).
func plainASCII(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		if (v-ones|v)&highs != 0 { // a byte with the high bit set, or a zero byte (it borrows)
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
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

// rowEncoder turns indicators into the bound values of their rows; the documents share an arena,
// and a statement's values a slice, both reused by execRows once the statement has run (the driver
// copies what it binds). Values that repeat from row to row (one tenant, type, source, modified
// time and tag list for a whole import) are boxed once.
type rowEncoder struct {
	arena []byte
	tags  []byte
	vals  []any

	tenant, typ, srcName string
	lastTags             []string
	mod                  int64
	tenantV, typV, srcV  any
	tagsV, modV          any
}

// args appends the column values of in, whose key is key.
func (w *rowEncoder) args(args []any, in *intel.Indicator, key []byte) []any {
	mod := usOrZero(in.Modified)
	start := len(w.arena)
	w.arena = appendDoc(w.arena, in, mod)
	doc := w.arena[start:len(w.arena):len(w.arena)]
	if w.tenantV == nil || in.TenantID != w.tenant {
		w.tenant, w.tenantV = in.TenantID, in.TenantID
	}
	if w.typV == nil || string(in.Type) != w.typ {
		w.typ, w.typV = string(in.Type), string(in.Type)
	}
	if w.modV == nil || mod != w.mod {
		w.mod, w.modV = mod, mod
	}
	if w.tagsV == nil || !slices.Equal(in.Tags, w.lastTags) {
		tags := "[]"
		if len(in.Tags) > 0 {
			w.tags = append(w.tags[:0], '[')
			for i, t := range in.Tags {
				if i > 0 {
					w.tags = append(w.tags, ',')
				}
				w.tags = appendJSONString(w.tags, cleanText(t))
			}
			tags = string(append(w.tags, ']'))
		}
		w.lastTags, w.tagsV = append(w.lastTags[:0], in.Tags...), tags
	}
	var names any
	if len(in.Sources) == 1 && w.srcV != nil && in.Sources[0].Name == w.srcName {
		names = w.srcV
	} else {
		names = sourceNames(in)
		if len(in.Sources) == 1 {
			w.srcName, w.srcV = in.Sources[0].Name, names
		}
	}
	dead := in.Revoked || in.FilteredBy != ""
	return append(args, w.tenantV, key, w.typV, cleanText(in.Value), w.modV, int(in.TLP), dead, names, w.tagsV, doc)
}

// intelSQL holds the statements of every width.
type intelSQL struct {
	insert          map[int]string // new rows; rows already stored are left alone
	insertOrIgnore  map[int]string // the same on SQLite, where no row of it can abort the statement, so it needs no statement journal
	insertReturning map[int]string // the same, naming the rows inserted (PostgreSQL)
	upsert          map[int]string // rows replaced whole
	read            map[int]string // SQLite: rows by key, an IN list of the width
	readOld         map[int]string // SQLite: the keys among an IN list of rows up to a rowid
}

var intelStatements = func() intelSQL {
	q := intelSQL{insert: map[int]string{}, insertOrIgnore: map[int]string{}, insertReturning: map[int]string{}, upsert: map[int]string{},
		read: map[int]string{}, readOld: map[int]string{}}
	row := "(" + strings.Repeat("?,", intelNCols-1) + "?)"
	for _, w := range intelWidths {
		values := `INSERT INTO intel_indicators (` + intelCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+",", w), ",")
		q.insert[w] = values + ` ON CONFLICT (tenant_id, id) DO NOTHING`
		q.insertOrIgnore[w] = strings.Replace(values, `INSERT INTO`, `INSERT OR IGNORE INTO`, 1)
		q.insertReturning[w] = q.insert[w] + ` RETURNING id`
		q.upsert[w] = values + ` ON CONFLICT (tenant_id, id) DO UPDATE SET type = excluded.type, value = excluded.value,
		modified = excluded.modified, tlp = excluded.tlp, dead = excluded.dead, source_names = excluded.source_names,
		tags = excluded.tags, doc = excluded.doc`
		list := `(` + strings.TrimSuffix(strings.Repeat("?,", w), ",") + `)`
		q.read[w] = `SELECT ` + intelCols + ` FROM intel_indicators WHERE tenant_id = ? AND id IN ` + list
		q.readOld[w] = `SELECT id FROM intel_indicators WHERE tenant_id = ? AND rowid <= ? AND id IN ` + list
	}
	return q
}()

// readIndicatorsPG reads a tenant's rows by key on PostgreSQL (one array parameter); locked reads
// the rows for update.
const (
	readIndicatorsPG       = `SELECT ` + intelCols + ` FROM intel_indicators WHERE tenant_id = ? AND id = ANY(?)`
	readIndicatorsPGLocked = readIndicatorsPG + ` FOR UPDATE`
)

// execRows writes rows 0..n-1 (argsOf appends row j's values) with the statements of sqls, widest
// first, and returns how many rows the statements changed.
func (s *Store) execRows(ctx context.Context, tx *sql.Tx, sqls map[int]string, n int, w *rowEncoder,
	argsOf func(args []any, j int) []any) (int64, error) {
	var changed int64
	args := w.vals[:0]
	defer func() { w.vals = args[:0] }()
	for j := 0; j < n; {
		width := intelWidths[len(intelWidths)-1]
		for _, x := range intelWidths {
			if x <= n-j {
				width = x
				break
			}
		}
		args, w.arena = args[:0], w.arena[:0]
		for end := j + width; j < end; j++ {
			args = argsOf(args, j)
		}
		st, err := s.prepared(ctx, tx, sqls[width])
		if err != nil {
			return changed, err
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return changed, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return changed, err
		}
		changed += k
	}
	return changed, nil
}

// queryRows is execRows for statements that return rows: fn reads each.
func (s *Store) queryRows(ctx context.Context, tx *sql.Tx, sqls map[int]string, n int, w *rowEncoder,
	argsOf func(args []any, j int) []any, fn func(*sql.Rows) error) error {
	args := w.vals[:0]
	defer func() { w.vals = args[:0] }()
	for j := 0; j < n; {
		width := intelWidths[len(intelWidths)-1]
		for _, x := range intelWidths {
			if x <= n-j {
				width = x
				break
			}
		}
		args, w.arena = args[:0], w.arena[:0]
		for end := j + width; j < end; j++ {
			args = argsOf(args, j)
		}
		st, err := s.prepared(ctx, tx, sqls[width])
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := fn(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// keyedBatch is a batch's keys in one arena, with the batch's order sorted by (tenant, key): in key
// order, the B-tree inserts of a transaction walk the index left to right.
type keyedBatch struct {
	keys  []byte // 16 bytes per indicator, in batch order
	order []int32
}

func (k *keyedBatch) key(i int32) []byte { return k.keys[16*int(i) : 16*int(i)+16 : 16*int(i)+16] }

func keyBatch(ins []intel.Indicator) keyedBatch {
	k := keyedBatch{keys: make([]byte, 0, 16*len(ins)), order: make([]int32, len(ins))}
	oneTenant := true
	for i := range ins {
		k.keys, _ = appendIDKey(k.keys, ins[i].ID) // the ids were checked
		k.order[i] = int32(i)
		oneTenant = oneTenant && ins[i].TenantID == ins[0].TenantID
	}
	sorted := true
	for j := 1; j < len(ins) && sorted; j++ {
		sorted = k.less(ins, k.order[j-1], k.order[j]) || !k.less(ins, k.order[j], k.order[j-1])
	}
	switch {
	case sorted:
	case oneTenant: // an import: sort by the keys alone, as two integers each
		type entry struct {
			hi, lo uint64
			i      int32
		}
		e := make([]entry, len(ins))
		for i := range e {
			key := k.key(int32(i))
			e[i] = entry{binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:]), int32(i)}
		}
		slices.SortFunc(e, func(a, b entry) int { // equal keys stay in batch order (PutIndicators: the last wins)
			if c := cmp.Compare(a.hi, b.hi); c != 0 {
				return c
			}
			if c := cmp.Compare(a.lo, b.lo); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		for j := range e {
			k.order[j] = e[j].i
		}
	default:
		sort.SliceStable(k.order, func(a, b int) bool { return k.less(ins, k.order[a], k.order[b]) })
	}
	return k
}

func (k *keyedBatch) less(ins []intel.Indicator, a, b int32) bool {
	if ins[a].TenantID != ins[b].TenantID {
		return ins[a].TenantID < ins[b].TenantID
	}
	return bytes.Compare(k.key(a), k.key(b)) < 0
}

// PutIndicators implements intel.Store: every indicator in one transaction, replaced whole, in
// multi-row upserts (an id given twice: the last one wins).
func (s *Store) PutIndicators(ctx context.Context, ins []intel.Indicator) error {
	const op = "sqlstore.PutIndicators"
	if err := intel.CheckIndicators(ins); err != nil {
		return err
	}
	if len(ins) == 0 {
		return nil
	}
	kb := keyBatch(ins)
	// one row per (tenant, id): the last of equal ones (the sort is stable)
	order := kb.order[:0:0]
	for j, i := range kb.order {
		if j+1 < len(kb.order) {
			n := kb.order[j+1]
			if ins[n].TenantID == ins[i].TenantID && bytes.Equal(kb.key(n), kb.key(i)) {
				continue
			}
		}
		order = append(order, i)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var w rowEncoder
		if _, err := s.execRows(ctx, tx, intelStatements.upsert, len(order), &w, func(args []any, j int) []any {
			return w.args(args, &ins[order[j]], kb.key(order[j]))
		}); err != nil {
			return dbErr(op, err)
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

// MergeIndicators implements intel.IndicatorMerger: PrepareMerge, then the prepared merge.
func (s *Store) MergeIndicators(ctx context.Context, tenantID string, batch []intel.Indicator,
	merge func(i int, stored *intel.Indicator) bool) ([]intel.MergeOutcome, error) {
	b, err := s.PrepareMerge(tenantID, batch)
	if err != nil {
		return nil, err
	}
	return b.Merge(ctx, merge)
}

// mergeBatch is a batch prepared for MergeIndicators: checked, in key order, every row encoded as
// a new one.
type mergeBatch struct {
	s        *Store
	tenantID string
	batch    []intel.Indicator
	kb       keyedBatch
	rows     []any // intelNCols values per indicator, in key order (position p is batch[kb.order[p]])
	enc      rowEncoder
	done     bool
}

// PrepareMerge implements intel.MergePreparer: the checks, the key order and the encoding of every
// row, without the database.
func (s *Store) PrepareMerge(tenantID string, batch []intel.Indicator) (intel.PreparedMerge, error) {
	const op = "sqlstore.MergeIndicators"
	var key [16]byte
	for i := range batch {
		in := &batch[i]
		if !in.Type.Valid() || in.Value == "" {
			return nil, socbot.FieldError(op, "type", "indicator %d has type %q value %q", i, in.Type, in.Value)
		}
		if _, ok := appendIDKey(key[:0], in.ID); !ok { // intel.CheckIndicators' rule, with the key parsed once
			return nil, socbot.FieldError(op, "id", "indicator %s:%s has no indicator id (%q)", in.Type, in.Value, in.ID)
		}
		if in.TenantID != tenantID {
			return nil, socbot.FieldError(op, "tenant_id", "indicator %s of tenant %q in a batch of tenant %q", in.ID, in.TenantID, tenantID)
		}
	}
	b := &mergeBatch{s: s, tenantID: tenantID, batch: batch, kb: keyBatch(batch)}
	for p := 1; p < len(b.kb.order); p++ { // distinct ids: sorted, equal ones are neighbours
		if bytes.Equal(b.kb.key(b.kb.order[p-1]), b.kb.key(b.kb.order[p])) {
			return nil, socbot.FieldError(op, "id", "indicator %s twice in one batch", batch[b.kb.order[p]].ID)
		}
	}
	b.rows = make([]any, 0, intelNCols*len(batch))
	b.enc.arena = make([]byte, 0, 160*len(batch))
	for _, i := range b.kb.order {
		b.rows = b.enc.args(b.rows, &batch[i], b.kb.key(i))
	}
	return b, nil
}

// Merge implements intel.PreparedMerge in one transaction, a chunk of up to 500 indicators (in key
// order) at a time. While a batch's indicators are new, a chunk is inserted blind (ON CONFLICT DO
// NOTHING, rows encoded ahead): when every row went in, nothing was read. The rows that were stored
// already are found afterwards (SQLite: a new row takes the next rowid, so they are those below the
// statement's first one; PostgreSQL: RETURNING names the new ones), read (PostgreSQL: locked),
// merged and replaced. Once a batch shows stored indicators (a feed read again), its chunks are read
// first, and only what is not stored is inserted.
func (b *mergeBatch) Merge(ctx context.Context, merge func(i int, stored *intel.Indicator) bool) ([]intel.MergeOutcome, error) {
	const op = "sqlstore.MergeIndicators"
	if b.done {
		return nil, socbot.E(op, socbot.KindOther, "a prepared merge runs once")
	}
	b.done = true
	out := make([]intel.MergeOutcome, len(b.batch))
	if len(b.batch) == 0 {
		return out, nil
	}
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	s := b.s
	err := s.tx(ctx, func(tx *sql.Tx) error {
		clear(out)
		m := merger{mergeBatch: b, tx: tx, out: out, merge: merge, p: p}
		stored, seen := 0, 0
		for start := 0; start < len(b.kb.order); start += intelWidths[0] {
			end := min(start+intelWidths[0], len(b.kb.order))
			// Blind inserts while the chunk is likely to hold no stored indicator: with a share f of
			// stored ones spread evenly (the keys are hashes), a chunk of 500 is free of them with
			// probability (1-f)^500, about one half at f = 1/700.
			n, err := m.chunk(ctx, int32(start), int32(end), stored*700 > seen)
			if err != nil {
				return dbErr(op, err)
			}
			stored, seen = stored+n, seen+end-start
		}
		note, ok := intel.AuditFrom(ctx)
		if !ok {
			return nil
		}
		var keys []int
		for i, o := range out {
			if o == intel.MergeInserted || o == intel.MergeUpdated {
				keys = append(keys, i)
			}
		}
		if len(keys) == 0 {
			return nil
		}
		return s.appendAudits(ctx, tx, intelWriteAudits(note, "intel.indicators.put", len(keys), func(j int) (string, string) {
			return b.tenantID, b.batch[keys[j]].Key()
		}))
	})
	b.rows, b.enc = nil, rowEncoder{}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// merger is one transaction of a prepared merge. It works on positions in key order.
type merger struct {
	*mergeBatch
	tx    *sql.Tx
	out   []intel.MergeOutcome
	merge func(int, *intel.Indicator) bool
	p     *fastjson.Parser
	w     rowEncoder // merged rows
}

func (m *merger) index(pos int32) int32 { return m.kb.order[pos] }

func (m *merger) key(pos int32) []byte { return m.kb.key(m.kb.order[pos]) }

// keyedRow is an indicator to write and its key.
type keyedRow struct {
	in  *intel.Indicator
	key []byte
}

// chunk merges the positions [start, end) and returns how many of them were stored. With
// readFirst the stored ones are read before anything is inserted; otherwise the chunk is inserted
// blind first.
func (m *merger) chunk(ctx context.Context, start, end int32, readFirst bool) (int, error) {
	stored := 0
	var check []int32 // positions that may be stored: read, merge or skip
	if readFirst {
		check = make([]int32, 0, end-start)
		for pos := start; pos < end; pos++ {
			check = append(check, pos)
		}
	} else {
		rows := make([]int32, 0, end-start)
		for pos := start; pos < end; pos++ {
			if m.batch[m.index(pos)].Revoked {
				check = append(check, pos) // a revocation applies only to a stored indicator
			} else {
				rows = append(rows, pos)
			}
		}
		there, err := m.insertNew(ctx, rows)
		if err != nil {
			return 0, err
		}
		check = append(check, there...)
	}
	for attempt := 0; len(check) > 0; attempt++ {
		if attempt == 5 {
			return 0, socbot.E("sqlstore.MergeIndicators", socbot.KindConflict, "indicators of tenant "+m.tenantID+" keep being inserted by another writer")
		}
		keys := make([][]byte, len(check))
		for j, pos := range check {
			keys[j] = m.key(pos)
		}
		found := make(map[[16]byte]*intel.Indicator, len(check))
		err := m.s.readByKeys(ctx, m.tx, m.tenantID, keys, m.p, func(in *intel.Indicator, key []byte) {
			found[[16]byte(key)] = in
		})
		if err != nil {
			return 0, err
		}
		stored += len(found)
		var merged []keyedRow
		var absent []int32
		for _, pos := range check {
			i, key := m.index(pos), m.key(pos)
			switch old := found[[16]byte(key)]; {
			case old != nil && m.merge(int(i), old):
				m.out[i] = intel.MergeUpdated
				merged = append(merged, keyedRow{old, key})
			case old != nil:
				m.out[i] = intel.MergeUnchanged
			case m.batch[i].Revoked:
				m.out[i] = intel.MergeSkipped
			default:
				absent = append(absent, pos)
			}
		}
		if _, err := m.s.execRows(ctx, m.tx, intelStatements.upsert, len(merged), &m.w, func(args []any, j int) []any {
			return m.w.args(args, merged[j].in, merged[j].key)
		}); err != nil {
			return 0, err
		}
		// not stored when read; one another writer inserted since (PostgreSQL) goes round again
		if check, err = m.insertNew(ctx, absent); err != nil {
			return 0, err
		}
	}
	return stored, nil
}

// insertNew inserts the indicators at positions as new rows (encoded ahead) and marks them
// MergeInserted, except those already stored, which it returns untouched.
func (m *merger) insertNew(ctx context.Context, positions []int32) ([]int32, error) {
	if len(positions) == 0 {
		return nil, nil
	}
	args := func(args []any, j int) []any {
		p := int(positions[j]) * intelNCols
		return append(args, m.rows[p:p+intelNCols]...)
	}
	var there []int32
	if m.s.engine == Postgres {
		inserted := make(map[[16]byte]bool, len(positions))
		if err := m.s.queryRows(ctx, m.tx, intelStatements.insertReturning, len(positions), &m.w, args, func(r *sql.Rows) error {
			var key []byte
			if err := r.Scan(&key); err != nil {
				return err
			}
			inserted[[16]byte(key)] = true
			return nil
		}); err != nil {
			return nil, err
		}
		for _, pos := range positions {
			if !inserted[[16]byte(m.key(pos))] {
				there = append(there, pos)
			}
		}
	} else {
		n, err := m.s.execRows(ctx, m.tx, intelStatements.insertOrIgnore, len(positions), &m.w, args)
		if err != nil {
			return nil, err
		}
		if n != int64(len(positions)) {
			if there, err = m.storedBefore(ctx, positions, n); err != nil {
				return nil, err
			}
		}
	}
	for _, pos := range positions {
		m.out[m.index(pos)] = intel.MergeInserted
	}
	for _, pos := range there {
		m.out[m.index(pos)] = 0
	}
	return there, nil
}

// storedBefore finds, on SQLite, which of the positions were stored before the statements that
// just inserted n of them: SQLite gives a new row the rowid after the largest, so the n new rows
// hold the n largest rowids and the others lie below.
func (m *merger) storedBefore(ctx context.Context, positions []int32, n int64) ([]int32, error) {
	var top int64
	if err := m.tx.QueryRowContext(ctx, `SELECT max(rowid) FROM intel_indicators`).Scan(&top); err != nil {
		return nil, err
	}
	if top >= 1<<62 { // SQLite picks rowids at random near the largest one: no order to rely on
		return nil, socbot.E("sqlstore.MergeIndicators", socbot.KindOther, "intel_indicators has run out of rowids")
	}
	keys := make([][]byte, len(positions))
	for j, pos := range positions {
		keys[j] = m.key(pos)
	}
	old := map[[16]byte]bool{}
	if err := m.s.readKeys(ctx, m.tx, m.tenantID, keys, top-n, func(key []byte) { old[[16]byte(key)] = true }); err != nil {
		return nil, err
	}
	var there []int32
	for _, pos := range positions {
		if old[[16]byte(m.key(pos))] {
			there = append(there, pos)
		}
	}
	if int64(len(there))+n != int64(len(positions)) {
		return nil, socbot.E("sqlstore.MergeIndicators", socbot.KindOther, "rows of an insert not accounted for")
	}
	return there, nil
}

// readKeys calls fn with the key of every row of tenantID among keys whose rowid is at most
// maxRowid (SQLite).
func (s *Store) readKeys(ctx context.Context, tx *sql.Tx, tenantID string, keys [][]byte, maxRowid int64, fn func(key []byte)) error {
	args := make([]any, 0, 2+intelWidths[0])
	for start := 0; start < len(keys); start += intelWidths[0] {
		part := keys[start:min(start+intelWidths[0], len(keys))]
		width := listWidth(len(part))
		args = append(args[:0], tenantID, maxRowid)
		for j := 0; j < width; j++ {
			args = append(args, part[min(j, len(part)-1)]) // padded with the last key
		}
		st, err := s.prepared(ctx, tx, intelStatements.readOld[width])
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key []byte
			if err := rows.Scan(&key); err != nil {
				rows.Close()
				return err
			}
			fn(key)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// listWidth is the narrowest IN list of intelWidths that holds n keys (n at most the widest).
func listWidth(n int) int {
	width := intelWidths[0]
	for _, w := range intelWidths {
		if w >= n {
			width = w
		}
	}
	return width
}

// readByKeys calls fn with every stored indicator of tenantID among keys, in a transaction (tx; on
// PostgreSQL the rows are locked for update) or not (tx nil).
func (s *Store) readByKeys(ctx context.Context, tx *sql.Tx, tenantID string, keys [][]byte, p *fastjson.Parser,
	fn func(in *intel.Indicator, key []byte)) error {
	const op = "sqlstore.intel"
	stmt := func(query string) (*sql.Stmt, error) {
		if tx != nil {
			return s.prepared(ctx, tx, query)
		}
		return s.readStmt(ctx, query)
	}
	read := func(st *sql.Stmt, args ...any) error {
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return dbErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			in, key, err := scanIndicator(rows, p)
			if err != nil {
				return dbErr(op, err)
			}
			fn(&in, key)
		}
		return dbErr(op, rows.Err())
	}
	if len(keys) == 0 {
		return nil
	}
	if s.engine == Postgres {
		query := readIndicatorsPG
		if tx != nil {
			query = readIndicatorsPGLocked
		}
		st, err := stmt(query)
		if err != nil {
			return dbErr(op, err)
		}
		return read(st, tenantID, keys)
	}
	args := make([]any, 0, 1+intelWidths[0])
	for start := 0; start < len(keys); start += intelWidths[0] {
		part := keys[start:min(start+intelWidths[0], len(keys))]
		width := listWidth(len(part))
		args = append(args[:0], tenantID)
		for j := 0; j < width; j++ {
			args = append(args, part[min(j, len(part)-1)]) // padded with the last key
		}
		st, err := stmt(intelStatements.read[width])
		if err != nil {
			return dbErr(op, err)
		}
		if err := read(st, args...); err != nil {
			return err
		}
	}
	return nil
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

// scanIndicator reads one row of intelCols, and the row's key.
func scanIndicator(r scanner, p *fastjson.Parser) (intel.Indicator, []byte, error) {
	var in intel.Indicator
	var key []byte
	var typ, names, tags string
	var doc sql.RawBytes
	var modified int64
	var tlp int
	var dead bool
	if err := r.Scan(&in.TenantID, &key, &typ, &in.Value, &modified, &tlp, &dead, &names, &tags, &doc); err != nil {
		return in, nil, err
	}
	in.ID = idFromKey(key)
	in.Type = ioc.Type(typ)
	in.Modified = timeOrZero(modified)
	in.TLP = intel.TLP(tlp)
	in.Tags = decodeStrings(p, tags)
	return in, key, decodeDoc(&in, doc, modified, p)
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

// GetIndicators implements intel.Store: primary-key lookups of every id in prepared statements
// (PostgreSQL: one array parameter; SQLite: IN lists of up to 500 keys). Ids that are not indicator
// ids name nothing.
func (s *Store) GetIndicators(ctx context.Context, tenantID string, ids []string) ([]intel.Indicator, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	arena := make([]byte, 0, 16*len(ids))
	keys := make([][]byte, 0, len(ids))
	for _, id := range ids {
		n := len(arena)
		var ok bool
		if arena, ok = appendIDKey(arena, id); ok {
			keys = append(keys, arena[n:n+16:n+16])
		}
	}
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	out := make([]intel.Indicator, 0, min(len(keys), 1024))
	err := s.readByKeys(ctx, nil, tenantID, keys, p, func(in *intel.Indicator, _ []byte) { out = append(out, *in) })
	if err != nil {
		return nil, err
	}
	return out, nil
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
		var keys []any
		for _, id := range f.IDs {
			if k, ok := idKey(id); ok {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			conds = append(conds, `FALSE`) // none of them is an indicator id
		} else {
			conds = append(conds, `id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")+`)`)
			args = append(args, keys...)
		}
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
	var lastTenant string
	var lastKey []byte
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	page := make([]intel.Indicator, 0, intelPageSize)
	for {
		query := `SELECT ` + intelCols + ` FROM intel_indicators WHERE ` + where
		qargs := args
		if lastKey != nil {
			query += ` AND (tenant_id, id) > (?, ?)`
			qargs = append(append([]any(nil), args...), lastTenant, lastKey)
		}
		query += ` ORDER BY tenant_id, id LIMIT ` + strconv.Itoa(intelPageSize)
		rows, err := s.db.QueryContext(ctx, s.q(query), qargs...)
		if err != nil {
			return dbErr(op, err)
		}
		page = page[:0]
		for rows.Next() {
			in, key, err := scanIndicator(rows, p)
			if err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			page = append(page, in)
			lastKey = key
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
		lastTenant = page[len(page)-1].TenantID
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
			args = append(args, m, m, keyAfter(f.AfterID))
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
		in, _, err := scanIndicator(rows, p)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, in)
	}
	return out, dbErr(op, rows.Err())
}

// ScanIndexEntries implements intel.IndexScanner: the match index's view of every live indicator of
// every tenant, from the columns kept for it and the head of the document (a document without one,
// written before migration 0103, is decoded whole).
func (s *Store) ScanIndexEntries(ctx context.Context, tenants []string, fn func(*intel.IndexEntry) error) error {
	const op = "sqlstore.ScanIndexEntries"
	p := intelParsers.Get()
	defer intelParsers.Put(p)
	names := map[string][]string{} // interned: entries with the same sources share one slice
	tagSets := map[string][]string{}
	var lt string
	var lid []byte
	var lastRowid int64
	// every tenant from SQLite: pages in rowid order read the table front to back, where the key
	// order would fetch each row from a random page
	byRowid := tenants == nil && s.engine == SQLite
	const page = 20000
	batch := make([]intel.IndexEntry, 0, page)
	for first := true; ; first = false {
		query := `SELECT tenant_id, id, type, value, modified, tlp, source_names, tags, doc, 0 FROM intel_indicators WHERE dead = FALSE`
		if byRowid {
			query = strings.Replace(query, ", 0 FROM", ", rowid FROM", 1)
		}
		var args []any
		if tenants != nil {
			query += ` AND tenant_id IN (` + strings.TrimSuffix(strings.Repeat("?,", len(tenants)), ",") + `)`
			for _, t := range tenants {
				args = append(args, t)
			}
		}
		switch {
		case byRowid:
			query += ` AND rowid > ? ORDER BY rowid`
			args = append(args, lastRowid)
		case !first:
			query += ` AND (tenant_id, id) > (?, ?) ORDER BY tenant_id, id`
			args = append(args, lt, lid)
		default:
			query += ` ORDER BY tenant_id, id`
		}
		query += ` LIMIT ` + strconv.Itoa(page)
		rows, err := s.db.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return dbErr(op, err)
		}
		batch = batch[:0]
		for rows.Next() {
			var e intel.IndexEntry
			var typ, srcs, tags string
			var tlp int
			var mod int64
			var doc sql.RawBytes
			if err := rows.Scan(&e.TenantID, &lid, &typ, &e.Value, &mod, &tlp, &srcs, &tags, &doc, &lastRowid); err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			e.Type, e.TLP = ioc.Type(typ), intel.TLP(tlp)
			var ok bool
			if e.Base, e.Ref, e.Until, ok = docHead(doc, mod); !ok {
				in := intel.Indicator{ID: idFromKey(lid), TenantID: e.TenantID, Type: e.Type, Value: e.Value, Modified: timeOrZero(mod)}
				if err := decodeDoc(&in, doc, mod, p); err != nil {
					rows.Close()
					return dbErr(op, err)
				}
				x := intel.EntryOf(&in)
				e.Base, e.Ref, e.Until = x.Base, x.Ref, x.Until
			}
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
