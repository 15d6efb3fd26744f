package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/postgres"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/stix"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestIDKeys: keys round-trip, and keyAfter orders any cursor string as the ids' text would.
func TestIDKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for i := 0; i < 300; i++ {
		ids = append(ids, intel.IndicatorID(ioc.IPv4, fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	ids = append(ids, "indicator--00000000-0000-0000-0000-000000000000", "indicator--ffffffff-ffff-ffff-ffff-ffffffffffff",
		"indicator--00000000-0000-0000-0000-000000000001", "indicator--99999999-9999-9999-9999-999999999999")
	for _, id := range ids {
		k, ok := idKey(id)
		if !ok || len(k) != 16 || idFromKey(k) != id {
			t.Fatalf("key of %s: %x %v -> %s", id, k, ok, idFromKey(k))
		}
	}
	for _, bad := range []string{"", "indicator--", "indicator--6770298F-0fd8-471a-ab8c-1c658a46574e", "indicator--6770298f-0fd8-471a-ab8c-1c658a46574",
		"xindicator-6770298f-0fd8-471a-ab8c-1c658a46574e", "indicator--6770298f-0fd8-471a-ab8c-1c658a46574g", "indicator--6770298f-0fd8+471a-ab8c-1c658a46574e"} {
		if _, ok := idKey(bad); ok {
			t.Errorf("%q has a key", bad)
		}
	}
	// cursors: prefixes of ids, ids with one character changed to anything, random strings
	alphabet := "-0189:@af`gzAF/\x00\xff"
	var cursors []string
	for i := 0; i < 4000; i++ {
		id := ids[r.IntN(len(ids))]
		switch r.IntN(4) {
		case 0:
			cursors = append(cursors, id[:r.IntN(len(id)+1)])
		case 1:
			j := r.IntN(len(id))
			cursors = append(cursors, id[:j]+string(alphabet[r.IntN(len(alphabet))])+id[j+1:])
		case 2:
			j := r.IntN(len(id) + 1)
			cursors = append(cursors, id[:j]+string(alphabet[r.IntN(len(alphabet))]))
		default:
			cursors = append(cursors, id+string(alphabet[r.IntN(len(alphabet))]))
		}
	}
	cursors = append(cursors, "", "a", "indicator", "indicator-.", "z", "indicator--\xff", "indicator--f", "indicator--ffffffff-ffff-ffff-ffff-ffffffffffff0")
	for _, c := range cursors {
		k := keyAfter(c)
		for _, id := range ids {
			ik, _ := idKey(id)
			if (id > c) != (bytes.Compare(ik, k) > 0) {
				t.Fatalf("cursor %q (key %x): id %s is above it as text: %v, as key: %v", c, k, id, id > c, bytes.Compare(ik, k) > 0)
			}
		}
	}
}

// randomIndicator makes an indicator with every field set at random (times at microseconds, as
// stores keep them).
func randomIndicator(r *rand.Rand) intel.Indicator {
	tm := func() time.Time {
		switch r.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return fromUS(r.Int64N(1 << 53))
		default:
			return t0.Add(time.Duration(r.Int64N(1<<50)-1<<49) * time.Microsecond)
		}
	}
	str := func() string {
		b := make([]byte, r.IntN(4)*r.IntN(20))
		const chars = "ab\"\\<\n\x1f -é"
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return strings.ToValidUTF8(string(b), "?")
	}
	typ := []ioc.Type{ioc.IPv4, ioc.Domain, ioc.URL, ioc.SHA256, ioc.CVE}[r.IntN(5)]
	value := fmt.Sprintf("v%d.example", r.IntN(1000))
	in := intel.Indicator{ID: intel.IndicatorID(typ, value), TenantID: "t", Type: typ, Value: value, FirstSeen: tm(), LastSeen: tm(),
		Confidence: r.IntN(201) - 50, TLP: intel.TLP(r.IntN(5)), Description: str(), Sightings: r.IntN(1 << 20), LastSighting: tm(),
		FalsePos: r.IntN(3), Revoked: r.IntN(2) == 0, FilteredBy: str(), Created: tm(), Modified: tm(), Sources: []intel.Source{}}
	for n := r.IntN(4); n > 0; n-- {
		ref := str()
		switch r.IntN(4) {
		case 0:
			ref = intel.IndicatorID(typ, str()) // a STIX id
		case 1:
			ref = str() + "--" + intel.IndicatorID(typ, str())[len("indicator--"):]
		case 2:
			ref = strings.ToUpper(intel.IndicatorID(typ, str())) // not a canonical one
		}
		in.Sources = append(in.Sources, intel.Source{Name: str(), Reliability: r.IntN(101), Confidence: r.IntN(101), FirstSeen: tm(),
			LastSeen: tm(), Ref: ref, Disabled: r.IntN(2) == 0, ValidUntil: tm()})
	}
	for n := r.IntN(3); n > 0; n-- {
		in.KillChain = append(in.KillChain, intel.KillChainPhase{KillChain: str(), Phase: str()})
	}
	switch r.IntN(3) {
	case 0:
		in.Pattern = stix.PatternFor(typ, value)
	case 1:
		in.Pattern = str()
	}
	return in
}

// TestDocRoundTrip: the binary document keeps every field.
func TestDocRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var p fastjson.Parser
	for i := 0; i < 5000; i++ {
		in := randomIndicator(r)
		mod := usOrZero(in.Modified)
		doc := appendDoc(nil, &in, mod)
		back := intel.Indicator{ID: in.ID, TenantID: in.TenantID, Type: in.Type, Value: in.Value, TLP: in.TLP, Modified: timeOrZero(mod)}
		if err := decodeDoc(&back, doc, mod, &p); err != nil {
			t.Fatal(err)
		}
		back.Tags = in.Tags
		if !reflect.DeepEqual(back, in) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", back, in)
		}
		// the head is the match index's view; without it (docV2, written before 0103) the rest reads the same
		base, ref, until, ok := docHead(doc, mod)
		if !ok || base != in.BaseScore() || !ref.Equal(in.Reference()) || !until.Equal(in.ValidUntil()) {
			t.Fatalf("head %v %v %v %v, want %v %v %v", base, ref, until, ok, in.BaseScore(), in.Reference(), in.ValidUntil())
		}
		hr := docReader{b: doc[1:], mod: mod}
		hr.int()
		hr.time()
		hr.time()
		v2 := append([]byte{docV2}, hr.b...)
		back2 := intel.Indicator{ID: in.ID, TenantID: in.TenantID, Type: in.Type, Value: in.Value, TLP: in.TLP, Modified: timeOrZero(mod), Tags: in.Tags}
		if err := decodeDoc(&back2, v2, mod, &p); err != nil || !reflect.DeepEqual(back2, in) {
			t.Fatalf("docV2: %v\n got  %+v\n want %+v", err, back2, in)
		}
		if _, _, _, ok := docHead(v2, mod); ok {
			t.Fatal("a docV2 document has a head")
		}
		// a cut document is damaged, never misread as another
		if len(doc) > 2 {
			cut := intel.Indicator{ID: in.ID, Type: in.Type, Value: in.Value}
			if err := decodeDoc(&cut, doc[:r.IntN(len(doc)-1)+1], mod, &p); err == nil && !reflect.DeepEqual(cut.Sources, in.Sources) {
				// a prefix may happen to decode (trailing empty fields), but then it is the same indicator
				t.Fatalf("a cut document decoded as %+v", cut)
			}
		}
	}
}

// FuzzDecodeDoc: stored documents are read without panics or runaway allocations, whatever their
// bytes (a damaged database).
func FuzzDecodeDoc(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		in := randomIndicator(r)
		f.Add(appendDoc(nil, &in, 0))
	}
	f.Add([]byte(legacyDoc(1000, 2000)))
	f.Add([]byte{docV2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{docV2, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, doc []byte) {
		var p fastjson.Parser
		in := intel.Indicator{ID: "indicator--x", Type: ioc.Domain, Value: "x.example"}
		_ = decodeDoc(&in, doc, 12345, &p)
	})
}

// legacyDoc is a JSON document as migration 0101's store wrote it (a revoked and filtered
// indicator, or with live a live one).
func legacyDoc(seen, created int64, live ...bool) string {
	dead := `,"r":true,"f":"list"`
	if len(live) > 0 && live[0] {
		dead = ""
	}
	return fmt.Sprintf(`{"fs":%d,"ls":%d,"c":77,"cr":%d,"s":[{"n":"feed-a","r":80,"c":70,"f":%d,"l":%d,"ref":"evt-1","v":%d},`+
		`{"n":"analyst:x","r":60,"c":90,"f":%d,"l":%d,"d":true}],"kc":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],`+
		`"d":"line one\nline two \u003cb\u003e","p":"[domain-name:value = 'old.example.net']","n":3,"lsg":%d,"fp":1%s}`,
		seen, seen, created, seen, seen, seen+90e6, created, seen, seen, dead)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestMigrateLegacyIndicatorsSQLite: rows written by the store of migration 0101 (text ids, JSON
// documents) are read, paged, scanned for the index, merged and replaced after 0102.
func TestMigrateLegacyIndicatorsSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "legacy.db")+"?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("../sqlite/migrations"), goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 101); err != nil {
		t.Fatal(err)
	}
	testLegacy(t, db, SQLite, func() error { return sqlite.Migrate(ctx, db, quiet) })
}

// TestMigrateLegacyIndicatorsPostgres is the same on PostgreSQL (SOCBOT_TEST_POSTGRES_URL), in a
// database of its own.
func TestMigrateLegacyIndicatorsPostgres(t *testing.T) {
	base := os.Getenv("SOCBOT_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("SOCBOT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SOCBOT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("SOCBOT_TEST_POSTGRES_URL is not set (scripts/test-postgres start prints it)")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("socbot_intel_legacy_%d", os.Getpid())
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("../postgres/migrations"), goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 101); err != nil {
		t.Fatal(err)
	}
	testLegacy(t, db, Postgres, func() error { return postgres.Migrate(ctx, db, quiet) })
}

func testLegacy(t *testing.T, db *sql.DB, engine string, migrate func() error) {
	ctx := context.Background()
	seen, created := t0.UnixMicro(), t0.Add(-48*time.Hour).UnixMicro()
	var legacy []intel.Indicator
	for i := 0; i < 2100; i++ { // more than a page of ScanIndicators
		v := fmt.Sprintf("old-%04d.example.net", i)
		legacy = append(legacy, intel.Indicator{ID: intel.IndicatorID(ioc.Domain, v), TenantID: "lg", Type: ioc.Domain, Value: v,
			Modified: t0.Add(time.Duration(i/10) * time.Second)})
	}
	legacy[7].TenantID = "" // the MSSP-wide set
	insert := `INSERT INTO intel_indicators (tenant_id, id, type, value, modified, tlp, dead, base, ref, valid_until, source_names, tags, doc)
		VALUES (?, ?, 'domain', ?, ?, 2, TRUE, 54, ?, ?, ?, ?, ?)`
	s := New(db, engine, socbot.SystemClock{}, quiet)
	for i, in := range legacy {
		live := i%2 == 1 // odd ones: live (in the match index), with the columns 0101 kept for the index
		q := insert
		if live {
			q = strings.Replace(insert, "TRUE, 54", "FALSE, 54", 1)
		}
		if _, err := db.ExecContext(ctx, s.q(q), in.TenantID, in.ID, in.Value, in.Modified.UnixMicro(), seen, seen+90e6,
			"\x1fanalyst:x\x1ffeed-a\x1f", `["c2","old"]`, legacyDoc(seen, created, live)); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(); err != nil {
		t.Fatal(err)
	}
	want := func(in intel.Indicator) intel.Indicator {
		in.Tags = []string{"c2", "old"}
		in.TLP = intel.TLPAmber
		in.FirstSeen, in.LastSeen, in.Confidence, in.Created = fromUS(seen), fromUS(seen), 77, fromUS(created)
		in.Sources = []intel.Source{
			{Name: "feed-a", Reliability: 80, Confidence: 70, FirstSeen: fromUS(seen), LastSeen: fromUS(seen), Ref: "evt-1", ValidUntil: fromUS(seen + 90e6)},
			{Name: "analyst:x", Reliability: 60, Confidence: 90, FirstSeen: fromUS(created), LastSeen: fromUS(seen), Disabled: true}}
		in.KillChain = []intel.KillChainPhase{{KillChain: "mitre-attack", Phase: "command-and-control"}}
		in.Description, in.Pattern = "line one\nline two <b>", "[domain-name:value = 'old.example.net']"
		in.Sightings, in.LastSighting, in.FalsePos, in.Revoked, in.FilteredBy = 3, fromUS(seen), 1, true, "list"
		in.Modified = fromUS(in.Modified.UnixMicro())
		return in
	}
	got, err := s.GetIndicators(ctx, "lg", []string{legacy[2].ID, legacy[7].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want(legacy[2])) {
		t.Fatalf("legacy row after the migration:\n got  %+v\n want %+v", got, want(legacy[2]))
	}
	// keyset paging over (modified, id) and the scan in (tenant, id) order see every row once
	var ids []string
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.ScanIndicators(ctx, intel.Filter{TenantID: "lg", IncludeDead: true}, func(x *intel.Indicator) error {
		ids = append(ids, x.ID)
		return nil
	}))
	if len(ids) != 2099 || !sort.StringsAreSorted(ids) {
		t.Fatalf("scan after the migration: %d rows, sorted %v", len(ids), sort.StringsAreSorted(ids))
	}
	f := intel.Filter{TenantID: "lg", IncludeDead: true, Ascending: true, Limit: 500}
	paged := 0
	for {
		page, err := s.SearchIndicators(ctx, f)
		must(err)
		paged += len(page)
		if len(page) < f.Limit {
			break
		}
		f.AfterModified, f.AfterID = page[len(page)-1].Modified, page[len(page)-1].ID
	}
	if paged != 2099 {
		t.Fatalf("paged %d rows", paged)
	}
	// the index view of legacy rows is what the engine makes of them (computed from their documents)
	entries := 0
	must(s.ScanIndexEntries(ctx, []string{"lg"}, func(e *intel.IndexEntry) error {
		got, err := s.GetIndicators(ctx, "lg", []string{intel.IndicatorID(e.Type, e.Value)})
		if err != nil || len(got) != 1 {
			t.Fatalf("index entry %s without its indicator: %v", e.Value, err)
		}
		w := intel.EntryOf(&got[0])
		if !reflect.DeepEqual(*e, w) || e.Base == 0 || e.Ref.IsZero() {
			t.Fatalf("legacy index entry:\n got  %+v\n want %+v", *e, w)
		}
		entries++
		return nil
	}))
	if entries != 1049 { // the odd rows but the MSSP-wide one
		t.Fatalf("%d index entries of legacy rows", entries)
	}
	// a legacy row is merged into and written back in the new format
	m := legacy[2]
	m.Modified = t0.Add(time.Hour)
	out, err := s.MergeIndicators(ctx, "lg", []intel.Indicator{m}, func(i int, stored *intel.Indicator) bool {
		stored.Revoked = false
		stored.Modified = m.Modified
		return true
	})
	must(err)
	if out[0] != intel.MergeUpdated {
		t.Fatalf("merge into a legacy row: %v", out)
	}
	got, err = s.GetIndicators(ctx, "lg", []string{m.ID})
	must(err)
	w := want(legacy[2])
	w.Revoked, w.Modified = false, m.Modified
	if len(got) != 1 || !reflect.DeepEqual(got[0], w) {
		t.Fatalf("merged legacy row:\n got  %+v\n want %+v", got, w)
	}
	var doc []byte
	must(db.QueryRowContext(ctx, s.q(`SELECT doc FROM intel_indicators WHERE tenant_id = 'lg' AND value = ?`), m.Value).Scan(&doc))
	if len(doc) == 0 || doc[0] != docV3 {
		t.Fatalf("a merged legacy row keeps its old document: %q", doc)
	}
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// TestEngineImportMatchesMemStore: the engine's imports into SQLite (MergeIndicators with blind
// inserts, savepoints and merges) store what they store into the reference MemStore.
func TestEngineImportMatchesMemStore(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "socbot.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fixedClock{t0}
	sq := New(db, SQLite, clk, quiet)
	defer sq.Close()
	mem := intel.NewMemStore()
	engines := []*intel.Engine{intel.NewEngine(intel.EngineConfig{Store: sq, Clock: clk}), intel.NewEngine(intel.EngineConfig{Store: mem, Clock: clk})}
	feed := func(n, seed int, revokeFrom int) []intel.Item {
		var out []intel.Item
		for i := 0; i < n; i++ {
			k := (i*7 + seed) % (n / 2)
			it := intel.Item{Type: ioc.Domain, Value: fmt.Sprintf("host-%d.sql.example.com", k), Confidence: 40 + i%50,
				LastSeen: t0.Add(-time.Duration(i%90) * time.Minute), Tags: []string{fmt.Sprintf("t%d", i%3)}, Ref: fmt.Sprint(i)}
			if k%37 == 0 && i >= revokeFrom {
				it.Revoked = true
			}
			out = append(out, it)
		}
		return out
	}
	for step, c := range []struct {
		src   intel.SourceInfo
		items []intel.Item
	}{
		{intel.SourceInfo{Name: "a", Reliability: 80}, feed(2*intel.IngestBatch+333, 0, 1<<30)},
		{intel.SourceInfo{Name: "b", Reliability: 40, TLP: intel.TLPAmber}, feed(intel.IngestBatch/3, 5, 0)},
		{intel.SourceInfo{Name: "a", Reliability: 80}, feed(3000, 11, 2000)},
	} {
		clk.t = t0.Add(time.Duration(step) * time.Hour)
		var stats []intel.IngestStats
		for _, e := range engines {
			items := c.items
			st, err := e.IngestStream(ctx, "acme", c.src, func(emit func(intel.Item) error) error {
				for _, it := range items {
					if err := emit(it); err != nil {
						return err
					}
				}
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			stats = append(stats, st)
		}
		if stats[0] != stats[1] {
			t.Fatalf("step %d: SQLite %+v, MemStore %+v", step, stats[0], stats[1])
		}
	}
	scan := func(s intel.Store) []intel.Indicator {
		var all []intel.Indicator
		if err := s.ScanIndicators(ctx, intel.Filter{TenantID: "acme", IncludeDead: true}, func(in *intel.Indicator) error {
			all = append(all, *in)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return all
	}
	x, y := scan(sq), scan(mem)
	if len(x) != len(y) || len(x) == 0 {
		t.Fatalf("SQLite holds %d indicators, MemStore %d", len(x), len(y))
	}
	for i := range x {
		if !reflect.DeepEqual(x[i], y[i]) {
			t.Fatalf("SQLite and MemStore differ:\n sqlite %+v\n memory %+v", x[i], y[i])
		}
	}
}

// benchBatch is a batch as a STIX import makes it: one source, a STIX id as the ref, a canonical
// pattern, one tag.
func benchBatch(n int) []intel.Indicator {
	now := t0
	out := make([]intel.Indicator, n)
	for i := range out {
		v := fmt.Sprintf("bench-%d.example-feed.net", i)
		id := intel.IndicatorID(ioc.Domain, v)
		out[i] = intel.Indicator{ID: id, TenantID: "bench", Type: ioc.Domain, Value: v, FirstSeen: now, LastSeen: now, Confidence: 56,
			TLP: intel.TLPGreen, Tags: []string{"malicious-activity"}, Pattern: stix.PatternFor(ioc.Domain, v), Created: now, Modified: now,
			Sources: []intel.Source{{Name: "bench-stix", Reliability: 80, Confidence: 70, FirstSeen: now, LastSeen: now, Ref: id}}}
	}
	return out
}

// BenchmarkPrepareMerge is the store's share of an import done ahead of the write (checks, key
// order, encoding), per indicator.
func BenchmarkPrepareMerge(b *testing.B) {
	batch := benchBatch(20000)
	s := &Store{engine: SQLite}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if _, err := s.PrepareMerge("bench", batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeNewSQLite is the writer's share of an import into SQLite (300,000 new indicators in
// batches of 20,000, prepared ahead), per indicator, in CPU time.
func BenchmarkMergeNewSQLite(b *testing.B) {
	ctx := context.Background()
	const total, per = 300000, 20000
	batches := make([][]intel.Indicator, 0, total/per)
	all := benchBatch(total)
	for i := 0; i < total; i += per {
		batches = append(batches, all[i:i+per])
	}
	b.ResetTimer()
	var cpu time.Duration
	for n := 0; n < b.N; n += total {
		b.StopTimer()
		db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "socbot.db"), quiet, sqlite.ManualCheckpoints())
		if err != nil {
			b.Fatal(err)
		}
		s := New(db, SQLite, socbot.SystemClock{}, quiet)
		prepared := make([]intel.PreparedMerge, len(batches))
		for i, batch := range batches {
			if prepared[i], err = s.PrepareMerge("bench", batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		cpu0 := processCPU()
		for _, p := range prepared {
			if _, err := p.Merge(ctx, func(int, *intel.Indicator) bool { return false }); err != nil {
				b.Fatal(err)
			}
			// the server's background checkpoint, outside the figure
			cpu += processCPU() - cpu0
			b.StopTimer()
			if _, err := db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			cpu0 = processCPU()
		}
		cpu += processCPU() - cpu0
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanIndexEntries is the match index's load from SQLite (heads of the documents), per
// indicator.
func BenchmarkScanIndexEntries(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "socbot.db"), quiet)
	if err != nil {
		b.Fatal(err)
	}
	s := New(db, SQLite, socbot.SystemClock{}, quiet)
	defer s.Close()
	all := benchBatch(200000)
	for i := 0; i < len(all); i += 20000 {
		if err := s.PutIndicators(ctx, all[i:i+20000]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n += len(all) {
		seen := 0
		if err := s.ScanIndexEntries(ctx, nil, func(*intel.IndexEntry) error { seen++; return nil }); err != nil || seen != len(all) {
			b.Fatal(err, seen)
		}
	}
}
